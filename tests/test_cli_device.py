"""``taserlink devices``, ``download`` and ``clock`` against the emulated dock
(``--emulated N``): listing, concurrent downloads verified with the TEST root, no
overwrite, a device unplugged mid-download (the others complete, exit 3), resume, clocks
read and set (the ``CLOCK_SET`` read back from a later download), the progress display,
usage errors, ``--help``, and one run as a real process (no traceback)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from taserlink.cli import dock, main
from taserlink.cli.download import ProgressBoard
from taserlink.errors import DeviceError
from taserlink.format import DEVICE_EPOCH_UNIX_MS, ClockSource, EventCode, read_image
from taserlink.format.records import decode_payload
from taserlink.integrity import TrustStore, verify_image
from taserlink.usb import protocol as P
from tests.conftest import CAPTURES, ROOT

TEST_ROOT = CAPTURES / "test-root.pem"


@pytest.fixture(autouse=True)
def _fresh_dock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with a dock built afresh, no faults and no roots from the shell."""
    for name in (dock.FAULTS_ENV, "TASERLINK_ROOTS", "TASERLINK_OPERATOR"):
        monkeypatch.delenv(name, raising=False)
    dock.reset_emulated()
    yield
    dock.reset_emulated()


def _run(*argv: str) -> tuple[int, str, str]:
    """``taserlink argv...`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _json(*argv: str) -> tuple[int, Any, str]:
    code, out, err = _run(*argv, "--json")
    return code, json.loads(out), err


def _download(out: Path, count: int = 3, *extra: str) -> tuple[int, dict[str, Any], str]:
    code, document, err = _json(
        "download", "--emulated", str(count), "--out", str(out), "--roots", str(TEST_ROOT), *extra
    )
    assert isinstance(document, dict)
    return code, document, err


def _serials(count: int) -> list[str]:
    return [dock.emulated_device(index).spec.serial for index in range(count)]


# -- devices --------------------------------------------------------------------------------


def test_devices_lists_every_emulated_device_with_its_serial_and_log() -> None:
    code, document, err = _json("devices", "--emulated", "4")
    assert (code, err) == (0, "")
    listed = document["devices"]
    assert document["provenance"]["inputs"] == [] and document["provenance"]["tool"] == "taserlink"
    serials = _serials(4)
    assert [d["serial"] for d in listed] == serials
    assert len(set(serials)) == 4
    assert [d["position"] for d in listed] == [1, 2, 3, 4]
    for entry, index in zip(listed, range(4), strict=True):
        model = dock.emulated_device(index)
        assert entry["error"] is None
        assert (entry["first_seq"], entry["last_seq"]) == (model.first_seq, model.last_seq)
        assert entry["records"] == model.record_count
        assert entry["model"] == model.spec.model
        assert entry["firmware"] == str(model.firmware)
        assert isinstance(entry["bus"], int) and isinstance(entry["address"], int)
    # Text: one line per device naming its serial and record range, and a count.
    code, out, _ = _run("devices", "--emulated", "4")
    assert code == 0
    lines = out.splitlines()
    for serial in serials:
        (line,) = [line for line in lines if line.startswith(serial)]
        model = dock.emulated_device(serials.index(serial))
        assert f"{model.first_seq}..{model.last_seq}" in line
    assert "4 devices attached" in lines[-1]


def test_an_empty_dock_is_an_answer_for_devices_and_a_failure_for_download_and_clock(
    tmp_path: Path,
) -> None:
    code, document, _ = _json("devices", "--emulated", "0")
    assert (code, document["devices"]) == (0, [])
    code, out, _ = _run("devices", "--emulated", "0")
    assert code == 0 and "no dataport device attached" in out
    code, document, err = _download(tmp_path, 0)
    assert code == 3 and document["devices"] == []
    assert "no dataport device is attached" in err
    code, out, err = _run("clock", "--emulated", "0")
    assert code == 3 and "no dataport device is attached" in err


def test_no_usb_backend_is_one_line_and_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # download's default --out is ./downloads

    def no_backend(**_: Any) -> list[Any]:
        raise DeviceError("no USB backend: install libusb")

    monkeypatch.setattr(dock, "find_devices", no_backend)
    for command in ("devices", "download", "clock"):
        code, out, err = _run(command)
        assert (code, out) == (3, ""), command
        assert err.strip().splitlines()[-1] == "taserlink: error: no USB backend: install libusb"
    assert not (tmp_path / "downloads").exists()  # nothing to download: no directory made


# -- download -------------------------------------------------------------------------------


def test_download_three_devices_verify_with_the_test_root_and_a_second_run_adds_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dl"
    code, document, err = _download(out, 3, "--operator", "PS 4127", "--workstation", "STORE-1")
    assert (code, err) == (0, "")  # with --json: no progress on stderr
    assert document["verified"] is True and document["roots"] == [str(TEST_ROOT)]
    trust = TrustStore.from_paths([TEST_ROOT])
    first = document["devices"]
    assert [d["serial"] for d in first] == _serials(3)
    for entry in first:
        assert entry["verification"] == "ok" and entry["error"] is None
        path = Path(entry["image"])
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert verify_image(path, trust).ok  # verified independently of the command
        image = read_image(data)
        assert image.identity.serial == entry["serial"]
        assert len(image.records) == entry["records"]
        assert image.records[-1]["seq"] == entry["last_seq"]
        acquisition = image.acquisition
        assert (acquisition.operator, acquisition.workstation) == ("PS 4127", "STORE-1")
        assert acquisition.clock_source == "host system clock"
        assert entry["resumed_from"] is None
    assert not list(out.glob("*.partial"))

    # Again: three new images beside the first three, which are left as they were; the
    # operator from the environment, the workstation the host's name.
    monkeypatch.setenv("TASERLINK_OPERATOR", "PC 1234 (dock)")
    code, document, err = _download(out, 3)
    assert code == 0, err
    second = document["devices"]
    assert len(list(out.glob("*.tdi"))) == 6
    assert {d["image"] for d in first}.isdisjoint(d["image"] for d in second)
    for entry in first:
        assert hashlib.sha256(Path(entry["image"]).read_bytes()).hexdigest() == entry["sha256"]
    for before, after in zip(first, second, strict=True):
        assert after["verification"] == "ok"
        acquisition = read_image(after["image"]).acquisition
        assert acquisition.operator == "PC 1234 (dock)"
        assert acquisition.workstation == socket.gethostname()
        assert after["last_seq"] > before["last_seq"]  # the device logged the first download


def test_an_unplugged_device_fails_in_its_row_and_the_others_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serials = _serials(3)
    monkeypatch.setenv(dock.FAULTS_ENV, "2:disconnect@8")  # at its second READ_RECORDS
    code, out, err = _run("download", "--emulated", "3", "--out", str(tmp_path))
    assert code == 3
    assert "Traceback" not in err
    rows = {line.split()[0]: line for line in out.splitlines()[1:4]}
    assert set(rows) == set(serials)
    assert "FAILED: device went away" in rows[serials[1]]
    assert "partial kept" in rows[serials[1]]
    for serial in (serials[0], serials[2]):
        assert "not verified" in rows[serial] and "FAILED" not in rows[serial]
        (image,) = tmp_path.glob(f"{serial}-*.tdi")
        assert image.name in rows[serial]
    assert not list(tmp_path.glob(f"{serials[1]}-*.tdi"))
    assert "3 devices: 2 downloaded, 1 failed" in out
    for serial in serials:  # plain progress lines (stderr is not a terminal)
        assert any(line.startswith(serial) and "records" in line for line in err.splitlines())
    errors = [line for line in err.splitlines() if line.startswith("taserlink: error:")]
    assert len(errors) == 1 and serials[1] in errors[0]
    assert "images will not be verified" in err


def test_an_interrupted_download_resumes_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serials = _serials(3)
    assert dock.emulated_device(0).record_count > P.RECORDS_PER_READ  # two chunks at least
    monkeypatch.setenv(dock.FAULTS_ENV, f"{serials[0]}:disconnect@8")
    code, document, _ = _download(tmp_path)
    assert code == 3
    failed = document["devices"][0]
    assert failed["verification"] == "failed" and "went away" in failed["error"]
    assert [d["verification"] for d in document["devices"][1:]] == ["ok", "ok"]
    partial = tmp_path / f"{serials[0]}.partial"
    held = (partial / "records.bin").stat().st_size // 32
    base = json.loads((partial / "state.json").read_text())["base_first_seq"]
    assert held > 0

    monkeypatch.delenv(dock.FAULTS_ENV)
    code, document, err = _download(tmp_path)
    assert code == 0, err
    resumed = document["devices"][0]
    assert resumed["resumed_from"] == base + held
    assert resumed["verification"] == "ok"
    assert resumed["records"] == resumed["last_seq"] - resumed["first_seq"] + 1
    assert not (tmp_path / f"{serials[0]}.partial").exists()
    code, out, _ = _run("verify", "--roots", str(TEST_ROOT), resumed["image"])
    assert code == 0
    # The table says so too.
    monkeypatch.setenv(dock.FAULTS_ENV, f"{serials[1]}:disconnect@8")
    assert _run("download", "--emulated", "3", "--out", str(tmp_path))[0] == 3
    monkeypatch.delenv(dock.FAULTS_ENV)
    code, out, _ = _run("download", "--emulated", "3", "--out", str(tmp_path))
    assert code == 0
    (row,) = [line for line in out.splitlines() if line.startswith(serials[1])]
    assert row.split()[2] == str(P.RECORDS_PER_READ + dock.emulated_device(1).first_seq)


def test_a_tampered_log_is_downloaded_and_its_findings_give_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dock.FAULTS_ENV, "1:tamper@1")  # a record altered, CRC fixed up
    code, document, _ = _download(tmp_path, 2)
    assert code == 1
    tampered, clean = document["devices"]
    assert tampered["verification"] == "findings" and tampered["error"] is None
    assert any(f["severity"] == "error" for f in tampered["findings"])
    assert Path(tampered["image"]).is_file()
    assert clean["verification"] == "ok"
    assert [f["kind"] for f in clean["findings"]] == ["acquisition_hash"]  # version 1


def test_devices_are_downloaded_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each device answers its first READ_RECORDS half a second late: one after the other
    that would take 1.5 s; at once, about 0.5 s."""
    monkeypatch.setenv(dock.FAULTS_ENV, "1:slow@7/0.5,2:slow@7/0.5,3:slow@7/0.5")
    started = time.monotonic()
    code, document, err = _download(tmp_path)
    wall = time.monotonic() - started
    assert code == 0, err
    seconds = [d["seconds"] for d in document["devices"]]
    assert min(seconds) >= 0.5
    assert wall < sum(seconds) - 0.4


