"""``docs/dataport.ksy`` describes exactly the format taserlink reads and writes.

Every image — the sample captures, every scenario under two more seeds, two hand-made
images (every event code, an unknown code, a bad CRC, edge-case strings, no statement;
empty sections) and hypothesis-generated ones — is parsed by the parser the Kaitai Struct
compiler generates from the .ksy and by :func:`taserlink.format.read_image`, and every value
must agree.  Single records of any 32 bytes must give the same values or be rejected by
both.  The compiler is installed and run by ``tests/kaitai_build.py``; if it cannot be,
these tests fail (never skip).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import random
import struct
import zlib
from collections.abc import Callable
from functools import cache
from io import BytesIO
from types import ModuleType
from typing import Any

import construct as cs
import kaitaistruct
import numpy as np
import pytest
from hypothesis import given, settings

from taserlink.emulator.scenarios import SCENARIOS, run_scenario
from taserlink.errors import FormatError
from taserlink.format import (
    AcquisitionSignature,
    ClockSource,
    EventCode,
    Image,
    build_image,
    decode_payload,
    read_image,
)
from taserlink.format import layout as L
from taserlink.format.bulk import RECORD_DTYPE
from taserlink.format.events import PAYLOAD_SIZE, PAYLOADS

try:  # tests/ as a package, or tests/ itself on sys.path
    from tests import kaitai_build
    from tests.strategies import acquisition_fields, garbage_records, images
except ImportError:
    import kaitai_build  # type: ignore[import-not-found,no-redef]
    from strategies import (  # type: ignore[import-not-found,no-redef]
        acquisition_fields,
        garbage_records,
        images,
    )

CAPTURES = sorted((kaitai_build.REPO / "captures").glob("*.tdi"))
SEEDS = (2, 3)
"""Seeds besides the captures' (tools/make_captures.py uses seed 1)."""


UNKNOWN_CODE = 0x99
CODES = frozenset(int(code) for code in EventCode)
SERIAL_CHARS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@pytest.fixture(scope="module")
def ksy() -> ModuleType:
    """The compiled parser module; a build failure fails every test that uses it."""
    try:
        return kaitai_build.load()
    except kaitai_build.KaitaiBuildError as error:
        problem = str(error)
    pytest.fail(f"cannot build the Kaitai parser of docs/dataport.ksy:\n{problem}", pytrace=False)


# -- synthetic images -------------------------------------------------------------------


def _sample(con: Any, rng: random.Random) -> bytes:
    """Random bytes that ``con`` (a fixed-size payload declaration) parses."""
    while isinstance(con, cs.Renamed):
        con = con.subcon
    if isinstance(con, cs.Const):
        return bytes(con.value)
    if isinstance(con, cs.Struct):
        return b"".join(_sample(sub, rng) for sub in con.subcons)
    if isinstance(con, cs.StringEncoded):  # a serial: ASCII, NUL-padded, any length
        size = int(con.sizeof())
        used = rng.randint(0, size)
        return "".join(rng.choices(SERIAL_CHARS, k=used)).encode("ascii") + bytes(size - used)
    return rng.randbytes(int(con.sizeof()))


def _record(seq: int, time_ms: int, code: int, payload: bytes, *, bad_crc: bool = False) -> bytes:
    body = struct.pack("<IQH", seq, time_ms, code) + payload
    crc = zlib.crc32(body) ^ (0xA5A5A5A5 if bad_crc else 0)
    return body + struct.pack("<I", crc)


def _rebuilt(template: Image, **changes: Any) -> bytes:
    """An image with ``template``'s sections except those in ``changes``."""
    parts: dict[str, Any] = {
        "identity": template.identity,
        "certificates": template.certificates,
        "base": template.base,
        "records": template.section_bytes("records"),
        "seals": template.section_bytes("seals"),
        "statement": template.statement,
        "acquisition": template.acquisition,
    }
    parts.update(changes)
    return build_image(**parts)


def every_code_image() -> bytes:
    """Three records of every event code with random payloads, an unknown code, a bad CRC,
    a short serial, multi-byte UTF-8 text, negative host times and no statement."""
    rng = random.Random(20240511)
    template = read_image(CAPTURES[0])
    codes = [int(code) for code in EventCode for _ in range(3)] + [UNKNOWN_CODE]
    rng.shuffle(codes)
    seq = rng.randrange(1 << 31)
    records = []
    for index, code in enumerate(codes):
        if code in CODES:
            payload = _sample(PAYLOADS[EventCode(code)], rng)
        else:
            payload = rng.randbytes(PAYLOAD_SIZE)
        records.append(_record(seq + index, rng.getrandbits(64), code, payload, bad_crc=index == 5))
    identity = dataclasses.replace(
        template.identity, serial="D12", model="Modèl ✓ 10", hardware_revision=""
    )
    acquisition = dataclasses.replace(
        template.acquisition, host_utc_start_ms=-1, host_utc_end_ms=-(1 << 62), operator="Ösa"
    )
    return _rebuilt(
        template,
        identity=identity,
        records=b"".join(records),
        statement=None,
        acquisition=acquisition,
    )


