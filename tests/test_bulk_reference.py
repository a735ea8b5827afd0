"""The numpy bulk path against the construct reference, record by record.

The bulk path (:mod:`taserlink.format.bulk`) reads records with one ``frombuffer`` and
checks CRCs vectorised; construct's per-record parse is the reference.  They must agree on
every field and every CRC verdict: on the bundled captures, on damaged captures and on
generated record sections that include garbage.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import construct as cs
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import FormatError
from taserlink.format import layout as L
from taserlink.format.bulk import (
    CRC_SPAN,
    PAYLOAD_DTYPES,
    RECORD_DTYPE,
    SEAL_DTYPE,
    crc_mismatches,
    payload_view,
    record_crcs,
    records_from_buffer,
)
from taserlink.format.events import PAYLOAD_SIZE, PAYLOADS, EventCode
from taserlink.format.image import read_image
from taserlink.format.records import decode_payload
from tests.conftest import CAPTURE_FILES
from tests.strategies import record_sections, seal_lists

BODY_SIZE = int(L.RECORD_BODY.sizeof())
CRC_FIELD = L.RECORD.subcons[1].subcon.checksumfield
"""The record's CRC field as declared (inside the ``Checksum``)."""
HEADER_FIELDS = L.RECORD_BODY.subcons[:-1]
"""seq, time_ms, code: the record fields before the payload."""


# -- the reference ----------------------------------------------------------------------


def _reference_verdicts(raw_records: list[bytes]) -> tuple[set[int], set[int]]:
    """(indices whose CRC construct rejects, indices whose body construct rejects).

    A record whose body does not parse (stray reserved bits in a known event's payload)
    makes ``RECORD.parse`` fail on the body before it reaches the checksum; for those the
    CRC verdict is zlib's over the declared CRC span.
    """
    bad_crc: set[int] = set()
    bad_body: set[int] = set()
    for index, raw in enumerate(raw_records):
        try:
            L.RECORD.parse(raw)
        except cs.ChecksumError:
            bad_crc.add(index)
        except cs.ConstructError:
            bad_body.add(index)
            stored = CRC_FIELD.parse(raw[BODY_SIZE:])
            if zlib.crc32(raw[:BODY_SIZE]) != stored:
                bad_crc.add(index)
    return bad_crc, bad_body