# -- clock ----------------------------------------------------------------------------------


def _expected_offset_s(index: int, host_utc_ms: int) -> float:
    """What the model's own clock says the offset is at ``host_utc_ms``."""
    model = dock.emulated_device(index)
    assert model.clock is not None
    return (model.clock.device_ms(host_utc_ms) - (host_utc_ms - DEVICE_EPOCH_UNIX_MS)) / 1000


def test_clock_shows_offsets_and_set_logs_clock_set(tmp_path: Path) -> None:
    code, document, err = _json("clock", "--emulated", "3")
    readings = document["clocks"]
    assert (code, err) == (0, "")
    assert [r["serial"] for r in readings] == _serials(3)
    for index, reading in enumerate(readings):
        assert reading["set"] is None and reading["error"] is None
        assert reading["uncertainty_s"] >= 0
        expected = _expected_offset_s(index, reading["host_utc_ms"])
        assert reading["offset_s"] == pytest.approx(expected, abs=0.01)
    # incident-shift and clock-drift devices are off; the quiet-day device is right.
    assert abs(readings[0]["offset_s"]) > 1 and abs(readings[2]["offset_s"]) > 60
    assert abs(readings[1]["offset_s"]) < 0.01
    code, out, _ = _run("clock", "--emulated", "3")
    assert code == 0
    for reading in readings:  # text: serial, device time, host UTC, offset ± uncertainty
        (line,) = [line for line in out.splitlines() if line.startswith(reading["serial"])]
        _, device_time, host_utc, offset, unit, plus_minus = line.split()[:6]
        assert device_time[:16] == reading["device_time"][:16] and host_utc.endswith("Z")
        assert float(offset) == pytest.approx(reading["offset_s"], abs=0.01)
        assert (unit, plus_minus) == ("s", "±")

    code, document, err = _json("clock", "--emulated", "3", "--set")
    readings = document["clocks"]
    assert document["provenance"]["settings"] == {"set": True}
    assert (code, err) == (0, "")
    sets = {r["serial"]: r["set"] for r in readings}
    for reading in readings:
        done = reading["set"]
        assert done["correction_s"] == pytest.approx(-reading["offset_s"], abs=0.05)
        assert done["from_log"] is False

    code, document, err = _download(tmp_path)
    assert code == 0, err
    for entry in document["devices"]:
        done = sets[entry["serial"]]
        image = read_image(entry["image"])
        logged = [r for r in image.records if r["code"] == EventCode.CLOCK_SET]
        matching = [r for r in logged if int(r["seq"]) == done["seq"]]
        assert len(matching) == 1
        record = matching[0]
        payload = decode_payload(int(record["code"]), record["payload"].tobytes())
        assert payload["source"] == ClockSource.HOST
        assert payload["old_time_ms"] == done["old_device_time_ms"]
        assert int(record["time_ms"]) == done["new_device_time_ms"]

    code, document, _ = _json("clock", "--emulated", "3")
    readings = document["clocks"]
    assert code == 0
    assert all(abs(r["offset_s"]) < 0.05 for r in readings)  # set, and still set


