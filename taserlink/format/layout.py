"""The dataport image, declared once with construct.

An image is eight sections in this order (see ``docs/format.md``)::

    header | identity | certificates | base | records | seals | statement | acquisition

Two format versions share every section but the last: version 1's acquisition is protected
by keyless digests only (:data:`ACQUISITION`); version 2's is also signed by the download
workstation's key, whose certificate chain it carries (:data:`ACQUISITION_V2`).

All integers are little-endian.  The header gives every other section's length, so a
reader knows where each one starts without parsing the others.  Records and seals are
fixed-size and also read in bulk through numpy dtypes derived from these declarations
(:mod:`taserlink.format.bulk`).
"""

from __future__ import annotations

import zlib
from typing import Any, Final

import construct as cs

from taserlink.format.events import PAYLOAD_SIZE, PAYLOADS, UNKNOWN_PAYLOAD
from taserlink.serials import SERIAL_LENGTH

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "UNSIGNED_VERSION",
    "SIGNED_VERSION",
    "RECORD_SIZE",
    "SIGNATURE_ED25519",
    "DEVICE_EPOCH_UNIX_MS",
    "SECTION_NAMES",
    "HEADER",
    "IDENTITY",
    "FIRMWARE_VERSION",
    "CERTIFICATES",
    "BASE",
    "RECORD_BODY",
    "RECORD",
    "SEAL",
    "STATEMENT",
    "ACQUISITION",
    "ACQUISITION_V2",
    "ACQUISITIONS",
    "SIGNATURE_SIZE",
    "DIGEST_SIZE",
    "NONCE_SIZE",
    "signed_message",
    "record_crc",
]

MAGIC: Final = b"\x89TDI\r\n\x1a\n"
"""File signature: a high byte, ``TDI``, CR LF, EOF and LF catch text-mode transfers."""
UNSIGNED_VERSION: Final = 1
"""Format version 1: the acquisition is protected by keyless digests only."""
SIGNED_VERSION: Final = 2
"""Format version 2: the acquisition is also signed by the download workstation's key."""
FORMAT_VERSIONS: Final = (UNSIGNED_VERSION, SIGNED_VERSION)
"""Every format version this library reads (and writes: 1 without a workstation key, 2
with one)."""
FORMAT_VERSION: Final = SIGNED_VERSION
"""The newest format version this library reads and writes."""
RECORD_SIZE: Final = 32
"""Bytes per event record."""
DEVICE_EPOCH_UNIX_MS: Final = 946_684_800_000
"""Device time 0 (2000-01-01T00:00:00, a clock's reset value) in Unix milliseconds, were
the device clock set to UTC.  Device times carry no time zone: converting one to UTC needs
the clock correction of :mod:`taserlink.timeline.clock`."""
SIGNATURE_ED25519: Final = 1
"""``identity.signature_algorithm`` value: Ed25519 (RFC 8032), 64-byte signatures."""
SIGNATURE_SIZE: Final = 64
DIGEST_SIZE: Final = 32
"""SHA-256 digest bytes (chain values and acquisition hashes)."""
NONCE_SIZE: Final = 32

SECTION_NAMES: Final = (
    "identity",
    "certificates",
    "base",
    "records",
    "seals",
    "statement",
    "acquisition",
)
"""The sections after the header, in file order; the header holds each one's length."""

HEADER = cs.Struct(
    "magic" / cs.Const(MAGIC),
    "version" / cs.Int16ul,
    "record_size" / cs.Int16ul,
    *[f"{name}_length" / cs.Int32ul for name in SECTION_NAMES],
)
"""Section 1: magic, format version, record size and the length of every other section."""

FIRMWARE_VERSION = cs.Struct("major" / cs.Int8ul, "minor" / cs.Int8ul, "patch" / cs.Int16ul)

