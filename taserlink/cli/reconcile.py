"""``taserlink reconcile --images DIR --accounts ACCOUNTS.csv (--register URL | --issues CSV)
[--from T --to T] [--tolerance MIN] [--columns MAP.json] [--roots DIR] [--json | --csv]``:
every use episode the devices logged, held against the officers' accounts (design §8).

Inputs: every ``*.tdi`` directly in ``DIR`` (several downloads of one device are merged
into its timeline), ``ACCOUNTS.csv`` (README "Use-of-force accounts"; ``--columns`` reads
a force's own export through a column map, docs/postuse.md), and custody from the register
or an issue list.  Every download is verified against the trusted roots as ``taserlink
verify`` finds them.  The reconciliation is
:func:`taserlink.postuse.driver.reconcile_downloads`'s; docs/postuse.md explains each
finding and how to read it.

Output:

- text (default): the SPOC's queue — the errors, then the warnings, each oldest first, one
  line each — then the counts of every finding kind and of the episodes;
- ``--csv``: one row per finding, columns :data:`CSV_COLUMNS`;
- ``--json``: ``{"episodes", "findings", "counts", "settings", "downloads",
  "clock_warnings", "accounts", "provenance"}`` (the first two as design §8 fixes them;
  ``provenance`` :func:`taserlink.postuse.provenance.reconcile_provenance`: every download,
  the accounts, the column map and the issue list by size and SHA-256 — or the register's
  identity and ledger length —, the tolerance, period, clock settings and trusted roots'
  fingerprints; docs/provenance.md).

``reconcile`` reads no match file, so it has no match file to check.

Exit codes: 0 no ``error`` finding; 1 some ``error`` finding; 2 bad input or usage (a
folder with no download, an unreadable download or accounts file — named with its line —,
a bad time); 3 the output cannot be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final, TextIO

from taserlink.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    add_clock_options,
    add_output_options,
    add_roots_option,
    add_workers_option,
    clock_settings,
    trusted_roots,
    workers_of,
)
from taserlink.cli.custody import add_custody_options, read_custody
from taserlink.errors import LinkError
from taserlink.findings import Severity
from taserlink.forensics.issues import parse_utc
from taserlink.forensics.link import image_paths
from taserlink.postuse.accounts import read_accounts, read_column_map
from taserlink.postuse.driver import ReconcileRun, reconcile_downloads
from taserlink.postuse.episodes import EpisodeKind
from taserlink.postuse.provenance import reconcile_provenance
from taserlink.postuse.reconcile import FindingKind, ReconcileSettings
from taserlink.provenance import hash_file
from taserlink.spreadsheet import csv_writer
from taserlink.timeline.times import utc_text

__all__ = ["CSV_COLUMNS", "NAME", "register", "run", "write_csv", "write_text"]

NAME: Final = "reconcile"
CSV_COLUMNS: Final = (
    "kind",
    "severity",
    "utc",
    "device",
    "seq_first",
    "seq_last",
    "report",
    "officer",
    "message",
)
"""Columns of ``--csv`` output (one row per finding), in order."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``reconcile`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="hold every use the devices logged against the officers' accounts",
        description=(
            "Find each time a device left the holster (its use episodes, with corrected UTC "
            "± bound and who held it) and hold the officers' accounts against them: uses no "
            "account covers, accounts whose highest use, cartridges, cycles or officer the "
            "device contradicts, energy applications over 5 s, accounts no download covers. "
            "Prints the SPOC's queue (errors, then warnings, oldest first) and the counts. "
            "Exit 0 no error finding, 1 an error finding, 2 bad input or usage, 3 output "
            "failure."
        ),
    )
    parser.add_argument(
        "--images", metavar="DIR", required=True, help="directory of device downloads (*.tdi)"
    )
    parser.add_argument(
        "--accounts", metavar="ACCOUNTS.csv", required=True, help="the officers' accounts"
    )
    parser.add_argument(
        "--columns",
        metavar="MAP.json",
        help="column map for a force's own export of the accounts (docs/postuse.md)",
    )
    add_custody_options(parser, required=True, what="")
    parser.add_argument("--from", dest="start", metavar="T", help="only from this UTC time")
    parser.add_argument("--to", dest="end", metavar="T", help="only before this UTC time")
    parser.add_argument(
        "--tolerance",
        metavar="MIN",
        type=float,
        default=15.0,
        help="how far an account's times may lie from the device's, minutes (default 15)",
    )
    add_roots_option(parser)
    add_clock_options(parser, "episodes")
    add_workers_option(parser, "downloads and devices")
    add_output_options(parser, "one CSV row per finding: " + ",".join(CSV_COLUMNS))
    return parser