def test_clock_with_an_unplugged_device_reads_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dock.FAULTS_ENV, "2:disconnect@0")
    code, document, err = _json("clock", "--emulated", "3", "--set")
    readings = document["clocks"]
    assert document["provenance"]["settings"] == {"set": True}
    assert code == 3
    assert [r["error"] is None for r in readings] == [True, False, True]
    assert readings[1]["offset_s"] is None and "went away" in readings[1]["error"]
    assert readings[0]["set"] is not None and readings[2]["set"] is not None
    assert "Traceback" not in err


# -- progress, usage, help, a real process --------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_in_place_on_a_terminal_and_paces_plain_lines() -> None:
    stream = _Tty()
    board = ProgressBoard.for_stream(stream, ["DAAAAAAAAA", "DBBBBBBBBB"], quiet=False)
    assert board.mode == "tty"
    board.update(0, 128, 256, "reading")
    board.update(1, 256, 256, "reading")
    board.close()
    text = stream.getvalue()
    assert text.count("\x1b[2F") >= 2  # back up over both lines to redraw them
    assert "128/256" in text and "[############............]" in text
    assert ProgressBoard.for_stream(_Tty(), ["D"], quiet=True).mode == "off"

    now = [0.0]
    plain = io.StringIO()
    board = ProgressBoard(plain, ["DAAAAAAAAA"], "plain", interval_s=2.0, monotonic=lambda: now[0])
    board.update(0, 1, 10, "reading")  # a new state: a line
    board.update(0, 2, 10)  # too soon: none
    now[0] = 2.5
    board.update(0, 3, 10)  # due: a line
    board.state(0, "done")
    lines = plain.getvalue().splitlines()
    assert len(lines) == 3 and "\x1b" not in plain.getvalue()
    assert "1/10" in lines[0] and "3/10" in lines[1] and lines[2].endswith("done")


