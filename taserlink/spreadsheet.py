"""CSV cells that a spreadsheet cannot turn into commands (CSV injection; OWASP's rule).

A spreadsheet that opens a CSV takes a cell starting with ``=``, ``+``, ``-`` or ``@`` as a
formula, and some take a tab or carriage return before one the same way: a cell such as
``=HYPERLINK("http://…")`` or ``-2+3+cmd|' /C calc'!A0`` — an exhibit label, an officer's
name, a string from a device — would run when an examiner opens the file.  Every CSV
taserlink writes goes through :func:`csv_writer`, which applies :func:`safe_cell` to every
cell:

- a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, after any
  number of single quotes, gets one single quote ``'`` in front: ``=1+2`` is written
  ``'=1+2`` (the spreadsheet shows the text ``=1+2``), and ``'=1+2`` is written ``''=1+2``;
- a plain decimal number is written as it is, sign and all (``-5``, ``-0.25``, ``+3``,
  ``-1e-3``: ASCII digits, at most one point, an optional exponent): a spreadsheet reads it
  as a number, not a formula, and a column of numbers stays one;
- every other cell is written as it is.

:func:`original_cell` undoes it exactly, for any reader: a cell that starts with one or more
single quotes followed by one of those six characters loses its first quote.  For every
text ``x``, ``original_cell(safe_cell(x)) == x`` (a cell that already began with quotes
before such a character was given one more, so taking one away gives it back).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final, TextIO

__all__ = ["FORMULA_STARTS", "QUOTE", "CsvWriter", "csv_writer", "original_cell", "safe_cell"]

FORMULA_STARTS: Final = "=+-@\t\r"
"""The characters a spreadsheet may take as the start of a formula (OWASP)."""
QUOTE: Final = "'"
"""What a neutralised cell starts with."""

_RISKY: Final = re.compile(r"'*[=+\-@\t\r]")
"""A cell :func:`safe_cell` neutralises (unless it is a plain number)."""
_RISKY_LINE: Final = re.compile(r"^'*[=+\-@\t\r]", re.MULTILINE)
"""A line of a text that starts as a cell :func:`safe_cell` neutralises may."""
_NEUTRALISED: Final = re.compile(r"'+[=+\-@\t\r]")
"""A cell :func:`original_cell` takes one quote from."""
_PLAIN_NUMBER: Final = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII
)


def safe_cell(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text (module docstring)."""
    if _RISKY.match(text) and not _PLAIN_NUMBER.fullmatch(text):
        return QUOTE + text
    return text


def original_cell(text: str) -> str:
    """The cell that :func:`safe_cell` made ``text`` from (``text`` itself when it was
    written unchanged)."""
    return text[1:] if _NEUTRALISED.match(text) else text


class CsvWriter:
    """A ``csv.writer`` (RFC 4180 quoting, lines ending ``\\n``) that writes every cell
    through :func:`safe_cell`: ``None`` as an empty cell, other values as ``str`` gives them.

    A row with a carriage return inside a cell is written with every cell quoted: the
    ``csv`` module quotes only cells holding the line terminator (``\\n``), and a lone
    ``\\r`` unquoted would end the row for every reader."""

    def __init__(self, stream: TextIO) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")
        self._quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row."""
        cells = [
            "" if cell is None else safe_cell(cell if isinstance(cell, str) else str(cell))
            for cell in row
        ]
        writer = self._quoted if any("\r" in cell for cell in cells) else self._writer
        writer.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write every row of ``rows``."""
        for row in rows:
            self.writerow(row)

    def write_columns(self, columns: Sequence[Sequence[str]]) -> None:
        """Write the rows whose cells ``columns`` holds a column at a time (every column
        as long, every cell a ``str``): the same text as :meth:`writerow` of each row,
        made faster for many rows by working a column at a time — a column none of whose
        cells starts like a formula is written as it is, a cell of the others through
        :func:`safe_cell` once per distinct cell.

        Raises:
            ValueError: no column (the rows would be unknown), or columns of different
                lengths.
        """
        if len({len(column) for column in columns}) != 1:
            raise ValueError("no column, or columns of different lengths")
        texts = ["\n".join(column) for column in columns]
        if any("\r" in text for text in texts):  # rows quoted whole: one at a time
            self.writerows(zip(*columns, strict=True))
            return
        safe: list[Sequence[str]] = []
        for column, text in zip(columns, texts, strict=True):
            # with no line break in a cell, each line of the text starts a cell
            if text.count("\n") == len(column) - 1 and not _RISKY_LINE.search(text):
                safe.append(column)
            else:
                memo = {cell: safe_cell(cell) for cell in set(column)}
                safe.append(list(map(memo.__getitem__, column)))
        self._writer.writerows(zip(*safe, strict=True))


def csv_writer(stream: TextIO) -> CsvWriter:
    """The writer every CSV taserlink writes goes through (:class:`CsvWriter`)."""
    return CsvWriter(stream)
