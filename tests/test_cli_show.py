"""``taserlink show`` and the command's frame: every capture in all three renderings,
checked against ``read_image`` and the construct payload decoder; odd but well-formed
images (CRC failures, unknown codes, no statement, hostile strings, impossible times);
corrected UTC against the clock model (``--also``, runs without a correction, bounds as
text); help, version, usage errors and exit codes; streaming of large logs."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import math
import random
import re
import subprocess
import sys
import tracemalloc
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import taserlink
from taserlink.cli import COMMANDS, main, show
from taserlink.cli.common import InputError, exit_code_for
from taserlink.emulator.scenarios import new_device
from taserlink.emulator.synthetic import synthetic_image
from taserlink.errors import (
    ClockModelError,
    FormatError,
    ImageIOError,
    SerialError,
    TaserlinkError,
    TruncatedError,
)
from taserlink.format import (
    DEVICE_EPOCH_UNIX_MS,
    AcquisitionSignature,
    EventCode,
    Image,
    build_image,
    decode_payload,
    payload_view,
    read_image,
    record_crcs,
)
from taserlink.format.records import payload_fields
from taserlink.timeline.clock import DEFAULT_HOST_SET_BOUND_MS, ClockModel
from taserlink.timeline.times import device_time_iso, device_times_iso, utc_iso
from tests.conftest import CAPTURE_FILES, CAPTURES

NAMES = [path.stem for path in CAPTURE_FILES]
IMAGES = {path.stem: read_image(path) for path in CAPTURE_FILES}
PATHS = {path.stem: path for path in CAPTURE_FILES}


def _run(*argv: str) -> tuple[int, str, str]:
    """``taserlink argv...`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _show_ok(path: Path, *options: str) -> str:
    code, out, err = _run("show", str(path), *options)
    assert (code, err) == (0, "")
    return out


def _rebuild(image: Image, **changes: Any) -> bytes:
    """``image`` written again with some parts replaced (digests recomputed)."""
    parts: dict[str, Any] = {
        "identity": image.identity,
        "certificates": image.certificates,
        "base": image.base,
        "records": image.records,
        "seals": image.seals,
        "statement": image.statement,
        "acquisition": image.acquisition,
    }
    return build_image(**(parts | changes))


def _with_crcs(records: np.ndarray) -> np.ndarray:
    records = records.copy()
    records["crc"] = record_crcs(records)
    return records


def _iso_device(ms: int) -> str:
    """Reference conversion, independent of the CLI's: calendar arithmetic by datetime."""
    return (dt.datetime(2000, 1, 1) + dt.timedelta(milliseconds=ms)).strftime(
        "%Y-%m-%dT%H:%M:%S."
    ) + f"{ms % 1000:03d}"


def _hexed(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _hexed(v) for k, v in value.items()}
    return value


def _deploy_serials(image: Image) -> list[str]:
    return [s.decode("ascii") for s in payload_view(image.records, EventCode.DEPLOY)["serial"]]


_EVENT_LINE = re.compile(r"\s+(\d+)\s+(\S+)\s+(.*?)\s+(ok|FAIL)\s+(\S+)\s*(.*)")
"""seq, device time, corrected UTC cell, CRC, event, fields (the UTC cell holds spaces)."""


def _event_table(text: str) -> list[tuple[list[str], str] | str]:
    """The text rendering after the column titles: per event line its columns split on
    whitespace without the UTC cell, and that cell; a ``note:`` line as its text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("events: ")) + 2
    table: list[tuple[list[str], str] | str] = []
    for line in lines[start:]:
        if line.startswith("  note: "):
            table.append(line[len("  note: ") :])
            continue
        match = _EVENT_LINE.fullmatch(line)
        assert match is not None, line
        seq, when, utc, crc, event, fields = match.groups()
        table.append(([seq, when, crc, event, *fields.split()], utc))
    return table


def _event_lines(text: str) -> list[list[str]]:
    """The text rendering's event lines, split on whitespace, without the UTC cell."""
    return [row[0] for row in _event_table(text) if not isinstance(row, str)]


def _utc_cells(text: str) -> list[str]:
    """The text rendering's corrected-UTC cell of every event line."""
    return [row[1] for row in _event_table(text) if not isinstance(row, str)]


# -- the three renderings of every capture --------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_text_shows_identity_sections_and_every_event(name: str) -> None:
    image = IMAGES[name]
    text = _show_ok(PATHS[name])
    ident, acq = image.identity, image.acquisition
    for expected in (
        f"serial          {ident.serial}",
        f"model           {ident.model}",
        f"firmware        {ident.firmware}",
        f"log capacity    {ident.log_capacity} records",
        f"first sequence  {image.base.first_seq}",
        f"operator        {acq.operator}",
        f"workstation     {acq.workstation}",
        f"device SHA-256  {acq.device_sha256.hex()}",
        f"host UTC start  {utc_iso(acq.host_utc_start_ms)}",
    ):
        assert expected in text, expected
    assert image.statement is not None
    assert f"covers          {image.statement.first_seq}..{image.statement.last_seq}" in text
    for span in image.spans.values():
        assert any(
            line.split()[:3] == [span.name, str(span.offset), str(span.length)]
            for line in text.splitlines()
            if line.strip()
        ), span
    rows = _event_lines(text)
    assert len(rows) == len(image.records)
    assert [int(row[0]) for row in rows] == image.records["seq"].tolist()
    assert [row[1] for row in rows] == [_iso_device(t) for t in image.records["time_ms"].tolist()]
    assert {row[2] for row in rows} == {"ok"}
    assert [row[3] for row in rows] == [EventCode(c).name for c in image.records["code"]]
    deploys = [row for row in rows if row[3] == "DEPLOY"]
    assert [row[-1] for row in deploys] == [f"serial={s}" for s in _deploy_serials(image)]


@pytest.mark.parametrize("name", NAMES)
def test_csv_has_one_row_per_record(name: str) -> None:
    image = IMAGES[name]
    rows = list(csv.reader(io.StringIO(_show_ok(PATHS[name], "--csv"))))
    assert tuple(rows[0]) == show.CSV_COLUMNS
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    records = image.records
    assert len(table) == len(records)
    assert [int(r["seq"]) for r in table] == records["seq"].tolist()
    assert [int(r["device_time_ms"]) for r in table] == records["time_ms"].tolist()
    assert [r["device_time"] for r in table] == [
        _iso_device(t) for t in records["time_ms"].tolist()
    ]
    assert [int(r["code"]) for r in table] == records["code"].tolist()
    assert [r["event"] for r in table] == [EventCode(c).name for c in records["code"]]
    assert {r["crc_ok"] for r in table} == {"true"}
    for row, record in zip(table, records, strict=True):
        pairs = [item.split("=", 1) for item in row["fields"].split(";") if item]
        assert [key for key, _ in pairs] == list(payload_fields(EventCode(int(record["code"]))))
    deploy_fields = [r["fields"] for r in table if r["event"] == "DEPLOY"]
    assert all(
        f"serial={serial}" in fields
        for fields, serial in zip(deploy_fields, _deploy_serials(image), strict=True)
    )


@pytest.mark.parametrize("name", NAMES)
def test_json_holds_what_read_image_reads(name: str) -> None:
    image = IMAGES[name]
    doc = json.loads(_show_ok(PATHS[name], "--json"))
    assert doc["file"] == str(PATHS[name]) and doc["size"] == len(image.data)
    assert doc["identity"] == dataclasses.asdict(image.identity)
    assert [c["sha256"] for c in doc["certificates"]] == [
        hashlib.sha256(der).hexdigest() for der in image.certificates
    ]
    assert [(s["name"], s["offset"], s["length"]) for s in doc["sections"]] == [
        (s.name, s.offset, s.length) for s in image.spans.values()
    ]
    counts = {s["name"]: s["count"] for s in doc["sections"]}
    assert (counts["records"], counts["seals"]) == (len(image.records), len(image.seals))
    assert image.statement is not None
    for key, part in (
        ("base", image.base),
        ("statement", image.statement),
        ("acquisition", image.acquisition),
    ):
        for field in dataclasses.fields(part):
            value = getattr(part, field.name)
            shown = doc[key][field.name]
            if isinstance(value, AcquisitionSignature):  # format version 2
                assert shown == {
                    "certificates": [der.hex() for der in value.certificates],
                    "signature": value.signature.hex(),
                    "algorithm": value.algorithm,
                }
                continue
            assert (bytes.fromhex(shown) if isinstance(value, bytes) else shown) == value
    assert doc["base"]["device_time"] == _iso_device(image.base.device_time_ms)
    start = dt.datetime.fromtimestamp(image.acquisition.host_utc_start_ms / 1000, dt.UTC)
    assert doc["acquisition"]["host_utc_start"] == start.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert doc["records"] == len(image.records) and doc["crc_failures"] == 0
    events = doc["events"]
    assert len(events) == len(image.records)
    for event, record in zip(events, image.records, strict=True):
        code = int(record["code"])
        assert set(event) == set(show.CSV_COLUMNS) | {"utc_ms"}
        assert (event["seq"], event["device_time_ms"], event["code"]) == (
            int(record["seq"]),
            int(record["time_ms"]),
            code,
        )
        assert event["event"] == EventCode(code).name and event["crc_ok"] is True
        assert event["fields"] == _hexed(decode_payload(code, bytes(record["payload"])))
    assert [e["fields"]["serial"] for e in events if e["event"] == "DEPLOY"] == _deploy_serials(
        image
    )


# -- odd but well-formed images ---------------------------------------------------------------


def _write(tmp_path: Path, data: bytes, name: str = "odd.tdi") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_records_failing_their_crc_are_marked_everywhere(tmp_path: Path) -> None:
    image = IMAGES["incident-shift"]
    records = image.records.copy()
    victim = int(np.flatnonzero(records["code"] == EventCode.DEPLOY)[0])
    records["time_ms"][victim] += 1  # a changed byte, CRC left as it was
    path = _write(tmp_path, _rebuild(image, records=records))
    seq = int(records["seq"][victim])

    rows = _event_lines(_show_ok(path))
    assert [int(r[0]) for r in rows if r[2] == "FAIL"] == [seq]
    table = list(csv.DictReader(io.StringIO(_show_ok(path, "--csv"))))
    assert [int(r["seq"]) for r in table if r["crc_ok"] == "false"] == [seq]
    doc = json.loads(_show_ok(path, "--json"))
    assert doc["crc_failures"] == 1
    assert [e["seq"] for e in doc["events"] if not e["crc_ok"]] == [seq]
    assert "1 failing their CRC" in _show_ok(path)


@pytest.mark.parametrize("code", [0x7F, 0x1234])
def test_unknown_event_codes_are_shown_raw(code: int, tmp_path: Path) -> None:
    image = IMAGES["quiet-day"]
    records = image.records.copy()
    records["code"][3] = code
    path = _write(tmp_path, _rebuild(image, records=_with_crcs(records)))
    raw = bytes(records["payload"][3]).hex()
    name = f"UNKNOWN(0x{code:02X})"
    assert name.startswith("UNKNOWN(0x") and name.endswith(f"{code:X})")

    row = _event_lines(_show_ok(path))[3]
    assert row[3:] == [name, f"raw={raw}"]
    table = list(csv.DictReader(io.StringIO(_show_ok(path, "--csv"))))
    assert (table[3]["event"], table[3]["code"], table[3]["fields"]) == (
        name,
        str(code),
        f"raw={raw}",
    )
    event = json.loads(_show_ok(path, "--json"))["events"][3]
    assert (event["event"], event["fields"]) == (name, {"raw": raw})


def test_an_image_without_a_statement(tmp_path: Path) -> None:
    path = _write(tmp_path, _rebuild(IMAGES["quiet-day"], statement=None))
    text = _show_ok(path)
    assert "none — no download statement" in text and "covers" not in text
    doc = json.loads(_show_ok(path, "--json"))
    assert doc["statement"] is None
    assert {s["name"]: s["length"] for s in doc["sections"]}["statement"] == 0


def test_nonzero_reserved_bytes_are_shown_not_hidden(tmp_path: Path) -> None:
    image = IMAGES["quiet-day"]
    records = image.records.copy()
    index = int(np.flatnonzero(records["code"] == EventCode.UNHOLSTER)[0])
    payload = bytearray(bytes(records["payload"][index]))
    payload[5] = 0xAB
    records["payload"][index] = bytes(payload)
    path = _write(tmp_path, _rebuild(image, records=_with_crcs(records)))
    with pytest.raises(FormatError):
        decode_payload(EventCode.UNHOLSTER, bytes(payload))  # the checked decoder refuses it
    assert _event_lines(_show_ok(path))[index][-1] == f"reserved={bytes(payload).hex()}"
    event = json.loads(_show_ok(path, "--json"))["events"][index]
    assert event["fields"] == {"reserved": bytes(payload).hex()}


def test_strings_are_shown_never_obeyed(tmp_path: Path) -> None:
    image = IMAGES["quiet-day"]
    model = "TL\x1b[2J\nPOWER_OFF forged"
    operator = "PS\r\n4127 ünïcode"
    identity = dataclasses.replace(image.identity, model=model)
    acquisition = dataclasses.replace(image.acquisition, operator=operator)
    path = _write(tmp_path, _rebuild(image, identity=identity, acquisition=acquisition))
    text = _show_ok(path)
    assert "\x1b" not in text and "\r" not in text
    assert not any(line.startswith("POWER_OFF") for line in text.splitlines())
    assert "TL\\x1b[2J\\x0aPOWER_OFF forged" in text
    assert "PS\\x0d\\x0a4127 ünïcode" in text
    doc = json.loads(_show_ok(path, "--json"))
    assert (doc["identity"]["model"], doc["acquisition"]["operator"]) == (model, operator)


def test_a_serial_with_separators_stays_one_field(tmp_path: Path) -> None:
    image = IMAGES["incident-shift"]
    records = image.records.copy()
    index = int(np.flatnonzero(records["code"] == EventCode.DEPLOY)[0])
    payload = bytearray(bytes(records["payload"][index]))
    payload[1:11] = b"S1;bay=9 X"
    records["payload"][index] = bytes(payload)
    path = _write(tmp_path, _rebuild(image, records=_with_crcs(records)))
    table = list(csv.DictReader(io.StringIO(_show_ok(path, "--csv"))))
    pairs = dict(item.split("=", 1) for item in table[index]["fields"].split(";"))
    assert set(pairs) == {"bay", "serial"}
    assert pairs["serial"] == "S1\\x3bbay\\x3d9\\x20X"
    assert json.loads(_show_ok(path, "--json"))["events"][index]["fields"]["serial"] == (
        "S1;bay=9 X"
    )


def test_a_serial_that_is_not_ascii_is_shown_escaped(tmp_path: Path) -> None:
    image = IMAGES["incident-shift"]
    records = image.records.copy()
    index = int(np.flatnonzero(records["code"] == EventCode.CARTRIDGE_INSERT)[0])
    payload = bytearray(bytes(records["payload"][index]))
    payload[1:11] = b"S\xff\x1b2345678"
    records["payload"][index] = bytes(payload)
    path = _write(tmp_path, _rebuild(image, records=_with_crcs(records)))
    assert _event_lines(_show_ok(path))[index][-1] == "serial=S\\xff\\x1b2345678"
    event = json.loads(_show_ok(path, "--json"))["events"][index]
    assert event["fields"]["serial"] == "S\\xff\x1b2345678"  # JSON escapes ESC itself


def test_times_no_calendar_can_hold(tmp_path: Path) -> None:
    image = IMAGES["quiet-day"]
    records = image.records.copy()
    records["time_ms"][0] = np.iinfo(np.uint64).max
    acquisition = dataclasses.replace(image.acquisition, host_utc_start_ms=-(2**63))
    path = _write(tmp_path, _rebuild(image, records=_with_crcs(records), acquisition=acquisition))
    assert _event_lines(_show_ok(path))[0][1] == f"out-of-range({2**64 - 1}ms)"
    assert "host UTC start  out-of-range(" in _show_ok(path)
    first = next(csv.DictReader(io.StringIO(_show_ok(path, "--csv"))))
    assert (first["device_time"], first["device_time_ms"]) == ("", str(2**64 - 1))
    doc = json.loads(_show_ok(path, "--json"))
    assert doc["events"][0]["device_time"] is None
    assert doc["acquisition"]["host_utc_start"] is None


def test_device_times_are_the_device_clock_without_a_zone() -> None:
    assert device_time_iso(0) == "2000-01-01T00:00:00.000"
    assert device_time_iso(366 * 86_400_000 + 1) == "2001-01-01T00:00:00.001"  # 2000 is leap
    assert device_time_iso(825_748_800_000) == "2026-03-02T06:40:00.000"
    assert utc_iso(0) == "1970-01-01T00:00:00.000Z"
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.integers(0, 2**42, 500, dtype=np.uint64),
            np.array([0, 252_455_615_999_999, 252_455_616_000_000, 2**64 - 1], dtype=np.uint64),
        ]
    )
    assert device_times_iso(values) == [device_time_iso(v) for v in values.tolist()]
    assert device_time_iso(252_455_615_999_999) == "9999-12-31T23:59:59.999"
    assert device_time_iso(252_455_616_000_000) is None


# -- corrected UTC -----------------------------------------------------------------------------

CLOCK_NAMES = ["clock-drift", "incident-shift"]
"""A clock set and a reset (runs with no correction), and a day of one clock with drift."""


def _model_answers(model: ClockModel, image: Image) -> list[tuple[int, int] | None]:
    """The model's answer for every record of ``image``, record by record (``to_utc``)."""
    answers: list[tuple[int, int] | None] = []
    times = image.records["time_ms"].tolist()
    for seq, ms in zip(image.records["seq"].tolist(), times, strict=True):
        answer = model.to_utc(ms, seq=seq)
        if answer.utc_ms is None or answer.bound_ms is None:
            answers.append(None)
        else:
            answers.append((answer.utc_ms, answer.bound_ms))
    return answers


@pytest.mark.parametrize("chunk", [7, show.CHUNK])
@pytest.mark.parametrize("name", CLOCK_NAMES)
def test_csv_and_json_utc_are_the_clock_models(
    name: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(show, "CHUNK", chunk)  # 7: chunks that start and end inside epochs
    image = IMAGES[name]
    model = ClockModel.from_images([image])
    answers = _model_answers(model, image)
    utc, bound = model.correct(image.records)  # the vectorised path agrees with to_utc
    assert [
        None if math.isnan(u) else (int(u), int(b)) for u, b in zip(utc, bound, strict=True)
    ] == answers

    table = list(csv.DictReader(io.StringIO(_show_ok(PATHS[name], "--csv"))))
    assert [(r["utc"], r["utc_bound_ms"]) for r in table] == [
        ("", "") if a is None else (utc_iso(a[0]), str(a[1])) for a in answers
    ]
    events = json.loads(_show_ok(PATHS[name], "--json"))["events"]
    assert [(e["utc"], e["utc_ms"], e["utc_bound_ms"]) for e in events] == [
        (None, None, None) if a is None else (utc_iso(a[0]), a[0], a[1]) for a in answers
    ]
    assert all(r["utc"].endswith("Z") and len(r["utc"]) == 24 for r in table if r["utc"])


def test_empty_cells_exactly_where_no_anchor_reaches() -> None:
    image = IMAGES["clock-drift"]
    model = ClockModel.from_images([image])
    unanchored = {
        seq
        for epoch in model.epochs
        if not epoch.anchors
        for seq in range(epoch.first_seq, epoch.last_seq + 1)
    }
    assert unanchored  # the capture has a reset with no later download before a set
    seqs = image.records["seq"].tolist()
    table = list(csv.DictReader(io.StringIO(_show_ok(PATHS["clock-drift"], "--csv"))))
    assert [int(r["seq"]) for r in table if r["utc_bound_ms"] == ""] == [
        s for s in seqs if s in unanchored
    ]
    assert all((r["utc"] == "") == (r["utc_bound_ms"] == "") for r in table)
    cells = _utc_cells(_show_ok(PATHS["clock-drift"]))
    assert [s for s, cell in zip(seqs, cells, strict=True) if cell == "-"] == [
        s for s in seqs if s in unanchored
    ]


def test_text_notes_once_per_run_without_a_correction() -> None:
    image = IMAGES["clock-drift"]
    model = ClockModel.from_images([image])
    utc, _ = model.correct(image.records)
    epochs = [model.epoch_of(s) for s in image.records["seq"].tolist()]
    # A run: consecutive events without an answer in one epoch; its first event's seq.
    starts = [
        (int(image.records["seq"][i]), epochs[i])
        for i in range(len(utc))
        if math.isnan(utc[i])
        and (i == 0 or not math.isnan(utc[i - 1]) or epochs[i - 1] != epochs[i])
    ]
    assert len(starts) >= 2
    table = _event_table(_show_ok(PATHS["clock-drift"]))
    notes = [(i, row) for i, row in enumerate(table) if isinstance(row, str)]
    assert len(notes) == len(starts)
    for (i, note), (seq, epoch) in zip(notes, starts, strict=True):
        following = table[i + 1]
        assert not isinstance(following, str) and int(following[0][0]) == seq
        assert epoch is not None
        assert note == f"{model.to_utc(0, seq=seq).note} (from seq {seq})"
        assert f"epoch {epoch.index}" in note and "no correction" in note


def test_text_cells_show_the_models_utc_and_bound() -> None:
    image = IMAGES["incident-shift"]
    answers = _model_answers(ClockModel.from_images([image]), image)
    cells = _utc_cells(_show_ok(PATHS["incident-shift"]))
    assert len(cells) == len(answers)
    for cell, answer in zip(cells, answers, strict=True):
        assert answer is not None
        when, bound = cell.split(" ", 1)
        assert when == utc_iso(answer[0]) and bound == show.bound_text(answer[1])


@pytest.mark.parametrize("name", CLOCK_NAMES)
def test_every_rendering_states_the_model_and_its_inputs(name: str) -> None:
    image = IMAGES[name]
    model = ClockModel.from_images([image])
    text = _show_ok(PATHS[name])
    header = text[: text.index("\nevents: ")]
    assert f"  images          {PATHS[name]}" in header
    for line in model.describe().splitlines():
        assert f"\n  {line}\n" in header + "\n", line
    corrected = sum(a is not None for a in _model_answers(model, image))
    assert f"  corrected       {corrected} of {len(image.records)} records" in header

    doc = json.loads(_show_ok(PATHS[name], "--json"))["clock_model"]
    assert doc["description"] == model.describe() and doc["images"] == [str(PATHS[name])]
    assert (doc["serial"], doc["max_drift_ppm"], doc["warnings"]) == (
        image.identity.serial,
        model.max_drift_ppm,
        list(model.warnings),
    )
    assert [(e["first_seq"], e["last_seq"], e["start"], e["drift_ppm"]) for e in doc["epochs"]] == [
        (e.first_seq, e.last_seq, e.start.value, e.drift_ppm) for e in model.epochs
    ]
    assert [
        [(a["kind"], a["seq"], a["device_ms"], a["utc_ms"], a["bound_ms"]) for a in e["anchors"]]
        for e in doc["epochs"]
    ] == [
        [(a.kind.value, a.seq, a.device_ms, a.utc_ms, a.bound_ms) for a in e.anchors]
        for e in model.epochs
    ]
    assert [e["note"] is None for e in doc["epochs"]] == [bool(e.anchors) for e in model.epochs]


class _Downloads:
    """Two downloads of one simulated device with an 80 ppm clock, and each record's true UTC."""

    def __init__(self, tmp_path: Path) -> None:
        device = new_device(random.Random(3), offset_ms=-40_000, drift_ppm=80.0)
        self.truth: dict[int, int] = {}
        device.power_on()
        paths = []
        for days in (1, 6):
            for _ in range(days):
                device.advance(20 * 3_600_000)
                self.truth[device.battery_report(20, 8000)] = device.utc_ms
            data = device.download(bytes([days]) * 32)
            paths.append(_write(tmp_path, data, f"download-{days}.tdi"))
        self.first, self.second = paths


def test_also_adds_the_other_downloads_anchors(tmp_path: Path) -> None:
    runs = _Downloads(tmp_path)
    image = read_image(runs.second)
    model = ClockModel.from_images([image, read_image(runs.first)])
    assert model.epochs[0].drift_ppm == pytest.approx(80, abs=5)
    answers = _model_answers(model, image)
    table = list(
        csv.DictReader(io.StringIO(_show_ok(runs.second, "--csv", "--also", str(runs.first))))
    )
    assert [(r["utc"], r["utc_bound_ms"]) for r in table] == [
        ("", "") if a is None else (utc_iso(a[0]), str(a[1])) for a in answers
    ]
    alone = list(csv.DictReader(io.StringIO(_show_ok(runs.second, "--csv"))))
    for both, single in zip(table, alone, strict=True):
        seq = int(both["seq"])
        if seq in runs.truth:  # the true UTC lies within the bound, with and without --also
            for row in (both, single):
                assert abs(utc_iso_ms(row["utc"]) - runs.truth[seq]) <= int(row["utc_bound_ms"])
    # Far from the second download, the first one's anchor narrows the bound a lot.
    assert 3 * int(table[0]["utc_bound_ms"]) < int(alone[0]["utc_bound_ms"])
    doc = json.loads(_show_ok(runs.second, "--json", "--also", str(runs.first)))
    assert doc["clock_model"]["images"] == [str(runs.second), str(runs.first)]
    assert len(doc["clock_model"]["epochs"][0]["anchors"]) == 2


def utc_iso_ms(text: str) -> int:
    """Unix milliseconds of an ISO 8601 UTC string (``...Z``)."""
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def test_a_long_log_of_many_epochs_is_corrected_chunk_by_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks that each cross several clock sets get the answers of the whole log."""
    path = _write(tmp_path, synthetic_image(6_000, seed=2), "sets.tdi")
    image = read_image(path)
    model = ClockModel.from_images([image])
    assert len(model.epochs) > 10
    utc, bound = model.correct(image.records)
    monkeypatch.setattr(show, "CHUNK", 97)
    table = list(csv.DictReader(io.StringIO(_show_ok(path, "--csv"))))
    assert [(r["utc"], int(r["utc_bound_ms"])) for r in table] == [
        (utc_iso(int(u)), int(b)) for u, b in zip(utc, bound, strict=True)
    ]


def test_also_with_another_devices_image_is_bad_input() -> None:
    code, out, err = _run("show", str(PATHS["quiet-day"]), "--also", str(PATHS["incident-shift"]))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"taserlink: error: {PATHS['incident-shift']}: ")
    assert IMAGES["incident-shift"].identity.serial in err


def test_also_with_a_download_that_disagrees_is_bad_input(tmp_path: Path) -> None:
    runs = _Downloads(tmp_path)
    image = read_image(runs.first)
    records = image.records.copy()
    records["time_ms"][1] += 1
    forged = _write(tmp_path, _rebuild(image, records=_with_crcs(records)), "forged.tdi")
    code, out, err = _run("show", str(runs.second), "--also", str(forged))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "seq 2" in err


def test_an_image_without_a_model_is_shown_uncorrected(tmp_path: Path) -> None:
    image = IMAGES["quiet-day"]
    records = image.records.copy()
    records["seq"][1] = records["seq"][0]  # two different records under one sequence number
    path = _write(tmp_path, _rebuild(image, records=_with_crcs(records)))
    with pytest.raises(ClockModelError):
        ClockModel.from_images([read_image(path)])
    text = _show_ok(path)
    assert "  none — " in text and f"  corrected       0 of {len(records)} records" in text
    assert set(_utc_cells(text)) == {"-"}
    assert sum(isinstance(row, str) for row in _event_table(text)) == 1
    table = list(csv.DictReader(io.StringIO(_show_ok(path, "--csv"))))
    assert {(r["utc"], r["utc_bound_ms"]) for r in table} == {("", "")}
    doc = json.loads(_show_ok(path, "--json"))
    assert doc["clock_model"]["failure"] and doc["clock_model"]["epochs"] == []


def test_a_utc_no_calendar_can_hold_keeps_the_models_number(tmp_path: Path) -> None:
    image = IMAGES["quiet-day"]
    records = image.records.copy()
    records["time_ms"][-3:] = np.uint64(2**63)  # in the download's epoch, far from its anchor
    path = _write(tmp_path, _rebuild(image, records=_with_crcs(records)))
    model = ClockModel.from_images([read_image(path)])
    utc, bound = model.correct(records)
    last = json.loads(_show_ok(path, "--json"))["events"][-1]
    assert last["utc"] is None and (last["utc_ms"], last["utc_bound_ms"]) == (
        int(utc[-1]),
        int(bound[-1]),
    )
    row = list(csv.DictReader(io.StringIO(_show_ok(path, "--csv"))))[-1]
    assert (row["utc"], row["utc_bound_ms"]) == ("", str(int(bound[-1])))
    assert _utc_cells(_show_ok(path))[-1].startswith(f"out-of-range({int(utc[-1])}ms) ±")


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "±0 ms"),
        (999, "±999 ms"),
        (1000, "±1.0 s"),
        (1250, "±1.3 s"),
        (59_999, "±60.0 s"),
        (60_000, "±1.0 min"),
        (15_741_354, "±4.4 h"),
        (172_800_000, "±2.0 d"),
    ],
)
def test_bound_text_examples(ms: int, text: str) -> None:
    assert show.bound_text(ms) == text


@given(st.integers(0, 10**13))
def test_bound_text_never_understates(ms: int) -> None:
    value, unit = show.bound_text(ms)[1:].split(" ")
    unit_ms = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}[unit]
    shown = float(value) * unit_ms
    assert ms <= shown + 1e-6 * unit_ms and shown - ms < (1 if unit == "ms" else 0.1 * unit_ms)
    assert (unit == "ms") == (ms < 1000)


# -- the command's frame ---------------------------------------------------------------------


def test_help_of_taserlink_and_of_every_command() -> None:
    code, out, err = _run("--help")
    assert code == 0 and err == ""
    assert out.startswith("usage: taserlink")
    for command in COMMANDS:
        assert command.NAME in out
        code, out_command, err = _run(command.NAME, "--help")
        assert (code, err) == (0, "")
        assert out_command.startswith(f"usage: taserlink {command.NAME}")


def test_version() -> None:
    assert _run("--version") == (0, f"taserlink {taserlink.__version__}\n", "")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["show"],
        ["show", "a.tdi", "--csv", "--json"],
        ["show", "a.tdi", "--bogus"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str]) -> None:
    code, out, err = _run(*argv)
    assert (code, out) == (2, "")
    assert err.startswith("taserlink: error: ") and err.count("\n") == 1, err
    assert "--help" in err


def test_exit_codes_for_library_errors() -> None:
    assert exit_code_for(FormatError("x", 3)) == 2
    assert exit_code_for(TruncatedError("x", 3)) == 2
    assert exit_code_for(SerialError("x")) == 2
    assert exit_code_for(ImageIOError("disk full")) == 3
    assert exit_code_for(TaserlinkError("device gone")) == 3
    assert exit_code_for(InputError("a.tdi", ImageIOError("cannot read a.tdi"))) == 2
    assert str(InputError("a.tdi", FormatError("bad", 7))) == "a.tdi: at offset 7: bad"


# -- large logs ------------------------------------------------------------------------------


def _large_image(n: int) -> bytes:
    """``incident-shift`` with its records repeated to ``n``, renumbered, each repetition
    later than the one before (one clock epoch, as a long log of one clock has), CRCs right."""
    image = IMAGES["incident-shift"]
    times = image.records["time_ms"]
    records = np.resize(image.records, n).copy()
    records["seq"] = np.arange(1, n + 1, dtype=records["seq"].dtype)
    span = int(times.max()) - int(times.min()) + 60_000
    records["time_ms"] += (np.arange(n, dtype=np.uint64) // len(times)) * np.uint64(span)
    return _rebuild(image, records=_with_crcs(records))


class _Sink(io.TextIOBase):
    """A text stream that keeps only a count of what was written."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


def test_rendering_streams_large_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Peak memory of every rendering stays flat as the log grows fourfold."""
    monkeypatch.setattr(show, "CHUNK", 256)
    peaks: dict[tuple[str, int], int] = {}
    for n in (2_000, 8_000):
        image = read_image(_large_image(n))
        # The model is built from the whole record array (numpy, like the image itself)
        # before any rendering; what must stay flat is the rendering.
        clock = show.clock_for(image, "big.tdi")
        for writer in (show.write_text, show.write_csv, show.write_json):
            sink = _Sink()
            tracemalloc.start()
            try:
                writer(image, "big.tdi", sink, clock=clock)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert sink.lines >= n
            peaks[writer.__name__, n] = peak
    for writer in ("write_text", "write_csv", "write_json"):
        small, large = peaks[writer, 2_000], peaks[writer, 8_000]
        assert large < 1.5 * small + 100_000, (writer, small, large)
    assert len(json.dumps(show.summary(image, "big.tdi"))) < 4_000


def test_a_reader_that_goes_away_ends_quietly(tmp_path: Path) -> None:
    path = _write(tmp_path, _large_image(20_000), "big.tdi")
    script = "import sys; from taserlink.cli import main; sys.exit(main())"
    with subprocess.Popen(
        [sys.executable, "-c", script, "show", str(path), "--csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().decode().startswith("seq,")
        process.stdout.close()
        assert process.wait(timeout=60) == 3
        assert process.stderr.read() == b""


# -- --host-set-anchors -----------------------------------------------------------------------


class _HostSetRun:
    """A device whose clock cell fails, then a host sets it to UTC, it is used, its cell
    fails again and only then is it downloaded: no download reaches the set's epoch."""

    def __init__(self, tmp_path: Path) -> None:
        device = new_device(random.Random(11), offset_ms=-90_000, drift_ppm=-60.0)
        self.truth: dict[int, int] = {}
        device.power_on()

        def use(hours: int) -> None:
            for _ in range(hours):
                device.advance(2 * 3_600_000)
                self.truth[device.battery_report(20, 8000)] = device.utc_ms

        use(2)
        device.lose_power()
        use(2)
        device.usb_connect()
        device.advance(1000)
        self.set_seq = device.set_clock(device.utc_ms - DEVICE_EPOCH_UNIX_MS)
        self.truth[self.set_seq] = device.utc_ms
        use(5)
        self.reset_seq = device.lose_power()
        use(2)
        self.path = _write(tmp_path, device.download(bytes(32)), "host-set.tdi")
        self.image = read_image(self.path)


def test_host_set_anchors_correct_what_no_download_reaches(tmp_path: Path) -> None:
    run = _HostSetRun(tmp_path)
    seqs = run.image.records["seq"]
    in_set_epoch = (seqs >= run.set_seq) & (seqs < run.reset_seq)
    off = list(csv.DictReader(io.StringIO(_show_ok(run.path, "--csv"))))
    on = list(csv.DictReader(io.StringIO(_show_ok(run.path, "--csv", "--host-set-anchors"))))
    assert all(r["utc"] == "" for r, inside in zip(off, in_set_epoch, strict=True) if inside)
    model = ClockModel.from_images([run.image], host_sets=True)
    assert [(r["utc"], r["utc_bound_ms"]) for r in on] == [
        ("", "") if a is None else (utc_iso(a[0]), str(a[1]))
        for a in _model_answers(model, run.image)
    ]
    for row, inside in zip(on, in_set_epoch, strict=True):
        seq = int(row["seq"])
        if inside:
            assert row["utc"] != ""
        if seq in run.truth and row["utc"]:
            assert abs(utc_iso_ms(row["utc"]) - run.truth[seq]) <= int(row["utc_bound_ms"])
    # The rows the download anchors are the same either way.
    assert [r for r in on if int(r["seq"]) >= run.reset_seq] == [
        r for r in off if int(r["seq"]) >= run.reset_seq
    ]


def test_host_set_anchors_are_stated_in_every_rendering(tmp_path: Path) -> None:
    run = _HostSetRun(tmp_path)
    model = ClockModel.from_images([run.image], host_sets=True)
    text = _show_ok(run.path, "--host-set-anchors")
    header = text[: text.index("\nevents: ")]
    assert (
        "\n  option          --host-set-anchors: host clock sets taken as UTC anchors\n" in header
    )
    for line in model.describe().splitlines():
        assert f"\n  {line}\n" in header + "\n", line
    assert f"host clock set seq {run.set_seq}:" in header
    assert "taken as UTC anchors" in header
    plain = _show_ok(run.path)
    assert "--host-set-anchors" not in plain and "host clock set" not in plain

    doc = json.loads(_show_ok(run.path, "--json", "--host-set-anchors"))["clock_model"]
    assert (doc["host_set_anchors"], doc["host_set_bound_ms"]) == (True, DEFAULT_HOST_SET_BOUND_MS)
    assert doc["description"] == model.describe()
    marked = [
        (a["seq"], a["bound_ms"])
        for e in doc["epochs"]
        for a in e["anchors"]
        if a["kind"] == "host clock set"
    ]
    assert marked == [(run.set_seq, DEFAULT_HOST_SET_BOUND_MS)]
    plain_doc = json.loads(_show_ok(run.path, "--json"))["clock_model"]
    assert (plain_doc["host_set_anchors"], plain_doc["host_set_bound_ms"]) == (False, None)
    assert all(a["kind"] != "host clock set" for e in plain_doc["epochs"] for a in e["anchors"])


def test_host_set_anchors_is_stated_even_without_a_model(tmp_path: Path) -> None:
    image = IMAGES["quiet-day"]
    records = image.records.copy()
    records["seq"][1] = records["seq"][0]
    path = _write(tmp_path, _rebuild(image, records=_with_crcs(records)))
    doc = json.loads(_show_ok(path, "--json", "--host-set-anchors"))["clock_model"]
    assert doc["failure"] and doc["host_set_anchors"] is True
    assert "--host-set-anchors" in _show_ok(path, "--host-set-anchors")


def test_host_set_anchors_is_in_the_help() -> None:
    code, out, _ = _run("show", "--help")
    words = " ".join(out.split())
    assert code == 0 and "--host-set-anchors" in words and "menu sets never anchor" in words


def test_max_drift_ppm_states_the_model_show_and_link_share() -> None:
    """``--max-drift-ppm`` reaches the model: every bound at 20 ppm is at most the bound at
    100 ppm (the anchors' intervals widen more slowly), the JSON states it, and a value out
    of (0, 10⁶) is a usage error (exit 2) on both commands that take the option group."""
    path = CAPTURES / "clock-drift.tdi"
    wide = json.loads(_show_ok(path, "--json"))
    narrow = json.loads(_show_ok(path, "--json", "--max-drift-ppm", "20"))
    assert (wide["clock_model"]["max_drift_ppm"], narrow["clock_model"]["max_drift_ppm"]) == (
        100.0,
        20.0,
    )
    pairs = [
        (a["utc_bound_ms"], b["utc_bound_ms"])
        for a, b in zip(wide["events"], narrow["events"], strict=True)
        if a["utc_bound_ms"] is not None
    ]
    assert pairs and all(n <= w for w, n in pairs) and any(n < w for w, n in pairs)
    for command in (
        ["show", str(path)],
        ["link", "--images", "x", "--issues", "y", "--matches", "z"],
    ):
        for bad in ("0", "1e6", "fast"):
            code, out, err = _run(*command, "--max-drift-ppm", bad)
            assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (command, bad)
