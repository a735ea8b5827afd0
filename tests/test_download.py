"""Whole downloads through the emulated pyusb backend: faults everywhere, nothing lost.

Every test downloads a simulated device through the real pyusb path
(:class:`~taserlink.emulator.usb.EmulatedBackend`).  The fault grid strikes every fault kind
of the contract at points spread over a download — identify, certificates, base, the first,
a middle and the last chunk of records, both chunks of seals, the statement and what is read
after it — and checks, for each: the download completes or raises a typed
:class:`~taserlink.errors.DeviceError`; a partial left behind holds only the device's own
bytes; a second download resumes and completes; and the image's sections identity … seals
equal those of an uninterrupted download of an identical device (built from the same seed),
record by record, the records the faults added (a second ``USB_CONNECT`` after a re-plug, a
second ``DOWNLOAD`` after a lost statement, the ``POWER_ON`` of a clock reset) aside.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import pytest

from taserlink.device.download import (
    DownloadResult,
    download,
    good_prefix,
    image_name,
    load_partial,
)
from taserlink.device.session import RetryPolicy
from taserlink.device.usb_host import UsbLink, find_device, open_link
from taserlink.emulator import SimulatedDevice
from taserlink.emulator.faults import Fault, FaultKind, FaultPlan
from taserlink.emulator.scenarios import HOUR, new_device
from taserlink.emulator.usb import EmulatedBackend
from taserlink.errors import DeviceDisconnected, DeviceError, DeviceTimeout, ProtocolError
from taserlink.format import EventCode, Image, read_image
from taserlink.format import layout as L
from taserlink.format.image import decode_base, encode_base, encode_identity
from taserlink.integrity import Severity, TrustStore, verify_image
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.usb import protocol as P
from tests.conftest import CAPTURES

TRUST = TrustStore.from_paths([CAPTURES / "test-root.pem"])
FAST = RetryPolicy(attempts=4, timeout_ms=50, backoff_s=0.0002, backoff_max_s=0.001, total_s=5)
NONCE = bytes(range(100, 132))


class HostFields(TypedDict):
    operator: str
    workstation: str
    clock_source: str


HOST = HostFields(operator="PS 0001 (test)", workstation="TEST-01", clock_source="test clock")
ADDED_BY_FAULTS = {EventCode.USB_CONNECT, EventCode.DOWNLOAD, EventCode.POWER_ON}
"""Records a fault may add to the log: a re-plug, a re-sent statement, a clock reset."""


def build_device(seed: int = 5) -> SimulatedDevice:
    """A device whose log wrapped once and holds ~850 records (four chunks) and ~105 seals
    (two chunks), with room for a few more records before it wraps again."""
    rng = random.Random(f"test-download/{seed}")
    device = new_device(rng, log_capacity=1024, seal_interval=8)
    device.insert_cartridge(1, CARTRIDGE_SCHEME.generate(rng, "S"))
    while device.last_seq < 1100:
        device.power_on()
        device.battery_report(rng.randint(10, 30), rng.randint(7400, 8300))
        for _ in range(rng.randint(3, 8)):
            device.advance(rng.randint(60_000, HOUR))
            device.unholster()
            device.advance(rng.randint(1000, 20_000))
            if rng.random() < 0.3:
                device.arm()
                device.laser_on()
                device.advance(rng.randint(1000, 9000))
                device.safe()
            device.holster()
        device.power_off()
        device.advance(8 * HOUR)
    assert device.first_seq > 1 and device.record_count < device.spec.log_capacity - 10
    return device


def fetch(
    backend: EmulatedBackend,
    out: Path,
    serial: str,
    *,
    nonce: bytes | None = NONCE,
    progress: list[tuple[str, int, int]] | None = None,
) -> DownloadResult:
    return download(
        find_device(serial, backend=backend),
        out,
        **HOST,
        nonce=nonce,
        policy=FAST,
        progress=None if progress is None else (lambda *a: progress.append(a)),
    )


@dataclass(frozen=True)
class Reference:
    """An uninterrupted download of a fresh device, and where each request fell."""

    image: Image
    pre_last_seq: int
    """The device's last sequence before the download."""
    transfers: tuple[tuple[str, str], ...]
    """(command, "out"/"in") of each bulk transfer, by index."""

    def index(self, command: str, occurrence: int, direction: str) -> int:
        outs = [i for i, (c, d) in enumerate(self.transfers) if c == command and d == "out"]
        out = outs[occurrence]
        return out if direction == "out" else out + 1


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    device = build_device()
    pre_last = device.last_seq
    backend = EmulatedBackend([device])
    result = fetch(backend, tmp_path_factory.mktemp("reference"), device.spec.serial)
    transfers = []
    for transfer in backend.device(device.spec.serial).history:
        if transfer.endpoint == P.EP_OUT:
            command = P.Command(P.decode_frame(transfer.data).command).name
            transfers.append((command, "out"))
        else:
            transfers.append((transfers[-1][0], "in"))
    return Reference(read_image(result.path), pre_last, tuple(transfers))