def _time(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_utc(text)
    except LinkError as error:
        raise UsageError(f"{name}: {error}") from None


def settings_of(args: argparse.Namespace) -> ReconcileSettings:
    """The reconciliation's settings from the command's options.

    Raises:
        UsageError: a bad time, only one of ``--from``/``--to``, or a negative tolerance.
    """
    start, end = _time("--from", args.start), _time("--to", args.end)
    if (start is None) != (end is None):
        raise UsageError("--from and --to go together")
    if start is not None and end is not None and end <= start:
        raise UsageError("--to must be after --from")
    if not 0 <= args.tolerance <= 24 * 60:
        raise UsageError("--tolerance: minutes from 0 to 1440")
    period = None if start is None or end is None else (start, end)
    return ReconcileSettings(tolerance_ms=round(args.tolerance * 60_000), period=period)


def run(args: argparse.Namespace) -> int:
    """Reconcile, write the result on stdout in ``args.output`` form, return the exit code."""
    settings = settings_of(args)
    paths = image_paths(args.images)
    columns = None if args.columns is None else read_column_map(args.columns)
    accounts = read_accounts(args.accounts, columns=columns)
    custody = read_custody(args)
    named = custody.provenance()
    if args.columns is not None:
        named["columns"] = hash_file(args.columns, "columns")
    trust = trusted_roots(args)
    clock = clock_settings(args)
    result = reconcile_downloads(
        paths,
        custody.issues,
        accounts.accounts,
        trust=trust,
        clock=clock,
        settings=settings,
        workers=workers_of(args),
    )
    if args.output == "json":
        data = result.as_dict()
        data["accounts"] = {"path": accounts.path, "sha256": accounts.sha256}
        data["provenance"] = reconcile_provenance(
            result.downloads, accounts, trust=trust, clock=clock, settings=settings, **named
        ).as_dict()
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
    elif args.output == "csv":
        write_csv(result, sys.stdout)
    else:
        write_text(result, sys.stdout)
    return EXIT_FINDINGS if result.result.has_errors else EXIT_OK


def write_csv(run: ReconcileRun, out: TextIO) -> None:
    """One row per finding, columns :data:`CSV_COLUMNS`, most urgent first."""
    writer = csv_writer(out)
    writer.writerow(CSV_COLUMNS)
    for finding in run.result.findings:
        row = finding.as_dict()
        writer.writerow(row[column] for column in CSV_COLUMNS)


def write_text(run: ReconcileRun, out: TextIO) -> None:
    """The SPOC's queue, then the counts."""
    result = run.result
    queue = result.queue()
    unverified = [d for d in run.downloads if d.verified is False]
    out.write(
        f"{len(run.downloads)} download(s) of {len({d.device for d in run.downloads})} "
        f"device(s), {len(unverified)} failing verification\n"
    )
    for download in unverified:
        out.write(f"  NOT VERIFIED {download.path}: {'; '.join(download.problems)}\n")
    for warning in run.clock_warnings:
        out.write(f"  clock: {warning}\n")
    out.write(f"\nneeds a person ({len(queue)}):\n" if queue else "\nnothing needs a person\n")
    for finding in queue:
        label = "ERROR" if finding.severity is Severity.ERROR else "warning"
        out.write(
            f"{label:<7} {finding.kind.value:<18} {utc_text(finding.utc_ms)}  {finding.message}\n"
        )
    kinds = {k: 0 for k in EpisodeKind}
    for use in result.uses:
        kinds[use.episode.kind] += 1
    counts = result.counts()
    out.write(
        "\nepisodes: "
        + ", ".join(f"{n} {kind.value}" for kind, n in kinds.items())
        + "\nfindings: "
        + ", ".join(f"{counts[k.value]} {k.value}" for k in FindingKind)
        + "\n"
    )
