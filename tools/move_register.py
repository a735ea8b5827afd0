#!/usr/bin/env python3
"""Copy a register to another database and check the copy (a station's SQLite file to the
force's PostgreSQL, or a backup back again).

    python tools/move_register.py sqlite:///ripley-store.db postgresql://store@db/register

The target must be empty (or not yet a register); the source is only read.  Prints the
copy's entry count, last hash and the register's id; exit 0 when the copy verifies to the
source's last entry, 2 on bad input (a target that is not empty), 3 on a database failure.
"""

from __future__ import annotations

import argparse
import sys

from taserlink.errors import RegisterDatabaseError, RegisterError
from taserlink.register import open_register
from taserlink.register.move import copy_register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the register's URL (sqlite:///FILE, postgresql://…)")
    parser.add_argument("target", help="the empty database's URL")
    args = parser.parse_args(argv)
    try:
        source = open_register(args.source)
        try:
            check = copy_register(source, args.target)
            identity = source.register_id
        finally:
            source.close()
    except RegisterError as error:
        print(f"move_register: {error}", file=sys.stderr)
        return 2
    except RegisterDatabaseError as error:
        print(f"move_register: {error}", file=sys.stderr)
        return 3
    print(
        f"copied register {identity}: {check.entries} ledger entries, "
        f"the last {check.last_hash or '(none)'}; the copy verifies"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
