"""A financial year's return counted straight from an accounts file, a column at a time
(:func:`count_file`): how ``taserlink home-office`` counts when no downloads are given.

:func:`~taserlink.postuse.accounts.read_accounts` checks each row's cells one by one
(some 25 µs a row) and :func:`~taserlink.returns.counting.count_return` then counts the
accounts it made.  :func:`count_file` reads the file once (its SHA-256 and size from
those bytes), splits it into cells — at its commas and line breaks when it holds no
``"``, else with the :mod:`csv` module, line by line —, takes the cells a column at a
time and checks each column whole:

- ``report``, ``incident``, ``officer``, ``subject_gender``, ``location``: one test of the
  whole column (every cell printable, none with a space at either end or a quote at its
  start, no identifier empty or longer than
  :data:`~taserlink.postuse.accounts.MAX_ID_CHARS`); ``reasons``, ``impact_factors``,
  ``outcome``: every cell printable;
- ``start``, ``end`` written as :func:`~taserlink.postuse.accounts.write_accounts` writes
  them (``2019-05-03T12:34:00.000Z``): the digits and separators of all of them at once
  with numpy, the fields' ranges checked as :func:`~taserlink.timeline.times.parse_utc`
  checks them;
- every other column (the ticks, ``device``, ``cycles``, the subject's age, ethnicity and
  health, ``cartridges``): each distinct cell once, by the reader's own rule for the
  column, column map codes included;
- the rules across rows (an end not before its start; one row per report and device, one
  report's rows agreeing) on the rows of the reports that have more than one.

A column that fails its whole-column test (a time written another way, a cell with
leading spaces, a column with codes) is read a distinct cell at a time by the reader's
rule instead: slower, the same answer.  Then the year's uses and the four tables are
counted over the columns (:class:`~collections.Counter` and one sort into ``reports.csv``
order).

**The fast path is never the verifying path.**  :func:`count_file` answers only when
every check passed and the file is in the layout it knows; at anything else — a value or
a rule across rows broken, a header the reader refuses, a byte-order mark, a carriage
return anywhere (CRLF lines), bytes that are not UTF-8, a blank line, a row that runs
over several lines, a line that might be over
:data:`~taserlink.postuse.accounts.MAX_LINE_BYTES`, a file over :data:`MAX_FAST_BYTES`, a
financial year out of range, a file it cannot open — it hands the file to
``read_accounts`` and ``count_return``, which give the answer or raise their own error
naming the file and the line.  Either way ``count_file(p, y).counted ==
count_return(read_accounts(p).accounts, y)``; :attr:`CountedFile.path_taken` says which
way it went (tests/test_returns_fastcount.py compares the two on generated and corrupted
files).  A million accounts took 9.2 s this way against 31.2 s read and counted row by
row, in the same run (bench/bench_returns.py, bench/README.md).
"""

from __future__ import annotations

import csv
import gc
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import gt, is_not, methodcaller, ne
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from taserlink.errors import AccountsError, ReturnError
from taserlink.postuse.accounts import (
    _BOM,
    _SINGLE,
    MAX_ID_CHARS,
    MAX_LINE_BYTES,
    ColumnMap,
    _as_map,
    _cartridge,
    _cell,
    _items,
    _layout,
    _list_item,
    _Problem,
    read_accounts,
)
from taserlink.postuse.uses import USES
from taserlink.returns.counting import (
    NOT_STATED,
    Counted,
    Use,
    count_return,
    count_tables,
    financial_year_bounds,
)

__all__ = ["COLUMNAR", "MAX_FAST_BYTES", "VERIFYING", "CountedFile", "count_file"]

PathLike: TypeAlias = str | os.PathLike[str]

COLUMNAR: Final = "columnar"
""":attr:`CountedFile.path_taken` when the columns were checked and counted whole."""
VERIFYING: Final = "verifying"
""":attr:`CountedFile.path_taken` when ``read_accounts`` and ``count_return`` did it."""
MAX_FAST_BYTES: Final = 1 << 28
"""Largest file the fast path takes, in bytes: it holds the whole file and every cell of it
at once (some 18 bytes of memory a byte of file, 2.4 GB for a million accounts); a larger
one is left to ``read_accounts``, which streams it."""

