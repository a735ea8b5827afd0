"""The dataport USB protocol: frames, commands and payloads, declared once with construct.

Host and device share only this module (the host side is :mod:`taserlink.device`, the device
side :mod:`taserlink.emulator`), so what runs against the emulated device in tests is what
runs against hardware.  ``docs/protocol.md`` is the specification.

A frame, in either direction, is one bulk transfer::

    "TL" | length u16 | command u8 | flags u8 | sequence u16 | payload[length] | crc32 u32

little-endian; the CRC-32 (as zlib) covers everything before it.  The host numbers its
requests; the device answers each with a frame of the same command and sequence with the
``RESPONSE`` flag, and ``ERROR`` as well when it refuses (payload: :data:`ERROR`).
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass
from typing import Final

import construct as cs

from taserlink.errors import ProtocolError
from taserlink.format import layout as F

__all__ = [
    "VENDOR_ID",
    "PRODUCT_ID",
    "INTERFACE_CLASS",
    "EP_OUT",
    "EP_IN",
    "MAX_PACKET",
    "PROTOCOL_VERSION",
    "MAX_PAYLOAD",
    "MAX_FRAME",
    "RECORDS_PER_READ",
    "SEALS_PER_READ",
    "Command",
    "Flag",
    "Status",
    "Frame",
    "FRAME_HEADER",
    "FRAME_OVERHEAD",
    "encode_frame",
    "decode_frame",
    "IDENTIFY_RESPONSE",
    "CLOCK",
    "SET_CLOCK_RESPONSE",
    "READ_RECORDS",
    "READ_SEALS",
    "COUNTED",
    "SIGN_STATEMENT",
    "ERROR",
]

VENDOR_ID: Final = 0x1209
"""USB vendor id (the open pid.codes vendor).  A PLACEHOLDER: a maker ships its own ids."""
PRODUCT_ID: Final = 0x7A5E
"""USB product id.  A PLACEHOLDER, not allocated: a maker ships its own ids."""
INTERFACE_CLASS: Final = 0xFF
"""Vendor-specific interface class."""
EP_OUT: Final = 0x01
"""Bulk OUT endpoint address (host → device)."""
EP_IN: Final = 0x81
"""Bulk IN endpoint address (device → host)."""
MAX_PACKET: Final = 512
"""wMaxPacketSize of both bulk endpoints (high speed)."""
PROTOCOL_VERSION: Final = 1
"""What ``IDENTIFY`` answers; a host refuses a version it does not know (no negotiation)."""

RECORDS_PER_READ: Final = 256
"""Most records one ``READ_RECORDS`` answer holds (8 KiB of records)."""
SEALS_PER_READ: Final = 64
"""Most seals one ``READ_SEALS`` answer holds."""

FRAME_HEADER = cs.Struct(
    "magic" / cs.Const(b"TL"),
    "length" / cs.Int16ul,
    "command" / cs.Int8ul,
    "flags" / cs.Int8ul,
    "sequence" / cs.Int16ul,
)
"""The 8 bytes before a frame's payload."""
_HEADER: Final = struct.Struct("<2sHBBH")
"""The same header as :data:`FRAME_HEADER`, precompiled for the per-transfer hot path (a
test asserts the two agree on every field)."""
assert _HEADER.size == FRAME_HEADER.sizeof()
FRAME_OVERHEAD: Final = FRAME_HEADER.sizeof() + 4
"""Header and CRC bytes around a payload."""
MAX_PAYLOAD: Final = 2 + RECORDS_PER_READ * F.RECORD_SIZE
"""Largest payload either side sends (a full ``READ_RECORDS`` answer)."""
MAX_FRAME: Final = MAX_PAYLOAD + FRAME_OVERHEAD
"""Largest frame; the host reads with a buffer of at least this size."""


class Command(enum.IntEnum):
    """What the host asks (**contract**: codes are the protocol's)."""

    IDENTIFY = 0x01
    """→ protocol version, the log's first and last sequence, seal count, identity section."""
    READ_CLOCK = 0x02
    """→ the device clock (ms since 2000-01-01, device time)."""
    SET_CLOCK = 0x03
    """(new device time) → the old time and the sequence of the ``CLOCK_SET`` logged."""
    READ_CERTIFICATES = 0x04
    """→ the certificates section."""
    READ_BASE = 0x05
    """→ the base section."""
    READ_RECORDS = 0x06
    """(from sequence, most) → up to ``most`` records from that sequence on."""
    READ_SEALS = 0x07
    """(from index, most) → up to ``most`` seals from that position on."""
    SIGN_STATEMENT = 0x08
    """(host nonce) → the device logs ``DOWNLOAD`` and answers a signed statement."""


