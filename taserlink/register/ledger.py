"""The register's ledger: every movement and event, append-only, each entry chained to the
one before by SHA-256.

An entry's hash is the SHA-256 of its canonical form: the JSON array ``[prev_hash, seq,
at_ms, operator, terminal, event, officer, item, detail]`` (UTF-8, no spaces, keys of
``detail`` sorted).  Entry 1 follows :data:`GENESIS`.  The ``ledger_head`` row holds the
last entry's sequence and hash, and every write locks it first, so entries are numbered and
chained one at a time whatever the number of terminals.  Nothing in taserlink updates or
deletes a ledger row, and the database refuses it too (triggers); someone who drops the
triggers and edits, removes, inserts or reorders rows is named by :func:`verify_ledger`:
the first entry whose own fields no longer give its hash (edited), or that does not follow
the entry before it (inserted, removed or reordered), or a head that the last entry does
not reach (the newest entries removed).  ``docs/register.md`` shows the same check by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring as _string
from typing import Any, Final

from sqlalchemy import Connection, bindparam, select, update

from taserlink.register.schema import ledger, ledger_head

__all__ = [
    "GENESIS",
    "Entry",
    "LedgerCheck",
    "append",
    "append_all",
    "entries",
    "entry_hash",
    "verify_ledger",
]

GENESIS: Final = "0" * 64
"""The hash entry 1 follows."""
_CHUNK: Final = 10_000
_integer: Final = int.__repr__
"""How ``json`` writes an integer."""
# Statements built once: building one costs more than running it on SQLite.
_LOCK_HEAD = (
    select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1).with_for_update()
)
_WALK = select(
    ledger.c.seq,
    ledger.c.at_ms,
    ledger.c.operator,
    ledger.c.terminal,
    ledger.c.event,
    ledger.c.officer,
    ledger.c.item,
    ledger.c.detail,
    ledger.c.prev_hash,
    ledger.c.hash,
).order_by(ledger.c.seq)
_MOVE_HEAD = (
    update(ledger_head)
    .where(ledger_head.c.id == 1)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)


@dataclass(frozen=True)
class Entry:
    """One ledger entry, as stored."""

    seq: int
    at_ms: int
    """When it happened (Unix ms UTC)."""
    operator: str
    terminal: str
    event: str
    officer: str | None
    item: str | None
    detail: str
    """Canonical JSON of the event's particulars."""
    prev_hash: str
    hash: str

    def details(self) -> dict[str, Any]:
        """``detail`` as a dict."""
        value: dict[str, Any] = json.loads(self.detail)
        return value


@dataclass(frozen=True)
class LedgerCheck:
    """What :func:`verify_ledger` found."""

    entries: int
    """Entries read."""
    ok: bool
    seq: int | None = None
    """The first entry concerned (``None`` when the chain holds)."""
    problem: str | None = None
    """One line: what is wrong there."""
    last_hash: str | None = None
    """The last entry's hash when the chain holds (``None`` for an empty ledger): with the
    entry count, it names the state of the ledger that was checked."""


