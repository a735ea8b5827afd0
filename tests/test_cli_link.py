"""``taserlink link``: the worked incident in ``captures/incident`` (answers from its
``truth.json``), exit codes, one-line errors for every bad input, the ``--csv`` and
``--json`` shapes, roots as ``taserlink verify`` finds them, and one run as a process."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from taserlink.cli import COMMANDS, main
from taserlink.cli import link as link_command
from taserlink.emulator.scenarios import START, new_device
from taserlink.forensics.issues import parse_utc
from taserlink.forensics.link import LinkKind
from taserlink.format import DEVICE_EPOCH_UNIX_MS
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.timeline.times import utc_text
from tests.conftest import CAPTURES, ROOT

SCENE = CAPTURES / "incident"
TEST_ROOT = CAPTURES / "test-root.pem"
TRUTH: dict[str, Any] = json.loads((SCENE / "truth.json").read_text())
WINDOW = [TRUTH["window"]["from"], TRUTH["window"]["to"]]
MATCHES = SCENE / "expected-matches.csv"
HOUR = 3_600_000
FINDING_KEYS = {"kind", "severity", "message", "serial", "exhibits", "device", "seq", "image"}


@pytest.fixture(autouse=True)
def _no_roots_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASERLINK_ROOTS", raising=False)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _link(
    *extra: str,
    images: Path = SCENE / "images",
    issues: Path = SCENE / "issues.csv",
    matches: Path = MATCHES,
    roots: bool = True,
) -> tuple[int, str, str]:
    argv = ["link", "--images", str(images), "--issues", str(issues), "--matches", str(matches)]
    if roots:
        argv += ["--roots", str(TEST_ROOT)]
    return _run(*argv, *extra)


def _json(*extra: str, **inputs: Any) -> tuple[int, dict[str, Any], str]:
    code, out, err = _link("--json", *extra, **inputs)
    data = json.loads(out)
    assert isinstance(data, dict)
    return code, data, err


def _one_line_error(err: str, *said: str) -> None:
    assert err.count("\n") == 1 and err.startswith("taserlink: error: "), err
    for text in said:
        assert text in err, (text, err)


# -- the worked incident ------------------------------------------------------------------


def test_link_is_a_registered_command() -> None:
    assert link_command in COMMANDS
    code, out, _ = _run("link", "--help")
    assert code == 0 and "--window" in out and "--matches" in out


def test_the_incident_links_as_the_truth_says_and_exits_1_for_the_planted_swap() -> None:
    code, data, err = _json("--window", *WINDOW)
    assert (code, err) == (1, "")
    assert list(data) == list(link_command.JSON_KEYS)
    assert all(image["verified"] for image in data["images"])
    links = {entry["serial"]: entry for entry in data["links"]}
    for truth in TRUTH["deployments"]:
        entry = links[truth["cartridge"]]
        assert entry["confirmed"] is True
        (deployment,) = entry["deployments"]
        assert (deployment["device"], deployment["seq"], deployment["bay"]) == (
            truth["device"],
            truth["seq"],
            truth["bay"],
        )
        assert deployment["device_time"] == truth["device_time"]
        true_utc = parse_utc(truth["utc"])
        assert (
            parse_utc(deployment["utc_earliest"]) <= true_utc <= parse_utc(deployment["utc_latest"])
        )
        assert deployment["device_custody"]["officers"] == [truth["device_officer"]]
        assert deployment["cartridge_custody"]["officers"] == [truth["signed_out_to"]]
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    planted = TRUTH["planted"]
    assert [(f["kind"], f["serial"], f["device"]) for f in errors] == [
        (LinkKind.OTHER_OFFICER.value, planted["cartridge"], planted["fired_by_device"])
    ]
    kinds = {f["kind"] for f in data["findings"]}
    assert kinds == {"other_officer", "ambiguous_match", "unmatched_exhibit", "cartridge_moved"}
    assert all(set(f) == FINDING_KEYS for f in data["findings"])
    assert data["counts"] == {"error": 1, "warning": 1, "info": 2}


SWAP = TRUTH["planted"]["swap"]
HISTORY_KEYS = {
    "event", "device", "seq", "bay", "serial", "device_time", "device_time_ms", "utc", "utc_ms",
    "bound_ms", "utc_earliest", "utc_latest", "epoch", "time_note", "images", "verified",
    "device_custody",
}  # fmt: skip


def test_json_history_traces_the_swap_the_truth_records() -> None:
    code, data, _ = _json("--window", *WINDOW)
    assert code == 1
    links = {entry["serial"]: entry for entry in data["links"]}
    history = links[SWAP["cartridge"]]["history"]
    assert all(set(event) == HISTORY_KEYS for event in history)
    steps = [(e["event"], e["device"], e["seq"]) for e in history]
    removed, inserted = SWAP["removed_from"], SWAP["inserted_into"]
    deploy = next(d for d in TRUTH["deployments"] if d["cartridge"] == SWAP["cartridge"])
    swap_steps = [
        ("CARTRIDGE_REMOVE", removed["device"], removed["seq"]),
        ("CARTRIDGE_INSERT", inserted["device"], inserted["seq"]),
        ("DEPLOY", deploy["device"], deploy["seq"]),
    ]
    at = [steps.index(step) for step in swap_steps]
    assert at == sorted(at) and at[1] == at[0] + 1
    assert steps[0] == ("CARTRIDGE_INSERT", removed["device"], steps[0][2])  # loaded by C
    insert = history[at[1]]
    assert (
        parse_utc(insert["utc_earliest"])
        <= parse_utc(SWAP["utc"])
        <= parse_utc(insert["utc_latest"])
    )
    assert history[at[0]]["device_custody"]["officers"] == [SWAP["signed_out_to"]]
    assert insert["device_custody"]["officers"] == [TRUTH["planted"]["device_issued_to"]]
    assert all(e["bay"] == 2 and e["verified"] is True for e in history)
    # a cartridge that stayed in its device: its own device only, no move finding
    for truth in TRUTH["deployments"]:
        if truth["cartridge"] != SWAP["cartridge"]:
            own = links[truth["cartridge"]]["history"]
            assert {e["device"] for e in own} == {truth["device"]}
    moved = [f for f in data["findings"] if f["kind"] == "cartridge_moved"]
    assert [(f["serial"], f["severity"]) for f in moved] == [(SWAP["cartridge"], "info")]
    (other,) = [f for f in data["findings"] if f["kind"] == "other_officer"]
    assert f"removed from {removed['device']} (held by {SWAP['signed_out_to']})" in other["message"]


def test_text_history_block_sits_under_each_cartridge_in_order() -> None:
    code, out, _ = _link("--window", *WINDOW)
    assert code == 1
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith(f"  {SWAP['cartridge']}  "))
    block = lines[head + 1 :]
    start = next(i for i, line in enumerate(block) if line.startswith("    history ("))
    assert "in 2 device(s)" in block[start]
    entries = []
    for line in block[start + 1 :]:
        if not line.startswith("      "):
            break
        entries.append(line.split())
    events = [(e[0], e[1], int(e[3])) for e in entries]
    removed, inserted = SWAP["removed_from"], SWAP["inserted_into"]
    i = events.index(("CARTRIDGE_REMOVE", removed["device"], removed["seq"]))
    assert events[i + 1] == ("CARTRIDGE_INSERT", inserted["device"], inserted["seq"])
    assert f"held by: {SWAP['signed_out_to']}" in " ".join(entries[i])
    assert f"held by: {TRUTH['planted']['device_issued_to']}" in " ".join(entries[i + 1])
    assert block[start].startswith(f"    history ({len(entries)} record(s)")
    assert out.count("    history (") == len(TRUTH["deployments"])
    assert "cartridge_moved" in out and "the logs show it removed from" in out


def test_text_report_marks_unconfirmed_candidates_and_lists_findings(tmp_path: Path) -> None:
    # E3 alone: its cartridge is only an unconfirmed candidate.
    rows = MATCHES.read_text().splitlines()
    only_e3 = tmp_path / "e3.csv"
    only_e3.write_text("\n".join([rows[0], *[r for r in rows if r.startswith("E3,")]]) + "\n")
    code, out, err = _link("--window", *WINDOW, matches=only_e3)
    assert (code, err) == (0, "")
    assert "UNCONFIRMED CANDIDATE" in out
    assert "ambiguous_match" in out and "unrecovered_deploy" in out
    assert out.rstrip().endswith("no error finding")
    code, out, _ = _link("--window", *WINDOW)
    assert code == 1 and "other_officer" in out and "E3 (ambiguous)" in out
    assert "UNCONFIRMED" not in out  # S9RBJ7PP1Q is matched by E1 as well
    for truth in TRUTH["deployments"]:
        assert f"seq {truth['seq']} bay {truth['bay']}" in out


def test_csv_has_one_row_per_cartridge_deployment() -> None:
    code, out, err = _link("--csv", "--window", *WINDOW)
    assert (code, err) == (1, "")
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == link_command.CSV_COLUMNS
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert sorted(r["serial"] for r in records) == sorted(
        d["cartridge"] for d in TRUTH["deployments"]
    )
    by_serial = {r["serial"]: r for r in records}
    planted = by_serial[TRUTH["planted"]["cartridge"]]
    assert planted["findings"] == "other_officer:error; cartridge_moved:info"
    assert planted["device_custody"] == planted["cartridge_custody"] == "held"
    assert planted["cartridge_officers"] == TRUTH["planted"]["signed_out_to"]
    assert all(r["verified"] == "true" and r["confirmed"] == "true" for r in records)
    first = by_serial[TRUTH["deployments"][0]["cartridge"]]
    assert first["findings"] == "ambiguous_match:warning" and first["exhibits"] == "E1; E3"


def test_a_cartridge_with_no_deploy_gets_one_csv_row_with_empty_deploy_columns(
    tmp_path: Path,
) -> None:
    decoy = TRUTH["decoy"]["serial"]
    matches = tmp_path / "m.csv"
    matches.write_text(
        "exhibit,serial,status,score,reads,runner_up,runner_up_score,explanation\n"
        f"E9,{decoy},match,0.999000,3,,,\n"
    )
    code, out, _ = _link("--csv", matches=matches)
    assert code == 1
    header, row = list(csv.reader(io.StringIO(out)))
    record = dict(zip(header, row, strict=True))
    assert record["device"] == record["seq"] == record["utc"] == ""
    assert record["findings"] == "cartridge_not_issued:error; no_deploy:error"
    code, out, _ = _link(matches=matches)
    assert code == 1 and "    no DEPLOY in any image" in out
    assert "    history: no CARTRIDGE_INSERT, CARTRIDGE_REMOVE or DEPLOY record names it" in out
    code, data, _ = _json(matches=matches)
    assert data["links"][0]["history"] == []


def test_without_roots_every_image_is_unverified_and_a_note_says_so() -> None:
    code, data, err = _json(roots=False)
    assert code == 1
    assert "no trusted roots" in err and "error" not in err
    unverified = [f for f in data["findings"] if f["kind"] == "unverified_image"]
    assert len(unverified) == len(data["images"]) == 3
    assert all(image["verified"] is False for image in data["images"])


def test_roots_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASERLINK_ROOTS", str(TEST_ROOT))
    code, data, err = _json(roots=False)
    assert (code, err) == (1, "")
    assert all(image["verified"] for image in data["images"])


def test_several_downloads_of_one_device_count_a_deploy_once(tmp_path: Path) -> None:
    images = tmp_path / "images"
    shutil.copytree(SCENE / "images", images)
    device = TRUTH["planted"]["fired_by_device"]
    shutil.copy(images / f"{device}.tdi", images / f"{device}-copy.tdi")
    code, data, _ = _json("--window", *WINDOW, images=images)
    assert code == 1
    entry = next(e for e in data["links"] if e["serial"] == TRUTH["planted"]["cartridge"])
    (deployment,) = entry["deployments"]
    assert len(deployment["images"]) == 2
    assert not any(f["kind"] == "deployed_twice" for f in data["findings"])


# -- bad input: exit 2, one line -----------------------------------------------------------


def test_bad_inputs_exit_2_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _link(images=empty)
    assert (code, out) == (2, "")
    _one_line_error(err, "no .tdi images")

    bad_issues = tmp_path / "issues.csv"
    text = (SCENE / "issues.csv").read_text().splitlines()
    text[2] = text[2].replace("Z,", ",", 1)  # a naive issued_at on line 3
    bad_issues.write_text("\n".join(text) + "\n")
    code, out, err = _link(issues=bad_issues)
    assert (code, out) == (2, "")
    _one_line_error(err, f"{bad_issues}:3:", "no time zone")

    bad_matches = tmp_path / "matches.csv"
    bad_matches.write_text("exhibit,serial\nE1,S9RBJ7PP1Q\n")
    code, _, err = _link(matches=bad_matches)
    assert code == 2
    _one_line_error(err, f"{bad_matches}:1:", "missing column")

    code, _, err = _link(matches=tmp_path / "nope.csv")
    assert code == 2
    _one_line_error(err, "nope.csv", "cannot read")


@pytest.mark.parametrize(
    ("window", "said"),
    [
        (["2026-03-06T19:40:00", "2026-03-06T19:55:00Z"], "--window FROM"),
        (["2026-03-06T19:40:00Z", "tomorrow"], "--window TO"),
        (["2026-03-06T19:55:00Z", "2026-03-06T19:40:00Z"], "ends"),
    ],
)
def test_a_bad_window_is_a_usage_error(window: list[str], said: str) -> None:
    code, out, err = _link("--window", *window)
    assert (code, out) == (2, "")
    _one_line_error(err, said)


def test_a_damaged_image_in_the_directory_is_bad_input(tmp_path: Path) -> None:
    images = tmp_path / "images"
    shutil.copytree(SCENE / "images", images)
    victim = sorted(images.iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:300])  # a cut download
    code, out, err = _link(images=images)
    assert (code, out) == (2, "")
    _one_line_error(err, str(victim))


def test_downloads_that_disagree_are_bad_input(tmp_path: Path) -> None:
    from taserlink.format import RECORD_SIZE, read_image

    images = tmp_path / "images"
    shutil.copytree(SCENE / "images", images)
    original = images / f"{TRUTH['planted']['fired_by_device']}.tdi"
    image = read_image(original)
    data = bytearray(image.data)
    data[image.spans["records"].offset + RECORD_SIZE - 1] ^= 1  # record 1's CRC
    (images / "zz-altered.tdi").write_bytes(bytes(data))
    code, out, err = _link(images=images)
    assert (code, out) == (2, "")
    _one_line_error(err, "hold different records at seq 1")


def test_usage_errors(tmp_path: Path) -> None:
    code, _, err = _run("link", "--images", str(SCENE / "images"))
    assert code == 2
    _one_line_error(err, "required")
    code, _, err = _link("--csv", "--json")
    assert code == 2
    _one_line_error(err, "not allowed")
    code, _, err = _link("--max-drift-ppm", "-5")
    assert code == 2
    _one_line_error(err, "max-drift-ppm")
    code, _, err = _run(
        "link",
        "--images",
        str(SCENE / "images"),
        "--issues",
        str(SCENE / "issues.csv"),
        "--matches",
        str(MATCHES),
        "--roots",
        str(tmp_path / "no-roots-here"),
    )
    assert code == 2
    _one_line_error(err, "--roots")


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


def test_an_output_that_cannot_be_written_exits_3() -> None:
    err = io.StringIO()
    argv = ["link", "--images", str(SCENE / "images"), "--issues", str(SCENE / "issues.csv")]
    argv += ["--matches", str(MATCHES), "--roots", str(TEST_ROOT)]
    with redirect_stdout(_FullDisk()), redirect_stderr(err):
        code = main(argv)
    assert code == 3
    _one_line_error(err.getvalue(), "No space left")


def test_a_wider_drift_widens_every_bound() -> None:
    _, narrow, _ = _json()
    _, wide, _ = _json("--max-drift-ppm", "400")
    for a, b in zip(narrow["links"], wide["links"], strict=True):
        assert b["deployments"][0]["bound_ms"] > a["deployments"][0]["bound_ms"]


def test_as_a_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TASERLINK_ROOTS", None)
    argv = [sys.executable, "-m", "taserlink", "link", "--images", str(SCENE / "images")]
    argv += ["--issues", str(SCENE / "issues.csv"), "--matches", str(MATCHES)]
    argv += ["--roots", str(TEST_ROOT), "--window", *WINDOW]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 1 and done.stderr == ""
    assert "other_officer" in done.stdout


# -- --host-set-anchors ---------------------------------------------------------------------


def _host_set_scene(tmp_path: Path) -> tuple[Path, Path, Path, str, int]:
    """A device whose clock cell fails, then a host sets it to UTC; it fires a cartridge,
    its cell fails again and only then is it downloaded: no download reaches the deploy's
    clock epoch.  Returns images, issues and matches paths, the cartridge and its true UTC."""
    rng = random.Random("host-set scene")
    device = new_device(rng, START, offset_ms=120_000, drift_ppm=45.0)
    serial = CARTRIDGE_SCHEME.generate(rng, "S")
    device.power_on()
    device.insert_cartridge(1, serial)
    device.advance(HOUR)
    device.lose_power()
    device.advance(HOUR)
    device.usb_connect()
    device.set_clock(device.utc_ms - DEVICE_EPOCH_UNIX_MS)
    device.advance(5 * HOUR)
    device.unholster()
    device.arm()
    fired_at = device.utc_ms
    device.fire(1)
    device.safe()
    device.holster()
    device.advance(2 * HOUR)
    device.lose_power()
    device.advance(HOUR)
    images = tmp_path / "images"
    images.mkdir()
    (images / "device.tdi").write_bytes(device.download(rng.randbytes(32)))
    issued = utc_text(START - HOUR)
    issues = tmp_path / "issues.csv"
    issues.write_text(
        "serial,officer,issued_at,returned_at\n"
        f"{device.spec.serial},PC 1,{issued},\n{serial},PC 1,{issued},\n"
    )
    matches = tmp_path / "matches.csv"
    matches.write_text(
        "exhibit,serial,status,score,reads,runner_up,runner_up_score,explanation\n"
        f"E1,{serial},match,0.999000,3,,,\n"
    )
    return images, issues, matches, serial, fired_at


def test_host_set_anchors_place_a_deploy_no_download_reaches(tmp_path: Path) -> None:
    images, issues, matches, serial, fired_at = _host_set_scene(tmp_path)
    inputs = {"images": images, "issues": issues, "matches": matches}
    code, off, err = _json(**inputs)
    assert (code, err) == (0, "")
    (deployment,) = off["links"][0]["deployments"]
    assert deployment["utc"] is None
    assert [f["kind"] for f in off["findings"]] == [
        LinkKind.UNCORRECTED_TIME.value,
        LinkKind.MATCHES_NO_PROVENANCE.value,  # a match file written by hand
    ]
    code, on, err = _json("--host-set-anchors", **inputs)
    assert (code, err) == (0, "")
    (deployment,) = on["links"][0]["deployments"]
    assert on["links"][0]["serial"] == serial
    assert parse_utc(deployment["utc_earliest"]) <= fired_at <= parse_utc(deployment["utc_latest"])
    assert deployment["bound_ms"] < 3_000
    assert [f["kind"] for f in on["findings"]] == [LinkKind.MATCHES_NO_PROVENANCE.value]
    (described,) = [d["clock_model"] for d in on["devices"]]
    assert any("host clock sets taken as UTC anchors" in line for line in described)
    assert any(line.lstrip().startswith("host clock set seq ") for line in described)
    assert not any("host clock set" in line for line in off["devices"][0]["clock_model"])
    # The text report says the option was used, before the models.
    code, text, _ = _link("--host-set-anchors", **inputs)
    assert code == 0
    models = text[text.index("\nclock models\n") :]
    assert models.startswith(
        "\nclock models\n  option: --host-set-anchors: host clock sets taken as UTC anchors\n"
    )
    assert "--host-set-anchors" not in _link(**inputs)[1]


def test_host_set_anchors_is_in_the_help_and_off_by_default() -> None:
    code, out, _ = _run("link", "--help")
    words = " ".join(out.split())
    assert code == 0 and "--host-set-anchors" in words and "Off by default" in words
    # The worked incident has no host clock set: the option changes only what it states.
    _, plain, _ = _json("--window", *WINDOW)
    _, chosen, _ = _json("--window", *WINDOW, "--host-set-anchors")
    assert chosen["links"] == plain["links"] and chosen["findings"] == plain["findings"]
