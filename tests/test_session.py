"""DeviceSession: request/response, retries, bounded backoff and every error type.

Two kinds of link are used.  ``ScriptedLink`` (below) puts a script of failures between the
session and the device side (:class:`~taserlink.emulator.server.DataportServer`), with a
fake clock, so retries and backoff can be counted exactly.  The emulated pyusb backend
(:mod:`taserlink.emulator.usb`) runs the real pyusb path: discovery, open, claim, release,
and pyusb's own exceptions translated into taserlink's.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable

import pytest
import usb.core

from taserlink.device.session import DeviceSession, RetryPolicy
from taserlink.device.usb_host import (
    EndpointStalled,
    find_device,
    find_devices,
    open_link,
    translate_usb_error,
)
from taserlink.emulator import SimulatedDevice, run_scenario
from taserlink.emulator.faults import Fault, FaultKind, FaultPlan
from taserlink.emulator.server import DataportServer
from taserlink.emulator.usb import MANUFACTURER, EmulatedBackend
from taserlink.errors import (
    DeviceDisconnected,
    DeviceError,
    DeviceNotFound,
    DeviceRefused,
    DeviceTimeout,
    ProtocolError,
)
from taserlink.format import EventCode, decode_payload
from taserlink.format import layout as L
from taserlink.format.image import encode_base, encode_certificates, encode_identity
from taserlink.usb import protocol as P


class FakeClock:
    """Monotonic time that moves only when slept on or when a transfer times out."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Action = str
"""What the link does at one transfer: ``ok``, ``timeout`` (an IN answer stays pending,
an OUT request is not delivered), ``drop`` (lost), ``corrupt``, ``short``, ``stall``,
``gone`` (ENODEV), ``late`` (answer delivered *after* the read times out)."""


