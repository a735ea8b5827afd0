"""What shaped a reconciliation: its provenance block (:mod:`taserlink.provenance`).

:func:`reconcile_provenance` names every download (hashed when it was surveyed: each file
is read once), the accounts file (hashed as it was read), the column map and the issue list
(or the register's identity and ledger length), and the settings: the tolerance, the
period, the clock model's settings and the trusted roots' fingerprints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from taserlink.forensics.provenance import (
    clock_settings,
    inputs_in_order,
    roots_settings,
    window_settings,
)
from taserlink.integrity import TrustStore
from taserlink.postuse.accounts import Accounts
from taserlink.postuse.driver import DownloadChecked
from taserlink.postuse.reconcile import ReconcileSettings
from taserlink.provenance import Input, Provenance, make_provenance
from taserlink.timeline import ClockSettings

__all__ = ["accounts_input", "downloads_inputs", "reconcile_provenance"]


def accounts_input(accounts: Accounts) -> Input:
    """The accounts file as read (its digest computed on the way: not read again)."""
    return Input(accounts.path, accounts.size, accounts.sha256, "accounts")


def downloads_inputs(downloads: Iterable[DownloadChecked]) -> tuple[Input, ...]:
    """The downloads as surveyed, by path."""
    return tuple(Input(d.path, d.size, d.sha256, "image") for d in downloads)


def reconcile_provenance(
    downloads: Iterable[DownloadChecked],
    accounts: Accounts,
    *,
    columns: Input | None = None,
    issues: Input | None = None,
    register: Mapping[str, Any] | None = None,
    trust: TrustStore | None,
    clock: ClockSettings,
    settings: ReconcileSettings,
) -> Provenance:
    """The provenance of ``taserlink reconcile`` (module docstring); ``columns`` and
    ``issues`` are the files hashed by the caller, ``register`` is
    :func:`taserlink.forensics.provenance.register_settings`."""
    return make_provenance(
        inputs_in_order(
            downloads_inputs(downloads),
            (accounts_input(accounts),),
            () if columns is None else (columns,),
            () if issues is None else (issues,),
        ),
        {
            "tolerance_ms": settings.tolerance_ms,
            **window_settings("period", settings.period),
            **clock_settings(clock),
            **roots_settings(trust),
            **({} if register is None else dict(register)),
        },
    )
