#!/usr/bin/env python3
"""Change every byte of a dataport image and check that the verifier notices each change.

    python tools/mutation_sweep.py                         # the smallest capture, both modes
    python tools/mutation_sweep.py --image captures/wrapped-log.tdi --mode strong
    python tools/mutation_sweep.py --values 0x01^ 0x80^ 0x00 0xff --jobs 2
    python tools/mutation_sweep.py --image captures/signed-download.tdi --jobs 2   # version 2

For every byte offset and every value (by default the byte XOR 0x01, XOR 0x80, 0x00 and 0xFF;
a value equal to the original byte is skipped), one changed copy of the image is read with
:func:`taserlink.format.read_image` and verified with :func:`taserlink.integrity.verify_image`.
A change is *detected* when reading raises :class:`~taserlink.errors.FormatError` (the image
is unreadable) or the report holds at least one ``error`` finding.  Two attackers:

``plain``
    changes the byte and nothing else (an accident, or a careless forger).  Every byte of an
    image must be detected: the keyless ``closing_sha256`` covers all of them.
``strong``
    has only the file and recomputes the two keyless acquisition digests after the change
    (``device_sha256`` over the bytes before the acquisition section, ``closing_sha256`` over
    every byte before it).  Sections 2–7 (identity to statement) and the acquisition
    ``nonce`` must still be detected: signatures, the certificate chain, the statement's
    identity digest and nonce protect them.  In format version 1 the header and the
    acquisition's host fields (times, clock source, tool version, operator, workstation) are
    protected only by the keyless digests (``docs/format.md`` §12): changes there that keep
    the image well-formed are the *documented limit*, listed but not a failure.  In format
    version 2 the workstation's signature covers them (and the header, through
    ``device_sha256``): there is no documented limit, and every change must be detected.
    The digest bytes themselves are what this attacker rewrites, so they are not swept in
    this mode (a version-2 image's workstation signature, between them, is).

Prints the counts per mode and every undetected change with its offset, section and field;
exits 1 when any undetected change lies outside the documented limit, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import construct as cs

from taserlink.errors import FormatError
from taserlink.format import Image, read_image
from taserlink.format import layout as L
from taserlink.format.bulk import RECORD_DTYPE, SEAL_DTYPE
from taserlink.integrity import Severity, TrustStore, verify_image

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
DEFAULT_ROOTS = CAPTURES / "test-root.pem"
MODES = ("plain", "strong")
DEFAULT_VALUES = ("0x01^", "0x80^", "0x00", "0xff")
DIGESTS_SIZE = 2 * L.DIGEST_SIZE
"""A version-1 acquisition ends with ``device_sha256`` then ``closing_sha256``."""
V2_TAIL = 2 * L.DIGEST_SIZE + L.SIGNATURE_SIZE
"""A version-2 acquisition ends with ``device_sha256``, the workstation signature, then
``closing_sha256``."""

ACQUISITION_HOST_FIELDS = frozenset(
    name for name in (sub.name for sub in L.ACQUISITION.subcons) if name not in {"nonce"}
)
"""Acquisition fields only the keyless digests protect (the digests included)."""


# -- where a byte lies ---------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """Bytes ``[start, end)`` of an image: one field of one section."""

    start: int
    end: int
    section: str
    name: str

    def label(self, offset: int) -> str:
        """``section.field`` and, for fields longer than one byte, the byte within it."""
        within = f" +{offset - self.start}" if self.end - self.start > 1 else ""
        return f"{self.section}.{self.name}{within}"


def _struct_fields(con: Any, data: bytes, offset: int, section: str) -> list[Field]:
    """The top-level fields of construct ``con`` parsed from ``data[offset:]``."""
    stream = io.BytesIO(data[offset:])
    context: dict[str, Any] = {}
    fields = []
    for sub in con.subcons:
        start = stream.tell()
        value = sub.parse_stream(stream, **context)
        if sub.name:
            context[sub.name] = value
        end = stream.tell()
        if isinstance(sub.subcon, cs.StringEncoded) and isinstance(
            sub.subcon.subcon, cs.Prefixed
        ):  # a Pascal string: its length byte, then its text
            fields.append(Field(offset + start, offset + start + 1, section, f"{sub.name}.length"))
            start += 1
        if end > start:
            fields.append(Field(offset + start, offset + end, section, sub.name))
    return fields


def _dtype_fields(dtype: Any, offset: int, count: int, section: str, item: str) -> list[Field]:
    fields = []
    for index in range(count):
        at = offset + index * dtype.itemsize
        for name in dtype.names:
            sub, where = dtype.fields[name][:2]
            label = f"{item}[{index}].{name}"
            fields.append(Field(at + where, at + where + sub.itemsize, section, label))
    return fields


def _der_children(der: bytes) -> list[tuple[int, int, int]]:
    """``(header start, content start, end)`` of each element inside a DER SEQUENCE."""

    def element(at: int) -> tuple[int, int]:
        length = der[at + 1]
        content = at + 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(der[content : content + size], "big")
            content += size
        return content, content + length

    children = []
    outer, end = element(0)
    at = outer
    while at < end:
        content, after = element(at)
        children.append((at, content, after))
        at = after
    return children


def _certificate_fields(image: Image) -> list[Field]:
    """Count, then each certificate's length and its DER parts (tbs, algorithm, signature)."""
    at = image.spans["certificates"].offset
    return _certificate_list_fields(image.certificates, at, "certificates", "")


