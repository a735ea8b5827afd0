"""Atomic file writes: the one way taserlink replaces or creates a file it keeps.

A file is written to a fresh temporary file beside it (created exclusively, so nothing
else's file is ever opened), flushed to disk, then renamed over the target, and the
directory is flushed so the rename survives a power cut.  A reader sees the old file or
the new one, never a part; a failure leaves the old file untouched and no temporary file
behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

__all__ = ["fsync_directory", "update_files", "write_atomic"]

_ATTEMPTS = 16


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make the renames in ``directory`` durable (a no-op where a directory cannot be
    opened, as on some platforms).

    Raises:
        OSError: the directory was opened but could not be flushed (a failing disk).
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically.

    ``mode``: the new file's permission bits; ``None`` keeps those of the file replaced, or
    leaves a new file to the process's umask.  A symbolic link at ``path`` is followed: the
    file it names is replaced, the link kept.

    Raises:
        OSError: the file cannot be written (a missing or read-only directory, a full disk,
            ``path`` a directory); the old file, if any, is unchanged.
    """
    target = Path(os.path.realpath(path))
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            mode = target.stat().st_mode & 0o7777
    temporary: Path | None = None
    fd = -1
    try:
        for _ in range(_ATTEMPTS):
            candidate = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                fd = os.open(candidate, flags, 0o666)
            except FileExistsError:  # pragma: no cover - 48 random bits collided
                continue
            temporary = candidate
            break
        else:  # pragma: no cover - 16 collisions of 48 random bits
            raise FileExistsError(f"cannot make a temporary file beside {target}")
        with os.fdopen(fd, "wb") as stream:
            fd = -1  # the stream owns it now
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
        temporary = None
        fsync_directory(target.parent)
    finally:
        if fd >= 0:
            os.close(fd)
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()


def update_files(
    directory: str | os.PathLike[str], files: Mapping[str, bytes], *, check: bool = False
) -> list[str]:
    """Bring ``directory`` to hold ``files`` (relative name → bytes): the names whose file is
    missing or holds other bytes, in ``files``' order; each is written atomically (its
    folders made) unless ``check``.  What regenerating a folder of sample files needs.

    Raises:
        OSError: a file cannot be read or written.
    """
    changed = []
    for name, data in files.items():
        path = Path(directory) / name
        if path.is_file() and path.read_bytes() == data:
            continue
        changed.append(name)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
    return changed
