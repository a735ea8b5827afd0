"""``taserlink home-office --accounts ACCOUNTS.csv --year YYYY [--images DIR]
[--register URL | --issues CSV] [--roots DIR] [--columns MAP.json] --out DIR [--parquet DIR]
[--json]``:
the Home Office return of a financial year (design §8), with what the devices corroborate.

Writes into ``DIR`` (made if missing), each file atomically and byte-reproducible:
``reports.csv`` (one row per use, columns
:data:`~taserlink.returns.homeoffice.REPORT_COLUMNS`) and the four published tables
``ced-by-highest-use.csv``, ``ced-by-age.csv``, ``ced-by-ethnicity.csv``,
``ced-by-health.csv``, and ``provenance.json``: what the files were made from (the
accounts, column map, downloads and issue list by size and SHA-256, the year and the clock
and roots settings) and each file's SHA-256 (``outputs``; docs/provenance.md).  The
counting rules are :mod:`taserlink.returns.counting`'s, the
corroboration values :mod:`taserlink.returns.homeoffice`'s (docs/returns.md).

``--parquet DIR`` also writes the uses (and, with ``--images``, every episode of the
downloads) as Parquet partitioned by financial year, for analysts:
``DIR/uses/year=YYYY/part-0.parquet`` and ``DIR/episodes/year=YYYY/part-0.parquet``
(:mod:`taserlink.returns.parquet`, docs/returns.md "For analysts: Parquet").  It needs
pyarrow (``pip install 'taserlink[parquet]'``); without it the command stops before
reading anything, with one line saying so (exit 2).  The CSV files are written first: a
``--parquet`` folder that holds another return's files is refused (exit 2) after them.

``--images`` is optional: without it every use naming a device is ``not_downloaded``.
Custody (``--register`` or ``--issues``) is read only with ``--images``; with ``--images``
and neither, the downloads are reconciled with no custody (corroboration compares the
accounts with the devices' logs, and does not depend on who held a device; ``taserlink
reconcile`` is where custody is judged).

Output on stdout: a text summary (the year, the uses, each table, the corroboration
counts), or with ``--json`` the same as one object
(:meth:`~taserlink.returns.homeoffice.HomeOfficeReturn.as_dict` with ``accounts``,
``out`` and ``files``, with ``--parquet`` ``parquet``: the files written, relative to
its folder, and ``provenance``: the block of ``provenance.json`` without its outputs).

Exit codes: 0 done; 2 bad input or usage (a bad year, an unreadable accounts file —
named with its line —, an unreadable download, ``--parquet`` without pyarrow, a
``--parquet`` folder holding another return's files); 3 an output that cannot be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final, TextIO

from taserlink.cli.common import EXIT_OK
from taserlink.cli.year_return import add_return_options, provenance_of, return_of
from taserlink.provenance import write_folder_provenance
from taserlink.returns.homeoffice import HomeOfficeReturn, write_return
from taserlink.returns.parquet import write_parquet

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
            "--images, each use is held against the device downloads. With --parquet, the "
            "uses (and the downloads' episodes) are also written as Parquet partitioned by "
            "financial year (needs pip install 'taserlink[parquet]'). Exit 0 done, 2 bad "
            "input or usage (--parquet without pyarrow too), 3 output failure."
        ),
    )
    add_return_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="the summary as one JSON object on stdout"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Count the return, write its files into ``args.out``, summarise it on stdout."""
    read = return_of(args)
    result, accounts = read.result, read.accounts
    provenance = provenance_of(args, read)
    written = write_return(result, args.out)
    write_folder_provenance(provenance, args.out, [p.name for p in written])
    parquet = () if args.parquet is None else write_parquet(result, args.parquet, accounts=accounts)
    if args.json:
        data = result.as_dict()
        data["accounts"] = {"path": accounts.path, "sha256": accounts.sha256}
        data["out"] = args.out
        data["files"] = [p.name for p in written]
        if args.parquet is not None:
            data["parquet"] = [p.relative_to(args.parquet).as_posix() for p in parquet]
        data["provenance"] = provenance.as_dict()
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
    else:
        write_text(result, sys.stdout)
        if args.parquet is not None:
            sys.stdout.write(f"parquet: {len(parquet)} file(s) under {args.parquet}\n")
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
