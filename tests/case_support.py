"""``case_validate`` (CASE-Utilities-Python, package ``case-utils``) for the tests of the CASE
export, kept out of the project's own environment.

case-utils brings rdflib, pySHACL, OWL-RL and pandas; none of them is a dependency of
taserlink, so it lives in a virtualenv of its own under the system's temporary folder,
``taserlink-tests-case-utils-<version>-py<X.Y>``, made once per machine by
:func:`require_case_validate` (``python -m venv``, then ``pip install case-utils==<version>``)
and reused by every later run. The suite runs in several processes (pytest-xdist): the first
to find it missing makes it under an exclusive ``flock`` while the others wait for the lock,
then find it made. A ``.ready`` file, written last, marks a whole install: a virtualenv without
one (a run killed midway) is removed and made again.

As with the other tools the tests need (``tests/apt_support.py``), a validator that cannot be
had fails the test with the reason; it is never a skip.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

CASE_UTILS_VERSION = "0.18.0"
"""The case-utils release the tests validate with (its default ontology: CASE 1.5.0)."""
CASE_VERSION = "case-1.5.0"
"""The CASE release the export is validated against (``case_validate --built-version``)."""

_TIMEOUT_S = 900
_HOME = Path(tempfile.gettempdir())
_VENV = (
    _HOME / f"taserlink-tests-case-utils-{CASE_UTILS_VERSION}-py"
    f"{sys.version_info.major}.{sys.version_info.minor}"
)
_LOCK = _HOME / "taserlink-tests-case-utils.lock"
_READY = _VENV / ".ready"


def _executable() -> Path:
    return _VENV / "bin" / "case_validate"


def _run(command: list[str]) -> str:
    """Run ``command``; '' when it worked, else why not (its last lines)."""
    try:
        done = subprocess.run(
            command,
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


def install_case_validate() -> tuple[Path | None, str]:
    """The ``case_validate`` of the tests' virtualenv, made first when missing. Returns its
    path (``None`` when it cannot be had) and why not ('' when it can)."""
    if _READY.exists():
        return _executable(), ""
    with _LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _READY.exists():  # made by another process while this one waited
            return _executable(), ""
        shutil.rmtree(_VENV, ignore_errors=True)
        python = str(_VENV / "bin" / "python")
        for command in (
            [sys.executable, "-m", "venv", str(_VENV)],
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"case-utils=={CASE_UTILS_VERSION}",
            ],
            [str(_executable()), "--help"],
        ):
            problem = _run(command)
            if problem:
                return None, problem
        _READY.write_text(f"case-utils=={CASE_UTILS_VERSION}\n")
    return _executable(), ""


def require_case_validate() -> Path:
    """``case_validate``'s path; when it cannot be had, the test fails with the reason."""
    found, problem = install_case_validate()
    if found is None:
        pytest.fail(f"case_validate (case-utils {CASE_UTILS_VERSION}) is needed: {problem}")
    return found


def case_validate(path: Path, *, case_version: str = CASE_VERSION) -> tuple[int, str]:
    """``case_validate --built-version CASE_VERSION PATH``: its exit status and its output
    (stdout then stderr)."""
    done = subprocess.run(
        [str(require_case_validate()), "--built-version", case_version, str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr
