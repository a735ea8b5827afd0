"""The match files: READS.csv and SERIALS read with file:line errors, OUT.csv written
atomically and read back; garbage in gives a list or an error pointing at a line."""

from __future__ import annotations

import csv
import io
import itertools
import os
import random
import stat
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink import serials as serials_module
from taserlink.errors import InputFileError, OutputPathError
from taserlink.forensics import matchfiles, tables
from taserlink.forensics.matchfiles import (
    MATCH_COLUMNS,
    MAX_LINE_BYTES,
    MAX_VALUE_CHARS,
    SCORE_DECIMALS,
    format_score,
    read_matches,
    read_reads,
    read_serials,
    row_as_dict,
    write_matches,
)
from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from tests.test_tables import Refused, one_line_at_a_time

RNG = random.Random(20240601)
SERIALS = [CARTRIDGE_SCHEME.generate(RNG) for _ in range(6)]
A, B, C = SERIALS[:3]


def _file(tmp_path: Path, content: str | bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _error(reader: object, path: Path) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        reader(path)  # type: ignore[operator]
    error = caught.value
    assert error.source == str(path)
    where = str(path) if error.line is None else f"{path}:{error.line}"
    assert str(error).startswith(where + ": ")
    return error


# -- READS.csv ----------------------------------------------------------------------------


def test_reads_are_read_with_their_lines(tmp_path: Path) -> None:
    text = (
        "\ufeff Read ,EXHIBIT,tag,Confidence\r\n"
        f'"{A[:4]}-{A[4:]}",E1,t1,0.75\r\n'
        f'"*{B[3:8]}*",E 2 ,"t,2",\r\n'
        f"{C.lower()},E1,t2,1e-1\r\n"
        "\r\n\n  \n"
    )
    reads = read_reads(_file(tmp_path, text))
    assert [(r.exhibit, r.tag, r.text, r.confidence, r.line) for r in reads] == [
        ("E1", "t1", f"{A[:4]}-{A[4:]}", 0.75, 2),
        ("E 2", "t,2", f"*{B[3:8]}*", 1.0, 3),
        ("E1", "t2", C.lower(), 0.1, 4),
    ]


def test_a_quoted_field_over_two_lines_counts_both_lines(tmp_path: Path) -> None:
    text = f'serial,note\n{A},"issued\nthen returned"\n{B},\n{C[:-1]},\n'
    error = _error(read_serials, _file(tmp_path, text))
    assert error.line == 5
    assert "bad serial" in str(error)


def test_a_line_break_inside_a_label_is_refused(tmp_path: Path) -> None:
    error = _error(read_reads, _file(tmp_path, f'exhibit,tag,read\nE1,"t\n1",{A}\n'))
    assert error.line == 2  # where the record starts
    assert "control or invisible" in str(error)


def test_confidence_column_is_optional(tmp_path: Path) -> None:
    reads = read_reads(_file(tmp_path, f"exhibit,tag,read\nE1,1,{A}"))  # no final newline
    assert [(r.confidence, r.line) for r in reads] == [(1.0, 2)]


HEADER = "exhibit,tag,read,confidence\n"
GOOD = f"E1,t1,{A},0.9\n"

READS_CASES = [
    # (name, file text, line blamed, fragment of the message)
    ("unknown column", f"exhibit,tag,read,colour\nE1,1,{A},red\n", 1, "unknown column 'colour'"),
    ("empty column name", f"exhibit,tag,read,\nE1,1,{A},\n", 1, "unknown column ''"),
    ("semicolons", f"exhibit;tag;read\nE1;1;{A}\n", 1, "separated by commas"),
    ("missing column", f"exhibit,read\nE1,{A}\n", 1, "missing column 'tag'"),
    ("column twice", f"exhibit,tag,read,Read\nE1,1,{A},{A}\n", 1, "'read' is given twice"),
    ("too many fields", HEADER + GOOD + f"E1,t2,{A},1,x\n", 3, "5 fields, the header has 4"),
    ("too few fields", HEADER + GOOD + f"E1,t2,{A}\n", 3, "3 fields, the header has 4"),
    ("empty exhibit", HEADER + GOOD + f" ,t2,{A},\n", 3, "exhibit is empty"),
    ("empty tag", HEADER + GOOD + f"E1,,{A},\n", 3, "tag is empty"),
    ("empty read", HEADER + GOOD + "E1,t2,,\n", 3, "read is empty"),
    ("bad character in read", HEADER + GOOD + "E1,t2,S4K7P2M9Q!,\n", 3, "bad read"),
    ("bad character in torn read", HEADER + GOOD + "E1,t2,*7P2#*,\n", 3, "'#' is not"),
    ("read only separators", HEADER + GOOD + "E1,t2, - ,\n", 3, "is empty"),
    ("confidence a word", HEADER + GOOD + f"E1,t2,{A},high\n", 3, "'high' is not a number"),
    ("confidence percent", HEADER + GOOD + f"E1,t2,{A},90\n", 3, "not a percentage"),
    ("confidence negative", HEADER + GOOD + f"E1,t2,{A},-0.1\n", 3, "not a number"),
    ("confidence nan", HEADER + GOOD + f"E1,t2,{A},nan\n", 3, "not a number"),
    ("confidence comma", HEADER + GOOD + f'E1,t2,{A},"0,9"\n', 3, "not a number"),
    ("tag twice", HEADER + GOOD + f"E1,t1,{B},\n", 3, "(first on line 2)"),
    ("blank line between", HEADER + GOOD + "\n" + f"E1,t2,{B},\n", 3, "blank line"),
    ("unclosed quote", HEADER + GOOD + f'E1,"t2,{B},\nE1,t3,{B},\n', 3, "not closed"),
    ("lone carriage return", HEADER + GOOD + f"E1,t2\r,{B},\n", 3, "carriage return"),
    ("text after a quote", HEADER + GOOD + f'E1,"t2"x,{B},\n', 3, "malformed CSV"),
    ("control character", HEADER + GOOD + f"E\x001,t2,{B},\n", 3, "control or invisible"),
    ("quote after a space", HEADER + GOOD + f'E1, "t2",{B},\n', 3, "quote character"),
    ("tab inside", HEADER + GOOD + f"E1,t\t2,{B},\n", 3, "control or invisible"),
    ("long value", HEADER + GOOD + f"{'E' * (MAX_VALUE_CHARS + 1)},t2,{B},\n", 3, "at most"),
    ("long line", HEADER + GOOD + "x" * MAX_LINE_BYTES + "\n", 3, "longer than"),
    ("empty file", "", None, "empty file"),
    ("blank file", "\n\n", None, "empty file"),
    ("header only", HEADER + "\n", None, "header row only"),
]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [case[1:] for case in READS_CASES],
    ids=[case[0] for case in READS_CASES],
)
def test_malformed_reads_name_file_and_line(
    tmp_path: Path, text: str, line: int | None, fragment: str
) -> None:
    error = _error(read_reads, _file(tmp_path, text))
    assert error.line == line
    assert fragment in str(error)


