"""``taserlink register [--db URL] SUBCOMMAND``: the store room's register (design §8).

``--db`` defaults to ``$TASERLINK_DB``, else ``sqlite:///taserlink.db`` (**contract**);
``postgresql+psycopg://…`` (or ``postgresql://…``) opens a force's shared register.

- ``init``: make the register (or upgrade an older one);
- ``import officers|devices|cartridges FILE.csv``: a store-room file, all of it or none;
- ``train --officer ID --course initial|refresher --date DATE``; ``suspend --officer ID
  --reason TEXT``; ``reinstate --officer ID``;
- ``issue --officer ID --item SERIAL [--item SERIAL…] [--at TIME] [--operator NAME]``;
  ``return --item SERIAL… [--at TIME]``; ``expend|lost|damaged --item SERIAL [--note
  TEXT]``: a kit of several items is all or nothing;
- ``status (--officer ID | --item SERIAL) [--json]``; ``history (--officer ID | --item
  SERIAL) [--json]``;
- ``archive IMAGE… [--archive DIR] [--roots DIR]``: keep downloads once by SHA-256 in the
  archive (beside a SQLite register by default), verified against the trusted roots and
  checked to continue the device's previous download, each recorded in the ledger (exit 1
  when one is not OK or does not continue);
- ``export issues FILE.csv``: the issue list ``taserlink link --issues`` reads, from the
  ledger (``link --register URL`` reads the register directly);
- ``verify``: the ledger's chain (exit 1 on a break, naming the first entry concerned).

Exit 0 done, 1 refused by a rule (one line: the rule and why), 2 bad input, 3 database
failure; every error is one line on stderr.  Times (``--at``) are ISO 8601 with a zone;
dates ``2026-03-06``.  ``docs/register.md`` tells the rules and the ledger.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any, Final

from taserlink.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_roots_option,
    printable,
    trusted_roots,
)
from taserlink.errors import RegisterError, TimeTextError
from taserlink.forensics.provenance import register_settings
from taserlink.integrity import Severity
from taserlink.provenance import Provenance, make_provenance
from taserlink.register import DEFAULT_URL, Register, open_register
from taserlink.register.archive import archive_folder
from taserlink.register.files import parse_date, read_cartridges, read_devices, read_officers
from taserlink.register.ledger import Entry
from taserlink.timeline.times import parse_utc, utc_text

__all__ = ["DB_ENV", "NAME", "register", "run"]

NAME: Final = "register"
DB_ENV: Final = "TASERLINK_DB"
"""The environment variable naming the register when ``--db`` is not given."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``register`` and its subcommands to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="the store room's register: officers, devices, cartridges, the ledger",
        description=(
            "The store room's register. Exit 0 done, 1 refused by a rule, 2 bad input, "
            "3 database failure."
        ),
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help=f"the register (default: ${DB_ENV}, else {DEFAULT_URL})",
    )
    sub = parser.add_subparsers(dest="action", metavar="SUBCOMMAND", required=True)
    sub.add_parser("init", help="make the register, or upgrade an older one")
    imported = sub.add_parser("import", help="import a store-room file (all of it or none)")
    imported.add_argument("kind", choices=("officers", "devices", "cartridges"))
    imported.add_argument("file", metavar="FILE.csv")
    _operator(imported)
    train = sub.add_parser("train", help="record a course an officer passed")
    train.add_argument("--officer", required=True, metavar="ID")
    train.add_argument("--course", required=True, choices=("initial", "refresher"))
    train.add_argument("--date", required=True, metavar="DATE", type=_date)
    _operator(train)
    suspend = sub.add_parser("suspend", help="suspend an officer's authority")
    suspend.add_argument("--officer", required=True, metavar="ID")
    suspend.add_argument("--reason", required=True, metavar="TEXT")
    _operator(suspend)
    reinstate = sub.add_parser("reinstate", help="lift an officer's suspension")
    reinstate.add_argument("--officer", required=True, metavar="ID")
    _operator(reinstate)
    issue = sub.add_parser("issue", help="issue items to an officer (a kit: all or none)")
    issue.add_argument("--officer", required=True, metavar="ID")
    issue.add_argument("--item", required=True, action="append", metavar="SERIAL")
    issue.add_argument("--at", metavar="TIME", type=_time)
    _operator(issue)
    returned = sub.add_parser("return", help="return items to the store (all or none)")
    returned.add_argument("--item", required=True, nargs="+", action="extend", metavar="SERIAL")
    returned.add_argument("--at", metavar="TIME", type=_time)
    _operator(returned)
    for state in ("expend", "lost", "damaged"):
        mark = sub.add_parser(state, help=f"mark items {_STATES[state]} (for good)")
        mark.add_argument("--item", required=True, action="append", metavar="SERIAL")
        mark.add_argument("--note", default="", metavar="TEXT")
        mark.add_argument("--at", metavar="TIME", type=_time)
        _operator(mark)
    for name, what in (
        ("status", "an item's state or an officer's authority and items"),
        ("history", "the ledger entries of an officer or an item"),
    ):
        asked = sub.add_parser(name, help=what)
        which = asked.add_mutually_exclusive_group(required=True)
        which.add_argument("--officer", metavar="ID")
        which.add_argument("--item", metavar="SERIAL")
        asked.add_argument("--json", action="store_true", help="one JSON object")
    archive = sub.add_parser(
        "archive", help="keep downloads once by SHA-256, verified and checked for continuity"
    )
    archive.add_argument("images", metavar="IMAGE", nargs="+")
    archive.add_argument(
        "--archive", metavar="DIR", help="the archive folder (default: beside a SQLite file)"
    )
    add_roots_option(archive, purpose=" to verify the downloads with")
    _operator(archive)
    export = sub.add_parser("export", help="write the issue list 'taserlink link' reads")
    export.add_argument("what", choices=("issues",))
    export.add_argument("file", metavar="FILE.csv")
    sub.add_parser("verify", help="check the ledger's chain (exit 1 on a break)")
    return parser


def _operator(parser: argparse.ArgumentParser) -> None:
    """``--operator NAME`` on a subcommand that changes the register (the ledger records
    who; default: the login name)."""
    parser.add_argument("--operator", metavar="NAME", help="who does it (default: login name)")


_STATES: Final = {"expend": "expended", "lost": "lost", "damaged": "damaged"}


def run(args: argparse.Namespace) -> int:
    """Do ``args.action`` on the register of ``args.db``; return the exit code.

    Raises:
        RefusedError (exit 1), RegisterError (2), RegisterDatabaseError (3).
    """
    url = args.url = args.db or os.environ.get(DB_ENV) or DEFAULT_URL
    operator = getattr(args, "operator", None)
    reg = open_register(url, create=args.action == "init", operator=operator)
    try:
        return _ACTIONS[args.action](reg, args)
    finally:
        reg.close()


def _init(reg: Register, _: argparse.Namespace) -> int:
    print(f"register ready: {reg.ledger_length()} ledger entries")
    return EXIT_OK


def _import(reg: Register, args: argparse.Namespace) -> int:
    if args.kind == "officers":
        count = reg.add_officers(read_officers(args.file))
    elif args.kind == "devices":
        count = reg.add_devices(read_devices(args.file))
    else:
        count = reg.add_cartridges(read_cartridges(args.file))
    print(f"imported {count} {args.kind} from {printable(args.file)}")
    return EXIT_OK


def _train(reg: Register, args: argparse.Namespace) -> int:
    reg.train(args.officer, args.course, args.date)
    print(f"{printable(args.officer)}: {args.course} course on {args.date.isoformat()}")
    return EXIT_OK


def _suspend(reg: Register, args: argparse.Namespace) -> int:
    reg.suspend(args.officer, args.reason)
    print(f"{printable(args.officer)}: suspended ({printable(args.reason)})")
    return EXIT_OK


def _reinstate(reg: Register, args: argparse.Namespace) -> int:
    reg.reinstate(args.officer)
    print(f"{printable(args.officer)}: reinstated")
    return EXIT_OK


def _issue(reg: Register, args: argparse.Namespace) -> int:
    reg.issue(args.officer, args.item, at_ms=args.at)
    for serial in args.item:
        print(f"issued {printable(serial)} to {printable(args.officer)}")
    return EXIT_OK


def _return(reg: Register, args: argparse.Namespace) -> int:
    reg.return_items(args.item, at_ms=args.at)
    for serial in args.item:
        print(f"returned {printable(serial)}")
    return EXIT_OK


def _mark(reg: Register, args: argparse.Namespace) -> int:
    state = _STATES[args.action]
    reg.mark(args.item, state, note=args.note, at_ms=args.at)
    for serial in args.item:
        print(f"{printable(serial)}: {state}")
    return EXIT_OK


