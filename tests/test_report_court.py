"""``taserlink report``: the examiner's report of the worked incident (captures/incident/)
— its files, the same bytes on a second run, the key facts found in the PDF's text
(``pdftotext``, Debian's ``poppler-utils``, installed by the test set-up when missing),
the page rendered in headless Chromium with its timeline plots, every figure equal to
``taserlink link``'s, and bad input in one line."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taserlink.cli import main
from tests.apt_support import installed_or_install
from tests.browser_support import Browser
from tests.case_support import case_validate
from tests.conftest import CAPTURES, ROOT

SCENE = CAPTURES / "incident"
WINDOW = ["2026-03-06T19:40:00Z", "2026-03-06T19:55:00Z"]
ARGS = [
    "--images", str(SCENE / "images"), "--issues", str(SCENE / "issues.csv"),
    "--matches", str(SCENE / "expected-matches.csv"), "--window", *WINDOW,
    "--roots", str(CAPTURES / "test-root.pem"),
]  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    case = str(out / "case.jsonld")
    assert main(["report", *ARGS, "--out", str(out), "--case", case]) == 1  # other_officer
    return out


def _pdftotext() -> str:
    found, problem = installed_or_install(lambda: shutil.which("pdftotext"), ["poppler-utils"])
    if found is None:
        pytest.fail(f"pdftotext (poppler-utils) could not be installed: {problem}", pytrace=False)
    return found


def _link_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, _ = _run(capsys, "link", *ARGS, "--json")
    assert code == 1
    data: dict[str, object] = json.loads(out)
    return data


def test_the_files_and_the_same_bytes_again(
    made: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = str(tmp_path / "case.jsonld")
    code, out, err = _run(capsys, "report", *ARGS, "--out", str(tmp_path), "--case", case)
    assert (code, err) == (1, "")
    assert "1 error(s)" in out and "3 recovered cartridge(s): 3 matched" in out
    for name in ("report.html", "report.pdf", "provenance.json"):
        assert (tmp_path / name).read_bytes() == (made / name).read_bytes(), name
    # case.jsonld names its outputs by path, so its ids differ with the folder: its own
    # tests (test_report_case.py) show it byte for byte the same from the same paths
    assert (tmp_path / "case.jsonld").is_file()


def test_the_pdf_states_the_key_facts(made: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = subprocess.run(
        [_pdftotext(), "-layout", str(made / "report.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    flat = " ".join(text.split())
    link = _link_json(capsys)
    for row in link["links"]:  # type: ignore[attr-defined]
        assert row["serial"] in flat
        for deployment in row["deployments"]:
            assert deployment["utc"] in flat, deployment["utc"]
            assert deployment["device"] in flat
    for officer in ("PC 2231", "PC 3067", "PC 1148"):
        assert officer in flat
    assert "other_officer" in flat and "Method and its limits" in flat
    for image in sorted((SCENE / "images").iterdir()):
        assert hashlib.sha256(image.read_bytes()).hexdigest() in flat, image.name


def test_the_page_and_its_timelines_render_in_chromium(made: Path, browser: Browser) -> None:
    shown = browser.render(
        made / "report.html",
        evaluate={
            "plots": "Array.from(document.querySelectorAll('svg[role=img]')).map(s => s.id)",
            "text": "document.body.innerText",
        },
    )
    assert shown.problems() == []
    assert shown.values["plots"] == [
        "plot-timeline-DPVPAKN3M5",
        "plot-timeline-DY9ZHFEVN3",
        "plot-timeline-DYM5PZXVV1",
    ]
    assert "S9RBJ7PP1Q" in shown.values["text"]


def test_every_figure_is_links(made: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = (made / "report.html").read_text()
    link = _link_json(capsys)
    for finding in link["findings"]:  # type: ignore[attr-defined]
        assert finding["kind"] in page
    for device in link["devices"]:  # type: ignore[attr-defined]
        assert device["serial"] in page
    assert page.count('<h3 id="cartridge-') == len(link["links"])  # type: ignore[arg-type]


def test_no_pdf_renderer_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    code, _, err = _run(capsys, "report", *ARGS, "--out", str(tmp_path / "r"))
    assert code == 2 and "taserlink[pdf]" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("swap", "needle"),
    [
        (("--window", "2026-03-06T19:55:00Z"), "--window"),
        (("--matches", "missing.csv"), "missing.csv"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], swap: tuple[str, str], needle: str
) -> None:
    argv = list(ARGS)
    index = argv.index(swap[0])
    argv[index + 1] = swap[1]
    if swap[0] == "--window":
        argv[index + 2] = WINDOW[0]  # ends before it starts
    code, _, err = _run(capsys, "report", *argv, "--out", str(tmp_path / "r"))
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_quick_start_runs_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's main job, past its install: match, link, report, in a fresh folder."""
    text = (ROOT / "README.md").read_text()
    part = text[text.index("## Quick start") :]
    line = part[part.index("```sh\n") + 6 : part.index("```\n", part.index("```sh"))].strip()
    commands = [shlex.split(c) for c in line.split("; ")]
    commands[0] = commands[0][commands[0].index("&&", commands[0].index("&&") + 1) + 1 :]
    assert [c[:2] for c in commands] == [
        [".venv/bin/taserlink", "match"],
        [".venv/bin/taserlink", "link"],
        [".venv/bin/taserlink", "report"],
    ]
    (tmp_path / "captures").symlink_to(CAPTURES)
    monkeypatch.chdir(tmp_path)
    codes = [_run(capsys, *command[1:])[0] for command in commands]
    assert codes == [1, 1, 1]
    assert (tmp_path / "matches.csv").is_file()
    assert (tmp_path / "report" / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_case_file_beside_the_report_conforms(made: Path) -> None:
    case = made / "case.jsonld"
    status, output = case_validate(case)
    assert status == 0 and "Conforms: True" in output, output
    text = case.read_text()
    for name in ("report.html", "report.pdf"):
        digest = hashlib.sha256((made / name).read_bytes()).hexdigest()
        assert f'"@value": "{digest}"' in text, name


def test_the_report_checks_the_match_file_against_its_provenance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A match file edited after ``match --out`` wrote it is an error of the chain."""
    matches = tmp_path / "matches.csv"
    code, _, err = _run(
        capsys, "match", "--reads", str(SCENE / "reads.csv"), "--serials",
        str(SCENE / "serials.txt"), "--out", str(matches),
    )  # fmt: skip
    assert code == 1, err
    text = matches.read_text()
    matches.write_text(text.replace("1.000000", "0.999999", 1))
    argv = list(ARGS)
    argv[argv.index("--matches") + 1] = str(matches)
    code, _, err = _run(capsys, "report", *argv, "--out", str(tmp_path / "r"))
    assert code == 1 and err == ""
    page = (tmp_path / "r" / "report.html").read_text()
    assert "matches_changed" in page


def test_the_folders_provenance_names_the_inputs_and_both_files(made: Path) -> None:
    data = json.loads((made / "provenance.json").read_text())
    outputs = {o["path"]: o["sha256"] for o in data["outputs"]}
    for name in ("report.html", "report.pdf"):
        assert outputs[name] == hashlib.sha256((made / name).read_bytes()).hexdigest()
    inputs = {Path(i["path"]).name: i["sha256"] for i in data["inputs"]}
    for image in (SCENE / "images").iterdir():
        assert inputs[image.name] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert inputs["issues.csv"] == hashlib.sha256((SCENE / "issues.csv").read_bytes()).hexdigest()
