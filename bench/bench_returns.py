#!/usr/bin/env python3
"""The Home Office return counted from a large accounts file.

    python bench/bench_returns.py                    # 1,000,000 accounts
    python bench/bench_returns.py --accounts 100000

Builds (untimed) an ``ACCOUNTS.csv`` of ``--accounts`` rows with
:func:`taserlink.returns.forceyear.force_year` (the national year to March 2020's mix of
highest uses scaled up: multiply-ticked forms, two-device reports, incidents of several
reports, decoys outside the year), then times on that file in the same run (best of
``--repeat``):

- ``csv``: the peer — Python's ``csv`` module reading every row and nothing else (the
  floor any Python reader of the file pays);
- ``read``: :func:`taserlink.postuse.accounts.read_accounts`, the verifying path (every
  value checked by the contract's rules, one row at a time);
- ``count``: :func:`~taserlink.returns.counting.count_return` alone, on the accounts read;
- ``return``: ``read_accounts`` and ``count_return`` for the year: the uses and the four
  tables as ``taserlink home-office`` computed them before the fast path;
- ``fast``: :func:`taserlink.returns.fastcount.count_file`, the columnar fast path, from
  the file to the same uses and tables (checked equal to ``return``'s, and checked to have
  taken the fast path) — what ``taserlink home-office`` without ``--images`` computes;
- ``reports``: ``reports.csv``'s bytes for those uses
  (:func:`~taserlink.returns.homeoffice.return_without_downloads` and
  :func:`~taserlink.returns.homeoffice.reports_csv`), what the command then writes.

Target (issue 14): the tables of 1,000,000 accounts in ≤ 10 s, reading included — judged
on ``fast``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy
from common import best_of, machine_info, verdict

from taserlink.postuse.accounts import read_accounts, write_accounts
from taserlink.returns.counting import count_return
from taserlink.returns.fastcount import COLUMNAR, count_file
from taserlink.returns.forceyear import DECOYS, force_year
from taserlink.returns.homeoffice import reports_csv, return_without_downloads
from taserlink.returns.published import NATIONAL_2019 as NATIONAL

TARGET_S = 10.0


def _scaled(total: int) -> dict[str, int]:
    whole = sum(NATIONAL.values())
    counts = {k: v * total // whole for k, v in NATIONAL.items()}
    counts["red_dotted"] += total - sum(counts.values())
    return counts


def _csv_only(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as stream:
        return sum(1 for _ in csv.reader(stream)) - 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    for line in machine_info({"numpy": numpy.__version__}):
        print(line)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ACCOUNTS.csv"
        started = time.perf_counter()
        uses = args.accounts - DECOYS
        write_accounts(force_year(2019, _scaled(uses), seed=1), path)
        size = path.stat().st_size
        print(
            f"built {args.accounts:,} accounts ({size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - started:.0f} s (untimed)\n"
        )
        peer, rows = best_of(args.repeat, lambda: _csv_only(path))
        read, accounts = best_of(args.repeat, lambda: read_accounts(path))
        count, _ = best_of(args.repeat, lambda: count_return(accounts.accounts, 2019))
        whole, counted = best_of(args.repeat, lambda: count_return(read_accounts(path), 2019))
        fast, counted_file = best_of(args.repeat, lambda: count_file(path, 2019))
        assert counted_file.path_taken == COLUMNAR and counted_file.counted == counted
        assert rows == args.accounts and len(counted.uses) == uses
        result = return_without_downloads(counted_file.counted)
        written, data = best_of(
            args.repeat, lambda: reports_csv(return_without_downloads(counted_file.counted))
        )
        assert data == reports_csv(result)
    print(f"{'step':<9}{'seconds':>9}{'µs/row':>9}  vs csv")
    steps = (
        ("csv", peer),
        ("read", read),
        ("count", count),
        ("return", whole),
        ("fast", fast),
        ("reports", written),
    )
    for name, seconds in steps:
        print(
            f"{name:<9}{seconds:>9.2f}{seconds / args.accounts * 1e6:>9.2f}  "
            f"{seconds / peer:>5.1f}×"
        )
    print(f"\nreports.csv: {len(data) / 1e6:.0f} MB, {len(result.rows):,} uses")
    before, scaled = (t * 1_000_000 / args.accounts for t in (whole, fast))
    print(
        f"target: the tables of 1,000,000 accounts in ≤ {TARGET_S:.0f} s, reading included: "
        f"fast path {scaled:.1f} s (scaled) {verdict(scaled <= TARGET_S)}; "
        f"read_accounts + count_return {before:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
