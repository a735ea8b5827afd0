"""Format version 2: the download workstation signs the acquisition.

The key and its certificate (``WorkstationKey``: PEM files, passphrases, refusals), images
built with a signer (deterministic, verified clean), every way the workstation's part can
be wrong — a re-timed field, a signature cut short, a wrong key type, a certificate not for
signing or not for documents, expired, for another workstation, from an untrusted CA, a
device's certificate, garbage — each a finding or a library error, never a traceback; and
``taserlink download --workstation-key`` on the emulated dock (the pyusb path).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.cli import dock, main
from taserlink.emulator import pki
from taserlink.errors import FormatError, TruncatedError, WorkstationKeyError
from taserlink.format import Image, build_image, read_image
from taserlink.format import layout as L
from taserlink.format.image import acquisition_signed_fields
from taserlink.integrity import Kind, Severity, TrustStore, WorkstationKey, verify_image
from taserlink.integrity.workstation import PASSPHRASE_ENV
from tests.conftest import CAPTURES

ROOTS = CAPTURES / "test-root.pem"
KEY_PEM = CAPTURES / "test-workstation.pem"
SIGNED = CAPTURES / "signed-download.tdi"
UNSIGNED = CAPTURES / "incident-shift.tdi"
DOWNLOAD_TIME = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


@cache
def trust() -> TrustStore:
    return TrustStore.from_paths([ROOTS])


@cache
def unsigned() -> Image:
    return read_image(UNSIGNED)


def build(image: Image, **changes: Any) -> bytes:
    """``image``'s sections with ``changes`` (``signer``, ``acquisition`` …)."""
    parts: dict[str, Any] = {
        "identity": image.identity,
        "certificates": image.certificates,
        "base": image.base,
        "records": image.records,
        "seals": image.seals,
        "statement": image.statement,
        "acquisition": image.acquisition,
    }
    parts.update(changes)
    return build_image(**parts)


def kinds(data: bytes) -> list[tuple[Kind, Severity]]:
    return [(f.kind, f.severity) for f in verify_image(data, trust()).findings]


def messages(data: bytes) -> list[str]:
    return [f.message for f in verify_image(data, trust()).findings]


# -- the key ---------------------------------------------------------------------------------


def test_the_bundled_test_key_holds_key_and_certificate_in_one_pem() -> None:
    key = WorkstationKey.load(KEY_PEM)
    assert key.name == pki.TEST_WORKSTATION
    assert key.certificates == pki.test_workstation_key().certificates
    assert key.problems(DOWNLOAD_TIME) == []
    assert key.sign(b"x") == pki.test_workstation_key().sign(b"x")  # deterministic


def _pem_parts(key: WorkstationKey, password: bytes | None = None) -> tuple[bytes, bytes]:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    key_pem = key.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return key_pem, key.certificate.public_bytes(serialization.Encoding.PEM)


def test_a_key_and_its_certificate_in_two_files(tmp_path: Path) -> None:
    key_pem, cert_pem = _pem_parts(pki.test_workstation_key())
    (tmp_path / "k.pem").write_bytes(key_pem)
    (tmp_path / "c.pem").write_bytes(cert_pem)
    loaded = WorkstationKey.load(tmp_path / "k.pem", tmp_path / "c.pem")
    assert loaded.certificates == pki.test_workstation_key().certificates
    with pytest.raises(WorkstationKeyError, match="no PEM certificate"):
        WorkstationKey.load(tmp_path / "k.pem")


def test_an_encrypted_key_needs_its_passphrase(tmp_path: Path) -> None:
    key_pem, cert_pem = _pem_parts(pki.test_workstation_key(), b"correct horse")
    path = tmp_path / "k.pem"
    path.write_bytes(key_pem + cert_pem)
    with pytest.raises(WorkstationKeyError, match=PASSPHRASE_ENV):
        WorkstationKey.load(path, environment={})
    with pytest.raises(WorkstationKeyError, match="cannot be read"):
        WorkstationKey.load(path, environment={PASSPHRASE_ENV: "wrong"})
    loaded = WorkstationKey.load(path, environment={PASSPHRASE_ENV: "correct horse"})
    assert loaded.name == pki.TEST_WORKSTATION


