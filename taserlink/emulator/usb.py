"""The emulated dataport device behind a pyusb backend, so tests run the real pyusb path.

:class:`EmulatedBackend` implements ``usb.backend.IBackend``.  Pass it to pyusb and the
simulated devices it holds enumerate, open, configure, claim and transfer like hardware::

    backend = EmulatedBackend([device_a, device_b], faults={serial_b: FaultPlan([...])})
    for dev in usb.core.find(find_all=True, idVendor=VENDOR_ID, idProduct=PRODUCT_ID,
                             backend=backend):
        print(usb.util.get_string(dev, dev.iSerialNumber))

pyusb never picks this backend by itself: ``usb.core.find`` without ``backend=`` only tries
libusb 1.0, OpenUSB and libusb 0.1, and this module registers nothing anywhere.

Each attached device (:class:`EmulatedUsbDevice`) has standard descriptors (built with the
declarations of :mod:`taserlink.usb.chapter9`) — a device descriptor with the dataport's
vendor and product ids, one configuration with one vendor-specific interface (class
``0xFF``) and two bulk endpoints (``EP_OUT``, ``EP_IN``, ``MAX_PACKET`` bytes) — and string
descriptors (manufacturer, product = the model name, serial number = the device serial,
interface name) answered through ``ctrl_transfer`` ``GET_DESCRIPTOR`` as a device answers
them, so ``usb.util.get_string`` works.  A bulk
OUT transfer is one request frame for :class:`~taserlink.emulator.server.DataportServer`;
its response waits as the device's one pending IN response until a bulk IN transfer reads
it.  A new request discards an unread response.  A read whose buffer is smaller than the
response gets what fits and the rest is lost (a short read the host must detect).  A read
with nothing pending times out.  Clearing a halt on ``EP_IN`` flushes the pending response
(as device stacks flush an endpoint's FIFO).

Faults (:mod:`taserlink.emulator.faults`) strike by bulk-transfer index and raise what the
libusb 1.0 backend raises on hardware: ``usb.core.USBTimeoutError`` (errno ``ETIMEDOUT``),
``usb.core.USBError`` errno ``EPIPE`` (a stalled endpoint, until ``clear_halt``), errno
``ENODEV`` (unplugged; every later call too, and the device leaves enumeration until
:meth:`EmulatedBackend.attach` plugs it in again), with libusb's messages and error codes
(:mod:`taserlink.usb.libusb`).
An interface claimed through one handle raises ``EBUSY`` when claimed through another.

Thread safety: each device serialises its own transfers (one lock per device), and
attaching or detaching takes the backend's lock, so one thread per device — a dock of 40
downloaded at once — is safe.  Drive a device's firmware model from another thread only
while holding :attr:`EmulatedUsbDevice.lock`.

What it does *not* model: USB timing (transfers take no time unless a fault says so, and a
timeout is raised at once unless ``real_timeouts`` is set; a timeout of 0, "wait forever"
to libusb, never blocks), packets (a transfer is delivered or fails whole, and there is no
overflow error for a buffer that is not a whole number of packets), data toggles, control
transfer faults, suspend and resume, bus power and its limits, hubs (``get_parent`` is
``None``), interrupt and isochronous transfers (``NotImplementedError``), kernel drivers
(none is ever attached) and the time a device takes to enumerate.
"""

from __future__ import annotations

import array
import errno
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import construct as cs
import usb.backend
import usb.core

