"""Export an image's certificates and signed messages for checking with stock OpenSSL.

An examiner who does not run taserlink can still check the device's signatures: each
signature is pure Ed25519 (RFC 8032) over ``domain tag || device serial || the signed
fields``, all of them bytes of the image (``docs/checking-by-hand.md``).
:func:`export_evidence` cuts those bytes out and writes them beside the certificates, in
one new directory:

=========================  ==============================================================
file                       holds
=========================  ==============================================================
``device.pem``             the device certificate (the image's first certificate), PEM
``chain.pem``              the intermediate certificates, PEM, in image order (absent when
                           the image carries none)
``device-pubkey.pem``      the device certificate's public key (SubjectPublicKeyInfo, PEM)
``statement.msg``/``.sig`` the download statement's exact signed message and its raw
                           64-byte signature (absent when the image has no statement)
``base.msg``/``.sig``      the same for the base
``seal-<seq>.msg``/``.sig`` the same for each seal (``<seq>`` in decimal; a repeated
                           sequence gets ``seal-<seq>-2`` and so on, in file order)
``workstation.pem``        format version 2: the download workstation's certificate, PEM
``workstation-chain.pem``  its intermediates, PEM (absent when it has none)
``workstation-pubkey.pem`` the workstation certificate's public key (Ed25519 only)
``acquisition.msg``/``.sig`` the workstation's exact signed message over the acquisition
                           and its raw 64-byte signature (version 2 only)
``image.sha256``           the image's SHA-256 in ``sha256sum`` format
``README.txt``             what each file is, where its bytes lie in the image, and the
                           exact ``openssl`` and ``sha256sum`` commands; written last, so
                           its presence marks a complete export
=========================  ==============================================================

Exporting checks nothing: a tampered image exports just the same, and the examiner's
OpenSSL run is what tells.  The export is deterministic (the same image gives the same
files), and every file is written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from taserlink.atomic import fsync_directory, make_folder, write_atomic
from taserlink.errors import FormatError, ImageIOError
from taserlink.format import Image
from taserlink.format import layout as L
from taserlink.format.image import acquisition_signed_fields
from taserlink.integrity.trust import library_warnings
from taserlink.serials import SERIAL_LENGTH

__all__ = ["SignedPart", "signed_parts", "export_evidence", "DEFAULT_IMAGE_NAME"]

DEFAULT_IMAGE_NAME: Final = "image.tdi"
"""The file name ``image.sha256`` gives the image when the caller names none."""

_FILE_MODE: Final = 0o644


@dataclass(frozen=True)
class SignedPart:
    """One signed structure of an image (the base, a seal or the statement), cut out.

    ``message`` is ``tag || serial || image[fields_offset : fields_offset + fields_length]``
    and ``signature`` is ``image[signature_offset : signature_offset + 64]``; offsets are
    absolute byte offsets in the image.
    """

    name: str
    """File stem: ``base``, ``statement`` or ``seal-<seq>``."""
    kind: str
    """``base``, ``seal`` or ``statement`` (the :func:`~taserlink.format.layout.signed_message`
    kind, which picks the domain tag)."""
    tag: bytes
    """The domain tag the message starts with (ASCII, then one zero byte)."""
    fields_offset: int
    fields_length: int
    signature_offset: int
    message: bytes
    signature: bytes


def signed_parts(image: Image) -> list[SignedPart]:
    """The base, every seal (in file order) and the statement (if any) of ``image``.

    Messages are built with :func:`~taserlink.format.layout.signed_message` over the image's
    own bytes (never re-encoded), with the identity's serial.
    """
    serial = image.identity.serial
    parts: list[SignedPart] = []
    seen: dict[int, int] = {}

    def cut(name: str, kind: str, offset: int, length: int) -> None:
        fields_length = length - L.SIGNATURE_SIZE
        fields = image.data[offset : offset + fields_length]
        signature_offset = offset + fields_length
        message = L.signed_message(kind, serial, fields)
        parts.append(
            SignedPart(
                name=name,
                kind=kind,
                tag=L.signed_message(kind, "", b""),
                fields_offset=offset,
                fields_length=fields_length,
                signature_offset=signature_offset,
                message=message,
                signature=image.data[signature_offset : signature_offset + L.SIGNATURE_SIZE],
            )
        )

    base = image.spans["base"]
    cut("base", "base", base.offset, base.length)
    seals = image.spans["seals"]
    for index, seq in enumerate(int(s) for s in image.seals["seq"]):
        seen[seq] = seen.get(seq, 0) + 1
        name = f"seal-{seq}" if seen[seq] == 1 else f"seal-{seq}-{seen[seq]}"
        cut(name, "seal", seals.offset + index * L.SEAL_SIZE, L.SEAL_SIZE)
    statement = image.spans["statement"]
    if statement.length:
        cut("statement", "statement", statement.offset, statement.length)
    return parts


def _certificate_offsets(image: Image) -> list[int]:
    """Absolute offset of each certificate's DER bytes in the image."""
    offset = image.spans["certificates"].offset + 1
    offsets = []
    for der in image.certificates:
        offsets.append(offset + 2)
        offset += 2 + len(der)
    return offsets