_SHARED: Final = (
    "incident",
    "officer",
    "start",
    "end",
    "subject_age",
    "subject_gender",
    "subject_ethnicity",
    "subject_health",
)
"""What the rows of one report must agree on (as ``read_accounts`` compares them)."""
_IDENTIFIERS: Final = frozenset({"report", "incident", "officer"})
_NEEDED: Final = frozenset({"report", "incident", "officer", "start", "end", "device", *_SHARED})
"""The single-value columns whose values the count uses (the others are only checked)."""
_TIMES: Final = frozenset({"start", "end"})

_ISO_WIDTH: Final = 24
"""Characters of a time as ``write_accounts`` writes it: ``2019-05-03T12:34:00.000Z``."""
_ISO_SEPARATORS: Final = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z"}
_ISO_DIGITS: Final = [i for i in range(_ISO_WIDTH) if i not in _ISO_SEPARATORS]
_MONTH_DAYS: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
_DAY_MS: Final = 86_400_000


@dataclass(frozen=True, slots=True)
class CountedFile:
    """A financial year counted from an accounts file, and what the file was.

    Attributes:
        path: the path as given.
        sha256: the SHA-256 of the file's bytes, lower-case hex (as
            :attr:`~taserlink.postuse.accounts.Accounts.sha256`).
        size: the file's size in bytes.
        counted: the year's uses and tables, equal to ``count_return`` over
            ``read_accounts``' accounts.
        path_taken: :data:`COLUMNAR` (checked and counted a column at a time) or
            :data:`VERIFYING` (``read_accounts`` and ``count_return``).
    """

    path: str
    sha256: str
    size: int
    counted: Counted
    path_taken: str


class _Unsure(Exception):
    """Something the fast path is not certain of: the verifying path decides."""


def count_file(
    path: PathLike, year: int, *, columns: Mapping[str, str] | None = None
) -> CountedFile:
    """The return of the financial year ``year`` from the accounts file ``path``, counted
    a column at a time when the file allows it (module docstring), else by
    :func:`~taserlink.postuse.accounts.read_accounts` and
    :func:`~taserlink.returns.counting.count_return`.

    Args:
        path: the accounts file (``ACCOUNTS.csv``, or a force's export).
        year: the financial year (``2019``: 2019-04-01 to 2020-03-31, UK local time).
        columns: a column map, as for ``read_accounts``.

    Returns:
        The file's path, SHA-256 and size, the counted return, and which path counted it.

    Raises:
        AccountsError: ``read_accounts``' own error (the file and line of the first
            problem; the map's source for a bad ``columns``).
        ReturnError: a bad ``year`` (after the file's problems, as ``count_return`` after
            ``read_accounts``).
    """
    source = os.fspath(path)
    column_map = _as_map(columns)
    fast = _columnar(source, year, column_map)
    if fast is not None:
        return fast
    accounts = read_accounts(source, columns=column_map)
    counted = count_return(accounts.accounts, year)
    return CountedFile(accounts.path, accounts.sha256, accounts.size, counted, VERIFYING)


def _columnar(source: str, year: int, column_map: ColumnMap) -> CountedFile | None:
    """The fast path's answer, or ``None`` when the verifying path must give it."""
    try:
        bounds = financial_year_bounds(year)
        with open(source, "rb") as stream:
            data = stream.read(MAX_FAST_BYTES + 1)
    except (ReturnError, OSError):
        return None
    if len(data) > MAX_FAST_BYTES:
        return None
    paused = gc.isenabled()
    gc.disable()  # some 30 million cells and values, none in a cycle: no collection to run
    try:
        counted = _count(data, source, year, bounds, column_map)
    except _Unsure:
        return None
    finally:
        if paused:
            gc.enable()
    digest = hashlib.sha256(data).hexdigest()
    return CountedFile(source, digest, len(data), counted, COLUMNAR)


