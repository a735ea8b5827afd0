"""Moving a register to another database: a station's SQLite file to the force's
PostgreSQL, or a backup back again.

:func:`copy_register` copies every table row for row from one snapshot of the source — the
ledger in sequence order with its own hashes, the head, the settings with the register's
identity — into an empty register, in one transaction, and then checks the copy: its chain
verifies entry by entry (the hashes do not depend on the engine) and ends at the source's
last hash.  The source is only read; terminals may go on writing to it meanwhile, and what
they write after the snapshot is not in the copy (its ledger head says how far it got).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from sqlalchemy import Connection, Table, select, update

from taserlink.errors import RegisterError
from taserlink.register import ledger as L
from taserlink.register.schema import items, ledger, ledger_head, officers, settings, trainings
from taserlink.register.store import Register, open_register

__all__ = ["copy_register"]

_CHUNK: Final = 5_000
"""Rows read and inserted at a time."""
_TABLES: Final = (officers, trainings, items, ledger)
"""Copied in this order (a training and an item name an officer)."""


def copy_register(source: Register, url: str) -> L.LedgerCheck:
    """Copy the register ``source`` into the database at ``url`` (made a register if it is
    not one; it must hold no officer, item or ledger entry) and verify the copy.

    Returns:
        the copy's verification (``ok``, its entry count and last hash equal to the
        source's at the moment it was read).

    Raises:
        RegisterError: the target is not empty, or the copy does not verify to the source's
            last entry (nothing is kept then).
        RegisterDatabaseError: either database failed.
    """
    target = open_register(url, create=True, operator=source.operator, terminal=source.terminal)
    try:
        with source._read() as src, target._write() as dst:
            for table in (officers, items, ledger):
                if dst.execute(select(table).limit(1)).first() is not None:
                    raise RegisterError(f"{url}: not an empty register ({table.name} has rows)")
            expected = L.verify_ledger(src)
            if not expected.ok:
                raise RegisterError(f"the source's ledger is broken: {expected.problem}")
            for table in _TABLES:
                for chunk in _chunks(src, table):
                    dst.execute(table.insert(), chunk)
            head = src.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
            dst.execute(update(ledger_head).values(seq=head.seq, hash=head.hash))
            for name, value in src.execute(select(settings.c.name, settings.c.value)):
                moved = dst.execute(
                    update(settings).where(settings.c.name == name).values(value=value)
                )
                if moved.rowcount == 0:
                    dst.execute(settings.insert().values(name=name, value=value))
            copied = L.verify_ledger(dst)
            if (copied.ok, copied.entries, copied.last_hash) != (
                True,
                expected.entries,
                expected.last_hash,
            ):
                raise RegisterError(f"the copy does not verify: {copied.problem}")
        return copied
    finally:
        target.close()


def _chunks(conn: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    """``table``'s rows in its primary key's order, ``_CHUNK`` at a time; a generated key
    (the trainings' ``id``) is left for the target to number, in the same order."""
    query = select(table).order_by(*table.primary_key.columns)
    generated = {c.name for c in table.primary_key.columns if c.autoincrement is True}
    result = conn.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
    for part in result.partitions():
        yield [{k: v for k, v in row._asdict().items() if k not in generated} for row in part]
