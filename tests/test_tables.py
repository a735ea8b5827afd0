"""The tables' rules, held in one module: lines read a block at a time as if one at a time,
column checks at once as if one value at a time, and every reader of a forensic table
refusing the same fault with the same words at the same line."""

from __future__ import annotations

import codecs
import io
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import InputFileError
from taserlink.forensics import tables
from taserlink.forensics.issues import read_issues
from taserlink.forensics.matchfiles import read_matches, read_reads, read_serials
from taserlink.serials import CARTRIDGE_SCHEME


class Refused(Exception):
    """What a reference reader refuses: the line (None: the whole file) and a word of the
    message the library must give."""

    def __init__(self, line: int | None, kind: str) -> None:
        super().__init__(line, kind)
        self.line, self.kind = line, kind


def one_line_at_a_time(data: bytes, max_line: int) -> Iterator[str]:
    """The lines of ``data`` by the text rules, split and decoded one at a time: the
    reference :func:`tables.line_blocks` is held to."""
    pieces = data.split(b"\n")
    raws = [piece + b"\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    for number, raw in enumerate(raws, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):  # not counted in the line
            raw = raw[len(codecs.BOM_UTF8) :]
            if not raw:  # a file that is a byte-order mark alone has no line
                return
        if len(raw) > max_line:
            raise Refused(number, "longer than")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(number, "not UTF-8") from None


_BYTES = st.sampled_from(
    [
        *(b"a", b"S4K7", b",", b"\n", b"\n", b"\r\n", b"\r", b" ", b"\xc3\xa9"),
        *(b"\xe2\x80\x8b", codecs.BOM_UTF8, b"\xff", b"\xc3", b"x" * 30, "\U0001f600".encode()),
    ]
)
"""Pieces of a file: text, line breaks, a zero-width space, a byte-order mark, bytes that
are not UTF-8 (a lone 0xFF, a cut two-byte character), a run longer than a small bound."""


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(_BYTES, max_size=30),
    block=st.integers(1, 70),
    max_line=st.sampled_from([8, 40, 1000]),
)
def test_lines_in_blocks_are_the_lines_one_at_a_time(
    pieces: list[bytes], block: int, max_line: int
) -> None:
    """Any bytes, any block size: the same lines, and the same first error at the same
    line, raised only after every line before it was given."""
    data = b"".join(pieces)
    expected: list[str] = []
    refused: Refused | None = None
    try:
        expected.extend(one_line_at_a_time(data, max_line))
    except Refused as error:
        refused = error
    got: list[str] = []
    with mock.patch.object(tables, "MAX_LINE_BYTES", max_line):
        blocks = tables.line_blocks(io.BytesIO(data), "t.csv", block)
        try:
            for lines in blocks:
                assert lines  # never an empty block
                got.extend(lines)
        except InputFileError as error:
            assert refused is not None, error
            assert (error.line, refused.kind in str(error)) == (refused.line, True), str(error)
        else:
            assert refused is None
    assert got == expected


def test_a_line_longer_than_the_bound_is_refused_at_its_line() -> None:
    data = b"a\n" + b"b" * tables.MAX_LINE_BYTES + b"\nc\n"
    lines = tables.lines(io.BytesIO(data), "t.csv")
    assert next(lines) == "a\n"
    with pytest.raises(InputFileError, match="longer than 65536 bytes") as caught:
        next(lines)
    assert caught.value.line == 2


def test_text_lines_follow_the_file_rules() -> None:
    assert list(tables.text_lines("\ufeffa,b\r\nc\rd\n\ne", "t")) == [
        "a,b\r\n",
        "c\rd\n",
        "\n",
        "e",
    ]
    with pytest.raises(InputFileError, match="not UTF-8") as caught:
        list(tables.text_lines("a\nb\ud800\n", "t"))  # a lone surrogate
    assert caught.value.line == 2


_VALUES = st.sampled_from(
    ["S4K7", "  E 1 ", "", " ", "a\tb", "\u00a0x", "x\u200b", "\x00", "é", "x" * 7, "y" * 9]
)


@settings(max_examples=300)
@given(texts=st.lists(_VALUES, max_size=8), allow_empty=st.booleans())
def test_a_column_checked_at_once_is_each_value_checked(
    texts: list[str], allow_empty: bool
) -> None:
    stripped, bad = tables.first_bad_value(texts, limit=8, allow_empty=allow_empty)
    assert stripped == [t.strip() for t in texts]
    for index, text in enumerate(texts):
        try:
            if not tables.value([text], 0, "c", "t", index + 1, 8) and not allow_empty:
                tables.required([text], 0, "c", "t", index + 1)  # raises: empty
        except InputFileError:
            assert bad == index
            return
    assert bad is None


