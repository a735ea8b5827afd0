"""Writing the files taserlink keeps: atomically, and never over what must not be replaced.

**The destination rule** (one place: :func:`check_destination`; every writer of the library
goes through this module).  A file is written only where nothing is yet, or over a *regular*
file it may replace.  Refused, with :class:`~taserlink.errors.OutputPathError` (the CLI's
exit 2) and nothing written:

- a directory, a FIFO, a socket, a character or block device (``/dev/null``, a disk):
  replacing one destroys the node (as root, ``/dev/null`` itself), writing into one sends
  the output where nobody keeps it;
- a symbolic link, wherever it points: a link in an output folder may lead out of it, and
  following it would replace a file the user never named (remove the link, or name its
  target);
- an existing dataport image (suffix ``.tdi``, any case): evidence is immutable, so an image
  is never replaced, not even by another image.

The folders *above* a destination may be symbolic links: they are the user's choice of where
to write.  Folders taserlink makes inside an output folder (a download's partial) must be
real directories (:func:`make_folder` with ``link_ok=False``).

**How a file is written** (:func:`write_atomic`): the folder is opened once and every step is
made relative to it, so a folder renamed or swapped meanwhile cannot redirect the write.  The
new bytes go to a fresh temporary file beside the destination (created exclusively and
without following links, so nothing else's file is ever opened), are flushed to disk, the
destination is checked again (``lstat``) right before it is replaced, and then:

- no file there: the temporary file is hard-linked into place, which fails rather than
  replace anything that appeared in the meantime (then the rule is applied to that);
- a regular file there: ``rename`` replaces it.  A rename replaces the directory entry and
  never writes through it, so even a node swapped in at the last instant is unlinked, not
  written into.

The folder is then flushed so the rename survives a power cut.  A reader sees the old file or
the new one, never a part; a failure leaves the old file untouched and no temporary file
behind.  :func:`write_new` writes a file that must not replace anything (a new image);
:func:`append_durably` appends to a regular file (a partial download's records).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from taserlink.errors import OutputPathError

__all__ = [
    "EVIDENCE_SUFFIX",
    "append_durably",
    "check_destination",
    "fsync_directory",
    "make_folder",
    "stale_files",
    "update_files",
    "write_atomic",
    "write_new",
]

EVIDENCE_SUFFIX: Final = ".tdi"
"""The suffix of a dataport image: an existing file with it is never replaced."""

_ATTEMPTS: Final = 16
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
_NO_HARD_LINKS: Final = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}
"""What ``link`` fails with on a file system without hard links (then check, and rename)."""

_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refusal(path: str | os.PathLike[str], info: os.stat_result) -> OutputPathError | None:
    """Why the existing ``path`` (its ``lstat``) must not be written over, or None."""
    shown = os.fspath(path)
    if stat.S_ISLNK(info.st_mode):
        return OutputPathError(
            f"{shown} is a symbolic link: taserlink never writes through a link "
            "(remove it, or name the file itself)",
            shown,
        )
    if not stat.S_ISREG(info.st_mode):
        return OutputPathError(
            f"{shown} is {_kind(info.st_mode)}, not a regular file: refusing to replace it",
            shown,
        )
    if Path(shown).suffix.lower() == EVIDENCE_SUFFIX:
        return OutputPathError(
            f"{shown} is an existing dataport image: evidence is never replaced (name a new file)",
            shown,
        )
    return None


def check_destination(path: str | os.PathLike[str]) -> os.stat_result | None:
    """Apply the destination rule (module docstring) to ``path`` as it stands now.

    Returns the ``lstat`` of the regular file that may be replaced, or ``None`` when nothing
    is there.

    Raises:
        OutputPathError: ``path`` is a directory, FIFO, socket, device, symbolic link or an
            existing ``.tdi`` image.
        OSError: ``path`` cannot be looked at (a folder on the way missing or unreadable).
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    refusal = _refusal(path, info)
    if refusal is not None:
        raise refusal
    return info


def _existing(name: str, target: Path, folder_fd: int) -> os.stat_result | None:
    """:func:`check_destination` of ``name`` in the open folder (messages name ``target``)."""
    try:
        info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    refusal = _refusal(target, info)
    if refusal is not None:
        raise refusal
    return info


def make_folder(path: str | os.PathLike[str], *, link_ok: bool = True) -> Path:
    """Make the folder ``path`` (and its parents) unless it exists; return it.

    ``link_ok``: ``path`` may be a symbolic link to a folder (an output folder the user
    named); ``False`` for a folder taserlink makes for itself inside an output folder.

    Raises:
        OutputPathError: ``path`` exists and is not a folder (or is a link, without
            ``link_ok``).
        OSError: it cannot be made.
    """
    folder = Path(path)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) and link_ok:
        with contextlib.suppress(OSError):  # a dangling link stays a link: refused below
            info = os.stat(folder)
    if not stat.S_ISDIR(info.st_mode):
        shown = os.fspath(folder)
        raise OutputPathError(
            f"{shown} is {_kind(info.st_mode)}, not a folder taserlink may write in", shown
        )
    return folder


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


def _open_folder(folder: Path) -> int:
    """A handle on ``folder`` that every step of a write is made relative to."""
    return os.open(folder, os.O_RDONLY | _DIRECTORY | _CLOEXEC)