def _count(
    data: bytes, source: str, year: int, bounds: tuple[int, int], column_map: ColumnMap
) -> Counted:
    """Check the file's bytes and count the year (:class:`_Unsure` at anything else)."""
    if data.startswith(_BOM) or b"\r" in data:
        raise _Unsure
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unsure from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the last line's line break
    longest = max(map(len, lines), default=0)
    # a line's bytes, its line break included, are at most 4 a character and one more
    if not lines or 4 * longest + 1 > MAX_LINE_BYTES:
        raise _Unsure
    try:
        header = next(csv.reader(lines[:1], strict=True))
        layout = _layout(header, column_map, source, 1)
    except (csv.Error, AccountsError):
        raise _Unsure from None
    width, rows = layout.width, len(lines) - 1
    body = text[len(lines[0]) + 1 :]
    if '"' not in body and "\x00" not in body:
        # no quoting: every line is a row and its cells are what lies between the commas
        if rows and set(map(methodcaller("count", ","), lines[1:])) != {width - 1}:
            raise _Unsure  # a short or long row, or a blank line
        flat = body.replace("\n", ",").split(",")[: rows * width]
        by_index: list[Sequence[str]] = [flat[at::width] for at in range(width)]
    else:
        try:
            parsed = list(csv.reader(lines[1:], strict=True))
        except csv.Error:
            raise _Unsure from None
        # as many rows as lines: no row runs over several lines (numbering them is the
        # reader's); each as wide as the header: no short row, no blank line
        if len(parsed) != rows or (rows and set(map(len, parsed)) != {width}):
            raise _Unsure
        by_index = list(zip(*parsed, strict=True)) if parsed else [()] * width
    # from here on no cell holds a line break, and none is longer than the longest line
    values: dict[str, Sequence[Any]] = {}
    ticks: dict[str, tuple[Sequence[str], _Read]] = {}
    for column, at in layout.single:
        cells, codes = by_index[at], layout.codes.get(column)
        if column in USES:
            ticks[column] = (cells, _reading(column, codes))
        elif column in _NEEDED:
            values[column] = _column(column, cells, codes, longest)
        else:
            _check(column, cells, codes)
    for column, at in layout.lists.items():
        _check_list(column, by_index[at], layout.codes.get(column))
    for column in ("end", "subject_gender"):  # optional; an absent column reads as empty
        values.setdefault(column, [None] * rows)
    _check_rows(values)
    return _counted(values, ticks, year, bounds)


class _Read(dict[str, Any]):
    """Cell → its value by a column's rule, each distinct cell read once
    (:class:`_Unsure` at a cell the rule refuses)."""

    def __init__(self, read: Callable[[str], Any]) -> None:
        super().__init__()
        self._read = read

    def __missing__(self, cell: str) -> Any:
        try:
            self[cell] = value = self._read(cell)
        except _Problem:
            raise _Unsure from None
        return value


def _reading(column: str, codes: Mapping[str, str] | None) -> _Read:
    """A single-value ``column``'s cells read as ``read_accounts`` reads them: a
    neutralised cell undone, stripped, a code applied, the column's rule."""
    rule = _SINGLE[column]
    if codes is None:
        return _Read(lambda cell: rule(_cell(cell)))
    return _Read(lambda cell: rule(codes.get(_cell(cell).casefold(), _cell(cell))))


def _column(
    column: str, cells: Sequence[str], codes: Mapping[str, str] | None, longest: int
) -> Sequence[Any]:
    """Every cell of a single-value ``column`` as ``read_accounts`` reads it; ``longest``:
    the longest line's characters."""
    if codes is None and column in _IDENTIFIERS:
        joined = "\n".join(cells)
        empty = joined == "" or joined.startswith("\n") or joined.endswith("\n")
        short = longest <= MAX_ID_CHARS  # else each cell is measured
        if not empty and "\n\n" not in joined and _plain(joined):  # noqa: SIM102
            if short or max(map(len, cells)) <= MAX_ID_CHARS:
                return cells
    elif codes is None and column == "subject_gender":
        if _plain("\n".join(cells)):
            return [cell or None for cell in cells]
    elif codes is None and column in _TIMES:
        filled = [cell for cell in cells if cell] if column == "end" else cells
        ms = _iso_ms(filled)
        if ms is not None:
            if len(filled) == len(cells):
                return ms
            found = iter(ms)
            return [next(found) if cell else None for cell in cells]
    return list(map(_reading(column, codes).__getitem__, cells))


