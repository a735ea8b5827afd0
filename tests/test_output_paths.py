"""Output paths never destroy anything (:mod:`taserlink.atomic`'s destination rule).

Every writer — :func:`~taserlink.atomic.write_atomic` and the commands and library calls
built on it (``match --out``, ``download`` and its partials, evidence exports) — refuses a
device node, a FIFO, a socket, a directory, a symbolic link (wherever it points) and an
existing ``.tdi`` image: the library raises :class:`~taserlink.errors.OutputPathError`, the
CLI exits 2 with one line, and the node or the link's target is left exactly as it was.
The tests run as root (a character node like ``/dev/null`` is made with ``mknod`` in a
temporary folder), which is what makes replacing a device node possible at all.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from taserlink import atomic
from taserlink.atomic import append_durably, check_destination, make_folder, write_atomic, write_new
from taserlink.cli import dock, main
from taserlink.errors import OutputPathError
from taserlink.format import read_image
from taserlink.integrity.export import export_evidence
from tests.conftest import CAPTURES

IMAGE = CAPTURES / "incident-shift.tdi"
ROOT_ONLY = pytest.mark.skipif(
    os.geteuid() != 0, reason="mknod of a character device needs root (the suite runs as root)"
)


def _char_node(path: Path) -> Path:
    """A character device like ``/dev/null`` (major 1, minor 3) at ``path``."""
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    (path / "kept.txt").write_text("kept\n")
    return path


def _link_inside(path: Path) -> Path:
    target = path.with_name("target-inside.csv")
    target.write_text("the link's target\n")
    path.symlink_to(target.name)
    return path


def _link_outside(path: Path) -> Path:
    outside = path.parent.parent / f"outside-{path.parent.name}.txt"
    outside.write_text("a file outside the output folder\n")
    path.symlink_to(outside)
    return path


def _dangling_link(path: Path) -> Path:
    path.symlink_to(path.parent / "nowhere.csv")
    return path


def _image(path: Path) -> Path:
    path.write_bytes(IMAGE.read_bytes())
    return path


Maker = Callable[[Path], Path]
REFUSED: list[tuple[str, str, Maker, str]] = [
    ("char-node", "out.csv", _char_node, "is a character device"),
    ("fifo", "out.csv", _fifo, "is a FIFO"),
    ("socket", "out.csv", _socket, "is a socket"),
    ("directory", "out.csv", _directory, "is a directory"),
    ("link-inside", "out.csv", _link_inside, "is a symbolic link"),
    ("link-outside", "out.csv", _link_outside, "is a symbolic link"),
    ("dangling-link", "out.csv", _dangling_link, "is a symbolic link"),
    ("image", "evidence.tdi", _image, "existing dataport image"),
    ("image-upper-case", "EVIDENCE.TDI", _image, "existing dataport image"),
]


def _params() -> list[object]:
    return [
        pytest.param(name, file, maker, why, id=name, marks=[ROOT_ONLY] if "node" in name else [])
        for name, file, maker, why in REFUSED
    ]


def _snapshot(path: Path) -> tuple[object, ...]:
    """What must not change: the entry's own metadata, and a link's target or a file's bytes."""
    info = os.lstat(path)
    kept: tuple[object, ...] = (stat.S_IFMT(info.st_mode), info.st_ino, info.st_rdev)
    if stat.S_ISLNK(info.st_mode):
        target = Path(os.readlink(path))
        target = target if target.is_absolute() else path.parent / target
        kept += (os.readlink(path), target.read_bytes() if target.exists() else None)
    elif stat.S_ISREG(info.st_mode):
        kept += (path.read_bytes(),)
    elif stat.S_ISDIR(info.st_mode):
        kept += (sorted(os.listdir(path)),)
    return kept


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.fixture
def out_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


# -- the rule, in the library -------------------------------------------------------------


@pytest.mark.parametrize(("name", "file", "maker", "why"), _params())
def test_write_atomic_refuses_and_leaves_the_path_untouched(
    out_folder: Path, name: str, file: str, maker: Maker, why: str
) -> None:
    path = maker(out_folder / file)
    before, listing = _snapshot(path), _listing(out_folder)
    with pytest.raises(OutputPathError, match=why) as caught:
        write_atomic(path, b"exhibit,serial\n")
    assert caught.value.path == str(path)
    assert "\n" not in str(caught.value)
    assert _snapshot(path) == before
    assert _listing(out_folder) == listing  # no temporary file left


