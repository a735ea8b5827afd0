"""Scenarios that drive the firmware model through a day, a shift, a month.

Each scenario takes a seed and returns a :class:`ScenarioRun`: the simulated device in its
final state and the image a store-room download made at the end.  The same seed gives
byte-identical images on every machine (all randomness comes from ``random.Random(seed)``,
all time from the simulation).

========================  ===============================================================
``quiet-day``             power on, spark test, battery reports, holster in and out
``incident-shift``        a shift with an incident: arm, laser, warning arc, a deployment
                          with a long and a split activation, a drive stun, safe
``clock-drift``           a month of a clock running fast, a host clock set, a clock-cell
                          failure that resets the clock to 2000-01-01, and its correction
``firmware-update``       a day with a firmware update
``wrapped-log``           a small log that fills and deletes its oldest quarter repeatedly
``signed-download``       a quiet day, downloaded at a workstation that signs its
                          acquisitions (format version 2; the other scenarios' store room
                          has no workstation key and writes version 1)
========================  ===============================================================

An emulated dock (``taserlink devices|download|clock --emulated N``) holds
devices made by :func:`dock_device`: dock position ``p`` (1-based) runs scenario
``DOCK_ROTATION[(p - 1) % 5]`` with seed ``1 + (p - 1) // 5`` — so the first three are an
``incident-shift`` device (a clock some seconds off UTC, drifting at 12 ppm), a
``quiet-day`` device (a correct clock) and a ``clock-drift`` device (88 ppm fast) — and then
:func:`service_days` more days of routine duty (:func:`routine_days`: power on, spark test,
battery reports, holster checks), so logs hold a few hundred records (several
``READ_RECORDS`` chunks; the ``wrapped-log`` device keeps 128).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from taserlink.emulator.clock import DeviceClock
from taserlink.emulator.firmware import DeviceSpec, HostInfo, SimulatedDevice
from taserlink.emulator.pki import test_workstation_key
from taserlink.errors import ScenarioError
from taserlink.format import DEVICE_EPOCH_UNIX_MS, FirmwareVersion
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME

__all__ = [
    "ScenarioRun",
    "Scenario",
    "SCENARIOS",
    "run_scenario",
    "new_device",
    "DOCK_ROTATION",
    "dock_device",
    "routine_days",
    "service_days",
]

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
START = int(dt.datetime(2026, 3, 2, 6, 40, tzinfo=dt.UTC).timestamp() * 1000)
"""True UTC at which every scenario's device starts (a Monday before an early shift)."""


@dataclass(frozen=True)
class ScenarioRun:
    """A scenario's outcome: the device as left, and the download made at the end."""

    name: str
    seed: int
    device: SimulatedDevice
    image: bytes
    cartridges: tuple[str, ...]
    """Serials of every cartridge the scenario loaded, in order of insertion."""


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    run: Callable[[int], ScenarioRun]


SEAL_INTERVAL = 16
"""The scenario devices seal every 16th record, so that even a day's log carries seals."""


def new_device(
    rng: random.Random,
    utc_ms: int = START,
    *,
    offset_ms: int = 0,
    drift_ppm: float = 0.0,
    **spec: object,
) -> SimulatedDevice:
    """A device with a serial drawn from ``rng`` and a clock ``offset_ms`` off UTC."""
    serial = DEVICE_SCHEME.generate(rng, "D")
    clock = DeviceClock.true_utc(utc_ms, offset_ms=offset_ms, drift_ppm=drift_ppm)
    spec.setdefault("seal_interval", SEAL_INTERVAL)
    return SimulatedDevice(DeviceSpec(serial, **spec), utc_ms, clock)  # type: ignore[arg-type]


def _rng(name: str, seed: int) -> random.Random:
    """The scenario's random source: the same (name, seed) always gives the same run."""
    return random.Random(f"{name}/{seed}")


def _nonce(rng: random.Random) -> bytes:
    return rng.randbytes(32)