def _check(column: str, cells: Sequence[str], codes: Mapping[str, str] | None) -> None:
    """Check every cell of a single-value ``column`` whose values the count does not use."""
    if codes is None and column == "location" and _plain("\n".join(cells)):
        return
    read = _reading(column, codes)
    for cell in set(cells):
        read[cell]


def _check_list(column: str, cells: Sequence[str], codes: Mapping[str, str] | None) -> None:
    """Check every cell of a list ``column`` as ``read_accounts`` does."""
    if column == "cartridges":
        _each(cells, lambda cell: _cartridges(_items(cell, codes)))
    elif not "".join(cells).isprintable():
        # printable cells hold printable items, and a code's value was checked by the map
        _each(cells, lambda cell: [_list_item(column, item) for item in _items(cell, codes)])


def _cartridges(items: list[str]) -> tuple[str, ...]:
    serials = tuple(_cartridge(item) for item in items)
    if len(set(serials)) != len(serials):
        raise _Problem("a cartridge listed twice")
    return serials


def _each(cells: Sequence[str], read: Callable[[str], Any]) -> None:
    """``read`` each distinct cell (:class:`_Unsure` at one it refuses)."""
    try:
        for cell in set(cells):
            read(cell)
    except _Problem:
        raise _Unsure from None


def _plain(joined: str) -> bool:
    """Whether every cell of a column, joined by line breaks (which no cell holds), is
    printable and none has a space at either end or a quote at its start: each cell is
    then its own text as read (nothing to strip or undo)."""
    if not joined.replace("\n", "").isprintable():
        return False
    edges = ("\n ", " \n", "\n'")
    return not (
        joined.startswith((" ", "'")) or joined.endswith(" ") or any(e in joined for e in edges)
    )


def _iso_ms(cells: Sequence[str]) -> list[int] | None:
    """Times written ``2019-05-03T12:34:00.000Z`` as Unix ms, as ``parse_utc`` reads them;
    ``None`` unless every cell is such a time."""
    if not cells:
        return []
    try:  # each cell followed by a line break, which no cell holds
        raw = ("\n".join(cells) + "\n").encode("ascii")
    except UnicodeEncodeError:
        return None
    if len(raw) != len(cells) * (_ISO_WIDTH + 1):
        return None
    chars = np.frombuffer(raw, np.uint8).reshape(-1, _ISO_WIDTH + 1)
    # a line break after every 24 characters: every cell is 24 characters long
    for at, separator in {**_ISO_SEPARATORS, _ISO_WIDTH: "\n"}.items():
        if not (chars[:, at] == ord(separator)).all():
            return None
    digits = chars[:, _ISO_DIGITS] - np.uint8(ord("0"))  # a non-digit wraps to over 9
    if (digits > 9).any():
        return None
    d = digits.astype(np.int64)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
    hour, minute, second = (
        d[:, 8] * 10 + d[:, 9],
        d[:, 10] * 10 + d[:, 11],
        d[:, 12] * 10 + d[:, 13],
    )
    milli = d[:, 14] * 100 + d[:, 15] * 10 + d[:, 16]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 0, 12)] + (leap & (month == 2))
    valid = (
        (year >= 1)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= month_days)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
    )
    if not valid.all():
        return None
    clock = ((hour * 60 + minute) * 60 + second) * 1000 + milli
    ms: list[int] = (_days(year, month, day) * _DAY_MS + clock).tolist()
    return ms


