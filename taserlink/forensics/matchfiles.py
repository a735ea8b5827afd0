"""The match files (**contract**, project README "Match files"): AFID reads and candidate
serials in, one row per cartridge out.

``READS.csv`` (:func:`read_reads`)
    A header row, then one row per recovered tag.  Columns ``exhibit``, ``tag``, ``read``
    and, optionally, ``confidence`` (the examiner's, 0–1; an empty cell means not given,
    i.e. 1).  No other column is allowed.  Every read is parsed in the AFID read notation
    (:func:`taserlink.forensics.serials.parse_read`).  The same ``tag`` twice in one
    exhibit is an error: it would count one physical tag twice.

``SERIALS`` (:func:`read_serials`)
    Either a text file with one serial a line, or a CSV (a register export) whose header
    row holds a ``serial`` column; the file is taken as a CSV exactly when its first line,
    read as CSV, has a cell ``serial``.  A register export's other columns are allowed and
    ignored.  In a text list a line holds a serial and nothing else (no comments).  Each
    serial is normalised by the scheme (hyphens and spaces dropped, upper
    case, ``I``/``L`` → ``1``, ``O`` → ``0``, ``U`` → ``V``) and must be valid in it.  A
    duplicate (after normalisation) is an error naming both lines.

``OUT.csv`` (:func:`write_matches`, :func:`read_matches`)
    A header row, then one row per :class:`~taserlink.forensics.results.MatchRow`; columns
    :data:`MATCH_COLUMNS`.  Scores are written with :data:`SCORE_DECIMALS` decimal places
    (``0.999900`` and ``0.990000`` differ; a score written ``1.000000`` is at least
    0.9999995, not a certainty); ``None`` is an empty cell.  Lines end with ``\\n``.

Rules every reader applies (stated once, so an examiner can predict what is refused):

- **Text**: UTF-8, a leading byte-order mark tolerated; lines end with LF or CRLF (a lone
  CR inside an unquoted field is an error).  CSVs are comma-separated with ``"`` quoting
  (RFC 4180; a quoted field may hold commas and line breaks, ``""`` is a quote); quoting
  that does not follow those rules is an error.
- **Header names** are matched after stripping surrounding whitespace and ignoring case
  (``Exhibit``, `` read `` are accepted); columns may come in any order; a column of the
  contract given twice is an error (a register export's other columns are not checked).
- **Values** have surrounding whitespace stripped; no value may hold a control or
  invisible character (anything ``str.isprintable`` refuses: a line break or tab inside a
  value, a no-break space, a zero-width character); an exhibit, tag or read must not be
  empty, and an exhibit or tag must not hold ``"`` (``E1, "E 2"`` — a quote after a space —
  is read literally by CSV, so it is refused rather than kept as part of the label).
- **Blank lines** (empty or whitespace only) are allowed only at the end of a file; a blank
  line between data lines is an error — it may be a value lost in editing, and the line
  numbers reviewers cite must mean what they say.
- **Every row** must have as many fields as the header.
- **Sizes** are bounded so that a wrong or hostile file is refused, not read into memory:
  a line longer than :data:`MAX_LINE_BYTES`, a value longer than :data:`MAX_VALUE_CHARS`,
  more than :data:`MAX_READS` reads or match rows, more than :data:`MAX_SERIALS` serials.
- **An empty file**, or a header without rows, is an error.

Every error is an :class:`~taserlink.errors.InputFileError` whose message starts with
``file:line`` (the 1-based physical line where the offending row starts; the whole file
when no line is to blame).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import math
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final, TextIO, TypeVar

from taserlink.errors import InputFileError, ReadError, SerialError
from taserlink.forensics.results import MatchRow, MatchStatus, TagRead
from taserlink.forensics.serials import parse_read
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

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
MAX_LINE_BYTES: Final = 65_536
"""Longest line (its line break included) a match file may have, in bytes."""
MAX_VALUE_CHARS: Final = 256
"""Longest exhibit, tag, read, confidence, serial or score value, in characters."""
MAX_READS: Final = 100_000
"""Most reads in ``READS.csv``, and most rows in ``OUT.csv``."""
MAX_SERIALS: Final = 2_000_000
"""Most serials in ``SERIALS``."""

_NUMBER = re.compile(r"\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
"""A decimal number as a match file may write it (no sign other than ``+``, no ``nan``,
``inf`` or digit separators)."""
_COUNT = re.compile(r"[1-9]\d{0,8}")
"""A positive integer below 10⁹ (then bounded by :data:`MAX_READS`)."""
_STATUSES: Final = {status.value: status for status in MatchStatus}

_T = TypeVar("_T")
PathLike = str | os.PathLike[str]


# -- reading: lines, records, headers ------------------------------------------------------


def _open(path: PathLike) -> IO[bytes]:
    source = os.fspath(path)
    try:
        return open(source, "rb")
    except OSError as error:
        raise InputFileError(f"cannot read: {error.strerror or error}", source) from None


def _lines(stream: IO[bytes], source: str) -> Iterator[str]:
    """The file's lines, decoded, line breaks kept; a BOM at the start dropped.

    Raises:
        InputFileError: a line over :data:`MAX_LINE_BYTES`, a line that is not UTF-8, or
            the file cannot be read.
    """
    number = 0
    while True:
        try:
            raw = stream.readline(MAX_LINE_BYTES + 1)
        except OSError as error:
            raise InputFileError(
                f"cannot read: {error.strerror or error}", source, number + 1
            ) from None
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise InputFileError(
                f"line longer than {MAX_LINE_BYTES} bytes: not a match file", source, number
            )
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputFileError(
                f"not UTF-8 text (byte {error.start + 1} of the line)", source, number
            ) from None


def _blank(cells: Sequence[str]) -> bool:
    return not cells or (len(cells) == 1 and not cells[0].strip())


def _records(lines: Iterable[str], source: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records as ``(line where the record starts, cells)``, blank lines left out.

    Raises:
        InputFileError: malformed CSV (bad quoting, an unclosed quote, a lone CR, a field
            over the csv module's limit), or a blank line followed by data.
    """
    reader = csv.reader(lines, strict=True)
    blank_at: int | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            where = (
                "" if reader.line_num <= start else f" (the record runs to line {reader.line_num})"
            )
            raise InputFileError(
                f"malformed CSV: {_csv_reason(error)}{where}", source, start
            ) from None
        if _blank(cells):
            if blank_at is None:
                blank_at = start
            continue
        if blank_at is not None:
            raise _blank_in_middle(source, blank_at)
        yield start, cells


