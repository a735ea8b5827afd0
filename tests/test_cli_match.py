"""``taserlink match``: statuses and exit codes on small generated cases, the CSV and JSON
output, the stderr summary, malformed inputs (exit 2, ``file:line``, one line, no
traceback), outputs that cannot be written (exit 3) and atomic ``--out``."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from taserlink.cli import COMMANDS, main
from taserlink.cli import match as match_command
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.matchfiles import MATCH_COLUMNS, read_matches
from taserlink.forensics.results import DEFAULT_MATCH_THRESHOLD, MatchRow, TagRead
from taserlink.forensics.simulate import simulate_reads
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from tests.conftest import ROOT

SCHEME = CARTRIDGE_SCHEME
MODEL = ConfusionModel.default(SCHEME)
LISTED = [SCHEME.generate(random.Random(1000 + i)) for i in range(200)]
TARGET = LISTED[17]


def _distance(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def _far_unlisted() -> str:
    """A serial not listed, differing from every listed one in 7 or more places."""
    rng = random.Random(5)
    while True:
        serial = SCHEME.generate(rng)
        if min(_distance(serial, s) for s in LISTED) >= 7:
            return serial


def _twin(serial: str, position: int) -> str:
    """A valid serial equal to ``serial`` except at ``position`` (and the check character)."""
    for char in SCHEME.alphabet:
        if char != serial[position]:
            prefix = serial[:position] + char + serial[position + 1 : -1]
            return prefix + SCHEME.check_character(prefix)
    raise AssertionError("unreachable")


UNLISTED = _far_unlisted()


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["match", *argv])
    return code, out.getvalue(), err.getvalue()


def _reads_file(tmp_path: Path, exhibits: dict[str, list[str]], name: str = "reads.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["exhibit", "tag", "read"])
        for exhibit, reads in exhibits.items():
            for number, text in enumerate(reads, start=1):
                writer.writerow([exhibit, f"T{number}", text])
    return path


def _serials_file(tmp_path: Path, serials: list[str], name: str = "serials.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{s}\n" for s in serials), encoding="utf-8")
    return path


def _noisy(serial: str, n: int, seed: int) -> list[str]:
    return simulate_reads([serial] * n, MODEL, random.Random(seed))


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == MATCH_COLUMNS
    return list(reader)


@pytest.fixture
def serials(tmp_path: Path) -> Path:
    return _serials_file(tmp_path, LISTED)


def test_match_is_registered() -> None:
    assert match_command in COMMANDS


def test_workers_change_no_byte_of_the_output(
    tmp_path: Path, serials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches cut to two reads, so that several threads really match at once."""
    import taserlink.forensics.match as fast

    monkeypatch.setattr(fast, "MIN_WORKER_BATCH", 2)
    batches: list[int] = []
    match_batch = fast.Matcher._match_batch

    def counted(self: fast.Matcher, reads: list[TagRead]) -> list[MatchRow]:
        batches.append(len(reads))
        return match_batch(self, reads)

    monkeypatch.setattr(fast.Matcher, "_match_batch", counted)
    reads = _reads_file(
        tmp_path, {f"E{i}": _noisy(TARGET, 1 + i % 3, i) for i in range(12)} | {"X": ["*?*"]}
    )
    outputs = {
        workers: _run("--reads", str(reads), "--serials", str(serials), "--workers", workers)
        for workers in ("1", "2", "5")
    }
    assert outputs["1"][1].count("\n") == 14
    assert outputs["1"] == outputs["2"] == outputs["5"]
    assert len(batches) > 3  # one batch for 1 worker, several for 2 and for 5


