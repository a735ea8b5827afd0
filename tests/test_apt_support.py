"""Installs of a missing tool by several test processes at once (tests/apt_support.py), with a
stand-in ``apt-get`` that logs what it is asked and takes its time to install."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import apt_support


@pytest.fixture
def fake_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A stand-in apt-get first on PATH whose install makes ``tool`` after half a second, the
    install lock in ``tmp_path`` and the process taken for root. Returns (tool, apt-get's log)."""
    tool, log = tmp_path / "tool", tmp_path / "apt-get.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt_get = bin_dir / "apt-get"
    apt_get.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{log}"\n'
        f'case " $* " in *" install "*) sleep 0.5; touch "{tool}";; esac\n'
    )
    apt_get.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(apt_support, "_LOCK", tmp_path / "apt.lock")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    log.touch()
    return tool, log


def _finder(tool: Path) -> Callable[[], Path | None]:
    return lambda: tool if tool.exists() else None


def test_processes_finding_a_tool_missing_at_once_install_it_once(
    fake_apt: tuple[Path, Path],
) -> None:
    tool, log = fake_apt
    start = threading.Barrier(3)
    results: list[tuple[Path | None, str]] = []

    def install() -> None:
        start.wait()
        results.append(apt_support.installed_or_install(_finder(tool), ["tool"]))

    threads = [threading.Thread(target=install) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [(tool, "")] * 3
    lines = log.read_text().splitlines()
    assert [line.split()[-1] for line in lines] == ["update", "tool"]


def test_a_tool_being_installed_is_waited_for_not_installed_again(
    fake_apt: tuple[Path, Path],
) -> None:
    tool, log = fake_apt
    results: list[tuple[Path | None, str]] = []
    with apt_support._LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # an install under way in another process
        waiting = threading.Thread(
            target=lambda: results.append(apt_support.installed_or_install(_finder(tool), ["x"]))
        )
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()  # waits, and has not run apt-get
        tool.touch()  # half unpacked: not to be looked at before the lock is let go
    waiting.join(timeout=30)
    assert results == [(tool, "")]
    assert log.read_text() == ""
