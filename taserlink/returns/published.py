"""Published Home Office figures the counting rules are checked against, in one place.

Source: Home Office, "Police use of force statistics, England and Wales: April 2019 to
March 2020", CED tables by highest use and by perceived ethnicity (``../shared/README.md``
quotes them).  Keys are the return's ``highest_use`` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["DERBYSHIRE_2019", "DERBYSHIRE_2019_ETHNICITY", "NATIONAL_2019"]

DERBYSHIRE_2019: Final[Mapping[str, int]] = MappingProxyType(
    {
        "drawn": 41,
        "aimed": 13,
        "red_dotted": 126,
        "arced": 9,
        "drive_stun": 1,
        "fired": 20,
        "angle_drive_stun": 0,
        "not_stated": 1,
    }
)
"""Derbyshire, CED uses by highest use, year ending March 2020 (211 uses)."""
DERBYSHIRE_2019_ETHNICITY: Final[Mapping[str, int]] = MappingProxyType(
    {"White": 170, "Black": 20, "Asian": 16}
)
"""Derbyshire, the same year, by perceived ethnicity (the groups the tables give)."""
NATIONAL_2019: Final[Mapping[str, int]] = MappingProxyType(
    {
        "drawn": 7_141,
        "aimed": 3_110,
        "red_dotted": 16_809,
        "arced": 397,
        "drive_stun": 41,
        "fired": 3_275,
        "angle_drive_stun": 18,
        "not_stated": 1_267,
    }
)
"""England and Wales, CED uses by highest use, year ending March 2020 (32,058 uses)."""