def test_reads_not_utf8(tmp_path: Path) -> None:
    error = _error(read_reads, _file(tmp_path, (HEADER + GOOD).encode() + b"E1,t2,\xff\xfe,\n"))
    assert error.line == 3
    assert "not UTF-8" in str(error)


def test_missing_reads_file(tmp_path: Path) -> None:
    error = _error(read_reads, tmp_path / "absent.csv")
    assert error.line is None
    assert "cannot read" in str(error)


def test_a_directory_is_not_a_reads_file(tmp_path: Path) -> None:
    assert "cannot read" in str(_error(read_reads, tmp_path))


def test_too_many_reads_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matchfiles, "MAX_READS", 2)
    rows = "".join(f"E1,t{i},{A},\n" for i in range(3))
    assert read_reads(_file(tmp_path, HEADER + rows[: rows.rindex("E1")]))  # two: fine
    error = _error(read_reads, _file(tmp_path, HEADER + rows))
    assert error.line == 4
    assert "more than 2 reads" in str(error)


def test_reads_of_any_length_and_unreadable_tags_are_kept(tmp_path: Path) -> None:
    """Whatever the notation can write is read as written, whatever the serials' scheme:
    how a read of the wrong length, or with nothing readable, is scored is the matcher's
    question."""
    device = DEVICE_SCHEME.generate(random.Random(3))
    texts = [A[:4] + A[5:], A + "K", "S4K7", "??????????", "*?*", "*???-?*", "*", device[:5]]
    path = _file(tmp_path, HEADER + "".join(f"E1,t{i},{t},\n" for i, t in enumerate(texts)))
    reads = read_reads(path)
    assert [(r.text, r.line) for r in reads] == [(t, n) for n, t in enumerate(texts, 2)]


# -- SERIALS ------------------------------------------------------------------------------