# -- checks ---------------------------------------------------------------------------


def seals_upto(seals: bytes, last_seq: int) -> bytes:
    return b"".join(
        seals[i : i + L.SEAL_SIZE]
        for i in range(0, len(seals), L.SEAL_SIZE)
        if int.from_bytes(seals[i : i + 4], "little") <= last_seq
    )


def assert_device_sections_match(image: Image, device: SimulatedDevice, ref: Reference) -> None:
    """identity … seals as an uninterrupted download would have them."""
    for name in ("identity", "certificates", "base"):
        assert image.section_bytes(name) == ref.image.section_bytes(name), name
    assert image.statement is not None
    last = image.statement.last_seq
    records = image.section_bytes("records")
    # Every record is the device's own, and the log is whole up to the statement.
    assert records == device.records_bytes(device.first_seq, last - device.first_seq + 1)
    assert image.section_bytes("seals") == seals_upto(device.seals_bytes(), last)
    # The same as the reference download's, up to where the download began …
    before = (ref.pre_last_seq - image.base.first_seq + 1) * L.RECORD_SIZE
    assert records[:before] == ref.image.section_bytes("records")[:before]
    assert seals_upto(image.section_bytes("seals"), ref.pre_last_seq) == seals_upto(
        ref.image.section_bytes("seals"), ref.pre_last_seq
    )
    # … and after it only the records faults may add (and the download's own).
    added = {
        EventCode(int(c)) for c in image.records["code"][image.records["seq"] > ref.pre_last_seq]
    }
    assert added <= ADDED_BY_FAULTS and EventCode.DOWNLOAD in added
    same_nonce = image.acquisition.nonce == ref.image.acquisition.nonce
    if same_nonce and len(image.records) == len(ref.image.records):  # nothing added
        end, ref_end = image.spans["acquisition"].offset, ref.image.spans["acquisition"].offset
        assert image.data[:end] == ref.image.data[:ref_end]  # header … statement


def assert_partial_intact(out: Path, device: SimulatedDevice) -> int | None:
    """The partial (if any) holds the device's own bytes; returns its next sequence."""
    directory = out / f"{device.spec.serial}.partial"
    if not directory.exists():
        return None
    state = json.loads((directory / "state.json").read_text())
    records = (directory / "records.bin").read_bytes()
    base = decode_base((directory / "base.bin").read_bytes())
    assert (directory / "identity.bin").read_bytes() == encode_identity(device.identity)
    assert encode_base(base) == encode_base(device.base)
    assert len(records) % L.RECORD_SIZE == 0
    count = len(records) // L.RECORD_SIZE
    assert state["serial"] == device.spec.serial
    assert records == device.records_bytes(base.first_seq, count)
    return base.first_seq + count


def no_errors(image_path: Path) -> list[str]:
    report = verify_image(image_path, TRUST)
    return [str(f) for f in report.findings if f.severity is Severity.ERROR]


# -- a clean download -----------------------------------------------------------------


