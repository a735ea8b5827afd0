"""The emulated device: its protocol server (pure) and its pyusb backend, with every fault.

USB-level tests go through pyusb exactly as host code does (``usb.core.find(...,
backend=backend)``, ``dev.write``/``dev.read``/``dev.clear_halt``), so what they pin down is
what a host sees.  A small host written here (:class:`MiniHost`) downloads whole images so
that the tamper and dock tests can verify what came over the wire.
"""

from __future__ import annotations

import errno
import random
import threading
import time
from typing import Any

import pytest
import usb.core
import usb.util
from hypothesis import given
from hypothesis import strategies as st

from taserlink.emulator import (
    DataportServer,
    EmulatedBackend,
    Fault,
    FaultKind,
    FaultPlan,
    HostInfo,
    SimulatedDevice,
)
from taserlink.emulator.faults import RECOVERABLE, corrupt, tamper_record, truncate
from taserlink.emulator.pki import test_authority as _test_authority
from taserlink.emulator.scenarios import new_device
from taserlink.emulator.server import DEVICE_TIME_LIMIT_MS
from taserlink.errors import ProtocolError, ScenarioError
from taserlink.format import EventCode, build_image, decode_payload, read_image
from taserlink.format import layout as L
from taserlink.format.image import (
    decode_base,
    decode_certificates,
    decode_identity,
    decode_statement,
)
from taserlink.integrity import Kind, TrustStore, verify_image
from taserlink.usb import protocol as P
from taserlink.usb.chapter9 import (
    CONFIGURATION_DESCRIPTOR,
    DEVICE_DESCRIPTOR,
    ENDPOINT_DESCRIPTOR,
    INTERFACE_DESCRIPTOR,
)

TIMEOUT_MS = 50


# -- helpers ---------------------------------------------------------------------------------


def make_device(seed: int = 1, events: int = 40, **spec: Any) -> SimulatedDevice:
    """A device with a serial drawn from ``seed`` and ``events`` holster events after power-on."""
    device = new_device(random.Random(seed), **spec)
    device.power_on()
    for i in range(events):
        device.advance(1000)
        if i % 2:
            device.holster()
        else:
            device.unholster()
    return device


def last_code(device: SimulatedDevice) -> int:
    return int.from_bytes(device.records_bytes(device.last_seq, 1)[12:14], "little")


def request(
    server: DataportServer, command: int, payload: bytes = b"", sequence: int = 1
) -> P.Frame:
    return P.decode_frame(server.handle(P.encode_frame(command, sequence, payload)))


def refusal(frame: P.Frame) -> P.Status:
    assert frame.is_response and frame.is_error
    return P.Status(P.ERROR.parse(frame.payload).status)


def open_device(backend: EmulatedBackend, serial: str | None = None) -> Any:
    found = [
        d
        for d in usb.core.find(
            find_all=True, idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID, backend=backend
        )
        if serial is None or usb.util.get_string(d, d.iSerialNumber) == serial
    ]
    assert len(found) == 1
    dev = found[0]
    dev.set_configuration()
    usb.util.claim_interface(dev, 0)
    return dev


def send(dev: Any, command: int, payload: bytes = b"", sequence: int = 1) -> int:
    return int(dev.write(P.EP_OUT, P.encode_frame(command, sequence, payload), TIMEOUT_MS))


def receive(dev: Any, size: int = P.MAX_FRAME) -> bytes:
    return bytes(dev.read(P.EP_IN, size, TIMEOUT_MS))


def exchange(dev: Any, command: int, payload: bytes = b"", sequence: int = 1) -> P.Frame:
    send(dev, command, payload, sequence)
    return P.decode_frame(receive(dev))


def usb_errno(excinfo: pytest.ExceptionInfo[usb.core.USBError]) -> int | None:
    code = excinfo.value.errno
    return None if code is None else int(code)


@pytest.fixture
def device() -> SimulatedDevice:
    return make_device()


@pytest.fixture
def backend(device: SimulatedDevice) -> EmulatedBackend:
    return EmulatedBackend([device])


TRUST = TrustStore.from_pem(_test_authority().root_pem())


