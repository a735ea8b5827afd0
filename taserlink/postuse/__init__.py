"""Post-use procedure: use episodes from device logs, officers' accounts, reconciliation."""
