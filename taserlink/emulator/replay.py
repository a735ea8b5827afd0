"""Replay a recorded USB capture as an emulated device (a pyusb backend).

:class:`ReplayBackend` reads a capture (pcapng, link type 220; see
:mod:`taserlink.usb`) and presents the device(s) in it to pyusb.  Each request the
host makes is checked against the recording and answered with what the device answered
then: a bulk OUT transfer must carry the bytes recorded, and the bulk IN transfers after it
get the recorded responses; a recorded failure (a stall, a timeout, the device unplugged) is
raised again as pyusb raises it on hardware.  So a download recorded once, on hardware or on
the emulator, runs again through the *real* host code without the device.

**Strict by default.**  With ``strict=True`` the host must make the recorded transfers in
the recorded order; the first one that differs (another request, another endpoint, other
bytes, a read where a write was recorded, a transfer past the end) raises
:class:`ReplayMismatch`, and every transfer after it raises the same error.  Out-of-order
replay (``strict=False``: each request is matched by its content against the requests not
yet replayed, and answered with the responses recorded after it) is useful to explore a
recording with changed host code, but it gives a false sense of things working: a host that
reads the log before identifying, retries differently or skips a request would still be
answered, and a test would pass that hardware would fail.

What is matched, and what is not:

* bulk and interrupt transfers, and control requests other than ``GET_DESCRIPTOR`` (the
  ``SET_CONFIGURATION`` and ``CLEAR_FEATURE(ENDPOINT_HALT)`` behind pyusb's
  ``set_configuration`` and ``clear_halt``) are *steps*, replayed in order per device;
* standard ``GET_DESCRIPTOR`` requests change nothing on a device and pyusb issues them
  as its caches dictate, so they are answered by content (request type, descriptor, index,
  language) from any recorded answer, whenever they come; one never recorded is a mismatch;
* claiming and releasing interfaces, kernel drivers and resets leave no trace in a capture
  and are accepted as they come; transfer timeouts and timing are not replayed (answers
  come at once).

Devices: every bus address in the capture is one attached device, with the device and
configuration descriptors recorded for it (:class:`~taserlink.device.capture.RecordingBackend`
reads them when it opens a device), or else the dataport's standard descriptors.  A device
whose recording ends with it unplugged (``-ENODEV``) leaves enumeration once that failure has
been replayed, and a device first seen after such a failure appears only then: an
interrupted and resumed download replays as it happened.
"""

from __future__ import annotations

import array
import errno
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import usb.backend

from taserlink.emulator.usb import standard_descriptors
from taserlink.errors import CaptureError, ProtocolError
from taserlink.usb import Direction, Transfer, TransferType, read_capture
from taserlink.usb.backend import BackendDescriptor, descriptor, pyusb_exception, usb_error
from taserlink.usb.chapter9 import (
    CONFIGURATION_DESCRIPTOR,
    DEVICE_DESCRIPTOR,
    ENDPOINT_DESCRIPTOR,
    INTERFACE_DESCRIPTOR,
    SETUP,
    DescriptorType,
    Feature,
    Recipient,
    Request,
    RequestKind,
    request_type,
    setup_packet,
)
from taserlink.usb.libusb import DEVICE_GONE_STATUSES, Speed, for_urb_status

__all__ = ["ReplayBackend", "ReplayDevice", "ReplayMismatch"]

_STANDARD_IN: Final = request_type(Direction.IN, RequestKind.STANDARD, Recipient.DEVICE)
"""``bmRequestType`` of the ``GET_DESCRIPTOR`` requests answered by content."""


class ReplayMismatch(CaptureError, ProtocolError):
    """The host departed from the recording (strict replay), or asked what it never holds.

    A :class:`~taserlink.errors.CaptureError` and a :class:`~taserlink.errors.ProtocolError`:
    host code sees it as a protocol failure from the device.  ``index`` is the position of
    the recorded transfer expected (among the device's steps), if any.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        self.index = index
        super().__init__(message)


def _raise_status(status: int) -> None:
    """Raise what pyusb's libusb1 backend raises for a transfer that ended with ``status``."""
    raise pyusb_exception(for_urb_status(status))


