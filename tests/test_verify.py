"""``verify_image`` and ``verify_continuity`` on images built here with the firmware model.

Each test drives a :class:`~taserlink.emulator.SimulatedDevice` (TEST keys), downloads it,
and — for a tamper case — rebuilds the image with one thing changed, either as an attacker
who holds only the file would (bytes moved, CRCs or keyless digests recomputed) or, where a
case needs it, as one who holds the device's key (``taserlink.emulator.signing``).  What
each case should report is worked out from the firmware model and the reader, never from
the verifier.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from taserlink.emulator import DeviceClock, DeviceSpec, SimulatedDevice, pki
from taserlink.emulator.pki import issue_device_credentials
from taserlink.emulator.scenarios import START
from taserlink.emulator.signing import signed_base, signed_seal, signed_statement
from taserlink.errors import FormatError
from taserlink.format import (
    DEVICE_EPOCH_UNIX_MS,
    Acquisition,
    Base,
    CrcCheck,
    EventCode,
    Identity,
    Image,
    Statement,
    build_image,
    read_image,
)
from taserlink.format import layout as L
from taserlink.integrity import (
    Coverage,
    Finding,
    Kind,
    Report,
    Severity,
    TrustStore,
    chain_records,
    genesis_chain,
    verify_continuity,
    verify_image,
)
from taserlink.integrity.findings import DEFAULT_SEVERITY
from taserlink.integrity.verify import MAX_FINDINGS_PER_KIND, UNSIGNED_ACQUISITION
from tests.conftest import CAPTURE_FILES, CAPTURES, ROOT

SERIAL = "DPV2FPABQN"
OTHER_SERIAL = "D0000000AJ"
INTERVAL = 4
"""The test devices seal every 4th record, so that a short log holds several seals."""
MINUTE = 60_000
NONCE = bytes(range(32))
LATER_NONCE = bytes(range(100, 132))
TRUST = TrustStore((pki.test_authority().root,))


# -- building images ----------------------------------------------------------------------


def _device(
    *,
    serial: str = SERIAL,
    interval: int = INTERVAL,
    capacity: int = 16384,
    clock: DeviceClock | None = None,
    manufactured: dt.datetime | None = None,
) -> SimulatedDevice:
    spec = DeviceSpec(serial, seal_interval=interval, log_capacity=capacity)
    if manufactured is not None:
        spec = dataclasses.replace(spec, manufactured=manufactured)
    return SimulatedDevice(spec, START, clock)


def _shift(device: SimulatedDevice, checks: int) -> None:
    """Power on, ``checks`` holster checks a minute apart, power off."""
    device.power_on()
    for _ in range(checks):
        device.advance(MINUTE)
        device.unholster()
        device.advance(1000)
        device.holster()
    device.power_off()


@dataclass(frozen=True)
class Download:
    """A clean download and what the device knew when it made it."""

    data: bytes
    image: Image
    key: Ed25519PrivateKey
    last_seq: int


def _download(device: SimulatedDevice, nonce: bytes = NONCE) -> Download:
    data = device.download(nonce)
    return Download(data, read_image(data), device.key, device.last_seq)


@pytest.fixture(scope="module")
def clean() -> Download:
    """Power on, 11 holster checks, power off, USB connect, download: seq 1–26."""
    device = _device()
    _shift(device, 11)
    return _download(device)


def _rebuild(
    image: Image,
    *,
    identity: Identity | None = None,
    certificates: tuple[bytes, ...] | None = None,
    base: Base | None = None,
    records: bytes | None = None,
    seals: bytes | None = None,
    statement: Statement | None = None,
    strip_statement: bool = False,
    acquisition: Acquisition | None = None,
) -> bytes:
    """``image`` with the given parts replaced; the acquisition digests are recomputed."""
    return build_image(
        identity=identity or image.identity,
        certificates=image.certificates if certificates is None else certificates,
        base=base or image.base,
        records=image.section_bytes("records") if records is None else records,
        seals=image.section_bytes("seals") if seals is None else seals,
        statement=None if strip_statement else statement or image.statement,
        acquisition=acquisition or image.acquisition,
    )


def _records(image: Image) -> list[bytes]:
    raw = image.section_bytes("records")
    return [raw[i : i + L.RECORD_SIZE] for i in range(0, len(raw), L.RECORD_SIZE)]


def _index(image: Image, seq: int) -> int:
    """Position in the file of the (first) record with sequence ``seq``."""
    return int(np.flatnonzero(image.records["seq"] == seq)[0])


def _with_crc(record: bytes) -> bytes:
    body = record[:28]
    return body + zlib.crc32(body).to_bytes(4, "little")


def _verify(data: bytes | Image) -> Report:
    """The report, without the one warning every image of this module gets for being format
    version 1 (written without a workstation key): the tests here are about what the
    device wrote.  ``test_a_clean_download_warns_that_it_is_version_1`` checks the warning."""
    report = verify_image(data, TRUST)
    kept = tuple(f for f in report.findings if f.message != UNSIGNED_ACQUISITION)
    return dataclasses.replace(report, findings=kept)


def _of(report: Report, kind: Kind) -> list[Finding]:
    return [f for f in report.findings if f.kind is kind]


def _errors(report: Report) -> Counter[Kind]:
    return Counter(f.kind for f in report.by_severity(Severity.ERROR))


def _redigest(data: bytes | bytearray) -> bytes:
    """``data`` with both acquisition digests recomputed, as anyone holding the file can."""
    image = read_image(bytes(data))
    span = image.spans["acquisition"]
    out = bytearray(data)
    out[span.end - 64 : span.end - 32] = hashlib.sha256(out[: span.offset]).digest()
    out[span.end - 32 :] = hashlib.sha256(out[: span.end - 32]).digest()
    return bytes(out)


# -- clean images -------------------------------------------------------------------------


def test_a_clean_download_warns_that_it_is_version_1(clean: Download) -> None:
    assert clean.image.version == L.UNSIGNED_VERSION
    report = verify_image(clean.data, TRUST)
    assert report.ok
    acquisition = clean.image.spans["acquisition"]
    assert [(f.kind, f.severity, f.offset, f.message) for f in report.findings] == [
        (Kind.ACQUISITION_HASH, Severity.WARNING, acquisition.offset + 32, UNSIGNED_ACQUISITION)
    ]


def test_a_clean_download_is_ok_with_full_coverage(clean: Download) -> None:
    report = _verify(clean.data)
    assert report.ok
    assert report.findings == ()
    # The device logged POWER_ON, 11 × (UNHOLSTER, HOLSTER), POWER_OFF, USB_CONNECT, DOWNLOAD,
    # and sealed after every 4th: the last two records are covered by the statement alone.
    assert clean.last_seq == 26
    assert report.coverage == Coverage(
        first_seq=1,
        last_seq=clean.last_seq,
        verified=clean.last_seq,
        chained=True,
        sealed_up_to=clean.last_seq // INTERVAL * INTERVAL,
        statement_covers=clean.last_seq,
    )


def test_the_report_is_the_same_from_bytes_a_path_and_an_image(
    clean: Download, tmp_path: Path
) -> None:
    path = tmp_path / "clean.tdi"
    path.write_bytes(clean.data)
    reports = [verify_image(source, TRUST) for source in (clean.data, path, clean.image)]
    assert reports[0] == reports[1] == reports[2]


@pytest.fixture(scope="module")
def ends_on_a_seal() -> Download:
    """Power on, 10 holster checks, power off, USB connect, download: seq 1–24, sealed at 24."""
    device = _device()
    _shift(device, 10)
    return _download(device)


def test_a_log_that_ends_on_a_seal_is_sealed_to_its_end(ends_on_a_seal: Download) -> None:
    assert ends_on_a_seal.last_seq % INTERVAL == 0
    coverage = _verify(ends_on_a_seal.data).coverage
    assert coverage.sealed_up_to == coverage.statement_covers == ends_on_a_seal.last_seq


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_the_bundled_captures_verify_with_the_test_root(path: Path) -> None:
    trust = TrustStore.from_paths([CAPTURES / "test-root.pem"])
    image = read_image(path)
    report = verify_image(image, trust)
    assert report.ok, [str(f) for f in report.findings]
    assert image.statement is not None
    assert report.coverage.chained
    assert report.coverage.statement_covers == image.statement.last_seq
    assert report.coverage.first_seq == image.base.first_seq


def test_the_test_root_is_never_trusted_by_default(clean: Download) -> None:
    report = verify_image(clean.data, TrustStore(()))
    assert [f.kind for f in report.findings] == [Kind.UNTRUSTED_ROOT, Kind.ACQUISITION_HASH]
    assert not report.ok
    # The key in the certificate still checks every signature and the chain.
    assert report.coverage.chained
    assert report.coverage.statement_covers == clean.last_seq
    unrelated = TrustStore((pki.test_authority("test_verify: another maker").root,))
    assert [f.kind for f in verify_image(clean.data, unrelated).findings] == [
        Kind.UNTRUSTED_ROOT,
        Kind.ACQUISITION_HASH,  # the version-1 warning
    ]


def test_findings_are_in_file_order(clean: Download) -> None:
    records = _records(clean.image)
    swapped = [*records[:5], records[6], records[5], *records[7:-3], *records[-2:]]
    broken = bytearray(_rebuild(clean.image, records=b"".join(swapped)))
    broken[-100] ^= 1  # and an acquisition byte, digests not recomputed
    report = _verify(bytes(broken))
    assert len(report.kinds()) >= 4
    offsets = [-1 if f.offset is None else f.offset for f in report.findings]
    assert offsets == sorted(offsets)


# -- device time and wraps ----------------------------------------------------------------


def test_clock_drift_sets_and_a_reset_are_info_and_a_warning_but_no_error() -> None:
    clock = DeviceClock.true_utc(START, offset_ms=3000, drift_ppm=90.0)
    device = _device(clock=clock, interval=8)
    device.power_on()
    for _ in range(10):  # ten days at +90 ppm: 77.76 s fast, plus the 3 s it started with
        device.advance(86_400_000)
        device.battery_report(20, 8000)
    device.usb_connect()
    before = device.now_ms
    first_set = device.set_clock(device.utc_ms - DEVICE_EPOCH_UNIX_MS)
    first_delta = device.utc_ms - DEVICE_EPOCH_UNIX_MS - before
    device.advance(3_600_000)
    reset = device.lose_power()  # POWER_ON with rtc_valid 0: the clock reads 2000-01-01
    device.advance(MINUTE)
    device.battery_report(20, 8000)
    device.usb_connect()
    before = device.now_ms
    second_set = device.set_clock(device.utc_ms - DEVICE_EPOCH_UNIX_MS)
    second_delta = device.utc_ms - DEVICE_EPOCH_UNIX_MS - before
    device.power_off()
    download = _download(device)

    report = _verify(download.data)
    assert report.ok
    assert report.by_severity(Severity.ERROR) == ()
    sets = _of(report, Kind.CLOCK_SET)
    assert [(f.seq_first, f.severity) for f in sets] == [
        (first_set, Severity.INFO),
        (second_set, Severity.INFO),
    ]
    assert f"{first_delta / 1000:+.3f} s" in sets[0].message
    assert -81 < first_delta / 1000 < -80
    assert f"{second_delta / 1000:+.3f} s" in sets[1].message
    jumps = _of(report, Kind.CLOCK_JUMP)
    assert [(f.seq_first, f.severity) for f in jumps] == [(reset, Severity.WARNING)]
    assert "2000-01-01" in jumps[0].message
    assert jumps[0].offset == download.image.record_offset(_index(download.image, reset))
    assert report.coverage.chained


def test_a_clock_that_goes_back_without_clock_set_is_a_clock_jump() -> None:
    device = _device()
    device.power_on()
    device.advance(MINUTE)
    device.battery_report(20, 8000)
    # The clock is put back an hour without the device logging it (a firmware fault).
    device.clock = DeviceClock(device.utc_ms, device.now_ms - 3_600_000)
    device.advance(1000)
    silent = device.battery_report(20, 8000)
    device.power_off()
    download = _download(device)
    report = _verify(download.data)
    assert report.ok  # a warning, not an error: the examiner must explain it
    jumps = _of(report, Kind.CLOCK_JUMP)
    assert [(f.seq_first, f.severity) for f in jumps] == [(silent, Severity.WARNING)]
    assert "goes back 3599.000 s" in jumps[0].message
    assert jumps[0].offset == download.image.record_offset(_index(download.image, silent))


def test_a_wrapped_log_gives_log_wrap_infos() -> None:
    capacity = 16
    device = _device(capacity=capacity)
    device.power_on()
    wraps: list[tuple[int, int, int]] = []  # (seq of LOG_WRAP, first deleted, last deleted)
    for _ in range(40):
        first, last = device.first_seq, device.last_seq
        device.advance(1000)
        device.unholster()
        if device.first_seq != first:
            wraps.append((last + 1, first, device.first_seq - 1))
    download = _download(device)
    assert len(wraps) > 4  # the early LOG_WRAP records were themselves deleted
    kept = [w for w in wraps if w[0] >= device.first_seq]
    assert all(last - first + 1 == capacity // 4 for _, first, last in wraps)

    report = _verify(download.data)
    assert report.ok
    infos = _of(report, Kind.LOG_WRAP)
    assert [(f.seq_first, f.severity) for f in infos] == [(s, Severity.INFO) for s, _, _ in kept]
    for finding, (_, first, last) in zip(infos, kept, strict=True):
        assert f"{first}–{last}" in finding.message
    assert set(report.kinds()) == {Kind.LOG_WRAP}
    assert report.coverage.first_seq == device.first_seq > 1
    assert report.coverage.statement_covers == download.last_seq
    assert report.coverage.chained


def test_a_log_rebased_without_a_wrap_is_a_log_wrap_info(clean: Download) -> None:
    # Only the device key can sign a base that starts later: the device says its earlier
    # records are gone, and the verifier reports that as the device's own doing.
    image, first = clean.image, 9
    records = _records(image)
    before = chain_records(genesis_chain(SERIAL), b"".join(records[: first - 1]))
    base = signed_base(clean.key, SERIAL, first, before, image.base.device_time_ms)
    kept_seals = image.seals[image.seals["seq"] >= first]
    statement = image.statement
    assert statement is not None
    resigned = signed_statement(
        clean.key,
        SERIAL,
        statement.nonce,
        first,
        statement.last_seq,
        statement.chain,
        statement.device_time_ms,
        statement.seal_interval,
        statement.identity_sha256,
    )
    data = _rebuild(
        image,
        base=base,
        records=b"".join(records[first - 1 :]),
        seals=kept_seals.tobytes(),
        statement=resigned,
    )
    report = _verify(data)
    assert report.ok
    assert [(f.kind, f.seq_first) for f in report.findings] == [(Kind.LOG_WRAP, first)]
    assert f"starts at sequence {first}" in report.findings[0].message
    assert report.coverage.first_seq == first and report.coverage.chained


# -- records: CRC, gap, duplicate, reorder --------------------------------------------------


def test_a_crc_failure_names_its_record(clean: Download) -> None:
    records = _records(clean.image)
    seq = 10
    bad = bytearray(records[seq - 1])
    bad[20] ^= 0x40  # a payload bit, the CRC left as it was
    records[seq - 1] = bytes(bad)
    data = _rebuild(clean.image, records=b"".join(records))
    image = read_image(data)
    report = _verify(data)
    crc = _of(report, Kind.CRC)
    assert [(f.seq_first, f.seq_last, f.offset) for f in crc] == [
        (seq, seq, image.record_offset(seq - 1))
    ]
    assert crc[0].severity is Severity.ERROR
    assert report.coverage.verified == len(records) - 1
    # The chain breaks between the seals either side of it (8 and 12).
    assert [(f.seq_first, f.seq_last) for f in _of(report, Kind.CHAIN)] == [(9, 12)]
    assert report.coverage.sealed_up_to == 8
    assert report.coverage.statement_covers is None and not report.coverage.chained


def test_a_changed_record_with_its_crc_recomputed_breaks_the_chain(clean: Download) -> None:
    records = _records(clean.image)
    changed = bytearray(records[14])  # seq 15
    changed[4:12] = (int.from_bytes(changed[4:12], "little") - 3_600_000).to_bytes(8, "little")
    records[14] = _with_crc(bytes(changed))
    report = _verify(_rebuild(clean.image, records=b"".join(records)))
    assert _errors(report) == Counter({Kind.CHAIN: 1})
    assert [(f.seq_first, f.seq_last) for f in _of(report, Kind.CHAIN)] == [(13, 16)]
    assert report.coverage.sealed_up_to == 12


def test_a_gap_in_the_middle_names_the_missing_range(clean: Download) -> None:
    records = _records(clean.image)
    data = _rebuild(clean.image, records=b"".join(records[:9] + records[12:]))  # 10–12 gone
    image = read_image(data)
    report = _verify(data)
    gaps = _of(report, Kind.GAP)
    assert [(f.seq_first, f.seq_last) for f in gaps] == [(10, 12)]
    assert gaps[0].offset == image.record_offset(_index(image, 13))  # where 13 now stands
    assert "3 record(s) missing" in gaps[0].message
    assert Kind.CHAIN in report.kinds()
    assert Kind.DUPLICATE not in report.kinds() and Kind.REORDER not in report.kinds()
    assert report.coverage.verified == len(records) - 3


def test_a_cut_tail_under_the_kept_statement_is_a_gap(clean: Download) -> None:
    records = _records(clean.image)
    report = _verify(_rebuild(clean.image, records=b"".join(records[:-2])))
    gaps = _of(report, Kind.GAP)
    assert [(f.seq_first, f.seq_last) for f in gaps] == [(clean.last_seq - 1, clean.last_seq)]
    assert report.coverage.last_seq == clean.last_seq - 2
    assert report.coverage.statement_covers is None


def test_a_duplicate(clean: Download) -> None:
    records = _records(clean.image)
    data = _rebuild(clean.image, records=b"".join([*records[:10], records[9], *records[10:]]))
    image = read_image(data)
    report = _verify(data)
    duplicates = _of(report, Kind.DUPLICATE)
    assert [(f.seq_first, f.seq_last) for f in duplicates] == [(10, 10)]
    assert duplicates[0].offset == image.record_offset(10)  # the second copy
    assert "appears 2 times" in duplicates[0].message
    assert Kind.REORDER not in report.kinds() and Kind.GAP not in report.kinds()
    assert Kind.CHAIN in report.kinds()


def test_a_reorder(clean: Download) -> None:
    records = _records(clean.image)
    swapped = [*records[:9], records[10], records[9], *records[11:]]  # … 9, 11, 10, 12 …
    data = _rebuild(clean.image, records=b"".join(swapped))
    image = read_image(data)
    report = _verify(data)
    reorders = _of(report, Kind.REORDER)
    assert [(f.seq_first, f.offset) for f in reorders] == [(10, image.record_offset(10))]
    assert Kind.DUPLICATE not in report.kinds() and Kind.GAP not in report.kinds()
    assert [(f.seq_first, f.seq_last) for f in _of(report, Kind.CHAIN)] == [(9, 12)]
    # Coverage reports the first and last records in file order.
    assert (report.coverage.first_seq, report.coverage.last_seq) == (1, clean.last_seq)


def test_a_record_after_the_statement_is_named_in_order(
    clean: Download, ends_on_a_seal: Download
) -> None:
    for download in (clean, ends_on_a_seal):
        image, last = download.image, download.last_seq
        records = _records(image)
        extra = bytearray(records[-1])
        extra[0:4] = (last + 1).to_bytes(4, "little")
        report = _verify(_rebuild(image, records=b"".join([*records, _with_crc(bytes(extra))])))
        assert not report.ok
        ranges = [(f.seq_first, f.seq_last) for f in report.findings if f.seq_first is not None]
        assert all(last_ is None or first <= last_ for first, last_ in ranges), ranges
        # Some finding names the record the statement does not cover.
        assert any(first <= last + 1 <= (last_ or first) for first, last_ in ranges), ranges


# -- base, seals, statement ---------------------------------------------------------------


def test_a_base_resigned_at_1_with_a_non_genesis_value(clean: Download) -> None:
    base = signed_base(clean.key, SERIAL, 1, bytes(32), clean.image.base.device_time_ms)
    report = _verify(_rebuild(clean.image, base=base))
    assert Kind.SIGNATURE not in report.kinds()  # the base is genuinely signed …
    chain = _of(report, Kind.CHAIN)
    genesis = [f for f in chain if "genesis" in f.message]
    assert [(f.seq_first, f.offset) for f in genesis] == [
        (1, clean.image.spans["base"].offset + 4)  # chain_before
    ]
    # … and the records do not chain from it to the first seal.
    assert (1, INTERVAL) in [(f.seq_first, f.seq_last) for f in chain]
    assert report.coverage.sealed_up_to is None and not report.coverage.chained


def test_a_resigned_seal_with_a_wrong_chain_localises_the_break(clean: Download) -> None:
    image = clean.image
    seals = bytearray(image.section_bytes("seals"))
    index = 2  # the seal after seq 12, between the seals after 8 and 16
    seal = image.seal_list[index]
    assert seal.seq == 12
    forged = signed_seal(clean.key, SERIAL, seal.seq, bytes(32), seal.device_time_ms)
    seals[index * L.SEAL_SIZE : (index + 1) * L.SEAL_SIZE] = forged
    data = _rebuild(image, seals=bytes(seals))
    report = _verify(data)
    assert Kind.SIGNATURE not in report.kinds()  # only the chain value is wrong
    chain = _of(report, Kind.CHAIN)
    # The records before and after the bad seal cannot both be right: the break lies
    # between the neighbouring seals, after 8 and up to 16.
    assert [(f.seq_first, f.seq_last) for f in chain] == [(9, 12), (13, 16)]
    assert [f.offset for f in chain] == [image.record_offset(8), image.record_offset(12)]
    assert report.coverage.sealed_up_to == 8
    assert report.coverage.statement_covers is None


def test_a_seal_whose_signature_fails_is_named_and_skipped(clean: Download) -> None:
    seals = bytearray(clean.image.section_bytes("seals"))
    seals[L.SEAL_SIZE + 70] ^= 1  # the second seal's signature (seq 8)
    report = _verify(_rebuild(clean.image, seals=bytes(seals)))
    signature = _of(report, Kind.SIGNATURE)
    assert [(f.seq_first, f.offset) for f in signature] == [
        (8, clean.image.spans["seals"].offset + L.SEAL_SIZE)
    ]
    assert Kind.CHAIN not in report.kinds()
    assert report.coverage.chained  # the other seals and the statement still anchor the chain


def test_a_seal_the_interval_does_not_explain(clean: Download) -> None:
    image = clean.image
    records = _records(image)
    chain = chain_records(image.base.chain_before, b"".join(records[:6]))
    extra = signed_seal(clean.key, SERIAL, 6, chain, int(image.records["time_ms"][5]))
    seals = image.section_bytes("seals")
    data = _rebuild(image, seals=seals[: L.SEAL_SIZE] + extra + seals[L.SEAL_SIZE :])
    report = _verify(data)
    assert [(f.kind, f.seq_first) for f in report.findings] == [(Kind.SIGNATURE, 6)]
    assert "does not explain" in report.findings[0].message


def test_a_statement_that_does_not_start_at_the_base(clean: Download) -> None:
    statement = clean.image.statement
    assert statement is not None
    resigned = signed_statement(
        clean.key,
        SERIAL,
        statement.nonce,
        2,
        statement.last_seq,
        statement.chain,
        statement.device_time_ms,
        statement.seal_interval,
        statement.identity_sha256,
    )
    report = _verify(_rebuild(clean.image, statement=resigned))
    chain = _of(report, Kind.CHAIN)
    assert len(chain) == 1 and "starts at sequence 2" in chain[0].message
    assert not report.coverage.chained


def test_the_identity_changed_with_digests_recomputed(clean: Download) -> None:
    identity = dataclasses.replace(clean.image.identity, model="TL-99 (said to be)")
    report = _verify(_rebuild(clean.image, identity=identity))
    assert [(f.kind, f.severity, f.offset) for f in report.findings] == [
        (Kind.SIGNATURE, Severity.ERROR, clean.image.spans["identity"].offset)
    ]
    assert "identity" in report.findings[0].message
    assert report.coverage.chained  # the records are still the device's


def test_an_unknown_signature_algorithm_checks_no_signature(clean: Download) -> None:
    identity = dataclasses.replace(clean.image.identity, signature_algorithm=2)
    report = _verify(_rebuild(clean.image, identity=identity))
    signature = _of(report, Kind.SIGNATURE)
    assert any("unknown signature algorithm 2" in f.message for f in signature)
    assert any("base signature" in f.message for f in signature)
    assert any("statement signature" in f.message for f in signature)
    assert report.coverage.sealed_up_to is None and report.coverage.statement_covers is None


# -- downgrades: what stripping leaves behind --------------------------------------------


def test_a_stripped_statement_is_an_error(clean: Download) -> None:
    report = _verify(_rebuild(clean.image, strip_statement=True))
    assert _errors(report) == Counter({Kind.SIGNATURE: 1})
    assert "no download statement" in report.findings[0].message
    # The seals still vouch for the records up to the last of them; nothing vouches for
    # the rest.
    sealed = clean.last_seq // INTERVAL * INTERVAL
    assert report.coverage.sealed_up_to == sealed
    assert report.coverage.statement_covers is None and report.coverage.chained
    finding = report.findings[0]
    assert (finding.seq_first, finding.seq_last) == (sealed + 1, clean.last_seq)
    assert f"records {sealed + 1}–{clean.last_seq} are covered by no signature" in finding.message


def test_stripped_seals_are_an_error(clean: Download) -> None:
    report = _verify(_rebuild(clean.image, seals=b""))
    signature = _of(report, Kind.SIGNATURE)
    last = clean.last_seq // INTERVAL * INTERVAL
    assert [(f.seq_first, f.seq_last) for f in signature] == [(INTERVAL, last)]
    assert f"{last // INTERVAL} checkpoint(s) are missing" in signature[0].message
    assert not report.ok


def test_one_dropped_seal_is_named(clean: Download) -> None:
    seals = clean.image.section_bytes("seals")
    report = _verify(_rebuild(clean.image, seals=seals[: L.SEAL_SIZE] + seals[2 * L.SEAL_SIZE :]))
    assert [(f.kind, f.seq_first, f.seq_last) for f in report.findings] == [
        (Kind.SIGNATURE, 2 * INTERVAL, 2 * INTERVAL)
    ]


def test_stripped_seals_and_statement_are_an_error(clean: Download) -> None:
    report = _verify(_rebuild(clean.image, seals=b"", strip_statement=True))
    assert not report.ok
    assert report.coverage.sealed_up_to is None
    assert report.coverage.statement_covers is None


def test_an_image_whose_tail_and_statement_were_cut_is_an_error(clean: Download) -> None:
    records = _records(clean.image)
    report = _verify(_rebuild(clean.image, records=b"".join(records[:-5]), strip_statement=True))
    assert not report.ok
    assert report.coverage.last_seq == clean.last_seq - 5


# -- the acquisition ----------------------------------------------------------------------


def test_a_statement_for_another_nonce_is_stale(clean: Download) -> None:
    acquisition = dataclasses.replace(clean.image.acquisition, nonce=LATER_NONCE)
    report = _verify(_rebuild(clean.image, acquisition=acquisition))
    stale = _of(report, Kind.STALE_STATEMENT)
    assert [(f.severity, f.offset) for f in stale] == [
        (Severity.ERROR, clean.image.spans["statement"].offset)
    ]
    assert _errors(report) == Counter({Kind.STALE_STATEMENT: 1})


def test_changed_acquisition_bytes_fail_the_closing_digest(clean: Download) -> None:
    span = clean.image.spans["acquisition"]
    data = bytearray(clean.data)
    data[span.offset + 60] ^= 1  # in the clock source string
    report = _verify(bytes(data))
    assert [(f.kind, f.offset) for f in report.findings] == [
        (Kind.ACQUISITION_HASH, span.end - L.DIGEST_SIZE)
    ]


def test_changed_device_bytes_fail_both_digests(clean: Download) -> None:
    data = bytearray(clean.data)
    offset = clean.image.record_offset(3)
    data[offset : offset + 32] = _with_crc(bytes(data[offset : offset + 12]) + bytes(20))
    report = _verify(bytes(data))
    span = clean.image.spans["acquisition"]
    digests = _of(report, Kind.ACQUISITION_HASH)
    assert [f.offset for f in digests] == [span.end - 2 * L.DIGEST_SIZE, span.end - L.DIGEST_SIZE]
    assert Kind.CHAIN in report.kinds()


def test_the_acquisition_fields_are_only_checksummed(clean: Download) -> None:
    # A known limit of format version 1 (docs/integrity.md): with the keyless digests
    # recomputed, the host's own fields can be rewritten unnoticed — the time the statement
    # arrived (the clock anchor, and the time certificates are checked at) included.
    acquisition = dataclasses.replace(
        clean.image.acquisition,
        operator="someone else",
        workstation="ELSEWHERE",
        statement_utc_ms=clean.image.acquisition.statement_utc_ms - 86_400_000,
    )
    report = _verify(_rebuild(clean.image, acquisition=acquisition))
    assert report.ok and report.findings == ()


# -- keys and certificates ----------------------------------------------------------------


def test_signatures_by_another_key_fail(clean: Download) -> None:
    genuine = issue_device_credentials(SERIAL, dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    other = issue_device_credentials(
        SERIAL, dt.datetime(2025, 6, 1, tzinfo=dt.UTC), key_label="test_verify: a foreign key"
    )
    device = SimulatedDevice(
        DeviceSpec(SERIAL, seal_interval=INTERVAL),
        START,
        credentials=dataclasses.replace(other, certificates=genuine.certificates),
    )
    _shift(device, 3)
    report = _verify(device.download(NONCE))
    messages = [f.message for f in _of(report, Kind.SIGNATURE)]
    assert any("base signature" in m for m in messages)
    assert any("seal signature" in m for m in messages)
    assert any("statement signature" in m for m in messages)
    assert Kind.CERTIFICATE not in report.kinds()
    assert report.coverage.sealed_up_to is None and report.coverage.statement_covers is None


def test_a_certificate_expired_at_the_download(clean: Download) -> None:
    device = _device(manufactured=dt.datetime(2010, 1, 1, tzinfo=dt.UTC))  # valid to 2025
    _shift(device, 3)
    download = _download(device)
    report = _verify(download.data)
    certificate = _of(report, Kind.CERTIFICATE)
    assert len(certificate) == 1 and "expired on 2025-01-01" in certificate[0].message
    # The finding points at the device certificate's DER: after the count and its length.
    assert certificate[0].offset == download.image.spans["certificates"].offset + 3
    assert _errors(report) == Counter({Kind.CERTIFICATE: 1})
    assert report.coverage.chained  # the signatures are checked all the same


def test_a_new_key_certified_by_the_ca_verifies(clean: Download) -> None:
    # What the manufacturer's issuing CA key can do (docs/integrity.md): certify a new key
    # for an existing serial and sign any log with it.  Nothing in one image shows it.
    forged = issue_device_credentials(
        SERIAL, dt.datetime(2025, 6, 1, tzinfo=dt.UTC), key_label="test_verify: a CA's new key"
    )
    device = SimulatedDevice(DeviceSpec(SERIAL, seal_interval=INTERVAL), START, credentials=forged)
    _shift(device, 3)
    assert _verify(device.download(NONCE)).ok


# -- unreadable and truncated images ------------------------------------------------------


def test_a_truncated_image_is_a_finding(clean: Download) -> None:
    cut = clean.data[:-10]
    report = _verify(cut)
    assert [(f.kind, f.severity, f.offset) for f in report.findings] == [
        (Kind.TRUNCATED, Severity.ERROR, len(cut))
    ]
    assert report.coverage == Coverage(None, None, 0, False, None, None)
    assert str(report.coverage) == "no records"


def test_a_malformed_image_raises(clean: Download) -> None:
    with pytest.raises(FormatError):
        _verify(b"NOT A DATAPORT IMAGE" + clean.data)


def test_a_device_time_past_2_to_the_63_is_measured_right(clean: Download) -> None:
    records = _records(clean.image)
    changed = bytearray(records[4])  # seq 5
    changed[4:12] = (2**63 + 1000).to_bytes(8, "little")
    records[4] = _with_crc(bytes(changed))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = _verify(_rebuild(clean.image, records=b"".join(records)))
    jumps = _of(report, Kind.CLOCK_JUMP)
    assert [f.seq_first for f in jumps] == [6]
    step_ms = 2**63 + 1000 - int(clean.image.records["time_ms"][5])
    assert f"goes back {step_ms / 1000:.3f} s" in jumps[0].message


# -- the findings cap ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_log() -> Download:
    device = _device(interval=4096)
    device.power_on()
    for _ in range(1000):
        device.advance(1000)
        device.unholster()
    return _download(device)  # 1 003 records, no seal


def test_the_findings_cap_on_a_scrambled_log(long_log: Download) -> None:
    records = _records(long_log.image)
    scrambled: list[bytes] = []
    for i in range(0, len(records) - 1, 2):  # every pair swapped: 2, 1, 4, 3, …
        scrambled += [records[i + 1], records[i]]
    pairs = len(records) // 2
    report = _verify(_rebuild(long_log.image, records=b"".join(scrambled)))
    reorders = _of(report, Kind.REORDER)
    listed = [f for f in reorders if f.seq_first is not None]
    assert len(listed) == MAX_FINDINGS_PER_KIND
    more = [f for f in reorders if f.seq_first is None]
    assert len(more) == 1
    assert more[0].message == f"{pairs - MAX_FINDINGS_PER_KIND} more reorder findings not listed"
    assert more[0].severity is Severity.ERROR and more[0].offset is None
    assert str(more[0]) == f"error: reorder: {more[0].message}"
    assert len(report.findings) <= len(Kind) * (MAX_FINDINGS_PER_KIND + 1)


def test_the_findings_cap_counts_duplicates_left_out(long_log: Download) -> None:
    records = _records(long_log.image)
    doubled = [record for record in records for _ in range(2)]
    report = _verify(_rebuild(long_log.image, records=b"".join(doubled)))
    duplicates = _of(report, Kind.DUPLICATE)
    left = len(records) - MAX_FINDINGS_PER_KIND
    assert any(f.message == f"{left} more duplicate findings not listed" for f in duplicates)


# -- what the verifier takes from the reader ----------------------------------------------


def test_crcs_are_checked_whatever_the_reader_was_told(clean: Download) -> None:
    records = _records(clean.image)
    bad = bytearray(records[9])
    bad[20] ^= 0x40
    records[9] = bytes(bad)
    data = _rebuild(clean.image, records=b"".join(records))
    report = _verify(read_image(data, crc=CrcCheck.SKIP))
    assert report == _verify(data)


def test_one_flipped_sequence_bit_does_not_exhaust_memory(clean: Download, tmp_path: Path) -> None:
    data = bytearray(clean.data)
    data[clean.image.record_offset(3) + 3] ^= 0x80  # seq 4 → 2**31 + 4
    path = tmp_path / "flipped.tdi"
    path.write_bytes(bytes(data))
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from taserlink.integrity import TrustStore, verify_image\n"
        "report = verify_image(sys.argv[1], TrustStore(()))\n"
        "print(sorted({f.kind.value for f in report.findings}))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert "crc" in done.stdout


# -- every byte: what an attacker holding only the file can do ----------------------------


def _flip_report(data: bytes, offset: int, mask: int) -> Report | None:
    """Verify ``data`` with byte ``offset`` XORed with ``mask`` and the digests recomputed;
    ``None`` when the result is not readable at all (a ``FormatError``)."""
    flipped = bytearray(data)
    flipped[offset] ^= mask
    try:
        return _verify(_redigest(flipped))
    except FormatError:
        return None


FLIPS = (0x01, 0x80)
"""The bits flipped in every byte: the lowest and the highest (a seq field's high bit asks a
careless verifier for gigabytes)."""


@pytest.fixture(scope="module")
def tiny() -> Download:
    device = _device()
    device.power_on()
    for _ in range(4):
        device.advance(1000)
        device.unholster()
    return _download(device)  # 7 records, one seal


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # see the 2**63 test
def test_every_device_byte_is_covered_beyond_the_keyless_digests(tiny: Download) -> None:
    # The systemd-journal tamper test, for every section but the acquisition (whose fields
    # are only checksummed, see test_the_acquisition_fields_are_only_checksummed): flip a
    # bit of each byte, recompute the keyless acquisition digests as anyone can, and the
    # change must still be unreadable or an error.
    image = tiny.image
    assert _verify(_redigest(tiny.data)).ok
    unnoticed = []
    for name in ("header", "identity", "base", "records", "seals", "statement"):
        span = image.spans[name]
        for offset in range(span.offset, span.end):
            for mask in FLIPS:
                report = _flip_report(tiny.data, offset, mask)
                if report is not None and report.ok:
                    unnoticed.append((name, offset - span.offset, mask))
    assert unnoticed == []


@pytest.mark.slow
def test_every_certificate_byte_is_a_finding_never_a_crash(tiny: Download) -> None:
    span = tiny.image.spans["certificates"]
    problems: list[tuple[int, int, str]] = []
    for offset in range(span.offset, span.end):
        for mask in FLIPS:
            try:
                report = _flip_report(tiny.data, offset, mask)
            except Exception as error:  # every escape is a problem to list
                problems.append((offset - span.offset, mask, type(error).__name__))
                continue
            if report is not None and report.ok:
                problems.append((offset - span.offset, mask, "unnoticed"))
    assert problems == []


# -- Finding and Coverage as text ---------------------------------------------------------


def test_finding_text() -> None:
    gap = Finding(Kind.GAP, Severity.ERROR, 10, 12, 1494, "3 record(s) missing")
    assert str(gap) == "error: gap (seq 10–12, offset 1494): 3 record(s) missing"
    one = Finding(Kind.CLOCK_SET, Severity.INFO, 125, 125, 5174, "clock set by -140.236 s")
    assert str(one) == "info: clock_set (seq 125, offset 5174): clock set by -140.236 s"
    whole = Finding(Kind.CONTINUITY, Severity.ERROR, None, None, None, "different devices")
    assert str(whole) == "error: continuity: different devices"
    at = Finding(Kind.SIGNATURE, Severity.ERROR, None, None, 40, "the identity …")
    assert str(at) == "error: signature (offset 40): the identity …"
    assert gap.as_dict() == {
        "kind": "gap",
        "severity": "error",
        "seq_first": 10,
        "seq_last": 12,
        "offset": 1494,
        "message": "3 record(s) missing",
    }


def test_coverage_text(clean: Download) -> None:
    text = str(_verify(clean.data).coverage)
    last, sealed = clean.last_seq, clean.last_seq // INTERVAL * INTERVAL
    assert text == (
        f"records 1–{last} ({last} with valid CRC), chained to the base, "
        f"sealed up to {sealed}, statement covers {last}"
    )
    broken = Coverage(1, 24, 23, False, None, None)
    assert str(broken) == (
        "records 1–24 (23 with valid CRC), chain broken, no valid seal, "
        "no valid statement the records chain to"
    )
    assert Coverage(1, 24, 24, True, 24, 24).as_dict() == {
        "first_seq": 1,
        "last_seq": 24,
        "verified": 24,
        "chained": True,
        "sealed_up_to": 24,
        "statement_covers": 24,
    }


def test_coverage_text_without_a_statement_does_not_claim_a_break(clean: Download) -> None:
    report = _verify(_rebuild(clean.image, strip_statement=True))
    assert Kind.CHAIN not in report.kinds()
    assert "broken" not in str(report.coverage)


def test_report_helpers(clean: Download) -> None:
    acquisition = dataclasses.replace(clean.image.acquisition, nonce=LATER_NONCE)
    report = _verify(_rebuild(clean.image, acquisition=acquisition))
    assert not report.ok
    assert report.kinds() == {Kind.STALE_STATEMENT}
    assert report.by_severity(Severity.ERROR) == report.findings
    assert report.by_severity(Severity.INFO) == ()


# -- continuity ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_downloads() -> tuple[Download, Download]:
    device = _device()
    _shift(device, 3)
    first = _download(device)
    device.advance(3_600_000)
    _shift(device, 2)
    return first, _download(device, LATER_NONCE)


def test_consecutive_downloads_continue(two_downloads: tuple[Download, Download]) -> None:
    first, second = two_downloads
    assert verify_continuity(first.image, second.image) == ()
    assert verify_continuity(first.image, first.image) == ()


def test_downloads_in_the_wrong_order(two_downloads: tuple[Download, Download]) -> None:
    first, second = two_downloads
    found = verify_continuity(second.image, first.image)
    assert [(f.kind, f.severity) for f in found] == [(Kind.CONTINUITY, Severity.ERROR)]
    assert f"ends at {first.last_seq}" in found[0].message
    assert found[0].offset == first.image.spans["statement"].offset


def test_downloads_of_different_devices(two_downloads: tuple[Download, Download]) -> None:
    other = _device(serial=OTHER_SERIAL)
    _shift(other, 1)
    found = verify_continuity(two_downloads[0].image, _download(other).image)
    assert [f.kind for f in found] == [Kind.CONTINUITY]
    assert "different devices" in found[0].message


def test_a_rewritten_history_verifies_alone_but_not_against_the_archive(
    two_downloads: tuple[Download, Download],
) -> None:
    # Someone holding the device key writes a history of their own for the same serial
    # (here: a second simulated device with the same serial, hence the same TEST key).
    first, _ = two_downloads
    twin = _device()
    twin.power_on()
    for _ in range(8):
        twin.advance(2 * MINUTE)
        twin.unholster()
    forged = _download(twin, LATER_NONCE)
    assert forged.last_seq > first.last_seq  # it goes on from where the archive ended
    assert _verify(forged.data).ok  # nothing in the image itself shows it
    found = verify_continuity(first.image, forged.image)
    assert {f.kind for f in found} == {Kind.CONTINUITY}
    differ = [f for f in found if "differ" in f.message]
    assert len(differ) == 1 and differ[0].seq_first is not None and differ[0].seq_first >= 2
    rewritten = [f for f in found if "history was rewritten" in f.message]
    assert [f.seq_first for f in rewritten] == [first.last_seq]


def test_a_changed_device_certificate_between_downloads_is_a_warning(
    two_downloads: tuple[Download, Download],
) -> None:
    first, second = two_downloads
    other = issue_device_credentials(SERIAL, dt.datetime(2025, 9, 1, tzinfo=dt.UTC))
    later = read_image(_rebuild(second.image, certificates=other.certificates))
    found = verify_continuity(first.image, later)
    assert [(f.kind, f.severity) for f in found] == [(Kind.CONTINUITY, Severity.WARNING)]
    assert "certificate changed" in found[0].message


def test_a_wrap_between_downloads_continues() -> None:
    device = _device(capacity=16)
    device.power_on()
    device.unholster()
    first = _download(device)
    for _ in range(40):
        device.unholster()
    second = _download(device, LATER_NONCE)
    assert second.image.base.first_seq > first.last_seq + 1
    assert verify_continuity(first.image, second.image) == ()
    # Without the LOG_WRAP records the lost records are unexplained (a structural edit:
    # the continuity check reads the records, not the signatures).
    kept = second.image.records[second.image.records["code"] != EventCode.LOG_WRAP]
    edited = read_image(_rebuild(second.image, records=kept.tobytes()))
    found = verify_continuity(first.image, edited)
    assert [(f.kind, f.seq_first, f.seq_last) for f in found] == [
        (Kind.CONTINUITY, first.last_seq + 1, second.image.base.first_seq - 1)
    ]
    assert "logged no wrap" in found[0].message


# -- docs/integrity.md stays true ---------------------------------------------------------

DOC = ROOT / "docs" / "integrity.md"


def test_the_doc_describes_every_kind_with_its_severity() -> None:
    text = DOC.read_text(encoding="utf-8")
    described = dict(re.findall(r"^### `(\w+)` — (error|warning|info)$", text, re.MULTILINE))
    assert described == {kind.value: DEFAULT_SEVERITY[kind].value for kind in Kind}
    assert f"at most {MAX_FINDINGS_PER_KIND} times" in text


def _doc_block_after(text: str, marker: str) -> str:
    start = text.index("```text\n", text.index(marker)) + len("```text\n")
    return text[start : text.index("```", start)]


def test_the_doc_examples_are_what_the_verifier_says() -> None:
    text = DOC.read_text(encoding="utf-8")
    trust = TrustStore.from_paths([CAPTURES / "test-root.pem"])
    # The bundled clock-drift capture, as printed.
    block = _doc_block_after(text, "The bundled `captures/clock-drift.tdi`")
    report = verify_image(CAPTURES / "clock-drift.tdi", trust)
    assert f"coverage  {report.coverage}\n" in block
    for finding in report.findings:
        seq = "-" if finding.seq_first is None else finding.seq_first
        assert f"{finding.kind.value:<16}  seq {seq}" in block
        assert f"offset {finding.offset}  {finding.message}\n" in block
    # The DEPLOY (seq 16) of incident-shift with another cartridge serial, CRC and digests
    # recomputed.
    block = _doc_block_after(text, "An image whose `DEPLOY` record (seq 16)")
    image = read_image(CAPTURES / "incident-shift.tdi")
    records = _records(image)
    index = _index(image, 16)
    deploy = bytearray(records[index])
    assert int.from_bytes(deploy[12:14], "little") == EventCode.DEPLOY
    deploy[15:25] = b"SVRKP94ZTX"
    records[index] = _with_crc(bytes(deploy))
    report = verify_image(_rebuild(image, records=b"".join(records)), trust)
    assert f"coverage  {report.coverage}\n" in block
    assert [(f.kind, f.seq_first, f.seq_last) for f in report.findings] == [
        (Kind.CHAIN, 1, 16),
        (Kind.ACQUISITION_HASH, None, None),  # the version-1 warning
    ]
    for finding in report.findings:
        assert f"offset {finding.offset}  {finding.message}\n" in block