class ScriptedLink:
    """A Transport over a DataportServer; ``script[i]`` is the action at transfer ``i``
    (OUT and IN counted together, as the emulator's fault plans count them)."""

    def __init__(
        self,
        device: SimulatedDevice,
        script: dict[int, Action] | Callable[[int, str], Action] | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        self.device = device
        self.server = DataportServer(device)
        self.script = script or {}
        self.clock = clock or FakeClock()
        self.pending: deque[bytes] = deque()
        self.index = 0
        self.cleared: list[int] = []
        self.halted: set[int] = set()
        self.closed = False
        self.requests: list[P.Frame] = []

    @property
    def serial(self) -> str | None:
        return self.device.spec.serial

    def _action(self, direction: str) -> Action:
        index, self.index = self.index, self.index + 1
        if callable(self.script):
            return self.script(index, direction)
        return self.script.get(index, "ok")

    def write(self, data: bytes, timeout_ms: int) -> int:
        action = self._action("out")
        if P.EP_OUT in self.halted or action == "stall":
            self.halted.add(P.EP_OUT)
            raise EndpointStalled("stall", P.EP_OUT)
        if action == "gone":
            raise DeviceDisconnected("gone")
        if action == "timeout":
            self.clock.now += timeout_ms / 1000
            raise DeviceTimeout("timeout")
        self.requests.append(P.decode_frame(data))
        size = len(data)
        if action == "drop":
            return size
        if action == "corrupt":
            data = data[:9] + bytes([data[9] ^ 0xFF]) + data[10:]
        if action == "short":  # cut on the way: the host's write completed
            data = data[: len(data) // 2]
        self.pending.append(self.server.handle(data))
        return size

    def read(self, size: int, timeout_ms: int) -> bytes:
        action = self._action("in")
        if P.EP_IN in self.halted or action == "stall":
            self.halted.add(P.EP_IN)
            raise EndpointStalled("stall", P.EP_IN)
        if action == "gone":
            raise DeviceDisconnected("gone")
        if action in ("timeout", "late") or not self.pending:
            self.clock.now += timeout_ms / 1000
            raise DeviceTimeout("timeout")
        answer = self.pending.popleft()
        if action == "drop":
            self.clock.now += timeout_ms / 1000
            raise DeviceTimeout("timeout")
        if action == "corrupt":
            answer = answer[:-5] + bytes([answer[-5] ^ 0x01]) + answer[-4:]
        if action == "short":
            answer = answer[: len(answer) // 2]
        return answer

    def clear_halt(self, endpoint: int) -> None:
        self.cleared.append(endpoint)
        self.halted.discard(endpoint)

    def close(self) -> None:
        self.closed = True


POLICY = RetryPolicy(attempts=5, timeout_ms=200, backoff_s=0.01, backoff_max_s=0.05, total_s=30)


def make_session(
    script: dict[int, Action] | Callable[[int, str], Action] | None = None,
    policy: RetryPolicy = POLICY,
    device: SimulatedDevice | None = None,
) -> tuple[DeviceSession, ScriptedLink, FakeClock]:
    clock = FakeClock()
    link = ScriptedLink(device or run_scenario("incident-shift", 3).device, script, clock)
    session = DeviceSession(link, policy=policy, sleep=clock.sleep, monotonic=clock.monotonic)
    return session, link, clock


def codes_after(device: SimulatedDevice, seq: int) -> list[EventCode]:
    raw = device.records_bytes(seq + 1)
    return [
        EventCode(int.from_bytes(raw[i + 12 : i + 14], "little"))
        for i in range(0, len(raw), L.RECORD_SIZE)
    ]


# -- request/response -------------------------------------------------------------------


def test_commands_return_what_the_device_holds() -> None:
    session, link, _ = make_session()
    device = link.device
    with session:
        info = session.identify()
        assert info.serial == device.spec.serial == session.serial
        assert info.identity_bytes == encode_identity(device.identity)
        assert (info.first_seq, info.last_seq) == (device.first_seq, device.last_seq)
        assert info.seal_count == len(device.seals_bytes()) // L.SEAL_SIZE
        assert encode_certificates(session.read_certificates()) == encode_certificates(
            device.certificates
        )
        assert encode_base(session.read_base()) == encode_base(device.base)
        assert session.read_records(info.first_seq, 7) == device.records_bytes(info.first_seq, 7)
        whole = b"".join(c for _, c in session.iter_records(info.first_seq, info.last_seq, 5))
        assert whole == device.records_bytes()
        assert session.read_all_seals(most=1) == device.seals_bytes()
        assert session.read_clock() == device.now_ms
    assert link.closed
    assert session.stats.retries == 0


def test_every_attempt_has_a_new_sequence_number_that_wraps() -> None:
    clock = FakeClock()
    link = ScriptedLink(run_scenario("quiet-day", 1).device, {2: "drop"}, clock)
    session = DeviceSession(
        link, policy=POLICY, sleep=clock.sleep, monotonic=clock.monotonic, first_sequence=0xFFFE
    )
    session.identify()
    session.read_clock()
    assert [r.sequence for r in link.requests] == [0xFFFE, 0xFFFF, 0]
    assert [r.command for r in link.requests] == [
        P.Command.IDENTIFY,
        P.Command.READ_CLOCK,
        P.Command.READ_CLOCK,
    ]


def test_identify_logs_usb_connect_once_per_connection() -> None:
    session, link, _ = make_session()
    before = link.device.last_seq
    first = session.identify()
    second = session.identify()
    assert first.last_seq == second.last_seq == before + 1
    assert codes_after(link.device, before) == [EventCode.USB_CONNECT]


# -- retries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "counter"),
    [
        ({1: "timeout"}, "timeouts"),
        ({0: "timeout"}, "timeouts"),
        ({1: "drop"}, "timeouts"),
        ({0: "drop"}, "timeouts"),
        ({1: "corrupt"}, "bad_answers"),
        ({1: "short"}, "bad_answers"),
        ({0: "corrupt"}, "bad_frame_answers"),
        ({0: "short"}, "bad_frame_answers"),
        ({0: "stall"}, "stalls_cleared"),
        ({1: "stall"}, "stalls_cleared"),
    ],
)
def test_one_failure_is_retried(script: dict[int, Action], counter: str) -> None:
    session, link, clock = make_session(script)
    expected = link.device.records_bytes(5, 9)
    assert session.read_records(5, 9) == expected
    assert session.stats.retries == 1
    assert getattr(session.stats, counter) == 1
    assert clock.sleeps == [POLICY.delay(1)]


def test_a_stall_is_cleared_on_the_endpoint_that_stalled() -> None:
    session, link, _ = make_session({1: "stall", 2: "stall"})
    session.read_clock()
    assert link.cleared == [P.EP_IN, P.EP_OUT]
    assert session.stats.stalls_cleared == 2


def test_a_late_answer_is_discarded_for_the_next_request() -> None:
    # The clock answer comes late: the session retries READ_CLOCK and gets either answer;
    # the one left over must not be taken as the answer to the next request.
    session, link, _ = make_session({1: "late"})
    assert session.read_clock() == link.device.now_ms
    base = session.read_base()
    assert encode_base(base) == encode_base(link.device.base)
    assert session.stats.stale_answers == 1


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(
        attempts=7, timeout_ms=100, backoff_s=0.01, backoff_factor=3, backoff_max_s=0.2
    )
    assert [policy.delay(n) for n in range(1, 7)] == pytest.approx(
        [0.01, 0.03, 0.09, 0.2, 0.2, 0.2]
    )
    session, link, clock = make_session(lambda i, d: "drop", policy)
    with pytest.raises(DeviceTimeout, match="7 attempt"):
        session.read_clock()
    assert clock.sleeps == pytest.approx([policy.delay(n) for n in range(1, 7)])
    assert len(link.requests) == 7


def test_total_time_bounds_the_retries() -> None:
    policy = RetryPolicy(attempts=100, timeout_ms=500, backoff_s=0.1, backoff_max_s=1, total_s=3)
    session, _, clock = make_session(lambda i, d: "timeout" if d == "in" else "ok", policy)
    with pytest.raises(DeviceTimeout):
        session.read_base()
    assert clock.now <= policy.total_s
    assert session.stats.attempts < 10


@pytest.mark.parametrize("action", ["corrupt", "short"])
def test_answers_that_stay_bad_end_in_protocol_error(action: Action) -> None:
    session, _, _ = make_session(lambda i, d: action if d == "in" else "ok")
    with pytest.raises(ProtocolError, match="5 attempt"):
        session.read_base()


def test_requests_that_stay_damaged_end_in_protocol_error() -> None:
    session, _, _ = make_session(lambda i, d: "corrupt" if d == "out" else "ok")
    with pytest.raises(ProtocolError, match="damaged request"):
        session.identify()
    assert session.stats.bad_frame_answers == POLICY.attempts


def test_a_stall_that_keeps_coming_back_is_a_protocol_error() -> None:
    session, link, _ = make_session(lambda i, d: "stall")
    with pytest.raises(ProtocolError):
        session.read_clock()
    assert len(link.cleared) == POLICY.attempts


# -- errors that are not retried --------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1])
def test_a_device_that_goes_away_is_not_retried(index: int) -> None:
    session, _, _ = make_session({index: "gone"})
    with pytest.raises(DeviceDisconnected):
        session.identify()
    assert session.stats.attempts == 1


def test_not_retained_is_refused_with_its_status() -> None:
    device = run_scenario("wrapped-log", 1).device
    session, _, _ = make_session(device=device)
    with pytest.raises(DeviceRefused) as caught:
        session.read_records(device.first_seq - 1)
    assert caught.value.status == P.Status.NOT_RETAINED
    assert session.stats.attempts == 1


def test_bad_argument_is_refused_at_once() -> None:
    session, link, _ = make_session()
    with pytest.raises(DeviceRefused) as caught:
        session.read_records(link.device.last_seq + 5)
    assert caught.value.status == P.Status.BAD_ARGUMENT
    assert session.stats.attempts == 1


def test_busy_is_retried_then_refused() -> None:
    session, link, _ = make_session()
    link.server.busy = True
    with pytest.raises(DeviceRefused) as caught:
        session.read_clock()
    assert caught.value.status == P.Status.BUSY
    assert session.stats.attempts == POLICY.attempts


def test_busy_that_clears_is_absorbed() -> None:
    session, link, clock = make_session()
    link.server.busy = True
    original = clock.sleep

    def sleep(seconds: float) -> None:
        original(seconds)
        link.server.busy = False

    session._sleep = sleep
    assert session.read_clock() == link.device.now_ms


def test_a_closed_session_refuses() -> None:
    session, _, _ = make_session()
    session.close()
    session.close()
    with pytest.raises(DeviceError):
        session.identify()


# -- the two requests that change the device --------------------------------------------


def test_set_clock_answer_lost_after_the_device_acted_is_read_from_the_log() -> None:
    session, link, _ = make_session()
    session.identify()
    old = link.device.now_ms
    before = link.device.last_seq
    # Transfers: IDENTIFY (0, 1), set_clock's IDENTIFY (2, 3), SET_CLOCK out (4), its
    # answer (5) is lost.
    link.script = {5: "drop"}
    result = session.set_clock(old + 3_600_000)
    assert result.from_log
    assert (result.old_time_ms, result.new_time_ms) == (old, old + 3_600_000)
    assert codes_after(link.device, before) == [EventCode.CLOCK_SET]
    assert result.seq == before + 1
    assert link.device.now_ms == old + 3_600_000


@pytest.mark.parametrize("action", ["timeout", "drop", "stall", "corrupt"])
def test_set_clock_request_that_never_arrived_is_sent_again_once(action: Action) -> None:
    session, link, _ = make_session()
    session.identify()
    before = link.device.last_seq
    link.script = {4: action}
    targets = iter([1_000_000, 2_000_000, 3_000_000])
    result = session.set_clock(lambda: next(targets))
    assert codes_after(link.device, before) == [EventCode.CLOCK_SET]
    record = link.device.records_bytes(result.seq, 1)
    assert decode_payload(EventCode.CLOCK_SET, record[14:28])["old_time_ms"] == result.old_time_ms
    # A request that may have arrived is checked in the log first; either way one set.
    assert result.new_time_ms in (2_000_000, 1_000_000)
    assert link.device.now_ms == result.new_time_ms


def test_set_clock_that_never_arrives_gives_up_without_setting() -> None:
    session, link, _ = make_session(policy=RetryPolicy(attempts=3, timeout_ms=100))
    session.identify()
    before = link.device.last_seq
    link.script = lambda i, d: "drop" if d == "out" and i >= 4 else "ok"
    with pytest.raises(DeviceTimeout):
        session.set_clock(5)
    assert link.device.last_seq == before


def test_sign_statement_answer_lost_is_signed_again_over_the_same_nonce() -> None:
    session, link, _ = make_session()
    info = session.identify()
    link.script = {3: "drop"}  # SIGN_STATEMENT goes out at 2, its answer is lost at 3
    nonce = bytes(range(32))
    statement = session.sign_statement(nonce)
    assert statement.nonce == nonce
    assert codes_after(link.device, info.last_seq) == [EventCode.DOWNLOAD, EventCode.DOWNLOAD]
    assert statement.last_seq == link.device.last_seq
    sent = [r for r in link.requests if r.command == P.Command.SIGN_STATEMENT]
    assert len(sent) == 2 and sent[0].payload == sent[1].payload == nonce


def test_sign_statement_checks_the_nonce_length() -> None:
    session, _, _ = make_session()
    with pytest.raises(ValueError):
        session.sign_statement(b"short")


# -- pyusb errors never escape ----------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT), DeviceTimeout),
        (usb.core.USBError("Pipe error", -9, errno.EPIPE), EndpointStalled),
        (usb.core.USBError("No such device", -4, errno.ENODEV), DeviceDisconnected),
        (usb.core.USBError("Input/Output Error", -1, errno.EIO), DeviceDisconnected),
        (usb.core.USBError("No such device (it may have been disconnected)"), DeviceDisconnected),
        (usb.core.USBError("Overflow", -8, errno.EOVERFLOW), ProtocolError),
        (usb.core.USBError("Access denied", -3, errno.EACCES), DeviceError),
        (usb.core.USBError("Resource busy", -6, errno.EBUSY), DeviceError),
        (usb.core.USBError("Other error", -99, None), DeviceError),
        (usb.core.NoBackendError("No backend available"), DeviceError),
        (NotImplementedError("not here"), DeviceError),
    ],
)
def test_pyusb_errors_are_translated(error: BaseException, kind: type[DeviceError]) -> None:
    translated = translate_usb_error(error, "reading", P.EP_IN)
    assert type(translated) is kind
    assert isinstance(translated, DeviceError)
    if isinstance(translated, EndpointStalled):
        assert translated.endpoint == P.EP_IN


