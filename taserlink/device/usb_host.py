"""Finding and opening dataport devices with pyusb.

This is the only module of :mod:`taserlink.device` that touches pyusb.  It finds devices by
vendor and product id (and optionally their serial, read from the serial-number string
descriptor), opens one, sets its configuration, claims the vendor-specific interface and
moves bytes over its two bulk endpoints (:class:`UsbLink`).  Every pyusb exception is
translated here into a :class:`~taserlink.errors.DeviceError`:

========================================  ==============================================
pyusb raises                              taserlink raises
========================================  ==============================================
``USBTimeoutError``                       :class:`~taserlink.errors.DeviceTimeout`
``USBError`` errno ``EPIPE`` (a stall)    :class:`EndpointStalled` (clear it, retry)
``USBError`` ``ENODEV``/``EIO``, or "No   :class:`~taserlink.errors.DeviceDisconnected`
such device"
``USBError`` ``EOVERFLOW``                :class:`~taserlink.errors.ProtocolError`
any other ``USBError``, a missing         :class:`~taserlink.errors.DeviceError`
backend, an unsupported operation
========================================  ==============================================

Every function takes a ``backend``: ``None`` asks pyusb for libusb through the
``libusb-package`` wheel when it is installed (``pip install taserlink[usb]``), else through
pyusb's own discovery of a system libusb; tests pass the emulated backend
(:class:`taserlink.emulator.usb.EmulatedBackend`), so the same calls run against the
simulated device as against hardware.
"""

from __future__ import annotations

import contextlib
import errno
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import usb.core
import usb.util

from taserlink.errors import (
    DeviceDisconnected,
    DeviceError,
    DeviceNotFound,
    DeviceTimeout,
    ProtocolError,
)
from taserlink.serials import DEVICE_SCHEME
from taserlink.usb.protocol import (
    EP_IN,
    EP_OUT,
    INTERFACE_CLASS,
    MAX_FRAME,
    MAX_PACKET,
    PRODUCT_ID,
    VENDOR_ID,
)

__all__ = [
    "READ_SIZE",
    "EndpointStalled",
    "Transport",
    "UsbDeviceInfo",
    "UsbLink",
    "default_backend",
    "find_devices",
    "find_device",
    "open_link",
    "translate_usb_error",
]