class MiniHost:
    """Just enough of a host to download an image over pyusb, retrying what can be retried."""

    def __init__(self, dev: Any, utc_ms: int, tries: int = 12) -> None:
        self.dev = dev
        self.utc_ms = utc_ms
        self.tries = tries
        self.sequence = 0
        self.retries = 0

    def ask(self, command: int, payload: bytes = b"") -> bytes:
        self.sequence = (self.sequence + 1) & 0xFFFF
        for _ in range(self.tries):
            try:
                self.dev.write(P.EP_OUT, P.encode_frame(command, self.sequence, payload), 1000)
                frame = P.decode_frame(bytes(self.dev.read(P.EP_IN, P.MAX_FRAME, 1000)))
            except usb.core.USBTimeoutError:
                pass
            except usb.core.USBError as error:
                if error.errno != errno.EPIPE:
                    raise
                self.dev.clear_halt(P.EP_OUT)
                self.dev.clear_halt(P.EP_IN)
            except ProtocolError:
                pass
            else:
                if frame.sequence == self.sequence and frame.command == command:
                    if not frame.is_error:
                        return frame.payload
                    if P.ERROR.parse(frame.payload).status != P.Status.BAD_FRAME:
                        raise AssertionError(f"refused: {P.ERROR.parse(frame.payload)}")
            self.retries += 1
        raise AssertionError(f"no answer to command {command} after {self.tries} tries")

    def download(self, nonce: bytes = bytes(range(32))) -> bytes:
        identify = P.IDENTIFY_RESPONSE.parse(self.ask(P.Command.IDENTIFY))
        certificates = decode_certificates(self.ask(P.Command.READ_CERTIFICATES))
        base = decode_base(self.ask(P.Command.READ_BASE))
        statement = decode_statement(self.ask(P.Command.SIGN_STATEMENT, nonce))
        assert statement is not None
        records = bytearray()
        seq = base.first_seq
        while seq <= statement.last_seq:
            asked = P.READ_RECORDS.build({"from_seq": seq, "most": P.RECORDS_PER_READ})
            page = P.COUNTED.parse(self.ask(P.Command.READ_RECORDS, asked))
            assert page.count > 0
            records += page.data
            seq += page.count
        del records[(statement.last_seq - base.first_seq + 1) * L.RECORD_SIZE :]
        seals = bytearray()
        while True:
            index = len(seals) // L.SEAL_SIZE
            page = P.COUNTED.parse(
                self.ask(
                    P.Command.READ_SEALS,
                    P.READ_SEALS.build({"from_index": index, "most": P.SEALS_PER_READ}),
                )
            )
            if page.count == 0:
                break
            seals += page.data
        return build_image(
            identity=decode_identity(identify.identity),
            certificates=certificates,
            base=base,
            records=bytes(records),
            seals=bytes(seals),
            statement=statement,
            acquisition=HostInfo().acquisition(nonce, self.utc_ms, self.utc_ms, self.utc_ms),
        )


# -- the protocol server, without USB ----------------------------------------------------------


def test_identify_logs_usb_connect_on_the_first_identify_of_a_connection(
    device: SimulatedDevice,
) -> None:
    server = DataportServer(device)
    before = device.last_seq
    first = P.IDENTIFY_RESPONSE.parse(request(server, P.Command.IDENTIFY, sequence=9).payload)
    assert first.last_seq == before + 1 == device.last_seq
    assert last_code(device) == EventCode.USB_CONNECT
    assert first.first_seq == device.first_seq
    assert decode_identity(first.identity).serial == device.spec.serial
    again = P.IDENTIFY_RESPONSE.parse(request(server, P.Command.IDENTIFY).payload)
    assert again.last_seq == first.last_seq  # the same connection: nothing logged
    server.reconnect()
    third = P.IDENTIFY_RESPONSE.parse(request(server, P.Command.IDENTIFY).payload)
    assert third.last_seq == first.last_seq + 1


def test_responses_echo_command_and_sequence(device: SimulatedDevice) -> None:
    server = DataportServer(device)
    for command in P.Command:
        frame = request(server, command, sequence=0xBEEF)
        assert (frame.command, frame.sequence) == (command, 0xBEEF)
        assert frame.is_response


def test_read_records_pages_through_the_log_and_stops_at_its_end() -> None:
    device = make_device(events=600)
    server = DataportServer(device)
    got = bytearray()
    seq = device.first_seq
    while True:
        asked = P.READ_RECORDS.build({"from_seq": seq, "most": P.RECORDS_PER_READ})
        page = P.COUNTED.parse(request(server, P.Command.READ_RECORDS, asked).payload)
        assert page.count <= P.RECORDS_PER_READ
        assert len(page.data) == page.count * L.RECORD_SIZE
        if page.count == 0:
            break
        got += page.data
        seq += page.count
    assert bytes(got) == device.records_bytes()
    assert seq == device.last_seq + 1
    beyond = P.READ_RECORDS.build({"from_seq": device.last_seq + 2, "most": 1})
    assert refusal(request(server, P.Command.READ_RECORDS, beyond)) is P.Status.BAD_ARGUMENT


@pytest.mark.parametrize("most", [0, P.RECORDS_PER_READ + 1, 0xFFFF])
def test_read_records_refuses_a_count_out_of_range(device: SimulatedDevice, most: int) -> None:
    asked = P.READ_RECORDS.build({"from_seq": device.first_seq, "most": most})
    frame = request(DataportServer(device), P.Command.READ_RECORDS, asked)
    assert refusal(frame) is P.Status.BAD_ARGUMENT


