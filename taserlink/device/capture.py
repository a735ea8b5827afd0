"""USB captures: record a session as pcapng with link type 220 (Linux usbmon), and read one back.

A capture holds one packet per *event* of a USB request block (URB), as the Linux kernel's
usbmon reports them: a submission (``S``) when the host hands the transfer to the bus, and a
completion (``C``) when it ends.  Each packet is the 64-byte usbmon header
(``LINKTYPE_USB_LINUX_MMAPPED``, 220) followed by the data: an OUT transfer's data rides on its
submission, an IN transfer's on its completion; a failed transfer completes with a negative
errno as its status (``-EPIPE`` for a stall, ``-ETIMEDOUT`` for a timeout, ``-ENODEV`` when the
device went away).  Wireshark and tshark open these files as they open a usbmon capture.

Recording: :class:`RecordingBackend` wraps any pyusb backend (libusb on hardware, the emulator's
backend in tests) and writes every transfer that passes through it to a :class:`CaptureWriter`,
so the *same* host code records against hardware and against the emulated device; nothing in
the host code changes but the backend it is given.  Reading: :func:`read_capture` returns the
transfers (submission paired with completion); :func:`read_events` the raw events.

What a recording is *not*: it is made above libusb, not by the kernel.  It shows the transfers
the host asked for and what pyusb reported back, including the standard control requests that
``set_configuration``, ``set_interface_altsetting`` and ``clear_halt`` put on the bus; it does
not show the enumeration the kernel did at plug-in, and a timed-out transfer completes with
``-ETIMEDOUT`` (what pyusb reports), where the kernel's usbmon would show the URB unlinked
(``-ENOENT``).  The interface description in the file says so.
"""

from __future__ import annotations

import array
import contextlib
import enum
import errno as errno_codes
import itertools
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import usb.backend
import usb.core

from taserlink.errors import CaptureError, DeviceError

__all__ = [
    "LINKTYPE_USB_LINUX",
    "LINKTYPE_USB_LINUX_MMAPPED",
    "USBMON_HEADER_SIZE",
    "DEFAULT_SNAPLEN",
    "TransferType",
    "Direction",
    "UsbEvent",
    "Transfer",
    "PendingUrb",
    "SteppingClock",
    "CaptureWriter",
    "RecordingBackend",
    "default_backend",
    "read_events",
    "read_capture",
    "status_name",
]

LINKTYPE_USB_LINUX: Final = 189
"""usbmon with the first 48 header bytes only (read, never written)."""
LINKTYPE_USB_LINUX_MMAPPED: Final = 220
"""usbmon with the full 64-byte header: what :class:`CaptureWriter` writes."""

_USBMON: Final = "QBBBBHBBqiiII8siiII"
"""The usbmon binary header (``struct usbmon_packet``), without its byte order:

id u64, type u8 ('S'/'C'/'E'), xfer_type u8, epnum u8 (direction bit 0x80), devnum u8,
busnum u16, flag_setup u8, flag_data u8, ts_sec s64, ts_usec s32, status s32, length u32
(the URB's length: submitted, or actual on completion), len_cap u32 (data bytes that follow),
setup[8] (or ISO error_count s32 + numdesc s32), interval s32, start_frame s32,
xfer_flags u32, ndesc u32.
"""
USBMON_HEADER_SIZE: Final = struct.calcsize("<" + _USBMON)
assert USBMON_HEADER_SIZE == 64
_USBMON_48: Final = 48
"""Header size of link type 189 (without interval .. ndesc)."""

DEFAULT_SNAPLEN: Final = 262_144
"""Most bytes of one packet (header and data) a capture keeps; larger data is cut (and marked)."""

_SHB: Final = 0x0A0D0D0A
_IDB: Final = 0x00000001
_PB: Final = 0x00000002
_SPB: Final = 0x00000003
_EPB: Final = 0x00000006
_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
_PCAP_MAGIC_US: Final = 0xA1B2C3D4
_PCAP_MAGIC_NS: Final = 0xA1B23C4D

_OPT_END: Final = 0
_OPT_COMMENT: Final = 1
_SHB_USERAPPL: Final = 4
_IF_NAME: Final = 2
_IF_DESCRIPTION: Final = 3
_IF_TSRESOL: Final = 9
_IF_TSOFFSET: Final = 14

_URB_ID_BASE: Final = 0xFFFF_8880_0000_0000
"""Recorded URB ids look like kernel addresses; they are a counter, deterministic."""
_URB_DIR_IN: Final = 0x0200
"""``URB_DIR_IN`` in ``xfer_flags``, as the kernel sets it on IN URBs."""
_FLAG_PRESENT: Final = 0
"""``flag_data`` / ``flag_setup`` when the data / setup packet is present."""
_FLAG_NO_SETUP: Final = ord("-")

_REQUEST_GET_DESCRIPTOR: Final = 0x06
_REQUEST_SET_CONFIGURATION: Final = 0x09
_REQUEST_SET_INTERFACE: Final = 0x0B
_REQUEST_CLEAR_FEATURE: Final = 0x01
_FEATURE_ENDPOINT_HALT: Final = 0
_DESC_DEVICE: Final = 1
_DESC_CONFIGURATION: Final = 2


