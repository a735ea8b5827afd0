"""``taserlink clock [--emulated N] [--set] [--json]``: device clocks against the host's UTC.

For every attached device (all at once, a thread each) the host reads the device clock
(``READ_CLOCK``) three times and keeps the reading with the shortest round trip.  The
device answered somewhere between sending and receiving, so its time is compared with the
host's UTC at the midpoint and the offset (device − host, in seconds; positive: the device
is fast) is good to ± half that round trip.  The device reports whole milliseconds, and
device time has no zone: it is shown as ISO 8601 without one, "device clock".  The offset
is only as good as the host's own clock, which ``download --clock-source`` describes.

With ``--set`` each device's clock is then set to the host's UTC (``SET_CLOCK``; the device
logs ``CLOCK_SET`` with the time it showed before, so the correction is part of its log)
and the correction made (new − old, seconds) is printed with the ``CLOCK_SET`` record's
sequence.  The session never repeats a ``SET_CLOCK`` the device may have acted on: if an
answer is lost it reads the device's log to learn whether the clock was set.

Output: text, one line per device — serial, device time, host UTC, offset ± uncertainty,
and with ``--set`` the correction; or ``--json``: one object, ``clocks`` (an object per
device with the keys of :data:`JSON_KEYS`: ``set`` is ``null`` without ``--set``, else an
object with the keys of :data:`SET_KEYS`; ``error`` is ``null`` or why the device failed,
its other values then ``null`` as far as they were not learnt) and ``provenance`` (design
§8: no input file; the settings say whether the clocks were set).

Exit codes: 0 every device read (and set); 3 a device failed (its line says why; the other
devices are still read and set) or no device is attached (nothing to compare or set);
2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TextIO

from taserlink.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_json_option,
    printable,
    stderr_line,
)
from taserlink.cli.dock import (
    Attempt,
    Dock,
    add_dock_arguments,
    device_label,
    on_each_device,
    open_dock,
)
from taserlink.device import ClockSet, DeviceSession, UsbDeviceInfo, open_link
from taserlink.format import DEVICE_EPOCH_UNIX_MS
from taserlink.provenance import make_provenance
from taserlink.timeline.times import device_time_iso, utc_iso

__all__ = [
    "NAME",
    "JSON_KEYS",
    "SET_KEYS",
    "READS",
    "Reading",
    "read_device_clock",
    "register",
    "run",
]

NAME: Final = "clock"
READS: Final = 3
"""Clock reads per device; the one with the shortest round trip is kept."""
JSON_KEYS: Final = (
    "position",
    "serial",
    "bus",
    "address",
    "device_time_ms",
    "device_time",
    "host_utc_ms",
    "host_utc",
    "offset_s",
    "uncertainty_s",
    "round_trip_s",
    "set",
    "error",
)
"""Keys of each ``--json`` object (**contract**)."""
SET_KEYS: Final = (
    "old_device_time_ms",
    "old_device_time",
    "new_device_time_ms",
    "new_device_time",
    "correction_s",
    "seq",
    "from_log",
)
"""Keys of a ``--json`` object's ``set`` (**contract**)."""

_NS_PER_MS: Final = 1_000_000


@dataclass(frozen=True)
class Reading:
    """One device's clock against the host's, and what ``--set`` did.

    Attributes:
        serial: the device serial.
        device_time_ms: the device clock (ms since 2000-01-01, device time).
        host_utc_ns: host UTC at the midpoint of the read's round trip (ns since the Unix
            epoch).
        round_trip_ns: the read's round trip (host monotonic clock, ns).
        set: what ``SET_CLOCK`` did, or ``None``.
    """

    serial: str
    device_time_ms: int
    host_utc_ns: int
    round_trip_ns: int
    set: ClockSet | None = None

    @property
    def offset_s(self) -> float:
        """Device clock minus host UTC, in seconds (positive: the device is fast)."""
        device_ns = (self.device_time_ms + DEVICE_EPOCH_UNIX_MS) * _NS_PER_MS
        return (device_ns - self.host_utc_ns) / 1e9

    @property
    def uncertainty_s(self) -> float:
        """Half the round trip, in seconds: the offset is good to ± this."""
        return self.round_trip_ns / 2e9


def _host_device_ms() -> int:
    """The host's UTC now as device time (ms since 2000-01-01)."""
    return time.time_ns() // _NS_PER_MS - DEVICE_EPOCH_UNIX_MS


