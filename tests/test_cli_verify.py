"""``taserlink verify``: the captures against the TEST root and without roots, tampered,
truncated and unreadable images among good ones, roots from ``--roots`` and from
``$TASERLINK_ROOTS``, continuity between downloads of one device, text and JSON output,
help, and one run as a real process."""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from taserlink.cli import COMMANDS, main, verify
from taserlink.emulator import SimulatedDevice
from taserlink.emulator.scenarios import new_device
from taserlink.format import RECORD_SIZE, EventCode, read_image
from taserlink.integrity import TrustStore, chain_records, verify_image
from tests.conftest import CAPTURE_FILES, CAPTURES, ROOT

TEST_ROOT = CAPTURES / "test-root.pem"
IMAGE_KEYS = {"path", "ok", "coverage", "findings"}
"""The keys of a verified image's JSON object, as the issue fixes them."""
FINDING_KEYS = {"kind", "severity", "seq_first", "seq_last", "offset", "message"}
COVERAGE_KEYS = {
    "first_seq",
    "last_seq",
    "verified",
    "chained",
    "sealed_up_to",
    "statement_covers",
    "summary",
}
CAPTURE_ARGS = [str(path) for path in CAPTURE_FILES]


@pytest.fixture(autouse=True)
def _no_roots_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without ``$TASERLINK_ROOTS``, whatever the developer's shell has."""
    monkeypatch.delenv("TASERLINK_ROOTS", raising=False)


def _run(*argv: str) -> tuple[int, str, str]:
    """``taserlink argv...`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _json(*argv: str) -> tuple[int, list[dict[str, Any]], str]:
    """``taserlink verify --json argv...``: exit code, the images' objects, stderr (the
    provenance block checked to name every readable image)."""
    code, out, err = _run("verify", "--json", *argv)
    parsed = json.loads(out)
    assert isinstance(parsed, dict) and list(parsed) == ["images", "provenance"]
    images = parsed["images"]
    assert isinstance(images, list)
    named = [i["path"] for i in parsed["provenance"]["inputs"]]
    assert named == [e["path"] for e in images if Path(e["path"]).is_file()]
    return code, images, err


def _kinds(entry: dict[str, Any]) -> set[str]:
    return {finding["kind"] for finding in entry["findings"]}


def _findings(entry: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [finding for finding in entry["findings"] if finding["kind"] == kind]


# -- the captures ---------------------------------------------------------------------------


def test_captures_with_the_test_root_are_ok_and_json_has_exactly_the_contract_keys() -> None:
    code, entries, err = _json("--roots", str(TEST_ROOT), *CAPTURE_ARGS)
    assert (code, err) == (0, "")
    assert [entry["path"] for entry in entries] == CAPTURE_ARGS
    trust = TrustStore.from_paths([TEST_ROOT])
    for path, entry in zip(CAPTURE_FILES, entries, strict=True):
        assert set(entry) == IMAGE_KEYS
        assert entry["ok"] is True
        assert set(entry["coverage"]) == COVERAGE_KEYS
        for finding in entry["findings"]:
            assert set(finding) == FINDING_KEYS
            assert finding["severity"] in {"warning", "info"}
        # The command reports what the library finds, all of it, in its order.
        report = verify_image(path, trust)
        assert entry["findings"] == [finding.as_dict() for finding in report.findings]
        image = read_image(path)
        first, last = int(image.records["seq"][0]), int(image.records["seq"][-1])
        assert entry["coverage"]["first_seq"] == first
        assert entry["coverage"]["last_seq"] == last
        assert entry["coverage"]["verified"] == len(image.records)
        assert entry["coverage"]["chained"] is True
        assert entry["coverage"]["statement_covers"] == last
        assert f"records {first}–{last}" in entry["coverage"]["summary"]


def test_captures_report_what_their_scenarios_did() -> None:
    """Findings as captures/README.md describes the devices' histories."""
    code, entries, _ = _json("--roots", str(TEST_ROOT), *CAPTURE_ARGS)
    assert code == 0
    by_name = {Path(entry["path"]).stem: entry for entry in entries}
    drift = by_name["clock-drift"]
    assert [(f["seq_first"], f["severity"]) for f in _findings(drift, "clock_set")] == [
        (125, "info"),
        (216, "info"),
    ]
    assert [(f["seq_first"], f["severity"]) for f in _findings(drift, "clock_jump")] == [
        (208, "warning")
    ]
    wraps = _findings(by_name["wrapped-log"], "log_wrap")
    assert [f["seq_first"] for f in wraps] == [257, 289, 321, 353]
    for quiet in ("quiet-day", "incident-shift", "firmware-update"):
        # Format version 1: only the warning that keyless digests protect the host fields.
        assert [(f["kind"], f["severity"]) for f in by_name[quiet]["findings"]] == [
            ("acquisition_hash", "warning")
        ]
    assert by_name["signed-download"]["findings"] == []  # version 2: the workstation signed