from taserlink.emulator.faults import FaultKind, FaultPlan, corrupt, tamper_record, truncate
from taserlink.emulator.firmware import SimulatedDevice
from taserlink.emulator.server import DataportServer
from taserlink.errors import ScenarioError
from taserlink.format import FirmwareVersion
from taserlink.usb.backend import BackendDescriptor, descriptor, usb_error
from taserlink.usb.chapter9 import (
    CONFIGURATION_DESCRIPTOR,
    DEVICE_DESCRIPTOR,
    ENDPOINT_DESCRIPTOR,
    INTERFACE_DESCRIPTOR,
    LANGID_EN_US,
    LANGUAGE_IDS,
    RECIPIENT_MASK,
    REQUEST_KIND_MASK,
    ConfigurationAttributes,
    DescriptorType,
    Direction,
    EndpointType,
    Feature,
    Recipient,
    Request,
    RequestKind,
    string_descriptor,
)
from taserlink.usb.libusb import Speed
from taserlink.usb.protocol import (
    EP_IN,
    EP_OUT,
    INTERFACE_CLASS,
    MAX_PACKET,
    PRODUCT_ID,
    VENDOR_ID,
)

__all__ = [
    "CONFIGURATION_DESCRIPTOR",
    "DEVICE_DESCRIPTOR",
    "ENDPOINT_DESCRIPTOR",
    "INTERFACE_DESCRIPTOR",
    "MANUFACTURER",
    "EmulatedBackend",
    "EmulatedUsbDevice",
    "Transfer",
]

MANUFACTURER: Final = "taserlink (simulated device)"
"""The manufacturer string descriptor of every emulated device."""
INTERFACE_NAME: Final = "taserlink dataport"

_STRING_MANUFACTURER, _STRING_PRODUCT, _STRING_SERIAL, _STRING_INTERFACE = 1, 2, 3, 4
_CONFIGURATION_VALUE: Final = 1
_INTERFACE_NUMBER: Final = 0
_ADDRESSES_PER_BUS: Final = 126
"""Addresses 2..127 (1 is taken by the root hub)."""


