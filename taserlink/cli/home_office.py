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

Without ``--images`` the year is counted from the file a column at a time
(:func:`taserlink.returns.fastcount.count_file`, some 3 times faster), which leaves any
file it is not certain of to ``read_accounts``: the files written, the summary and the
errors are the same either way.

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

from taserlink.cli.common import (
    EXIT_OK,
    UsageError,
    add_clock_options,
    add_roots_option,
    add_workers_option,
    clock_settings,
    trusted_roots,
    workers_of,
)
from taserlink.errors import ReturnError
from taserlink.forensics.issues import IssueList, issues_from_register, read_issues
from taserlink.forensics.link import image_paths
from taserlink.postuse.accounts import read_accounts, read_column_map
from taserlink.register import open_register
from taserlink.returns.counting import financial_year_bounds
from taserlink.returns.fastcount import count_file
from taserlink.returns.homeoffice import (
    HomeOfficeReturn,
    home_office_return,
    return_without_downloads,
    write_return,
)

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
    parser.add_argument(
        "--accounts", metavar="ACCOUNTS.csv", required=True, help="the officers' accounts"
    )
    parser.add_argument(
        "--year",
        metavar="YYYY",
        type=int,
        required=True,
        help="the financial year: YYYY-04-01 to (YYYY+1)-03-31, UK local time",
    )
    parser.add_argument(
        "--images", metavar="DIR", help="directory of device downloads (*.tdi) to corroborate with"
    )
    custody = parser.add_mutually_exclusive_group()
    custody.add_argument(
        "--issues",
        metavar="ISSUES.csv",
        help="issue list for --images: serial, officer, issued_at, returned_at",
    )
    custody.add_argument(
        "--register", metavar="URL", help="take custody for --images from the register"
    )
    parser.add_argument(
        "--columns",
        metavar="MAP.json",
        help="column map for a force's own export of the accounts (docs/postuse.md)",
    )
    parser.add_argument(
        "--out", metavar="DIR", required=True, help="folder to write the return into"
    )
    add_roots_option(parser, purpose=" to verify the downloads with")
    add_clock_options(parser, "the downloads' episodes")
    add_workers_option(parser, "downloads and devices")
    parser.add_argument(
        "--json", action="store_true", help="the summary as one JSON object on stdout"
    )
    return parser


def _custody(args: argparse.Namespace) -> IssueList | None:
    if args.issues is not None:
        return read_issues(args.issues)
    if args.register is not None:
        store = open_register(args.register)
        try:
            return issues_from_register(store, args.register)
        finally:
            store.close()
    return None


def run(args: argparse.Namespace) -> int:
    """Count the return, write its files into ``args.out``, summarise it on stdout."""
    if args.images is None and (args.issues is not None or args.register is not None):
        raise UsageError("--issues and --register go with --images")
    columns = None if args.columns is None else read_column_map(args.columns)
    if args.images is None and _good_year(args.year):
        # no downloads: the year counted a column at a time (count_file falls back on
        # read_accounts for anything it is not certain of); the checks in the same order
        counted = count_file(args.accounts, args.year, columns=columns)
        clock_settings(args)
        workers_of(args)
        result = return_without_downloads(counted.counted)
        source = {"path": counted.path, "sha256": counted.sha256}
    else:
        accounts = read_accounts(args.accounts, columns=columns)
        paths = image_paths(args.images) if args.images is not None else []
        result = home_office_return(
            accounts.accounts,
            args.year,
            images=paths,
            issues=_custody(args) if paths else None,
            trust=trusted_roots(args) if paths else None,
            clock=clock_settings(args),
            workers=workers_of(args),
        )
        source = {"path": accounts.path, "sha256": accounts.sha256}
    written = write_return(result, args.out)
    if args.json:
        data = result.as_dict()
        data["accounts"] = source
        data["out"] = args.out
        data["files"] = [p.name for p in written]
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
    else:
        write_text(result, sys.stdout)
    return EXIT_OK


def _good_year(year: int) -> bool:
    """Whether ``year`` is a financial year the return can count (a bad one is reported
    after the accounts' problems, as ``home_office_return`` reports it)."""
    try:
        financial_year_bounds(year)
    except ReturnError:
        return False
    return True


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
