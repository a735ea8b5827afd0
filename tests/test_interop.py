"""An independent examiner can check the captures with stock OpenSSL, without taserlink.

Three things are tested here:

- :func:`taserlink.integrity.export.export_evidence` writes files that ``openssl verify`` and
  ``openssl pkeyutl -verify -rawin`` accept for every capture, that they reject after any
  flipped bit or under an unrelated root, and that ``cryptography`` reads the same way;
- the messages it writes are the image's own bytes, cut here independently from the header's
  section lengths and the domain tags as the specification spells them;
- every command block of ``docs/checking-by-hand.md`` marked *tested* runs, and the numbers
  the page prints are the captures' numbers.

OpenSSL is required, not optional: when it is missing the tests install it (as root, with
apt-get) or fail saying so.  They never skip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import NameOID

from taserlink.errors import FormatError, ImageIOError
from taserlink.format import build_image, read_image
from taserlink.format import layout as L
from taserlink.integrity.export import export_evidence
from tests.apt_support import apt_install
from tests.conftest import CAPTURE_FILES, CAPTURES, ROOT

TEST_ROOT = CAPTURES / "test-root.pem"
DOC = ROOT / "docs" / "checking-by-hand.md"
WORKED = CAPTURES / "incident-shift.tdi"
VERIFIED = "Signature Verified Successfully"

# The domain tags as docs/format.md §8 spells them (not taken from the code under test).
TAGS = {
    "base": b"taserlink/base/v1\x00",
    "seal": b"taserlink/seal/v1\x00",
    "statement": b"taserlink/statement/v1\x00",
    "acquisition": b"taserlink/acquisition/v2\x00",
}
SECTIONS = ("identity", "certificates", "base", "records", "seals", "statement", "acquisition")


# -- tools ------------------------------------------------------------------------------


def _install_openssl() -> None:
    """Install openssl with apt-get when running as root (CI images may lack it)."""
    apt_install(["openssl"], recommends=False)


@pytest.fixture(scope="session")
def openssl() -> str:
    """Path of an OpenSSL 3 executable; installs it if it can, fails clearly if it cannot."""
    found = shutil.which("openssl")
    if found is None:
        _install_openssl()
        found = shutil.which("openssl")
    if found is None:
        pytest.fail(
            "openssl is not installed and could not be installed (need root and apt-get): "
            "these interoperability tests need OpenSSL 3 — install it, they never skip"
        )
    version = subprocess.run([found, "version"], capture_output=True, text=True, check=True)
    match = re.match(r"OpenSSL (\d+)\.", version.stdout)
    if match is None or int(match.group(1)) < 3:
        pytest.fail(
            f"{found} is {version.stdout.strip()!r}: Ed25519 over a raw message "
            "(pkeyutl -rawin) needs OpenSSL 3 or later"
        )
    for tool in ("sha256sum", "dd", "od", "cmp", "head", "sh", "bash"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: the by-hand checks need coreutils, sh and bash")
    return found


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``cwd``; stdout and stderr together in ``.stdout``."""
    result = subprocess.run(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=120,
    )
    return result


def pkeyutl(openssl: str, directory: Path, stem: str) -> subprocess.CompletedProcess[str]:
    """``openssl pkeyutl -verify`` of ``stem.msg`` against ``stem.sig``, as README.txt says
    (the acquisition's with the workstation's key, the others with the device's)."""
    return run(
        [
            openssl,
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "workstation-pubkey.pem" if stem == "acquisition" else "device-pubkey.pem",
            "-rawin",
            "-in",
            f"{stem}.msg",
            "-sigfile",
            f"{stem}.sig",
        ],
        directory,
    )


