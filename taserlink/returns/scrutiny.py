"""The oversight group's figures for a financial year (design §8, ``taserlink scrutiny``):
what the group asks of every year's uses, as tables a member who is not a statistician
can read, each the source of one plot and one CSV of the pack.

:func:`scrutinise` takes a counted, corroborated return
(:func:`~taserlink.returns.homeoffice.home_office_return`) and gives a :class:`Scrutiny`;
:func:`pack_tables` lays it out as the pack's tables (:class:`PackTable`), full or — for
publication — with small numbers withheld (:mod:`taserlink.returns.suppress`).  Every
number the pack shows, in a table, a plot or ``scrutiny.json``, comes from those tables.

The figures, and where each comes from:

- **Uses by month and highest use**: the year's uses by the month (UK local time) of the
  report's start, each at its highest use (the return's counting rules).
- **Discharges**: a use is a *discharge* when its highest use is fired, drive stun or
  angled drive stun (the Home Office tables' grouping: energy was, or may have been,
  delivered); every other use, ``not_stated`` included, is not.
- **Subject age, ethnicity and health**: the return's three published tables (as the
  officer perceived them).
- **Rates and disproportionality**: :func:`taserlink.returns.rates.rates` against the
  population table (per 10,000 people; the ratio to White with Katz's 95 % interval).
- **Under-18s**: uses whose subject was under 11 or 11-17, by highest use, and (full pack
  only) each such report.
- **Corroboration** (with downloads): the uses by what the device downloads say of them,
  and (full pack only) each report whose device shows a higher use than its form
  (``device_higher``).
- **Energy from the device logs** (with downloads only): the use episodes of the year —
  those a report of the year covers, and those no report covers whose corrected start
  falls in the year — with every energy application by its length (up to 5 s, over 5 s
  to 20 s, over 20 s: the IOPC's two concerns) and every episode by its number of cycles
  (repeated cycles).  An application's length is the device's own log of how long
  energy was delivered; a cycle is an application, or several joined as one interrupted
  cycle (:class:`~taserlink.postuse.episodes.Cycle`).  Episodes with a long application
  are also counted by the subject's ethnicity in the full pack (an episode two reports
  cover is "More than one report", one no report covers "No report").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from taserlink.postuse.episodes import LONG_APPLICATION_MS, Episode, EpisodeKind
from taserlink.returns.counting import (
    AGE_ROWS,
    HIGHEST_USE_ROWS,
    TOTAL,
    UK,
    Table,
    Use,
    financial_year_bounds,
)
from taserlink.returns.homeoffice import Corroboration, HomeOfficeReturn, ReturnRow
from taserlink.returns.population import GROUPS, Population
from taserlink.returns.rates import RATE_KEYS, Rate, rates
from taserlink.returns.suppress import (
    NOT_REPORTED,
    WITHHELD,
    derived_table,
    public_rates,
    suppress_part,
    suppress_table,
)
from taserlink.timeline.times import utc_iso

__all__ = [
    "DISCHARGES",
    "LENGTH_ROWS",
    "UNDER_18",
    "VERY_LONG_MS",
    "Energy",
    "PackTable",
    "Scrutiny",
    "pack_rates",
    "pack_tables",
    "scrutinise",
]

DISCHARGES: Final = ("angle_drive_stun", "fired", "drive_stun")
"""The highest uses that are a *discharge* (the Home Office tables' grouping)."""
VERY_LONG_MS: Final = 20_000
"""An energy application longer than this (ms) is *very long* (the IOPC found some over
20 s)."""
LENGTH_ROWS: Final = ("Up to 5 s", "Over 5 s to 20 s", "Over 20 s")
"""The rows of the energy applications' lengths (ms: ≤ 5,000; 5,001–20,000; > 20,000)."""
UNDER_18: Final = ("under 11", "11-17")
"""The age bands of subjects under 18."""
_MORE_THAN_ONE: Final = "More than one report"
_NO_REPORT: Final = "No report"


@dataclass(frozen=True, slots=True)
class Energy:
    """What the device logs show of energy in the year's use episodes (module docstring).

    Attributes:
        episodes: the use episodes counted, in device then sequence order.
        subjects: for each episode, the subject's ethnicity as its one covering report
            gives it (``Not reported`` when the report gives none), ``More than one
            report`` or ``No report``.
        lengths: applications up to 5 s, over 5 s to 20 s, over 20 s.
        cycles: episodes with 1 cycle, 2 cycles, 3 or more (an episode with none — drawn,
            aimed, arced — is not counted).
    """

    episodes: tuple[Episode, ...]
    subjects: tuple[str, ...]
    lengths: tuple[int, int, int]
    cycles: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Scrutiny:
    """A financial year's figures for the oversight group (module docstring).

    Attributes:
        result: the return they rest on (uses, tables, corroboration).
        population: the population table the rates are taken against, or ``None``.
        rates: the five groups' rates (``()`` without a population table).
        months: the year's twelve months, ``YYYY-MM``, April first.
        by_month: for each month, the uses at each highest use in
            :data:`~taserlink.returns.counting.HIGHEST_USE_ROWS` order.
        energy: what the device logs show, or ``None`` without downloads.
    """

    result: HomeOfficeReturn
    population: Population | None
    rates: tuple[Rate, ...]
    months: tuple[str, ...]
    by_month: tuple[tuple[int, ...], ...]
    energy: Energy | None

    @property
    def year(self) -> int:
        """The financial year (``2019``: 2019-04-01 to 2020-03-31)."""
        return self.result.year

    @property
    def uses(self) -> tuple[Use, ...]:
        """The year's uses, in ``reports.csv`` order."""
        return self.result.counted.uses

    def table(self, name: str) -> Table:
        """One of the return's published tables (``ced-by-age``…)."""
        return self.result.counted.table(name)

    def under_18(self) -> tuple[Use, ...]:
        """The uses whose subject was under 18, in ``reports.csv`` order."""
        return tuple(use for use in self.uses if use.subject_age in UNDER_18)

    def device_higher(self) -> tuple[ReturnRow, ...]:
        """The uses whose device logged a higher use than the form claims."""
        return tuple(
            row for row in self.result.rows if row.corroboration is Corroboration.DEVICE_HIGHER
        )


def _months(year: int) -> tuple[str, ...]:
    return tuple(f"{year + (m > 12)}-{(m - 1) % 12 + 1:02d}" for m in range(4, 16))


def _month_of(start_ms: int) -> str:
    return datetime.fromtimestamp(start_ms / 1000, UK).strftime("%Y-%m")


def _energy(result: HomeOfficeReturn) -> Energy | None:
    run = result.run
    if run is None:
        return None
    lo, hi = financial_year_bounds(result.year)
    subject = {
        (row.use.report, row.use.device): row.use.subject_ethnicity or NOT_REPORTED
        for row in result.rows
        if row.use.device is not None
    }
    episodes: list[Episode] = []
    subjects: list[str] = []
    for device_use in run.result.uses:
        episode = device_use.episode
        if episode.kind is not EpisodeKind.USE:
            continue
        covering = [
            subject[(r, episode.device)]
            for r in device_use.reports
            if (r, episode.device) in subject
        ]
        if not covering:
            start = episode.utc_start_ms
            if device_use.reports or start is None or not lo <= start < hi:
                continue  # a report of another year covers it, or it is not in this year
            subjects.append(_NO_REPORT)
        else:
            subjects.append(covering[0] if len(covering) == 1 else _MORE_THAN_ONE)
        episodes.append(episode)
    lengths = [0, 0, 0]
    cycles = [0, 0, 0]
    for episode in episodes:
        for application in episode.applications:
            duration = application.duration_ms
            lengths[
                0 if duration <= LONG_APPLICATION_MS else 1 if duration <= VERY_LONG_MS else 2
            ] += 1
        if episode.cycles:
            cycles[min(len(episode.cycles), 3) - 1] += 1
    return Energy(
        tuple(episodes),
        tuple(subjects),
        (lengths[0], lengths[1], lengths[2]),
        (cycles[0], cycles[1], cycles[2]),
    )


def scrutinise(result: HomeOfficeReturn, population: Population | None = None) -> Scrutiny:
    """The oversight group's figures of the year ``result`` counts (module docstring).

    Args:
        result: the year's return, with downloads when the energy figures are wanted.
        population: the force area's population by ethnic group, for the rates.

    Raises:
        PopulationError: a group with more uses than people (the wrong population table).
    """
    months = _months(result.year)
    index = {month: i for i, month in enumerate(months)}
    column = {value: i for i, (value, _) in enumerate(HIGHEST_USE_ROWS)}
    grid = [[0] * len(HIGHEST_USE_ROWS) for _ in months]
    for use in result.counted.uses:
        grid[index[_month_of(use.start_ms)]][column[use.highest_use]] += 1
    found: tuple[Rate, ...] = ()
    if population is not None:
        by_group = Counter(
            use.subject_ethnicity for use in result.counted.uses if use.subject_ethnicity
        )
        found = rates(by_group, population)
    return Scrutiny(
        result,
        population,
        found,
        months,
        tuple(tuple(row) for row in grid),
        _energy(result),
    )


@dataclass(frozen=True, slots=True)
class PackTable:
    """One table of the pack, as shown: the source of its CSV, its HTML table and its plot.

    Attributes:
        name: the CSV's file stem (``uses-by-month``).
        title: the heading, in plain words.
        header: the column headers.
        rows: the cells as shown: a count as its digits, or :data:`~taserlink.returns.
            suppress.PRIMARY` / :data:`~taserlink.returns.suppress.WITHHELD` in a public
            pack; other values as text.
        note: one or two sentences saying what the table counts and how to read it.
        totalled: whether the last row is a ``Total`` of the others.
    """

    name: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str
    totalled: bool = True

    def column(self, index: int) -> tuple[str, ...]:
        """One column's cells, the ``Total`` row left out."""
        rows = self.rows[:-1] if self.totalled else self.rows
        return tuple(row[index] for row in rows)


def _one_way(
    name: str,
    title: str,
    column: str,
    rows: Sequence[tuple[str, int]],
    note: str,
    public: bool,
    unit: str = "uses",
) -> PackTable:
    if public:
        shown = suppress_table(rows, TOTAL)
    else:
        shown = (*((label, str(n)) for label, n in rows), (TOTAL, str(sum(n for _, n in rows))))
    return PackTable(name, title, (column, unit), tuple(shown), note)


def _published_table(table: Table, title: str, note: str, public: bool) -> PackTable:
    rows = [(row.label, row.count) for row in table.rows[:-1]]
    return _one_way(table.name, title, table.spec.column, rows, note, public, "count")


def pack_tables(scrutiny: Scrutiny, *, public: bool = False) -> tuple[PackTable, ...]:
    """The pack's tables in the order the page shows them (module docstring).

    A public pack (``public``) withholds small numbers: each one-way table by
    :func:`~taserlink.returns.suppress.suppress_table`; the month table shows each month's
    total only; a table derived from another (discharges, from the highest uses) shows a
    figure only where the other's shown cells give it
    (:func:`~taserlink.returns.suppress.derived_table`); the under-18s' breakdown hides its
    total when the age table does (:func:`~taserlink.returns.suppress.suppress_part`); the
    year's number of uses is withheld in every table when one must withhold it; lists of
    reports and the long-application-by-ethnicity table are left out (each names or narrows
    down a person).
    """
    tables: list[PackTable] = []
    labels = [label for _, label in HIGHEST_USE_ROWS]
    if public:
        totals = [
            (month, sum(row)) for month, row in zip(scrutiny.months, scrutiny.by_month, strict=True)
        ]
        tables.append(
            _one_way(
                "uses-by-month",
                "Uses by month",
                "month",
                totals,
                "Uses by the month (UK local time) their report began.",
                True,
            )
        )
    else:
        rows = [
            (month, *map(str, row), str(sum(row)))
            for month, row in zip(scrutiny.months, scrutiny.by_month, strict=True)
        ]
        sums = [sum(row[i] for row in scrutiny.by_month) for i in range(len(labels))]
        rows.append((TOTAL, *map(str, sums), str(sum(sums))))
        tables.append(
            PackTable(
                "uses-by-month",
                "Uses by month and highest use",
                ("month", *labels, TOTAL),
                tuple(rows),
                "Uses by the month (UK local time) their report began, each at its highest use.",
            )
        )
    highest = _published_table(
        scrutiny.table("ced-by-highest-use"),
        "Uses by highest use",
        "Each use counted once, at the most serious use its form ticks (Home Office rules).",
        public,
    )
    tables.append(highest)
    groups = (
        ("Discharged", tuple(label for value, label in HIGHEST_USE_ROWS if value in DISCHARGES)),
        (
            "Not discharged",
            tuple(label for value, label in HIGHEST_USE_ROWS if value not in DISCHARGES),
        ),
    )
    tables.append(
        PackTable(
            "discharges",
            "Discharges and other uses",
            ("use", "uses"),
            derived_table(highest.rows, groups, TOTAL),
            "A discharge is a use whose highest use is fired, drive stun or angled drive "
            "stun; every other use (drawn, aimed, red-dot, arced, not stated) is not.",
        )
    )
    for name, title in (
        ("ced-by-age", "Subject's age"),
        ("ced-by-ethnicity", "Subject's ethnicity"),
        ("ced-by-health", "Subject's health (as perceived)"),
    ):
        tables.append(
            _published_table(
                scrutiny.table(name),
                title,
                "As the officer perceived the subject; one row per use.",
                public,
            )
        )
    under = scrutiny.under_18()
    under_rows = [
        (label, sum(1 for u in under if u.highest_use == value))
        for value, label in HIGHEST_USE_ROWS
    ]
    if public:
        ages = next(t for t in tables if t.name == "ced-by-age")
        young = tuple(label for value, label in AGE_ROWS if value in UNDER_18)
        rest = tuple(label for value, label in AGE_ROWS if value not in UNDER_18)
        given = derived_table(ages.rows, (("under 18", young), ("other", rest)), TOTAL)
        shown = suppress_part(under_rows, given[0][1].isdigit(), TOTAL)
    else:
        shown = (*((k, str(n)) for k, n in under_rows), (TOTAL, str(len(under))))
    tables.append(
        PackTable(
            "under-18s",
            "Uses on under-18s, by highest use",
            ("highest_use", "uses"),
            shown,
            "Uses whose subject the officer perceived as under 18 (under 11 or 11-17).",
        )
    )
    if not public:
        tables.append(
            PackTable(
                "under-18-reports",
                "Each use on an under-18",
                ("report", "start", "device", "highest_use", "subject_age"),
                tuple(
                    (
                        u.report,
                        utc_iso(u.start_ms) or "",
                        u.device or "",
                        u.highest_use,
                        u.subject_age or "",
                    )
                    for u in under
                ),
                "Each report of a use on a subject perceived as under 18, for review.",
                totalled=False,
            )
        )
    energy = scrutiny.energy
    if energy is not None:  # with downloads: what they say
        counts = scrutiny.result.corroboration_counts()
        tables.append(
            _one_way(
                "corroboration",
                "What the device downloads say of each use",
                "corroboration",
                list(counts.items()),
                "corroborated: the device shows the use the form claims; device_higher: the "
                "device logged more than the form; device_lower: less; not_downloaded: no "
                "download covers it; no_device: the form names no device.",
                public,
            )
        )
        if not public:
            tables.append(
                PackTable(
                    "device-higher",
                    "Reports whose device shows a higher use than the form",
                    ("report", "start", "device", "highest_use", "device_highest_use"),
                    tuple(
                        (
                            r.use.report,
                            utc_iso(r.use.start_ms) or "",
                            r.use.device or "",
                            r.use.highest_use,
                            r.device_highest_use or "",
                        )
                        for r in scrutiny.device_higher()
                    ),
                    "Each report the device contradicts upward, for review.",
                    totalled=False,
                )
            )
        tables.append(
            _one_way(
                "energy-applications",
                "Energy applications by length (device logs)",
                "length",
                list(zip(LENGTH_ROWS, energy.lengths, strict=True)),
                "Every trigger pull and drive stun the year's use episodes logged, by how "
                "long the device delivered energy.",
                public,
                "applications",
            )
        )
        tables.append(
            _one_way(
                "repeated-cycles",
                "Use episodes by number of cycles (device logs)",
                "cycles",
                list(zip(("1 cycle", "2 cycles", "3 or more"), energy.cycles, strict=True)),
                "Use episodes that delivered energy, by how many cycles they delivered "
                "(an interrupted cycle counts once).",
                public,
                "episodes",
            )
        )
        if not public:
            long_by: Counter[str] = Counter(
                subject
                for episode, subject in zip(energy.episodes, energy.subjects, strict=True)
                if any(a.duration_ms > LONG_APPLICATION_MS for a in episode.applications)
            )
            order = (*GROUPS, NOT_REPORTED, _MORE_THAN_ONE, _NO_REPORT)
            tables.append(
                _one_way(
                    "long-applications-by-ethnicity",
                    "Use episodes with an application over 5 s, by subject's ethnicity",
                    "ethnicity",
                    [(group, long_by.get(group, 0)) for group in order],
                    "The IOPC found continuous discharges over 5 s far more often on Black "
                    "subjects: this counts episodes with one, by the covering report's subject.",
                    False,
                    "episodes",
                )
            )
    if scrutiny.rates:
        tables.append(
            PackTable(
                "rates",
                "Rates per 10,000 population and the ratio to White",
                RATE_KEYS,
                tuple(
                    tuple(_cell(row[key]) for key in RATE_KEYS)
                    for row in pack_rates(scrutiny, public=public)
                ),
                "Uses per 10,000 residents of each group, and each group's rate divided by "
                "White's with its 95 % confidence interval (Katz's log method); rounded to "
                "two decimals here (scrutiny.json has them unrounded).",
                totalled=False,
            )
        )
    return _one_total(tables) if public else tuple(tables)


_OF_THE_USES: Final = frozenset(
    {
        "uses-by-month",
        "ced-by-highest-use",
        "discharges",
        "ced-by-age",
        "ced-by-ethnicity",
        "ced-by-health",
        "corroboration",
    }
)
"""The tables whose total is the year's number of uses."""


def _one_total(tables: Sequence[PackTable]) -> tuple[PackTable, ...]:
    """The year's uses shown the same in every table of them: withheld in all when any
    table had to withhold it (a total of 4 that one table shows as ``<5`` and another
    must hide — its four ``<5`` would then be four 1s)."""
    if not any(t.name in _OF_THE_USES and t.rows[-1][1] == WITHHELD for t in tables):
        return tuple(tables)
    return tuple(
        replace(t, rows=(*t.rows[:-1], (TOTAL, WITHHELD))) if t.name in _OF_THE_USES else t
        for t in tables
    )


def _cell(value: str | int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def pack_rates(
    scrutiny: Scrutiny, *, public: bool = False
) -> tuple[dict[str, str | int | float | None], ...]:
    """The ``rates`` of ``scrutiny.json`` (**contract** keys,
    :data:`~taserlink.returns.rates.RATE_KEYS`): each group's :meth:`Rate.as_dict`, or
    with small numbers withheld (:func:`~taserlink.returns.suppress.public_rates`, the
    uses of unreported ethnicity given so the ethnicity table and the rates hide the
    same cells); ``()`` without a population table."""
    if not scrutiny.rates:
        return ()
    if not public:
        return tuple(rate.as_dict() for rate in scrutiny.rates)
    not_reported = scrutiny.table("ced-by-ethnicity")[NOT_REPORTED]
    return public_rates(scrutiny.rates, not_reported)
