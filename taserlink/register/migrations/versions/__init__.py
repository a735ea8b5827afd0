"""One module per revision of the register's schema, oldest first."""