def test_read_records_below_the_retained_log_is_not_retained() -> None:
    device = make_device(events=40, log_capacity=16)
    assert device.first_seq > 1
    server = DataportServer(device)
    asked = P.READ_RECORDS.build({"from_seq": device.first_seq - 1, "most": 8})
    assert refusal(request(server, P.Command.READ_RECORDS, asked)) is P.Status.NOT_RETAINED
    first = P.READ_RECORDS.build({"from_seq": device.first_seq, "most": 8})
    page = P.COUNTED.parse(request(server, P.Command.READ_RECORDS, first).payload)
    assert page.data == device.records_bytes(device.first_seq, 8)


def test_read_seals_pages_through_every_seal() -> None:
    device = make_device(events=200, seal_interval=2)
    held = len(device.seals_bytes()) // L.SEAL_SIZE
    assert held > P.SEALS_PER_READ  # so that paging is exercised
    server = DataportServer(device)
    got = bytearray()
    while True:
        asked = P.READ_SEALS.build({"from_index": len(got) // L.SEAL_SIZE, "most": 30})
        page = P.COUNTED.parse(request(server, P.Command.READ_SEALS, asked).payload)
        if page.count == 0:
            break
        assert page.count <= 30
        got += page.data
    assert bytes(got) == device.seals_bytes()
    beyond = P.READ_SEALS.build({"from_index": held + 1, "most": 1})
    assert refusal(request(server, P.Command.READ_SEALS, beyond)) is P.Status.BAD_ARGUMENT
    too_many = P.READ_SEALS.build({"from_index": 0, "most": P.SEALS_PER_READ + 1})
    assert refusal(request(server, P.Command.READ_SEALS, too_many)) is P.Status.BAD_ARGUMENT


def test_set_clock_logs_clock_set_and_answers_the_old_time(device: SimulatedDevice) -> None:
    server = DataportServer(device)
    old = device.now_ms
    new = old - 3_600_000
    frame = request(server, P.Command.SET_CLOCK, P.CLOCK.build({"device_time_ms": new}))
    answer = P.SET_CLOCK_RESPONSE.parse(frame.payload)
    assert (answer.old_time_ms, answer.seq) == (old, device.last_seq)
    record = device.records_bytes(answer.seq, 1)
    assert last_code(device) == EventCode.CLOCK_SET
    assert decode_payload(EventCode.CLOCK_SET, record[14:28])["old_time_ms"] == old
    clock = P.CLOCK.parse(request(server, P.Command.READ_CLOCK).payload)
    assert clock.device_time_ms == new


def test_set_clock_beyond_the_rtc_range_is_refused_and_not_logged(
    device: SimulatedDevice,
) -> None:
    server = DataportServer(device)
    before = device.last_seq
    payload = P.CLOCK.build({"device_time_ms": DEVICE_TIME_LIMIT_MS})
    assert refusal(request(server, P.Command.SET_CLOCK, payload)) is P.Status.BAD_ARGUMENT
    assert device.last_seq == before
    ok = P.CLOCK.build({"device_time_ms": DEVICE_TIME_LIMIT_MS - 1})
    assert not request(server, P.Command.SET_CLOCK, ok).is_error


def test_sign_statement_logs_download_and_covers_it(device: SimulatedDevice) -> None:
    nonce = bytes(range(100, 132))
    frame = request(DataportServer(device), P.Command.SIGN_STATEMENT, nonce)
    statement = decode_statement(frame.payload)
    assert statement is not None
    assert statement.nonce == nonce
    assert statement.last_seq == device.last_seq
    assert last_code(device) == EventCode.DOWNLOAD
    assert statement.chain == device.chain_head


def test_read_certificates_and_base_are_the_image_sections(device: SimulatedDevice) -> None:
    server = DataportServer(device)
    assert decode_certificates(request(server, P.Command.READ_CERTIFICATES).payload) == (
        device.certificates
    )
    assert decode_base(request(server, P.Command.READ_BASE).payload) == device.base


@pytest.mark.parametrize(
    ("command", "payload"),
    [
        (P.Command.IDENTIFY, b"\x00"),
        (P.Command.READ_CLOCK, b"\x00"),
        (P.Command.SET_CLOCK, b"\x00" * 7),
        (P.Command.READ_CERTIFICATES, b"x"),
        (P.Command.READ_BASE, b"x"),
        (P.Command.READ_RECORDS, b"\x01\x00\x00\x00\x01"),
        (P.Command.READ_SEALS, b"\x00" * 7),
        (P.Command.SIGN_STATEMENT, b"\x00" * 31),
    ],
)
def test_a_payload_of_the_wrong_length_is_a_bad_argument(
    device: SimulatedDevice, command: P.Command, payload: bytes
) -> None:
    before = device.last_seq
    frame = request(DataportServer(device), command, payload, sequence=77)
    assert refusal(frame) is P.Status.BAD_ARGUMENT
    assert (frame.command, frame.sequence) == (command, 77)
    assert device.last_seq == before  # a refused request changes nothing


def test_a_bad_crc_is_a_bad_frame_with_the_requests_sequence(device: SimulatedDevice) -> None:
    good = P.encode_frame(P.Command.READ_CLOCK, 0x1234)
    bad = good[:-1] + bytes([good[-1] ^ 1])
    frame = P.decode_frame(DataportServer(device).handle(bad))
    assert refusal(frame) is P.Status.BAD_FRAME
    assert (frame.command, frame.sequence) == (P.Command.READ_CLOCK, 0x1234)


@pytest.mark.parametrize("data", [b"", b"TL", b"XX" + bytes(10), bytes(40)])
def test_an_unreadable_frame_is_a_bad_frame_with_sequence_zero(
    device: SimulatedDevice, data: bytes
) -> None:
    frame = P.decode_frame(DataportServer(device).handle(data))
    assert refusal(frame) is P.Status.BAD_FRAME
    assert (frame.command, frame.sequence) == (0, 0)


def test_unknown_commands_flags_and_busy_are_refused(device: SimulatedDevice) -> None:
    server = DataportServer(device)
    assert refusal(request(server, 0x7F)) is P.Status.UNKNOWN_COMMAND
    flagged = P.decode_frame(
        server.handle(P.encode_frame(P.Command.READ_CLOCK, 5, flags=P.Flag.RESPONSE))
    )
    assert refusal(flagged) is P.Status.BAD_FRAME
    server.busy = True
    before = device.last_seq
    assert refusal(request(server, P.Command.IDENTIFY)) is P.Status.BUSY
    assert device.last_seq == before
    server.busy = False
    assert not request(server, P.Command.IDENTIFY).is_error


def test_utc_now_moves_the_model_forward_never_back(device: SimulatedDevice) -> None:
    now = [device.utc_ms + 5000]
    server = DataportServer(device, utc_now=lambda: now[0])
    start = device.now_ms
    assert P.CLOCK.parse(request(server, P.Command.READ_CLOCK).payload).device_time_ms == (
        start + 5000
    )
    now[0] -= 60_000
    assert P.CLOCK.parse(request(server, P.Command.READ_CLOCK).payload).device_time_ms == (
        start + 5000
    )


def _check_answer(answer: bytes) -> P.Frame:
    frame = P.decode_frame(answer)  # every answer is a well-formed frame
    assert frame.is_response
    assert len(answer) <= P.MAX_FRAME
    if frame.is_error:
        error = P.ERROR.parse(frame.payload)
        assert error.status in {int(s) for s in P.Status}
    return frame


@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes_never_raise(data: bytes) -> None:
    server = DataportServer(make_device(events=4))
    _check_answer(server.handle(data))


FUZZ_DEVICE = make_device(seed=7, events=30)
FUZZ_SERVER = DataportServer(FUZZ_DEVICE)


@given(
    command=st.integers(0, 255),
    sequence=st.integers(0, 0xFFFF),
    payload=st.one_of(
        st.binary(max_size=48),
        st.builds(
            lambda a, b: P.READ_RECORDS.build({"from_seq": a, "most": b}),
            st.integers(0, 0xFFFFFFFF),
            st.integers(0, 0xFFFF),
        ),
        st.builds(lambda t: P.CLOCK.build({"device_time_ms": t}), st.integers(0, 2**64 - 1)),
    ),
    flip=st.one_of(st.none(), st.integers(0, 1000)),
)
def test_fuzz_well_formed_and_damaged_requests_get_an_answer(
    command: int, sequence: int, payload: bytes, flip: int | None
) -> None:
    data = bytearray(P.encode_frame(command, sequence, payload))
    if flip is not None:
        data[flip % len(data)] ^= 0xA5
    frame = _check_answer(FUZZ_SERVER.handle(bytes(data)))
    if flip is None:
        assert (frame.command, frame.sequence) == (command, sequence)
        if command not in {int(c) for c in P.Command}:
            assert refusal(frame) is P.Status.UNKNOWN_COMMAND
    else:
        assert refusal(frame) is P.Status.BAD_FRAME


# -- faults: the plan and the byte manipulations -------------------------------------------------


def test_a_fault_strikes_count_consecutive_transfers() -> None:
    plan = FaultPlan([Fault(FaultKind.TIMEOUT, 3, count=2), Fault(FaultKind.SLOW, 4, delay_s=0.1)])
    assert [len(plan.at(i)) for i in range(7)] == [0, 0, 0, 1, 2, 0, 0]
    assert plan.last_index == 4
    assert FaultPlan().last_index == -1


@pytest.mark.parametrize(
    "arguments", [{"at": -1}, {"at": 0, "count": 0}, {"at": 0, "delay_s": -0.1}]
)
def test_a_fault_with_impossible_arguments_is_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError):
        Fault(FaultKind.STALL, **arguments)


def test_random_plans_are_reproducible_and_use_the_kinds_asked() -> None:
    a = FaultPlan.random(5, transfers=400, rate=0.2)
    assert a == FaultPlan.random(5, transfers=400, rate=0.2)
    assert a != FaultPlan.random(6, transfers=400, rate=0.2)
    assert 40 < len(a) < 120
    assert {f.kind for f in a} <= set(RECOVERABLE)
    only = FaultPlan.random(5, transfers=50, rate=1.0, kinds=[FaultKind.DROP])
    assert [f.at for f in only] == list(range(50))
    with pytest.raises(ScenarioError):
        FaultPlan.random(1, transfers=10, rate=1.5)


def test_corrupt_and_truncate_break_any_frame() -> None:
    frame = P.encode_frame(P.Command.IDENTIFY, 3, b"payload")
    damaged = corrupt(frame)
    assert len(damaged) == len(frame)
    assert sum(a != b for a, b in zip(damaged, frame, strict=True)) == 1
    assert len(truncate(frame)) == len(frame) // 2
    for bad in (damaged, truncate(frame)):
        with pytest.raises(ProtocolError):
            P.decode_frame(bad)


def test_tamper_changes_one_record_keeps_its_crc_valid_and_breaks_the_chain(
    device: SimulatedDevice,
) -> None:
    clean = read_image(device.download(bytes(32)))
    before = device.records_bytes()
    seq = tamper_record(device)
    after = device.records_bytes()
    changed = [
        i for i in range(0, len(before), L.RECORD_SIZE) if before[i : i + 32] != after[i : i + 32]
    ]
    assert len(changed) == 1
    assert int.from_bytes(after[changed[0] : changed[0] + 4], "little") == seq
    assert verify_image(clean, TRUST).ok
    report = verify_image(device.download(bytes(range(32))), TRUST)
    assert not report.ok
    assert Kind.CHAIN in report.kinds()
    assert Kind.CRC not in report.kinds()  # the record is well formed: only the chain tells


# -- the backend: enumeration, descriptors, strings ---------------------------------------------


def test_a_dock_enumerates_every_device_with_its_serial_string() -> None:
    devices = [make_device(seed, events=2) for seed in range(5)]
    backend = EmulatedBackend(devices)
    found = list(
        usb.core.find(find_all=True, idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID, backend=backend)
    )
    assert [usb.util.get_string(d, d.iSerialNumber) for d in found] == [
        d.spec.serial for d in devices
    ]
    assert len({(d.bus, d.address) for d in found}) == 5
    assert found[0].product == devices[0].identity.model
    assert found[0].manufacturer
    assert usb.core.find(idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID + 1, backend=backend) is None


def test_pyusb_never_finds_emulated_devices_without_being_given_the_backend(
    backend: EmulatedBackend, device: SimulatedDevice
) -> None:
    try:
        found = list(usb.core.find(find_all=True, idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID))
    except usb.core.NoBackendError:
        found = []
    assert all(getattr(d, "backend", None) is not backend for d in found)


def test_descriptors_are_standard_and_match_their_bytes(backend: EmulatedBackend) -> None:
    dev = open_device(backend)
    raw = bytes(usb.control.get_descriptor(dev, 18, usb.util.DESC_TYPE_DEVICE, 0))
    parsed = DEVICE_DESCRIPTOR.parse(raw)
    assert (parsed.idVendor, parsed.idProduct) == (dev.idVendor, dev.idProduct)
    assert parsed.iSerialNumber == dev.iSerialNumber and parsed.bLength == 18
    config = dev.get_active_configuration()
    whole = bytes(usb.control.get_descriptor(dev, 255, usb.util.DESC_TYPE_CONFIG, 0))
    assert len(whole) == config.wTotalLength == 9 + 9 + 7 + 7
    assert CONFIGURATION_DESCRIPTOR.parse(whole).bConfigurationValue == config.bConfigurationValue
    interface = config[(0, 0)]
    assert interface.bInterfaceClass == P.INTERFACE_CLASS
    assert INTERFACE_DESCRIPTOR.parse(whole[9:]).bNumEndpoints == interface.bNumEndpoints == 2
    endpoints = {e.bEndpointAddress: e for e in interface}
    assert set(endpoints) == {P.EP_OUT, P.EP_IN}
    for offset, endpoint in zip((18, 25), endpoints.values(), strict=True):
        assert usb.util.endpoint_type(endpoint.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
        assert endpoint.wMaxPacketSize == P.MAX_PACKET
        assert ENDPOINT_DESCRIPTOR.parse(whole[offset:]).bEndpointAddress == (
            endpoint.bEndpointAddress
        )
    assert dev.langids == (0x0409,)


def test_an_unsupported_control_request_stalls_endpoint_zero(backend: EmulatedBackend) -> None:
    dev = open_device(backend)
    vendor_in = usb.util.build_request_type(
        usb.util.CTRL_IN, usb.util.CTRL_TYPE_VENDOR, usb.util.CTRL_RECIPIENT_DEVICE
    )
    with pytest.raises(usb.core.USBError) as excinfo:
        dev.ctrl_transfer(vendor_in, 0x42, 0, 0, 8)
    assert usb_errno(excinfo) == errno.EPIPE
    with pytest.raises(usb.core.USBError):
        usb.util.get_string(dev, 9)  # no such string


def test_a_second_handle_cannot_claim_a_claimed_interface(backend: EmulatedBackend) -> None:
    first = open_device(backend)
    second = usb.core.find(idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID, backend=backend)
    with pytest.raises(usb.core.USBError) as excinfo:
        usb.util.claim_interface(second, 0)
    assert usb_errno(excinfo) == errno.EBUSY
    usb.util.dispose_resources(first)
    usb.util.claim_interface(second, 0)


def test_attach_and_detach_check_their_arguments(device: SimulatedDevice) -> None:
    with pytest.raises(ScenarioError):
        EmulatedBackend([device], faults={"D0000000000": FaultPlan()})
    backend = EmulatedBackend([device])
    with pytest.raises(ScenarioError):
        backend.attach(device)
    with pytest.raises(ScenarioError):
        backend.detach("D0000000000")
    assert backend.device(device.spec.serial).model is device


# -- the backend: transfers ------------------------------------------------------------------


def test_a_request_and_its_response_over_pyusb(backend: EmulatedBackend) -> None:
    dev = open_device(backend)
    request_bytes = P.encode_frame(P.Command.READ_CLOCK, 42)
    assert dev.write(P.EP_OUT, request_bytes, TIMEOUT_MS) == len(request_bytes)
    frame = P.decode_frame(receive(dev))
    assert (frame.command, frame.sequence, frame.is_error) == (P.Command.READ_CLOCK, 42, False)
    assert P.CLOCK.parse(frame.payload).device_time_ms == backend.devices[0].model.now_ms
    history = backend.devices[0].history
    assert [(t.index, t.endpoint, t.error) for t in history] == [
        (0, P.EP_OUT, None),
        (1, P.EP_IN, None),
    ]
    assert history[0].data == request_bytes


def test_a_read_with_nothing_pending_times_out(backend: EmulatedBackend) -> None:
    dev = open_device(backend)
    with pytest.raises(usb.core.USBTimeoutError) as excinfo:
        receive(dev)
    assert usb_errno(excinfo) == errno.ETIMEDOUT
    exchange(dev, P.Command.READ_CLOCK)
    with pytest.raises(usb.core.USBTimeoutError):
        receive(dev)  # the response was read once; nothing is left


def test_a_short_buffer_gets_what_fits_and_the_rest_is_lost(backend: EmulatedBackend) -> None:
    dev = open_device(backend)
    send(dev, P.Command.IDENTIFY)
    part = receive(dev, 20)
    assert len(part) == 20 and part[:2] == b"TL"
    with pytest.raises(ProtocolError):
        P.decode_frame(part)
    with pytest.raises(usb.core.USBTimeoutError):
        receive(dev)


def test_a_new_request_discards_an_unread_response(backend: EmulatedBackend) -> None:
    dev = open_device(backend)
    send(dev, P.Command.READ_CLOCK, sequence=1)
    send(dev, P.Command.READ_BASE, sequence=2)
    frame = P.decode_frame(receive(dev))
    assert (frame.command, frame.sequence) == (P.Command.READ_BASE, 2)
    with pytest.raises(usb.core.USBTimeoutError):
        receive(dev)


def test_reset_flushes_the_response_and_starts_a_new_connection(
    backend: EmulatedBackend, device: SimulatedDevice
) -> None:
    dev = open_device(backend)
    first = P.IDENTIFY_RESPONSE.parse(exchange(dev, P.Command.IDENTIFY).payload).last_seq
    send(dev, P.Command.READ_CLOCK)
    dev.reset()
    with pytest.raises(usb.core.USBTimeoutError):
        receive(dev)
    again = P.IDENTIFY_RESPONSE.parse(exchange(dev, P.Command.IDENTIFY).payload).last_seq
    assert again == first + 1 and last_code(device) == EventCode.USB_CONNECT


def test_real_timeouts_take_their_time(device: SimulatedDevice) -> None:
    dev = open_device(EmulatedBackend([device], real_timeouts=True))
    start = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(P.EP_IN, P.MAX_FRAME, 5)
    assert time.monotonic() - start >= 0.005


# -- the backend: each fault, at the pyusb level ------------------------------------------------


def faulty(device: SimulatedDevice, *faults: Fault) -> tuple[EmulatedBackend, Any]:
    backend = EmulatedBackend([device], faults={device.spec.serial: FaultPlan(faults)})
    return backend, open_device(backend)


def test_stall_raises_epipe_until_the_halt_is_cleared(device: SimulatedDevice) -> None:
    backend, dev = faulty(device, Fault(FaultKind.STALL, 3))
    exchange(dev, P.Command.READ_CLOCK)  # transfers 0 and 1
    send(dev, P.Command.READ_CLOCK, sequence=2)  # transfer 2
    for _ in range(2):  # transfer 3 halts EP_IN; transfer 4 finds it still halted
        with pytest.raises(usb.core.USBError) as excinfo:
            receive(dev)
        assert usb_errno(excinfo) == errno.EPIPE
    assert backend.devices[0].halted == {P.EP_IN}
    send(dev, P.Command.READ_CLOCK, sequence=3)  # the OUT endpoint is not halted
    dev.clear_halt(P.EP_IN)
    with pytest.raises(usb.core.USBTimeoutError):
        receive(dev)  # clearing the halt flushed the response
    assert exchange(dev, P.Command.READ_CLOCK, sequence=4).sequence == 4
    errors = [t.error for t in backend.devices[0].history]
    assert errors == [None, None, None, "EPIPE", "EPIPE", None, "ETIMEDOUT", None, None]


def test_stall_on_the_out_endpoint_and_clear_feature(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.STALL, 0))
    with pytest.raises(usb.core.USBError) as excinfo:
        send(dev, P.Command.READ_CLOCK)
    assert usb_errno(excinfo) == errno.EPIPE
    endpoint = usb.util.find_descriptor(
        dev.get_active_configuration()[(0, 0)], bEndpointAddress=P.EP_OUT
    )
    assert usb.control.get_status(dev, endpoint) == 1
    usb.control.clear_feature(dev, usb.control.ENDPOINT_HALT, endpoint)
    assert usb.control.get_status(dev, endpoint) == 0
    assert not exchange(dev, P.Command.READ_CLOCK).is_error


def test_timeout_on_a_write_delivers_nothing(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.TIMEOUT, 0))
    before = device.last_seq
    with pytest.raises(usb.core.USBTimeoutError):
        send(dev, P.Command.IDENTIFY)
    with pytest.raises(usb.core.USBTimeoutError):
        receive(dev)
    assert device.last_seq == before  # IDENTIFY never reached the device


