"""Trusted manufacturer roots and the checks on a device's certificate chain.

A verifier trusts only the roots it is given: real manufacturer roots are configuration,
and the emulator's TEST root (``captures/test-root.pem``) is trusted only when a user or a
test names it.  An image whose chain leads anywhere else gets an ``untrusted_root`` finding.

Checks, each a finding of kind ``certificate`` unless said otherwise:

- every certificate parses (DER);
- each certificate is signed by the next one up: an intermediate from the image, then a
  trusted root (``untrusted_root`` when the chain ends elsewhere);
- every issuer is a CA allowed to sign certificates (basic constraints, key usage);
- every certificate is valid at the time of the download statement (host UTC);
- the device certificate is an end-entity certificate for digital signatures, its key is
  Ed25519, and every serialNumber and common name in its subject (at least one) is the
  image's device serial.

A format-version-2 image also carries the download workstation's certificate chain
(:func:`check_workstation_chain`): the same checks, against the same trusted roots (a force
CA is configured beside the manufacturer roots), except that the workstation certificate
must name the acquisition's ``workstation`` as its common name and carry the extended key
usage id-kp-documentSigning (:data:`WORKSTATION_USAGE`), which keeps a device's key — or any
other certificate of the trusted roots — from signing an acquisition.

What the certificate library (``cryptography``) *warns* about while these checks read a
certificate — a serial number that is not positive (RFC 5280 forbids it; the library still
reads it, for now) and the like — is a finding of kind ``certificate_conformance`` naming
the certificate (a trusted root's too, when the chain ends at it), never text on stderr:
the checks go on, and the examiner sees the warning with the evidence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID, ObjectIdentifier

from taserlink.errors import TrustStoreError, excerpt

__all__ = [
    "TrustStore",
    "ChainResult",
    "check_chain",
    "check_workstation_chain",
    "WORKSTATION_USAGE",
    "BAD_CERTIFICATE",
    "CONFORMANCE",
    "library_warnings",
]

_MAX_DEPTH = 8
BAD_CERTIFICATE = (
    ValueError,
    KeyError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    CryptographyDeprecationWarning,
)
"""What cryptography raises for a certificate whose bytes are corrupted."""
_SUFFIXES = {".pem", ".crt", ".cer", ".der"}
CONFORMANCE = "certificate_conformance"
"""The finding kind of a warning the certificate library gave about a certificate."""
_WARNING_CHARS = 200
"""Most characters of a library warning quoted in a finding."""
WORKSTATION_USAGE = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336): the extended key usage a download workstation's
certificate must carry to sign acquisitions."""


@contextlib.contextmanager
def library_warnings() -> Iterator[list[str]]:
    """Collect the warnings raised inside the ``with`` block instead of printing them.

    Yields a list that holds, once the block has ended, each distinct warning's message
    (its first line, cut to a readable length), in the order first raised.  Nothing is
    written to stderr, and no source path: the caller reports them as findings (or drops
    them, where they are reported elsewhere).
    """
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield notes
    for warning in caught:
        text = str(warning.message).strip().splitlines()
        note = text[0] if text else warning.category.__name__
        if len(note) > _WARNING_CHARS:
            note = excerpt(note, _WARNING_CHARS)
        if note not in notes:
            notes.append(note)


@dataclass(frozen=True)
class TrustStore:
    """The manufacturer roots a verifier trusts."""

    roots: tuple[x509.Certificate, ...]

    def __reduce__(self) -> tuple[Any, tuple[tuple[bytes, ...]]]:
        """Pickled as the roots' DER bytes (certificate objects do not pickle), so a store
        can go to worker processes."""
        return _from_der, (tuple(r.public_bytes(serialization.Encoding.DER) for r in self.roots),)

    @classmethod
    def from_pem(cls, data: bytes) -> TrustStore:
        """Roots from PEM text (one or more certificates).

        Raises:
            TrustStoreError: no certificate could be read.
        """
        try:
            with library_warnings():  # reported when a chain ends at the root (check_chain)
                return cls(tuple(x509.load_pem_x509_certificates(data)))
        except ValueError as error:
            raise TrustStoreError(f"not a PEM certificate: {error}") from None

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]]) -> TrustStore:
        """Roots from files and directories (``*.pem``, ``*.crt``, ``*.cer``, ``*.der``).

        Raises:
            TrustStoreError: a path is missing or unreadable, a file holds no certificate,
                or no root was found at all.
        """
        roots: list[x509.Certificate] = []
        for path in map(Path, paths):
            if path.is_dir():
                files = sorted(
                    p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file()
                )
            elif path.exists():
                files = [path]
            else:
                raise TrustStoreError(f"{path}: no such file or directory")
            for file in files:
                roots.extend(_load_certificates(file))
        if not roots:
            raise TrustStoreError("no trusted root certificate found")
        return cls(tuple(roots))


