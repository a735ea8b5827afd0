"""Writers' turns on a SQLite register (:mod:`taserlink.register.turns`): one at a time, in
the order they asked, handed on when a holder dies, and never in the way when the queue
file cannot be written."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from taserlink.register import turns

pytestmark = pytest.mark.skipif(
    not hasattr(fcntl, "F_OFD_GETLK"), reason="open-file-description locks are Linux's"
)


def turn_held(path: str) -> bool:
    """Whether any writer holds or waits for a turn in the queue at ``path`` (any byte
    lock on the file, found with ``F_OFD_GETLK``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        probe = struct.pack("hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
        kind = struct.unpack("hhqqi4x", fcntl.fcntl(fd, fcntl.F_OFD_GETLK, probe))[0]
        return bool(kind != fcntl.F_UNLCK)
    finally:
        os.close(fd)


def _last_ticket(path: str) -> int:
    with open(path, "rb") as file:
        return int.from_bytes(file.read(8).ljust(8, b"\0"), "little")


def _writer(path: str, name: int, log: Any, hold: float, go: Any = None) -> None:
    """Take a turn (when ``go`` is set, if given), log entering and leaving it with the
    time, and hold it ``hold`` s."""
    if go is not None:
        go.wait(10)
    with turns.turn(path):
        log.put(("in", name, time.monotonic()))
        time.sleep(hold)
        log.put(("out", name, time.monotonic()))


def test_writers_take_turns_one_at_a_time_in_the_order_they_asked(tmp_path: Path) -> None:
    path = str(tmp_path / "register.db-lock")
    context = multiprocessing.get_context("fork")
    log = context.Queue()
    gos = [context.Event() for _ in range(6)]
    writers = [
        context.Process(target=_writer, args=(path, name, log, 0.02, gos[name]))
        for name in range(6)
    ]
    for writer in writers:
        writer.start()
    with turns.turn(path):  # the first writer's turn: the others queue behind it
        for go in gos:
            before = _last_ticket(path)
            go.set()
            deadline = time.monotonic() + 10
            while _last_ticket(path) == before:  # queued: it took the next ticket
                assert time.monotonic() < deadline, "a writer never queued"
                time.sleep(0.002)
        time.sleep(0.05)
        assert log.empty()  # nobody entered while the turn was held
    # in the order they happened: a queue fed by six processes delivers in no set order
    events = sorted((log.get(timeout=10) for _ in range(12)), key=lambda e: (e[2], e[0] == "in"))
    for writer in writers:
        writer.join(10)
        assert writer.exitcode == 0
    assert [name for what, name, _ in events if what == "in"] == list(range(6))
    # one at a time: each writer left before the next entered
    assert [what for what, *_ in events] == ["in", "out"] * 6
    assert [name for _, name, _ in events] == [n for n in range(6) for _ in (0, 1)]
    assert not turn_held(path)


def test_a_child_forked_in_a_turn_does_not_keep_it(tmp_path: Path) -> None:
    path = str(tmp_path / "register.db-lock")
    context = multiprocessing.get_context("fork")
    log = context.Queue()
    with turns.turn(path):
        child = context.Process(target=_writer, args=(path + "-other", 1, log, 3600))
        child.start()
    try:
        assert log.get(timeout=10)[:2] == ("in", 1)  # the child runs (on in a turn of its own)
        assert not turn_held(path)
        _writer(path, 0, log, 0)
        assert log.get(timeout=1)[:2] == ("in", 0)
    finally:
        child.kill()
        child.join(10)


def test_a_writer_killed_in_its_turn_hands_it_on(tmp_path: Path) -> None:
    path = str(tmp_path / "register.db-lock")
    context = multiprocessing.get_context("fork")
    log = context.Queue()
    stuck = context.Process(target=_writer, args=(path, 0, log, 3600))
    stuck.start()
    assert log.get(timeout=10)[:2] == ("in", 0)
    waiting = context.Process(target=_writer, args=(path, 1, log, 0))
    waiting.start()
    time.sleep(0.1)
    assert log.empty() and turn_held(path)
    assert stuck.pid is not None
    os.kill(stuck.pid, signal.SIGKILL)
    stuck.join(10)
    assert log.get(timeout=10)[:2] == ("in", 1)
    waiting.join(10)
    assert waiting.exitcode == 0 and not turn_held(path)


def test_tickets_start_again_after_the_last(tmp_path: Path) -> None:
    path = tmp_path / "register.db-lock"
    path.write_bytes(((1 << 62) - 1).to_bytes(8, "little"))
    with turns.turn(str(path)):
        assert _last_ticket(str(path)) == 1
    with turns.turn(str(path)):
        assert _last_ticket(str(path)) == 2


def test_a_queue_file_that_cannot_be_written_still_gives_a_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "register.db-lock"
    path.write_bytes(b"")
    real_open = os.open

    def read_only(name: Any, flags: int, *args: Any) -> int:
        if flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, *args)

    monkeypatch.setattr(turns.os, "open", read_only)
    with turns.turn(str(path)):  # flock on the read-only file
        fd = real_open(path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    monkeypatch.undo()
    missing = tmp_path / "no such folder" / "register.db-lock"
    with turns.turn(str(missing)):  # nothing to lock: the database's locking alone
        pass
    assert not missing.exists()
