"""Library warnings become findings: a certificate whose serial number is negative.

``cryptography`` reads such a certificate but warns (``CryptographyDeprecationWarning``,
RFC 5280 forbids it).  The verifier reports the warning as a ``certificate_conformance``
finding naming the certificate (or the trusted root), and nothing reaches stderr — checked
in a real process, where Python's default filters would print the warning with a source
path.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from taserlink.emulator import pki
from taserlink.format import build_image, read_image
from taserlink.integrity import Kind, Severity, TrustStore, verify_image
from taserlink.integrity.export import export_evidence
from taserlink.integrity.trust import CONFORMANCE, check_chain
from tests.conftest import CAPTURES, ROOT

IMAGE = CAPTURES / "incident-shift.tdi"
WARNED = "the certificate library warned: Parsed a serial number which wasn't positive"


def _element(der: bytes, at: int) -> tuple[int, int, int]:
    """``(tag, content start, end)`` of the DER element at ``der[at]``."""
    tag, length, content = der[at], der[at + 1], at + 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(der[content : content + size], "big")
        content += size
    return tag, content, content + length


def negative_serial(der: bytes, issuer_key: Ed25519PrivateKey) -> bytes:
    """``der`` with its serial number made negative (top bit set), signed again by
    ``issuer_key`` so that only the serial is odd."""
    out = bytearray(der)
    _, certificate, _ = _element(out, 0)
    _, tbs, tbs_end = _element(out, certificate)
    at = tbs
    tag, _, after = _element(out, at)
    if tag == 0xA0:  # the version
        at = after
    tag, serial, _ = _element(out, at)
    assert tag == 0x02
    out[serial] |= 0x80
    out[-64:] = issuer_key.sign(bytes(out[certificate:tbs_end]))  # Ed25519: 64 bytes last
    return bytes(out)


@pytest.fixture(scope="module")
def authority() -> pki.TestAuthority:
    return pki.test_authority()


@pytest.fixture(scope="module")
def odd_image(authority: pki.TestAuthority) -> bytes:
    """The incident-shift image with a device certificate whose serial is negative."""
    image = read_image(IMAGE)
    device = negative_serial(image.certificates[0], authority.intermediate_key)
    return build_image(
        identity=image.identity,
        certificates=(device, *image.certificates[1:]),
        base=image.base,
        records=image.section_bytes("records"),
        seals=image.section_bytes("seals"),
        statement=image.statement,
        acquisition=image.acquisition,
    )


@pytest.fixture(scope="module")
def odd_root(authority: pki.TestAuthority) -> bytes:
    """The TEST root (same name and key) with a negative serial, as PEM."""
    der = authority.root.public_bytes(serialization.Encoding.DER)
    odd = negative_serial(der, authority.root_key)
    return b"".join(
        [b"-----BEGIN CERTIFICATE-----\n", _base64_lines(odd), b"-----END CERTIFICATE-----\n"]
    )


def _base64_lines(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return b"".join(text[i : i + 64] + b"\n" for i in range(0, len(text), 64))


def test_a_negative_device_serial_is_a_finding_and_no_warning_escapes(
    odd_image: bytes,
) -> None:
    trust = TrustStore.from_paths([CAPTURES / "test-root.pem"])
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        report = verify_image(odd_image, trust)
    assert escaped == []
    conformance = [f for f in report.findings if f.kind is Kind.CERTIFICATE_CONFORMANCE]
    assert len(conformance) == 1
    finding = conformance[0]
    assert finding.severity is Severity.WARNING
    assert finding.message.startswith(f"certificate 1: {WARNED}")
    image = read_image(odd_image)
    assert finding.offset == image.spans["certificates"].offset + 3  # the device DER
    assert report.ok  # the chain and every signature still hold
    # and the version-1 warning that keyless digests alone protect the host fields
    assert {f.kind for f in report.findings} == {
        Kind.CERTIFICATE_CONFORMANCE,
        Kind.ACQUISITION_HASH,
    }


def test_check_chain_names_the_certificate(odd_image: bytes) -> None:
    image = read_image(odd_image)
    trust = TrustStore.from_paths([CAPTURES / "test-root.pem"])
    at = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        result = check_chain(image.certificates, image.identity.serial, at, trust)
    assert escaped == []
    assert result.key is not None
    assert [(kind, index) for kind, _, index in result.problems] == [(CONFORMANCE, 0)]


def test_a_negative_root_serial_is_a_finding_naming_the_root(
    odd_root: bytes, authority: pki.TestAuthority
) -> None:
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        trust = TrustStore.from_pem(odd_root)
        report = verify_image(IMAGE, trust)
    assert escaped == []
    conformance = [f for f in report.findings if f.kind is Kind.CERTIFICATE_CONFORMANCE]
    assert len(conformance) == 1
    root_name = authority.root.subject.rfc4514_string()
    assert conformance[0].message.startswith(f"trusted root {root_name}: {WARNED}")
    assert conformance[0].offset == read_image(IMAGE).spans["certificates"].offset
    assert report.ok


def test_exporting_such_a_certificate_is_quiet(odd_image: bytes, tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        written = export_evidence(read_image(odd_image), tmp_path / "evidence")
    assert escaped == []
    assert written[-1].name == "README.txt"


def test_verify_in_a_real_process_prints_no_warning(
    odd_image: bytes, odd_root: bytes, tmp_path: Path
) -> None:
    """Python's default filters print a ``CryptographyDeprecationWarning`` with the source
    path of the line that triggered it; taserlink's stderr stays empty."""
    image = tmp_path / "odd.tdi"
    image.write_bytes(odd_image)
    root = tmp_path / "odd-root.pem"
    root.write_bytes(odd_root)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [sys.executable, "-m", "taserlink", "verify", str(image), "--roots", str(root), "--json"],
        capture_output=True,
        text=True,
        env={**environment, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.stderr == ""
    assert done.returncode == 0
    (result,) = json.loads(done.stdout)["images"]
    findings = [f for f in result["findings"] if f["kind"] != "acquisition_hash"]  # version 1
    kinds = [(f["kind"], f["severity"]) for f in findings]
    assert kinds == [(CONFORMANCE, "warning")] * 2
    messages = sorted(f["message"] for f in findings)
    assert messages[0].startswith(f"certificate 1: {WARNED}")
    assert messages[1].startswith("trusted root ") and WARNED in messages[1]
