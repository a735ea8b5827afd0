"""``taserlink.returns.parquet`` and ``home-office --parquet``: the return's uses and the
downloads' episodes as Hive-partitioned Parquet, read back with DuckDB (the published
Derbyshire year without downloads, the worked example ``captures/station-month/`` with
them) to the same totals as the four tables and the same episodes as the
reconciliation; the ``year`` partition; byte-identical re-runs; random uses round-trip,
nulls included; two forces' folders pooled by one glob; and the command end to end."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taserlink.cli import main
from taserlink.errors import MissingExtraError, OutputPathError
from taserlink.forensics.issues import read_issues
from taserlink.forensics.link import image_paths
from taserlink.integrity import TrustStore
from taserlink.postuse.accounts import AGE_BANDS, ETHNICITIES, HEALTH, read_accounts
from taserlink.returns.counting import (
    HIGHEST_USES,
    TABLES,
    Counted,
    Use,
    count_tables,
    financial_year_bounds,
)
from taserlink.returns.forceyear import force_year
from taserlink.returns.homeoffice import (
    Corroboration,
    HomeOfficeReturn,
    ReturnRow,
    home_office_return,
)
from taserlink.returns.parquet import (
    EPISODES_SCHEMA,
    METADATA_KEY,
    USES_SCHEMA,
    arrow_schema,
    require_pyarrow,
    write_parquet,
)
from taserlink.returns.published import DERBYSHIRE_2019
from tests.conftest import CAPTURES

EXAMPLE = CAPTURES / "station-month"
DERBYSHIRE_ETHNICITY = {"White": 170, "Black": 20, "Asian": 16, "Mixed": 2, "Other": 1, None: 2}
COLUMN_OF = {spec.name: spec.field for spec in TABLES}


def _glob(folder: Path | str, dataset: str) -> str:
    return f"{folder}/{dataset}/*/*.parquet"


def _sql(query: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = duckdb.sql(query).fetchall()
    return rows


def _duckdb_table(glob: str, spec_name: str, where: str = "") -> dict[str, int]:
    """A published table as DuckDB counts it from the Parquet (label → count, Total)."""
    spec = next(s for s in TABLES if s.name == spec_name)
    counted = dict(
        _sql(
            f"select {spec.field}, count(*) from read_parquet('{glob}', hive_partitioning=true)"
            f" {where} group by 1"
        )
    )
    rows = {label: counted.get(value, 0) for value, label in spec.rows}
    return {**rows, "Total": sum(counted.values())}


def _derbyshire() -> HomeOfficeReturn:
    accounts = force_year(2019, DERBYSHIRE_2019, ethnicity=DERBYSHIRE_ETHNICITY, seed=2020)
    return home_office_return(accounts, 2019)


@functools.cache
def _station_month() -> HomeOfficeReturn:
    """The worked example's return (immutable: read once per process)."""
    accounts = read_accounts(EXAMPLE / "ACCOUNTS.csv")
    return home_office_return(
        accounts.accounts,
        2025,
        images=image_paths(str(EXAMPLE / "images")),
        issues=read_issues(str(EXAMPLE / "issues.csv")),
        trust=TrustStore.from_paths([CAPTURES / "test-root.pem"]),
    )


def _provenance(path: Path) -> dict[str, Any]:
    metadata = pq.ParquetFile(path).schema_arrow.metadata
    value: dict[str, Any] = json.loads(metadata[METADATA_KEY.encode()])
    return value


# -- (a) a force-year without downloads ----------------------------------------------------


def test_the_derbyshire_year_reads_back_as_the_four_tables(tmp_path: Path) -> None:
    result = _derbyshire()
    written = write_parquet(result, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "uses/year=2019/part-0.parquet"
    ]
    assert not (tmp_path / "episodes").exists()  # no downloads: no episodes dataset
    glob = _glob(tmp_path, "uses")
    for table in result.tables:
        assert _duckdb_table(glob, table.name) == table.as_dict(), table.name
    assert _sql(
        f"select highest_use, count(*) from read_parquet('{glob}', hive_partitioning=true)"
        " group by 1 order by 1"
    ) == sorted((use, n) for use, n in DERBYSHIRE_2019.items() if n)
    assert _sql(
        f"select year, typeof(year), count(*) from read_parquet('{glob}', hive_partitioning=true)"
        " group by all"
    ) == [(2019, "BIGINT", 211)]
    # the timestamps are UTC instants, all in the financial year
    lo, hi = financial_year_bounds(2019)
    (first, last, zone) = _sql(
        f"select min(epoch_ms(start)), max(epoch_ms(start)), typeof(min(start))"
        f" from read_parquet('{glob}')"
    )[0]
    assert lo <= first <= last < hi and zone == "TIMESTAMP WITH TIME ZONE"
    assert first == result.rows[0].use.start_ms
    meta = _provenance(written[0])
    assert meta["tool"] == "taserlink" and meta["dataset"] == "uses"
    assert meta["financial_year"] == 2019 and meta["inputs"] == []


