"""A session with one dataport device: numbered requests, checked answers, bounded retries.

:class:`DeviceSession` sends one request frame per bulk OUT transfer and reads one answer
frame per bulk IN transfer (frames: :mod:`taserlink.usb.protocol`).  Every attempt gets a
new sequence number; an answer is accepted only if its CRC holds, it carries the
``RESPONSE`` flag, the request's command and the sequence number of one of this request's
attempts.  A well-formed answer to an *earlier* request (a late answer that arrived after
its request was given up) is discarded and the read repeated.

What is retried, with exponential backoff bounded in attempts and in total time
(:class:`RetryPolicy`): a transfer that times out, a stall (the endpoint's halt is cleared
first), an answer that is short, corrupted (CRC) or otherwise malformed, an answer out of
sequence, and the device's own ``ERROR BAD_FRAME`` (it received a corrupted request) or
``ERROR BUSY``.  What is not: a device that went away
(:class:`~taserlink.errors.DeviceDisconnected`, at once), any other ``ERROR`` answer
(:class:`~taserlink.errors.DeviceRefused` with its status).  When retries run out the last
failure decides: :class:`~taserlink.errors.DeviceTimeout` if it was a timeout,
:class:`~taserlink.errors.DeviceRefused` if the device stayed busy, else
:class:`~taserlink.errors.ProtocolError`.  No pyusb exception leaves this module.

**Requests that change the device.**  All requests are idempotent except two:

* ``SIGN_STATEMENT`` logs a ``DOWNLOAD`` record.  It is re-sent with the *same nonce*:
  if the device had acted on the lost attempt, the log gains a second ``DOWNLOAD`` record
  and the device signs a second statement over the same nonce.  That is harmless: every
  statement is a true account of the log when it was signed, a download reads the records
  up to the ``last_seq`` of the statement it kept, and an extra ``DOWNLOAD`` record is
  simply the truth (the host asked twice).
* ``SET_CLOCK`` logs a ``CLOCK_SET`` record and moves the clock.  It is never re-sent
  blindly.  When an attempt fails in a way that proves the device did not act (the OUT
  endpoint stalled, so the request was not taken; or the device answered ``BAD_FRAME``) it is
  re-sent.  When the device may have acted (the request went out and the answer was lost,
  late or damaged) the session reads the log since the sequence it noted before the
  request: a ``CLOCK_SET`` by the host there means the clock was set, and its record gives
  the old time; none means the device did not act, and the request is sent again with
  the target time computed afresh (pass a callable to :meth:`DeviceSession.set_clock`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import construct as cs

from taserlink.device.usb_host import READ_SIZE, EndpointStalled, Transport, UsbLink, open_link
from taserlink.errors import (
    DeviceDisconnected,
    DeviceError,
    DeviceRefused,
    DeviceTimeout,
    FormatError,
    ProtocolError,
)
from taserlink.format import ClockSource, EventCode, Identity, Statement
from taserlink.format import layout as L
from taserlink.format.image import (
    Base,
    decode_base,
    decode_certificates,
    decode_identity,
    decode_statement,
    encode_certificates,
    encode_identity,
)
from taserlink.usb import protocol as P

__all__ = [
    "RetryPolicy",
    "DeviceInfo",
    "ClockSet",
    "SessionStats",
    "DeviceSession",
]

_SEQUENCE_MODULUS: Final = 1 << 16
_MAX_STALE_PER_ATTEMPT: Final = 8
"""Late answers to earlier requests discarded before an attempt counts as failed."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a session tries before it gives up on one request.

    The delay before retry ``n`` (1-based) is ``min(backoff_max_s, backoff_s *
    backoff_factor ** (n - 1))``.  A request ends after ``attempts`` attempts or once its
    next delay would take it past ``total_s`` seconds since it started; each transfer's own
    timeout is cut to what is left of ``total_s``.
    """

    attempts: int = 6
    """Attempts per request, the first included (≥ 1)."""
    timeout_ms: int = 1000
    """Timeout of each bulk transfer, in milliseconds."""
    backoff_s: float = 0.01
    """Delay before the first retry, in seconds."""
    backoff_factor: float = 2.0
    backoff_max_s: float = 0.5
    """Longest delay between two attempts, in seconds."""
    total_s: float = 20.0
    """Longest a request may take, transfers and delays together, in seconds."""

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout_ms < 1 or self.total_s <= 0:
            raise ValueError("attempts, timeout_ms and total_s must be positive")
        if self.backoff_s < 0 or self.backoff_factor < 1 or self.backoff_max_s < 0:
            raise ValueError("backoff must be ≥ 0 and grow by a factor ≥ 1")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the second attempt)."""
        return float(min(self.backoff_max_s, self.backoff_s * self.backoff_factor ** (retry - 1)))