def read_device_clock(info: UsbDeviceInfo, *, set_clock: bool = False) -> Reading:
    """Open ``info``'s device, read its clock (:data:`READS` times, the shortest round trip
    kept), and with ``set_clock`` set it to the host's UTC.

    Raises:
        DeviceError: the device could not be opened, did not answer or refused.
    """
    with DeviceSession(open_link(info)) as session:
        serial = session.serial or session.identify().serial
        best: tuple[int, int, int] | None = None
        for _ in range(READS):
            wall = time.time_ns()
            started = time.perf_counter_ns()
            device_ms = session.read_clock()
            round_trip = time.perf_counter_ns() - started
            if best is None or round_trip < best[2]:
                best = (device_ms, wall + round_trip // 2, round_trip)
        assert best is not None
        done = session.set_clock(_host_device_ms) if set_clock else None
        return Reading(serial, best[0], best[1], best[2], done)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``clock`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="show each device's clock against the host's UTC; --set corrects them",
        description=(
            "Read each attached device's clock and compare it with the host's UTC: device "
            "time (device clock, no zone), host UTC and the offset (device - host, seconds) "
            "± half the read's round trip. With --set, set every device clock to the host's "
            "UTC (the device logs CLOCK_SET) and print the correction made. Exit 0 all read "
            "(and set), 3 a device failed (the others are still done) or none is attached, "
            "2 bad usage."
        ),
    )
    add_dock_arguments(parser)
    parser.add_argument(
        "--set",
        action="store_true",
        help="set each device clock to the host's UTC (logged by the device as CLOCK_SET)",
    )
    add_json_option(
        parser,
        'one JSON object: "clocks", an object per device (' + ", ".join(JSON_KEYS) + "), and "
        '"provenance"',
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Read (and with ``args.set`` set) the clocks of the dock ``args`` names.

    Returns:
        :data:`EXIT_FAILURE` if a device failed or none is attached, else :data:`EXIT_OK`.

    Raises:
        DeviceError: the devices cannot be enumerated (no USB backend; exit 3).
    """
    dock = open_dock(args)
    attempts = on_each_device(
        dock.devices(), lambda info: read_device_clock(info, set_clock=args.set)
    )
    if not attempts:
        stderr_line("error", f"no dataport device is attached ({dock.description})")
    if args.json:
        provenance = make_provenance((), {"set": args.set})  # no file read
        document = {"clocks": [_json(a) for a in attempts], "provenance": provenance.as_dict()}
        sys.stdout.write(json.dumps(document, indent=1) + "\n")
    else:
        _write_text(attempts, dock, sys.stdout, setting=args.set)
    for attempt in attempts:
        if attempt.error is not None:
            stderr_line("error", f"{device_label(attempt.info)}: {attempt.error}")
    if not attempts or any(a.error is not None for a in attempts):
        return EXIT_FAILURE
    return EXIT_OK


# -- output -----------------------------------------------------------------------------


def _seconds(value: float) -> str:
    """``+319.547 s``: signed, to the millisecond (never ``-0.000``)."""
    return f"{round(value, 3) + 0.0:+.3f} s"


def _uncertainty(value: float) -> str:
    """``± 0.02 ms`` below a second, else ``± 1.250 s``."""
    return f"± {value * 1000:.2f} ms" if value < 1 else f"± {value:.3f} s"


def _roughly(seconds: float) -> str:
    """A large offset in words (`` (+30.2 min)``, `` (-9460.1 days)``); ``""`` below a
    minute."""
    size = abs(seconds)
    sign = "+" if seconds >= 0 else "-"
    if size < 60:
        return ""
    if size < 3600:
        return f" ({sign}{size / 60:.1f} min)"
    if size < 86400 * 2:
        return f" ({sign}{size / 3600:.1f} h)"
    return f" ({sign}{size / 86400:.1f} days)"


def _set_json(done: ClockSet) -> dict[str, Any]:
    return {
        "old_device_time_ms": done.old_time_ms,
        "old_device_time": device_time_iso(done.old_time_ms),
        "new_device_time_ms": done.new_time_ms,
        "new_device_time": device_time_iso(done.new_time_ms),
        "correction_s": (done.new_time_ms - done.old_time_ms) / 1000,
        "seq": done.seq,
        "from_log": done.from_log,
    }


def _json(attempt: Attempt[Reading]) -> dict[str, Any]:
    reading, found = attempt.value, attempt.info
    if reading is None:
        values: dict[str, Any] = dict.fromkeys(JSON_KEYS)
        values.update(
            position=attempt.position,
            serial=found.serial,
            bus=found.bus,
            address=found.address,
            error=attempt.error,
        )
        return values
    host_ms = reading.host_utc_ns // _NS_PER_MS
    return {
        "position": attempt.position,
        "serial": reading.serial,
        "bus": found.bus,
        "address": found.address,
        "device_time_ms": reading.device_time_ms,
        "device_time": device_time_iso(reading.device_time_ms),
        "host_utc_ms": host_ms,
        "host_utc": utc_iso(host_ms),
        "offset_s": round(reading.offset_s, 6),
        "uncertainty_s": round(reading.uncertainty_s, 6),
        "round_trip_s": round(reading.round_trip_ns / 1e9, 6),
        "set": None if reading.set is None else _set_json(reading.set),
        "error": None,
    }


def _set_text(done: ClockSet) -> str:
    correction = (done.new_time_ms - done.old_time_ms) / 1000
    how = ", read back from the log" if done.from_log else ""
    return (
        f"set to {device_time_iso(done.new_time_ms)}: correction {_seconds(correction)}"
        f"{_roughly(correction)}, CLOCK_SET record {done.seq}{how}"
    )


def _write_text(
    attempts: Sequence[Attempt[Reading]], dock: Dock, out: TextIO, *, setting: bool
) -> None:
    if not attempts:
        out.write(f"no dataport device attached ({dock.description}): no clock to read\n")
        return
    header = ["SERIAL", "DEVICE TIME (device clock)", "HOST UTC", "OFFSET (device - host)"]
    if setting:
        header.append("SET")
    lines: list[list[str]] = [header]
    for attempt in attempts:
        reading = attempt.value
        if reading is None:
            lines.append([printable(device_label(attempt.info)), f"FAILED: {attempt.error}"])
            continue
        offset = reading.offset_s
        line = [
            printable(reading.serial),
            device_time_iso(reading.device_time_ms) or f"{reading.device_time_ms} ms",
            utc_iso(reading.host_utc_ns // _NS_PER_MS) or "?",
            f"{_seconds(offset)} {_uncertainty(reading.uncertainty_s)}{_roughly(offset)}",
        ]
        if reading.set is not None:
            line.append(_set_text(reading.set))
        lines.append(line)
    widths = [
        max(len(line[column]) for line in lines if len(line) == len(header))
        for column in range(len(header))
    ]
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + [line[-1]]
        out.write("  ".join(cells).rstrip() + "\n")