def test_the_files_have_the_documented_schema(tmp_path: Path) -> None:
    write_parquet(_station_month(), tmp_path)
    for dataset, columns in (("uses", USES_SCHEMA), ("episodes", EPISODES_SCHEMA)):
        (path,) = sorted((tmp_path / dataset).glob("*/*.parquet"))
        schema = pq.ParquetFile(path).schema_arrow
        assert schema.remove_metadata().equals(arrow_schema(columns))
        assert [f.nullable for f in schema] == [c.nullable for c in columns]
        assert str(schema.field("utc_start" if dataset == "episodes" else "start").type) == (
            "timestamp[ms, tz=UTC]"
        )


# -- (b) the worked example with its downloads ---------------------------------------------


def test_the_station_month_uses_and_episodes_read_back(tmp_path: Path) -> None:
    result = _station_month()
    assert result.run is not None
    written = write_parquet(result, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "uses/year=2025/part-0.parquet",
        "episodes/year=2025/part-0.parquet",  # every episode of the month is in March 2026
    ]
    uses = _glob(tmp_path, "uses")
    for table in result.tables:
        assert _duckdb_table(uses, table.name) == table.as_dict(), table.name
    assert dict(_sql(f"select corroboration, count(*) from read_parquet('{uses}') group by 1")) == {
        k: n for k, n in result.corroboration_counts().items() if n
    }
    r114 = _sql(
        f"select highest_use, device_highest_use, corroboration from read_parquet('{uses}')"
        " where report = 'R-114'"
    )
    assert r114 == [("red_dotted", "fired", "device_higher")]
    assert _sql(f"select count(*) from read_parquet('{uses}') where device_highest_use is null")[0][
        0
    ] == sum(1 for row in result.rows if row.device_highest_use is None)

    episodes = _glob(tmp_path, "episodes")
    reconciled = Counter(u.episode.kind.value for u in result.run.result.uses)
    assert dict(
        _sql(
            f"select kind, count(*) from read_parquet('{episodes}', hive_partitioning=true)"
            " group by 1"
        )
    ) == dict(reconciled)
    assert reconciled["use"] == 14 and reconciled["test"] > 0
    assert _sql(
        f"select distinct year from read_parquet('{episodes}', hive_partitioning=true)"
    ) == [(2025,)]
    # row by row the same as the reconciliation: key, times, cartridges, reports
    rows = pq.read_table(tmp_path / "episodes", partitioning="hive").to_pylist()
    assert len(rows) == len(result.run.result.uses)
    for row, device_use in zip(rows, result.run.result.uses, strict=True):
        e = device_use.episode
        assert (row["device"], row["seq_first"], row["seq_last"]) == (
            e.device,
            e.seq_first,
            e.seq_last,
        )
        assert _ms(row["utc_start"]) == e.utc_start_ms and _ms(row["utc_end"]) == e.utc_end_ms
        assert row["bound_ms"] == e.bound_ms and row["armed_ms"] == e.armed_ms
        assert row["cartridges"] == list(e.serials)
        assert row["reports"] == list(device_use.reports)
        assert row["officer"] == device_use.custody.officer
        assert row["cycles"] == len(e.cycles) and row["applications"] == len(e.applications)
        assert row["longest_application_ms"] == max(
            (a.duration_ms for a in e.applications), default=None
        )
        assert row["year"] == 2025
    fired = _sql(
        f"select device, seq_first, cartridges from read_parquet('{episodes}')"
        " where highest_use = 'fired' order by all"
    )
    assert fired == sorted(
        (u.episode.device, u.episode.seq_first, list(u.episode.serials))
        for u in result.run.result.uses
        if u.episode.highest_use is not None and u.episode.highest_use.value == "fired"
    )
    assert fired and all(cartridges for _, _, cartridges in fired)
    meta = _provenance(written[1])
    assert meta["dataset"] == "episodes" and meta["financial_year"] == 2025
    assert sorted(i["sha256"] for i in meta["inputs"]) == sorted(
        d.sha256 for d in result.run.downloads
    )


