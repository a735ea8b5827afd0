"""The register's tables, declared once with SQLAlchemy Core for SQLite and PostgreSQL.

Queries use these declarations; the database is created and upgraded by the migrations
(:mod:`taserlink.register.migrations`), whose first revision makes exactly these tables.

- ``officers``: the force's id (a collar number such as ``PC 2231``), name, station, and
  the reason the officer's authority is suspended (``NULL`` when it is not);
- ``trainings``: every course an officer passed (``initial`` or ``refresher``) and its date;
- ``items``: every device and cartridge, its particulars, its state and — while it is
  issued — the officer holding it and since when.  One row per item carries "out to one
  officer at a time": an issue is a conditional update from ``in_store``, so two terminals
  cannot both issue it;
- ``ledger``: the append-only, hash-chained record of every movement and event;
  ``ledger_head``, one row, the last entry's sequence and hash: every write takes it under
  a lock first, so entries are numbered and chained one at a time;
- ``settings``: the register's settings (the refresher period).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "ITEM_STATES",
    "ledger",
    "ledger_head",
    "metadata",
    "officers",
    "items",
    "settings",
    "trainings",
]

ITEM_STATES: Final = ("in_store", "issued", "expended", "lost", "damaged")
"""The states of an item (**contract**: ``register status`` shows them)."""

metadata = MetaData()

officers = Table(
    "officers",
    metadata,
    Column("officer", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("station", String(200), nullable=False),
    Column("suspended", String(500), nullable=True),
)

trainings = Table(
    "trainings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("officer", String(64), ForeignKey("officers.officer"), nullable=False),
    Column("course", String(16), nullable=False),
    Column("on_date", Date, nullable=False),
    CheckConstraint("course IN ('initial', 'refresher')", name="course_kind"),
    UniqueConstraint("officer", "course", "on_date", name="one_course_a_day"),
)

items = Table(
    "items",
    metadata,
    Column("serial", String(16), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("model", String(100), nullable=True),
    Column("firmware", String(50), nullable=True),
    Column("cartridge_type", String(1), nullable=True),
    Column("lot", String(100), nullable=True),
    Column("expires", Date, nullable=True),
    Column("state", String(16), nullable=False),
    Column("officer", String(64), ForeignKey("officers.officer"), nullable=True),
    Column("since_ms", BigInteger, nullable=True),
    CheckConstraint("kind IN ('device', 'cartridge')", name="item_kind"),
    CheckConstraint(
        "state IN ('in_store', 'issued', 'expended', 'lost', 'damaged')", name="item_state"
    ),
    CheckConstraint(
        "(state = 'issued' AND officer IS NOT NULL) OR (state <> 'issued' AND officer IS NULL)",
        name="issued_to_one_officer",
    ),
)

ledger = Table(
    "ledger",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("operator", String(200), nullable=False),
    Column("terminal", String(200), nullable=False),
    Column("event", String(32), nullable=False),
    Column("officer", String(64), nullable=True),
    Column("item", String(16), nullable=True),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="one_head"),
)

settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)