def test_keys_that_cannot_sign_are_refused(tmp_path: Path) -> None:
    ec_key = ec.derive_private_key(12345, ec.SECP256R1())
    ec_pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _, cert_pem = _pem_parts(pki.test_workstation_key())
    other_pem, _ = _pem_parts(pki.issue_workstation_key(key_label="another key"))
    cases = {
        "ec.pem": (ec_pem + cert_pem, "not Ed25519"),
        "mismatch.pem": (other_pem + cert_pem, "not for this key"),
        "text.pem": (b"hello\n", "cannot be read"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(WorkstationKeyError, match=reason):
            WorkstationKey.load(tmp_path / name)
    with pytest.raises(WorkstationKeyError, match="No such file"):
        WorkstationKey.load(tmp_path / "absent.pem")


def test_problems_say_why_a_certificate_would_not_be_accepted() -> None:
    expired = pki.issue_workstation_key(
        issued=dt.datetime(2024, 3, 1, tzinfo=dt.UTC), valid_years=2, key_label="expired"
    )
    assert expired.problems(DOWNLOAD_TIME) == ["the certificate expired on 2026-03-01"]
    no_signing = pki.issue_workstation_key(digital_signature=False, key_label="no signing")
    assert no_signing.problems(DOWNLOAD_TIME) == [
        "the certificate is not for digital signatures (key usage)"
    ]
    no_documents = pki.issue_workstation_key(document_signing=False, key_label="no documents")
    assert [p.split(" (")[0] for p in no_documents.problems(DOWNLOAD_TIME)] == [
        "the certificate is not for document signing"
    ]


# -- building and verifying --------------------------------------------------------------


def test_a_signed_image_is_version_2_deterministic_and_verifies_clean() -> None:
    image = unsigned()
    data = build(image, signer=pki.test_workstation_key())
    assert data == build(image, signer=pki.test_workstation_key())
    signed = read_image(data)
    assert signed.version == L.SIGNED_VERSION
    cut = image.spans["acquisition"].offset
    assert signed.spans["acquisition"].offset == cut
    # Sections 1-7 are the same but for the header's version and acquisition length.
    assert signed.data[10:36] == image.data[10:36]
    assert signed.data[40:cut] == image.data[40:cut]
    assert verify_image(signed, trust()).findings == ()
    signing = signed.acquisition.workstation_signature
    assert signing is not None
    message = L.signed_message(
        "acquisition", image.identity.serial, acquisition_signed_fields(signed)
    )
    pki.test_workstation_key().key.public_key().verify(signing.signature, message)
    # Dropping the signature gives back the version-1 capture byte for byte.
    plain = dataclasses.replace(signed.acquisition, workstation_signature=None)
    assert build(signed, acquisition=plain) == image.data


def test_the_bundled_signed_capture_verifies_clean_and_without_its_root_untrusted() -> None:
    assert read_image(SIGNED).version == L.SIGNED_VERSION
    assert verify_image(SIGNED, trust()).findings == ()
    manufacturer = TrustStore.from_pem(pki.test_authority().root_pem())
    report = verify_image(SIGNED, manufacturer)
    assert [(f.kind, f.message.split(" ends")[0]) for f in report.findings] == [
        (Kind.UNTRUSTED_ROOT, "the workstation's chain")
    ]


@settings(max_examples=40)
@given(
    shift=st.integers(-(10**9), 10**9).filter(bool),
    field=st.sampled_from(["host_utc_start_ms", "host_utc_end_ms", "statement_utc_ms"]),
    operator=st.text(max_size=20),
)
def test_any_retimed_or_relabelled_signed_acquisition_is_a_signature_error(
    shift: int, field: str, operator: str
) -> None:
    signed = read_image(SIGNED)
    old = signed.acquisition
    changed = dataclasses.replace(old, **{field: getattr(old, field) + shift})
    if operator != old.operator:
        changed = dataclasses.replace(changed, operator=operator)
    data = build(signed, acquisition=changed)  # the digests recomputed, the signature kept
    found = verify_image(data, trust()).findings
    assert [(f.kind, f.severity) for f in found] == [(Kind.SIGNATURE, Severity.ERROR)]
    assert "does not verify" in found[0].message


@settings(max_examples=25)
@given(operator=st.text(max_size=40), workstation_shift=st.integers(0, 10**6))
def test_any_acquisition_signed_by_the_key_verifies(operator: str, workstation_shift: int) -> None:
    image = unsigned()
    acquisition = dataclasses.replace(
        image.acquisition,
        operator=operator,
        host_utc_end_ms=image.acquisition.host_utc_end_ms + workstation_shift,
    )
    data = build(image, acquisition=acquisition, signer=pki.test_workstation_key())
    assert verify_image(data, trust()).findings == ()


# -- bad input: findings or library errors, never a traceback --------------------------------


def _with_signing(**changes: Any) -> bytes:
    signed = read_image(SIGNED)
    signing = signed.acquisition.workstation_signature
    assert signing is not None
    acquisition = dataclasses.replace(
        signed.acquisition, workstation_signature=dataclasses.replace(signing, **changes)
    )
    return build(signed, acquisition=acquisition)


def test_a_signature_cut_short_does_not_read() -> None:
    data = SIGNED.read_bytes()
    image = read_image(data)
    # The file cut inside the signature: a truncation finding.
    cut = data[: image.spans["acquisition"].end - L.DIGEST_SIZE - 10]
    report = verify_image(cut, trust())
    assert [(f.kind, f.severity) for f in report.findings] == [(Kind.TRUNCATED, Severity.ERROR)]
    # The acquisition's length one byte short, everything after it consistent: unreadable.
    short = bytearray(data[:-1])
    short[36:40] = (image.spans["acquisition"].length - 1).to_bytes(4, "little")
    with pytest.raises(FormatError, match="runs past the end") as error:
        read_image(bytes(short))
    assert not isinstance(error.value, TruncatedError)


def test_an_unknown_signature_algorithm() -> None:
    assert messages(_with_signing(algorithm=2)) == [
        "unknown workstation signature algorithm 2",
        "the workstation's signature over the acquisition cannot be checked: no usable "
        "workstation key",
    ]


def _certificate(
    public: Any, *, name: str = pki.TEST_WORKSTATION, usage: bool = True, documents: bool = True
) -> bytes:
    authority = pki.test_force_authority()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
        .issuer_name(authority.root.subject)
        .public_key(public)
        .serial_number(7)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(usage, not usage, False, False, False, False, False, False, False),
            critical=True,
        )
    )
    if documents:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]), critical=False
        )
    return builder.sign(authority.root_key, None).public_bytes(serialization.Encoding.DER)


