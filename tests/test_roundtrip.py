"""Build → parse → build: every event, every section and whole images round-trip exactly."""

from __future__ import annotations

import hashlib
from typing import Any

import construct as cs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import FormatError, RecordCrcError
from taserlink.format import layout as L
from taserlink.format.bulk import SEAL_DTYPE
from taserlink.format.events import PAYLOAD_SIZE, PAYLOADS, EventCode
from taserlink.format.image import (
    Acquisition,
    CrcCheck,
    FirmwareVersion,
    Identity,
    Image,
    build_image,
    decode_base,
    decode_certificates,
    decode_identity,
    decode_statement,
    encode_base,
    encode_certificates,
    encode_identity,
    encode_seals,
    encode_statement,
    read_image,
)
from taserlink.format.records import decode_payload, encode_record
from tests.strategies import (
    ImageParts,
    RecordSpec,
    acquisition_fields,
    acquisitions,
    bases,
    certificate_lists,
    device_times,
    identities,
    image_parts,
    integer_range,
    payloads,
    records,
    seal_lists,
    seqs,
    signed_acquisitions,
    statements,
)

FAST = settings(max_examples=25)
"""Per-event and per-section tests: many small cases."""
IMAGES = settings(max_examples=40)
"""Whole-image tests: fewer, larger cases."""

PAYLOAD_OFFSET = sum(int(sub.sizeof()) for sub in L.RECORD_BODY.subcons[:-1])
"""Where a record's payload starts, from the declaration (seq, time and code before it)."""
BODY_SIZE = int(L.RECORD_BODY.sizeof())


def _reserved_size(code: EventCode) -> int:
    for sub in PAYLOADS[code].subcons:
        if sub.name == "reserved":
            return int(sub.sizeof())
    return 0


CODES_WITH_RESERVED = [code for code in EventCode if _reserved_size(code)]


# -- records ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(EventCode), ids=lambda c: c.name)
@FAST
@given(data=st.data())
def test_every_event_round_trips(code: EventCode, data: st.DataObject) -> None:
    seq, time_ms = data.draw(seqs()), data.draw(device_times())
    fields = data.draw(payloads(code))
    raw = encode_record(seq, time_ms, code, **fields)
    assert len(raw) == L.RECORD_SIZE

    parsed = L.RECORD.parse(raw)  # checks the CRC too
    value = parsed.body.value
    assert (value.seq, value.time_ms, value.code) == (seq, time_ms, int(code))
    assert L.RECORD.build({"body": {"value": value}}) == raw

    payload = raw[PAYLOAD_OFFSET : PAYLOAD_OFFSET + PAYLOAD_SIZE]
    decoded = decode_payload(int(code), payload)
    assert decoded == fields
    assert encode_record(seq, time_ms, code, **decoded) == raw


@given(records())
@FAST
def test_record_crc_is_crc32_of_the_body(record: RecordSpec) -> None:
    raw = record.encode()
    assert int.from_bytes(raw[BODY_SIZE:], "little") == L.record_crc(raw[:BODY_SIZE])
    assert BODY_SIZE + 4 == L.RECORD_SIZE


@pytest.mark.parametrize("code", CODES_WITH_RESERVED, ids=lambda c: c.name)
@FAST
@given(data=st.data())
def test_nonzero_reserved_payload_bytes_are_rejected(code: EventCode, data: st.DataObject) -> None:
    raw = bytearray(data.draw(records(codes=[code])).encode())
    spare = _reserved_size(code)
    position = PAYLOAD_OFFSET + PAYLOAD_SIZE - spare + data.draw(st.integers(0, spare - 1))
    raw[position] = data.draw(st.integers(1, 255))
    with pytest.raises(FormatError):
        decode_payload(int(code), bytes(raw[PAYLOAD_OFFSET : PAYLOAD_OFFSET + PAYLOAD_SIZE]))


def test_unknown_code_payload_is_kept_raw() -> None:
    unknown = max(EventCode) + 1
    assert unknown not in {int(c) for c in EventCode}
    payload = bytes(range(PAYLOAD_SIZE))
    assert decode_payload(unknown, payload) == {"raw": payload}


def _integer_fields(con: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, FormatField) of every integer field of a payload declaration, nested included."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for sub in con.subcons:
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        if isinstance(inner, cs.Struct):
            out += _integer_fields(inner, (*path, sub.name))
        elif isinstance(inner, cs.FormatField):
            out.append(((*path, sub.name), inner))
    return out


