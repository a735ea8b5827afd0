"""USB captures (pcapng, link type 220) and their replay.

What tshark reports about a written capture is the independent check of the format; the
emulated device's own transfer history is the independent check of what the recording
backend saw; a download replayed from a capture must give the image the live download
gave, and a replay must refuse a host that departs from the recording.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import io
import re
import struct
import subprocess
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import usb.core
import usb.util
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.device.capture import RecordingBackend
from taserlink.device.download import download
from taserlink.device.session import DeviceSession, RetryPolicy
from taserlink.device.usb_host import find_device
from taserlink.emulator import EmulatedBackend, Fault, FaultKind, FaultPlan, run_scenario
from taserlink.emulator.replay import ReplayBackend, ReplayMismatch
from taserlink.errors import CaptureError, DeviceDisconnected, ProtocolError
from taserlink.usb import (
    LINKTYPE_USB_LINUX_MMAPPED,
    CaptureWriter,
    Direction,
    SteppingClock,
    Transfer,
    TransferType,
    read_capture,
    read_events,
)
from taserlink.usb import protocol as P
from tests.conftest import ROOT
from tests.tshark_support import (
    TSHARK_FIELDS,
    require_tool,
    require_tshark,
    tshark_fields,
    tshark_known_fields,
    tshark_problems,
)

USB_CAPTURES = ROOT / "captures" / "usb"
START_S = 1_772_438_400.0  # 2026-03-02T08:00:00Z
STEP_S = 0.0005
NONCE = bytes(range(32))
DOWNLOAD_ARGS: dict[str, Any] = {
    "operator": "test",
    "workstation": "test",
    "clock_source": "test",
    "host_clock": lambda: START_S,
}
FAST = RetryPolicy(backoff_s=0.0, backoff_max_s=0.0)


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "record_usb_captures", ROOT / "tools/record_usb_captures.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- tshark's view ---------------------------------------------------------------------------


def _char(value: str) -> str:
    """tshark prints FT_CHAR fields as 'S' (or 0x53 in some versions)."""
    value = value.strip().strip("'\"")
    return chr(int(value, 16)) if value.startswith("0x") else value


def _int(value: str) -> int:
    return int(value, 0)


def _hex(value: str) -> str:
    return value.replace(":", "").lower()


def test_tshark_knows_every_field_the_tests_use() -> None:
    assert require_tshark()
    missing = set(TSHARK_FIELDS) - tshark_known_fields()
    assert not missing, f"the installed tshark lacks {sorted(missing)}"


# A synthetic session: (transfer type, endpoint, data, requested, status, setup).
IDENTIFY = P.encode_frame(P.Command.IDENTIFY, 1)
ANSWER = P.encode_frame(P.Command.IDENTIFY, 1, b"\x01" + bytes(range(40)), P.Flag.RESPONSE)
CLEAR_HALT_IN = bytes([0x02, 0x01, 0x00, 0x00, 0x81, 0x00, 0x00, 0x00])
GET_SERIAL = bytes([0x80, 0x06, 0x03, 0x03, 0x09, 0x04, 0xFE, 0x00])
SERIAL_STRING = bytes([22, 3]) + "DNGCM8ZJJX".encode("utf-16-le")
SYNTHETIC: list[tuple[TransferType, int, bytes, int, int, bytes | None]] = [
    (TransferType.BULK, 0x01, IDENTIFY, len(IDENTIFY), 0, None),
    (TransferType.BULK, 0x81, ANSWER, 8704, 0, None),
    (TransferType.BULK, 0x81, b"", 8704, -errno.EPIPE, None),
    (TransferType.CONTROL, 0x00, b"", 0, 0, CLEAR_HALT_IN),
    (TransferType.BULK, 0x81, b"", 8704, -errno.ETIMEDOUT, None),
    (TransferType.BULK, 0x01, bytes(range(256)) * 3, 768, 0, None),
    (TransferType.CONTROL, 0x80, SERIAL_STRING, 254, 0, GET_SERIAL),
    (TransferType.BULK, 0x01, IDENTIFY, len(IDENTIFY), -errno.ENODEV, None),
]
DEVICE, BUS = 7, 3


def write_synthetic(target: Path | io.BytesIO) -> None:
    with CaptureWriter(target, clock=SteppingClock(START_S, STEP_S)) as writer:
        for kind, endpoint, data, requested, status, setup in SYNTHETIC:
            if endpoint & 0x80:
                urb = writer.submit(
                    kind, endpoint, device=DEVICE, bus=BUS, requested=requested, setup=setup
                )
                writer.complete(urb, status=status, data=data)
            else:
                urb = writer.submit(kind, endpoint, device=DEVICE, bus=BUS, data=data, setup=setup)
                writer.complete(urb, status=status)


def test_tshark_reads_what_the_writer_wrote(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.pcapng"
    write_synthetic(path)
    rows = tshark_fields(path)
    assert len(rows) == 2 * len(SYNTHETIC)
    assert tshark_problems(path) == []
    for number, row in enumerate(rows, start=1):
        kind, endpoint, data, requested, status, _ = SYNTHETIC[(number - 1) // 2]
        submission = number % 2 == 1
        out = not endpoint & 0x80
        assert _int(row["frame.number"]) == number
        assert _int(row["usb.transfer_type"]) == kind
        assert _int(row["usb.endpoint_address"]) == endpoint
        assert _char(row["usb.urb_type"]) == ("S" if submission else "C")
        if submission:
            assert _int(row["usb.urb_status"]) == -errno.EINPROGRESS
            assert _int(row["usb.urb_len"]) == (len(data) if out else requested)
            carried = data if out else b""
        else:
            assert _int(row["usb.urb_status"]) == status
            written = len(data) if status == 0 else 0
            assert _int(row["usb.urb_len"]) == (written if out else len(data))
            carried = b"" if out else data
        assert _int(row["usb.data_len"]) == len(carried)
        if kind is TransferType.BULK:
            assert _hex(row["usb.capdata"]) == carried.hex()


def test_tshark_flags_a_descriptor_cut_short(tmp_path: Path) -> None:
    """The clean-capture checks above can fail: a device descriptor answer of 3 bytes."""
    path = tmp_path / "short.pcapng"
    get_device = bytes([0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00])
    with CaptureWriter(path) as writer:
        writer.control(get_device, b"\x12\x01\x00")
    assert len(tshark_problems(path)) == 1


def test_tshark_sees_the_device_bus_flags_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.pcapng"
    write_synthetic(path)
    fields = ("usb.device_address", "usb.bus_id", "frame.time_epoch", "usb.data_flag")
    rows = tshark_fields(path, fields)
    # usbmon's data flag: '<' on an IN submission, '>' on an OUT completion, else present.
    flags = [_char(r["usb.data_flag"]) for r in rows]
    expected = []
    for _, endpoint, *_ in SYNTHETIC:
        expected += ["<", "\\0"] if endpoint & 0x80 else ["\\0", ">"]
    assert flags == expected
    assert {(_int(r["usb.device_address"]), _int(r["usb.bus_id"])) for r in rows} == {(DEVICE, BUS)}
    stamps = [round(float(r["frame.time_epoch"]) * 1e6) for r in rows]
    assert stamps == [round((START_S + i * STEP_S) * 1e6) for i in range(len(rows))]


# -- reading back ------------------------------------------------------------------------------


def test_read_capture_round_trips_the_synthetic_session(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.pcapng"
    write_synthetic(path)
    transfers = read_capture(path)
    assert len(transfers) == len(SYNTHETIC)
    for i, (got, (kind, endpoint, data, requested, status, setup)) in enumerate(
        zip(transfers, SYNTHETIC, strict=True)
    ):
        assert got.transfer_type is kind
        assert got.endpoint == endpoint
        assert got.direction is (Direction.IN if endpoint & 0x80 else Direction.OUT)
        assert (got.device, got.bus) == (DEVICE, BUS)
        assert got.status == status
        assert got.data == data
        assert got.requested == requested
        assert got.setup == setup
        assert got.submitted_us == round((START_S + 2 * i * STEP_S) * 1e6)
        assert got.completed_us == round((START_S + (2 * i + 1) * STEP_S) * 1e6)
        assert not got.truncated


def test_recording_is_deterministic_with_a_clock(tmp_path: Path) -> None:
    first, second = io.BytesIO(), io.BytesIO()
    write_synthetic(first)
    write_synthetic(second)
    assert first.getvalue() == second.getvalue()
    assert len(read_events(first.getvalue())) == 2 * len(SYNTHETIC)


def test_wireshark_rewrites_read_the_same(tmp_path: Path) -> None:
    """editcap (Wireshark's own writers) as pcap, nanosecond pcap and pcapng: same transfers."""
    source = tmp_path / "synthetic.pcapng"
    write_synthetic(source)
    expected = read_capture(source)
    require_tshark()
    editcap = require_tool("editcap")
    for kind in ("pcap", "nsecpcap", "pcapng"):
        converted = tmp_path / f"converted.{kind}"
        subprocess.run(
            [editcap, "-F", kind, str(source), str(converted)],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        if kind != "pcapng":  # (Wireshark's pcapng rewrite may well be byte-identical)
            assert converted.read_bytes()[:4] != source.read_bytes()[:4]
        assert read_capture(converted) == expected, kind


transfers_strategy = st.lists(
    st.tuples(
        st.sampled_from([Direction.OUT, Direction.IN]),
        st.integers(1, 15),
        st.binary(max_size=96),
        st.sampled_from([0, -errno.EPIPE, -errno.ETIMEDOUT, -errno.ENODEV, -errno.EPROTO]),
        st.integers(1, 127),
    ),
    max_size=12,
)


@settings(max_examples=60)
@given(transfers_strategy)
def test_read_capture_round_trips_any_bulk_session(
    session: list[tuple[Direction, int, bytes, int, int]],
) -> None:
    stream = io.BytesIO()
    with CaptureWriter(stream, clock=SteppingClock(START_S)) as writer:
        for direction, number, data, status, device in session:
            if direction is Direction.OUT:
                writer.bulk_out(number, data, device=device, status=status)
            else:
                writer.bulk_in(number, data if status == 0 else b"", device=device, status=status)
    got = read_capture(stream.getvalue())
    assert [(t.direction, t.endpoint & 0x7F, t.data, t.status, t.device) for t in got] == [
        (d, n, data if d is Direction.OUT or s == 0 else b"", s, dev)
        for d, n, data, s, dev in session
    ]


def test_concurrent_recording_pairs_every_transfer() -> None:
    stream = io.BytesIO()
    with CaptureWriter(stream) as writer:

        def record(device: int) -> None:
            for i in range(40):
                writer.bulk_out(1, bytes([device, i]), device=device)
                writer.bulk_in(0x81, bytes([device, i, 0xFF]), device=device)

        threads = [threading.Thread(target=record, args=(d,)) for d in range(2, 6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    transfers = read_capture(stream.getvalue())
    assert len(transfers) == 4 * 80
    for device in range(2, 6):
        mine = [t for t in transfers if t.device == device]
        assert [t.data for t in mine] == [
            data for i in range(40) for data in (bytes([device, i]), bytes([device, i, 0xFF]))
        ]


# -- malformed files ---------------------------------------------------------------------------


def test_every_truncation_is_an_error_or_a_clean_prefix() -> None:
    stream = io.BytesIO()
    write_synthetic(stream)
    blob = stream.getvalue()
    full = read_events(blob)
    clean = 0
    for cut in range(len(blob) + 1):
        try:
            events = read_events(blob[:cut])
        except CaptureError:
            continue
        clean += 1
        assert events == full[: len(events)]
    # Clean cuts: after the section header, after the interface, after every packet.
    assert clean == 2 + len(full)


def _blocks(blob: bytes) -> list[tuple[int, int, int]]:
    """(offset, type, length) of each little-endian pcapng block."""
    out, offset = [], 0
    while offset < len(blob):
        kind, length = struct.unpack_from("<II", blob, offset)
        out.append((offset, kind, length))
        offset += length
    return out


def _synthetic_blob() -> bytes:
    stream = io.BytesIO()
    write_synthetic(stream)
    return stream.getvalue()


def _patched(blob: bytes, offset: int, value: bytes) -> bytes:
    return blob[:offset] + value + blob[offset + len(value) :]


def test_malformed_files_raise_capture_error(tmp_path: Path) -> None:
    blob = _synthetic_blob()
    blocks = _blocks(blob)
    (_, shb_type, _), (idb, idb_type, _), (epb, epb_type, epb_len) = blocks[:3]
    assert (shb_type, idb_type, epb_type) == (0x0A0D0D0A, 1, 6)
    bad = {
        "not a capture": b"hello world, not a capture",
        "bad byte-order magic": _patched(blob, 8, b"\x00\x11\x22\x33"),
        "trailing length differs": _patched(blob, epb + epb_len - 4, b"\x00\x01\x00\x00"),
        "ethernet link type": _patched(blob, idb + 8, struct.pack("<H", 1)),
        "undeclared interface": _patched(blob, epb + 8, struct.pack("<I", 3)),
        "packet longer than its block": _patched(blob, epb + 20, struct.pack("<I", 4096)),
        "packet shorter than the usbmon header": _patched(blob, epb + 20, struct.pack("<I", 20)),
        "unknown event type": _patched(blob, epb + 28 + 8, b"X"),
    }
    for name, data in bad.items():
        with pytest.raises(CaptureError):
            read_events(data)
        path = tmp_path / "bad.pcapng"
        path.write_bytes(data)
        with pytest.raises(CaptureError, match=r"bad\.pcapng"):
            read_capture(path)
        assert name
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(tmp_path / "missing.pcapng")
    assert struct.unpack_from("<H", blob, idb + 8)[0] == LINKTYPE_USB_LINUX_MMAPPED


def test_a_submission_repeated_before_completion_is_an_error() -> None:
    stream = io.BytesIO()
    with CaptureWriter(stream) as writer:
        urb = writer.submit(TransferType.BULK, 0x81, device=1, bus=1, requested=64)
        writer.write_event(
            read_events(stream.getvalue())[0]  # the same submission again
        )
        writer.complete(urb, data=b"x")
    with pytest.raises(CaptureError, match="submitted again"):
        read_capture(stream.getvalue())


def test_writer_refuses_inconsistent_use() -> None:
    stream = io.BytesIO()
    writer = CaptureWriter(stream)
    urb = writer.submit(TransferType.BULK, 0x01, device=1, bus=1, data=b"abc")
    with pytest.raises(CaptureError):
        writer.complete(urb, data=b"an OUT completion carries no data")
    writer.complete(urb)
    with pytest.raises(CaptureError, match="twice"):
        writer.complete(urb)
    with pytest.raises(CaptureError):
        writer.submit(TransferType.BULK, 0x81, device=1, bus=1, data=b"IN carries none")
    writer.close()
    with pytest.raises(CaptureError, match="closed"):
        writer.bulk_out(1, b"late")
    assert not stream.closed  # a stream given is left open


# -- recording the real host code against the emulator, and replaying it -------------------


def quiet_day_backend(plan: FaultPlan | None = None) -> EmulatedBackend:
    device = run_scenario("quiet-day", 1).device
    return EmulatedBackend([device], faults={device.spec.serial: plan} if plan else None)


def record_download(path: Path, out: Path, emulated: EmulatedBackend) -> tuple[Any, bytes]:
    with CaptureWriter(path, clock=SteppingClock(START_S, STEP_S)) as writer:
        backend = RecordingBackend(emulated, writer)
        result = download(find_device(backend=backend), out, nonce=NONCE, **DOWNLOAD_ARGS)
    return result, result.path.read_bytes()


def test_recording_matches_what_the_emulated_device_saw(tmp_path: Path) -> None:
    emulated = quiet_day_backend()
    path = tmp_path / "download.pcapng"
    record_download(path, tmp_path / "out", emulated)
    bulk = [t for t in read_capture(path) if t.transfer_type is TransferType.BULK]
    history = emulated.devices[0].history
    assert len(bulk) == len(history) > 6
    assert [(t.endpoint, t.data, t.status) for t in bulk] == [
        (h.endpoint, h.data, 0) for h in history
    ]
    # Every request frame decodes, and every answer carries the RESPONSE flag.
    for transfer in bulk:
        frame = P.decode_frame(transfer.data)
        assert frame.is_response is (transfer.direction is Direction.IN)
    # tshark agrees on the number of events and on every bulk payload.
    rows = tshark_fields(path)
    events = read_events(path)
    assert len(rows) == len(events)
    assert tshark_problems(path) == []
    payloads = [_hex(r["usb.capdata"]) for r in rows if _int(r["usb.transfer_type"]) == 3]
    assert [p for p in payloads if p] == [t.data.hex() for t in bulk]


def test_recorded_download_replays_to_the_same_image(tmp_path: Path) -> None:
    path = tmp_path / "download.pcapng"
    live, image = record_download(path, tmp_path / "live", quiet_day_backend())
    replay = ReplayBackend(path)
    again = download(
        find_device(backend=replay), tmp_path / "replayed", nonce=NONCE, **DOWNLOAD_ARGS
    )
    assert again.path.read_bytes() == image
    assert again.records == live.records
    assert replay.mismatch is None
    assert replay.finished
    replay.require_finished()


def test_strict_replay_refuses_a_changed_request(tmp_path: Path) -> None:
    path = tmp_path / "download.pcapng"
    record_download(path, tmp_path / "live", quiet_day_backend())
    replay = ReplayBackend(path)
    other_nonce = bytes(32)
    with pytest.raises(ProtocolError, match="replay"):
        download(
            find_device(backend=replay),
            tmp_path / "replayed",
            nonce=other_nonce,
            policy=FAST,
            **DOWNLOAD_ARGS,
        )
    mismatch = replay.mismatch
    assert isinstance(mismatch, ReplayMismatch)
    assert isinstance(mismatch, CaptureError)
    assert mismatch.index is not None
    expected = replay.devices[0].steps[mismatch.index]
    assert P.decode_frame(expected.data).command == P.Command.SIGN_STATEMENT
    assert "first difference at byte" in str(mismatch)
    assert not replay.finished
    with pytest.raises(ReplayMismatch):
        replay.require_finished()


def test_replay_of_a_session_past_its_end_fails(tmp_path: Path) -> None:
    path = tmp_path / "clock.pcapng"
    with CaptureWriter(path) as writer:
        backend = RecordingBackend(quiet_day_backend(), writer)
        with DeviceSession.open(backend=backend) as session:
            recorded_clock = session.read_clock()
    replay = ReplayBackend(path)
    with DeviceSession.open(backend=replay, policy=FAST) as session:
        assert session.read_clock() == recorded_clock
        assert replay.finished
        with pytest.raises(ProtocolError, match="after the last of the"):
            session.read_clock()


def open_raw(backend: Any) -> Any:
    dev = usb.core.find(idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID, backend=backend)
    assert dev is not None
    dev.set_configuration()
    usb.util.claim_interface(dev, 0)
    return dev


def exchange(dev: Any, command: P.Command, sequence: int) -> bytes:
    dev.write(P.EP_OUT, P.encode_frame(command, sequence), 100)
    return bytes(dev.read(P.EP_IN, P.MAX_FRAME, 100))


def test_replay_by_content_answers_out_of_order_but_strict_does_not(tmp_path: Path) -> None:
    path = tmp_path / "two.pcapng"
    with CaptureWriter(path) as writer:
        dev = open_raw(RecordingBackend(quiet_day_backend(), writer))
        identify = exchange(dev, P.Command.IDENTIFY, 1)
        clock = exchange(dev, P.Command.READ_CLOCK, 2)
        usb.util.dispose_resources(dev)
    assert P.decode_frame(clock).command == P.Command.READ_CLOCK

    loose = ReplayBackend(path, strict=False)
    dev = open_raw(loose)
    assert exchange(dev, P.Command.READ_CLOCK, 2) == clock
    assert exchange(dev, P.Command.IDENTIFY, 1) == identify
    assert loose.finished
    with pytest.raises(ReplayMismatch, match="does not hold"):
        exchange(dev, P.Command.IDENTIFY, 1)  # each recorded request answers once

    strict = ReplayBackend(path)
    dev = open_raw(strict)
    with pytest.raises(ReplayMismatch, match="transfer 1"):
        exchange(dev, P.Command.READ_CLOCK, 2)
    with pytest.raises(ReplayMismatch):  # derailed: everything after fails the same way
        exchange(dev, P.Command.IDENTIFY, 1)


def test_faults_are_recorded_and_replayed_as_pyusb_raises_them(tmp_path: Path) -> None:
    plan = FaultPlan(
        [
            Fault(FaultKind.STALL, at=1),
            Fault(FaultKind.TIMEOUT, at=5),
            Fault(FaultKind.CORRUPT, at=7),
        ]
    )
    path = tmp_path / "faults.pcapng"

    def session_run(backend: Any) -> tuple[Any, ...]:
        with DeviceSession.open(backend=backend, policy=FAST) as session:
            info = session.identify()
            clock = session.read_clock()
            certificates = session.read_certificates()
            stats = session.stats
        return info, clock, certificates, stats.stalls_cleared, stats.timeouts, stats.bad_answers

    with CaptureWriter(path) as writer:
        recorded = session_run(RecordingBackend(quiet_day_backend(plan=plan), writer))
    assert recorded[3:] == (1, 1, 1)  # one stall cleared, one timeout, one corrupted answer
    statuses = [t.status for t in read_capture(path) if t.transfer_type is TransferType.BULK]
    assert statuses.count(-errno.EPIPE) == 1
    assert statuses.count(-errno.ETIMEDOUT) == 1
    clear = [t for t in read_capture(path) if t.setup is not None and t.setup[:2] == b"\x02\x01"]
    assert [t.setup[4] for t in clear if t.setup is not None] == [P.EP_IN]
    failed = [_int(r["usb.urb_status"]) for r in tshark_fields(path)]
    failed = [s for s in failed if s not in (0, -errno.EINPROGRESS)]
    assert sorted(failed) == sorted([-errno.EPIPE, -errno.ETIMEDOUT])

    replay = ReplayBackend(path)
    assert session_run(replay) == recorded
    assert replay.finished


def test_interrupted_and_resumed_download_replays(tmp_path: Path) -> None:
    emulated = quiet_day_backend(plan=FaultPlan([Fault(FaultKind.DISCONNECT, at=5)]))
    model = emulated.devices[0].model
    path = tmp_path / "resumed.pcapng"
    with CaptureWriter(path) as writer:
        backend = RecordingBackend(emulated, writer)
        with pytest.raises(DeviceDisconnected):
            download(find_device(backend=backend), tmp_path / "live", nonce=NONCE, **DOWNLOAD_ARGS)
        emulated.attach(model)
        live = download(
            find_device(backend=backend), tmp_path / "live", nonce=NONCE, **DOWNLOAD_ARGS
        )
    addresses = {t.device for t in read_capture(path)}
    assert len(addresses) == 2  # re-plugged at a new address

    replay = ReplayBackend(path)
    assert len(list(replay.enumerate_devices())) == 1
    with pytest.raises(DeviceDisconnected):
        download(find_device(backend=replay), tmp_path / "replay", nonce=NONCE, **DOWNLOAD_ARGS)
    again = download(find_device(backend=replay), tmp_path / "replay", nonce=NONCE, **DOWNLOAD_ARGS)
    assert again.path.read_bytes() == live.path.read_bytes()
    assert replay.finished


def _tree(dev: Any) -> list[tuple[int, ...]]:
    """A pyusb device's descriptor tree, as numbers."""
    out: list[tuple[int, ...]] = [
        (dev.idVendor, dev.idProduct, dev.iManufacturer, dev.iProduct, dev.iSerialNumber)
    ]
    for configuration in dev:
        out.append((configuration.bConfigurationValue, configuration.bmAttributes))
        for interface in configuration:
            out.append(
                (interface.bInterfaceNumber, interface.bInterfaceClass, interface.iInterface)
            )
            out.extend(
                (e.bEndpointAddress, e.bmAttributes, e.wMaxPacketSize, e.bInterval)
                for e in interface
            )
    return out


@pytest.mark.parametrize("read_descriptors", [True, False])
def test_replay_presents_the_recorded_device(tmp_path: Path, read_descriptors: bool) -> None:
    emulated = quiet_day_backend()
    path = tmp_path / "open.pcapng"
    with CaptureWriter(path) as writer:
        recording = RecordingBackend(emulated, writer, read_descriptors=read_descriptors)
        dev = open_raw(recording)
        serial = usb.util.get_string(dev, dev.iSerialNumber)
        exchange(dev, P.Command.IDENTIFY, 1)
        usb.util.dispose_resources(dev)
    live = usb.core.find(idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID, backend=emulated)
    replayed = open_raw(ReplayBackend(path))
    assert _tree(replayed) == _tree(live)
    assert usb.util.get_string(replayed, replayed.iSerialNumber) == serial
    # bcdDevice (the firmware version) only comes with recorded descriptors.
    assert replayed.bcdDevice == (live.bcdDevice if read_descriptors else 0)
    assert live.bcdDevice != 0


def test_replay_accepts_transfers_and_rejects_an_empty_capture() -> None:
    stream = io.BytesIO()
    write_synthetic(stream)
    transfers: list[Transfer] = read_capture(stream.getvalue())
    assert ReplayBackend(transfers).devices[0].address == DEVICE
    with pytest.raises(CaptureError, match="no transfer"):
        ReplayBackend([])


# -- the bundled captures ----------------------------------------------------------------------

BUNDLED = ("download.pcapng", "resumed-download.pcapng", "clock-set.pcapng")


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_capture_reads_the_same_in_tshark(name: str) -> None:
    path = USB_CAPTURES / name
    events = read_events(path)
    rows = tshark_fields(path)
    assert len(rows) == len(events) > 0
    assert tshark_problems(path) == []
    for row, event in zip(rows, events, strict=True):
        assert _char(row["usb.urb_type"]) == event.kind
        assert _int(row["usb.endpoint_address"]) == event.endpoint
        assert _int(row["usb.transfer_type"]) == event.transfer_type
        assert _int(row["usb.urb_status"]) == event.status
        assert _int(row["usb.urb_len"]) == event.length
        assert _int(row["usb.data_len"]) == len(event.data)
        if event.transfer_type is TransferType.BULK:
            assert _hex(row["usb.capdata"]) == event.data.hex()
    transfers = read_capture(path)
    assert all(t.status is not None for t in transfers)
    assert len(transfers) * 2 == len(events)


def test_bundled_captures_are_documented() -> None:
    readme = (USB_CAPTURES / "README.md").read_text(encoding="utf-8")
    digests = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    )
    for name in BUNDLED:
        assert f"`{name}`" in readme
        data = (USB_CAPTURES / name).read_bytes()
        assert digests.get(name) == hashlib.sha256(data).hexdigest(), f"README digest of {name}"
        assert f"| {len(data):,}".replace(",", " ") in readme, f"README size of {name}"


def test_the_recording_tool_is_deterministic(tmp_path: Path) -> None:
    tool = _tool()
    first = tool.expected_files()
    assert sorted(first) == sorted(BUNDLED)
    assert tool.expected_files() == first


STALE = (
    "the host code no longer makes the traffic recorded in captures/usb/; if the change is "
    "intended, run tools/record_usb_captures.py and review the new captures"
)


def test_bundled_download_replays_through_the_host_code(tmp_path: Path) -> None:
    tool = _tool()
    replay = ReplayBackend(USB_CAPTURES / "download.pcapng")
    try:
        result = tool.run_download(replay, tmp_path)
    except ProtocolError as error:
        pytest.fail(f"{STALE}: {error}")
    assert replay.finished, STALE
    live = tool.run_download(EmulatedBackend([tool.quiet_day_device()]), tmp_path / "live")
    assert result.path.read_bytes() == live.path.read_bytes()


def test_bundled_resumed_download_replays_through_the_host_code(tmp_path: Path) -> None:
    tool = _tool()
    replay = ReplayBackend(USB_CAPTURES / "resumed-download.pcapng")
    with pytest.raises(DeviceDisconnected):
        tool.run_download(replay, tmp_path)
    result = tool.run_download(replay, tmp_path)
    assert result.resumed_from is not None, STALE
    assert replay.finished, STALE
    # The scenario's log, the events added, two USB_CONNECTs (one per session) and DOWNLOAD.
    assert result.records == tool.quiet_day_device().last_seq + tool.EXTRA_EVENTS + 3


def test_bundled_clock_set_replays_through_the_host_code() -> None:
    replay = ReplayBackend(USB_CAPTURES / "clock-set.pcapng")
    set_requests = [
        t
        for t in read_capture(USB_CAPTURES / "clock-set.pcapng")
        if t.transfer_type is TransferType.BULK
        and t.direction is Direction.OUT
        and P.decode_frame(t.data).command == P.Command.SET_CLOCK
    ]
    assert len(set_requests) == 1
    target = P.CLOCK.parse(P.decode_frame(set_requests[0].data).payload).device_time_ms
    with DeviceSession.open(backend=replay) as session:
        before = session.read_clock()
        done = session.set_clock(target)
    assert done.old_time_ms == before
    assert done.new_time_ms == target
    assert replay.finished, STALE