def test_clean_download_verifies_and_reports_progress(tmp_path: Path, reference: Reference) -> None:
    device = build_device()
    backend = EmulatedBackend([device])
    seen: list[tuple[str, int, int]] = []
    result = fetch(backend, tmp_path, device.spec.serial, nonce=None, progress=seen)
    assert no_errors(result.path) == []
    image = read_image(result.path)
    assert result.records == len(image.records) == device.record_count
    assert (result.first_seq, result.last_seq) == (device.first_seq, device.last_seq)
    assert result.resumed_from is None and result.serial == device.spec.serial
    assert result.path.name.startswith(f"{device.spec.serial}-")
    assert sorted(os.listdir(tmp_path)) == [result.path.name]  # no partial, no temp file
    assert_device_sections_match(image, device, reference)
    # The acquisition: fresh nonce, the tool, the host, times in order.
    acquisition = image.acquisition
    assert image.statement is not None and image.statement.nonce == acquisition.nonce != NONCE
    assert acquisition.tool_version.startswith("taserlink ")
    assert (acquisition.operator, acquisition.workstation) == (
        HOST["operator"],
        HOST["workstation"],
    )
    assert acquisition.clock_source == HOST["clock_source"]
    assert (
        acquisition.host_utc_start_ms <= acquisition.statement_utc_ms <= acquisition.host_utc_end_ms
    )
    # Progress: per chunk, never backwards, ending at every record.
    assert {s for s, _, _ in seen} == {device.spec.serial}
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and done[-1] == seen[-1][2] == result.records
    assert len(seen) >= 5


def test_images_are_named_by_serial_and_utc_and_never_replaced(tmp_path: Path) -> None:
    device = build_device()
    backend = EmulatedBackend([device])
    fixed = 1_780_000_000.0

    def clock() -> float:
        return fixed

    first = download(find_device(backend=backend), tmp_path, **HOST, policy=FAST, host_clock=clock)
    second = download(find_device(backend=backend), tmp_path, **HOST, policy=FAST, host_clock=clock)
    stem = image_name(device.spec.serial, int(fixed * 1000))
    assert stem.endswith("-20260528T202640Z")
    assert (first.path.name, second.path.name) == (f"{stem}.tdi", f"{stem}-2.tdi")
    assert read_image(first.path).acquisition.nonce != read_image(second.path).acquisition.nonce


# -- the fault grid -------------------------------------------------------------------

POINTS = [
    ("IDENTIFY", 0, "out"),
    ("IDENTIFY", 0, "in"),
    ("READ_CERTIFICATES", 0, "in"),
    ("READ_BASE", 0, "out"),
    ("READ_RECORDS", 0, "in"),
    ("READ_RECORDS", 2, "out"),
    ("READ_RECORDS", 2, "in"),
    ("READ_RECORDS", -2, "in"),
    ("READ_SEALS", 0, "in"),
    ("READ_SEALS", 1, "out"),
    ("SIGN_STATEMENT", 0, "out"),
    ("SIGN_STATEMENT", 0, "in"),
    ("READ_SEALS", -1, "in"),
    ("READ_RECORDS", -1, "out"),
    ("READ_RECORDS", -1, "in"),
]
"""Where faults strike: (request, which of its kind, direction).  The last READ_RECORDS and
READ_SEALS are those after the statement."""


def _point_id(point: tuple[str, int, str]) -> str:
    return f"{point[0].lower()}{point[1]}-{point[2]}"


def run_with_faults(
    tmp_path: Path, faults: list[Fault]
) -> tuple[SimulatedDevice, DownloadResult, DeviceError | None, int | None]:
    """Download with ``faults``; on a typed error check the partial, re-plug, resume."""
    device = build_device()
    serial = device.spec.serial
    backend = EmulatedBackend([device], {serial: FaultPlan(faults)})
    try:
        return device, fetch(backend, tmp_path, serial), None, None
    except DeviceError as error:
        failure = error
    partial_next = assert_partial_intact(tmp_path, device)
    if backend.devices:
        backend.detach(serial)
    backend.attach(device)  # plugged in again, no faults this time
    result = fetch(backend, tmp_path, serial)
    assert not (tmp_path / f"{serial}.partial").exists()
    return device, result, failure, partial_next


