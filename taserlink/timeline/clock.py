"""Clock correction: device time to UTC, with stated ± bounds.

A device's clock is a battery-backed counter of milliseconds since 2000-01-01 (device time,
no zone).  It drifts, is set now and then, and restarts at 0 when its cell fails.  This
module maps device time onto UTC from what the images of *one* device say, and states how
far off the answer can be.

The model (:class:`ClockModel`):

- **Records** from every image are merged by sequence number, once
  (:func:`taserlink.timeline.merge.merge_downloads`: images of one device overlap; a
  sequence number must always name the same record).
- **Epochs.**  The log is cut into epochs of one continuous clock run.  A ``CLOCK_SET``
  record starts an epoch (its time is the *new* time, ``old_time_ms`` the time the clock
  showed at the same instant, so the mapping crosses the set exactly); a ``POWER_ON`` with
  ``rtc_valid`` 0 starts an epoch with no link to the one before (the clock restarted at
  2000-01-01 after an unknown time without power); so does a record whose time goes
  backwards with no ``CLOCK_SET`` (an unexplained jump, noted).
- **Anchors.**  Each download gives one: the statement's device time against the host's UTC
  when the statement arrived (``Acquisition.statement_utc_ms``).  Its uncertainty is half
  the transfer window (``host_utc_end_ms - host_utc_start_ms``; ``default_window_ms`` when
  the window does not contain the statement's arrival) plus ``host_clock_ms``, the host
  clock's own error against UTC (0 by default: a host synchronised to UTC).  An anchor
  found in one epoch is carried across each ``CLOCK_SET`` link, with the bound it has at
  the set instant, into the neighbouring epochs.
- **Host clock sets (opt-in, ``host_sets``).**  A ``CLOCK_SET`` whose ``source`` is
  ``HOST`` was made by a host over USB; taserlink's own ``taserlink clock --set`` sets the
  device to the host's UTC, so the new time is itself a statement of UTC at that instant:
  device time ``t`` is UTC ``t + DEVICE_EPOCH_UNIX_MS`` (device time counts from
  2000-01-01T00:00:00; the same count read as UTC).  With ``host_sets`` each such set adds
  an anchor (:attr:`AnchorKind.HOST_SET`) to the epoch it starts, ± ``host_set_bound_ms``
  plus ``host_clock_ms``, and is carried across links like a download's.  That anchors
  epochs no download reaches (a clock reset, then a host set, then use, with no later
  download in that epoch).  It is off by default and must be the examiner's choice, stated
  in the report: the log does not say whether the setting host was on UTC (a host on local
  time, or a maintenance script that set some other time, makes a false anchor).  A set
  from the device's own menu (``MENU``) never anchors.  The default bound,
  :data:`DEFAULT_HOST_SET_BOUND_MS` (1,000 ms), covers the time between the host reading
  its clock and the device applying the new time: one USB request, a few ms on an idle
  bus, and at most the 1,000 ms transfer timeout of taserlink's own session when the
  device is slow to take it (after a lost answer the session computes the time afresh
  before it sends again; a request refused by a stall is re-sent as it was after back-offs
  of 10, 20, 40 ms …, which can add a few hundred ms: widen the bound where the setting
  tool's record shows retries, or for another tool).  That delay only makes UTC *later*
  than the time set, but the bound is kept symmetric: a host that adds its expected
  latency to the time it sends errs the other way.  A false
  anchor is detected only where it contradicts another anchor by more than drift allows
  (a warning, and the epoch's bounds fall back on the widest the anchors give).
- **Estimate.**  Within an epoch, one anchor: drift taken as 0 (UTC advances as device time
  does).  Two or more: one straight line through the anchors, fitted by least squares with
  each anchor weighted by ``1 / (bound + 2 ms)²`` (a download ± 1 s counts for 10,000
  times as much as an anchor ± 100 s), its slope limited to what ``max_drift_ppm``
  allows; then moved into the interval the bounds allow (below) when it lies outside it.
  The line's slope is the epoch's stated drift (:attr:`Epoch.drift_ppm`), so the stated
  rate is the one the estimate uses and never exceeds the model's maximum: two anchors
  29 s apart, one of them ± 131 s, say almost nothing about drift, and the fit then
  stops at the maximum (:attr:`Epoch.drift_limited`) rather than stating millions of ppm.
  The fit does not follow a drift that changes within an epoch (temperature); the
  bounds do not depend on it.
- **Bounds.**  The only assumption is that the clock's rate error never exceeds
  ``max_drift_ppm`` (default 100 ppm; vendors quote up to about 90 ppm unsynchronised).
  Each anchor ``(d_j, u_j, b_j)`` then confines UTC at device time ``d`` to
  ``u_j + (d - d_j) ± (b_j + r·|d - d_j| + 2 ms)`` with ``r = ρ/(1-ρ)`` (the 2 ms cover
  millisecond truncation of device times).  The bound is the distance from the estimate to
  the farther end of the intersection of these intervals (plus 0.5 ms for rounding the
  estimate, then rounded up), so it widens with distance from the nearest anchor and is
  never more than twice the nearest anchor's interval.  The estimate need not be the
  intersection's centre, so the bound can exceed its half-width, and an added anchor,
  though it only narrows the intersection, can widen the bound a little by moving the
  estimate off-centre.  Centring the estimate would avoid that but drop the drift estimate
  (near an anchor the centre follows drift 0): at a steady drift of ``f`` ppm, a time
  beyond the last download would err by about ``f/max_drift_ppm`` of its bound, where the
  drift estimate errs far less.  Anchors whose intervals do not meet break the assumption;
  that is reported in :attr:`ClockModel.warnings`, and every time of that epoch then gets
  the widest statement the anchors give (the distance from the estimate to the far end of
  any anchor's interval), even where the widening intervals meet again far from the
  anchors: a meeting of intervals one of which is false need not hold the true UTC.
- **No anchor, no answer.**  A time in an epoch with no anchor, direct or carried (e.g.
  after a reset with no set and no later download), gets no correction: ``utc_ms`` and
  ``bound_ms`` are ``None`` and the note says why.

Not modelled: drift that exceeds the stated maximum, leap seconds, a host clock worse than
stated (with ``host_sets``: a setting host further from UTC than stated, found only when it
contradicts another anchor), and the time without power before a reset (which no record
measures).
"""