def _csv_reason(error: csv.Error) -> str:
    text = str(error)
    if text.startswith("new-line character seen in unquoted field"):
        return "a carriage return inside an unquoted field (lines must end with LF or CRLF)"
    if text == "unexpected end of data":
        return "a quoted field is not closed before the end of the file"
    return text


def _blank_in_middle(source: str, line: int) -> InputFileError:
    return InputFileError(
        "blank line between data lines (blank lines are allowed only at the end)", source, line
    )


def _column_name(cell: str) -> str:
    return cell.strip().lower()


def _header(
    cells: Sequence[str],
    source: str,
    line: int,
    *,
    allowed: Sequence[str] | None,
    required: Sequence[str],
) -> dict[str, int]:
    """Column name → index; names compared stripped and case-insensitively.

    ``allowed`` None allows any other column (a register export); a required name given
    twice is an error, and so is any name given twice when ``allowed`` is not None.

    Raises:
        InputFileError: an unknown, repeated or missing column (named).
    """
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = _column_name(cell)
        if allowed is not None and name not in allowed:
            hint = ""
            if any(c in cell for c in ";\t|"):
                hint = " (columns must be separated by commas)"
            expected = ", ".join(allowed)
            raise InputFileError(
                f"unknown column {cell!r} (column {index + 1}); the columns are {expected}{hint}",
                source,
                line,
            )
        if name in columns and (allowed is not None or name in required):
            raise InputFileError(f"column {name!r} is given twice", source, line)
        columns.setdefault(name, index)
    missing = [name for name in required if name not in columns]
    if missing:
        raise InputFileError(f"missing column {', '.join(map(repr, missing))}", source, line)
    return columns


def _check_width(cells: Sequence[str], width: int, source: str, line: int) -> None:
    if len(cells) != width:
        raise InputFileError(f"{len(cells)} fields, the header has {width}", source, line)


def _value(
    cells: Sequence[str],
    index: int,
    column: str,
    source: str,
    line: int,
    limit: int | None = MAX_VALUE_CHARS,
) -> str:
    """The stripped value of ``column``; it may be empty, never longer than ``limit`` nor
    holding a control or invisible character (anything ``str.isprintable`` refuses: line
    breaks, tabs inside the value, a no-break space, a zero-width character)."""
    value = cells[index].strip()
    if limit is not None and len(value) > limit:
        raise InputFileError(
            f"{column} is {len(value)} characters long (at most {limit})", source, line
        )
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise InputFileError(
            f"{column} {value!r} holds a control or invisible character {bad!r}", source, line
        )
    return value


