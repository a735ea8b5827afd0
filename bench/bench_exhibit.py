#!/usr/bin/env python3
"""Matching one large exhibit: seconds and memory by the exhibit's number of reads.

    python bench/bench_exhibit.py                   # 1,000,000 serials
    python bench/bench_exhibit.py --serials 200000 --sizes 100 200 --big 1000 --repeat 1

One run against ``--serials`` serials (``bench_match.make_serials``, one ``SerialIndex``):

1. for each R of ``--sizes`` (250, 500, 1,000, 2,000): R cartridges drawn at random from the
   list, all different, one read of each, all R reads in **one exhibit**;
2. ``--big`` (10,000) reads in one exhibit: of as many different cartridges, and of **one**
   cartridge (10,000 reads of the same serial);
3. each scene's reads also as **separate exhibits** (one read each), for comparison.

Reads are drawn from ``simulate.second_noise(p_torn=0.2)`` (``--noise stated``: the
matcher's own model): a fifth of the tags torn to fragments of 4 or more characters.

Each scene and layout is measured in a forked process (the index shared copy-on-write),
whose address space may grow by ``--cap`` MB (12,000) and which may take ``--timeout``
seconds (600): a call that needs more is reported ("no figures: MemoryError …"), not
endured.  Per scene and layout: **seconds** of ``Matcher(index).match(reads)``, best of
``--repeat`` runs (gc off, one thread, the first run with a cold matcher; a single run when
it takes over 10 s); **RSS**: how far the process's resident set grew, at its peak over
those runs, above its size at the start (``ru_maxrss`` against ``/proc/self/statm``; the
index and serial list, built before, not counted) — what the targets are judged on;
**heap**: the peak of one call with a fresh matcher under ``tracemalloc`` (Python objects
and numpy buffers; not run when a call takes over 10 s); and the answers: rows, ``match``
rows naming one of the scene's cartridges (**found**: different cartridges), ``match`` rows
naming any other serial (**wrong**, each printed with its reads), reads left in ``none``
rows (**in none**).

Targets (PASS / MISS, the script fails nothing): one exhibit of 2,000 reads of 2,000
cartridges ≤ 2 s and ≤ 500 MB; one exhibit of 10,000 reads ≤ 10 s (both scenes).
"""

from __future__ import annotations

import os

# The matcher's figures are for one thread: its matrix products too (set before numpy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import importlib.metadata
import math
import multiprocessing
import random
import resource
import sys
import traceback
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np
from bench_match import make_serials
from common import best_of, verdict
from common import machine_info as shared_machine_info

from taserlink.forensics.match import Matcher, SerialIndex
from taserlink.forensics.results import MatchRow, MatchStatus, TagRead
from taserlink.forensics.simulate import ReadNoise, second_noise, stated_noise

SIZES = (250, 500, 1000, 2000)
BIG = 10_000
P_TORN = 0.2
SECONDS_2000 = 2.0
BYTES_2000 = 500e6
SECONDS_BIG = 10.0
SLOW_S = 10.0
"""A call slower than this is run once, and not traced."""
NOISES: dict[str, Callable[..., ReadNoise]] = {"second": second_noise, "stated": stated_noise}


@dataclass(frozen=True)
class Scene:
    """A scene's reads (``texts``) and the true serial of each (``true_serials``, in
    order)."""

    label: str
    true_serials: list[str]
    texts: list[str]

    def reads(self, separate: bool) -> list[TagRead]:
        """The reads as one exhibit ``E`` (tags ``t0``, ``t1``, …) or one exhibit each."""
        return [
            TagRead(f"E{i}" if separate else "E", f"t{i}", text)
            for i, text in enumerate(self.texts)
        ]


def make_scene(
    serials: Sequence[str], reads: int, cartridges: int, noise: ReadNoise, seed: int, label: str
) -> Scene:
    """``reads`` reads of ``cartridges`` different serials of the list (each read of the
    cartridges in turn), drawn from ``noise``; deterministic for ``seed``."""
    chosen = np.random.default_rng(seed).choice(len(serials), cartridges, replace=False)
    true = [serials[int(chosen[i % cartridges])] for i in range(reads)]
    return Scene(label, true, noise.reads(true, random.Random(f"{seed}/{reads}/{cartridges}")))


