"""USB 2.0 chapter 9: standard requests, descriptor types, request-type bits and the standard
descriptors, declared once with construct.

The numbers are the USB 2.0 specification's (§9.3, §9.4, §9.6).  The emulated device answers
``GET_DESCRIPTOR`` with bytes built from these declarations, the replay backend parses the
descriptors a capture recorded with them, and the recording backend builds the setup packets
of the standard requests pyusb makes with :data:`SETUP`.  Every declaration is little-endian,
as USB is.
"""

from __future__ import annotations

import enum
from typing import Final

import construct as cs

__all__ = [
    "Direction",
    "RequestKind",
    "Recipient",
    "Request",
    "DescriptorType",
    "EndpointType",
    "Feature",
    "ConfigurationAttributes",
    "REQUEST_KIND_MASK",
    "RECIPIENT_MASK",
    "LANGID_EN_US",
    "MAX_STRING_BYTES",
    "request_type",
    "SETUP",
    "SETUP_SIZE",
    "setup_packet",
    "DEVICE_DESCRIPTOR",
    "CONFIGURATION_DESCRIPTOR",
    "INTERFACE_DESCRIPTOR",
    "ENDPOINT_DESCRIPTOR",
    "STRING_DESCRIPTOR",
    "LANGUAGE_IDS",
    "string_descriptor",
]


class Direction(enum.IntEnum):
    """The direction bit (``0x80``) of an endpoint address and of ``bmRequestType``."""

    OUT = 0x00
    """Host → device."""
    IN = 0x80
    """Device → host."""

    @classmethod
    def of(cls, endpoint: int) -> Direction:
        """The direction of an endpoint address (or a ``bmRequestType``)."""
        return cls.IN if endpoint & 0x80 else cls.OUT


class RequestKind(enum.IntEnum):
    """Bits 6..5 of ``bmRequestType`` (§9.3.1): who defines the request."""

    STANDARD = 0x00
    CLASS = 0x20
    VENDOR = 0x40


class Recipient(enum.IntEnum):
    """Bits 4..0 of ``bmRequestType`` (§9.3.1): what the request is for."""

    DEVICE = 0
    INTERFACE = 1
    ENDPOINT = 2
    OTHER = 3


class Request(enum.IntEnum):
    """``bRequest`` of the standard requests (§9.4, table 9-4)."""

    GET_STATUS = 0x00
    CLEAR_FEATURE = 0x01
    SET_FEATURE = 0x03
    SET_ADDRESS = 0x05
    GET_DESCRIPTOR = 0x06
    SET_DESCRIPTOR = 0x07
    GET_CONFIGURATION = 0x08
    SET_CONFIGURATION = 0x09
    GET_INTERFACE = 0x0A
    SET_INTERFACE = 0x0B
    SYNCH_FRAME = 0x0C


class DescriptorType(enum.IntEnum):
    """``bDescriptorType`` (§9.4, table 9-5); ``GET_DESCRIPTOR`` asks for one in the high byte
    of ``wValue`` (the index in the low byte)."""

    DEVICE = 1
    CONFIGURATION = 2
    STRING = 3
    INTERFACE = 4
    ENDPOINT = 5


class EndpointType(enum.IntEnum):
    """Bits 1..0 of an endpoint descriptor's ``bmAttributes`` (§9.6.6).

    Not usbmon's transfer type, which numbers the same four kinds differently
    (:class:`taserlink.usb.usbmon.TransferType`).
    """

    CONTROL = 0
    ISOCHRONOUS = 1
    BULK = 2
    INTERRUPT = 3


class Feature(enum.IntEnum):
    """Feature selectors of ``CLEAR_FEATURE`` / ``SET_FEATURE`` (§9.4, table 9-6)."""

    ENDPOINT_HALT = 0
    DEVICE_REMOTE_WAKEUP = 1
    TEST_MODE = 2


class ConfigurationAttributes(enum.IntFlag):
    """A configuration descriptor's ``bmAttributes`` (§9.6.3); bit 7 is always set."""

    RESERVED_ONE = 0x80
    SELF_POWERED = 0x40
    REMOTE_WAKEUP = 0x20


REQUEST_KIND_MASK: Final = 0x60
"""The bits of ``bmRequestType`` that hold its :class:`RequestKind`."""
RECIPIENT_MASK: Final = 0x1F
"""The bits of ``bmRequestType`` that hold its :class:`Recipient`."""
LANGID_EN_US: Final = 0x0409
"""English (United States), the language id of string descriptor 0."""
MAX_STRING_BYTES: Final = 252
"""Most UTF-16LE bytes a string descriptor holds (``bLength`` is one byte, and even)."""


