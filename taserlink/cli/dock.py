"""Where the device commands (``devices``, ``download``, ``clock``) find their devices.

Real USB by default: :func:`taserlink.device.find_devices` with pyusb's default backend
(libusb, through ``libusb-package`` when installed).  With ``--emulated N`` an
:class:`~taserlink.emulator.usb.EmulatedBackend` instead, holding a dock of ``N`` simulated
devices built deterministically from the scenarios (:mod:`taserlink.emulator.scenarios`):

- dock position ``p`` (1-based) runs scenario ``SCENARIO_ROTATION[(p - 1) % 5]`` with seed
  ``1 + (p - 1) // 5`` — so the first three are an ``incident-shift`` device (a clock
  some seconds off UTC, drifting at 12 ppm), a ``quiet-day`` device (a correct clock) and a
  ``clock-drift`` device (88 ppm fast) — and then :func:`service_days` more days of routine
  duty (power on, spark test, battery reports, holster checks), so logs hold a few hundred
  records (several ``READ_RECORDS`` chunks; the ``wrapped-log`` device keeps 128);
- the devices keep time with the host: before each request a device's simulated time is
  moved on to the host's UTC, so its clock shows the offset and drift it has built up since
  its scenario ended (``taserlink clock`` has something to show);
- the devices live as long as the Python process: commands run in one process (tests that
  call :func:`taserlink.cli.main` repeatedly) see the same devices, with what earlier
  commands logged on them (``USB_CONNECT``, ``DOWNLOAD``, ``CLOCK_SET``); each command plugs
  them into a fresh backend (a new connection each).  A new process builds them afresh:
  identical records up to the moment they are docked.

**Fault injection (a test hook, not a user-facing option).**  With ``--emulated``, the
environment variable ``$TASERLINK_EMULATED_FAULTS`` (:data:`FAULTS_ENV`) scripts faults
(:mod:`taserlink.emulator.faults`) for devices of the dock, as comma-separated items
``WHO:KIND@AT[xCOUNT][/DELAY_S]``: ``WHO`` a 1-based dock position or a device serial,
``KIND`` a :class:`~taserlink.emulator.faults.FaultKind` value (``disconnect``, ``stall``,
``timeout``, ``drop``, ``corrupt``, ``short_read``, ``slow``, ``clock_reset``, ``tamper``),
``AT`` the 0-based index of the device's bulk transfer (OUT and IN counted together) where
it strikes, ``COUNT`` how many consecutive transfers (default 1), ``DELAY_S`` a ``slow``
device's delay in seconds.  Example: ``2:disconnect@8`` unplugs the second device when the
host sends its second ``READ_RECORDS`` (transfers 0–7 are ``IDENTIFY``, certificates, base
and the first chunk).  The variable is ignored for real USB.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from taserlink.cli.common import UsageError, printable
from taserlink.device import UsbDeviceInfo, find_devices
from taserlink.errors import TaserlinkError

if TYPE_CHECKING:  # the emulator is imported only when --emulated asks for it
    from taserlink.emulator.faults import FaultPlan
    from taserlink.emulator.firmware import SimulatedDevice
    from taserlink.emulator.usb import EmulatedBackend

__all__ = [
    "EMULATED_MAX",
    "FAULTS_ENV",
    "SCENARIO_ROTATION",
    "Dock",
    "Attempt",
    "add_dock_arguments",
    "failure_text",
    "on_each_device",
    "device_label",
    "emulated_backend",
    "emulated_device",
    "open_dock",
    "parse_faults",
    "reset_emulated",
    "service_days",
]

EMULATED_MAX: Final = 100
"""Most devices ``--emulated`` builds (a large dock holds 40)."""
FAULTS_ENV: Final = "TASERLINK_EMULATED_FAULTS"
"""Environment variable scripting faults for emulated devices (see the module docstring)."""
SCENARIO_ROTATION: Final = (
    "incident-shift",
    "quiet-day",
    "clock-drift",
    "firmware-update",
    "wrapped-log",
)
"""The scenario of dock position ``p`` is ``SCENARIO_ROTATION[(p - 1) % 5]``."""

_MINUTE: Final = 60_000
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR

_MODELS: dict[int, SimulatedDevice] = {}
"""Emulated devices built so far in this process, by 0-based dock index."""
_MODELS_LOCK: Final = threading.Lock()


def service_days(index: int) -> int:
    """Days of routine duty the emulated device at 0-based dock ``index`` does after its
    scenario (16 to 44; about 17 records a day)."""
    return 16 + (13 * index) % 29


def _in_service(device: SimulatedDevice, rng: random.Random, days: int) -> None:
    """``days`` routine days: power on at about 06:00 UTC, a spark test, eight hourly
    battery reports with the odd holster check, power off."""
    for _ in range(days):
        device.advance(_DAY - device.utc_ms % _DAY + 6 * _HOUR + rng.randint(0, _HOUR))
        device.battery_pct = rng.randint(70, 100)
        device.power_on()
        device.advance(rng.randint(1 * _MINUTE, 3 * _MINUTE))
        device.battery_report(rng.randint(14, 22), 7400 + 8 * device.battery_pct)
        device.function_test(rng.randint(4500, 5500))
        for _ in range(8):
            device.advance(rng.randint(50 * _MINUTE, 70 * _MINUTE))
            if rng.random() < 0.4:
                device.unholster()
                device.advance(rng.randint(10_000, 60_000))
                device.holster()
            device.battery_pct = max(5, device.battery_pct - rng.randint(0, 2))
            device.battery_report(rng.randint(12, 30), 7400 + 8 * device.battery_pct)
        device.power_off()


def _build(index: int) -> SimulatedDevice:
    from taserlink.emulator.scenarios import run_scenario

    name = SCENARIO_ROTATION[index % len(SCENARIO_ROTATION)]
    device = run_scenario(name, 1 + index // len(SCENARIO_ROTATION)).device
    _in_service(device, random.Random(f"taserlink-dock/{index}"), service_days(index))
    return device


def emulated_device(index: int) -> SimulatedDevice:
    """The emulated device at 0-based dock ``index``, built on first use and kept for the
    life of the process (see the module docstring).

    Raises:
        ValueError: ``index`` is negative or not below :data:`EMULATED_MAX`.
    """
    if not 0 <= index < EMULATED_MAX:
        raise ValueError(f"dock index {index} outside 0..{EMULATED_MAX - 1}")
    with _MODELS_LOCK:
        model = _MODELS.get(index)
        if model is None:
            model = _MODELS[index] = _build(index)
        return model


def reset_emulated() -> None:
    """Forget every emulated device built in this process (the next command builds them
    afresh, as a new process would)."""
    with _MODELS_LOCK:
        _MODELS.clear()


_FAULT_ITEM: Final = re.compile(
    r"""\s*(?P<who>[^:\s]+)\s*:\s*(?P<kind>[A-Za-z_-]+)\s*@\s*(?P<at>\d+)
        (?:\s*[xX]\s*(?P<count>\d+))?(?:\s*/\s*(?P<delay>\d+(?:\.\d*)?))?\s*""",
    re.VERBOSE,
)


def _normal_serial(serial: str) -> str:
    return serial.replace("-", "").replace(" ", "").upper()


def parse_faults(text: str, serials: Sequence[str]) -> dict[str, FaultPlan]:
    """The fault plans a :data:`FAULTS_ENV` value scripts, by device serial.

    Args:
        text: comma-separated ``WHO:KIND@AT[xCOUNT][/DELAY_S]`` items (module docstring);
            empty items are ignored.
        serials: the serials of the dock's devices, in dock order (position 1 first).

    Raises:
        UsageError: an item that does not parse, an unknown kind, or a device that is not
            in the dock (exit 2).
    """
    from taserlink.emulator.faults import Fault, FaultKind, FaultPlan

    kinds = {kind.value: kind for kind in FaultKind}
    by_serial = {_normal_serial(s): s for s in serials}
    faults: dict[str, list[Fault]] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        match = _FAULT_ITEM.fullmatch(item)
        if match is None:
            raise UsageError(f"${FAULTS_ENV}: {item.strip()!r} is not WHO:KIND@AT[xCOUNT][/DELAY]")
        who = match["who"]
        if who.isdigit():
            position = int(who)
            if not 1 <= position <= len(serials):
                raise UsageError(
                    f"${FAULTS_ENV}: no device at dock position {position} "
                    f"(the dock holds {len(serials)})"
                )
            serial = serials[position - 1]
        else:
            found = by_serial.get(_normal_serial(who))
            if found is None:
                raise UsageError(f"${FAULTS_ENV}: no device {who!r} in the emulated dock")
            serial = found
        kind = kinds.get(match["kind"].lower().replace("-", "_"))
        if kind is None:
            raise UsageError(
                f"${FAULTS_ENV}: unknown fault {match['kind']!r}; one of: {', '.join(kinds)}"
            )
        fault = Fault(
            kind,
            int(match["at"]),
            int(match["count"] or 1),
            float(match["delay"] or 0.0),
        )
        faults.setdefault(serial, []).append(fault)
    return {serial: FaultPlan(items) for serial, items in faults.items()}


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
    from taserlink.emulator.usb import EmulatedBackend

    models = [emulated_device(index) for index in range(count)]
    if isinstance(faults, str):
        faults = parse_faults(faults, [model.spec.serial for model in models])
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