INTEGER_FIELDS = [
    (code, path, field) for code in EventCode for path, field in _integer_fields(PAYLOADS[code])
]


@pytest.mark.parametrize(
    ("code", "path", "field"),
    INTEGER_FIELDS,
    ids=[f"{c.name}.{'.'.join(p)}" for c, p, _ in INTEGER_FIELDS],
)
@settings(max_examples=10)
@given(data=st.data())
def test_out_of_range_payload_field_is_a_format_error(
    code: EventCode, path: tuple[str, ...], field: Any, data: st.DataObject
) -> None:
    fields = data.draw(payloads(code))
    low, high = integer_range(field)
    bad = data.draw(st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1)))
    target = fields
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = bad
    with pytest.raises(FormatError):
        encode_record(0, 0, code, **fields)


@pytest.mark.parametrize("code", list(EventCode), ids=lambda c: c.name)
@settings(max_examples=5)
@given(data=st.data())
def test_unknown_or_missing_payload_field_is_a_format_error(
    code: EventCode, data: st.DataObject
) -> None:
    fields = data.draw(payloads(code))
    with pytest.raises(FormatError, match="no_such_field"):
        encode_record(0, 0, code, **fields, no_such_field=1)
    for name in fields:
        with pytest.raises(FormatError):
            encode_record(0, 0, code, **{k: v for k, v in fields.items() if k != name})


@pytest.mark.parametrize(("seq", "time_ms"), [(-1, 0), (1 << 32, 0), (0, -1), (0, 1 << 64)])
def test_out_of_range_record_header_is_a_format_error(seq: int, time_ms: int) -> None:
    with pytest.raises(FormatError):
        encode_record(seq, time_ms, EventCode.USB_CONNECT)


# -- sections ---------------------------------------------------------------------------


@given(identities())
@FAST
def test_identity_round_trips(identity: Identity) -> None:
    raw = encode_identity(identity)
    decoded = decode_identity(raw)
    assert decoded == identity
    assert encode_identity(decoded) == raw


def test_identity_string_limit_is_bytes_not_characters() -> None:
    fw = FirmwareVersion(1, 2, 3)
    fits = "é" * 127 + "a"  # 255 bytes, 128 characters
    identity = Identity("D000000000", fits, "", fw, 16000)
    assert decode_identity(encode_identity(identity)) == identity
    with pytest.raises(cs.ConstructError):
        encode_identity(Identity("D000000000", "é" * 128, "", fw, 16000))  # 256 bytes


@given(certificate_lists())
@FAST
def test_certificates_round_trip(certificates: list[bytes]) -> None:
    raw = encode_certificates(certificates)
    decoded = decode_certificates(raw)
    assert decoded == tuple(certificates)
    assert encode_certificates(decoded) == raw


def test_largest_certificate_round_trips() -> None:
    certificate = bytes(range(256)) * 255 + bytes(255)  # 65535 bytes: the u16 prefix's limit
    assert len(certificate) == 0xFFFF
    raw = encode_certificates([certificate, b""])
    assert decode_certificates(raw) == (certificate, b"")


@given(bases())
@FAST
def test_base_round_trips(base: Any) -> None:
    raw = encode_base(base)
    assert len(raw) == L.BASE_SIZE
    decoded = decode_base(raw)
    assert decoded == base
    assert encode_base(decoded) == raw


@given(statements())
@FAST
def test_statement_round_trips(statement: Any) -> None:
    raw = encode_statement(statement)
    assert len(raw) == (0 if statement is None else L.STATEMENT_SIZE)
    decoded = decode_statement(raw)
    assert decoded == statement
    assert encode_statement(decoded) == raw


@given(seal_lists())
@FAST
def test_seals_round_trip(seals: list[dict[str, Any]]) -> None:
    raw = encode_seals(seals)
    assert len(raw) == len(seals) * L.SEAL_SIZE
    array = np.frombuffer(raw, dtype=SEAL_DTYPE)
    for row, seal in zip(array, seals, strict=True):
        assert int(row["seq"]) == seal["seq"]
        assert row["chain"].tobytes() == seal["chain"]
        assert int(row["device_time_ms"]) == seal["device_time_ms"]
        assert row["signature"].tobytes() == seal["signature"]
    assert encode_seals(array) == raw
    reparsed = [L.SEAL.parse(raw[i : i + L.SEAL_SIZE]) for i in range(0, len(raw), L.SEAL_SIZE)]
    assert encode_seals(reparsed) == raw