def signed_odd_image() -> bytes:
    """Version 2 with two workstation certificates of odd bytes, an unknown signature
    algorithm and a signature that is not one (structure only)."""
    template = read_image(CAPTURES[0])
    signing = AcquisitionSignature((b"\x30\x00", bytes(range(200))), bytes(range(64)), 7)
    acquisition = dataclasses.replace(template.acquisition, workstation_signature=signing)
    return _rebuilt(template, acquisition=acquisition)


def empty_image() -> bytes:
    """No certificates, records or seals; a statement."""
    template = read_image(CAPTURES[0])
    return _rebuilt(template, certificates=(), records=b"", seals=b"")


def scenario_image(name: str, seed: int) -> Callable[[], bytes]:
    return lambda: run_scenario(name, seed).image


IMAGES: dict[str, Callable[[], bytes]] = {
    **{f"capture:{path.stem}": path.read_bytes for path in CAPTURES},
    **{
        f"scenario:{name}:{seed}": scenario_image(name, seed)
        for name in SCENARIOS
        for seed in SEEDS
    },
    "synthetic:every-code": every_code_image,
    "synthetic:empty": empty_image,
    "synthetic:signed-odd": signed_odd_image,
}


@cache
def image_bytes(key: str) -> bytes:
    return IMAGES[key]()


