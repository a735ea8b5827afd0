"""Trusted roots and the device's certificate chain (``taserlink.integrity.trust``).

Every chain here is built in the test: the TEST manufacturer PKI of
``taserlink.emulator.pki`` (its keys are derived from public labels), another PKI derived
from another label, and certificates made with ``cryptography``'s ``CertificateBuilder``
signed by the TEST keys where the PKI cannot make what a case needs (a device certificate
that is a CA, an intermediate that is not, a P-256 device key).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from taserlink.emulator import pki
from taserlink.emulator.pki import TestAuthority, derive_key, issue_device_credentials
from taserlink.errors import TaserlinkError, TrustStoreError
from taserlink.integrity.trust import ChainResult, TrustStore, check_chain

SERIAL = "DPV2FPABQN"
"""A valid device serial (the device of ``captures/incident-shift.tdi``)."""
OTHER_SERIAL = "D0000000AJ"
MANUFACTURED = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
AT = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
"""The download time the checks are made at (inside every TEST certificate's validity)."""
DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM


@pytest.fixture(scope="module")
def authority() -> TestAuthority:
    return pki.test_authority()


@pytest.fixture(scope="module")
def trust(authority: TestAuthority) -> TrustStore:
    return TrustStore((authority.root,))


def _kinds(result: ChainResult) -> list[str]:
    return [kind for kind, _, _ in result.problems]


def _messages(result: ChainResult) -> str:
    return " | ".join(message for _, message, _ in result.problems)


def _usage(*, signature: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer: x509.Name,
    issuer_key: Ed25519PrivateKey,
    *,
    ca: bool | None,
    usage: x509.KeyUsage | None,
    serial_number: int = 4242,
) -> bytes:
    """A certificate (DER) valid 2025-01-01 to 2040-01-01 signed by ``issuer_key``.

    ``ca`` None leaves basic constraints out, ``usage`` None leaves key usage out.
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial_number)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=None), critical=True
        )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(issuer_key, None).public_bytes(DER)


def _device_name(serial: str = SERIAL, common_name: str | None = None) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or serial),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial),
        ]
    )


def _device_certificate(
    authority: TestAuthority,
    *,
    ca: bool | None = False,
    usage: x509.KeyUsage | None = None,
    public_key: CertificatePublicKeyTypes | None = None,
    name: x509.Name | None = None,
) -> bytes:
    """A device certificate issued by the TEST intermediate (digitalSignature by default)."""
    return _certificate(
        name or _device_name(),
        public_key or derive_key("test_trust/device").public_key(),
        authority.intermediate.subject,
        authority.intermediate_key,
        ca=ca,
        usage=usage or _usage(signature=True, cert_sign=False),
    )


# -- the chain ----------------------------------------------------------------------------


def test_the_test_chain_passes_with_the_test_root(
    authority: TestAuthority, trust: TrustStore
) -> None:
    credentials = issue_device_credentials(SERIAL, MANUFACTURED)
    result = check_chain(credentials.certificates, SERIAL, AT, trust)
    assert result.problems == ()
    assert result.key is not None
    assert result.key.public_bytes_raw() == credentials.key.public_key().public_bytes_raw()


def test_a_root_is_trusted_only_when_given(authority: TestAuthority) -> None:
    credentials = issue_device_credentials(SERIAL, MANUFACTURED)
    result = check_chain(credentials.certificates, SERIAL, AT, TrustStore(()))
    assert _kinds(result) == ["untrusted_root"]
    assert result.key is not None  # signatures can still be checked


def test_an_unrelated_root_gives_untrusted_root() -> None:
    # Another label derives another root with the *same* subject name: only its key differs,
    # so a chain check that went by names alone would pass.
    other = pki.test_authority("test_trust: an unrelated manufacturer")
    assert other.root.subject == pki.test_authority().root.subject
    credentials = issue_device_credentials(SERIAL, MANUFACTURED)
    result = check_chain(credentials.certificates, SERIAL, AT, TrustStore((other.root,)))
    assert _kinds(result) == ["untrusted_root"]
    assert "not a trusted root" in _messages(result)
    assert result.key is not None


def test_any_of_several_roots_may_anchor_the_chain(authority: TestAuthority) -> None:
    other = pki.test_authority("test_trust: an unrelated manufacturer")
    credentials = issue_device_credentials(SERIAL, MANUFACTURED)
    store = TrustStore((other.root, authority.root))
    assert check_chain(credentials.certificates, SERIAL, AT, store).problems == ()


def test_an_intermediate_signed_by_another_key_is_named(trust: TrustStore) -> None:
    # The device certificate is the TEST CA's, the intermediate beside it another PKI's
    # (same subject name, other key): the device certificate is not signed by it.
    device = issue_device_credentials(SERIAL, MANUFACTURED).certificates[0]
    impostor = pki.test_authority("test_trust: an impostor CA").intermediate.public_bytes(DER)
    result = check_chain((device, impostor), SERIAL, AT, trust)
    assert sorted(_kinds(result)) == ["certificate", "untrusted_root"]
    assert "is not signed by" in _messages(result)


def test_an_expired_device_certificate(trust: TrustStore) -> None:
    manufactured = dt.datetime(2010, 1, 1, tzinfo=dt.UTC)
    credentials = issue_device_credentials(SERIAL, manufactured, valid_years=5)
    result = check_chain(credentials.certificates, SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    message = _messages(result)
    assert "expired on 2015-01-01" in message
    assert "download at 2026-03-02T12:00:00Z" in message
    # The same certificate was good at a download in its lifetime … except that the TEST
    # CA it chains to was not yet valid in 2012: every certificate on the path is checked.
    early = check_chain(
        credentials.certificates, SERIAL, dt.datetime(2012, 1, 1, tzinfo=dt.UTC), trust
    )
    assert _kinds(early) == ["certificate", "certificate"]
    assert "expired" not in _messages(early)
    assert _messages(early).count("is not valid until 2025-01-01") == 2


def test_a_device_certificate_not_yet_valid(trust: TrustStore) -> None:
    manufactured = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
    credentials = issue_device_credentials(SERIAL, manufactured)
    result = check_chain(credentials.certificates, SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert "is not valid until 2030-06-01" in _messages(result)
    later = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    assert check_chain(credentials.certificates, SERIAL, later, trust).problems == ()


def test_validity_is_checked_for_every_certificate_on_the_path(trust: TrustStore) -> None:
    credentials = issue_device_credentials(SERIAL, MANUFACTURED)
    result = check_chain(
        credentials.certificates, SERIAL, dt.datetime(2060, 1, 1, tzinfo=dt.UTC), trust
    )
    # Device (to 2040), intermediate and root (both to 2050): three expired certificates.
    assert _kinds(result) == ["certificate"] * 3
    assert _messages(result).count("expired on") == 3


def test_a_certificate_for_another_serial(trust: TrustStore) -> None:
    credentials = issue_device_credentials(OTHER_SERIAL, MANUFACTURED)
    result = check_chain(credentials.certificates, SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert OTHER_SERIAL in _messages(result) and SERIAL in _messages(result)
    assert result.key is not None


def test_both_common_name_and_serial_number_must_name_the_device(
    authority: TestAuthority, trust: TrustStore
) -> None:
    device = _device_certificate(authority, name=_device_name(SERIAL, common_name=OTHER_SERIAL))
    intermediate = authority.intermediate.public_bytes(DER)
    result = check_chain((device, intermediate), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]


def test_a_common_name_for_another_device_without_serial_number(
    authority: TestAuthority, trust: TrustStore
) -> None:
    intermediate = authority.intermediate.public_bytes(DER)
    wrong = _device_certificate(
        authority, name=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, OTHER_SERIAL)])
    )
    result = check_chain((wrong, intermediate), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert OTHER_SERIAL in _messages(result)


def test_a_device_certificate_that_is_a_ca(authority: TestAuthority, trust: TrustStore) -> None:
    device = _device_certificate(authority, ca=True)
    intermediate = authority.intermediate.public_bytes(DER)
    result = check_chain((device, intermediate), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert "is a CA certificate" in _messages(result)


def test_a_device_certificate_without_digital_signature(
    authority: TestAuthority, trust: TrustStore
) -> None:
    intermediate = authority.intermediate.public_bytes(DER)
    for usage in (_usage(signature=False, cert_sign=False), None):
        device = _certificate(
            _device_name(),
            derive_key("test_trust/device").public_key(),
            authority.intermediate.subject,
            authority.intermediate_key,
            ca=False,
            usage=usage,
        )
        result = check_chain((device, intermediate), SERIAL, AT, trust)
        assert _kinds(result) == ["certificate"], usage
        assert "not for digital signatures" in _messages(result)


def test_the_hand_built_device_certificate_passes(
    authority: TestAuthority, trust: TrustStore
) -> None:
    # The control for the cases above: the builder itself makes a good certificate.
    device = _device_certificate(authority)
    result = check_chain((device, authority.intermediate.public_bytes(DER)), SERIAL, AT, trust)
    assert result.problems == ()


def _bad_intermediate(authority: TestAuthority, *, ca: bool | None, cert_sign: bool) -> bytes:
    """An intermediate with the TEST intermediate's name and key, signed by the TEST root."""
    return _certificate(
        authority.intermediate.subject,
        authority.intermediate_key.public_key(),
        authority.root.subject,
        authority.root_key,
        ca=ca,
        usage=_usage(signature=False, cert_sign=cert_sign),
    )


@pytest.mark.parametrize("ca", [False, None], ids=["ca-false", "no-basic-constraints"])
def test_an_intermediate_that_is_not_a_ca(
    authority: TestAuthority, trust: TrustStore, ca: bool | None
) -> None:
    device = issue_device_credentials(SERIAL, MANUFACTURED).certificates[0]
    intermediate = _bad_intermediate(authority, ca=ca, cert_sign=True)
    result = check_chain((device, intermediate), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert "signs certificates but is not a CA" in _messages(result)


def test_an_intermediate_without_key_cert_sign(authority: TestAuthority, trust: TrustStore) -> None:
    device = issue_device_credentials(SERIAL, MANUFACTURED).certificates[0]
    intermediate = _bad_intermediate(authority, ca=True, cert_sign=False)
    result = check_chain((device, intermediate), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert "not allowed to sign certificates" in _messages(result)


def test_a_missing_intermediate(trust: TrustStore) -> None:
    device = issue_device_credentials(SERIAL, MANUFACTURED).certificates[0]
    result = check_chain((device,), SERIAL, AT, trust)
    assert _kinds(result) == ["untrusted_root"]
    assert "TEST device issuing CA" in _messages(result)  # where the chain stopped
    assert result.key is not None


def test_a_device_certificate_issued_by_the_root_itself(
    authority: TestAuthority, trust: TrustStore
) -> None:
    # A chain may be short: a root that issues device certificates directly is a valid path.
    device = _certificate(
        _device_name(),
        derive_key("test_trust/device").public_key(),
        authority.root.subject,
        authority.root_key,
        ca=False,
        usage=_usage(signature=True, cert_sign=False),
    )
    assert check_chain((device,), SERIAL, AT, trust).problems == ()


def test_garbage_der(trust: TrustStore) -> None:
    result = check_chain((b"\x30\x03\x02\x01\x01",), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert "certificate 1 is not" in _messages(result)
    assert result.key is None


def test_a_garbage_intermediate(trust: TrustStore) -> None:
    device = issue_device_credentials(SERIAL, MANUFACTURED).certificates[0]
    result = check_chain((device, b"not a certificate"), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert "certificate 2 is not" in _messages(result)
    assert result.key is not None  # the device certificate itself was read


def test_an_unreadable_device_certificate_gives_no_key(
    authority: TestAuthority, trust: TrustStore
) -> None:
    intermediate = authority.intermediate.public_bytes(DER)
    result = check_chain((b"garbage", intermediate), SERIAL, AT, trust)
    assert "certificate" in _kinds(result)
    assert result.key is None


def test_no_certificates(trust: TrustStore) -> None:
    result = check_chain((), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]
    assert "no device certificate" in _messages(result)
    assert result.key is None


def test_a_p256_device_key_is_a_finding_and_gives_no_key(
    authority: TestAuthority, trust: TrustStore
) -> None:
    p256 = ec.derive_private_key(0x7A5E, ec.SECP256R1())
    device = _device_certificate(authority, public_key=p256.public_key())
    result = check_chain((device, authority.intermediate.public_bytes(DER)), SERIAL, AT, trust)
    assert _kinds(result) == ["certificate"]  # the chain itself is fine
    assert "not Ed25519" in _messages(result)
    assert result.key is None


# -- the trust store ----------------------------------------------------------------------


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_trust_store_from_a_directory(tmp_path: Path, authority: TestAuthority) -> None:
    other = pki.test_authority("test_trust: an unrelated manufacturer")
    _write(tmp_path / "a.pem", authority.root_pem())
    _write(tmp_path / "b.DER", other.root.public_bytes(DER))  # suffixes in any case
    _write(tmp_path / "notes.txt", b"not read: not a certificate suffix")
    store = TrustStore.from_paths([tmp_path])
    assert store.roots == (authority.root, other.root)  # sorted by file name


def test_trust_store_from_a_pem_bundle(tmp_path: Path, authority: TestAuthority) -> None:
    other = pki.test_authority("test_trust: an unrelated manufacturer")
    bundle = _write(tmp_path / "roots.crt", authority.root_pem() + other.root.public_bytes(PEM))
    assert TrustStore.from_paths([bundle]).roots == (authority.root, other.root)
    assert TrustStore.from_pem(bundle.read_bytes()).roots == (authority.root, other.root)


def test_trust_store_from_a_der_file_and_a_string_path(
    tmp_path: Path, authority: TestAuthority
) -> None:
    der = _write(tmp_path / "root.cer", authority.root.public_bytes(DER))
    assert TrustStore.from_paths([str(der)]).roots == (authority.root,)


def test_trust_store_from_several_paths(tmp_path: Path, authority: TestAuthority) -> None:
    other = pki.test_authority("test_trust: an unrelated manufacturer")
    first = _write(tmp_path / "one.pem", authority.root_pem())
    folder = tmp_path / "more"
    folder.mkdir()
    _write(folder / "two.pem", other.root.public_bytes(PEM))
    assert TrustStore.from_paths([first, folder]).roots == (authority.root, other.root)


def test_the_bundled_test_root_is_the_pki_root() -> None:
    # The TEST manufacturer root, then the TEST force CA (which certifies workstations).
    bundled = Path(__file__).resolve().parent.parent / "captures" / "test-root.pem"
    assert TrustStore.from_paths([bundled]).roots == (
        pki.test_authority().root,
        pki.test_force_authority().root,
    )


def test_trust_store_missing_path(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match="no such file or directory"):
        TrustStore.from_paths([tmp_path / "absent.pem"])


@pytest.mark.parametrize(
    "content",
    [
        b"hello, not a certificate\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"",
    ],
    ids=["text", "bad-pem", "empty"],
)
def test_trust_store_non_certificate_file(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path / "root.pem", content)
    with pytest.raises(TrustStoreError, match="not a certificate") as raised:
        TrustStore.from_paths([path])
    assert str(path) in str(raised.value)
    assert isinstance(raised.value, TaserlinkError)


def test_a_non_certificate_file_in_a_directory_is_an_error(
    tmp_path: Path, authority: TestAuthority
) -> None:
    _write(tmp_path / "a.pem", authority.root_pem())
    _write(tmp_path / "b.pem", b"garbage")
    with pytest.raises(TrustStoreError, match=r"b\.pem"):
        TrustStore.from_paths([tmp_path])


def test_trust_store_with_no_root_at_all(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match="no trusted root"):
        TrustStore.from_paths([tmp_path])  # an empty directory
    with pytest.raises(TrustStoreError, match="no trusted root"):
        TrustStore.from_paths([])


def test_trust_store_from_pem_rejects_non_pem() -> None:
    with pytest.raises(TrustStoreError):
        TrustStore.from_pem(b"not pem")
