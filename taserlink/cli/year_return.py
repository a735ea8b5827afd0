"""What ``taserlink home-office`` and ``taserlink scrutiny`` share: the options of a
financial year's return and the reading and counting they ask for (design §8)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from taserlink.cli.common import (
    UsageError,
    add_clock_options,
    add_roots_option,
    add_workers_option,
    clock_settings,
    trusted_roots,
    workers_of,
)
from taserlink.cli.custody import Custody, add_custody_options, read_custody
from taserlink.errors import ReturnError
from taserlink.forensics.link import image_paths
from taserlink.integrity import TrustStore
from taserlink.postuse.accounts import read_accounts, read_column_map
from taserlink.postuse.provenance import accounts_input
from taserlink.provenance import Input, Provenance, hash_file
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
from taserlink.timeline import ClockSettings

__all__ = ["YearRead", "add_return_options", "provenance_of", "return_of"]


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
    add_custody_options(parser, required=False, what=" (with --images)")
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


@dataclass(frozen=True)
class YearRead:
    """A year's return counted as :func:`add_return_options`' options ask, with what its
    provenance names.

    Attributes:
        accounts: the accounts file, as hashed when read.
        result: the return.
        custody: the custody read for the downloads (``None`` without ``--images``).
        trust: the roots the downloads were verified against (``None`` without them).
        clock: the clock models' settings.
    """

    accounts: Input
    result: HomeOfficeReturn
    custody: Custody | None
    trust: TrustStore | None
    clock: ClockSettings


def return_of(args: argparse.Namespace) -> YearRead:
    """The accounts file and the year's return counted, as the options of
    :func:`add_return_options` ask.

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
    clock = clock_settings(args)
    if args.images is None and _good_year(args.year):
        counted = count_file(args.accounts, args.year, columns=columns)
        workers_of(args)  # the options checked as the reconciling path checks them
        source = Input(counted.path, counted.size, counted.sha256, "accounts")
        return YearRead(source, return_without_downloads(counted.counted), None, None, clock)
    accounts = read_accounts(args.accounts, columns=columns)
    paths = image_paths(args.images) if args.images is not None else []
    custody = None
    trust = None
    if paths:
        no_custody = args.issues is None and args.register is None
        custody = None if no_custody else read_custody(args)
        trust = trusted_roots(args)
    result = home_office_return(
        accounts.accounts,
        args.year,
        images=paths,
        issues=None if custody is None else custody.issues,
        trust=trust,
        clock=clock,
        workers=workers_of(args),
    )
    return YearRead(accounts_input(accounts), result, custody, trust, clock)


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
    read: YearRead,
    *,
    population: Population | None = None,
    public: bool | None = None,
) -> Provenance:
    """The provenance of a return :func:`return_of` counted
    (:func:`taserlink.returns.provenance.return_provenance`): the accounts, the column map,
    the downloads and the custody as read, the roots' fingerprints.

    Raises:
        ProvenanceError: the column map cannot be read again to hash it.
    """
    columns = None if args.columns is None else hash_file(args.columns, "columns")
    custody = {} if read.custody is None else read.custody.provenance()
    return return_provenance(
        read.result,
        read.accounts,
        columns=columns,
        trust=read.trust,
        clock=read.clock,
        population=population,
        public=public,
        **custody,
    )
