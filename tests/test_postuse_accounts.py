"""Officers' accounts (``ACCOUNTS.csv``): round trips, column maps, and every refusal named
by file and line."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import pickle
import random
import tracemalloc
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taserlink.cli.common import EXIT_BAD_INPUT, exit_code_for
from taserlink.errors import AccountsError, InputFileError
from taserlink.postuse.accounts import (
    AGE_BANDS,
    COLUMNS,
    ETHNICITIES,
    HEALTH,
    MAX_LINE_BYTES,
    MAX_MAP_BYTES,
    MAX_RECORD_BYTES,
    REQUIRED,
    SEVERITY,
    USES,
    Account,
    Accounts,
    ColumnMap,
    age_band,
    highest_use,
    read_accounts,
    read_column_map,
    write_accounts,
)
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from taserlink.timeline.times import parse_utc
from tests.conftest import ROOT
from tests.strategies import cartridge_serials, device_serials

EXAMPLES = ROOT / "captures" / "accounts"
RNG = random.Random(13)
DEVICES = [DEVICE_SCHEME.generate(RNG, "D") for _ in range(4)]
CARTRIDGES = [CARTRIDGE_SCHEME.generate(RNG, "S") for _ in range(4)]
START = "2026-03-06T19:40:00Z"
START_MS = parse_utc(START)
UTC_FIRST_MS = parse_utc("0001-01-01T00:00:00Z")
UTC_LAST_MS = parse_utc("9999-12-31T23:59:59.999Z")
OPTIONAL = tuple(column for column in COLUMNS if column not in REQUIRED)
FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


# -- helpers ------------------------------------------------------------------------------


def _cells(**values: str) -> dict[str, str]:
    """One valid row of the contract's columns (report R1 with DEVICES[0]), changed by
    ``values``."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        report="R1",
        incident="I1",
        officer="PC 2231",
        start=START,
        device=DEVICES[0],
        drawn="yes",
        fired="yes",
        cartridges=CARTRIDGES[0],
        subject_age="27",
        subject_ethnicity="White",
        subject_health="none",
    )
    row.update(values)
    return row


def _csv(rows: Sequence[Mapping[str, str]], columns: Sequence[str] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row.get(column, "") for column in columns] for row in rows])
    return out.getvalue()


