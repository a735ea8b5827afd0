"""The device timeline: what one device did, when in UTC, from which downloads.

:class:`DeviceTimeline` is one device's log across any number of its downloads:

- the records merged by sequence once (:func:`~taserlink.timeline.merge.merge_downloads`;
  downloads that disagree about a record are refused, naming both);
- each record's event, payload fields and device time (:mod:`taserlink.timeline.decode`,
  :mod:`taserlink.timeline.times`);
- its corrected UTC ± bound from the device's clock model
  (:class:`~taserlink.timeline.clock.ClockModel`, built once from the merged log and every
  download's anchor), with the model's description for a report;
- its provenance: which downloads hold it (path as given, SHA-256 of the file), its
  sequence number, and whether a download that passed verification holds it.

Everything per record is a numpy array (one row per record), computed for the rows asked
for: a million-record log costs a few arrays, not a million Python objects.  The register,
reconciliation, the Home Office return and the court report read devices through this one
class; ``taserlink show`` and ``taserlink link`` render it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from taserlink.errors import ClockModelError, TimelineError
from taserlink.format import EventCode, Image
from taserlink.timeline.clock import ClockModel, ClockSettings, CorrectedTime
from taserlink.timeline.merge import merge_downloads

__all__ = ["DeviceTimeline", "Download"]


@dataclass(frozen=True)
class Download:
    """One download (image) a timeline was built from."""

    name: str
    """The image's path as the user gave it (or another name the caller chose)."""
    sha256: str
    """SHA-256 of the image file's bytes, lowercase hex."""
    records: int
    """Records the image holds (before merging)."""
    verified: bool | None
    """The image passed verification (``True``), failed it (``False``), or was not
    verified (``None``)."""


