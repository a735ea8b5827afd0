"""A station's month with known truth: devices with drifting clocks on daily duty, spark
tests, uses of force and the officers' accounts of them, with one planted case of every
reconciliation finding (design §8, ``taserlink reconcile``).

:func:`station_month` drives the firmware model (:mod:`taserlink.emulator.firmware`) of
each device through ``days`` days and returns what a force would hold at the end: every
store-room download, the issue list and ``ACCOUNTS.csv`` in the contract's formats (README
"Use-of-force accounts"), and the truth behind them.  The same seed gives byte-identical
files on every machine: all randomness comes from ``random.Random("station/<seed>/…")``
and all time from the simulation.

A day: each device goes out for one shift (early 06:45–15:00 or late 14:45–23:00 UTC,
alternating) to an officer of the station's roster, with the two cartridges in its bays;
at the start of the shift, in the store room, the officer takes it out of the holster,
spark-tests it and holsters it (an episode of kind ``test``); through the shift it reports
its battery hourly; at the end it is returned, a fired cartridge replaced.  Every Monday
evening and at the month's end the store room downloads every device, setting a clock
that is more than 30 s off from the host's (``CLOCK_SET``, host source).  Clocks start up
to 40 s off and drift up to ±90 ppm.

Uses happen on chosen shifts: the officer draws the device and, as the use calls for it,
arms it, shows the laser, arcs it, fires a cartridge (5 s cycles, sometimes a repeat),
drive-stuns, then safes and holsters it.  Each use has one account per subject (an
episode with two subjects has two reports), written after the event: its times within a
few minutes of the truth, its ticks as the officer saw them (``aimed`` as well as the
device-visible ones).  The planted cases (:data:`PLANTED_KINDS`) change one thing each:

======================  ============================================================
``unaccounted``         a use with no account
``understated_use``     a cartridge fired; the account's highest use is red-dotted
``cartridge_differs``   the account names the other bay's cartridge
``other_officer``       the account is written by an officer who did not hold the device
``overstated_use``      the account ticks arced; the device was only drawn and red-dotted
``cycles_differ``       three cycles on one cartridge; the account says one
``long_cycle``          one 8-second cycle; the account says no cycle was extended
``no_device_evidence``  an account of a device that stayed in its holster (the downloads
                        cover the time)
``not_downloaded``      a use on the month's last shift, after its last download
``corroborated``        every other account
======================  ============================================================
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from dataclasses import dataclass, field
from typing import Final

from taserlink.emulator.firmware import HostInfo, SimulatedDevice
from taserlink.emulator.scenarios import new_device
from taserlink.errors import ScenarioError
from taserlink.format import DEVICE_EPOCH_UNIX_MS, ClockSource
from taserlink.serials import CARTRIDGE_SCHEME

__all__ = [
    "ACCOUNT_COLUMNS",
    "PLANTED_KINDS",
    "Planted",
    "StationMonth",
    "TrueUse",
    "station_month",
]

MINUTE: Final = 60_000
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
START: Final = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp() * 1000)
"""Midnight UTC of the month's first day (a Monday)."""
SHIFTS: Final = ((6 * HOUR + 45 * MINUTE, 15 * HOUR), (14 * HOUR + 45 * MINUTE, 23 * HOUR))
"""(issued, returned) of the early and the late shift, from midnight UTC."""
HOST: Final = HostInfo(
    operator="PS 4127 (store room)",
    workstation="STORE-DOCK-01",
    clock_source="NTP (chrony), synchronised",
)
PLANTED_KINDS: Final = (
    "unaccounted",
    "understated_use",
    "cartridge_differs",
    "other_officer",
    "overstated_use",
    "cycles_differ",
    "long_cycle",
    "no_device_evidence",
    "not_downloaded",
)
"""The finding kinds planted once each (every other account is ``corroborated``)."""
ACCOUNT_COLUMNS: Final = (
    "report",
    "incident",
    "officer",
    "start",
    "end",
    "device",
    "drawn",
    "aimed",
    "red_dotted",
    "arced",
    "drive_stun",
    "angle_drive_stun",
    "fired",
    "cartridges",
    "cycles",
    "cycle_extended",
    "subject_age",
    "subject_gender",
    "subject_ethnicity",
    "subject_health",
)
"""The columns of the ``ACCOUNTS.csv`` written (README "Use-of-force accounts"): the first
of :data:`taserlink.postuse.accounts.COLUMNS` in its order (a test holds them together; the
emulator sits below the post-use floor and cannot import it)."""
LEVELS: Final = ("drawn", "red_dotted", "arced", "drive_stun", "fired")
"""The device-visible uses a plain use is drawn from, lowest first."""
_SEEN: Final = {
    "drawn": ("drawn",),
    "red_dotted": ("drawn", "aimed", "red_dotted"),
    "arced": ("drawn", "aimed", "red_dotted", "arced"),
    "drive_stun": ("drawn", "aimed", "red_dotted", "drive_stun"),
    "fired": ("drawn", "aimed", "red_dotted", "fired"),
}
"""What the officer ticks, truly, for each highest device-visible use."""