def _required(cells: Sequence[str], index: int, column: str, source: str, line: int) -> str:
    value = _value(cells, index, column, source, line)
    if not value:
        raise InputFileError(f"{column} is empty", source, line)
    return value


def _label(cells: Sequence[str], index: int, column: str, source: str, line: int) -> str:
    """An exhibit or tag label: required, and without ``"`` — a quote inside a label is
    nearly always a field quoted after a space (``E1, "E 2"``), which CSV reads literally."""
    value = _required(cells, index, column, source, line)
    if '"' in value:
        raise InputFileError(
            f"{column} {value!r} holds a quote character (quote whole fields, with no space "
            "before the opening quote)",
            source,
            line,
        )
    return value


def _fraction(text: str, column: str, source: str, line: int) -> float:
    """A number in 0–1 written as a plain decimal (``0.9``, ``1``, ``.5``, ``1e-3``)."""
    if not _NUMBER.fullmatch(text):
        raise InputFileError(f"{column} {text!r} is not a number in 0–1", source, line)
    value = float(text)
    if not 0.0 <= value <= 1.0:
        hint = " (a fraction, not a percentage)" if 1.0 < value <= 100.0 else ""
        raise InputFileError(f"{column} {text} is not in 0–1{hint}", source, line)
    return value


def _too_many(source: str, line: int, what: str, limit: int) -> InputFileError:
    return InputFileError(f"more than {limit} {what}: refused as too large", source, line)


# -- READS.csv ----------------------------------------------------------------------------


def read_reads(path: PathLike, scheme: SerialScheme = CARTRIDGE_SCHEME) -> list[TagRead]:
    """The tag reads of ``READS.csv``, in file order (see the module docstring).

    Each :class:`TagRead` has the stripped ``exhibit``, ``tag`` and ``read`` text as
    written, ``confidence`` (1 when the column or the cell is empty) and ``line`` (where
    its row starts).

    Raises:
        InputFileError: the file cannot be read; it is empty or has no row; a column that
            is unknown, repeated or missing; a row with the wrong number of fields; an
            empty exhibit, tag or read; a read not in the notation for ``scheme`` (the
            :class:`~taserlink.errors.ReadError`'s reason is quoted); a confidence not a
            number in 0–1; a tag given twice in one exhibit (both lines named); malformed
            CSV or text; a size limit exceeded.  The message starts with ``file:line``.
    """
    source = os.fspath(path)
    reads: list[TagRead] = []
    seen: dict[tuple[str, str], int] = {}
    with _open(path) as stream:
        records = _records(_lines(stream, source), source)
        first = next(records, None)
        if first is None:
            raise InputFileError("empty file: no header row", source)
        header_line, header = first
        columns = _header(
            header, source, header_line, allowed=READS_COLUMNS, required=READS_REQUIRED
        )
        width = len(header)
        for line, cells in records:
            if len(reads) >= MAX_READS:
                raise _too_many(source, line, "reads", MAX_READS)
            _check_width(cells, width, source, line)
            exhibit = _label(cells, columns["exhibit"], "exhibit", source, line)
            tag = _label(cells, columns["tag"], "tag", source, line)
            text = _required(cells, columns["read"], "read", source, line)
            try:
                parse_read(text, scheme)
            except ReadError as error:
                raise InputFileError(f"bad read: {error}", source, line) from None
            confidence = 1.0
            if "confidence" in columns:
                given = _value(cells, columns["confidence"], "confidence", source, line)
                if given:
                    confidence = _fraction(given, "confidence", source, line)
            earlier = seen.setdefault((exhibit, tag), line)
            if earlier != line:
                raise InputFileError(
                    f"tag {tag!r} of exhibit {exhibit!r} is given twice (first on line "
                    f"{earlier}): one tag must not be counted twice",
                    source,
                    line,
                )
            reads.append(TagRead(exhibit, tag, text, confidence, line))
    if not reads:
        raise InputFileError("no reads: the file has a header row only", source)
    return reads


# -- SERIALS ------------------------------------------------------------------------------