@dataclass(frozen=True)
class DeviceInfo:
    """The ``IDENTIFY`` answer: protocol version, the log's extent and the identity section."""

    protocol_version: int
    first_seq: int
    last_seq: int
    """Sequence of the newest record (``first_seq - 1`` when the log is empty)."""
    seal_count: int
    identity: Identity
    identity_bytes: bytes = field(repr=False)
    """The identity section exactly as the device sent it."""

    @property
    def serial(self) -> str:
        return self.identity.serial

    @property
    def record_count(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True)
class ClockSet:
    """What a ``SET_CLOCK`` did."""

    old_time_ms: int
    """The device clock just before it was set (device ms since 2000-01-01)."""
    new_time_ms: int
    """The time the clock was set to."""
    seq: int
    """Sequence of the ``CLOCK_SET`` record the device logged."""
    from_log: bool = False
    """True when the answer was lost and the outcome was read back from the device's log."""


@dataclass
class SessionStats:
    """Counters of one session (for progress displays, logs and tests)."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    timeouts: int = 0
    stalls_cleared: int = 0
    bad_answers: int = 0
    """Answers that were short, corrupted or malformed."""
    bad_frame_answers: int = 0
    """``ERROR BAD_FRAME`` answers (the device received a damaged request)."""
    stale_answers: int = 0
    """Late answers to earlier requests, discarded."""
    backoff_s: float = 0.0
    """Seconds spent waiting between attempts."""
    bytes_out: int = 0
    bytes_in: int = 0


class _Uncertain(DeviceError):
    """An attempt failed after the request may have reached the device (internal)."""

    def __init__(self, cause: DeviceError) -> None:
        self.cause = cause
        super().__init__(str(cause))


class _Retryable(Exception):
    """One attempt failed in a way a retry may cure (internal)."""

    def __init__(self, error: DeviceError, *, device_may_have_acted: bool) -> None:
        self.error = error
        self.device_may_have_acted = device_may_have_acted
        super().__init__(str(error))


def _parse(con: Any, payload: bytes, what: str) -> Any:
    try:
        return con.parse(payload)
    except (cs.ConstructError, UnicodeDecodeError) as error:
        raise ProtocolError(
            f"malformed {what} answer: {str(error).strip().splitlines()[-1]}"
        ) from None


class DeviceSession:
    """Requests and answers with one device over a :class:`~taserlink.device.usb_host.Transport`.

    Args:
        transport: an opened link (:class:`~taserlink.device.usb_host.UsbLink`, or any
            object with the same methods).  The session closes it on :meth:`close`.
        policy: retries, timeouts and backoff.
        sleep, monotonic: the clock used for backoff (tests pass fakes).
        first_sequence: sequence number of the first request.

    Use :meth:`open` to find and open a device, and the session as a context manager.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        first_sequence: int = 1,
    ) -> None:
        self.transport = transport
        self.policy = policy or RetryPolicy()
        self.stats = SessionStats()
        self._sleep = sleep
        self._monotonic = monotonic
        self._next_sequence = first_sequence % _SEQUENCE_MODULUS
        self._closed = False

    @classmethod
    def open(
        cls,
        target: Any = None,
        *,
        backend: Any | None = None,
        policy: RetryPolicy | None = None,
    ) -> DeviceSession:
        """Find (by serial, or the only device attached), open and claim a device.

        ``target`` is as for :func:`~taserlink.device.usb_host.open_link`.

        Raises:
            DeviceNotFound: no such device attached.
            DeviceError: it could not be opened or claimed.
        """
        link: UsbLink = open_link(target, backend=backend)
        return cls(link, policy=policy)

    @property
    def serial(self) -> str | None:
        """The serial-number string descriptor of the device (``None`` if unknown)."""
        return self.transport.serial

    def close(self) -> None:
        """Release the device (idempotent)."""
        if not self._closed:
            self._closed = True
            self.transport.close()

    def __enter__(self) -> DeviceSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request ----------------------------------------------------------------------

    def _sequence(self) -> int:
        sequence = self._next_sequence
        self._next_sequence = (sequence + 1) % _SEQUENCE_MODULUS
        return sequence

    def request(self, command: P.Command, payload: bytes = b"") -> bytes:
        """Send ``command`` with ``payload`` and return the answer's payload, retrying as the
        module describes (the request is treated as idempotent).

        Raises:
            DeviceTimeout: no answer within the attempts and time allowed.
            ProtocolError: only malformed answers (or stalls) within them.
            DeviceRefused: the device refused (``status``: a
                :class:`~taserlink.usb.protocol.Status`).
            DeviceDisconnected: the device went away.
        """
        return self._request(command, payload, idempotent=True)

    def _request(self, command: P.Command, payload: bytes, *, idempotent: bool) -> bytes:
        """The retry loop.  A non-idempotent request raises :class:`_Uncertain` as soon as
        an attempt fails after the device may have acted on it."""
        if self._closed:
            raise DeviceError("the session is closed")
        policy = self.policy
        self.stats.requests += 1
        started = self._monotonic()
        deadline = started + policy.total_s
        sequences: list[int] = []
        last: DeviceError | None = None
        for attempt in range(1, policy.attempts + 1):
            if attempt > 1:
                delay = policy.delay(attempt - 1)
                if self._monotonic() + delay >= deadline:
                    break
                self.stats.retries += 1
                self.stats.backoff_s += delay
                self._sleep(delay)
            remaining_ms = int((deadline - self._monotonic()) * 1000)
            if remaining_ms < 1:
                break
            sequence = self._sequence()
            sequences.append(sequence)
            self.stats.attempts += 1
            try:
                return self._attempt(
                    command, payload, sequence, sequences, min(policy.timeout_ms, remaining_ms)
                )
            except _Retryable as failure:
                last = failure.error
                if not idempotent and failure.device_may_have_acted:
                    raise _Uncertain(failure.error) from None
        name = command.name
        elapsed = self._monotonic() - started
        tries = f"{len(sequences)} attempt(s) in {elapsed:.1f} s"
        if last is None:
            raise DeviceTimeout(f"{name}: no time left to send the request")
        if isinstance(last, DeviceTimeout):
            raise DeviceTimeout(f"{name}: no answer after {tries} ({last})")
        if isinstance(last, DeviceRefused):
            raise DeviceRefused(
                f"{name}: device still refusing after {tries} ({last})", last.status
            )
        raise ProtocolError(f"{name}: no good answer after {tries} (last: {last})")

    def _attempt(
        self,
        command: P.Command,
        payload: bytes,
        sequence: int,
        ours: list[int],
        timeout_ms: int,
    ) -> bytes:
        """One write and the read(s) of its answer.  Raises :class:`_Retryable` for failures
        a retry may cure; other errors propagate."""
        frame = P.encode_frame(command, sequence, payload)
        try:
            written = self.transport.write(frame, timeout_ms)
        except EndpointStalled as stall:
            self._clear(stall)
            raise _Retryable(stall, device_may_have_acted=False) from None
        except DeviceTimeout as error:
            self.stats.timeouts += 1
            raise _Retryable(error, device_may_have_acted=True) from None
        except ProtocolError as error:
            raise _Retryable(error, device_may_have_acted=True) from None
        self.stats.bytes_out += len(frame)
        if written != len(frame):
            short = ProtocolError(f"wrote {written} of {len(frame)} bytes")
            raise _Retryable(short, device_may_have_acted=True)
        for _ in range(_MAX_STALE_PER_ATTEMPT + 1):
            try:
                data = self.transport.read(READ_SIZE, timeout_ms)
            except EndpointStalled as stall:
                self._clear(stall)
                raise _Retryable(stall, device_may_have_acted=True) from None
            except DeviceTimeout as error:
                self.stats.timeouts += 1
                raise _Retryable(error, device_may_have_acted=True) from None
            except ProtocolError as error:
                self.stats.bad_answers += 1
                raise _Retryable(error, device_may_have_acted=True) from None
            self.stats.bytes_in += len(data)
            try:
                answer = P.decode_frame(data)
            except ProtocolError as error:
                self.stats.bad_answers += 1
                raise _Retryable(error, device_may_have_acted=True) from None
            if not answer.is_response:
                self.stats.bad_answers += 1
                odd = ProtocolError(f"a frame without the RESPONSE flag (0x{answer.flags:02x})")
                raise _Retryable(odd, device_may_have_acted=True)
            if answer.is_error:
                status, message = self._error_status(answer)
                if status == P.Status.BAD_FRAME and answer.sequence in ours[:-1]:
                    self.stats.stale_answers += 1  # about an earlier attempt's request
                    continue
                if status == P.Status.BAD_FRAME:
                    self.stats.bad_frame_answers += 1
                    damaged = ProtocolError(f"the device received a damaged request ({message})")
                    raise _Retryable(damaged, device_may_have_acted=False)
                if answer.sequence not in ours or answer.command != command:
                    self.stats.stale_answers += 1
                    continue
                refused = DeviceRefused(
                    f"{command.name} refused: {_status_name(status)}"
                    + (f" ({message})" if message else ""),
                    status,
                )
                if status == P.Status.BUSY:
                    raise _Retryable(refused, device_may_have_acted=False)
                raise refused
            if answer.sequence not in ours:
                self.stats.stale_answers += 1
                continue
            if answer.command != command:
                self.stats.bad_answers += 1
                wrong = ProtocolError(
                    f"answer to command 0x{answer.command:02x}, sequence {answer.sequence}, "
                    f"while waiting for {command.name}"
                )
                raise _Retryable(wrong, device_may_have_acted=True)
            return answer.payload
        self.stats.bad_answers += 1
        stale = ProtocolError(f"only late answers to earlier requests ({_MAX_STALE_PER_ATTEMPT})")
        raise _Retryable(stale, device_may_have_acted=True)

    def _clear(self, stall: EndpointStalled) -> None:
        """Clear a stalled endpoint; a device gone meanwhile raises DeviceDisconnected."""
        try:
            self.transport.clear_halt(stall.endpoint)
        except DeviceDisconnected:
            raise
        except DeviceError:
            pass  # the retry will tell whether the pipe works again
        self.stats.stalls_cleared += 1

    @staticmethod
    def _error_status(answer: P.Frame) -> tuple[int, str]:
        try:
            parsed = P.ERROR.parse(answer.payload)
        except (cs.ConstructError, UnicodeDecodeError):
            return (answer.payload[0] if answer.payload else 0), ""
        return int(parsed.status), str(parsed.message)

    # -- the commands ---------------------------------------------------------------------

    def identify(self) -> DeviceInfo:
        """``IDENTIFY``: the protocol version, the log's extent, the seal count and identity.

        (The device logs ``USB_CONNECT`` on the first ``IDENTIFY`` of a connection.)

        Raises:
            ProtocolError: an unknown protocol version or a malformed identity; and see
                :meth:`request`.
        """
        answer = _parse(P.IDENTIFY_RESPONSE, self.request(P.Command.IDENTIFY), "IDENTIFY")
        if answer.protocol_version != P.PROTOCOL_VERSION:
            raise ProtocolError(
                f"the device speaks protocol version {answer.protocol_version}, "
                f"this host {P.PROTOCOL_VERSION}"
            )
        raw = bytes(answer.identity)
        identity = _canonical(raw, decode_identity, encode_identity, "identity")
        if answer.last_seq < answer.first_seq - 1:
            raise ProtocolError(f"log extent {answer.first_seq}..{answer.last_seq} is impossible")
        return DeviceInfo(
            answer.protocol_version,
            answer.first_seq,
            answer.last_seq,
            answer.seal_count,
            identity,
            raw,
        )

    def read_clock(self) -> int:
        """``READ_CLOCK``: the device clock now (device ms since 2000-01-01)."""
        return int(_parse(P.CLOCK, self.request(P.Command.READ_CLOCK), "READ_CLOCK").device_time_ms)

    def read_certificates(self) -> tuple[bytes, ...]:
        """``READ_CERTIFICATES``: DER certificates, the device's first."""
        raw = self.request(P.Command.READ_CERTIFICATES)
        certificates: tuple[bytes, ...] = _canonical(
            raw, decode_certificates, encode_certificates, "certificates"
        )
        return certificates

    def read_base(self) -> Base:
        """``READ_BASE``: the first retained sequence and the chain value before it."""
        raw = self.request(P.Command.READ_BASE)
        try:
            return decode_base(raw)
        except FormatError as error:
            raise ProtocolError(f"malformed base: {error}") from None

    def read_records(self, from_seq: int, most: int = P.RECORDS_PER_READ) -> bytes:
        """``READ_RECORDS``: up to ``most`` records (32 bytes each) from ``from_seq`` on.

        The bytes are as the device holds them: record CRCs and sequence numbers are the
        verifier's to judge, not the transport's.

        Raises:
            DeviceRefused: ``NOT_RETAINED`` when ``from_seq`` was deleted (the log wrapped).
            ProtocolError: the answer holds more than ``most`` records or a torn one.
        """
        request = bytes(P.READ_RECORDS.build({"from_seq": from_seq, "most": most}))
        return self._counted(P.Command.READ_RECORDS, request, most, L.RECORD_SIZE)

    def read_seals(self, from_index: int, most: int = P.SEALS_PER_READ) -> bytes:
        """``READ_SEALS``: up to ``most`` seals from position ``from_index`` of the device's
        retained seals."""
        request = bytes(P.READ_SEALS.build({"from_index": from_index, "most": most}))
        return self._counted(P.Command.READ_SEALS, request, most, L.SEAL_SIZE)

    def _counted(self, command: P.Command, request: bytes, most: int, size: int) -> bytes:
        answer = _parse(P.COUNTED, self.request(command, request), command.name)
        items = bytes(answer.data)
        if answer.count > most or len(items) != answer.count * size:
            raise ProtocolError(
                f"{command.name} answer counts {answer.count} items of {size} bytes "
                f"(at most {most} asked) and carries {len(items)} bytes"
            )
        return items

    def iter_records(
        self, from_seq: int, last_seq: int, most: int = P.RECORDS_PER_READ
    ) -> Iterator[tuple[int, bytes]]:
        """Read records ``from_seq``..``last_seq`` in chunks: yields ``(first_seq, bytes)``.

        Chunks are addressed by position (each next request asks from the previous one's
        sequence plus its count), so a log whose records carry wrong sequence numbers is
        still read whole and its faults left for the verifier.

        Raises:
            ProtocolError: the device answered no records before ``last_seq`` was reached.
        """
        seq = from_seq
        while seq <= last_seq:
            chunk = self.read_records(seq, min(most, last_seq - seq + 1))
            if not chunk:
                raise ProtocolError(f"the device has no record {seq} (its log ends at {last_seq})")
            yield seq, chunk
            seq += len(chunk) // L.RECORD_SIZE

    def read_all_seals(self, from_index: int = 0, most: int = P.SEALS_PER_READ) -> bytes:
        """Every retained seal from ``from_index`` on, read until an answer comes back short."""
        out = bytearray()
        index = from_index
        while True:
            chunk = self.read_seals(index, most)
            out += chunk
            count = len(chunk) // L.SEAL_SIZE
            index += count
            if count < most:
                return bytes(out)

    def sign_statement(self, nonce: bytes) -> Statement:
        """``SIGN_STATEMENT``: the device logs ``DOWNLOAD`` and signs a statement over ``nonce``.

        Re-sent with the same nonce when an answer is lost (see the module's notes: the
        log may then hold two ``DOWNLOAD`` records; the statement returned covers the
        records up to its own ``last_seq``).

        Raises:
            ProtocolError: a malformed statement, or one over another nonce; and see
                :meth:`request`.
        """
        if len(nonce) != L.NONCE_SIZE:
            raise ValueError(f"a nonce is {L.NONCE_SIZE} bytes, not {len(nonce)}")
        payload = bytes(P.SIGN_STATEMENT.build({"nonce": nonce}))
        raw = self.request(P.Command.SIGN_STATEMENT, payload)
        if len(raw) != L.STATEMENT_SIZE:
            raise ProtocolError(f"a statement is {L.STATEMENT_SIZE} bytes, the answer {len(raw)}")
        try:
            statement = decode_statement(raw)
        except FormatError as error:
            raise ProtocolError(f"malformed statement: {error}") from None
        assert statement is not None
        if statement.nonce != nonce:
            raise ProtocolError("the statement is signed over another nonce than the one sent")
        return statement

    def set_clock(self, device_time_ms: int | Callable[[], int]) -> ClockSet:
        """``SET_CLOCK``: set the device clock; the device logs ``CLOCK_SET``.

        Args:
            device_time_ms: the new device time (ms since 2000-01-01), or a callable giving
                it, called afresh for every send (so a re-send is not stale by the time
                spent on retries).

        Never re-sent while the device may already have acted: see the module's notes.

        Raises:
            DeviceTimeout, ProtocolError: the request failed and the log does not show it
                applied, within the policy's attempts.
            DeviceRefused, DeviceDisconnected: as for :meth:`request`.
        """
        target = device_time_ms if callable(device_time_ms) else (lambda: device_time_ms)
        baseline = self.identify().last_seq
        last: DeviceError | None = None
        for _ in range(self.policy.attempts):
            value = int(target())
            request = bytes(P.CLOCK.build({"device_time_ms": value}))
            try:
                raw = self._request(P.Command.SET_CLOCK, request, idempotent=False)
            except _Uncertain as uncertain:
                last = uncertain.cause
                found, baseline = self._clock_set_since(baseline)
                if found is not None:
                    return found
                continue
            answer = _parse(P.SET_CLOCK_RESPONSE, raw, "SET_CLOCK")
            return ClockSet(int(answer.old_time_ms), value, int(answer.seq))
        assert last is not None
        if isinstance(last, DeviceTimeout):
            raise DeviceTimeout(f"SET_CLOCK: no answer, and the log shows no clock set ({last})")
        raise ProtocolError(f"SET_CLOCK: no good answer, and the log shows no clock set ({last})")

    def _clock_set_since(self, baseline: int) -> tuple[ClockSet | None, int]:
        """The host's ``CLOCK_SET`` logged after sequence ``baseline``, if any, and the
        device's last sequence now."""
        info = self.identify()
        start = max(baseline + 1, info.first_seq)
        for _, chunk in self.iter_records(start, info.last_seq):
            for offset in range(0, len(chunk), L.RECORD_SIZE):
                found = _host_clock_set(chunk[offset : offset + L.RECORD_SIZE])
                if found is not None:
                    return found, info.last_seq
        return None, info.last_seq


