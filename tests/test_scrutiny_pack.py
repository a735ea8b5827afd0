"""``taserlink scrutiny``: the pack's files, ``scrutiny.json``'s ``rates`` (design §8), a
page that loads nothing, reproducible bytes, the public pack, the device-log figures of the
worked example ``captures/station-month/`` and bad input in one line."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import io
import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from taserlink.cli import main
from taserlink.postuse.accounts import write_accounts
from taserlink.report.scrutiny import INDEX, JSON_NAME, build_pack, summary
from taserlink.returns.counting import HIGHEST_USE_ROWS, TABLES
from taserlink.returns.homeoffice import home_office_return
from taserlink.returns.population import DERBYSHIRE_2011, read_population
from taserlink.returns.rates import RATE_KEYS
from taserlink.returns.scrutiny import pack_tables, scrutinise
from tests.conftest import CAPTURES, ROOT
from tests.test_returns_scrutiny import derbyshire_accounts

EXAMPLE = CAPTURES / "station-month"
POPULATION = CAPTURES / "population" / "derbyshire-2011.csv"
WITH_IMAGES = [
    "--images",
    str(EXAMPLE / "images"),
    "--issues",
    str(EXAMPLE / "issues.csv"),
    "--roots",
    str(CAPTURES / "test-root.pem"),
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("derbyshire") / "ACCOUNTS.csv"
    write_accounts(derbyshire_accounts(), path)
    return path


def _pack(capsys: pytest.CaptureFixture[str], accounts: Path, out: Path, *more: str) -> str:
    argv = ["scrutiny", "--accounts", str(accounts), "--year", "2019", "--out", str(out)]
    code, text, err = _run(capsys, *argv, "--population", str(POPULATION), *more)
    assert code == 0, err
    assert err == ""
    return text


def test_the_pack_its_rates_and_reproducible_bytes(
    tmp_path: Path, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _pack(capsys, accounts, tmp_path / "one")
    _pack(capsys, accounts, tmp_path / "two")
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert {INDEX, JSON_NAME, *(f"{spec.name}.csv" for spec in TABLES)} <= set(names)
    data = json.loads((tmp_path / "one" / JSON_NAME).read_text())
    assert [list(rate) for rate in data["rates"]] == [list(RATE_KEYS)] * 5
    black = next(rate for rate in data["rates"] if rate["group"] == "Black")
    assert round(black["ratio_to_white"], 1) == 11.1
    assert black["ci_low"] < black["ratio_to_white"] < black["ci_high"]
    assert data["uses"] == 211 and data["year"] == 2019 and data["public"] is False
    provenance = data["provenance"]
    assert list(provenance) == ["tool", "version", "inputs", "settings"]
    assert provenance["inputs"][0] == {
        "path": str(accounts),
        "size": accounts.stat().st_size,
        "sha256": hashlib.sha256(accounts.read_bytes()).hexdigest(),
        "role": "accounts",
    }
    assert provenance["inputs"][1]["sha256"] == hashlib.sha256(POPULATION.read_bytes()).hexdigest()
    assert provenance["settings"] == {
        "year": 2019,
        "from_date": "2019-04-01",
        "to_date": "2020-03-31",
        "time_zone": "Europe/London",
        "public": False,
    }
    beside = json.loads((tmp_path / "one" / "provenance.json").read_text())
    assert {k: v for k, v in beside.items() if k != "outputs"} == provenance
    assert sorted(o["path"] for o in beside["outputs"]) == [
        n for n in names if n != "provenance.json"
    ]
    for output in beside["outputs"]:
        data_of = (tmp_path / "one" / output["path"]).read_bytes()
        assert output["sha256"] == hashlib.sha256(data_of).hexdigest()
    page = (tmp_path / "one" / INDEX).read_text()
    assert provenance["inputs"][0]["sha256"] in page and "public false" in page
    assert "Black people were subject to Taser use at 11.1 times" in text
    # every table's CSV holds what scrutiny.json holds
    for name, table in data["tables"].items():
        rows = list(csv.reader(io.StringIO((tmp_path / "one" / f"{name}.csv").read_text())))
        assert rows[0] == table["header"]
        assert rows[1:] == [[str(c) for c in row] for row in table["rows"]]
    # the Home Office tables keep the home-office file's header
    assert rows_of(tmp_path / "one" / "ced-by-age.csv")[0] == ["age", "count"]


def rows_of(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def test_the_page_loads_nothing_and_holds_a_plot_per_table(
    tmp_path: Path, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pack(capsys, accounts, tmp_path)
    page = (tmp_path / INDEX).read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert not re.search(r"""\b(src|srcset)\s*=|@import|url\(\s*['"]?(?!#)""", page)
    assert not re.search(r'xlink:href="(?!#)', page)  # the plots' own marks only
    assert not re.search(r'href="(?!#|[\w.-]+\.csv")', page)  # links: to its own CSVs only
    plots = re.findall(r'<svg role="img"[^>]* id="plot-([\w-]+)"', page)
    assert plots == [
        "uses-by-month",
        "ced-by-highest-use",
        "discharges",
        "ced-by-age",
        "ced-by-ethnicity",
        "ced-by-health",
        "under-18s",
        "rates",
    ]  # no downloads: no corroboration, no energy
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "an id used twice on the page"
    assert "11.1" in page and "Katz" in page


def test_public_pack_withholds_small_numbers_and_lists(
    tmp_path: Path, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pack(capsys, accounts, tmp_path, "--public")
    data = json.loads((tmp_path / JSON_NAME).read_text())
    assert data["public"] is True
    mixed = next(rate for rate in data["rates"] if rate["group"] == "Mixed")
    assert mixed["uses"] == "<5" and mixed["ci_low"] == "[c]"
    for table in data["tables"].values():
        for row in table["rows"]:
            assert not (isinstance(row[1], int) and 0 < row[1] < 5), row
    names = {p.name for p in tmp_path.iterdir()}
    assert "under-18-reports.csv" not in names and "device-higher.csv" not in names
    page = (tmp_path / INDEX).read_text()
    reports = {row[0] for row in rows_of(accounts)[1:]}
    assert not any(report in page for report in reports)


def test_library_pack_equals_the_command(
    tmp_path: Path, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _pack(capsys, accounts, tmp_path)
    from taserlink.postuse.accounts import read_accounts

    figures = scrutinise(
        home_office_return(read_accounts(accounts).accounts, 2019), read_population(POPULATION)
    )
    assert text.splitlines()[: len(summary(figures))] == list(summary(figures))
    pack = build_pack(figures)
    assert [name for name, _ in pack.files][1:-1] == [f"{t.name}.csv" for t in pack_tables(figures)]
    for name, data in pack.files:
        if name.endswith(".csv"):
            assert (tmp_path / name).read_bytes() == data


def test_station_month_device_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--accounts", str(EXAMPLE / "ACCOUNTS.csv"), "--year", "2025"]
    code, text, err = _run(capsys, "scrutiny", *argv, *WITH_IMAGES, "--out", str(tmp_path))
    assert code == 0, err
    assert "1 energy applications over 5 s" in text
    higher = rows_of(tmp_path / "device-higher.csv")
    assert higher[1:] == [
        ["R-114", "2026-03-18T16:59:00.000Z", "DDKT200EH3", "red_dotted", "fired"]
    ]
    data = json.loads((tmp_path / JSON_NAME).read_text())
    assert data["rates"] == []
    assert len([i for i in data["provenance"]["inputs"] if i["role"] == "image"]) == 30
    lengths = dict(rows_of(tmp_path / "energy-applications.csv")[1:])
    assert lengths == {"Up to 5 s": "8", "Over 5 s to 20 s": "1", "Over 20 s": "0", "Total": "9"}
    code, _, err = _run(
        capsys, "scrutiny", *argv, *WITH_IMAGES, "--out", str(tmp_path / "p"), "--public"
    )
    assert code == 0, err
    public = dict(rows_of(tmp_path / "p" / "energy-applications.csv")[1:])
    assert public["Over 5 s to 20 s"] == "<5"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--population", "missing.csv"], "missing.csv"),
        (["--issues", "x.csv"], "--issues and --register go with --images"),
        (["--year", "1066"], "1066"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path,
    accounts: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    needle: str,
) -> None:
    argv = ["scrutiny", "--accounts", str(accounts), "--year", "2019", "--out", str(tmp_path)]
    code, _, err = _run(capsys, *argv, *extra)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / INDEX).exists()


def test_a_population_smaller_than_the_uses_is_refused(
    tmp_path: Path, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "POPULATION.csv"
    counts = dict(DERBYSHIRE_2011.counts, Black=10)
    small.write_text("group,population\n" + "".join(f"{g},{n}\n" for g, n in counts.items()))
    argv = ["scrutiny", "--accounts", str(accounts), "--year", "2019", "--out", str(tmp_path)]
    code, _, err = _run(capsys, *argv, "--population", str(small))
    assert code == 2 and "more uses than people" in err


def test_an_output_that_is_a_file_is_refused(
    tmp_path: Path, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    argv = ["scrutiny", "--accounts", str(accounts), "--year", "2019", "--out", str(blocker)]
    code, _, err = _run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert blocker.read_text() == "not a folder"


FORCE_YEAR = CAPTURES / "force-year"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_force_year", ROOT / "tools/make_force_year.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_force_year", module)
    spec.loader.exec_module(module)
    return module


def test_the_force_year_example_is_regenerated_byte_for_byte(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _tool().main(["--check"]) == 0, capsys.readouterr().out


def test_the_force_year_readme_runs_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("force-year", "population"):
        shutil.copytree(CAPTURES / name, tmp_path / "captures" / name)
    readme = (FORCE_YEAR / "README.md").read_text()
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [
        ["taserlink", "home-office"],
        ["taserlink", "scrutiny"],
        ["taserlink", "scrutiny"],
    ]
    outputs = []
    with contextlib.chdir(tmp_path):
        for command in commands:
            code, out, err = _run(capsys, *command[1:])
            assert code == 0, err
            outputs.append(out)
    assert outputs[0] == (FORCE_YEAR / "expected-home-office.txt").read_text()
    assert outputs[1] == (FORCE_YEAR / "expected-scrutiny.txt").read_text()
    for path in (FORCE_YEAR / "expected-return").iterdir():
        assert (tmp_path / "return-2019" / path.name).read_bytes() == path.read_bytes()
    for folder, expected in (
        ("scrutiny-2019", "expected-scrutiny.json"),
        ("scrutiny-2019-public", "expected-scrutiny-public.json"),
    ):
        made = (tmp_path / folder / "scrutiny.json").read_bytes()
        assert made == (FORCE_YEAR / expected).read_bytes()


def test_parquet_beside_the_pack_reads_back_with_duckdb(
    tmp_path: Path, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    text = _pack(capsys, accounts, tmp_path / "pack", "--parquet", str(tmp_path / "pq"))
    assert "parquet: 1 file(s) under" in text
    glob = (tmp_path / "pq" / "uses" / "*" / "*.parquet").as_posix()
    rows = duckdb.sql(
        f"select highest_use, count(*) from read_parquet('{glob}', hive_partitioning=true) "
        "group by 1"
    ).fetchall()
    data = json.loads((tmp_path / "pack" / JSON_NAME).read_text())
    published = dict(data["tables"]["ced-by-highest-use"]["rows"])
    labels = dict(HIGHEST_USE_ROWS)
    assert {labels[use]: n for use, n in rows} == {
        k: v for k, v in published.items() if k != "Total" and v
    }


def test_the_readme_makes_the_pack_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "README.md").read_text()
    part = text[text.index("### scrutiny") :]
    block = part[part.index("```sh\n") + 6 : part.index("```\n", part.index("```sh"))]
    words = shlex.split(block.replace("\\\n", " "))
    assert words[:2] == ["taserlink", "scrutiny"]
    out = words.index("--out") + 1
    words[out] = str(tmp_path / words[out])
    monkeypatch.chdir(ROOT)
    code, printed, err = _run(capsys, *words[1:])
    assert (code, err) == (0, "")
    expected = (FORCE_YEAR / "expected-scrutiny.txt").read_text()
    assert printed.splitlines()[:-1] == expected.splitlines()[:-1]  # the folder differs
    assert "11.1 times the rate of White people" in printed
    assert "21 were discharges" in printed
    assert (tmp_path / "scrutiny-2019" / "index.html").is_file()
