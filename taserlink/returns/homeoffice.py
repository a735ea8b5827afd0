"""The Home Office return with what the devices corroborate (design §8, ``taserlink
home-office``): :func:`home_office_return` counts a financial year
(:mod:`taserlink.returns.counting`) and, when device downloads are given, holds each use
against them through :func:`taserlink.postuse.driver.reconcile_downloads` (the episode
matching is reconciliation's, never repeated here); :func:`write_return` writes
``reports.csv`` and the four published tables.

**What a device can corroborate.**  A device logs drawn (``UNHOLSTER``), red-dotted
(``LASER_ON``), arced (``WARNING_ARC``), fired (``DEPLOY``) and drive stun
(``DRIVE_STUN``); aiming leaves no record and an angled drive stun differs from a drive
stun or a firing only in how the device was held
(:data:`taserlink.postuse.uses.DEVICE_VISIBLE`).  So a use's highest use is compared with
the device at its **device-visible level**: ``aimed`` as ``drawn`` (one aims a drawn
device), ``angle_drive_stun`` as ``drive_stun`` or ``fired`` (either is what the device
logs), ``not_stated`` as nothing.

**The device's highest use** (``device_highest_use``) of a use is the highest use of the
use episodes of its device that its report covers (reconciliation's covering rule:
corrected times, widened by the bound and the tolerance); empty when there is none.

**Corroboration** (one value per use, :class:`Corroboration`):

==================  =================================================================
``no_device``       the report names no device (a CED use ticked with no serial)
``not_downloaded``  a device is named but no download given covers the report's time
                    (or no downloads were given at all)
``corroborated``    a download covers it and the device's highest use equals the
                    report's device-visible level (both nothing: a ``not_stated`` use
                    with no episode; an angled drive stun with a drive stun or firing),
                    or is higher only as far as another report of the same episode
                    claims
``device_higher``   the device logged a higher use than the report's device-visible
                    level, and no other report covering the same episode claims it
                    (the report understates what the device did)
``device_lower``    the device logged a lower use, or none while the downloads cover the
                    time (the report overstates what the device could show)
==================  =================================================================

Several reports may cover one episode (a device fired at one subject and aimed at a
second: a report each).  As in reconciliation, the episode's use is then explained by
the report that claims it: the second report is ``corroborated`` (its
``device_highest_use`` still shows what the device did), not ``device_higher``.
"""

from __future__ import annotations

import enum
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from taserlink.atomic import make_folder, write_atomic
from taserlink.errors import ReturnError
from taserlink.forensics.issues import IssueList
from taserlink.integrity import TrustStore
from taserlink.postuse.accounts import Account
from taserlink.postuse.driver import ReconcileRun, reconcile_downloads
from taserlink.postuse.episodes import EpisodeKind
from taserlink.postuse.reconcile import FindingKind
from taserlink.postuse.uses import DEVICE_VISIBLE, SEVERITY
from taserlink.returns.counting import TABLES, Counted, Table, Use, count_return
from taserlink.spreadsheet import csv_writer
from taserlink.timeline import ClockSettings
from taserlink.timeline.times import utc_iso, utc_times_iso

__all__ = [
    "DEVICE_LEVELS",
    "REPORT_COLUMNS",
    "Corroboration",
    "HomeOfficeReturn",
    "ReturnRow",
    "corroboration",
    "home_office_return",
    "reports_csv",
    "return_without_downloads",
    "table_csv",
    "write_return",
]

REPORT_COLUMNS: Final = (
    "report",
    "incident",
    "officer",
    "device",
    "start",
    "highest_use",
    "device_highest_use",
    "corroboration",
    "subject_age",
    "subject_ethnicity",
    "subject_health",
)
"""The columns of ``reports.csv`` (**contract**, design §8), in order."""


class Corroboration(enum.Enum):
    """What the device downloads say of one use (module docstring)."""

    CORROBORATED = "corroborated"
    DEVICE_HIGHER = "device_higher"
    DEVICE_LOWER = "device_lower"
    NOT_DOWNLOADED = "not_downloaded"
    NO_DEVICE = "no_device"


_VISIBLE_FLOOR: Final = {
    "angle_drive_stun": SEVERITY["drive_stun"],
    "fired": SEVERITY["fired"],
    "drive_stun": SEVERITY["drive_stun"],
    "arced": SEVERITY["arced"],
    "red_dotted": SEVERITY["red_dotted"],
    "aimed": SEVERITY["drawn"],
    "drawn": SEVERITY["drawn"],
    "not_stated": 0,
}
"""A report's highest use → the rank of the device-visible use it implies (0: none)."""
_NOT_DOWNLOADED: Final = Corroboration.NOT_DOWNLOADED
_NO_DEVICE: Final = Corroboration.NO_DEVICE
DEVICE_LEVELS: Final = frozenset(use.value for use in DEVICE_VISIBLE)
"""The ``device_highest_use`` values: the uses a device log can show."""