class TransferType(enum.IntEnum):
    """usbmon's ``xfer_type``."""

    ISOCHRONOUS = 0
    INTERRUPT = 1
    CONTROL = 2
    BULK = 3


class Direction(enum.IntEnum):
    """The direction bit of an endpoint address."""

    OUT = 0x00
    """Host → device."""
    IN = 0x80
    """Device → host."""

    @classmethod
    def of(cls, endpoint: int) -> Direction:
        return cls.IN if endpoint & 0x80 else cls.OUT


def status_name(status: int | None) -> str:
    """``0`` → ``"OK"``, ``-32`` → ``"-EPIPE"``, ``None`` → ``"incomplete"``."""
    if status is None:
        return "incomplete"
    if status == 0:
        return "OK"
    name = errno_codes.errorcode.get(-status)
    return f"-{name}" if name else str(status)


@dataclass(frozen=True)
class UsbEvent:
    """One usbmon event: one packet of the capture.

    ``timestamp_us`` is microseconds since the Unix epoch (UTC); ``length`` is the URB's length
    (bytes submitted or asked for on ``S``, bytes transferred on ``C``); ``data`` the bytes
    captured, which can be fewer than ``length`` (``S`` of an IN, ``C`` of an OUT, a cut packet).
    """

    urb_id: int
    kind: str
    """``"S"`` submission, ``"C"`` completion, ``"E"`` submission error."""
    transfer_type: TransferType
    endpoint: int
    device: int
    bus: int
    timestamp_us: int
    status: int
    length: int
    data: bytes = b""
    setup: bytes | None = None
    """The 8-byte setup packet of a control submission, else ``None``."""
    data_flag: int = _FLAG_PRESENT
    """usbmon's ``flag_data``: 0 when the data is present (possibly empty), ``'<'`` on an IN
    submission, ``'>'`` on an OUT completion."""
    interval: int = 0
    start_frame: int = 0
    xfer_flags: int = 0
    ndesc: int = 0
    captured_length: int | None = None
    """``len_cap`` as the header says; can exceed ``len(data)`` when the packet was cut."""

    @property
    def direction(self) -> Direction:
        return Direction.of(self.endpoint)

    @property
    def truncated(self) -> bool:
        """The header announces more data than the packet kept (a snap length cut it)."""
        return self.captured_length is not None and self.captured_length > len(self.data)

    def encode(self, snaplen: int = DEFAULT_SNAPLEN) -> tuple[bytes, int]:
        """The packet (little-endian header, data cut to ``snaplen``) and its uncut length."""
        kept = self.data[: max(0, snaplen - USBMON_HEADER_SIZE)]
        setup = self.setup if self.setup is not None else bytes(8)
        if len(setup) != 8:
            raise CaptureError(f"a setup packet is 8 bytes, not {len(setup)}")
        seconds, micros = divmod(self.timestamp_us, 1_000_000)
        header = struct.pack(
            "<" + _USBMON,
            self.urb_id,
            ord(self.kind),
            int(self.transfer_type),
            self.endpoint,
            self.device,
            self.bus,
            _FLAG_PRESENT if self.setup is not None else _FLAG_NO_SETUP,
            self.data_flag,
            seconds,
            micros,
            self.status,
            self.length,
            len(self.data),
            setup,
            self.interval,
            self.start_frame,
            self.xfer_flags,
            self.ndesc,
        )
        return header + kept, USBMON_HEADER_SIZE + len(self.data)


@dataclass(frozen=True)
class Transfer:
    """One transfer: a submission paired with its completion (by URB id and bus).

    ``data`` is what crossed the bus: an OUT transfer's submitted bytes, an IN transfer's
    received bytes.  ``requested`` is the OUT length or the IN buffer size; ``actual`` the
    bytes transferred as the completion reports them.  ``status`` is 0, a negative errno,
    or ``None`` when the capture holds no completion (it ended first).  Times are
    microseconds since the Unix epoch; ``submitted_us`` is ``None`` for a completion whose
    submission the capture missed (it started mid-transfer).
    """

    transfer_type: TransferType
    endpoint: int
    device: int
    bus: int
    urb_id: int
    status: int | None
    data: bytes
    requested: int
    actual: int | None
    setup: bytes | None
    submitted_us: int | None
    completed_us: int | None
    truncated: bool = False

    @property
    def direction(self) -> Direction:
        return Direction.of(self.endpoint)

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass
class PendingUrb:
    """A submitted, not yet completed transfer (:meth:`CaptureWriter.submit`)."""

    urb_id: int
    transfer_type: TransferType
    endpoint: int
    device: int
    bus: int
    requested: int
    setup: bytes | None
    interval: int
    xfer_flags: int
    completed: bool = field(default=False)


class SteppingClock:
    """A deterministic clock for captures: ``start_s``, then ``step_s`` more at every call.

    Seconds since the Unix epoch, as :func:`time.time` returns.
    """

    def __init__(self, start_s: float, step_s: float = 0.001) -> None:
        self._start_us = round(start_s * 1_000_000)
        self._step_us = round(step_s * 1_000_000)
        self._calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            now = self._start_us + self._calls * self._step_us
            self._calls += 1
        return now / 1_000_000