def test_serials_from_a_text_list_are_normalised(tmp_path: Path) -> None:
    with_alias = next(
        s
        for s in SERIALS + [CARTRIDGE_SCHEME.generate(RNG) for _ in range(200)]
        if "1" in s[1:] and "0" in s[1:]
    )
    typed = with_alias[0] + with_alias[1:].replace("1", "l").replace("0", "O")
    text = f"{A.lower()}\r\n  {CARTRIDGE_SCHEME.display(B)}  \n{typed}\n\n\n"
    assert read_serials(_file(tmp_path, "\ufeff" + text)) == [A, B, with_alias]


def test_serials_from_a_register_export(tmp_path: Path) -> None:
    text = f'id,Lot, Serial ,note\n1,L1,{A},"issued, then returned"\n2,L1,{B.lower()},\n'
    assert read_serials(_file(tmp_path, text)) == [A, B]


def test_a_one_column_csv_is_a_register_export(tmp_path: Path) -> None:
    assert read_serials(_file(tmp_path, f"serial\n{A}\n{B}\n")) == [A, B]


SERIAL_CASES = [
    ("bad check", f"{A}\n{A[:-1]}{'Z' if A[-1] != 'Z' else 'Y'}\n", 2, "check character"),
    ("device serial", f"{A}\n{DEVICE_SCHEME.generate(RNG)}\n", 2, "type letter"),
    ("a header that is not 'serial'", f"Serial Number\n{A}\n", 1, "'serial' column"),
    ("comment", f"{A}\n# {B}\n", 2, "bad serial"),
    ("duplicate", f"{A}\n{B}\n{CARTRIDGE_SCHEME.display(A).lower()}\n", 3, "(first on line 1)"),
    ("blank line between", f"{A}\n\n{B}\n", 2, "blank line"),
    ("long line", f"{A}\n{'S' * (MAX_VALUE_CHARS + 1)}\n", 2, "longer than any serial"),
    ("only blank lines", "\n \n", None, "empty"),
    ("empty file", "", None, "empty file"),
    ("csv without rows", "serial,lot\n", None, "empty"),
    ("csv wrong width", f"serial,lot\n{A},1\n{B}\n", 3, "1 fields, the header has 2"),
    ("csv empty serial", f"serial,lot\n{A},1\n,2\n", 3, "serial is empty"),
    ("csv serial twice", f"serial,Serial\n{A},{A}\n", 1, "given twice"),
    ("csv duplicate", f"lot,serial\n1,{A}\n2,{B}\n3,{A}\n", 4, "(first on line 2)"),
    ("csv bad quoting", f'serial,lot\n{A},"1\n', 2, "not closed"),
    ("csv blank line", f"serial\n{A}\n\n{B}\n", 3, "blank line"),
]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [case[1:] for case in SERIAL_CASES],
    ids=[case[0] for case in SERIAL_CASES],
)
def test_malformed_serials_name_file_and_line(
    tmp_path: Path, text: str, line: int | None, fragment: str
) -> None:
    error = _error(read_serials, _file(tmp_path, text, "serials.txt"))
    assert error.line == line
    assert fragment in str(error)


def test_serials_not_utf8(tmp_path: Path) -> None:
    error = _error(read_serials, _file(tmp_path, f"{A}\n".encode() + b"\xc3(\n"))
    assert error.line == 2


def test_too_many_serials_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matchfiles, "MAX_SERIALS", 2)
    error = _error(read_serials, _file(tmp_path, f"{A}\n{B}\n{C}\n"))
    assert error.line == 3


# -- garbage in: a list or an error at a line in the file ----------------------------------

_PIECES = st.sampled_from(
    [
        *SERIALS[:3],
        A[:5] + "*",
        "*" + B[2:7] + "*",
        "exhibit",
        "tag",
        "read",
        "confidence",
        "serial",
        "E1",
        "t1",
        "0.5",
        "2",
        ",",
        ",",
        '"',
        '""',
        "\n",
        "\n",
        "\r\n",
        "\r",
        " ",
        "?",
        "-",
        "\x00",
        "é",
        "\ufeff",
    ]
)


_CELLS = st.sampled_from(
    [*SERIALS[:3], A[:5] + "*", "*" + B[2:7] + "*", "E1", "E2", "t1", "t2", "t3", "0.5", ""]
)
_READ_TEXTS = st.sampled_from([*SERIALS[:3], A[:5] + "*", "*" + B[2:7] + "*", C.lower()])


