"""The Home Office return's counting rules, as code (design §8, ``taserlink home-office``).

Each rule with its source:

1. **One use = one device in one report.**  *Source*: the Home Office annual data
   requirement (ADR) on police use of force, from April 2017: one *report* is one
   officer's use of force on one person (several officers on one subject make several
   reports; one incident may hold many), and CED use is counted per device per report.
   An ``ACCOUNTS.csv`` row is one report and one device (README "Use-of-force accounts"),
   so one row with a device is one use (a report naming two devices is two uses).
   *Decided here*: a row with **no device** that ticks a CED use (drawn … fired) yes is
   one use too, its ``device`` empty — the form says a CED was used, and dropping it
   would make the return smaller than the forms; a row with no device and nothing ticked
   yes is no CED use and is not counted.
2. **Highest use only.**  *Source*: the Metropolitan Police's published counting rules for
   CED use, which the Home Office tables follow: each use is counted once, at its most
   severe tick, highest first angle drive stun, fired, drive stun, arced, red-dotted,
   aimed, drawn (:data:`taserlink.postuse.uses.SEVERITY`).  A multiply-ticked form
   (drawn + aimed + fired) is one use, counted as fired.
3. **Not stated.**  *Source*: the Home Office tables' "Not stated" row.  A use whose
   device is named but which ticks no use yes (every tick ``no`` or empty) is counted as
   ``not_stated``.
4. **The financial year.**  *Source*: the Home Office statistics' year, April to March.
   Year ``YYYY`` is from ``YYYY-04-01 00:00`` to ``(YYYY+1)-04-01 00:00`` (exclusive) in
   **UK local time** (``Europe/London``: GMT in winter, BST in summer), by the report's
   ``start``.  British Summer Time begins on the last Sunday of March, so 1 April always
   begins at 23:00 UTC on 31 March: ``2019-03-31T22:59:59Z`` is 23:59:59 BST on 31 March
   (year 2018), ``2019-03-31T23:30Z`` is 00:30 BST on 1 April (year 2019), and
   ``2020-03-31T23:30Z`` is 00:30 BST on 1 April 2020 (year 2020) — a UTC date would put
   each of the last two in the wrong year.  The edges are computed once
   per year with :mod:`zoneinfo` (the ``tzdata`` package supplies the zone where the
   operating system has none), so the year test itself is two integer comparisons.
5. **The tables and their row orders.**  *Source*: the Home Office's published "Police use
   of force statistics" tables for CED use: by highest use (Drawn, Aimed, Red-dot, Arced,
   Drive stun, Angled drive stun, Fired, Not stated), by subject age (Under 11, 11-17,
   18-34, 35-49, 50-64, 65+, Not reported), by ethnicity (White, Black, Asian, Mixed,
   Other, Not reported), by perceived health condition (Mental, Physical, Both, None, Not
   reported), each ending with a Total equal to the number of uses: every use lands in
   exactly one row of each table (a subject detail left empty is "Not reported").  The
   subject's details are as the officer perceived them (the ADR's wording).

Counting is plain :class:`collections.Counter` work over the accounts read: some 4 to 6 s
for a million accounts, after the 25 to 29 s :func:`~taserlink.postuse.accounts.read_accounts`
takes to read and check them.  Straight from a file,
:func:`taserlink.returns.fastcount.count_file` checks and counts a column at a time, the
same uses and tables: 9.2 s for the same million, reading included, against 31.2 s read
and counted row by row in the same run (bench/bench_returns.py, bench/README.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, Final
from zoneinfo import ZoneInfo

from taserlink.errors import ReturnError
from taserlink.postuse.accounts import AGE_BANDS, ETHNICITIES, HEALTH, Account
from taserlink.postuse.uses import USES

__all__ = [
    "AGE_ROWS",
    "ETHNICITY_ROWS",
    "HEALTH_ROWS",
    "HIGHEST_USES",
    "HIGHEST_USE_ROWS",
    "NOT_STATED",
    "TABLES",
    "TOTAL",
    "UK",
    "Count",
    "Counted",
    "Table",
    "TableSpec",
    "Use",
    "count_return",
    "count_tables",
    "financial_year",
    "financial_year_bounds",
    "use_of",
    "uses_in_year",
]

UK: Final = ZoneInfo("Europe/London")
"""The zone the financial year is reckoned in (UK local time: GMT/BST)."""
NOT_STATED: Final = "not_stated"
"""The highest use of a CED use whose form ticks no use yes."""
HIGHEST_USES: Final = (*USES, NOT_STATED)
"""Every ``highest_use`` value of ``reports.csv`` (**contract**), most severe first."""
TOTAL: Final = "Total"
"""The label of every table's last row: the number of uses."""