@dataclass(frozen=True, eq=False)
class DeviceTimeline:
    """One device's merged, decoded, corrected log (see the module docstring).

    Build with :meth:`from_images`.
    """

    serial: str
    downloads: tuple[Download, ...]
    records: npt.NDArray[Any]
    """Merged :data:`~taserlink.format.RECORD_DTYPE` rows, sequence strictly increasing."""
    held: npt.NDArray[np.bool_]
    """``held[i, k]``: :attr:`downloads` ``[k]`` holds record ``i``."""
    settings: ClockSettings
    clock: ClockModel | None
    """``None`` when the downloads hold no record (see :attr:`clock_failure`)."""
    clock_failure: str | None = None
    """Why there is no clock model (``None`` when there is one)."""

    @classmethod
    def from_images(
        cls,
        images: Sequence[tuple[str, Image]],
        *,
        settings: ClockSettings | None = None,
        verified: Mapping[str, bool | None] | None = None,
    ) -> DeviceTimeline:
        """The timeline of the device whose downloads are ``images`` (``(name, image)``).

        Args:
            images: one device's downloads, in any order, each with a name (its path).
            settings: the clock model's settings (default :class:`ClockSettings`).
            verified: each name's verification outcome (missing names: not verified).

        Raises:
            TimelineError: no images; images of several devices; two downloads holding
                different records under one sequence number (both named).
        """
        settings = settings or ClockSettings()
        if not images:
            raise TimelineError("a device timeline needs at least one download")
        serial = images[0][1].identity.serial
        for name, image in images:
            if image.identity.serial != serial:
                raise TimelineError(
                    f"{name} is a download of device {image.identity.serial}, not of {serial}"
                )
        log = merge_downloads(serial, [(name, image.records) for name, image in images])
        outcome = verified or {}
        downloads = tuple(
            Download(
                name=name,
                sha256=hashlib.sha256(image.data).hexdigest(),
                records=len(image.records),
                verified=outcome.get(name),
            )
            for name, image in images
        )
        try:
            clock: ClockModel | None = ClockModel.from_log(
                serial, log.records, [image for _, image in images], settings
            )
            failure = None
        except ClockModelError as error:
            clock, failure = None, str(error)
        return cls(serial, downloads, log.records, log.held, settings, clock, failure)

    # -- columns --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    @property
    def seq(self) -> npt.NDArray[np.uint32]:
        """Each record's sequence number."""
        return np.asarray(self.records["seq"])

    @property
    def device_ms(self) -> npt.NDArray[np.uint64]:
        """Each record's device time (ms since 2000-01-01 on the device clock)."""
        return np.asarray(self.records["time_ms"])

    @property
    def code(self) -> npt.NDArray[np.uint16]:
        """Each record's event code."""
        return np.asarray(self.records["code"])

    def rows_of(self, codes: Iterable[EventCode]) -> npt.NDArray[np.intp]:
        """Indices of the records of these event codes, in sequence order."""
        return np.flatnonzero(np.isin(self.records["code"], [int(c) for c in codes]))

    # -- provenance -----------------------------------------------------------------------
    @cached_property
    def verified_held(self) -> npt.NDArray[np.bool_] | None:
        """Per record: a download that passed verification holds it; ``None`` when any
        download holding it was not verified (nothing can be said)."""
        states = [d.verified for d in self.downloads]
        if any(s is None for s in states):
            unverified = np.array([s is None for s in states])
            if self.held[:, unverified].any():
                return None
        passed = np.array([s is True for s in states])
        return np.asarray(self.held[:, passed].any(axis=1))

    def holders(self, row: int) -> tuple[str, ...]:
        """Names of the downloads holding record ``row``, in the order given."""
        return tuple(d.name for d, h in zip(self.downloads, self.held[row], strict=True) if h)

    def verified_at(self, row: int) -> bool | None:
        """Whether a verified download holds record ``row`` (``None``: a download holding
        it was not verified)."""
        states = [d.verified for d, h in zip(self.downloads, self.held[row], strict=True) if h]
        return None if any(s is None for s in states) else any(states)

    # -- time -----------------------------------------------------------------------------
    def corrected(
        self, rows: npt.ArrayLike | None = None
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.intp],
        npt.NDArray[np.bool_],
    ]:
        """Corrected UTC of the records at ``rows`` (all when ``None``), vectorised.

        Returns:
            ``(utc_ms, bound_ms, epoch, consistent)``: UTC and ± bound in whole ms (NaN
            where the model has no answer, or there is no model), each record's epoch
            index (-1 with no model), and whether its epoch's anchors agree.
        """
        chosen = self.records if rows is None else self.records[np.asarray(rows, np.intp)]
        if self.clock is None:
            n = len(chosen)
            return (
                np.full(n, np.nan),
                np.full(n, np.nan),
                np.full(n, -1, np.intp),
                np.ones(n, np.bool_),
            )
        return self.clock.correct_detail(chosen["seq"], chosen["time_ms"])

    def corrected_times(self, rows: npt.ArrayLike) -> list[CorrectedTime]:
        """The records at ``rows`` as :class:`CorrectedTime` values (the same answers as
        ``clock.to_utc(device_ms, seq=seq)``), for the few records a report names.

        Raises:
            ClockModelError: the timeline has no clock model.
        """
        if self.clock is None:
            raise ClockModelError(f"device {self.serial}: no clock model ({self.clock_failure})")
        clock = self.clock
        picked = np.asarray(rows, np.intp)
        utc, bound, epoch, ok = self.corrected(picked)
        return [
            clock.time_at(
                int(ms),
                None if u != u else int(u),
                None if b != b else int(b),
                int(k),
                bool(c),
            )
            for ms, u, b, k, c in zip(
                self.records["time_ms"][picked].tolist(),
                utc.tolist(),
                bound.tolist(),
                epoch.tolist(),
                ok.tolist(),
                strict=True,
            )
        ]

    def correct(
        self, records: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[str | None]]:
        """Corrected UTC of any records of this device (e.g. one download's, in its own
        order): ``(utc_ms, bound_ms, notes)``, NaN and a note saying why where there is no
        answer."""
        n = len(records)
        clock = self.clock
        if clock is None:
            failure = f"no correction: no clock model ({self.clock_failure})"
            return np.full(n, np.nan), np.full(n, np.nan), [failure] * n
        utc, bound, which, _ = clock.correct_detail(records["seq"], records["time_ms"])
        notes: list[str | None] = [None] * n
        missing = np.flatnonzero(np.isnan(utc))
        said: dict[int, str] = {}
        for row, k, seq in zip(
            missing.tolist(), which[missing].tolist(), records["seq"][missing].tolist(), strict=True
        ):
            if k < 0:
                notes[row] = f"no correction: seq {seq} precedes the clock model's log"
            else:
                notes[row] = said.setdefault(k, clock.no_correction_note(clock.epochs[k]))
        return utc, bound, notes

    def uncorrected(self, records: npt.NDArray[Any]) -> int:
        """How many of ``records`` (of this device) the model gives no corrected time."""
        if self.clock is None:
            return len(records)
        which = self.clock.epoch_indices(records["seq"])
        anchored = np.array([bool(e.anchors) for e in self.clock.epochs] + [False])
        return int(np.count_nonzero(~anchored[which]))  # -1 picks the trailing False

    def describe(self) -> str:
        """The clock model and its inputs as text (or why there is none)."""
        if self.clock is None:
            return f"no clock model for {self.serial}: {self.clock_failure}"
        return self.clock.describe()