@dataclass(frozen=True)
class TrueUse:
    """A use of force as it happened."""

    device: str
    officer: str
    """Who held the device (the issue list says so too)."""
    start_ms: int
    end_ms: int
    """True UTC of leaving and returning to the holster."""
    highest_use: str
    """The highest device-visible use."""
    cartridges: tuple[str, ...]
    """Cartridges fired, in order."""
    cycles: int
    """Energy applications (trigger pulls and drive stuns)."""
    longest_ms: int
    """The longest energy application (0 without one)."""
    reports: tuple[str, ...]
    """The accounts written of it (none for the unaccounted use)."""
    planted: str | None = None
    """The planted finding kind, or ``None``."""


@dataclass(frozen=True)
class Planted:
    """One planted case: the finding a reconciliation must report."""

    kind: str
    device: str
    report: str | None
    """The account concerned (``None`` for ``unaccounted``)."""
    start_ms: int
    """True UTC of the use (or of the account, where no use happened)."""


@dataclass(frozen=True)
class StationMonth:
    """What the station holds at the end of the month, and the truth."""

    seed: int
    images: dict[str, bytes]
    """``<device serial>-<YYYY-MM-DD>.tdi`` → the download's bytes."""
    issues_csv: bytes
    """The issue list (``serial, officer, issued_at, returned_at``)."""
    accounts_csv: bytes
    """``ACCOUNTS.csv``."""
    uses: tuple[TrueUse, ...]
    planted: tuple[Planted, ...]
    corroborated: tuple[str, ...]
    """The reports that must be ``corroborated``."""
    officers: tuple[str, ...]
    devices: tuple[str, ...]


@dataclass
class _Unit:
    """A device and what the store room knows of it."""

    device: SimulatedDevice
    bays: list[str]
    spent: set[int] = field(default_factory=set)


@dataclass
class _Month:
    """The month being made."""

    rng: random.Random
    units: list[_Unit]
    roster: list[str]
    issues: list[tuple[int, str, str, int | None]] = field(default_factory=list)
    accounts: list[dict[str, str]] = field(default_factory=list)
    uses: list[TrueUse] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)
    corroborated: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    reports: int = 0


