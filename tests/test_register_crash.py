"""A terminal killed (SIGKILL) in the middle of an issue leaves the SQLite register whole.

Each round forks a terminal that issues and returns kits in a loop, and kills it: at a
random moment of the loop (most of its time is spent inside a transaction, much of it in
the commit), or parked inside an issue after its items were marked issued and before their
ledger entries were written.  After every kill the writer's locks are free at once, and at
the end the register is consistent: the ledger verifies, each item's issues and returns
alternate, and each item's state agrees with its last ledger entry.

Writers on a SQLite file take turns in a queue of byte locks beside it
(:mod:`taserlink.register.turns`), which the kernel releases when their holder dies: a
writer waits while another has its turn and goes on when it ends; readers take no turn.
"""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from taserlink.errors import RefusedError
from taserlink.register import Register, open_register, turns
from taserlink.register import ledger as L
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from tests.test_register_turns import turn_held

RNG = random.Random(9)
DEVICES = [DEVICE_SCHEME.generate(RNG, "D") for _ in range(4)]
CARTRIDGES = [CARTRIDGE_SCHEME.generate(RNG, "S") for _ in range(8)]
OFFICERS = ["PC 2231", "PC 4410"]
ROUNDS = 10


def _store(path: Path) -> str:
    url = f"sqlite:///{path}"
    reg = open_register(url, create=True, operator="PS 88", terminal="store-1")
    today = dt.datetime.now(dt.UTC).date()
    reg.add_officers(
        [(o, "An Officer", "Ripley", today - dt.timedelta(days=30), None, None) for o in OFFICERS]
    )
    reg.add_devices([(d, "X2", "3.1.0") for d in DEVICES])
    expires = today + dt.timedelta(days=365)
    reg.add_cartridges([(c, "LOT-1", expires) for c in CARTRIDGES])
    reg.close()
    return url


def _kits() -> list[list[str]]:
    return [[d, CARTRIDGES[2 * k], CARTRIDGES[2 * k + 1]] for k, d in enumerate(DEVICES)]


def _terminal(url: str, number: int, park: bool, ready: Any) -> None:
    """Issue and return kits until killed; with ``park``, stop inside the first issue,
    after its items are marked issued and before the ledger has them."""
    reg = open_register(url, operator=f"PS {number}", terminal=f"terminal-{number}")
    if park:

        def parked(*_: Any) -> None:
            ready.send("parked")
            time.sleep(60)

        reg._log_all = parked  # type: ignore[method-assign]
    else:
        ready.send("running")
    rng = random.Random(number)
    while True:
        kits = _kits()
        if park:  # an issue that will not be refused
            kits = [k for k in kits if reg.item_status(k[0]).state == "in_store"]
        kit = rng.choice(kits)
        try:
            reg.issue(rng.choice(OFFICERS), kit)
        except RefusedError:  # out already: a kill left it issued
            reg.return_items(kit)
            continue
        reg.return_items(kit)


def _locks_free(path: Path) -> bool:
    """Neither a writer's turn (a byte lock on ``<file>-lock``) nor SQLite's write lock is
    held."""
    if turn_held(f"{path}-lock"):
        return False
    db = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()
    return True


def _consistent(reg: Register) -> None:
    """Every item's issues and returns alternate, from an issue, and its state and holder
    are those of its last ledger entry."""
    for serial in DEVICES + CARTRIDGES:
        moves = [e for e in reg.history(item=serial) if e.event in ("issued", "returned")]
        events = [e.event for e in moves]
        assert events[:1] in ([], ["issued"]), serial
        assert all(a != b for a, b in itertools.pairwise(events)), (serial, events)
        status = reg.item_status(serial)
        if events and events[-1] == "issued":
            assert (status.state, status.officer) == ("issued", moves[-1].officer), serial
            assert status.since_ms == moves[-1].at_ms
        else:
            assert (status.state, status.officer) == ("in_store", None), serial


def test_a_terminal_killed_mid_issue_leaves_the_register_whole(tmp_path: Path) -> None:
    path = tmp_path / "register.db"
    url = _store(path)
    context = multiprocessing.get_context("fork")
    rng = random.Random(31)
    parked_kills = 0
    for number in range(ROUNDS):
        park = number % 3 == 2
        mine, theirs = context.Pipe()
        terminal = context.Process(target=_terminal, args=(url, number, park, theirs))
        terminal.start()
        assert mine.poll(20), "the terminal never started"
        state = mine.recv()
        if not park:
            time.sleep(rng.uniform(0.005, 0.06))
        assert terminal.pid is not None and terminal.is_alive()
        os.kill(terminal.pid, signal.SIGKILL)
        terminal.join(10)
        assert terminal.exitcode == -signal.SIGKILL
        parked_kills += state == "parked"
        assert _locks_free(path)
    assert parked_kills == 3
    reg = open_register(url)
    check = reg.verify()
    assert check.ok, check.problem
    assert check.entries == reg.ledger_length() > 2 + len(DEVICES) + len(CARTRIDGES)
    _consistent(reg)
    # and the store room carries on: every kit can be returned (if out) and issued again
    for kit in _kits():
        if reg.item_status(kit[0]).state == "issued":
            reg.return_items(kit)
        reg.issue(OFFICERS[0], kit)
    _consistent(reg)
    assert reg.verify().ok
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_writer_waits_its_turn_on_the_lock_beside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "register.db"
    reg = open_register(_store(path), operator="PS 88", terminal="store-1")
    done: list[float] = []

    def issue() -> None:
        reg.issue(OFFICERS[0], _kits()[0])
        done.append(time.monotonic())

    with turns.turn(f"{path}-lock"):  # another writer's turn
        writer = threading.Thread(target=issue, daemon=True)
        writer.start()
        writer.join(0.3)
        assert writer.is_alive() and not done
        released = time.monotonic()
    writer.join(10)
    assert done and done[0] >= released
    assert reg.item_status(DEVICES[0]).state == "issued"


def test_reading_never_holds_the_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verification (or a status) reads a snapshot: terminals may write meanwhile."""
    path = tmp_path / "register.db"
    reg = open_register(_store(path), operator="PS 88", terminal="store-1")
    walk = L.verify_ledger
    writable: list[bool] = []

    def verify_while_writing(conn: Any) -> L.LedgerCheck:
        found = walk(conn)
        writable.append(_locks_free(path))
        return found

    monkeypatch.setattr(L, "verify_ledger", verify_while_writing)
    assert reg.verify().ok
    assert writable == [True]
