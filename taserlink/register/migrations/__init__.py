"""The register's schema migrations (Alembic): ``versions/`` holds one revision per schema
change, so a register made by one version of taserlink opens in the next
(:func:`taserlink.register.open_register` upgrades it, in one transaction)."""