def station_month(
    seed: int = 1, *, devices: int = 6, officers: int = 12, days: int = 28, uses: int = 16
) -> StationMonth:
    """A station's month (module docstring).

    Args:
        seed: the random seed (the same seed gives the same files, byte for byte).
        devices: devices on the station's books (at least 3).
        officers: officers on the roster (at least ``devices + 1``).
        days: days simulated (at least 8: a weekly download and the month's end).
        uses: uses of force (at least the planted kinds plus three corroborated).

    Raises:
        ScenarioError: a size too small for every planted case.
    """
    if devices < 3 or officers < devices + 1 or days < 8 or uses < len(PLANTED_KINDS) + 2:
        raise ScenarioError("a station month needs 3 devices, an officer more, 8 days and 11 uses")
    rng = random.Random(f"station/{seed}/plan")
    units = []
    for n in range(devices):
        device = new_device(
            random.Random(f"station/{seed}/device/{n}"),
            START,
            offset_ms=rng.randint(-40_000, 40_000),
            drift_ppm=rng.uniform(-90.0, 90.0),
        )
        bays = [_cartridge(rng, "S"), _cartridge(rng, "X")]
        for bay, serial in enumerate(bays, 1):
            device.insert_cartridge(bay, serial)
        units.append(_Unit(device, bays))
    roster = [f"PC {1000 + rng.randrange(9000)}" for _ in range(officers * 3)]
    roster = sorted(set(roster))[:officers]
    month = _Month(rng, units, roster)
    plan = _plan(rng, devices, days, uses)
    for day in range(days):
        last = day == days - 1
        for n, unit in enumerate(units):
            shift = (day + n) % 2
            officer = roster[(day * devices + n) % len(roster)]
            if last and shift == 1:  # downloaded before its last shift, not after
                _download(month, unit, START + day * DAY + 14 * HOUR)
            _shift(month, unit, day, shift, officer, plan.get((day, n)))
            if day % 7 == 0 or (last and shift == 0):
                _download(month, unit, START + day * DAY + 23 * HOUR + 20 * MINUTE)
    return StationMonth(
        seed,
        dict(sorted(month.images.items())),
        _issues_csv(month),
        _accounts_csv(month),
        tuple(month.uses),
        tuple(month.planted),
        tuple(month.corroborated),
        tuple(roster),
        tuple(u.device.spec.serial for u in units),
    )


def _cartridge(rng: random.Random, letter: str) -> str:
    return CARTRIDGE_SCHEME.generate(rng, letter)


def _plan(rng: random.Random, devices: int, days: int, uses: int) -> dict[tuple[int, int], str]:
    """(day, device index) → what happens on that shift: a planted kind, ``two_subjects``
    or a plain level of use.  ``not_downloaded`` takes the last day's late shift; the others
    fall on distinct shifts of the other days."""
    slots = [(d, n) for d in range(1, days - 1) for n in range(devices)]
    rng.shuffle(slots)
    plan: dict[tuple[int, int], str] = {}
    last_late = next(n for n in range(devices) if (days - 1 + n) % 2 == 1)
    plan[(days - 1, last_late)] = "not_downloaded"
    kinds = [k for k in PLANTED_KINDS if k != "not_downloaded"] + ["two_subjects"]
    plain = uses - len(PLANTED_KINDS) - 1
    kinds += [LEVELS[rng.randrange(len(LEVELS))] for _ in range(plain)]
    for slot, kind in zip(slots, kinds, strict=False):
        plan[slot] = kind
    return plan


def _shift(
    month: _Month, unit: _Unit, day: int, shift: int, officer: str, event: str | None
) -> None:
    """One shift of ``unit`` to ``officer``, with ``event`` (see :func:`_plan`) if any."""
    rng, device = month.rng, unit.device
    begin, end = SHIFTS[shift]
    _to(device, START + day * DAY + begin + rng.randint(0, 10 * MINUTE))
    for bay in sorted(unit.spent):  # the store room replaces a fired cartridge
        device.remove_cartridge(bay)
        unit.bays[bay - 1] = _cartridge(rng, "S" if bay == 1 else "X")
        device.insert_cartridge(bay, unit.bays[bay - 1])
    unit.spent.clear()
    issued = device.utc_ms
    serial = device.spec.serial
    month.issues.append((issued, serial, officer, None))
    for k, cartridge in enumerate(unit.bays):
        month.issues.append((issued + 20_000 + 1000 * k, cartridge, officer, None))
    device.power_on()
    device.advance(rng.randint(1 * MINUTE, 3 * MINUTE))
    device.unholster()  # the spark test, in the store room
    device.advance(rng.randint(5_000, 15_000))
    device.function_test(rng.randint(4500, 5500))
    device.advance(rng.randint(3_000, 10_000))
    device.holster()
    hours = (end - begin) // HOUR
    use_hour = rng.randrange(1, hours - 1) if event else -1
    for hour in range(hours - 1):
        device.advance(rng.randint(50 * MINUTE, 62 * MINUTE))
        device.battery_pct = max(5, device.battery_pct - rng.randint(0, 2))
        device.battery_report(rng.randint(12, 30), 7400 + 8 * device.battery_pct)
        if hour == use_hour and event is not None:
            _event(month, unit, officer, event)
    _to(device, max(device.utc_ms + MINUTE, START + day * DAY + end + rng.randint(0, 8 * MINUTE)))
    device.power_off()
    returned = device.utc_ms
    month.issues[:] = [
        (
            at,
            s,
            o,
            returned if back is None and s in (serial, *unit.bays) and o == officer else back,
        )
        for at, s, o, back in month.issues
    ]
    device.battery_pct = rng.randint(80, 100)


