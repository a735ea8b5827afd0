"""Where the device commands (``devices``, ``download``, ``clock``) find their devices.

Real USB by default: :func:`taserlink.device.find_devices` with pyusb's default backend
(libusb, through ``libusb-package`` when installed).  With ``--emulated N`` an
:class:`~taserlink.emulator.usb.EmulatedBackend` instead, holding a dock of ``N`` simulated
devices built deterministically from the scenarios (:mod:`taserlink.emulator.scenarios`):

- dock position ``p`` (1-based) holds :func:`taserlink.emulator.scenarios.dock_device`
  ``(p - 1)``: a device of the scenario rotation after some weeks of routine duty;
- the devices keep time with the host: before each request a device's simulated time is
  moved on to the host's UTC, so its clock shows the offset and drift it has built up since
  its scenario ended (``taserlink clock`` has something to show);
- the devices live as long as the Python process: commands run in one process (tests that
  call :func:`taserlink.cli.main` repeatedly) see the same devices, with what earlier
  commands logged on them (``USB_CONNECT``, ``DOWNLOAD``, ``CLOCK_SET``); each command plugs
  them into a fresh backend (a new connection each).  A new process builds them afresh:
  identical records up to the moment they are docked.

**Fault injection (a test hook, not a user-facing option).**  With ``--emulated``, the
environment variable ``$TASERLINK_EMULATED_FAULTS`` (:data:`FAULTS_ENV`) holds a fault
script for devices of the dock (:mod:`taserlink.emulator.faults`): comma-separated items
``WHO:KIND@AT[xCOUNT][/DELAY_S]``, ``WHO`` a 1-based dock position or a device serial.
Example: ``2:disconnect@8`` unplugs the second device when the host sends its second
``READ_RECORDS``.  The variable is ignored for real USB.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from taserlink.cli.common import UsageError, printable
from taserlink.device import UsbDeviceInfo, find_devices
from taserlink.errors import ScenarioError, TaserlinkError

if TYPE_CHECKING:  # the emulator is imported only when --emulated asks for it
    from taserlink.emulator.faults import FaultPlan
    from taserlink.emulator.firmware import SimulatedDevice
    from taserlink.emulator.usb import EmulatedBackend

__all__ = [
    "EMULATED_MAX",
    "FAULTS_ENV",
    "Dock",
    "Attempt",
    "add_dock_arguments",
    "failure_text",
    "on_each_device",
    "device_label",
    "emulated_backend",
    "emulated_device",
    "open_dock",
    "reset_emulated",
]

EMULATED_MAX: Final = 100
"""Most devices ``--emulated`` builds (a large dock holds 40)."""
FAULTS_ENV: Final = "TASERLINK_EMULATED_FAULTS"
"""Environment variable scripting faults for emulated devices (see the module docstring)."""
_MODELS: dict[int, SimulatedDevice] = {}
"""Emulated devices built so far in this process, by 0-based dock index."""
_MODELS_LOCK: Final = threading.Lock()


def emulated_device(index: int) -> SimulatedDevice:
    """The emulated device at 0-based dock ``index``, built on first use and kept for the
    life of the process (see the module docstring).

    Raises:
        ValueError: ``index`` is negative or not below :data:`EMULATED_MAX`.
    """
    if not 0 <= index < EMULATED_MAX:
        raise ValueError(f"dock index {index} outside 0..{EMULATED_MAX - 1}")
    from taserlink.emulator.scenarios import dock_device

    with _MODELS_LOCK:
        model = _MODELS.get(index)
        if model is None:
            model = _MODELS[index] = dock_device(index)
        return model


def reset_emulated() -> None:
    """Forget every emulated device built in this process (the next command builds them
    afresh, as a new process would)."""
    with _MODELS_LOCK:
        _MODELS.clear()


def _host_utc_ms() -> int:
    return time.time_ns() // 1_000_000


def emulated_backend(
    count: int, faults: Mapping[str, FaultPlan] | str | None = None
) -> EmulatedBackend:
    """A backend with the first ``count`` emulated devices plugged in, in dock order,
    keeping time with the host's UTC clock.

    Args:
        count: how many devices (0 … :data:`EMULATED_MAX`).
        faults: fault plans by serial, or a :data:`FAULTS_ENV`-style text, or ``None``.

    Raises:
        UsageError: ``count`` out of range, or ``faults`` text that does not parse.
    """
    if not 0 <= count <= EMULATED_MAX:
        raise UsageError(f"--emulated takes 0 to {EMULATED_MAX} devices, not {count}")
    from taserlink.emulator.faults import dock_fault_plans, parse_fault_script
    from taserlink.emulator.usb import EmulatedBackend

    models = [emulated_device(index) for index in range(count)]
    if isinstance(faults, str):
        serials = [model.spec.serial for model in models]
        try:
            faults = dock_fault_plans(parse_fault_script(faults), serials)
        except ScenarioError as error:
            raise UsageError(f"${FAULTS_ENV}: {error}") from None
    return EmulatedBackend(models, faults or {}, utc_now=_host_utc_ms)


@dataclass(frozen=True)
class Dock:
    """The devices a command works on: real USB (``backend`` ``None``) or an emulated dock.

    Attributes:
        backend: the pyusb backend (``None``: pyusb's default, i.e. libusb).
        emulated: how many emulated devices, or ``None`` for real USB.
    """

    backend: Any | None = None
    emulated: int | None = None

    @property
    def description(self) -> str:
        """``USB`` or ``emulated dock of N``, for messages."""
        if self.emulated is None:
            return "USB"
        return f"emulated dock of {self.emulated}"

    def devices(self) -> list[UsbDeviceInfo]:
        """Every attached dataport device, in enumeration (dock) order.

        Raises:
            DeviceError: no USB backend is available, or enumeration failed (exit 3).
        """
        return find_devices(backend=self.backend)


def device_label(info: UsbDeviceInfo) -> str:
    """How a device is named before its identity is read: its USB serial string, else
    ``bus B address A``."""
    if info.serial:
        return info.serial
    return f"bus {info.bus} address {info.address}"


def _device_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of devices: {text!r}") from None
    if not 0 <= value <= EMULATED_MAX:
        raise argparse.ArgumentTypeError(f"between 0 and {EMULATED_MAX}, not {value}")
    return value


def add_dock_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--emulated N`` to a device command's parser."""
    parser.add_argument(
        "--emulated",
        metavar="N",
        type=_device_count,
        default=None,
        help=(
            "use a dock of N simulated devices instead of USB (built deterministically from "
            "the emulator's scenarios; their clocks keep time with the host's, with the "
            f"offsets and drift of their scenarios; 0 to {EMULATED_MAX})"
        ),
    )


def open_dock(args: argparse.Namespace, environment: Mapping[str, str] | None = None) -> Dock:
    """The dock ``args.emulated`` asks for; faults from ``environment[FAULTS_ENV]`` (default
    ``os.environ``) are scripted on emulated devices only.

    Raises:
        UsageError: the fault text does not parse (exit 2).
    """
    if args.emulated is None:
        return Dock()
    if environment is None:
        environment = os.environ
    backend = emulated_backend(args.emulated, environment.get(FAULTS_ENV) or None)
    return Dock(backend, args.emulated)


# -- working on every device ------------------------------------------------------------

T = TypeVar("T")


def failure_text(error: BaseException) -> str:
    """One printable line saying why work on one device failed.

    A :class:`~taserlink.errors.TaserlinkError` is its message; an ``OSError`` (the disk,
    not the device) says ``I/O failure``; anything else is a bug in taserlink, said so, but
    kept to one line so that one device cannot end the work on the others.
    """
    if isinstance(error, TaserlinkError):
        text = str(error)
    elif isinstance(error, OSError):
        text = f"I/O failure: {error}"
    else:
        text = f"unexpected {type(error).__name__}: {error} (a bug in taserlink)"
    return printable(text)


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What work on one device gave: ``value``, or the ``error`` line why not."""

    position: int
    """1-based place in the dock (enumeration order)."""
    info: UsbDeviceInfo
    value: T | None
    error: str | None


def on_each_device(
    found: Sequence[UsbDeviceInfo], work: Callable[[UsbDeviceInfo], T]
) -> list[Attempt[T]]:
    """``work(device)`` for every device of ``found`` at once (a thread each, at most 32 at
    a time), in dock order; any exception ``work`` raises becomes the device's error line
    (:func:`failure_text`)."""

    def attempt(position: int, info: UsbDeviceInfo) -> Attempt[T]:
        try:
            return Attempt(position, info, work(info), None)
        except Exception as error:  # one device's failure must not end the others'
            return Attempt(position, info, None, failure_text(error))

    if not found:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(found))) as pool:
        futures = [pool.submit(attempt, p, info) for p, info in enumerate(found, start=1)]
        return [future.result() for future in futures]
