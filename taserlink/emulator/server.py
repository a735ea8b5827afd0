"""The device side of the dataport protocol: one request frame in, one response frame out.

:class:`DataportServer` answers the requests of :mod:`taserlink.usb.protocol` from a
:class:`~taserlink.emulator.firmware.SimulatedDevice`.  It is pure — no USB, no threads, no
clock of its own — so it can be driven directly by tests, by the USB backend
(:mod:`taserlink.emulator.usb`) or by a capture replay.

What it answers (every response carries the request's command and sequence, and the
``RESPONSE`` flag):

=====================  ===================================================================
``IDENTIFY``           protocol version, first and last sequence, seal count, identity
                       section; the first ``IDENTIFY`` of a connection logs
                       ``USB_CONNECT`` first (so the answer counts it)
``READ_CLOCK``         the device clock (ms since 2000-01-01, device time)
``SET_CLOCK``          sets the clock, logs ``CLOCK_SET`` (source HOST); answers the old
                       time and the ``CLOCK_SET`` record's sequence
``READ_CERTIFICATES``  the certificates section
``READ_BASE``          the base section
``READ_RECORDS``       up to ``most`` records from ``from_seq`` on (none when ``from_seq``
                       is one past the newest record)
``READ_SEALS``         up to ``most`` seals from position ``from_index`` on
``SIGN_STATEMENT``     logs ``DOWNLOAD`` and answers the statement section signed over
                       the host's nonce
=====================  ===================================================================

Refusals are ``ERROR`` frames (flags ``RESPONSE | ERROR``, payload
:data:`~taserlink.usb.protocol.ERROR`):

- ``BAD_FRAME`` — wrong magic, a length that disagrees with the bytes, a bad CRC, or a
  request with flags set; it carries the request's command and sequence when the 8-byte
  header is readable, else command 0 and sequence 0;
- ``UNKNOWN_COMMAND`` — a command code the protocol does not define;
- ``BAD_ARGUMENT`` — a payload of the wrong length for its command, ``most`` outside
  1 … ``RECORDS_PER_READ`` (``SEALS_PER_READ``), a start beyond the end of the log or seal
  list, or a clock outside the device's range (2000-01-01 up to 2100-01-01, as an RTC with
  two-digit years keeps);
- ``NOT_RETAINED`` — ``READ_RECORDS`` from a sequence the log has already deleted;
- ``BUSY`` — while :attr:`DataportServer.busy` is set (a device arming or firing).

:meth:`DataportServer.handle` never raises on request bytes, whatever they are.

What it does *not* model: USB itself (see :mod:`taserlink.emulator.usb`), requests that
span several transfers, a device that answers out of order, duplicate detection (a request
repeated with the same sequence is executed again: a repeated ``SET_CLOCK`` or
``SIGN_STATEMENT`` is logged twice), and the time a real device takes to answer — the model's
clock moves only when told (or, with ``utc_now``, when the host's clock says so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

import construct as cs

from taserlink.emulator.firmware import SimulatedDevice
from taserlink.errors import ProtocolError, TaserlinkError
from taserlink.format import ClockSource
from taserlink.format import layout as L
from taserlink.format.image import (
    encode_base,
    encode_certificates,
    encode_identity,
    encode_statement,
)
from taserlink.usb import protocol as P

__all__ = ["DEVICE_TIME_LIMIT_MS", "DataportServer"]

DEVICE_TIME_LIMIT_MS: Final = int(
    (dt.datetime(2100, 1, 1, tzinfo=dt.UTC) - dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    / dt.timedelta(milliseconds=1)
)
"""``SET_CLOCK`` accepts device times below this (2100-01-01, in ms since 2000-01-01)."""

_MESSAGE_LIMIT: Final = 255
"""An ERROR message is a PascalString with a u8 length."""


class _Refusal(Exception):
    """Raised inside a command handler: answer with an ERROR frame."""

    def __init__(self, status: P.Status, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def _error_payload(status: P.Status, message: str) -> bytes:
    text = message.encode("utf8")[:_MESSAGE_LIMIT].decode("utf8", errors="ignore")
    return bytes(P.ERROR.build({"status": int(status), "message": text}))


def _fixed(name: str, struct: cs.Construct, payload: bytes) -> cs.Container:
    size = int(struct.sizeof())
    if len(payload) != size:
        raise _Refusal(
            P.Status.BAD_ARGUMENT, f"{name} takes {size} payload bytes, got {len(payload)}"
        )
    return struct.parse(payload)


def _empty(name: str, payload: bytes) -> None:
    if payload:
        raise _Refusal(P.Status.BAD_ARGUMENT, f"{name} takes no payload, got {len(payload)} bytes")


class DataportServer:
    """Answers dataport requests from a simulated device (one connection's worth of state).

    Args:
        device: the firmware model answered from; requests change it (``USB_CONNECT``,
            ``CLOCK_SET``, ``DOWNLOAD`` are logged).
        utc_now: if given, a function returning true UTC now (Unix ms); before each
            request the model's time is moved forward to it (never back), so a device on a
            live dock keeps time with the host.  By default the model's time stands still
            and answers are reproducible.

    Attributes:
        busy: while true, every known command is refused with ``BUSY``.
        connected: whether this connection's first ``IDENTIFY`` has been answered.
        requests: how many requests have been answered (refusals included).
    """

    def __init__(
        self, device: SimulatedDevice, *, utc_now: Callable[[], int] | None = None
    ) -> None:
        self.device = device
        self.utc_now = utc_now
        self.busy = False
        self.connected = False
        self.requests = 0
        self._handlers: dict[int, Callable[[bytes], bytes]] = {
            P.Command.IDENTIFY: self._identify,
            P.Command.READ_CLOCK: self._read_clock,
            P.Command.SET_CLOCK: self._set_clock,
            P.Command.READ_CERTIFICATES: self._read_certificates,
            P.Command.READ_BASE: self._read_base,
            P.Command.READ_RECORDS: self._read_records,
            P.Command.READ_SEALS: self._read_seals,
            P.Command.SIGN_STATEMENT: self._sign_statement,
        }

    def reconnect(self) -> None:
        """A new connection (plug-in or bus reset): the next ``IDENTIFY`` logs ``USB_CONNECT``."""
        self.connected = False

    def handle(self, request: bytes) -> bytes:
        """Answer one request frame with one response frame (never raises on ``request``).

        Args:
            request: the bytes of one bulk OUT transfer.

        Returns:
            The response frame's bytes (at most :data:`~taserlink.usb.protocol.MAX_FRAME`).
        """
        self.requests += 1
        data = bytes(request)
        try:
            frame = P.decode_frame(data)
        except ProtocolError as error:
            command, sequence = self._readable_header(data)
            return self._error(command, sequence, P.Status.BAD_FRAME, str(error))
        if frame.flags:
            return self._error(
                frame.command,
                frame.sequence,
                P.Status.BAD_FRAME,
                f"a request carries no flags (got 0x{frame.flags:02x})",
            )
        handler = self._handlers.get(frame.command)
        if handler is None:
            return self._error(
                frame.command,
                frame.sequence,
                P.Status.UNKNOWN_COMMAND,
                f"unknown command 0x{frame.command:02x}",
            )
        if self.busy:
            return self._error(frame.command, frame.sequence, P.Status.BUSY, "device busy")
        self._keep_time()
        try:
            payload = handler(frame.payload)
        except _Refusal as refusal:
            return self._error(frame.command, frame.sequence, refusal.status, refusal.message)
        return P.encode_frame(frame.command, frame.sequence, payload, P.Flag.RESPONSE)

    # -- framing ----------------------------------------------------------------------------
    @staticmethod
    def _readable_header(data: bytes) -> tuple[int, int]:
        """Command and sequence of a frame whose header (magic included) is intact."""
        if len(data) >= P.FRAME_HEADER.sizeof():
            try:
                header = P.FRAME_HEADER.parse(data)
            except cs.ConstructError:
                return 0, 0
            return int(header.command), int(header.sequence)
        return 0, 0

    @staticmethod
    def _error(command: int, sequence: int, status: P.Status, message: str) -> bytes:
        return P.encode_frame(
            command,
            sequence,
            _error_payload(status, message),
            P.Flag.RESPONSE | P.Flag.ERROR,
        )

    def _keep_time(self) -> None:
        if self.utc_now is not None:
            now = int(self.utc_now())
            if now > self.device.utc_ms:
                self.device.advance(now - self.device.utc_ms)

    # -- commands ---------------------------------------------------------------------------
    def _identify(self, payload: bytes) -> bytes:
        _empty("IDENTIFY", payload)
        device = self.device
        if not self.connected:
            device.usb_connect()
            self.connected = True
        return bytes(
            P.IDENTIFY_RESPONSE.build(
                {
                    "protocol_version": P.PROTOCOL_VERSION,
                    "first_seq": device.first_seq,
                    "last_seq": device.last_seq,
                    "seal_count": len(device.seals_bytes()) // L.SEAL_SIZE,
                    "identity": encode_identity(device.identity),
                }
            )
        )

    def _read_clock(self, payload: bytes) -> bytes:
        _empty("READ_CLOCK", payload)
        return bytes(P.CLOCK.build({"device_time_ms": self.device.now_ms}))

    def _set_clock(self, payload: bytes) -> bytes:
        request = _fixed("SET_CLOCK", P.CLOCK, payload)
        new_ms = int(request.device_time_ms)
        if new_ms >= DEVICE_TIME_LIMIT_MS:
            raise _Refusal(
                P.Status.BAD_ARGUMENT,
                f"device time {new_ms} ms is beyond the clock's range (2100-01-01)",
            )
        old_ms = self.device.now_ms
        try:
            seq = self.device.set_clock(new_ms, ClockSource.HOST)
        except (TaserlinkError, cs.ConstructError) as error:
            raise _Refusal(P.Status.BAD_ARGUMENT, f"clock not set: {error}") from None
        return bytes(P.SET_CLOCK_RESPONSE.build({"old_time_ms": old_ms, "seq": seq}))

    def _read_certificates(self, payload: bytes) -> bytes:
        _empty("READ_CERTIFICATES", payload)
        return encode_certificates(self.device.certificates)

    def _read_base(self, payload: bytes) -> bytes:
        _empty("READ_BASE", payload)
        return encode_base(self.device.base)

    def _read_records(self, payload: bytes) -> bytes:
        request = _fixed("READ_RECORDS", P.READ_RECORDS, payload)
        from_seq, most = int(request.from_seq), int(request.most)
        if not 1 <= most <= P.RECORDS_PER_READ:
            raise _Refusal(
                P.Status.BAD_ARGUMENT, f"most must be 1..{P.RECORDS_PER_READ}, got {most}"
            )
        device = self.device
        if from_seq < device.first_seq:
            raise _Refusal(
                P.Status.NOT_RETAINED,
                f"record {from_seq} was deleted; the log starts at {device.first_seq}",
            )
        if from_seq > device.last_seq + 1:
            raise _Refusal(
                P.Status.BAD_ARGUMENT,
                f"record {from_seq} is beyond the newest record ({device.last_seq})",
            )
        records = device.records_bytes(from_seq, most)
        return bytes(P.COUNTED.build({"count": len(records) // L.RECORD_SIZE, "data": records}))

    def _read_seals(self, payload: bytes) -> bytes:
        request = _fixed("READ_SEALS", P.READ_SEALS, payload)
        from_index, most = int(request.from_index), int(request.most)
        if not 1 <= most <= P.SEALS_PER_READ:
            raise _Refusal(P.Status.BAD_ARGUMENT, f"most must be 1..{P.SEALS_PER_READ}, got {most}")
        seals = self.device.seals_bytes()
        count = len(seals) // L.SEAL_SIZE
        if from_index > count:
            raise _Refusal(
                P.Status.BAD_ARGUMENT, f"seal {from_index} is beyond the last ({count} held)"
            )
        stop = min(count, from_index + most)
        items = seals[from_index * L.SEAL_SIZE : stop * L.SEAL_SIZE]
        return bytes(P.COUNTED.build({"count": stop - from_index, "data": items}))

    def _sign_statement(self, payload: bytes) -> bytes:
        request = _fixed("SIGN_STATEMENT", P.SIGN_STATEMENT, payload)
        statement = self.device.sign_statement(bytes(request.nonce))
        return encode_statement(statement)