@pytest.mark.parametrize(("name", "file", "maker", "why"), _params())
def test_check_destination_names_every_refused_kind(
    out_folder: Path, name: str, file: str, maker: Maker, why: str
) -> None:
    path = maker(out_folder / file)
    with pytest.raises(OutputPathError, match=why):
        check_destination(path)


def test_a_regular_file_is_replaced_and_a_new_image_written(out_folder: Path) -> None:
    old = out_folder / "out.csv"
    old.write_text("old\n")
    assert check_destination(old) is not None
    assert check_destination(out_folder / "new.tdi") is None
    write_atomic(old, b"new\n")
    write_atomic(out_folder / "new.tdi", b"an image")
    assert old.read_bytes() == b"new\n"
    assert (out_folder / "new.tdi").read_bytes() == b"an image"
    assert _listing(out_folder) == ["new.tdi", "out.csv"]


def test_a_folder_above_the_file_may_be_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    write_atomic(tmp_path / "via" / "out.csv", b"x\n")
    assert (real / "out.csv").read_bytes() == b"x\n"


@ROOT_ONLY
@pytest.mark.parametrize("maker", [_char_node, _fifo, _link_outside], ids=["node", "fifo", "link"])
def test_a_node_swapped_in_while_writing_is_refused(
    out_folder: Path, monkeypatch: pytest.MonkeyPatch, maker: Maker
) -> None:
    """The destination is checked again right before the rename: a device node, FIFO or
    link put there after the first check (while the bytes were being written) is refused,
    and the temporary file removed."""
    path = out_folder / "out.csv"
    real_temporary = atomic._temporary

    def temporary(folder_fd: int, name: str, data: bytes, mode: int | None) -> str:
        written = real_temporary(folder_fd, name, data, mode)
        maker(path)  # the race: something appears at the destination now
        return written

    monkeypatch.setattr(atomic, "_temporary", temporary)
    with pytest.raises(OutputPathError):
        write_atomic(path, b"new\n")
    kind = stat.S_IFMT(os.lstat(path).st_mode)
    assert kind in (stat.S_IFCHR, stat.S_IFIFO, stat.S_IFLNK)
    assert [n for n in _listing(out_folder) if n.endswith(".tmp")] == []


@ROOT_ONLY
def test_append_and_folders_follow_the_rule(out_folder: Path) -> None:
    node = _char_node(out_folder / "records.bin")
    with pytest.raises(OutputPathError, match="character device"):
        append_durably(node, b"x")
    link = _link_outside(out_folder / "linked.bin")
    with pytest.raises(OutputPathError, match="symbolic link"):
        append_durably(link, b"x")
    assert (out_folder.parent / f"outside-{out_folder.name}.txt").read_text().startswith("a file")
    regular = out_folder / "plain.bin"
    regular.write_bytes(b"ab")
    append_durably(regular, b"cd")
    assert regular.read_bytes() == b"abcd"
    with pytest.raises(OutputPathError, match="is a FIFO"):
        make_folder(_fifo(out_folder / "a-fifo"))
    linked_folder = out_folder / "linked-folder"
    linked_folder.symlink_to(out_folder.parent)
    assert make_folder(linked_folder) == linked_folder  # a folder the user named may be a link
    with pytest.raises(OutputPathError, match="symbolic link"):
        make_folder(linked_folder, link_ok=False)


def test_write_new_never_replaces(out_folder: Path) -> None:
    (out_folder / "D1.tdi").write_bytes(b"first")
    _fifo(out_folder / "D1-2.tdi")
    path = write_new(out_folder, ["D1.tdi", "D1-2.tdi", "D1-3.tdi"], b"third")
    assert path == out_folder / "D1-3.tdi"
    assert (out_folder / "D1.tdi").read_bytes() == b"first"
    assert stat.S_ISFIFO(os.lstat(out_folder / "D1-2.tdi").st_mode)
    with pytest.raises(FileExistsError):
        write_new(out_folder, ["D1.tdi"], b"again")
    assert _listing(out_folder) == ["D1-2.tdi", "D1-3.tdi", "D1.tdi"]


