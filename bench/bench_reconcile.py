#!/usr/bin/env python3
"""A force-year reconciled: device downloads held against the officers' accounts.

    python bench/bench_reconcile.py                      # 1,500 downloads, 10,000 accounts
    python bench/bench_reconcile.py --devices 300 --accounts 2000

Builds (untimed) ``--devices`` downloads of ``--records`` records each, generated for a
device on daily duty (:data:`taserlink.emulator.synthetic.DUTY`: a spark test at each
shift's start, battery reports, a use in about one shift in forty; some three years of
duty in 16,384 records), an issue list that puts every device out to an officer from its
first record to its last, and ``--accounts`` accounts written from the uses of the
financial year 2026-04-01 to 2027-03-31 (times up to 4 minutes off and rounded to the
minute; one in fifty claiming a use the device did not log).  Then, on the same files in
the same run, each timed whole (best of ``--repeat``) with its peak memory:

- ``read``: every download read (parsed), nothing else — the floor any tool pays;
- ``verify``: every download read and verified against the trusted root
  (:func:`taserlink.integrity.batch.verify_files`, the pool ``taserlink verify`` uses) —
  the peer the target is stated against: reconciliation includes it;
- ``reconcile``: :func:`taserlink.postuse.driver.reconcile_downloads` for the year, with
  verification — what ``taserlink reconcile --from 2026-04-01T00:00:00Z --to
  2027-04-01T00:00:00Z`` does before it prints.

Target (issue 13): reconcile ≤ 60 s on 2 cores including verification, peak memory
≤ 1 GB. Peak memory is the largest resident set of the run's own process and of its worker
processes, each measured on its own (``ru_maxrss``), in a fresh process per measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taserlink.emulator.pki import test_authority
from taserlink.emulator.synthetic import DUTY, synthetic_image
from taserlink.forensics.issues import parse_issues
from taserlink.format import read_image
from taserlink.integrity import TrustStore
from taserlink.integrity.batch import verify_files
from taserlink.postuse.accounts import Account
from taserlink.postuse.driver import reconcile_downloads
from taserlink.postuse.episodes import EpisodeKind
from taserlink.postuse.reconcile import ReconcileSettings
from taserlink.timeline.times import utc_text
from taserlink.workers import usable_cores

YEAR = (
    int(dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp() * 1000),
    int(dt.datetime(2027, 4, 1, tzinfo=dt.UTC).timestamp() * 1000),
)
"""The financial year reconciled (UTC ms, end exclusive)."""
MINUTE = 60_000


def build(folder: Path, devices: int, records: int) -> tuple[list[Path], str]:
    """The downloads and the issue list's text."""
    paths, rows = [], ["serial,officer,issued_at,returned_at"]
    for n in range(devices):
        data = synthetic_image(records, 10_000 + n, profile=DUTY)
        image = read_image(data)
        serial = image.identity.serial
        path = folder / f"{serial}.tdi"
        path.write_bytes(data)
        paths.append(path)
        first = int(image.records["time_ms"][0]) + 946_684_800_000 - MINUTE
        last = int(image.records["time_ms"][-1]) + 946_684_800_000 + MINUTE
        rows.append(f"{serial},PC {1000 + n},{utc_text(first)},{utc_text(last)}")
    return paths, "\n".join(rows) + "\n"


def accounts_of(paths: list[Path], issues: str, count: int, seed: int) -> list[Account]:
    """Accounts of the year's uses, written as officers write them (module docstring)."""
    run = reconcile_downloads(
        paths, parse_issues(issues), [], settings=ReconcileSettings(period=YEAR), workers=2
    )
    uses = [u for u in run.result.uses if u.episode.kind is EpisodeKind.USE]
    rng = random.Random(seed)
    rng.shuffle(uses)
    made = []
    for n, use in enumerate(uses[:count]):
        episode = use.episode
        assert episode.utc_start_ms is not None and episode.utc_end_ms is not None
        start = (episode.utc_start_ms + rng.randint(-4, 4) * MINUTE) // MINUTE * MINUTE
        level = episode.highest_use.value if episode.highest_use else "drawn"
        ticks = {level: True} if level in ("red_dotted", "arced", "fired", "drive_stun") else {}
        if n % 50 == 0:
            ticks["arced"] = True  # a claim the device may not bear out
        made.append(
            Account(
                report=f"R-{n + 1:05d}",
                incident=f"I-{n + 1:05d}",
                officer=use.custody.officers[0] if use.custody.officers else "PC 0000",
                start_ms=start,
                end_ms=start + 5 * MINUTE,
                device=episode.device,
                drawn=True,
                cartridges=episode.serials,
                **ticks,  # type: ignore[arg-type]
            )
        )
    return made


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, workers