@st.composite
def _rows_of(draw: st.DrawFn, kind: str) -> list[str]:
    """Lines of a well-formed reads file, serial list or register export (``kind``), or of
    random plausible cells."""
    n = draw(st.integers(0, 8))
    if kind == "reads":
        rows = [
            f"{draw(st.sampled_from(['E1', 'E2']))},t{i},{draw(_READ_TEXTS)},"
            f"{draw(st.sampled_from(['', '0.5', '1']))}"
            for i in range(n)
        ]
        return ["exhibit,tag,read,confidence", *rows]
    if kind == "serials":
        return draw(st.lists(st.sampled_from(SERIALS), max_size=n, unique=True))
    if kind == "register":
        chosen = draw(st.lists(st.sampled_from(SERIALS), max_size=n, unique=True))
        return ["lot,serial", *(f"L{i},{serial}" for i, serial in enumerate(chosen))]
    width = draw(st.integers(1, 4))
    head = draw(st.sampled_from(["exhibit,tag,read", "serial", "tag,read,Exhibit", ""]))
    cells = st.lists(_CELLS, min_size=width, max_size=width)
    return [head, *(",".join(row) for row in draw(st.lists(cells, max_size=n)))]


@st.composite
def _garbage(draw: st.DrawFn) -> bytes:
    """Text that is often a reads or serial file, often almost one, sometimes with bad
    bytes: well-formed lines, then a few pieces of CSV syntax or bytes spliced in."""
    lines = draw(_rows_of(draw(st.sampled_from(["reads", "serials", "register", "random"]))))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + end * draw(st.integers(0, 2))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(_PIECES) + text[at:]
    data = text.encode("utf-8")
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=4)) + data[at:]
    return data


def _physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


