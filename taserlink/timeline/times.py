"""Device time and UTC as text: the one place every output takes them from.

Two clocks, never confused:

- **device time**: milliseconds since 2000-01-01T00:00:00 *on the device's own clock* (no
  zone, drifting, settable): shown as ISO 8601 **without** a zone, e.g.
  ``2026-03-02T06:40:00.000``;
- **UTC**: Unix milliseconds (a download host's clock, or a device time corrected by the
  clock model): shown as ISO 8601 **with** ``Z``, e.g. ``2026-03-02T06:40:00.000Z``.

Times no four-digit year can show (a device-time field a device never wrote sensibly, a
corrected time of a wildly wrong clock) are ``None`` from the ``*_iso`` functions and
``out-of-range(<ms>ms)`` from the ``*_text`` ones, so a report never shows a wrong date.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "device_time_iso",
    "device_time_text",
    "device_times_iso",
    "utc_iso",
    "utc_text",
    "utc_times_iso",
]

_DEVICE_EPOCH: Final = dt.datetime(2000, 1, 1)
_UNIX_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DEVICE_TIME_LIMIT_MS: Final = (dt.datetime.max - _DEVICE_EPOCH) // dt.timedelta(milliseconds=1)
"""Largest device time (ms) that still has a four-digit-year ISO form."""
_DEVICE_EPOCH_NP: Final = np.datetime64("2000-01-01T00:00:00.000", "ms")
_UTC_MIN_MS: Final = -62_135_596_800_000
"""0001-01-01T00:00:00.000Z in Unix milliseconds: the first UTC shown."""
_UTC_MAX_MS: Final = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z in Unix milliseconds: the last UTC shown."""


def device_time_iso(ms: int) -> str | None:
    """Device time (ms since 2000-01-01T00:00:00 on the device clock) as ISO 8601, no zone.

    Example: ``2026-03-02T06:40:00.000``.  ``None`` when it lies outside years 2000–9999.
    """
    if not 0 <= ms <= _DEVICE_TIME_LIMIT_MS:
        return None
    return (_DEVICE_EPOCH + dt.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


def device_times_iso(ms: npt.NDArray[np.uint64]) -> list[str | None]:
    """:func:`device_time_iso` of every element (unsigned ms), vectorised (``datetime64``)."""
    valid = ms <= _DEVICE_TIME_LIMIT_MS
    safe = np.where(valid, ms, 0).astype(np.int64).astype("timedelta64[ms]")
    text = np.datetime_as_string(_DEVICE_EPOCH_NP + safe, unit="ms").tolist()
    if valid.all():
        return list(text)
    return [t if ok else None for t, ok in zip(text, valid.tolist(), strict=True)]


def device_time_text(ms: int) -> str:
    """:func:`device_time_iso`, or ``out-of-range(<ms>ms)`` when it has none."""
    return device_time_iso(ms) or f"out-of-range({ms}ms)"


def utc_iso(ms: int) -> str | None:
    """UTC (Unix ms) as ISO 8601 with ``Z``, e.g. ``2026-03-02T06:40:00.000Z``; ``None``
    outside years 1–9999."""
    if not _UTC_MIN_MS <= ms <= _UTC_MAX_MS:
        return None
    when = _UNIX_EPOCH + dt.timedelta(milliseconds=ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_times_iso(ms: npt.NDArray[np.float64]) -> list[str | None]:
    """:func:`utc_iso` of every element (whole Unix ms as floats), vectorised; ``None`` for
    NaN (no corrected time) and outside years 1–9999."""
    with np.errstate(invalid="ignore"):
        valid = (ms >= _UTC_MIN_MS) & (ms <= _UTC_MAX_MS)  # NaN compares False
    safe = np.where(valid, ms, 0).astype(np.int64).astype("datetime64[ms]")
    text = np.datetime_as_string(safe, unit="ms", timezone="UTC").tolist()
    if valid.all():
        return list(text)
    return [t if ok else None for t, ok in zip(text, valid.tolist(), strict=True)]


def utc_text(ms: int) -> str:
    """:func:`utc_iso`, or ``out-of-range(<ms>ms)`` when it has none."""
    return utc_iso(ms) or f"out-of-range({ms}ms)"