def _certificate_list_fields(
    certificates: tuple[bytes, ...], at: int, section: str, prefix: str
) -> list[Field]:
    """A certificate list's count, then each certificate's length and its DER parts."""
    fields = [Field(at, at + 1, section, f"{prefix}count")]
    at += 1
    for index, der in enumerate(certificates):
        name = f"{prefix}cert[{index}]"
        fields.append(Field(at, at + 2, section, f"{name}.length"))
        der_at = at + 2
        try:
            parts = _der_children(der)
        except IndexError:  # pragma: no cover - the captures hold valid DER
            parts = []
        labels = ("tbs", "signature_algorithm", "signature_value")
        if len(parts) == 3:
            fields.append(Field(der_at, der_at + parts[0][0], section, f"{name}.header"))
            for label, (start, _, end) in zip(labels, parts, strict=True):
                fields.append(Field(der_at + start, der_at + end, section, f"{name}.{label}"))
        else:
            fields.append(Field(der_at, der_at + len(der), section, f"{name}.der"))
        at = der_at + len(der)
    return fields


def _acquisition_fields(image: Image) -> list[Field]:
    """The acquisition's fields; a version-2 one's workstation certificates in parts."""
    at = image.spans["acquisition"].offset
    fields = _struct_fields(L.ACQUISITIONS[image.version], image.data, at, "acquisition")
    signing = image.acquisition.workstation_signature
    if signing is None:
        return fields
    out: list[Field] = []
    for item in fields:
        if item.name == "workstation_certificates":
            out += _certificate_list_fields(
                signing.certificates, item.start, "acquisition", "workstation_certificates."
            )
        else:
            out.append(item)
    return out


def field_map(image: Image) -> list[Field]:
    """Every byte of ``image`` in exactly one field, in file order.

    Raises:
        AssertionError: the fields do not tile the image (a declaration this map misreads).
    """
    data, spans = image.data, image.spans
    fields = _struct_fields(L.HEADER, data, 0, "header")
    fields += _struct_fields(L.IDENTITY, data, spans["identity"].offset, "identity")
    fields += _certificate_fields(image)
    fields += _struct_fields(L.BASE, data, spans["base"].offset, "base")
    records = spans["records"]
    fields += _dtype_fields(RECORD_DTYPE, records.offset, len(image.records), "records", "record")
    seals = spans["seals"]
    fields += _dtype_fields(SEAL_DTYPE, seals.offset, len(image.seals), "seals", "seal")
    if spans["statement"].length:
        fields += _struct_fields(L.STATEMENT, data, spans["statement"].offset, "statement")
    fields += _acquisition_fields(image)
    position = 0
    for item in fields:
        assert item.start == position, f"field map gap or overlap at {position}: {item}"
        position = item.end
    assert position == len(data), f"field map ends at {position}, the image at {len(data)}"
    return fields


def field_at(fields: Sequence[Field], offset: int) -> Field:
    """The field holding byte ``offset`` (``fields`` from :func:`field_map`)."""
    low, high = 0, len(fields)
    while high - low > 1:
        middle = (low + high) // 2
        if fields[middle].start <= offset:
            low = middle
        else:
            high = middle
    return fields[low]


def in_documented_limit(item: Field, version: int = L.UNSIGNED_VERSION) -> bool:
    """Whether a change here may pass a strong attacker (§12): in format version 1 the
    header and the acquisition's host fields; in version 2, nothing."""
    if version != L.UNSIGNED_VERSION:
        return False
    if item.section == "header":
        return True
    return item.section == "acquisition" and item.name.split(".")[0] in ACQUISITION_HOST_FIELDS


def rewritten_digests(image: Image) -> tuple[range, range]:
    """The byte ranges of ``device_sha256`` and ``closing_sha256``: what the strong attacker
    rewrites (not swept in that mode)."""
    end = image.spans["acquisition"].end
    closing = range(end - L.DIGEST_SIZE, end)
    tail = V2_TAIL if image.acquisition.workstation_signature is not None else DIGESTS_SIZE
    return range(end - tail, end - tail + L.DIGEST_SIZE), closing


