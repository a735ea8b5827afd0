"""Reading and writing whole dataport images.

:func:`read_image` checks the image's structure (magic, version, every section's length
and bounds, every variable-length field) and returns an :class:`Image`: frozen dataclasses
for the small sections and numpy structured arrays for records and seals (the bulk path).
Any structural problem raises :class:`~taserlink.errors.FormatError` naming the byte
offset; the reader never allocates more than the input's own size.  A file's header is
checked against the file's size before the rest of it is read: a header that declares more
(or less) than the file holds is refused at once, without reading or allocating the
sections it claims; from a pipe or a device (no size) no more is read than the header
declares, plus one byte.

Format versions 1 and 2 are read; :func:`build_image` writes version 2 when the acquisition
is signed by a download workstation (a ``signer``, or a given
:class:`AcquisitionSignature`), version 1 otherwise.

What structure cannot tell — whether the chain, seals and signatures hold — is the
verifier's job (:mod:`taserlink.integrity`); this module only reads and writes.
"""

from __future__ import annotations

import enum
import hashlib
import io
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Protocol

import construct as cs
import numpy as np
import numpy.typing as npt

from taserlink.errors import FormatError, ImageIOError, RecordCrcError, TruncatedError
from taserlink.format import layout as L
from taserlink.format.bulk import SEAL_DTYPE, crc_mismatches, records_from_buffer

__all__ = [
    "CrcCheck",
    "Span",
    "FirmwareVersion",
    "Identity",
    "Base",
    "Seal",
    "Statement",
    "Acquisition",
    "AcquisitionSignature",
    "AcquisitionSigner",
    "Image",
    "read_image",
    "build_image",
    "encode_identity",
    "encode_certificates",
    "encode_base",
    "encode_statement",
    "encode_seals",
    "decode_identity",
    "decode_certificates",
    "decode_base",
    "decode_statement",
    "device_sha256",
    "acquisition_signed_fields",
    "MAX_IMAGE_BYTES",
]

MAX_IMAGE_BYTES = 1 << 34
"""Largest image :func:`read_image` accepts from a path (16 GiB; a full device log is ~1 MB)."""


class CrcCheck(enum.Enum):
    """What :func:`read_image` does about records whose CRC does not match."""

    RAISE = "raise"
    """Raise :class:`~taserlink.errors.RecordCrcError` for the first bad record."""
    REPORT = "report"
    """List them in :attr:`Image.crc_failures` and go on (the default)."""
    SKIP = "skip"
    """Do not compute CRCs (``crc_failures`` is empty; nothing was checked)."""


@dataclass(frozen=True)
class Span:
    """Where one section lies in the image, in bytes."""

    name: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        """Offset of the first byte after the section."""
        return self.offset + self.length


@dataclass(frozen=True, order=True)
class FirmwareVersion:
    """A firmware version ``major.minor.patch``."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Identity:
    """Section 2: the device's serial, model, hardware, firmware and log capacity."""

    serial: str
    model: str
    hardware_revision: str
    firmware: FirmwareVersion
    log_capacity: int
    """Records the device keeps before it deletes the oldest quarter."""
    signature_algorithm: int = L.SIGNATURE_ED25519


@dataclass(frozen=True)
class Base:
    """Section 4: the first retained record's sequence and the chain value before it."""

    first_seq: int
    chain_before: bytes
    device_time_ms: int
    """Device time when the base was (re)written: the device's start or its last wrap."""
    signature: bytes


@dataclass(frozen=True)
class Seal:
    """One entry of section 6: a signed checkpoint of the chain value after ``seq``."""

    seq: int
    chain: bytes
    device_time_ms: int
    signature: bytes


@dataclass(frozen=True)
class Statement:
    """Section 7: the device's signed account of one download over a host nonce."""

    nonce: bytes
    first_seq: int
    last_seq: int
    """Sequence of the last record downloaded; ``first_seq - 1`` for an empty log."""
    chain: bytes
    """Chain value after ``last_seq``."""
    device_time_ms: int
    """Device clock when the statement was signed."""
    seal_interval: int
    """The device seals after every record whose sequence is a multiple of this."""
    identity_sha256: bytes
    """SHA-256 of the identity section's bytes."""
    signature: bytes