# -- the real pyusb path (emulated backend) ---------------------------------------------


def two_devices() -> tuple[SimulatedDevice, SimulatedDevice, EmulatedBackend]:
    a = run_scenario("quiet-day", 1).device
    b = run_scenario("incident-shift", 1).device
    return a, b, EmulatedBackend([a, b])


def test_discovery_by_ids_and_serial() -> None:
    a, b, backend = two_devices()
    found = find_devices(backend=backend)
    assert [f.serial for f in found] == [a.spec.serial, b.spec.serial]
    assert {f.manufacturer for f in found} == {MANUFACTURER}
    assert all((f.vendor_id, f.product_id) == (P.VENDOR_ID, P.PRODUCT_ID) for f in found)
    grouped = f"{b.spec.serial[:4]}-{b.spec.serial[4:8]}-{b.spec.serial[8:]}".lower()
    assert find_device(grouped, backend=backend).serial == b.spec.serial
    assert find_devices(vendor_id=0x1234, backend=backend) == []
    with pytest.raises(DeviceNotFound, match="2 devices"):
        find_device(backend=backend)
    with pytest.raises(DeviceNotFound):
        find_device("D0000000000", backend=backend)
    with pytest.raises(DeviceNotFound):
        find_device(backend=EmulatedBackend())


