"""``taserlink scrutiny --accounts ACCOUNTS.csv --year YYYY [--population POPULATION.csv]
[--images DIR [--register URL | --issues CSV]] [--columns MAP.json] --out DIR [--public]
[--parquet DIR]``:
the oversight group's pack for a financial year (design §8).

Writes into ``DIR`` (made if missing), each file atomically and byte-reproducible:
``index.html`` (self-contained: plots inline, nothing loaded from elsewhere; open it in any
browser), every table as ``<name>.csv``, ``scrutiny.json`` with every figure (its
``rates`` as design §8 gives them) and the provenance block, and ``provenance.json``: the
block with every file of the pack by SHA-256 (docs/provenance.md).  The figures are
:mod:`taserlink.returns.scrutiny`'s, the counting the Home Office return's
(docs/returns.md).

``--population`` gives the rates per 10,000 and the ratios to White (without it there are
none); ``--images`` the energy applications, repeated cycles and corroboration from the
device logs.  ``--public`` withholds counts under 5 (``<5``) and whatever would give one
away (``[c]``), and leaves out the lists of reports.  ``--parquet DIR`` also writes the
year's uses (and with ``--images`` the downloads' episodes) as Parquet, as ``taserlink
home-office --parquet`` does: record-level data, for the force's analysts, never for
publication (``--public`` does not apply to it).

Output on stdout: the pack's key figures in sentences, then the files written.

Exit codes: 0 done; 2 bad input or usage (a bad year, an unreadable accounts or population
file — named with its line —, an unreadable download, ``--parquet`` without pyarrow or
into a folder holding another return's files); 3 an output that cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final

from taserlink.cli.common import EXIT_OK
from taserlink.cli.year_return import add_return_options, provenance_of, return_of
from taserlink.report.scrutiny import build_pack, summary, write_pack
from taserlink.returns.parquet import write_parquet
from taserlink.returns.population import read_population
from taserlink.returns.scrutiny import scrutinise

__all__ = ["NAME", "register", "run"]

NAME: Final = "scrutiny"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scrutiny`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="the oversight group's pack for a financial year: index.html, CSV tables, JSON",
        description=(
            "Make the oversight group's pack for a financial year: uses by month and "
            "highest use, discharges, subjects' age, ethnicity and health, rates per 10,000 "
            "and the ratio to White with 95%% confidence intervals (--population), uses on "
            "under-18s, and with --images long energy applications, repeated cycles and "
            "reports the device contradicts. Writes index.html (self-contained), every table "
            "as CSV and scrutiny.json. --public withholds counts under 5. Exit 0 done, 2 bad "
            "input or usage, 3 output failure."
        ),
    )
    add_return_options(parser)
    parser.add_argument(
        "--population",
        metavar="POPULATION.csv",
        help="the force area's population by ethnic group (group,population), for the rates",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="for publication: counts under 5 shown as <5, lists of reports left out",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Make the pack, write it into ``args.out``, print its key figures and files."""
    population = None if args.population is None else read_population(args.population)
    read = return_of(args)
    result, accounts = read.result, read.accounts
    figures = scrutinise(result, population)
    provenance = provenance_of(args, read, population=population, public=args.public)
    pack = build_pack(figures, public=args.public, provenance=provenance)
    written = write_pack(pack, args.out)
    parquet = () if args.parquet is None else write_parquet(result, args.parquet, accounts=accounts)
    out = sys.stdout
    for line in summary(figures, public=args.public):
        out.write(line + "\n")
    out.write(f"wrote {len(written)} files to {args.out}: " + ", ".join(p.name for p in written))
    out.write("\n")
    if args.parquet is not None:
        out.write(f"parquet: {len(parquet)} file(s) under {args.parquet}\n")
    return EXIT_OK