def _load_certificates(image: Image) -> tuple[list[x509.Certificate], Ed25519PublicKey]:
    """The image's certificates, parsed, and the device's Ed25519 public key.

    Raises:
        FormatError: no certificate, a certificate that is not DER X.509, a device key that
            is not Ed25519, or a signature algorithm other than Ed25519.
    """
    identity = image.spans["identity"]
    if image.identity.signature_algorithm != L.SIGNATURE_ED25519:
        raise FormatError(
            f"signature algorithm {image.identity.signature_algorithm} is not Ed25519 "
            f"({L.SIGNATURE_ED25519}): there is nothing OpenSSL could check",
            identity.end - 1,
        )
    if not image.certificates:
        raise FormatError("the image carries no certificate", image.spans["certificates"].offset)
    certificates = []
    for index, (der, offset) in enumerate(
        zip(image.certificates, _certificate_offsets(image), strict=True)
    ):
        try:
            with library_warnings():  # exporting checks nothing: the verifier reports them
                certificates.append(x509.load_der_x509_certificate(der))
        except ValueError as error:
            raise FormatError(f"certificate {index} is not DER X.509: {error}", offset) from None
    key = certificates[0].public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise FormatError(
            f"the device certificate's key is {type(key).__name__}, not Ed25519",
            _certificate_offsets(image)[0],
        )
    return certificates, key


def _workstation_files(image: Image) -> list[tuple[str, bytes]]:
    """A version-2 image's workstation certificates (those that parse), its public key (when
    Ed25519) and the signed message and signature; nothing for version 1."""
    signing = image.acquisition.workstation_signature
    if signing is None:
        return []
    parsed: list[x509.Certificate] = []
    for der in signing.certificates:
        try:
            with library_warnings():
                parsed.append(x509.load_der_x509_certificate(der))
        except ValueError:
            break  # the verifier reports it; OpenSSL could not read it either
    files: list[tuple[str, bytes]] = []
    if parsed:
        files.append(("workstation.pem", _pem(parsed[0])))
        if len(parsed) > 1:
            files.append(("workstation-chain.pem", b"".join(_pem(c) for c in parsed[1:])))
        key = parsed[0].public_key()
        if isinstance(key, Ed25519PublicKey):
            files.append(
                (
                    "workstation-pubkey.pem",
                    key.public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    ),
                )
            )
    message = L.signed_message(
        "acquisition", image.identity.serial, acquisition_signed_fields(image)
    )
    files.append(("acquisition.msg", message))
    files.append(("acquisition.sig", signing.signature))
    return files


def _check_image_name(image_name: str) -> None:
    if not image_name or image_name in {".", ".."} or any(c in image_name for c in "/\\\n\r\0"):
        raise ValueError(f"image name {image_name!r} must be a plain file name")