@settings(max_examples=300)
@given(data=_garbage())
def test_garbage_reads_give_reads_or_an_error_at_a_line(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("g") / "reads.csv"
    path.write_bytes(data)
    lines = _physical_lines(data)
    try:
        reads = read_reads(path)
    except InputFileError as error:
        assert error.line is None or 1 <= error.line <= lines, (error, lines)
        assert str(error).startswith(str(path))
        return
    assert reads
    assert all(r.line is not None and 2 <= r.line <= lines for r in reads)
    assert [r.line for r in reads] == sorted({r.line for r in reads})


@settings(max_examples=300)
@given(data=_garbage())
def test_garbage_serials_give_serials_or_an_error_at_a_line(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("g") / "serials"
    path.write_bytes(data)
    lines = _physical_lines(data)
    try:
        serials = read_serials(path)
    except InputFileError as error:
        assert error.line is None or 1 <= error.line <= lines, (error, lines)
        return
    assert serials
    assert len(set(serials)) == len(serials)
    assert all(CARTRIDGE_SCHEME.is_valid(s) and CARTRIDGE_SCHEME.normalize(s) == s for s in serials)


_BAD_READ_ROWS = [
    "E1,tX,S4K!,",
    "E1,tX",
    f"E1,tX,{A},2",
    f",tX,{A},",
    f'E1,"tX,{A},',
    f"E1,t0,{A},",  # t0 is always the first row's tag: a duplicate
    f"E1,tX,{A},0.5,extra",
    "",  # blank line between data lines
]


@given(n=st.integers(1, 12), data=st.data(), crlf=st.booleans())
def test_the_error_names_the_line_of_the_bad_row(
    tmp_path_factory: pytest.TempPathFactory, n: int, data: st.DataObject, crlf: bool
) -> None:
    """A good file of ``n`` rows with one row replaced by a bad one: the error names it."""
    at = data.draw(st.integers(1, n), label="bad row")
    bad = data.draw(st.sampled_from(_BAD_READ_ROWS), label="bad text")
    rows = [f"E1,t{i},{SERIALS[i % 6]},0.9" for i in range(n)]
    rows[at - 1] = bad
    rows.append(f"E1,tlast,{A},")  # a good row after, so a blank line is in the middle
    end = "\r\n" if crlf else "\n"
    file = tmp_path_factory.mktemp("bad") / "reads.csv"
    file.write_text(end.join([HEADER.strip(), *rows]) + end, encoding="utf-8", newline="")
    if bad.startswith("E1,t0,") and at == 1:  # the "duplicate" is the first t0 itself
        assert len(read_reads(file)) == n + 1
        return
    with pytest.raises(InputFileError) as caught:
        read_reads(file)
    assert caught.value.line == at + 1, str(caught.value)  # the header is line 1


@given(n=st.integers(1, 12), data=st.data())
def test_the_error_names_the_line_of_the_bad_serial(
    tmp_path_factory: pytest.TempPathFactory, n: int, data: st.DataObject
) -> None:
    at = data.draw(st.integers(1, n), label="bad line")
    serials = [CARTRIDGE_SCHEME.generate(random.Random(i)) for i in range(n + 1)]
    bad = data.draw(st.sampled_from(["S4K7P2M9Q!", serials[0], "", "x" * 300, C[:-1]]))
    lines = [*serials[:n], serials[n]]
    lines[at - 1] = bad
    file = tmp_path_factory.mktemp("bad") / "serials.txt"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if bad == serials[0] and at == 1:  # the "duplicate" is the first serial itself
        assert read_serials(file) == lines
        return
    with pytest.raises(InputFileError) as caught:
        read_serials(file)
    assert caught.value.line == at, str(caught.value)


# -- SERIALS read fast, as if read one line at a time --------------------------------------


def _reference_entries(lines: Iterator[str]) -> Iterator[tuple[int, str]]:
    """A text list's or register export's serials with their lines, one at a time."""
    first = next(lines, None)
    if first is None:
        raise Refused(None, "empty file")
    lines = itertools.chain([first], lines)
    if "serial" not in (c.strip().lower() for c in next(csv.reader([first]), [])):
        blank_at = None
        for line, text in enumerate(lines, start=1):
            if not text.strip():
                blank_at = blank_at or line
            elif blank_at:
                raise Refused(blank_at, "blank line")
            elif len(text.strip()) > MAX_VALUE_CHARS:
                raise Refused(line, "longer than any serial")
            else:
                yield line, text.strip()
        return
    reader = csv.reader(lines, strict=True)
    blank_at = index = width = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise Refused(start, "malformed CSV") from None
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            blank_at = blank_at or start
        elif blank_at:
            raise Refused(blank_at, "blank line")
        elif index is None:
            names = [c.strip().lower() for c in cells]
            if names.count("serial") > 1:
                raise Refused(start, "given twice")
            index, width = names.index("serial"), len(cells)
        elif len(cells) != width:
            raise Refused(start, "fields, the header has")
        else:
            text = cells[index].strip()
            kind = "characters long" if len(text) > MAX_VALUE_CHARS else None
            kind = kind or (None if text.isprintable() else "control or invisible")
            if kind or not text:
                raise Refused(start, kind or "serial is empty")
            yield start, text


def _reference_serials(data: bytes, max_line: int, most: int) -> list[str]:
    """read_serials one serial at a time with the scalar checks, as it was before it was
    vectorised; a problem is raised as :class:`Refused` (line and a word of the message)."""
    seen: dict[str, int] = {}
    for line, text in _reference_entries(one_line_at_a_time(data, max_line)):
        if len(seen) >= most:
            raise Refused(line, "more than")
        serial = CARTRIDGE_SCHEME.normalize(text)
        if CARTRIDGE_SCHEME.problem(serial) is not None:
            raise Refused(line, "bad serial")
        if seen.setdefault(serial, line) != line:
            raise Refused(line, f"listed twice (first on line {seen[serial]})")
    if not seen:
        raise Refused(None, "empty")
    return list(seen)


_POOL = [
    *SERIALS,
    *(CARTRIDGE_SCHEME.generate(random.Random(n)) for n in range(20)),
    CARTRIDGE_SCHEME.display(A).lower(),  # repeats A, typed another way
    B.replace("0", "o"),
]
_BAD_SERIAL_LINES = st.sampled_from(
    [
        f"  {C}\t",
        A[:-1] + ("Z" if A[-1] != "Z" else "Y"),  # bad check
        DEVICE_SCHEME.generate(random.Random(3)),  # bad type letter
        "",
        " ",
        "S" * (MAX_VALUE_CHARS + 1),
        "x" * 450,  # over the patched line bound
        f'"{A}"x',
        f'"{A}',
        "\ufeff" + A,
        "\x00",
        f'"{A}"',
        f'"{B}\nx"',
        f"{C},",
        ",",
        "\r",
        "\xff",  # stands for a byte that is not UTF-8
    ]
)


_REGISTER_FORMS = [(None, "{}"), ("serial", "{}"), ("lot,Serial", "L,{}"), ("serial,x,y", "{},x,y")]
"""A text list or a register export: the header, and a row around a line's text."""


@st.composite
def _serial_files(draw: st.DrawFn) -> bytes:
    """A text list or a register export with a few bad lines: repeats, bad serials, blank
    lines, long lines, bytes that are not UTF-8, broken quoting."""
    good = st.sampled_from(_POOL)
    lines = draw(st.lists(st.one_of(*[good] * 6, _BAD_SERIAL_LINES), max_size=14))
    header, row = draw(st.sampled_from(_REGISTER_FORMS))
    lines = [row.format(text) for text in lines]
    if header is not None:
        lines.insert(0, header)
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + end * draw(st.integers(0, 2))
    return text.encode("utf-8").replace("\xff".encode(), b"\xff")


@settings(max_examples=400, deadline=None)
@given(
    data=_serial_files(),
    block_bytes=st.sampled_from([1, 7, 64, 1 << 20]),
    serial_block=st.sampled_from([1, 3, 1 << 16]),
    code_block=st.sampled_from([2, 1 << 16]),
    most=st.sampled_from([3, 20]),
)
def test_serials_read_fast_as_ifone_line_at_a_time(
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    block_bytes: int,
    serial_block: int,
    code_block: int,
    most: int,
) -> None:
    """The block-at-a-time reader against a one-line-at-a-time reference: the same serials,
    or the first problem in the file at the same line; blocks of any size."""
    path = tmp_path_factory.mktemp("s") / "serials"
    path.write_bytes(data)
    max_line = 400
    with (
        mock.patch.object(tables, "_BLOCK_BYTES", block_bytes),
        mock.patch.object(tables, "MAX_LINE_BYTES", max_line),
        mock.patch.object(matchfiles, "_SERIAL_BLOCK", serial_block),
        mock.patch.object(matchfiles, "MAX_SERIALS", most),
        mock.patch.object(serials_module, "_BLOCK", code_block),
    ):
        try:
            expected: list[str] | Refused = _reference_serials(data, max_line, most)
        except Refused as refused:
            expected = refused
        try:
            got = read_serials(path)
        except InputFileError as error:
            assert isinstance(expected, Refused), (error, expected)
            assert (error.line, expected.kind in str(error)) == (expected.line, True), (
                str(error),
                expected.kind,
            )
        else:
            assert got == expected


def test_a_duplicate_before_a_bad_serial_and_a_bad_byte_after_it(tmp_path: Path) -> None:
    """Of several problems the first in the file is reported, whatever its kind."""
    bad = A[:-1] + ("Z" if A[-1] != "Z" else "Y")
    cases = [
        (f"{A}\n{B}\n{A.lower()}\n{bad}\n", 3, "listed twice (first on line 1)"),
        (f"{A}\n{bad}\n{B}\n{A}\n", 2, "check character"),
        (f"{A}\n{B}\n\n{C}\n{A}\n", 3, "blank line"),
        (f"lot,serial\n1,{A}\n2,{bad}\n3,\n", 3, "check character"),
        (f"lot,serial\n1,{A}\n2,\n3,{A}\n", 3, "serial is empty"),
        (f"lot,serial\n1,{A}\n2,{A}\n3,x,y\n", 3, "listed twice (first on line 2)"),
    ]
    for text, line, said in cases:
        error = _error(read_serials, _file(tmp_path, text + "\xff\n", "serials"))
        assert (error.line, said in str(error)) == (line, True), str(error)


def test_a_duplicate_far_apart_names_both_lines(tmp_path: Path) -> None:
    """Lines are right across blocks and after a record over two lines."""
    serials = [CARTRIDGE_SCHEME.generate(random.Random(n)) for n in range(3001)]
    assert len(set(serials)) == len(serials)
    rows = "lot,serial\n" + "".join(f'{n},"{s}"\n' for n, s in enumerate(serials[:3000]))
    for second, line, first in ((serials[1234], 3002, 1236), (serials[3000], 3004, 7)):
        text = rows + f'"x\ny",{second}\n' + f"y,{serials[5]}\n"  # lines 3002-3003, 3004
        with mock.patch.object(matchfiles, "_SERIAL_BLOCK", 1000):
            error = _error(read_serials, _file(tmp_path, text, "register.csv"))
        assert error.line == line
        assert f"is listed twice (first on line {first})" in str(error)


def test_the_serial_bound_is_ten_million_and_more() -> None:
    assert matchfiles.MAX_SERIALS >= 10_000_000


# -- OUT.csv ------------------------------------------------------------------------------


def _row(**changes: object) -> MatchRow:
    values: dict[str, object] = {
        "exhibit": "E1",
        "serial": A,
        "status": MatchStatus.MATCH,
        "score": 0.999876,
        "tags": ("t1", "t2"),
        "runner_up": B,
        "runner_up_score": 0.0001,
        "explanation": "pos4 B read as 8; pos9 unreadable",
    }
    values.update(changes)
    return MatchRow(**values)  # type: ignore[arg-type]


def test_out_columns_and_cells_are_the_contracts() -> None:
    rows = [
        _row(),
        _row(exhibit="E, 2", status=MatchStatus.AMBIGUOUS, score=0.9999, runner_up_score=0.99),
        _row(
            exhibit="E3",
            serial="",
            status=MatchStatus.NONE,
            score=None,
            tags=("t9",),
            runner_up="",
            runner_up_score=None,
            explanation="",
        ),
    ]
    out = io.StringIO()
    write_matches(rows, out)
    assert out.getvalue().splitlines() == [
        "exhibit,serial,status,score,reads,runner_up,runner_up_score,explanation",
        f"E1,{A},match,0.999876,2,{B},0.000100,pos4 B read as 8; pos9 unreadable",
        f'"E, 2",{A},ambiguous,0.999900,2,{B},0.990000,pos4 B read as 8; pos9 unreadable',
        "E3,,none,,1,,,",
    ]
    assert tuple(out.getvalue().splitlines()[0].split(",")) == MATCH_COLUMNS


def test_score_format_distinguishes_close_scores() -> None:
    assert format_score(0.9999) != format_score(0.99)
    assert format_score(0.99999) != format_score(0.9999)
    assert format_score(-0.0) == "0." + "0" * SCORE_DECIMALS
    assert format_score(1.0) == "1." + "0" * SCORE_DECIMALS
    assert format_score(None) == ""


def test_row_as_dict_has_the_contract_keys() -> None:
    row = _row(score=0.123456789)
    as_dict = row_as_dict(row)
    assert tuple(as_dict) == MATCH_COLUMNS
    assert as_dict["score"] == 0.123456789
    assert as_dict["reads"] == 2
    assert as_dict["status"] == "match"


@pytest.mark.parametrize(
    "row",
    [
        _row(status=MatchStatus.NONE),
        _row(score=None),
        _row(serial=""),
        _row(score=1.5),
        _row(score=float("nan")),
        _row(runner_up_score=None),
        _row(runner_up=""),
        _row(runner_up=A),
        _row(tags=()),
        _row(exhibit=""),
        _row(exhibit=" E1"),
        _row(explanation="line\nbreak"),
        _row(explanation="a\rb"),
    ],
)
def test_rows_the_file_cannot_hold_are_refused(tmp_path: Path, row: MatchRow) -> None:
    out = tmp_path / "out.csv"
    out.write_text("earlier results\n")
    with pytest.raises(ValueError, match="match row 2"):
        write_matches([_row(), row], out)
    assert out.read_text() == "earlier results\n"
    assert os.listdir(tmp_path) == ["out.csv"]


_TEXT = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=["Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn", "Zs"]
        )
        | st.sampled_from(' ,"'),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(lambda s: s.isprintable() and bool(s))
)


