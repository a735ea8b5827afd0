"""USB below the host and the emulator: captures, chapter 9 and libusb's errors, declared once.

The host side (:mod:`taserlink.device`) and the emulated device (:mod:`taserlink.emulator`)
both build on this floor, and it imports neither:

- :mod:`~taserlink.usb.pcapng` and :mod:`~taserlink.usb.pcap` — the capture file formats,
  declared with construct; :mod:`~taserlink.usb.usbmon` — the Linux usbmon packet header
  (link types 220 and 189) and :class:`UsbEvent`;
- :mod:`~taserlink.usb.writer` (:class:`CaptureWriter`) and :mod:`~taserlink.usb.reader`
  (:func:`read_events`, :func:`read_capture` → :class:`Transfer`), which use those
  declarations for every byte they write or read;
- :mod:`~taserlink.usb.chapter9` — the standard requests, descriptor types, request-type
  bits and the standard descriptors;
- :mod:`~taserlink.usb.protocol` — the dataport protocol both sides speak over the bulk
  endpoints: frames with length and CRC, commands, statuses, payloads;
- :mod:`~taserlink.usb.libusb` — libusb's error table (code, name, message, errno), and
  :mod:`~taserlink.usb.backend` — those errors raised as pyusb raises them, and descriptor
  objects, for taserlink's pyusb backends.

Read a capture::

    from taserlink.usb import read_capture

    for transfer in read_capture("captures/usb/download.pcapng"):
        print(transfer.transfer_type.name, hex(transfer.endpoint), transfer.status)
"""

from taserlink.usb.chapter9 import Direction
from taserlink.usb.reader import Transfer, read_capture, read_events
from taserlink.usb.usbmon import (
    DEFAULT_SNAPLEN,
    LINKTYPE_USB_LINUX,
    LINKTYPE_USB_LINUX_MMAPPED,
    USBMON_HEADER_SIZE,
    TransferType,
    UsbEvent,
    status_name,
)
from taserlink.usb.writer import CaptureWriter, PendingUrb, SteppingClock

__all__ = [
    "DEFAULT_SNAPLEN",
    "LINKTYPE_USB_LINUX",
    "LINKTYPE_USB_LINUX_MMAPPED",
    "USBMON_HEADER_SIZE",
    "CaptureWriter",
    "Direction",
    "PendingUrb",
    "SteppingClock",
    "Transfer",
    "TransferType",
    "UsbEvent",
    "read_capture",
    "read_events",
    "status_name",
]