def request_type(direction: Direction, kind: RequestKind, recipient: Recipient) -> int:
    """``bmRequestType`` from its three parts (§9.3.1): ``request_type(IN, STANDARD, DEVICE)``
    is ``0x80``."""
    return int(direction) | int(kind) | int(recipient)


_u8, _u16 = cs.Int8ul, cs.Int16ul

SETUP = cs.Struct(
    "bmRequestType" / _u8,
    "bRequest" / _u8,
    "wValue" / _u16,
    "wIndex" / _u16,
    "wLength" / _u16,
)
"""The 8-byte setup packet of a control transfer (§9.3)."""
SETUP_SIZE: Final = SETUP.sizeof()
assert SETUP_SIZE == 8


def setup_packet(
    bm_request_type: int, request: int, value: int = 0, index: int = 0, length: int = 0
) -> bytes:
    """The setup packet's bytes: ``bmRequestType``, ``bRequest``, ``wValue``, ``wIndex``,
    ``wLength``.

    Raises:
        ValueError: a field out of its range (``bmRequestType``/``bRequest`` are bytes, the
            rest 16-bit).
    """
    try:
        return bytes(
            SETUP.build(
                {
                    "bmRequestType": bm_request_type,
                    "bRequest": request,
                    "wValue": value,
                    "wIndex": index,
                    "wLength": length,
                }
            )
        )
    except cs.ConstructError as error:
        raise ValueError(f"setup packet field out of range: {error}") from None


DEVICE_DESCRIPTOR = cs.Struct(
    "bLength" / _u8,
    "bDescriptorType" / _u8,
    "bcdUSB" / _u16,
    "bDeviceClass" / _u8,
    "bDeviceSubClass" / _u8,
    "bDeviceProtocol" / _u8,
    "bMaxPacketSize0" / _u8,
    "idVendor" / _u16,
    "idProduct" / _u16,
    "bcdDevice" / _u16,
    "iManufacturer" / _u8,
    "iProduct" / _u8,
    "iSerialNumber" / _u8,
    "bNumConfigurations" / _u8,
)
"""The device descriptor (§9.6.1, 18 bytes)."""
CONFIGURATION_DESCRIPTOR = cs.Struct(
    "bLength" / _u8,
    "bDescriptorType" / _u8,
    "wTotalLength" / _u16,
    "bNumInterfaces" / _u8,
    "bConfigurationValue" / _u8,
    "iConfiguration" / _u8,
    "bmAttributes" / _u8,
    "bMaxPower" / _u8,
)
"""The configuration descriptor (§9.6.3, 9 bytes); ``GET_DESCRIPTOR`` answers it followed by
its interface and endpoint descriptors, ``wTotalLength`` bytes in all."""
INTERFACE_DESCRIPTOR = cs.Struct(
    "bLength" / _u8,
    "bDescriptorType" / _u8,
    "bInterfaceNumber" / _u8,
    "bAlternateSetting" / _u8,
    "bNumEndpoints" / _u8,
    "bInterfaceClass" / _u8,
    "bInterfaceSubClass" / _u8,
    "bInterfaceProtocol" / _u8,
    "iInterface" / _u8,
)
"""The interface descriptor (§9.6.5, 9 bytes)."""
ENDPOINT_DESCRIPTOR = cs.Struct(
    "bLength" / _u8,
    "bDescriptorType" / _u8,
    "bEndpointAddress" / _u8,
    "bmAttributes" / _u8,
    "wMaxPacketSize" / _u16,
    "bInterval" / _u8,
)
"""The endpoint descriptor (§9.6.6, 7 bytes; audio endpoints add ``bRefresh`` and
``bSynchAddress``, which follow as extra bytes)."""
STRING_DESCRIPTOR = cs.Struct(
    "bLength" / cs.Rebuild(_u8, lambda this: 2 + len(this.bString)),
    "bDescriptorType" / cs.Const(int(DescriptorType.STRING), _u8),
    "bString" / cs.Bytes(cs.this.bLength - 2),
)
"""A string descriptor (§9.6.7): ``bString`` is UTF-16LE, ``bLength - 2`` bytes."""
LANGUAGE_IDS = cs.Struct(
    "bLength" / cs.Rebuild(_u8, lambda this: 2 + 2 * len(this.wLANGID)),
    "bDescriptorType" / cs.Const(int(DescriptorType.STRING), _u8),
    "wLANGID" / cs.Array((cs.this.bLength - 2) // 2, _u16),
)
"""String descriptor 0 (§9.6.7): the language ids the device's strings come in."""


def string_descriptor(text: str) -> bytes:
    """The string descriptor of ``text`` (UTF-16LE, cut to :data:`MAX_STRING_BYTES`)."""
    encoded = text.encode("utf-16-le")[:MAX_STRING_BYTES]
    return bytes(STRING_DESCRIPTOR.build({"bString": encoded}))