@dataclass(frozen=True)
class AcquisitionSignature:
    """Format version 2: the download workstation's signature over the acquisition.

    Attributes:
        certificates: DER certificates, the workstation's own first, then any intermediates
            toward a root the verifier trusts (never the root itself).
        signature: the 64-byte Ed25519 signature over
            :func:`~taserlink.format.layout.signed_message` ``("acquisition", serial,
            fields)``, ``fields`` being the acquisition's bytes from its nonce to the end of
            ``device_sha256`` (:func:`acquisition_signed_fields`).
        algorithm: ``1`` = Ed25519, the only one defined.
    """

    certificates: tuple[bytes, ...]
    signature: bytes = bytes(L.SIGNATURE_SIZE)
    algorithm: int = L.SIGNATURE_ED25519


class AcquisitionSigner(Protocol):
    """What :func:`build_image` needs of a download workstation's key to sign an acquisition
    (:class:`taserlink.integrity.WorkstationKey` is one)."""

    @property
    def certificates(self) -> tuple[bytes, ...]:
        """The workstation's DER certificate first, then any intermediates."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature over ``message``."""
        ...


@dataclass(frozen=True)
class Acquisition:
    """Section 8: the host's record of the download.

    Times are UTC milliseconds since the Unix epoch on the host clock.  The two digests are
    computed by :func:`build_image`; values given to it are ignored.
    ``workstation_signature`` is ``None`` in a version-1 image and set in a version-2 one.
    """

    nonce: bytes
    host_utc_start_ms: int
    host_utc_end_ms: int
    statement_utc_ms: int
    """Host UTC when the download statement arrived: the clock anchor for this download."""
    clock_source: str
    tool_version: str
    operator: str
    workstation: str
    device_sha256: bytes = bytes(L.DIGEST_SIZE)
    """SHA-256 of sections 1–7 (header to statement)."""
    closing_sha256: bytes = bytes(L.DIGEST_SIZE)
    """SHA-256 of every byte before this field."""
    workstation_signature: AcquisitionSignature | None = None
    """Version 2 only: the download workstation's certificates and signature."""


@dataclass(frozen=True)
class Image:
    """A parsed dataport image.

    ``records`` and ``seals`` are read-only structured arrays viewing ``data`` (dtypes
    :data:`~taserlink.format.bulk.RECORD_DTYPE` and :data:`~taserlink.format.bulk.SEAL_DTYPE`).
    ``crc_failures`` holds the indices of records whose CRC does not match (see
    :class:`CrcCheck`).
    """

    version: int
    spans: Mapping[str, Span]
    identity: Identity
    certificates: tuple[bytes, ...]
    base: Base
    records: npt.NDArray[Any]
    seals: npt.NDArray[Any]
    statement: Statement | None
    acquisition: Acquisition
    crc_failures: npt.NDArray[np.intp]
    data: bytes = field(repr=False)

    @cached_property
    def seal_list(self) -> tuple[Seal, ...]:
        """The seals as frozen dataclasses (``seals`` holds the same as a structured array)."""
        return tuple(
            Seal(
                int(row["seq"]),
                row["chain"].tobytes(),
                int(row["device_time_ms"]),
                row["signature"].tobytes(),
            )
            for row in self.seals
        )

    def record_offset(self, index: int) -> int:
        """Byte offset in the image of record ``index`` (0-based position, not sequence)."""
        return self.spans["records"].offset + index * L.RECORD_SIZE

    def section_bytes(self, name: str) -> bytes:
        """The raw bytes of section ``name`` (``header``, ``identity`` … ``acquisition``)."""
        span = self.spans[name]
        return self.data[span.offset : span.end]


# -- encoding ---------------------------------------------------------------------------


def encode_identity(identity: Identity) -> bytes:
    """Section 2 bytes."""
    fw = identity.firmware
    return bytes(
        L.IDENTITY.build(
            {
                "serial": identity.serial,
                "model": identity.model,
                "hardware_revision": identity.hardware_revision,
                "firmware": {"major": fw.major, "minor": fw.minor, "patch": fw.patch},
                "log_capacity": identity.log_capacity,
                "signature_algorithm": identity.signature_algorithm,
            }
        )
    )


