"""Atomic writes: the new file whole or the old one untouched, nothing left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from taserlink.atomic import write_atomic
from taserlink.errors import OutputPathError


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_new_file_is_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_atomic(target, b"a,b\n1,2\n")
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert leftovers(tmp_path) == []


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_atomic(target, b"newer", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_symbolic_link_is_refused_and_neither_it_nor_its_target_changed(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real.csv"
    real.write_bytes(b"old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    with pytest.raises(OutputPathError, match="symbolic link"):
        write_atomic(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")
    with pytest.raises(OSError):
        write_atomic(tmp_path / "missing" / "out.csv", b"new")
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(OutputPathError, match="is a directory"):
        write_atomic(directory, b"new")
    assert directory.is_dir()
    if os.geteuid() != 0:  # root ignores directory permissions
        tmp_path.chmod(0o500)
        try:
            with pytest.raises(OSError):
                write_atomic(target, b"new")
        finally:
            tmp_path.chmod(0o700)
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_update_files_writes_only_what_differs(tmp_path: Path) -> None:
    from taserlink.atomic import update_files

    (tmp_path / "same.bin").write_bytes(b"same")
    (tmp_path / "old.bin").write_bytes(b"old")
    files = {"same.bin": b"same", "old.bin": b"new", "sub/new.bin": b"made"}
    assert update_files(tmp_path, files, check=True) == ["old.bin", "sub/new.bin"]
    assert (tmp_path / "old.bin").read_bytes() == b"old"
    assert not (tmp_path / "sub").exists()
    assert update_files(tmp_path, files) == ["old.bin", "sub/new.bin"]
    assert (tmp_path / "old.bin").read_bytes() == b"new"
    assert (tmp_path / "sub/new.bin").read_bytes() == b"made"
    assert update_files(tmp_path, files) == []


def test_stale_files_are_those_the_generator_did_not_make(tmp_path: Path) -> None:
    from taserlink.atomic import stale_files, update_files

    files = {"a.bin": b"a", "sub/b.bin": b"b"}
    assert stale_files(tmp_path / "missing", files) == []
    update_files(tmp_path, files)
    (tmp_path / "sub" / "old.bin").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"y")
    assert stale_files(tmp_path, files) == ["notes.txt", "sub/old.bin"]