def test_timeout_on_a_read_leaves_the_late_response_pending(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.TIMEOUT, 1))
    send(dev, P.Command.READ_CLOCK, sequence=11)
    with pytest.raises(usb.core.USBTimeoutError) as excinfo:
        receive(dev)
    assert usb_errno(excinfo) == errno.ETIMEDOUT
    assert P.decode_frame(receive(dev)).sequence == 11


def test_drop_swallows_the_request(device: SimulatedDevice) -> None:
    backend, dev = faulty(device, Fault(FaultKind.DROP, 0))
    before = device.last_seq
    written = send(dev, P.Command.IDENTIFY)
    assert written == P.FRAME_OVERHEAD  # the host cannot tell from the write
    with pytest.raises(usb.core.USBTimeoutError):
        receive(dev)
    assert device.last_seq == before
    assert backend.devices[0].history[0].faults == (FaultKind.DROP,)


def test_drop_on_a_read_loses_the_response(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.DROP, 1))
    send(dev, P.Command.READ_CLOCK)
    for _ in range(2):
        with pytest.raises(usb.core.USBTimeoutError):
            receive(dev)


def test_corrupt_flips_a_byte_of_the_response(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.CORRUPT, 1))
    send(dev, P.Command.READ_BASE, sequence=5)
    damaged = receive(dev)
    with pytest.raises(ProtocolError, match="CRC"):
        P.decode_frame(damaged)
    clean = exchange(dev, P.Command.READ_BASE, sequence=5)
    whole = P.encode_frame(clean.command, clean.sequence, clean.payload, clean.flags)
    assert sum(a != b for a, b in zip(damaged, whole, strict=True)) == 1