def verify_chain(
    openssl: str, directory: Path, root: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``openssl verify`` of device.pem with chain.pem as untrusted intermediates."""
    return run(
        [openssl, "verify", *extra, "-CAfile", str(root), "-untrusted", "chain.pem", "device.pem"],
        directory,
    )


def sections(data: bytes) -> dict[str, tuple[int, int]]:
    """(offset, length) of each section, from the header's seven u32 lengths (by hand)."""
    offset = 40
    spans = {}
    for k, name in enumerate(SECTIONS):
        length = int.from_bytes(data[12 + 4 * k : 16 + 4 * k], "little")
        spans[name] = (offset, length)
        offset += length
    assert offset == len(data)
    return spans


def expected_parts(data: bytes) -> dict[str, tuple[bytes, bytes]]:
    """Stem → (message, signature), cut from ``data`` the way docs/format.md says."""
    spans = sections(data)
    serial = data[40:50]
    parts = {}

    def cut(stem: str, kind: str, offset: int, length: int) -> None:
        fields = data[offset : offset + length - 64]
        parts[stem] = (TAGS[kind] + serial + fields, data[offset + length - 64 : offset + length])

    cut("base", "base", *spans["base"])
    seals_at, seals_length = spans["seals"]
    for at in range(seals_at, seals_at + seals_length, 108):
        cut(f"seal-{int.from_bytes(data[at : at + 4], 'little')}", "seal", at, 108)
    if spans["statement"][1]:
        cut("statement", "statement", *spans["statement"])
    if int.from_bytes(data[8:10], "little") == 2:
        # Version 2: the workstation signed the acquisition up to the end of device_sha256;
        # its signature and closing_sha256 are the last 96 bytes.
        at = spans["acquisition"][0]
        parts["acquisition"] = (
            TAGS["acquisition"] + serial + data[at : len(data) - 96],
            data[len(data) - 96 : len(data) - 32],
        )
    return parts


def flip(path: Path, byte: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[byte] ^= 1 << bit
    path.write_bytes(bytes(data))


_EXPORTED: dict[Path, Path] = {}
"""Export directory → the capture it was exported from."""


@pytest.fixture(scope="module", params=CAPTURE_FILES, ids=lambda p: p.name)
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each capture exported once (read-only use: tests that modify files copy first)."""
    capture: Path = request.param
    directory = tmp_path_factory.mktemp(capture.stem) / "evidence"
    export_evidence(read_image(capture), directory, image_name=capture.name)
    _EXPORTED[directory] = capture
    return directory


@pytest.fixture
def worked(tmp_path: Path) -> Path:
    """A fresh export of the worked-example capture, safe to modify."""
    directory = tmp_path / "evidence"
    export_evidence(read_image(WORKED), directory, image_name=WORKED.name)
    return directory


def capture_of(directory: Path) -> Path:
    """The capture that the ``exported`` fixture exported into ``directory``."""
    return _EXPORTED[directory]


# -- the exported files -----------------------------------------------------------------


def test_export_writes_the_documented_files(tmp_path: Path) -> None:
    image = read_image(WORKED)
    directory = tmp_path / "new" / "evidence"
    written = export_evidence(image, directory, image_name=WORKED.name)
    stems = ["base", *(f"seal-{int(s)}" for s in image.seals["seq"]), "statement"]
    expected = {"device.pem", "chain.pem", "device-pubkey.pem", "image.sha256", "README.txt"}
    expected |= {f"{stem}.{ext}" for stem in stems for ext in ("msg", "sig")}
    assert {p.name for p in written} == expected
    assert sorted(p.name for p in directory.iterdir()) == sorted(expected)  # no temporaries
    assert written[-1].name == "README.txt"
    assert all(p.parent == directory for p in written)
    assert len(stems) == 4  # the worked example has two seals


def test_export_is_deterministic(tmp_path: Path) -> None:
    image = read_image(WORKED)
    first = export_evidence(image, tmp_path / "a")
    second = export_evidence(image, tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_messages_and_signatures_are_the_image_bytes(exported: Path) -> None:
    data = capture_of(exported).read_bytes()
    parts = expected_parts(data)
    on_disk = {p.stem for p in exported.glob("*.msg")}
    assert on_disk == set(parts)
    for stem, (message, signature) in parts.items():
        assert (exported / f"{stem}.msg").read_bytes() == message, stem
        assert (exported / f"{stem}.sig").read_bytes() == signature, stem
        assert len(signature) == 64


def test_certificates_and_key_are_the_image_ones(exported: Path) -> None:
    image = read_image(capture_of(exported))
    device = x509.load_pem_x509_certificate((exported / "device.pem").read_bytes())
    chain = x509.load_pem_x509_certificates((exported / "chain.pem").read_bytes())
    der = serialization.Encoding.DER
    assert [c.public_bytes(der) for c in [device, *chain]] == list(image.certificates)
    key = serialization.load_pem_public_key((exported / "device-pubkey.pem").read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert key.public_bytes(*raw) == device.public_key().public_bytes(*raw)


def test_image_sha256_checks_with_sha256sum(worked: Path, openssl: str) -> None:
    line = (worked / "image.sha256").read_text()
    assert line == f"{hashlib.sha256(WORKED.read_bytes()).hexdigest()}  {WORKED.name}\n"
    shutil.copyfile(WORKED, worked / WORKED.name)
    good = run(["sha256sum", "-c", "image.sha256"], worked)
    assert good.returncode == 0 and f"{WORKED.name}: OK" in good.stdout
    flip(worked / WORKED.name, 1000)
    bad = run(["sha256sum", "-c", "image.sha256"], worked)
    assert bad.returncode != 0 and "FAILED" in bad.stdout


# -- OpenSSL accepts them ---------------------------------------------------------------


def test_openssl_verifies_the_certificate_chain(exported: Path, openssl: str) -> None:
    result = verify_chain(openssl, exported, TEST_ROOT)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "device.pem: OK"
    strict = verify_chain(openssl, exported, TEST_ROOT, "-no-CApath", "-no-CAstore")
    assert strict.returncode == 0 and strict.stdout.strip() == "device.pem: OK"


def test_certificate_valid_at_the_statement_but_not_before_manufacture(
    exported: Path, openssl: str
) -> None:
    image = read_image(capture_of(exported))
    when = str(image.acquisition.statement_utc_ms // 1000)
    at_statement = verify_chain(openssl, exported, TEST_ROOT, "-attime", when)
    assert at_statement.returncode == 0, at_statement.stdout
    device = x509.load_der_x509_certificate(image.certificates[0])
    before = str(int(device.not_valid_before_utc.timestamp()) - 1)
    too_early = verify_chain(openssl, exported, TEST_ROOT, "-attime", before)
    assert too_early.returncode != 0 and "not yet valid" in too_early.stdout


def test_openssl_verifies_every_signature(exported: Path, openssl: str) -> None:
    stems = sorted(p.stem for p in exported.glob("*.msg"))
    assert "statement" in stems and "base" in stems
    for stem in stems:
        result = pkeyutl(openssl, exported, stem)
        assert result.returncode == 0, (stem, result.stdout)
        assert result.stdout.strip() == VERIFIED, stem


@pytest.mark.parametrize("name", ["statement.msg", "statement.sig"])
def test_a_flipped_bit_makes_openssl_fail(worked: Path, openssl: str, name: str) -> None:
    size = (worked / name).stat().st_size
    # first and last byte, and in a message the last tag byte, the serial and the fields
    positions = [0, size - 1, *([22, 23, 33, 80, 146] if name.endswith(".msg") else [31, 32])]
    original = (worked / name).read_bytes()
    for position in positions:
        for bit in (0, 7):
            flip(worked / name, position, bit)
            result = pkeyutl(openssl, worked, "statement")
            assert result.returncode != 0, (name, position, bit)
            assert "Signature Verification Failure" in result.stdout
            (worked / name).write_bytes(original)
    assert pkeyutl(openssl, worked, "statement").returncode == 0


def test_a_signature_does_not_pass_for_another_structure(worked: Path, openssl: str) -> None:
    shutil.copyfile(worked / "seal-16.sig", worked / "base.sig")
    assert pkeyutl(openssl, worked, "base").returncode != 0
    seal_as_base = (worked / "seal-16.msg").read_bytes().replace(TAGS["seal"], TAGS["base"], 1)
    (worked / "base.msg").write_bytes(seal_as_base)
    assert pkeyutl(openssl, worked, "base").returncode != 0


def test_a_tampered_image_exports_but_openssl_rejects_it(tmp_path: Path, openssl: str) -> None:
    data = bytearray(WORKED.read_bytes())
    statement_at, _ = sections(bytes(data))["statement"]
    data[statement_at + 36] ^= 1  # last_seq
    directory = tmp_path / "evidence"
    export_evidence(read_image(bytes(data)), directory)
    assert pkeyutl(openssl, directory, "statement").returncode != 0
    assert pkeyutl(openssl, directory, "base").returncode == 0


def _self_signed_root(name: x509.Name, ski: x509.SubjectKeyIdentifier | None) -> bytes:
    key = Ed25519PrivateKey.generate()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2060, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            ski or x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    )
    return builder.sign(key, None).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("impostor", ["same name", "same name and key id", "intermediate only"])
def test_an_unrelated_root_makes_openssl_verify_fail(
    worked: Path, openssl: str, impostor: str, tmp_path: Path
) -> None:
    real = x509.load_pem_x509_certificate(TEST_ROOT.read_bytes())
    if impostor == "intermediate only":
        pem = (worked / "chain.pem").read_bytes()  # an intermediate is not a trust anchor
    else:
        ski = real.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        pem = _self_signed_root(real.subject, ski if "key id" in impostor else None)
    root = tmp_path / "other-root.pem"
    root.write_bytes(pem)
    result = verify_chain(openssl, worked, root, "-no-CApath", "-no-CAstore")
    assert result.returncode != 0, result.stdout
    assert "device.pem: OK" not in result.stdout
    assert "verification failed" in result.stdout


def test_cryptography_verifies_what_openssl_verifies(exported: Path) -> None:
    key = serialization.load_pem_public_key((exported / "device-pubkey.pem").read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    message = (exported / "statement.msg").read_bytes()
    signature = (exported / "statement.sig").read_bytes()
    key.verify(signature, message)  # raises on failure
    with pytest.raises(InvalidSignature):
        key.verify(signature, message[:-1] + bytes([message[-1] ^ 1]))
    for msg in exported.glob("seal-*.msg"):
        key.verify(msg.with_suffix(".sig").read_bytes(), msg.read_bytes())


def test_readme_commands_run_as_written(exported: Path, openssl: str, tmp_path: Path) -> None:
    directory = tmp_path / "copy"
    shutil.copytree(exported, directory)
    capture = capture_of(exported)
    shutil.copyfile(capture, directory / capture.name)
    shutil.copyfile(TEST_ROOT, directory / "ROOT.pem")
    readme = (directory / "README.txt").read_text()
    blocks = re.findall(r"(?m)((?:^    .*\n)+)", readme)
    script = "\n".join(textwrap_dedent(block) for block in blocks)
    assert script.count("openssl pkeyutl") == len(list(directory.glob("*.msg")))
    result = run(["bash", "-e", "-o", "pipefail", "-c", script], directory)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count(VERIFIED) == len(list(directory.glob("*.msg")))
    assert result.stdout.count("device.pem: OK") == 2
    assert f"{capture.name}: OK" in result.stdout
    serial = read_image(capture).identity.serial
    assert f"CN = {serial}" in result.stdout and f"serialNumber = {serial}" in result.stdout


def textwrap_dedent(block: str) -> str:
    return "\n".join(line[4:] for line in block.splitlines())


# -- images the captures do not show ----------------------------------------------------


def _rebuilt(**changes: Any) -> bytes:
    image = read_image(WORKED)
    parts: dict[str, Any] = {
        "identity": image.identity,
        "certificates": image.certificates,
        "base": image.base,
        "records": image.records,
        "seals": image.seals,
        "statement": image.statement,
        "acquisition": image.acquisition,
    }
    return build_image(**{**parts, **changes})


def test_an_image_without_statement_exports_the_rest(tmp_path: Path, openssl: str) -> None:
    directory = tmp_path / "evidence"
    names = {p.name for p in export_evidence(read_image(_rebuilt(statement=None)), directory)}
    assert not any(n.startswith("statement") for n in names)
    assert {"base.msg", "seal-16.msg", "seal-32.msg"} <= names
    assert "no download statement" in (directory / "README.txt").read_text()
    assert "-attime" not in (directory / "README.txt").read_text()
    assert pkeyutl(openssl, directory, "seal-32").stdout.strip() == VERIFIED


def test_repeated_seal_sequences_get_distinct_names(tmp_path: Path, openssl: str) -> None:
    seals = read_image(WORKED).seals
    image = read_image(_rebuilt(seals=np.concatenate([seals, seals[:1]])))
    names = [p.name for p in export_evidence(image, tmp_path / "e")]
    assert names.count("seal-16.msg") == names.count("seal-16-2.msg") == 1
    assert (tmp_path / "e" / "seal-16-2.sig").read_bytes() == (
        tmp_path / "e" / "seal-16.sig"
    ).read_bytes()


def test_without_intermediates_there_is_no_chain_file(tmp_path: Path) -> None:
    image = read_image(_rebuilt(certificates=read_image(WORKED).certificates[:1]))
    names = {p.name for p in export_evidence(image, tmp_path / "e")}
    assert "chain.pem" not in names and "device.pem" in names
    assert "-untrusted" not in (tmp_path / "e" / "README.txt").read_text()


def test_a_certificate_that_is_not_der_is_a_format_error(tmp_path: Path) -> None:
    data = bytearray(WORKED.read_bytes())
    der_at = sections(bytes(data))["certificates"][0] + 3  # count byte, u16 length
    data[der_at] ^= 0xFF  # the DER SEQUENCE tag
    with pytest.raises(FormatError) as caught:
        export_evidence(read_image(bytes(data)), tmp_path / "e")
    assert caught.value.offset == der_at
    assert not (tmp_path / "e").exists()


def test_a_signature_algorithm_other_than_ed25519_is_a_format_error(tmp_path: Path) -> None:
    image = read_image(WORKED)
    identity = dataclasses.replace(image.identity, signature_algorithm=2)
    with pytest.raises(FormatError, match="not Ed25519") as caught:
        export_evidence(read_image(_rebuilt(identity=identity)), tmp_path / "e")
    assert caught.value.offset == image.spans["identity"].end - 1  # the algorithm byte


def test_a_device_key_that_is_not_ed25519_is_a_format_error(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DPV2FPABQN")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    image = read_image(_rebuilt(certificates=(der, *read_image(WORKED).certificates[1:])))
    with pytest.raises(FormatError, match=r"key is \w+, not Ed25519") as caught:
        export_evidence(image, tmp_path / "e")
    assert caught.value.offset == image.spans["certificates"].offset + 3


# -- where and how it writes ------------------------------------------------------------


def test_a_directory_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "seal-999.msg").write_bytes(b"from another export")
    with pytest.raises(ImageIOError, match="not empty"):
        export_evidence(read_image(WORKED), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["seal-999.msg"]


def test_a_directory_that_cannot_be_made_is_an_image_io_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(ImageIOError) as caught:
        export_evidence(read_image(WORKED), tmp_path / "a-file" / "evidence")
    assert isinstance(caught.value, OSError)


def test_a_failed_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link
    calls: list[str] = []

    def link(source: str, target: str, **folders: Any) -> None:
        calls.append(Path(target).name)
        if Path(target).name == "base.sig":
            raise OSError(28, "No space left on device")
        real_link(source, target, **folders)

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(ImageIOError, match=r"base\.sig: No space left on device"):
        export_evidence(read_image(WORKED), tmp_path / "e")
    left = sorted(p.name for p in (tmp_path / "e").iterdir())
    assert left == sorted(calls[:-1])  # every file before the failure; no temporary
    assert "README.txt" not in left  # so the export is visibly incomplete


@pytest.mark.parametrize("name", ["", "..", "a/b", "a\nb"])
def test_image_name_must_be_a_plain_file_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="plain file name"):
        export_evidence(read_image(WORKED), tmp_path / "e", image_name=name)


# -- docs/checking-by-hand.md -----------------------------------------------------------


def doc_blocks() -> dict[str, str]:
    """The page's fenced blocks marked ``<!-- tested: NAME -->``, by name."""
    text = DOC.read_text()
    blocks = dict(re.findall(r"<!-- tested: (\S+) -->\n```\w+\n(.*?)```", text, re.S))
    assert set(blocks) == {"worked-example.sh", "check-by-hand.sh", "chain.py", "export.py"}
    return blocks


def doc_output(name: str) -> list[str]:
    """The indented block after ``<!-- output: NAME -->``, as lines without indent."""
    text = DOC.read_text()
    match = re.search(rf"<!-- output: {re.escape(name)} -->\n\n((?:    .*\n)+)", text)
    assert match, name
    return [line[4:] for line in match.group(1).splitlines()]


def doc_table(marker: str) -> list[list[str]]:
    """The rows of the table after ``<!-- tested: MARKER -->`` (header and rule dropped)."""
    text = DOC.read_text()
    match = re.search(rf"<!-- tested: {re.escape(marker)} -->\n((?:\|.*\n)+)", text)
    assert match, marker
    rows = match.group(1).splitlines()[2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """An empty directory holding copies of the worked-example image and the test root."""
    shutil.copyfile(WORKED, tmp_path / WORKED.name)
    shutil.copyfile(TEST_ROOT, tmp_path / TEST_ROOT.name)
    yield tmp_path


@pytest.mark.parametrize("kind", ["base", "seal", "statement"])
def test_doc_field_tables_match_the_declarations(kind: str) -> None:
    struct = {"base": L.BASE, "seal": L.SEAL, "statement": L.STATEMENT}[kind]
    offset, expected = 0, []
    for sub in struct.subcons:
        expected.append([str(offset), str(sub.sizeof()), f"`{sub.name}`"])
        offset += sub.sizeof()
    assert [row[:3] for row in doc_table(f"fields {kind}")] == expected


def test_doc_offsets_are_the_worked_example_offsets() -> None:
    image = read_image(WORKED)
    rows = {row[0]: row for row in doc_table("offsets incident-shift.tdi")}
    for name, span in image.spans.items():
        assert rows[name][1:3] == [str(span.offset), str(span.length)], name
        computed = rows[name][3].split(";")[0].split("=")[0]
        if computed.strip():  # the sum shown adds up to the offset
            assert sum(int(term) for term in computed.split("+")) == span.offset, name
    assert rows["end"][1] == str(len(image.data))


def test_doc_od_sessions_print_what_the_doc_shows(workdir: Path, openssl: str) -> None:
    text = DOC.read_text()
    sessions = re.findall(r"(?m)^    \$ (.*)\n((?:    (?!\$).*\n)*)", text)
    assert len(sessions) >= 6
    for command, shown in sessions:
        result = run(["sh", "-c", command], workdir)
        assert result.returncode == 0, command
        assert result.stdout.split() == shown.split(), command


def test_doc_worked_example_runs(workdir: Path, openssl: str) -> None:
    result = run(["bash", "-e", "-o", "pipefail", "-c", doc_blocks()["worked-example.sh"]], workdir)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("device.pem: OK") == 2
    assert result.stdout.count(VERIFIED) == 4
    assert "CN = DPV2FPABQN, serialNumber = DPV2FPABQN" in result.stdout
    digests = re.findall(r"(?m)^([0-9a-f]{64})(?:  -)?$", result.stdout)
    assert len(digests) == 6 and digests[0::2] == digests[1::2]
    whole = hashlib.sha256(WORKED.read_bytes()).hexdigest()
    assert f"{whole}  {WORKED.name}" in result.stdout
    assert whole in DOC.read_text()  # the hash the page tells the reader to expect
    for digest in digests[0::2]:
        assert f"`{digest[:8]}…{digest[-4:]}`" in DOC.read_text()


@pytest.mark.parametrize("capture", CAPTURE_FILES, ids=lambda p: p.name)
def test_doc_script_checks_every_capture_like_export_evidence(
    capture: Path, tmp_path: Path, openssl: str
) -> None:
    script = tmp_path / "check-by-hand.sh"
    script.write_text(doc_blocks()["check-by-hand.sh"])
    by_hand = tmp_path / "by-hand"
    by_hand.mkdir()
    result = run(["sh", str(script), str(capture), str(TEST_ROOT)], by_hand)
    assert result.returncode == 0, result.stdout
    assert result.stdout.rstrip().endswith("all checks passed")
    image = read_image(capture)
    signed = image.version == 2  # the workstation's signature too
    assert result.stdout.count(VERIFIED) == len(image.seals) + (3 if signed else 2)
    if capture == WORKED:
        assert result.stdout.splitlines() == doc_output("check-by-hand.sh incident-shift.tdi")
    exported = tmp_path / "exported"
    export_evidence(image, exported)
    for path in sorted(by_hand.iterdir()):  # two independent cutters agree byte for byte
        if path.name != "chain.pem" or len(image.certificates) > 1:
            assert path.read_bytes() == (exported / path.name).read_bytes(), path.name


def test_doc_script_reports_a_tampered_statement(workdir: Path, openssl: str) -> None:
    (workdir / "check-by-hand.sh").write_text(doc_blocks()["check-by-hand.sh"])
    data = bytearray(WORKED.read_bytes())
    data[sections(bytes(data))["statement"][0] + 40] ^= 1  # the statement's chain
    (workdir / "bad.tdi").write_bytes(bytes(data))
    result = run(["sh", "check-by-hand.sh", "bad.tdi", TEST_ROOT.name], workdir)
    assert result.returncode == 1
    assert "FAILED: statement signature" in result.stdout
    assert "base: " + VERIFIED in result.stdout  # every check reported, not only the first
    assert "FAILED: closing_sha256" in result.stdout


def test_doc_script_reports_an_untrusted_root(workdir: Path, openssl: str) -> None:
    (workdir / "check-by-hand.sh").write_text(doc_blocks()["check-by-hand.sh"])
    real = x509.load_pem_x509_certificate(TEST_ROOT.read_bytes())
    (workdir / "other.pem").write_bytes(_self_signed_root(real.subject, None))
    result = run(["sh", "check-by-hand.sh", WORKED.name, "other.pem"], workdir)
    assert result.returncode == 1
    assert "FAILED: the device certificate does not chain" in result.stdout


@pytest.mark.parametrize("capture", CAPTURE_FILES, ids=lambda p: p.name)
def test_doc_chain_script_checks_every_capture(capture: Path, tmp_path: Path) -> None:
    script = tmp_path / "chain.py"
    script.write_text(doc_blocks()["chain.py"])
    result = run([sys.executable, str(script), str(capture)], tmp_path)
    assert result.returncode == 0, result.stdout
    image = read_image(capture)
    assert result.stdout.count(" matches") == len(image.seals) + 1
    assert f"{len(image.records)} records from seq {image.base.first_seq}: chain OK" in (
        result.stdout
    )
    if capture == WORKED:
        assert result.stdout.splitlines() == doc_output("chain.py incident-shift.tdi")


def test_doc_chain_script_finds_a_rewritten_record(tmp_path: Path) -> None:
    data = bytearray(WORKED.read_bytes())
    at = sections(bytes(data))["records"][0] + 32 * 20  # record seq 21
    data[at + 14] ^= 0x01  # its first payload byte
    data[at + 28 : at + 32] = L.record_crc(bytes(data[at : at + 28])).to_bytes(4, "little")
    image = tmp_path / "rewritten.tdi"
    image.write_bytes(bytes(data))
    assert len(read_image(image).crc_failures) == 0  # a careful forger fixes the CRC
    script = tmp_path / "chain.py"
    script.write_text(doc_blocks()["chain.py"])
    result = run([sys.executable, str(script), str(image)], tmp_path)
    assert result.returncode == 1
    assert "seal at offset 2294: chain after seq 16 matches" in result.stdout
    assert "chain after seq 32 DOES NOT MATCH" in result.stdout
    assert "chain after seq 34 DOES NOT MATCH" in result.stdout


def test_doc_export_example_runs(tmp_path: Path) -> None:
    (tmp_path / "captures").mkdir()
    shutil.copyfile(WORKED, tmp_path / "captures" / WORKED.name)
    (tmp_path / "export.py").write_text(doc_blocks()["export.py"])
    result = run([sys.executable, "export.py"], tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stdout.split()[-1] == "README.txt"
    assert (tmp_path / "evidence" / "statement.msg").is_file()
