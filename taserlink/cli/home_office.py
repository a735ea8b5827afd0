"""``taserlink home-office --accounts ACCOUNTS.csv --year YYYY [--images DIR]
[--register URL | --issues CSV] [--roots DIR] [--columns MAP.json] --out DIR [--json]``:
the Home Office return of a financial year (design §8), with what the devices corroborate.

Writes into ``DIR`` (made if missing), each file atomically and byte-reproducible:
``reports.csv`` (one row per use, columns
:data:`~taserlink.returns.homeoffice.REPORT_COLUMNS`) and the four published tables
``ced-by-highest-use.csv``, ``ced-by-age.csv``, ``ced-by-ethnicity.csv``,
``ced-by-health.csv``.  The counting rules are :mod:`taserlink.returns.counting`'s, the
corroboration values :mod:`taserlink.returns.homeoffice`'s (docs/returns.md).

``--images`` is optional: without it every use naming a device is ``not_downloaded``.
Custody (``--register`` or ``--issues``) is read only with ``--images``; with ``--images``
and neither, the downloads are reconciled with no custody (corroboration compares the
accounts with the devices' logs, and does not depend on who held a device; ``taserlink
reconcile`` is where custody is judged).

Output on stdout: a text summary (the year, the uses, each table, the corroboration
counts), or with ``--json`` the same as one object
(:meth:`~taserlink.returns.homeoffice.HomeOfficeReturn.as_dict` with ``accounts``,
``out`` and ``files``).

Exit codes: 0 done; 2 bad input or usage (a bad year, an unreadable accounts file —
named with its line —, an unreadable download); 3 an output that cannot be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final, TextIO

from taserlink.cli.common import EXIT_OK
from taserlink.cli.year_return import add_return_options, return_of
from taserlink.returns.homeoffice import HomeOfficeReturn, write_return

__all__ = ["NAME", "register", "run", "write_text"]

NAME: Final = "home-office"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``home-office`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="the Home Office return of a financial year, with what the devices corroborate",
        description=(
            "Count a financial year's CED uses as the Home Office return does (one use = "
            "one device in one report, at its highest use; the year April-March by the "
            "report's start in UK local time) and write reports.csv and the four published "
            "tables (ced-by-highest-use, ced-by-age, ced-by-ethnicity, ced-by-health). With "
            "--images, each use is held against the device downloads. Exit 0 done, 2 bad "
            "input or usage, 3 output failure."
        ),
    )
    add_return_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="the summary as one JSON object on stdout"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Count the return, write its files into ``args.out``, summarise it on stdout."""
    accounts, result = return_of(args)
    written = write_return(result, args.out)
    if args.json:
        data = result.as_dict()
        data["accounts"] = {"path": accounts.path, "sha256": accounts.sha256}
        data["out"] = args.out
        data["files"] = [p.name for p in written]
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
    else:
        write_text(result, sys.stdout)
    return EXIT_OK


def write_text(result: HomeOfficeReturn, out: TextIO) -> None:
    """The summary: the year and uses, each table on a line, the corroboration counts."""
    year = result.year
    out.write(
        f"financial year {year}-04-01 to {year + 1}-03-31 (UK local time): "
        f"{len(result.rows)} CED use(s)\n"
    )
    for table in result.tables:
        cells = ", ".join(f"{row.label} {row.count}" for row in table.rows)
        out.write(f"{table.name}: {cells}\n")
    counts = result.corroboration_counts()
    out.write("corroboration: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + "\n")