def _status(reg: Register, args: argparse.Namespace) -> int:
    if args.item is not None:
        data = reg.item_status(args.item).as_dict()
        text = [
            f"{data['kind']} {data['serial']}: {data['state']}"
            + (f" to {data['officer']} since {data['since']}" if data["officer"] else "")
        ]
    else:
        day = dt.datetime.now(dt.UTC).date()  # authority is as of today: the result says so
        data = reg.officer_status(args.officer, day).as_dict()
        authority = (
            f"authorised until {data['authority_until']}"
            if data["authorised"]
            else f"not authorised: {data['reason']}"
        )
        text = [f"{data['officer']}: {authority}"]
        text += [f"  {i['kind']} {i['serial']} since {i['since']}" for i in data["items"]]
    settings = {} if args.item is not None else {"authority_on": day.isoformat()}
    _write(data, text, args.json, _provenance(reg, args, settings))
    return EXIT_OK


def _history(reg: Register, args: argparse.Namespace) -> int:
    found = reg.history(officer=args.officer, item=args.item)
    data = {"officer": args.officer, "item": args.item, "entries": [_entry(e) for e in found]}
    text = [
        f"{e.seq:>8}  {utc_text(e.at_ms)}  {e.event:<16}  {e.officer or '-':<12}  "
        f"{e.item or '-':<10}  {e.operator}@{e.terminal}  {e.detail}"
        for e in found
    ]
    _write(data, text or ["no ledger entries"], args.json, _provenance(reg, args))
    return EXIT_OK


def _archive(reg: Register, args: argparse.Namespace) -> int:
    folder = archive_folder(args.url, args.archive)
    trust = trusted_roots(args)
    good = True
    for path in args.images:
        done = reg.archive(path, trust, folder)
        said = "archived" if done.new else "already archived"
        errors = sorted({f.kind.value for f in done.report.by_severity(Severity.ERROR)})
        verdict = "OK" if done.report.ok else f"NOT OK ({', '.join(errors)})"
        gaps = sorted({f.kind.value for f in done.continuity})
        follows = (
            "the device's first archived download"
            if done.previous is None
            else f"continues {done.previous[:12]}…"
            if not gaps
            else f"does NOT continue {done.previous[:12]}… ({', '.join(gaps)})"
        )
        print(
            f"{printable(path)}: {said} as {done.sha256[:12]}… (device {done.device}); "
            f"{verdict}; {follows}"
        )
        good &= done.ok
    return EXIT_OK if good else EXIT_FINDINGS


def _export(reg: Register, args: argparse.Namespace) -> int:
    rows = reg.export_issues(args.file)
    print(f"wrote {rows} issues to {printable(args.file)}")
    return EXIT_OK


def _verify(reg: Register, _: argparse.Namespace) -> int:
    check = reg.verify()
    if check.ok:
        print(f"ledger OK: {check.entries} entries, each chained to the one before")
        print(f"register {reg.register_id}, last entry's hash {check.last_hash or '(none)'}")
        return EXIT_OK
    print(f"ledger BROKEN at entry {check.seq}: {check.problem}")
    return EXIT_FINDINGS


_ACTIONS: Final = {
    "init": _init,
    "import": _import,
    "train": _train,
    "suspend": _suspend,
    "reinstate": _reinstate,
    "issue": _issue,
    "return": _return,
    "expend": _mark,
    "lost": _mark,
    "damaged": _mark,
    "status": _status,
    "history": _history,
    "archive": _archive,
    "export": _export,
    "verify": _verify,
}


def _entry(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": utc_text(entry.at_ms),
        "at_ms": entry.at_ms,
        "event": entry.event,
        "officer": entry.officer,
        "item": entry.item,
        "operator": entry.operator,
        "terminal": entry.terminal,
        "detail": entry.details(),
        "hash": entry.hash,
    }


def _provenance(
    reg: Register, args: argparse.Namespace, settings: dict[str, Any] | None = None
) -> Provenance:
    """A register read's provenance: no input file; the register by its identity and
    ledger length (what pins the state read), and ``settings``."""
    return make_provenance((), {**register_settings(reg, args.url), **(settings or {})})


def _write(data: dict[str, Any], text: list[str], as_json: bool, provenance: Provenance) -> None:
    if as_json:
        sys.stdout.write(json.dumps({**data, "provenance": provenance.as_dict()}, indent=1) + "\n")
    else:
        sys.stdout.write("\n".join(printable(line) for line in text) + "\n")


def _date(text: str) -> dt.date:
    try:
        return parse_date(text)
    except RegisterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _time(text: str) -> int:
    try:
        return parse_utc(text)
    except TimeTextError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
