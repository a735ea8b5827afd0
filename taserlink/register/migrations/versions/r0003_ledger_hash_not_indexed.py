"""The ledger's ``hash`` column without its unique index.

Each entry's hash covers its sequence number, so two entries never share one: the unique
index proved nothing the chain does not, and every issue paid for it — one more random page
of a B-tree of 64-character keys written per ledger entry (a tenth of a million-entry
register's file, and the largest part of an issue's commit once the register is large).
``verify`` walks the chain by sequence number and never looks a hash up.

PostgreSQL drops the constraint.  SQLite cannot drop a column's ``UNIQUE``: the ledger is
copied row for row into a table without it, in sequence order, inside the migration's
transaction (the append-only triggers dropped with the old table and made again, its two
indexes too); the rows, and so the chain, are unchanged — ``verify`` after the upgrade
checks it (``tests/test_register.py``).

Revision ID: r0003
Revises: r0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0003"
down_revision = "r0002"
branch_labels = None
depends_on = None

_COLUMNS = "seq, at_ms, operator, terminal, event, officer, item, detail, prev_hash, hash"
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER ledger_no_{verb.lower()} BEFORE {verb} ON ledger "
    "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for unique in sa.inspect(bind).get_unique_constraints("ledger"):
            if unique["column_names"] == ["hash"] and unique["name"]:
                op.drop_constraint(unique["name"], "ledger", type_="unique")
        return
    op.create_table(
        "ledger_r0003",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("terminal", sa.String(200), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("officer", sa.String(64), nullable=True),
        sa.Column("item", sa.String(16), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(f"INSERT INTO ledger_r0003 ({_COLUMNS}) SELECT {_COLUMNS} FROM ledger ORDER BY seq")
    op.execute("DROP TABLE ledger")  # its triggers and indexes go with it
    op.rename_table("ledger_r0003", "ledger")
    op.create_index("ledger_by_item", "ledger", ["item", "seq"])
    op.create_index("ledger_by_officer", "ledger", ["officer", "seq"])
    for statement in _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("a register is never downgraded: its ledger is evidence")