def _days(
    year: npt.NDArray[np.int64], month: npt.NDArray[np.int64], day: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Days from 1970-01-01 to each proleptic Gregorian date (years 1-9999): the civil
    calendar's count from 1 March of year 0, so that a leap day ends a year."""
    y = year - (month <= 2)
    era = y // 400
    of_era = y - era * 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    of_cycle = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    days: npt.NDArray[np.int64] = era * 146_097 + of_cycle - 719_468
    return days


def _check_rows(values: Mapping[str, Sequence[Any]]) -> None:
    """The rules on a row and across rows: an end not before its start, one row per report
    and device, a report's rows agreeing on :data:`_SHARED`."""
    start, end = values["start"], values["end"]
    given = list(map(is_not, end, repeat(None)))
    if any(map(gt, compress(start, given), compress(end, given))):
        raise _Unsure
    reports = values["report"]
    times = Counter(reports)
    if len(times) == len(reports):
        return
    again = list(compress(range(len(reports)), map(gt, map(times.__getitem__, reports), repeat(1))))
    device = values["device"]
    if len({(reports[i], device[i]) for i in again}) != len(again):
        raise _Unsure
    shared = [values[column] for column in _SHARED]
    agreed = {(reports[i], *(column[i] for column in shared)) for i in again}
    if len(agreed) != len({reports[i] for i in again}):
        raise _Unsure


class _Highest(dict[tuple[str, ...], str]):
    """The seven ticks' cells (in :data:`USES` order) → the highest use, each combination
    worked out once (rules 2 and 3), each cell read by its column's rule."""

    def __init__(self, reads: Sequence[_Read]) -> None:
        super().__init__()
        self._reads = reads

    def __missing__(self, ticks: tuple[str, ...]) -> str:
        ticked = [read[cell] is True for read, cell in zip(self._reads, ticks, strict=True)]
        self[ticks] = highest = next(
            (use for use, yes in zip(USES, ticked, strict=True) if yes), NOT_STATED
        )
        return highest


def _counted(
    values: Mapping[str, Sequence[Any]],
    ticks: Mapping[str, tuple[Sequence[str], _Read]],
    year: int,
    bounds: tuple[int, int],
) -> Counted:
    """The year's uses, in ``reports.csv`` order, and the tables (rules 1-5 of
    :mod:`taserlink.returns.counting`, as ``count_return`` applies them)."""
    lo, hi = bounds
    highest_of = _Highest([ticks[use][1] for use in USES])
    highest = list(map(highest_of.__getitem__, zip(*(ticks[use][0] for use in USES), strict=True)))
    start, device = values["start"], values["device"]
    when = np.array(start, np.int64)
    counts = (  # rules 1 and 4: in the year, and a device named or a use ticked
        (lo <= when)
        & (when < hi)
        & (
            np.array(list(map(is_not, device, repeat(None))), bool)
            | np.array(list(map(ne, highest, repeat(NOT_STATED))), bool)
        )
    ).tolist()

    def kept(column: Sequence[Any]) -> list[Any]:
        return list(compress(column, counts))

    report, starts, devices = kept(values["report"]), kept(start), kept(device)
    found = list(
        map(
            Use,
            report,
            kept(values["incident"]),
            kept(values["officer"]),
            devices,
            starts,
            kept(highest),
            [age[0] for age in kept(values["subject_age"])],
            kept(values["subject_ethnicity"]),
            kept(values["subject_health"]),
            kept(range(2, len(start) + 2)),  # the header is line 1, and each row one line
        )
    )
    order = _reports_order(np.array(starts, np.int64), report, devices)
    uses = tuple(map(found.__getitem__, order))
    return Counted(year, uses, count_tables(found))  # the same counts in any order


def _reports_order(
    starts: npt.NDArray[np.int64], report: Sequence[str], devices: Sequence[str | None]
) -> list[int]:
    """The order of ``reports.csv`` (:meth:`~taserlink.returns.counting.Use.key`: start,
    report, device with none first): by start with numpy's stable sort, then each run of
    equal starts (a report's two devices, an incident's reports) by report and device."""
    order = np.argsort(starts, kind="stable")
    same = starts[order][1:] == starts[order][:-1]
    indexes: list[int] = order.tolist()
    if not same.any():
        return indexes
    edges = np.flatnonzero(np.diff(np.concatenate(([0], same.astype(np.int8), [0])))).tolist()
    for first, last in zip(edges[::2], edges[1::2], strict=True):  # same[first:last] all true
        run = indexes[first : last + 1]
        run.sort(key=lambda i: (report[i], devices[i] or "", i))
        indexes[first : last + 1] = run
    return indexes