def read_serials(path: PathLike, scheme: SerialScheme = CARTRIDGE_SCHEME) -> list[str]:
    """The candidate serials of ``SERIALS``, canonical, in file order (see the module
    docstring for the text and CSV forms).

    Raises:
        InputFileError: the file cannot be read; it holds no serial; a serial that is not
            valid in ``scheme`` (the :class:`~taserlink.errors.SerialError`'s reason is
            quoted); a duplicate (naming the line it repeats); in a CSV, a missing or
            repeated ``serial`` column, a row with the wrong number of fields or an empty
            serial; a blank line between serials; malformed CSV or text; a size limit
            exceeded.  The message starts with ``file:line``.
    """
    source = os.fspath(path)
    serials: dict[str, int] = {}
    with _open(path) as stream:
        lines = _lines(stream, source)
        first = next(lines, None)
        if first is None:
            raise InputFileError("empty file: no serial", source)
        rest = _chain(first, lines)
        if _is_serial_csv(first):
            entries = _serial_csv_entries(rest, source)
        else:
            entries = _serial_text_entries(rest, source)
        for line, text in entries:
            if len(serials) >= MAX_SERIALS:
                raise _too_many(source, line, "serials", MAX_SERIALS)
            try:
                serial = scheme.validate(text)
            except SerialError as error:
                hint = ""
                if line == 1:
                    hint = f" (a CSV needs a {SERIAL_COLUMN!r} column in its first line)"
                raise InputFileError(f"bad serial: {error}{hint}", source, line) from None
            earlier = serials.setdefault(serial, line)
            if earlier != line:
                raise InputFileError(
                    f"serial {serial} is listed twice (first on line {earlier})", source, line
                )
    if not serials:
        raise InputFileError("no serials: the list is empty", source)
    return list(serials)


def _chain(first: _T, rest: Iterator[_T]) -> Iterator[_T]:
    yield first
    yield from rest


def _is_serial_csv(first_line: str) -> bool:
    """True when ``first_line`` read as CSV has a cell ``serial`` (any case, stripped)."""
    try:
        cells = next(csv.reader([first_line], strict=True), [])
    except csv.Error:
        return False
    return any(_column_name(cell) == SERIAL_COLUMN for cell in cells)


def _serial_text_entries(lines: Iterable[str], source: str) -> Iterator[tuple[int, str]]:
    blank_at: int | None = None
    for line, text in enumerate(lines, start=1):
        value = text.strip()
        if not value:
            if blank_at is None:
                blank_at = line
            continue
        if blank_at is not None:
            raise _blank_in_middle(source, blank_at)
        if len(value) > MAX_VALUE_CHARS:
            raise InputFileError(f"{len(value)} characters: longer than any serial", source, line)
        yield line, value


def _serial_csv_entries(lines: Iterable[str], source: str) -> Iterator[tuple[int, str]]:
    records = _records(lines, source)
    first = next(records, None)
    if first is None:  # pragma: no cover - _is_serial_csv saw a `serial` cell on line 1
        raise InputFileError("no header row", source)
    header_line, header = first
    columns = _header(header, source, header_line, allowed=None, required=(SERIAL_COLUMN,))
    index = columns[SERIAL_COLUMN]
    for line, cells in records:
        _check_width(cells, len(header), source, line)
        yield line, _required(cells, index, SERIAL_COLUMN, source, line)


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
    writer = csv.writer(buffer, lineterminator="\n")
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


def write_matches(rows: Sequence[MatchRow], out: PathLike | TextIO) -> None:
    """Write ``rows`` as ``OUT.csv``: a header row of :data:`MATCH_COLUMNS`, one row each.

    ``out`` is a path or a text stream.  A path is written atomically: a temporary file in
    the same directory (the real file's, when ``out`` is a symbolic link), flushed to disk,
    then renamed over ``out`` — so an existing file is replaced only once the new one is
    complete, and a failure leaves it untouched and no temporary file behind.  A replaced
    file keeps its permissions; a new one gets the process's default (umask).  UTF-8,
    no byte-order mark, lines ending ``\\n``.

    Raises:
        ValueError: a row that :func:`read_matches` would refuse or alter (a status
            ``none`` with a serial or score, a score outside 0–1, no reads, a text value
            with surrounding white space or a control character, ...): a bug in the
            caller; nothing is written.
        OSError: the file cannot be written (its directory missing or read-only, the disk
            full, ``out`` a directory).
    """
    text = _csv_text(rows)
    if isinstance(out, str | os.PathLike):
        _write_atomic(Path(os.path.realpath(out)), text.encode("utf-8"))
    else:
        out.write(text)
        out.flush()


