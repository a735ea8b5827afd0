"""Event codes and their payloads: the one place each event's fields are declared.

Every record carries a 14-byte payload whose layout depends on the event code.  Each
payload is a construct ``Struct`` below; unused trailing bytes are declared as a zero
``reserved`` field, so a checked parse rejects a payload with stray bits.  The numpy view
of a payload (:func:`taserlink.format.bulk.payload_view`) is derived from the same
declaration.

Units: durations in milliseconds, charge in microcoulombs, battery in percent, temperature
in degrees Celsius, voltage in millivolts, device times in milliseconds since
2000-01-01T00:00:00 on the device clock.  ``bays_loaded`` is a bit mask: bit 0 is bay 1,
bit 1 is bay 2.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import construct as cs

from taserlink.serials import SERIAL_LENGTH

__all__ = [
    "EventCode",
    "PAYLOAD_SIZE",
    "SERIAL_FIELD",
    "PAYLOADS",
    "NO_BAY",
    "UNKNOWN_PAYLOAD",
    "ClockSource",
]

PAYLOAD_SIZE = 14
"""Bytes of event payload in every record."""

SERIAL_FIELD = cs.PaddedString(SERIAL_LENGTH, "ascii")
"""A smart cartridge's serial as the device reads it: ``SERIAL_LENGTH`` (10) ASCII characters."""

NO_BAY = 0xFF
"""``bay`` value when no bay is concerned (a trigger pull with both bays empty)."""


class EventCode(enum.IntEnum):
    """What a record says happened (**contract**: names and meanings; codes are ours)."""

    POWER_ON = 0x01
    """Device powered on; ``rtc_valid`` 0 means the clock lost power and restarted at 2000-01-01."""
    POWER_OFF = 0x02
    """Device powered off."""
    UNHOLSTER = 0x10
    """Holster sensor: the device left the holster."""
    HOLSTER = 0x11
    """Holster sensor: the device went back into the holster."""
    ARM = 0x12
    """Safety off."""
    SAFE = 0x13
    """Safety on; ``armed_ms`` is how long the device was armed."""
    LASER_ON = 0x14
    """Laser sight shown (red dot)."""
    WARNING_ARC = 0x20
    """Arc display with no cartridge fired, ``duration_ms`` long."""
    TRIGGER = 0x21
    """Trigger pull; ``duration_ms`` of energy; ``bay`` the bay it fired or ``NO_BAY``."""
    CONNECTION = 0x22
    """Whether the probes made a circuit: ``circuit`` 1 (``pulses``, ``charge_uc``) or 0, a miss."""
    DEPLOY = 0x23
    """A cartridge fired from ``bay``; its serial as read from the smart cartridge."""
    DRIVE_STUN = 0x24
    """Energy delivered by contact with no cartridge fired, ``duration_ms`` long."""
    CARTRIDGE_INSERT = 0x30
    """A smart cartridge was inserted in ``bay``."""
    CARTRIDGE_REMOVE = 0x31
    """A cartridge was removed from ``bay``."""
    FUNCTION_TEST = 0x32
    """Daily spark test; ``result`` 0 passed, otherwise a fault code."""
    BATTERY = 0x40
    """Battery report: level, cell temperature and voltage."""
    CLOCK_SET = 0x41
    """The clock was set; the record's time is the new time, ``old_time_ms`` the time before."""
    FIRMWARE_UPDATE = 0x42
    """Firmware changed from ``old_version`` to ``new_version``."""
    USB_CONNECT = 0x50
    """A host connected over USB."""
    DOWNLOAD = 0x51
    """A download statement was signed; ``nonce_prefix`` is the first 8 bytes of the host nonce."""
    FAULT = 0x60
    """The device detected a fault, ``fault_code``."""
    LOG_WRAP = 0x70
    """The log was full: ``deleted`` records from ``first_deleted`` on were deleted."""


class ClockSource(enum.IntEnum):
    """Who set the clock (``CLOCK_SET.source``)."""

    HOST = 0
    """A host over USB (a download station or maintenance script)."""
    MENU = 1
    """The device's own settings menu."""


