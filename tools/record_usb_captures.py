#!/usr/bin/env python3
"""Record the bundled USB captures in ``captures/usb/`` from the emulated device.

    python tools/record_usb_captures.py            # rewrite captures/usb/*.pcapng
    python tools/record_usb_captures.py --check    # exit 1 if any file would change

Each capture is the real host code (:mod:`taserlink.device`) talking through pyusb to the
emulated device (:class:`taserlink.emulator.EmulatedBackend`), recorded by
:class:`taserlink.device.capture.RecordingBackend` into a :class:`taserlink.usb.CaptureWriter`
as pcapng with link type 220 (Linux usbmon).  Nonces, host clocks and capture timestamps are
fixed, so the files are byte-identical on every machine for a given version of the host code
and firmware model.
Re-run this script when either changes the traffic: the replay tests in
``tests/test_capture.py`` hold the host code to these recordings.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taserlink.atomic import update_files
from taserlink.device.capture import RecordingBackend
from taserlink.device.download import DownloadResult, download
from taserlink.device.session import DeviceSession
from taserlink.device.usb_host import find_device
from taserlink.emulator import EmulatedBackend, Fault, FaultKind, FaultPlan, SimulatedDevice
from taserlink.emulator.scenarios import run_scenario
from taserlink.errors import DeviceDisconnected
from taserlink.format import DEVICE_EPOCH_UNIX_MS
from taserlink.usb import CaptureWriter, SteppingClock

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "captures" / "usb"

HOST_UTC_S = 1_772_467_200.0
"""The host clock of every recording: 2026-03-02T16:00:00Z (seconds since the Unix epoch),
just after the quiet-day scenario ends (its device clock then reads about 15:58)."""
CAPTURE_STEP_S = 0.0005
"""Capture timestamps advance by 0.5 ms per event, from ``HOST_UTC_S``."""
NONCE = bytes(range(32))
"""The statement nonce of every download (0x00 … 0x1f)."""
EXTRA_EVENTS = 600
"""Holster events added to the quiet-day device for the resumed download, so that its
records take three ``READ_RECORDS`` answers."""
DISCONNECT_AT = 9
"""Bulk transfer at which the resumed download's device is unplugged: the IN transfer of
the second ``READ_RECORDS`` (0-1 IDENTIFY, 2-3 certificates, 4-5 base, 6-7 first chunk)."""
OPERATOR = "PS 4127 (store room)"
WORKSTATION = "STORE-01"
CLOCK_SOURCE = "fixed (recording)"


def host_clock() -> float:
    """The recordings' host clock (seconds since the Unix epoch): always ``HOST_UTC_S``."""
    return HOST_UTC_S


def run_download(backend: Any, out: str | Path) -> DownloadResult:
    """The download every recording makes: the only device on ``backend``, into ``out``."""
    return download(
        find_device(backend=backend),
        out,
        operator=OPERATOR,
        workstation=WORKSTATION,
        clock_source=CLOCK_SOURCE,
        nonce=NONCE,
        host_clock=host_clock,
    )


def _writer(path: Path) -> CaptureWriter:
    return CaptureWriter(
        path,
        clock=SteppingClock(HOST_UTC_S, CAPTURE_STEP_S),
        comment="TEST MATERIAL: a simulated dataport device, recorded by "
        "tools/record_usb_captures.py",
    )


def quiet_day_device() -> SimulatedDevice:
    """The quiet-day scenario's device (seed 1) as the scenario leaves it."""
    return run_scenario("quiet-day", 1).device


def record_download(path: Path) -> None:
    """A whole download of the quiet-day device."""
    with _writer(path) as writer, tempfile.TemporaryDirectory() as out:
        backend = RecordingBackend(EmulatedBackend([quiet_day_device()]), writer)
        run_download(backend, out)


def record_resumed_download(path: Path) -> None:
    """A download of the quiet-day device (with ``EXTRA_EVENTS`` more records) that the
    device's unplugging interrupts at bulk transfer ``DISCONNECT_AT``, then the download
    after it is plugged in again, which resumes from the partial."""
    device = quiet_day_device()
    for i in range(EXTRA_EVENTS):
        device.advance(1_000)
        if i % 2:
            device.holster()
        else:
            device.unholster()
    plan = FaultPlan([Fault(FaultKind.DISCONNECT, at=DISCONNECT_AT)])
    emulated = EmulatedBackend([device], faults={device.spec.serial: plan})
    with _writer(path) as writer, tempfile.TemporaryDirectory() as out:
        backend = RecordingBackend(emulated, writer)
        try:
            run_download(backend, out)
        except DeviceDisconnected:
            pass
        else:
            raise RuntimeError("the fault plan did not interrupt the download")
        emulated.attach(device)
        result = run_download(backend, out)
        if result.resumed_from is None:
            raise RuntimeError("the second download did not resume")


def record_clock_set(path: Path) -> None:
    """Read the quiet-day device's clock, then set it to the host's time."""
    target_ms = round(HOST_UTC_S * 1000) - DEVICE_EPOCH_UNIX_MS
    with _writer(path) as writer:
        backend = RecordingBackend(EmulatedBackend([quiet_day_device()]), writer)
        with DeviceSession.open(backend=backend) as session:
            session.read_clock()
            session.set_clock(target_ms)


RECORDINGS: dict[str, Callable[[Path], None]] = {
    "download.pcapng": record_download,
    "resumed-download.pcapng": record_resumed_download,
    "clock-set.pcapng": record_clock_set,
}
"""File name → the function that records it."""


def expected_files() -> dict[str, bytes]:
    """Every capture this script writes, by name, with its bytes."""
    files = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, record in RECORDINGS.items():
            path = Path(scratch) / name
            record(path)
            files[name] = path.read_bytes()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=OUT, help="folder (default captures/usb/)")
    args = parser.parse_args(argv)
    changed = update_files(args.out, expected_files(), check=args.check)
    verb = "differ" if args.check else "written"
    print(f"{len(changed)} file(s) {verb}: {', '.join(changed) or '-'}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