def test_corrupt_or_short_request_is_answered_bad_frame(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.CORRUPT, 0), Fault(FaultKind.SHORT_READ, 2))
    before = device.last_seq
    for sequence in (1, 2):
        send(dev, P.Command.IDENTIFY, sequence=sequence)
        assert refusal(P.decode_frame(receive(dev))) is P.Status.BAD_FRAME
    assert device.last_seq == before


def test_short_read_truncates_the_response(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.SHORT_READ, 1))
    send(dev, P.Command.READ_CERTIFICATES)
    short = receive(dev)
    full = exchange(dev, P.Command.READ_CERTIFICATES)
    whole = P.encode_frame(full.command, full.sequence, full.payload, full.flags)
    assert short == whole[: len(whole) // 2]
    with pytest.raises(ProtocolError):
        P.decode_frame(short)


def test_disconnect_raises_enodev_and_the_device_leaves_until_reattached(
    device: SimulatedDevice,
) -> None:
    backend, dev = faulty(device, Fault(FaultKind.DISCONNECT, 2))
    first = P.IDENTIFY_RESPONSE.parse(exchange(dev, P.Command.IDENTIFY).payload)
    with pytest.raises(usb.core.USBError) as excinfo:
        send(dev, P.Command.READ_CLOCK)
    assert usb_errno(excinfo) == errno.ENODEV
    gone = backend.devices
    assert gone == ()
    with pytest.raises(usb.core.USBError) as excinfo:
        receive(dev)
    assert usb_errno(excinfo) == errno.ENODEV
    with pytest.raises(usb.core.USBError):
        dev.clear_halt(P.EP_IN)
    assert usb.core.find(idVendor=P.VENDOR_ID, backend=backend) is None
    old_address = dev.address
    usb.util.dispose_resources(dev)  # never raises for an unplugged device

    device.advance(60_000)
    attachment = backend.attach(device)  # the same model, plugged in again
    again = open_device(backend)
    assert again.address != old_address and attachment.transfers == 0
    second = P.IDENTIFY_RESPONSE.parse(exchange(again, P.Command.IDENTIFY).payload)
    assert second.last_seq == first.last_seq + 1  # a new connection, logged
    assert last_code(device) == EventCode.USB_CONNECT


def test_detach_from_the_dock_unplugs_open_handles(
    backend: EmulatedBackend, device: SimulatedDevice
) -> None:
    dev = open_device(backend)
    send(dev, P.Command.READ_CLOCK)
    backend.detach(device.spec.serial)
    with pytest.raises(usb.core.USBError) as excinfo:
        receive(dev)
    assert usb_errno(excinfo) == errno.ENODEV


def test_slow_answers_late_but_within_the_timeout(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.SLOW, 1, delay_s=0.005))
    send(dev, P.Command.READ_CLOCK, sequence=3)
    start = time.monotonic()
    frame = P.decode_frame(bytes(dev.read(P.EP_IN, P.MAX_FRAME, 1000)))
    assert time.monotonic() - start >= 0.005
    assert frame.sequence == 3