def test_a_workstation_certificate_with_a_key_that_is_not_ed25519() -> None:
    ec_key = ec.derive_private_key(4242, ec.SECP256R1())
    data = _with_signing(certificates=(_certificate(ec_key.public_key()),))
    assert messages(data) == [
        "the workstation certificate's key is not Ed25519",
        "the workstation's signature over the acquisition cannot be checked: no usable "
        "workstation key",
    ]


@pytest.mark.parametrize(
    ("usage", "documents", "expected"),
    [
        (False, True, "the workstation certificate is not for digital signatures"),
        (True, False, "the workstation certificate is not for document signing"),
    ],
)
def test_a_workstation_certificate_not_for_signing_acquisitions(
    usage: bool, documents: bool, expected: str
) -> None:
    key = pki.test_workstation_key()
    certificate = _certificate(key.key.public_key(), usage=usage, documents=documents)
    image = read_image(SIGNED)
    data = build(image, signer=dataclasses.replace(key, certificates=(certificate,)))
    report = verify_image(data, trust())
    assert [(f.kind, f.message.split(" (")[0]) for f in report.findings] == [
        (Kind.CERTIFICATE, expected)
    ]
    assert report.findings[0].offset == image.spans["acquisition"].offset + 130
    assert not report.ok


def test_an_expired_workstation_certificate() -> None:
    expired = pki.issue_workstation_key(
        issued=dt.datetime(2024, 3, 1, tzinfo=dt.UTC), valid_years=2, key_label="expired"
    )
    data = build(read_image(SIGNED), signer=expired)
    [finding] = verify_image(data, trust()).findings
    assert finding.kind is Kind.CERTIFICATE and finding.severity is Severity.ERROR
    assert "expired on 2026-03-01 (acquisition signed at 2026-03-02T" in finding.message


def test_a_certificate_for_another_workstation() -> None:
    image = read_image(SIGNED)
    acquisition = dataclasses.replace(image.acquisition, workstation="DOCK-ELSEWHERE")
    data = build(image, acquisition=acquisition, signer=pki.test_workstation_key())
    assert messages(data) == [
        "the workstation certificate names DOCK-SIM-01, the acquisition says workstation "
        "'DOCK-ELSEWHERE'"
    ]


