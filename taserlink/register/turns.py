"""Writers' turns on a SQLite register, first come first served.

SQLite lets one writer at a time commit and makes the others wait by polling with sleeps
that grow to 100 ms.  Before a write transaction, each writer therefore takes its turn in a
queue kept in a small file beside the database (``<file>-lock``), so the kernel hands the
turn on the moment the writer before it is done, in the order the writers arrived.  With
eight terminals writing without a pause, a lock that anyone may grab (``flock``) lets the
writer that has just finished take it again; the queue makes every writer's wait the work
of those ahead of it (``bench/bench_register.py`` measures both: the slowest call 11–18 ms
against 21–24 ms in three runs, the 99th percentiles alike).

The queue is a CLH lock on open-file-description byte locks (Linux's ``F_OFD_SETLKW``):

1. under a guard lock on bytes 0–7 of the file, a writer reads the last ticket (an
   unsigned 64-bit number stored there), takes the next one, locks that ticket's byte
   (offset ``8 + ticket``; locks may lie beyond the end of the file) and stores its ticket;
2. it waits on the byte of the ticket before its own; that lock is released when the
   writer before it closes the file, after its transaction (or when its process dies);
3. its own byte is released when it closes the file.

A process forked during a turn does not inherit it: its copies of the queue's descriptors
are closed in the child (a lock of an open file description lasts while any copy of the
descriptor is open, so a child that kept one would hold the turn after its parent left it).

Turns only order writers: the database's own locking keeps them apart, so a queue
confused by a process killed half-way through step 1 or by a writer of another version
costs waiting time, never a rule.  Where the file cannot be written, or the platform has
no open-file-description locks, writers fall back to ``flock`` on the same file (any
order), and where it cannot be opened at all, to the database's locking alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["turn"]

_OFD_WAIT: Final[int | None] = getattr(fcntl, "F_OFD_SETLKW", None)
_TICKETS: Final = 1 << 62
"""Tickets run 1 … 2**62 - 1 and start again (a slot's byte offset stays a valid off_t)."""
_SLOTS: Final = 8
"""The first ticket's byte; bytes 0-7 hold the last ticket and are the guard lock."""
_HELD: set[int] = set()
"""This process's open queue descriptors."""


def _forget_in_child() -> None:
    for fd in _HELD:
        os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _lock(fd: int, kind: int, start: int, length: int) -> None:
    """An open-file-description lock of ``kind`` (``F_WRLCK``, ``F_UNLCK``) on
    ``length`` bytes from ``start``, waiting for it."""
    assert _OFD_WAIT is not None
    # struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks), padding
    fcntl.fcntl(fd, _OFD_WAIT, struct.pack("hhqqi4x", kind, os.SEEK_SET, start, length, 0))


@contextmanager
def turn(path: str) -> Iterator[None]:
    """This writer's turn in the queue kept in ``path`` (module docstring): entered when
    every writer that asked before it is done; left on leaving the block."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    except OSError:
        yield from _flock(path)
        return
    _HELD.add(fd)
    try:
        # no order on failure (no locks left, a full disk): the database keeps writes apart
        with contextlib.suppress(OSError):
            _queue(fd)
        yield
    finally:
        if fd in _HELD:  # not closed by a fork (this is its child)
            _HELD.discard(fd)
            os.close(fd)


def _queue(fd: int) -> None:
    """Steps 1 and 2 of the module docstring on ``fd``: returns at this writer's turn."""
    if _OFD_WAIT is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    _lock(fd, fcntl.F_WRLCK, 0, _SLOTS)
    last = int.from_bytes(os.pread(fd, 8, 0).ljust(8, b"\0"), "little")
    mine = last % (_TICKETS - 1) + 1
    _lock(fd, fcntl.F_WRLCK, _SLOTS + mine, 1)
    os.pwrite(fd, mine.to_bytes(8, "little"), 0)
    _lock(fd, fcntl.F_UNLCK, 0, _SLOTS)
    if last:
        _lock(fd, fcntl.F_WRLCK, _SLOTS + last, 1)
        _lock(fd, fcntl.F_UNLCK, _SLOTS + last, 1)


def _flock(path: str) -> Iterator[None]:
    """``flock`` on a file that can only be read; nothing where it cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield
        return
    _HELD.add(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd in _HELD:
            _HELD.discard(fd)
            os.close(fd)
