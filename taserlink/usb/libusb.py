"""libusb 1.0's error codes, in one table: code → name → message, and the errno pyusb gives it.

Codes and names are libusb.h's ``enum libusb_error``; messages are ``libusb_strerror``'s
English ones (libusb's ``strerror.c``), which pyusb's libusb1 backend puts in every
``USBError`` it raises; the errno is the one that backend attaches
(``usb/backend/libusb1.py``, ``_libusb_errno``).  The emulated device, the replay backend
and the recording backend take their errors from here, so a test sees what hardware gives.

A capture records a failed transfer as a URB status, a negative errno as the kernel's usbmon
reports it; :func:`for_urb_status` is how libusb's Linux backend turns such a status into
the error a synchronous transfer returns.
"""

from __future__ import annotations

import enum
import errno as errno_codes
from dataclasses import dataclass
from typing import Final

__all__ = [
    "LibusbError",
    "IO",
    "INVALID_PARAM",
    "ACCESS",
    "NO_DEVICE",
    "NOT_FOUND",
    "BUSY",
    "TIMEOUT",
    "OVERFLOW",
    "PIPE",
    "INTERRUPTED",
    "NO_MEM",
    "NOT_SUPPORTED",
    "OTHER",
    "LIBUSB_ERRORS",
    "DEVICE_GONE_STATUSES",
    "TIMED_OUT_STATUSES",
    "Speed",
    "by_code",
    "by_errno",
    "for_urb_status",
]


@dataclass(frozen=True)
class LibusbError:
    """One libusb error.

    Attributes:
        code: the negative ``libusb_error`` value (``LIBUSB_ERROR_PIPE`` is -9).
        name: its name in libusb.h, as ``libusb_error_name`` gives it.
        message: ``libusb_strerror``'s English text, the message of pyusb's exception.
        errno: the errno pyusb's libusb1 backend attaches to the exception (``None`` for
            ``LIBUSB_ERROR_OTHER``, which has none).
    """

    code: int
    name: str
    message: str
    errno: int | None


IO: Final = LibusbError(-1, "LIBUSB_ERROR_IO", "Input/Output Error", errno_codes.EIO)
INVALID_PARAM: Final = LibusbError(
    -2, "LIBUSB_ERROR_INVALID_PARAM", "Invalid parameter", errno_codes.EINVAL
)
ACCESS: Final = LibusbError(
    -3, "LIBUSB_ERROR_ACCESS", "Access denied (insufficient permissions)", errno_codes.EACCES
)
NO_DEVICE: Final = LibusbError(
    -4,
    "LIBUSB_ERROR_NO_DEVICE",
    "No such device (it may have been disconnected)",
    errno_codes.ENODEV,
)
NOT_FOUND: Final = LibusbError(-5, "LIBUSB_ERROR_NOT_FOUND", "Entity not found", errno_codes.ENOENT)
BUSY: Final = LibusbError(-6, "LIBUSB_ERROR_BUSY", "Resource busy", errno_codes.EBUSY)
TIMEOUT: Final = LibusbError(
    -7, "LIBUSB_ERROR_TIMEOUT", "Operation timed out", errno_codes.ETIMEDOUT
)
OVERFLOW: Final = LibusbError(-8, "LIBUSB_ERROR_OVERFLOW", "Overflow", errno_codes.EOVERFLOW)
PIPE: Final = LibusbError(-9, "LIBUSB_ERROR_PIPE", "Pipe error", errno_codes.EPIPE)
INTERRUPTED: Final = LibusbError(
    -10,
    "LIBUSB_ERROR_INTERRUPTED",
    "System call interrupted (perhaps due to signal)",
    errno_codes.EINTR,
)
NO_MEM: Final = LibusbError(-11, "LIBUSB_ERROR_NO_MEM", "Insufficient memory", errno_codes.ENOMEM)
NOT_SUPPORTED: Final = LibusbError(
    -12,
    "LIBUSB_ERROR_NOT_SUPPORTED",
    "Operation not supported or unimplemented on this platform",
    errno_codes.ENOSYS,
)
OTHER: Final = LibusbError(-99, "LIBUSB_ERROR_OTHER", "Other error", None)

LIBUSB_ERRORS: Final = (
    IO,
    INVALID_PARAM,
    ACCESS,
    NO_DEVICE,
    NOT_FOUND,
    BUSY,
    TIMEOUT,
    OVERFLOW,
    PIPE,
    INTERRUPTED,
    NO_MEM,
    NOT_SUPPORTED,
    OTHER,
)
"""Every error of libusb.h, in its order."""

_BY_CODE: Final = {error.code: error for error in LIBUSB_ERRORS}
_BY_ERRNO: Final = {error.errno: error for error in LIBUSB_ERRORS if error.errno is not None}

DEVICE_GONE_STATUSES: Final = frozenset({-errno_codes.ENODEV, -errno_codes.ESHUTDOWN})
"""URB statuses of a device that went away (libusb: ``LIBUSB_TRANSFER_NO_DEVICE``)."""
TIMED_OUT_STATUSES: Final = frozenset(
    {-errno_codes.ETIMEDOUT, -errno_codes.ENOENT, -errno_codes.ECONNRESET}
)
"""URB statuses of a transfer that timed out: what pyusb reports (``-ETIMEDOUT``), and the
kernel's unlinked URB (``-ENOENT``, ``-ECONNRESET``) that libusb cancels on its timeout."""


class Speed(enum.IntEnum):
    """libusb's ``enum libusb_speed`` (what pyusb's device ``speed`` holds)."""

    UNKNOWN = 0
    LOW = 1
    FULL = 2
    HIGH = 3
    """480 Mbit/s: bulk endpoints of 512 bytes."""
    SUPER = 4
    SUPER_PLUS = 5


def by_code(code: int) -> LibusbError:
    """The error with this ``libusb_error`` code; an unknown code is ``LIBUSB_ERROR_OTHER``,
    as ``libusb_strerror`` answers it."""
    return _BY_CODE.get(code, OTHER)


def by_errno(number: int) -> LibusbError | None:
    """The error pyusb reports with this errno, or ``None`` when none does."""
    return _BY_ERRNO.get(number)


def for_urb_status(status: int) -> LibusbError:
    """The error a synchronous transfer returns when its URB ends with ``status`` (a negative
    errno, non-zero): a timeout, the device gone, or the error with that errno; any other
    status is ``LIBUSB_ERROR_IO`` (libusb's ``LIBUSB_TRANSFER_ERROR``)."""
    if status in TIMED_OUT_STATUSES:
        return TIMEOUT
    if status in DEVICE_GONE_STATUSES:
        return NO_DEVICE
    return by_errno(-status) or IO
