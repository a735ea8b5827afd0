"""The record hash chain: ``h_i = SHA-256(h_{i-1} || record_i)``.

``record_i`` is the record's full 32 bytes (CRC included).  The value before a device's
very first record is :func:`genesis_chain` of its serial; after a log wrap the signed base
carries the value before the first retained record.

The chain is serial by nature (each link needs the one before), so its speed is Python's
per-call overhead around one SHA-256 compression of 64 bytes.  :func:`chain_records` keeps
that overhead near a bare ``h = sha256(h + record).digest()`` loop over ready-made
``bytes``: ``struct.iter_unpack`` cuts the records out in C, four at a time, with no
per-record slicing, memoryview or index arithmetic in Python (``bench/bench_verify.py``
measures it against the bare loop).
"""

from __future__ import annotations

import hashlib
import struct
from functools import cache

__all__ = ["genesis_chain", "chain_step", "chain_records"]

_GENESIS = b"taserlink/genesis/v1\x00"
_UNROLL = 4
"""Records per ``iter_unpack`` item in :func:`chain_records` (measured: 4 beats 1, 2, 8, 16)."""


def genesis_chain(device_serial: str) -> bytes:
    """Chain value before sequence 1 of the device with ``device_serial``."""
    return hashlib.sha256(_GENESIS + device_serial.encode("ascii")).digest()


def chain_step(previous: bytes, record: bytes) -> bytes:
    """Chain value after ``record`` (32 bytes) given the value before it."""
    return hashlib.sha256(previous + record).digest()


@cache
def _unpacker(record_size: int) -> struct.Struct:
    return struct.Struct(f"{record_size}s" * _UNROLL)


def chain_records(
    previous: bytes, records: bytes | bytearray | memoryview, record_size: int = 32
) -> bytes:
    """Chain value after every record in ``records`` (back to back), starting from ``previous``.

    Args:
        previous: the chain value before the first record (32 bytes).
        records: the records' bytes; a memoryview is read in place, not copied.  A trailing
            piece shorter than ``record_size`` is chained as it is (a truncated last record).
        record_size: bytes per record.

    Returns:
        The chain value after the last record (``previous`` itself when there are none).

    Raises:
        ValueError: ``record_size`` is not positive.
    """
    if record_size <= 0:
        raise ValueError(f"record size {record_size} must be positive")
    view = memoryview(records).cast("B")
    sha256 = hashlib.sha256
    value = bytes(previous)
    block = record_size * _UNROLL
    whole = len(view) - len(view) % block
    if whole:
        for a, b, c, d in _unpacker(record_size).iter_unpack(view[:whole]):
            value = sha256(
                sha256(sha256(sha256(value + a).digest() + b).digest() + c).digest() + d
            ).digest()
    for start in range(whole, len(view), record_size):
        value = sha256(value + view[start : start + record_size]).digest()
    return value