@pytest.mark.parametrize("point", POINTS, ids=_point_id)
@pytest.mark.parametrize("kind", list(FaultKind), ids=lambda k: k.value)
def test_one_fault_anywhere(
    tmp_path: Path, reference: Reference, kind: FaultKind, point: tuple[str, int, str]
) -> None:
    at = reference.index(*point)
    device, result, failure, partial_next = run_with_faults(
        tmp_path, [Fault(kind, at, delay_s=0.0005)]
    )
    image = read_image(result.path)
    if kind is FaultKind.DISCONNECT:
        assert isinstance(failure, DeviceDisconnected)
        assert result.resumed_from == (
            partial_next if partial_next != image.base.first_seq else None
        )
    else:
        assert failure is None, f"{kind.value} at transfer {at} was not absorbed: {failure!r}"
    if kind is FaultKind.TAMPER:
        # The model's middle record was altered at transfer ``at``: the image holds it if
        # it was read afterwards, and then (only then) fails verification.
        ref = reference.image.section_bytes("records")
        ours = image.section_bytes("records")[: len(ref) - 2 * L.RECORD_SIZE]
        changed = ours != ref[: len(ours)]
        errors = no_errors(result.path)
        assert bool(errors) == changed
        assert not changed or any("chain" in e for e in errors)
        return
    assert_device_sections_match(image, device, reference)
    assert no_errors(result.path) == []


EXHAUSTING = [
    (FaultKind.TIMEOUT, DeviceTimeout),
    (FaultKind.DROP, DeviceTimeout),
    (FaultKind.CORRUPT, ProtocolError),
    (FaultKind.SHORT_READ, ProtocolError),
    (FaultKind.STALL, ProtocolError),
]


@pytest.mark.parametrize("point", POINTS[::2], ids=_point_id)
@pytest.mark.parametrize(("kind", "error"), EXHAUSTING, ids=lambda k: getattr(k, "value", ""))
def test_faults_that_outlast_the_retries_leave_a_partial_that_resumes(
    tmp_path: Path,
    reference: Reference,
    kind: FaultKind,
    error: type[DeviceError],
    point: tuple[str, int, str],
) -> None:
    at = reference.index(*point)
    device, result, failure, partial_next = run_with_faults(tmp_path, [Fault(kind, at, count=100)])
    assert isinstance(failure, error), failure
    image = read_image(result.path)
    if partial_next is not None and partial_next > image.base.first_seq:
        assert result.resumed_from == partial_next
    assert_device_sections_match(image, device, reference)


def test_tamper_before_the_records_are_read_fails_verification(tmp_path: Path) -> None:
    device = build_device()
    backend = EmulatedBackend(
        [device], {device.spec.serial: FaultPlan([Fault(FaultKind.TAMPER, 0)])}
    )
    result = fetch(backend, tmp_path, device.spec.serial)
    errors = no_errors(result.path)
    assert errors and all("chain" in e or "crc" in e for e in errors)


def test_random_faults_all_along_are_absorbed(tmp_path: Path, reference: Reference) -> None:
    transfers = len(reference.transfers) + 20
    for seed in range(3):
        plan = FaultPlan.random(seed, transfers=transfers, rate=0.2, delay_s=0.0005)
        device = build_device()
        backend = EmulatedBackend([device], {device.spec.serial: plan})
        result = fetch(backend, tmp_path / str(seed), device.spec.serial)
        assert_device_sections_match(read_image(result.path), device, reference)


# -- resume in detail -----------------------------------------------------------------


def interrupted(
    tmp_path: Path, command: str = "READ_RECORDS", occurrence: int = 2
) -> tuple[SimulatedDevice, EmulatedBackend, Path]:
    """A download cut by a disconnect at the answer of the given request; re-plugged."""
    device = build_device()
    serial = device.spec.serial
    probe = EmulatedBackend([build_device()])
    fetch(probe, tmp_path / "probe", serial)
    outs = [
        t.index
        for t in probe.device(serial).history
        if t.endpoint == P.EP_OUT and P.decode_frame(t.data).command == P.Command[command]
    ]
    backend = EmulatedBackend(
        [device], {serial: FaultPlan([Fault(FaultKind.DISCONNECT, outs[occurrence] + 1)])}
    )
    with pytest.raises(DeviceDisconnected):
        fetch(backend, tmp_path, serial)
    backend.attach(device)
    return device, backend, tmp_path / f"{serial}.partial"


