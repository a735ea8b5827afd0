"""What ``taserlink home-office`` and ``taserlink scrutiny`` share: the options of a
financial year's return and the reading and counting they ask for (design §8)."""

from __future__ import annotations

import argparse

from taserlink.cli.common import (
    UsageError,
    add_clock_options,
    add_roots_option,
    add_workers_option,
    clock_settings,
    root_paths,
    trusted_roots,
    workers_of,
)
from taserlink.errors import ReturnError
from taserlink.forensics.issues import IssueList, issues_from_register, read_issues
from taserlink.forensics.link import image_paths
from taserlink.forensics.provenance import register_settings
from taserlink.postuse.accounts import read_accounts, read_column_map
from taserlink.postuse.provenance import accounts_input
from taserlink.provenance import Input, Provenance, hash_file
from taserlink.register import open_register
from taserlink.returns.counting import financial_year_bounds
from taserlink.returns.fastcount import count_file
from taserlink.returns.homeoffice import (
    HomeOfficeReturn,
    home_office_return,
    return_without_downloads,
)
from taserlink.returns.parquet import require_pyarrow
from taserlink.returns.population import Population
from taserlink.returns.provenance import return_provenance

__all__ = ["add_return_options", "provenance_of", "return_of"]


def add_return_options(parser: argparse.ArgumentParser) -> None:
    """The options of a year's return, shared by ``home-office`` and ``scrutiny``:
    ``--accounts``, ``--year``, ``--images`` with ``--issues`` or ``--register``,
    ``--columns``, ``--out``, ``--parquet``, ``--roots``, the clock options and
    ``--workers``."""
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
        "--out", metavar="DIR", required=True, help="folder to write into (made if missing)"
    )
    parser.add_argument(
        "--parquet",
        metavar="DIR",
        help=(
            "also write DIR/uses/year=YYYY/part-0.parquet (one row per use) and, with "
            "--images, DIR/episodes/year=YYYY/part-0.parquet (one row per device episode): "
            "for DuckDB, pandas, Spark; needs pyarrow (pip install 'taserlink[parquet]')"
        ),
    )
    add_roots_option(parser, purpose=" to verify the downloads with")
    add_clock_options(parser, "the downloads' episodes")
    add_workers_option(parser, "downloads and devices")


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


def return_of(args: argparse.Namespace) -> tuple[Input, HomeOfficeReturn]:
    """The accounts file (as hashed when read) and the year's return counted, as the
    options of :func:`add_return_options` ask.

    Without ``--images`` the year is counted a column at a time
    (:func:`taserlink.returns.fastcount.count_file`, which falls back on ``read_accounts``
    for anything it is not certain of: the same result and the same errors); with them,
    every account is read for the reconciliation.

    Raises:
        UsageError: ``--issues`` or ``--register`` without ``--images``.
        MissingExtraError: ``--parquet`` without pyarrow installed (checked first).
        AccountsError, ReturnError, ReconcileError, RegisterError: bad input.
    """
    if args.images is None and (args.issues is not None or args.register is not None):
        raise UsageError("--issues and --register go with --images")
    if args.parquet is not None:
        require_pyarrow()  # before any work: a missing extra is one line, nothing written
    columns = None if args.columns is None else read_column_map(args.columns)
    if args.images is None and _good_year(args.year):
        counted = count_file(args.accounts, args.year, columns=columns)
        clock_settings(args)  # the options checked as the reconciling path checks them
        workers_of(args)
        source = Input(counted.path, counted.size, counted.sha256, "accounts")
        return source, return_without_downloads(counted.counted)
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
    return accounts_input(accounts), result


def _good_year(year: int) -> bool:
    """Whether ``year`` is a financial year the return can count (a bad one is reported
    after the accounts' problems, as ``home_office_return`` reports it)."""
    try:
        financial_year_bounds(year)
    except ReturnError:
        return False
    return True


def provenance_of(
    args: argparse.Namespace,
    accounts: Input,
    result: HomeOfficeReturn,
    *,
    population: Population | None = None,
    public: bool | None = None,
) -> Provenance:
    """The provenance of a return counted by :func:`return_of` from ``args``
    (:func:`taserlink.returns.provenance.return_provenance`): the column map and issue
    list hashed here, the register's state read (with ``--images``), the roots' fingerprints.

    Raises:
        ProvenanceError: a file named cannot be read to hash it.
    """
    columns = None if args.columns is None else hash_file(args.columns, "columns")
    issues = None
    register = None
    trust = None
    if result.run is not None:
        trust = root_paths(args).load()
        if args.issues is not None:
            issues = hash_file(args.issues, "issues")
        elif args.register is not None:
            store = open_register(args.register)
            try:
                register = register_settings(store, args.register)
            finally:
                store.close()
    return return_provenance(
        result,
        accounts,
        columns=columns,
        issues=issues,
        register=register,
        trust=trust,
        clock=clock_settings(args),
        population=population,
        public=public,
    )