def _ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int((value - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


def test_episodes_without_a_corrected_start_are_in_the_null_partition(tmp_path: Path) -> None:
    result = _station_month()
    assert result.run is not None
    uses = list(result.run.result.uses)
    last_year = financial_year_bounds(2024)[0] + 86_400_000
    uses[0] = replace(uses[0], episode=replace(uses[0].episode, utc_start_ms=None))
    uses[1] = replace(uses[1], episode=replace(uses[1].episode, utc_start_ms=last_year))
    run = replace(result.run, result=replace(result.run.result, uses=tuple(uses)))
    written = write_parquet(replace(result, run=run), tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "uses/year=2025/part-0.parquet",
        "episodes/year=2024/part-0.parquet",
        "episodes/year=2025/part-0.parquet",
        "episodes/year=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
    ]
    by_year = _sql(
        f"select year, count(*) from read_parquet('{_glob(tmp_path, 'episodes')}',"
        " hive_partitioning=true) group by 1 order by 1 nulls last"
    )
    assert by_year == [(2024, 1), (2025, len(uses) - 2), (None, 1)]
    table = pq.read_table(tmp_path / "episodes", partitioning="hive")
    assert table.filter(table["year"].is_null()).column("device").to_pylist() == [
        uses[0].episode.device
    ]


# -- reproducibility and the one-return rule --------------------------------------------


def test_re_runs_are_byte_identical(tmp_path: Path) -> None:
    result = _station_month()
    first = write_parquet(result, tmp_path / "one")
    again = write_parquet(_station_month.__wrapped__(), tmp_path / "two")  # read afresh
    assert [p.relative_to(tmp_path / "one") for p in first] == [
        p.relative_to(tmp_path / "two") for p in again
    ]
    for a, b in zip(first, again, strict=True):
        assert a.read_bytes() == b.read_bytes()
    before = [p.read_bytes() for p in first]
    assert write_parquet(result, tmp_path / "one") == first  # its own files: replaced
    assert [p.read_bytes() for p in first] == before
    assert sorted(p.name for p in (tmp_path / "one").rglob("*") if p.is_file()) == [
        "part-0.parquet"
    ] * len(first)


def test_another_returns_files_in_the_folder_are_refused(tmp_path: Path) -> None:
    write_parquet(_derbyshire(), tmp_path)
    other = home_office_return(force_year(2020, {"drawn": 2, "fired": 1}, seed=3), 2020)
    with pytest.raises(OutputPathError, match=r"uses/year=2019/part-0\.parquet.*own folder"):
        write_parquet(other, tmp_path)
    assert not (tmp_path / "uses" / "year=2020").exists()
    linked = tmp_path / "linked"
    (tmp_path / "elsewhere").mkdir()
    linked.mkdir()
    (linked / "uses").symlink_to(tmp_path / "elsewhere")  # a dataset folder is never a link
    with pytest.raises(OutputPathError, match="symbolic link"):
        write_parquet(_derbyshire(), linked)
    (tmp_path / "folder" / "uses" / "year=2019" / "part-0.parquet").mkdir(parents=True)
    with pytest.raises(OutputPathError, match="a directory"):
        write_parquet(_derbyshire(), tmp_path / "folder")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError, match="not a folder"):
        write_parquet(_derbyshire(), tmp_path / "file")


# -- pooling -----------------------------------------------------------------------------


def test_two_forces_folders_pooled_by_one_glob_sum(tmp_path: Path) -> None:
    derbyshire = _derbyshire()
    other = home_office_return(
        force_year(2020, {"drawn": 30, "red_dotted": 12, "fired": 5, "not_stated": 2}, seed=9),
        2020,
    )
    write_parquet(derbyshire, tmp_path / "derbyshire")
    write_parquet(other, tmp_path / "another-force")
    pooled = f"{tmp_path}/*/uses/*/*.parquet"
    for name in COLUMN_OF:
        summed = {
            label: derbyshire.counted.table(name)[label] + other.counted.table(name)[label]
            for label in derbyshire.counted.table(name).as_dict()
        }
        assert _duckdb_table(pooled, name) == summed
        assert (
            _duckdb_table(pooled, name, "where year = 2020") == other.counted.table(name).as_dict()
        )
    assert _sql(
        f"select year, count(*) from read_parquet('{pooled}', hive_partitioning=true)"
        " group by 1 order by 1"
    ) == [(2019, 211), (2020, 49)]


# -- random uses round-trip ----------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_LO, _HI = financial_year_bounds(2019)


@st.composite
def _rows(draw: st.DrawFn) -> ReturnRow:
    use = Use(
        report=draw(_TEXT),
        incident=draw(_TEXT),
        officer=draw(_TEXT),
        device=draw(st.none() | _TEXT),
        start_ms=draw(st.integers(_LO, _HI - 1)),
        highest_use=draw(st.sampled_from(HIGHEST_USES)),
        subject_age=draw(st.none() | st.sampled_from(AGE_BANDS)),
        subject_ethnicity=draw(st.none() | st.sampled_from(ETHNICITIES)),
        subject_health=draw(st.none() | st.sampled_from(HEALTH)),
    )
    shown = draw(st.none() | st.sampled_from(("drawn", "red_dotted", "arced", "fired")))
    return ReturnRow(use, shown, draw(st.sampled_from(list(Corroboration))))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_rows(), max_size=25))
