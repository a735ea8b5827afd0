"""The store room's register: officers, devices, cartridges and the ledger, in one database.

Open one with :func:`open_register` (a SQLAlchemy URL: ``sqlite:///taserlink.db``, the
embedded default, or ``postgresql+psycopg://…`` for a force's shared register).  Every
method is one transaction: it is kept whole or not at all, and the rules of design §7 are
checked inside it against the database, so terminals working at once cannot break them:

1. an item is issued only to an officer whose authority is current
   (:mod:`taserlink.register.authority`), else :class:`RefusedError` with the reason and
   the dates;
2. an item is out to one officer at a time: an issue is a conditional update of the item's
   row from ``in_store``, and a CHECK constraint ties ``issued`` to exactly one officer;
3. an expired, expended, lost or damaged cartridge is never issued (the same conditional
   update);
4. every change appends to the hash-chained ledger (:mod:`taserlink.register.ledger`) in
   the same transaction.

SQLite runs in WAL mode with every write transaction taken at once (``BEGIN IMMEDIATE``),
so concurrent writers queue rather than fail half-way; PostgreSQL serialises writes on the
ledger's head row (``SELECT … FOR UPDATE``).  On a SQLite file, writers first wait their
turn in a queue beside it (:mod:`taserlink.register.turns`, ``<file>-lock``), which the
kernel hands on, in the order the writers came, the moment a transaction ends: SQLite's own
wait polls with sleeps growing to 100 ms, and with eight terminals writing at once some
writes waited seconds.  Reads (status, history, verify) take no turn: on SQLite they begin
deferred, a snapshot beside the writers.

The hot paths are few statements: an issue reads the officer's authority and the ledger's
head in one query, takes the whole kit in one conditional update (``RETURNING`` the serials
it took, so a refusal names the right item), and appends its ledger entries in one insert;
a return reads the kit with the head once and updates it once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import hashlib
import io
import os
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    make_url,
    select,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from taserlink.atomic import write_atomic
from taserlink.errors import RefusedError, RegisterDatabaseError, RegisterError, SerialError
from taserlink.integrity import Severity, TrustStore
from taserlink.register import archive as _archive
from taserlink.register import ledger as L
from taserlink.register import turns
from taserlink.register.archive import Archived
from taserlink.register.authority import Authority, authority_on
from taserlink.register.schema import items, ledger, ledger_head, officers, settings, trainings
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from taserlink.spreadsheet import csv_writer
from taserlink.timeline.times import utc_iso, utc_text

__all__ = [
    "DEFAULT_URL",
    "ISSUE_LIST_COLUMNS",
    "IssuePeriod",
    "ItemStatus",
    "OfficerStatus",
    "Register",
    "open_register",
]

DEFAULT_URL: Final = "sqlite:///taserlink.db"
"""The register a command uses with neither ``--db`` nor ``$TASERLINK_DB`` (**contract**)."""
FINAL_STATES: Final = ("expended", "lost", "damaged")
"""States an item never leaves."""

_READ_ONLY: Final = "taserlink_read_only"
"""The execution option marking a connection that only reads (:meth:`Register._read`)."""
# The statements of every issue and return, built once: on SQLite, building a statement
# cost more than running it.
_LOCK_HEAD = select(ledger_head.c.seq).where(ledger_head.c.id == 1).with_for_update()
_OFFICER = select(officers).where(officers.c.officer == bindparam("officer"))
_COURSES = (
    select(trainings.c.course, trainings.c.on_date)
    .where(trainings.c.officer == bindparam("officer"))
    .order_by(trainings.c.on_date, trainings.c.course)
)
_MONTHS = select(settings.c.value).where(settings.c.name == "authority_months")
_HEAD_SEQ = select(ledger_head.c.seq).where(ledger_head.c.id == 1).scalar_subquery()
_HEAD_HASH = select(ledger_head.c.hash).where(ledger_head.c.id == 1).scalar_subquery()
_AUTHORITY = (
    select(
        officers.c.suspended,
        _MONTHS.scalar_subquery().label("months"),
        trainings.c.course,
        trainings.c.on_date,
        _HEAD_SEQ.label("head_seq"),
        _HEAD_HASH.label("head_hash"),
    )
    .select_from(
        officers.outerjoin(
            trainings,
            (trainings.c.officer == officers.c.officer) & (trainings.c.on_date <= bindparam("day")),
        )
    )
    .where(officers.c.officer == bindparam("officer"))
    .order_by(trainings.c.on_date, trainings.c.course)
)
"""An officer's suspension, the refresher period and the courses passed up to a day — and
the ledger's head, which the issue appends to — in one statement (the issue's hot path)."""
_ITEM = select(items).where(items.c.serial == bindparam("wanted"))
_REGISTER_ID = select(settings.c.value).where(settings.c.name == "register_id")
_ITEMS_AND_HEAD = select(items, _HEAD_SEQ.label("head_seq"), _HEAD_HASH.label("head_hash")).where(
    items.c.serial.in_(bindparam("wanted", expanding=True))
)
_ISSUE = (
    update(items)
    .where(items.c.serial.in_(bindparam("wanted", expanding=True)), items.c.state == "in_store")
    .where(items.c.expires.is_(None) | (items.c.expires > bindparam("day")))
    .values(state="issued", officer=bindparam("holder"), since_ms=bindparam("since"))
    .returning(items.c.serial)
)
_RETURN = (
    update(items)
    .where(items.c.serial.in_(bindparam("wanted", expanding=True)), items.c.state == "issued")
    .values(state="in_store", officer=None, since_ms=bindparam("since"))
)


@dataclass(frozen=True)
class ItemStatus:
    """``register status --item``: an item's kind, state and holder (**contract** keys)."""

    serial: str
    kind: str
    state: str
    officer: str | None
    since_ms: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "kind": self.kind,
            "state": self.state,
            "officer": self.officer,
            "since": _utc(self.since_ms),
        }