@given(acquisitions())
@FAST
def test_acquisition_round_trips(acquisition: Acquisition) -> None:
    raw = bytes(L.ACQUISITION.build(vars(acquisition)))
    parsed = L.ACQUISITION.parse(raw)
    decoded = Acquisition(**{k: v for k, v in parsed.items() if not k.startswith("_")})
    assert decoded == acquisition
    assert bytes(L.ACQUISITION.build(vars(decoded))) == raw


@given(signed_acquisitions())
@FAST
def test_signed_acquisition_round_trips(acquisition: Acquisition) -> None:
    fields = acquisition_fields(acquisition)
    raw = bytes(L.ACQUISITION_V2.build(fields))
    parsed = _plain(L.ACQUISITION_V2.parse(raw))
    parsed["workstation_certificates"] = [bytes(c) for c in parsed["workstation_certificates"]]
    assert parsed == fields
    assert bytes(L.ACQUISITION_V2.build(parsed)) == raw
    tail = 2 * L.DIGEST_SIZE + L.SIGNATURE_SIZE
    assert raw[-tail:] == (
        acquisition.device_sha256
        + acquisition.workstation_signature.signature  # type: ignore[union-attr]
        + acquisition.closing_sha256
    )


# -- whole images -----------------------------------------------------------------------


def _rebuild(image: Image) -> bytes:
    return build_image(
        identity=image.identity,
        certificates=image.certificates,
        base=image.base,
        records=image.records,
        seals=image.seals,
        statement=image.statement,
        acquisition=image.acquisition,
    )


def _digestless(acquisition: Acquisition) -> dict[str, Any]:
    return {k: v for k, v in vars(acquisition).items() if not k.endswith("_sha256")}


@given(image_parts())
@IMAGES
def test_image_round_trips(parts: ImageParts) -> None:
    data = parts.build()
    image = read_image(data)
    assert image.identity == parts.identity
    assert image.certificates == tuple(parts.certificates)
    assert image.base == parts.base
    assert image.statement == parts.statement
    assert _digestless(image.acquisition) == _digestless(parts.acquisition)
    assert image.records.tobytes() == parts.records_bytes()
    assert image.seals.tobytes() == parts.seals_array().tobytes()
    assert len(image.crc_failures) == 0
    for index, spec in enumerate(parts.records):
        row = image.records[index]
        assert (int(row["seq"]), int(row["time_ms"]), int(row["code"])) == (
            spec.seq,
            spec.time_ms,
            int(spec.code),
        )
        assert decode_payload(int(row["code"]), row["payload"].tobytes()) == spec.payload
    assert _rebuild(image) == data


@given(image_parts())
@IMAGES
def test_acquisition_digests_cover_everything_before_them(parts: ImageParts) -> None:
    data = parts.build()
    image = read_image(data)
    acquisition = image.spans["acquisition"]
    assert acquisition.end == len(data)
    assert image.acquisition.device_sha256 == hashlib.sha256(data[: acquisition.offset]).digest()
    closing_at = len(data) - L.DIGEST_SIZE
    assert image.acquisition.closing_sha256 == hashlib.sha256(data[:closing_at]).digest()
    assert data[closing_at:] == image.acquisition.closing_sha256
    signing = image.acquisition.workstation_signature
    assert image.version == (L.UNSIGNED_VERSION if signing is None else L.SIGNED_VERSION)
    device_at = closing_at - L.DIGEST_SIZE - (0 if signing is None else L.SIGNATURE_SIZE)
    assert data[device_at : device_at + L.DIGEST_SIZE] == image.acquisition.device_sha256
    if signing is not None:
        assert data[device_at + L.DIGEST_SIZE : closing_at] == signing.signature


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    return value


