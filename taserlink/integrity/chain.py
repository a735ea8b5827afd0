"""The record hash chain: ``h_i = SHA-256(h_{i-1} || record_i)``.

``record_i`` is the record's full 32 bytes (CRC included).  The value before a device's
very first record is :func:`genesis_chain` of its serial; after a log wrap the signed base
carries the value before the first retained record.
"""

from __future__ import annotations

import hashlib

__all__ = ["genesis_chain", "chain_step", "chain_records"]

_GENESIS = b"taserlink/genesis/v1\x00"


def genesis_chain(device_serial: str) -> bytes:
    """Chain value before sequence 1 of the device with ``device_serial``."""
    return hashlib.sha256(_GENESIS + device_serial.encode("ascii")).digest()


def chain_step(previous: bytes, record: bytes) -> bytes:
    """Chain value after ``record`` (32 bytes) given the value before it."""
    return hashlib.sha256(previous + record).digest()


def chain_records(previous: bytes, records: bytes | memoryview, record_size: int = 32) -> bytes:
    """Chain value after every record in ``records`` (back to back), starting from ``previous``."""
    view = memoryview(records)
    sha256 = hashlib.sha256
    value = previous
    for start in range(0, len(view), record_size):
        value = sha256(value + view[start : start + record_size]).digest()
    return value
