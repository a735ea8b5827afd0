"""The issue list: which officer had which device and which cartridge, and when.

Linkage (:mod:`taserlink.forensics.link`) needs to know who held a device and to whom a
cartridge was signed out at the (corrected) time of a deployment.  A force exports that
from its register as a CSV file, the **issue list**:

- a header row naming the columns ``serial``, ``officer``, ``issued_at``, ``returned_at``
  (in any order; names are matched ignoring case and surrounding spaces; no other column);
- one row per issue: ``serial`` a device serial (``D…``, :data:`DEVICE_SCHEME`) or a
  cartridge serial (:data:`CARTRIDGE_SCHEME`), validated with its check character (hyphens,
  spaces and case ignored); ``officer`` who took it (any printable text, e.g. ``PC 4127``);
  ``issued_at`` when it went out; ``returned_at`` when it came back, empty while it is still
  out;
- the CSV rules are those of the match files (:mod:`taserlink.forensics.matchfiles`), so
  an examiner can predict what is refused: UTF-8 (a leading byte-order mark allowed),
  lines ending LF or CRLF, RFC 4180 quoting, values stripped of surrounding spaces and
  holding no control or invisible character, every row as wide as the header, blank lines
  only at the end, a line at most :data:`MAX_LINE_CHARS` and a value at most
  :data:`MAX_VALUE_CHARS` characters, at least one row.

**Times** (:func:`parse_utc`) are ISO 8601 with an explicit zone:
``2024-03-05T06:30:00Z`` — date, ``T`` (or one space), hours and minutes, optional seconds
and an optional fraction (``.`` or ``,``, truncated to the millisecond), then ``Z`` or an
offset ``±HH:MM`` (``±HHMM``), which is converted to UTC.  A time without a zone is refused:
it could be local time, which in the United Kingdom is an hour off UTC for half of the
year, and an hour is enough to hand a device to the wrong shift.  A date alone is refused:
a day is not an instant.

An issue *period* is half-open: the serial is out from ``issued_at`` (inclusive) to
``returned_at`` (exclusive), so a serial returned and reissued at the same instant is never
out twice.  Issues of one serial may not overlap — a device or cartridge is out to one
officer at a time (design §7) — and ``returned_at`` may not precede ``issued_at``.

Every problem is an :class:`~taserlink.errors.InputFileError` naming the file and the
1-based line (the first line of a record that spans several); nothing is skipped silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from taserlink.errors import InputFileError, LinkError, SerialError
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME

__all__ = [
    "ISSUE_COLUMNS",
    "MAX_LINE_CHARS",
    "MAX_VALUE_CHARS",
    "Issue",
    "IssueKind",
    "IssueList",
    "officer_key",
    "parse_issues",
    "parse_utc",
    "read_issues",
    "utc_text",
]

ISSUE_COLUMNS: Final = ("serial", "officer", "issued_at", "returned_at")
"""The issue list's columns."""
MAX_LINE_CHARS: Final = 65_536
"""Longest line an issue list may have (a longer one is not an issue list)."""
MAX_VALUE_CHARS: Final = 256
"""Longest value (an officer's name, a time) in characters."""

_UTC_PATTERN: Final = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_DATE_ONLY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNIX_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EXAMPLE: Final = "2024-03-05T06:30:00Z"


def parse_utc(text: str) -> int:
    """An ISO 8601 time with an explicit zone (see the module docstring) as Unix ms UTC.

    Examples: ``2024-03-05T06:30:00Z``, ``2024-03-05 06:30Z``,
    ``2024-03-05T07:30:00.250+01:00`` (= 06:30:00.250 UTC).

    Raises:
        LinkError: the text is not such a time (a naive time, a date alone, a field out of
            range, anything else), saying which.
    """
    stripped = text.strip()
    found = _UTC_PATTERN.fullmatch(stripped)
    if found is None:
        if _DATE_ONLY.fullmatch(stripped):
            raise LinkError(f"{text!r} is a date, not an instant: give a time, e.g. {_EXAMPLE}")
        raise LinkError(f"{text!r} is not an ISO 8601 UTC time like {_EXAMPLE}")
    zone = found["zone"]
    if zone is None:
        raise LinkError(
            f"{text!r} has no time zone: write UTC with 'Z' (e.g. {_EXAMPLE}); a time "
            "without a zone may be local time, an hour off UTC in summer"
        )
    if zone in "Zz":
        offset = dt.timedelta(0)
    else:
        digits = zone[1:].replace(":", "")
        if int(digits[2:]) >= 60:
            raise LinkError(f"{text!r} has an offset with {digits[2:]} minutes")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if zone[0] == "-":
            offset = -offset
    try:
        when = dt.datetime(
            int(found["year"]),
            int(found["month"]),
            int(found["day"]),
            int(found["hour"]),
            int(found["minute"]),
            int(found["second"] or 0),
            tzinfo=dt.timezone(offset),
        )
        millis = int((found["fraction"] or "0").ljust(3, "0")[:3])
        result = (when - _UNIX_EPOCH) // dt.timedelta(milliseconds=1) + millis
        _UNIX_EPOCH + dt.timedelta(milliseconds=result)  # in years 1–9999 as UTC too
    except (ValueError, OverflowError) as error:
        raise LinkError(f"{text!r} is not a valid time: {error}") from None
    return result


