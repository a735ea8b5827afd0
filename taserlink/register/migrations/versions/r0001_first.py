"""The first register: officers, trainings, items, the hash-chained ledger and its head,
settings; the ledger refuses UPDATE and DELETE in the database itself.

Revision ID: r0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64
"""The hash before the first ledger entry."""

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER ledger_no_{verb.lower()} BEFORE {verb} ON ledger "
    "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]
_POSTGRES_TRIGGERS = [
    "CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the ledger is append-only'; END $$",
    "CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("officer", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("station", sa.String(200), nullable=False),
        sa.Column("suspended", sa.String(500), nullable=True),
    )
    op.create_table(
        "trainings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("officer", sa.String(64), sa.ForeignKey("officers.officer"), nullable=False),
        sa.Column("course", sa.String(16), nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.CheckConstraint("course IN ('initial', 'refresher')", name="course_kind"),
        sa.UniqueConstraint("officer", "course", "on_date", name="one_course_a_day"),
    )
    op.create_table(
        "items",
        sa.Column("serial", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("firmware", sa.String(50), nullable=True),
        sa.Column("cartridge_type", sa.String(1), nullable=True),
        sa.Column("lot", sa.String(100), nullable=True),
        sa.Column("expires", sa.Date, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("officer", sa.String(64), sa.ForeignKey("officers.officer"), nullable=True),
        sa.Column("since_ms", sa.BigInteger, nullable=True),
        sa.CheckConstraint("kind IN ('device', 'cartridge')", name="item_kind"),
        sa.CheckConstraint(
            "state IN ('in_store', 'issued', 'expended', 'lost', 'damaged')", name="item_state"
        ),
        sa.CheckConstraint(
            "(state = 'issued' AND officer IS NOT NULL) OR (state <> 'issued' AND officer IS NULL)",
            name="issued_to_one_officer",
        ),
    )
    op.create_index("items_by_officer", "items", ["officer"])
    op.create_table(
        "ledger",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("terminal", sa.String(200), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("officer", sa.String(64), nullable=True),
        sa.Column("item", sa.String(16), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ledger_by_item", "ledger", ["item", "seq"])
    op.create_index("ledger_by_officer", "ledger", ["officer", "seq"])
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="one_head"),
    )
    settings = op.create_table(
        "settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    op.bulk_insert(settings, [{"name": "authority_months", "value": "12"}])
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRES_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("a register is never downgraded: its ledger is evidence")
