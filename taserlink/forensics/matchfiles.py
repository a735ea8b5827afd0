"""The match files (**contract**, project README "Match files"): AFID reads and candidate
serials in, one row per cartridge out.

``READS.csv`` (:func:`read_reads`)
    A header row, then one row per recovered tag.  Columns ``exhibit``, ``tag``, ``read``
    and, optionally, ``confidence`` (the examiner's, 0–1; an empty cell means not given,
    i.e. 1).  No other column is allowed.  Every read is parsed in the AFID read notation
    (:func:`taserlink.forensics.reads.parse_read`): a read of any length, torn or not,
    and one with no readable character are kept (how each is scored is the matcher's
    question); a character other than a digit, a letter A–Z (either case), ``?``, ``*``, a
    hyphen, a space or a tab is refused.  The same ``tag`` twice in one exhibit is an error: it
    would count one physical tag twice.

``SERIALS`` (:func:`read_serials`)
    Either a text file with one serial a line, or a CSV (a register export) whose header
    row holds a ``serial`` column; the file is taken as a CSV exactly when its first line,
    read as CSV, has a cell ``serial``.  A register export's other columns are allowed and
    ignored.  In a text list a line holds a serial and nothing else (no comments).  Each
    serial is normalised by the scheme (hyphens and spaces dropped, upper
    case, ``I``/``L`` → ``1``, ``O`` → ``0``, ``U`` → ``V``) and must be valid in it.  A
    duplicate (after normalisation) is an error naming both lines.  A list of 10,000,000
    serials is read in 4 s (text) to 8 s (CSV): lines are taken a block at a time and the
    serials of a block normalised and checked together (:meth:`SerialScheme.normalize_all`,
    :meth:`SerialScheme.encode`); duplicates are found by sorting (numpy), not a set.

``OUT.csv`` (:func:`write_matches`, :func:`read_matches`)
    A header row, then one row per :class:`~taserlink.forensics.results.MatchRow`; columns
    :data:`MATCH_COLUMNS`.  Scores are written with :data:`SCORE_DECIMALS` decimal places
    (``0.999900`` and ``0.990000`` differ; a score written ``1.000000`` is at least
    0.9999995, not a certainty); ``None`` is an empty cell.  Lines end with ``\\n``.
    Cells are written spreadsheet-safe (:mod:`taserlink.spreadsheet`): only the two text
    cells can change — an ``exhibit`` or ``explanation`` that starts with ``=``, ``+``,
    ``-``, ``@`` (after any single quotes) gets one ``'`` in front, which
    :func:`read_matches` takes away again.  ``serial``, ``runner_up`` (serials), ``status``
    (a word), ``score``, ``runner_up_score`` (0–1) and ``reads`` (a positive integer) never
    start with one of those characters and are written as they are.

**Numbers** in every match file are ASCII: a ``confidence`` or score is a plain decimal of
ASCII digits (``0.9``, ``1``, ``.5``, ``1e-3``; no sign, no digit separator, no digit of
another script), ``reads`` a positive integer of ASCII digits; anything else is refused
with the file and line.

Every reader applies the tables' rules (:mod:`taserlink.forensics.tables`: UTF-8, LF or
CRLF, RFC 4180 quoting, header names stripped and case-insensitive, values stripped and
printable, blank lines only at the end, rows as wide as the header, lines and values
bounded, no empty file), and these:

- an exhibit, tag or read must not be empty, and an exhibit or tag must not hold ``"``
  (``E1, "E 2"`` — a quote after a space — is read literally by CSV, so it is refused
  rather than kept as part of the label);
- at most :data:`MAX_READS` reads or match rows, at most :data:`MAX_SERIALS` serials;
- the problem reported is the first in file order.

Every error is an :class:`~taserlink.errors.InputFileError` whose message starts with
``file:line`` (the 1-based physical line where the offending row starts; the whole file
when no line is to blame).
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import itertools
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, TextIO

from taserlink.atomic import check_destination, write_atomic
from taserlink.errors import InputFileError, ReadError, SerialError, excerpt
from taserlink.forensics import tables
from taserlink.forensics.reads import parse_read
from taserlink.forensics.results import MatchRow, MatchStatus, TagRead
from taserlink.forensics.tables import MAX_LINE_BYTES, MAX_VALUE_CHARS, PathLike, Row
from taserlink.provenance import Output, Provenance, provenance_path, write_provenance
from taserlink.serials import CARTRIDGE_SCHEME, CodeArray, SerialScheme
from taserlink.spreadsheet import csv_writer, original_cell

__all__ = [
    "MATCH_COLUMNS",
    "MAX_LINE_BYTES",
    "MAX_READS",
    "MAX_SERIALS",
    "MAX_VALUE_CHARS",
    "READS_COLUMNS",
    "READS_REQUIRED",
    "SCORE_DECIMALS",
    "SERIAL_COLUMN",
    "format_score",
    "read_matches",
    "read_reads",
    "read_serials",
    "row_as_dict",
    "write_matches",
]

MATCH_COLUMNS: Final = (
    "exhibit",
    "serial",
    "status",
    "score",
    "reads",
    "runner_up",
    "runner_up_score",
    "explanation",
)
"""The columns of ``OUT.csv``, in order (**contract**)."""
READS_COLUMNS: Final = ("exhibit", "tag", "read", "confidence")
"""The columns ``READS.csv`` may have (**contract**)."""
READS_REQUIRED: Final = ("exhibit", "tag", "read")
"""The columns ``READS.csv`` must have."""
SERIAL_COLUMN: Final = "serial"
"""The column of a serial list given as a CSV (a register export)."""
SCORE_DECIMALS: Final = 6
"""Decimal places of ``score`` and ``runner_up_score`` in ``OUT.csv``."""
MAX_READS: Final = 100_000
"""Most reads in ``READS.csv``, and most rows in ``OUT.csv``."""
MAX_SERIALS: Final = 20_000_000
"""Most serials in ``SERIALS`` (twice the largest register the matcher is specified for;
a list this long holds about 1.5 GB as Python strings)."""

_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
"""A decimal number as a match file may write it: ASCII digits only, no sign (a fraction in
0–1 needs none), no ``nan``, ``inf`` or digit separators."""
_COUNT = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)
"""A positive integer below 10⁹ of ASCII digits (then bounded by :data:`MAX_READS`)."""
_STATUSES: Final = {status.value: status for status in MatchStatus}
_SERIAL_BLOCK: Final = 1 << 16
"""Rows of a register export checked together."""


def _label(row: Row, column: str) -> str:
    """An exhibit or tag label: required, and without ``"`` — a quote inside a label is
    nearly always a field quoted after a space (``E1, "E 2"``), which CSV reads literally."""
    text = row.required(column)
    if '"' in text:
        raise row.error(
            f"{column} {excerpt(text)} holds a quote character (quote whole fields, with no space "
            "before the opening quote)"
        )
    return text


def _fraction(text: str, column: str, row: Row) -> float:
    """A number in 0–1 written as a plain decimal (``0.9``, ``1``, ``.5``, ``1e-3``)."""
    if not _NUMBER.fullmatch(text):
        raise row.error(f"{column} {excerpt(text)} is not a number in 0–1")
    number = float(text)
    if not 0.0 <= number <= 1.0:
        hint = " (a fraction, not a percentage)" if 1.0 < number <= 100.0 else ""
        raise row.error(f"{column} {text} is not in 0–1{hint}")
    return number


# -- READS.csv ----------------------------------------------------------------------------


def read_reads(path: PathLike) -> list[TagRead]:
    """The tag reads of ``READS.csv``, in file order (see the module docstring).

    Each :class:`TagRead` has the stripped ``exhibit``, ``tag`` and ``read`` text as
    written, ``confidence`` (1 when the column or the cell is empty) and ``line`` (where
    its row starts).

    Raises:
        InputFileError: the file cannot be read; it is empty or has no row; a column that
            is unknown, repeated or missing; a row with the wrong number of fields; an
            empty exhibit, tag or read; a read with a character outside the notation (the
            :class:`~taserlink.errors.ReadError`'s reason is quoted); a confidence not a
            number in 0–1; a tag given twice in one exhibit (both lines named); malformed
            CSV or text; a size limit exceeded.  The message starts with ``file:line``.
    """
    reads: list[TagRead] = []
    seen: dict[tuple[str, str], int] = {}
    rows = tables.file_rows(
        path, allowed=READS_COLUMNS, required=READS_REQUIRED, what="reads", most=MAX_READS
    )
    for row in rows:
        exhibit = _label(row, "exhibit")
        tag = _label(row, "tag")
        text = row.required("read")
        try:
            parse_read(text)
        except ReadError as error:
            raise row.error(f"bad read: {error}") from None
        given = row.value("confidence")
        confidence = _fraction(given, "confidence", row) if given else 1.0
        earlier = seen.setdefault((exhibit, tag), row.line)
        if earlier != row.line:
            raise row.error(
                f"tag {excerpt(tag)} of exhibit {excerpt(exhibit)} is given twice (first on line "
                f"{earlier}): one tag must not be counted twice"
            )
        reads.append(TagRead(exhibit, tag, text, confidence, row.line))
    return reads


# -- SERIALS ------------------------------------------------------------------------------


class _Lines:
    """Where each serial of a list stands: entry index → line, kept as the blocks' line
    ranges (a list of numbers only for a block with a record over several lines)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._lines: list[Sequence[int]] = []
        self.count = 0

    def add(self, lines: Sequence[int]) -> None:
        if not lines:
            return
        if lines[-1] - lines[0] == len(lines) - 1:  # increasing, so consecutive
            lines = range(lines[0], lines[-1] + 1)
        self._starts.append(self.count)
        self._lines.append(lines)
        self.count += len(lines)

    def __getitem__(self, index: int) -> int:
        block = bisect.bisect_right(self._starts, index) - 1
        return self._lines[block][index - self._starts[block]]


def read_serials(path: PathLike, scheme: SerialScheme = CARTRIDGE_SCHEME) -> list[str]:
    """The candidate serials of ``SERIALS``, canonical, in file order (see the module
    docstring for the text and CSV forms).

    The list is read a block of lines at a time; a block's serials are normalised
    (:meth:`SerialScheme.normalize_all`) and checked (:meth:`SerialScheme.encode`)
    together, and duplicates are looked for once, over every serial's codes
    (:meth:`SerialScheme.first_duplicate`), so the cost is about 1 µs a serial (CSV) or
    less (text), and the memory the returned strings' plus about 20 bytes a serial.

    Raises:
        InputFileError: the file cannot be read; it holds no serial; a serial that is not
            valid in ``scheme`` (the :class:`~taserlink.errors.SerialError`'s reason is
            quoted); a duplicate (naming the line it repeats); in a CSV, a missing or
            repeated ``serial`` column, a row with the wrong number of fields or an empty
            serial; a blank line between serials; malformed CSV or text; a size limit
            exceeded.  The message starts with ``file:line``; of several problems, the
            first in the file is reported.
    """
    source = os.fspath(path)
    serials: list[str] = []
    codes: list[CodeArray] = []
    where = _Lines()
    stop: InputFileError | None = None  # the first problem, once found
    with tables.open_table(path) as stream:
        blocks = tables.line_blocks(stream, source)
        first = next(blocks, None)
        if first is None:
            raise InputFileError("empty file: no serial", source)
        rest = itertools.chain([first], blocks)
        if _is_serial_csv(first[0]):
            entries = _serial_csv_entries(itertools.chain.from_iterable(rest), source)
        else:
            entries = _serial_text_entries(rest, source)
        try:
            for lines, texts in entries:
                room = MAX_SERIALS - len(serials)
                if len(texts) > room:
                    stop = tables.too_many(source, lines[room], "serials", MAX_SERIALS)
                    lines, texts = lines[:room], texts[:room]
                canonical = scheme.normalize_all(texts)
                block_codes, valid = scheme.encode(canonical)
                if not valid.all():
                    found = scheme.first_problem(canonical)
                    assert found is not None  # encode and first_problem agree
                    bad, why = found
                    stop = _bad_serial(scheme, texts[bad], why, source, lines[bad])
                    lines, canonical, block_codes = lines[:bad], canonical[:bad], block_codes[:bad]
                serials.extend(canonical)
                codes.append(block_codes)
                where.add(lines)
                if stop is not None:
                    break
        except InputFileError as error:
            stop = error
    repeat = scheme.first_duplicate(codes)
    if repeat is not None:
        earlier, later = repeat
        raise InputFileError(
            f"serial {serials[later]} is listed twice (first on line {where[earlier]})",
            source,
            where[later],
        )
    if stop is not None:
        raise stop
    if not serials:
        raise InputFileError("no serials: the list is empty", source)
    return serials


def _bad_serial(
    scheme: SerialScheme, text: str, why: str, source: str, line: int
) -> InputFileError:
    """The error for a serial ``text`` (as written, stripped) that ``scheme`` refuses."""
    hint = f" (a CSV needs a {SERIAL_COLUMN!r} column in its first line)" if line == 1 else ""
    error = SerialError(f"{excerpt(text)} is not a valid {scheme.name} serial: {why}")
    return InputFileError(f"bad serial: {error}{hint}", source, line)


def _is_serial_csv(first_line: str) -> bool:
    """True when ``first_line`` read as CSV has a cell ``serial`` (any case, stripped)."""
    try:
        cells = next(csv.reader([first_line], strict=True), [])
    except csv.Error:
        return False
    return any(tables.column_name(cell) == SERIAL_COLUMN for cell in cells)


def _serial_text_entries(
    blocks: Iterable[list[str]], source: str
) -> Iterator[tuple[Sequence[int], list[str]]]:
    """A text list's serials, stripped, a block at a time with their lines; every serial
    before a problem is yielded before the problem is raised."""
    line = 1  # of the block's first line
    blank_at: int | None = None
    for block in blocks:
        texts = list(map(str.strip, block))
        if blank_at is None:
            try:
                blank = texts.index("")
            except ValueError:
                blank = len(texts)
            good = texts[:blank]
            if good and max(map(len, good)) > MAX_VALUE_CHARS:
                long = next(i for i, text in enumerate(good) if len(text) > MAX_VALUE_CHARS)
                yield range(line, line + long), good[:long]
                raise InputFileError(
                    f"{len(good[long])} characters: longer than any serial", source, line + long
                )
            yield range(line, line + blank), good
            if blank < len(texts):
                blank_at = line + blank
                texts = texts[blank:]
        if blank_at is not None and any(texts):
            raise tables.blank_in_middle(source, blank_at)
        line += len(block)


def _serial_csv_entries(
    lines: Iterable[str], source: str
) -> Iterator[tuple[Sequence[int], list[str]]]:
    """A register export's serials, stripped, a block at a time with their lines; every
    serial before a problem is yielded before the problem is raised."""
    records = tables.records(lines, source)
    first = next(records, None)
    if first is None:  # pragma: no cover - _is_serial_csv saw a `serial` cell on line 1
        raise InputFileError("no header row", source)
    header_line, header = first
    columns = tables.header(header, source, header_line, allowed=None, required=(SERIAL_COLUMN,))
    index, width = columns[SERIAL_COLUMN], len(header)
    while True:
        numbers: list[int] = []
        texts: list[str] = []
        problem: InputFileError | None = None
        try:
            for line, cells in itertools.islice(records, _SERIAL_BLOCK):
                if len(cells) != width:
                    tables.check_width(cells, width, source, line)
                numbers.append(line)
                texts.append(cells[index])
        except InputFileError as error:
            problem = error
        stripped, bad = tables.first_bad_value(texts)
        if bad is not None:
            yield numbers[:bad], stripped[:bad]
            tables.required(texts, bad, SERIAL_COLUMN, source, numbers[bad])
        yield numbers, stripped
        if problem is not None:
            raise problem
        if len(texts) < _SERIAL_BLOCK:
            return


# -- OUT.csv ------------------------------------------------------------------------------


def format_score(score: float | None) -> str:
    """A score as ``OUT.csv`` writes it: :data:`SCORE_DECIMALS` places, ``""`` for None."""
    if score is None:
        return ""
    return f"{score + 0.0:.{SCORE_DECIMALS}f}"  # + 0.0: -0.0 is written 0.000000


def row_as_dict(row: MatchRow) -> dict[str, Any]:
    """One row with the keys :data:`MATCH_COLUMNS` (for JSON): scores as floats (full
    precision) or None, ``reads`` an int, ``status`` its file word."""
    values: tuple[Any, ...] = (
        row.exhibit,
        row.serial,
        row.status.value,
        row.score,
        row.reads,
        row.runner_up,
        row.runner_up_score,
        row.explanation,
    )
    return dict(zip(MATCH_COLUMNS, values, strict=True))


def _row_problem(row: MatchRow) -> str | None:
    """Why ``row`` cannot be written as a row of ``OUT.csv`` (what :func:`read_matches`
    would refuse), or None."""
    if not isinstance(row.status, MatchStatus):
        return f"status {row.status!r} is not a MatchStatus"
    if not row.exhibit:
        return "exhibit is empty"
    for name in ("exhibit", "serial", "runner_up", "explanation"):
        text = getattr(row, name)
        if text != text.strip() or not text.isprintable():
            return f"{name} {text!r} has surrounding white space or a control character"
    if row.reads < 1:
        return "no reads attributed"
    for name, score in (("score", row.score), ("runner_up_score", row.runner_up_score)):
        if score is not None and not (math.isfinite(score) and 0.0 <= score <= 1.0):
            return f"{name} {score!r} is not in 0–1"
    if row.status is MatchStatus.NONE:
        if row.serial or row.score is not None:
            return "status none has no serial and no score"
    elif not row.serial or row.score is None:
        return f"status {row.status.value} needs a serial and a score"
    if bool(row.runner_up) != (row.runner_up_score is not None):
        return "runner_up and runner_up_score go together"
    if row.runner_up and row.runner_up == row.serial:
        return "runner_up is the serial itself"
    return None


def _csv_text(rows: Sequence[MatchRow]) -> str:
    for number, row in enumerate(rows, start=1):
        why = _row_problem(row)
        if why is not None:
            raise ValueError(f"match row {number} (exhibit {row.exhibit!r}): {why}")
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(MATCH_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.exhibit,
                row.serial,
                row.status.value,
                format_score(row.score),
                row.reads,
                row.runner_up,
                format_score(row.runner_up_score),
                row.explanation,
            )
        )
    return buffer.getvalue()