def test_slow_beyond_the_timeout_times_out_after_the_timeout(device: SimulatedDevice) -> None:
    _, dev = faulty(device, Fault(FaultKind.SLOW, 1, delay_s=5.0))
    send(dev, P.Command.READ_CLOCK, sequence=4)
    start = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(P.EP_IN, P.MAX_FRAME, 3)
    elapsed = time.monotonic() - start
    assert 0.003 <= elapsed < 1.0
    assert P.decode_frame(receive(dev)).sequence == 4  # the late answer arrives


def test_clock_reset_makes_the_clock_lose_power_at_that_transfer(
    device: SimulatedDevice,
) -> None:
    _, dev = faulty(device, Fault(FaultKind.CLOCK_RESET, 2))
    before = P.CLOCK.parse(exchange(dev, P.Command.READ_CLOCK).payload).device_time_ms
    assert before > 10 * 365 * 86_400_000  # years after 2000
    after = P.CLOCK.parse(exchange(dev, P.Command.READ_CLOCK).payload).device_time_ms
    assert after < 60_000  # restarted at 2000-01-01
    record = device.records_bytes(device.last_seq, 1)
    assert last_code(device) == EventCode.POWER_ON
    assert decode_payload(EventCode.POWER_ON, record[14:28])["rtc_valid"] == 0


