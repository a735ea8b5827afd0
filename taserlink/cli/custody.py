"""What ``link``, ``report``, ``reconcile``, ``home-office`` and ``scrutiny`` read the same
way: custody — an issue list (``--issues``) or the store room's register (``--register``),
read once with what its provenance needs — and the incident window (``--window``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from taserlink.cli.common import UsageError
from taserlink.errors import LinkError
from taserlink.forensics.issues import IssueList, issues_from_register, parse_utc, read_issues
from taserlink.forensics.link import Window
from taserlink.forensics.provenance import register_settings
from taserlink.provenance import Input, hash_file
from taserlink.register import open_register

__all__ = ["Custody", "add_custody_options", "add_window_option", "read_custody", "window_of"]


def add_custody_options(parser: argparse.ArgumentParser, *, required: bool, what: str) -> None:
    """``--issues ISSUES.csv | --register URL`` (one of them when ``required``); ``what``
    says what the custody is for, in the help."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--issues",
        metavar="ISSUES.csv",
        help=f"issue list{what}: serial, officer, issued_at, returned_at (ISO 8601 UTC)",
    )
    group.add_argument(
        "--register",
        metavar="URL",
        help=f"take custody{what} from the store room's register (its ledger's issues)",
    )


@dataclass(frozen=True)
class Custody:
    """Custody as read, with what names it in a provenance block.

    Attributes:
        issues: the issue list (from the file or the register).
        file: the issue list file, hashed; ``None`` for a register.
        register: the register's state (:func:`taserlink.forensics.provenance.
            register_settings`); ``None`` for a file.
    """

    issues: IssueList
    file: Input | None
    register: dict[str, Any] | None

    def provenance(self) -> dict[str, Any]:
        """The keyword arguments the provenance builders take: ``issues`` or ``register``."""
        return {"issues": self.file} if self.register is None else {"register": self.register}


def read_custody(args: argparse.Namespace) -> Custody:
    """The custody ``--issues`` or ``--register`` names (one of them must be given).

    Raises:
        InputFileError: the issue list cannot be read; RegisterError: the register cannot.
    """
    if args.issues is not None:
        return Custody(read_issues(args.issues), hash_file(args.issues, "issues"), None)
    store = open_register(args.register)
    try:
        issues = issues_from_register(store, args.register)
        return Custody(issues, None, register_settings(store, args.register))
    finally:
        store.close()


def add_window_option(parser: argparse.ArgumentParser) -> None:
    """``--window FROM TO``: the incident window, UTC."""
    parser.add_argument(
        "--window",
        nargs=2,
        metavar=("FROM", "TO"),
        help="incident window, UTC (e.g. 2026-03-06T19:40:00Z 2026-03-06T19:55:00Z)",
    )


def window_of(args: argparse.Namespace) -> Window | None:
    """The ``--window`` given, or ``None``.

    Raises:
        UsageError: a time that cannot be read, or a window that ends before it starts.
    """
    if args.window is None:
        return None
    times = []
    for name, text in zip(("FROM", "TO"), args.window, strict=True):
        try:
            times.append(parse_utc(text))
        except LinkError as error:
            raise UsageError(f"--window {name}: {error}") from None
    try:
        return Window(times[0], times[1])
    except LinkError as error:
        raise UsageError(f"--window: {error}") from None