def _write_atomic(target: Path, data: bytes) -> None:
    try:
        mode: int | None = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None  # a new file: the umask decides, as for any file the user makes
    temporary: Path | None = None
    fd = -1
    try:
        for _ in range(16):
            candidate = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                fd = os.open(candidate, flags, 0o666)
            except FileExistsError:
                continue
            temporary = candidate
            break
        else:  # pragma: no cover - 16 collisions of 48 random bits
            raise FileExistsError(f"cannot make a temporary file beside {target}")
        with os.fdopen(fd, "wb") as stream:
            fd = -1  # the stream owns it now
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
        temporary = None
        _fsync_directory(target.parent)
    finally:
        if fd >= 0:
            os.close(fd)
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (a no-op where a directory cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_matches(path: PathLike, scheme: SerialScheme = CARTRIDGE_SCHEME) -> list[MatchRow]:
    """The rows of an ``OUT.csv`` (as :func:`write_matches` writes it), in file order.

    The file holds the *number* of reads attributed to each cartridge, not their tags:
    each row's ``tags`` is that many empty strings — so ``row.reads`` is right, and no
    made-up label can be mistaken for an examiner's (a tag in ``READS.csv`` is never
    empty).  Scores come back as written (:data:`SCORE_DECIMALS` places).  Serials are
    returned canonical.

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
    source = os.fspath(path)
    rows: list[MatchRow] = []
    with _open(path) as stream:
        records = _records(_lines(stream, source), source)
        first = next(records, None)
        if first is None:
            raise InputFileError("empty file: no header row", source)
        header_line, header = first
        columns = _header(
            header, source, header_line, allowed=MATCH_COLUMNS, required=MATCH_COLUMNS
        )
        for line, cells in records:
            if len(rows) >= MAX_READS:
                raise _too_many(source, line, "match rows", MAX_READS)
            _check_width(cells, len(header), source, line)
            rows.append(_match_row(cells, columns, scheme, source, line))
    if not rows:
        raise InputFileError("no rows: the file has a header row only", source)
    return rows


def _match_row(
    cells: Sequence[str], columns: dict[str, int], scheme: SerialScheme, source: str, line: int
) -> MatchRow:
    def value(name: str) -> str:
        return _value(cells, columns[name], name, source, line)

    exhibit = _required(cells, columns["exhibit"], "exhibit", source, line)
    word = value("status").lower()
    status = _STATUSES.get(word)
    if status is None:
        raise InputFileError(f"status {word!r} is not one of {', '.join(_STATUSES)}", source, line)
    serial = _serial_cell(value("serial"), "serial", scheme, source, line)
    score_text = value("score")
    score = _fraction(score_text, "score", source, line) if score_text else None
    if status is MatchStatus.NONE:
        if serial or score is not None:
            raise InputFileError("status none must have an empty serial and score", source, line)
    elif not serial or score is None:
        raise InputFileError(f"status {word} needs a serial and a score", source, line)
    count = value("reads")
    if not _COUNT.fullmatch(count):
        raise InputFileError(f"reads {count!r} is not a positive integer", source, line)
    if int(count) > MAX_READS:
        raise InputFileError(f"reads {count} is more than {MAX_READS}", source, line)
    runner_up = _serial_cell(value("runner_up"), "runner_up", scheme, source, line)
    runner_text = value("runner_up_score")
    runner_up_score = (
        _fraction(runner_text, "runner_up_score", source, line) if runner_text else None
    )
    if bool(runner_up) != (runner_up_score is not None):
        raise InputFileError(
            "runner_up and runner_up_score must both be given or both be empty", source, line
        )
    if runner_up and runner_up == serial:
        raise InputFileError(f"runner_up {runner_up} is the serial itself", source, line)
    explanation = _value(cells, columns["explanation"], "explanation", source, line, None)
    return MatchRow(
        exhibit=exhibit,
        serial=serial,
        status=status,
        score=score,
        tags=("",) * int(count),
        runner_up=runner_up,
        runner_up_score=runner_up_score,
        explanation=explanation,
    )


def _serial_cell(text: str, column: str, scheme: SerialScheme, source: str, line: int) -> str:
    if not text:
        return ""
    try:
        return scheme.validate(text)
    except SerialError as error:
        raise InputFileError(f"bad {column}: {error}", source, line) from None