def encode_certificates(certificates: Iterable[bytes]) -> bytes:
    """Section 3 bytes: DER certificates, the device's first."""
    return bytes(L.CERTIFICATES.build(list(certificates)))


def encode_base(base: Base) -> bytes:
    """Section 4 bytes."""
    return bytes(L.BASE.build(vars(base)))


def encode_statement(statement: Statement | None) -> bytes:
    """Section 7 bytes (empty when there is no statement)."""
    return b"" if statement is None else bytes(L.STATEMENT.build(vars(statement)))


def encode_seals(seals: npt.NDArray[Any] | Iterable[Mapping[str, Any]]) -> bytes:
    """Section 6 bytes from a ``SEAL_DTYPE`` array or from mappings of seal fields."""
    if isinstance(seals, np.ndarray):
        return np.ascontiguousarray(seals, dtype=SEAL_DTYPE).tobytes()
    return b"".join(bytes(L.SEAL.build(dict(seal))) for seal in seals)


_V2_TAIL = 2 * L.DIGEST_SIZE + L.SIGNATURE_SIZE
"""A version-2 acquisition ends with ``device_sha256``, the signature, ``closing_sha256``."""


def _encode_acquisition_fields(
    acquisition: Acquisition, signing: AcquisitionSignature | None
) -> bytes:
    """Acquisition bytes up to (not including) ``device_sha256``: version 1's when
    ``signing`` is ``None``, else version 2's (its algorithm and certificates included)."""
    fields = {name: getattr(acquisition, name) for name in _ACQUISITION_V1_FIELDS}
    if signing is None:
        return bytes(L.ACQUISITION.build(fields))[: -2 * L.DIGEST_SIZE]
    full = L.ACQUISITION_V2.build(
        {
            **fields,
            "workstation_signature_algorithm": signing.algorithm,
            "workstation_certificates": list(signing.certificates),
            "workstation_signature": bytes(L.SIGNATURE_SIZE),
        }
    )
    return bytes(full)[:-_V2_TAIL]


_ACQUISITION_V1_FIELDS = tuple(sub.name for sub in L.ACQUISITION.subcons)


def acquisition_signed_fields(image: Image) -> bytes:
    """The bytes a version-2 image's workstation signs (after its domain tag and serial): the
    acquisition from its nonce to the end of ``device_sha256``.

    Raises:
        ValueError: ``image`` is not a version-2 image.
    """
    if image.version != L.SIGNED_VERSION:
        raise ValueError(f"a format version {image.version} image has no workstation signature")
    span = image.spans["acquisition"]
    return image.data[span.offset : span.end - L.DIGEST_SIZE - L.SIGNATURE_SIZE]


def device_sha256(image_bytes: bytes, spans: Mapping[str, Span]) -> bytes:
    """SHA-256 of sections 1–7 of an image (the acquisition hash)."""
    return hashlib.sha256(image_bytes[: spans["acquisition"].offset]).digest()


def build_image(
    *,
    identity: Identity,
    certificates: Iterable[bytes],
    base: Base,
    records: bytes | npt.NDArray[Any],
    seals: bytes | npt.NDArray[Any],
    statement: Statement | None,
    acquisition: Acquisition,
    signer: AcquisitionSigner | None = None,
) -> bytes:
    """Assemble an image, computing the acquisition's two digests.

    ``records`` and ``seals`` are section bytes or arrays of ``RECORD_DTYPE`` /
    ``SEAL_DTYPE``; they are written as given (CRCs are not recomputed).

    With a ``signer`` (the download workstation's key) the image is format version 2: the
    acquisition carries the signer's certificates and its signature over the acquisition's
    fields and ``device_sha256``.  Without one, an ``acquisition.workstation_signature``
    given is written as it is (version 2, the signature not recomputed: how a test or a
    forger keeps an old signature); with neither, the image is format version 1 (keyless
    digests only).

    Raises:
        construct.ConstructError: a field does not fit its declaration (a string longer than
            255 bytes in UTF-8, a certificate longer than 65,535 bytes, …).
    """
    device_parts = {
        "identity": encode_identity(identity),
        "certificates": encode_certificates(certificates),
        "base": encode_base(base),
        "records": records.tobytes() if isinstance(records, np.ndarray) else bytes(records),
        "seals": seals.tobytes() if isinstance(seals, np.ndarray) else bytes(seals),
        "statement": encode_statement(statement),
    }
    signing = acquisition.workstation_signature
    if signer is not None:
        signing = AcquisitionSignature(tuple(signer.certificates))
    acquisition_fields = _encode_acquisition_fields(acquisition, signing)
    lengths = {f"{name}_length": len(part) for name, part in device_parts.items()}
    tail = 2 * L.DIGEST_SIZE if signing is None else _V2_TAIL
    lengths["acquisition_length"] = len(acquisition_fields) + tail
    version = L.UNSIGNED_VERSION if signing is None else L.SIGNED_VERSION
    header = bytes(L.HEADER.build({"version": version, "record_size": L.RECORD_SIZE, **lengths}))
    before_acquisition = header + b"".join(device_parts.values())
    digest = hashlib.sha256(before_acquisition).digest()
    head = before_acquisition + acquisition_fields + digest
    if signing is not None:
        if signer is not None:
            message = L.signed_message("acquisition", identity.serial, acquisition_fields + digest)
            head += signer.sign(message)
        else:
            head += signing.signature
    return head + hashlib.sha256(head).digest()


