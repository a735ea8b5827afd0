"""TEST MATERIAL — a test manufacturer PKI for simulated devices.

Nothing here is a real manufacturer's key.  Every key is derived from a public label, so
anybody can recompute it: an image signed by these keys proves nothing about a real device.
The certificates say so in their names ("TEST ... NOT FOR EVIDENCE").  Verifiers trust this
root only when told to (the emulator's and the tests' configuration), never by default.

The hierarchy is the usual one for device identity:

    TEST manufacturer root (CA)  →  TEST device issuing CA (intermediate)  →  device
                                                                             (CN = serial)

and, for download workstations that sign their acquisitions (format version 2), a force's:

    TEST force CA (root)  →  workstation (CN = its name, extended key usage
                                          id-kp-documentSigning)

``captures/test-root.pem`` holds both TEST roots (:func:`test_roots_pem`): a verifier given
it trusts the simulated devices and the simulated force's workstations.

All keys are Ed25519, so certificates and signatures are deterministic: the same label
gives byte-identical certificates on every machine, which keeps the bundled captures
reproducible.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from taserlink.integrity.trust import WORKSTATION_USAGE
from taserlink.integrity.workstation import WorkstationKey

__all__ = [
    "TEST_ROOT_LABEL",
    "TestAuthority",
    "DeviceCredentials",
    "derive_key",
    "test_authority",
    "issue_device_credentials",
    "TEST_FORCE_LABEL",
    "TEST_WORKSTATION",
    "TestForceAuthority",
    "test_force_authority",
    "issue_workstation_key",
    "test_workstation_key",
    "test_roots_pem",
]

TEST_ROOT_LABEL = "taserlink TEST manufacturer root 2026"
_ORGANISATION = "taserlink TEST manufacturer - NOT FOR EVIDENCE"
_ROOT_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_ROOT_UNTIL = dt.datetime(2050, 1, 1, tzinfo=dt.UTC)
DEVICE_CERT_YEARS = 15
TEST_FORCE_LABEL = "taserlink TEST force CA 2026"
_FORCE_ORGANISATION = "taserlink TEST force - NOT FOR EVIDENCE"
TEST_WORKSTATION = "DOCK-SIM-01"
"""The simulated store room's download workstation (the emulator's default ``workstation``)."""
WORKSTATION_ISSUED = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
WORKSTATION_CERT_YEARS = 10


def derive_key(label: str) -> Ed25519PrivateKey:
    """An Ed25519 key derived from a public label (TEST ONLY: anyone can derive it)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def _serial_number(label: str) -> int:
    return int.from_bytes(hashlib.sha256(b"serial:" + label.encode()).digest()[:16], "big") >> 1


def _name(
    common_name: str, serial: str | None = None, organisation: str = _ORGANISATION
) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attributes)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class TestAuthority:
    """TEST ONLY: the test manufacturer's root and device-issuing intermediate."""

    __test__ = False  # not a pytest test class

    root_key: Ed25519PrivateKey
    root: x509.Certificate
    intermediate_key: Ed25519PrivateKey
    intermediate: x509.Certificate

    def root_pem(self) -> bytes:
        """The root certificate in PEM, for a verifier's trusted-roots directory."""
        return self.root.public_bytes(serialization.Encoding.PEM)


def _ca_certificate(
    label: str,
    subject: x509.Name,
    key: Ed25519PrivateKey,
    issuer: x509.Name,
    issuer_key: Ed25519PrivateKey,
    path_length: int,
) -> x509.Certificate:
    issuer_public = issuer_key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(_serial_number(label))
        .not_valid_before(_ROOT_FROM)
        .not_valid_after(_ROOT_UNTIL)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False
        )
        .sign(issuer_key, None)
    )


@cache
def test_authority(label: str = TEST_ROOT_LABEL) -> TestAuthority:
    """TEST ONLY: the test manufacturer PKI for ``label`` (deterministic)."""
    root_key = derive_key(label + "/root")
    root_name = _name("TEST manufacturer root - NOT FOR EVIDENCE")
    root = _ca_certificate(label + "/root", root_name, root_key, root_name, root_key, 1)
    intermediate_key = derive_key(label + "/device-ca")
    intermediate = _ca_certificate(
        label + "/device-ca",
        _name("TEST device issuing CA - NOT FOR EVIDENCE"),
        intermediate_key,
        root_name,
        root_key,
        0,
    )
    return TestAuthority(root_key, root, intermediate_key, intermediate)


