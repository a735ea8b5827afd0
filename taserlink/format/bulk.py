"""The bulk path: fixed-size sections to numpy structured arrays in one step.

The dtypes here are *derived* from the construct declarations in
:mod:`taserlink.format.layout` and :mod:`taserlink.format.events`, so a field's width and
position are stated once.  Record CRCs are checked vectorised with per-position CRC-32
tables (CRC-32 is affine in its input, so the CRC of a fixed-length message is the XOR of
one table entry per input byte pair).

This is the *fast* path: it checks CRCs and nothing else.  The checked construct parse
(:data:`taserlink.format.layout.RECORD` per record, :data:`~taserlink.format.layout.IMAGE`
for a whole file) stays the reference that tests compare it against, and integrity
verification never relies on this module alone.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

import construct as cs
import numpy as np
import numpy.typing as npt

from taserlink.format.events import PAYLOAD_SIZE, PAYLOADS, EventCode
from taserlink.format.layout import RECORD, RECORD_SIZE, SEAL

__all__ = [
    "dtype_of",
    "RECORD_DTYPE",
    "SEAL_DTYPE",
    "PAYLOAD_DTYPES",
    "CRC_SPAN",
    "records_from_buffer",
    "record_crcs",
    "crc_mismatches",
    "payload_view",
]


def dtype_of(con: Any) -> np.dtype[Any]:
    """The numpy dtype with the same layout as a fixed-size construct declaration.

    Structs become structured dtypes with the same field names (``RawCopy`` is flattened
    into its value's fields), integers keep their width and byte order, ASCII strings become
    ``S<n>``, and any other fixed-size field (raw bytes, a switched payload, a constant)
    becomes ``V<n>``.

    Raises:
        TypeError: for a construct whose size depends on its data.
    """
    if isinstance(con, cs.Renamed):
        return dtype_of(con.subcon)
    if isinstance(con, cs.RawCopy):
        return dtype_of(con.subcon)
    if isinstance(con, cs.Checksum):
        return dtype_of(con.checksumfield)
    if isinstance(con, cs.FormatField):
        order, code = con.fmtstr[0], con.fmtstr[1:]
        kind = "f" if code in "efd" else "i" if code.islower() else "u"
        return np.dtype(f"{order}{kind}{struct.calcsize(con.fmtstr)}")
    if isinstance(con, cs.Struct):
        names: list[str] = []
        formats: list[Any] = []
        offsets: list[int] = []
        position = 0
        for sub in con.subcons:
            inner = dtype_of(sub)
            if isinstance(sub, cs.Struct | cs.RawCopy) and not sub.name:  # pragma: no cover
                raise TypeError("anonymous nested structs are not supported")
            names.append(sub.name)
            formats.append(inner)
            offsets.append(position)
            position += inner.itemsize
        return np.dtype(
            {"names": names, "formats": formats, "offsets": offsets, "itemsize": position}
        )
    if isinstance(con, cs.StringEncoded) and con.encoding == "ascii":
        return np.dtype(f"S{con.sizeof()}")
    try:
        size = con.sizeof()
    except cs.SizeofError as error:
        raise TypeError(f"{con!r} has no fixed size") from error
    return np.dtype(f"V{size}")


def _flatten_record_dtype() -> np.dtype[Any]:
    outer = dtype_of(RECORD)
    body = outer["body"]
    assert body.names is not None
    names = [*body.names, "crc"]
    formats = [body[n] for n in body.names] + [outer["crc"]]
    assert body.fields is not None
    offsets = [body.fields[n][1] for n in body.names] + [body.itemsize]
    return np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": RECORD_SIZE}
    )


RECORD_DTYPE: np.dtype[Any] = _flatten_record_dtype()
"""One record: ``seq`` u4, ``time_ms`` u8, ``code`` u2, ``payload`` V14, ``crc`` u4."""
SEAL_DTYPE: np.dtype[Any] = dtype_of(SEAL)
"""One seal: ``seq`` u4, ``chain`` V32, ``device_time_ms`` u8, ``signature`` V64."""
PAYLOAD_DTYPES: Mapping[EventCode, np.dtype[Any]] = MappingProxyType(
    {code: dtype_of(payload) for code, payload in PAYLOADS.items()}
)
"""Each event's payload fields as a dtype of ``PAYLOAD_SIZE`` bytes."""

CRC_SPAN = RECORD_DTYPE.fields["crc"][1] if RECORD_DTYPE.fields else 0
"""Bytes of each record the CRC covers (everything before the CRC field)."""

assert RECORD_DTYPE.itemsize == RECORD_SIZE
assert all(d.itemsize == PAYLOAD_SIZE for d in PAYLOAD_DTYPES.values())


def records_from_buffer(buffer: bytes | memoryview, offset: int, count: int) -> npt.NDArray[Any]:
    """``count`` records starting at ``offset`` as a read-only structured array (no copy)."""
    return np.frombuffer(buffer, dtype=RECORD_DTYPE, count=count, offset=offset)


@cache
def _crc_tables() -> tuple[npt.NDArray[np.uint32], int]:
    """Per-position tables over 16-bit words, and the CRC of an all-zero message.

    ``crc(m) = zero ^ XOR_i table[i][word_i(m)]`` for every ``CRC_SPAN``-byte message ``m``.
    """
    span = CRC_SPAN
    zero = zlib.crc32(bytes(span))
    byte_tables = np.empty((span, 256), dtype=np.uint32)
    message = bytearray(span)
    for position in range(span):
        for value in range(256):
            message[position] = value
            byte_tables[position, value] = zlib.crc32(message) ^ zero
        message[position] = 0
    words = span // 2
    word = np.arange(65536, dtype=np.uint32)
    low, high = word & 0xFF, word >> 8
    tables = np.empty((words, 65536), dtype=np.uint32)
    for i in range(words):
        tables[i] = byte_tables[2 * i][low] ^ byte_tables[2 * i + 1][high]
    return tables, zero


CRC_BLOCK = 16384
"""Records per block in :func:`record_crcs`: a block's words, output and scratch stay in cache."""


def record_crcs(records: npt.NDArray[Any]) -> npt.NDArray[np.uint32]:
    """CRC-32 of each record's first ``CRC_SPAN`` bytes, computed vectorised.

    Per block of records, one table gather per 16-bit word position XOR-ed into the result
    (``mode="wrap"`` skips bounds checks: a 16-bit word always indexes a 65,536-entry table).
    """
    tables, zero = _crc_tables()
    raw = np.ascontiguousarray(records).view(np.uint8).reshape(-1, RECORD_SIZE)
    words = raw[:, :CRC_SPAN].view("<u2")
    out = np.empty(len(raw), dtype=np.uint32)
    scratch = np.empty(min(CRC_BLOCK, len(raw)), dtype=np.uint32)
    for start in range(0, len(raw), CRC_BLOCK):
        chunk = words[start : start + CRC_BLOCK]
        accumulator = out[start : start + CRC_BLOCK]
        accumulator.fill(zero)
        gathered = scratch[: len(chunk)]
        for i in range(chunk.shape[1]):
            np.take(tables[i], chunk[:, i], out=gathered, mode="wrap")
            accumulator ^= gathered
    return out


def crc_mismatches(records: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Indices of the records whose stored CRC differs from their bytes'."""
    return np.flatnonzero(record_crcs(records) != records["crc"])


def payload_view(records: npt.NDArray[Any], code: EventCode) -> npt.NDArray[Any]:
    """The payload fields of the records with event ``code``, as a structured array.

    Example: ``payload_view(image.records, EventCode.TRIGGER)["duration_ms"]``.
    """
    selected = records["payload"][records["code"] == code]
    return np.ascontiguousarray(selected).view(PAYLOAD_DTYPES[code])