# -- decoding ---------------------------------------------------------------------------


_PARSE_ERRORS = (cs.ConstructError, UnicodeDecodeError)
"""What construct raises for bytes that do not fit a declaration (never anything else here)."""


def _parse(con: Any, data: bytes, span: Span) -> Any:
    """Parse ``span`` of ``data`` with ``con``, requiring it to fill the span exactly.

    Raises:
        FormatError: at the offset of the first field that does not fit (a string that is not
            valid in its encoding is located at its first bad byte), or of the first byte
            after the last field when the span is longer than the declaration.
    """
    raw = data[span.offset : span.end]
    stream = io.BytesIO(raw)
    try:
        value = con.parse_stream(stream)
    except _PARSE_ERRORS:
        where, reason = _locate_failure(con, raw)
        raise FormatError(f"{span.name} section: {reason}", span.offset + where) from None
    if stream.tell() != span.length:
        extra = span.length - stream.tell()
        raise FormatError(
            f"{span.name} section: {extra} unexplained bytes after its last field",
            span.offset + stream.tell(),
        )
    return value


def _locate_failure(con: Any, raw: bytes) -> tuple[int, str]:
    """Where in ``raw`` (offset) and why parsing ``con`` fails, field by field.

    Runs only after ``con`` failed as a whole: it walks the top-level fields of a ``Struct``
    or ``FocusedSeq`` (and each element of an ``Array`` field) in order, so the error names
    the field and the offset where it starts, rather than where the stream stopped.
    """
    stream = io.BytesIO(raw)
    context: dict[str, Any] = {}
    fields = con.subcons if isinstance(con, cs.Struct | cs.FocusedSeq) else [con]
    for sub in fields:
        name = sub.name or "field"
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        parts: Iterable[tuple[str, Any]] = [(name, sub)]
        if isinstance(inner, cs.Array):
            count = inner.count(context) if callable(inner.count) else inner.count
            parts = ((f"{name}[{i}] (of {count})", inner.subcon) for i in range(int(count)))
        for label, part in parts:
            start = stream.tell()
            try:
                value = part.parse_stream(stream, **context)
            except _PARSE_ERRORS as error:
                return _describe_failure(raw, start, stream.tell(), label, error)
            if sub.name and part is sub:
                context[sub.name] = value
    return 0, "does not match its declaration"  # pragma: no cover - con failed, a field must


def _describe_failure(
    raw: bytes, start: int, end: int, label: str, error: Exception
) -> tuple[int, str]:
    """Offset and reason for ``error``, raised parsing field ``label`` at ``raw[start:]``."""
    if isinstance(error, cs.StreamError):
        left = len(raw) - start
        return start, f"{label} runs past the end of the section ({left} bytes left)"
    bad = error if isinstance(error, UnicodeDecodeError) else error.__context__
    if isinstance(bad, UnicodeDecodeError):
        found = raw.find(bad.object, start, max(end, start + len(bad.object)))
        where = start if found < 0 else found + bad.start
        byte = bad.object[bad.start : bad.start + 1].hex()
        return where, f"{label} is not valid {bad.encoding} (byte 0x{byte})"
    lines = str(error).strip().splitlines()
    return start, f"{label}: {lines[-1].strip() if lines else type(error).__name__}"


