"""Hypothesis strategies for the dataport format, derived from its construct declarations.

Every strategy here reads field names, widths, signedness and string limits from the
declarations in :mod:`taserlink.format.layout` and :mod:`taserlink.format.events`
(:func:`from_construct`), so a new event code or field needs no change here: a field of a
kind this module does not know raises ``TypeError`` when the strategy is made, not a
silently wrong test.

Reuse them from any test::

    from tests.strategies import images, payloads, records

    @given(records())
    def test_something(record: RecordSpec) -> None: ...
"""

from __future__ import annotations

import dataclasses
import random
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import construct as cs
import numpy as np
from hypothesis import strategies as st

from taserlink.format import layout as L
from taserlink.format.bulk import RECORD_DTYPE, SEAL_DTYPE
from taserlink.format.events import PAYLOADS, SERIAL_FIELD, EventCode
from taserlink.format.image import (
    Acquisition,
    AcquisitionSignature,
    Base,
    FirmwareVersion,
    Identity,
    Statement,
    build_image,
)
from taserlink.format.records import encode_record
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME, SerialScheme

__all__ = [
    "ImageParts",
    "RecordSpec",
    "acquisitions",
    "ascii_text",
    "bases",
    "cartridge_serials",
    "certificate_lists",
    "device_serials",
    "field_strategy",
    "from_construct",
    "garbage_records",
    "identities",
    "integer_range",
    "image_parts",
    "images",
    "payloads",
    "record_sections",
    "records",
    "scheme_serials",
    "seal_dicts",
    "seal_lists",
    "seeded_random",
    "seqs",
    "device_times",
    "statements",
    "utf8_text",
]


# -- text -------------------------------------------------------------------------------


def ascii_text(max_size: int) -> st.SearchStrategy[str]:
    """ASCII strings of at most ``max_size`` characters without NUL.

    A ``PaddedString`` pads with NUL and strips trailing NULs on parsing, so a string ending
    in NUL cannot round-trip; NUL is left out altogether.
    """
    return st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x7F), max_size=max_size)


def _trim_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, never inside a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def utf8_text(max_bytes: int) -> st.SearchStrategy[str]:
    """Unicode strings whose UTF-8 encoding is at most ``max_bytes`` bytes.

    Mixes short arbitrary text with strings of multi-byte characters filled up to the byte
    limit, so the limit is met with 2-, 3- and 4-byte characters, not only ASCII.
    """
    arbitrary = st.text(max_size=max_bytes).map(lambda s: _trim_utf8(s, max_bytes))
    wide = st.text(
        alphabet=st.characters(min_codepoint=0x80, exclude_categories=["Cs"]),
        min_size=max_bytes // 4,
        max_size=max_bytes,
    ).map(lambda s: _trim_utf8(s, max_bytes))
    return st.one_of(arbitrary, wide)


# -- serials ----------------------------------------------------------------------------


def scheme_serials(scheme: SerialScheme) -> st.SearchStrategy[str]:
    """Valid canonical serials of ``scheme`` (via its own generator, seeded by hypothesis)."""
    return st.randoms(use_true_random=False).map(lambda rng: scheme.generate(rng))


def cartridge_serials() -> st.SearchStrategy[str]:
    """Valid cartridge serials (``CARTRIDGE_SCHEME``)."""
    return scheme_serials(CARTRIDGE_SCHEME)


def device_serials() -> st.SearchStrategy[str]:
    """Valid device serials (``DEVICE_SCHEME``)."""
    return scheme_serials(DEVICE_SCHEME)


# -- strategies from construct declarations --------------------------------------------


def integer_range(field: Any) -> tuple[int, int]:
    """Smallest and largest value of an integer ``FormatField`` (its width and signedness)."""
    bits = 8 * struct.calcsize(field.fmtstr)
    if field.fmtstr[-1].islower():
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def field_strategy(con: Any, name: str = "") -> st.SearchStrategy[Any]:
    """Values that ``con`` builds and parses back to themselves.

    Handles what the format declares: integer ``FormatField``s (full range of their width
    and signedness), ``Bytes(n)``, ``PaddedString`` (NUL-free ASCII up to its width; a
    serial-width field also draws valid cartridge serials), ``PascalString`` (UTF-8 within
    its length prefix's byte limit), ``Prefixed`` bytes, and nested
    ``Struct``s (dicts; ``Const`` fields such as ``reserved`` are left out).

    Raises:
        TypeError: for a construct this function has no strategy for.
    """
    if isinstance(con, cs.Renamed):
        return field_strategy(con.subcon, con.name or name)
    if isinstance(con, cs.Struct):
        return from_construct(con)
    if isinstance(con, cs.FormatField):
        code = con.fmtstr[-1]
        if code in "efd":
            width = 8 * struct.calcsize(con.fmtstr)
            return st.floats(width=width, allow_nan=False)  # type: ignore[arg-type]
        low, high = integer_range(con)
        return st.integers(low, high)
    if isinstance(con, cs.Bytes) and isinstance(con.length, int):
        return st.binary(min_size=con.length, max_size=con.length)
    if isinstance(con, cs.StringEncoded):
        inner = con.subcon
        if isinstance(inner, cs.FixedSized) and con.encoding == "ascii":
            width = int(inner.length)
            text = ascii_text(width)
            if con is SERIAL_FIELD or width == CARTRIDGE_SCHEME.length:
                return st.one_of(cartridge_serials(), text)
            return text
        if isinstance(inner, cs.Prefixed) and con.encoding in ("utf8", "utf-8"):
            limit = (1 << (8 * int(inner.lengthfield.sizeof()))) - 1
            return utf8_text(min(limit, 1024))
    if isinstance(con, cs.Prefixed) and con.subcon is cs.GreedyBytes:
        limit = (1 << (8 * int(con.lengthfield.sizeof()))) - 1
        return st.binary(max_size=min(limit, 600))
    raise TypeError(f"no strategy for field {name!r}: {con!r}")