@given(image_parts())
@IMAGES
def test_construct_reference_agrees_with_read_image(parts: ImageParts) -> None:
    data = parts.build()
    image = read_image(data)
    ref = L.IMAGE.parse(data)

    assert ref.header.version == image.version
    assert ref.header.record_size == L.RECORD_SIZE
    for name in L.SECTION_NAMES:
        assert ref.header[f"{name}_length"] == image.spans[name].length, name
    assert L.HEADER.build(ref.header) == image.section_bytes("header")

    identity = ref.identity
    assert identity.serial == image.identity.serial
    assert identity.model == image.identity.model
    assert identity.hardware_revision == image.identity.hardware_revision
    assert FirmwareVersion(**_plain(identity.firmware)) == image.identity.firmware
    assert identity.log_capacity == image.identity.log_capacity
    assert identity.signature_algorithm == image.identity.signature_algorithm

    assert tuple(bytes(c) for c in ref.certificates) == image.certificates
    assert _plain(ref.base) == vars(image.base)

    assert len(ref.records) == len(image.records)
    for record, row in zip(ref.records, image.records, strict=True):
        body = record.body.value
        assert body.seq == int(row["seq"])
        assert body.time_ms == int(row["time_ms"])
        assert body.code == int(row["code"])
        assert record.crc == int(row["crc"])
        assert record.body.data == row.tobytes()[:BODY_SIZE]
        decoded = decode_payload(int(row["code"]), row["payload"].tobytes())
        payload = _plain(body.payload)
        payload.pop("reserved", None)
        assert payload == decoded

    assert len(ref.seals) == len(image.seals)
    for seal, row in zip(ref.seals, image.seals, strict=True):
        assert seal.seq == int(row["seq"])
        assert seal.chain == row["chain"].tobytes()
        assert seal.device_time_ms == int(row["device_time_ms"])
        assert seal.signature == row["signature"].tobytes()

    if image.statement is None:
        assert ref.statement is None
    else:
        assert _plain(ref.statement) == vars(image.statement)
    acquisition = _plain(ref.acquisition)
    if "workstation_certificates" in acquisition:
        acquisition["workstation_certificates"] = [
            bytes(c) for c in acquisition["workstation_certificates"]
        ]
    assert acquisition == acquisition_fields(image.acquisition)


# -- record CRC policy ------------------------------------------------------------------


@given(parts=image_parts(), data=st.data())
@IMAGES
def test_bad_record_crc_under_each_policy(parts: ImageParts, data: st.DataObject) -> None:
    if not parts.records:
        parts = ImageParts(**{**vars(parts), "records": [data.draw(records())]})
    good = parts.build()
    spans = read_image(good).spans
    index = data.draw(st.integers(0, len(parts.records) - 1))
    offset = spans["records"].offset + index * L.RECORD_SIZE
    flip = data.draw(st.integers(1, 0xFFFFFFFF))
    crc_at = offset + BODY_SIZE
    stored = int.from_bytes(good[crc_at : crc_at + 4], "little")
    bad = good[:crc_at] + (stored ^ flip).to_bytes(4, "little") + good[crc_at + 4 :]

    reported = read_image(bad, crc=CrcCheck.REPORT)
    assert reported.crc_failures.tolist() == [index]
    assert read_image(bad).crc_failures.tolist() == [index]  # REPORT is the default

    with pytest.raises(RecordCrcError) as caught:
        read_image(bad, crc=CrcCheck.RAISE)
    assert caught.value.index == index
    assert caught.value.offset == offset == reported.record_offset(index)
    assert isinstance(caught.value, FormatError)

    skipped = read_image(bad, crc=CrcCheck.SKIP)
    assert skipped.crc_failures.tolist() == []
    assert skipped.records.tobytes() == reported.records.tobytes()

    assert read_image(good, crc=CrcCheck.RAISE).crc_failures.tolist() == []
    with pytest.raises(cs.ChecksumError):
        L.IMAGE.parse(bad)


def test_raise_names_the_first_of_several_bad_records() -> None:
    specs = [RecordSpec(seq, seq * 1000, EventCode.UNHOLSTER, {}) for seq in range(1, 6)]
    raw = bytearray(b"".join(s.encode() for s in specs))
    for index in (3, 1):
        raw[index * L.RECORD_SIZE + BODY_SIZE] ^= 0xFF
    fw = FirmwareVersion(1, 0, 0)
    data = build_image(
        identity=Identity("D000000000", "m", "h", fw, 16),
        certificates=[],
        base=decode_base(bytes(L.BASE_SIZE)),
        records=bytes(raw),
        seals=b"",
        statement=None,
        acquisition=Acquisition(bytes(32), 0, 0, 0, "", "", "", ""),
    )
    assert read_image(data).crc_failures.tolist() == [1, 3]
    with pytest.raises(RecordCrcError) as caught:
        read_image(data, crc=CrcCheck.RAISE)
    assert caught.value.index == 1
    assert caught.value.offset == read_image(data).record_offset(1)