def _jitter(rng: random.Random, ms: int) -> int:
    """``ms`` give or take 10 %."""
    return ms + rng.randint(-ms // 10, ms // 10)


def _load(device: SimulatedDevice, rng: random.Random, loaded: list[str], bay: int) -> None:
    serial = CARTRIDGE_SCHEME.generate(rng, "S" if bay == 1 else "X")
    loaded.append(serial)
    device.insert_cartridge(bay, serial)


def _start_of_day(device: SimulatedDevice, rng: random.Random) -> None:
    device.power_on()
    device.advance(_jitter(rng, 2 * MINUTE))
    device.battery_report(rng.randint(14, 22), rng.randint(7900, 8300))
    device.function_test(_jitter(rng, 5000))


def _quiet_hours(device: SimulatedDevice, rng: random.Random, hours: int) -> None:
    for _ in range(hours):
        device.advance(_jitter(rng, HOUR))
        device.battery_pct = max(5, device.battery_pct - rng.randint(0, 2))
        device.battery_report(rng.randint(12, 30), 7400 + 8 * device.battery_pct)
        if rng.random() < 0.3:  # a check in the station, back in the holster
            device.unholster()
            device.advance(_jitter(rng, 20_000))
            device.holster()


STORE_ROOM_OPERATOR: Final = "PS 4127 (store room)"


def _store_room_download(
    device: SimulatedDevice, rng: random.Random, *, signed: bool = False
) -> bytes:
    """The store room's download; ``signed``: at a workstation with a key (version 2)."""
    device.advance(_jitter(rng, 20 * MINUTE))
    key = test_workstation_key() if signed else None
    host = HostInfo(operator=STORE_ROOM_OPERATOR, workstation_key=key)
    return device.download(_nonce(rng), host)


def quiet_day(seed: int) -> ScenarioRun:
    return _quiet_day("quiet-day", seed)


def signed_download(seed: int) -> ScenarioRun:
    """A quiet day of another device, downloaded at a workstation that signs (version 2)."""
    return _quiet_day("signed-download", seed, signed=True)


def _quiet_day(name: str, seed: int, *, signed: bool = False) -> ScenarioRun:
    rng = _rng(name, seed)
    device = new_device(rng)
    loaded: list[str] = []
    _start_of_day(device, rng)
    _load(device, rng, loaded, 1)
    _load(device, rng, loaded, 2)
    device.unholster()
    device.advance(_jitter(rng, 30_000))
    device.holster()
    _quiet_hours(device, rng, 9)
    device.power_off()
    image = _store_room_download(device, rng, signed=signed)
    return ScenarioRun(name, seed, device, image, tuple(loaded))


def incident_shift(seed: int) -> ScenarioRun:
    rng = _rng("incident-shift", seed)
    device = new_device(rng, offset_ms=rng.randint(-90_000, 90_000), drift_ppm=12.0)
    loaded: list[str] = []
    _start_of_day(device, rng)
    _load(device, rng, loaded, 1)
    _load(device, rng, loaded, 2)
    _quiet_hours(device, rng, 3)
    # The incident.
    device.advance(_jitter(rng, 40 * MINUTE))
    device.unholster()
    device.advance(_jitter(rng, 4000))
    device.arm()
    device.advance(_jitter(rng, 1500))
    device.laser_on()
    device.advance(_jitter(rng, 8000))
    device.warning_arc(_jitter(rng, 1200))
    device.advance(_jitter(rng, 6000))
    device.fire(1, 5000, circuit=True)  # a deployment that connects
    device.advance(_jitter(rng, 3000))
    device.reenergise(1, 2100)  # one 5-second cycle split by interrupted power …
    device.reenergise(1, 2900)  # … logged as two activations
    device.advance(_jitter(rng, 9000))
    device.reenergise(1, 11_000)  # a long activation: what a court asks about
    device.advance(_jitter(rng, 20_000))
    device.drive_stun(_jitter(rng, 2500))
    device.advance(_jitter(rng, 30_000))
    device.safe()
    device.advance(_jitter(rng, 45_000))
    device.holster()
    # Back at the station: the spent cartridge out, a fresh one in.
    device.advance(_jitter(rng, 50 * MINUTE))
    device.remove_cartridge(1)
    _load(device, rng, loaded, 1)
    _quiet_hours(device, rng, 3)
    device.power_off()
    image = _store_room_download(device, rng)
    return ScenarioRun("incident-shift", seed, device, image, tuple(loaded))


def clock_drift(seed: int) -> ScenarioRun:
    rng = _rng("clock-drift", seed)
    device = new_device(rng, offset_ms=rng.randint(-5000, 5000), drift_ppm=88.0)
    loaded: list[str] = []
    _load(device, rng, loaded, 1)
    for day in range(30):
        _start_of_day(device, rng)
        _quiet_hours(device, rng, 2)
        device.power_off()
        device.advance(DAY - device.utc_ms % DAY + 6 * HOUR + rng.randint(0, HOUR))
        if day == 17:  # a month's drift noticed: the host sets the clock to UTC
            device.usb_connect()
            device.set_clock(device.utc_ms - DEVICE_EPOCH_UNIX_MS)
    # The clock cell fails; the clock restarts at 2000-01-01 and runs from there.
    device.advance(3 * HOUR)
    device.lose_power()
    _quiet_hours(device, rng, 2)
    device.usb_connect()
    device.set_clock(device.utc_ms - DEVICE_EPOCH_UNIX_MS)
    _quiet_hours(device, rng, 1)
    device.power_off()
    image = _store_room_download(device, rng)
    return ScenarioRun("clock-drift", seed, device, image, tuple(loaded))


def firmware_update(seed: int) -> ScenarioRun:
    rng = _rng("firmware-update", seed)
    device = new_device(rng, firmware=FirmwareVersion(3, 1, 4))
    loaded: list[str] = []
    _start_of_day(device, rng)
    _load(device, rng, loaded, 1)
    _quiet_hours(device, rng, 2)
    device.usb_connect()
    device.advance(_jitter(rng, 3 * MINUTE))
    device.update_firmware(FirmwareVersion(3, 2, 0))
    device.power_off()
    device.advance(_jitter(rng, 30_000))
    device.power_on()
    device.function_test(_jitter(rng, 5000))
    _quiet_hours(device, rng, 2)
    device.power_off()
    image = _store_room_download(device, rng)
    return ScenarioRun("firmware-update", seed, device, image, tuple(loaded))


def wrapped_log(seed: int, *, capacity: int = 128, days: int = 20) -> ScenarioRun:
    rng = _rng("wrapped-log", seed)
    device = new_device(rng, log_capacity=capacity)
    loaded: list[str] = []
    _load(device, rng, loaded, 1)
    _load(device, rng, loaded, 2)
    for _ in range(days):
        _start_of_day(device, rng)
        _quiet_hours(device, rng, 8)
        device.power_off()
        device.advance(DAY - device.utc_ms % DAY + 6 * HOUR)
    if device.first_seq == 1:
        raise ScenarioError("wrapped-log did not wrap: raise days or lower capacity")
    image = _store_room_download(device, rng)
    return ScenarioRun("wrapped-log", seed, device, image, tuple(loaded))


SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        s.name: s
        for s in (
            Scenario("quiet-day", "a quiet day: spark test, battery, holster", quiet_day),
            Scenario(
                "incident-shift", "a shift with a deployment and a drive stun", incident_shift
            ),
            Scenario("clock-drift", "a month at +88 ppm, a clock set, a clock reset", clock_drift),
            Scenario("firmware-update", "a day with a firmware update", firmware_update),
            Scenario("wrapped-log", "a 128-record log that wraps", wrapped_log),
            Scenario(
                "signed-download",
                "a quiet day, downloaded at a workstation that signs (format version 2)",
                signed_download,
            ),
        )
    }
)