def corroboration(
    highest_use: str,
    device_highest_use: str | None,
    *,
    device: bool,
    covered: bool,
    explained: int = 0,
) -> Corroboration:
    """The corroboration value of one use (module docstring).

    Args:
        highest_use: the report's highest use (one of
            :data:`~taserlink.returns.counting.HIGHEST_USES`).
        device_highest_use: the device's highest use over the episodes the report covers,
            or ``None`` when it has none.
        device: whether the report names a device.
        covered: whether a download of that device covers the report's time.
        explained: the severity rank (:data:`~taserlink.postuse.uses.SEVERITY`) up to
            which the device's use is explained by another report covering the same
            episode (a second subject's); 0: none.

    Raises:
        ReturnError: ``highest_use`` or ``device_highest_use`` is no such value.
    """
    if highest_use not in _VISIBLE_FLOOR:
        raise ReturnError(f"{highest_use!r} is not a highest use ({', '.join(_VISIBLE_FLOOR)})")
    if device_highest_use is not None and device_highest_use not in DEVICE_LEVELS:
        raise ReturnError(f"{device_highest_use!r} is not a use a device logs")
    if not device:
        return Corroboration.NO_DEVICE
    if not covered:
        return Corroboration.NOT_DOWNLOADED
    said = _VISIBLE_FLOOR[highest_use]
    shown = 0 if device_highest_use is None else SEVERITY[device_highest_use]
    if highest_use == "angle_drive_stun" and shown == SEVERITY["fired"]:
        return Corroboration.CORROBORATED
    if shown == said or (said < shown <= explained):
        return Corroboration.CORROBORATED
    return Corroboration.DEVICE_HIGHER if shown > said else Corroboration.DEVICE_LOWER


def _claims(highest_use: str) -> int:
    """The highest device-visible use a report's highest use accounts for (an angled
    drive stun may have been logged as a firing)."""
    return SEVERITY["fired"] if highest_use == "angle_drive_stun" else _VISIBLE_FLOOR[highest_use]


@dataclass(frozen=True, slots=True)
class ReturnRow:
    """One row of ``reports.csv``: a use and what the device says of it."""

    use: Use
    device_highest_use: str | None
    corroboration: Corroboration

    def cells(self) -> tuple[str, ...]:
        """The row's cells in :data:`REPORT_COLUMNS` order (times UTC with ms and ``Z``)."""
        use = self.use
        return (
            use.report,
            use.incident,
            use.officer,
            use.device or "",
            utc_iso(use.start_ms) or "",
            use.highest_use,
            self.device_highest_use or "",
            self.corroboration.value,
            use.subject_age or "",
            use.subject_ethnicity or "",
            use.subject_health or "",
        )