def _whole(name: str, data: bytes) -> Span:
    return Span(name, 0, len(data))


def decode_identity(data: bytes, span: Span | None = None) -> Identity:
    """Section 2 from its bytes (``span`` locates it in a larger buffer)."""
    v = _parse(L.IDENTITY, data, span or _whole("identity", data))
    fw = FirmwareVersion(v.firmware.major, v.firmware.minor, v.firmware.patch)
    return Identity(
        v.serial, v.model, v.hardware_revision, fw, v.log_capacity, v.signature_algorithm
    )


def decode_certificates(data: bytes, span: Span | None = None) -> tuple[bytes, ...]:
    """Section 3 from its bytes."""
    return tuple(
        bytes(c) for c in _parse(L.CERTIFICATES, data, span or _whole("certificates", data))
    )


def decode_base(data: bytes, span: Span | None = None) -> Base:
    """Section 4 from its bytes."""
    v = _parse(L.BASE, data, span or _whole("base", data))
    return Base(v.first_seq, bytes(v.chain_before), v.device_time_ms, bytes(v.signature))


def decode_statement(data: bytes, span: Span | None = None) -> Statement | None:
    """Section 7 from its bytes (``None`` for an empty section)."""
    span = span or _whole("statement", data)
    if span.length == 0:
        return None
    v = _parse(L.STATEMENT, data, span)
    return Statement(
        bytes(v.nonce),
        v.first_seq,
        v.last_seq,
        bytes(v.chain),
        v.device_time_ms,
        v.seal_interval,
        bytes(v.identity_sha256),
        bytes(v.signature),
    )


def _decode_acquisition(data: bytes, span: Span, version: int) -> Acquisition:
    v = _parse(L.ACQUISITIONS[version], data, span)
    signing = None
    if version == L.SIGNED_VERSION:
        signing = AcquisitionSignature(
            tuple(bytes(c) for c in v.workstation_certificates),
            bytes(v.workstation_signature),
            v.workstation_signature_algorithm,
        )
    return Acquisition(
        bytes(v.nonce),
        v.host_utc_start_ms,
        v.host_utc_end_ms,
        v.statement_utc_ms,
        v.clock_source,
        v.tool_version,
        v.operator,
        v.workstation,
        bytes(v.device_sha256),
        bytes(v.closing_sha256),
        signing,
    )


