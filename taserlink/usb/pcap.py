"""Classic pcap (libpcap's file format), read only: its file and record headers declared with
construct, in either byte order.

``editcap -F pcap`` and older tools write it.  A file is a 24-byte header (magic, version,
zone, accuracy, snap length, link type), then each packet as a 16-byte record header
(seconds, fraction, captured length, original length) and its bytes.  The magic tells the
byte order and whether the fraction counts microseconds or nanoseconds.
"""

from __future__ import annotations

from typing import Final

import construct as cs

__all__ = [
    "MAGIC_MICROSECONDS",
    "MAGIC_NANOSECONDS",
    "FILE_HEADER",
    "FILE_HEADER_BIG",
    "RECORD_HEADER",
    "RECORD_HEADER_BIG",
]

MAGIC_MICROSECONDS: Final = 0xA1B2C3D4
MAGIC_NANOSECONDS: Final = 0xA1B23C4D


def _declare(little: bool) -> tuple[cs.Struct, cs.Struct]:
    u16, u32 = (cs.Int16ul, cs.Int32ul) if little else (cs.Int16ub, cs.Int32ub)
    s32 = cs.Int32sl if little else cs.Int32sb
    file_header = cs.Struct(
        "magic" / u32,
        "version_major" / u16,
        "version_minor" / u16,
        "thiszone" / s32,
        "sigfigs" / u32,
        "snap_length" / u32,
        "link_type" / u32,
    )
    record_header = cs.Struct(
        "ts_sec" / u32,
        "ts_fraction" / u32,
        "captured_length" / u32,
        "original_length" / u32,
    )
    return file_header, record_header


FILE_HEADER, RECORD_HEADER = _declare(little=True)
"""The file header (24 bytes) and a record header (16 bytes), little-endian."""
FILE_HEADER_BIG, RECORD_HEADER_BIG = _declare(little=False)
"""The same, big-endian."""