def test_tamper_downloads_cleanly_and_fails_verification() -> None:
    clean_device, tampered_device = make_device(seed=3, events=100), make_device(seed=4, events=100)
    images = {}
    for model, faults in ((clean_device, ()), (tampered_device, (Fault(FaultKind.TAMPER, 5),))):
        backend, dev = faulty(model, *faults)
        images[model.spec.serial] = MiniHost(dev, model.utc_ms).download()
        history = backend.devices[0].history
        assert all(t.error is None for t in history)  # the transfer itself went well
    assert verify_image(images[clean_device.spec.serial], TRUST).ok
    report = verify_image(images[tampered_device.spec.serial], TRUST)
    assert not report.ok and Kind.CHAIN in report.kinds()


def test_a_dock_of_40_downloads_concurrently_through_faults() -> None:
    devices = [make_device(seed, events=300 + seed) for seed in range(40)]
    plans = {
        d.spec.serial: FaultPlan.random(i, transfers=30, rate=0.25, delay_s=0.001)
        for i, d in enumerate(devices)
    }
    backend = EmulatedBackend(devices, faults=plans)
    images: dict[str, bytes] = {}
    failures: list[BaseException] = []

    def download(model: SimulatedDevice) -> None:
        try:
            dev = open_device(backend, model.spec.serial)
            images[model.spec.serial] = MiniHost(dev, model.utc_ms).download()
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=download, args=(d,)) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures[0]
    assert set(images) == {d.spec.serial for d in devices}
    struck = 0
    for attached in backend.devices:
        image = read_image(images[attached.serial])
        assert image.records.tobytes() == attached.model.records_bytes()
        assert verify_image(image, TRUST).ok
        struck += sum(1 for t in attached.history if t.faults)
        assert [t.index for t in attached.history] == list(range(attached.transfers))
    assert struck > 40  # the faults did strike