def _load(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> bytes:
    """The input's bytes; a file's header is checked against the file's size *before* the
    rest is read, so memory is bounded by what the file holds and its header declares."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    try:
        with open(source, "rb") as stream:
            info = os.fstat(stream.fileno())
            if stat.S_ISREG(info.st_mode):
                if info.st_size > MAX_IMAGE_BYTES:
                    raise FormatError(f"{info.st_size} bytes is larger than any dataport image")
                head = stream.read(L.HEADER_SIZE)
                _spans(head, info.st_size)  # every section length against the file's size
                return head + stream.read(info.st_size - len(head))
            # A pipe or a device has no size: read what the header declares and one byte
            # more, to see whether the input goes on past it (never all of /dev/zero).
            head = stream.read(L.HEADER_SIZE)
            declared = _declared_size(_header(head, len(head)))
            if declared > MAX_IMAGE_BYTES:
                raise FormatError(
                    f"the header declares {declared} bytes, larger than any dataport image", 0
                )
            return head + stream.read(declared - len(head) + 1)
    except OSError as error:
        raise ImageIOError(f"cannot read {os.fspath(source)}: {error.strerror or error}") from None


def _header(head: bytes, size: int) -> Any:
    """The parsed header of an input of ``size`` bytes that starts with ``head``.

    Raises:
        TruncatedError: the input is empty or shorter than a header.
        FormatError: bad magic, an unknown format version or record size.
    """
    if not size:
        raise TruncatedError("the input is empty", 0)
    if not head.startswith(L.MAGIC[: min(len(head), len(L.MAGIC))]):
        raise FormatError("bad magic: not a dataport image", 0)
    if len(head) < L.HEADER_SIZE:
        raise TruncatedError(f"header needs {L.HEADER_SIZE} bytes, the input ends", size)
    header = L.HEADER.parse(head[: L.HEADER_SIZE])
    version_offset = len(L.MAGIC)
    if header.version not in L.FORMAT_VERSIONS:
        known = " and ".join(map(str, L.FORMAT_VERSIONS))
        raise FormatError(
            f"unknown format version {header.version} (this reader knows {known})",
            version_offset,
        )
    if header.record_size != L.RECORD_SIZE:
        raise FormatError(
            f"record size {header.record_size}, format version {header.version} has "
            f"{L.RECORD_SIZE}",
            version_offset + 2,
        )
    return header


def _declared_size(header: Any) -> int:
    """The image size a parsed header declares: the header and every section."""
    return L.HEADER_SIZE + sum(int(header[f"{name}_length"]) for name in L.SECTION_NAMES)


def _spans(head: bytes, size: int) -> tuple[int, dict[str, Span]]:
    """Check the header against the input's ``size`` and work out where every section lies
    (``head``: the input's first bytes, all of the header's that there are)."""
    header = _header(head, size)
    spans = {"header": Span("header", 0, L.HEADER_SIZE)}
    offset = L.HEADER_SIZE
    for name in L.SECTION_NAMES:
        length = int(header[f"{name}_length"])
        span = Span(name, offset, length)
        if span.end > size:
            raise TruncatedError(
                f"{name} section ({length} bytes from offset {offset}) runs past the end of "
                f"the input",
                size,
            )
        spans[name] = span
        offset = span.end
    if offset != size:
        raise FormatError(f"{size - offset} unexplained bytes after the last section", offset)
    fixed = {
        "base": (L.BASE_SIZE,),
        "statement": (0, L.STATEMENT_SIZE),
    }
    for name, allowed in fixed.items():
        if spans[name].length not in allowed:
            raise FormatError(
                f"{name} section is {spans[name].length} bytes, it must be "
                + " or ".join(map(str, allowed)),
                spans[name].offset,
            )
    for name, unit in (("records", L.RECORD_SIZE), ("seals", L.SEAL_SIZE)):
        if spans[name].length % unit:
            raise FormatError(
                f"{name} section is {spans[name].length} bytes, not a multiple of {unit}",
                spans[name].offset,
            )
    return int(header.version), spans


def read_image(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    crc: CrcCheck = CrcCheck.REPORT,
) -> Image:
    """Read a dataport image from a path or from bytes.

    Args:
        source: a file path, or the image's bytes.
        crc: what to do about records whose CRC does not match (see :class:`CrcCheck`).

    Raises:
        ImageIOError: the file cannot be read.
        TruncatedError: the input ends before a section it declares.
        FormatError: any other structural problem, with its byte offset.
        RecordCrcError: a bad record CRC under ``CrcCheck.RAISE``.
    """
    data = _load(source)
    version, spans = _spans(data[: L.HEADER_SIZE], len(data))
    identity = decode_identity(data, spans["identity"])
    certificates = decode_certificates(data, spans["certificates"])
    base = decode_base(data, spans["base"])
    records = records_from_buffer(
        data, spans["records"].offset, spans["records"].length // L.RECORD_SIZE
    )
    seals = np.frombuffer(
        data,
        dtype=SEAL_DTYPE,
        count=spans["seals"].length // L.SEAL_SIZE,
        offset=spans["seals"].offset,
    )
    statement = decode_statement(data, spans["statement"])
    acquisition = _decode_acquisition(data, spans["acquisition"], version)
    failures = np.empty(0, dtype=np.intp) if crc is CrcCheck.SKIP else crc_mismatches(records)
    if crc is CrcCheck.RAISE and len(failures):
        index = int(failures[0])
        offset = spans["records"].offset + index * L.RECORD_SIZE
        raise RecordCrcError(
            f"record {index} (sequence {int(records['seq'][index])}) fails its CRC", offset, index
        )
    return Image(
        version=version,
        spans=MappingProxyType(spans),
        identity=identity,
        certificates=certificates,
        base=base,
        records=records,
        seals=seals,
        statement=statement,
        acquisition=acquisition,
        crc_failures=failures,
        data=data,
    )
