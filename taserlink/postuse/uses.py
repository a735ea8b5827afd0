"""The uses of a CED the Home Office return counts, in one place: their names (**contract**),
their severity and which of them a device log can show.

The published counting rules (the Metropolitan Police's, which the Home Office tables follow)
count only the **highest** use per device per report, by this order, highest first: angle
drive stun, fired, drive stun, arced, red-dotted, aimed, drawn.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["DEVICE_VISIBLE", "SEVERITY", "USES", "UseLevel"]


class UseLevel(enum.Enum):
    """A use of a CED as the Home Office return ticks it (**contract**: these values)."""

    ANGLE_DRIVE_STUN = "angle_drive_stun"
    FIRED = "fired"
    DRIVE_STUN = "drive_stun"
    ARCED = "arced"
    RED_DOTTED = "red_dotted"
    AIMED = "aimed"
    DRAWN = "drawn"

    @property
    def rank(self) -> int:
        """Severity: 7 for ``angle_drive_stun`` down to 1 for ``drawn`` (higher is more)."""
        return SEVERITY[self.value]

    @property
    def device_visible(self) -> bool:
        """Whether a device log can show this use (``aimed`` and ``angle_drive_stun`` not)."""
        return self in DEVICE_VISIBLE


DEVICE_VISIBLE: Final = frozenset(
    {UseLevel.FIRED, UseLevel.DRIVE_STUN, UseLevel.ARCED, UseLevel.RED_DOTTED, UseLevel.DRAWN}
)
"""The uses a device log can corroborate.  Aiming leaves no record of its own (the laser
may be off), and an angled drive stun differs from a drive stun or a firing only in how the
officer held the device to the subject, which no sensor records: both come only from
accounts."""


USES: Final = tuple(use.value for use in UseLevel)
"""The use levels' names, highest first."""
SEVERITY: Final[Mapping[str, int]] = MappingProxyType(
    {use: len(USES) - rank for rank, use in enumerate(USES)}
)
"""Each use level's rank: ``drawn`` 1 … ``angle_drive_stun`` 7 (higher is more severe)."""
