"""The store room's register: officers and their authority, devices, cartridges, and a
ledger no one can quietly rewrite (design §7).

::

    from taserlink.register import open_register

    register = open_register("sqlite:///store.db", create=True, operator="PS 88")
    register.add_officer("PC 2231", "A. Example", "Ripley", initial=date(2026, 2, 1))
    register.add_devices([("DK6TM76B7R", "X2", "3.1.0")])
    register.issue("PC 2231", ["DK6TM76B7R"])
    print(register.item_status("DK6TM76B7R").as_dict(), register.verify().ok)

Modules: :mod:`~taserlink.register.schema` (the tables),
:mod:`~taserlink.register.migrations` (Alembic revisions),
:mod:`~taserlink.register.authority` (rule 1), :mod:`~taserlink.register.ledger` (the
chain), :mod:`~taserlink.register.store` (:class:`Register`).
"""

from taserlink.register.authority import Authority, authority_on
from taserlink.register.ledger import Entry, LedgerCheck
from taserlink.register.store import (
    DEFAULT_URL,
    IssuePeriod,
    ItemStatus,
    OfficerStatus,
    Register,
    open_register,
)

__all__ = [
    "DEFAULT_URL",
    "Authority",
    "Entry",
    "IssuePeriod",
    "ItemStatus",
    "LedgerCheck",
    "OfficerStatus",
    "Register",
    "authority_on",
    "open_register",
]