def _temporary(folder_fd: int, name: str, data: bytes, mode: int | None) -> str:
    """A new temporary file in the folder holding ``data`` (flushed to disk); its name."""
    for _ in range(_ATTEMPTS):
        candidate = f".{name}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        try:
            fd = os.open(candidate, flags, 0o666, dir_fd=folder_fd)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        break
    else:  # pragma: no cover - 16 collisions of 48 random bits
        raise FileExistsError(f"cannot make a temporary file beside {name}")
    try:
        with os.fdopen(fd, "wb") as stream:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(candidate, dir_fd=folder_fd)
        raise
    return candidate


def _link(temporary: str, name: str, folder_fd: int) -> bool:
    """Hard-link ``temporary`` as ``name``; False when the file system has no hard links.

    Raises:
        FileExistsError: something is at ``name`` already.
    """
    try:
        os.link(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno in _NO_HARD_LINKS:
            return False
        raise
    return True


def write_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically, under the destination rule (module docstring).

    ``mode``: the new file's permission bits; ``None`` keeps those of the file replaced, or
    leaves a new file to the process's umask.

    Raises:
        OutputPathError: ``path`` is a directory, FIFO, socket, device, symbolic link or an
            existing ``.tdi`` image (checked before writing and again right before the
            rename); nothing is written.
        OSError: the file cannot be written (a missing or read-only folder, a full disk);
            the old file, if any, is unchanged.
    """
    target = Path(path)
    name = target.name
    if not name or name in {".", ".."}:
        raise OutputPathError(f"{os.fspath(path)} names a folder, not a file", os.fspath(path))
    folder_fd = _open_folder(target.parent)
    try:
        existing = _existing(name, target, folder_fd)
        if existing is not None and mode is None:
            mode = stat.S_IMODE(existing.st_mode)
        temporary = _temporary(folder_fd, name, data, mode)
        placed = False
        try:
            _place(temporary, name, target, folder_fd)
            placed = True
        finally:
            if not placed:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder_fd)
        os.fsync(folder_fd)
    finally:
        os.close(folder_fd)


def _place(temporary: str, name: str, target: Path, folder_fd: int) -> None:
    """Put the finished ``temporary`` at ``name``, the rule checked right before."""
    if _existing(name, target, folder_fd) is None:
        try:
            if _link(temporary, name, folder_fd):
                os.unlink(temporary, dir_fd=folder_fd)
                return
        except FileExistsError:  # it appeared meanwhile: the rule decides
            _existing(name, target, folder_fd)
    os.replace(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)


def write_new(directory: str | os.PathLike[str], names: Iterable[str], data: bytes) -> Path:
    """Write ``data`` atomically as the first of ``names`` that is free in ``directory``,
    never replacing anything (what a new dataport image needs).

    Returns the path written.

    Raises:
        FileExistsError: every name is taken.
        OSError: the file cannot be written; nothing is left behind.
    """
    folder = Path(directory)
    folder_fd = _open_folder(folder)
    try:
        candidates = list(names)
        temporary = _temporary(folder_fd, candidates[0], data, None)
        renamed = False
        try:
            for name in candidates:
                try:
                    linked = _link(temporary, name, folder_fd)
                except FileExistsError:
                    continue
                if not linked:  # no hard links here: check, then rename
                    if _exists(name, folder_fd):
                        continue
                    os.rename(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
                    renamed = True
                return folder / name
            raise FileExistsError(f"every name for {candidates[0]} in {folder} is taken")
        finally:
            if not renamed:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder_fd)
            with contextlib.suppress(OSError):  # in place; this only makes it durable sooner
                os.fsync(folder_fd)
    finally:
        os.close(folder_fd)


def _exists(name: str, folder_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def append_durably(path: str | os.PathLike[str], data: bytes) -> None:
    """Append ``data`` to the existing regular file ``path`` and flush it to disk.

    Raises:
        OutputPathError: ``path`` is not a regular file (a link, a FIFO, a device …) or is
            a ``.tdi`` image; nothing is written.
        OSError: it is missing or cannot be written.
    """
    shown = os.fspath(path)
    before = check_destination(path)
    if before is None:
        raise FileNotFoundError(errno.ENOENT, "no file to append to", shown)
    flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:  # a link put there since the check
            check_destination(path)
        raise
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            refusal = _refusal(path, info) or OutputPathError(
                f"{shown} was replaced while it was being opened", shown
            )
            raise refusal
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def update_files(
    directory: str | os.PathLike[str], files: Mapping[str, bytes], *, check: bool = False
) -> list[str]:
    """Bring ``directory`` to hold ``files`` (relative name → bytes): the names whose file is
    missing or holds other bytes, in ``files``' order; each is written atomically (its
    folders made) unless ``check``.  What regenerating a folder of sample files needs:
    sample images (``.tdi``) are generated files, so one that differs is replaced here
    (removed, then written), which :func:`write_atomic` alone never does.

    Raises:
        OSError: a file cannot be read or written.
        OutputPathError: a name is a link, a folder or another non-regular file.
    """
    changed = []
    for name, data in files.items():
        path = Path(directory) / name
        try:
            regular = stat.S_ISREG(os.lstat(path).st_mode)
        except FileNotFoundError:
            regular = False
        if regular and path.read_bytes() == data:
            continue
        changed.append(name)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            if regular and path.suffix.lower() == EVIDENCE_SUFFIX:
                path.unlink()  # a sample image regenerated, not evidence replaced
            write_atomic(path, data)
    return changed


def stale_files(directory: str | os.PathLike[str], files: Mapping[str, bytes]) -> list[str]:
    """The files under ``directory`` (relative names, sorted) that are not in ``files``:
    what a regenerated folder holds that its generator did not make ([] when the folder
    does not exist)."""
    root = Path(directory)
    if not root.exists():
        return []
    return sorted(
        name
        for name in (str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        if name not in files
    )