def test_resume_continues_after_the_last_good_record(tmp_path: Path, reference: Reference) -> None:
    device, backend, partial = interrupted(tmp_path)
    held = len((partial / "records.bin").read_bytes()) // L.RECORD_SIZE
    assert held == 2 * P.RECORDS_PER_READ
    result = fetch(backend, tmp_path, device.spec.serial)
    assert result.resumed_from == device.first_seq + held
    assert_device_sections_match(read_image(result.path), device, reference)
    assert no_errors(result.path) == []
    # The resumed download asked for no record it already had (but the one it checks).
    asked = [
        P.READ_RECORDS.parse(P.decode_frame(t.data).payload).from_seq
        for t in backend.device(device.spec.serial).history
        if t.endpoint == P.EP_OUT and P.decode_frame(t.data).command == P.Command.READ_RECORDS
    ]
    assert min(asked) == device.first_seq + held - 1


@pytest.mark.parametrize("damage", ["torn", "crc", "sequence"])
def test_a_damaged_partial_is_cut_at_its_last_good_record(
    tmp_path: Path, reference: Reference, damage: str
) -> None:
    device, backend, partial = interrupted(tmp_path)
    records = bytearray((partial / "records.bin").read_bytes())
    if damage == "torn":
        records = records[:-5]
        good = len(records) // L.RECORD_SIZE
    elif damage == "crc":
        records[100 * L.RECORD_SIZE + 20] ^= 0x10
        good = 100
    else:
        records[300 * L.RECORD_SIZE : 301 * L.RECORD_SIZE] = records[
            299 * L.RECORD_SIZE : 300 * L.RECORD_SIZE
        ]
        good = 300
    (partial / "records.bin").write_bytes(bytes(records))
    loaded = load_partial(partial, device.spec.serial)
    assert loaded is not None and loaded.count == good
    result = fetch(backend, tmp_path, device.spec.serial)
    assert result.resumed_from == device.first_seq + good
    assert_device_sections_match(read_image(result.path), device, reference)


def test_a_partial_of_another_log_is_not_trusted(tmp_path: Path, reference: Reference) -> None:
    device, backend, partial = interrupted(tmp_path)
    # The device answers differently for the partial's last record: a reset device.
    records = bytearray((partial / "records.bin").read_bytes())
    last = len(records) - L.RECORD_SIZE
    records[last + 4] ^= 1  # a different time, CRC fixed: valid but not the device's
    body = bytes(records[last : last + 28])
    records[last + 28 : last + 32] = L.record_crc(body).to_bytes(4, "little")
    (partial / "records.bin").write_bytes(bytes(records))
    result = fetch(backend, tmp_path, device.spec.serial)
    assert result.resumed_from is None
    assert_device_sections_match(read_image(result.path), device, reference)


@pytest.mark.parametrize("damage", ["state", "serial", "base"])
def test_an_unreadable_partial_is_discarded(
    tmp_path: Path, reference: Reference, damage: str
) -> None:
    device, backend, partial = interrupted(tmp_path)
    if damage == "state":
        (partial / "state.json").write_text("{not json")
    elif damage == "serial":
        state = json.loads((partial / "state.json").read_text())
        state["serial"] = "D000000000"
        (partial / "state.json").write_text(json.dumps(state))
    else:
        (partial / "base.bin").write_bytes(b"\x00" * 7)
    assert load_partial(partial, device.spec.serial) is None
    result = fetch(backend, tmp_path, device.spec.serial)
    assert result.resumed_from is None
    assert_device_sections_match(read_image(result.path), device, reference)


def test_resume_after_the_log_wrapped_keeps_what_is_still_retained(tmp_path: Path) -> None:
    device, backend, partial = interrupted(tmp_path, occurrence=3)
    old_first = device.first_seq
    held = len((partial / "records.bin").read_bytes()) // L.RECORD_SIZE
    # Meanwhile the officer's shifts go on: the log fills and deletes its oldest quarter.
    serial = device.spec.serial
    backend.detach(serial)
    while device.first_seq == old_first:
        device.battery_report(20, 8000)
        device.advance(60_000)
    backend.attach(device)
    assert old_first < device.first_seq < old_first + held
    result = fetch(backend, tmp_path, serial)
    assert result.resumed_from == old_first + held
    image = read_image(result.path)
    assert image.base.first_seq == device.first_seq
    assert image.section_bytes("records") == device.records_bytes()
    assert no_errors(result.path) == []