@dataclass(frozen=True)
class Figures:
    """One scene in one layout: seconds (best of ``runs``), the peak growth of the resident
    set over those runs and the heap peak of one traced call (bytes; ``None`` when not
    traced), and the answers."""

    seconds: float
    runs: int
    rss: int
    peak: int | None
    rows: int
    found: int
    wrong: int
    unexplained: int
    wrong_rows: tuple[str, ...]


def answers(rows: Sequence[MatchRow], true_serials: Sequence[str]) -> tuple[int, int, int]:
    """Different true cartridges named by a ``match`` row; ``match`` rows naming a serial
    not among them; reads in ``none`` rows."""
    truth = set(true_serials)
    matched = {r.serial for r in rows if r.status is MatchStatus.MATCH}
    wrong = sum(r.status is MatchStatus.MATCH and r.serial not in truth for r in rows)
    unexplained = sum(r.reads for r in rows if r.status is MatchStatus.NONE)
    return len(matched & truth), wrong, unexplained


def resident_bytes() -> int:
    """This process's resident set now (``/proc/self/statm``), bytes."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def measure(index: SerialIndex, scene: Scene, separate: bool, repeat: int) -> Figures:
    """In a fresh process (see :func:`measure_isolated`): time the scene ``repeat`` times
    (gc off; the first run cold, the best kept; no more runs once one takes over
    ``SLOW_S``), the growth of the resident set to its peak over those runs
    (``ru_maxrss`` against the size at the start: the index and list, inherited, not
    counted), then — when a run took at most ``SLOW_S`` — the heap peak of one call with a
    fresh matcher under ``tracemalloc``."""
    reads = scene.reads(separate)
    matcher = Matcher(index)
    before = resident_bytes()
    times: list[float] = []
    rows: list[MatchRow] = []
    while len(times) < repeat and (not times or times[-1] <= SLOW_S):
        seconds, rows = best_of(1, lambda: matcher.match(reads))
        times.append(seconds)
    rss = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
    peak: int | None = None
    if min(times) <= SLOW_S:
        fresh = Matcher(index)
        tracemalloc.start()
        try:
            fresh.match(reads)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    found, wrong, unexplained = answers(rows, scene.true_serials)
    return Figures(
        min(times),
        len(times),
        rss,
        peak,
        len(rows),
        found,
        wrong,
        unexplained,
        wrong_rows(rows, scene),
    )


def wrong_rows(rows: Sequence[MatchRow], scene: Scene) -> tuple[str, ...]:
    """A line for each ``match`` row naming a serial that is none of the scene's: the row,
    and its first reads with their true serials."""
    truth = set(scene.true_serials)
    lines = []
    for row in rows:
        if row.status is MatchStatus.MATCH and row.serial not in truth:
            reads = [(scene.true_serials[int(t[1:])], scene.texts[int(t[1:])]) for t in row.tags]
            lines.append(
                f"exhibit {row.exhibit}: {row.serial} match {row.score} over {row.reads} reads, "
                f"runner-up {row.runner_up or '-'} {row.runner_up_score}; "
                f"[{row.explanation[:200]}]; reads (true, read): {reads[:6]}"
            )
    return tuple(lines)


def _child(
    send: Connection, index: SerialIndex, scene: Scene, separate: bool, repeat: int, cap: int
) -> None:
    """:func:`measure` in a forked process whose address space may grow by ``cap`` bytes at
    most; what it measured, or the error, sent back."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + cap, size + cap))
    try:
        send.send(measure(index, scene, separate, repeat))
    except MemoryError:
        send.send(f"MemoryError (address space capped at {cap / 1e9:.0f} GB above the start)")
    except Exception as error:
        send.send("".join(traceback.format_exception(error)))
    finally:
        send.close()