def _to(device: SimulatedDevice, utc_ms: int) -> None:
    if utc_ms > device.utc_ms:
        device.advance(utc_ms - device.utc_ms)


def _download(month: _Month, unit: _Unit, at_ms: int) -> None:
    """The store room's download at ``at_ms`` (or when the device is back), setting a
    clock more than 30 s off the host's."""
    device, rng = unit.device, month.rng
    _to(device, max(device.utc_ms + 30_000, at_ms))
    assert device.clock is not None
    off = device.clock.device_ms(device.utc_ms) - (device.utc_ms - DEVICE_EPOCH_UNIX_MS)
    day = dt.datetime.fromtimestamp(device.utc_ms / 1000, dt.UTC)
    month.images[f"{device.spec.serial}-{day:%Y-%m-%d}.tdi"] = device.download(
        rng.randbytes(32), HOST
    )
    if abs(off) > 30_000:
        device.set_clock(device.utc_ms - DEVICE_EPOCH_UNIX_MS, ClockSource.HOST)


def _event(month: _Month, unit: _Unit, officer: str, event: str) -> None:
    """A use of force (or, for ``no_device_evidence``, only an account) on this shift."""
    rng, device = month.rng, unit.device
    serial = device.spec.serial
    if event == "no_device_evidence":
        at = device.utc_ms + rng.randint(5 * MINUTE, 20 * MINUTE)
        report = _account(month, officer, serial, at, at + 4 * MINUTE, {"drawn": "yes"}, ())
        month.planted.append(Planted(event, serial, report, at))
        device.advance(30 * MINUTE)
        return
    level = {
        "unaccounted": "red_dotted",
        "understated_use": "fired",
        "cartridge_differs": "fired",
        "other_officer": "arced",
        "overstated_use": "red_dotted",
        "cycles_differ": "fired",
        "long_cycle": "fired",
        "not_downloaded": "red_dotted",
        "two_subjects": "fired",
    }.get(event, event)
    device.advance(rng.randint(2 * MINUTE, 20 * MINUTE))
    start = device.utc_ms
    device.unholster()
    device.advance(rng.randint(3_000, 20_000))
    fired: list[str] = []
    durations: list[int] = []
    if level != "drawn":
        device.arm()
        device.advance(rng.randint(1_000, 5_000))
        device.laser_on()
        device.advance(rng.randint(5_000, 40_000))
        if level == "arced":
            device.warning_arc(rng.randint(1_000, 3_000))
            device.advance(rng.randint(5_000, 20_000))
        elif level == "drive_stun":
            durations.append(rng.randint(2_000, 5_000))
            device.drive_stun(durations[-1])
        elif level == "fired":
            bay = 1 + rng.randrange(2)
            first = 8_000 if event == "long_cycle" else 5_000
            device.fire(bay, first)
            durations.append(first)
            fired.append(unit.bays[bay - 1])
            unit.spent.add(bay)
            repeats = 2 if event == "cycles_differ" else 0
            for _ in range(repeats):
                device.advance(rng.randint(2_000, 6_000))
                device.reenergise(bay, 5_000)
                durations.append(5_000)
        device.advance(rng.randint(10_000, 60_000))
        device.safe()
    device.advance(rng.randint(5_000, 30_000))
    device.holster()
    end = device.utc_ms
    ticks = dict.fromkeys(_SEEN[level], "yes")
    extended = "yes" if max(durations, default=0) > 5_000 else "no"
    cycles, cartridges, writer = len(durations), tuple(fired), officer
    if event == "understated_use":
        ticks["fired"] = "no"
    elif event == "cartridge_differs":
        other = unit.bays[1] if fired[0] == unit.bays[0] else unit.bays[0]
        cartridges = (other,)
    elif event == "other_officer":
        writer = next(o for o in month.roster if o != officer)
    elif event == "overstated_use":
        ticks["arced"] = "yes"
    elif event == "cycles_differ":
        cycles = 1
    elif event == "long_cycle":
        extended = "no"
    reports: list[str] = []
    if event != "unaccounted":
        more = {"cycles": str(cycles) if durations else "", "cycle_extended": extended}
        if not durations:
            more["cycle_extended"] = ""
        reports.append(_account(month, writer, serial, start, end, ticks | more, cartridges))
    if event == "two_subjects":  # a second subject, only drawn on and aimed at
        second = {"drawn": "yes", "aimed": "yes", "cycles": "0", "cycle_extended": "no"}
        reports.append(
            _account(month, officer, serial, start, end, second, (), incident=reports[0])
        )
    planted = event if event in PLANTED_KINDS else None
    use = TrueUse(
        serial,
        officer,
        start,
        end,
        level,
        tuple(fired),
        len(durations),
        max(durations, default=0),
        tuple(reports),
        planted,
    )
    month.uses.append(use)
    if planted is not None:
        month.planted.append(Planted(planted, serial, reports[0] if reports else None, start))
    else:
        month.corroborated.extend(reports)


