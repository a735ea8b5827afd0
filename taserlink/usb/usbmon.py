"""One Linux usbmon packet: the header, declared once with construct, and the event it carries.

A usbmon capture holds one packet per *event* of a USB request block (URB): a submission
(``S``) when the host hands the transfer to the bus, a completion (``C``) when it ends, or a
submission error (``E``).  Each packet is a header (``struct usbmon_packet`` of the kernel's
``Documentation/usb/usbmon.rst``), then the data: an OUT transfer's data rides on its
submission, an IN transfer's on its completion; a failed transfer completes with a negative
errno as its status.  Link type 220 (``LINKTYPE_USB_LINUX_MMAPPED``) has the 64-byte header;
link type 189 (``LINKTYPE_USB_LINUX``) only its first 48 bytes.  The header is in the byte
order of the machine that captured it, which is the byte order of the pcapng section.
"""

from __future__ import annotations

import enum
import errno as errno_codes
from dataclasses import dataclass
from typing import Final

import construct as cs

from taserlink.errors import CaptureError
from taserlink.usb.chapter9 import SETUP_SIZE, Direction

__all__ = [
    "LINKTYPE_USB_LINUX",
    "LINKTYPE_USB_LINUX_MMAPPED",
    "USBMON_HEADER_SIZE",
    "USBMON_HEADER_48_SIZE",
    "HEADER",
    "HEADER_48",
    "HEADER_BIG",
    "HEADER_48_BIG",
    "FLAG_PRESENT",
    "FLAG_NO_SETUP",
    "FLAG_NO_DATA_IN",
    "FLAG_NO_DATA_OUT",
    "DEFAULT_SNAPLEN",
    "URB_DIR_IN",
    "TransferType",
    "UsbEvent",
    "status_name",
]

LINKTYPE_USB_LINUX: Final = 189
"""usbmon with the first 48 header bytes only (read, never written)."""
LINKTYPE_USB_LINUX_MMAPPED: Final = 220
"""usbmon with the full 64-byte header: what :class:`~taserlink.usb.writer.CaptureWriter`
writes."""

FLAG_PRESENT: Final = 0
"""``flag_setup`` / ``flag_data`` when the setup packet / the data is present."""
FLAG_NO_SETUP: Final = ord("-")
"""``flag_setup`` of an event without a setup packet."""
FLAG_NO_DATA_IN: Final = ord("<")
"""``flag_data`` of an IN submission (the data comes with the completion)."""
FLAG_NO_DATA_OUT: Final = ord(">")
"""``flag_data`` of an OUT completion (the data went with the submission)."""
DEFAULT_SNAPLEN: Final = 262_144
"""Most bytes of one packet (header and data) a capture keeps; larger data is cut (and marked)."""
URB_DIR_IN: Final = 0x0200
"""``URB_DIR_IN`` in ``xfer_flags``, as the kernel sets it on IN URBs."""


def _declare(little: bool) -> tuple[cs.Struct, cs.Struct]:
    """The 48- and 64-byte headers in one byte order."""
    u8 = cs.Int8ul
    u16, u32, u64 = (
        (cs.Int16ul, cs.Int32ul, cs.Int64ul) if little else (cs.Int16ub, cs.Int32ub, cs.Int64ub)
    )
    s32, s64 = (cs.Int32sl, cs.Int64sl) if little else (cs.Int32sb, cs.Int64sb)
    first = (
        "id" / u64,
        "type" / u8,
        "xfer_type" / u8,
        "epnum" / u8,
        "devnum" / u8,
        "busnum" / u16,
        "flag_setup" / u8,
        "flag_data" / u8,
        "ts_sec" / s64,
        "ts_usec" / s32,
        "status" / s32,
        "length" / u32,
        "len_cap" / u32,
        "setup" / cs.Bytes(SETUP_SIZE),
    )
    rest = (
        "interval" / s32,
        "start_frame" / s32,
        "xfer_flags" / u32,
        "ndesc" / u32,
    )
    return cs.Struct(*first), cs.Struct(*first, *rest)


HEADER_48, HEADER = _declare(little=True)
"""The usbmon header, little-endian: link type 189's 48 bytes, and link type 220's 64.

``id`` the URB's id (the kernel's address of it), ``type`` ``'S'``/``'C'``/``'E'``,
``xfer_type`` (:class:`TransferType`), ``epnum`` the endpoint address (direction bit 0x80),
``devnum`` and ``busnum`` the device address and bus, ``flag_setup``/``flag_data`` (0 when
present), ``ts_sec``/``ts_usec`` the kernel's timestamp, ``status`` 0 or a negative errno
(``-EINPROGRESS`` on a submission), ``length`` the URB's length (submitted, or actual on a
completion), ``len_cap`` the data bytes that follow, ``setup`` the setup packet of a control
submission (or an isochronous transfer's error count and descriptor count), then, in the
64-byte header only, ``interval``, ``start_frame``, ``xfer_flags`` and ``ndesc``.
"""
HEADER_48_BIG, HEADER_BIG = _declare(little=False)
"""The same headers, big-endian (captured on a big-endian machine)."""
USBMON_HEADER_SIZE: Final = HEADER.sizeof()
assert USBMON_HEADER_SIZE == 64
USBMON_HEADER_48_SIZE: Final = HEADER_48.sizeof()
assert USBMON_HEADER_48_SIZE == 48


