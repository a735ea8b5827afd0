"""Alembic's environment for the register: migrations run on the connection taserlink
passes in ``config.attributes["connection"]``, inside its transaction."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