def _measured(job: Callable[[], Any], out: Any) -> None:
    began = time.perf_counter()
    summary = job()
    seconds = time.perf_counter() - began
    out.put((seconds, _peak_mb(), summary))


def measure(job: Callable[[], Any]) -> tuple[float, tuple[float, float], Any]:
    """``job`` run in a fresh forked process: its seconds, peak memory (MB: the process,
    its largest worker) and what it returned."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    process = context.Process(target=_measured, args=(job, out))
    process.start()
    result = out.get(timeout=3600)
    process.join(60)
    return result  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=1500, help="downloads (one a device)")
    parser.add_argument("--records", type=int, default=16_384, help="records a download")
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts of the year")
    parser.add_argument("--workers", type=int, default=usable_cores(), help="processes")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best is kept")
    parser.add_argument("--seed", type=int, default=0, help="seed of the accounts")
    parser.add_argument("--dir", type=Path, default=None, help="where the downloads go")
    args = parser.parse_args()
    print(f"python           {platform.python_implementation()} {platform.python_version()}")
    print(f"cores            {os.cpu_count()} logical, {usable_cores()} usable by this process")
    print(f"load             {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    trust = TrustStore.from_pem(test_authority().root_pem())
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-reconcile-") as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        paths, issues_text = build(folder, args.devices, args.records)
        issues = parse_issues(issues_text)
        accounts = accounts_of(paths, issues_text, args.accounts, args.seed)
        size = sum(p.stat().st_size for p in paths)
        print(
            f"\na force-year: {len(paths):,} downloads of {args.records:,} records "
            f"({size / 1e6:,.0f} MB), {len(accounts):,} accounts of the year "
            f"{utc_text(YEAR[0])[:10]} to {utc_text(YEAR[1] - 1)[:10]}; "
            f"built in {time.perf_counter() - began:.0f} s (untimed)\n"
        )
        names = [str(p) for p in paths]
        jobs: dict[str, Callable[[], Any]] = {
            "read": lambda: (
                f"{sum(len(read_image(p.read_bytes()).records) for p in paths):,} records"
            ),
            "verify": lambda: _verified(verify_files(names, trust, workers=args.workers)),
            "reconcile": lambda: _summary(
                reconcile_downloads(
                    paths,
                    issues,
                    accounts,
                    trust=trust,
                    settings=ReconcileSettings(period=YEAR),
                    workers=args.workers,
                )
            ),
        }
        print(f"{'step':<10} {'seconds':>8} {'MB self':>8} {'MB worker':>10}  what")
        for name, job in jobs.items():
            best = min((measure(job) for _ in range(args.repeat)), key=lambda r: r[0])
            seconds, (own, worker), summary = best
            line = f"{name:<10} {seconds:8.1f} {own:8.0f} {worker:10.0f}  {summary}"
            if name == "reconcile":
                ok = seconds <= 60 and max(own, worker) <= 1024
                line += f"\n  target <= 60 s and <= 1 GB: {'PASS' if ok else 'MISS'}"
            print(line)


def _verified(outcomes: list[Any]) -> str:
    return f"{sum(o.report is not None and o.report.ok for o in outcomes):,} verified"


def _summary(run: Any) -> str:
    counts = run.result.counts()
    kinds: dict[str, int] = {}
    for use in run.result.uses:
        kinds[use.episode.kind.value] = kinds.get(use.episode.kind.value, 0) + 1
    episodes = ", ".join(f"{n:,} {k}" for k, n in sorted(kinds.items()))
    shown = ", ".join(f"{n:,} {k}" for k, n in counts.items() if n)
    return f"episodes: {episodes}; findings: {shown}"


if __name__ == "__main__":
    sys.exit(main())
