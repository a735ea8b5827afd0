"""Record a USB session through pyusb as a capture: pcapng with link type 220 (Linux usbmon).

:class:`RecordingBackend` wraps any pyusb backend (libusb on hardware, the emulator's backend
in tests) and writes every transfer that passes through it to a
:class:`~taserlink.usb.CaptureWriter`, so the *same* host code records against hardware and
against the emulated device; nothing in the host code changes but the backend it is given.
Each transfer becomes two usbmon events: a submission (``S``) and a completion (``C``) with
status 0 or a negative errno (``-EPIPE`` for a stall, ``-ETIMEDOUT`` for a timeout,
``-ENODEV`` when the device went away).  Wireshark and tshark open these files as they open a
usbmon capture.

The capture format — the pcapng blocks and the usbmon header, declared with construct; the
writer; :func:`read_capture` (transfers: submission paired with completion) and
:func:`read_events` (the raw events) — is the USB floor's, :mod:`taserlink.usb`; its names
are re-exported here as they always were.

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
from collections.abc import Callable
from typing import Any

import usb.backend
import usb.core

from taserlink.errors import DeviceError
from taserlink.usb.backend import urb_status
from taserlink.usb.chapter9 import (
    DEVICE_DESCRIPTOR,
    DescriptorType,
    Direction,
    Feature,
    Recipient,
    Request,
    RequestKind,
    request_type,
    setup_packet,
)
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

_CONFIGURATION_READ_SIZE = 4096
"""Bytes asked for when the recording backend reads a whole configuration descriptor."""
_STANDARD_IN = request_type(Direction.IN, RequestKind.STANDARD, Recipient.DEVICE)


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
        asks = (
            (DescriptorType.DEVICE, DEVICE_DESCRIPTOR.sizeof()),
            (DescriptorType.CONFIGURATION, _CONFIGURATION_READ_SIZE),
        )
        for kind, size in asks:
            buffer = array.array("B", bytes(size))
            with contextlib.suppress(usb.core.USBError, NotImplementedError):
                self.ctrl_transfer(
                    handle, _STANDARD_IN, Request.GET_DESCRIPTOR, kind << 8, 0, buffer, 1000
                )

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
            self.writer.complete(urb, status=urb_status(exc), actual=0)
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
            self.writer.complete(urb, status=urb_status(exc))
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
        setup = setup_packet(bmRequestType, bRequest, wValue, wIndex, size)

        def call() -> Any:
            return self.inner.ctrl_transfer(
                dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout
            )

        if Direction.of(bmRequestType) is Direction.IN:
            return self._in(TransferType.CONTROL, call, dev_handle, Direction.IN, data, setup)
        return self._out(
            TransferType.CONTROL, call, dev_handle, Direction.OUT, _as_bytes(data), setup
        )

    def _standard_out(self, dev_handle: Any, setup: bytes, call: Callable[[], Any]) -> Any:
        return self._out(TransferType.CONTROL, call, dev_handle, Direction.OUT, b"", setup)

    def set_configuration(self, dev_handle: Any, config_value: int) -> None:
        setup = setup_packet(
            request_type(Direction.OUT, RequestKind.STANDARD, Recipient.DEVICE),
            Request.SET_CONFIGURATION,
            config_value,
        )
        self._standard_out(
            dev_handle, setup, lambda: self.inner.set_configuration(dev_handle, config_value)
        )

    def set_interface_altsetting(self, dev_handle: Any, intf: int, altsetting: int) -> None:
        setup = setup_packet(
            request_type(Direction.OUT, RequestKind.STANDARD, Recipient.INTERFACE),
            Request.SET_INTERFACE,
            altsetting,
            intf,
        )
        self._standard_out(
            dev_handle,
            setup,
            lambda: self.inner.set_interface_altsetting(dev_handle, intf, altsetting),
        )

    def clear_halt(self, dev_handle: Any, ep: int) -> None:
        setup = setup_packet(
            request_type(Direction.OUT, RequestKind.STANDARD, Recipient.ENDPOINT),
            Request.CLEAR_FEATURE,
            Feature.ENDPOINT_HALT,
            ep,
        )
        self._standard_out(dev_handle, setup, lambda: self.inner.clear_halt(dev_handle, ep))


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, array.array):
        return data.tobytes()
    return bytes(data)
