#!/usr/bin/env python3
"""A dock of emulated devices downloaded at once: wall time, records/s, host CPU per record.

    python bench/bench_dock.py                        # 40 devices × 100,000 records
    python bench/bench_dock.py --out /var/tmp         # the images on this disk
    python bench/bench_dock.py --devices 8 --records 20000 --profile-devices 0

``--devices`` simulated devices, each holding ``--records`` generated records
(:func:`taserlink.emulator.synthetic.synthetic_device`), are plugged into one
:class:`~taserlink.emulator.usb.EmulatedBackend` and downloaded concurrently, one host thread
per device as ``taserlink download`` does, each thread calling
:func:`taserlink.device.download.download` on what
:func:`taserlink.device.usb_host.find_devices` found: the real pyusb path, partial downloads
fsynced chunk by chunk, atomic image writes.  One run:

1. **the timed dock** into a fresh directory under ``--out`` (default: the system's temporary
   directory; the script prints its file system — put it on a disk to count fsyncs):
   discovery plus every download, to the last thread joined.  It prints the wall time,
   records/s overall, the process CPU time (``time.process_time``, user + system, every
   thread), the **emulator's** CPU time — every call into the emulated backend timed with
   ``time.thread_time`` in the thread that made it (the device side: ``DataportServer`` and
   the firmware model, descriptors, transfers, their bookkeeping), of which
   ``DataportServer.handle`` alone — and the **host CPU = process CPU − emulator CPU**, per
   downloaded record.  Target: host CPU ≤ 2 µs a record, so a dock is never bound by the
   host.  ``os.fsync`` is wrapped to count the calls and the time threads spend in them
   (waiting for the GIL after the call included).
2. every image verified (``verify_image`` against ``captures/test-root.pem``) and its records
   compared with the device's log, outside the timed part; then one device downloaded alone
   into the same file system, the same way: the host CPU a record costs with no other
   thread contending for the GIL;
3. the same dock (fresh devices) into ``--tmpfs`` (default ``/dev/shm`` when it is a tmpfs):
   fsync there costs nothing, so the difference in wall time is what the disk's fsyncs
   (and its slower writes) cost: the fsync share;
4. a profile of the host side (``--profile-devices`` devices, the same directory as 1): one
   ``cProfile`` per host thread with ``time.thread_time`` as its clock, while every backend
   call runs on a separate emulator thread, so the profile holds the host's CPU alone.
   Printed: host CPU by module, the functions of ``taserlink.device`` by cumulative time,
   and the top functions by own time.

Figures depend on the machine and on what else runs on it (the load average is printed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import usb
from common import machine_info as shared_machine_info

from taserlink import __version__
from taserlink.device.download import DownloadResult, download
from taserlink.device.usb_host import find_devices
from taserlink.emulator.firmware import SimulatedDevice
from taserlink.emulator.synthetic import synthetic_device
from taserlink.emulator.usb import EmulatedBackend
from taserlink.format import read_image
from taserlink.integrity import TrustStore, verify_image

HOST_TARGET_US = 2.0
"""Host CPU per downloaded record, in microseconds, that a dock must stay under."""
ROOT = Path(__file__).resolve().parent.parent
TEST_ROOT = ROOT / "captures" / "test-root.pem"
SEED_BASE = 1000
"""Device ``i`` is ``synthetic_device(records, SEED_BASE + i)``: a distinct serial each."""

_BACKEND_CALLS = (
    "enumerate_devices",
    "get_parent",
    "get_device_descriptor",
    "get_configuration_descriptor",
    "get_interface_descriptor",
    "get_endpoint_descriptor",
    "open_device",
    "close_device",
    "set_configuration",
    "get_configuration",
    "set_interface_altsetting",
    "claim_interface",
    "release_interface",
    "bulk_write",
    "bulk_read",
    "ctrl_transfer",
    "clear_halt",
    "reset_device",
    "is_kernel_driver_active",
    "detach_kernel_driver",
    "attach_kernel_driver",
)
"""Every ``IBackend`` method the emulated backend implements: all of them are timed."""


# -- measuring --------------------------------------------------------------------------


class ThreadTally:
    """Seconds and calls summed per thread (each thread adds to its own slot only)."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = {}
        self.calls: dict[int, int] = {}

    def add(self, seconds: float) -> None:
        ident = threading.get_ident()
        self.seconds[ident] = self.seconds.get(ident, 0.0) + seconds
        self.calls[ident] = self.calls.get(ident, 0) + 1

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


