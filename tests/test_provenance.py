"""Provenance (docs/provenance.md): the block of every structured output names each input
with its size and SHA-256 (computed here independently with hashlib), the version and the
settings; re-runs are byte-identical; ``match --out`` writes ``OUT.csv.provenance.json``
whose output digest is the CSV's; ``link`` reports an edited or truncated match file as an
error finding, none as a note; the reader never raises anything but ``ProvenanceError``."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taserlink import __version__
from taserlink.cli import main
from taserlink.findings import Severity
from taserlink.provenance import (
    SUFFIX,
    Input,
    Output,
    ProvenanceError,
    ProvenanceKind,
    check_output,
    dumps,
    hash_file,
    make_provenance,
    parse_provenance,
    read_provenance,
    write_provenance,
)
from tests.conftest import CAPTURES

INCIDENT = CAPTURES / "incident"
STATION = CAPTURES / "station-month"
WINDOW = ("2026-03-06T19:40:00Z", "2026-03-06T19:55:00Z")
ROOTS_DER_SHA256 = sorted(
    hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    for cert in x509.load_pem_x509_certificates((CAPTURES / "test-root.pem").read_bytes())
)
"""The TEST roots' DER digests (the manufacturer's and the force's), computed here."""


def _entry(path: Path, shown: str, role: str) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "path": shown,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "role": role,
    }


@contextlib.contextmanager
def _in(folder: Path) -> Iterator[None]:
    with contextlib.chdir(folder):
        yield