# -- comparison -------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A parsed Kaitai value as plain Python: structs as dicts of their fields in order
    (without ``reserved``, length prefixes and internals), enums as ints."""
    if isinstance(value, kaitaistruct.KaitaiStruct):
        return {
            key: plain(item)
            for key, item in vars(value).items()
            if not key.startswith("_") and key != "reserved" and not key.endswith("_len")
        }
    if isinstance(value, enum.IntEnum):
        return int(value)
    return value


def payload_type_name(code: EventCode) -> str:
    return "Payload" + "".join(part.capitalize() for part in code.name.split("_"))


def assert_record_agrees(entry: Any, row: Any, where: str) -> None:
    """A Kaitai ``record`` equals a ``RECORD_DTYPE`` row and :func:`decode_payload` of it."""
    assert entry.seq == int(row["seq"]), where
    assert entry.time_ms == int(row["time_ms"]), where
    assert int(entry.code) == int(row["code"]), where
    assert entry.crc == int(row["crc"]), where
    raw = bytes(row["payload"])
    expected = decode_payload(int(row["code"]), raw)
    if int(row["code"]) in CODES:
        code = EventCode(int(row["code"]))
        assert type(entry.payload).__name__ == payload_type_name(code), where
        assert entry._raw_payload == raw, where
        assert list(plain(entry.payload).items()) == list(expected.items()), where
    else:
        assert entry.payload == expected["raw"] == raw, where


def assert_agree(parsed: Any, image: Image) -> None:
    """Every value of the Kaitai parse equals the one :func:`read_image` gives."""
    header = parsed.header
    assert header.magic == L.MAGIC
    assert header.version == image.version
    assert header.record_size == L.RECORD_SIZE
    for name in L.SECTION_NAMES:
        assert getattr(header, f"{name}_length") == image.spans[name].length, name

    assert plain(parsed.identity) == dataclasses.asdict(image.identity)
    assert parsed.certificates.count == len(image.certificates)
    assert tuple(c.der for c in parsed.certificates.certificates) == image.certificates
    assert plain(parsed.base) == dataclasses.asdict(image.base)

    entries = parsed.records.entries
    assert len(entries) == len(image.records)
    for index, (entry, row) in enumerate(zip(entries, image.records, strict=True)):
        assert_record_agrees(entry, row, f"record {index}")

    seals = parsed.seals.entries
    assert len(seals) == len(image.seals)
    for index, (seal, row) in enumerate(zip(seals, image.seals, strict=True)):
        assert plain(seal) == {
            "seq": int(row["seq"]),
            "chain": bytes(row["chain"]),
            "device_time_ms": int(row["device_time_ms"]),
            "signature": bytes(row["signature"]),
        }, f"seal {index}"

    if image.statement is None:
        assert not hasattr(parsed, "statement")
    else:
        assert plain(parsed.statement) == dataclasses.asdict(image.statement)

    acquisition = plain(parsed.acquisition)
    if image.version == L.SIGNED_VERSION:
        listed = acquisition["workstation_certificates"]
        assert listed["count"] == len(listed["certificates"])
        acquisition["workstation_certificates"] = [c.der for c in listed["certificates"]]
    else:
        assert "workstation_signature" not in acquisition
    assert acquisition == acquisition_fields(image.acquisition)
    before = L.HEADER_SIZE + sum(getattr(header, f"{name}_length") for name in L.SECTION_NAMES[:-1])
    assert parsed.acquisition.device_sha256 == hashlib.sha256(image.data[:before]).digest()
    closing_at = len(image.data) - L.DIGEST_SIZE
    assert parsed.acquisition.closing_sha256 == hashlib.sha256(image.data[:closing_at]).digest()

    # Each section's fields fill its substream exactly, and nothing follows the last one.
    for name in L.SECTION_NAMES:
        if name != "statement" or image.statement is not None:
            assert getattr(parsed, name)._io.is_eof(), f"{name} has bytes left over"
    assert parsed._io.is_eof()


# -- tests ------------------------------------------------------------------------------


def test_there_are_captures() -> None:
    assert CAPTURES, "captures/*.tdi is empty"


@pytest.mark.parametrize("key", list(IMAGES))
def test_kaitai_parse_agrees_with_read_image(ksy: ModuleType, key: str) -> None:
    data = image_bytes(key)
    assert_agree(ksy.Dataport.from_bytes(data), read_image(data))


@settings(max_examples=60)
@given(data=images())
def test_kaitai_parse_agrees_on_generated_images(ksy: ModuleType, data: bytes) -> None:
    assert_agree(ksy.Dataport.from_bytes(data), read_image(data))


@settings(max_examples=300)
@given(raw=garbage_records())
def test_a_record_agrees_or_both_reject_it(ksy: ModuleType, raw: bytes) -> None:
    """Any 32 bytes: the same values from both, or neither accepts the payload."""
    row = np.frombuffer(raw, dtype=RECORD_DTYPE)[0]
    try:
        decode_payload(int(row["code"]), bytes(row["payload"]))
    except FormatError:
        with pytest.raises((kaitaistruct.KaitaiStructError, UnicodeDecodeError)):
            ksy.Dataport.Record(kaitaistruct.KaitaiStream(BytesIO(raw)))
        return
    entry = ksy.Dataport.Record(kaitaistruct.KaitaiStream(BytesIO(raw)))
    assert_record_agrees(entry, row, "record")


def test_synthetic_images_cover_every_code_and_the_edge_cases() -> None:
    """The comparisons above saw every event code, an unknown code, a bad CRC, no statement
    and empty sections (else they would prove less than they claim)."""
    image = read_image(image_bytes("synthetic:every-code"))
    assert {int(c) for c in image.records["code"]} == CODES | {UNKNOWN_CODE}
    assert len(image.crc_failures) == 1
    assert image.statement is None
    assert len(image.identity.serial) < 10
    empty = read_image(image_bytes("synthetic:empty"))
    assert (len(empty.records), len(empty.seals), empty.certificates) == (0, 0, ())


def test_enums_match_the_python_declarations(ksy: ModuleType) -> None:
    def members(enum_type: type[enum.IntEnum]) -> dict[str, int]:
        return {member.name.lower(): int(member) for member in enum_type}

    assert members(ksy.Dataport.EventCode) == members(EventCode)
    assert members(ksy.Dataport.ClockSource) == members(ClockSource)
    assert members(ksy.Dataport.SignatureAlgorithm) == {"ed25519": L.SIGNATURE_ED25519}


@pytest.mark.parametrize("code", list(EventCode), ids=lambda code: code.name)
def test_both_reject_a_nonzero_reserved_byte(ksy: ModuleType, code: EventCode) -> None:
    rng = random.Random(int(code))
    payload = bytearray(_sample(PAYLOADS[code], rng))
    reserved = PAYLOADS[code].subcons[-1]
    assert reserved.name == "reserved"
    spare = len(reserved.subcon.value)
    payload[PAYLOAD_SIZE - 1 - rng.randrange(spare)] = rng.randrange(1, 256)
    with pytest.raises(FormatError):
        decode_payload(int(code), bytes(payload))
    stream = kaitaistruct.KaitaiStream(BytesIO(_record(1, 0, int(code), bytes(payload))))
    with pytest.raises(kaitaistruct.ValidationNotEqualError):
        ksy.Dataport.Record(stream)


@pytest.mark.parametrize(
    ("offset", "value"),
    [
        (0, b"\x88"),
        (len(L.MAGIC), b"\x03\x00"),
        (len(L.MAGIC), b"\x00\x00"),
        (len(L.MAGIC) + 2, b"\x30\x00"),
    ],
    ids=["magic", "version-3", "version-0", "record_size"],
)
def test_both_reject_a_bad_header(ksy: ModuleType, offset: int, value: bytes) -> None:
    data = bytearray(image_bytes(f"capture:{CAPTURES[0].stem}"))
    data[offset : offset + len(value)] = value
    with pytest.raises(FormatError):
        read_image(bytes(data))
    with pytest.raises(kaitaistruct.ValidationFailedError):
        ksy.Dataport.from_bytes(bytes(data))


def test_both_read_both_versions() -> None:
    """The comparisons above saw version 1 and version 2 images (else they would prove less
    than they claim)."""
    versions = {read_image(image_bytes(key)).version for key in IMAGES}
    assert versions == set(L.FORMAT_VERSIONS)
