"""What the benchmarks share: the machine description they print, and best-of timing."""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any


def machine_info(libraries: dict[str, str], cores_note: str = "") -> list[str]:
    """Lines naming the interpreter, ``libraries`` (name → version text), CPU, cores, load."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    width = max(len(name) for name in ["python", *libraries]) + 2
    rows = {
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}"
        f" on {platform.platform()}",
        **libraries,
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process{cores_note}",
    }
    if hasattr(os, "getloadavg"):
        rows["load"] = "{:.2f} {:.2f} {:.2f} (1, 5, 15 min; other work skews the figures)".format(
            *os.getloadavg()
        )
    return [f"{name:<{width}}{value}" for name, value in rows.items()]


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """Shortest wall time of ``repeat`` calls of ``work`` (gc off), and its last result."""
    times = []
    result: Any = None
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = work()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times), result


def verdict(ok: bool) -> str:
    """A target's mark in a benchmark's table: PASS or MISS (a benchmark fails nothing)."""
    return "PASS" if ok else "MISS"