@dataclass(frozen=True)
class DeviceCredentials:
    """A device's key and its certificate chain as the image carries it (device first)."""

    key: Ed25519PrivateKey
    certificates: tuple[bytes, ...]


def issue_device_credentials(
    device_serial: str,
    manufactured: dt.datetime,
    *,
    authority: TestAuthority | None = None,
    key_label: str | None = None,
    valid_years: int = DEVICE_CERT_YEARS,
) -> DeviceCredentials:
    """TEST ONLY: a device key and a certificate for ``device_serial`` issued by the test CA.

    The certificate's subject carries the serial as both common name and ``serialNumber``;
    its key usage is digital signature only; it is valid from ``manufactured`` for
    ``valid_years`` years.  ``key_label`` overrides the key derivation (to make a second,
    "foreign" key for the same serial in tamper tests).
    """
    authority = authority or test_authority()
    label = key_label or f"{TEST_ROOT_LABEL}/device/{device_serial}"
    key = derive_key(label)
    public = key.public_key()
    until = manufactured.replace(year=manufactured.year + valid_years)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(device_serial, device_serial))
        .issuer_name(authority.intermediate.subject)
        .public_key(public)
        .serial_number(_serial_number(label))
        .not_valid_before(manufactured)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                authority.intermediate_key.public_key()
            ),
            critical=False,
        )
        .sign(authority.intermediate_key, None)
    )
    der = serialization.Encoding.DER
    return DeviceCredentials(
        key, (certificate.public_bytes(der), authority.intermediate.public_bytes(der))
    )


# -- the force's PKI: download workstations ---------------------------------------------------


@dataclass(frozen=True)
class TestForceAuthority:
    """TEST ONLY: a police force's CA that certifies its download workstations."""

    __test__ = False  # not a pytest test class

    root_key: Ed25519PrivateKey
    root: x509.Certificate

    def root_pem(self) -> bytes:
        """The force CA's certificate in PEM, for a verifier's trusted roots."""
        return self.root.public_bytes(serialization.Encoding.PEM)


@cache
def test_force_authority(label: str = TEST_FORCE_LABEL) -> TestForceAuthority:
    """TEST ONLY: the test force CA for ``label`` (deterministic): a self-signed root that
    issues workstation certificates directly."""
    key = derive_key(label + "/root")
    name = _name("TEST force CA - NOT FOR EVIDENCE", organisation=_FORCE_ORGANISATION)
    return TestForceAuthority(key, _ca_certificate(label + "/root", name, key, name, key, 0))


def test_roots_pem() -> bytes:
    """Both TEST roots in PEM, the manufacturer's then the force's: ``captures/test-root.pem``."""
    return test_authority().root_pem() + test_force_authority().root_pem()


def issue_workstation_key(
    workstation: str = TEST_WORKSTATION,
    issued: dt.datetime = WORKSTATION_ISSUED,
    *,
    authority: TestForceAuthority | None = None,
    key_label: str | None = None,
    valid_years: int = WORKSTATION_CERT_YEARS,
    digital_signature: bool = True,
    document_signing: bool = True,
) -> WorkstationKey:
    """TEST ONLY: a download workstation's key and certificate, issued by the test force CA.

    The certificate names ``workstation`` as its common name, is valid from ``issued`` for
    ``valid_years`` years, and has key usage digitalSignature and extended key usage
    id-kp-documentSigning — unless ``digital_signature`` or ``document_signing`` is false
    (to make certificates a verifier must refuse).  ``key_label`` overrides the key
    derivation (a second key for the same name, in tamper tests).
    """
    authority = authority or test_force_authority()
    label = key_label or f"{TEST_FORCE_LABEL}/workstation/{workstation}"
    key = derive_key(label)
    public = key.public_key()
    until = issued.replace(year=issued.year + valid_years)
    usage = x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=not digital_signature,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    purposes = (
        [WORKSTATION_USAGE] if document_signing else [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(workstation, organisation=_FORCE_ORGANISATION))
        .issuer_name(authority.root.subject)
        .public_key(public)
        .serial_number(_serial_number(label))
        .not_valid_before(issued)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.root_key.public_key()),
            critical=False,
        )
        .sign(authority.root_key, None)
    )
    return WorkstationKey(key, (certificate.public_bytes(serialization.Encoding.DER),))


@cache
def test_workstation_key() -> WorkstationKey:
    """TEST ONLY: the simulated store room's workstation key (:data:`TEST_WORKSTATION`)."""
    return issue_workstation_key()