IDENTITY = cs.Struct(
    "serial" / cs.PaddedString(SERIAL_LENGTH, "ascii"),
    "model" / cs.PascalString(cs.Int8ul, "utf8"),
    "hardware_revision" / cs.PascalString(cs.Int8ul, "utf8"),
    "firmware" / FIRMWARE_VERSION,
    "log_capacity" / cs.Int32ul,
    "signature_algorithm" / cs.Int8ul,
)
"""Section 2: who the device says it is."""

CERTIFICATES = cs.PrefixedArray(cs.Int8ul, cs.Prefixed(cs.Int16ul, cs.GreedyBytes))
"""Section 3: DER certificates, the device's first, then intermediates (never the root)."""

BASE = cs.Struct(
    "first_seq" / cs.Int32ul,
    "chain_before" / cs.Bytes(DIGEST_SIZE),
    "device_time_ms" / cs.Int64ul,
    "signature" / cs.Bytes(SIGNATURE_SIZE),
)
"""Section 4: where the retained log starts and the chain value before its first record."""


def record_crc(body: bytes) -> int:
    """CRC-32 (ISO-HDLC, as zlib) of a record's first 28 bytes."""
    return zlib.crc32(body)


RECORD_BODY = cs.Struct(
    "seq" / cs.Int32ul,
    "time_ms" / cs.Int64ul,
    "code" / cs.Int16ul,
    "payload"
    / cs.FixedSized(
        PAYLOAD_SIZE,
        cs.Switch(cs.this.code, {int(code): p for code, p in PAYLOADS.items()}, UNKNOWN_PAYLOAD),
    ),
)
"""A record without its CRC: sequence, device time (ms since 2000), event code, payload."""

RECORD = cs.Struct(
    "body" / cs.RawCopy(RECORD_BODY),
    "crc" / cs.Checksum(cs.Int32ul, record_crc, cs.this.body.data),
)
"""Section 5 holds these back to back: a record body and the CRC-32 of its bytes."""

SEAL = cs.Struct(
    "seq" / cs.Int32ul,
    "chain" / cs.Bytes(DIGEST_SIZE),
    "device_time_ms" / cs.Int64ul,
    "signature" / cs.Bytes(SIGNATURE_SIZE),
)
"""Section 6 holds these back to back: a signed checkpoint of the chain after ``seq``."""

STATEMENT = cs.Struct(
    "nonce" / cs.Bytes(NONCE_SIZE),
    "first_seq" / cs.Int32ul,
    "last_seq" / cs.Int32ul,
    "chain" / cs.Bytes(DIGEST_SIZE),
    "device_time_ms" / cs.Int64ul,
    "seal_interval" / cs.Int16ul,
    "identity_sha256" / cs.Bytes(DIGEST_SIZE),
    "signature" / cs.Bytes(SIGNATURE_SIZE),
)
"""Section 7: the device's signed account of this download (empty when none was made): the
host's nonce, the records it covers and the chain value after them, the device clock, how
often the device seals (so a verifier knows which seals must be present) and the SHA-256 of
the identity section (so the device vouches for what it says it is)."""

ACQUISITION = cs.Struct(
    "nonce" / cs.Bytes(NONCE_SIZE),
    "host_utc_start_ms" / cs.Int64sl,
    "host_utc_end_ms" / cs.Int64sl,
    "statement_utc_ms" / cs.Int64sl,
    "clock_source" / cs.PascalString(cs.Int8ul, "utf8"),
    "tool_version" / cs.PascalString(cs.Int8ul, "utf8"),
    "operator" / cs.PascalString(cs.Int8ul, "utf8"),
    "workstation" / cs.PascalString(cs.Int8ul, "utf8"),
    "device_sha256" / cs.Bytes(DIGEST_SIZE),
    "closing_sha256" / cs.Bytes(DIGEST_SIZE),
)
"""Section 8 in format version 1: the host's record of the acquisition, hashed over
everything before it (keyless digests only)."""