@pytest.mark.parametrize(
    ("argv", "environment", "message"),
    [
        (["devices", "--emulated", "-1"], {}, "--emulated"),
        (["download", "--emulated", "2", "--operator", "x" * 256], {}, "--operator"),
        (["clock", "--emulated", "2"], {dock.FAULTS_ENV: "2:melt@3"}, "unknown fault"),
        (["clock", "--emulated", "2"], {dock.FAULTS_ENV: "5:stall@3"}, "dock position 5"),
        (["download", "--emulated", "1", "--roots", "/nonexistent"], {}, "--roots"),
    ],
)
def test_bad_usage_is_exit_2_with_one_line(
    argv: list[str],
    environment: dict[str, str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code, out, err = _run(*argv)
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "downloads").exists() or not any((tmp_path / "downloads").iterdir())


@pytest.mark.parametrize("command", ["devices", "download", "clock"])
def test_help(command: str) -> None:
    code, out, err = _run(command, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: taserlink {command}")
    assert "--emulated" in out and "--json" in out


def test_a_real_process_reports_an_unplugged_device_without_a_traceback(tmp_path: Path) -> None:
    environment = {**os.environ, dock.FAULTS_ENV: "1:disconnect@3", "PYTHONPATH": str(ROOT)}
    environment.pop("TASERLINK_ROOTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "taserlink", "download", "--emulated", "2", "--out", "dl"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    first, second = done.stdout.splitlines()[1:3]
    assert "FAILED: device went away" in first
    assert second.split()[4].startswith("dl/") and Path(tmp_path, second.split()[4]).is_file()