def test_without_roots_every_image_is_untrusted_with_a_note(tmp_path: Path) -> None:
    code, entries, err = _json(*CAPTURE_ARGS)
    assert code == 1
    for entry in entries:
        assert entry["ok"] is False
        untrusted = _findings(entry, "untrusted_root")
        # a version-2 image's workstation chain is untrusted too
        signed = Path(entry["path"]).name == "signed-download.tdi"
        assert len(untrusted) == (2 if signed else 1)
        assert {f["severity"] for f in untrusted} == {"error"}
        # the only error: the images themselves are intact
        errors = [f for f in entry["findings"] if f["severity"] == "error"]
        assert errors == untrusted
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("taserlink: note: ") and "untrusted_root" in lines[0]


def test_roots_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "other-roots"
    other.mkdir()
    (other / "root.pem").write_bytes(TEST_ROOT.read_bytes())
    monkeypatch.setenv("TASERLINK_ROOTS", os.pathsep.join(["", str(other), str(TEST_ROOT)]))
    code, entries, err = _json(*CAPTURE_ARGS)
    assert (code, err) == (0, "")
    assert all(entry["ok"] for entry in entries)
    # --roots overrides the environment (here: a root that signs none of them)
    monkeypatch.setenv("TASERLINK_ROOTS", str(tmp_path / "missing"))
    code, entries, err = _json("--roots", str(TEST_ROOT), CAPTURE_ARGS[0])
    assert (code, err) == (0, "")
    # a broken environment setting is bad input, named as such
    code, out, err = _run("verify", CAPTURE_ARGS[0])
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "$TASERLINK_ROOTS" in err and "missing" in err


def test_an_empty_environment_setting_means_no_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASERLINK_ROOTS", "")
    code, entries, err = _json(str(CAPTURES / "quiet-day.tdi"))
    assert code == 1 and _kinds(entries[0]) == {"untrusted_root", "acquisition_hash"}
    assert "note: no trusted roots" in err