HIGHEST_USE_ROWS: Final = (
    ("drawn", "Drawn"),
    ("aimed", "Aimed"),
    ("red_dotted", "Red-dot"),
    ("arced", "Arced"),
    ("drive_stun", "Drive stun"),
    ("angle_drive_stun", "Angled drive stun"),
    ("fired", "Fired"),
    (NOT_STATED, "Not stated"),
)
"""``ced-by-highest-use``: (value of :attr:`Use.highest_use`, published label), in the
published row order."""
AGE_ROWS: Final[tuple[tuple[str | None, str], ...]] = (
    *zip(AGE_BANDS, ("Under 11", "11-17", "18-34", "35-49", "50-64", "65+"), strict=True),
    (None, "Not reported"),
)
"""``ced-by-age``: (:attr:`Use.subject_age` band or ``None``, published label)."""
ETHNICITY_ROWS: Final[tuple[tuple[str | None, str], ...]] = (
    *((group, group) for group in ETHNICITIES),
    (None, "Not reported"),
)
"""``ced-by-ethnicity``: (:attr:`Use.subject_ethnicity` or ``None``, published label)."""
HEALTH_ROWS: Final[tuple[tuple[str | None, str], ...]] = (
    *zip(HEALTH, ("Mental", "Physical", "Both", "None"), strict=True),
    (None, "Not reported"),
)
"""``ced-by-health``: (:attr:`Use.subject_health` or ``None``, published label)."""

_FIRST_YEAR: Final = 1900
_LAST_YEAR: Final = 9998


@dataclass(frozen=True, slots=True)
class Use:
    """One CED use as the return counts it: one device in one report (rule 1).

    Attributes:
        report: the report's id.
        incident: the incident's id.
        officer: the officer's id.
        device: the device serial; ``None`` for a report that ticks a CED use and names
            no device.
        start_ms: when the use of force began, Unix milliseconds UTC.
        highest_use: one of :data:`HIGHEST_USES` (rules 2 and 3).
        subject_age: one of :data:`~taserlink.postuse.accounts.AGE_BANDS`, or ``None``
            (not reported).
        subject_ethnicity: one of :data:`~taserlink.postuse.accounts.ETHNICITIES`, or
            ``None``.
        subject_health: one of :data:`~taserlink.postuse.accounts.HEALTH`, or ``None``.
        line: the accounts file's line the row was on (0: not read from a file); takes no
            part in comparisons.
    """

    report: str
    incident: str
    officer: str
    device: str | None
    start_ms: int
    highest_use: str
    subject_age: str | None = None
    subject_ethnicity: str | None = None
    subject_health: str | None = None
    line: int = 0

    def key(self) -> tuple[int, str, str]:
        """The order of ``reports.csv``: start, report, device (none first)."""
        return (self.start_ms, self.report, self.device or "")


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A published table: its file stem, its first column's header, which :class:`Use`
    field it counts and its rows (value, label) in published order."""

    name: str
    column: str
    field: str
    rows: tuple[tuple[str | None, str], ...]


TABLES: Final = (
    TableSpec("ced-by-highest-use", "highest_use", "highest_use", HIGHEST_USE_ROWS),
    TableSpec("ced-by-age", "age", "subject_age", AGE_ROWS),
    TableSpec("ced-by-ethnicity", "ethnicity", "subject_ethnicity", ETHNICITY_ROWS),
    TableSpec("ced-by-health", "health", "subject_health", HEALTH_ROWS),
)
"""The four published tables (**contract**: names, headers, row orders; design §8)."""


@dataclass(frozen=True, slots=True)
class Count:
    """One row of a table: its published label and the number of uses in it."""

    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Table:
    """A published table counted: its spec and its rows, the last ``Total``."""

    spec: TableSpec
    rows: tuple[Count, ...]

    @property
    def name(self) -> str:
        """The table's file stem (``ced-by-age``)."""
        return self.spec.name

    @property
    def total(self) -> int:
        """The ``Total`` row's count (the number of uses)."""
        return self.rows[-1].count

    def __getitem__(self, label: str) -> int:
        """The count of the row labelled ``label`` (``KeyError`` if there is none)."""
        for row in self.rows:
            if row.label == label:
                return row.count
        raise KeyError(label)

    def as_dict(self) -> dict[str, int]:
        """Label → count, in row order (``Total`` last)."""
        return {row.label: row.count for row in self.rows}


