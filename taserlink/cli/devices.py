"""``taserlink devices [--emulated N] [--json]``: list the attached dataport devices.

Every attached device (real USB, or the emulated dock of :mod:`taserlink.cli.dock`) is
opened and asked ``IDENTIFY`` (all at once, a thread each), and listed one line a device in
dock order: serial, where it is plugged in (USB bus and address), model, firmware and the
records it holds (``first..last`` and how many).  Asking is not free of traces: a device
logs ``USB_CONNECT`` on the first ``IDENTIFY`` of a connection, as it does for any host.

``--json`` prints one object: ``devices``, an object per device with the keys of
:data:`JSON_KEYS` (``records`` is the count held; ``error`` is ``null``, or why the device
could not be asked — then the identity keys are ``null``), and ``provenance`` (design §8:
no input file, the devices answered).

No device attached is an answer, not a failure: the text says so, ``--json`` lists
no device, and the exit code is 0, so that ``devices`` is how a script asks "is anything
docked?".  Exit 3 is kept for what went wrong: no USB backend (libusb missing), or a
device that could not be opened or did not answer (its line says why; the other devices
are still listed).  Exit 2: bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Final, TextIO

from taserlink.cli.common import EXIT_FAILURE, EXIT_OK, add_json_option, printable
from taserlink.cli.dock import (
    Attempt,
    Dock,
    add_dock_arguments,
    device_label,
    on_each_device,
    open_dock,
)
from taserlink.device import DeviceInfo, DeviceSession, UsbDeviceInfo, open_link
from taserlink.provenance import make_provenance

__all__ = ["NAME", "JSON_KEYS", "identify", "register", "run"]

NAME: Final = "devices"
JSON_KEYS: Final = (
    "position",
    "serial",
    "bus",
    "address",
    "model",
    "hardware_revision",
    "firmware",
    "first_seq",
    "last_seq",
    "records",
    "log_capacity",
    "error",
)
"""Keys of each ``--json`` object (**contract**)."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``devices`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="list the attached devices: serial, model, firmware, records held, USB bus/address",
        description=(
            "List every attached dataport device, one line each: serial, USB bus and address, "
            "model, firmware and the records it holds (first..last). Each device is asked "
            "IDENTIFY (it logs USB_CONNECT, as for any host). No device attached: a message "
            "(--json: no devices) and exit 0. Exit 3 when USB cannot be used (no libusb) or a "
            "device does not answer (its line says why); 2 bad usage."
        ),
    )
    add_dock_arguments(parser)
    add_json_option(
        parser,
        'one JSON object: "devices", an object per device (' + ", ".join(JSON_KEYS) + "), and "
        '"provenance"',
    )
    return parser


def identify(info: UsbDeviceInfo) -> DeviceInfo:
    """Open ``info``'s device, ask ``IDENTIFY``, close it.

    Raises:
        DeviceError: the device could not be opened or did not answer.
    """
    with DeviceSession(open_link(info)) as session:
        return session.identify()


def run(args: argparse.Namespace) -> int:
    """List the devices of the dock ``args`` names.

    Returns:
        :data:`EXIT_FAILURE` if a device could not be asked, else :data:`EXIT_OK` (also
        when none is attached).

    Raises:
        DeviceError: the devices cannot be enumerated (no USB backend; exit 3).
    """
    dock = open_dock(args)
    attempts = on_each_device(dock.devices(), identify)
    if args.json:
        provenance = make_provenance(())  # no file read: the devices answered
        document = {"devices": [_json(a) for a in attempts], "provenance": provenance.as_dict()}
        sys.stdout.write(json.dumps(document, indent=1) + "\n")
    else:
        _write_text(attempts, dock, sys.stdout)
    return EXIT_FAILURE if any(a.error is not None for a in attempts) else EXIT_OK


def _records_text(info: DeviceInfo) -> str:
    if info.record_count <= 0:
        return f"none (next {info.first_seq})"
    return f"{info.first_seq}..{info.last_seq} ({info.record_count})"


def _json(attempt: Attempt[DeviceInfo]) -> dict[str, Any]:
    info, found = attempt.value, attempt.info
    identity = None if info is None else info.identity
    return {
        "position": attempt.position,
        "serial": found.serial if info is None else info.serial,
        "bus": found.bus,
        "address": found.address,
        "model": None if identity is None else identity.model,
        "hardware_revision": None if identity is None else identity.hardware_revision,
        "firmware": None if identity is None else str(identity.firmware),
        "first_seq": None if info is None else info.first_seq,
        "last_seq": None if info is None else info.last_seq,
        "records": None if info is None else max(0, info.record_count),
        "log_capacity": None if identity is None else identity.log_capacity,
        "error": attempt.error,
    }


def _write_text(attempts: Sequence[Attempt[DeviceInfo]], dock: Dock, out: TextIO) -> None:
    if not attempts:
        out.write(f"no dataport device attached ({dock.description})\n")
        return
    header = ("SERIAL", "USB", "MODEL", "FIRMWARE", "RECORDS")
    lines: list[tuple[str, ...]] = [header]
    for attempt in attempts:
        found, info = attempt.info, attempt.value
        usb = f"bus {found.bus} address {found.address}"
        if info is None:
            lines.append((printable(device_label(found)), usb, f"FAILED: {attempt.error}"))
            continue
        identity = info.identity
        lines.append(
            (
                printable(info.serial),
                usb,
                printable(identity.model),
                printable(str(identity.firmware)),
                _records_text(info),
            )
        )
    # Widths from whole rows only: a FAILED message spans the columns after USB.
    widths = [
        max(len(line[column]) for line in lines if len(line) == len(header))
        for column in range(len(header))
    ]
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + [line[-1]]
        out.write("  ".join(cells).rstrip() + "\n")
    failed = sum(a.error is not None for a in attempts)
    noun = "device" if len(attempts) == 1 else "devices"
    tail = f", {failed} not answering" if failed else ""
    out.write(f"{len(attempts)} {noun} attached ({dock.description}){tail}\n")
