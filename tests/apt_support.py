"""Debian packages the tests need (PostgreSQL, tshark, OpenSSL), installed with apt-get
when the test process is root and apt-get exists.

The suite runs in several processes (pytest-xdist): installs are taken one at a time under
an exclusive ``flock`` on a file in the system's temporary folder, and apt-get itself waits
for dpkg's lock (``DPkg::Lock::Timeout``) rather than failing when another program holds it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

_TIMEOUT_S = 900
_LOCK = Path(tempfile.gettempdir()) / "taserlink-tests-apt.lock"


def apt_install(packages: Sequence[str], *, recommends: bool = True) -> str:
    """``apt-get update`` and ``apt-get install -y PACKAGES``; returns why that failed, or
    '' when it worked."""
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