# -- changing bytes ------------------------------------------------------------------------


def recompute_digests(data: bytearray) -> None:
    """Rewrite the two acquisition digests in place, as an attacker with only the file can.

    The acquisition section's offset and the format version come from the (possibly changed)
    header; when the header no longer makes sense the bytes are left as they are (the reader
    rejects them anyway).  A version-2 image's workstation signature is left as it is: the
    attacker has no key.
    """
    if len(data) < L.HEADER_SIZE + V2_TAIL:
        return
    lengths = [int.from_bytes(data[12 + 4 * i : 16 + 4 * i], "little") for i in range(6)]
    acquisition = L.HEADER_SIZE + sum(lengths)
    version = int.from_bytes(data[8:10], "little")
    tail = V2_TAIL if version == L.SIGNED_VERSION else DIGESTS_SIZE
    device_at = len(data) - tail
    if acquisition > device_at:
        return
    data[device_at : device_at + L.DIGEST_SIZE] = hashlib.sha256(data[:acquisition]).digest()
    closing_at = len(data) - L.DIGEST_SIZE
    data[closing_at:] = hashlib.sha256(data[:closing_at]).digest()


def parse_value(text: str) -> tuple[int, bool]:
    """``"0x80^"`` → (0x80, XOR); ``"0xff"`` → (0xFF, set).

    Raises:
        ValueError: not an integer 0–255, with an optional trailing ``^``.
    """
    xor = text.endswith("^")
    value = int(text.rstrip("^"), 0)
    if not 0 <= value <= 0xFF or (xor and value == 0):
        raise ValueError(f"{text!r}: need a byte 0–255 (XOR with a nonzero byte)")
    return value, xor


def new_values(original: int, values: Iterable[tuple[int, bool]]) -> list[int]:
    """The distinct bytes ``values`` turn ``original`` into, never ``original`` itself."""
    out: list[int] = []
    for value, xor in values:
        new = original ^ value if xor else value
        if new != original and new not in out:
            out.append(new)
    return out


def is_detected(data: bytes, trust: TrustStore) -> tuple[bool, str]:
    """Whether the verifier rejects ``data``, and how (``unreadable`` or the error kinds).

    Any exception other than :class:`~taserlink.errors.FormatError` is a verifier bug: it is
    reported as not detected, ``how`` naming the exception.
    """
    try:
        image = read_image(data)
    except FormatError:
        return True, "unreadable"
    try:
        report = verify_image(image, trust)
    except Exception as error:  # a crash is a bug the sweep must show, not stop at
        return False, f"crashed: {type(error).__name__}: {error}"
    if report.ok:
        return False, ""
    kinds = {f.kind.value for f in report.findings if f.severity is Severity.ERROR}
    return True, ",".join(sorted(kinds))


# -- the sweep -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Miss:
    """A change the verifier did not detect."""

    mode: str
    offset: int
    original: int
    value: int
    label: str
    allowed: bool
    """Within the documented limit (strong mode only)."""
    crash: str = ""
    """The exception the verifier raised instead of reporting (a bug), if any."""


@dataclass
class Result:
    """Counts per mode and every miss."""

    tried: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    misses: list[Miss] = field(default_factory=list)

    def failures(self) -> list[Miss]:
        """Misses outside the documented limit."""
        return [m for m in self.misses if not m.allowed]


_WORKER: dict[str, Any] = {}


def _init_worker(
    data: bytes, roots: bytes, values: list[tuple[int, bool]], modes: list[str]
) -> None:
    image = read_image(data)
    _WORKER.update(
        data=data,
        trust=TrustStore.from_pem(roots),
        values=values,
        modes=modes,
        fields=field_map(image),
        rewritten=rewritten_digests(image),
        version=image.version,
    )


def _sweep_offsets(offsets: range) -> tuple[list[tuple[str, str]], list[Miss]]:
    """Outcomes ``(mode, how)`` of every change at ``offsets``, and the misses among them."""
    with warnings.catch_warnings():
        # Changed bytes make cryptography and numpy warn (a negative certificate serial, a
        # device time past 2**63 ms); the sweep asks only whether the change is detected.
        warnings.simplefilter("ignore")
        return _sweep_quietly(offsets)