def utc_text(ms: int) -> str:
    """Unix ms as ISO 8601 UTC with ``Z`` and milliseconds, e.g. ``2024-03-05T06:30:00.000Z``
    (``<ms> ms`` outside years 1–9999)."""
    try:
        when = _UNIX_EPOCH + dt.timedelta(milliseconds=ms)
    except OverflowError:
        return f"{ms} ms"
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def officer_key(officer: str) -> str:
    """What two officer names are compared by: case folded, runs of spaces made one
    (``"PC  4127"`` and ``"pc 4127"`` are the same officer)."""
    return " ".join(officer.split()).casefold()


class IssueKind(enum.Enum):
    """What was issued."""

    DEVICE = "device"
    CARTRIDGE = "cartridge"


@dataclass(frozen=True)
class Issue:
    """One row of the issue list.

    Attributes:
        serial: the canonical serial.
        kind: device or cartridge (from the serial's scheme).
        officer: who took it, as written (surrounding spaces removed).
        issued_ms: when it went out (Unix ms UTC).
        returned_ms: when it came back (Unix ms UTC), ``None`` while still out.
        line: the line of the issue list it came from (``None`` if made in code).
    """

    serial: str
    kind: IssueKind
    officer: str
    issued_ms: int
    returned_ms: int | None
    line: int | None = None

    def covers(self, utc_ms: int) -> bool:
        """True when the serial was out on this issue at ``utc_ms`` (half-open period)."""
        return self.issued_ms <= utc_ms and (self.returned_ms is None or utc_ms < self.returned_ms)

    def period_text(self) -> str:
        """``<issued> to <returned>`` or ``<issued> onwards (not returned)``."""
        if self.returned_ms is None:
            return f"{utc_text(self.issued_ms)} onwards (not returned)"
        return f"{utc_text(self.issued_ms)} to {utc_text(self.returned_ms)}"

    def where(self) -> str:
        """``line N`` for messages (``an issue`` when made in code)."""
        return "an issue" if self.line is None else f"line {self.line}"