def _load_certificates(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TrustStoreError(f"{path}: {error.strerror or error}") from None
    try:
        with library_warnings():  # reported when a chain ends at the root (check_chain)
            if b"-----BEGIN" in data:
                return list(x509.load_pem_x509_certificates(data))
            return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise TrustStoreError(f"{path}: not a certificate (PEM or DER)") from None


@dataclass(frozen=True)
class ChainResult:
    """What the certificate checks found.

    Attributes:
        key: the device's public key, when the device certificate could be read and holds
            an Ed25519 key (signatures can then be checked, whatever else is wrong).
        problems: ``(kind, message, index)``: kind ``certificate``, ``untrusted_root`` or
            ``certificate_conformance``, and the position in the image's certificates of
            the one concerned (``None`` for the chain as a whole or a trusted root).
    """

    key: Ed25519PublicKey | None
    problems: tuple[tuple[str, str, int | None], ...]


def _subject_serials(certificate: x509.Certificate) -> list[str]:
    """Every serialNumber and common name in the subject (each must name the device)."""
    names = []
    for oid in (NameOID.SERIAL_NUMBER, NameOID.COMMON_NAME):
        for attribute in certificate.subject.get_attributes_for_oid(oid):
            value = attribute.value
            names.append(value if isinstance(value, str) else value.decode("utf-8", "replace"))
    return names


def _extension(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> object | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except BAD_CERTIFICATE:  # a malformed or duplicated extension
        return None


def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or "(empty subject)"


def _valid_at(certificate: x509.Certificate, at: dt.datetime) -> str | None:
    if at < certificate.not_valid_before_utc:
        return (
            f"{_name(certificate)} is not valid until {certificate.not_valid_before_utc:%Y-%m-%d}"
        )
    if at > certificate.not_valid_after_utc:
        return f"{_name(certificate)} expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    return None


def _may_issue(certificate: x509.Certificate) -> str | None:
    constraints = _extension(certificate, x509.BasicConstraints)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        return f"{_name(certificate)} signs certificates but is not a CA"
    usage = _extension(certificate, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not usage.key_cert_sign:
        return f"{_name(certificate)} is not allowed to sign certificates (key usage)"
    return None


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


@dataclass(frozen=True)
class _EndEntity:
    """What the first certificate of a chain must be, and how messages name it."""

    role: str
    """``device`` or ``workstation``."""
    numbered: str
    """How the i-th certificate is named: ``certificate`` or ``workstation certificate``."""
    holder: str
    """Where the certificates are: ``the image`` or ``the acquisition``."""
    names: Callable[[x509.Certificate], str | None]
    """The problem with the end-entity certificate's subject, if any."""
    usage: ObjectIdentifier | None
    """An extended key usage the end-entity certificate must carry."""
    at_word: str
    """What happened at the time validity is checked at (``download``)."""
    chain_word: str
    """How the chain is named in the untrusted-root message (``the chain``)."""


def _device_profile(device_serial: str) -> _EndEntity:
    def names(certificate: x509.Certificate) -> str | None:
        named = _subject_serials(certificate)
        if not named or any(name != device_serial for name in named):
            return (
                f"the certificate names {', '.join(dict.fromkeys(named)) or 'no device'}, "
                f"the image is device {device_serial}"
            )
        return None

    return _EndEntity("device", "certificate", "the image", names, None, "download", "the chain")


def _workstation_profile(workstation: str) -> _EndEntity:
    def names(certificate: x509.Certificate) -> str | None:
        named = _common_names(certificate)
        if not named or any(name != workstation for name in named):
            return (
                f"the workstation certificate names {', '.join(dict.fromkeys(named)) or 'no one'},"
                f" the acquisition says workstation {workstation!r}"
            )
        return None

    return _EndEntity(
        "workstation",
        "workstation certificate",
        "the acquisition",
        names,
        WORKSTATION_USAGE,
        "acquisition signed",
        "the workstation's chain",
    )


def check_chain(
    certificates: Sequence[bytes], device_serial: str, at: dt.datetime, trust: TrustStore
) -> ChainResult:
    """Check an image's certificates (DER, device first) against ``trust`` at time ``at``.

    Warnings the certificate library raises meanwhile become ``certificate_conformance``
    problems (module docstring); none reaches stderr.
    """
    return _checked(certificates, _device_profile(device_serial), at, trust)


def check_workstation_chain(
    certificates: Sequence[bytes], workstation: str, at: dt.datetime, trust: TrustStore
) -> ChainResult:
    """Check a version-2 acquisition's workstation certificates (DER, the workstation's
    first) against ``trust`` at time ``at`` (host UTC when the acquisition was signed).

    The checks are :func:`check_chain`'s, except that the workstation certificate must name
    ``workstation`` (the acquisition's field) as every common name of its subject and carry
    the extended key usage :data:`WORKSTATION_USAGE`.  ``key`` in the result is the
    workstation's public key when it is Ed25519.  Never raises for bad certificate bytes:
    every problem is in ``problems``.
    """
    return _checked(certificates, _workstation_profile(workstation), at, trust)


def _checked(
    certificates: Sequence[bytes], profile: _EndEntity, at: dt.datetime, trust: TrustStore
) -> ChainResult:
    with library_warnings() as stray:
        result = _check_chain(certificates, profile, at, trust)
    problems = list(result.problems)
    for note in stray:  # raised by no one certificate's reading (a backstop)
        problems.append((CONFORMANCE, f"the certificate library warned: {note}", None))
    return ChainResult(result.key, tuple(problems))


def _common_names(certificate: x509.Certificate) -> list[str]:
    names = []
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        names.append(value if isinstance(value, str) else value.decode("utf-8", "replace"))
    return names


def _check_chain(
    certificates: Sequence[bytes], profile: _EndEntity, at: dt.datetime, trust: TrustStore
) -> ChainResult:
    problems: list[tuple[str, str, int | None]] = []
    parsed: list[x509.Certificate] = []
    numbered, role = profile.numbered, profile.role
    for index, der in enumerate(certificates):
        certificate, notes = _load_der(der)
        if certificate is None:
            problems.append(
                ("certificate", f"{numbered} {index + 1} is not a valid certificate", index)
            )
        else:
            parsed.append(certificate)
        for note in notes:
            problems.append(
                (
                    CONFORMANCE,
                    f"{numbered} {index + 1}: the certificate library warned: {note}",
                    index,
                )
            )
    for index, der in enumerate(certificates):
        unused = _signature_unused_bits(der)
        if unused:
            problems.append(
                (
                    "certificate",
                    f"{numbered} {index + 1}'s signature is a BIT STRING with {unused} unused "
                    "bit(s), not whole bytes: its bytes were changed outside what its issuer "
                    "signed",
                    index,
                )
            )
    if not parsed or len(parsed) != len(certificates):
        if not certificates:
            problems.append(("certificate", f"{profile.holder} holds no {role} certificate", None))
        device_ok = bool(certificates) and _load_der(certificates[0])[0] is not None
        return ChainResult(_device_key(parsed[0]) if device_ok else None, tuple(problems))

    device = parsed[0]
    key = _device_key(device)
    if key is None:
        problems.append(("certificate", f"the {role} certificate's key is not Ed25519", 0))
    named = profile.names(device)
    if named is not None:
        problems.append(("certificate", named, 0))
    constraints = _extension(device, x509.BasicConstraints)
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        problems.append(("certificate", f"the {role} certificate is a CA certificate", 0))
    usage = _extension(device, x509.KeyUsage)
    if not isinstance(usage, x509.KeyUsage) or not usage.digital_signature:
        problems.append(("certificate", f"the {role} certificate is not for digital signatures", 0))
    if profile.usage is not None:
        extended = _extension(device, x509.ExtendedKeyUsage)
        if not isinstance(extended, x509.ExtendedKeyUsage) or profile.usage not in extended:
            problems.append(
                (
                    "certificate",
                    f"the {role} certificate is not for document signing (extended key usage "
                    f"id-kp-documentSigning, {profile.usage.dotted_string}): it may not sign "
                    "an acquisition",
                    0,
                )
            )

    def position(certificate: x509.Certificate) -> int | None:
        """Where ``certificate`` stands in the image (``None``: a root from the store)."""
        return next((i for i, c in enumerate(parsed) if c is certificate), None)

    path = [device]
    current = device
    intermediates = parsed[1:]
    trusted = False
    for _ in range(_MAX_DEPTH):
        root = next(
            (r for r in trust.roots if r.subject == current.issuer and _issued_by(current, r)),
            None,
        )
        if root is not None:
            path.append(root)
            trusted = True
            for note in _root_notes(root):
                problems.append(
                    (
                        CONFORMANCE,
                        f"trusted root {_name(root)}: the certificate library warned: {note}",
                        None,
                    )
                )
            break
        issuer = next(
            (c for c in intermediates if c.subject == current.issuer and c not in path), None
        )
        if issuer is None:
            break
        if not _issued_by(current, issuer):
            problems.append(
                (
                    "certificate",
                    f"{_name(current)} is not signed by {_name(issuer)}",
                    position(current),
                )
            )
            break
        path.append(issuer)
        current = issuer
    if not trusted:
        problems.append(
            (
                "untrusted_root",
                f"{profile.chain_word} ends at {current.issuer.rfc4514_string()}, "
                "not a trusted root",
                position(current),
            )
        )
    for issuer in path[1:]:
        problem = _may_issue(issuer)
        if problem:
            problems.append(("certificate", problem, position(issuer)))
    for certificate in path:
        problem = _valid_at(certificate, at)
        if problem:
            when = f"{problem} ({profile.at_word} at {at:%Y-%m-%dT%H:%M:%SZ})"
            problems.append(("certificate", when, position(certificate)))
    return ChainResult(key, tuple(problems))


def _load_der(der: bytes) -> tuple[x509.Certificate | None, list[str]]:
    """A certificate whose every field this module reads parses (or ``None``), and what the
    library warned about while reading it.

    cryptography parses fields lazily, so a corrupted field would otherwise raise later;
    every field read here is read once now, the serial number included (the one RFC 5280
    rule the library warns about rather than refuses).
    """
    with library_warnings() as notes:
        try:
            certificate = x509.load_der_x509_certificate(der)
            fields = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
            names = (certificate.subject.rfc4514_string(), certificate.issuer.rfc4514_string())
            extensions = list(certificate.extensions)
            number = certificate.serial_number
            del fields, names, extensions, number
        except BAD_CERTIFICATE:
            certificate = None
    return certificate, notes


def _root_notes(root: x509.Certificate) -> list[str]:
    """What the library warns about when a trusted root's fields are read."""
    with library_warnings() as notes, contextlib.suppress(*BAD_CERTIFICATE):
        number = root.serial_number
        del number
    return notes


def _der_element(der: bytes, at: int) -> tuple[int, int, int]:
    """``(tag, content start, end)`` of the DER element at ``der[at]``.

    Raises:
        IndexError: the element runs past ``der``.
    """
    tag, length = der[at], der[at + 1]
    content = at + 2
    if length & 0x80:
        size = length & 0x7F
        if content + size > len(der):
            raise IndexError("length runs past the end")
        length = int.from_bytes(der[content : content + size], "big")
        content += size
    if content + length > len(der):
        raise IndexError("content runs past the end")
    return tag, content, content + length


def _signature_unused_bits(der: bytes) -> int:
    """Unused bits declared by a certificate's signatureValue BIT STRING (0 when well formed).

    An X.509 signature is whole bytes, so the BIT STRING's first content byte must be 0.  The
    issuer's signature covers only the TBS part, and a parser that drops padding bits would
    accept a nonzero count: one byte of the certificate would change undetected.  Anything
    that is not ``SEQUENCE {tbs, algorithm, BIT STRING}`` gives 0 here: the certificate
    checks report malformed DER themselves.
    """
    try:
        _, at, end = _der_element(der, 0)
        children: list[tuple[int, int, int]] = []
        while at < end and len(children) < 4:
            tag, content, after = _der_element(der, at)
            children.append((tag, content, after))
            at = after
    except IndexError:
        return 0
    if len(children) != 3 or children[2][0] != 0x03 or children[2][2] <= children[2][1]:
        return 0
    return der[children[2][1]]


def _device_key(certificate: x509.Certificate) -> Ed25519PublicKey | None:
    try:
        key = certificate.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):  # an unsupported or malformed key
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def _from_der(roots: tuple[bytes, ...]) -> TrustStore:
    """The :class:`TrustStore` of these DER certificates (the other half of pickling)."""
    return TrustStore(tuple(x509.load_der_x509_certificate(der) for der in roots))
