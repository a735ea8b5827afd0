"""``taserlink home-office``: the files and their exact headers, reproducible bytes, bad
input in one line, and corroboration with the worked example ``captures/station-month/``
(its accounts, downloads and issue list, verified against ``captures/test-root.pem``)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from taserlink import __version__
from taserlink.cli import main
from taserlink.errors import ReturnError
from taserlink.postuse.accounts import write_accounts
from taserlink.returns.counting import TABLES
from taserlink.returns.forceyear import force_year
from taserlink.returns.homeoffice import REPORT_COLUMNS, Corroboration, corroboration
from tests.conftest import CAPTURES

EXAMPLE = CAPTURES / "station-month"
FILES = ("reports.csv", *(f"{spec.name}.csv" for spec in TABLES))
HEADERS = {
    "reports.csv": ",".join(REPORT_COLUMNS),
    "ced-by-highest-use.csv": "highest_use,count",
    "ced-by-age.csv": "age,count",
    "ced-by-ethnicity.csv": "ethnicity,count",
    "ced-by-health.csv": "health,count",
}
WITH_IMAGES = [
    "--images",
    str(EXAMPLE / "images"),
    "--issues",
    str(EXAMPLE / "issues.csv"),
    "--roots",
    str(CAPTURES / "test-root.pem"),
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _accounts(tmp_path: Path) -> Path:
    path = tmp_path / "ACCOUNTS.csv"
    write_accounts(force_year(2019, {"drawn": 5, "fired": 3, "not_stated": 1}, seed=7), path)
    return path


def test_the_files_their_headers_and_reproducible_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = _accounts(tmp_path)
    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:
        code, text, err = _run(
            capsys, "home-office", "--accounts", str(accounts), "--year", "2019", "--out", str(out)
        )
        assert code == 0, err
    assert sorted(p.name for p in outs[0].iterdir()) == sorted([*FILES, "provenance.json"])
    for name in [*FILES, "provenance.json"]:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()
    provenance = json.loads((outs[0] / "provenance.json").read_text())
    assert provenance["inputs"] == [
        {
            "path": str(accounts),
            "size": accounts.stat().st_size,
            "sha256": hashlib.sha256(accounts.read_bytes()).hexdigest(),
            "role": "accounts",
        }
    ]
    assert provenance["settings"]["year"] == 2019 and provenance["version"] == __version__
    assert sorted(o["path"] for o in provenance["outputs"]) == sorted(FILES)
    for output in provenance["outputs"]:
        data = (outs[0] / output["path"]).read_bytes()
        assert output["sha256"] == hashlib.sha256(data).hexdigest()
    for name in FILES:
        data = (outs[0] / name).read_bytes()
        assert data == (outs[1] / name).read_bytes()
        assert data.decode().splitlines()[0] == HEADERS[name]
        assert data.endswith(b"\n") and b"\r" not in data
    for spec in TABLES:
        rows = list(csv.reader(io.StringIO((outs[0] / f"{spec.name}.csv").read_text())))[1:]
        assert [r[0] for r in rows] == [label for _, label in spec.rows] + ["Total"]
        assert rows[-1][1] == "9"
    reports = list(csv.DictReader(io.StringIO((outs[0] / "reports.csv").read_text())))
    assert len(reports) == 9
    assert {r["corroboration"] for r in reports} <= {"not_downloaded", "no_device"}
    assert "9 CED use(s)" in text


def test_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accounts = _accounts(tmp_path)
    argv = ["home-office", "--accounts", str(accounts), "--year", "2019", "--json"]
    code, out, _ = _run(capsys, *argv, "--out", str(tmp_path / "o"))
    assert code == 0
    data = json.loads(out)
    assert data["year"] == 2019 and data["uses"] == 9
    assert data["tables"]["ced-by-highest-use"]["Fired"] == 3
    assert data["tables"]["ced-by-highest-use"]["Total"] == 9
    assert data["files"] == list(FILES)
    assert set(data["corroboration"]) == {c.value for c in Corroboration}


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--year", "1800"], "1800"),
        (["--year", "twenty"], "--year"),
        (["--year", "2019", "--issues", "x.csv"], "--images"),
        (["--year", "2019", "--images", "/nonexistent-folder"], "nonexistent"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    accounts = _accounts(tmp_path)
    argv = ["home-office", "--accounts", str(accounts), "--out", str(tmp_path / "o"), *extra]
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("taserlink: error:") and says in err
    assert not (tmp_path / "o").exists()


def test_malformed_accounts_name_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    text = (EXAMPLE / "ACCOUNTS.csv").read_text().splitlines()
    text[2] = text[2].replace("2026-03-05T13:27:00Z", "2026-03-05 13:27")
    bad.write_text("\n".join(text) + "\n")
    code, _, err = _run(
        capsys, "home-office", "--accounts", str(bad), "--year", "2025", "--out", str(tmp_path)
    )
    assert code == 2 and err.count("\n") == 1 and "line 3" in err


def test_an_output_that_cannot_be_written_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = _accounts(tmp_path)
    (tmp_path / "a-file").write_text("")
    argv = ["home-office", "--accounts", str(accounts), "--year", "2019", "--out"]
    code, _, err = _run(capsys, *argv, str(tmp_path / "a-file" / "return"))
    assert code == 3 and err.count("\n") == 1
    code, _, err = _run(capsys, *argv, str(tmp_path / "a-file"))  # a file, not a folder
    assert code == 2 and err.count("\n") == 1


EXPECTED = {
    "R-101": ("fired", "fired", "corroborated"),
    "R-105": ("arced", "red_dotted", "device_lower"),  # reconcile: overstated_use
    "R-106": ("fired", "fired", "corroborated"),
    "R-107": ("aimed", "fired", "corroborated"),  # a second subject of R-106's firing
    "R-109": ("drawn", "", "device_lower"),  # reconcile: no_device_evidence
    "R-112": ("drive_stun", "drive_stun", "corroborated"),
    "R-114": ("red_dotted", "fired", "device_higher"),  # reconcile: understated_use
    "R-116": ("red_dotted", "", "not_downloaded"),  # reconcile: not_downloaded
}


def test_corroboration_of_the_station_month(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["home-office", "--accounts", str(EXAMPLE / "ACCOUNTS.csv"), "--year", "2025"]
    code, out, err = _run(capsys, *argv, *WITH_IMAGES, "--out", str(tmp_path), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["uses"] == 16 and len(data["downloads"]) == 30
    assert all(d["verified"] for d in data["downloads"])
    assert data["corroboration"] == {
        "corroborated": 12,
        "device_higher": 1,
        "device_lower": 2,
        "not_downloaded": 1,
        "no_device": 0,
    }
    rows = {r["report"]: r for r in csv.DictReader((tmp_path / "reports.csv").open())}
    for report, expected in EXPECTED.items():
        row = rows[report]
        assert (row["highest_use"], row["device_highest_use"], row["corroboration"]) == expected
    # the year before holds none of March 2026's uses
    code, out, _ = _run(capsys, *argv[:-1], "2024", "--out", str(tmp_path / "b"))
    assert code == 0 and "0 CED use(s)" in out


def test_corroboration_rules() -> None:
    def value(said: str, shown: str | None, **kw: object) -> str:
        options: dict[str, object] = {"device": True, "covered": True, **kw}
        return corroboration(said, shown, **options).value  # type: ignore[arg-type]

    assert value("aimed", "drawn") == "corroborated"  # aiming is not device-visible
    assert value("angle_drive_stun", "drive_stun") == "corroborated"
    assert value("angle_drive_stun", "fired") == "corroborated"
    assert value("angle_drive_stun", "arced") == "device_lower"
    assert value("not_stated", None) == "corroborated"
    assert value("not_stated", "drawn") == "device_higher"
    assert value("drawn", "fired") == "device_higher"
    assert value("drawn", "fired", explained=7) == "corroborated"
    assert value("fired", None, covered=False) == "not_downloaded"
    assert value("fired", None, device=False) == "no_device"
    with pytest.raises(ReturnError):
        value("shouted", None)
    with pytest.raises(ReturnError):
        value("drawn", "aimed")  # a device never logs aiming