def test_open_claims_and_close_releases() -> None:
    _, b, backend = two_devices()
    with DeviceSession.open(b.spec.serial, backend=backend) as session:
        assert session.serial == b.spec.serial
        assert session.identify().serial == b.spec.serial
        with pytest.raises(DeviceError, match="busy"):
            open_link(b.spec.serial, backend=backend)  # claimed by the session
    with DeviceSession.open(b.spec.serial, backend=backend) as again:
        assert again.read_clock() == b.now_ms


@pytest.mark.parametrize(
    ("kind", "counter"),
    [
        (FaultKind.STALL, "stalls_cleared"),
        (FaultKind.TIMEOUT, "timeouts"),
        (FaultKind.DROP, "timeouts"),
        (FaultKind.CORRUPT, None),
        (FaultKind.SHORT_READ, None),
        (FaultKind.SLOW, None),
    ],
    ids=lambda v: getattr(v, "value", v),
)
@pytest.mark.parametrize("at", [0, 1], ids=["out", "in"])
def test_emulated_faults_are_retried(kind: FaultKind, counter: str | None, at: int) -> None:
    device = run_scenario("quiet-day", 1).device
    backend = EmulatedBackend([device], {device.spec.serial: FaultPlan([Fault(kind, at)])})
    policy = RetryPolicy(attempts=3, timeout_ms=20, backoff_s=0.001)
    with DeviceSession.open(device.spec.serial, backend=backend, policy=policy) as session:
        assert session.read_base().first_seq == device.first_seq
        stats = session.stats
    if kind is FaultKind.SLOW:  # 0 s of delay: the answer is slow but in time
        assert stats.retries == 0
        return
    assert stats.retries == 1
    if counter is not None:
        assert getattr(stats, counter) == 1
    elif at == 0:
        assert stats.bad_frame_answers == 1
    else:
        assert stats.bad_answers == 1