def _run(folder: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with _in(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    """The worked incident, copied, with the TEST root beside it."""
    folder = tmp_path / "incident"
    shutil.copytree(INCIDENT, folder)
    shutil.copy(CAPTURES / "test-root.pem", tmp_path / "test-root.pem")
    return folder


MATCH = ("match", "--reads", "reads.csv", "--serials", "serials.txt")


def _link(folder: Path, matches: str = "matches.csv", *more: str) -> tuple[int, dict[str, Any]]:
    argv = ["link", "--images", "images", "--issues", "issues.csv", "--matches", matches]
    argv += ["--window", *WINDOW, "--roots", "../test-root.pem", "--json", *more]
    code, out, err = _run(folder, *argv)
    assert code in (0, 1), err
    data: dict[str, Any] = json.loads(out)
    return code, data


# -- the library ----------------------------------------------------------------------------


def test_hash_file_and_the_block(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(3 << 20) + b"tail")  # more than one chunk
    given_path = str(path)
    made = hash_file(given_path, "reads")
    assert made == Input(given_path, path.stat().st_size, _sha(path), "reads")
    block = make_provenance([made], {"tolerance_ms": 900_000, "nested": {"a": [1, 2]}})
    assert list(block.as_dict()) == ["tool", "version", "inputs", "settings"]
    assert block.as_dict()["version"] == __version__ and block.tool == "taserlink"
    assert list(block.as_dict()["inputs"][0]) == ["path", "size", "sha256", "role"]
    assert dumps(block) == dumps(make_provenance([made], dict(block.settings)))
    out = block.with_outputs(Output("out.csv", "0" * 64))
    assert list(out.as_dict()) == ["tool", "version", "inputs", "settings", "output"]
    write_provenance(out, tmp_path / "p.json")
    assert read_provenance(tmp_path / "p.json") == out
    with pytest.raises(ValueError):
        make_provenance([], {"drift": float("nan")})
    with pytest.raises(ProvenanceError, match="cannot read"):
        hash_file(tmp_path / "missing")


def test_check_output_findings(tmp_path: Path) -> None:
    csv = tmp_path / "m.csv"
    csv.write_bytes(b"exhibit,serial\nE1,S1\n")
    (only,) = check_output(csv).findings
    assert (only.kind, only.severity) == (ProvenanceKind.NO_PROVENANCE, Severity.INFO)
    record = make_provenance([]).with_outputs(Output(str(csv), _sha(csv)))
    write_provenance(record, str(csv) + SUFFIX)
    good = check_output(csv)
    assert good.findings == () and good.ok and good.provenance == record
    assert [i.role for i in good.inputs] == [None, "provenance"]
    for changed in (b"exhibit,serial\nE1,S2\n", b"exhibit,serial\nE1"):
        csv.write_bytes(changed)
        (only,) = check_output(csv).findings
        assert (only.kind, only.severity) == (ProvenanceKind.OUTPUT_CHANGED, Severity.ERROR)
        assert _sha(csv) in only.message and record.outputs[0].sha256 in only.message
    Path(str(csv) + SUFFIX).write_text("{not json")
    (only,) = check_output(csv).findings
    assert (only.kind, only.severity) == (ProvenanceKind.BAD_PROVENANCE, Severity.WARNING)
    os.unlink(str(csv) + SUFFIX)
    os.mkfifo(str(csv) + SUFFIX)  # never opened: a FIFO would block
    (only,) = check_output(csv).findings
    assert only.kind is ProvenanceKind.BAD_PROVENANCE and "regular file" in only.message


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_KEYS = st.sampled_from(["tool", "version", "inputs", "settings", "output", "outputs"])
_DIGEST = st.text("0123456789abcdef", min_size=64, max_size=64)
_INPUT = st.fixed_dictionaries(
    {"path": st.text(max_size=8), "size": st.integers(0, 10**9), "sha256": _DIGEST},
    optional={"role": st.text(max_size=8) | _JSON},
)
_BLOCKISH = st.fixed_dictionaries(
    {},
    optional={
        "tool": st.text(max_size=8) | _JSON,
        "version": st.text(max_size=8) | _JSON,
        "inputs": st.lists(_INPUT | _JSON, max_size=3) | _JSON,
        "settings": st.dictionaries(st.text(max_size=4), _JSON, max_size=3) | _JSON,
        "output": st.fixed_dictionaries({"path": st.text(max_size=8), "sha256": _DIGEST}) | _JSON,
        "outputs": st.lists(_JSON, max_size=2) | _JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(document=_JSON | _BLOCKISH | st.dictionaries(_KEYS, _JSON))
def test_parse_provenance_gives_a_block_or_a_provenance_error(document: Any) -> None:
    try:
        block = parse_provenance(document, "x.provenance.json")
    except ProvenanceError as error:
        assert str(error).startswith("x.provenance.json: not a provenance block: ")
        return
    assert isinstance(document, dict) and isinstance(document["settings"], dict)
    assert block.tool == document["tool"]
    assert all(len(i.sha256) == 64 for i in block.inputs)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200) | _JSON.map(lambda v: json.dumps(v).encode()))
def test_read_provenance_of_any_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "any.provenance.json"
    path.write_bytes(data)
    try:
        read_provenance(path)
    except ProvenanceError as error:
        assert str(error).startswith(str(path))
    nested = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(nested)
    with pytest.raises(ProvenanceError):
        read_provenance(path)


# -- match ----------------------------------------------------------------------------------


def test_match_out_writes_the_provenance_beside(scene: Path) -> None:
    code, out, _ = _run(scene, *MATCH, "--out", "matches.csv")
    assert code == 1 and out == ""
    provenance = json.loads((scene / "matches.csv.provenance.json").read_text())
    assert list(provenance) == ["tool", "version", "inputs", "settings", "output"]
    assert provenance["version"] == __version__
    assert provenance["inputs"] == [
        _entry(scene / "reads.csv", "reads.csv", "reads"),
        _entry(scene / "serials.txt", "serials.txt", "serials"),
    ]
    assert provenance["output"] == {"path": "matches.csv", "sha256": _sha(scene / "matches.csv")}
    assert provenance["settings"]["p_outside"] == 0.01
    assert provenance["settings"]["match_threshold"] == 0.999
    assert provenance["settings"]["model_builtin"] is True
    # the CSV is exactly what stdout gives: the contract's file, nothing added
    _, stdout, _ = _run(scene, *MATCH)
    assert (scene / "matches.csv").read_text() == stdout
    # --json: the same block without output; re-runs byte-identical
    _, first, _ = _run(scene, *MATCH, "--json", "--p-outside", "0.02")
    _, again, _ = _run(scene, *MATCH, "--json", "--p-outside", "0.02")
    assert first == again
    block = json.loads(first)["provenance"]
    assert block["inputs"] == provenance["inputs"] and "output" not in block
    assert block["settings"]["p_outside"] == 0.02
    before = (scene / "matches.csv.provenance.json").read_bytes()
    _run(scene, *MATCH, "--out", "matches.csv")
    assert (scene / "matches.csv.provenance.json").read_bytes() == before


def test_match_model_file_is_an_input(scene: Path) -> None:
    model = scene / "model.json"
    from taserlink.forensics.confusion import ConfusionModel
    from taserlink.serials import CARTRIDGE_SCHEME

    ConfusionModel.default(CARTRIDGE_SCHEME, p_correct=0.93, p_confusable=0.05).save(model)
    _, out, _ = _run(scene, *MATCH, "--model", "model.json", "--json")
    block = json.loads(out)["provenance"]
    assert block["inputs"][-1] == _entry(model, "model.json", "model")
    assert block["settings"]["model_builtin"] is False


# -- link -----------------------------------------------------------------------------------


def test_link_checks_the_match_file(scene: Path) -> None:
    _run(scene, *MATCH, "--out", "matches.csv")
    code, intact = _link(scene)
    assert not any(f["kind"].startswith("matches_") for f in intact["findings"])
    block = intact["provenance"]
    images = sorted((scene / "images").glob("*.tdi"))
    assert block["inputs"] == [
        *(_entry(p, f"images/{p.name}", "image") for p in images),
        _entry(scene / "issues.csv", "issues.csv", "issues"),
        _entry(scene / "matches.csv", "matches.csv", "matches"),
        _entry(scene / "matches.csv.provenance.json", "matches.csv.provenance.json", "provenance"),
    ]
    assert block["settings"] == {
        "window_from_utc": "2026-03-06T19:40:00.000Z",
        "window_to_utc": "2026-03-06T19:55:00.000Z",
        "max_drift_ppm": 100.0,
        "host_clock_ms": 0,
        "host_set_anchors": False,
        "trusted_roots_sha256": ROOTS_DER_SHA256,
    }
    assert _link(scene) == (code, intact)  # byte-identical re-run (parsed equal, and …)
    _, text, _ = _run(scene, "link", "--images", "images", "--issues", "issues.csv",
                      "--matches", "matches.csv", "--window", *WINDOW, "--roots",
                      "../test-root.pem", "--json")  # fmt: skip
    _, text2, _ = _run(scene, "link", "--images", "images", "--issues", "issues.csv",
                       "--matches", "matches.csv", "--window", *WINDOW, "--roots",
                       "../test-root.pem", "--json")  # fmt: skip
    assert text == text2
    original = (scene / "matches.csv").read_bytes()
    edited = bytearray(original)
    edited[original.index(b"1.000000")] = ord("0")  # one byte: a score of 1 made 0
    lines = original.splitlines(keepends=True)
    truncated = b"".join(lines[:-1])  # the last row lost
    for changed in (bytes(edited), truncated):
        (scene / "matches.csv").write_bytes(changed)
        code, data = _link(scene)
        found = [f for f in data["findings"] if f["kind"].startswith("matches_")]
        assert [(f["kind"], f["severity"]) for f in found] == [("matches_changed", "error")]
        assert _sha(scene / "matches.csv") in found[0]["message"]
        assert code == 1 and data["ok"] is False
    # cut inside a row: the file cannot be read (exit 2), and the message says it changed
    (scene / "matches.csv").write_bytes(original[: original.index(b'"every read') + 5])
    code, _, err = _run(scene, "link", "--images", "images", "--issues", "issues.csv",
                        "--matches", "matches.csv")  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("taserlink: error: matches.csv:") and "not the file" in err
    (scene / "matches.csv").write_bytes(original)
    os.unlink(scene / "matches.csv.provenance.json")
    _, data = _link(scene)
    found = [(f["kind"], f["severity"]) for f in data["findings"] if f["kind"].startswith("m")]
    assert ("matches_no_provenance", "info") in found
    assert [i["role"] for i in data["provenance"]["inputs"]][-1] == "matches"
    (scene / "matches.csv.provenance.json").write_text('{"tool": 1}')
    _, data = _link(scene)
    kinds = {(f["kind"], f["severity"]) for f in data["findings"]}
    assert ("matches_bad_provenance", "warning") in kinds


# -- show, verify ---------------------------------------------------------------------------


def test_show_json_provenance(scene: Path) -> None:
    images = sorted((scene / "images").glob("*.tdi"))
    argv = ["show", f"images/{images[0].name}", "--json", "--host-set-anchors"]
    _, out, _ = _run(scene, *argv)
    data = json.loads(out)
    assert list(data)[-2:] == ["events", "provenance"]
    assert data["provenance"]["inputs"] == [_entry(images[0], f"images/{images[0].name}", "image")]
    assert data["provenance"]["settings"] == {
        "max_drift_ppm": 100.0,
        "host_clock_ms": 0,
        "host_set_anchors": True,
        "host_set_bound_ms": 1000,
    }
    assert _run(scene, *argv)[1] == out


def test_verify_json_is_an_object_with_provenance(scene: Path) -> None:
    images = sorted((scene / "images").glob("*.tdi"))
    names = [f"images/{p.name}" for p in images]
    (scene / "images" / "cut.tdi").write_bytes(images[0].read_bytes()[:300])
    argv = ["verify", *names, "images/cut.tdi", "--roots", "../test-root.pem", "--json"]
    code, out, _ = _run(scene, *argv)
    assert code in (1, 2)
    data = json.loads(out)
    assert list(data) == ["images", "provenance"]
    assert [i["path"] for i in data["images"]] == [*names, "images/cut.tdi"]
    assert data["provenance"]["inputs"] == [
        *(_entry(p, n, "image") for p, n in zip(images, names, strict=True)),
        _entry(scene / "images" / "cut.tdi", "images/cut.tdi", "image"),
    ]
    assert data["provenance"]["settings"] == {"trusted_roots_sha256": ROOTS_DER_SHA256}
    assert _run(scene, *argv)[1] == out


# -- reconcile, home-office ---------------------------------------------------------------


@pytest.fixture
def station(tmp_path: Path) -> Path:
    folder = tmp_path / "station-month"
    shutil.copytree(STATION, folder)
    shutil.copy(CAPTURES / "test-root.pem", tmp_path / "test-root.pem")
    return folder


def test_reconcile_json_provenance(station: Path) -> None:
    argv = ["reconcile", "--images", "images", "--accounts", "ACCOUNTS.csv"]
    argv += ["--issues", "issues.csv", "--roots", "../test-root.pem", "--tolerance", "20"]
    argv += ["--from", "2026-03-01T00:00:00Z", "--to", "2026-04-01T00:00:00Z", "--json"]
    _, out, _ = _run(station, *argv)
    block = json.loads(out)["provenance"]
    images = sorted((station / "images").glob("*.tdi"))
    assert block["inputs"] == [
        *(_entry(p, f"images/{p.name}", "image") for p in images),
        _entry(station / "ACCOUNTS.csv", "ACCOUNTS.csv", "accounts"),
        _entry(station / "issues.csv", "issues.csv", "issues"),
    ]
    assert block["settings"]["tolerance_ms"] == 20 * 60_000
    assert block["settings"]["period_from_utc"] == "2026-03-01T00:00:00.000Z"
    assert block["settings"]["trusted_roots_sha256"] == ROOTS_DER_SHA256
    assert _run(station, *argv)[1] == out


def test_home_office_provenance(station: Path) -> None:
    argv = ["home-office", "--accounts", "ACCOUNTS.csv", "--year", "2025", "--images"]
    argv += ["images", "--issues", "issues.csv", "--roots", "../test-root.pem", "--json"]
    _, out, _ = _run(station, *argv, "--out", "one")
    _run(station, *argv, "--out", "two")
    block = json.loads(out)["provenance"]
    assert block["inputs"][0] == _entry(station / "ACCOUNTS.csv", "ACCOUNTS.csv", "accounts")
    assert block["inputs"][-1] == _entry(station / "issues.csv", "issues.csv", "issues")
    assert len([i for i in block["inputs"] if i["role"] == "image"]) == 30
    assert block["settings"]["year"] == 2025 and block["settings"]["max_drift_ppm"] == 100.0
    beside = json.loads((station / "one" / "provenance.json").read_text())
    assert {k: v for k, v in beside.items() if k != "outputs"} == block
    for output in beside["outputs"]:
        assert output["sha256"] == _sha(station / "one" / output["path"])
    one = (station / "one" / "provenance.json").read_bytes()
    assert one == (station / "two" / "provenance.json").read_bytes()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_match_out_refuses_a_provenance_path_it_may_not_write(scene: Path) -> None:
    (scene / "matches.csv.provenance.json").mkdir()
    code, _, err = _run(scene, *MATCH, "--out", "matches.csv")
    assert code == 2 and err.count("\n") == 1  # one line: the refusal
    assert "matches.csv.provenance.json" in err
    assert not (scene / "matches.csv").exists()  # refused before anything is written