@dataclass(frozen=True)
class IssueList:
    """Every issue of a file, in file order, with lookups by serial.

    Build with :func:`read_issues` or :func:`parse_issues`; built directly from
    :class:`Issue` values, it is checked the same way (overlaps, order of times).

    Raises:
        InputFileError: two issues of one serial overlap, or one is returned before it was
            issued.
    """

    source: str
    issues: tuple[Issue, ...]
    _by_serial: dict[str, tuple[Issue, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        grouped: dict[str, list[Issue]] = {}
        for issue in self.issues:
            if issue.returned_ms is not None and issue.returned_ms < issue.issued_ms:
                raise InputFileError(
                    f"{issue.serial} returned_at {utc_text(issue.returned_ms)} is before "
                    f"issued_at {utc_text(issue.issued_ms)}",
                    self.source,
                    issue.line,
                )
            grouped.setdefault(issue.serial, []).append(issue)
        for serial, group in grouped.items():
            group.sort(key=lambda i: (i.issued_ms, i.line or 0))
            for earlier, later in itertools.pairwise(group):
                if earlier.returned_ms is None or later.issued_ms < earlier.returned_ms:
                    first, second = sorted((earlier, later), key=lambda i: i.line or 0)
                    raise InputFileError(
                        f"{serial} issued to {second.officer!r} ({second.period_text()}) "
                        f"overlaps its issue on {first.where()} to {first.officer!r} "
                        f"({first.period_text()}): a serial is out to one officer at a time",
                        self.source,
                        second.line,
                    )
            self._by_serial[serial] = tuple(group)

    def __contains__(self, serial: object) -> bool:
        return serial in self._by_serial

    def __len__(self) -> int:
        return len(self.issues)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def of(self, serial: str) -> tuple[Issue, ...]:
        """The issues of canonical ``serial``, earliest first (empty if it was never issued)."""
        return self._by_serial.get(serial, ())

    def holder_at(self, serial: str, utc_ms: int) -> Issue | None:
        """The issue ``serial`` was out on at ``utc_ms``, or ``None``."""
        for issue in self.of(serial):
            if issue.covers(utc_ms):
                return issue
        return None

    def edges(self, serial: str) -> tuple[int, ...]:
        """Every instant at which ``serial`` was issued or returned, in order."""
        times = set()
        for issue in self.of(serial):
            times.add(issue.issued_ms)
            if issue.returned_ms is not None:
                times.add(issue.returned_ms)
        return tuple(sorted(times))


def read_issues(path: str | os.PathLike[str]) -> IssueList:
    """Read the issue list at ``path`` (see the module docstring for the format).

    Raises:
        InputFileError: the file cannot be read, is not UTF-8, or is malformed, with the
            path and line.
    """
    source = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputFileError(f"cannot read: {error.strerror or error}", source) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputFileError("not UTF-8 text", source, line) from None
    return parse_issues(text, source)


def _lines(text: str, source: str) -> Iterator[str]:
    """``text`` split after each LF only (a lone CR stays inside its line), bounded."""
    for number, line in enumerate(io.StringIO(text, newline="\n"), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise InputFileError(
                f"line longer than {MAX_LINE_CHARS} characters: not an issue list", source, number
            )
        yield line


def _records(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on; blank lines allowed only at the end."""
    reader = csv.reader(_lines(text, source), strict=True)
    blank_at: int | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            reason = str(error)
            if reason.startswith("new-line character seen in unquoted field"):
                reason = "a carriage return inside an unquoted field (lines end with LF or CRLF)"
            elif reason == "unexpected end of data":
                reason = "a quoted field is not closed before the end of the file"
            raise InputFileError(f"malformed CSV: {reason}", source, start) from None
        if not row or (len(row) == 1 and not row[0].strip()):
            blank_at = start if blank_at is None else blank_at
            continue
        if blank_at is not None:
            raise InputFileError(
                "blank line between data lines (blank lines are allowed only at the end)",
                source,
                blank_at,
            )
        yield start, row


def _columns(header: list[str], source: str, line: int) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    where: dict[str, int] = {}
    for index, name in enumerate(names):
        if name not in ISSUE_COLUMNS:
            shown = repr(header[index].strip()) if name else "an unnamed column"
            raise InputFileError(
                f"unknown column {shown} (column {index + 1}): the columns are "
                f"{', '.join(ISSUE_COLUMNS)}",
                source,
                line,
            )
        if name in where:
            raise InputFileError(f"column {name!r} is given twice", source, line)
        where[name] = index
    missing = [name for name in ISSUE_COLUMNS if name not in where]
    if missing:
        raise InputFileError(f"missing column(s): {', '.join(missing)}", source, line)
    return where


def _serial(text: str) -> tuple[str, IssueKind]:
    normalized = DEVICE_SCHEME.normalize(text)
    if normalized.startswith("D"):
        return DEVICE_SCHEME.validate(text), IssueKind.DEVICE
    return CARTRIDGE_SCHEME.validate(text), IssueKind.CARTRIDGE


def _issue(cells: dict[str, str], source: str, line: int) -> Issue:
    def fail(message: str) -> InputFileError:
        return InputFileError(message, source, line)

    for name in ISSUE_COLUMNS:
        value = cells[name].strip()
        if len(value) > MAX_VALUE_CHARS:
            raise fail(f"{name} is {len(value)} characters long (at most {MAX_VALUE_CHARS})")
        if not value.isprintable():
            raise fail(f"{name} {value!r} holds a control or invisible character")
    serial_text = cells["serial"].strip()
    if not serial_text:
        raise fail("serial is empty")
    try:
        serial, kind = _serial(serial_text)
    except SerialError as error:
        raise fail(f"serial: {error}") from None
    officer = cells["officer"].strip()
    if not officer:
        raise fail(f"officer is empty for {serial}")
    times: list[int | None] = []
    for name in ("issued_at", "returned_at"):
        value = cells[name].strip()
        if not value:
            if name == "issued_at":
                raise fail(f"issued_at is empty for {serial}")
            times.append(None)
            continue
        try:
            times.append(parse_utc(value))
        except LinkError as error:
            raise fail(f"{name}: {error}") from None
    issued, returned = times
    assert issued is not None
    if returned is not None and returned < issued:
        raise fail(
            f"{serial} returned_at {utc_text(returned)} is before issued_at {utc_text(issued)}"
        )
    return Issue(serial, kind, officer, issued, returned, line)


def parse_issues(text: str, source: str = "<issues>") -> IssueList:
    """Parse issue-list CSV ``text``; ``source`` names it in messages.

    Raises:
        InputFileError: no header, a missing, unknown or repeated column, a row with the
            wrong number of fields, a bad serial, officer or time, a return before its
            issue, or two overlapping issues of one serial.
    """
    records = _records(text, source)
    first = next(records, None)
    if first is None:
        raise InputFileError("empty file: no header row", source)
    header_line, header = first
    columns = _columns(header, source, header_line)
    issues: list[Issue] = []
    for line, row in records:
        if len(row) != len(columns):
            raise InputFileError(
                f"{len(row)} field(s), the header has {len(columns)}", source, line
            )
        cells = {name: row[index] for name, index in columns.items()}
        issues.append(_issue(cells, source, line))
    if not issues:
        raise InputFileError("no issues: the file has a header row only", source)
    return IssueList(source, tuple(issues))