def _file(tmp_path: Path, content: str | bytes, name: str = "ACCOUNTS.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def _rows_file(tmp_path: Path, *rows: Mapping[str, str]) -> Path:
    """Rows R1..Rn (each its own report unless it says otherwise), one a line from line 2."""
    return _file(tmp_path, _csv([{**row, "report": f"R{n}"} for n, row in enumerate(rows, 1)]))


def _refused(path: Path | str, line: int | None, says: str, **kwargs: Any) -> AccountsError:
    """Read ``path``: it must be refused with an :class:`AccountsError` naming the file and
    ``line`` and saying ``says``."""
    with pytest.raises(AccountsError) as caught:
        read_accounts(path, **kwargs)
    return _named(caught.value, str(path), line, says)


def _named(error: AccountsError, source: str, line: int | None, says: str) -> AccountsError:
    where = source if line is None else f"{source} line {line}"
    assert str(error).startswith(f"{where}: "), str(error)
    assert says in str(error), str(error)
    assert (error.source, error.line) == (source, line)
    return error


# -- the use levels -----------------------------------------------------------------------


def test_use_levels_are_the_contract_names_in_severity_order_highest_first() -> None:
    assert USES == (
        "angle_drive_stun",
        "fired",
        "drive_stun",
        "arced",
        "red_dotted",
        "aimed",
        "drawn",
    )
    assert sorted(SEVERITY, key=SEVERITY.__getitem__, reverse=True) == list(USES)
    assert SEVERITY["drawn"] == 1 and SEVERITY["angle_drive_stun"] == 7
    assert set(USES) <= set(COLUMNS) and set(USES) <= set(REQUIRED)


@given(st.dictionaries(st.sampled_from(USES), st.sampled_from([True, False, None])))
def test_highest_use_is_the_most_severe_level_ticked_yes(levels: dict[str, bool | None]) -> None:
    ticked = [use for use in USES if levels.get(use) is True]
    expected = ticked[0] if ticked else None
    assert highest_use(levels) == expected
    assert highest_use(set(ticked)) == expected
    account = Account(report="R", incident="I", officer="O", start_ms=0, **cast(Any, levels))
    assert account.highest_use == expected
    assert list(account.uses) == list(USES)
    assert all(account.uses[use] is levels.get(use) for use in USES)


def test_highest_use_refuses_a_name_that_is_no_level_and_a_bare_string() -> None:
    assert highest_use({}) is None and highest_use([]) is None
    assert highest_use({"fired": False, "drawn": None}) is None
    with pytest.raises(AccountsError, match="'red_dot' is not a CED use level"):
        highest_use(["drawn", "red_dot"])
    with pytest.raises(AccountsError, match="'shot' is not a CED use level"):
        highest_use({"shot": False})
    with pytest.raises(AccountsError, match="one name"):
        highest_use("fired")


def test_age_bands_by_whole_years() -> None:
    ages = {0: "under 11", 10: "under 11", 11: "11-17", 17: "11-17", 18: "18-34"}
    ages |= {34: "18-34", 35: "35-49", 49: "35-49", 50: "50-64", 64: "50-64", 65: "65+"}
    ages |= {130: "65+"}
    assert {years: age_band(years) for years in ages} == ages
    assert set(ages.values()) == set(AGE_BANDS)
    for wrong in (-1, 131):
        with pytest.raises(AccountsError):
            age_band(wrong)


# -- round trips --------------------------------------------------------------------------

_WORDS = st.characters(codec="utf-8", categories=("L", "N", "P", "S"))
_AWKWARD = st.sampled_from([" ", ",", '"', "'", "=", "+", "-", "@", "é", "😀"])


def _printable(alphabet: st.SearchStrategy[str], max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=max_size).filter(
        lambda text: text == text.strip() and text.isprintable()
    )


IDS = _printable(_WORDS | _AWKWARD | st.just(";"), 12)
FREE = st.text(_WORDS | _AWKWARD | st.sampled_from(";\n\t"), min_size=1, max_size=16).filter(
    lambda text: text == text.strip()
)
ITEMS = st.lists(FREE.filter(lambda text: ";" not in text), max_size=3).map(tuple)
TIMES = st.integers(UTC_FIRST_MS, UTC_LAST_MS) | st.integers(START_MS - 10**9, START_MS + 10**9)
TICKS = st.sampled_from([True, False, None])


@st.composite
def _ages(draw: st.DrawFn) -> tuple[str | None, int | None]:
    years = draw(st.none() | st.integers(0, 130))
    if years is not None:
        return age_band(years), years
    return draw(st.none() | st.sampled_from(AGE_BANDS)), None


@st.composite
def account_lists(draw: st.DrawFn, max_reports: int = 5) -> list[Account]:
    """Accounts as a valid file holds them: reports of one to three rows (distinct devices,
    at most one without), each report's rows agreeing, the rows interleaved."""
    reports = draw(st.lists(IDS, max_size=max_reports, unique=True))
    rows = []
    for report in reports:
        start = draw(TIMES)
        age, years = draw(_ages())
        shared: dict[str, Any] = {
            "report": report,
            "incident": draw(IDS),
            "officer": draw(IDS),
            "start_ms": start,
            "end_ms": draw(st.none() | st.integers(start, UTC_LAST_MS)),
            "subject_age": age,
            "subject_age_years": years,
            "subject_gender": draw(st.none() | FREE),
            "subject_ethnicity": draw(st.none() | st.sampled_from(ETHNICITIES)),
            "subject_health": draw(st.none() | st.sampled_from(HEALTH)),
        }
        devices = draw(st.lists(st.none() | device_serials(), min_size=1, max_size=3, unique=True))
        for device in devices:
            uses: dict[str, Any] = {use: draw(TICKS) for use in USES}
            rows.append(
                Account(
                    **shared,
                    **uses,
                    device=device,
                    cartridges=tuple(draw(st.lists(cartridge_serials(), max_size=3, unique=True))),
                    cycles=draw(st.none() | st.integers(0, 999_999_999)),
                    cycle_extended=draw(TICKS),
                    location=draw(st.none() | FREE),
                    reasons=draw(ITEMS),
                    impact_factors=draw(ITEMS),
                    outcome=draw(ITEMS),
                )
            )
    return draw(st.permutations(rows))


def _lines(accounts: Sequence[Account]) -> list[int]:
    """The line each account's row starts on once written (line breaks in cells count)."""
    lines, line = [], 2
    for account in accounts:
        lines.append(line)
        texts = [account.location or "", account.subject_gender or ""]
        texts += [*account.reasons, *account.impact_factors, *account.outcome]
        line += 1 + sum(text.count("\n") for text in texts)
    return lines


@FAST
@given(accounts=account_lists())
def test_written_accounts_read_back_exactly(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[Account]
) -> None:
    path = tmp_path_factory.mktemp("round") / "ACCOUNTS.csv"
    write_accounts(accounts, path)
    read = read_accounts(path)
    assert read.accounts == tuple(accounts)
    assert [a.line for a in read.accounts] == _lines(accounts)
    data = path.read_bytes()
    assert (read.path, read.size, read.sha256) == (
        str(path),
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert len(read) == len(accounts) and list(read) == list(read.accounts)


def _table(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as stream:
        header, *rows = list(csv.reader(stream))
    return header, rows


def _rewrite(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    order: Sequence[int],
    ending: str,
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=ending)
    writer.writerow([header[i] for i in order])
    writer.writerows([[row[i] for i in order] for row in rows])
    path.write_text(out.getvalue(), encoding="utf-8", newline="")


@FAST
@given(
    accounts=account_lists(),
    order=st.permutations(range(len(COLUMNS))),
    cases=st.lists(st.booleans(), min_size=len(COLUMNS), max_size=len(COLUMNS)),
    pad=st.sampled_from(["", " ", "  \t"]),
    ending=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
)
def test_column_order_header_case_line_ends_and_bom_change_nothing(
    tmp_path_factory: pytest.TempPathFactory,
    accounts: list[Account],
    order: list[int],
    cases: list[bool],
    pad: str,
    ending: str,
    bom: bool,
) -> None:
    path = tmp_path_factory.mktemp("shuffled") / "ACCOUNTS.csv"
    write_accounts(accounts, path)
    header, rows = _table(path)
    # Optional columns with nothing in them may be left out altogether.
    empty = {i for i, name in enumerate(header) if name in OPTIONAL and not any(r[i] for r in rows)}
    named = [
        pad + (name.upper() if up else name.title()) + pad
        for name, up in zip(header, cases, strict=True)
    ]
    _rewrite(path, named, rows, [i for i in order if i not in empty or i % 2], ending)
    if bom:
        path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    assert read_accounts(path).accounts == tuple(accounts)


@FAST
@given(
    accounts=account_lists(max_reports=3),
    order=st.permutations(range(len(COLUMNS))),
    via_file=st.booleans(),
)
def test_a_column_map_renaming_every_column_reads_the_same(
    tmp_path_factory: pytest.TempPathFactory,
    accounts: list[Account],
    order: list[int],
    via_file: bool,
) -> None:
    folder = tmp_path_factory.mktemp("mapped")
    path = folder / "export.csv"
    write_accounts(accounts, path)
    header, rows = _table(path)
    forces = {name: f"Force {name.replace('_', ' ').title()} Col" for name in header}
    _rewrite(path, [forces[name] for name in header], rows, order, "\n")
    mapping: Mapping[str, str] = {force: name for name, force in forces.items()}
    if via_file:
        (folder / "map.json").write_text(json.dumps({"columns": mapping}), encoding="utf-8")
        mapping = read_column_map(folder / "map.json")
    assert read_accounts(path, columns=mapping).accounts == tuple(accounts)
    with pytest.raises(AccountsError, match="no accounts column in the header"):
        read_accounts(path)


# -- nothing but AccountsError escapes ----------------------------------------------------


def _read_or_refuse(path: Path, columns: Mapping[str, str] | None = None) -> Accounts | None:
    try:
        return read_accounts(path, columns=columns)
    except AccountsError as error:
        assert error.source == str(path) and (error.line is None or error.line >= 1)
        return None


@FAST
@given(
    data=st.binary(max_size=600)
    | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_random_bytes_are_read_or_refused_with_accounts_error_only(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    _read_or_refuse(_file(tmp_path_factory.mktemp("bytes"), data))


_TOKENS = st.sampled_from(
    [
        "",
        " ",
        "yes",
        "NO",
        "True",
        "0",
        "1",
        "maybe",
        "R1",
        "R2",
        "I1",
        "PC 1",
        START,
        "2026-03-06 19:40",
        "2026-03-06T19:40+01:00",
        "2026-02-30T00:00Z",
        "2026-03-06",
        DEVICES[0],
        DEVICES[1].lower(),
        "D0000",
        CARTRIDGES[0],
        f"{CARTRIDGES[1]};{CARTRIDGES[2]}",
        "17",
        "200",
        "11-17",
        "Under 11",
        "65 +",
        "white",
        "BLACK",
        "purple",
        "Mental",
        "-1",
        "3",
        "'=1+2",
        '"',
        '""',
        "a\nb",
        "\r",
        "\x00",
        "\ufeff",
        "é",
        ";;",
        ",",
    ]
)
_NAMES = st.sampled_from([*COLUMNS, *(c.upper() for c in COLUMNS[:6]), "notes", "", " report "])


@FAST
@given(
    header=st.lists(_NAMES, min_size=0, max_size=28),
    rows=st.lists(st.lists(_TOKENS, max_size=28), max_size=6),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_random_csv_is_read_or_refused_with_accounts_error_only(
    tmp_path_factory: pytest.TempPathFactory, header: list[str], rows: list[list[str]], ending: str
) -> None:
    text = ending.join(",".join(cells) for cells in [header, *rows])
    _read_or_refuse(_file(tmp_path_factory.mktemp("csvish"), text))


@FAST
@given(
    rows=st.lists(st.fixed_dictionaries({c: _TOKENS for c in COLUMNS}), max_size=5),
    columns=st.lists(st.sampled_from(COLUMNS), unique=True, min_size=len(REQUIRED)),
)
def test_random_values_under_a_good_header_are_read_or_refused_with_accounts_error_only(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, str]], columns: list[str]
) -> None:
    _read_or_refuse(
        _file(
            tmp_path_factory.mktemp("values"),
            _csv(rows, [*REQUIRED, *(c for c in columns if c not in REQUIRED)]),
        )
    )


@FAST
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["columns", "values", "ignore", "comment", "Ref", *COLUMNS[:4]]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_random_json_is_a_map_or_refused_with_accounts_error_only(
    tmp_path_factory: pytest.TempPathFactory, document: object
) -> None:
    path = tmp_path_factory.mktemp("map") / "map.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        read_column_map(path)
    except AccountsError as error:
        assert error.source == str(path)


# -- values read --------------------------------------------------------------------------


def test_values_are_case_insensitive_and_read_to_their_canonical_form(tmp_path: Path) -> None:
    path = _rows_file(
        tmp_path,
        _cells(
            start=" 2026-03-06T20:40:00.250+01:00 ",
            end="2026-03-06 20:00z",
            device=DEVICE_SCHEME.display(DEVICES[1]).lower(),
            drawn="YES",
            aimed="True",
            red_dotted="1",
            arced="No",
            drive_stun="FALSE",
            angle_drive_stun="0",
            fired="",
            cartridges=f" {CARTRIDGES[0].lower()} ;; {CARTRIDGE_SCHEME.display(CARTRIDGES[1])};",
            cycles="007",
            cycle_extended="yes",
            subject_age="11–17",
            subject_gender=" female ",
            subject_ethnicity="mIXED",
            subject_health="BOTH",
            location="  ",
            reasons=" Protect self ;  ; Prevent escape ",
            outcome="'=HYPERLINK(1)",
        ),
        _cells(subject_age="UNDER 11", subject_ethnicity="", subject_health="", cartridges=""),
        _cells(subject_age="65 +", device="", drawn="", fired=""),
    )
    first, second, third = read_accounts(path).accounts
    assert first == Account(
        report="R1",
        incident="I1",
        officer="PC 2231",
        start_ms=START_MS + 250,
        end_ms=parse_utc("2026-03-06T20:00:00Z"),
        device=DEVICES[1],
        drawn=True,
        aimed=True,
        red_dotted=True,
        arced=False,
        drive_stun=False,
        angle_drive_stun=False,
        fired=None,
        cartridges=(CARTRIDGES[0], CARTRIDGES[1]),
        cycles=7,
        cycle_extended=True,
        subject_age="11-17",
        subject_gender="female",
        subject_ethnicity="Mixed",
        subject_health="both",
        location=None,
        reasons=("Protect self", "Prevent escape"),
        outcome=("=HYPERLINK(1)",),
    )
    assert first.line == 2 and first.highest_use == "red_dotted"
    assert (second.subject_age, second.subject_age_years, second.subject_ethnicity) == (
        "under 11",
        None,
        None,
    )
    assert (second.subject_health, second.cartridges, second.line) == (None, (), 3)
    assert (third.device, third.highest_use, third.subject_age) == (None, None, "65+")
    assert first.subject_age_years is None and third.subject_age_years is None


def test_line_breaks_inside_free_text_are_read_as_lf(tmp_path: Path) -> None:
    header, row = _csv([_cells(location="@@", reasons="@@;x")]).splitlines(keepends=True)
    row = row.replace("@@;x", '"a\r\nb;c\rd;x"').replace("@@", '"Street\r\nCorner\rEnd"')
    (account,) = read_accounts(_file(tmp_path, header + row)).accounts
    assert account.location == "Street\nCorner\nEnd" and account.reasons == ("a\nb", "c\nd", "x")
    with pytest.raises(AccountsError, match="holds a carriage return"):
        write_accounts([replace(account, location="a\rb")], tmp_path / "o.csv")


def test_an_age_in_years_reads_as_its_band_with_the_years_kept(tmp_path: Path) -> None:
    path = _rows_file(
        tmp_path, _cells(subject_age="0"), _cells(subject_age="17"), _cells(subject_age="130")
    )
    read = [(a.subject_age, a.subject_age_years) for a in read_accounts(path)]
    assert read == [("under 11", 0), ("11-17", 17), ("65+", 130)]


def test_optional_columns_may_be_absent_and_a_header_alone_holds_no_accounts(
    tmp_path: Path,
) -> None:
    path = _file(tmp_path, _csv([_cells()], REQUIRED))
    (account,) = read_accounts(path).accounts
    assert account.end_ms is None and account.cartridges == () and account.cycles is None
    assert account.location is None and account.reasons == ()
    assert read_accounts(_file(tmp_path, ",".join(REQUIRED) + "\n", "empty.csv")).accounts == ()


def test_blank_lines_and_rows_of_empty_cells_are_allowed_at_the_end(tmp_path: Path) -> None:
    text = _csv([_cells()]) + "\n  \n" + "," * (len(COLUMNS) - 1) + "\n\n"
    assert len(read_accounts(_file(tmp_path, text)).accounts) == 1


def test_a_report_may_have_one_row_per_device(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        _csv(
            [
                _cells(),
                _cells(report="R2"),
                _cells(device=DEVICES[1]),
                _cells(device="", drawn="", fired="", cartridges=""),
            ]
        ),
    )
    assert [(a.report, a.device, a.line) for a in read_accounts(path)] == [
        ("R1", DEVICES[0], 2),
        ("R2", DEVICES[0], 3),
        ("R1", DEVICES[1], 4),
        ("R1", None, 5),
    ]


def test_the_digest_and_size_are_the_files_bytes_bom_and_all(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + _csv([_cells()]).replace("\n", "\r\n").encode()
    read = read_accounts(_file(tmp_path, data))
    assert (read.size, read.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert read.accounts[0].report == "R1"


# -- refusals: values ---------------------------------------------------------------------


def test_a_start_without_a_zone_is_refused_with_the_file_and_line(tmp_path: Path) -> None:
    path = _rows_file(tmp_path, *[_cells()] * 5, _cells(start="2026-03-06 19:40"))
    error = _refused(path, 7, "start '2026-03-06 19:40' has no time zone")
    assert str(error).startswith(f"{path} line 7: start '2026-03-06 19:40' has no time zone")
    assert isinstance(error, InputFileError) and isinstance(error, ValueError)


def test_accounts_errors_are_bad_input_to_the_command_line() -> None:
    error = AccountsError("start is empty", "ACCOUNTS.csv", 7)
    assert str(error) == "ACCOUNTS.csv line 7: start is empty" and error.reason == "start is empty"
    assert str(AccountsError("empty", "ACCOUNTS.csv")) == "ACCOUNTS.csv: empty"
    assert exit_code_for(error) == EXIT_BAD_INPUT == 2
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.source, copy.line, copy.reason) == (
        str(error),
        "ACCOUNTS.csv",
        7,
        error.reason,
    )


@pytest.mark.parametrize(
    ("cells", "says"),
    [
        ({"start": ""}, "start is empty"),
        ({"start": "2026-03-06"}, "start '2026-03-06' is a date, not an instant"),
        ({"start": "06/03/2026 19:40"}, "start '06/03/2026 19:40' is not an ISO 8601"),
        ({"end": "2026-03-06T19:50"}, "end '2026-03-06T19:50' has no time zone"),
        (
            {"end": "2026-03-06T19:39:59Z"},
            "end '2026-03-06T19:39:59Z' is before start '2026-03-06T19:40:00Z'",
        ),
        ({"end": "2026-03-06T20:30+01:00"}, "end '2026-03-06T20:30+01:00' is before start"),
        ({"start": "2026-02-30T00:00Z"}, "start '2026-02-30T00:00Z' is not a valid time"),
        ({"device": "D0000"}, "device 'D0000' is not a valid device serial: has 5 characters"),
        ({"device": CARTRIDGES[0]}, "is not a valid device serial: type letter 'S'"),
        (
            {"device": DEVICES[0][:-1] + ("0" if DEVICES[0][-1] != "0" else "1")},
            "check character is",
        ),
        (
            {"cartridges": f"{CARTRIDGES[0]};S123"},
            "cartridges: 'S123' is not a valid cartridge serial",
        ),
        (
            {"cartridges": f"{CARTRIDGES[0]}; {CARTRIDGES[0].lower()}"},
            f"cartridges: {CARTRIDGES[0]} is listed twice",
        ),
        ({"cycles": "-1"}, "cycles '-1' is not a whole number of cycles"),
        ({"cycles": "2.5"}, "cycles '2.5' is not a whole number"),
        ({"cycles": "٣"}, "cycles '٣' is not a whole number"),
        ({"cycles": "1234567890"}, "at most 9"),
        ({"drawn": "maybe"}, "drawn 'maybe' is not yes, no or empty"),
        ({"angle_drive_stun": "Y"}, "angle_drive_stun 'Y' is not yes, no or empty"),
        ({"cycle_extended": "2"}, "cycle_extended '2' is not yes, no or empty"),
        ({"subject_age": "131"}, "subject_age '131' is not an age band"),
        ({"subject_age": "11 to 17"}, "subject_age '11 to 17' is not an age band"),
        ({"subject_age": "-3"}, "subject_age '-3' is not an age band"),
        (
            {"subject_ethnicity": "W1"},
            "subject_ethnicity 'W1' is not one of White, Black, Asian, Mixed, Other",
        ),
        (
            {"subject_health": "unwell"},
            "subject_health 'unwell' is not one of mental, physical, both, none",
        ),
        ({"report": ""}, "report is empty"),
        ({"incident": " "}, "incident is empty"),
        ({"officer": ""}, "officer is empty"),
        (
            {"officer": "PC\u200b2231"},
            "officer 'PC\\u200b2231' holds a control or invisible character",
        ),
        ({"report": "R" * 257}, "report is 257 characters long (at most 256)"),
        (
            {"location": "Street\x00"},
            "location 'Street\\x00' holds a control or invisible character",
        ),
        (
            {"reasons": "Protect self;Prevent\x1bescape"},
            "reasons: 'Prevent\\x1bescape' holds a control",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_its_column_and_line(
    tmp_path: Path, cells: dict[str, str], says: str
) -> None:
    path = _file(tmp_path, _csv([_cells(report="R0"), _cells(**{"report": "R1", **cells})]))
    _refused(path, 3, says)


def test_the_same_report_and_device_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = _file(tmp_path, _csv([_cells(), _cells(report="R2"), _cells(device=DEVICES[0].lower())]))
    _refused(path, 4, f"report 'R1' with device {DEVICES[0]} is on line 2 already")
    quiet = {"device": "", "drawn": "", "fired": "", "cartridges": ""}
    path = _file(tmp_path, _csv([_cells(**quiet), _cells(device=DEVICES[1]), _cells(**quiet)]))
    _refused(path, 4, "report 'R1' with no device is on line 2 already")


@pytest.mark.parametrize(
    ("cells", "says"),
    [
        ({"incident": "I2"}, "report 'R1' has incident 'I2' here but 'I1' on line 2"),
        ({"officer": "PC 7"}, "has officer 'PC 7' here but 'PC 2231' on line 2"),
        (
            {"start": "2026-03-06T19:41:00Z"},
            "has start 2026-03-06T19:41:00.000Z here but 2026-03-06T19:40:00.000Z on line 2",
        ),
        (
            {"end": "2026-03-06T19:50:00Z"},
            "has end 2026-03-06T19:50:00.000Z here but empty on line 2",
        ),
        ({"subject_age": "18-34"}, "has subject_age '18-34' here but 27 on line 2"),
        ({"subject_gender": "male"}, "has subject_gender 'male' here but empty on line 2"),
        (
            {"subject_ethnicity": "Black"},
            "has subject_ethnicity 'Black' here but 'White' on line 2",
        ),
        ({"subject_health": ""}, "has subject_health empty here but 'none' on line 2"),
    ],
)
def test_rows_of_one_report_that_disagree_are_refused_naming_both_lines(
    tmp_path: Path, cells: dict[str, str], says: str
) -> None:
    path = _file(
        tmp_path, _csv([_cells(), _cells(report="R2"), _cells(device=DEVICES[1], **cells)])
    )
    _refused(path, 4, says)


def test_the_same_time_in_another_zone_agrees(tmp_path: Path) -> None:
    path = _file(
        tmp_path, _csv([_cells(), _cells(device=DEVICES[1], start="2026-03-06T20:40:00+01:00")])
    )
    assert len(read_accounts(path).accounts) == 2


# -- refusals: the file and its header ----------------------------------------------------


def test_a_missing_or_unopenable_file_is_refused_without_a_line(tmp_path: Path) -> None:
    _refused(tmp_path / "absent.csv", None, "cannot read it: No such file or directory")
    _refused(tmp_path, None, "cannot read it:")


@pytest.mark.parametrize("content", [b"", codecs.BOM_UTF8, b"\n\n  \n"])
def test_an_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    _refused(_file(tmp_path, content), None, "empty: a header row is needed")


def test_a_file_without_a_header_row_is_refused_at_line_1(tmp_path: Path) -> None:
    rows = _csv([_cells()]).splitlines(keepends=True)[1:]
    _refused(
        _file(tmp_path, "".join(rows)),
        1,
        "no accounts column in the header: the first line must be the header row",
    )


def test_a_blank_line_before_the_header_or_between_rows_is_refused(tmp_path: Path) -> None:
    text = _csv([_cells(), _cells(report="R2")])
    _refused(_file(tmp_path, "\n" + text), 1, "blank line between the top and the header row")
    header, first, second = text.splitlines(keepends=True)
    _refused(_file(tmp_path, header + first + " \n" + second), 3, "blank line between data lines")


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (
            [*COLUMNS, "notes"],
            "unknown column 'notes' (column 25): the accounts columns are report, incident",
        ),
        ([*COLUMNS[:3], "Start Time", *COLUMNS[4:]], "unknown column 'Start Time' (column 4)"),
        ([c for c in COLUMNS if c != "start"], "missing column start"),
        (
            [c for c in COLUMNS if c not in ("report", "subject_health")],
            "missing columns report, subject_health",
        ),
        ([*COLUMNS, " REPORT "], "columns 1 and 25 are both report"),
        ([*COLUMNS, "Fired"], "columns 13 and 25 are both fired"),
        ([*COLUMNS, ""], "column 25 of the header has no name"),
    ],
)
def test_a_bad_header_is_refused_at_line_1(tmp_path: Path, header: list[str], says: str) -> None:
    _refused(_file(tmp_path, ",".join(header) + "\n"), 1, says)


def test_a_row_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    text = _csv([_cells(), _cells(report="R2"), _cells(report="R3")])
    header, first, second, third = text.splitlines(keepends=True)
    _refused(
        _file(tmp_path, header + first + second.rstrip("\n") + ",extra\n" + third),
        3,
        "25 cells, the header has 24",
    )
    _refused(
        _file(tmp_path, header + first + second + third.rsplit(",", 1)[0] + "\n"),
        4,
        "23 cells, the header has 24",
    )


def test_bytes_that_are_not_utf8_are_refused_with_their_line(tmp_path: Path) -> None:
    lines = (
        _csv([_cells(), _cells(report="R2"), _cells(report="R3")])
        .encode()
        .splitlines(keepends=True)
    )
    lines[3] = lines[3].replace(b"PC 2231", b"PC \xe92231")
    _refused(_file(tmp_path, b"".join(lines)), 4, "not UTF-8 text (byte 10 of the line)")
    _refused(
        _file(tmp_path, codecs.BOM_UTF8 + b"rep\xffort\n"), 1, "not UTF-8 text (byte 7 of the line)"
    )


def test_malformed_csv_is_refused_at_the_row_it_starts_on(tmp_path: Path) -> None:
    text = _csv([_cells(), _cells(report="R2")])
    header, first, second = text.splitlines(keepends=True)
    unclosed = header + first + second.replace("R2", '"R2', 1) + "more\n"
    _refused(
        _file(tmp_path, unclosed),
        3,
        "a quoted cell is not closed before the end of the file (the row runs to line 4)",
    )
    _refused(
        _file(tmp_path, header + first.replace("I1", "I1\rx", 1)),
        2,
        "a carriage return inside an unquoted cell",
    )
    _refused(_file(tmp_path, header + first.replace("I1", '"I1"x', 1)), 2, "malformed CSV")


def test_a_line_too_long_is_refused_without_reading_the_file_whole(tmp_path: Path) -> None:
    header = ",".join(COLUMNS) + "\n"
    path = _file(tmp_path, header + "R1," + "x" * (MAX_LINE_BYTES - 2))  # a byte over
    _refused(path, 2, f"longer than {MAX_LINE_BYTES} bytes")
    big = tmp_path / "big.csv"
    with big.open("wb") as stream:
        stream.write(header.encode())
        for _ in range(20):
            stream.write(b"x" * (1 << 20))
    tracemalloc.start()
    try:
        _refused(big, 2, "longer than")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_LINE_BYTES + (1 << 20), peak


def test_a_row_running_over_many_lines_is_refused_past_its_bound(tmp_path: Path) -> None:
    header, first = _csv([_cells()]).splitlines(keepends=True)
    cell = '"' + "x" * 1000 + "\n" + "x" * 1000 + '",'  # two lines a cell, one row
    many = "R2," + cell * (MAX_RECORD_BYTES // len(cell) + 1)
    _refused(
        _file(tmp_path, header + first + many), 3, f"the row runs past {MAX_RECORD_BYTES} bytes"
    )
    huge = "R2," + '"' + ("x" * 1000 + "\n") * 140 + '"\n'  # one cell over csv's own bound
    _refused(_file(tmp_path, header + first + huge), 3, "field larger than field limit")


def test_a_long_file_is_streamed_not_held(tmp_path: Path) -> None:
    empty_row = "," * (len(COLUMNS) - 1) + "\n"
    path = tmp_path / "long.csv"
    path.write_text(_csv([_cells()]) + empty_row * 120_000, encoding="utf-8")
    tracemalloc.start()
    try:
        read = read_accounts(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(read.accounts) == 1 and read.size == path.stat().st_size > 2_800_000
    assert peak < 1 << 20, peak


@pytest.mark.slow
def test_every_row_of_a_long_file_is_read_with_its_line(tmp_path: Path) -> None:
    """Speed is bench/bench_returns.py's; here, every row of 5,000, in order."""
    rows = [_cells(report=f"R{n}") for n in range(5_000)]
    path = _file(tmp_path, _csv(rows))
    read = read_accounts(path)
    assert len(read) == 5_000 and read.accounts[-1].line == 5_001
    assert [a.report for a in read.accounts[:3]] == ["R0", "R1", "R2"]


# -- column maps --------------------------------------------------------------------------


def test_the_example_force_export_reads_through_its_column_map() -> None:
    column_map = read_column_map(EXAMPLES / "column-map-example.json")
    read = read_accounts(EXAMPLES / "force-export-example.csv", columns=column_map)
    expected = read_accounts(EXAMPLES / "expected-accounts.csv")
    assert read.accounts == expected.accounts
    assert [a.line for a in read] == [2, 3, 4, 5, 6, 7]
    first, second, third, fourth, fifth, sixth = read.accounts
    assert (first.report, first.device, first.cartridges) == (
        "UOF-2026-0101",
        "D7M6ETZWF1",
        ("SQQXV5SZ7E",),
    )
    assert first.start_ms == parse_utc("2026-03-06T19:40:00Z") and first.highest_use == "fired"
    assert (first.subject_age, first.subject_age_years, first.subject_ethnicity) == (
        "18-34",
        27,
        "White",
    )
    assert first.outcome == ("Arrested", "Hospitalised") and first.reasons == (
        "Protect self",
        "Protect public",
    )
    assert (third.aimed, third.subject_health, third.subject_ethnicity) == (None, None, "Black")
    assert (fourth.report, fifth.report, fourth.subject_ethnicity, fourth.subject_health) == (
        "UOF-2026-0104",
        "UOF-2026-0104",
        None,
        "both",
    )
    assert (fifth.device, fifth.highest_use, second.highest_use) == (
        "DN5JJX9K1C",
        "arced",
        "red_dotted",
    )
    assert (sixth.device, sixth.highest_use, sixth.subject_age, sixth.subject_ethnicity) == (
        None,
        None,
        "under 11",
        "Asian",
    )
    assert sixth.start_ms == parse_utc("2026-04-02T13:10:00Z")
    assert column_map["ref no"] == "report" and column_map.ignored == frozenset({"officer name"})
    assert len(column_map) == 24 and "REF NO" in column_map and "Officer Name" not in column_map
    assert 5 not in column_map  # type: ignore[comparison-overlap]


def test_the_example_written_as_the_contract_is_the_expected_file(tmp_path: Path) -> None:
    column_map = read_column_map(EXAMPLES / "column-map-example.json")
    read = read_accounts(EXAMPLES / "force-export-example.csv", columns=column_map)
    write_accounts(read, tmp_path / "ACCOUNTS.csv")
    assert (tmp_path / "ACCOUNTS.csv").read_bytes() == (
        EXAMPLES / "expected-accounts.csv"
    ).read_bytes()


def test_the_example_export_without_its_map_is_refused() -> None:
    _refused(EXAMPLES / "force-export-example.csv", 1, "unknown columns 'Ref No' (column 1)")
    plain = {"Ref No": "report", "CED Serial": "device"}
    _refused(
        EXAMPLES / "force-export-example.csv",
        1,
        "unknown columns 'Incident Ref' (column 2)",
        columns=plain,
    )


def test_a_flat_map_of_strings_renames_columns(tmp_path: Path) -> None:
    path = _file(tmp_path, _csv([_cells()]).replace("report,", "Ref No,", 1))
    (tmp_path / "map.json").write_text('{"ref no": "Report"}', encoding="utf-8")
    assert (
        read_accounts(path, columns=read_column_map(tmp_path / "map.json")).accounts[0].report
        == "R1"
    )
    assert read_accounts(path, columns={" REF NO ": "report"}).accounts[0].report == "R1"


def test_value_codes_apply_to_whole_cells_and_list_items_ignoring_case(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        _csv(
            [
                _cells(
                    drawn=" y ",
                    fired="N",
                    subject_ethnicity="w1",
                    outcome="ARR; hos ;Other",
                    subject_health="NR",
                )
            ]
        ),
    )
    column_map = ColumnMap(
        values={
            "Drawn": {"Y": "yes"},
            "fired": {"n": "no"},
            "subject_ethnicity": {" W1 ": "White"},
            "outcome": {"arr": "Arrested", "HOS": "Hospitalised"},
            "subject_health": {"nr": ""},
        }
    )
    (account,) = read_accounts(path, columns=column_map).accounts
    assert (account.drawn, account.fired, account.subject_ethnicity, account.subject_health) == (
        True,
        False,
        "White",
        None,
    )
    assert account.outcome == ("Arrested", "Hospitalised", "Other")


def test_ignored_columns_are_skipped_and_a_missing_mapped_column_is_named(tmp_path: Path) -> None:
    text = _csv([{**_cells(), "Officer Name": "A. Current"}], [*COLUMNS, "Officer Name"])
    assert (
        read_accounts(_file(tmp_path, text), columns=ColumnMap(ignore=["officer name"]))
        .accounts[0]
        .report
        == "R1"
    )
    renamed = _file(
        tmp_path, _csv([_cells()], [c for c in COLUMNS if c != "report"]), "renamed.csv"
    )
    _refused(
        renamed,
        1,
        "missing column report (the column map renames 'Ref' → report)",
        columns={"Ref": "report"},
    )


def test_a_map_column_that_clashes_with_a_file_column_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, _csv([{**_cells(), "Ref": "R9"}], [*COLUMNS, "Ref"]))
    _refused(path, 1, "columns 1 and 25 are both report", columns={"Ref": "report"})


def _map_file(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "map.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "line", "says"),
    [
        ('{"Ref": "report",\n "Inc": incident}', 2, "not JSON: Expecting value"),
        ("", 1, "not JSON: Expecting value"),
        ("[1, 2]", None, "a column map is a JSON object"),
        ('"report"', None, "a column map is a JSON object"),
        ('{"Ref": "report", "Ref": "incident"}', None, "key 'Ref' is given twice in one object"),
        (
            '{"Ref": "reportt"}',
            None,
            "columns: 'Ref' maps to 'reportt', which is not an accounts column",
        ),
        (
            '{"Ref": "report", "Number": 5}',
            None,
            "unknown key 'Ref': a map whose values are not all strings is sectioned",
        ),
        ('{"columns": {"Ref": 5}}', None, "columns: 'Ref' maps to 5, not a column name (a string)"),
        ('{"columns": {"Ref": null}}', None, "columns: 'Ref' maps to None, not a column name"),
        (
            '{"Ref": "report", "Ref No": "REPORT"}',
            None,
            "columns: 'Ref' and 'Ref No' both map to report",
        ),
        (
            '{"Ref": "report", " ref ": "incident"}',
            None,
            "columns: 'Ref' and ' ref ' are one column",
        ),
        ('{" ": "report"}', None, "columns: ' ' is not a column name"),
        ('{"columns": ["Ref"]}', None, "columns: an object of force column"),
        (
            '{"values": {"colour": {"R": "red"}}}',
            None,
            "values: 'colour' is not an accounts column",
        ),
        ('{"values": {"drawn": ["Y"]}}', None, "values: drawn: ['Y'] is not an object of codes"),
        (
            '{"values": {"drawn": {"Y": true}}}',
            None,
            "values: drawn: 'Y' → True: codes and values are strings",
        ),
        (
            '{"values": {"drawn": {"Y": "yes", " y": "no"}}}',
            None,
            "values: drawn: code ' y' is given twice",
        ),
        ('{"values": {"drawn": {" ": "no"}}}', None, "values: drawn: an empty code"),
        (
            '{"values": {"drawn": {"Y": "maybe"}}}',
            None,
            "code 'Y' stands for a value the column refuses: drawn 'maybe' is not yes",
        ),
        (
            '{"values": {"subject_ethnicity": {"W1": "white british"}}}',
            None,
            "subject_ethnicity 'white british' is not one of",
        ),
        (
            '{"values": {"device": {"X": "D123"}}}',
            None,
            "device 'D123' is not a valid device serial",
        ),
        ('{"values": {"report": {"X": ""}}}', None, "report is empty"),
        (
            '{"values": {"outcome": {"A": "Arrested;Charged"}}}',
            None,
            "holds ';': a code stands for one item",
        ),
        (
            '{"values": {"cartridges": {"A": "S1"}}}',
            None,
            "cartridges: 'S1' is not a valid cartridge serial",
        ),
        ('{"values": {"drawn": {}, " Drawn": {}}}', None, "values: ' Drawn' is given twice"),
        (
            '{"columns": {"Name": "officer"}, "ignore": ["name"]}',
            None,
            "ignore: 'name' is mapped in columns too",
        ),
        ('{"ignore": "Name", "columns": {}}', None, "ignore: a list of force column names"),
        ('{"ignore": [3], "columns": {}}', None, "ignore: 3 is not a column name"),
        ('{"comment": 3, "columns": {}}', None, "comment: a string"),
        ("[" * 100_000, None, "nested too deeply"),
    ],
)
def test_a_bad_column_map_is_refused_naming_its_file(
    tmp_path: Path, content: str, line: int | None, says: str
) -> None:
    path = _map_file(tmp_path, content)
    with pytest.raises(AccountsError) as caught:
        read_column_map(path)
    _named(caught.value, str(path), line, says)


def test_a_map_file_that_is_unreadable_not_utf8_or_too_big_is_refused(tmp_path: Path) -> None:
    for content, says in [
        (b'{"R\xe9f": "report"}', "not UTF-8 text (byte 4)"),
        (b" " * (MAX_MAP_BYTES + 1), f"over {MAX_MAP_BYTES} bytes"),
    ]:
        with pytest.raises(AccountsError) as caught:
            read_column_map(_map_file(tmp_path, content))
        _named(caught.value, str(tmp_path / "map.json"), None, says)
    with pytest.raises(AccountsError) as caught:
        read_column_map(tmp_path / "absent.json")
    _named(caught.value, str(tmp_path / "absent.json"), None, "cannot read it")
    assert len(read_column_map(_map_file(tmp_path, codecs.BOM_UTF8 + b"{}"))) == 0


def test_a_bad_plain_mapping_is_refused_as_columns(tmp_path: Path) -> None:
    path = _file(tmp_path, _csv([_cells()]))
    _refused_map = [
        ({"Ref": "nothing"}, "columns: 'Ref' maps to 'nothing'"),
        ({"A": "report", "B": "report"}, "both map to report"),
    ]
    for mapping, says in _refused_map:
        with pytest.raises(AccountsError) as caught:
            read_accounts(path, columns=mapping)
        _named(caught.value, "columns", None, says)


# -- writing ------------------------------------------------------------------------------

GOOD = Account(
    report="R1", incident="I1", officer="PC 1", start_ms=START_MS, device=DEVICES[0], fired=True
)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"report": " R1"}, "report ' R1' has surrounding white space"),
        ({"officer": ""}, "officer is empty"),
        ({"incident": "I\n1"}, "holds a control or invisible character '\\n'"),
        ({"start_ms": UTC_LAST_MS + 1}, "start_ms 253402300800000 is not a time"),
        ({"start_ms": True}, "start_ms True is not a time"),
        ({"end_ms": START_MS - 1}, "end_ms is before start_ms"),
        ({"device": DEVICES[0].lower()}, "is not a canonical device serial"),
        ({"cartridges": [CARTRIDGES[0]]}, "are not canonical cartridge serials (a tuple)"),
        ({"cartridges": (CARTRIDGES[0], CARTRIDGES[0])}, "a serial is listed twice"),
        ({"fired": "yes"}, "fired is 'yes': True, False or None"),
        ({"cycles": -1}, "cycles -1 is not a whole number"),
        ({"subject_age": "16"}, "subject_age '16' is not one of"),
        ({"subject_age_years": 16}, "subject_age None is not the band of 16 years (11-17)"),
        (
            {"subject_age_years": 200, "subject_age": "65+"},
            "subject_age_years 200 is not a whole number",
        ),
        ({"subject_ethnicity": "white"}, "subject_ethnicity 'white' is not one of"),
        ({"subject_health": "Mental"}, "subject_health 'Mental' is not one of"),
        ({"location": ""}, "location is empty: None stands for no value"),
        ({"subject_gender": "male "}, "has surrounding white space"),
        ({"reasons": ("a;b",)}, "reasons item 'a;b' holds ';'"),
        ({"outcome": ("",)}, "outcome is empty"),
        ({"impact_factors": "Alcohol"}, "impact_factors is 'Alcohol', not a tuple"),
    ],
)
def test_an_account_that_would_not_read_back_is_not_written(
    tmp_path: Path, changes: dict[str, object], says: str
) -> None:
    bad = replace(GOOD, **cast(Any, {"report": "R2", **changes}))
    path = tmp_path / "out.csv"
    with pytest.raises(AccountsError) as caught:
        write_accounts([GOOD, bad], path)
    _named(caught.value, str(path), 3, "cannot write this account: ")
    assert says in str(caught.value)
    assert not path.exists()


def test_accounts_the_reader_would_refuse_together_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with_break = replace(GOOD, report="R0", location="a\nb")
    for later, says in [
        (GOOD, f"report 'R1' with device {DEVICES[0]} is on line 4 already"),
        (
            replace(GOOD, device=None, officer="PC 2"),
            "has officer 'PC 2' here but 'PC 1' on line 4",
        ),
    ]:
        with pytest.raises(AccountsError) as caught:
            write_accounts([with_break, GOOD, later], path)
        _named(caught.value, str(path), 5, says)
    with pytest.raises(AccountsError, match="is not an Account"):
        write_accounts([GOOD, "R2"], path)  # type: ignore[list-item]
    assert not path.exists()


def test_writing_replaces_a_file_atomically_and_refuses_an_evidence_image(tmp_path: Path) -> None:
    path = tmp_path / "ACCOUNTS.csv"
    path.write_text("old", encoding="utf-8")
    write_accounts([GOOD], path)
    assert read_accounts(path).accounts == (GOOD,)
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)
    from taserlink.errors import OutputPathError

    (tmp_path / "device.tdi").write_bytes(b"evidence")
    with pytest.raises(OutputPathError):
        write_accounts([GOOD], tmp_path / "device.tdi")
    assert (tmp_path / "device.tdi").read_bytes() == b"evidence"