from __future__ import annotations

import bisect
import enum
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from taserlink.errors import ClockModelError, TimelineError
from taserlink.format import (
    DEVICE_EPOCH_UNIX_MS,
    ClockSource,
    EventCode,
    Image,
    payload_view,
    read_image,
)
from taserlink.timeline.merge import merge_downloads

__all__ = [
    "Anchor",
    "AnchorKind",
    "ClockModel",
    "ClockModelError",
    "ClockSettings",
    "TimelineError",
    "CorrectedTime",
    "Epoch",
    "EpochStart",
    "DEFAULT_MAX_DRIFT_PPM",
    "DEFAULT_HOST_SET_BOUND_MS",
]

DEFAULT_MAX_DRIFT_PPM = 100.0
"""The stated maximum rate error of a device clock (parts per million)."""
DEFAULT_WINDOW_MS = 2000
"""Transfer window assumed when an acquisition's window does not contain its statement."""
TRUNCATION_MS = 2
"""Slack for millisecond truncation of device and host times (one each)."""
DEFAULT_HOST_SET_BOUND_MS = 1000
"""± ms of a host clock set's anchor (besides the host clock's own error): the time between
the host reading its UTC and the device applying it, a few ms on an idle bus and at most one
USB transfer timeout of taserlink's own session (1,000 ms); see the module docstring."""


class EpochStart(enum.Enum):
    """How an epoch begins."""

    FIRST_RECORD = "first record"
    """The oldest record held: what came before is not known."""
    CLOCK_SET = "clock set"
    """A ``CLOCK_SET``: linked exactly to the epoch before."""
    CLOCK_RESET = "clock reset"
    """A ``POWER_ON`` with ``rtc_valid`` 0: the clock restarted at 2000-01-01, no link."""
    TIME_JUMP = "time jump"
    """Device time went backwards with no ``CLOCK_SET``: no link."""


class AnchorKind(enum.Enum):
    DOWNLOAD = "download"
    """A download's statement against the host's UTC."""
    CARRIED = "carried across a clock set"
    """Another epoch's estimate at a ``CLOCK_SET`` instant."""
    HOST_SET = "host clock set"
    """A ``CLOCK_SET`` by a host (``source`` ``HOST``): its new time read as UTC (only with
    ``host_sets``)."""


@dataclass(frozen=True)
class Anchor:
    """A device time whose UTC is known to within ± ``bound_ms``."""

    device_ms: int
    utc_ms: int
    bound_ms: int
    kind: AnchorKind
    seq: int
    """The statement's last sequence, or the ``CLOCK_SET`` record's sequence (carried and
    host-set anchors)."""