def _describe(transfer: Transfer) -> str:
    kind = transfer.transfer_type.name.lower()
    where = f"{kind} {transfer.direction.name} 0x{transfer.endpoint:02x}"
    if transfer.setup is not None:
        where += f" setup {transfer.setup.hex()}"
    if transfer.direction is Direction.OUT and transfer.data:
        shown = transfer.data[:16].hex() + ("…" if len(transfer.data) > 16 else "")
        where += f" [{len(transfer.data)} B {shown}]"
    return where


def _difference(recorded: Transfer, request: Transfer) -> str:
    """Where the bytes of two OUT transfers first differ, as a clause for a message."""
    if request.direction is Direction.IN or recorded.direction is Direction.IN:
        return ""
    if recorded.endpoint != request.endpoint or recorded.setup != request.setup:
        return ""
    for offset, (a, b) in enumerate(zip(recorded.data, request.data, strict=False)):
        if a != b:
            return f" (first difference at byte {offset}: 0x{b:02x}, recorded 0x{a:02x})"
    if len(recorded.data) != len(request.data):
        return f" ({len(request.data)} bytes, recorded {len(recorded.data)})"
    return ""


# -- descriptors -----------------------------------------------------------------------------


@dataclass
class _Interface:
    descriptor: BackendDescriptor
    endpoints: list[BackendDescriptor] = field(default_factory=list)


@dataclass
class _Configuration:
    descriptor: BackendDescriptor
    interfaces: dict[int, list[_Interface]] = field(default_factory=dict)
    """bInterfaceNumber → alternate settings, in order."""


def _total_length(raw: bytes) -> int:
    """``wTotalLength`` of a configuration descriptor (at least its 9 bytes)."""
    return int(CONFIGURATION_DESCRIPTOR.parse(raw).wTotalLength)


def _standard_out(recipient: Recipient) -> int:
    """``bmRequestType`` of a standard OUT request to ``recipient``."""
    return request_type(Direction.OUT, RequestKind.STANDARD, recipient)


def _walk_configuration(raw: bytes) -> _Configuration:
    """Parse a whole configuration descriptor (with its interfaces and endpoints).

    Raises:
        CaptureError: a descriptor that runs past the data, or one of length < 2.
    """
    size = CONFIGURATION_DESCRIPTOR.sizeof()
    if len(raw) < size or raw[1] != DescriptorType.CONFIGURATION:
        raise CaptureError("the recorded configuration descriptor is malformed")
    config = _Configuration(descriptor(CONFIGURATION_DESCRIPTOR, raw[:size], extra_descriptors=[]))
    holder: list[int] = config.descriptor.extra_descriptors
    current: _Interface | None = None
    endpoint_size = ENDPOINT_DESCRIPTOR.sizeof()
    offset = raw[0]
    while offset + 2 <= len(raw):
        length, kind = raw[offset], raw[offset + 1]
        if length < 2 or offset + length > len(raw):
            raise CaptureError(f"descriptor at byte {offset} of the configuration is malformed")
        chunk = raw[offset : offset + length]
        if kind == DescriptorType.INTERFACE and length >= INTERFACE_DESCRIPTOR.sizeof():
            parsed = descriptor(INTERFACE_DESCRIPTOR, chunk, extra_descriptors=[])
            current = _Interface(parsed)
            config.interfaces.setdefault(int(parsed.bInterfaceNumber), []).append(current)
            holder = parsed.extra_descriptors
        elif kind == DescriptorType.ENDPOINT and current is not None and length >= endpoint_size:
            parsed = descriptor(
                ENDPOINT_DESCRIPTOR,
                chunk,
                bRefresh=chunk[endpoint_size] if length > endpoint_size else 0,
                bSynchAddress=chunk[endpoint_size + 1] if length > endpoint_size + 1 else 0,
                extra_descriptors=[],
            )
            current.endpoints.append(parsed)
            holder = parsed.extra_descriptors
        else:
            holder.extend(chunk)
        offset += length
    return config


# -- the devices -----------------------------------------------------------------------------


class _Handle:
    def __init__(self, device: ReplayDevice) -> None:
        self.device = device
        self.closed = False