def _payload(*fields: Any) -> cs.Struct:
    """A payload Struct of ``fields`` padded to ``PAYLOAD_SIZE`` with a zero ``reserved`` field."""
    body = cs.Struct(*fields)
    spare = PAYLOAD_SIZE - body.sizeof()
    if spare < 0:  # pragma: no cover - a declaration error, caught at import
        raise AssertionError(f"payload {fields} is {body.sizeof()} bytes")
    if spare:
        return cs.Struct(*fields, "reserved" / cs.Const(bytes(spare)))
    return body


_BATTERY_BAYS = ("battery_pct" / cs.Int8ul, "bays_loaded" / cs.Int8ul)
_VERSION = ("major" / cs.Int8ul, "minor" / cs.Int8ul, "patch" / cs.Int16ul)

UNKNOWN_PAYLOAD = cs.Struct("raw" / cs.Bytes(PAYLOAD_SIZE))
"""Payload of a code this format version does not define: kept raw."""

PAYLOADS: Mapping[EventCode, cs.Struct] = MappingProxyType(
    {
        EventCode.POWER_ON: _payload("battery_pct" / cs.Int8ul, "rtc_valid" / cs.Int8ul),
        EventCode.POWER_OFF: _payload("battery_pct" / cs.Int8ul),
        EventCode.UNHOLSTER: _payload(),
        EventCode.HOLSTER: _payload(),
        EventCode.ARM: _payload(*_BATTERY_BAYS),
        EventCode.SAFE: _payload("armed_ms" / cs.Int32ul, *_BATTERY_BAYS),
        EventCode.LASER_ON: _payload(),
        EventCode.WARNING_ARC: _payload("duration_ms" / cs.Int32ul, *_BATTERY_BAYS),
        EventCode.TRIGGER: _payload("duration_ms" / cs.Int32ul, *_BATTERY_BAYS, "bay" / cs.Int8ul),
        EventCode.CONNECTION: _payload(
            "bay" / cs.Int8ul,
            "circuit" / cs.Int8ul,
            "pulses" / cs.Int16ul,
            "charge_uc" / cs.Int32ul,
        ),
        EventCode.DEPLOY: _payload("bay" / cs.Int8ul, "serial" / SERIAL_FIELD),
        EventCode.DRIVE_STUN: _payload("duration_ms" / cs.Int32ul, *_BATTERY_BAYS),
        EventCode.CARTRIDGE_INSERT: _payload("bay" / cs.Int8ul, "serial" / SERIAL_FIELD),
        EventCode.CARTRIDGE_REMOVE: _payload("bay" / cs.Int8ul, "serial" / SERIAL_FIELD),
        EventCode.FUNCTION_TEST: _payload(
            "duration_ms" / cs.Int32ul, "battery_pct" / cs.Int8ul, "result" / cs.Int8ul
        ),
        EventCode.BATTERY: _payload(
            "battery_pct" / cs.Int8ul, "temperature_c" / cs.Int8sl, "voltage_mv" / cs.Int16ul
        ),
        EventCode.CLOCK_SET: _payload("old_time_ms" / cs.Int64ul, "source" / cs.Int8ul),
        EventCode.FIRMWARE_UPDATE: _payload(
            "old_version" / cs.Struct(*_VERSION), "new_version" / cs.Struct(*_VERSION)
        ),
        EventCode.USB_CONNECT: _payload(),
        EventCode.DOWNLOAD: _payload("nonce_prefix" / cs.Bytes(8)),
        EventCode.FAULT: _payload("fault_code" / cs.Int16ul),
        EventCode.LOG_WRAP: _payload("first_deleted" / cs.Int32ul, "deleted" / cs.Int32ul),
    }
)
"""Each event code's payload declaration (exactly ``PAYLOAD_SIZE`` bytes)."""

assert all(p.sizeof() == PAYLOAD_SIZE for p in PAYLOADS.values())
assert set(PAYLOADS) == set(EventCode)