def test_a_device_key_cannot_sign_an_acquisition() -> None:
    # The device's own key and certificate chain (trusted, for digital signatures) signing
    # as a workstation, the acquisition naming the device: the extended key usage refuses.
    image = unsigned()
    credentials = pki.issue_device_credentials(
        image.identity.serial, dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    )
    signer = WorkstationKey(credentials.key, credentials.certificates)
    acquisition = dataclasses.replace(image.acquisition, workstation=image.identity.serial)
    found = verify_image(build(image, acquisition=acquisition, signer=signer), trust()).findings
    assert [(f.kind, f.message.split(" (")[0]) for f in found] == [
        (Kind.CERTIFICATE, "the workstation certificate is not for document signing")
    ]


def test_no_or_garbage_workstation_certificates() -> None:
    assert messages(_with_signing(certificates=())) == [
        "the acquisition holds no workstation certificate",
        "the workstation's signature over the acquisition cannot be checked: no usable "
        "workstation key",
    ]
    found = kinds(_with_signing(certificates=(b"\x30\x03\x02\x01\x00",)))
    assert found == [(Kind.CERTIFICATE, Severity.ERROR), (Kind.SIGNATURE, Severity.ERROR)]
    assert messages(_with_signing(certificates=(b"garbage",)))[0] == (
        "workstation certificate 1 is not a valid certificate"
    )


# -- taserlink download --workstation-key (the pyusb path) -----------------------------------


@pytest.fixture
def _fresh_dock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (dock.FAULTS_ENV, "TASERLINK_ROOTS", "TASERLINK_OPERATOR", PASSPHRASE_ENV):
        monkeypatch.delenv(name, raising=False)
    dock.reset_emulated()
    yield
    dock.reset_emulated()


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.usefixtures("_fresh_dock")
def test_download_with_a_workstation_key_writes_signed_images(tmp_path: Path) -> None:
    out = tmp_path / "dl"
    code, text, err = _run(
        "download", "--emulated", "2", "--out", str(out), "--roots", str(ROOTS),
        "--workstation-key", str(KEY_PEM), "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    document = json.loads(text)
    assert document["workstation"] == pki.TEST_WORKSTATION  # the certificate's name
    for entry in document["devices"]:
        assert entry["verification"] == "ok" and entry["findings"] == []
        image = read_image(entry["image"])
        assert image.version == L.SIGNED_VERSION
        assert image.acquisition.workstation == pki.TEST_WORKSTATION
        assert hashlib.sha256(image.data).hexdigest() == entry["sha256"]


@pytest.mark.usefixtures("_fresh_dock")
def test_download_without_a_key_writes_version_1_and_says_so(tmp_path: Path) -> None:
    code, text, err = _run(
        "download", "--emulated", "1", "--out", str(tmp_path), "--roots", str(ROOTS)
    )
    assert code == 0
    assert "no workstation key (--workstation-key)" in err and "format version 1" in err
    (path,) = tmp_path.glob("*.tdi")
    assert read_image(path).version == L.UNSIGNED_VERSION
    assert "ok (1 warning)" in text


@pytest.mark.usefixtures("_fresh_dock")
@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--workstation-cert", str(KEY_PEM)], "--workstation-cert needs --workstation-key"),
        (["--workstation-key", "absent.pem"], "No such file"),
        (["--workstation-key", str(ROOTS)], "cannot be read"),
        (
            ["--workstation-key", str(KEY_PEM), "--workstation", "OTHER"],
            "the workstation key's certificate names 'DOCK-SIM-01'",
        ),
    ],
)
def test_download_refuses_a_key_it_cannot_use(
    tmp_path: Path, extra: list[str], reason: str
) -> None:
    code, _, err = _run("download", "--emulated", "1", "--out", str(tmp_path / "dl"), *extra)
    assert code == 2
    assert reason in err and "Traceback" not in err
    assert not (tmp_path / "dl").exists()  # nothing downloaded


@pytest.mark.usefixtures("_fresh_dock")
def test_download_refuses_an_expired_workstation_certificate(tmp_path: Path) -> None:
    expired = pki.issue_workstation_key(
        issued=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), valid_years=2, key_label="old"
    )
    key_pem, cert_pem = _pem_parts(expired)
    (tmp_path / "old.pem").write_bytes(key_pem + cert_pem)
    code, _, err = _run(
        "download", "--emulated", "1", "--out", str(tmp_path / "dl"),
        "--workstation-key", str(tmp_path / "old.pem"),
    )  # fmt: skip
    assert code == 2 and "expired on 2022-01-01" in err