def write_matches(
    rows: Sequence[MatchRow], out: PathLike | TextIO, *, provenance: Provenance | None = None
) -> None:
    """Write ``rows`` as ``OUT.csv``: a header row of :data:`MATCH_COLUMNS`, one row each.

    With ``provenance`` and a path, ``OUT.csv.provenance.json`` is written beside it too
    (:func:`taserlink.provenance.provenance_path`), after the CSV: ``provenance`` with the
    output — ``out`` as given and the CSV's SHA-256 — recorded (docs/provenance.md).  The
    CSV itself is exactly as without.

    ``out`` is a path or a text stream.  A path is written by
    :func:`taserlink.atomic.write_atomic`: a temporary file in the same directory, flushed
    to disk, then renamed over ``out`` — so an existing file is replaced only once the new
    one is complete, and a failure leaves it untouched and no temporary file behind — and
    only where nothing is or over a regular file (never a link, device node, FIFO, folder
    or ``.tdi`` image).  A replaced file keeps its permissions; a new one gets the
    process's default (umask).  UTF-8, no byte-order mark, lines ending ``\\n``; every
    cell spreadsheet-safe (:mod:`taserlink.spreadsheet`).

    Raises:
        ValueError: a row that :func:`read_matches` would refuse or alter (a status
            ``none`` with a serial or score, a score outside 0–1, no reads, a text value
            with surrounding white space or a control character, ...): a bug in the
            caller; nothing is written.
        OutputPathError: ``out`` is a link, a device node, a FIFO, a socket, a folder or
            an existing ``.tdi`` image; nothing is written.
        OSError: the file cannot be written (its directory missing or read-only, the disk
            full).
    """
    text = _csv_text(rows)
    if isinstance(out, str | os.PathLike):
        data = text.encode("utf-8")
        if provenance is not None:
            check_destination(provenance_path(out))  # refused before anything is written
        write_atomic(out, data)
        if provenance is not None:
            made = provenance.with_outputs(Output(os.fspath(out), hashlib.sha256(data).hexdigest()))
            write_provenance(made, provenance_path(out))
    else:
        out.write(text)
        out.flush()


