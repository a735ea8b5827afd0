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
- the CSV rules are those of every table the forensic commands read
  (:mod:`taserlink.forensics.tables`), so an examiner can predict what is refused: UTF-8
  (a leading byte-order mark allowed), lines ending LF or CRLF, RFC 4180 quoting, values
  stripped of surrounding spaces and holding no control or invisible character, every row
  as wide as the header, blank lines only at the end, a line at most
  :data:`~taserlink.forensics.tables.MAX_LINE_BYTES` bytes and a value at most
  :data:`~taserlink.forensics.tables.MAX_VALUE_CHARS` characters, at least one row.

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

import enum
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from taserlink.errors import InputFileError, LinkError, SerialError, TimeTextError, excerpt
from taserlink.forensics import tables
from taserlink.forensics.tables import Row
from taserlink.register import Register
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from taserlink.timeline import times
from taserlink.timeline.times import utc_text

__all__ = [
    "ISSUE_COLUMNS",
    "Issue",
    "IssueKind",
    "IssueList",
    "officer_key",
    "parse_issues",
    "parse_utc",
    "issues_from_register",
    "read_issues",
]

ISSUE_COLUMNS: Final = ("serial", "officer", "issued_at", "returned_at")
"""The issue list's columns."""


def parse_utc(text: str) -> int:
    """An ISO 8601 time with an explicit zone as Unix ms UTC
    (:func:`taserlink.timeline.times.parse_utc`).

    Raises:
        LinkError: the text is not such a time, saying which.
    """
    try:
        return times.parse_utc(text)
    except TimeTextError as error:
        raise LinkError(str(error)) from None


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
    entry: int | None = None
    """The register's ledger entry that issued it (an issue list read from a register)."""

    def covers(self, utc_ms: int) -> bool:
        """True when the serial was out on this issue at ``utc_ms`` (half-open period)."""
        return self.issued_ms <= utc_ms and (self.returned_ms is None or utc_ms < self.returned_ms)

    def period_text(self) -> str:
        """``<issued> to <returned>`` or ``<issued> onwards (not returned)``."""
        if self.returned_ms is None:
            return f"{utc_text(self.issued_ms)} onwards (not returned)"
        return f"{utc_text(self.issued_ms)} to {utc_text(self.returned_ms)}"

    def where(self) -> str:
        """``line N`` or ``ledger entry N`` for messages (``an issue`` when made in code)."""
        if self.line is not None:
            return f"line {self.line}"
        return "an issue" if self.entry is None else f"ledger entry {self.entry}"


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
    _edges: dict[str, tuple[int, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """:meth:`edges` of each serial asked for, kept (the issues never change)."""

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
                        f"{serial} issued to {excerpt(second.officer)} ({second.period_text()}) "
                        f"overlaps its issue on {first.where()} to {excerpt(first.officer)} "
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
        found = self._edges.get(serial)
        if found is None:
            times = set()
            for issue in self.of(serial):
                times.add(issue.issued_ms)
                if issue.returned_ms is not None:
                    times.add(issue.returned_ms)
            found = self._edges[serial] = tuple(sorted(times))
        return found


def read_issues(path: str | os.PathLike[str]) -> IssueList:
    """Read the issue list at ``path`` (see the module docstring for the format).

    Raises:
        InputFileError: the file cannot be read, is not UTF-8, or is malformed, with the
            path and line.
    """
    rows = tables.file_rows(path, allowed=ISSUE_COLUMNS, required=ISSUE_COLUMNS, what="issues")
    return IssueList(os.fspath(path), tuple(_issue(row) for row in rows))


def parse_issues(text: str, source: str = "<issues>") -> IssueList:
    """Parse issue-list CSV ``text``; ``source`` names it in messages.

    Raises:
        InputFileError: no header, a missing, unknown or repeated column, a row with the
            wrong number of fields, a bad serial, officer or time, a return before its
            issue, or two overlapping issues of one serial.
    """
    lines = tables.text_lines(text, source)
    rows = tables.rows(lines, source, allowed=ISSUE_COLUMNS, required=ISSUE_COLUMNS, what="issues")
    return IssueList(source, tuple(_issue(row) for row in rows))


def issues_from_register(register: Register, source: str) -> IssueList:
    """The issue list a register's ledger gives (:meth:`Register.issue_periods`): what
    ``register export issues`` writes, without the file; ``source`` names it in messages.

    Raises:
        InputFileError: the ledger holds overlapping issues of one serial (it cannot, by
            the register's rules, unless the ledger was tampered with: verify it).
    """
    return IssueList(
        source,
        tuple(
            Issue(
                p.serial,
                _serial(p.serial)[1],
                p.officer,
                p.issued_ms,
                p.returned_ms,
                None,
                p.entry,
            )
            for p in register.issue_periods()
        ),
    )


def _serial(text: str) -> tuple[str, IssueKind]:
    normalized = DEVICE_SCHEME.normalize(text)
    if normalized.startswith("D"):
        return DEVICE_SCHEME.validate(text), IssueKind.DEVICE
    return CARTRIDGE_SCHEME.validate(text), IssueKind.CARTRIDGE


def _issue(row: Row) -> Issue:
    values = {name: row.value(name) for name in ISSUE_COLUMNS}
    if not values["serial"]:
        raise row.error("serial is empty")
    try:
        serial, kind = _serial(values["serial"])
    except SerialError as error:
        raise row.error(f"serial: {error}") from None
    officer = values["officer"]
    if not officer:
        raise row.error(f"officer is empty for {serial}")
    times: list[int | None] = []
    for name in ("issued_at", "returned_at"):
        if not values[name]:
            if name == "issued_at":
                raise row.error(f"issued_at is empty for {serial}")
            times.append(None)
            continue
        try:
            times.append(parse_utc(values[name]))
        except LinkError as error:
            raise row.error(f"{name}: {error}") from None
    issued, returned = times
    assert issued is not None
    if returned is not None and returned < issued:
        raise row.error(
            f"{serial} returned_at {utc_text(returned)} is before issued_at {utc_text(issued)}"
        )
    return Issue(serial, kind, officer, issued, returned, row.line)