# -- the commands -------------------------------------------------------------------------


@pytest.fixture
def match_inputs(tmp_path: Path) -> tuple[Path, Path]:
    reads = tmp_path / "reads.csv"
    reads.write_text("exhibit,tag,read\nE1,T1,S4K7P2M9Q\n")
    serials = tmp_path / "serials.txt"
    serials.write_text((CAPTURES / "incident" / "serials.txt").read_text())
    return reads, serials


@pytest.mark.parametrize(("name", "file", "maker", "why"), _params())
def test_match_out_is_refused_with_exit_2_and_one_line(
    out_folder: Path, match_inputs: tuple[Path, Path], name: str, file: str, maker: Maker, why: str
) -> None:
    path = maker(out_folder / file)
    before, listing = _snapshot(path), _listing(out_folder)
    reads, serials = match_inputs
    code, stdout, err = _run(
        "match", "--reads", str(reads), "--serials", str(serials), "--out", str(path)
    )
    assert code == 2
    assert stdout == ""
    assert err.startswith(f"taserlink: error: {path} ") and why in err
    assert err.count("\n") == 1
    assert _snapshot(path) == before
    assert _listing(out_folder) == listing


@pytest.fixture
def fresh_dock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (dock.FAULTS_ENV, "TASERLINK_ROOTS", "TASERLINK_OPERATOR"):
        monkeypatch.delenv(name, raising=False)
    dock.reset_emulated()
    yield
    dock.reset_emulated()


@ROOT_ONLY
@pytest.mark.usefixtures("fresh_dock")
@pytest.mark.parametrize("maker", [_char_node, _fifo, _link_outside], ids=["node", "fifo", "link"])
def test_download_out_that_is_no_folder_is_refused_with_exit_2(
    out_folder: Path, maker: Maker
) -> None:
    """``--out`` naming a device node, a FIFO or a link to a file: nothing is downloaded."""
    path = maker(out_folder / "downloads")
    before = _snapshot(path)
    code, stdout, err = _run("download", "--emulated", "1", "--out", str(path))
    assert code == 2
    assert stdout == ""
    assert err.startswith(f"taserlink: error: {path} is ") and err.count("\n") == 1
    assert _snapshot(path) == before


@pytest.mark.usefixtures("fresh_dock")
def test_a_partial_folder_that_is_a_link_out_is_refused_and_its_target_untouched(
    tmp_path: Path,
) -> None:
    """A ``<serial>.partial`` planted as a link to another folder: the device is not
    downloaded (its row says why, exit 2), nothing is written into the link's target and
    the link is not followed when the partial would be removed."""
    out = tmp_path / "downloads"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "records.bin").write_bytes(b"someone else's file")
    serial = dock.emulated_device(0).spec.serial
    (out / f"{serial}.partial").symlink_to(elsewhere)
    code, stdout, err = _run("download", "--emulated", "1", "--out", str(out), "--json")
    assert code == 2
    partial = out / f"{serial}.partial"
    refusal = f"{partial} is a symbolic link, not a folder taserlink may write in"
    assert json.loads(stdout)["devices"][0]["error"] == refusal
    assert err.splitlines()[-1] == f"taserlink: error: {serial}: {refusal}"
    assert _listing(elsewhere) == ["records.bin"]
    assert (elsewhere / "records.bin").read_bytes() == b"someone else's file"
    assert _listing(out) == [f"{serial}.partial"]


@ROOT_ONLY
@pytest.mark.parametrize("maker", [_char_node, _fifo, _link_outside], ids=["node", "fifo", "link"])
def test_evidence_export_into_a_node_or_a_link_to_a_file_is_refused(
    tmp_path: Path, maker: Maker
) -> None:
    path = maker(tmp_path / "evidence")
    before = _snapshot(path)
    with pytest.raises(OutputPathError, match="not a folder taserlink may write in"):
        export_evidence(read_image(IMAGE), path)
    assert _snapshot(path) == before