def _prepare_directory(directory: Path) -> None:
    """Create ``directory`` if needed; it must end up an empty directory.

    Raises:
        OutputPathError: it is a file, a device node or another non-folder.
        ImageIOError: it cannot be created or already holds files.
    """
    try:
        make_folder(directory)
        leftovers = sorted(p.name for p in directory.iterdir())
    except OSError as error:
        raise ImageIOError(
            f"cannot use {directory} for the evidence: {error.strerror or error}"
        ) from None
    if leftovers:
        shown = ", ".join(leftovers[:3]) + (" …" if len(leftovers) > 3 else "")
        raise ImageIOError(
            f"{directory} is not empty ({shown}): export into a new directory so that no "
            "file from another export is taken for this image's"
        )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _readme(
    image: Image,
    image_name: str,
    image_sha256: str,
    certificates: Sequence[x509.Certificate],
    parts: Sequence[SignedPart],
) -> str:
    """README.txt: the files, the byte ranges they come from, and the commands."""
    serial = image.identity.serial
    serial_offset = image.spans["identity"].offset
    serial_end = serial_offset + SERIAL_LENGTH - 1
    has_chain = len(certificates) > 1
    untrusted = " -untrusted chain.pem" if has_chain else ""
    verify = f"openssl verify -no-CApath -no-CAstore -CAfile ROOT.pem{untrusted}"
    lines = [
        "Signed evidence exported from a dataport image (taserlink).",
        "",
        f"Image:          {image_name} ({len(image.data)} bytes)",
        f"Image SHA-256:  {image_sha256}",
        f"Device serial:  {serial} (image bytes {serial_offset}-{serial_end})",
        f"Device subject: {certificates[0].subject.rfc4514_string()}",
        f"Issuer:         {certificates[0].issuer.rfc4514_string()}",
        "",
        "Every command below needs only OpenSSL 3 and coreutils. Run them in this",
        "directory. ROOT.pem is the manufacturer root certificate you trust, obtained",
        "independently of this image (the image never carries its root).",
        "",
        "Files",
        "-----",
        "device.pem          the device certificate (image certificate 0)",
    ]
    if has_chain:
        which = "1" if len(certificates) == 2 else f"1-{len(certificates) - 1}"
        lines.append(
            f"chain.pem           the intermediate certificate(s): image certificate {which}"
        )
    lines += [
        "device-pubkey.pem   the public key in device.pem",
        "image.sha256        the image's SHA-256, sha256sum format",
    ]
    for part in parts:
        lines.append(f"{part.name + '.msg':<19} the exact bytes the device signed ({part.kind})")
        lines.append(f"{part.name + '.sig':<19} its Ed25519 signature, 64 raw bytes")
    if image.statement is None:
        lines.append("(no statement.*: the image holds no download statement)")
    lines += [
        "",
        "1. The image is the one acquired",
        "--------------------------------",
        f"With the image beside this file under the name {image_name}:",
        "",
        "    sha256sum -c image.sha256",
        "",
        f"expect '{image_name}: OK', and compare the hash with the one recorded at",
        "acquisition (a file's own digests cannot show it was not rewritten).",
        "",
        "2. The device certificate chains to the trusted root",
        "----------------------------------------------------",
        f"    {verify} device.pem",
        "",
        "expect 'device.pem: OK'. -no-CApath -no-CAstore keep the system's roots out.",
    ]
    if image.statement is not None:
        seconds = image.acquisition.statement_utc_ms // 1000
        lines += [
            "",
            "and valid when the statement was made (-attime: host UTC in Unix seconds):",
            "",
            f"    {verify} -attime {seconds} device.pem",
        ]
    lines += [
        "",
        "The certificate names this device and may only sign:",
        "",
        "    openssl x509 -in device.pem -noout -subject -dates -ext keyUsage,basicConstraints",
        "",
        f"expect CN = {serial} and serialNumber = {serial}, CA:FALSE, Digital Signature.",
        "",
        "The public key file is the certificate's (no output when they agree):",
        "",
        "    openssl x509 -in device.pem -noout -pubkey | cmp - device-pubkey.pem",
        "",
        "3. The signatures",
        "-----------------",
        "For each pair, expect 'Signature Verified Successfully' (exit status 0):",
        "",
    ]
    for part in parts:
        lines.append(
            "    openssl pkeyutl -verify -pubin -inkey device-pubkey.pem -rawin "
            f"-in {part.name}.msg -sigfile {part.name}.sig"
        )
    lines += [
        "",
        "4. The messages are the image's own bytes",
        "-----------------------------------------",
        "Each .msg is: domain tag (ASCII, one zero byte) || device serial (10 bytes) ||",
        "the structure's bytes before its signature; each .sig is the 64 bytes after them.",
        "Offsets are bytes from the start of the image:",
        "",
        f"{'file':<16} {'tag':<26} {'fields at':>10} {'length':>7} {'sig at':>8}",
    ]
    for part in parts:
        tag = part.tag[:-1].decode("ascii") + "\\0"
        lines.append(
            f"{part.name:<16} {tag:<26} {part.fields_offset:>10} {part.fields_length:>7} "
            f"{part.signature_offset:>8}"
        )
    lines += [
        "",
        "Cut one out again and compare (no output when it matches), for example:",
        "",
    ]
    example = parts[-1]
    tag_octal = example.tag[:-1].decode("ascii") + "\\000"
    cut = f"dd if={shlex.quote(image_name)} bs=1 status=none"
    lines += [
        f"    {{ printf '{tag_octal}'; {cut} skip={serial_offset} count={SERIAL_LENGTH};",
        f"      {cut} skip={example.fields_offset} count={example.fields_length}; }}"
        f" | cmp - {example.name}.msg",
        f"    {cut} skip={example.signature_offset} count={L.SIGNATURE_SIZE}"
        f" | cmp - {example.name}.sig",
        "",
        "A good signature shows the device signed these bytes. That the records are the",
        "ones it signed is shown by the hash chain: see docs/checking-by-hand.md.",
        "",
    ]
    signing = image.acquisition.workstation_signature
    if signing is not None:
        end = image.spans["acquisition"].end
        signature_at = end - L.DIGEST_SIZE - L.SIGNATURE_SIZE
        acquisition = image.spans["acquisition"].offset
        lines += [
            "5. The download workstation's signature (format version 2)",
            "----------------------------------------------------------",
            "The workstation that made the download signed the host's record of it (UTC",
            "times, nonce, clock source, tool, operator, workstation, its certificates and",
            "the SHA-256 of every byte before the acquisition). ROOT.pem must also hold the",
            "force CA that certifies the workstation:",
            "",
            "    openssl verify -no-CApath -no-CAstore -CAfile ROOT.pem"
            + (" -untrusted workstation-chain.pem" if len(signing.certificates) > 1 else "")
            + " workstation.pem",
            "    openssl x509 -in workstation.pem -noout -subject -dates -ext extendedKeyUsage",
            "    openssl pkeyutl -verify -pubin -inkey workstation-pubkey.pem -rawin "
            "-in acquisition.msg -sigfile acquisition.sig",
            "",
            f"expect CN = {image.acquisition.workstation}, extended key usage 1.3.6.1.5.5.7.3.36",
            "(document signing) and 'Signature Verified Successfully'. acquisition.msg is",
            "'taserlink/acquisition/v2\\0' || device serial || image bytes "
            f"{acquisition}-{signature_at - 1};",
            f"acquisition.sig is image bytes {signature_at}-{signature_at + L.SIGNATURE_SIZE - 1}.",
            "It proves the holder of the workstation key wrote those fields, not that its",
            "clock was right.",
            "",
        ]
    return "\n".join(lines)