class TransferType(enum.IntEnum):
    """usbmon's ``xfer_type`` (not chapter 9's numbering,
    :class:`~taserlink.usb.chapter9.EndpointType`)."""

    ISOCHRONOUS = 0
    INTERRUPT = 1
    CONTROL = 2
    BULK = 3


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
    data_flag: int = FLAG_PRESENT
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
        """The packet (64-byte little-endian header, data cut to ``snaplen`` bytes of packet)
        and its uncut length.

        Raises:
            CaptureError: a setup packet that is not 8 bytes, or a field out of its range.
        """
        setup = self.setup if self.setup is not None else bytes(SETUP_SIZE)
        if len(setup) != SETUP_SIZE:
            raise CaptureError(f"a setup packet is {SETUP_SIZE} bytes, not {len(setup)}")
        seconds, micros = divmod(self.timestamp_us, 1_000_000)
        try:
            header = HEADER.build(
                {
                    "id": self.urb_id,
                    "type": ord(self.kind),
                    "xfer_type": int(self.transfer_type),
                    "epnum": self.endpoint,
                    "devnum": self.device,
                    "busnum": self.bus,
                    "flag_setup": FLAG_PRESENT if self.setup is not None else FLAG_NO_SETUP,
                    "flag_data": self.data_flag,
                    "ts_sec": seconds,
                    "ts_usec": micros,
                    "status": self.status,
                    "length": self.length,
                    "len_cap": len(self.data),
                    "setup": setup,
                    "interval": self.interval,
                    "start_frame": self.start_frame,
                    "xfer_flags": self.xfer_flags,
                    "ndesc": self.ndesc,
                }
            )
        except (cs.ConstructError, TypeError) as error:
            raise CaptureError(f"a usbmon field is out of its range: {error}") from None
        kept = self.data[: max(0, snaplen - USBMON_HEADER_SIZE)]
        return bytes(header) + kept, USBMON_HEADER_SIZE + len(self.data)

    @classmethod
    def decode(
        cls, packet: bytes, *, link: int, little: bool, timestamp_us: int, at: int = 0
    ) -> UsbEvent:
        """The event of one packet of link type 220 or 189; ``timestamp_us`` comes from the
        file's packet record (the header's own ``ts_sec``/``ts_usec`` are not used).

        Raises:
            CaptureError: another link type, a packet shorter than its header, an unknown
                event or transfer type; ``offset`` is ``at`` plus the offset in ``packet``.
        """
        if link == LINKTYPE_USB_LINUX_MMAPPED:
            declaration, size = (HEADER if little else HEADER_BIG), USBMON_HEADER_SIZE
        elif link == LINKTYPE_USB_LINUX:
            declaration, size = (HEADER_48 if little else HEADER_48_BIG), USBMON_HEADER_48_SIZE
        else:
            raise _malformed(at, f"link type {link} is not Linux usbmon (220 or 189)")
        if len(packet) < size:
            raise _malformed(at, f"packet of {len(packet)} bytes is shorter than usbmon's header")
        header = declaration.parse(packet[:size])
        if header.type not in b"SCE":
            raise _malformed(at + 8, f"event type {header.type:#04x} is not S, C or E")
        if header.xfer_type > TransferType.BULK:
            raise _malformed(at + 9, f"transfer type {header.xfer_type} is not 0..3")
        has_setup = header.flag_setup == FLAG_PRESENT and header.type == ord("S")
        return cls(
            urb_id=header.id,
            kind=chr(header.type),
            transfer_type=TransferType(header.xfer_type),
            endpoint=header.epnum,
            device=header.devnum,
            bus=header.busnum,
            timestamp_us=timestamp_us,
            status=header.status,
            length=header.length,
            data=bytes(packet[size:]),
            setup=bytes(header.setup) if has_setup else None,
            data_flag=header.flag_data,
            interval=header.get("interval", 0),
            start_frame=header.get("start_frame", 0),
            xfer_flags=header.get("xfer_flags", 0),
            ndesc=header.get("ndesc", 0),
            captured_length=header.len_cap,
        )


def _malformed(offset: int, message: str) -> CaptureError:
    return CaptureError(f"byte {offset}: {message}", offset=offset)