def _bcd(firmware: FirmwareVersion) -> int:
    """``bcdDevice`` from a firmware version: major.minor as two BCD bytes."""
    major, minor = firmware.major % 100, firmware.minor % 100
    return (major // 10) << 12 | (major % 10) << 8 | (minor // 10) << 4 | (minor % 10)


@dataclass(frozen=True)
class _DescriptorValues:
    device: dict[str, int]
    configuration: dict[str, int]
    interface: dict[str, int]
    endpoints: tuple[dict[str, int], ...]


def _descriptor_values(bcd_device: int) -> _DescriptorValues:
    """The dataport device's descriptor fields: the one place they are stated."""
    endpoints = tuple(
        {
            "bLength": ENDPOINT_DESCRIPTOR.sizeof(),
            "bDescriptorType": DescriptorType.ENDPOINT,
            "bEndpointAddress": address,
            "bmAttributes": EndpointType.BULK,
            "wMaxPacketSize": MAX_PACKET,
            "bInterval": 0,
        }
        for address in (EP_OUT, EP_IN)
    )
    interface = {
        "bLength": INTERFACE_DESCRIPTOR.sizeof(),
        "bDescriptorType": DescriptorType.INTERFACE,
        "bInterfaceNumber": _INTERFACE_NUMBER,
        "bAlternateSetting": 0,
        "bNumEndpoints": len(endpoints),
        "bInterfaceClass": INTERFACE_CLASS,
        "bInterfaceSubClass": 0,
        "bInterfaceProtocol": 0,
        "iInterface": _STRING_INTERFACE,
    }
    total = (
        CONFIGURATION_DESCRIPTOR.sizeof()
        + INTERFACE_DESCRIPTOR.sizeof()
        + len(endpoints) * ENDPOINT_DESCRIPTOR.sizeof()
    )
    return _DescriptorValues(
        device={
            "bLength": DEVICE_DESCRIPTOR.sizeof(),
            "bDescriptorType": DescriptorType.DEVICE,
            "bcdUSB": 0x0200,
            "bDeviceClass": 0,
            "bDeviceSubClass": 0,
            "bDeviceProtocol": 0,
            "bMaxPacketSize0": 64,
            "idVendor": VENDOR_ID,
            "idProduct": PRODUCT_ID,
            "bcdDevice": bcd_device,
            "iManufacturer": _STRING_MANUFACTURER,
            "iProduct": _STRING_PRODUCT,
            "iSerialNumber": _STRING_SERIAL,
            "bNumConfigurations": 1,
        },
        configuration={
            "bLength": CONFIGURATION_DESCRIPTOR.sizeof(),
            "bDescriptorType": DescriptorType.CONFIGURATION,
            "wTotalLength": total,
            "bNumInterfaces": 1,
            "bConfigurationValue": _CONFIGURATION_VALUE,
            "iConfiguration": 0,
            "bmAttributes": ConfigurationAttributes.RESERVED_ONE
            | ConfigurationAttributes.SELF_POWERED,
            "bMaxPower": 50,
        },
        interface=interface,
        endpoints=endpoints,
    )


def standard_descriptors(bcd_device: int = 0) -> tuple[bytes, bytes]:
    """The dataport device's descriptor bytes: the device descriptor, and the configuration
    descriptor followed by its interface and endpoint descriptors (``wTotalLength`` bytes)."""
    values = _descriptor_values(bcd_device)
    configuration = b"".join(
        bytes(declaration.build(fields))
        for declaration, fields in (
            (CONFIGURATION_DESCRIPTOR, values.configuration),
            (INTERFACE_DESCRIPTOR, values.interface),
            *((ENDPOINT_DESCRIPTOR, e) for e in values.endpoints),
        )
    )
    return bytes(DEVICE_DESCRIPTOR.build(values.device)), configuration


def _declared(declaration: cs.Struct, fields: dict[str, int], **extra: Any) -> BackendDescriptor:
    return descriptor(declaration, bytes(declaration.build(fields)), **extra)


@dataclass(frozen=True)
class Transfer:
    """One bulk transfer as the emulated device saw it.

    Attributes:
        index: its position among the device's bulk transfers (what a fault's ``at`` names).
        endpoint: ``EP_OUT`` or ``EP_IN``.
        data: OUT: the bytes the host sent; IN: the bytes the host received (empty when the
            transfer failed).
        faults: the fault kinds that struck it.
        error: ``None``, or the errno name of what it raised (``"EPIPE"``, ``"ETIMEDOUT"``,
            ``"ENODEV"``, ``"EINVAL"``).
        monotonic_s: ``time.monotonic()`` when it finished.
    """

    index: int
    endpoint: int
    data: bytes
    faults: tuple[FaultKind, ...]
    error: str | None
    monotonic_s: float


class _Handle:
    """What ``open_device`` returns: one opening of one attachment of a device."""

    def __init__(self, device: EmulatedUsbDevice) -> None:
        self.device = device
        self.closed = False

    def __repr__(self) -> str:
        return f"<emulated handle {self.device.serial} {'closed' if self.closed else 'open'}>"


class EmulatedUsbDevice:
    """One simulated device plugged into an :class:`EmulatedBackend` (one attachment).

    Re-attaching the same model makes a new :class:`EmulatedUsbDevice` (a new address, a
    new connection, transfers counted from 0 again).  pyusb passes this object back to the
    backend as the device identification.

    Attributes:
        model: the firmware model.
        plan: the faults scripted for this attachment.
        server: the protocol server answering requests (``server.busy`` makes it refuse).
        transfers: how many bulk transfers have reached the device; the next one has this
            index.
        history: every bulk transfer, in order (:class:`Transfer`).
        lock: held during every transfer; hold it to drive ``model`` from another thread.
        bus, address, port_number: where it is plugged in.
    """

    def __init__(
        self,
        model: SimulatedDevice,
        plan: FaultPlan,
        *,
        bus: int,
        address: int,
        port_number: int,
        utc_now: Callable[[], int] | None,
        real_timeouts: bool,
        on_disconnect: Callable[[EmulatedUsbDevice], None],
    ) -> None:
        self.model = model
        self.plan = plan
        self.server = DataportServer(model, utc_now=utc_now)
        self.bus = bus
        self.address = address
        self.port_number = port_number
        self.real_timeouts = real_timeouts
        self.transfers = 0
        self.history: list[Transfer] = []
        self.lock = threading.RLock()
        self._attached = True
        self._on_disconnect = on_disconnect
        self._pending: bytes | None = None
        self._halted: set[int] = set()
        self._configuration = _CONFIGURATION_VALUE
        self._claims: dict[int, _Handle] = {}
        self._strings = {
            _STRING_MANUFACTURER: MANUFACTURER,
            _STRING_PRODUCT: model.identity.model,
            _STRING_SERIAL: model.spec.serial,
            _STRING_INTERFACE: INTERFACE_NAME,
        }
        values = _descriptor_values(_bcd(model.firmware))
        self.device_descriptor = _declared(
            DEVICE_DESCRIPTOR,
            values.device,
            bus=bus,
            address=address,
            port_number=port_number,
            port_numbers=(port_number,),
            speed=Speed.HIGH,
        )
        self.endpoint_descriptors = tuple(
            _declared(
                ENDPOINT_DESCRIPTOR, fields, bRefresh=0, bSynchAddress=0, extra_descriptors=[]
            )
            for fields in values.endpoints
        )
        self.interface_descriptor = _declared(
            INTERFACE_DESCRIPTOR, values.interface, extra_descriptors=[]
        )
        inner = self.interface_descriptor.raw + b"".join(e.raw for e in self.endpoint_descriptors)
        self.configuration_descriptor = _declared(
            CONFIGURATION_DESCRIPTOR, values.configuration, extra_descriptors=[]
        )
        self._configuration_bytes = self.configuration_descriptor.raw + inner

    # -- state --------------------------------------------------------------------------
    @property
    def serial(self) -> str:
        """The device serial (also its serial-number string descriptor)."""
        return self.model.spec.serial

    @property
    def attached(self) -> bool:
        """Whether the device is plugged in (false once detached or disconnected)."""
        return self._attached

    @property
    def halted(self) -> frozenset[int]:
        """Endpoints currently stalled."""
        return frozenset(self._halted)

    @property
    def pending(self) -> bytes | None:
        """The response waiting to be read, if any."""
        return self._pending

    def string(self, index: int) -> str | None:
        """String descriptor ``index`` (1 manufacturer, 2 product, 3 serial, 4 interface)."""
        return self._strings.get(index)

    def __repr__(self) -> str:
        state = "attached" if self._attached else "detached"
        return f"<EmulatedUsbDevice {self.serial} bus {self.bus} address {self.address} {state}>"

    def _unplug(self) -> None:
        # Only the flag: every call checks it first, so the rest of the state no longer
        # matters, and another thread may be inside a transfer (holding the lock) right now.
        self._attached = False

    # -- control ------------------------------------------------------------------------
    def _check_attached(self) -> None:
        if not self._attached:
            raise usb_error(errno.ENODEV)

    def control(
        self,
        handle: _Handle,
        request_type: int,
        request: int,
        value: int,
        index: int,
        data: array.array[int],
    ) -> int:
        """A control transfer on endpoint 0; returns bytes written or read into ``data``.

        Raises:
            usb.core.USBError: ``EPIPE`` for a request the device does not support (a
                control stall), ``ENODEV`` when unplugged, ``EINVAL`` for bad arguments.
        """
        with self.lock:
            self._check_attached()
            if request_type & REQUEST_KIND_MASK != RequestKind.STANDARD:
                raise usb_error(errno.EPIPE)  # class or vendor request: this device has none
            recipient = request_type & RECIPIENT_MASK
            if Direction.of(request_type) is Direction.IN:
                answer = self._control_in(recipient, request, value, index)
                count = min(len(answer), len(data) * data.itemsize)
                data[:count] = array.array("B", answer[:count])
                return count
            self._control_out(handle, recipient, request, value, index)
            return len(data) * data.itemsize

    def _control_in(self, recipient: int, request: int, value: int, index: int) -> bytes:
        if recipient == Recipient.DEVICE and request == Request.GET_DESCRIPTOR:
            kind, number = value >> 8, value & 0xFF
            if kind == DescriptorType.DEVICE and number == 0:
                return self.device_descriptor.raw
            if kind == DescriptorType.CONFIGURATION and number == 0:
                return self._configuration_bytes
            if kind == DescriptorType.STRING:
                if number == 0:
                    return bytes(LANGUAGE_IDS.build({"wLANGID": [LANGID_EN_US]}))
                text = self._strings.get(number)
                if text is not None and index == LANGID_EN_US:
                    return string_descriptor(text)
        elif request == Request.GET_STATUS:
            if recipient == Recipient.DEVICE:
                return b"\x01\x00"  # self-powered, no remote wake-up
            if recipient == Recipient.INTERFACE and index == _INTERFACE_NUMBER:
                return b"\x00\x00"
            if recipient == Recipient.ENDPOINT and index in (EP_OUT, EP_IN, 0):
                return bytes([int(index in self._halted), 0])
        elif recipient == Recipient.DEVICE and request == Request.GET_CONFIGURATION:
            return bytes([self._configuration])
        elif (
            recipient == Recipient.INTERFACE
            and request == Request.GET_INTERFACE
            and index == _INTERFACE_NUMBER
        ):
            return b"\x00"
        raise usb_error(errno.EPIPE)

    def _control_out(
        self, handle: _Handle, recipient: int, request: int, value: int, index: int
    ) -> None:
        if recipient == Recipient.DEVICE and request == Request.SET_CONFIGURATION:
            self.set_configuration(handle, value)
        elif recipient == Recipient.INTERFACE and request == Request.SET_INTERFACE:
            self.set_altsetting(index, value)
        elif recipient == Recipient.ENDPOINT and request in (
            Request.CLEAR_FEATURE,
            Request.SET_FEATURE,
        ):
            if value != Feature.ENDPOINT_HALT or index not in (EP_OUT, EP_IN):
                raise usb_error(errno.EPIPE)
            if request == Request.CLEAR_FEATURE:
                self.clear_halt(index)
            else:
                self._halted.add(index)
        else:
            raise usb_error(errno.EPIPE)

    def set_configuration(self, handle: _Handle, value: int) -> None:
        with self.lock:
            self._check_attached()
            if value not in (0, _CONFIGURATION_VALUE):
                raise usb_error(errno.ENOENT)
            if any(owner is not handle for owner in self._claims.values()):
                raise usb_error(errno.EBUSY)
            self._configuration = value
            self._halted.clear()

    def get_configuration(self) -> int:
        with self.lock:
            self._check_attached()
            return self._configuration

    def set_altsetting(self, interface: int, alternate: int) -> None:
        with self.lock:
            self._check_attached()
            if interface != _INTERFACE_NUMBER or alternate != 0:
                raise usb_error(errno.ENOENT)
            self._halted.clear()

    def claim(self, handle: _Handle, interface: int) -> None:
        with self.lock:
            self._check_attached()
            if interface != _INTERFACE_NUMBER:
                raise usb_error(errno.ENOENT)
            owner = self._claims.get(interface)
            if owner is not None and owner is not handle:
                raise usb_error(errno.EBUSY)
            self._claims[interface] = handle

    def release(self, handle: _Handle, interface: int) -> None:
        with self.lock:
            if self._claims.get(interface) is handle:
                del self._claims[interface]
            self._check_attached()

    def release_all(self, handle: _Handle) -> None:
        with self.lock:
            for interface in [i for i, h in self._claims.items() if h is handle]:
                del self._claims[interface]

    def clear_halt(self, endpoint: int) -> None:
        """Clear a stall on ``endpoint``; on ``EP_IN`` the pending response is flushed."""
        with self.lock:
            self._check_attached()
            if endpoint not in (EP_OUT, EP_IN):
                raise usb_error(errno.EINVAL)
            self._halted.discard(endpoint)
            if endpoint == EP_IN:
                self._pending = None

    def reset(self) -> None:
        """A bus reset: halts and the pending response cleared, a new connection."""
        with self.lock:
            self._check_attached()
            self._halted.clear()
            self._pending = None
            self.server.reconnect()

    # -- bulk transfers -----------------------------------------------------------------
    def _begin(self) -> tuple[int, tuple[FaultKind, ...], float]:
        """Count a transfer; apply the faults that change state; return what struck."""
        self._check_attached()
        index = self.transfers
        self.transfers += 1
        faults = self.plan.at(index)
        kinds = tuple(f.kind for f in faults)
        delay = max((f.delay_s for f in faults if f.kind is FaultKind.SLOW), default=0.0)
        return index, kinds, delay

    def _strike(self, kinds: tuple[FaultKind, ...], endpoint: int) -> None:
        if FaultKind.CLOCK_RESET in kinds:
            self.model.lose_power()
        if FaultKind.TAMPER in kinds:
            tamper_record(self.model)
        if FaultKind.DISCONNECT in kinds:
            self._unplug()
            self._on_disconnect(self)
            raise usb_error(errno.ENODEV)
        if FaultKind.STALL in kinds:
            self._halted.add(endpoint)
        if endpoint in self._halted:
            raise usb_error(errno.EPIPE)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def _slow(self, delay_s: float, timeout_ms: int) -> None:
        """Wait ``delay_s``; past a (non-zero) timeout, wait that long and time out."""
        if timeout_ms > 0 and delay_s * 1000 > timeout_ms:
            self._wait(timeout_ms / 1000)
            raise usb_error(errno.ETIMEDOUT)
        self._wait(delay_s)

    def _timed_out(self, timeout_ms: int) -> Exception:
        if self.real_timeouts:
            self._wait(timeout_ms / 1000)
        return usb_error(errno.ETIMEDOUT)

    def _record(
        self,
        index: int,
        endpoint: int,
        data: bytes,
        kinds: tuple[FaultKind, ...],
        error: BaseException | None,
    ) -> None:
        name = None
        if error is not None:
            code = getattr(error, "errno", None)
            name = errno.errorcode.get(code, str(code)) if isinstance(code, int) else "?"
        self.history.append(Transfer(index, endpoint, data, kinds, name, time.monotonic()))

    def bulk_out(self, endpoint: int, data: bytes, timeout_ms: int) -> int:
        """One bulk OUT transfer: a request frame for the device.  Returns bytes written."""
        with self.lock:
            if endpoint != EP_OUT:
                self._check_attached()
                raise usb_error(errno.EINVAL)
            index, kinds, delay = self._begin()
            try:
                self._strike(kinds, endpoint)
                self._slow(delay, timeout_ms)
                if FaultKind.TIMEOUT in kinds:
                    raise self._timed_out(timeout_ms)
                self._check_attached()  # unplugged while the device was slow
                if FaultKind.DROP in kinds:
                    self._pending = None
                else:
                    request = data
                    if FaultKind.CORRUPT in kinds:
                        request = corrupt(request)
                    if FaultKind.SHORT_READ in kinds:
                        request = truncate(request)
                    self._pending = self.server.handle(request)
            except usb.core.USBError as error:
                self._record(index, endpoint, data, kinds, error)
                raise
            self._record(index, endpoint, data, kinds, None)
            return len(data)

    def bulk_in(self, endpoint: int, size: int, timeout_ms: int) -> bytes:
        """One bulk IN transfer of at most ``size`` bytes: the pending response, or what
        fits of it (the rest is lost)."""
        with self.lock:
            if endpoint != EP_IN:
                self._check_attached()
                raise usb_error(errno.EINVAL)
            index, kinds, delay = self._begin()
            try:
                self._strike(kinds, endpoint)
                self._slow(delay, timeout_ms)
                self._check_attached()  # unplugged while the device was slow
                if FaultKind.TIMEOUT in kinds or self._pending is None:
                    raise self._timed_out(timeout_ms)
                response, self._pending = self._pending, None
                if FaultKind.DROP in kinds:
                    raise self._timed_out(timeout_ms)
                if FaultKind.CORRUPT in kinds:
                    response = corrupt(response)
                if FaultKind.SHORT_READ in kinds:
                    response = truncate(response)
                delivered = response[: max(0, size)]
            except usb.core.USBError as error:
                self._record(index, endpoint, b"", kinds, error)
                raise
            self._record(index, endpoint, delivered, kinds, None)
            return delivered


class EmulatedBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend whose devices are simulated dataport devices (a dock).

    Args:
        devices: firmware models to plug in at once, in port order.
        faults: a fault plan per device serial (for ``devices`` only; devices attached
            later take theirs from :meth:`attach`).
        utc_now: passed to each device's :class:`DataportServer` (the model's time follows
            it); by default the models' time stands still.
        real_timeouts: if true, a transfer that times out first waits its timeout, as
            hardware does; by default it fails at once so tests stay fast.

    Raises:
        ScenarioError: two devices share a serial, or ``faults`` names a serial that is not
            among ``devices``.
    """

    def __init__(
        self,
        devices: Sequence[SimulatedDevice] = (),
        faults: Mapping[str, FaultPlan] | None = None,
        *,
        utc_now: Callable[[], int] | None = None,
        real_timeouts: bool = False,
    ) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._attached: dict[str, EmulatedUsbDevice] = {}
        self._next_address = 0
        self.utc_now = utc_now
        self.real_timeouts = real_timeouts
        plans = dict(faults or {})
        unknown = set(plans) - {d.spec.serial for d in devices}
        if unknown:
            raise ScenarioError(f"fault plans for devices not given: {sorted(unknown)}")
        for device in devices:
            self.attach(device, plans.get(device.spec.serial))

    # -- the dock -----------------------------------------------------------------------
    def attach(self, device: SimulatedDevice, plan: FaultPlan | None = None) -> EmulatedUsbDevice:
        """Plug ``device`` in (again): it enumerates at a new address, as a new connection.

        Args:
            device: the firmware model (the same one may be re-attached after a detach or a
                ``DISCONNECT`` fault; its log and clock carry on).
            plan: faults for this attachment (default none); transfers count from 0.

        Returns:
            The new attachment.

        Raises:
            ScenarioError: a device with this serial is already attached.
        """
        with self._lock:
            serial = device.spec.serial
            if serial in self._attached:
                raise ScenarioError(f"device {serial} is already attached")
            used = {d.port_number for d in self._attached.values()}
            port = next(p for p in range(1, len(used) + 2) if p not in used)
            bus, address = divmod(self._next_address, _ADDRESSES_PER_BUS)
            self._next_address += 1
            attachment = EmulatedUsbDevice(
                device,
                plan if plan is not None else FaultPlan(),
                bus=bus + 1,
                address=address + 2,
                port_number=port,
                utc_now=self.utc_now,
                real_timeouts=self.real_timeouts,
                on_disconnect=self._forget,
            )
            self._attached[serial] = attachment
            return attachment

    def detach(self, serial: str) -> EmulatedUsbDevice:
        """Unplug the device with ``serial``: open handles fail with ``ENODEV`` from now on.

        Raises:
            ScenarioError: no device with that serial is attached.
        """
        with self._lock:
            attachment = self._attached.pop(serial, None)
        if attachment is None:
            raise ScenarioError(f"device {serial} is not attached")
        attachment._unplug()
        return attachment

    def _forget(self, attachment: EmulatedUsbDevice) -> None:
        with self._lock:
            if self._attached.get(attachment.serial) is attachment:
                del self._attached[attachment.serial]

    @property
    def devices(self) -> tuple[EmulatedUsbDevice, ...]:
        """The attached devices, in the order they were plugged in."""
        with self._lock:
            return tuple(self._attached.values())

    def device(self, serial: str) -> EmulatedUsbDevice:
        """The attached device with ``serial``.

        Raises:
            ScenarioError: none is attached.
        """
        with self._lock:
            attachment = self._attached.get(serial)
        if attachment is None:
            raise ScenarioError(f"device {serial} is not attached")
        return attachment

    def __repr__(self) -> str:
        return f"<EmulatedBackend: {len(self._attached)} device(s)>"

    # -- IBackend: enumeration and descriptors ------------------------------------------
    def enumerate_devices(self) -> Iterator[EmulatedUsbDevice]:
        return iter(self.devices)

    def get_parent(self, dev: EmulatedUsbDevice) -> None:
        return None

    def get_device_descriptor(self, dev: EmulatedUsbDevice) -> BackendDescriptor:
        return dev.device_descriptor

    def get_configuration_descriptor(
        self, dev: EmulatedUsbDevice, config: int
    ) -> BackendDescriptor:
        if config != 0:
            raise usb_error(errno.ENOENT)
        return dev.configuration_descriptor

    def get_interface_descriptor(
        self, dev: EmulatedUsbDevice, intf: int, alt: int, config: int
    ) -> BackendDescriptor:
        self.get_configuration_descriptor(dev, config)
        if intf != 0:
            raise IndexError(f"Invalid interface index {intf}")
        if alt != 0:
            raise IndexError(f"Invalid alternate setting index {alt}")
        return dev.interface_descriptor

    def get_endpoint_descriptor(
        self, dev: EmulatedUsbDevice, ep: int, intf: int, alt: int, config: int
    ) -> BackendDescriptor:
        self.get_interface_descriptor(dev, intf, alt, config)
        if not 0 <= ep < len(dev.endpoint_descriptors):
            raise IndexError(f"Invalid endpoint index {ep}")
        return dev.endpoint_descriptors[ep]

    # -- IBackend: handles ----------------------------------------------------------------
    @staticmethod
    def _device(handle: _Handle) -> EmulatedUsbDevice:
        if not isinstance(handle, _Handle) or handle.closed:
            raise usb_error(errno.EINVAL)
        return handle.device

    def open_device(self, dev: EmulatedUsbDevice) -> _Handle:
        if not dev.attached:
            raise usb_error(errno.ENODEV)
        return _Handle(dev)

    def close_device(self, dev_handle: _Handle) -> None:
        if isinstance(dev_handle, _Handle) and not dev_handle.closed:
            dev_handle.device.release_all(dev_handle)
            dev_handle.closed = True

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        self._device(dev_handle).set_configuration(dev_handle, int(config_value))

    def get_configuration(self, dev_handle: _Handle) -> int:
        return self._device(dev_handle).get_configuration()

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        self._device(dev_handle).set_altsetting(int(intf), int(altsetting))

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        self._device(dev_handle).claim(dev_handle, int(intf))

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        self._device(dev_handle).release(dev_handle, int(intf))

    # -- IBackend: transfers ----------------------------------------------------------------
    def bulk_write(
        self, dev_handle: _Handle, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        return self._device(dev_handle).bulk_out(int(ep), bytes(data), int(timeout))

    def bulk_read(
        self, dev_handle: _Handle, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        size = len(buff) * buff.itemsize
        answer = self._device(dev_handle).bulk_in(int(ep), size, int(timeout))
        buff[: len(answer)] = array.array("B", answer)
        return len(answer)

    def ctrl_transfer(
        self,
        dev_handle: _Handle,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        device = self._device(dev_handle)
        return device.control(dev_handle, bmRequestType, bRequest, wValue, wIndex, data)

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        self._device(dev_handle).clear_halt(int(ep))

    def reset_device(self, dev_handle: _Handle) -> None:
        self._device(dev_handle).reset()

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        self._device(dev_handle)
        return False

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        self._device(dev_handle)

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        self._device(dev_handle)