def _python(value: Any) -> Any:
    """A numpy scalar or void as the Python value construct would give."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.void) and value.dtype.names:
        return {name: _python(value[name]) for name in value.dtype.names}
    if isinstance(value, np.void):
        return value.tobytes()
    return value


def _assert_fields_agree(con: Any, row: Any, raw: bytes) -> None:
    """Each field of a bulk payload row equals construct's parse of the same bytes.

    Walks the declaration, parsing each field from its own slice, so it works for payloads
    whose reserved bytes are not zero (where the checked parse of the whole struct fails).
    """
    offset = 0
    for sub in con.subcons:
        size = int(sub.sizeof())
        chunk = raw[offset : offset + size]
        offset += size
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        got = row[sub.name]
        if isinstance(inner, cs.Struct):
            _assert_fields_agree(inner, got, chunk)
        elif isinstance(inner, cs.Const):
            assert _python(got) == chunk, sub.name
        elif isinstance(inner, cs.StringEncoded):
            assert bytes(got) == chunk.rstrip(b"\x00"), sub.name
            try:
                text = inner.parse(chunk)
            except cs.ConstructError:
                continue  # not ASCII: construct refuses, the raw bytes agreed above
            assert bytes(got).decode("ascii") == text, sub.name
        else:
            assert _python(got) == inner.parse(chunk), sub.name
    assert offset == len(raw)


def _assert_bulk_matches_reference(records: npt.NDArray[Any]) -> dict[str, int]:
    """Every check of this module on one array of records; returns counts for the caller."""
    raw_records = [row.tobytes() for row in records]
    assert all(len(raw) == L.RECORD_SIZE for raw in raw_records)

    # header fields and CRC, record by record
    for raw, row in zip(raw_records, records, strict=True):
        offset = 0
        for sub in HEADER_FIELDS:
            size = int(sub.sizeof())
            assert int(row[sub.name]) == sub.parse(raw[offset : offset + size]), sub.name
            offset += size
        assert int(row["crc"]) == CRC_FIELD.parse(raw[BODY_SIZE:])
        try:
            parsed = L.RECORD.parse(raw)
        except cs.ConstructError:
            continue
        value = parsed.body.value
        assert (value.seq, value.time_ms, value.code, parsed.crc) == (
            int(row["seq"]),
            int(row["time_ms"]),
            int(row["code"]),
            int(row["crc"]),
        )

    # CRCs
    crcs = record_crcs(records)
    assert crcs.dtype == np.uint32
    assert crcs.tolist() == [zlib.crc32(raw[:CRC_SPAN]) for raw in raw_records]
    bad_crc, bad_body = _reference_verdicts(raw_records)
    assert set(crc_mismatches(records).tolist()) == bad_crc
    assert crc_mismatches(records).tolist() == sorted(bad_crc)

    # payloads, code by code
    decoded_ok = 0
    for code in EventCode:
        indices = np.flatnonzero(records["code"] == code)
        view = payload_view(records, code)
        assert view.dtype == PAYLOAD_DTYPES[code]
        assert len(view) == len(indices)
        for index, row in zip(indices, view, strict=True):
            payload = raw_records[index][BODY_SIZE - PAYLOAD_SIZE : BODY_SIZE]
            assert row.tobytes() == payload
            assert len(payload) == PAYLOAD_SIZE
            _assert_fields_agree(PAYLOADS[code], row, payload)
            try:
                decoded = decode_payload(int(code), payload)
            except FormatError:
                assert index in bad_body
                continue
            assert index not in bad_body
            decoded_ok += 1
            names = [n for n in view.dtype.names or () if n != "reserved"]
            assert names == list(decoded)
            for name, value in decoded.items():
                if isinstance(value, str):
                    assert bytes(row[name]).decode("ascii") == value, name
                else:
                    assert _python(row[name]) == value, name
    return {"bad_crc": len(bad_crc), "bad_body": len(bad_body), "decoded": decoded_ok}


# -- the bundled captures ---------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_capture_bulk_path_matches_reference(path: Path) -> None:
    image = read_image(path)
    assert len(image.records) > 0
    counts = _assert_bulk_matches_reference(image.records)
    assert counts["bad_crc"] == counts["bad_body"] == 0
    assert counts["decoded"] == len(image.records)
    assert image.crc_failures.tolist() == []

    ref = L.IMAGE.parse(image.data)
    assert [r.body.data + r.crc.to_bytes(4, "little") for r in ref.records] == [
        row.tobytes() for row in image.records
    ]
    assert len(ref.seals) == len(image.seals)
    for seal, row in zip(ref.seals, image.seals, strict=True):
        assert bytes(L.SEAL.build(seal)) == row.tobytes()


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
@settings(max_examples=8)
@given(data=st.data())
def test_damaged_capture_bulk_path_matches_reference(path: Path, data: st.DataObject) -> None:
    image = read_image(path)
    section = bytearray(image.section_bytes("records"))
    hits = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(section) - 1), st.integers(1, 255)),
            min_size=1,
            max_size=8,
            unique_by=lambda hit: hit[0],
        )
    )
    for position, mask in hits:
        section[position] ^= mask
    records = records_from_buffer(bytes(section), 0, len(section) // L.RECORD_SIZE)
    counts = _assert_bulk_matches_reference(records)
    damaged = {position // L.RECORD_SIZE for position, _ in hits}
    assert counts["bad_crc"] <= len(damaged)
    # a single flipped byte per record always changes CRC-32, so at least one is caught
    assert counts["bad_crc"] >= 1


# -- generated record sections ----------------------------------------------------------


@settings(max_examples=60)
@given(section=record_sections(max_records=24, garbage=True), lead=st.integers(0, 31))
def test_generated_sections_bulk_path_matches_reference(section: bytes, lead: int) -> None:
    """Also at an unaligned offset in a larger buffer, as in an image."""
    buffer = bytes(range(lead)) + section + b"\xaa" * 3
    records = records_from_buffer(buffer, lead, len(section) // L.RECORD_SIZE)
    assert records.tobytes() == section
    _assert_bulk_matches_reference(records)


def test_generated_sections_reach_every_verdict() -> None:
    """The garbage strategy produces good records, bad CRCs and stray reserved bits."""
    seen: dict[str, int] = {"bad_crc": 0, "bad_body": 0, "decoded": 0}

    @settings(max_examples=60, database=None)
    @given(record_sections(max_records=24, garbage=True))
    def collect(section: bytes) -> None:
        records = records_from_buffer(section, 0, len(section) // L.RECORD_SIZE)
        bad_crc, bad_body = _reference_verdicts([r.tobytes() for r in records])
        seen["bad_crc"] += len(bad_crc)
        seen["bad_body"] += len(bad_body)
        seen["decoded"] += len(records) - len(bad_crc | bad_body)

    collect()
    assert all(count > 0 for count in seen.values()), seen


def test_empty_section() -> None:
    records = records_from_buffer(b"", 0, 0)
    assert record_crcs(records).tolist() == []
    assert crc_mismatches(records).tolist() == []
    for code in EventCode:
        assert len(payload_view(records, code)) == 0


@settings(max_examples=25)
@given(seal_lists())
def test_seal_dtype_matches_seal_parse(seals: list[dict[str, Any]]) -> None:
    raw = b"".join(bytes(L.SEAL.build(s)) for s in seals)
    array = np.frombuffer(raw, dtype=SEAL_DTYPE)
    for row, index in zip(array, range(len(seals)), strict=True):
        parsed = L.SEAL.parse(raw[index * L.SEAL_SIZE : (index + 1) * L.SEAL_SIZE])
        for name in SEAL_DTYPE.names or ():
            assert _python(row[name]) == parsed[name], name


# -- the dtypes are derived from the declarations --------------------------------------


def _assert_layout(dtype: np.dtype[Any], con: Any) -> None:
    """``dtype`` has ``con``'s fields, in order, at the same offsets and with the same widths,
    integer kinds and byte order."""
    assert dtype.fields is not None
    position = 0
    names = []
    for sub in con.subcons:
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        size = int(sub.sizeof())
        field_dtype, offset = dtype.fields[sub.name][:2]
        names.append(sub.name)
        assert offset == position, sub.name
        assert field_dtype.itemsize == size, sub.name
        if isinstance(inner, cs.Struct):
            _assert_layout(field_dtype, inner)
        elif isinstance(inner, cs.FormatField):
            assert field_dtype.kind == ("i" if inner.fmtstr[-1].islower() else "u"), sub.name
            assert struct.calcsize(inner.fmtstr) == size
            assert inner.fmtstr[0] == "<", sub.name  # the format is little-endian throughout
            assert field_dtype.newbyteorder("<") == field_dtype, sub.name
        position += size
    assert list(dtype.names or ()) == names
    assert dtype.itemsize == position == int(con.sizeof())


def test_record_dtype_is_the_record_declaration() -> None:
    fields = RECORD_DTYPE.fields
    assert fields is not None
    names = [sub.name for sub in L.RECORD_BODY.subcons]
    assert list(RECORD_DTYPE.names or ()) == [*names, "crc"]
    body = np.dtype(
        {
            "names": names,
            "formats": [fields[n][0] for n in names],
            "offsets": [fields[n][1] for n in names],
            "itemsize": BODY_SIZE,
        }
    )
    _assert_layout(body, L.RECORD_BODY)
    crc_dtype, crc_offset = fields["crc"][:2]
    assert crc_offset == BODY_SIZE == CRC_SPAN
    assert crc_dtype.itemsize == int(CRC_FIELD.sizeof())
    assert crc_dtype.kind == "u"
    assert RECORD_DTYPE.itemsize == L.RECORD_SIZE == int(L.RECORD.sizeof())
    assert RECORD_DTYPE.itemsize % 8 == 0


def test_seal_dtype_is_the_seal_declaration() -> None:
    _assert_layout(SEAL_DTYPE, L.SEAL)


@pytest.mark.parametrize("code", list(EventCode), ids=lambda c: c.name)
def test_payload_dtype_is_the_payload_declaration(code: EventCode) -> None:
    _assert_layout(PAYLOAD_DTYPES[code], PAYLOADS[code])