def export_evidence(
    image: Image, directory: Path, *, image_name: str = DEFAULT_IMAGE_NAME
) -> list[Path]:
    """Write ``image``'s certificates, signed messages and signatures for stock OpenSSL.

    Args:
        image: a parsed image (:func:`~taserlink.format.read_image`).
        directory: where to write; created if missing, and it must be empty (so no file of
            an earlier export can be taken for this image's).
        image_name: the image's file name as ``image.sha256`` gives it (``sha256sum -c``
            looks for the image under this name beside the checksum file).

    Returns:
        The paths written, in the order written; ``README.txt`` is last.

    Raises:
        FormatError: the image has no certificate, a certificate is not DER X.509, or the
            device key or signature algorithm is not Ed25519 (with the byte offset).
        OutputPathError: the directory is not a folder, or a file appeared in it that
            :mod:`taserlink.atomic`'s rule refuses to replace (a link, a device node …).
        ImageIOError: the directory cannot be created, is not empty, or a file cannot be
            written.
        ValueError: ``image_name`` is not a plain file name.
    """
    _check_image_name(image_name)
    certificates, key = _load_certificates(image)
    parts = signed_parts(image)
    image_sha256 = hashlib.sha256(image.data).hexdigest()
    files: list[tuple[str, bytes]] = [("device.pem", _pem(certificates[0]))]
    if len(certificates) > 1:
        files.append(("chain.pem", b"".join(_pem(c) for c in certificates[1:])))
    files.append(
        (
            "device-pubkey.pem",
            key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
    )
    for part in parts:
        files.append((f"{part.name}.msg", part.message))
        files.append((f"{part.name}.sig", part.signature))
    files += _workstation_files(image)
    files.append(("image.sha256", f"{image_sha256}  {image_name}\n".encode()))
    readme = _readme(image, image_name, image_sha256, certificates, parts)
    files.append(("README.txt", readme.encode("utf-8")))

    directory = Path(directory)
    _prepare_directory(directory)
    written = []
    for index, (name, data) in enumerate(files):
        path = directory / name
        try:
            if index == len(files) - 1:
                fsync_directory(directory)  # every other file is durable before README.txt
            write_atomic(path, data, mode=_FILE_MODE)
        except OSError as error:
            raise ImageIOError(f"cannot write {path}: {error.strerror or error}") from None
        written.append(path)
    return written