def from_construct(
    con: Any, overrides: Mapping[str, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Field dicts for a construct ``Struct`` (constants left out, nested structs as dicts).

    ``overrides`` replaces the strategy of top-level fields by name.
    """
    if isinstance(con, cs.Renamed):
        con = con.subcon
    if not isinstance(con, cs.Struct):
        raise TypeError(f"{con!r} is not a Struct")
    chosen = dict(overrides or {})
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for sub in con.subcons:
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        if isinstance(inner, cs.Const) or not sub.name:
            continue
        override = chosen.pop(sub.name, None)
        fields[sub.name] = override if override is not None else field_strategy(sub, sub.name)
    if chosen:
        raise KeyError(f"overrides for fields the declaration lacks: {sorted(chosen)}")
    return st.fixed_dictionaries(fields)


def _subcon(struct_: Any, name: str) -> Any:
    for sub in struct_.subcons:
        if sub.name == name:
            return sub
    raise KeyError(name)


# -- records ----------------------------------------------------------------------------


def payloads(code: EventCode) -> st.SearchStrategy[dict[str, Any]]:
    """Valid payload field dicts for ``code``, from its declaration in ``PAYLOADS``."""
    return from_construct(PAYLOADS[code])


@dataclass(frozen=True)
class RecordSpec:
    """One event record's inputs: what :func:`encode_record` takes."""

    seq: int
    time_ms: int
    code: EventCode
    payload: dict[str, Any]

    def encode(self) -> bytes:
        """The record's 32 bytes, CRC included."""
        return encode_record(self.seq, self.time_ms, self.code, **self.payload)


def seqs() -> st.SearchStrategy[int]:
    """Record sequence numbers (the full range of the declared field)."""
    return field_strategy(_subcon(L.RECORD_BODY, "seq"))


def device_times() -> st.SearchStrategy[int]:
    """Record device times in ms (the full range of the declared field)."""
    return field_strategy(_subcon(L.RECORD_BODY, "time_ms"))


@st.composite
def records(draw: st.DrawFn, codes: Sequence[EventCode] | None = None) -> RecordSpec:
    """A valid record of any event code (or of one of ``codes``)."""
    code = draw(st.sampled_from(list(codes or EventCode)))
    return RecordSpec(draw(seqs()), draw(device_times()), code, draw(payloads(code)))


@st.composite
def garbage_records(draw: st.DrawFn) -> bytes:
    """32 bytes that look more or less like a record: the reference must cope with them.

    One of: a valid record; a valid record with a random CRC; a valid body with random
    payload bytes (stray reserved bits) and its true or a random CRC; or 32 random bytes
    whose code is a known event code or any 16-bit value.
    """
    kind = draw(st.sampled_from(["valid", "bad_crc", "random_payload", "random"]))
    if kind in ("valid", "bad_crc"):
        raw = draw(records()).encode()
        if kind == "bad_crc":
            raw = raw[:-4] + draw(st.binary(min_size=4, max_size=4))
        return raw
    code = draw(st.one_of(st.sampled_from([int(c) for c in EventCode]), st.integers(0, 0xFFFF)))
    body = bytearray(draw(st.binary(min_size=L.RECORD_SIZE, max_size=L.RECORD_SIZE)))
    code_offset = RECORD_DTYPE.fields["code"][1] if RECORD_DTYPE.fields else 0
    body[code_offset : code_offset + 2] = code.to_bytes(2, "little")
    if kind == "random_payload" and draw(st.booleans()):
        span = L.RECORD_SIZE - 4
        body[span:] = L.record_crc(bytes(body[:span])).to_bytes(4, "little")
    return bytes(body)


def record_sections(max_records: int = 40, garbage: bool = False) -> st.SearchStrategy[bytes]:
    """A records section: records back to back (``garbage`` mixes in damaged ones)."""
    one = (
        st.one_of(records().map(RecordSpec.encode), garbage_records())
        if garbage
        else (records().map(RecordSpec.encode))
    )
    return st.lists(one, max_size=max_records).map(b"".join)


# -- sections ---------------------------------------------------------------------------


def identities() -> st.SearchStrategy[Identity]:
    """Identity sections: device serials (valid ones or any ASCII), UTF-8 model text."""
    serial = st.one_of(device_serials(), ascii_text(DEVICE_SCHEME.length))

    def make(d: dict[str, Any]) -> Identity:
        fw = FirmwareVersion(**d.pop("firmware"))
        return Identity(firmware=fw, **d)

    return from_construct(L.IDENTITY, {"serial": serial}).map(make)


def certificate_lists(max_certificates: int = 4) -> st.SearchStrategy[list[bytes]]:
    """Certificate lists: arbitrary bytes (the format layer does not look inside them).

    Mostly short random bytes, sometimes shaped like a DER ``SEQUENCE`` header; the empty
    list and empty certificates are included.
    """
    der_ish = st.binary(max_size=500).map(
        lambda body: b"\x30\x82" + len(body).to_bytes(2, "big") + body
    )
    one = st.one_of(st.binary(max_size=300), der_ish)
    return st.lists(one, max_size=max_certificates)


def bases() -> st.SearchStrategy[Base]:
    """Base sections with any field values."""
    return from_construct(L.BASE).map(lambda d: Base(**d))


def seal_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """One seal's fields as a dict (what :func:`encode_seals` takes)."""
    return from_construct(L.SEAL)


def seal_lists(max_seals: int = 6) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of seal dicts."""
    return st.lists(seal_dicts(), max_size=max_seals)


def statements() -> st.SearchStrategy[Statement | None]:
    """A download statement or ``None`` (no statement made)."""
    return st.one_of(st.none(), from_construct(L.STATEMENT).map(lambda d: Statement(**d)))


def acquisitions() -> st.SearchStrategy[Acquisition]:
    """Version-1 acquisition sections; the digests are random (``build_image`` replaces
    them)."""
    return from_construct(L.ACQUISITION).map(lambda d: Acquisition(**d))


def acquisition_signatures() -> st.SearchStrategy[AcquisitionSignature]:
    """A version-2 acquisition's workstation certificates, signature and algorithm (any
    bytes: structure only)."""
    return st.builds(
        AcquisitionSignature,
        certificates=certificate_lists(3).map(tuple),
        signature=st.binary(min_size=L.SIGNATURE_SIZE, max_size=L.SIGNATURE_SIZE),
        algorithm=st.integers(0, 255),
    )


def signed_acquisitions() -> st.SearchStrategy[Acquisition]:
    """Version-2 acquisition sections (written as given by ``build_image``)."""
    return st.builds(
        lambda acquisition, signing: dataclasses.replace(
            acquisition, workstation_signature=signing
        ),
        acquisitions(),
        acquisition_signatures(),
    )


def any_acquisitions() -> st.SearchStrategy[Acquisition]:
    """Version-1 or version-2 acquisition sections."""
    return st.one_of(acquisitions(), signed_acquisitions())


def acquisition_fields(acquisition: Acquisition) -> dict[str, Any]:
    """The fields of the acquisition's declaration (version 1 or 2) as a plain dict."""
    fields = {k: v for k, v in vars(acquisition).items() if k != "workstation_signature"}
    signing = acquisition.workstation_signature
    if signing is None:
        return fields
    return {
        **{k: v for k, v in fields.items() if k != "closing_sha256"},
        "workstation_signature_algorithm": signing.algorithm,
        "workstation_certificates": list(signing.certificates),
        "workstation_signature": signing.signature,
        "closing_sha256": acquisition.closing_sha256,
    }


# -- whole images -----------------------------------------------------------------------


@dataclass(frozen=True)
class ImageParts:
    """Everything :func:`build_image` takes, with the records kept as specs too."""

    identity: Identity
    certificates: list[bytes]
    base: Base
    records: list[RecordSpec]
    seals: list[dict[str, Any]]
    statement: Statement | None
    acquisition: Acquisition

    def records_bytes(self) -> bytes:
        """The records section."""
        return b"".join(r.encode() for r in self.records)

    def seals_array(self) -> np.ndarray[Any, Any]:
        """The seals as a ``SEAL_DTYPE`` array."""
        data = b"".join(bytes(L.SEAL.build(s)) for s in self.seals)
        return np.frombuffer(data, dtype=SEAL_DTYPE)

    def build(self) -> bytes:
        """The image bytes."""
        return build_image(
            identity=self.identity,
            certificates=self.certificates,
            base=self.base,
            records=self.records_bytes(),
            seals=self.seals_array(),
            statement=self.statement,
            acquisition=self.acquisition,
        )


@st.composite
def image_parts(draw: st.DrawFn, max_records: int = 30) -> ImageParts:
    """The inputs of a whole image."""
    return ImageParts(
        identity=draw(identities()),
        certificates=draw(certificate_lists()),
        base=draw(bases()),
        records=draw(st.lists(records(), max_size=max_records)),
        seals=draw(seal_lists()),
        statement=draw(statements()),
        acquisition=draw(any_acquisitions()),
    )


def images(max_records: int = 30) -> st.SearchStrategy[bytes]:
    """Whole images' bytes (via :func:`build_image`)."""
    return image_parts(max_records).map(ImageParts.build)


def seeded_random() -> st.SearchStrategy[random.Random]:
    """A ``random.Random`` hypothesis controls (shrinks and replays)."""
    return st.randoms(use_true_random=False)