def read_matches(path: PathLike, scheme: SerialScheme = CARTRIDGE_SCHEME) -> list[MatchRow]:
    """The rows of an ``OUT.csv`` (as :func:`write_matches` writes it), in file order.

    The file holds the *number* of reads attributed to each cartridge, not their tags:
    each row's ``tags`` is that many empty strings — so ``row.reads`` is right, and no
    made-up label can be mistaken for an examiner's (a tag in ``READS.csv`` is never
    empty).  Scores come back as written (:data:`SCORE_DECIMALS` places).  Serials are
    returned canonical.  An ``exhibit`` or ``explanation`` written spreadsheet-safe gets its
    original back (:func:`taserlink.spreadsheet.original_cell`).

    Header names follow the readers' rules (any order, case and surrounding whitespace
    ignored); all of :data:`MATCH_COLUMNS` must be there and no other.

    Raises:
        InputFileError: the file cannot be read; it is empty or has no row; an unknown,
            repeated or missing column; a row with the wrong number of fields; an empty
            exhibit; a status other than ``match``, ``ambiguous``, ``none``; a serial or
            runner-up not valid in ``scheme``; a ``match``/``ambiguous`` row without a
            serial or score, a ``none`` row with either; a score not in 0–1; a runner-up
            without its score or the other way round, or equal to the serial; ``reads`` not
            a positive integer; malformed CSV or text; a size limit exceeded.
    """
    rows = tables.file_rows(
        path, allowed=MATCH_COLUMNS, required=MATCH_COLUMNS, what="rows", most=MAX_READS
    )
    return [_match_row(row, scheme) for row in rows]