def measure_isolated(
    index: SerialIndex, scene: Scene, separate: bool, repeat: int, cap: int, timeout: float
) -> Figures | str:
    """:func:`measure` in a forked child (the index shared copy-on-write), so that a call
    that needs more than ``cap`` bytes or ``timeout`` seconds is reported, not endured:
    the figures, or why there are none."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, index, scene, separate, repeat, cap))
    child.start()
    send.close()
    answered = receive.poll(timeout)
    try:
        result: Figures | str = receive.recv() if answered else f"stopped after {timeout:g} s"
    except EOFError:
        result = ""
    child.join(5 if answered else 0)
    if child.is_alive():
        child.kill()
        child.join()
    return result or f"the child ended with exit code {child.exitcode} and no answer"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--serials", type=int, default=1_000_000, help="list size (1,000,000)")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="reads = cartridges per exhibit"
    )
    parser.add_argument("--big", type=int, default=BIG, help="reads of the big exhibit (10,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs, best kept (3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of serials and reads (0)")
    parser.add_argument("--noise", choices=sorted(NOISES), default="second")
    parser.add_argument(
        "--cap",
        type=int,
        default=12_000,
        help="MB of address space a measurement's process may add (12,000)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds a measurement may take (600)"
    )
    args = parser.parse_args(argv)
    cap = args.cap * 1_000_000
    if args.serials < max([*args.sizes, args.big]) or args.repeat < 1:
        parser.error("--serials must hold every scene's cartridges; --repeat ≥ 1")

    libraries = {"numpy": np.__version__, "taserlink": importlib.metadata.version("taserlink")}
    print("taserlink exhibit-size benchmark")
    for text in shared_machine_info(libraries, "; the matcher uses one"):
        print("  " + text)
    noise = NOISES[args.noise](p_torn=P_TORN)
    print(
        f"reads drawn from {args.noise}_noise(p_torn={P_TORN}) ({noise.name}); seed "
        f"{args.seed}; seconds: best of {args.repeat} runs (one when it takes over {SLOW_S:g} s); "
        "RSS: peak growth of the resident set over them; heap: tracemalloc peak of one call"
    )
    serials = make_serials(args.serials, args.seed)
    index = SerialIndex(serials)
    print(
        f"{args.serials:,} serials, index {index.nbytes / 1e6:,.0f} MB (built before: "
        f"in neither memory figure); a measurement may grow by {args.cap:,} MB and take "
        f"{args.timeout:g} s"
    )

    scenes = [
        make_scene(serials, r, r, noise, args.seed + r, f"{r:,} reads of {r:,} cartridges")
        for r in args.sizes
    ]
    big = args.big
    scenes.append(
        make_scene(serials, big, big, noise, args.seed + big, f"{big:,} reads of {big:,} cartr.")
    )
    scenes.append(make_scene(serials, big, 1, noise, args.seed + 1, f"{big:,} reads of 1 cartr."))

    head = (
        f"{'':<34}{'layout':>10}{'seconds':>9}{'runs':>5}{'RSS MB':>9}{'heap MB':>9}"
        f"{'rows':>8}{'found':>8}{'wrong':>7}{'in none':>9}   target"
    )
    print("\n" + head)
    wrong: list[str] = []
    for scene in scenes:
        reads = len(scene.texts)
        cartridges = len(set(scene.true_serials))
        for separate in (False, True):
            f = measure_isolated(index, scene, separate, args.repeat, cap, args.timeout)
            layout = "separate" if separate else "one"
            label = f"{'' if separate else scene.label:<34}{layout:>10}"
            seconds = f.seconds if isinstance(f, Figures) else math.inf
            rss = f.rss if isinstance(f, Figures) else math.inf
            target = ""
            if not separate and reads == cartridges == 2000:
                target = (
                    f"≤ {SECONDS_2000:.0f} s: {verdict(seconds <= SECONDS_2000)}, "
                    f"≤ {BYTES_2000 / 1e6:.0f} MB: {verdict(rss <= BYTES_2000)}"
                )
            elif not separate and reads == big:
                target = f"≤ {SECONDS_BIG:.0f} s: {verdict(seconds <= SECONDS_BIG)}"
            if not isinstance(f, Figures):
                print(f"{label}   no figures: {f.strip().splitlines()[-1]}   {target}")
                if "\n" in f.strip():
                    print(f)
                continue
            heap = "-" if f.peak is None else f"{f.peak / 1e6:.1f}"
            print(
                f"{label}{f.seconds:9.3f}{f.runs:5}{f.rss / 1e6:9.1f}{heap:>9}"
                f"{f.rows:8,}{f.found:8,}{f.wrong:7,}{f.unexplained:9,}   {target}",
                flush=True,
            )
            wrong += [f"{scene.label}, {layout}: {w}" for w in f.wrong_rows]
    for line in wrong:
        print("wrong match: " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