def test_clean_reads_of_a_listed_serial_match(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": _noisy(TARGET, 8, 1)})
    code, out, err = _run("--reads", str(reads), "--serials", str(serials))
    assert code == 0
    (row,) = _rows(out)
    assert (row["exhibit"], row["serial"], row["status"], row["reads"]) == (
        "E1",
        TARGET,
        "match",
        "8",
    )
    assert float(row["score"]) >= DEFAULT_MATCH_THRESHOLD
    assert err.count("\n") == 1
    assert "1 exhibit, 8 reads, 1 rows (1 match, 0 ambiguous, 0 none)" in err
    assert "0 exhibits without a match" in err
    assert MODEL.note in err and "p_outside=0.01" in err
    assert f"match_threshold={DEFAULT_MATCH_THRESHOLD}," in err


def test_reads_of_an_unlisted_serial_match_nothing(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": _noisy(TARGET, 8, 2), "E2": [UNLISTED] * 3})
    code, out, err = _run("--reads", str(reads), "--serials", str(serials))
    assert code == 1
    rows = {row["exhibit"]: row for row in _rows(out)}
    assert rows["E1"]["status"] == "match"
    assert (rows["E2"]["status"], rows["E2"]["serial"], rows["E2"]["score"]) == ("none", "", "")
    assert rows["E2"]["reads"] == "3"
    assert "1 exhibit without a match" in err


def test_reads_that_two_serials_explain_alike_are_ambiguous(tmp_path: Path) -> None:
    twin = _twin(TARGET, 4)
    serials = _serials_file(tmp_path, [*LISTED, twin])
    blurred = TARGET[:4] + "?" + TARGET[5:-1] + "?"  # the two differing places unreadable
    reads = _reads_file(tmp_path, {"E1": [blurred] * 3})
    code, out, _ = _run("--reads", str(reads), "--serials", str(serials))
    assert code == 1
    (row,) = _rows(out)
    assert row["status"] == "ambiguous"
    assert {row["serial"], row["runner_up"]} == {TARGET, twin}
    assert abs(float(row["score"]) - float(row["runner_up_score"])) < 1e-3


def test_out_is_written_and_read_back(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": _noisy(TARGET, 4, 3), "E2": [UNLISTED] * 2})
    out = tmp_path / "out.csv"
    out.write_text("an earlier run\n")
    code, stdout, err = _run("--reads", str(reads), "--serials", str(serials), "--out", str(out))
    assert code == 1
    assert stdout == ""
    assert err.count("\n") == 1
    rows = read_matches(out)
    assert [(r.exhibit, r.status.value, r.reads) for r in rows] == [
        ("E1", "match", 4),
        ("E2", "none", 2),
    ]
    assert sorted(os.listdir(tmp_path)) == [
        "out.csv",
        "out.csv.provenance.json",
        "reads.csv",
        "serials.txt",
    ]


def test_json_output(tmp_path: Path, serials: Path) -> None:
    model = ConfusionModel.default(SCHEME, p_correct=0.93, p_confusable=0.05)
    model_path = tmp_path / "model.json"
    model.save(model_path)
    reads = _reads_file(tmp_path, {"E1": _noisy(TARGET, 6, 4)})
    out = tmp_path / "out.csv"
    code, stdout, err = _run(
        "--reads",
        str(reads),
        "--serials",
        str(serials),
        "--json",
        "--model",
        str(model_path),
        "--p-outside",
        "0.05",
        "--match-threshold",
        "0.95",
        "--out",
        str(out),
    )
    assert code == 0
    document = json.loads(stdout)
    assert tuple(document) == match_command.JSON_KEYS
    assert document["model"] == model.note != MODEL.note
    assert document["settings"] == {
        "p_outside": 0.05,
        "match_threshold": 0.95,
        "grouping_factor": 20.0,
    }
    (row,) = document["rows"]
    assert tuple(row) == MATCH_COLUMNS
    assert (row["serial"], row["status"], row["reads"]) == (TARGET, "match", 6)
    assert isinstance(row["score"], float) and row["score"] > 0.95
    assert model.note in err and "p_outside=0.05" in err
    (written,) = read_matches(out)  # --out still gets the CSV
    assert written.serial == TARGET
    code, stdout, _ = _run("--reads", str(reads), "--serials", str(serials), "--json")
    assert code == 0
    assert json.loads(stdout)["rows"][0]["serial"] == TARGET  # JSON only, no CSV around it


def test_settings_change_the_status(tmp_path: Path, serials: Path) -> None:
    """Four characters read, six unreadable: a score near 0.998 — a match at threshold 0.9,
    not at 0.9999; a larger prior of an unlisted serial lowers it."""
    reads = _reads_file(tmp_path, {"E1": [TARGET[:4] + "?" * 6]})
    base = ("--reads", str(reads), "--serials", str(serials))
    code_low, out_low, _ = _run(*base, "--match-threshold", "0.9")
    code_high, out_high, err_high = _run(*base, "--match-threshold", "0.9999")
    (low,), (high,) = _rows(out_low), _rows(out_high)
    assert low["score"] == high["score"]
    assert 0.9 < float(low["score"]) < 0.9999
    assert (code_low, low["status"], low["serial"]) == (0, "match", TARGET)
    assert (code_high, high["status"]) == (1, "ambiguous")
    assert "match_threshold=0.9999" in err_high
    _, out_outside, _ = _run(*base, "--match-threshold", "0.9", "--p-outside", "0.5")
    assert float(_rows(out_outside)[0]["score"]) < float(low["score"])


def test_reads_of_the_wrong_length_and_unreadable_tags_do_not_stop_a_run(
    tmp_path: Path, serials: Path
) -> None:
    """A read one character short is matched; a tag with nothing readable is kept and
    counted in its exhibit's ``none`` row; a read far too short is kept, not scored."""
    other = LISTED[42]
    short = TARGET[:4] + TARGET[5:]
    exhibits = {"E1": [short], "E2": [other, "*?*"]}
    reads = _reads_file(tmp_path, exhibits)
    code, out, err = _run("--reads", str(reads), "--serials", str(serials))
    assert code == 0, err  # every exhibit has a match
    rows = [(r["exhibit"], r["serial"], r["status"], r["reads"]) for r in _rows(out)]
    assert rows == [
        ("E1", TARGET, "match", "1"),
        ("E2", other, "match", "1"),
        ("E2", "", "none", "1"),
    ]
    explanations = [r["explanation"] for r in _rows(out)]
    assert "pos5 skipped" in explanations[0]
    assert "no readable character" in explanations[2]
    assert "3 rows (2 match, 0 ambiguous, 1 none)" in err
    exhibits["E3"] = ["??????????", "S4K7", "*???-?*"]
    reads = _reads_file(tmp_path, exhibits)
    code, out, err = _run("--reads", str(reads), "--serials", str(serials))
    assert code == 1  # E3 has no match
    (e3,) = [r for r in _rows(out) if r["exhibit"] == "E3"]
    assert (e3["status"], e3["serial"], e3["score"], e3["reads"]) == ("none", "", "", "3")
    assert "2 tags with no readable character" in e3["explanation"]
    assert "too damaged to score" in e3["explanation"]
    assert "1 exhibit without a match" in err


# -- bad input: exit 2, one line naming file and line, no traceback --------------------------

GOOD_READ = TARGET
BAD_READS = [
    ("unknown column", f"exhibit,tag,read,colour\nE1,1,{GOOD_READ},red\n", 1),
    ("missing column", f"exhibit,read\nE1,{GOOD_READ}\n", 1),
    ("wrong field count", f"exhibit,tag,read\nE1,1,{GOOD_READ}\nE1,2\n", 3),
    ("bad read", f"exhibit,tag,read\nE1,1,{GOOD_READ}\nE1,2,S4K7!\n", 3),
    ("bad read, torn", f"exhibit,tag,read\nE1,1,{GOOD_READ}\nE2,1,*{GOOD_READ[2:6]}#*\n", 3),
    ("empty read", f"exhibit,tag,read\nE1,1,{GOOD_READ}\nE1,2, - \n", 3),
    ("bad confidence", f"exhibit,tag,read,confidence\nE1,1,{GOOD_READ},1.5\n", 2),
    ("empty exhibit", f"exhibit,tag,read\n,1,{GOOD_READ}\n", 2),
    ("duplicate tag", f"exhibit,tag,read\nE1,1,{GOOD_READ}\nE1,1,{GOOD_READ}\n", 3),
    ("unclosed quote", f'exhibit,tag,read\nE1,"1,{GOOD_READ}\n', 2),
    ("blank line between", f"exhibit,tag,read\nE1,1,{GOOD_READ}\n\nE1,2,{GOOD_READ}\n", 3),
    ("header only", "exhibit,tag,read\n", None),
    ("empty", "", None),
]


def _assert_one_line_error(err: str, where: str) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith(f"taserlink: error: {where}: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "line"), [c[1:] for c in BAD_READS], ids=[c[0] for c in BAD_READS]
)
def test_malformed_reads_exit_2(tmp_path: Path, serials: Path, text: str, line: int | None) -> None:
    reads = tmp_path / "reads.csv"
    reads.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")
    code, stdout, err = _run("--reads", str(reads), "--serials", str(serials), "--out", str(out))
    assert code == 2
    assert stdout == ""
    _assert_one_line_error(err, str(reads) if line is None else f"{reads}:{line}")
    assert out.read_text() == "keep me\n"  # bad input never touches the output


BAD_SERIALS = [
    ("bad check", f"{LISTED[0]}\n{LISTED[1][:-1]}{'Z' if LISTED[1][-1] != 'Z' else 'Y'}\n", 2),
    ("device serial", f"{LISTED[0]}\n{DEVICE_SCHEME.generate(random.Random(1))}\n", 2),
    ("duplicate", f"{LISTED[0]}\n{LISTED[1]}\n{SCHEME.display(LISTED[0]).lower()}\n", 3),
    ("csv without serial column", f"Serial Number,lot\n{LISTED[0]},1\n", 1),
    ("csv wrong width", f"serial,lot\n{LISTED[0]},1\n{LISTED[1]}\n", 3),
    ("csv empty serial", f"serial,lot\n{LISTED[0]},1\n,2\n", 3),
    ("blank line between", f"{LISTED[0]}\n\n{LISTED[1]}\n", 2),
    ("empty", "\n", None),
]


@pytest.mark.parametrize(
    ("text", "line"), [c[1:] for c in BAD_SERIALS], ids=[c[0] for c in BAD_SERIALS]
)
def test_malformed_serials_exit_2(tmp_path: Path, text: str, line: int | None) -> None:
    reads = _reads_file(tmp_path, {"E1": [TARGET]})
    serials = tmp_path / "serials.txt"
    serials.write_text(text, encoding="utf-8")
    code, stdout, err = _run("--reads", str(reads), "--serials", str(serials))
    assert code == 2
    assert stdout == ""
    _assert_one_line_error(err, str(serials) if line is None else f"{serials}:{line}")


def test_missing_inputs_exit_2(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": [TARGET]})
    absent = tmp_path / "absent.csv"
    code, _, err = _run("--reads", str(absent), "--serials", str(serials))
    assert code == 2
    _assert_one_line_error(err, str(absent))
    code, _, err = _run("--reads", str(reads), "--serials", str(absent))
    assert code == 2
    _assert_one_line_error(err, str(absent))


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--p-outside", "1.5"),
        ("--p-outside", "0"),
        ("--p-outside", "nan"),
        ("--match-threshold", "0.3"),
        ("--match-threshold", "1"),
        ("--match-threshold", "high"),
        ("--workers", "0"),
        ("--workers", "two"),
    ],
)
def test_bad_settings_exit_2(tmp_path: Path, serials: Path, option: str, value: str) -> None:
    reads = _reads_file(tmp_path, {"E1": [TARGET]})
    code, stdout, err = _run("--reads", str(reads), "--serials", str(serials), option, value)
    assert code == 2
    assert stdout == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert option in err or option.lstrip("-").replace("-", "_") in err


def test_bad_models_exit_2(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": [TARGET]})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    hexadecimal = SCHEME.__class__(name="hex", alphabet="0123456789ABCDEF", type_letters={})
    other = tmp_path / "other.json"
    ConfusionModel.default(hexadecimal).save(other)
    for path in (broken, other, tmp_path / "absent.json"):
        code, stdout, err = _run(
            "--reads", str(reads), "--serials", str(serials), "--model", str(path)
        )
        assert code == 2, err
        assert stdout == ""
        assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_out_naming_an_input_is_refused(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": [TARGET]})
    before = reads.read_bytes()
    code, _, err = _run("--reads", str(reads), "--serials", str(serials), "--out", str(reads))
    assert code == 2
    assert "refusing to overwrite" in err
    assert reads.read_bytes() == before
    linked = tmp_path / "linked.csv"
    os.link(serials, linked)
    code, _, err = _run("--reads", str(reads), "--serials", str(serials), "--out", str(linked))
    assert code == 2
    assert "refusing to overwrite" in err
    assert serials.read_text().splitlines() == LISTED


# -- output that cannot be written: exit 3 ------------------------------------------------


def test_out_that_cannot_be_written_exits_3(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": [TARGET]})
    out = tmp_path / "missing" / "out.csv"
    code, stdout, err = _run("--reads", str(reads), "--serials", str(serials), "--out", str(out))
    assert code == 3
    assert stdout == ""
    assert err.startswith(f"taserlink: error: cannot write {out}: ")
    assert err.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["reads.csv", "serials.txt"]


def test_out_naming_a_directory_is_refused_with_exit_2(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": [TARGET]})
    out = tmp_path / "a-directory"
    out.mkdir()
    code, stdout, err = _run("--reads", str(reads), "--serials", str(serials), "--out", str(out))
    assert code == 2
    assert stdout == ""
    assert (
        err
        == f"taserlink: error: {out} is a directory, not a regular file: refusing to replace it\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["a-directory", "reads.csv", "serials.txt"]
    assert os.listdir(tmp_path / "a-directory") == []


def test_help_and_a_real_process(tmp_path: Path, serials: Path) -> None:
    reads = _reads_file(tmp_path, {"E1": _noisy(TARGET, 3, 9)})
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "taserlink", "match", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert done.returncode == 0
    assert "--reads" in done.stdout and "--match-threshold" in done.stdout
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "taserlink",
            "match",
            "--reads",
            str(reads),
            "--serials",
            str(serials),
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _rows(done.stdout)[0]["serial"] == TARGET