def test_random_uses_round_trip(rows: list[ReturnRow]) -> None:
    rows.sort(key=lambda r: r.use.key())
    uses = tuple(r.use for r in rows)
    result = HomeOfficeReturn(Counted(2019, uses, count_tables(uses)), tuple(rows), None)
    with tempfile.TemporaryDirectory() as folder:
        written = write_parquet(result, folder)
        back = pq.read_table(Path(folder) / "uses", partitioning="hive").to_pylist()
        again = write_parquet(result, Path(folder) / "again")
        assert written[0].read_bytes() == again[0].read_bytes()
    assert len(back) == len(rows)
    for got, row in zip(back, rows, strict=True):
        use = row.use
        assert got == {
            "report": use.report,
            "incident": use.incident,
            "officer": use.officer,
            "device": use.device,
            "start": got["start"],
            "highest_use": use.highest_use,
            "device_highest_use": row.device_highest_use,
            "corroboration": row.corroboration.value,
            "subject_age": use.subject_age,
            "subject_ethnicity": use.subject_ethnicity,
            "subject_health": use.subject_health,
            "year": 2019,
        }
        assert _ms(got["start"]) == use.start_ms


# -- the command --------------------------------------------------------------------------


def test_the_command_writes_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "home-office",
        "--accounts",
        str(EXAMPLE / "ACCOUNTS.csv"),
        "--year",
        "2025",
        "--images",
        str(EXAMPLE / "images"),
        "--issues",
        str(EXAMPLE / "issues.csv"),
        "--roots",
        str(CAPTURES / "test-root.pem"),
        "--out",
        str(tmp_path / "out"),
        "--parquet",
        str(tmp_path / "pq"),
    ]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parquet"] == [
        "uses/year=2025/part-0.parquet",
        "episodes/year=2025/part-0.parquet",
    ]
    uses = _glob(tmp_path / "pq", "uses")
    assert _duckdb_table(uses, "ced-by-highest-use") == data["tables"]["ced-by-highest-use"]
    meta = _provenance(tmp_path / "pq" / data["parquet"][0])
    accounts = [i for i in meta["inputs"] if i["kind"] == "accounts"]
    assert accounts == [
        {
            "kind": "accounts",
            "name": "ACCOUNTS.csv",
            "size": (EXAMPLE / "ACCOUNTS.csv").stat().st_size,
            "sha256": data["accounts"]["sha256"],
        }
    ]
    assert len(meta["inputs"]) == 1 + len(data["downloads"])
    assert main(argv) == 0  # the same return again into the same folders: text summary
    assert "parquet: 2 file(s) under" in capsys.readouterr().out
    assert "--parquet DIR" in _help(capsys)
    year_before = [*argv[:4], "2024", *argv[5:]]  # another year into the same folder
    assert main(year_before) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "write each return to its own folder" in err


def _help(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["home-office", "--help"]) == 0
    return capsys.readouterr().out


def test_without_pyarrow_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'taserlink\[parquet\]'"):
        require_pyarrow()
    accounts = tmp_path / "ACCOUNTS.csv"
    accounts.write_bytes((EXAMPLE / "ACCOUNTS.csv").read_bytes())
    argv = ["home-office", "--accounts", str(accounts), "--year", "2025"]
    code = main([*argv, "--out", str(tmp_path / "out"), "--parquet", str(tmp_path / "pq")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("taserlink: error: Parquet output needs pyarrow: pip install")
    assert not (tmp_path / "out").exists() and not (tmp_path / "pq").exists()


def test_the_library_imports_without_pyarrow() -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
        "import taserlink.returns.parquet, taserlink.cli\n"
        "assert 'pyarrow' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