def test_resume_after_the_log_wrapped_past_the_partial_starts_afresh(tmp_path: Path) -> None:
    device, backend, partial = interrupted(tmp_path, occurrence=1)
    held = len((partial / "records.bin").read_bytes()) // L.RECORD_SIZE
    serial = device.spec.serial
    backend.detach(serial)
    target = device.first_seq + held + 10
    while device.first_seq < target:
        device.battery_report(20, 8000)
    backend.attach(device)
    result = fetch(backend, tmp_path, serial)
    assert result.resumed_from is None
    assert read_image(result.path).section_bytes("records") == device.records_bytes()
    assert no_errors(result.path) == []


def full_device() -> SimulatedDevice:
    """A device one record short of a full log: the download's own records wrap it."""
    device = build_device()
    while device.record_count < device.spec.log_capacity - 1:
        device.battery_report(20, 8000)
        device.advance(60_000)
    return device


def test_a_log_that_wraps_at_the_statement(tmp_path: Path) -> None:
    device = full_device()
    first = device.first_seq
    backend = EmulatedBackend([device])
    result = fetch(backend, tmp_path, device.spec.serial)
    assert device.first_seq == first + device.spec.log_capacity // 4  # DOWNLOAD wrapped it
    image = read_image(result.path)
    assert image.base.first_seq == device.first_seq == result.first_seq
    assert encode_base(image.base) == encode_base(device.base)
    assert image.section_bytes("records") == device.records_bytes()
    assert image.section_bytes("seals") == device.seals_bytes()
    assert no_errors(result.path) == []


def test_a_log_that_wraps_before_its_first_records_are_read(tmp_path: Path) -> None:
    # A clock reset logs POWER_ON as the first READ_RECORDS arrives: the full log deletes
    # its oldest quarter, the device answers NOT_RETAINED, the download moves to the new base.
    device = full_device()
    first = device.first_seq
    plan = FaultPlan([Fault(FaultKind.CLOCK_RESET, 6)])  # the first READ_RECORDS request
    backend = EmulatedBackend([device], {device.spec.serial: plan})
    result = fetch(backend, tmp_path, device.spec.serial)
    asked = [
        P.decode_frame(t.data)
        for t in backend.device(device.spec.serial).history
        if t.endpoint == P.EP_OUT
    ]
    assert asked[3].command == P.Command.READ_RECORDS
    assert P.READ_RECORDS.parse(asked[3].payload).from_seq == first
    assert device.first_seq > first
    image = read_image(result.path)
    assert image.base.first_seq == device.first_seq
    assert image.section_bytes("records") == device.records_bytes()
    assert image.section_bytes("seals") == device.seals_bytes()
    assert no_errors(result.path) == []


def test_a_usb_serial_that_differs_from_the_identity_is_refused(tmp_path: Path) -> None:
    device = build_device()
    backend = EmulatedBackend([device])
    link = UsbLink(find_device(backend=backend).device, serial="DXXXXXXXXX")
    with pytest.raises(ProtocolError, match="differs"):
        download(link, tmp_path, **HOST, policy=FAST)
    assert not (tmp_path / f"{device.spec.serial}.partial").exists()
    open_link(device.spec.serial, backend=backend).close()  # download released the claim


def test_good_prefix() -> None:
    device = build_device()
    raw = device.records_bytes()
    first = device.first_seq
    assert good_prefix(raw, first) == device.record_count
    assert good_prefix(raw, first + 1) == 0
    assert good_prefix(raw[:-1], first) == device.record_count - 1
    assert good_prefix(b"", first) == 0
    flipped = bytearray(raw)
    flipped[7 * L.RECORD_SIZE] ^= 1
    assert good_prefix(bytes(flipped), first) == 7


# -- a device of current size ---------------------------------------------------------


def test_a_full_16k_log_downloads_and_verifies(tmp_path: Path) -> None:
    rng = random.Random("test-download/16k")
    device = new_device(rng, log_capacity=16_384, seal_interval=256)
    for _ in range(16_000):
        device.battery_report(20, 8000)
        device.advance(60_000)
    backend = EmulatedBackend([device])
    started = time.perf_counter()
    result = fetch(backend, tmp_path, device.spec.serial)
    elapsed = time.perf_counter() - started
    assert result.records == 16_002
    assert no_errors(result.path) == []
    assert elapsed < 20  # a generous bound; the report gives the measured figure
    image = read_image(result.path)
    assert np.array_equal(image.records["seq"], np.arange(1, 16_003))
