"""The register's identity: a random id (UUID 4) in ``settings``, made once when the
register reaches this revision, so that what is made from a register (an issue list, a
linkage, a report's provenance) can name the register it came from, with the ledger head
that says how far it had got.

Revision ID: r0002
Revises: r0001
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None

_SETTINGS = sa.table("settings", sa.column("name", sa.String), sa.column("value", sa.String))


def upgrade() -> None:
    op.bulk_insert(_SETTINGS, [{"name": "register_id", "value": str(uuid.uuid4())}])


def downgrade() -> None:
    raise NotImplementedError("a register is never downgraded: its ledger is evidence")