def test_records_start_where_their_first_line_is() -> None:
    text = 'a,b\n"x\ny",1\n\n  \n'
    assert list(tables.records(tables.text_lines(text, "t"), "t")) == [
        (1, ["a", "b"]),
        (2, ["x\ny", "1"]),
    ]
    with pytest.raises(InputFileError, match="blank line") as caught:
        list(tables.records(tables.text_lines("a\n\nb\n", "t"), "t"))
    assert caught.value.line == 2
    with pytest.raises(InputFileError, match=r"not closed .*\(the record runs to line 4\)") as c:
        list(tables.records(tables.text_lines('a\nb,"c\nd\ne\n', "t"), "t"))
    assert c.value.line == 2


def _rows(text: str, most: int | None = None) -> list[tables.Row]:
    lines = tables.text_lines(text, "t.csv")
    return list(
        tables.rows(lines, "t.csv", allowed=("a", "b"), required=("a",), what="things", most=most)
    )


def test_rows_of_a_table() -> None:
    (row,) = _rows(" A \nx\n")
    assert (row.line, row.value("a"), row.value("b"), row.required("a")) == (2, "x", "", "x")
    assert str(row.error("bad")) == "t.csv:2: bad"
    for text, most, line, said in [
        ("", None, None, "empty file: no header row"),
        ("a,b\n", None, None, "no things: the file has a header row only"),
        ("a,b\n1,2\n3,4\n", 1, 3, "more than 1 things"),
        ("a,b\n1\n", None, 2, "1 fields, the header has 2"),
        ("b\n1\n", None, 1, "missing column 'a'"),
        ("a;b\n", None, 1, "unknown column 'a;b' (column 1); the columns are a, b (columns must"),
        ("a,A\n", None, 1, "column 'a' is given twice"),
    ]:
        with pytest.raises(InputFileError) as caught:
            _rows(text, most)
        assert caught.value.line == line and said in str(caught.value), str(caught.value)


# -- every reader, one set of rules -------------------------------------------------------

SERIAL = CARTRIDGE_SCHEME.generate(random.Random(1))
_GOOD_ROWS = {
    "reads": ("exhibit,tag,read", f"E1,t1,{SERIAL}", f"E1,t2,{SERIAL}"),
    "issues": (
        "serial,officer,issued_at,returned_at",
        f"{SERIAL},PC 1,2024-03-05T06:30Z,2024-03-05T07:30Z",
        f"{SERIAL},PC 2,2024-03-05T08:30Z,",
    ),
    "register": ("lot,serial", f"L1,{SERIAL}", f"L2,{CARTRIDGE_SCHEME.generate(random.Random(2))}"),
}
_READERS: dict[str, Callable[[Path], object]] = {
    "reads": read_reads,
    "issues": read_issues,
    "register": read_serials,
}
_FAULTS = {
    # name: (what becomes of the third line (the second row), the line blamed)
    "blank line between": (lambda row: "\n" + row, 3),
    "a field too few": (lambda row: row[: row.rindex(",")], 3),
    "an unclosed quote": (lambda row: row.replace(",", ',"', 1), 3),
    "a lone carriage return": (lambda row: row.replace(",", ",\r", 1), 3),
    "a control character": (lambda row: row.replace(",", ",\x07", 1), 3),
    "a long line": (lambda row: row + " " * tables.MAX_LINE_BYTES, 3),
}


@pytest.mark.parametrize("fault", list(_FAULTS))
def test_every_table_refuses_a_fault_with_the_same_words(tmp_path: Path, fault: str) -> None:
    change, line = _FAULTS[fault]
    said: dict[str, str] = {}
    for kind, (header, first, second) in _GOOD_ROWS.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(f"{header}\n{first}\n{change(second)}\n{first}\n", encoding="utf-8")
        with pytest.raises(InputFileError) as caught:
            _READERS[kind](path)
        assert caught.value.line == line, str(caught.value)
        said[kind] = re.sub(r"\d+", "N", str(caught.value).split(": ", 1)[1])
    if fault == "a control character":  # the message names the column, which differs
        said = {kind: text.split(" ", 1)[1][-40:] for kind, text in said.items()}
    assert len(set(said.values())) == 1, said


def test_not_utf8_and_an_empty_file_alike(tmp_path: Path) -> None:
    for kind, (header, first, _) in _GOOD_ROWS.items():
        path = tmp_path / f"{kind}.csv"
        path.write_bytes(f"{header}\n{first}\n".encode() + b"\xffx\n")
        with pytest.raises(InputFileError, match=r":3: not UTF-8 text \(byte 1 of the line\)"):
            _READERS[kind](path)
        path.write_bytes(b"")
        with pytest.raises(InputFileError, match="empty file") as caught:
            _READERS[kind](path)
        assert caught.value.line is None
    with pytest.raises(InputFileError, match="cannot read"):
        read_matches(tmp_path / "missing.csv")