def run_scenario(name: str, seed: int = 1) -> ScenarioRun:
    """Run the scenario called ``name`` with ``seed``.

    Raises:
        ScenarioError: no scenario has that name.
    """
    try:
        scenario = SCENARIOS[name]
    except KeyError:
        raise ScenarioError(f"no scenario {name!r}; there are: {', '.join(SCENARIOS)}") from None
    return scenario.run(seed)


# -- an emulated dock -------------------------------------------------------------------

DOCK_ROTATION: Final = (
    "incident-shift",
    "quiet-day",
    "clock-drift",
    "firmware-update",
    "wrapped-log",
)
"""The scenario of dock position ``p`` (1-based) is ``DOCK_ROTATION[(p - 1) % 5]``."""


def service_days(index: int) -> int:
    """Days of routine duty the emulated device at 0-based dock ``index`` does after its
    scenario (16 to 44; about 17 records a day)."""
    return 16 + (13 * index) % 29


def routine_days(device: SimulatedDevice, rng: random.Random, days: int) -> None:
    """``days`` routine days: power on at about 06:00 UTC, a spark test, eight hourly
    battery reports with the odd holster check, power off."""
    for _ in range(days):
        device.advance(DAY - device.utc_ms % DAY + 6 * HOUR + rng.randint(0, HOUR))
        device.battery_pct = rng.randint(70, 100)
        device.power_on()
        device.advance(rng.randint(1 * MINUTE, 3 * MINUTE))
        device.battery_report(rng.randint(14, 22), 7400 + 8 * device.battery_pct)
        device.function_test(rng.randint(4500, 5500))
        for _ in range(8):
            device.advance(rng.randint(50 * MINUTE, 70 * MINUTE))
            if rng.random() < 0.4:
                device.unholster()
                device.advance(rng.randint(10_000, 60_000))
                device.holster()
            device.battery_pct = max(5, device.battery_pct - rng.randint(0, 2))
            device.battery_report(rng.randint(12, 30), 7400 + 8 * device.battery_pct)
        device.power_off()


def dock_device(index: int) -> SimulatedDevice:
    """The device at 0-based dock ``index`` as it is docked: its :data:`DOCK_ROTATION`
    scenario, then :func:`service_days` routine days (the same ``index`` always gives the
    same device, record for record).

    Raises:
        ScenarioError: ``index`` is negative.
    """
    if index < 0:
        raise ScenarioError(f"dock index {index} is negative")
    name = DOCK_ROTATION[index % len(DOCK_ROTATION)]
    device = run_scenario(name, 1 + index // len(DOCK_ROTATION)).device
    routine_days(device, random.Random(f"taserlink-dock/{index}"), service_days(index))
    return device