@dataclass(frozen=True)
class Epoch:
    """One continuous run of the device clock: records ``first_seq``..``last_seq``."""

    index: int
    first_seq: int
    last_seq: int
    first_device_ms: int
    last_device_ms: int
    start: EpochStart
    anchors: tuple[Anchor, ...]
    """Direct and carried anchors, by device time."""
    drift_ppm: float | None
    """The drift the estimate uses (ppm; positive: the clock runs fast): the slope of the
    anchors' weighted least-squares line, within ± ``max_drift_ppm``; ``None`` with fewer
    than two anchors at distinct device times (drift then taken as 0)."""
    drift_limited: bool = False
    """The fitted drift lay beyond ± ``max_drift_ppm`` and was held at that maximum (the
    anchors are too close together for their bounds to measure drift)."""


@dataclass(frozen=True)
class CorrectedTime:
    """A device time mapped to UTC: ``utc_ms ± bound_ms`` (Unix ms), or ``None`` and why."""

    device_ms: int
    utc_ms: int | None
    bound_ms: int | None
    epoch: int | None
    note: str


@dataclass(frozen=True)
class _Link:
    """A ``CLOCK_SET`` between epoch ``index - 1`` (old time) and ``index`` (new time)."""

    seq: int
    old_ms: int
    new_ms: int