def _option(code: int, value: bytes) -> bytes:
    padding = b"\x00" * (-len(value) % 4)
    return struct.pack("<HH", code, len(value)) + value + padding


def _options(pairs: list[tuple[int, bytes]]) -> bytes:
    if not pairs:
        return b""
    return b"".join(_option(code, value) for code, value in pairs) + _option(_OPT_END, b"")


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


class CaptureWriter:
    """Write USB events to a pcapng file (one section, one usbmon interface, little-endian).

    ``target`` is a path (created or truncated; closed by :meth:`close`) or a binary stream
    (left open).  ``clock`` returns seconds since the Unix epoch (default :func:`time.time`);
    give a :class:`SteppingClock` for byte-identical captures.  Every block is flushed as it
    is written, so a capture cut short by a crash is readable up to its last event.  Safe to
    use from several threads (a dock's devices downloaded in parallel).

    Raises:
        CaptureError: writing after :meth:`close`, or completing a URB twice.
        OSError: the file cannot be created or written.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        clock: Callable[[], float] | None = None,
        snaplen: int = DEFAULT_SNAPLEN,
        application: str | None = None,
        comment: str | None = None,
    ) -> None:
        if snaplen < USBMON_HEADER_SIZE:
            raise CaptureError(f"snap length {snaplen} is shorter than the usbmon header")
        self._stream: IO[bytes]
        if isinstance(target, str | os.PathLike):
            self._owned = True
            self._stream = open(target, "wb")  # noqa: SIM115 - closed by close()
        else:
            self._owned = False
            self._stream = target
        self._clock = clock if clock is not None else time.time
        self.snaplen = snaplen
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closed = False
        self.events_written = 0
        """Packets written so far."""
        if application is None:
            from taserlink import __version__

            application = f"taserlink {__version__}"
        shb_options: list[tuple[int, bytes]] = [(_SHB_USERAPPL, application.encode())]
        if comment:
            shb_options.append((_OPT_COMMENT, comment.encode()))
        shb = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + _options(shb_options)
        idb = struct.pack("<HHI", LINKTYPE_USB_LINUX_MMAPPED, 0, snaplen) + _options(
            [
                (_IF_NAME, b"usbmon0"),
                (
                    _IF_DESCRIPTION,
                    b"recorded above libusb through a pyusb backend, not by the kernel's usbmon",
                ),
            ]
        )
        self._write(_block(_SHB, shb) + _block(_IDB, idb))

    # -- low level -------------------------------------------------------------------------

    def _now_us(self) -> int:
        return round(self._clock() * 1_000_000)

    def _write(self, blob: bytes) -> None:
        self._stream.write(blob)
        self._stream.flush()

    def write_event(self, event: UsbEvent) -> None:
        """Append one event as an Enhanced Packet Block (interface 0, µs timestamps)."""
        packet, original = event.encode(self.snaplen)
        stamp = event.timestamp_us & 0xFFFF_FFFF_FFFF_FFFF
        body = struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFF_FFFF, len(packet), original)
        blob = _block(_EPB, body + packet)
        with self._lock:
            if self._closed:
                raise CaptureError("the capture is closed")
            self._write(blob)
            self.events_written += 1

    def submit(
        self,
        transfer_type: TransferType,
        endpoint: int,
        *,
        device: int,
        bus: int,
        data: bytes = b"",
        requested: int | None = None,
        setup: bytes | None = None,
        interval: int = 0,
    ) -> PendingUrb:
        """Record a submission now and return the URB to :meth:`complete`.

        OUT: ``data`` is what is sent.  IN: ``requested`` is the buffer size, ``data`` empty.
        ``setup`` is the 8-byte setup packet of a control transfer.
        """
        direction = Direction.of(endpoint)
        if direction is Direction.IN and data:
            raise CaptureError("an IN submission carries no data")
        length = len(data) if requested is None else requested
        with self._lock:
            urb_id = _URB_ID_BASE + (next(self._ids) << 8)
        urb = PendingUrb(
            urb_id=urb_id,
            transfer_type=transfer_type,
            endpoint=endpoint,
            device=device,
            bus=bus,
            requested=length,
            setup=setup,
            interval=interval,
            xfer_flags=_URB_DIR_IN if direction is Direction.IN else 0,
        )
        # As the kernel's usbmon: no data on an IN submission ('<'), else 0 ("present").
        flag = ord("<") if direction is Direction.IN else _FLAG_PRESENT
        self.write_event(
            UsbEvent(
                urb_id=urb_id,
                kind="S",
                transfer_type=transfer_type,
                endpoint=endpoint,
                device=device,
                bus=bus,
                timestamp_us=self._now_us(),
                status=-errno_codes.EINPROGRESS,
                length=length,
                data=bytes(data),
                setup=setup,
                data_flag=flag,
                interval=interval,
                xfer_flags=urb.xfer_flags,
            )
        )
        return urb

    def complete(
        self, urb: PendingUrb, *, status: int = 0, data: bytes = b"", actual: int | None = None
    ) -> None:
        """Record the completion of ``urb``: ``status`` 0 or a negative errno.

        IN: ``data`` is what arrived.  OUT: ``actual`` is the bytes written (default: all of
        them on success, none on failure).
        """
        if urb.completed:
            raise CaptureError(f"URB {urb.urb_id:#x} completed twice")
        direction = Direction.of(urb.endpoint)
        if direction is Direction.OUT and data:
            raise CaptureError("an OUT completion carries no data")
        urb.completed = True
        if actual is None:
            actual = (
                len(data) if direction is Direction.IN else (urb.requested if status == 0 else 0)
            )
        # As the kernel's usbmon: no data on an OUT completion ('>'), else 0 ("present").
        flag = ord(">") if direction is Direction.OUT else _FLAG_PRESENT
        self.write_event(
            UsbEvent(
                urb_id=urb.urb_id,
                kind="C",
                transfer_type=urb.transfer_type,
                endpoint=urb.endpoint,
                device=urb.device,
                bus=urb.bus,
                timestamp_us=self._now_us(),
                status=status,
                length=actual,
                data=bytes(data),
                setup=None,
                data_flag=flag,
                interval=urb.interval,
                xfer_flags=urb.xfer_flags,
            )
        )

    # -- one call per transfer -------------------------------------------------------------

    def bulk_out(
        self, endpoint: int, data: bytes, *, device: int = 1, bus: int = 1, status: int = 0
    ) -> None:
        """Record a whole bulk OUT transfer (submission with ``data``, completion)."""
        urb = self.submit(TransferType.BULK, endpoint & 0x7F, device=device, bus=bus, data=data)
        self.complete(urb, status=status)

    def bulk_in(
        self,
        endpoint: int,
        data: bytes,
        *,
        requested: int | None = None,
        device: int = 1,
        bus: int = 1,
        status: int = 0,
    ) -> None:
        """Record a whole bulk IN transfer (submission asking ``requested``, completion with
        ``data``)."""
        asked = len(data) if requested is None else requested
        urb = self.submit(
            TransferType.BULK, endpoint | 0x80, device=device, bus=bus, requested=asked
        )
        self.complete(urb, status=status, data=data)

    def control(
        self,
        setup: bytes,
        data: bytes = b"",
        *,
        device: int = 1,
        bus: int = 1,
        status: int = 0,
    ) -> None:
        """Record a whole control transfer: ``data`` is sent (OUT) or received (IN)."""
        if len(setup) != 8:
            raise CaptureError(f"a setup packet is 8 bytes, not {len(setup)}")
        w_length = struct.unpack_from("<H", setup, 6)[0]
        if setup[0] & 0x80:
            urb = self.submit(
                TransferType.CONTROL, 0x80, device=device, bus=bus, requested=w_length, setup=setup
            )
            self.complete(urb, status=status, data=data)
        else:
            urb = self.submit(
                TransferType.CONTROL, 0x00, device=device, bus=bus, data=data, setup=setup
            )
            self.complete(urb, status=status)

    # -- life ------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Flush; close the file when the writer opened it.  Closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stream.flush()
            if self._owned:
                self._stream.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- recording through pyusb -----------------------------------------------------------------


def default_backend() -> Any:
    """The backend pyusb's default discovery stands for: the host's choice
    (:func:`taserlink.device.usb_host.default_backend`: libusb from ``libusb-package``),
    else the first of libusb 1.0, OpenUSB and libusb 0.1 that loads, as ``usb.core.find``
    tries them.

    Raises:
        DeviceError: no USB backend can be loaded.
    """
    import usb.backend.libusb0
    import usb.backend.libusb1
    import usb.backend.openusb

    from taserlink.device.usb_host import default_backend as host_default

    backend = host_default()
    for module in (usb.backend.libusb1, usb.backend.openusb, usb.backend.libusb0):
        if backend is not None:
            break
        backend = module.get_backend()
    if backend is None:
        raise DeviceError("no USB backend: install libusb, or taserlink's 'usb' extra")
    return backend


def _errno_of(exc: BaseException) -> int:
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and number > 0:
        return number
    if isinstance(exc, usb.core.USBTimeoutError):
        return errno_codes.ETIMEDOUT
    return errno_codes.EIO


class RecordingBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend that records every transfer through ``inner`` to ``writer``.

    Give it where the host code takes a backend (``usb.core.find(..., backend=...)``)::

        with CaptureWriter("session.pcapng") as writer:
            backend = RecordingBackend(EmulatedBackend([device]), writer)   # or libusb
            ...  # the host code, unchanged, with backend=backend

    ``inner`` ``None`` means :func:`default_backend` (hardware).  Bulk and interrupt
    transfers, control transfers, and the standard requests behind ``set_configuration``,
    ``set_interface_altsetting`` and ``clear_halt`` are recorded; the rest is delegated
    unrecorded (enumeration, descriptors pyusb reads from the backend's cache, claiming,
    kernel drivers; isochronous transfers, which the dataport has none of).  With
    ``read_descriptors`` (the default), every device opened is first asked for its device
    and configuration descriptors with ``GET_DESCRIPTOR`` — two control transfers the host
    code did not make, recorded like the rest — so that a replay
    (:class:`taserlink.emulator.replay.ReplayBackend`) presents the device as it was.
    Errors are recorded as the completion's status and raised on unchanged.  Attributes
    the inner backend has beyond :class:`IBackend` (the emulator's ``devices``) are
    reachable through this one.
    """

    def __init__(self, inner: Any, writer: CaptureWriter, *, read_descriptors: bool = True) -> None:
        self.inner = inner if inner is not None else default_backend()
        self.writer = writer
        self.read_descriptors = read_descriptors
        self._where: dict[int, tuple[object, int, int]] = {}
        self._addresses: dict[int, int] = {}

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # -- where a handle is on the bus ------------------------------------------------------

    def _locate(self, dev: object) -> tuple[int, int]:
        descriptor = self.inner.get_device_descriptor(dev)
        bus = getattr(descriptor, "bus", None)
        address = getattr(descriptor, "address", None)
        if not isinstance(bus, int) or bus <= 0:
            bus = 1
        if not isinstance(address, int) or address <= 0:
            address = self._addresses.setdefault(id(dev), len(self._addresses) + 1)
        return bus, address

    def _bus_device(self, dev_handle: object) -> tuple[int, int]:
        entry = self._where.get(id(dev_handle))
        if entry is None:
            return 1, 0
        return entry[1], entry[2]

    # -- delegated --------------------------------------------------------------------------

    def enumerate_devices(self) -> Any:
        return self.inner.enumerate_devices()

    def get_parent(self, dev: Any) -> Any:
        return self.inner.get_parent(dev)

    def get_device_descriptor(self, dev: Any) -> Any:
        return self.inner.get_device_descriptor(dev)

    def get_configuration_descriptor(self, dev: Any, config: int) -> Any:
        return self.inner.get_configuration_descriptor(dev, config)

    def get_interface_descriptor(self, dev: Any, intf: int, alt: int, config: int) -> Any:
        return self.inner.get_interface_descriptor(dev, intf, alt, config)

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> Any:
        return self.inner.get_endpoint_descriptor(dev, ep, intf, alt, config)

    def open_device(self, dev: Any) -> Any:
        handle = self.inner.open_device(dev)
        bus, address = self._locate(dev)
        self._where[id(handle)] = (handle, bus, address)
        if self.read_descriptors:
            self._read_descriptors(handle)
        return handle

    def _read_descriptors(self, handle: Any) -> None:
        """``GET_DESCRIPTOR`` the device and its first configuration (recorded), so that a
        replay can present the device as it was; a failure is recorded and ignored."""
        for value, size in ((_DESC_DEVICE << 8, 18), (_DESC_CONFIGURATION << 8, 4096)):
            buffer = array.array("B", bytes(size))
            with contextlib.suppress(usb.core.USBError, NotImplementedError):
                self.ctrl_transfer(handle, 0x80, _REQUEST_GET_DESCRIPTOR, value, 0, buffer, 1000)

    def close_device(self, dev_handle: Any) -> None:
        self._where.pop(id(dev_handle), None)
        self.inner.close_device(dev_handle)

    def get_configuration(self, dev_handle: Any) -> Any:
        return self.inner.get_configuration(dev_handle)

    def claim_interface(self, dev_handle: Any, intf: int) -> None:
        self.inner.claim_interface(dev_handle, intf)

    def release_interface(self, dev_handle: Any, intf: int) -> None:
        self.inner.release_interface(dev_handle, intf)

    def iso_write(self, dev_handle: Any, ep: int, intf: int, data: Any, timeout: int) -> Any:
        return self.inner.iso_write(dev_handle, ep, intf, data, timeout)

    def iso_read(self, dev_handle: Any, ep: int, intf: int, buff: Any, timeout: int) -> Any:
        return self.inner.iso_read(dev_handle, ep, intf, buff, timeout)

    def reset_device(self, dev_handle: Any) -> None:
        self.inner.reset_device(dev_handle)

    def is_kernel_driver_active(self, dev_handle: Any, intf: int) -> Any:
        return self.inner.is_kernel_driver_active(dev_handle, intf)

    def detach_kernel_driver(self, dev_handle: Any, intf: int) -> None:
        self.inner.detach_kernel_driver(dev_handle, intf)

    def attach_kernel_driver(self, dev_handle: Any, intf: int) -> None:
        self.inner.attach_kernel_driver(dev_handle, intf)

    # -- recorded ---------------------------------------------------------------------------

    def _out(
        self,
        kind: TransferType,
        call: Callable[[], Any],
        dev_handle: Any,
        ep: int,
        data: bytes,
        setup: bytes | None = None,
    ) -> Any:
        bus, device = self._bus_device(dev_handle)
        urb = self.writer.submit(kind, ep, device=device, bus=bus, data=data, setup=setup)
        try:
            written = call()
        except BaseException as exc:
            self.writer.complete(urb, status=-_errno_of(exc), actual=0)
            raise
        self.writer.complete(urb, status=0, actual=written if isinstance(written, int) else None)
        return written

    def _in(
        self,
        kind: TransferType,
        call: Callable[[], Any],
        dev_handle: Any,
        ep: int,
        buff: Any,
        setup: bytes | None = None,
    ) -> Any:
        bus, device = self._bus_device(dev_handle)
        size = len(buff) * getattr(buff, "itemsize", 1)
        urb = self.writer.submit(kind, ep, device=device, bus=bus, requested=size, setup=setup)
        try:
            received = call()
        except BaseException as exc:
            self.writer.complete(urb, status=-_errno_of(exc))
            raise
        if isinstance(received, int):
            data = memoryview(buff).cast("B")[:received].tobytes()
        else:  # a backend that returns the data itself
            data = bytes(received)
        self.writer.complete(urb, status=0, data=data)
        return received

    def bulk_write(self, dev_handle: Any, ep: int, intf: int, data: Any, timeout: int) -> Any:
        return self._out(
            TransferType.BULK,
            lambda: self.inner.bulk_write(dev_handle, ep, intf, data, timeout),
            dev_handle,
            ep,
            _as_bytes(data),
        )

    def bulk_read(self, dev_handle: Any, ep: int, intf: int, buff: Any, timeout: int) -> Any:
        return self._in(
            TransferType.BULK,
            lambda: self.inner.bulk_read(dev_handle, ep, intf, buff, timeout),
            dev_handle,
            ep,
            buff,
        )

    def intr_write(self, dev_handle: Any, ep: int, intf: int, data: Any, timeout: int) -> Any:
        return self._out(
            TransferType.INTERRUPT,
            lambda: self.inner.intr_write(dev_handle, ep, intf, data, timeout),
            dev_handle,
            ep,
            _as_bytes(data),
        )

    def intr_read(self, dev_handle: Any, ep: int, intf: int, buff: Any, timeout: int) -> Any:
        return self._in(
            TransferType.INTERRUPT,
            lambda: self.inner.intr_read(dev_handle, ep, intf, buff, timeout),
            dev_handle,
            ep,
            buff,
        )

    def ctrl_transfer(
        self,
        dev_handle: Any,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: Any,
        timeout: int,
    ) -> Any:
        size = len(data) * getattr(data, "itemsize", 1)
        setup = struct.pack("<BBHHH", bmRequestType, bRequest, wValue, wIndex, size)

        def call() -> Any:
            return self.inner.ctrl_transfer(
                dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout
            )

        if bmRequestType & 0x80:
            return self._in(TransferType.CONTROL, call, dev_handle, 0x80, data, setup)
        return self._out(TransferType.CONTROL, call, dev_handle, 0x00, _as_bytes(data), setup)

    def _standard_out(self, dev_handle: Any, setup: bytes, call: Callable[[], Any]) -> Any:
        return self._out(TransferType.CONTROL, call, dev_handle, 0x00, b"", setup)

    def set_configuration(self, dev_handle: Any, config_value: int) -> None:
        setup = struct.pack("<BBHHH", 0x00, _REQUEST_SET_CONFIGURATION, config_value, 0, 0)
        self._standard_out(
            dev_handle, setup, lambda: self.inner.set_configuration(dev_handle, config_value)
        )

    def set_interface_altsetting(self, dev_handle: Any, intf: int, altsetting: int) -> None:
        setup = struct.pack("<BBHHH", 0x01, _REQUEST_SET_INTERFACE, altsetting, intf, 0)
        self._standard_out(
            dev_handle,
            setup,
            lambda: self.inner.set_interface_altsetting(dev_handle, intf, altsetting),
        )

    def clear_halt(self, dev_handle: Any, ep: int) -> None:
        setup = struct.pack("<BBHHH", 0x02, _REQUEST_CLEAR_FEATURE, _FEATURE_ENDPOINT_HALT, ep, 0)
        self._standard_out(dev_handle, setup, lambda: self.inner.clear_halt(dev_handle, ep))


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, array.array):
        return data.tobytes()
    return bytes(data)