@st.composite
def _match_rows(draw: st.DrawFn) -> MatchRow:
    status = draw(st.sampled_from(MatchStatus))
    scores = st.floats(0.0, 1.0)
    serials = st.sampled_from(SERIALS)
    serial = "" if status is MatchStatus.NONE else draw(serials)
    runner_up = draw(st.one_of(st.just(""), serials.filter(lambda s: s != serial)))
    return MatchRow(
        exhibit=draw(_TEXT),
        serial=serial,
        status=status,
        score=None if status is MatchStatus.NONE else draw(scores),
        tags=tuple(draw(st.lists(_TEXT, min_size=1, max_size=5))),
        runner_up=runner_up,
        runner_up_score=draw(scores) if runner_up else None,
        explanation=draw(st.one_of(st.just(""), _TEXT)),
    )


def _held(row: MatchRow) -> MatchRow:
    """What OUT.csv holds of ``row``: scores at the written precision, tags anonymous."""

    def rounded(score: float | None) -> float | None:
        return None if score is None else float(format_score(score))

    return MatchRow(
        row.exhibit,
        row.serial,
        row.status,
        rounded(row.score),
        ("",) * row.reads,
        row.runner_up,
        rounded(row.runner_up_score),
        row.explanation,
    )


@settings(max_examples=60)  # each example writes two files with fsync
@given(rows=st.lists(_match_rows(), min_size=1, max_size=8))
def test_round_trip(tmp_path_factory: pytest.TempPathFactory, rows: list[MatchRow]) -> None:
    directory = tmp_path_factory.mktemp("rt")
    first = directory / "out.csv"
    write_matches(rows, first)
    back = read_matches(first)
    assert back == [_held(row) for row in rows]
    for row, again in zip(rows, back, strict=True):
        assert again.reads == row.reads
        for a, b in ((row.score, again.score), (row.runner_up_score, again.runner_up_score)):
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert abs(a - b) <= 0.5 * 10**-SCORE_DECIMALS + 1e-15
    second = directory / "again.csv"
    write_matches(back, second)
    assert second.read_bytes() == first.read_bytes()
    assert sorted(os.listdir(directory)) == ["again.csv", "out.csv"]