@dataclass(frozen=True, slots=True)
class HomeOfficeReturn:
    """A financial year's return: the counted uses and tables, each use's corroboration,
    and the reconciliation it rests on (``None`` without downloads)."""

    counted: Counted
    rows: tuple[ReturnRow, ...]
    run: ReconcileRun | None

    @property
    def year(self) -> int:
        """The financial year (``2019``: 2019-04-01 to 2020-03-31)."""
        return self.counted.year

    @property
    def tables(self) -> tuple[Table, ...]:
        """The four published tables."""
        return self.counted.tables

    def corroboration_counts(self) -> dict[str, int]:
        """Uses per corroboration value, every value present, in :class:`Corroboration`
        order."""
        counts = {value.value: 0 for value in Corroboration}
        for row in self.rows:
            counts[row.corroboration.value] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON: year, uses, each table (label → count), corroboration
        counts, and the downloads read (path, device, sha256, verified)."""
        downloads = [] if self.run is None else [d.as_dict() for d in self.run.downloads]
        return {
            "year": self.year,
            "uses": len(self.rows),
            "tables": {table.name: table.as_dict() for table in self.tables},
            "corroboration": self.corroboration_counts(),
            "downloads": downloads,
        }


def home_office_return(
    accounts: Iterable[Account],
    year: int,
    *,
    images: Sequence[str | os.PathLike[str]] = (),
    issues: IssueList | None = None,
    trust: TrustStore | None = None,
    clock: ClockSettings | None = None,
    workers: int = 1,
) -> HomeOfficeReturn:
    """Count the financial year ``year`` of ``accounts`` and corroborate each use with the
    downloads at ``images`` (module docstring).

    Args:
        accounts: the officers' accounts (:func:`~taserlink.postuse.accounts.read_accounts`).
        year: the financial year (``2019``: 2019-04-01 to 2020-03-31, UK local time).
        images: device downloads (``.tdi``); none: every use with a device is
            ``not_downloaded``.
        issues: custody for the reconciliation (who held each device); ``None``: an empty
            issue list (custody does not change corroboration, only reconciliation's
            findings).
        trust: roots to verify each download against (``None``: not verified).
        clock: the clock models' settings.
        workers: processes for reading the downloads.

    Raises:
        ReturnError: a bad ``year``.
        ReconcileError: a download that cannot be read, two that disagree.
    """
    accounts = tuple(accounts)
    counted = count_return(accounts, year)
    run: ReconcileRun | None = None
    shown: dict[tuple[str, str], str] = {}
    explained: dict[tuple[str, str], int] = {}
    uncovered: set[tuple[str, str]] = set()
    paths = [os.fspath(p) for p in images]
    if paths:
        originals = _accounts_of(accounts, counted.uses)
        run = reconcile_downloads(
            paths,
            issues if issues is not None else IssueList("<no custody>", ()),
            originals,
            trust=trust,
            clock=clock,
            workers=workers,
        )
        floors = {(u.report, u.device): _claims(u.highest_use) for u in counted.uses}
        for device_use in run.result.uses:
            episode = device_use.episode
            if episode.kind is not EpisodeKind.USE or episode.highest_use is None:
                continue
            level = episode.highest_use.value
            shared = max(
                (floors.get((r, episode.device), 0) for r in device_use.reports), default=0
            )
            for report in device_use.reports:
                key = (report, episode.device)
                if key not in shown or SEVERITY[level] > SEVERITY[shown[key]]:
                    shown[key] = level
                if SEVERITY[level] <= shared:
                    explained[key] = max(explained.get(key, 0), SEVERITY[level])
        uncovered = {
            (f.report, f.device)
            for f in run.result.findings
            if f.kind is FindingKind.NOT_DOWNLOADED and f.report and f.device
        }
    rows = []
    for use in counted.uses:
        key = (use.report, use.device or "")
        device_level = shown.get(key)
        covered = bool(paths) and key not in uncovered
        value = corroboration(
            use.highest_use,
            device_level,
            device=use.device is not None,
            covered=covered,
            explained=explained.get(key, 0),
        )
        rows.append(ReturnRow(use, device_level, value))
    return HomeOfficeReturn(counted, tuple(rows), run)


def return_without_downloads(counted: Counted) -> HomeOfficeReturn:
    """The return of a year already counted, with no device downloads: each use naming a
    device ``not_downloaded``, each other ``no_device`` — what :func:`home_office_return`
    gives with no ``images`` (``taserlink home-office`` counts the year with
    :func:`taserlink.returns.fastcount.count_file` and then calls this)."""
    rows = tuple(
        ReturnRow(use, None, _NOT_DOWNLOADED if use.device is not None else _NO_DEVICE)
        for use in counted.uses
    )
    return HomeOfficeReturn(counted, rows, None)


def _accounts_of(accounts: Iterable[Account], uses: Sequence[Use]) -> list[Account]:
    """The accounts behind ``uses`` that name a device (what reconciliation reads)."""
    wanted = {(use.report, use.device) for use in uses if use.device is not None}
    return [a for a in accounts if (a.report, a.device) in wanted]


def reports_csv(result: HomeOfficeReturn) -> bytes:
    """``reports.csv``: a header of :data:`REPORT_COLUMNS`, one row per use in
    :meth:`~taserlink.returns.counting.Use.key` order, UTF-8, lines ending ``\\n``."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(REPORT_COLUMNS)
    rows = result.rows
    uses = [row.use for row in rows]
    starts = utc_times_iso(np.array([use.start_ms for use in uses], np.float64))
    writer.write_columns(  # the cells of ReturnRow.cells, a column at a time
        [
            [use.report for use in uses],
            [use.incident for use in uses],
            [use.officer for use in uses],
            [use.device or "" for use in uses],
            [start or "" for start in starts],
            [use.highest_use for use in uses],
            [row.device_highest_use or "" for row in rows],
            [row.corroboration.value for row in rows],
            [use.subject_age or "" for use in uses],
            [use.subject_ethnicity or "" for use in uses],
            [use.subject_health or "" for use in uses],
        ]
    )
    return out.getvalue().encode("utf-8")


def table_csv(table: Table) -> bytes:
    """One published table as CSV: ``<column>,count`` then its rows, ``Total`` last."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow((table.spec.column, "count"))
    writer.writerows((row.label, row.count) for row in table.rows)
    return out.getvalue().encode("utf-8")


def write_return(result: HomeOfficeReturn, folder: str | os.PathLike[str]) -> tuple[Path, ...]:
    """Write ``reports.csv`` and the four tables (``<name>.csv``, :data:`TABLES` order)
    into ``folder`` (made if missing), each atomically; the same return gives the same
    bytes.  Returns the paths written.

    Raises:
        OutputPathError: a destination taserlink refuses to replace (a link, a folder).
        OSError: a file cannot be written.
    """
    base = Path(folder)
    make_folder(base)
    files = [("reports.csv", reports_csv(result))]
    files += [(f"{t.name}.csv", table_csv(t)) for t in result.tables]
    written = []
    for name, data in files:
        write_atomic(base / name, data)
        written.append(base / name)
    assert [p.name for p in written[1:]] == [f"{s.name}.csv" for s in TABLES]
    return tuple(written)
