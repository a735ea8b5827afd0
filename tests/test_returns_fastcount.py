"""The return counted a column at a time (:func:`taserlink.returns.fastcount.count_file`)
against the verifying path, ``read_accounts`` then ``count_return``: on valid files the
same uses (same order, same lines) and tables, on corrupted ones the same error, word for
word; the fast path is taken on a plain file; and ``reports.csv`` written a column at a
time is what writing it a row at a time gave, as is ``taserlink home-office``'s output."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taserlink.cli import main
from taserlink.cli.home_office import write_text
from taserlink.errors import AccountsError, ReturnError, TimeTextError
from taserlink.postuse.accounts import (
    AGE_BANDS,
    COLUMNS,
    ETHNICITIES,
    HEALTH,
    REQUIRED,
    Account,
    ColumnMap,
    read_accounts,
    write_accounts,
)
from taserlink.returns import fastcount
from taserlink.returns.counting import (
    HIGHEST_USES,
    Counted,
    Use,
    count_return,
    count_tables,
    financial_year_bounds,
)
from taserlink.returns.fastcount import COLUMNAR, VERIFYING, _iso_ms, count_file
from taserlink.returns.forceyear import force_year
from taserlink.returns.homeoffice import (
    REPORT_COLUMNS,
    home_office_return,
    reports_csv,
    return_without_downloads,
    write_return,
)
from taserlink.spreadsheet import csv_writer
from taserlink.timeline.times import parse_utc, utc_iso
from tests.test_postuse_accounts import UTC_FIRST_MS, UTC_LAST_MS, account_lists

YEAR = 2019
LO, HI = financial_year_bounds(YEAR)
HOUR = 3_600_000
EDGES = (LO, HI, LO - HOUR, HI - HOUR, LO + HOUR)
"""The year's edges in UTC and an hour either side: 1 April begins at 23:00 UTC in BST."""
FAST = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
OPTIONAL = tuple(column for column in COLUMNS if column not in REQUIRED)


def _verified(path: Path, year: int, columns: Mapping[str, str] | None) -> Counted:
    return count_return(read_accounts(path, columns=columns).accounts, year)


