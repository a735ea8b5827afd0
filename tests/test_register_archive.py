"""The archive of downloads: each kept once by SHA-256, verified, checked to continue the
device's previous download, recorded in the ledger."""

from __future__ import annotations

import hashlib
import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from taserlink.cli import main
from taserlink.emulator import pki
from taserlink.integrity import TrustStore
from taserlink.register import open_register
from tests.test_clock_correction import _SPEC, HOUR, Driven

ROOT = pki.test_authority().root_pem()


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _downloads(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two downloads of one device in order, and a third of the same serial with another
    history (it continues neither)."""
    run = Driven(0, 20.0)
    run.events(3, HOUR)
    first = tmp_path / "first.tdi"
    first.write_bytes(run.download().data)
    run.events(4, HOUR)
    second = tmp_path / "second.tdi"
    second.write_bytes(run.download().data)
    other = Driven(11, 20.0)
    other.events(12, HOUR)
    stranger = tmp_path / "stranger.tdi"
    stranger.write_bytes(other.download().data)
    return first, second, stranger


def test_downloads_are_kept_once_and_chained(tmp_path: Path) -> None:
    first, second, stranger = _downloads(tmp_path)
    roots = tmp_path / "root.pem"
    roots.write_bytes(ROOT)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    reg = open_register(url, create=True, operator="PS 88", terminal="store-1")
    trust = TrustStore.from_pem(ROOT)
    folder = tmp_path / "store.db.archive"
    assert _run("register", "--db", url, "archive", str(first), "--roots", str(roots))[0] == 2
    reg.add_devices([(_SPEC.serial, "X2", "3.1.0")])
    one = reg.archive(first, trust, folder)
    assert one.new and one.ok and one.previous is None
    assert (
        one.stored
        == folder / _SPEC.serial / f"{hashlib.sha256(first.read_bytes()).hexdigest()}.tdi"
    )
    assert one.stored.read_bytes() == first.read_bytes()
    two = reg.archive(second, trust, folder)
    assert two.new and two.ok and two.previous == one.sha256 and not two.continuity
    again = reg.archive(second, trust, folder)
    assert not again.new
    entries = [e for e in reg.history(item=_SPEC.serial) if e.event == "downloaded"]
    assert [e.details()["sha256"] for e in entries] == [one.sha256, two.sha256]
    code, out, _ = _run("register", "--db", url, "archive", str(stranger), "--roots", str(roots))
    assert code == 1 and "does NOT continue" in out and "continuity" in out
    assert reg.verify().ok


def test_a_changed_archive_is_named(tmp_path: Path) -> None:
    first, second, _ = _downloads(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    reg = open_register(url, create=True)
    reg.add_devices([(_SPEC.serial, "X2", "3.1.0")])
    trust = TrustStore.from_pem(ROOT)
    folder = tmp_path / "archive"
    (tmp_path / "root.pem").write_bytes(ROOT)
    kept = reg.archive(first, trust, folder)
    kept.stored.chmod(0o644)
    kept.stored.write_bytes(kept.stored.read_bytes()[:-1] + b"\0")
    code, _, err = _run(
        "register",
        "--db",
        url,
        "archive",
        str(second),
        "--archive",
        str(folder),
        "--roots",
        str(tmp_path),
    )
    assert code == 2 and "archived download changed" in err


def test_download_archives_each_image_in_the_register(tmp_path: Path) -> None:
    """``download --register``: each downloaded image archived and recorded; an image of a
    device the register does not hold is named and not archived (exit 1)."""
    import json

    code, out, _ = _run("devices", "--emulated", "2", "--json")
    serials = [d["serial"] for d in json.loads(out)["devices"]]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    reg = open_register(url, create=True)
    reg.add_devices([(serials[0], "TL-10", "3.2.0")])
    roots = tmp_path / "root.pem"
    roots.write_bytes(ROOT)
    common = ["download", "--emulated", "2", "--roots", str(roots), "--register", url, "--json"]
    code, out, err = _run(*common, "--out", str(tmp_path / "one"))
    assert code == 1, err
    assert f"{serials[1]}: not archived" in err and f"{serials[0]}: archived as" in err
    reg.add_devices([(serials[1], "TL-10", "3.2.0")])
    code, _, err = _run(*common, "--out", str(tmp_path / "two"))
    assert code == 0, err
    for serial in serials:
        kept = [e.details() for e in reg.history(item=serial) if e.event == "downloaded"]
        assert kept and all(d["verified"] for d in kept)
    assert reg.verify().ok
