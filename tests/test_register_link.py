"""The worked incident scene's custody kept in a register: ``link --register`` gives the
chain and findings ``link --issues`` gives, and ``register export issues`` writes an issue
list ``link`` reads the same way."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from taserlink.cli import main
from taserlink.forensics.issues import read_issues
from taserlink.register import open_register
from tests.conftest import CAPTURES

INCIDENT = CAPTURES / "incident"


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _scene_register(tmp_path: Path) -> str:
    """A register holding the scene's issue list: each officer trained, each item added,
    then every issue and return in time order through the register's own rules."""
    issues = read_issues(INCIDENT / "issues.csv")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    reg = open_register(url, create=True, operator="PS 88", terminal="store-1")
    first = min(i.issued_ms for i in issues) - 86_400_000
    trained = dt.date(2025, 12, 1)
    officers = sorted({i.officer for i in issues})
    reg.add_officers([(o, o, "Ripley", trained, None, None) for o in officers], at_ms=first)
    devices = sorted({i.serial for i in issues if i.kind.value == "device"})
    cartridges = sorted({i.serial for i in issues if i.kind.value == "cartridge"})
    reg.add_devices([(d, "X2", "3.1.0") for d in devices], at_ms=first)
    reg.add_cartridges([(c, "LOT", dt.date(2030, 1, 1)) for c in cartridges], at_ms=first)
    moves = [(i.issued_ms, 1, "issue", i) for i in issues]
    moves += [(i.returned_ms, 0, "return", i) for i in issues if i.returned_ms is not None]
    for at, _, what, issue in sorted(moves, key=lambda m: (m[0], m[1], m[3].serial)):
        if what == "issue":
            reg.issue(issue.officer, [issue.serial], at_ms=at)
        else:
            reg.return_items([issue.serial], at_ms=at)
    assert reg.verify().ok
    reg.close()
    return url


def _link(*custody: str) -> dict[str, object]:
    code, out, err = _run(
        "link",
        "--images",
        str(INCIDENT / "images"),
        *custody,
        "--matches",
        str(INCIDENT / "expected-matches.csv"),
        "--window",
        "2026-03-06T19:40:00Z",
        "2026-03-06T19:55:00Z",
        "--roots",
        str(CAPTURES / "test-root.pem"),
        "--json",
    )
    assert code == 1 and err == "", err
    data: dict[str, object] = json.loads(out)
    return data


def _without_places(data: object) -> object:
    """``data`` with where each issue was written (a file's line, a ledger entry) left out:
    the one thing that differs between custody from a file and from a register."""
    text = json.dumps(data, sort_keys=True)
    text = re.sub(r"\((?:line|ledger entry) [0-9]+\)", "(PLACE)", text)
    text = re.sub(r'"(?:line|ledger_entry)": (?:[0-9]+|null)', '"place": null', text)
    return json.loads(text)


def test_link_from_the_register_is_link_from_the_issue_list(tmp_path: Path) -> None:
    url = _scene_register(tmp_path)
    from_file = _link("--issues", str(INCIDENT / "issues.csv"))
    from_register = _link("--register", url)
    assert from_register.pop("issues") == url
    from_file.pop("issues")
    by_file, by_register = from_file.pop("provenance"), from_register.pop("provenance")
    assert isinstance(by_file, dict) and isinstance(by_register, dict)
    assert [i["role"] for i in by_file["inputs"]] == ["image"] * 3 + [
        "issues",
        "matches",
        "provenance",
    ]
    assert [i["role"] for i in by_register["inputs"]] == ["image"] * 3 + ["matches", "provenance"]
    assert by_register["settings"]["register"] == url
    assert by_register["settings"]["ledger_entries"] > 0
    assert "register" not in by_file["settings"]
    assert _without_places(from_register) == _without_places(from_file)
    assert "(ledger entry " in json.dumps(from_register["findings"])
    exported = tmp_path / "exported.csv"
    code, out, _ = _run("register", "--db", url, "export", "issues", str(exported))
    assert code == 0 and "wrote 21 issues" in out
    again = _link("--issues", str(exported))
    again.pop("issues")
    again.pop("provenance")
    assert _without_places(again) == _without_places(from_file)
    assert {(i.serial, i.officer, i.issued_ms, i.returned_ms) for i in read_issues(exported)} == {
        (i.serial, i.officer, i.issued_ms, i.returned_ms)
        for i in read_issues(INCIDENT / "issues.csv")
    }


def test_the_report_from_the_register(tmp_path: Path) -> None:
    """``report --register`` gives the same chain, its provenance naming the register."""
    url = _scene_register(tmp_path)
    code, out, err = _run(
        "report", "--images", str(INCIDENT / "images"), "--register", url,
        "--matches", str(INCIDENT / "expected-matches.csv"),
        "--window", "2026-03-06T19:40:00Z", "2026-03-06T19:55:00Z",
        "--roots", str(CAPTURES / "test-root.pem"), "--out", str(tmp_path / "report"),
    )  # fmt: skip
    assert code == 1 and err == "", err
    assert "Findings: 1 error(s)" in out
    provenance = json.loads((tmp_path / "report" / "provenance.json").read_text())
    assert provenance["settings"]["register"] == url
    assert "issues" not in [i.get("role") for i in provenance["inputs"]]
    page = (tmp_path / "report" / "report.html").read_text()
    assert "other_officer" in page and "(ledger entry " in page
