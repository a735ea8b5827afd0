"""Debian packages the tests need (PostgreSQL, tshark, OpenSSL), installed with apt-get
when the test process is root and apt-get exists.

The suite runs in several processes (pytest-xdist): installs are taken one at a time under
an exclusive ``flock`` on a file in the system's temporary folder, and apt-get itself waits
for dpkg's lock (``DPkg::Lock::Timeout``) rather than failing when another program holds it.
:func:`installed_or_install` is for a tool that several processes may find missing at once:
it looks under a shared lock (so it never sees a package half unpacked by another process),
and the first process to find it missing installs it while the others wait for it, then find
it without running apt-get again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

_TIMEOUT_S = 900
_LOCK = Path(tempfile.gettempdir()) / "taserlink-tests-apt.lock"

T = TypeVar("T")


@contextlib.contextmanager
def _installs_finished() -> Iterator[None]:
    """Hold a shared lock on the install lock: no install of this suite's runs meanwhile. A
    lock file the process may not open (made by root, opened by another user) is waited for
    by nobody, as such a process could not install anyway."""
    try:
        fd = os.open(_LOCK, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def installed_or_install(
    find: Callable[[], T | None], packages: Sequence[str], *, recommends: bool = True
) -> tuple[T | None, str]:
    """What ``find`` finds once no install is under way; if nothing, install ``packages``
    (unless another process did so while this one waited for the lock) and look again.
    Returns what was found (None if nothing) and why installing failed ('' if it did not)."""
    with _installs_finished():
        found = find()
    if found is not None:
        return found, ""
    problem = apt_install(packages, recommends=recommends, unless=lambda: find() is not None)
    return find(), problem


def apt_install(
    packages: Sequence[str],
    *,
    recommends: bool = True,
    unless: Callable[[], bool] | None = None,
) -> str:
    """``apt-get update`` and ``apt-get install -y PACKAGES``, not run when ``unless()`` is
    true once the install lock is held; returns why that failed, or '' when it worked."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    if os.geteuid() != 0:
        return "not running as root, so apt-get cannot install it"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    wait = ["-o", f"DPkg::Lock::Timeout={_TIMEOUT_S}"]
    install = ["apt-get", *wait, "install", "-y"]
    if not recommends:
        install.append("--no-install-recommends")
    with _LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if unless is not None and unless():
            return ""
        for command in (["apt-get", *wait, "update"], [*install, *packages]):
            try:
                done = subprocess.run(
                    command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"{' '.join(command)} failed: {exc}"
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                return f"{' '.join(command)} exited {done.returncode}: {' | '.join(tail)}"
    return ""
