"""Reconciliation from files: a folder of downloads, custody and the accounts.

The work is shared among ``workers`` forked processes and streamed, so a force-year of
downloads is never all in memory:

1. **survey**, per download: read it, verify it against the trusted roots (when given),
   keep its device, digest and outcome;
2. **device**, per device: its downloads read again and merged into one
   :class:`~taserlink.timeline.DeviceTimeline`, its episodes found, and what each download
   covers in corrected UTC; only those (small) leave the worker.

Then who held each device over each episode is read from the issue list (the register's,
or a file) and :func:`~taserlink.postuse.reconcile.reconcile` holds the accounts against
the episodes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from taserlink.errors import ReconcileError, TaserlinkError, TimelineError
from taserlink.findings import Severity
from taserlink.forensics.issues import IssueList
from taserlink.format import Image, read_image
from taserlink.format.image import CrcCheck
from taserlink.integrity import TrustStore, verify_image
from taserlink.postuse.accounts import Account
from taserlink.postuse.episodes import Episode, episodes, holders
from taserlink.postuse.reconcile import Coverage, ReconcileSettings, Reconciliation, reconcile
from taserlink.timeline import ClockSettings, DeviceTimeline
from taserlink.workers import in_processes

__all__ = ["DownloadChecked", "ReconcileRun", "reconcile_downloads"]


@dataclass(frozen=True)
class DownloadChecked:
    """One download as surveyed: its device, digest and verification outcome."""

    path: str
    device: str
    size: int
    sha256: str
    verified: bool | None
    """``None``: not verified (no trusted roots given)."""
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "device": self.device,
            "size": self.size,
            "sha256": self.sha256,
            "verified": self.verified,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class ReconcileRun:
    """A reconciliation and the downloads it rests on."""

    result: Reconciliation
    downloads: tuple[DownloadChecked, ...]
    clock_warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON (design §8) with the downloads and the clock warnings."""
        return {
            **self.result.as_dict(),
            "downloads": [d.as_dict() for d in self.downloads],
            "clock_warnings": list(self.clock_warnings),
        }


@dataclass(frozen=True)
class _Shared:
    trust: TrustStore | None
    clock: ClockSettings
    settings: ReconcileSettings


@dataclass(frozen=True)
class _DeviceOutcome:
    episodes: tuple[Episode, ...]
    coverage: Coverage
    warnings: tuple[str, ...]


def reconcile_downloads(
    paths: Iterable[str | Path],
    issues: IssueList,
    accounts: Iterable[Account],
    *,
    trust: TrustStore | None = None,
    clock: ClockSettings | None = None,
    settings: ReconcileSettings | None = None,
    workers: int = 1,
) -> ReconcileRun:
    """Reconcile the accounts with the downloads at ``paths`` (module docstring).

    Args:
        paths: device downloads (``.tdi``), any number per device, in any order.
        issues: who held what when (the register's issue periods or an issue list).
        accounts: the officers' accounts.
        trust: roots to verify each download against (``None``: not verified).
        clock: the clock models' settings.
        settings: the tolerance and period.
        workers: processes to share the downloads and devices among.

    Raises:
        ReconcileError: no downloads; a download that cannot be read (named); two
            downloads of one device that disagree about a record.
    """
    names = sorted(str(p) for p in paths)
    if not names:
        raise ReconcileError("no device downloads to reconcile")
    settings = settings or ReconcileSettings()
    shared = _Shared(trust, clock or ClockSettings(), settings)
    surveyed = in_processes(_survey, shared, names, workers)
    by_device: dict[str, list[DownloadChecked]] = {}
    for checked in surveyed:
        by_device.setdefault(checked.device, []).append(checked)
    jobs = [(serial, by_device[serial]) for serial in sorted(by_device)]
    outcomes = in_processes(_device, shared, jobs, workers)
    found = [e for o in outcomes for e in o.episodes]
    custody = holders(found, issues)
    result = reconcile(found, custody, [o.coverage for o in outcomes], accounts, settings)
    warnings = tuple(w for o in outcomes for w in o.warnings)
    return ReconcileRun(result, tuple(surveyed), warnings)


def _read(path: str) -> tuple[bytes, Image]:
    try:
        data = Path(path).read_bytes()
        return data, read_image(data, crc=CrcCheck.SKIP)
    except OSError as error:
        raise ReconcileError(f"{path}: cannot read: {error.strerror or error}") from None
    except TaserlinkError as error:
        raise ReconcileError(f"{path}: {error}") from None


def _survey(shared: _Shared, path: str) -> DownloadChecked:
    data, image = _read(path)
    verified: bool | None = None
    problems: tuple[str, ...] = ()
    if shared.trust is not None:
        report = verify_image(image, shared.trust)
        verified = report.ok
        problems = tuple(str(f) for f in report.by_severity(Severity.ERROR))
    return DownloadChecked(
        path,
        image.identity.serial,
        len(data),
        hashlib.sha256(data).hexdigest(),
        verified,
        problems,
    )


def _device(shared: _Shared, job: tuple[str, list[DownloadChecked]]) -> _DeviceOutcome:
    serial, downloads = job
    named = [(d.path, _read(d.path)[1]) for d in downloads]
    try:
        timeline = DeviceTimeline.from_images(
            named, settings=shared.clock, verified={d.path: d.verified for d in downloads}
        )
    except TimelineError as error:
        raise ReconcileError(str(error)) from None
    spans = []
    utc, _, _, _ = timeline.corrected()
    for column in range(timeline.held.shape[1]):
        rows = np.flatnonzero(timeline.held[:, column])
        if len(rows):
            lo, hi = float(utc[rows[0]]), float(utc[rows[-1]])
            if not (math.isnan(lo) or math.isnan(hi)):
                spans.append((int(lo), int(hi)))
    clock = timeline.clock
    warnings = () if clock is None else tuple(f"{serial}: {w}" for w in clock.warnings)
    if clock is None:
        warnings = (f"{serial}: no clock model ({timeline.clock_failure})",)
    within = shared.settings.within
    found = tuple(e for e in episodes(timeline) if within(e.utc_start_ms, e.utc_end_ms))
    return _DeviceOutcome(found, Coverage(serial, tuple(sorted(spans))), warnings)
