"""A download workstation's own key: what signs a format-version-2 acquisition.

A force may give each download workstation (a store-room PC, a dock) an Ed25519 key and a
certificate its own CA issues.  The workstation then signs the acquisition section of every
image it writes — host UTC times, nonce, clock source, tool, operator, workstation and the
SHA-256 of sections 1–7 — so that whoever holds only the file can no longer re-time the
download without an ``error`` finding (``docs/format.md`` §8, §10; ``docs/integrity.md``).

    key = WorkstationKey.load("dock-01.key.pem", "dock-01.cert.pem")
    for problem in key.problems(datetime.now(UTC)):
        print(problem)                       # expired, not for document signing, …
    download(device, "downloads/", ..., workstation_key=key)

The key file is PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``); it may be encrypted with the
passphrase in ``$TASERLINK_WORKSTATION_PASSPHRASE`` (:data:`PASSPHRASE_ENV`).  The
certificate file holds the workstation's certificate, then any intermediates (never the
root, which verifiers hold as a trusted root); one PEM file may hold the key and the
certificates together.

What the signature proves, and what it does not: it proves that the holder of this key
wrote these host fields over these device sections.  It does not prove that the host clock
was right (``clock_source`` says how it was kept), and a stolen or misused workstation key
defeats it: keep the key where only the acquisition software can use it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from taserlink.errors import WorkstationKeyError
from taserlink.integrity.trust import BAD_CERTIFICATE, WORKSTATION_USAGE, library_warnings

__all__ = ["PASSPHRASE_ENV", "WorkstationKey"]

PASSPHRASE_ENV: Final = "TASERLINK_WORKSTATION_PASSPHRASE"
"""Environment variable holding the passphrase of an encrypted workstation key."""
_MAX_FILE_BYTES: Final = 1 << 20
"""Largest key or certificate file read (a PEM key and chain is a few kilobytes)."""


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        with open(path, "rb") as stream:
            data = stream.read(_MAX_FILE_BYTES + 1)
    except OSError as error:
        raise WorkstationKeyError(f"{what} {os.fspath(path)}: {error.strerror or error}") from None
    if len(data) > _MAX_FILE_BYTES:
        raise WorkstationKeyError(f"{what} {os.fspath(path)}: larger than any PEM key file")
    return data


@dataclass(frozen=True)
class WorkstationKey:
    """A download workstation's Ed25519 key and its certificate chain (DER, its own first).

    Implements :class:`taserlink.format.AcquisitionSigner`: give it to
    :func:`taserlink.format.build_image` (``signer``) or :func:`taserlink.device.download`
    (``workstation_key``) to write format-version-2 images.

    Raises (on construction):
        WorkstationKeyError: no certificate, a first certificate that cannot be read, or
            one that is not for this key.
    """

    key: Ed25519PrivateKey
    certificates: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.key, Ed25519PrivateKey):
            raise WorkstationKeyError(
                f"the workstation key is {type(self.key).__name__}, not Ed25519"
            )
        if not self.certificates:
            raise WorkstationKeyError("no workstation certificate is given with the key")
        certificate = self.certificate
        public = certificate.public_key()
        own = self.key.public_key()
        if not isinstance(public, Ed25519PublicKey) or public != own:
            raise WorkstationKeyError(
                f"the certificate {certificate.subject.rfc4514_string()} is not for this key"
            )

    @property
    def certificate(self) -> x509.Certificate:
        """The workstation's own certificate, parsed.

        Raises:
            WorkstationKeyError: it cannot be read.
        """
        try:
            with library_warnings():
                return x509.load_der_x509_certificate(self.certificates[0])
        except BAD_CERTIFICATE as error:
            raise WorkstationKeyError(
                f"the workstation certificate cannot be read: {error}"
            ) from None

    @property
    def name(self) -> str:
        """The certificate's subject common name: what the acquisition's ``workstation``
        field must say ("" when it has none)."""
        names = self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names:
            return ""
        value = names[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature over ``message`` (deterministic: RFC 8032)."""
        return self.key.sign(message)

    def problems(self, at: dt.datetime) -> list[str]:
        """Why a verifier would not accept this workstation's signature at ``at`` (UTC),
        as far as the certificate alone tells: not yet valid or expired, a CA certificate,
        no digitalSignature key usage, no id-kp-documentSigning extended key usage, no
        common name, a name too long for the acquisition's one-byte length.  Whether the
        chain leads to a trusted root is the verifier's question (its roots)."""
        certificate = self.certificate
        found: list[str] = []
        if at < certificate.not_valid_before_utc:
            found.append(
                f"the certificate is not valid until {certificate.not_valid_before_utc:%Y-%m-%d}"
            )
        if at > certificate.not_valid_after_utc:
            found.append(f"the certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}")
        extensions = certificate.extensions
        try:
            constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
            if constraints.ca:
                found.append("the certificate is a CA certificate")
        except x509.ExtensionNotFound:
            pass
        try:
            usage = extensions.get_extension_for_class(x509.KeyUsage).value
            digital = usage.digital_signature
        except x509.ExtensionNotFound:
            digital = False
        if not digital:
            found.append("the certificate is not for digital signatures (key usage)")
        try:
            extended = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            documents = WORKSTATION_USAGE in extended
        except x509.ExtensionNotFound:
            documents = False
        if not documents:
            found.append(
                "the certificate is not for document signing (extended key usage "
                f"id-kp-documentSigning, {WORKSTATION_USAGE.dotted_string})"
            )
        if not self.name:
            found.append("the certificate names no workstation (no common name)")
        elif len(self.name.encode("utf-8")) > 255:
            found.append("the certificate's common name is longer than the 255 bytes recorded")
        return found

    @classmethod
    def from_pem(
        cls, key_pem: bytes, certificates_pem: bytes | None = None, passphrase: bytes | None = None
    ) -> WorkstationKey:
        """The key in ``key_pem`` and the certificates in ``certificates_pem`` (default: the
        certificates in ``key_pem`` too), the workstation's own first.

        Raises:
            WorkstationKeyError: no private key, an encrypted key without the right
                passphrase, a key that is not Ed25519, no certificate, or a first
                certificate that is not for the key.
        """
        try:
            key = serialization.load_pem_private_key(key_pem, passphrase)
        except TypeError:
            raise WorkstationKeyError(
                f"the workstation key is encrypted: give its passphrase in ${PASSPHRASE_ENV}"
                if passphrase is None
                else "the workstation key is not encrypted, but a passphrase was given"
            ) from None
        except ValueError as error:
            reason = str(error).splitlines()[0] if str(error) else "not a PEM private key"
            raise WorkstationKeyError(f"the workstation key cannot be read: {reason}") from None
        except Exception as error:  # unsupported algorithms and the like
            raise WorkstationKeyError(f"the workstation key cannot be read: {error}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise WorkstationKeyError(
                f"the workstation key is {type(key).__name__.lstrip('_')}, not Ed25519"
            )
        text = key_pem if certificates_pem is None else certificates_pem
        try:
            with library_warnings():
                chain = x509.load_pem_x509_certificates(text)
        except ValueError:
            raise WorkstationKeyError(
                "no PEM certificate is given with the workstation key"
            ) from None
        der = serialization.Encoding.DER
        return cls(key, tuple(c.public_bytes(der) for c in chain))

    @classmethod
    def load(
        cls,
        key_path: str | os.PathLike[str],
        certificates_path: str | os.PathLike[str] | None = None,
        *,
        environment: Mapping[str, str] | None = None,
    ) -> WorkstationKey:
        """The key in the PEM file ``key_path`` and the certificates in
        ``certificates_path`` (default: ``key_path`` holds them too); an encrypted key is
        opened with the passphrase in :data:`PASSPHRASE_ENV` of ``environment`` (default
        ``os.environ``).

        Raises:
            WorkstationKeyError: a file cannot be read, or as :meth:`from_pem`.
        """
        key_pem = _read(key_path, "workstation key")
        certificates_pem = (
            None
            if certificates_path is None
            else _read(certificates_path, "workstation certificate")
        )
        env = os.environ if environment is None else environment
        passphrase = env.get(PASSPHRASE_ENV)
        try:
            return cls.from_pem(
                key_pem, certificates_pem, passphrase.encode() if passphrase else None
            )
        except WorkstationKeyError as error:
            where = Path(key_path) if certificates_path is None else Path(certificates_path)
            if "certificate" in str(error) and certificates_path is not None:
                raise WorkstationKeyError(f"{where}: {error}") from None
            raise WorkstationKeyError(f"{Path(key_path)}: {error}") from None