def financial_year_bounds(year: int) -> tuple[int, int]:
    """The financial year ``year`` (rule 4) as Unix ms UTC: ``[start, end)``, from
    ``year``-04-01 00:00 to (``year``+1)-04-01 00:00 UK local time.

    Raises:
        ReturnError: ``year`` is not a whole number 1900–9998.
    """
    if isinstance(year, bool) or not isinstance(year, int):
        raise ReturnError(f"financial year {year!r} is not a whole number")
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ReturnError(f"financial year {year} is outside {_FIRST_YEAR}-{_LAST_YEAR}")
    return _april_first(year), _april_first(year + 1)


def _april_first(year: int) -> int:
    return int(datetime(year, 4, 1, tzinfo=UK).timestamp()) * 1000


def financial_year(start_ms: int) -> int:
    """The financial year (rule 4) the instant ``start_ms`` (Unix ms UTC) falls in: the
    calendar year of its UK local date, less one before 1 April."""
    local = datetime.fromtimestamp(start_ms / 1000, UK)
    return local.year if local.month >= 4 else local.year - 1


def use_of(account: Account) -> Use | None:
    """The use ``account`` counts as (rules 1–3), or ``None`` when it is no CED use (no
    device and nothing ticked yes)."""
    highest = NOT_STATED
    for use in USES:  # most severe first: the first ticked yes is the highest
        if getattr(account, use) is True:
            highest = use
            break
    if account.device is None and highest == NOT_STATED:
        return None
    return Use(
        account.report,
        account.incident,
        account.officer,
        account.device,
        account.start_ms,
        highest,
        account.subject_age,
        account.subject_ethnicity,
        account.subject_health,
        account.line,
    )


def uses_in_year(accounts: Iterable[Account], year: int) -> tuple[Use, ...]:
    """The uses of ``accounts`` whose start falls in the financial year ``year`` (rules
    1–4), in ``reports.csv`` order (:meth:`Use.key`).

    Raises:
        ReturnError: a bad ``year``; an item of ``accounts`` that is no ``Account``.
    """
    lo, hi = financial_year_bounds(year)
    found = []
    for account in accounts:
        if not isinstance(account, Account):
            raise ReturnError(f"{account!r} is not an Account")
        if lo <= account.start_ms < hi:
            use = use_of(account)
            if use is not None:
                found.append(use)
    found.sort(key=Use.key)
    return tuple(found)


def count_tables(uses: Iterable[Use]) -> tuple[Table, ...]:
    """The four published tables of :data:`TABLES` over ``uses`` (rule 5)."""
    uses = tuple(uses)
    total = len(uses)
    counters: list[Counter[Any]] = [Counter(map(attrgetter(spec.field), uses)) for spec in TABLES]
    return tuple(
        _table(spec, counter, total) for spec, counter in zip(TABLES, counters, strict=True)
    )


def _table(spec: TableSpec, counter: Mapping[Any, int], total: int) -> Table:
    rows = tuple(Count(label, counter.get(value, 0)) for value, label in spec.rows)
    if sum(row.count for row in rows) != total:  # a value no row holds: a bug, not input
        raise AssertionError(f"{spec.name}: rows do not sum to {total}")
    return Table(spec, (*rows, Count(TOTAL, total)))


@dataclass(frozen=True, slots=True)
class Counted:
    """A financial year's return counted: its uses and the four tables."""

    year: int
    uses: tuple[Use, ...]
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table:
        """The table named ``name`` (``ced-by-age``…); ``KeyError`` if none."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


def count_return(accounts: Iterable[Account], year: int) -> Counted:
    """The return of the financial year ``year`` from ``accounts`` (rules 1–5).

    Raises:
        ReturnError: a bad ``year``; an item that is no ``Account``.
    """
    uses = uses_in_year(accounts, year)
    return Counted(year, uses, count_tables(uses))
