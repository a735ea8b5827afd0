"""CSV that spreadsheets cannot turn into commands, numbers that are ASCII digits, and
inputs echoed in error lines cut to a readable length.

- :mod:`taserlink.spreadsheet`: ``safe_cell`` prefixes ``'`` to a cell starting with ``=``,
  ``+``, ``-``, ``@``, tab or CR (after any quotes) unless it is a plain number;
  ``original_cell`` undoes it exactly (hypothesis).
- Every CSV taserlink writes goes through it: match files (and :func:`read_matches` reads
  back what was written, hypothesis over cells starting with those characters), ``show
  --csv`` and ``link --csv``.
- Numbers in CSV inputs are ASCII digits only; a 10,000-character bad cell is echoed cut.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.cli import main
from taserlink.cli import show as show_command
from taserlink.errors import ECHO_CHARS, InputFileError, LinkError, excerpt
from taserlink.forensics.issues import parse_issues, parse_utc
from taserlink.forensics.matchfiles import read_matches, read_reads, write_matches
from taserlink.forensics.results import MatchRow
from taserlink.spreadsheet import FORMULA_STARTS, csv_writer, original_cell, safe_cell
from tests.conftest import CAPTURES
from tests.test_matchfiles import _held, _match_rows, _row

SCENE = CAPTURES / "incident"
TEST_ROOT = CAPTURES / "test-root.pem"
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _spreadsheet_safe(cell: str) -> bool:
    """A cell no spreadsheet takes as a formula: it starts with none of the characters, or
    it is a plain number."""
    return not cell[:1] or cell[0] not in FORMULA_STARTS or bool(PLAIN_NUMBER.fullmatch(cell))


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


# -- the rule -----------------------------------------------------------------------------

_RISKY_TEXT = st.builds(
    lambda quotes, start, rest: "'" * quotes + start + rest,
    st.integers(0, 3),
    st.sampled_from([*FORMULA_STARTS, "'", "a", "1", " "]),
    st.text(max_size=12),
)


@given(text=st.one_of(st.text(max_size=20), _RISKY_TEXT))
def test_original_cell_undoes_safe_cell_and_safe_cells_are_safe(text: str) -> None:
    written = safe_cell(text)
    assert original_cell(written) == text
    assert _spreadsheet_safe(written)
    assert written in (text, "'" + text)
    if written != text:  # only what could be a formula is changed
        assert text.lstrip("'")[:1] in FORMULA_STARTS


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@HYPERLINK(1)", "'@HYPERLINK(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),
        ("''@x", "'''@x"),
        ("-5", "-5"),
        ("-0.25", "-0.25"),
        ("+3", "+3"),
        ("-1e-3", "-1e-3"),
        ("-inf", "'-inf"),
        ("-١", "'-١"),
        ("'x", "'x"),
        ("E1", "E1"),
        ("", ""),
    ],
)
def test_safe_cell_examples(cell: str, written: str) -> None:
    assert safe_cell(cell) == written
    assert original_cell(written) == cell


# -- match files: written safe, read back as written --------------------------------------

_FORMULA_TEXT = st.builds(
    lambda quotes, start, rest: ("'" * quotes + start + rest).strip(),
    st.integers(0, 2),
    st.sampled_from("=+-@"),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
).filter(lambda s: bool(s) and s.isprintable())


@st.composite
def _risky_rows(draw: st.DrawFn) -> MatchRow:
    row = draw(_match_rows())
    exhibit = draw(_FORMULA_TEXT.filter(lambda s: '"' not in s))
    explanation = draw(st.one_of(st.just(""), _FORMULA_TEXT))
    return MatchRow(
        exhibit,
        row.serial,
        row.status,
        row.score,
        row.tags,
        row.runner_up,
        row.runner_up_score,
        explanation,
    )


@settings(max_examples=60)  # each example writes a file with fsync
@given(rows=st.lists(_risky_rows(), min_size=1, max_size=6))
def test_match_files_are_written_safe_and_read_back_as_written(
    tmp_path_factory: pytest.TempPathFactory, rows: list[MatchRow]
) -> None:
    out = tmp_path_factory.mktemp("cells") / "out.csv"
    write_matches(rows, out)
    text = out.read_text(encoding="utf-8")
    assert all(_spreadsheet_safe(cell) for cell in _cells(text))
    assert read_matches(out) == [_held(row) for row in rows]


def test_only_the_text_cells_of_a_match_file_change(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    write_matches([_row(exhibit="=HYPERLINK(1)", explanation="-pos4 B read as 8")], out)
    header, row = list(csv.reader(io.StringIO(out.read_text())))
    cells = dict(zip(header, row, strict=True))
    assert cells["exhibit"] == "'=HYPERLINK(1)"
    assert cells["explanation"] == "'-pos4 B read as 8"
    assert (cells["score"], cells["reads"], cells["status"]) == ("0.999876", "2", "match")
    back = read_matches(out)[0]
    assert (back.exhibit, back.explanation) == ("=HYPERLINK(1)", "-pos4 B read as 8")


def test_a_longest_exhibit_neutralised_still_reads_back(tmp_path: Path) -> None:
    exhibit = "=" + "E" * 255  # 256 characters, the most a value may hold
    out = tmp_path / "out.csv"
    write_matches([_row(exhibit=exhibit)], out)
    assert read_matches(out)[0].exhibit == exhibit
    out.write_text(out.read_text().replace("'=", "'=E", 1))
    with pytest.raises(InputFileError, match=r"exhibit is 257 characters long \(at most 256\)"):
        read_matches(out)


def test_match_to_stdout_is_safe_too(tmp_path: Path) -> None:
    reads = tmp_path / "reads.csv"
    reads.write_text("exhibit,tag,read\n\"=cmd|' /C calc'!A0\",T1,S9RBJ7PP1Q\n@E2,T1,SZ9FX7ZZ8X\n")
    code, out, err = _run("match", "--reads", str(reads), "--serials", str(SCENE / "serials.txt"))
    assert code == 0, err
    assert all(_spreadsheet_safe(cell) for cell in _cells(out))
    exhibits = [row["exhibit"] for row in csv.DictReader(io.StringIO(out))]
    assert exhibits == ["'=cmd|' /C calc'!A0", "'@E2"]


# -- show and link ------------------------------------------------------------------------


@pytest.mark.parametrize("image", sorted(CAPTURES.glob("*.tdi")), ids=lambda p: p.name)
def test_show_csv_cells_are_safe(image: Path) -> None:
    code, out, _ = _run("show", str(image), "--csv")
    assert code == 0
    assert all(_spreadsheet_safe(cell) for cell in _cells(out))


def test_show_csv_writes_every_cell_through_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(show_command, "fields_text", lambda *_: "=HYPERLINK(1)")
    code, out, _ = _run("show", str(CAPTURES / "quiet-day.tdi"), "--csv")
    assert code == 0
    fields = [row["fields"] for row in csv.DictReader(io.StringIO(out))]
    assert fields and set(fields) == {"'=HYPERLINK(1)"}


def test_link_csv_neutralises_officers_and_exhibits(tmp_path: Path) -> None:
    issues = tmp_path / "issues.csv"
    text = (SCENE / "issues.csv").read_text()
    issues.write_text(text.replace("PC 2231", "=HYPERLINK(1)").replace("PC ", "@PC "))
    matches = tmp_path / "matches.csv"
    lines = (SCENE / "expected-matches.csv").read_text().splitlines(keepends=True)
    matches.write_text(lines[0] + "".join("'-" + line for line in lines[1:]))
    images = tmp_path / "images"
    shutil.copytree(SCENE / "images", images)
    argv = ["link", "--images", str(images), "--issues", str(issues), "--matches", str(matches)]
    code, out, err = _run(*argv, "--roots", str(TEST_ROOT), "--csv")
    assert code in (0, 1), err
    cells = _cells(out)
    assert all(_spreadsheet_safe(cell) for cell in cells)
    assert any(cell.startswith("'=HYPERLINK(1)") for cell in cells)
    assert any(cell.startswith("'@PC ") for cell in cells)
    assert any(cell.startswith("'-E") for cell in cells)  # exhibit labels read back as -E1 …
    code, out, err = _run(*argv, "--roots", str(TEST_ROOT), "--json")
    exhibits = {e for link in json.loads(out)["links"] for e in link["exhibits"]}
    assert exhibits and all(e.startswith("-E") for e in exhibits)


# -- numbers are ASCII digits -------------------------------------------------------------

GOOD_ROW = "E1,S9RBJ7PP1Q,match,0.999,{reads},,,"


@pytest.mark.parametrize("reads", ["١٢", "1_000", "+5", "٣", "1٢", "12\u0660", "²", "0x1"])
def test_reads_counts_are_ascii_digits(tmp_path: Path, reads: str) -> None:
    out = tmp_path / "out.csv"
    header = "exhibit,serial,status,score,reads,runner_up,runner_up_score,explanation\n"
    out.write_text(header + GOOD_ROW.format(reads=reads) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"out\.csv:2: reads .* is not a positive integer"):
        read_matches(out)


@pytest.mark.parametrize("number", ["٠.٥", "+0.5", "0_5", "١", "0.٥", "-0"])
def test_confidences_and_scores_are_ascii_decimals(tmp_path: Path, number: str) -> None:
    reads = tmp_path / "reads.csv"
    reads.write_text(f"exhibit,tag,read,confidence\nE1,T1,S9RBJ7PP1Q,{number}\n")
    with pytest.raises(InputFileError, match=r"reads\.csv:2: confidence .* is not a number"):
        read_reads(reads)
    out = tmp_path / "out.csv"
    header = "exhibit,serial,status,score,reads,runner_up,runner_up_score,explanation\n"
    out.write_text(header + f"E1,S9RBJ7PP1Q,match,{number},1,,,\n")
    with pytest.raises(InputFileError, match=r"out\.csv:2: score .* is not a number"):
        read_matches(out)


@given(
    reads=st.text(
        st.characters(blacklist_categories=["Cs"]) | st.sampled_from("0123456789+-_ "),
        min_size=1,
        max_size=6,
    ).filter(lambda s: s == s.strip() and s.isprintable() and "," not in s and '"' not in s)
)
@settings(max_examples=200, deadline=None)
def test_a_reads_count_is_accepted_exactly_when_it_is_ascii_digits(
    tmp_path_factory: pytest.TempPathFactory, reads: str
) -> None:
    out = tmp_path_factory.mktemp("n") / "out.csv"
    header = "exhibit,serial,status,score,reads,runner_up,runner_up_score,explanation\n"
    out.write_text(header + GOOD_ROW.format(reads=reads) + "\n", encoding="utf-8")
    ascii_count = re.fullmatch(r"[1-9][0-9]{0,8}", reads, re.ASCII) is not None
    try:
        rows = read_matches(out)
    except InputFileError:
        assert not ascii_count or int(reads) > 100_000
    else:
        assert ascii_count and rows[0].reads == int(reads)


def test_issue_times_are_ascii_digits() -> None:
    with pytest.raises(LinkError, match="not an ISO 8601 UTC time"):
        parse_utc("٢٠٢٤-03-05T06:30:00Z")
    with pytest.raises(InputFileError, match=r"<issues>:2: issued_at"):
        parse_issues(
            "serial,officer,issued_at,returned_at\nDA6ZPY7CRV,PC 1,2026-03-06T06:4٨:10Z,\n"
        )


# -- inputs echoed in error lines are cut -------------------------------------------------

LONG = "=" + "A" * 9_999  # a 10,000-character bad cell


def test_excerpt_cuts_and_says_how_long() -> None:
    assert excerpt("short") == "'short'"
    shown = excerpt(LONG)
    assert shown == repr(LONG[:ECHO_CHARS])[:-1] + "…' (10000 characters)"


def _assert_cut(message: str) -> None:
    assert len(message) < 300, message
    assert "…" in message and "(10000 characters)" in message
    assert "\n" not in message


def test_a_10000_character_bad_cell_is_echoed_cut(tmp_path: Path) -> None:
    # An unknown column of 10,000 characters.
    reads = tmp_path / "reads.csv"
    reads.write_text(f"exhibit,tag,read,{LONG}\nE1,T1,S9RBJ7PP1Q,x\n")
    with pytest.raises(InputFileError) as caught:
        read_reads(reads)
    _assert_cut(str(caught.value))
    # An explanation (no length limit) with a control character.
    out = tmp_path / "out.csv"
    header = "exhibit,serial,status,score,reads,runner_up,runner_up_score,explanation\n"
    out.write_text(header + f'E1,S9RBJ7PP1Q,match,0.9,1,,,"{LONG[:-1]}\x07"\n')
    with pytest.raises(InputFileError) as caught:
        read_matches(out)
    _assert_cut(str(caught.value))
    # A --window time given on the command line.
    with pytest.raises(LinkError) as link_caught:
        parse_utc(LONG)
    _assert_cut(str(link_caught.value))
    # And the command's one line.
    code, _, err = _run("match", "--reads", str(reads), "--serials", str(SCENE / "serials.txt"))
    assert code == 2
    _assert_cut(err.rstrip("\n"))


@given(st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=4), min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_every_row_the_writer_writes_reads_back_whole(rows: list[list[str]]) -> None:
    """Any text, carriage returns and line feeds inside cells included: the rows read back
    are the rows written (each cell through :func:`original_cell`)."""
    buffer = io.StringIO(newline="")
    csv_writer(buffer).writerows(rows)
    read = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert [[original_cell(cell) for cell in row] for row in read] == rows