def test_a_slow_device_past_the_timeout_is_retried() -> None:
    device = run_scenario("quiet-day", 1).device
    plan = FaultPlan([Fault(FaultKind.SLOW, 1, delay_s=0.05)])
    backend = EmulatedBackend([device], {device.spec.serial: plan})
    policy = RetryPolicy(attempts=3, timeout_ms=10, backoff_s=0.001)
    with DeviceSession.open(device.spec.serial, backend=backend, policy=policy) as session:
        assert session.read_clock() == device.now_ms
        assert session.stats.timeouts == 1


def test_a_device_unplugged_mid_session() -> None:
    device = run_scenario("quiet-day", 1).device
    plan = FaultPlan([Fault(FaultKind.DISCONNECT, 3)])
    backend = EmulatedBackend([device], {device.spec.serial: plan})
    session = DeviceSession.open(device.spec.serial, backend=backend)
    session.identify()
    with pytest.raises(DeviceDisconnected):
        session.read_base()
    with pytest.raises(DeviceDisconnected):
        session.read_base()
    session.close()  # nothing left to release: no error
    with pytest.raises(DeviceNotFound):
        find_device(device.spec.serial, backend=backend)
    backend.attach(device)
    with DeviceSession.open(device.spec.serial, backend=backend) as session:
        assert session.identify().last_seq == device.last_seq


def test_the_default_backend_never_leaks_a_pyusb_error() -> None:
    try:
        found = find_devices()
    except DeviceError:
        return  # no libusb on this machine: a typed error
    assert all(f.vendor_id == P.VENDOR_ID for f in found)