class InstrumentedBackend(EmulatedBackend):
    """The emulated backend with every ``IBackend`` call measured in the calling thread's
    CPU time (:attr:`cpu`), and ``DataportServer.handle`` on its own (:attr:`server_cpu`).

    With ``offload`` (a one-thread executor) every call runs on that thread instead and the
    calling thread waits: what the calling thread then spends is the host's alone (the
    profile pass).  Calls the backend makes to itself are not counted twice.
    """

    def __init__(
        self,
        devices: Sequence[SimulatedDevice],
        *,
        offload: concurrent.futures.ThreadPoolExecutor | None = None,
    ) -> None:
        self.cpu = ThreadTally()
        self.server_cpu = ThreadTally()
        self.offload = offload
        self._depth = threading.local()
        super().__init__(devices)
        for attached in self.devices:
            setattr(attached.server, "handle", self._timed_handle(attached.server.handle))  # noqa: B010

    def _timed_handle(self, handle: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
        tally = self.server_cpu

        def timed(request: bytes) -> bytes:
            start = time.thread_time()
            try:
                return handle(request)
            finally:
                tally.add(time.thread_time() - start)

        return timed

    def _direct(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._depth.value = getattr(self._depth, "value", 0) + 1
        try:
            return getattr(EmulatedBackend, name)(self, *args, **kwargs)
        finally:
            self._depth.value -= 1

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if getattr(self._depth, "value", 0):
            return self._direct(name, args, kwargs)  # the backend calling itself
        if self.offload is not None:
            return self.offload.submit(self._direct, name, args, kwargs).result()
        start = time.thread_time()
        try:
            return self._direct(name, args, kwargs)
        finally:
            self.cpu.add(time.thread_time() - start)


def _backend_method(name: str) -> Callable[..., Any]:
    def method(self: InstrumentedBackend, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, args, kwargs)

    method.__name__ = method.__qualname__ = name
    return method


for _name in _BACKEND_CALLS:
    setattr(InstrumentedBackend, _name, _backend_method(_name))


def machine_steal() -> float:
    """Seconds of CPU stolen by the hypervisor so far, summed over cores (0 if unknown)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@contextmanager
def counting_fsync() -> Iterator[ThreadTally]:
    """``os.fsync`` wrapped for the duration: calls and wall seconds inside it, per thread."""
    tally = ThreadTally()
    real = os.fsync

    def fsync(fd: Any) -> None:
        start = time.perf_counter()
        try:
            real(fd)
        finally:
            tally.add(time.perf_counter() - start)

    os.fsync = fsync
    try:
        yield tally
    finally:
        os.fsync = real


# -- the dock ---------------------------------------------------------------------------


def build_devices(count: int, records: int) -> tuple[list[SimulatedDevice], float]:
    """``count`` devices of ``records`` generated records each, and the seconds it took."""
    start = time.perf_counter()
    devices = [synthetic_device(records, SEED_BASE + i) for i in range(count)]
    return devices, time.perf_counter() - start


@dataclass
class DockRun:
    """What one download of the whole dock measured."""

    directory: Path
    devices: int
    wall_s: float
    discover_s: float
    process_cpu_s: float
    system_cpu_s: float
    """The kernel's part of ``process_cpu_s`` (``os.times``)."""
    steal_s: float
    """CPU time the hypervisor gave to others meanwhile, all cores (``/proc/stat``)."""
    emulator_cpu_s: float
    server_cpu_s: float
    backend_calls: int
    fsync_calls: int
    fsync_s: float
    """Seconds the download threads spent inside ``os.fsync``, summed over threads."""
    results: dict[str, DownloadResult]
    errors: dict[str, BaseException]
    profiles: list[cProfile.Profile] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(r.records for r in self.results.values())

    @property
    def host_cpu_s(self) -> float:
        return self.process_cpu_s - self.emulator_cpu_s


def run_dock(
    devices: Sequence[SimulatedDevice],
    directory: Path,
    *,
    profile: bool = False,
) -> DockRun:
    """Find every device and download them all at once, one thread each, into ``directory``.

    With ``profile``, each host thread runs under its own ``cProfile`` (thread CPU clock)
    and the backend's calls run on a separate thread.
    """
    offload = (
        concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="emulator") if profile else None
    )
    backend = InstrumentedBackend(devices, offload=offload)
    results: dict[str, DownloadResult] = {}
    errors: dict[str, BaseException] = {}
    profiles: list[cProfile.Profile] = []
    done: dict[str, tuple[int, int]] = {}
    workstation = platform.node() or "bench"

    def progress(serial: str, records_done: int, records_total: int) -> None:
        done[serial] = (records_done, records_total)  # what a progress display would read

    def one(info: Any) -> None:
        profiler = cProfile.Profile(time.thread_time) if profile else None
        try:
            if profiler is not None:
                profiler.enable()
            result = download(
                info,
                directory,
                operator="bench_dock",
                workstation=workstation,
                clock_source="benchmark: host clock as is",
                progress=progress,
            )
            if profiler is not None:
                profiler.disable()
                profiles.append(profiler)
            results[result.serial] = result
        except BaseException as error:  # reported after the run
            errors[str(info.serial)] = error

    gc.collect()
    with counting_fsync() as fsyncs:
        steal_start, times_start = machine_steal(), os.times()
        cpu_start, start = time.process_time(), time.perf_counter()
        infos = find_devices(backend=backend)
        discovered = time.perf_counter()
        threads = [
            threading.Thread(target=one, args=(info,), name=str(info.serial)) for info in infos
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        system = os.times().system - times_start.system
        steal = machine_steal() - steal_start
    if offload is not None:
        offload.shutdown()
    if len(infos) != len(devices):
        errors["discovery"] = RuntimeError(f"found {len(infos)} of {len(devices)} devices")
    return DockRun(
        directory=directory,
        devices=len(devices),
        wall_s=wall,
        discover_s=discovered - start,
        process_cpu_s=cpu,
        system_cpu_s=system,
        steal_s=steal,
        emulator_cpu_s=backend.cpu.total_s,
        server_cpu_s=backend.server_cpu.total_s,
        backend_calls=backend.cpu.total_calls,
        fsync_calls=fsyncs.total_calls,
        fsync_s=fsyncs.total_s,
        results=results,
        errors=errors,
        profiles=profiles,
    )


def check_images(run: DockRun, devices: Sequence[SimulatedDevice], trust: TrustStore) -> bool:
    """Verify every image of ``run`` and compare its records with its device's log; print
    the outcome.  Returns whether all verified."""
    start = time.perf_counter()
    by_serial = {d.spec.serial: d for d in devices}
    bad: list[str] = []
    for serial, result in sorted(run.results.items()):
        report = verify_image(result.path, trust)
        coverage = report.coverage
        image = read_image(result.path)
        problems = []
        if not report.ok:
            problems += [str(f) for f in report.findings if f.severity.value == "error"][:3]
        if not coverage.chained or coverage.statement_covers != result.last_seq:
            problems.append(f"coverage: {coverage}")
        if coverage.verified != result.records:
            problems.append(f"{coverage.verified} of {result.records} records with a valid CRC")
        if image.records.tobytes() != by_serial[serial].records_bytes():
            problems.append("the image's records differ from the device's log")
        if problems:
            bad.append(f"  {serial}: " + "; ".join(problems))
    good = len(run.results) - len(bad)
    for name, error in sorted(run.errors.items()):
        bad.append(f"  {name}: download failed: {type(error).__name__}: {error}")
    seconds = time.perf_counter() - start
    if not bad and good == run.devices:
        print(
            f"verified: all {good} images verify against {TEST_ROOT.name} (no error finding, "
            "chained from the base, the statement covering the last record) and hold their "
            f"device's log byte for byte ({seconds:.1f} s, not timed)"
        )
        return True
    print(f"verified: {good} of {run.devices} images; problems:")
    print("\n".join(bad))
    return False


# -- printing ---------------------------------------------------------------------------


def machine_info() -> list[str]:
    return shared_machine_info(
        {"taserlink": f"{__version__}, pyusb {usb.__version__}, numpy {np.__version__}"}
    )


def file_system(path: Path) -> tuple[str, str]:
    """(type, device) of the file system holding ``path``, from ``/proc/mounts``."""
    best, found = "", ("?", "?")
    path = path.resolve()
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) < 3:
                    continue
                point = parts[1].replace("\\040", " ")
                inside = str(path) == point or str(path).startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, found = point, (parts[2], parts[0])
    except OSError:
        pass
    return found


def describe(label: str, path: Path) -> str:
    kind, device = file_system(path)
    return f"{label:<13} {path} ({kind} on {device})"


def print_run(run: DockRun, title: str) -> None:
    records, devices = run.records, len(run.results)
    per = 1e6 / records if records else float("nan")
    seconds = sorted(r.seconds for r in run.results.values())
    rows = [
        ("devices downloaded", f"{devices} of {run.devices}", ""),
        ("records downloaded", f"{records:,}", ""),
        ("wall time (discovery + downloads)", f"{run.wall_s:.2f} s", ""),
        ("  of which discovery", f"{run.discover_s:.3f} s", ""),
        ("records/s overall", f"{records / run.wall_s:,.0f}", ""),
        (
            "one download's wall time (min / median / max)",
            " / ".join(f"{s:.2f}" for s in (seconds[0], statistics.median(seconds), seconds[-1]))
            + " s"
            if seconds
            else "-",
            "",
        ),
        (
            "process CPU (every thread, user + system)",
            f"{run.process_cpu_s:.2f} s",
            f"{run.process_cpu_s * per:.2f}",
        ),
        ("  of which system (kernel)", f"{run.system_cpu_s:.2f} s", ""),
        (
            "emulator CPU (inside the backend)",
            f"{run.emulator_cpu_s:.2f} s",
            f"{run.emulator_cpu_s * per:.2f}",
        ),
        (
            "  of which DataportServer.handle",
            f"{run.server_cpu_s:.2f} s",
            f"{run.server_cpu_s * per:.2f}",
        ),
        (
            "**host CPU = process − emulator**",
            f"{run.host_cpu_s:.2f} s",
            f"{run.host_cpu_s * per:.2f}",
        ),
        ("CPU busy (process CPU / wall)", f"{run.process_cpu_s / run.wall_s:.2f} cores", ""),
        ("CPU stolen by the hypervisor meanwhile", f"{run.steal_s:.2f} s", ""),
        (
            "os.fsync calls / thread-seconds in them (¹)",
            f"{run.fsync_calls:,} / {run.fsync_s:.2f} s",
            f"{run.fsync_s * 1e3 / max(run.fsync_calls, 1):.3f} ms a call",
        ),
        (
            "  share of the download threads' wall time (¹)",
            f"{run.fsync_s / max(sum(seconds), 1e-9):.0%}",
            "",
        ),
    ]
    print(f"\n{title}\n")
    print("| | total | µs per record |")
    print("|---|---:|---:|")
    for name, total, per_record in rows:
        print(f"| {name} | {total} | {per_record} |")
    print(
        f"\n({run.backend_calls:,} backend calls timed; records/s = records / wall time; "
        "(¹) the wall time a thread spends in os.fsync includes waiting for the GIL after "
        "the call: on a tmpfs that wait is all of it)"
    )


def print_profile(profiles: Sequence[cProfile.Profile], records: int, top: int = 20) -> None:
    """Host CPU by module, taserlink.device functions by cumulative time, top functions."""
    merged: dict[tuple[str, int, str], list[float]] = {}
    for profiler in profiles:
        profiler.create_stats()
        for label, row in profiler.stats.items():
            entry = merged.setdefault(label, [0.0, 0.0, 0.0])
            entry[0] += row[1]  # calls (primitive calls are row[0])
            entry[1] += float(row[2])  # own time
            entry[2] += float(row[3])  # cumulative

    def harness(label: tuple[str, int, str]) -> bool:
        """The benchmark's hand-over of backend calls to the emulator thread: its wrappers,
        the executor and the waits on its futures (the host code takes no plain locks)."""
        path, _, name = label
        return (
            path.endswith("bench_dock.py")
            or "concurrent/futures" in path
            or path.endswith("threading.py")
            or name == "<method 'acquire' of '_thread.lock' objects>"
        )

    def group(label: tuple[str, int, str]) -> str:
        path, _, name = label
        if path == "~":
            return name.strip("<>")  # a builtin: name it
        for marker, short in (
            ("/taserlink/", "taserlink/"),
            ("/usb/", "usb/ (pyusb)"),
            ("/construct/", "construct"),
            ("/numpy/", "numpy"),
        ):
            if marker in path:
                if short == "taserlink/":
                    return "taserlink/" + path.split("/taserlink/", 1)[1]
                return short
        return "stdlib " + Path(path).name

    total = sum(v[1] for v in merged.values())
    harnessed = sum(v[1] for k, v in merged.items() if harness(k))
    scale = 1e6 / records
    by_group: dict[str, float] = {}
    for label, (_, own, _) in merged.items():
        name = "(benchmark harness: backend calls handed over)" if harness(label) else group(label)
        by_group[name] = by_group.get(name, 0.0) + own
    print(
        f"\nprofiled CPU of the host threads: {total:.2f} s over {records:,} records "
        f"({total * scale:.2f} µs a record; the profiler inflates it), of which the "
        f"benchmark's own hand-over of backend calls {harnessed:.2f} s; shares below are of "
        "the whole\n"
    )
    print("| host CPU by module or builtin (own time) | s | share | µs/record |")
    print("|---|---:|---:|---:|")
    for name, own in sorted(by_group.items(), key=lambda kv: -kv[1])[:top]:
        print(f"| {name} | {own:.2f} | {own / total:.0%} | {own * scale:.3f} |")

    def where(label: tuple[str, int, str]) -> str:
        path, line, name = label
        if path == "~":
            return name
        short = path.split("/taserlink/", 1)[1] if "/taserlink/" in path else Path(path).name
        return f"{short}:{line} {name}"

    ours = [(k, v) for k, v in merged.items() if "/taserlink/device/" in k[0]]
    print("\n| taserlink.device function (cumulative) | calls | s | share | µs/record |")
    print("|---|---:|---:|---:|---:|")
    for label, (calls, _, cumulative) in sorted(ours, key=lambda kv: -kv[1][2])[:top]:
        print(
            f"| {where(label)} | {calls:,.0f} | {cumulative:.2f} | {cumulative / total:.0%} "
            f"| {cumulative * scale:.3f} |"
        )
    print("\n| function (own time) | calls | s | share | µs/call |")
    print("|---|---:|---:|---:|---:|")
    host = [(k, v) for k, v in merged.items() if not harness(k)]
    for label, (calls, own, _) in sorted(host, key=lambda kv: -kv[1][1])[:top]:
        print(
            f"| {where(label)} | {calls:,.0f} | {own:.2f} | {own / total:.0%} "
            f"| {own * 1e6 / max(calls, 1):.2f} |"
        )


# -- main -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=40, help="devices in the dock (40)")
    parser.add_argument("--records", type=int, default=100_000, help="records a device (100,000)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where a fresh run directory is made for the images (default: the temp dir)",
    )
    parser.add_argument(
        "--tmpfs",
        default="/dev/shm",
        help="a tmpfs for the fsync comparison ('none' to skip; default /dev/shm)",
    )
    parser.add_argument(
        "--profile-devices",
        type=int,
        default=None,
        help="devices in the profiled pass (default: --devices; 0 to skip)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the downloaded images")
    args = parser.parse_args(argv)
    if args.devices < 1 or args.records < 1:
        parser.error("--devices and --records must be positive")
    profile_devices = args.devices if args.profile_devices is None else args.profile_devices

    print("\n".join(machine_info()))
    trust = TrustStore.from_paths([TEST_ROOT])
    args.out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []

    def fresh(root: Path) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="bench-dock-", dir=root))
        made.append(directory)
        return directory

    ok = True
    try:
        devices, built_s = build_devices(args.devices, args.records)
        print(
            f"dock          {args.devices} emulated devices × {args.records:,} records "
            f"(synthetic_device, built in {built_s:.1f} s, not timed)"
        )
        disk = fresh(args.out)
        print(describe("out", disk))
        run = run_dock(devices, disk)
        print_run(run, f"Timed dock into {disk} ({file_system(disk)[0]}):")
        ok &= check_images(run, devices, trust)
        host_us = run.host_cpu_s * 1e6 / max(run.records, 1)
        verdict = "met" if host_us <= HOST_TARGET_US else "MISSED"
        print(
            f"host CPU per record: {host_us:.2f} µs (target ≤ {HOST_TARGET_US:g} µs: {verdict}); "
            f"emulator: {run.emulator_cpu_s * 1e6 / max(run.records, 1):.2f} µs"
        )
        del devices

        alone_devices, _ = build_devices(1, args.records)
        alone = run_dock(alone_devices, fresh(args.out))
        alone_us = alone.host_cpu_s * 1e6 / max(alone.records, 1)
        print(
            f"\nOne device alone into the same file system (no other thread): "
            f"{alone.wall_s:.2f} s, {alone.records / alone.wall_s:,.0f} records/s, host CPU "
            f"{alone_us:.2f} µs a record (system {alone.system_cpu_s * 1e6 / alone.records:.2f}), "
            f"emulator {alone.emulator_cpu_s * 1e6 / max(alone.records, 1):.2f} µs; the dock's "
            f"{host_us - alone_us:+.2f} µs a record is what {args.devices} threads contending "
            "for the GIL (hand-overs around every system call that releases it) add"
        )
        ok &= check_images(alone, alone_devices, trust)
        del alone_devices

        tmpfs = None if args.tmpfs.lower() == "none" else Path(args.tmpfs)
        if tmpfs is not None and file_system(tmpfs)[0] != "tmpfs":
            print(f"\n(no fsync comparison: {tmpfs} is not a tmpfs)")
            tmpfs = None
        if tmpfs is not None and file_system(disk)[0] == "tmpfs":
            print("\n(no fsync comparison: --out is itself a tmpfs; point it at a disk)")
            tmpfs = None
        if tmpfs is not None:
            shm_devices, _ = build_devices(args.devices, args.records)
            shm = fresh(tmpfs)
            shm_run = run_dock(shm_devices, shm)
            print_run(shm_run, f"The same dock into {shm} (tmpfs: fsync costs nothing):")
            ok &= check_images(shm_run, shm_devices, trust)
            del shm_devices
            share = (run.wall_s - shm_run.wall_s) / run.wall_s
            print(
                f"fsync share of the wall time: {share:.0%} "
                f"({run.wall_s:.2f} s on {file_system(disk)[0]}, {shm_run.wall_s:.2f} s on "
                f"tmpfs; {run.fsync_calls:,} fsyncs, "
                f"{run.fsync_calls / max(run.records, 1) * 256:.1f} per 256-record chunk)"
            )

        if profile_devices > 0:
            prof_devices, _ = build_devices(profile_devices, args.records)
            prof = fresh(args.out)
            prof_run = run_dock(prof_devices, prof, profile=True)
            del prof_devices
            print(
                f"\nProfile of the host side: {profile_devices} devices into {prof}, "
                f"{prof_run.wall_s:.1f} s under the profiler"
            )
            if prof_run.errors:
                print(f"(profiled pass: {len(prof_run.errors)} download(s) failed)")
                ok = False
            print_profile(prof_run.profiles, prof_run.records)
    finally:
        if not args.keep:
            for directory in made:
                shutil.rmtree(directory, ignore_errors=True)
        elif made:
            print("\nkept: " + ", ".join(str(d) for d in made))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