@dataclass(frozen=True)
class OfficerStatus:
    """``register status --officer``: authority today and the items held (**contract**)."""

    officer: str
    authority: Authority
    items: tuple[ItemStatus, ...]

    def as_dict(self) -> dict[str, Any]:
        until = self.authority.until
        return {
            "officer": self.officer,
            "authorised": self.authority.authorised,
            "authority_until": None if until is None else until.isoformat(),
            "reason": self.authority.reason,
            "items": [i.as_dict() for i in self.items],
        }


@dataclass(frozen=True)
class IssuePeriod:
    """One time an item was out to an officer, from the ledger: the rows of the issue list
    ``taserlink link --issues`` reads (``register export issues``)."""

    serial: str
    officer: str
    issued_ms: int
    returned_ms: int | None
    """``None`` while still out."""
    entry: int
    """The ledger entry that issued it."""


ISSUE_LIST_COLUMNS: Final = ("serial", "officer", "issued_at", "returned_at")
"""The issue list's columns (those ``taserlink link --issues`` reads)."""


def open_register(
    url: str = DEFAULT_URL,
    *,
    create: bool = False,
    operator: str | None = None,
    terminal: str | None = None,
) -> Register:
    """The register at ``url``, upgraded to this version's schema.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://…``).
        create: make the schema when the database has none (``register init``); without
            it, a database that is not a register is refused.
        operator, terminal: who and where, for the ledger (default: the login name and the
            host name).

    Raises:
        RegisterError: a malformed URL, a driver that is not installed (PostgreSQL needs
            the ``postgres`` extra), a SQLite file in a folder that does not exist, or no
            register there (without ``create``).
        RegisterDatabaseError: the database cannot be reached or the upgrade fails.
    """
    try:
        engine = _engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise RegisterError(
            f"{_safe(url)}: not a database URL taserlink can open: {error}"
        ) from None
    folder = _sqlite_folder(engine)
    if folder is not None and not folder.is_dir():
        engine.dispose()
        raise RegisterError(f"{_safe(url)}: no folder {folder} for the register's file")
    register = Register(engine, operator or getpass.getuser(), terminal or socket.gethostname())
    with register._database():
        with engine.connect().execution_options(**{_READ_ONLY: True}) as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current is None and not create:
            raise RegisterError(
                f"{_safe(url)}: no register there; make one with `taserlink register init`"
            )
        with engine.begin() as conn:
            config = Config()
            config.set_main_option(
                "script_location", str(resources.files("taserlink.register") / "migrations")
            )
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    return register


