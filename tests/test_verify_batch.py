"""Verifying many images at once: the same outcomes in one process or several, continuity
between a device's downloads, unreadable files kept in their place."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from taserlink.cli import main
from taserlink.integrity import TrustStore
from taserlink.integrity.batch import verify_files
from tests.conftest import CAPTURES
from tests.test_clock_correction import HOUR, Driven

TRUST = TrustStore.from_paths([CAPTURES / "test-root.pem"])


def _paths(tmp_path: Path) -> list[str]:
    cut = tmp_path / "cut.tdi"
    cut.write_bytes((CAPTURES / "clock-drift.tdi").read_bytes()[:5000])
    junk = tmp_path / "junk.tdi"
    junk.write_bytes(b"not an image")
    images = sorted(str(p) for p in (CAPTURES / "incident" / "images").glob("*.tdi"))
    tampered = sorted(str(p) for p in (CAPTURES / "tampered").glob("*.tdi"))[:4]
    return [*images, str(junk), *tampered, str(cut), str(tmp_path / "missing.tdi")]


def test_the_outcomes_are_the_same_whatever_the_workers(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    one = verify_files(paths, TRUST, workers=1)
    assert [o.path for o in one] == paths
    for workers in (2, 3):
        assert verify_files(paths, TRUST, workers=workers) == one
    unreadable = [o for o in one if o.report is None]
    assert {Path(o.path).name for o in unreadable} == {"junk.tdi", "missing.tdi"}
    assert all(o.error_line and o.path in o.error_line for o in unreadable)
    truncated = next(o for o in one if o.path.endswith("cut.tdi"))
    assert truncated.report is not None and not truncated.report.ok


def test_continuity_joins_the_later_download_of_a_device(tmp_path: Path) -> None:
    """Two downloads of one device that do not continue each other (their logs differ),
    given later first: the finding is on the later download, naming the earlier, in one
    process or two."""
    early = Driven(0, 10.0)
    early.events(3, HOUR)
    first = tmp_path / "first.tdi"
    first.write_bytes(early.download().data)
    other = Driven(7, 10.0)  # the same device serial, another history
    other.events(6, HOUR)
    second = tmp_path / "second.tdi"
    second.write_bytes(other.download().data)
    paths = [str(second), str(first)]
    outcomes = verify_files(paths, TRUST, workers=1)
    assert verify_files(paths, TRUST, workers=2) == outcomes
    later, earlier = outcomes
    assert later.report is not None and earlier.report is not None
    found = [f for f in later.report.findings if f.kind.value == "continuity"]
    assert found and all(f.message.endswith(f"(earlier download: {first})") for f in found)
    assert not [f for f in earlier.report.findings if f.kind.value == "continuity"]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_command_prints_the_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    roots = ["--roots", str(CAPTURES / "test-root.pem")]
    for form in ([], ["--json"]):
        runs = [_run("verify", *paths, *roots, *form, "--workers", w) for w in ("1", "2")]
        assert runs[0] == runs[1]
        code, _, err = runs[0]
        assert code == 2 and err.count("taserlink: error: ") == 2
    for bad in ("0", "two"):
        code, out, err = _run("verify", paths[0], *roots, "--workers", bad)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
