"""One download at a time per partial: ``<serial>.partial/download.lock``.

A second download of the same device into the same folder — from another process, or from
another thread of this one — is refused at once with
:class:`~taserlink.errors.PartialInUseError`, and the first download's partial survives it
byte for byte and completes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from taserlink.device.download import LOCK_NAME, PARTIAL_SUFFIX, download, lock_partial
from taserlink.device.usb_host import find_device
from taserlink.emulator.usb import EmulatedBackend
from taserlink.errors import PartialInUseError
from taserlink.format import read_image
from tests.conftest import ROOT
from tests.test_download import FAST, HOST, build_device, fetch, interrupted, no_errors


def _partial_files(partial: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(partial.iterdir())}


def test_a_second_download_while_the_first_runs_is_refused_and_the_first_completes(
    tmp_path: Path,
) -> None:
    first_device, second_device = build_device(), build_device()  # the same serial
    serial = first_device.spec.serial
    partial = tmp_path / f"{serial}{PARTIAL_SUFFIX}"
    seen: list[tuple[dict[str, bytes], dict[str, bytes], str]] = []

    def progress(_: str, done: int, total: int) -> None:
        if seen or done == 0:
            return
        before = _partial_files(partial)
        try:  # another download of the same device into the same folder, meanwhile
            fetch(EmulatedBackend([second_device]), tmp_path, serial)
        except PartialInUseError as error:
            seen.append((before, _partial_files(partial), str(error)))
        else:  # pragma: no cover - the failure this test looks for
            seen.append((before, {}, "the second download was not refused"))

    result = download(
        find_device(serial, backend=EmulatedBackend([first_device])),
        tmp_path,
        **HOST,
        policy=FAST,
        progress=progress,
    )
    assert len(seen) == 1
    before, after, message = seen[0]
    assert after == before  # the second download touched nothing
    assert "records.bin" in before and LOCK_NAME in before
    assert message == (
        f"another download of this device into {tmp_path} is running "
        f"({serial}{PARTIAL_SUFFIX}/ is locked): wait for it to end"
    )
    assert "\n" not in message
    image = read_image(result.path)
    assert len(image.records) == first_device.record_count
    assert no_errors(result.path) == []
    assert sorted(os.listdir(tmp_path)) == [result.path.name]  # the partial went with it


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from taserlink.device.download import lock_partial
    with lock_partial(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.read()  # until the test closes our stdin
    """
)


def test_a_download_is_refused_while_another_process_holds_the_partial(tmp_path: Path) -> None:
    """An interrupted download left a partial; another process holds its lock; a download
    of that device into the folder is refused and the partial is kept byte for byte, then
    resumes once the other process has let go."""
    device, backend, partial = interrupted(tmp_path)
    kept = _partial_files(partial)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(partial)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(PartialInUseError, match="is locked"):
            fetch(backend, tmp_path, device.spec.serial)
        assert _partial_files(partial) == kept
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    result = fetch(backend, tmp_path, device.spec.serial)
    assert result.resumed_from is not None
    assert no_errors(result.path) == []


def test_the_lock_is_let_go_at_the_end_even_when_its_folder_was_removed(tmp_path: Path) -> None:
    partial = tmp_path / "D.partial"
    with lock_partial(partial):
        assert (partial / LOCK_NAME).is_file()
        with pytest.raises(PartialInUseError), lock_partial(partial):
            pass  # a second holder in this very process is refused too
    with lock_partial(partial):  # let go at the end of the block
        shutil.rmtree(partial)  # as a finished download removes its partial
    with lock_partial(partial):  # a new folder and lock
        assert (partial / LOCK_NAME).is_file()