def _account(
    month: _Month,
    officer: str,
    device: str,
    start_ms: int,
    end_ms: int,
    ticks: dict[str, str],
    cartridges: tuple[str, ...],
    *,
    incident: str | None = None,
) -> str:
    """Write one account (times rounded to the minute and a few minutes off, as a form
    written after the event); returns its report id."""
    rng = month.rng
    month.reports += 1
    report = f"R-{100 + month.reports}"
    off = rng.randint(-4, 4) * MINUTE
    start = (start_ms + off) // MINUTE * MINUTE
    end = max(start + MINUTE, (end_ms + off + MINUTE - 1) // MINUTE * MINUTE)
    row = dict.fromkeys(ACCOUNT_COLUMNS, "")
    row.update(
        report=report,
        incident=f"I-{report[2:]}" if incident is None else f"I-{incident[2:]}",
        officer=officer,
        start=_iso(start),
        end=_iso(end),
        device=device,
        cartridges=";".join(cartridges),
        subject_age=rng.choice(("18-34", "35-49", "50-64", "11-17", str(rng.randint(18, 70)))),
        subject_gender=rng.choice(("male", "female")),
        subject_ethnicity=rng.choice(("White", "White", "White", "Black", "Asian", "Mixed", "")),
        subject_health=rng.choice(("none", "mental", "physical", "both", "")),
    )
    for name in ACCOUNT_COLUMNS[
        ACCOUNT_COLUMNS.index("drawn") : ACCOUNT_COLUMNS.index("cartridges")
    ]:
        row[name] = ticks.get(name, "no")
    for name in ("cycles", "cycle_extended"):
        row[name] = ticks.get(name, "")
    month.accounts.append(row)
    return report


def _iso(unix_ms: int) -> str:
    return dt.datetime.fromtimestamp(unix_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _issues_csv(month: _Month) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("serial", "officer", "issued_at", "returned_at"))
    for at, serial, officer, back in sorted(month.issues):
        writer.writerow((serial, officer, _iso(at), "" if back is None else _iso(back)))
    return buffer.getvalue().encode()


def _accounts_csv(month: _Month) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ACCOUNT_COLUMNS)
    for row in month.accounts:
        writer.writerow(row[c] for c in ACCOUNT_COLUMNS)
    return buffer.getvalue().encode()
