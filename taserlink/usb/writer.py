"""Write USB events to a pcapng file with link type 220 (Linux usbmon), as Wireshark reads them.

The file is one little-endian section: a section header block naming the application, one
interface description block (``usbmon0``, link type 220, microsecond timestamps), then one
enhanced packet block per usbmon event — every block built from the declarations of
:mod:`taserlink.usb.pcapng` and :mod:`taserlink.usb.usbmon`.
"""

from __future__ import annotations

import errno as errno_codes
import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Final

import construct as cs

from taserlink.errors import CaptureError
from taserlink.usb import pcapng
from taserlink.usb.chapter9 import SETUP, SETUP_SIZE, Direction
from taserlink.usb.usbmon import (
    DEFAULT_SNAPLEN,
    FLAG_NO_DATA_IN,
    FLAG_NO_DATA_OUT,
    FLAG_PRESENT,
    LINKTYPE_USB_LINUX_MMAPPED,
    URB_DIR_IN,
    USBMON_HEADER_SIZE,
    TransferType,
    UsbEvent,
)

__all__ = ["CaptureWriter", "PendingUrb", "SteppingClock"]

_URB_ID_BASE: Final = 0xFFFF_8880_0000_0000
"""Recorded URB ids look like kernel addresses; they are a counter, deterministic."""
_INTERFACE_DESCRIPTION: Final = (
    b"recorded above libusb through a pyusb backend, not by the kernel's usbmon"
)


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


def _block(block_type: pcapng.BlockType, body: cs.Struct, value: dict[str, Any]) -> bytes:
    """One little-endian block of ``block_type`` whose body ``body`` builds from ``value``.

    Raises:
        CaptureError: a field out of its range (an option longer than 65,535 bytes).
    """
    try:
        built = body.build(value)
        return bytes(pcapng.LITTLE.block.build({"block_type": block_type, "body": built}))
    except cs.ConstructError as error:
        raise CaptureError(f"a pcapng field is out of its range: {error}") from None


def _file_header(application: str | None, comment: str | None, snaplen: int) -> bytes:
    """The section header block (naming ``application``, default taserlink and its version,
    and carrying ``comment``) and the one interface description block (usbmon, ``snaplen``)."""
    if application is None:
        from taserlink import __version__

        application = f"taserlink {__version__}"
    section_options = [(pcapng.SHB_USERAPPL, application.encode())]
    if comment:
        section_options.append((pcapng.OPT_COMMENT, comment.encode()))
    blocks = pcapng.LITTLE
    section = _block(
        pcapng.BlockType.SECTION_HEADER,
        blocks.section_header,
        {
            "major_version": 1,
            "minor_version": 0,
            "section_length": -1,
            "options": pcapng.options(section_options),
        },
    )
    interface = _block(
        pcapng.BlockType.INTERFACE_DESCRIPTION,
        blocks.interface_description,
        {
            "link_type": LINKTYPE_USB_LINUX_MMAPPED,
            "reserved": 0,
            "snap_length": snaplen,
            "options": pcapng.options(
                [(pcapng.IF_NAME, b"usbmon0"), (pcapng.IF_DESCRIPTION, _INTERFACE_DESCRIPTION)]
            ),
        },
    )
    return section + interface


class CaptureWriter:
    """Write USB events to a pcapng file (one section, one usbmon interface, little-endian).

    ``target`` is a path (created or truncated; closed by :meth:`close`) or a binary stream
    (left open).  ``clock`` returns seconds since the Unix epoch (default :func:`time.time`);
    give a :class:`SteppingClock` for byte-identical captures.  Every block is flushed as it
    is written, so a capture cut short by a crash is readable up to its last event.  Safe to
    use from several threads (a dock's devices downloaded in parallel).

    Raises:
        CaptureError: writing after :meth:`close`, completing a URB twice, a field out of
            its range.
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
        if not USBMON_HEADER_SIZE <= snaplen <= 0xFFFF_FFFF:
            raise CaptureError(
                f"snap length {snaplen} is not between the usbmon header's "
                f"{USBMON_HEADER_SIZE} bytes and 2^32 - 1"
            )
        header = _file_header(application, comment, snaplen)
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
        self._write(header)

    # -- low level -------------------------------------------------------------------------

    def _now_us(self) -> int:
        return round(self._clock() * 1_000_000)

    def _write(self, blob: bytes) -> None:
        self._stream.write(blob)
        self._stream.flush()

    def write_event(self, event: UsbEvent) -> None:
        """Append one event as an enhanced packet block (interface 0, µs timestamps).

        Raises:
            CaptureError: the capture is closed, or a field of ``event`` is out of range.
        """
        packet, original = event.encode(self.snaplen)
        stamp = event.timestamp_us & 0xFFFF_FFFF_FFFF_FFFF
        blob = _block(
            pcapng.BlockType.ENHANCED_PACKET,
            pcapng.LITTLE.enhanced_packet,
            {
                "interface_id": 0,
                "timestamp_high": stamp >> 32,
                "timestamp_low": stamp & 0xFFFF_FFFF,
                "original_length": original,
                "packet_data": packet,
                "options": [],
            },
        )
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
            xfer_flags=URB_DIR_IN if direction is Direction.IN else 0,
        )
        # As the kernel's usbmon: no data on an IN submission ('<'), else 0 ("present").
        flag = FLAG_NO_DATA_IN if direction is Direction.IN else FLAG_PRESENT
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
        flag = FLAG_NO_DATA_OUT if direction is Direction.OUT else FLAG_PRESENT
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
        if len(setup) != SETUP_SIZE:
            raise CaptureError(f"a setup packet is {SETUP_SIZE} bytes, not {len(setup)}")
        w_length = SETUP.parse(setup).wLength
        if Direction.of(setup[0]) is Direction.IN:
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