def _anchor_arrays(
    anchors: Sequence[Anchor],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    d = np.array([a.device_ms for a in anchors], dtype=np.float64)
    u = np.array([a.utc_ms for a in anchors], dtype=np.float64)
    b = np.array([a.bound_ms for a in anchors], dtype=np.float64)
    return d, u, b


@dataclass(frozen=True)
class _Fit:
    """The anchors' weighted least-squares line ``utc = utc_mean + slope·(d - d_mean)``."""

    d_mean: float
    u_mean: float
    slope: float
    """UTC ms per device ms, within the slopes ``max_drift_ppm`` allows."""
    limited: bool
    """The unconstrained slope lay outside them."""

    @property
    def drift_ppm(self) -> float:
        """Device ms per UTC ms, less one, in ppm (positive: the clock runs fast)."""
        return (1 / self.slope - 1) * 1e6


def _fit(
    d: npt.NDArray[np.float64],
    u: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    max_drift_ppm: float,
) -> _Fit | None:
    """Weights ``1/(b + 2 ms)²``; the slope held to ``[1/(1+ρ), 1/(1-ρ)]``, which is the
    constrained least-squares optimum (the residual is quadratic in the slope once the
    intercept is fitted).  ``None`` when the anchors share one device time."""
    w = 1 / (b + TRUNCATION_MS) ** 2
    d_mean = float(np.sum(w * d) / np.sum(w))
    u_mean = float(np.sum(w * u) / np.sum(w))
    spread = float(np.sum(w * (d - d_mean) ** 2))
    if spread <= 0:
        return None
    free = float(np.sum(w * (d - d_mean) * (u - u_mean))) / spread
    rho = max_drift_ppm / 1e6
    slope = min(max(free, 1 / (1 + rho)), 1 / (1 - rho))
    return _Fit(d_mean, u_mean, slope, slope != free)


def _estimate(
    anchors: Sequence[Anchor], device_ms: npt.NDArray[np.float64], max_drift_ppm: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """UTC estimate, ± bound and a consistency flag at each device time (see module doc)."""
    d, u, b = _anchor_arrays(sorted(anchors, key=lambda a: a.device_ms))
    rho = max_drift_ppm / 1e6
    rate = rho / (1 - rho)
    x = device_ms[:, None]
    centre = u[None, :] + (x - d[None, :])
    width = b[None, :] + rate * np.abs(x - d[None, :]) + TRUNCATION_MS
    lower = np.max(centre - width, axis=1)
    upper = np.min(centre + width, axis=1)
    fit = _fit(d, u, b, max_drift_ppm) if len(d) > 1 else None
    if fit is None:
        nearest = np.argmin(np.abs(x - d[None, :]), axis=1)
        estimate = centre[np.arange(len(device_ms)), nearest]
    else:
        estimate = fit.u_mean + fit.slope * (device_ms - fit.d_mean)
    # Anchors that disagree anywhere disagree at an anchor (two intervals are furthest apart
    # between their anchors); then every time falls back, even where the widening intervals
    # happen to meet again: their meeting need not hold the true UTC.
    at_anchors = u[:, None] + (d[None, :] - d[:, None])
    reach = b[:, None] + rate * np.abs(d[None, :] - d[:, None]) + TRUNCATION_MS
    agree = bool(np.all(np.max(at_anchors - reach, axis=0) <= np.min(at_anchors + reach, axis=0)))
    consistent = (lower <= upper) & agree
    estimate = np.where(consistent, np.clip(estimate, lower, upper), estimate)
    bound = np.maximum(upper - estimate, estimate - lower)
    # Inconsistent anchors: fall back on the widest statement the anchors allow.
    fallback = np.max(np.abs(estimate[:, None] - centre) + width, axis=1)
    bound = np.where(consistent, bound, fallback)
    return estimate, np.ceil(bound + 0.5), consistent  # + rounding of the estimate


@dataclass(frozen=True)
class ClockSettings:
    """The settings of a clock model: the examiner's stated assumptions, shown in every
    report.

    Raises:
        ClockModelError: ``max_drift_ppm`` outside (0, 10⁶) or a negative bound.
    """

    max_drift_ppm: float = DEFAULT_MAX_DRIFT_PPM
    """The largest rate error the clock is assumed to have (ppm)."""
    host_clock_ms: int = 0
    """The download hosts' own clock error against UTC (± ms; 0: hosts on UTC)."""
    default_window_ms: int = DEFAULT_WINDOW_MS
    """The transfer window (ms) assumed when an acquisition's window does not contain its
    statement's arrival."""
    host_sets: bool = False
    """Take each ``CLOCK_SET`` made by a host (``source`` ``HOST``) as an anchor, its new
    time read as UTC (off by default: the log does not say whether the setting host was on
    UTC, so a report must state the choice)."""
    host_set_bound_ms: int = DEFAULT_HOST_SET_BOUND_MS
    """± ms of such an anchor (the host's latency in setting the clock), to which
    ``host_clock_ms`` is added."""

    def __post_init__(self) -> None:
        if (
            not 0 < self.max_drift_ppm < 1e6
            or self.host_clock_ms < 0
            or self.default_window_ms < 0
            or self.host_set_bound_ms < 0
        ):
            raise ClockModelError("max drift must be in (0, 1e6) ppm and bounds non-negative")


@dataclass(frozen=True)
class ClockModel:
    """Device time → UTC for one device, from its images (see the module docstring).

    Build with :meth:`from_images`.  Attributes state every input of the model so a report
    can show it.
    """

    serial: str
    max_drift_ppm: float
    host_clock_ms: int
    epochs: tuple[Epoch, ...]
    warnings: tuple[str, ...]
    host_sets: bool = False
    """Host clock sets were taken as anchors (the examiner's choice)."""
    host_set_bound_ms: int = DEFAULT_HOST_SET_BOUND_MS
    """± ms of each host clock set's anchor, before ``host_clock_ms`` is added."""

    @classmethod
    def from_images(
        cls,
        images: Iterable[Image | bytes | str | os.PathLike[str]],
        *,
        max_drift_ppm: float = DEFAULT_MAX_DRIFT_PPM,
        host_clock_ms: int = 0,
        default_window_ms: int = DEFAULT_WINDOW_MS,
        host_sets: bool = False,
        host_set_bound_ms: int = DEFAULT_HOST_SET_BOUND_MS,
    ) -> ClockModel:
        """The clock model of the device these images came from.

        Args:
            images: images of one device (parsed, bytes or paths), in any order.
            max_drift_ppm, host_clock_ms, default_window_ms, host_sets, host_set_bound_ms:
                the model's settings (:class:`ClockSettings`).

        Raises:
            ClockModelError: no images, images of different devices, a setting out of
                range, or no records.
            TimelineError: two images holding different records under one sequence number.
            FormatError: an image that cannot be read.
        """
        settings = ClockSettings(
            max_drift_ppm=max_drift_ppm,
            host_clock_ms=host_clock_ms,
            default_window_ms=default_window_ms,
            host_sets=host_sets,
            host_set_bound_ms=host_set_bound_ms,
        )
        parsed = [im if isinstance(im, Image) else read_image(im) for im in images]
        if not parsed:
            raise ClockModelError("a clock model needs at least one image")
        serials = {im.identity.serial for im in parsed}
        if len(serials) != 1:
            raise ClockModelError(f"images of several devices: {', '.join(sorted(serials))}")
        serial = serials.pop()
        named = [(f"image {k + 1}", im.records) for k, im in enumerate(parsed)]
        log = merge_downloads(serial, named)
        return cls.from_log(serial, log.records, parsed, settings)

    @classmethod
    def from_log(
        cls,
        serial: str,
        records: npt.NDArray[Any],
        downloads: Sequence[Image],
        settings: ClockSettings | None = None,
    ) -> ClockModel:
        """The clock model of device ``serial`` from its merged log and its downloads.

        Args:
            serial: the device.
            records: the device's records merged by sequence, strictly increasing
                (:func:`~taserlink.timeline.merge.merge_downloads`).
            downloads: the images the records came from: each download statement is an
                anchor.
            settings: the model's settings (default :class:`ClockSettings`).

        Raises:
            ClockModelError: no records.
        """
        settings = settings or ClockSettings()
        if len(records) == 0:
            raise ClockModelError("the images hold no records")
        max_drift_ppm = settings.max_drift_ppm
        warnings: list[str] = []
        bounds, starts, links = _split(records, warnings)
        direct: list[list[Anchor]] = [[] for _ in bounds]
        firsts = np.array([records["seq"][lo] for lo, _ in bounds], dtype=np.int64)
        for im in downloads:
            if im.statement is None or im.statement.last_seq < im.statement.first_seq:
                continue
            acq = im.acquisition
            window = acq.host_utc_end_ms - acq.host_utc_start_ms
            if not acq.host_utc_start_ms <= acq.statement_utc_ms <= acq.host_utc_end_ms:
                warnings.append(
                    f"download at seq {im.statement.last_seq}: the statement's arrival lies "
                    f"outside the transfer window; {settings.default_window_ms} ms assumed"
                )
                window = settings.default_window_ms
            k = int(np.searchsorted(firsts, im.statement.last_seq, side="right")) - 1
            anchor = Anchor(
                device_ms=im.statement.device_time_ms,
                utc_ms=acq.statement_utc_ms,
                bound_ms=(window + 1) // 2 + settings.host_clock_ms,
                kind=AnchorKind.DOWNLOAD,
                seq=im.statement.last_seq,
            )
            if k >= 0 and anchor not in direct[k]:
                direct[k].append(anchor)
        if settings.host_sets:
            bound = settings.host_set_bound_ms + settings.host_clock_ms
            for anchor in _host_set_anchors(records, bound):
                k = int(np.searchsorted(firsts, anchor.seq, side="right")) - 1
                direct[k].append(anchor)
        anchors = _carry(direct, links, max_drift_ppm)
        epochs = []
        for k, ((lo, hi), start) in enumerate(zip(bounds, starts, strict=True)):
            own = tuple(sorted(anchors[k], key=lambda a: (a.device_ms, a.seq)))
            fit = _fit(*_anchor_arrays(own), max_drift_ppm) if len(own) >= 2 else None
            if len(own) > 1:  # one anchor always agrees with itself
                _, _, ok = _estimate(
                    own, np.array([a.device_ms for a in own], np.float64), max_drift_ppm
                )
                if not ok.all():
                    sets = [str(a.seq) for a in own if a.kind is AnchorKind.HOST_SET]
                    hint = (
                        f"; host clock set(s) at seq {', '.join(sets)} among them, taken "
                        "as UTC by choice: a setting host not on UTC would explain it"
                        if sets
                        else ""
                    )
                    warnings.append(
                        f"epoch {k}: anchors disagree by more than {max_drift_ppm:g} ppm "
                        f"allows; its bounds fall back on the widest the anchors give{hint}"
                    )
            epochs.append(
                Epoch(
                    index=k,
                    first_seq=int(records["seq"][lo]),
                    last_seq=int(records["seq"][hi - 1]),
                    first_device_ms=int(records["time_ms"][lo]),
                    last_device_ms=int(records["time_ms"][hi - 1]),
                    start=start,
                    anchors=own,
                    drift_ppm=None if fit is None else fit.drift_ppm,
                    drift_limited=fit is not None and fit.limited,
                )
            )
        return cls(
            serial=serial,
            max_drift_ppm=max_drift_ppm,
            host_clock_ms=settings.host_clock_ms,
            epochs=tuple(epochs),
            warnings=tuple(warnings),
            host_sets=settings.host_sets,
            host_set_bound_ms=settings.host_set_bound_ms,
        )

    # -- lookup -------------------------------------------------------------------------
    @cached_property
    def _first_seqs(self) -> npt.NDArray[np.int64]:
        """Each epoch's first sequence, ascending (epochs are ranges of the merged log)."""
        return np.array([e.first_seq for e in self.epochs], dtype=np.int64)

    def epoch_of(self, seq: int) -> Epoch | None:
        """The epoch holding sequence ``seq`` (``None`` if it precedes every epoch)."""
        k = bisect.bisect_right(self._first_seqs, seq) - 1
        return self.epochs[k] if k >= 0 else None

    def epoch_indices(self, seqs: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Index in :attr:`epochs` of the epoch holding each sequence (-1: precedes them all)."""
        wanted = np.asarray(seqs, dtype=np.int64)
        found: npt.NDArray[np.intp] = np.searchsorted(self._first_seqs, wanted, side="right") - 1
        return found

    def to_utc(self, device_ms: int, *, seq: int | None = None) -> CorrectedTime:
        """UTC of ``device_ms`` in the epoch of record ``seq``.

        Without ``seq`` the epoch is the one whose recorded device-time span holds
        ``device_ms`` when exactly one does; when none does, the last epoch (the clock as it
        ran at the end); when several do, no correction (the time is ambiguous).
        """
        if seq is not None:
            epoch = self.epoch_of(seq)
            if epoch is None:
                return CorrectedTime(device_ms, None, None, None, f"seq {seq} precedes the log")
        else:
            spans = [e for e in self.epochs if e.first_device_ms <= device_ms <= e.last_device_ms]
            if len(spans) > 1:
                names = ", ".join(str(e.index) for e in spans)
                return CorrectedTime(
                    device_ms, None, None, None, f"ambiguous: epochs {names}; give seq"
                )
            epoch = spans[0] if spans else self.epochs[-1]
        return self._correct_in(epoch, np.array([device_ms], np.float64))[0]

    def _correct_in(self, epoch: Epoch, device_ms: npt.NDArray[np.float64]) -> list[CorrectedTime]:
        if not epoch.anchors:
            return [self.time_at(int(t), None, None, epoch.index, True) for t in device_ms]
        estimate, bound, ok = _estimate(epoch.anchors, device_ms, self.max_drift_ppm)
        return [
            self.time_at(int(t), round(e), int(b), epoch.index, bool(k))
            for t, e, b, k in zip(device_ms, estimate, bound, ok, strict=True)
        ]

    def no_correction_note(self, epoch: Epoch) -> str:
        """Why a time in ``epoch`` (which has no anchor) gets no correction."""
        what = "no download, no host clock set" if self.host_sets else "no download"
        return (
            f"no correction: epoch {epoch.index} ({epoch.start.value} at seq "
            f"{epoch.first_seq}) has {what} and no clock-set link to one"
        )

    def time_at(
        self,
        device_ms: int,
        utc_ms: int | None,
        bound_ms: int | None,
        epoch: int,
        consistent: bool,
    ) -> CorrectedTime:
        """The :class:`CorrectedTime` of one answer of :meth:`correct` (row by row), with
        the note :meth:`to_utc` gives it."""
        e = self.epochs[epoch]
        if not e.anchors:
            return CorrectedTime(device_ms, None, None, epoch, self.no_correction_note(e))
        note = f"epoch {epoch}: {len(e.anchors)} anchor(s), ±{self.max_drift_ppm:g} ppm"
        if not consistent:
            note += " (anchors disagree)"
        return CorrectedTime(device_ms, utc_ms, bound_ms, epoch, note)

    def correct(
        self, records: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Vectorised correction of records (:data:`~taserlink.format.RECORD_DTYPE` arrays).

        The same answers as :meth:`to_utc` with ``seq``, record by record.  The work grows
        with the records and the epochs they fall in, not with the epochs of the model: a
        chunk of a long log costs the same whatever the length of the log.

        Returns:
            ``(utc_ms, bound_ms)`` as float64 arrays of whole milliseconds; both NaN where a
            record's epoch has no anchor (or its sequence precedes the log).
        """
        utc, bound, _, _ = self.correct_detail(records["seq"], records["time_ms"])
        return utc, bound

    def correct_detail(
        self, seqs: npt.ArrayLike, device_ms: npt.ArrayLike
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.intp],
        npt.NDArray[np.bool_],
    ]:
        """:meth:`correct` of ``(seq, device time)`` pairs, also returning each one's epoch
        index (-1: precedes the log) and whether its epoch's anchors agree.

        Returns:
            ``(utc_ms, bound_ms, epoch, consistent)``: NaN times where there is no answer.
        """
        which = self.epoch_indices(seqs)
        times = np.asarray(device_ms, dtype=np.float64)
        utc = np.full(len(which), np.nan)
        bound = np.full(len(which), np.nan)
        consistent = np.ones(len(which), dtype=np.bool_)
        # One estimate per run of rows in one epoch (_estimate works row by row).  Records in
        # sequence order come in runs already; others are grouped by a stable sort first.
        in_order = bool(np.all(which[1:] >= which[:-1]))
        order = None if in_order else np.argsort(which, kind="stable")
        grouped = which if order is None else which[order]
        cuts = (np.flatnonzero(grouped[1:] != grouped[:-1]) + 1).tolist()
        single = self._single_anchors
        alone = single[0][which]  # index -1 (precedes the log) reads the trailing False
        for lo, hi in zip([0, *cuts], [*cuts, len(which)], strict=True):
            k = int(grouped[lo]) if hi > lo else -1
            if k < 0 or len(self.epochs[k].anchors) < 2:
                continue
            rows = slice(lo, hi) if order is None else order[lo:hi]
            estimate, b, ok = _estimate(self.epochs[k].anchors, times[rows], self.max_drift_ppm)
            utc[rows], bound[rows], consistent[rows] = np.round(estimate), b, ok
        if alone.any():  # epochs of one anchor, all at once
            at = which[alone]
            _, d, u, b = single
            estimate, width = _one_anchor(d[at], u[at], b[at], times[alone], self.max_drift_ppm)
            utc[alone], bound[alone] = np.round(estimate), width
        return utc, bound, which, consistent

    @cached_property
    def _single_anchors(
        self,
    ) -> tuple[
        npt.NDArray[np.bool_],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]:
        """Per epoch: whether it has exactly one anchor, and that anchor's device time, UTC
        and bound (0 where it has not); the flags end with a ``False`` for index -1."""
        one = [len(e.anchors) == 1 for e in self.epochs]
        first = [e.anchors[0] if len(e.anchors) == 1 else None for e in self.epochs]
        d = np.array([0.0 if a is None else float(a.device_ms) for a in first])
        u = np.array([0.0 if a is None else float(a.utc_ms) for a in first])
        b = np.array([0.0 if a is None else float(a.bound_ms) for a in first])
        return np.array([*one, False], np.bool_), d, u, b

    def describe(self) -> str:
        """The model and its inputs as text, for a report."""
        lines = [
            f"clock model for {self.serial}: max drift ±{self.max_drift_ppm:g} ppm, "
            f"host clock ±{self.host_clock_ms} ms"
        ]
        if self.host_sets:
            lines.append(
                "  host clock sets taken as UTC anchors (the examiner's choice: the log does "
                "not say whether the setting host was on UTC), each "
                f"±{self.host_set_bound_ms + self.host_clock_ms} ms "
                f"({self.host_set_bound_ms} ms for the setting, {self.host_clock_ms} ms "
                "host clock)"
            )
        for e in self.epochs:
            if e.drift_ppm is None:
                drift = "drift 0 assumed"
            elif e.drift_limited:
                drift = (
                    f"drift {e.drift_ppm:+.1f} ppm (the model's maximum: the anchors are too "
                    "close for their bounds to measure it)"
                )
            else:
                drift = f"drift {e.drift_ppm:+.1f} ppm"
            lines.append(
                f"  epoch {e.index}: seq {e.first_seq}..{e.last_seq} from {e.start.value}; "
                f"{len(e.anchors)} anchor(s); {drift if e.anchors else 'no correction'}"
            )
            for a in e.anchors:
                lines.append(
                    f"    {a.kind.value} seq {a.seq}: device {a.device_ms} ms = "
                    f"UTC {a.utc_ms} ms ± {a.bound_ms} ms"
                )
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _split(
    records: npt.NDArray[Any], warnings: list[str]
) -> tuple[list[tuple[int, int]], list[EpochStart], list[_Link | None]]:
    """Epoch index ranges, how each starts, and the ``CLOCK_SET`` link into each."""
    codes, times, seqs = records["code"], records["time_ms"], records["seq"]
    starts: dict[int, tuple[EpochStart, _Link | None]] = {0: (EpochStart.FIRST_RECORD, None)}
    set_idx = np.flatnonzero(codes == EventCode.CLOCK_SET)
    old = payload_view(records, EventCode.CLOCK_SET)["old_time_ms"]
    for i, old_ms in zip(set_idx, old, strict=True):
        link = _Link(int(seqs[i]), int(old_ms), int(times[i]))
        linked = i > 0 and seqs[i - 1] == seqs[i] - 1  # a gap hides what happened between
        starts[int(i)] = (EpochStart.CLOCK_SET, link if linked else None)
    on_idx = np.flatnonzero(codes == EventCode.POWER_ON)
    valid = payload_view(records, EventCode.POWER_ON)["rtc_valid"]
    for i in on_idx[valid == 0]:
        starts[int(i)] = (EpochStart.CLOCK_RESET, None)
    back = np.flatnonzero(np.diff(times.astype(np.int64)) < 0) + 1
    for i in back:
        if int(i) not in starts:
            starts[int(i)] = (EpochStart.TIME_JUMP, None)
            warnings.append(f"seq {int(seqs[i])}: device time went backwards with no clock set")
    cuts = sorted(starts)
    ranges = list(zip(cuts, [*cuts[1:], len(records)], strict=True))
    return ranges, [starts[c][0] for c in cuts], [starts[c][1] for c in cuts]


def _host_set_anchors(records: npt.NDArray[Any], bound_ms: int) -> list[Anchor]:
    """An anchor for each ``CLOCK_SET`` by a host: its new time read as UTC ± ``bound_ms``."""
    sets = np.flatnonzero(records["code"] == EventCode.CLOCK_SET)
    source = payload_view(records, EventCode.CLOCK_SET)["source"]
    by_host = sets[source == ClockSource.HOST]
    return [
        Anchor(
            device_ms=ms,
            utc_ms=ms + DEVICE_EPOCH_UNIX_MS,
            bound_ms=bound_ms,
            kind=AnchorKind.HOST_SET,
            seq=seq,
        )
        for ms, seq in zip(
            records["time_ms"][by_host].tolist(), records["seq"][by_host].tolist(), strict=True
        )
    ]


def _carry(
    direct: list[list[Anchor]], links: list[_Link | None], max_drift_ppm: float
) -> list[list[Anchor]]:
    """Direct anchors plus anchors carried across ``CLOCK_SET`` links (both directions).

    A backward pass carries each epoch's (direct + backward-carried) estimate at its set
    instant into the epoch before; a forward pass carries (direct + forward-carried) into
    the epoch after.  Keeping the passes apart stops an anchor from returning, widened, to
    the epoch it came from.
    """
    n = len(direct)
    backward = [list(a) for a in direct]
    for k in range(n - 1, 0, -1):
        link = links[k]
        if link is not None and backward[k]:
            backward[k - 1].append(
                _carried(backward[k], link.new_ms, link.old_ms, link.seq, max_drift_ppm)
            )
    forward = [list(a) for a in direct]
    for k in range(1, n):
        link = links[k]
        if link is not None and forward[k - 1]:
            forward[k].append(
                _carried(forward[k - 1], link.old_ms, link.new_ms, link.seq, max_drift_ppm)
            )
    return [
        direct[k] + backward[k][len(direct[k]) :] + forward[k][len(direct[k]) :] for k in range(n)
    ]


def _carried(
    anchors: Sequence[Anchor], at_ms: int, to_ms: int, seq: int, max_drift_ppm: float
) -> Anchor:
    if len(anchors) == 1:  # most links: the same arithmetic on one number, as floats
        (only,) = anchors
        d, u, b, x = float(only.device_ms), float(only.utc_ms), float(only.bound_ms), float(at_ms)
        rho = max_drift_ppm / 1e6
        rate = rho / (1 - rho)
        centre = u + (x - d)
        width = b + rate * abs(x - d) + TRUNCATION_MS
        lower, upper = centre - width, centre + width
        single = min(max(centre, lower), upper)
        reach = math.ceil(max(upper - single, single - lower) + 0.5)
        return Anchor(to_ms, round(single), reach, AnchorKind.CARRIED, seq)
    estimate, bound, _ = _estimate(anchors, np.array([at_ms], np.float64), max_drift_ppm)
    return Anchor(to_ms, round(estimate[0]), int(bound[0]), AnchorKind.CARRIED, seq)


def _one_anchor(
    d: npt.NDArray[np.float64],
    u: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    max_drift_ppm: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """:func:`_estimate` where each time ``x[i]`` has one anchor ``(d[i], u[i], b[i])`` (its
    epoch's only one), for many epochs at once: the same operations element by element, so
    the same answers to the bit (``tests/test_timeline.py`` holds them equal).  One anchor
    always agrees with itself."""
    rho = max_drift_ppm / 1e6
    rate = rho / (1 - rho)
    centre = u + (x - d)
    width = b + rate * np.abs(x - d) + TRUNCATION_MS
    lower, upper = centre - width, centre + width
    estimate = np.clip(centre, lower, upper)
    bound = np.maximum(upper - estimate, estimate - lower)
    return estimate, np.ceil(bound + 0.5)