READ_SIZE = -(-MAX_FRAME // MAX_PACKET) * MAX_PACKET
"""Bytes the host asks for on every bulk IN read: the largest frame rounded up to whole
packets, so a well-formed answer never overflows the host's buffer."""

_DISCONNECT_ERRNOS = frozenset({errno.ENODEV, errno.EIO, errno.ENXIO, errno.ESHUTDOWN})


class EndpointStalled(DeviceError):
    """A bulk endpoint answered with a STALL (``EPIPE``); ``endpoint`` is its address.

    A session clears the halt and sends the request again; only a stall that keeps
    recurring ends a request.
    """

    def __init__(self, message: str, endpoint: int) -> None:
        self.endpoint = endpoint
        super().__init__(message)


def translate_usb_error(
    error: BaseException, doing: str, endpoint: int | None = None
) -> DeviceError:
    """The taserlink error for a pyusb (or backend) exception raised while ``doing`` something.

    Args:
        error: what pyusb raised (``usb.core.USBError`` and subclasses, ``NotImplementedError``
            from a backend that lacks an operation, ``ValueError`` from descriptor look-ups,
            ``usb.core.NoBackendError``).
        doing: a few words for the message ("reading from endpoint 0x81").
        endpoint: the endpoint involved, if any (kept on :class:`EndpointStalled`).

    Returns:
        The error to raise (see the module's table); never raises itself.
    """
    if isinstance(error, DeviceError):
        return error
    if isinstance(error, usb.core.USBTimeoutError):
        return DeviceTimeout(f"timed out {doing}")
    if isinstance(error, usb.core.USBError):
        code = error.errno
        text = str(getattr(error, "strerror", None) or error)
        if code == errno.EPIPE:
            return EndpointStalled(f"endpoint stalled {doing}", endpoint if endpoint else 0)
        if code in _DISCONNECT_ERRNOS or "no such device" in text.lower():
            return DeviceDisconnected(f"device went away {doing}: {text}")
        if code == errno.ETIMEDOUT:
            return DeviceTimeout(f"timed out {doing}")
        if code == errno.EOVERFLOW:
            return ProtocolError(f"the device sent more than was asked for {doing}")
        if code == errno.EACCES:
            return DeviceError(f"permission denied {doing} (check the udev rules): {text}")
        if code == errno.EBUSY:
            return DeviceError(f"device busy {doing} (claimed by another program?): {text}")
        return DeviceError(f"USB error {doing}: {text}")
    if isinstance(error, usb.core.NoBackendError):
        return DeviceError(
            "no USB backend: install libusb, or taserlink's 'usb' extra (libusb-package)"
        )
    if isinstance(error, NotImplementedError):
        return DeviceError(f"the USB backend cannot do this {doing}")
    return DeviceError(f"{type(error).__name__} {doing}: {error}")


_USB_FAILURES = (usb.core.USBError, NotImplementedError, ValueError, usb.core.NoBackendError)
"""What pyusb and its backends raise (``ValueError``: descriptor look-ups, invalid
configurations, an unsupported language id)."""


def default_backend() -> Any | None:
    """The backend ``None`` stands for: libusb from ``libusb-package`` when it is installed
    and loadable, else ``None`` (pyusb's own discovery of a system libusb)."""
    try:
        import libusb_package  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    try:
        return libusb_package.get_libusb1_backend()
    except Exception:  # a wheel without a library for this platform: fall back to pyusb's
        return None


@dataclass(frozen=True)
class UsbDeviceInfo:
    """An attached dataport device as enumeration sees it (nothing claimed yet).

    ``serial`` is the serial-number string descriptor (``None`` if it could not be read,
    for example without permission to open the device).
    """

    serial: str | None
    vendor_id: int
    product_id: int
    bus: int | None
    address: int | None
    manufacturer: str | None = None
    product: str | None = None
    device: Any = field(default=None, repr=False, compare=False)
    """The ``usb.core.Device``."""


def _string(device: Any, index: int) -> str | None:
    if not index:
        return None
    try:
        value = usb.util.get_string(device, index)
    except _USB_FAILURES:
        return None
    return None if value is None else str(value)


def find_devices(
    *,
    serial: str | None = None,
    vendor_id: int = VENDOR_ID,
    product_id: int = PRODUCT_ID,
    backend: Any | None = None,
) -> list[UsbDeviceInfo]:
    """Every attached device with these ids (and ``serial``, if given), in enumeration order.

    Args:
        serial: only the device with this serial-number string, both compared as
            :meth:`DEVICE_SCHEME.normalize <taserlink.serials.SerialScheme.normalize>` reads
            input (separators and case ignored, I/L read as 1, O as 0, U as V).
        vendor_id, product_id: the USB ids (default: the dataport's).
        backend: a pyusb backend; ``None`` = :func:`default_backend`.

    Raises:
        DeviceError: no USB backend is available, or enumeration failed.
    """
    chosen = backend if backend is not None else default_backend()
    try:
        found = list(
            usb.core.find(find_all=True, idVendor=vendor_id, idProduct=product_id, backend=chosen)
        )
    except _USB_FAILURES as error:
        raise translate_usb_error(error, "enumerating USB devices") from None
    out: list[UsbDeviceInfo] = []
    for device in found:
        info = UsbDeviceInfo(
            serial=_string(device, device.iSerialNumber),
            vendor_id=int(device.idVendor),
            product_id=int(device.idProduct),
            bus=getattr(device, "bus", None),
            address=getattr(device, "address", None),
            manufacturer=_string(device, device.iManufacturer),
            product=_string(device, device.iProduct),
            device=device,
        )
        if serial is not None and (
            info.serial is None
            or DEVICE_SCHEME.normalize(info.serial) != DEVICE_SCHEME.normalize(serial)
        ):
            continue
        out.append(info)
    return out


def find_device(
    serial: str | None = None,
    *,
    vendor_id: int = VENDOR_ID,
    product_id: int = PRODUCT_ID,
    backend: Any | None = None,
) -> UsbDeviceInfo:
    """The one device with ``serial`` (or the only device attached, when ``serial`` is None).

    Raises:
        DeviceNotFound: no such device, or several attached and no serial given.
        DeviceError: no USB backend is available.
    """
    found = find_devices(serial=serial, vendor_id=vendor_id, product_id=product_id, backend=backend)
    if not found:
        which = f"with serial {serial}" if serial else f"{vendor_id:04x}:{product_id:04x}"
        raise DeviceNotFound(f"no dataport device {which} is attached")
    if len(found) > 1 and serial is None:
        serials = ", ".join(str(f.serial) for f in found)
        raise DeviceNotFound(f"{len(found)} devices attached ({serials}): name one by serial")
    return found[0]


@runtime_checkable
class Transport(Protocol):
    """What a session needs from a link: bulk write and read, clear a stall, close.

    Implementations raise only :class:`~taserlink.errors.DeviceError` subclasses:
    :class:`~taserlink.errors.DeviceTimeout`, :class:`EndpointStalled`,
    :class:`~taserlink.errors.DeviceDisconnected`, :class:`~taserlink.errors.ProtocolError`.
    """

    @property
    def serial(self) -> str | None:
        """The device's serial-number string, if known."""
        ...

    def write(self, data: bytes, timeout_ms: int) -> int:
        """Send ``data`` as one bulk OUT transfer; returns the bytes written."""
        ...

    def read(self, size: int, timeout_ms: int) -> bytes:
        """One bulk IN transfer of at most ``size`` bytes."""
        ...

    def clear_halt(self, endpoint: int) -> None:
        """Clear a stall on ``endpoint``."""
        ...

    def close(self) -> None:
        """Release the device (idempotent)."""
        ...


class UsbLink:
    """An opened and claimed dataport device: bulk transfers on ``EP_OUT``/``EP_IN``.

    Use as a context manager, or call :meth:`close`.  Construct with :func:`open_link`.

    Raises (from the constructor):
        DeviceDisconnected: the device went away while being opened.
        DeviceError: the configuration could not be set or the interface claimed (another
            program holds it, no permission), or the device has no dataport interface.
    """

    def __init__(self, device: Any, *, serial: str | None = None) -> None:
        self.device = device
        self._closed = False
        self._serial = serial
        self.interface_number = 0
        try:
            self._configure()
        except _USB_FAILURES as error:
            self._dispose()
            raise translate_usb_error(error, "opening the device") from None
        except DeviceError:
            self._dispose()
            raise
        if self._serial is None:
            self._serial = _string(device, device.iSerialNumber)

    def _configure(self) -> None:
        device = self.device
        try:
            device.set_configuration()
        except usb.core.USBError as error:
            # Already configured and in use elsewhere: keep the active configuration.
            if error.errno != errno.EBUSY:
                raise
        configuration = device.get_active_configuration()
        interface = usb.util.find_descriptor(
            configuration, custom_match=lambda i: i.bInterfaceClass == INTERFACE_CLASS
        )
        if interface is None:
            raise DeviceError("the device has no vendor-specific (dataport) interface")
        addresses = {int(e.bEndpointAddress) for e in interface}
        if not {EP_OUT, EP_IN} <= addresses:
            raise DeviceError(
                f"the dataport interface lacks endpoints 0x{EP_OUT:02x}/0x{EP_IN:02x} "
                f"(it has {sorted(hex(a) for a in addresses)})"
            )
        self.interface_number = int(interface.bInterfaceNumber)
        try:
            if device.is_kernel_driver_active(self.interface_number):
                device.detach_kernel_driver(self.interface_number)
        except NotImplementedError:
            pass  # backends and systems without kernel drivers to detach
        usb.util.claim_interface(device, self.interface_number)

    @property
    def serial(self) -> str | None:
        """The serial-number string descriptor."""
        return self._serial

    def write(self, data: bytes, timeout_ms: int) -> int:
        """One bulk OUT transfer (see :class:`Transport`)."""
        try:
            return int(self.device.write(EP_OUT, data, timeout=timeout_ms))
        except _USB_FAILURES as error:
            raise translate_usb_error(
                error, f"writing to endpoint 0x{EP_OUT:02x}", EP_OUT
            ) from None

    def read(self, size: int, timeout_ms: int) -> bytes:
        """One bulk IN transfer (see :class:`Transport`)."""
        try:
            return bytes(self.device.read(EP_IN, size, timeout=timeout_ms))
        except _USB_FAILURES as error:
            raise translate_usb_error(
                error, f"reading from endpoint 0x{EP_IN:02x}", EP_IN
            ) from None

    def clear_halt(self, endpoint: int) -> None:
        """Clear a stall on ``endpoint`` (see :class:`Transport`)."""
        try:
            self.device.clear_halt(endpoint)
        except _USB_FAILURES as error:
            raise translate_usb_error(error, f"clearing a halt on 0x{endpoint:02x}") from None

    def close(self) -> None:
        """Release the interface and the device handle; safe to call twice, never raises
        (a device already unplugged has nothing left to release)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(*_USB_FAILURES):
            usb.util.release_interface(self.device, self.interface_number)
        self._dispose()

    def _dispose(self) -> None:
        with contextlib.suppress(*_USB_FAILURES):
            usb.util.dispose_resources(self.device)

    def __enter__(self) -> UsbLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_link(
    target: UsbDeviceInfo | Any | str | None = None,
    *,
    vendor_id: int = VENDOR_ID,
    product_id: int = PRODUCT_ID,
    backend: Any | None = None,
) -> UsbLink:
    """Open a device and claim its dataport interface.

    Args:
        target: a :class:`UsbDeviceInfo`, a ``usb.core.Device``, a serial, or ``None`` for
            the only attached device.
        vendor_id, product_id, backend: as for :func:`find_devices` (used when ``target``
            is a serial or ``None``).

    Raises:
        DeviceNotFound: see :func:`find_device`.
        DeviceError: the device could not be opened or claimed (see :class:`UsbLink`).
    """
    if target is None or isinstance(target, str):
        target = find_device(target, vendor_id=vendor_id, product_id=product_id, backend=backend)
    if isinstance(target, UsbDeviceInfo):
        return UsbLink(target.device, serial=target.serial)
    return UsbLink(target)
