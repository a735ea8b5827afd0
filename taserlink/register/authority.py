"""Rule 1 of the register (design §7): who may carry a device.

An officer's authority is current on a day when the officer passed the initial course, the
last training (the initial course or a refresher) was less than ``months`` months before
that day (12 by default, a setting of the register), and the authority is not suspended.
Authority lapses on the day ``months`` months after the last training (the same day of the
month, or the month's last day when it has fewer days).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

__all__ = ["Authority", "add_months", "authority_on"]


@dataclass(frozen=True)
class Authority:
    """An officer's authority on one day."""

    officer: str
    authorised: bool
    until: dt.date | None
    """The day it lapses (``None`` without the initial course)."""
    reason: str | None
    """Why it is not current (``None`` when it is), with the dates."""


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved ``months`` calendar months on (clamped to the month's last day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def authority_on(
    officer: str,
    *,
    initial: dt.date | None,
    last_training: tuple[str, dt.date] | None,
    suspended: str | None,
    day: dt.date,
    months: int,
) -> Authority:
    """The authority of ``officer`` on ``day``.

    Args:
        initial: the date of the initial course (``None``: never passed).
        last_training: the last course passed, ``(kind, date)``.
        suspended: the reason for a suspension, or ``None``.
        day: the day asked about (UTC).
        months: the refresher period.
    """
    if initial is None or last_training is None:
        return Authority(officer, False, None, f"{officer} has not passed the initial course")
    course, last = last_training
    until = add_months(last, months)
    if suspended is not None:
        return Authority(officer, False, until, f"{officer}'s authority is suspended: {suspended}")
    if day >= until:
        what = "last refresher" if course == "refresher" else "initial course"
        return Authority(
            officer,
            False,
            until,
            f"{officer}'s authority lapsed on {until.isoformat()}: {what} {last.isoformat()}",
        )
    return Authority(officer, True, until, None)