def _same(path: Path, year: int = YEAR, columns: Mapping[str, str] | None = None) -> str | None:
    """Assert the fast path agrees with the verifying one on ``path``: the same counted
    return and provenance, or the same error; the path the fast one took (``None`` on an
    error)."""
    try:
        expected = _verified(path, year, columns)
    except (AccountsError, ReturnError) as error:
        with pytest.raises(type(error)) as caught:
            count_file(path, year, columns=columns)
        assert str(caught.value) == str(error)
        return None
    got = count_file(path, year, columns=columns)
    assert got.counted == expected
    assert [use.line for use in got.counted.uses] == [use.line for use in expected.uses]
    data = path.read_bytes()
    assert (got.path, got.size, got.sha256) == (
        str(path),
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    return got.path_taken


@st.composite
def year_accounts(draw: st.DrawFn) -> list[Account]:
    """Valid accounts whose reports start at or near the year's edges (or anywhere)."""
    accounts: list[Account] = draw(account_lists(max_reports=6))
    starts: dict[str, int] = {}
    ends: dict[str, int | None] = {}
    for account in accounts:
        if account.report not in starts:
            edge = draw(st.sampled_from(EDGES))
            starts[account.report] = draw(
                st.sampled_from([edge - 1, edge, edge + 1])
                | st.integers(edge - 10 * HOUR, edge + 10 * HOUR)
                | st.integers(UTC_FIRST_MS, UTC_LAST_MS - 10**6)
            )
            ends[account.report] = draw(st.none() | st.integers(0, 10**6))
    return [
        replace(
            account,
            start_ms=starts[account.report],
            end_ms=None
            if ends[account.report] is None
            else starts[account.report] + ends[account.report],  # type: ignore[operator]
        )
        for account in accounts
    ]


def _table(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as stream:
        header, *rows = list(csv.reader(stream))
    return header, rows


def _write(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path.write_text(out.getvalue(), encoding="utf-8", newline="")


# -- valid files --------------------------------------------------------------------------


@FAST
@given(accounts=year_accounts(), order=st.permutations(range(len(COLUMNS))), drop=st.booleans())
def test_valid_files_count_the_same(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[Account], order: list[int], drop: bool
) -> None:
    path = tmp_path_factory.mktemp("valid") / "ACCOUNTS.csv"
    write_accounts(accounts, path)
    header, rows = _table(path)
    keep = [i for i in order if not (drop and header[i] in OPTIONAL and i % 2)]
    _write(path, [header[i] for i in keep], [[row[i] for i in keep] for row in rows])
    _same(path)


@FAST
@given(
    accounts=year_accounts(),
    spellings=st.lists(
        st.sampled_from(
            [
                ("yes", " YES "),
                ("no", "False"),
                ("yes", "1"),
                ("no", "0"),
                ("White", "white"),
                ("none", "NONE"),
                ("18-34", "18 - 34"),
                ("Z", "+00:00"),
            ]
        ),
        max_size=4,
    ),
)
def test_other_spellings_and_time_forms_count_the_same(
    tmp_path_factory: pytest.TempPathFactory,
    accounts: list[Account],
    spellings: list[tuple[str, str]],
) -> None:
    path = tmp_path_factory.mktemp("spelt") / "ACCOUNTS.csv"
    write_accounts(accounts, path)
    text = path.read_text(encoding="utf-8")
    for old, new in spellings:
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    _same(path)


@FAST
@given(accounts=year_accounts(), codes=st.booleans())
def test_a_column_map_with_codes_counts_the_same(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[Account], codes: bool
) -> None:
    path = tmp_path_factory.mktemp("mapped") / "export.csv"
    write_accounts(accounts, path)
    header, rows = _table(path)
    rename = {"report": "Ref No", "drawn": "Drawn", "subject_ethnicity": "Ethnicity Code"}
    _write(path, [rename.get(name, name) for name in header], rows)
    values = {"drawn": {"no": "yes"}, "subject_ethnicity": {"White": "Black"}} if codes else {}
    column_map = ColumnMap({v: k for k, v in rename.items()}, values=values)
    _same(path, columns=column_map)


def test_a_plain_file_takes_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "ACCOUNTS.csv"
    write_accounts(force_year(YEAR, {"fired": 30, "drawn": 20, "not_stated": 5}, seed=3), path)
    assert _same(path) == COLUMNAR
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert _same(path) == VERIFYING  # CRLF: left to the verifying path, the same answer


def test_a_file_over_the_fast_paths_limit_is_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ACCOUNTS.csv"
    write_accounts(force_year(YEAR, {"fired": 3}, seed=1), path)
    monkeypatch.setattr(fastcount, "MAX_FAST_BYTES", path.stat().st_size - 1)
    assert _same(path) == VERIFYING


def test_an_empty_year_and_a_header_alone(tmp_path: Path) -> None:
    path = tmp_path / "ACCOUNTS.csv"
    write_accounts([], path)
    assert _same(path) == COLUMNAR
    write_accounts(force_year(YEAR, {"fired": 3}, seed=1), path)
    assert _same(path, year=YEAR + 5) == COLUMNAR


@pytest.mark.parametrize("year", [1899, 9999, True])
def test_a_bad_year_is_count_returns_error(tmp_path: Path, year: Any) -> None:
    path = tmp_path / "ACCOUNTS.csv"
    write_accounts(force_year(YEAR, {"fired": 3}, seed=1), path)
    assert _same(path, year=year) is None
    path.write_text("report\n", encoding="utf-8")
    assert _same(path, year=year) is None  # the file's error first, as read then count


# -- corrupted files ----------------------------------------------------------------------

BAD_CELLS = (
    "",
    " ",
    "maybe",
    "2019-13-01T00:00:00.000Z",
    "2019-02-29T00:00:00.000Z",
    "2020-02-30T00:00:00.000Z",
    "2019-04-01T24:00:00.000Z",
    "2019-04-01T23:60:00.000Z",
    "2019-04-01T23:59:60.000Z",
    "0000-04-01T23:59:59.000Z",
    "2019-04-01 00:00",
    "2019-04-01",
    "2019-04-01T00:00:00.000+0060",
    "1999-01-01T00:00:00.000Z",
    "131",
    "-1",
    "abc",
    "D123",
    "DZZZZZZZZ",
    "Whit",
    "=1+2",
    "'=1+2",
    "'maybe",
    "a\x07b",
    "a\tb",
    "x" * 257,
    "S1;S1",
    "١٢",
)


@FAST
@given(
    accounts=year_accounts().filter(bool),
    row=st.integers(0, 20),
    column=st.integers(0, len(COLUMNS) - 1),
    bad=st.sampled_from(BAD_CELLS) | st.text(max_size=6),
)
def test_a_bad_cell_anywhere_is_the_same_error(
    tmp_path_factory: pytest.TempPathFactory,
    accounts: list[Account],
    row: int,
    column: int,
    bad: str,
) -> None:
    path = tmp_path_factory.mktemp("cell") / "ACCOUNTS.csv"
    write_accounts(accounts, path)
    header, rows = _table(path)
    rows[row % len(rows)][column] = bad
    _write(path, header, rows)
    _same(path)


def _damaged(text: str, how: str, at: int) -> bytes:
    lines = text.split("\n")
    where = 1 + at % max(1, len(lines) - 2)
    match how:
        case "duplicate header":
            lines[0] += ",drawn"
        case "short row":
            lines[where] = lines[where].rsplit(",", 1)[0]
        case "long row":
            lines[where] += ","
        case "quote":
            lines[where] = '"' + lines[where]
        case "stray quote":
            lines[where] = lines[where].replace(",", ',x"', 1)
        case "blank line":
            lines.insert(where, "")
        case "blank lines at the end":
            lines += ["", ",,,"]
        case "no final line break":
            lines = lines[:-1]
        case "bom":
            return codecs.BOM_UTF8 + "\n".join(lines).encode("utf-8")
        case "crlf":
            return "\r\n".join(lines).encode("utf-8")
        case "lone cr":
            lines[where] = lines[where].replace(",", "\r,", 1)
        case "not utf-8":
            return "\n".join(lines).encode("utf-8").replace(b",", b",\xff", 1 + at % 30)
        case "nul":
            lines[where] = lines[where].replace(",", ",\x00", 1)
        case "long line":
            lines[where] = lines[where].replace(",", "," + "x" * 70_000, 1)
        case "line break in a cell":
            lines[where] = lines[where].replace(",", ',"a\nb"x', 1)
        case "quoted line break":
            cells = [*next(csv.reader([lines[where]]), [])[:-1], "a\nb"]
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(cells)
            lines[where] = out.getvalue()
        case "duplicate row":
            lines.insert(where, lines[where])
        case "header twice":
            lines.insert(1, lines[0])
    return "\n".join(lines).encode("utf-8")


DAMAGE = (
    "duplicate header",
    "short row",
    "long row",
    "quote",
    "stray quote",
    "blank line",
    "blank lines at the end",
    "no final line break",
    "bom",
    "crlf",
    "lone cr",
    "not utf-8",
    "nul",
    "long line",
    "line break in a cell",
    "quoted line break",
    "duplicate row",
    "header twice",
)


@FAST
@given(accounts=year_accounts(), how=st.sampled_from(DAMAGE), at=st.integers(0, 50))
def test_damaged_files_are_the_same_error_or_count(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[Account], how: str, at: int
) -> None:
    path = tmp_path_factory.mktemp("damaged") / "ACCOUNTS.csv"
    write_accounts(accounts, path)
    path.write_bytes(_damaged(path.read_text(encoding="utf-8"), how, at))
    _same(path)


@FAST
@given(accounts=year_accounts().filter(lambda a: len(a) > 1), column=st.sampled_from(COLUMNS))
def test_a_report_whose_rows_disagree_is_the_same_error(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[Account], column: str
) -> None:
    path = tmp_path_factory.mktemp("clash") / "ACCOUNTS.csv"
    write_accounts(accounts, path)
    header, rows = _table(path)
    at = header.index("report")
    rows[1][at] = rows[0][at]  # two rows of one report: they may clash on anything
    rows[1][header.index(column)] = rows[0][header.index(column)]
    _write(path, header, rows)
    _same(path)


def test_a_missing_file_and_a_bad_map_are_read_accounts_errors(tmp_path: Path) -> None:
    assert _same(tmp_path / "missing.csv") is None
    assert _same(tmp_path) is None
    path = tmp_path / "ACCOUNTS.csv"
    write_accounts([], path)
    with pytest.raises(AccountsError, match="not an accounts column"):
        count_file(path, YEAR, columns={"Ref": "nonsense"})
    (tmp_path / "map.json").write_text(json.dumps({"Ref": "report"}), encoding="utf-8")


# -- the times kernel ---------------------------------------------------------------------


@settings(max_examples=300)
@given(st.lists(st.integers(UTC_FIRST_MS, UTC_LAST_MS), min_size=1, max_size=20))
def test_the_times_kernel_reads_written_times_as_parse_utc(times: list[int]) -> None:
    texts = [utc_iso(ms) or "" for ms in times]
    assert _iso_ms(texts) == [parse_utc(text) for text in texts] == times


@settings(max_examples=300)
@given(
    st.tuples(
        st.integers(0, 9999),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 999),
    )
)
def test_the_times_kernel_refuses_what_parse_utc_refuses(fields: tuple[int, ...]) -> None:
    text = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z".format(*fields)
    try:
        expected: list[int] | None = [parse_utc(text)]
    except TimeTextError:
        expected = None
    assert _iso_ms([text]) == expected
    assert _iso_ms(["2019-04-01T00:00:00.000Z", text]) == (
        None if expected is None else [parse_utc("2019-04-01T00:00:00.000Z"), *expected]
    )


# -- writing reports.csv a column at a time -----------------------------------------------

CELLS = st.text(st.sampled_from("ab1 .;,\"'=+-@\t\r\né"), max_size=5)


@settings(max_examples=200)
@given(st.integers(1, 4).flatmap(lambda n: st.lists(st.lists(CELLS, min_size=n, max_size=n))))
def test_write_columns_writes_what_writerow_writes(rows: list[list[str]]) -> None:
    by_rows, by_columns = io.StringIO(), io.StringIO()
    csv_writer(by_rows).writerows(rows)
    width = len(rows[0]) if rows else 1
    csv_writer(by_columns).write_columns([[row[i] for row in rows] for i in range(width)])
    assert by_columns.getvalue() == by_rows.getvalue()
    with pytest.raises(ValueError, match="different lengths"):
        csv_writer(by_columns).write_columns([["a"], []])


TEXTS = st.text(st.sampled_from("aZ1 -=+@'\t\"é,;"), min_size=1, max_size=6)


@FAST
@given(
    st.lists(
        st.builds(
            Use,
            report=TEXTS,
            incident=TEXTS,
            officer=TEXTS,
            device=st.none() | TEXTS,
            start_ms=st.integers(UTC_FIRST_MS, UTC_LAST_MS) | st.sampled_from(EDGES),
            highest_use=st.sampled_from(HIGHEST_USES),
            subject_age=st.none() | st.sampled_from(AGE_BANDS),
            subject_ethnicity=st.none() | st.sampled_from(ETHNICITIES),
            subject_health=st.none() | st.sampled_from(HEALTH),
        ),
        max_size=8,
    )
)
def test_reports_csv_is_each_rows_cells(uses: list[Use]) -> None:
    result = return_without_downloads(Counted(YEAR, tuple(uses), count_tables(uses)))
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(REPORT_COLUMNS)
    writer.writerows(row.cells() for row in result.rows)
    assert reports_csv(result) == out.getvalue().encode("utf-8")


def test_home_office_without_images_writes_what_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ACCOUNTS.csv"
    write_accounts(force_year(YEAR, {"fired": 40, "aimed": 9, "not_stated": 4}, seed=5), path)
    for json_out in (False, True):
        out = tmp_path / f"out-{json_out}"
        argv = ["home-office", "--accounts", str(path), "--year", str(YEAR), "--out", str(out)]
        assert main(argv + ["--json"] * json_out) == 0
        printed = capsys.readouterr().out
        accounts = read_accounts(path)
        expected = home_office_return(accounts.accounts, YEAR)
        written = write_return(expected, tmp_path / "expected")
        for file in written:
            assert (out / file.name).read_bytes() == file.read_bytes()
        if json_out:
            data = expected.as_dict()
            data["accounts"] = {"path": accounts.path, "sha256": accounts.sha256}
            data["out"] = str(out)
            data["files"] = [p.name for p in written]
            shown = json.loads(printed)
            provenance = shown.pop("provenance")
            assert shown == data
            assert provenance["inputs"][0]["sha256"] == accounts.sha256
        else:
            text = io.StringIO()
            write_text(expected, text)
            assert printed == text.getvalue()