def _text_cell(row: Row, column: str, limit: int | None) -> str:
    """A text cell as it was before it was written spreadsheet-safe (the quote added does
    not count towards ``limit``)."""
    text = original_cell(row.value(column, None))  # a line is bounded: MAX_LINE_BYTES
    if limit is not None and len(text) > limit:
        raise row.error(f"{column} is {len(text)} characters long (at most {limit})")
    return text


def _match_row(row: Row, scheme: SerialScheme) -> MatchRow:
    exhibit = _text_cell(row, "exhibit", MAX_VALUE_CHARS)
    if not exhibit:
        raise row.error("exhibit is empty")
    word = row.value("status").lower()
    status = _STATUSES.get(word)
    if status is None:
        raise row.error(f"status {excerpt(word)} is not one of {', '.join(_STATUSES)}")
    serial = _serial_cell(row, "serial", scheme)
    score_text = row.value("score")
    score = _fraction(score_text, "score", row) if score_text else None
    if status is MatchStatus.NONE:
        if serial or score is not None:
            raise row.error("status none must have an empty serial and score")
    elif not serial or score is None:
        raise row.error(f"status {word} needs a serial and a score")
    count = row.value("reads")
    if not _COUNT.fullmatch(count):
        raise row.error(f"reads {excerpt(count)} is not a positive integer")
    if int(count) > MAX_READS:
        raise row.error(f"reads {count} is more than {MAX_READS}")
    runner_up = _serial_cell(row, "runner_up", scheme)
    runner_text = row.value("runner_up_score")
    runner_up_score = _fraction(runner_text, "runner_up_score", row) if runner_text else None
    if bool(runner_up) != (runner_up_score is not None):
        raise row.error("runner_up and runner_up_score must both be given or both be empty")
    if runner_up and runner_up == serial:
        raise row.error(f"runner_up {runner_up} is the serial itself")
    return MatchRow(
        exhibit=exhibit,
        serial=serial,
        status=status,
        score=score,
        tags=("",) * int(count),
        runner_up=runner_up,
        runner_up_score=runner_up_score,
        explanation=_text_cell(row, "explanation", None),
    )


def _serial_cell(row: Row, column: str, scheme: SerialScheme) -> str:
    text = row.value(column)
    if not text:
        return ""
    try:
        return scheme.validate(text)
    except SerialError as error:
        raise row.error(f"bad {column}: {error}") from None
