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
import re
from typing import Final

import numpy as np
import numpy.typing as npt

from taserlink.errors import TimeTextError, excerpt

__all__ = [
    "device_time_iso",
    "device_time_text",
    "device_times_iso",
    "parse_utc",
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


_UTC_PATTERN: Final = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_DATE_ONLY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EXAMPLE: Final = "2024-03-05T06:30:00Z"


def parse_utc(text: str) -> int:
    """An ISO 8601 time with an explicit zone (see the module docstring) as Unix ms UTC.

    Examples: ``2024-03-05T06:30:00Z``, ``2024-03-05 06:30Z``,
    ``2024-03-05T07:30:00.250+01:00`` (= 06:30:00.250 UTC).

    Raises:
        TimeTextError: the text is not such a time (a naive time, a date alone, a field out of
            range, anything else), saying which.
    """
    stripped = text.strip()
    found = _UTC_PATTERN.fullmatch(stripped)
    if found is None:
        if _DATE_ONLY.fullmatch(stripped):
            raise TimeTextError(
                f"{excerpt(text)} is a date, not an instant: give a time, e.g. {_EXAMPLE}"
            )
        raise TimeTextError(f"{excerpt(text)} is not an ISO 8601 UTC time like {_EXAMPLE}")
    zone = found["zone"]
    if zone is None:
        raise TimeTextError(
            f"{excerpt(text)} has no time zone: write UTC with 'Z' (e.g. {_EXAMPLE}); a time "
            "without a zone may be local time, an hour off UTC in summer"
        )
    if zone in "Zz":
        offset = dt.timedelta(0)
    else:
        digits = zone[1:].replace(":", "")
        if int(digits[2:]) >= 60:
            raise TimeTextError(f"{excerpt(text)} has an offset with {digits[2:]} minutes")
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
        raise TimeTextError(f"{excerpt(text)} is not a valid time: {error}") from None
    return result