# -- reading ---------------------------------------------------------------------------------


class _Reader:
    """Walks a pcapng or classic pcap file and yields usbmon events."""

    def __init__(self, blob: bytes, name: str) -> None:
        self.blob = blob
        self.name = name

    def fail(self, offset: int, message: str) -> CaptureError:
        return CaptureError(f"{self.name}: byte {offset}: {message}")

    def events(self) -> Iterator[UsbEvent]:
        if len(self.blob) < 4:
            raise self.fail(0, "too short to be a capture")
        first = struct.unpack_from("<I", self.blob)[0]
        if first == _SHB:
            yield from self._pcapng()
        elif first in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) or struct.unpack_from(">I", self.blob)[
            0
        ] in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
            yield from self._pcap()
        else:
            raise self.fail(0, "neither pcapng nor pcap (unknown magic)")

    # -- pcapng -----------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[UsbEvent]:
        blob = self.blob
        offset = 0
        order = "<"
        interfaces: list[tuple[int, int, Callable[[int], int]]] = []
        while offset < len(blob):
            if len(blob) - offset < 12:
                raise self.fail(offset, "truncated block header")
            if struct.unpack_from("<I", blob, offset)[0] == _SHB:
                if len(blob) - offset < 28:
                    raise self.fail(offset, "truncated section header block")
                magic = blob[offset + 8 : offset + 12]
                if magic == struct.pack("<I", _BYTE_ORDER_MAGIC):
                    order = "<"
                elif magic == struct.pack(">I", _BYTE_ORDER_MAGIC):
                    order = ">"
                else:
                    raise self.fail(offset + 8, "bad byte-order magic in section header")
                major = struct.unpack_from(order + "H", blob, offset + 12)[0]
                if major != 1:
                    raise self.fail(offset + 12, f"pcapng major version {major} (expected 1)")
                interfaces = []
            block_type, total = struct.unpack_from(order + "II", blob, offset)
            if total < 12 or total % 4:
                raise self.fail(offset, f"block length {total} is not a multiple of 4 of 12+")
            if offset + total > len(blob):
                raise self.fail(offset, f"block of {total} bytes runs past the end of the file")
            trailer = struct.unpack_from(order + "I", blob, offset + total - 4)[0]
            if trailer != total:
                raise self.fail(offset, f"block length {total} and trailing length {trailer}")
            body = blob[offset + 8 : offset + total - 4]
            if block_type == _SHB:
                pass
            elif block_type == _IDB:
                interfaces.append(self._interface(body, order, offset))
            elif block_type in (_EPB, _PB):
                yield self._enhanced(block_type, body, order, offset, interfaces)
            elif block_type == _SPB:
                if not interfaces:
                    raise self.fail(offset, "simple packet before any interface")
                link, snaplen, _ = interfaces[0]
                if len(body) < 4:
                    raise self.fail(offset, "truncated simple packet block")
                original = struct.unpack_from(order + "I", body)[0]
                kept = min(original, snaplen or original, len(body) - 4)
                yield self._event(link, body[4 : 4 + kept], order, 0, offset + 12)
            offset += total

    def _interface(
        self, body: bytes, order: str, offset: int
    ) -> tuple[int, int, Callable[[int], int]]:
        if len(body) < 8:
            raise self.fail(offset, "truncated interface description block")
        link, _, snaplen = struct.unpack_from(order + "HHI", body)
        resolution: tuple[int, int] = (10, 6)
        tsoffset = 0
        for code, value, where in self._walk_options(body, 8, order, offset + 16):
            if code == _IF_TSRESOL:
                if len(value) != 1:
                    raise self.fail(where, "if_tsresol is not one byte")
                resolution = (2, value[0] & 0x7F) if value[0] & 0x80 else (10, value[0])
            elif code == _IF_TSOFFSET:
                if len(value) != 8:
                    raise self.fail(where, "if_tsoffset is not eight bytes")
                tsoffset = int(struct.unpack(order + "q", value)[0])
        base, exponent = resolution
        if (base == 10 and exponent > 18) or (base == 2 and exponent > 63):
            raise self.fail(offset, f"if_tsresol {base}^-{exponent} is not a usable resolution")

        def to_us(units: int) -> int:
            scaled: int
            if base == 2:
                scaled = (units * 1_000_000) >> exponent
            elif exponent <= 6:
                scaled = units * int(10 ** (6 - exponent))
            else:
                scaled = units // int(10 ** (exponent - 6))
            return scaled + tsoffset * 1_000_000

        return link, snaplen, to_us

    def _walk_options(
        self, body: bytes, start: int, order: str, where: int
    ) -> Iterator[tuple[int, bytes, int]]:
        position = start
        while position + 4 <= len(body):
            code, length = struct.unpack_from(order + "HH", body, position)
            if code == _OPT_END:
                return
            value_end = position + 4 + length
            if value_end > len(body):
                raise self.fail(where + position - start, f"option {code} runs past its block")
            yield code, body[position + 4 : value_end], where + position - start
            position = value_end + (-length % 4)

    def _enhanced(
        self,
        block_type: int,
        body: bytes,
        order: str,
        offset: int,
        interfaces: list[tuple[int, int, Callable[[int], int]]],
    ) -> UsbEvent:
        if block_type == _EPB:
            if len(body) < 20:
                raise self.fail(offset, "truncated enhanced packet block")
            interface, high, low, captured, _ = struct.unpack_from(order + "IIIII", body)
            start = 20
        else:
            if len(body) < 20:
                raise self.fail(offset, "truncated packet block")
            interface, _, high, low, captured, _ = struct.unpack_from(order + "HHIIII", body)
            start = 20
        if interface >= len(interfaces):
            raise self.fail(offset, f"packet names interface {interface}, which is not declared")
        if start + captured > len(body):
            raise self.fail(offset, f"packet of {captured} bytes runs past its block")
        link, _, to_us = interfaces[interface]
        packet = body[start : start + captured]
        return self._event(link, packet, order, to_us((high << 32) | low), offset + 8 + start)

    # -- classic pcap -----------------------------------------------------------------------

    def _pcap(self) -> Iterator[UsbEvent]:
        blob = self.blob
        if len(blob) < 24:
            raise self.fail(0, "truncated pcap file header")
        little = struct.unpack_from("<I", blob)[0] in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS)
        order = "<" if little else ">"
        magic, _, _, _, _, _, link = struct.unpack_from(order + "IHHiIII", blob)
        nanos = magic == _PCAP_MAGIC_NS
        offset = 24
        while offset < len(blob):
            if len(blob) - offset < 16:
                raise self.fail(offset, "truncated pcap record header")
            seconds, fraction, captured, _ = struct.unpack_from(order + "IIII", blob, offset)
            if offset + 16 + captured > len(blob):
                raise self.fail(offset, f"record of {captured} bytes runs past the end of the file")
            packet = blob[offset + 16 : offset + 16 + captured]
            micros = fraction // 1000 if nanos else fraction
            yield self._event(link, packet, order, seconds * 1_000_000 + micros, offset + 16)
            offset += 16 + captured

    # -- one usbmon packet ------------------------------------------------------------------

    def _event(self, link: int, packet: bytes, order: str, stamp_us: int, where: int) -> UsbEvent:
        if link == LINKTYPE_USB_LINUX_MMAPPED:
            size = USBMON_HEADER_SIZE
        elif link == LINKTYPE_USB_LINUX:
            size = _USBMON_48
        else:
            raise self.fail(where, f"link type {link} is not Linux usbmon (220 or 189)")
        if len(packet) < size:
            raise self.fail(where, f"packet of {len(packet)} bytes is shorter than usbmon's header")
        header = packet[:size] + bytes(USBMON_HEADER_SIZE - size)
        (
            urb_id, kind, xfer_type, endpoint, device, bus, flag_setup, flag_data, _, _, status,
            length, len_cap, setup, interval, start_frame, xfer_flags, ndesc,
        ) = struct.unpack(order + _USBMON, header)  # fmt: skip
        if kind not in b"SCE":
            raise self.fail(where + 8, f"event type {kind:#04x} is not S, C or E")
        if xfer_type > 3:
            raise self.fail(where + 9, f"transfer type {xfer_type} is not 0..3")
        data = packet[size:]
        return UsbEvent(
            urb_id=urb_id,
            kind=chr(kind),
            transfer_type=TransferType(xfer_type),
            endpoint=endpoint,
            device=device,
            bus=bus,
            timestamp_us=stamp_us,
            status=status,
            length=length,
            data=bytes(data),
            setup=bytes(setup) if flag_setup == _FLAG_PRESENT and kind == ord("S") else None,
            data_flag=flag_data,
            interval=interval,
            start_frame=start_frame,
            xfer_flags=xfer_flags,
            ndesc=ndesc,
            captured_length=len_cap,
        )