class Flag(enum.IntFlag):
    RESPONSE = 0x80
    """Set on every device → host frame."""
    ERROR = 0x40
    """The device refused the request; the payload says why (:data:`ERROR`)."""


class Status(enum.IntEnum):
    """Why the device refused a request."""

    BAD_FRAME = 0x01
    """The request's CRC, magic or length was wrong: send it again."""
    UNKNOWN_COMMAND = 0x02
    """The command code is not one of :class:`Command`."""
    BAD_ARGUMENT = 0x03
    """The request's payload does not fit the command (wrong size, a count out of range)."""
    NOT_RETAINED = 0x04
    """The records asked for were deleted (the log wrapped): start from the base."""
    BUSY = 0x05
    """The device is busy (arming, firing): try again later."""


IDENTIFY_RESPONSE = cs.Struct(
    "protocol_version" / cs.Int8ul,
    "first_seq" / cs.Int32ul,
    "last_seq" / cs.Int32ul,
    "seal_count" / cs.Int32ul,
    "identity" / cs.GreedyBytes,
)
"""``IDENTIFY`` answer; ``identity`` is the image's identity section, byte for byte."""
CLOCK = cs.Struct("device_time_ms" / cs.Int64ul)
"""``READ_CLOCK`` answer, and ``SET_CLOCK`` request."""
SET_CLOCK_RESPONSE = cs.Struct("old_time_ms" / cs.Int64ul, "seq" / cs.Int32ul)
READ_RECORDS = cs.Struct("from_seq" / cs.Int32ul, "most" / cs.Int16ul)
"""``READ_RECORDS`` request."""
READ_SEALS = cs.Struct("from_index" / cs.Int32ul, "most" / cs.Int16ul)
"""``READ_SEALS`` request."""
COUNTED = cs.Struct("count" / cs.Int16ul, "data" / cs.GreedyBytes)
"""``READ_RECORDS``/``READ_SEALS`` answer: a count, then that many records (32 B) or seals."""
SIGN_STATEMENT = cs.Struct("nonce" / cs.Bytes(F.NONCE_SIZE))
"""``SIGN_STATEMENT`` request; the answer is the image's statement section."""
ERROR = cs.Struct("status" / cs.Int8ul, "message" / cs.PascalString(cs.Int8ul, "utf8"))
"""Payload of an ``ERROR`` answer."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    command: int
    flags: int
    sequence: int
    payload: bytes

    @property
    def is_response(self) -> bool:
        return bool(self.flags & Flag.RESPONSE)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & Flag.ERROR)


def encode_frame(command: int, sequence: int, payload: bytes = b"", flags: int = 0) -> bytes:
    """A frame's bytes, CRC included."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    try:
        body = _HEADER.pack(b"TL", len(payload), command, flags, sequence) + payload
    except struct.error as error:
        raise ProtocolError(f"cannot encode frame: {error}") from None
    return body + zlib.crc32(body).to_bytes(4, "little")


def decode_frame(data: bytes) -> Frame:
    """Decode one frame.

    Raises:
        ProtocolError: wrong magic, a length that disagrees with the data, or a bad CRC.
    """
    if len(data) < FRAME_OVERHEAD:
        raise ProtocolError(f"short frame: {len(data)} bytes")
    magic, length, command, flags, sequence = _HEADER.unpack_from(data)
    if magic != b"TL":
        raise ProtocolError("bad frame magic")
    start = _HEADER.size
    end = start + length
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"frame says {length} payload bytes, more than {MAX_PAYLOAD}")
    if len(data) != end + 4:
        carried = len(data) - FRAME_OVERHEAD
        raise ProtocolError(f"frame says {length} payload bytes, carries {carried}")
    if zlib.crc32(data[:end]) != int.from_bytes(data[end:], "little"):
        raise ProtocolError("frame CRC mismatch")
    return Frame(command, flags, sequence, bytes(data[start:end]))