def test_out_replaces_an_existing_file_atomically(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    write_matches([_row()], out)
    assert out.read_text().startswith("exhibit,serial,")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["out.csv"]


def test_out_through_a_symlink_is_refused_and_the_target_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    with pytest.raises(OutputPathError, match="symbolic link"):
        write_matches([_row()], link)
    assert link.is_symlink()
    assert real.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["link.csv", "real.csv"]


def test_out_that_cannot_be_written_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_matches([_row()], tmp_path / "missing" / "out.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(OutputPathError, match="is a directory"):
        write_matches([_row()], tmp_path / "dir.csv")
    assert os.listdir(tmp_path) == ["dir.csv"]
    assert os.listdir(tmp_path / "dir.csv") == []


def _out(tmp_path: Path, *rows: str, header: str = ",".join(MATCH_COLUMNS)) -> Path:
    return _file(tmp_path, "\n".join([header, *rows]) + "\n", "out.csv")


GOOD_ROW = f"E1,{A},match,0.999,2,{B},0.001,pos4 B read as 8"

MATCHES_CASES = [
    ("bad status", f"E1,{A},maybe,0.9,1,,,", "status 'maybe'"),
    ("match without score", f"E1,{A},match,,1,,,", "needs a serial and a score"),
    ("ambiguous without serial", "E1,,ambiguous,0.5,1,,,", "needs a serial and a score"),
    ("none with score", "E1,,none,0.1,1,,,", "must have an empty serial and score"),
    ("none with serial", f"E1,{A},none,,1,,,", "must have an empty serial and score"),
    ("score over 1", f"E1,{A},match,1.2,1,,,", "not in 0–1"),
    ("score a word", f"E1,{A},match,high,1,,,", "not a number"),
    ("reads zero", f"E1,{A},match,0.9,0,,,", "not a positive integer"),
    ("reads negative", f"E1,{A},match,0.9,-1,,,", "not a positive integer"),
    ("reads fraction", f"E1,{A},match,0.9,1.5,,,", "not a positive integer"),
    ("reads huge", f"E1,{A},match,0.9,999999999,,,", "more than"),
    ("bad serial", f"E1,{A[:-1]},match,0.9,1,,,", "bad serial"),
    ("bad runner-up", f"E1,{A},match,0.9,1,SX,0.1,", "bad runner_up"),
    ("runner-up without score", f"E1,{A},match,0.9,1,{B},,", "both be given"),
    ("runner-up score alone", f"E1,{A},match,0.9,1,,0.1,", "both be given"),
    ("runner-up is serial", f"E1,{A},match,0.9,1,{A},0.1,", "is the serial itself"),
    ("empty exhibit", f",{A},match,0.9,1,,,", "exhibit is empty"),
    ("wrong width", f"E1,{A},match,0.9,1,,", "7 fields, the header has 8"),
]


@pytest.mark.parametrize(
    ("row", "fragment"),
    [case[1:] for case in MATCHES_CASES],
    ids=[case[0] for case in MATCHES_CASES],
)
def test_malformed_matches_name_file_and_line(tmp_path: Path, row: str, fragment: str) -> None:
    error = _error(read_matches, _out(tmp_path, GOOD_ROW, row))
    assert error.line == 3
    assert fragment in str(error)


def test_matches_header_must_be_the_contracts(tmp_path: Path) -> None:
    columns = list(MATCH_COLUMNS)
    error = _error(read_matches, _out(tmp_path, GOOD_ROW, header=",".join(columns[:-1])))
    assert "missing column 'explanation'" in str(error)
    error = _error(read_matches, _out(tmp_path, GOOD_ROW + ",x", header=",".join([*columns, "x"])))
    assert "unknown column 'x'" in str(error)
    shuffled = [*columns[4:], *columns[:4]]
    moved = ",".join([*GOOD_ROW.split(",")[4:], *GOOD_ROW.split(",")[:4]])
    assert read_matches(_out(tmp_path, moved, header=",".join(c.upper() for c in shuffled))) == (
        read_matches(_out(tmp_path, GOOD_ROW))
    )
    assert _error(read_matches, _out(tmp_path)).line is None  # header only


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old\n")

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        write_matches([_row()], out)
    assert out.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_writing_to_a_stream_writes_the_same_text(tmp_path: Path) -> None:
    rows = [_row(), _row(exhibit="E2", tags=("a",))]
    stream = io.StringIO()
    write_matches(rows, stream)
    write_matches(rows, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == stream.getvalue().encode("utf-8")