ACQUISITION_V2 = cs.Struct(
    "nonce" / cs.Bytes(NONCE_SIZE),
    "host_utc_start_ms" / cs.Int64sl,
    "host_utc_end_ms" / cs.Int64sl,
    "statement_utc_ms" / cs.Int64sl,
    "clock_source" / cs.PascalString(cs.Int8ul, "utf8"),
    "tool_version" / cs.PascalString(cs.Int8ul, "utf8"),
    "operator" / cs.PascalString(cs.Int8ul, "utf8"),
    "workstation" / cs.PascalString(cs.Int8ul, "utf8"),
    "workstation_signature_algorithm" / cs.Int8ul,
    "workstation_certificates" / CERTIFICATES,
    "device_sha256" / cs.Bytes(DIGEST_SIZE),
    "workstation_signature" / cs.Bytes(SIGNATURE_SIZE),
    "closing_sha256" / cs.Bytes(DIGEST_SIZE),
)
"""Section 8 in format version 2: version 1's fields, then the workstation's signature
algorithm and certificate chain (its own certificate first, never the root), the SHA-256 of
sections 1–7, the workstation's signature over every acquisition byte before it
(:func:`signed_message` ``"acquisition"``), and the closing SHA-256."""

ACQUISITIONS: Final = {UNSIGNED_VERSION: ACQUISITION, SIGNED_VERSION: ACQUISITION_V2}
"""The acquisition declaration of each format version."""

_DOMAINS: Final = {
    "base": b"taserlink/base/v1\x00",
    "seal": b"taserlink/seal/v1\x00",
    "statement": b"taserlink/statement/v1\x00",
    "acquisition": b"taserlink/acquisition/v2\x00",
}


def signed_message(kind: str, device_serial: str, fields: bytes) -> bytes:
    """The exact bytes signed for a base, seal or statement (by the device) or for a
    version-2 acquisition (by the download workstation, ``kind`` ``"acquisition"``).

    ``fields`` is the section's (or seal's) bytes without its trailing signature; for an
    acquisition, its bytes from the nonce to the end of ``device_sha256``.  The message is
    ``domain tag || device serial (10 ASCII bytes) || fields``; the domain tag keeps a seal's
    signature from passing as a base's (or a device's as a workstation's), and the serial
    binds it to one device.

    Raises:
        KeyError: an unknown ``kind``.
    """
    return _DOMAINS[kind] + device_serial.encode("ascii") + fields


def _fixed(struct: Any) -> int:
    return int(struct.sizeof())


BASE_SIZE: Final = _fixed(BASE)
SEAL_SIZE: Final = _fixed(SEAL)
STATEMENT_SIZE: Final = _fixed(STATEMENT)
HEADER_SIZE: Final = _fixed(HEADER)
assert _fixed(RECORD) == RECORD_SIZE

IMAGE = cs.Struct(
    "header" / HEADER,
    "identity" / cs.FixedSized(cs.this.header.identity_length, IDENTITY),
    "certificates" / cs.FixedSized(cs.this.header.certificates_length, CERTIFICATES),
    "base" / cs.FixedSized(cs.this.header.base_length, BASE),
    "records" / cs.Array(cs.this.header.records_length // RECORD_SIZE, RECORD),
    "seals" / cs.Array(cs.this.header.seals_length // SEAL_SIZE, SEAL),
    "statement"
    / cs.FixedSized(
        cs.this.header.statement_length, cs.If(cs.this.header.statement_length > 0, STATEMENT)
    ),
    "acquisition"
    / cs.FixedSized(
        cs.this.header.acquisition_length,
        cs.Switch(cs.this.header.version, dict(ACQUISITIONS), cs.Error),
    ),
    cs.Terminated,
)
"""A whole image in one declaration: the checked reference parse (every record's CRC is
verified by construct's ``Checksum``).  :func:`taserlink.format.read_image` reads the same
sections with the same declarations, records and seals through numpy."""

__all__ += ["BASE_SIZE", "SEAL_SIZE", "STATEMENT_SIZE", "HEADER_SIZE", "IMAGE"]