class Register:
    """An open register (see the module docstring).  Build with :func:`open_register`."""

    def __init__(self, engine: Engine, operator: str, terminal: str) -> None:
        self.engine = engine
        self.operator = operator
        self.terminal = terminal
        self._turn_path = _turn_path(engine)
        self._sqlite = engine.dialect.name == "sqlite"

    # -- plumbing -----------------------------------------------------------------------
    @contextmanager
    def _database(self) -> Iterator[None]:
        """Database failures as :class:`RegisterDatabaseError` (one line)."""
        try:
            yield
        except IntegrityError as error:
            raise RegisterError(f"the register refused the change: {error.orig}") from None
        except DBAPIError as error:
            raise RegisterDatabaseError(f"register database: {error.orig}") from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, holding the ledger head's lock from its start: writes
        are serialised on PostgreSQL as ``BEGIN IMMEDIATE`` serialises them on SQLite, so a
        rule checked in the transaction still holds when it commits."""
        with self._database(), self.engine.connect() as conn, self._turn(), conn.begin():
            if not self._sqlite:
                conn.execute(_LOCK_HEAD).one()
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One read transaction: a consistent view of the register.  On SQLite it begins
        deferred, a snapshot beside the writers, so that a status or a verification never
        takes the write lock from the terminals; on PostgreSQL it is ``REPEATABLE READ``,
        so that a verification's walk and its reading of the head see the same ledger."""
        with self._database(), self.engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True})
            if not self._sqlite:  # PostgreSQL: one snapshot for every statement
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This writer's turn on a SQLite file (:mod:`taserlink.register.turns`)."""
        if self._turn_path is None:
            yield
            return
        with turns.turn(self._turn_path):
            yield

    def _log(self, conn: Connection, at_ms: int, event: str, **fields: Any) -> L.Entry:
        detail = fields.pop("detail", {})
        return L.append(
            conn,
            at_ms=at_ms,
            operator=self.operator,
            terminal=self.terminal,
            event=event,
            detail=detail,
            **fields,
        )

    def _log_all(
        self,
        conn: Connection,
        at_ms: int,
        events: Sequence[tuple[str, str | None, str | None, Mapping[str, Any] | None]],
        head: tuple[int, str] | None = None,
    ) -> None:
        """Log ``(event, officer, item, detail)`` entries in order, the head moved once
        (``head``: as read already in this transaction)."""
        L.append_all(
            conn,
            at_ms=at_ms,
            operator=self.operator,
            terminal=self.terminal,
            events=events,
            head=head,
        )

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # -- officers -----------------------------------------------------------------------
    def add_officer(
        self,
        officer: str,
        name: str,
        station: str,
        *,
        initial: dt.date | None = None,
        refresher: dt.date | None = None,
        suspended: str | None = None,
        at_ms: int | None = None,
    ) -> None:
        """Add an officer with their trainings and any suspension (one ledger entry).

        Raises:
            RegisterError: the officer is already in the register, or a refresher without
                the initial course.
        """
        self.add_officers([(officer, name, station, initial, refresher, suspended)], at_ms=at_ms)

    def add_officers(
        self,
        rows: Sequence[tuple[str, str, str, dt.date | None, dt.date | None, str | None]],
        *,
        at_ms: int | None = None,
    ) -> int:
        """Add officers ``(officer, name, station, initial, last refresher, suspended)``,
        all or none; returns how many.

        Raises:
            RegisterError: an officer already in the register (or twice in ``rows``), or a
                refresher without the initial course.
        """
        for officer, _, _, initial, refresher, _ in rows:
            if refresher is not None and initial is None:
                raise RegisterError(f"{officer}: a refresher without the initial course")
        _once([row[0] for row in rows])
        when = _now(at_ms)
        with self._write() as conn:
            _absent(conn, officers.c.officer, [row[0] for row in rows])
            if rows:
                conn.execute(
                    officers.insert(),
                    [
                        {"officer": o, "name": n, "station": s, "suspended": why}
                        for o, n, s, _, _, why in rows
                    ],
                )
            courses = [
                {"officer": officer, "course": course, "on_date": day}
                for officer, _, _, initial, refresher, _ in rows
                for course, day in (("initial", initial), ("refresher", refresher))
                if day is not None
            ]
            if courses:
                conn.execute(trainings.insert(), courses)
            self._log_all(
                conn,
                when,
                [
                    (
                        "officer_added",
                        officer,
                        None,
                        {
                            "name": name,
                            "station": station,
                            "initial_course": None if initial is None else initial.isoformat(),
                            "last_refresher": None if refresher is None else refresher.isoformat(),
                            "suspended": suspended,
                        },
                    )
                    for officer, name, station, initial, refresher, suspended in rows
                ],
            )
        return len(rows)

    def train(self, officer: str, course: str, day: dt.date, *, at_ms: int | None = None) -> None:
        """Record a course passed (``initial`` or ``refresher``) on ``day``.

        Raises:
            RegisterError: an unknown officer or course, or a refresher before any initial
                course.
        """
        if course not in ("initial", "refresher"):
            raise RegisterError(f"course {course!r}: initial or refresher")
        with self._write() as conn:
            self._officer_row(conn, officer)
            if course == "refresher" and _courses(conn, officer)[0] is None:
                raise RegisterError(f"{officer} has no initial course: record it first")
            conn.execute(trainings.insert().values(officer=officer, course=course, on_date=day))
            self._log(
                conn,
                _now(at_ms),
                "trained",
                officer=officer,
                detail={"course": course, "date": day.isoformat()},
            )

    def suspend(self, officer: str, reason: str, *, at_ms: int | None = None) -> None:
        """Suspend an officer's authority, with the reason.

        Raises:
            RegisterError: an unknown officer, or an empty reason.
        """
        if not reason.strip():
            raise RegisterError("a suspension needs its reason")
        with self._write() as conn:
            self._officer_row(conn, officer)
            conn.execute(
                update(officers).where(officers.c.officer == officer).values(suspended=reason)
            )
            self._log(conn, _now(at_ms), "suspended", officer=officer, detail={"reason": reason})

    def reinstate(self, officer: str, *, at_ms: int | None = None) -> None:
        """Lift a suspension.

        Raises:
            RegisterError: an unknown officer, or one who is not suspended.
        """
        with self._write() as conn:
            row = self._officer_row(conn, officer)
            if row.suspended is None:
                raise RegisterError(f"{officer} is not suspended")
            conn.execute(
                update(officers).where(officers.c.officer == officer).values(suspended=None)
            )
            self._log(conn, _now(at_ms), "reinstated", officer=officer)

    def _officer_row(self, conn: Connection, officer: str) -> Any:
        row = conn.execute(_OFFICER, {"officer": officer}).first()
        if row is None:
            raise RegisterError(f"{officer}: no such officer in the register")
        return row

    def authority(self, officer: str, day: dt.date | None = None) -> Authority:
        """``officer``'s authority on ``day`` (default: today, UTC).

        Raises:
            RegisterError: an unknown officer.
        """
        with self._read() as conn:
            return self._authority(conn, officer, day or _today())

    def _authority(self, conn: Connection, officer: str, day: dt.date) -> Authority:
        """The authority on ``day`` from the courses passed up to that day (a course
        recorded later does not make a back-dated issue lawful)."""
        return self._authority_and_head(conn, officer, day)[0]

    def _authority_and_head(
        self, conn: Connection, officer: str, day: dt.date
    ) -> tuple[Authority, tuple[int, str]]:
        """:meth:`_authority`, and the ledger's head ``(seq, hash)`` read with it."""
        rows = conn.execute(_AUTHORITY, {"officer": officer, "day": day}).all()
        if not rows:
            raise RegisterError(f"{officer}: no such officer in the register")
        courses = [(str(r.course), r.on_date) for r in rows if r.course is not None]
        initial = next((on for course, on in courses if course == "initial"), None)
        authority = authority_on(
            officer,
            initial=initial,
            last_training=courses[-1] if courses else None,
            suspended=rows[0].suspended,
            day=day,
            months=int(rows[0].months),
        )
        return authority, (int(rows[0].head_seq), str(rows[0].head_hash))

    # -- items --------------------------------------------------------------------------
    def add_devices(self, rows: Sequence[tuple[str, str, str]], *, at_ms: int | None = None) -> int:
        """Add devices ``(serial, model, firmware)``, all or none; returns how many.

        Raises:
            RegisterError: a bad serial (the scheme's message), or one already registered
                (or twice in ``rows``).
        """
        serials = [_serial(DEVICE_SCHEME, serial) for serial, _, _ in rows]
        fields = [
            {"kind": "device", "model": model, "firmware": firmware} for _, model, firmware in rows
        ]
        details = [{"model": model, "firmware": firmware} for _, model, firmware in rows]
        return self._add_items(serials, fields, details, "device_added", at_ms)

    def add_cartridges(
        self, rows: Sequence[tuple[str, str, dt.date]], *, at_ms: int | None = None
    ) -> int:
        """Add cartridges ``(serial, lot, expires)``, all or none; their type is the serial's
        first letter.  Returns how many.

        Raises:
            RegisterError: a bad serial (the scheme's message), or one already registered
                (or twice in ``rows``).
        """
        serials = [_serial(CARTRIDGE_SCHEME, serial) for serial, _, _ in rows]
        fields = [
            {"kind": "cartridge", "cartridge_type": serial[0], "lot": lot, "expires": expires}
            for serial, (_, lot, expires) in zip(serials, rows, strict=True)
        ]
        details = [{"lot": lot, "expires": expires.isoformat()} for _, lot, expires in rows]
        return self._add_items(serials, fields, details, "cartridge_added", at_ms)

    def _add_items(
        self,
        serials: list[str],
        fields: list[dict[str, Any]],
        details: list[dict[str, Any]],
        event: str,
        at_ms: int | None,
    ) -> int:
        """Insert items in the store and their ledger entries: one statement each, and the
        ledger's head moved once, however many there are (a delivery of 10,000)."""
        _once(serials)
        when = _now(at_ms)
        with self._write() as conn:
            _absent(conn, items.c.serial, serials)
            if serials:
                conn.execute(
                    items.insert(),
                    [
                        {"serial": serial, "state": "in_store", **more}
                        for serial, more in zip(serials, fields, strict=True)
                    ],
                )
            self._log_all(
                conn,
                when,
                [
                    (event, None, serial, detail)
                    for serial, detail in zip(serials, details, strict=True)
                ],
            )
        return len(serials)

    def issue(self, officer: str, serials: Sequence[str], *, at_ms: int | None = None) -> None:
        """Issue items to ``officer``: all or none (a kit).

        Raises:
            RefusedError: the officer's authority is not current, or an item is not in the
                store (issued to someone, expended, lost, damaged) or is an expired cartridge;
                the message names it and why.  Nothing is issued.
            RegisterError: an unknown officer or item.
        """
        when = _now(at_ms)
        day = dt.datetime.fromtimestamp(when / 1000, dt.UTC).date()
        wanted = _serials(serials)
        with self._write() as conn:
            authority, head = self._authority_and_head(conn, officer, day)
            if not authority.authorised:
                raise RefusedError(str(authority.reason))
            done = conn.execute(
                _ISSUE, {"wanted": wanted, "day": day, "holder": officer, "since": when}
            )
            taken = set(done.scalars())
            if len(taken) != len(wanted):
                raise RefusedError(self._why_not(conn, [s for s in wanted if s not in taken]))
            self._log_all(
                conn, when, [("issued", officer, serial, None) for serial in wanted], head
            )

    def _why_not(self, conn: Connection, left: list[str]) -> str:
        """Why the first of the items a kit's conditional update ``left`` (in the order
        given) is not issuable; their rows are as they were before the update."""
        serial = left[0]
        row = self._item_row(conn, serial)
        if row.state == "issued":
            return f"{serial} is out to {row.officer} since {_utc(row.since_ms)}: return it first"
        if row.state in FINAL_STATES:
            return f"{row.kind} {serial} is {row.state}: it is never issued again"
        return f"cartridge {serial} expired on {row.expires.isoformat()}: it is never issued"

    def return_items(self, serials: Sequence[str], *, at_ms: int | None = None) -> None:
        """Return items to the store: all or none.

        Raises:
            RefusedError: an item that is not out.
            RegisterError: an unknown item.
        """
        when = _now(at_ms)
        wanted = _serials(serials)
        with self._write() as conn:
            rows = conn.execute(_ITEMS_AND_HEAD, {"wanted": wanted}).all()
            found = {row.serial: row for row in rows}
            events: list[tuple[str, str | None, str | None, Mapping[str, Any] | None]] = []
            for serial in wanted:
                row = found.get(serial)
                if row is None:
                    raise RegisterError(f"{serial}: no such item in the register")
                if row.state != "issued":
                    raise RefusedError(f"{row.kind} {serial} is not out ({row.state})")
                events.append(("returned", row.officer, serial, None))
            done = conn.execute(_RETURN, {"wanted": wanted, "since": when})
            if done.rowcount != len(wanted):  # the write lock is held: never
                raise RegisterError("the return did not take every item")
            self._log_all(conn, when, events, (int(rows[0].head_seq), str(rows[0].head_hash)))

    def mark(
        self, serials: Sequence[str], state: str, *, note: str = "", at_ms: int | None = None
    ) -> None:
        """Mark items ``expended``, ``lost`` or ``damaged`` (for good): all or none.

        Raises:
            RefusedError: an item already expended, lost or damaged, or a device marked
                expended.
            RegisterError: an unknown item or state.
        """
        if state not in FINAL_STATES:
            raise RegisterError(f"state {state!r}: one of {', '.join(FINAL_STATES)}")
        when = _now(at_ms)
        with self._write() as conn:
            for serial in _serials(serials):
                row = self._item_row(conn, serial)
                if state == "expended" and row.kind != "cartridge":
                    raise RefusedError(
                        f"device {serial} cannot be expended: mark it damaged or lost"
                    )
                done = conn.execute(
                    update(items)
                    .where(items.c.serial == serial, items.c.state.in_(("in_store", "issued")))
                    .values(state=state, officer=None, since_ms=when)
                )
                if done.rowcount != 1:
                    raise RefusedError(f"{row.kind} {serial} is already {row.state}")
                self._log(
                    conn, when, state, officer=row.officer, item=serial, detail={"note": note}
                )

    def _item_row(self, conn: Connection, serial: str) -> Any:
        row = conn.execute(_ITEM, {"wanted": serial}).first()
        if row is None:
            raise RegisterError(f"{serial}: no such item in the register")
        return row

    # -- questions ----------------------------------------------------------------------
    def item_status(self, serial: str) -> ItemStatus:
        """An item's state and holder.

        Raises:
            RegisterError: an unknown item (or a malformed serial).
        """
        canonical = _any_serial(serial)
        with self._read() as conn:
            return _status(self._item_row(conn, canonical))

    def officer_status(self, officer: str, day: dt.date | None = None) -> OfficerStatus:
        """An officer's authority (on ``day``, default today) and the items they hold.

        Raises:
            RegisterError: an unknown officer.
        """
        with self._read() as conn:
            authority = self._authority(conn, officer, day or _today())
            held = conn.execute(
                select(items).where(items.c.officer == officer).order_by(items.c.serial)
            )
            return OfficerStatus(officer, authority, tuple(_status(r) for r in held))

    def history(self, *, officer: str | None = None, item: str | None = None) -> list[L.Entry]:
        """The ledger entries of an officer or an item, oldest first.

        Raises:
            RegisterError: neither or both given.
        """
        if (officer is None) == (item is None):
            raise RegisterError("history of an officer or of an item")
        with self._read() as conn:
            found = None if item is None else _any_serial(item)
            return list(L.entries(conn, officer=officer, item=found))

    def archive(
        self,
        source: str | os.PathLike[str],
        trust: TrustStore,
        folder: str | os.PathLike[str],
        *,
        at_ms: int | None = None,
    ) -> Archived:
        """Archive a download of a registered device (:mod:`taserlink.register.archive`):
        verified, checked against the device's previous archived download, kept once by
        its SHA-256, recorded as a ``downloaded`` ledger entry.

        Raises:
            RegisterError: an unreadable image, or one of a device not in the register.
        """
        place = Path(folder)
        name = os.fspath(source)
        data, image = _archive.read(source)
        device = image.identity.serial
        with self._write() as conn:
            row = conn.execute(select(items).where(items.c.serial == device)).first()
            if row is None or row.kind != "device":
                raise RegisterError(f"{name}: device {device} is not in the register")
            before = [e.details() for e in L.entries(conn, item=device) if e.event == "downloaded"]
            digest = hashlib.sha256(data).hexdigest()
            known = any(d["sha256"] == digest for d in before)
            acquired = image.acquisition.host_utc_start_ms
            earlier = [d for d in before if d["acquired_ms"] <= acquired and d["sha256"] != digest]
            previous = None
            if earlier:
                last = max(earlier, key=lambda d: (d["acquired_ms"], d["sha256"]))
                previous = (str(last["sha256"]), _archive.load(place, device, last["sha256"]))
            archived = _archive.store(name, data, digest, image, place, trust, previous)
            if known:
                return dataclasses.replace(archived, new=False)
            detail = {
                "sha256": digest,
                "size": len(data),
                "acquired_ms": acquired,
                "verified": archived.report.ok,
                "errors": sorted(
                    {f.kind.value for f in archived.report.by_severity(Severity.ERROR)}
                ),
                "continuity": sorted({f.kind.value for f in archived.continuity}),
                "previous": archived.previous,
            }
            self._log(conn, _now(at_ms), "downloaded", item=device, detail=detail)
            return dataclasses.replace(archived, new=True)

    def issue_periods(self) -> list[IssuePeriod]:
        """Every time an item went out, from the ledger (issued → returned, or the item
        expended, lost or damaged while out), in ledger order."""
        periods: list[IssuePeriod] = []
        open_: dict[str, int] = {}
        with self._database(), self.engine.connect() as conn:
            query = (
                select(
                    ledger.c.seq, ledger.c.event, ledger.c.item, ledger.c.officer, ledger.c.at_ms
                )
                .where(ledger.c.event.in_(("issued", "returned", *FINAL_STATES)))
                .order_by(ledger.c.seq)
            )
            for seq, event, item, officer, at_ms in conn.execute(query):
                if event == "issued":
                    open_[item] = len(periods)
                    periods.append(IssuePeriod(item, officer, at_ms, None, seq))
                elif item in open_:
                    k = open_.pop(item)
                    periods[k] = dataclasses.replace(periods[k], returned_ms=at_ms)
        return periods

    def export_issues(self, path: str | os.PathLike[str]) -> int:
        """Write the issue list (:data:`ISSUE_LIST_COLUMNS`, times ISO 8601 UTC) to ``path``
        atomically; returns its rows.

        Raises:
            OutputPathError: a path taserlink refuses to write (``taserlink.atomic``).
        """
        periods = self.issue_periods()
        text = io.StringIO()
        writer = csv_writer(text)
        writer.writerow(ISSUE_LIST_COLUMNS)
        for p in periods:
            returned = "" if p.returned_ms is None else utc_text(p.returned_ms)
            writer.writerow((p.serial, p.officer, utc_text(p.issued_ms), returned))
        write_atomic(path, text.getvalue().encode("utf-8"))
        return len(periods)

    def verify(self) -> L.LedgerCheck:
        """Check the ledger's whole chain (:func:`~taserlink.register.ledger.verify_ledger`)."""
        with self._read() as conn:
            return L.verify_ledger(conn)

    @property
    def register_id(self) -> str:
        """The register's identity (a UUID made when it was created or upgraded to
        revision ``r0002``)."""
        with self._read() as conn:
            return str(conn.execute(_REGISTER_ID).scalar_one())

    def ledger_length(self) -> int:
        """Entries in the ledger."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


# -- helpers ------------------------------------------------------------------------------


def _engine(url: str) -> Engine:
    """The engine of ``url``; a plain ``postgresql://`` URL (design §8) uses psycopg 3, the
    driver of the ``postgres`` extra."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed)
    if engine.dialect.name == "sqlite":
        # pysqlite's own transaction handling off; every transaction takes the write lock
        # at BEGIN (SQLAlchemy's documented recipe) but reads (Register._read), which see a
        # snapshot beside the writer in WAL mode.
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            read_only = conn.get_execution_options().get(_READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _sqlite_folder(engine: Engine) -> Path | None:
    """The folder of a SQLite file's URL (``None`` for other databases and memory)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).absolute().parent


def _turn_path(engine: Engine) -> str | None:
    """The lock file writers queue on (:meth:`Register._turn`): ``<file>-lock`` beside a
    SQLite file; ``None`` for an in-memory SQLite database and for PostgreSQL."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return database + "-lock"


def _courses(conn: Connection, officer: str) -> tuple[dt.date | None, tuple[str, dt.date] | None]:
    """The initial course's date and the last training ``(kind, date)``."""
    rows = conn.execute(_COURSES, {"officer": officer}).all()
    initial = next((r.on_date for r in rows if r.course == "initial"), None)
    last = (str(rows[-1].course), rows[-1].on_date) if rows else None
    return initial, last


def _once(keys: Sequence[str]) -> None:
    """Refuse a key given twice in one call (:class:`RegisterError`)."""
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise RegisterError(f"{key} is given twice")
        seen.add(key)


def _absent(conn: Connection, column: Any, keys: Sequence[str]) -> None:
    """Refuse keys already in ``column``'s table (:class:`RegisterError`, naming the first
    in the order given), looked up 500 at a time."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    for key in keys:
        if key in found:
            raise RegisterError(f"{key} is already in the register")


def _status(row: Any) -> ItemStatus:
    return ItemStatus(row.serial, row.kind, row.state, row.officer, row.since_ms)


def _serial(scheme: Any, text: str) -> str:
    try:
        canonical: str = scheme.validate(text)
    except SerialError as error:
        raise RegisterError(str(error)) from None
    return canonical


def _any_serial(text: str) -> str:
    """A device or cartridge serial, canonical (its first letter says which)."""
    scheme = DEVICE_SCHEME if DEVICE_SCHEME.normalize(text)[:1] == "D" else CARTRIDGE_SCHEME
    return _serial(scheme, text)


def _serials(texts: Sequence[str]) -> list[str]:
    """Canonical serials of a kit, each once.

    Raises:
        RegisterError: none given, a malformed serial, or one given twice.
    """
    if not texts:
        raise RegisterError("no item given")
    canonical = [_any_serial(t) for t in texts]
    repeated = sorted({s for s in canonical if canonical.count(s) > 1})
    if repeated:
        raise RegisterError(f"{', '.join(repeated)} given twice")
    return canonical


def _now(at_ms: int | None) -> int:
    return int(time.time() * 1000) if at_ms is None else at_ms


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _utc(ms: int | None) -> str | None:
    return None if ms is None else utc_iso(ms)


def _safe(url: str) -> str:
    """``url`` without a password, for messages."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{tail}"