def _host_clock_set(record: bytes) -> ClockSet | None:
    """The :class:`ClockSet` a record shows, if it is a whole ``CLOCK_SET`` by the host."""
    if (
        len(record) != L.RECORD_SIZE
        or int.from_bytes(record[12:14], "little") != EventCode.CLOCK_SET
    ):
        return None
    if L.record_crc(record[:-4]) != int.from_bytes(record[-4:], "little"):
        return None
    try:
        body = L.RECORD_BODY.parse(record[:-4])
    except cs.ConstructError:
        return None
    if body.payload.source != ClockSource.HOST:
        return None
    return ClockSet(int(body.payload.old_time_ms), int(body.time_ms), int(body.seq), from_log=True)


def _canonical(
    raw: bytes, decode: Callable[[bytes], Any], encode: Callable[[Any], bytes], what: str
) -> Any:
    """Decode a section and insist that it re-encodes to the same bytes (an image can hold
    only the canonical form, and the device signs over what it sent)."""
    try:
        value = decode(raw)
    except FormatError as error:
        raise ProtocolError(f"malformed {what}: {error}") from None
    if encode(value) != raw:
        raise ProtocolError(f"the {what} section is not in canonical form")
    return value


def _status_name(status: int) -> str:
    try:
        return P.Status(status).name
    except ValueError:
        return f"status 0x{status:02x}"
