#!/usr/bin/env python3
"""The oversight group's pack for a force-year, from the accounts file to the written folder.

    python bench/bench_scrutiny.py                       # 211, 10,000 and 32,058 uses
    python bench/bench_scrutiny.py --uses 10000 --repeat 5

Builds (untimed) an ``ACCOUNTS.csv`` per size with
:func:`taserlink.returns.forceyear.force_year` — Derbyshire's year to March 2020 (211
uses), a large force's (10,000, the Derbyshire mix scaled) and the national year (32,058)
— then times, on each file in the same run (best of ``--repeat``):

- ``return``: the peer — ``taserlink home-office``'s work: read the accounts, count the
  year, write ``reports.csv`` and the four tables;
- ``figures``: the pack's figures alone (:func:`~taserlink.returns.scrutiny.scrutinise`
  and :func:`~taserlink.returns.scrutiny.pack_tables`, full and public) on the return;
- ``pages``: :func:`~taserlink.report.scrutiny.build_pack` alone (the plots drawn by
  matplotlib, the page, the CSVs and JSON), full and public;
- ``pack``: what ``taserlink scrutiny --population`` does, end to end in-process: read,
  count, figures, plots, write — the figure the target is about.

Target (issue 14): the scrutiny pack for a force-year in ≤ 10 s, from its accounts.  With
``--images`` the downloads are reconciled first; that cost is ``bench_reconcile.py``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

import matplotlib
from common import best_of, machine_info, verdict

from taserlink.cli import main as taserlink
from taserlink.postuse.accounts import read_accounts, write_accounts
from taserlink.report.scrutiny import build_pack
from taserlink.returns.forceyear import force_year
from taserlink.returns.homeoffice import home_office_return
from taserlink.returns.population import DERBYSHIRE_2011, population_csv
from taserlink.returns.published import DERBYSHIRE_2019, NATIONAL_2019
from taserlink.returns.scrutiny import pack_tables, scrutinise

TARGET_S = 10.0
SIZES = (211, 10_000, 32_058)


def _mix(uses: int) -> dict[str, int]:
    source = NATIONAL_2019 if uses == sum(NATIONAL_2019.values()) else DERBYSHIRE_2019
    whole = sum(source.values())
    counts = {k: v * uses // whole for k, v in source.items()}
    counts["red_dotted"] += uses - sum(counts.values())
    return counts


def _quiet(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return taserlink(argv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--uses", type=int, action="append", help="sizes (default 211 10000 32058)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = tuple(args.uses) if args.uses else SIZES
    for line in machine_info({"matplotlib": matplotlib.__version__}):
        print(line)
    print(f"\n{'uses':>7}{'return':>9}{'figures':>9}{'pages':>9}{'pack':>9}  target")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        population = folder / "POPULATION.csv"
        population.write_bytes(population_csv(DERBYSHIRE_2011.counts))
        for uses in sizes:
            accounts = folder / f"ACCOUNTS-{uses}.csv"
            write_accounts(force_year(2019, _mix(uses), seed=uses), accounts)
            base = ["--accounts", str(accounts), "--year", "2019"]
            returned, _ = best_of(
                args.repeat,
                lambda base=base: _quiet(["home-office", *base, "--out", str(folder / "ho")]),
            )
            result = home_office_return(read_accounts(accounts).accounts, 2019)
            scaled = DERBYSHIRE_2011 if uses <= 1_000 else None

            def figures(result=result, population=scaled):  # type: ignore[no-untyped-def]
                found = scrutinise(result, population)
                return found, pack_tables(found), pack_tables(found, public=True)

            counted, (found, *_) = best_of(args.repeat, figures)
            drawn, _ = best_of(
                args.repeat, lambda found=found: (build_pack(found), build_pack(found, public=True))
            )
            pop = ["--population", str(population)] if uses <= 1_000 else []
            whole, code = best_of(
                args.repeat,
                lambda base=base, pop=pop: _quiet(
                    ["scrutiny", *base, *pop, "--out", str(folder / "pack")]
                ),
            )
            assert code == 0
            worst = max(worst, whole)
            print(
                f"{uses:>7,}{returned:>9.2f}{counted:>9.2f}{drawn:>9.2f}{whole:>9.2f}  "
                f"{verdict(whole <= TARGET_S)}"
            )
    print(
        f"\nseconds, best of {args.repeat}; target: the pack for a force-year in "
        f"≤ {TARGET_S:.0f} s from its accounts: slowest {worst:.2f} s {verdict(worst <= TARGET_S)}"
        "\n(rates only against the Derbyshire census for the Derbyshire-sized year: a larger "
        "year has more uses of some group than Derbyshire has people)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