def _load(source: str | os.PathLike[str] | bytes) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "capture"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_events(source: str | os.PathLike[str] | bytes) -> list[UsbEvent]:
    """Every usbmon event of a pcapng (or classic pcap) capture, in file order.

    ``source`` is a path or the file's bytes.  Link types 220 and 189 are read.

    Raises:
        CaptureError: unreadable file, not pcap/pcapng, a block or packet that is cut short or
            inconsistent, a packet of another link type; the message names the byte offset.
    """
    blob, name = _load(source)
    return list(_Reader(blob, name).events())


def read_capture(source: str | os.PathLike[str] | bytes) -> list[Transfer]:
    """The transfers of a capture: each submission paired with its completion, in the order
    they were submitted (a completion without submission at the place it appears).

    Raises:
        CaptureError: as :func:`read_events`, and for a second submission of a URB id that
            is still pending on the same bus.
    """
    blob, name = _load(source)
    events = _Reader(blob, name).events()
    slots: list[list[UsbEvent]] = []
    pending: dict[tuple[int, int], int] = {}
    for event in events:
        key = (event.bus, event.urb_id)
        if event.kind == "S":
            if key in pending:
                raise CaptureError(
                    f"{name}: URB {event.urb_id:#x} submitted again before it completed"
                )
            pending[key] = len(slots)
            slots.append([event])
        else:
            index = pending.pop(key, None)
            if index is None:
                slots.append([event])
            else:
                slots[index].append(event)
    return [_pair(slot) for slot in slots]


def _pair(slot: list[UsbEvent]) -> Transfer:
    first = slot[0]
    submission = first if first.kind == "S" else None
    completion = slot[-1] if slot[-1].kind != "S" else None
    direction = first.direction
    if direction is Direction.OUT:
        data = submission.data if submission is not None else b""
    else:
        data = completion.data if completion is not None else b""
    carrier = submission if direction is Direction.OUT else completion
    return Transfer(
        transfer_type=first.transfer_type,
        endpoint=first.endpoint,
        device=first.device,
        bus=first.bus,
        urb_id=first.urb_id,
        status=completion.status if completion is not None else None,
        data=data,
        requested=submission.length if submission is not None else first.length,
        actual=completion.length if completion is not None else None,
        setup=submission.setup if submission is not None else None,
        submitted_us=submission.timestamp_us if submission is not None else None,
        completed_us=completion.timestamp_us if completion is not None else None,
        truncated=carrier.truncated if carrier is not None else False,
    )