def canonical(detail: Mapping[str, Any]) -> str:
    """``detail`` as canonical JSON (sorted keys, no spaces)."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    prev_hash: str,
    seq: int,
    at_ms: int,
    operator: str,
    terminal: str,
    event: str,
    officer: str | None,
    item: str | None,
    detail: str,
) -> str:
    """The SHA-256 (hex) of an entry's canonical form (see the module docstring): the text
    ``json.dumps([prev_hash, seq, at_ms, operator, terminal, event, officer, item, detail],
    separators=(",", ":"), ensure_ascii=False)`` in UTF-8.  The text is put together from
    the pieces ``json`` itself uses (its string encoder, ``int.__repr__``, ``null``): equal
    to it (tested) and five times faster to make."""
    officer_text = "null" if officer is None else _string(officer)
    item_text = "null" if item is None else _string(item)
    text = (
        f"[{_string(prev_hash)},{_integer(seq)},{_integer(at_ms)},{_string(operator)},"
        f"{_string(terminal)},{_string(event)},{officer_text},{item_text},{_string(detail)}]"
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(
    conn: Connection,
    *,
    at_ms: int,
    operator: str,
    terminal: str,
    event: str,
    officer: str | None = None,
    item: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Entry:
    """Append one entry in the caller's transaction, after locking the head row.

    The lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write transaction is already
    exclusive) keeps two terminals from taking the same sequence number.
    """
    (entry,) = append_all(
        conn,
        at_ms=at_ms,
        operator=operator,
        terminal=terminal,
        events=[(event, officer, item, detail)],
    )
    return entry


def append_all(
    conn: Connection,
    *,
    at_ms: int,
    operator: str,
    terminal: str,
    events: Sequence[tuple[str, str | None, str | None, Mapping[str, Any] | None]],
    head: tuple[int, str] | None = None,
) -> list[Entry]:
    """Append ``events`` — ``(event, officer, item, detail)`` — in order, as :func:`append`
    would one by one: the head locked and read once, the entries chained, inserted together
    and the head moved once.  ``head`` is the head ``(seq, hash)`` when the caller has read
    it already in this transaction, holding the writers' lock."""
    if not events:
        return []
    if head is None:
        row = conn.execute(_LOCK_HEAD).one()
        head = int(row.seq), str(row.hash)
    seq, prev = head
    made = []
    for event, officer, item, detail in events:
        seq += 1
        text = canonical(detail or {})
        digest = entry_hash(prev, seq, at_ms, operator, terminal, event, officer, item, text)
        made.append(Entry(seq, at_ms, operator, terminal, event, officer, item, text, prev, digest))
        prev = digest
    conn.execute(ledger.insert(), [_row(entry) for entry in made])
    conn.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": prev})
    return made


_COLUMNS: Final = tuple(f.name for f in dataclasses.fields(Entry))


def _row(entry: Entry) -> dict[str, Any]:
    """``entry``'s columns (``dataclasses.asdict`` copies deeply, ten times slower)."""
    return {name: getattr(entry, name) for name in _COLUMNS}


def entries(
    conn: Connection, *, officer: str | None = None, item: str | None = None
) -> Iterator[Entry]:
    """Ledger entries in sequence order (of one officer or one item when asked), read in
    chunks of 10,000."""
    query = select(ledger).order_by(ledger.c.seq)
    if officer is not None:
        query = query.where(ledger.c.officer == officer)
    if item is not None:
        query = query.where(ledger.c.item == item)
    result = conn.execution_options(yield_per=_CHUNK).execute(query)
    for row in result:
        yield Entry(**row._asdict())


def verify_ledger(conn: Connection) -> LedgerCheck:
    """Walk the whole chain; name the first entry that breaks it (module docstring).

    Rows are streamed (a server-side cursor on PostgreSQL) and read as plain tuples: no
    :class:`Entry` is made, and no batches (SQLAlchemy's ``yield_per`` and ``partitions``
    cost a second a million rows more)."""
    prev, expected = GENESIS, 1
    rows = conn.execution_options(stream_results=True).execute(_WALK)
    for seq, at_ms, operator, terminal, event, officer, item, detail, prev_hash, own in rows:
        if seq != expected or prev_hash != prev:
            what = (
                f"entry {expected} is missing: entry {seq} follows entry {expected - 1}"
                if seq > expected
                else f"entry {seq} does not follow entry {seq - 1}"
            )
            problem = f"{what} (removed, inserted or reordered)"
            return LedgerCheck(expected, False, min(seq, expected), problem)
        if own != entry_hash(
            prev_hash, seq, at_ms, operator, terminal, event, officer, item, detail
        ):
            problem = f"entry {seq} was edited: its fields no longer give its hash"
            return LedgerCheck(expected, False, seq, problem)
        prev, expected = own, expected + 1
    count = expected - 1
    head = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
    if int(head.seq) != count or str(head.hash) != prev:
        return LedgerCheck(
            count,
            False,
            expected,
            f"the ledger ends at entry {count} but its head says {int(head.seq)}: "
            "the newest entries were removed",
        )
    return LedgerCheck(count, True, last_hash=prev if count else None)