def test_roots_are_repeatable_files_or_directories(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, entries, err = _json("--roots", str(empty), "--roots", str(CAPTURES), *CAPTURE_ARGS)
    assert (code, err) == (0, "")
    assert len(entries) == len(CAPTURE_ARGS)


@pytest.mark.parametrize("problem", ["missing", "empty-dir", "not-a-certificate"])
def test_bad_roots_are_exit_2_with_one_line_and_no_output(tmp_path: Path, problem: str) -> None:
    roots = tmp_path / "roots"
    if problem == "empty-dir":
        roots.mkdir()
    elif problem == "not-a-certificate":
        roots.write_text("hello\n")
    code, out, err = _run("verify", "--roots", str(roots), *CAPTURE_ARGS)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("taserlink: error: --roots: ")
    assert "Traceback" not in err


def test_the_trust_store_is_loaded_once_for_many_images(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    original = TrustStore.from_paths

    def counting(paths: Any) -> TrustStore:
        calls.append(paths)
        return original(paths)

    monkeypatch.setattr(TrustStore, "from_paths", counting)
    code, entries, _ = _json("--roots", str(TEST_ROOT), *(CAPTURE_ARGS * 4))
    assert code == 0 and len(entries) == 4 * len(CAPTURE_ARGS)
    assert len(calls) == 1


# -- damaged and unreadable images ----------------------------------------------------------


def _flip_record_byte(source: Path, target: Path, index: int, at: int) -> int:
    """``source`` copied to ``target`` with byte ``at`` of record ``index`` inverted;
    returns the record's sequence number."""
    image = read_image(source)
    data = bytearray(image.data)
    data[image.record_offset(index) + at] ^= 0xFF
    target.write_bytes(bytes(data))
    return int(image.records["seq"][index])


def test_a_tampered_record_is_reported_as_crc_chain_and_acquisition_hash(tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.tdi"
    seq = _flip_record_byte(CAPTURES / "incident-shift.tdi", tampered, index=15, at=20)
    good = str(CAPTURES / "quiet-day.tdi")
    code, entries, err = _json("--roots", str(TEST_ROOT), good, str(tampered))
    assert (code, err) == (1, "")
    assert entries[0]["ok"] is True
    entry = entries[1]
    assert set(entry) == IMAGE_KEYS
    assert entry["ok"] is False
    assert {"crc", "chain", "acquisition_hash"} <= _kinds(entry)
    (crc,) = _findings(entry, "crc")
    assert (crc["seq_first"], crc["seq_last"], crc["severity"]) == (seq, seq, "error")
    assert crc["offset"] == read_image(tampered).record_offset(15)
    # the chain break is located between the seals around the record
    assert any(f["seq_first"] <= seq <= f["seq_last"] for f in _findings(entry, "chain"))
    assert entry["coverage"]["verified"] == len(read_image(tampered).records) - 1
    assert entry["coverage"]["chained"] is False


def test_a_truncated_image_is_verified_not_unreadable(tmp_path: Path) -> None:
    data = (CAPTURES / "incident-shift.tdi").read_bytes()
    cut = tmp_path / "cut.tdi"
    cut.write_bytes(data[: len(data) // 2])
    code, entries, err = _json("--roots", str(TEST_ROOT), str(cut))
    assert (code, err) == (1, "")
    assert set(entries[0]) == IMAGE_KEYS
    assert _kinds(entries[0]) == {"truncated"}
    assert entries[0]["coverage"]["first_seq"] is None


def test_bad_magic_among_good_images_is_exit_2_and_the_good_ones_are_reported(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "not-an-image.tdi"
    bad.write_bytes(b"PK\x03\x04" + bytes(300))
    missing = tmp_path / "missing.tdi"
    argv = [CAPTURE_ARGS[0], str(bad), CAPTURE_ARGS[1], str(missing), CAPTURE_ARGS[2]]
    code, entries, err = _json("--roots", str(TEST_ROOT), *argv)
    assert code == 2
    assert [entry["path"] for entry in entries] == argv
    for index in (0, 2, 4):
        assert set(entries[index]) == IMAGE_KEYS and entries[index]["ok"] is True
    unreadable = entries[1]
    assert unreadable["ok"] is False
    assert (unreadable["coverage"], unreadable["findings"]) == (None, [])
    assert unreadable["error"]["offset"] == 0
    assert "magic" in unreadable["error"]["message"]
    assert entries[3]["error"]["offset"] is None
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"taserlink: error: {bad}: ") and "magic" in lines[0]
    assert lines[1].startswith(f"taserlink: error: cannot read {missing}")
    # exit 2 wins over findings in the others
    code, _, _ = _json(*argv)
    assert code == 2


def test_text_output_for_an_unreadable_image(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tdi"
    bad.write_bytes(b"garbage" * 10)
    code, out, err = _run("verify", "--roots", str(TEST_ROOT), str(bad), CAPTURE_ARGS[0])
    assert code == 2
    assert f"{bad}: UNREADABLE" in out
    assert f"{CAPTURE_ARGS[0]}: OK" in out
    assert out.splitlines()[-1].startswith("2 images: 1 OK, 0 NOT OK, 1 unreadable")
    assert err.count("\n") == 1


# -- text output ----------------------------------------------------------------------------


def _blocks(out: str) -> Iterator[list[str]]:
    """The per-image blocks of text output (the last line, the totals, left out)."""
    for block in out.rstrip("\n").split("\n\n")[:-1]:
        yield block.splitlines()


def test_text_output_groups_findings_by_severity_with_counts() -> None:
    drift = str(CAPTURES / "clock-drift.tdi")
    code, out, err = _run("verify", drift, str(CAPTURES / "wrapped-log.tdi"))
    assert code == 1 and "note:" in err
    entries = _json(drift, str(CAPTURES / "wrapped-log.tdi"))[1]
    blocks = list(_blocks(out))
    assert len(blocks) == 2
    for block, entry in zip(blocks, entries, strict=True):
        assert block[0] == f"{entry['path']}: NOT OK"
        assert block[2] == f"  coverage  {entry['coverage']['summary']}"
        headings = [line.strip() for line in block if re.fullmatch(r"  \w+ \(\d+\)", line)]
        order = [h.split()[0] for h in headings]
        assert order == sorted(order, key=["errors", "warnings", "info"].index)
        for finding in entry["findings"]:
            (line,) = [line for line in block if line.endswith(finding["message"])]
            assert line.split()[0] == finding["kind"]
            assert f"offset {finding['offset']}" in re.sub(r"offset +", "offset ", line)
            first, last = finding["seq_first"], finding["seq_last"]
            seq = "-" if first is None else str(first) if last == first else f"{first}–{last}"
            assert f" seq {seq} " in line
        counts = {s: sum(f["severity"] == s for f in entry["findings"]) for s in ("error",)}
        assert block[-1].startswith(f"  {counts['error']} error")
    drift_block = blocks[0]
    # clock_jump, and the format-version-1 acquisition_hash warning
    assert drift_block.index("  errors (1)") < drift_block.index("  warnings (2)")
    assert drift_block.index("  warnings (2)") < drift_block.index("  info (2)")
    assert drift_block[-1] == "  1 error, 2 warnings, 2 info"
    assert out.splitlines()[-1] == (
        "2 images: 0 OK, 2 NOT OK, 0 unreadable; findings: 2 errors, 3 warnings, 6 info"
    )


def test_text_output_of_clean_images() -> None:
    code, out, err = _run("verify", "--roots", str(TEST_ROOT), *CAPTURE_ARGS)
    assert (code, err) == (0, "")
    blocks = list(_blocks(out))
    assert [block[0] for block in blocks] == [f"{path}: OK" for path in CAPTURE_ARGS]
    quiet = blocks[CAPTURE_ARGS.index(str(CAPTURES / "quiet-day.tdi"))]
    assert "DNGCM8ZJJX" in quiet[1] and "2026-03-02T15:58:04.521Z" in quiet[1]
    assert "  warnings (1)" in quiet  # format version 1: keyless digests only
    signed = blocks[CAPTURE_ARGS.index(str(CAPTURES / "signed-download.tdi"))]
    assert "  no findings" in signed
    assert out.splitlines()[-1].startswith(f"{len(CAPTURE_ARGS)} images: 6 OK, 0 NOT OK")


# -- continuity -----------------------------------------------------------------------------


def _device(**spec: Any) -> SimulatedDevice:
    # no seals (a long interval): deleting records below needs no seal bookkeeping
    spec.setdefault("seal_interval", 4096)
    return new_device(random.Random(11), **spec)


def _shift(device: SimulatedDevice, draws: int) -> None:
    """A shift: power on, ``draws`` holster draws an hour apart, power off."""
    device.power_on()
    for _ in range(draws):
        device.advance(3_600_000)
        device.unholster()
        device.advance(25_000)
        device.holster()
    device.advance(60_000)
    device.power_off()
    device.advance(600_000)


def _download(device: SimulatedDevice, path: Path, nonce: int) -> Path:
    path.write_bytes(device.download(bytes([nonce]) * 32))
    return path


def _forget_oldest(device: SimulatedDevice, count: int) -> None:
    """Firmware that deletes its ``count`` oldest records *without* logging ``LOG_WRAP``
    (the base is re-signed, so the later image verifies on its own)."""
    chain_before = chain_records(device.base.chain_before, device.records_bytes(count=count))
    del device._records[: count * RECORD_SIZE]
    device._base = device._signed_base(device.first_seq + count, chain_before)


def test_consecutive_downloads_of_one_device_continue(tmp_path: Path) -> None:
    device = _device()
    _shift(device, 3)
    first = _download(device, tmp_path / "a.tdi", 1)
    _shift(device, 4)
    second = _download(device, tmp_path / "b.tdi", 2)
    _shift(device, 2)
    third = _download(device, tmp_path / "c.tdi", 3)
    # given out of order: they are ordered by acquisition time
    argv = [str(third), str(first), str(second)]
    code, entries, err = _json("--roots", str(TEST_ROOT), *argv)
    assert (code, err) == (0, "")
    for entry in entries:
        assert entry["ok"] is True
        assert "continuity" not in _kinds(entry)


def test_a_wrap_between_downloads_is_no_continuity_finding(tmp_path: Path) -> None:
    device = _device(log_capacity=16)
    _shift(device, 2)
    first = _download(device, tmp_path / "a.tdi", 1)
    _shift(device, 12)
    second = _download(device, tmp_path / "b.tdi", 2)
    later = read_image(second)
    assert later.base.first_seq > read_image(first).records["seq"][-1] + 1  # records lost
    assert EventCode.LOG_WRAP in later.records["code"]
    code, entries, _ = _json("--roots", str(TEST_ROOT), str(first), str(second))
    assert code == 0
    assert "continuity" not in _kinds(entries[1]) and "log_wrap" in _kinds(entries[1])


def test_records_lost_between_downloads_without_a_wrap_are_a_continuity_finding(
    tmp_path: Path,
) -> None:
    device = _device()
    _shift(device, 3)
    first = _download(device, tmp_path / "a.tdi", 1)
    last_before = device.last_seq
    _shift(device, 6)
    _forget_oldest(device, last_before + 5)
    second = _download(device, tmp_path / "b.tdi", 2)
    other = _download(new_device(random.Random(99), seal_interval=4096), tmp_path / "o.tdi", 3)

    # Alone, each image is sound: only the downloads together show the loss.
    code, entries, _ = _json("--roots", str(TEST_ROOT), str(second))
    assert code == 0 and "continuity" not in _kinds(entries[0])

    # later download first on the command line: findings still go under the later one
    argv = [str(second), str(other), str(first)]
    code, entries, err = _json("--roots", str(TEST_ROOT), *argv)
    assert (code, err) == (1, "")
    assert entries[2]["ok"] is True and entries[1]["ok"] is True
    later = entries[0]
    assert later["ok"] is False
    (finding,) = _findings(later, "continuity")
    assert finding["severity"] == "error"
    assert (finding["seq_first"], finding["seq_last"]) == (last_before + 1, last_before + 5)
    assert str(first) in finding["message"]
    assert finding["offset"] == read_image(second).spans["records"].offset

    code, out, _ = _run("verify", "--roots", str(TEST_ROOT), *argv)
    assert code == 1
    block = next(b for b in _blocks(out) if b[0].startswith(str(second)))
    assert block[0].endswith("NOT OK")
    assert any(line.split()[0] == "continuity" for line in block[4:])


# -- the command itself ---------------------------------------------------------------------


def test_verify_is_a_command_and_help_works() -> None:
    assert verify in COMMANDS
    code, out, err = _run("verify", "--help")
    assert (code, err) == (0, "")
    for text in ("--json", "--roots", "TASERLINK_ROOTS", "IMAGE", "untrusted_root"):
        assert text in out
    code, out, _ = _run("--help")
    assert code == 0 and "verify" in out


@pytest.mark.parametrize("argv", [["verify"], ["verify", "--roots"], ["verify", "--bogus", "x"]])
def test_usage_errors_are_exit_2_with_one_line(argv: list[str]) -> None:
    code, out, err = _run(*argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("taserlink: error: ")


def test_verify_as_a_process(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tdi"
    bad.write_bytes(b"\x00" * 64)
    env = {k: v for k, v in os.environ.items() if k != "TASERLINK_ROOTS"}
    argv = ["verify", "--json", "--roots", str(TEST_ROOT), *CAPTURE_ARGS, str(bad)]
    done = subprocess.run(
        [sys.executable, "-m", "taserlink", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    entries = json.loads(done.stdout)["images"]
    assert [set(entry) for entry in entries[:-1]] == [IMAGE_KEYS] * len(CAPTURE_ARGS)
    assert all(entry["ok"] for entry in entries[:-1])
    assert "error" in entries[-1]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