def _sweep_quietly(offsets: range) -> tuple[list[tuple[str, str]], list[Miss]]:
    data: bytes = _WORKER["data"]
    trust: TrustStore = _WORKER["trust"]
    outcomes: list[tuple[str, str]] = []
    misses: list[Miss] = []
    for offset in offsets:
        item = field_at(_WORKER["fields"], offset)
        for mode in _WORKER["modes"]:
            if mode == "strong" and any(offset in part for part in _WORKER["rewritten"]):
                continue  # the strong attacker rewrites these bytes: nothing to sweep
            for value in new_values(data[offset], _WORKER["values"]):
                changed = bytearray(data)
                changed[offset] = value
                if mode == "strong":
                    recompute_digests(changed)
                detected, how = is_detected(bytes(changed), trust)
                outcomes.append((mode, how if detected else "missed"))
                if not detected:
                    allowed = (
                        mode == "strong"
                        and in_documented_limit(item, _WORKER["version"])
                        and not how
                    )
                    misses.append(
                        Miss(mode, offset, data[offset], value, item.label(offset), allowed, how)
                    )
    return outcomes, misses


def sweep(
    data: bytes,
    roots_pem: bytes,
    values: Sequence[tuple[int, bool]] | None = None,
    modes: Sequence[str] = MODES,
    jobs: int = 1,
) -> Result:
    """Change every byte of ``data`` to each of ``values`` in each mode; count the outcomes.

    ``jobs`` > 1 shares the offsets among that many processes (the outcome is the same).
    """
    if values is None:
        values = [parse_value(text) for text in DEFAULT_VALUES]
    args = (data, roots_pem, list(values), list(modes))
    chunks = [range(start, min(start + 256, len(data))) for start in range(0, len(data), 256)]
    if jobs > 1:
        with multiprocessing.get_context().Pool(jobs, _init_worker, args) as pool:
            parts = pool.map(_sweep_offsets, chunks)
    else:
        _init_worker(*args)
        parts = [_sweep_offsets(chunk) for chunk in chunks]
    result = Result()
    for outcomes, misses in parts:
        for mode, how in outcomes:
            result.tried[mode] += 1
            if how == "unreadable":
                result.unreadable[mode] += 1
            elif how != "missed":
                result.errors[mode] += 1
        result.misses.extend(misses)
    result.misses.sort(key=lambda m: (m.mode, m.offset, m.value))
    return result


def smallest_capture() -> Path:
    """The smallest ``captures/*.tdi``."""
    return min(CAPTURES.glob("*.tdi"), key=lambda p: (p.stat().st_size, p.name))


def _print_misses(result: Result, mode: str) -> None:
    misses = [m for m in result.misses if m.mode == mode]
    limit = [m for m in misses if m.allowed]
    if limit:
        by_field = Counter(m.label.split(" +")[0] for m in limit)
        print(f"  within the documented limit (keyless digests only): {len(limit)} change(s) in")
        for label, count in sorted(by_field.items()):
            print(f"    {label}: {count}")
    failures = [m for m in misses if not m.allowed]
    if failures:
        print(f"  UNDETECTED outside the documented limit: {len(failures)}")
        for m in failures:
            crash = f"  ({m.crash})" if m.crash else ""
            print(f"    offset {m.offset}: 0x{m.original:02x} → 0x{m.value:02x}  {m.label}{crash}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--image", type=Path, help="image to sweep (default: the smallest capture)")
    parser.add_argument("--roots", type=Path, default=DEFAULT_ROOTS, help="trusted root PEM")
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument(
        "--values",
        nargs="+",
        default=list(DEFAULT_VALUES),
        help="new byte values: N sets the byte, N^ XORs it (default: 0x01^ 0x80^ 0x00 0xff)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    args = parser.parse_args(argv)
    try:
        values = [parse_value(v) for v in args.values]
    except ValueError as error:
        parser.error(str(error))
    if args.jobs < 1:
        parser.error("--jobs must be ≥ 1")
    path: Path = args.image or smallest_capture()
    try:
        data = path.read_bytes()
        roots = args.roots.read_bytes()
        read_image(data)
    except (OSError, FormatError) as error:
        print(f"mutation_sweep: {error}", file=sys.stderr)
        return 2
    modes = list(MODES) if args.mode == "both" else [args.mode]

    start = time.perf_counter()
    result = sweep(data, roots, values, modes, args.jobs)
    elapsed = time.perf_counter() - start
    print(f"{path.name}: {len(data)} bytes, values {' '.join(args.values)}, {args.jobs} job(s)")
    for mode in modes:
        missed = sum(1 for m in result.misses if m.mode == mode)
        print(
            f"{mode:>6}: {result.tried[mode]} changes, {result.unreadable[mode]} unreadable, "
            f"{result.errors[mode]} with an error finding, {missed} undetected"
        )
        _print_misses(result, mode)
    print(f"{sum(result.tried.values())} verifications in {elapsed:.1f} s")
    failures = result.failures()
    if failures:
        print(f"FAIL: {len(failures)} undetected change(s) outside the documented limit")
        return 1
    print("OK: every change outside the documented limit is detected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
