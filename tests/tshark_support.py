"""tshark for the capture tests: found on PATH, or installed with apt when running as root.

CI runs the capture tests, so a missing tshark is a failure with the reason, never a skip:
:func:`require_tshark` installs it (``apt-get update && apt-get install -y tshark`` with
``DEBIAN_FRONTEND=noninteractive``) when the process is root and ``apt-get`` exists, and
fails the test with what went wrong otherwise.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.apt_support import apt_install

TSHARK_FIELDS = (
    "frame.number",
    "usb.transfer_type",
    "usb.endpoint_address",
    "usb.urb_type",
    "usb.urb_status",
    "usb.urb_len",
    "usb.data_len",
    "usb.capdata",
)
"""The fields the capture tests ask tshark for, in column order."""


def _install() -> str:
    """Install tshark with apt; return why that failed, or '' when it worked."""
    return apt_install(["tshark"], recommends=False)


@functools.cache
def _locate() -> tuple[str | None, str]:
    found = shutil.which("tshark")
    if found is not None:
        return found, ""
    problem = _install()
    found = shutil.which("tshark")
    if found is None:
        return None, problem or "apt-get reported success but tshark is not on PATH"
    return found, ""


def require_tshark() -> str:
    """The path of tshark, installing it first if needed; fails the calling test if impossible."""
    found, problem = _locate()
    if found is None:
        pytest.fail(
            f"tshark is required by the capture tests and could not be installed: {problem}"
        )
    return found


def require_tool(name: str) -> str:
    """The path of a tool of tshark's package (``editcap``), installing tshark first if
    needed; fails the calling test if it is missing."""
    require_tshark()
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is required by the capture tests and is not installed with tshark")
    return found


def tshark_fields(path: Path, fields: Sequence[str] = TSHARK_FIELDS) -> list[dict[str, str]]:
    """Run ``tshark -r PATH -T fields`` and return one {field: text} dict per frame.

    Fails the calling test when tshark reports an error or a warning (a malformed file).
    """
    tshark = require_tshark()
    command = [tshark, "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for field in fields:
        command += ["-e", field]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, HOME=os.environ.get("HOME", "/tmp")),
    )
    if done.returncode != 0:
        pytest.fail(f"tshark exited {done.returncode} on {path}: {done.stderr.strip()}")
    rows = []
    for line in done.stdout.splitlines():
        values = line.split("\t")
        assert len(values) == len(fields), f"tshark printed {line!r}"
        rows.append(dict(zip(fields, values, strict=True)))
    return rows


def tshark_problems(path: Path) -> list[str]:
    """tshark's summary line of every frame it finds malformed or warns about (expert info
    of severity warning or worse); empty for a clean capture."""
    tshark = require_tshark()
    done = subprocess.run(
        [tshark, "-r", str(path), "-Y", "_ws.malformed || _ws.expert.severity >= warning"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        pytest.fail(f"tshark exited {done.returncode} on {path}: {done.stderr.strip()}")
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def tshark_known_fields() -> set[str]:
    """The names of every field the installed tshark knows (``tshark -G fields``)."""
    tshark = require_tshark()
    done = subprocess.run(
        [tshark, "-G", "fields"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    names = set()
    for line in done.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) > 2 and parts[0] == "F":
            names.add(parts[2])
    return names
