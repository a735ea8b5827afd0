"""What taserlink's pyusb backends share: libusb's errors raised as pyusb raises them, the URB
status a pyusb exception is recorded as, and descriptor objects as pyusb wants them.

The emulated device (:mod:`taserlink.emulator.usb`), the replay of a capture
(:mod:`taserlink.emulator.replay`) and the recording backend
(:mod:`taserlink.device.capture`) all implement ``usb.backend.IBackend``; they take their
errors (:mod:`taserlink.usb.libusb`) and descriptors (:mod:`taserlink.usb.chapter9`) from
this floor, so the three agree with each other and with pyusb's libusb1 backend.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import construct as cs
import usb.core

from taserlink.usb import libusb
from taserlink.usb.libusb import LibusbError

__all__ = [
    "BackendDescriptor",
    "descriptor",
    "pyusb_exception",
    "usb_error",
    "urb_status",
]


def pyusb_exception(error: LibusbError) -> Exception:
    """The exception pyusb's libusb1 backend raises for ``error`` (its ``_check``):
    ``NotImplementedError`` for ``LIBUSB_ERROR_NOT_SUPPORTED``, ``USBTimeoutError`` for
    ``LIBUSB_ERROR_TIMEOUT``, else ``USBError(message, code, errno)``."""
    if error is libusb.NOT_SUPPORTED:
        return NotImplementedError(error.message)
    exception: Exception
    if error is libusb.TIMEOUT:
        exception = usb.core.USBTimeoutError(error.message, error.code, error.errno)
    else:
        exception = usb.core.USBError(error.message, error.code, error.errno)
    return exception


def usb_error(number: int) -> Exception:
    """What pyusb raises for a failure with this errno (``errno.EPIPE`` → ``USBError`` "Pipe
    error", code -9); an errno no libusb error has is ``LIBUSB_ERROR_IO``."""
    return pyusb_exception(libusb.by_errno(number) or libusb.IO)


def urb_status(exc: BaseException) -> int:
    """The URB status (a negative errno) a capture records for a transfer that raised ``exc``:
    the exception's errno; ``-ETIMEDOUT`` for a timeout and ``-ENOSYS`` for an operation the
    backend does not support (pyusb's errnos for them); ``-EIO`` for anything else."""
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and number > 0:
        return -number
    known: LibusbError = libusb.IO
    if isinstance(exc, usb.core.USBTimeoutError):
        known = libusb.TIMEOUT
    elif isinstance(exc, NotImplementedError):
        known = libusb.NOT_SUPPORTED
    assert known.errno is not None
    return -known.errno


class BackendDescriptor(SimpleNamespace):
    """A descriptor as a pyusb backend hands it to pyusb: its fields as attributes (``bLength``,
    ``idVendor`` …, plus whatever the backend adds, such as ``bus`` or
    ``extra_descriptors``), and its bytes as ``raw``."""

    raw: bytes


def descriptor(declaration: cs.Struct, raw: bytes, **extra: Any) -> BackendDescriptor:
    """The descriptor object of ``raw`` (the declaration's first ``sizeof()`` bytes are used).

    Raises:
        construct.ConstructError: ``raw`` is shorter than the declaration.
    """
    head = bytes(raw[: declaration.sizeof()])
    fields = {k: v for k, v in declaration.parse(head).items() if not k.startswith("_")}
    return BackendDescriptor(raw=head, **fields, **extra)