class ReplayDevice:
    """One device of a capture (one bus address), as the replay presents it.

    Attributes:
        bus, address: where it was recorded.
        steps: its recorded transfers other than descriptor reads, in order.
        replayed: how many of ``steps`` have been replayed (strict replay's position).
    """

    def __init__(self, bus: int, address: int, transfers: list[Transfer]) -> None:
        self.bus = bus
        self.address = address
        self.steps: list[Transfer] = []
        self._descriptors: dict[tuple[int, int], bytes] = {}
        """(``wValue``, ``wIndex``) of a recorded ``GET_DESCRIPTOR`` → its longest answer."""
        for transfer in transfers:
            setup = transfer.setup
            if (
                transfer.transfer_type is TransferType.CONTROL
                and setup is not None
                and setup[0] == _STANDARD_IN
                and setup[1] == Request.GET_DESCRIPTOR
            ):
                if transfer.ok:
                    request = SETUP.parse(setup)
                    key = (request.wValue, request.wIndex)
                    if len(transfer.data) > len(self._descriptors.get(key, b"")):
                        self._descriptors[key] = transfer.data
                continue
            self.steps.append(transfer)
        self.used = [False] * len(self.steps)
        self.replayed = 0
        self.answers: list[int] = []
        """Non-strict replay: indices of the IN steps recorded after the last matched request."""
        self.appears_after: tuple[ReplayDevice, int] | None = None
        self.attached = False
        self.configuration = 1
        self._build_descriptors()

    def _build_descriptors(self) -> None:
        default_device, default_configuration = standard_descriptors()
        raw_device = self._descriptors.get((DescriptorType.DEVICE << 8, 0), b"")
        if len(raw_device) < DEVICE_DESCRIPTOR.sizeof() or raw_device[1] != DescriptorType.DEVICE:
            raw_device = default_device
        self.device_descriptor = descriptor(
            DEVICE_DESCRIPTOR,
            raw_device[: DEVICE_DESCRIPTOR.sizeof()],
            bus=self.bus,
            address=self.address,
            port_number=1,
            port_numbers=(1,),
            speed=Speed.HIGH,
        )
        self.configurations: list[_Configuration] = []
        for index in range(int(self.device_descriptor.bNumConfigurations)):
            raw = self._descriptors.get((DescriptorType.CONFIGURATION << 8 | index, 0), b"")
            whole = len(raw) >= CONFIGURATION_DESCRIPTOR.sizeof() and len(raw) >= _total_length(raw)
            if not whole:
                if index:
                    continue
                raw = default_configuration
            self.configurations.append(_walk_configuration(raw))
        if not self.configurations:
            self.configurations.append(_walk_configuration(default_configuration))
        self.configuration = int(self.configurations[0].descriptor.bConfigurationValue)

    def descriptor(self, value: int, index: int, length: int) -> bytes | None:
        """The recorded answer to ``GET_DESCRIPTOR(value, index)`` cut to ``length``, or the
        device/configuration descriptors presented; ``None`` when neither is known."""
        recorded = self._descriptors.get((value, index))
        if recorded is None and value == DescriptorType.DEVICE << 8:
            recorded = bytes(self.device_descriptor.raw)
        if recorded is None:
            return None
        return recorded[:length]

    @property
    def finished(self) -> bool:
        return all(self.used)

    def __repr__(self) -> str:
        done = sum(self.used)
        return f"<ReplayDevice bus {self.bus} address {self.address} {done}/{len(self.steps)}>"


class ReplayBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend that answers from a recorded capture (see the module's notes).

    Args:
        capture: a capture file (path), its bytes, or transfers from
            :func:`~taserlink.usb.read_capture`.
        strict: replay in the recorded order (default); ``False`` matches requests by
            content (see the module's notes for why strict is the default).

    Raises:
        CaptureError: the capture cannot be read, or holds no transfer.
    """

    def __init__(
        self, capture: str | os.PathLike[str] | bytes | Sequence[Transfer], strict: bool = True
    ) -> None:
        super().__init__()
        if isinstance(capture, str | os.PathLike | bytes | bytearray):
            transfers = read_capture(capture)
        else:
            transfers = list(capture)
        if not transfers:
            raise CaptureError("the capture holds no transfer to replay")
        self.strict = strict
        self._lock = threading.RLock()
        self.mismatch: ReplayMismatch | None = None
        """The first departure from the recording, once there is one."""
        order: dict[tuple[int, int], list[Transfer]] = {}
        for transfer in transfers:
            order.setdefault((transfer.bus, transfer.device), []).append(transfer)
        self._devices = {key: ReplayDevice(key[0], key[1], found) for key, found in order.items()}
        self._plan_attachments(transfers)

    def _plan_attachments(self, transfers: list[Transfer]) -> None:
        """Which device appears only after another one was unplugged (see the module)."""
        last_gone: tuple[ReplayDevice, int] | None = None
        seen: set[tuple[int, int]] = set()
        positions: dict[tuple[int, int], int] = {}
        for transfer in transfers:
            key = (transfer.bus, transfer.device)
            device = self._devices[key]
            if key not in seen:
                seen.add(key)
                device.appears_after = last_gone
                device.attached = last_gone is None
            if device.steps and positions.get(key, 0) < len(device.steps):
                position = positions.get(key, 0)
                if device.steps[position] is transfer:
                    positions[key] = position + 1
                    if transfer.status in DEVICE_GONE_STATUSES:
                        last_gone = (device, position)

    # -- state for tests and tools ------------------------------------------------------

    @property
    def devices(self) -> tuple[ReplayDevice, ...]:
        """Every device of the capture, in the order first seen."""
        return tuple(self._devices.values())

    @property
    def finished(self) -> bool:
        """Whether every recorded step of every device has been replayed."""
        with self._lock:
            return all(device.finished for device in self._devices.values())

    def unreplayed(self) -> list[Transfer]:
        """The recorded steps not replayed (yet)."""
        with self._lock:
            return [
                step
                for device in self._devices.values()
                for step, used in zip(device.steps, device.used, strict=True)
                if not used
            ]

    def require_finished(self) -> None:
        """Raise the replay's mismatch, or :class:`ReplayMismatch` if steps are left over."""
        if self.mismatch is not None:
            raise self.mismatch
        left = self.unreplayed()
        if left:
            raise ReplayMismatch(
                f"{len(left)} recorded transfer(s) were not replayed, first: {_describe(left[0])}"
            )

    # -- matching ---------------------------------------------------------------------------

    def _fail(self, message: str, index: int | None = None) -> ReplayMismatch:
        if self.mismatch is None:
            self.mismatch = ReplayMismatch(message, index)
        return self.mismatch

    def _consume(self, device: ReplayDevice, index: int) -> Transfer:
        device.used[index] = True
        step = device.steps[index]
        if step.status in DEVICE_GONE_STATUSES:
            device.attached = False
            for other in self._devices.values():
                if other.appears_after == (device, index):
                    other.attached = True
        return step

    def _strict_next(self, device: ReplayDevice, wanted: str) -> tuple[int, Transfer]:
        index = device.replayed
        if index >= len(device.steps):
            raise self._fail(
                f"replay of bus {device.bus} device {device.address}: the host made {wanted} "
                f"after the last of the {len(device.steps)} recorded transfers",
                index,
            )
        return index, device.steps[index]

    def _step(self, device: ReplayDevice, request: Transfer) -> Transfer:
        """The recorded step answering ``request`` (a transfer the host makes now, with the
        data it sends for OUT), consumed; raises :class:`ReplayMismatch`."""
        if self.mismatch is not None:
            raise self.mismatch
        wanted = _describe(request)
        if self.strict:
            index, step = self._strict_next(device, wanted)
            if not _same_request(step, request):
                raise self._fail(
                    f"replay of bus {device.bus} device {device.address}, transfer {index}: "
                    f"the host made {wanted}, the recording has {_describe(step)}"
                    + _difference(step, request),
                    index,
                )
            device.replayed = index + 1
            return self._consume(device, index)
        if request.direction is Direction.IN and request.transfer_type is not TransferType.CONTROL:
            while device.answers:
                index = device.answers.pop(0)
                if not device.used[index] and _same_request(device.steps[index], request):
                    return self._consume(device, index)
            raise self._fail(
                f"replay of bus {device.bus} device {device.address}: the host made {wanted} "
                "and the recording has no unreplayed answer after its last matched request"
            )
        for index, step in enumerate(device.steps):
            if not device.used[index] and _same_request(step, request):
                device.answers = []
                follow = index + 1
                while follow < len(device.steps) and _is_answer(device.steps[follow]):
                    device.answers.append(follow)
                    follow += 1
                return self._consume(device, index)
        raise self._fail(
            f"replay of bus {device.bus} device {device.address}: the host made {wanted}, "
            "which the recording does not hold (unreplayed)"
        )

    # -- IBackend: enumeration and descriptors ----------------------------------------------

    def enumerate_devices(self) -> Iterator[ReplayDevice]:
        with self._lock:
            return iter([d for d in self._devices.values() if d.attached])

    def get_parent(self, dev: ReplayDevice) -> None:
        return None

    def get_device_descriptor(self, dev: ReplayDevice) -> BackendDescriptor:
        return dev.device_descriptor

    def _configuration(self, dev: ReplayDevice, config: int) -> _Configuration:
        if not 0 <= config < len(dev.configurations):
            raise usb_error(errno.EINVAL)
        return dev.configurations[config]

    def get_configuration_descriptor(self, dev: ReplayDevice, config: int) -> BackendDescriptor:
        return self._configuration(dev, config).descriptor

    def _interface(self, dev: ReplayDevice, intf: int, alt: int, config: int) -> _Interface:
        configuration = self._configuration(dev, config)
        numbers = sorted(configuration.interfaces)
        if not 0 <= intf < len(numbers):
            raise IndexError(f"Invalid interface index {intf}")
        settings = configuration.interfaces[numbers[intf]]
        if not 0 <= alt < len(settings):
            raise IndexError(f"Invalid alternate setting index {alt}")
        return settings[alt]

    def get_interface_descriptor(
        self, dev: ReplayDevice, intf: int, alt: int, config: int
    ) -> BackendDescriptor:
        return self._interface(dev, intf, alt, config).descriptor

    def get_endpoint_descriptor(
        self, dev: ReplayDevice, ep: int, intf: int, alt: int, config: int
    ) -> BackendDescriptor:
        endpoints = self._interface(dev, intf, alt, config).endpoints
        if not 0 <= ep < len(endpoints):
            raise IndexError(f"Invalid endpoint index {ep}")
        return endpoints[ep]

    # -- IBackend: handles --------------------------------------------------------------------

    def _device(self, dev_handle: Any) -> ReplayDevice:
        if not isinstance(dev_handle, _Handle) or dev_handle.closed:
            raise usb_error(errno.EINVAL)
        if not dev_handle.device.attached:
            raise usb_error(errno.ENODEV)
        return dev_handle.device

    def open_device(self, dev: ReplayDevice) -> _Handle:
        with self._lock:
            if not dev.attached:
                raise usb_error(errno.ENODEV)
            return _Handle(dev)

    def close_device(self, dev_handle: Any) -> None:
        if isinstance(dev_handle, _Handle):
            dev_handle.closed = True

    def get_configuration(self, dev_handle: Any) -> int:
        with self._lock:
            return self._device(dev_handle).configuration

    def claim_interface(self, dev_handle: Any, intf: int) -> None:
        with self._lock:
            self._device(dev_handle)

    def release_interface(self, dev_handle: Any, intf: int) -> None:
        with self._lock:
            self._device(dev_handle)

    def reset_device(self, dev_handle: Any) -> None:
        with self._lock:
            self._device(dev_handle)

    def is_kernel_driver_active(self, dev_handle: Any, intf: int) -> bool:
        with self._lock:
            self._device(dev_handle)
        return False

    def detach_kernel_driver(self, dev_handle: Any, intf: int) -> None:
        with self._lock:
            self._device(dev_handle)

    def attach_kernel_driver(self, dev_handle: Any, intf: int) -> None:
        with self._lock:
            self._device(dev_handle)

    # -- IBackend: transfers ------------------------------------------------------------------

    def _write(
        self, kind: TransferType, dev_handle: Any, ep: int, data: bytes, setup: bytes | None = None
    ) -> int:
        with self._lock:
            device = self._device(dev_handle)
            request = _request(kind, ep, data, len(data), setup)
            step = self._step(device, request)
            if step.status is None:
                raise self._fail(f"the recording ends before {_describe(step)} completed")
            if step.status:
                _raise_status(step.status)
            return len(data) if step.actual is None else step.actual

    def _read(
        self, kind: TransferType, dev_handle: Any, ep: int, buff: Any, setup: bytes | None = None
    ) -> int:
        with self._lock:
            device = self._device(dev_handle)
            size = len(buff) * getattr(buff, "itemsize", 1)
            step = self._step(device, _request(kind, ep, b"", size, setup))
            if step.status is None:
                raise self._fail(f"the recording ends before {_describe(step)} completed")
            if step.status:
                _raise_status(step.status)
            if len(step.data) > size:
                raise self._fail(
                    f"the host read {size} bytes from 0x{ep:02x}; the recording answered "
                    f"{len(step.data)}"
                )
            if step.truncated:
                raise self._fail(f"the recorded answer to {_describe(step)} was cut short")
            view = memoryview(buff).cast("B")
            view[: len(step.data)] = step.data
            return len(step.data)

    def bulk_write(self, dev_handle: Any, ep: int, intf: int, data: Any, timeout: int) -> int:
        return self._write(TransferType.BULK, dev_handle, ep, bytes(data))

    def bulk_read(self, dev_handle: Any, ep: int, intf: int, buff: Any, timeout: int) -> int:
        return self._read(TransferType.BULK, dev_handle, ep, buff)

    def intr_write(self, dev_handle: Any, ep: int, intf: int, data: Any, timeout: int) -> int:
        return self._write(TransferType.INTERRUPT, dev_handle, ep, bytes(data))

    def intr_read(self, dev_handle: Any, ep: int, intf: int, buff: Any, timeout: int) -> int:
        return self._read(TransferType.INTERRUPT, dev_handle, ep, buff)

    def ctrl_transfer(
        self,
        dev_handle: Any,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: Any,
        timeout: int,
    ) -> int:
        size = len(data) * getattr(data, "itemsize", 1)
        setup = setup_packet(bmRequestType, bRequest, wValue, wIndex, size)
        if bmRequestType == _STANDARD_IN and bRequest == Request.GET_DESCRIPTOR:
            with self._lock:
                device = self._device(dev_handle)
                if self.mismatch is not None:
                    raise self.mismatch
                answer = device.descriptor(wValue, wIndex, size)
                if answer is None:
                    raise self._fail(
                        f"replay of bus {device.bus} device {device.address}: the host read "
                        f"descriptor 0x{wValue:04x} (index 0x{wIndex:04x}), which the recording "
                        "does not hold"
                    )
                view = memoryview(data).cast("B")
                view[: len(answer)] = answer
                return len(answer)
        if Direction.of(bmRequestType) is Direction.IN:
            return self._read(TransferType.CONTROL, dev_handle, Direction.IN, data, setup)
        return self._write(
            TransferType.CONTROL, dev_handle, Direction.OUT, array.array("B", data).tobytes(), setup
        )

    def _standard(self, dev_handle: Any, setup: bytes) -> None:
        self._write(TransferType.CONTROL, dev_handle, Direction.OUT, b"", setup)

    def set_configuration(self, dev_handle: Any, config_value: int) -> None:
        self._standard(
            dev_handle,
            setup_packet(_standard_out(Recipient.DEVICE), Request.SET_CONFIGURATION, config_value),
        )
        with self._lock:
            self._device(dev_handle).configuration = int(config_value)

    def set_interface_altsetting(self, dev_handle: Any, intf: int, altsetting: int) -> None:
        self._standard(
            dev_handle,
            setup_packet(
                _standard_out(Recipient.INTERFACE), Request.SET_INTERFACE, altsetting, intf
            ),
        )

    def clear_halt(self, dev_handle: Any, ep: int) -> None:
        self._standard(
            dev_handle,
            setup_packet(
                _standard_out(Recipient.ENDPOINT), Request.CLEAR_FEATURE, Feature.ENDPOINT_HALT, ep
            ),
        )

    def __repr__(self) -> str:
        mode = "strict" if self.strict else "by content"
        return f"<ReplayBackend {mode}: {len(self._devices)} device(s)>"


def _request(
    kind: TransferType, endpoint: int, data: bytes, requested: int, setup: bytes | None
) -> Transfer:
    """The transfer the host is making now, in the capture's terms (for matching)."""
    return Transfer(
        transfer_type=kind,
        endpoint=endpoint,
        device=0,
        bus=0,
        urb_id=0,
        status=None,
        data=data,
        requested=requested,
        actual=None,
        setup=setup,
        submitted_us=None,
        completed_us=None,
    )


def _same_request(recorded: Transfer, request: Transfer) -> bool:
    """Whether the host's ``request`` is the recorded one: kind, endpoint, setup packet,
    and for OUT transfers the bytes sent."""
    if recorded.transfer_type is not request.transfer_type:
        return False
    if recorded.endpoint != request.endpoint:
        return False
    if recorded.setup != request.setup:
        return False
    return request.direction is Direction.IN or recorded.data == request.data


def _is_answer(step: Transfer) -> bool:
    return step.direction is Direction.IN and step.transfer_type is not TransferType.CONTROL
