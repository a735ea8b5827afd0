"""Reconciliation (``taserlink.postuse.reconcile``, ``taserlink reconcile``): station months
with known truth — every planted case found, no corroborated account given an error —,
the grouping rules on hand-made episodes, properties over random ones, the command and
the worked example ``captures/station-month/``."""

from __future__ import annotations

import importlib.util
import io
import json
import shlex
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.cli import main
from taserlink.emulator.station import ACCOUNT_COLUMNS, PLANTED_KINDS, StationMonth, station_month
from taserlink.findings import Severity
from taserlink.forensics.issues import parse_issues
from taserlink.forensics.link.result import Custody, CustodyState
from taserlink.format import EventCode
from taserlink.postuse import accounts as accounts_module
from taserlink.postuse.accounts import Account, read_accounts
from taserlink.postuse.driver import reconcile_downloads
from taserlink.postuse.episodes import (
    Application,
    Bounds,
    Cycle,
    DeployedCartridge,
    Episode,
    EpisodeKind,
)
from taserlink.postuse.reconcile import (
    Coverage,
    FindingKind,
    ReconcileSettings,
    reconcile,
)
from taserlink.postuse.uses import UseLevel
from tests.conftest import CAPTURES, ROOT

EXAMPLE = CAPTURES / "station-month"
MINUTE = 60_000
T0 = 1_772_900_000_000
DEVICE = "DARBY0NVE1"


def _month_findings(
    month: StationMonth, folder: Path, tolerance_minutes: int
) -> set[tuple[str, str | None, str]]:
    for name, data in month.images.items():
        (folder / name).write_bytes(data)
    (folder / "ACCOUNTS.csv").write_bytes(month.accounts_csv)
    run = reconcile_downloads(
        sorted(folder.glob("*.tdi")),
        parse_issues(month.issues_csv.decode()),
        read_accounts(folder / "ACCOUNTS.csv").accounts,
        settings=ReconcileSettings(tolerance_ms=tolerance_minutes * MINUTE),
    )
    return {(f.kind.value, f.report, f.severity.value) for f in run.result.findings}


def _check_month(seed: int, folder: Path, tolerance_minutes: int = 15) -> None:
    month = station_month(seed)
    found = _month_findings(month, folder, tolerance_minutes)
    for planted in month.planted:
        severity = FindingKind(planted.kind).severity.value
        assert (planted.kind, planted.report, severity) in found, (seed, planted)
    needing = {(kind, report) for kind, report, severity in found if severity != "info"}
    assert needing == {(p.kind, p.report) for p in month.planted}, seed
    corroborated = {report for kind, report, _ in found if kind == "corroborated"}
    assert corroborated == set(month.corroborated), seed


@pytest.mark.parametrize("seed", range(1, 5))
def test_every_planted_case_is_found_and_nothing_else(seed: int, tmp_path: Path) -> None:
    _check_month(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("tolerance", [5, 15, 60])
def test_forty_station_months_find_every_planted_case_and_nothing_else(
    tmp_path: Path, tolerance: int
) -> None:
    """The validation figures of docs/postuse.md: at 15 minutes, with the four months
    above, 44 months (396 planted cases, all found; the 352 corroborated accounts given no
    error or warning); at 5 and 60 minutes, 22 months each."""
    for seed in range(5, 45) if tolerance == 15 else range(1, 23):
        folder = tmp_path / str(seed)
        folder.mkdir()
        _check_month(seed, folder, tolerance)


def test_a_month_plants_one_case_of_every_kind() -> None:
    month = station_month(3)
    assert sorted(p.kind for p in month.planted) == sorted(PLANTED_KINDS)
    assert station_month(3).accounts_csv == month.accounts_csv  # the same seed, the same month


# -- the rules on hand-made episodes ---------------------------------------------------------


def _episode(
    seq: int,
    start_ms: int,
    level: UseLevel,
    *,
    device: str = DEVICE,
    cartridges: tuple[str, ...] = (),
    pulls: tuple[int, ...] = (),
    kind: EpisodeKind = EpisodeKind.USE,
    bound_ms: int = 2_000,
) -> Episode:
    applications = tuple(
        Application(seq + 2 + k, EventCode.TRIGGER, 0, ms, 1) for k, ms in enumerate(pulls)
    )
    return Episode(
        device=device,
        seq_first=seq,
        seq_last=seq + 9,
        records=10,
        device_start_ms=0,
        device_end_ms=60_000,
        utc_start_ms=start_ms,
        utc_end_ms=start_ms + 60_000,
        bound_ms=bound_ms,
        bounded_by=Bounds.HOLSTER,
        open_start=False,
        open_end=False,
        kind=kind,
        highest_use=level,
        armed_ms=30_000 if level is not UseLevel.DRAWN else 0,
        laser_shown=int(level in (UseLevel.RED_DOTTED, UseLevel.FIRED, UseLevel.ARCED)),
        function_tests=int(kind is EpisodeKind.TEST),
        arcs=(),
        applications=applications,
        cycles=tuple(Cycle((a.seq,), a.event, a.bay, a.duration_ms) for a in applications),
        connections=(),
        cartridges=tuple(DeployedCartridge(seq + 3 + k, 1, c, 0) for k, c in enumerate(cartridges)),
    )


def _account(report: str, start_ms: int, **fields: object) -> Account:
    values: dict[str, object] = {
        "report": report,
        "incident": "I-1",
        "officer": "PC 1147",
        "start_ms": start_ms,
        "end_ms": start_ms + 2 * MINUTE,
        "device": DEVICE,
        "drawn": True,
    }
    values.update(fields)
    return Account(**values)  # type: ignore[arg-type]


HELD = Custody(CustodyState.HELD, ("PC 1147",))
COVERED = Coverage(DEVICE, ((T0 - 30 * 24 * 60 * MINUTE, T0 + 30 * 24 * 60 * MINUTE),))


def _kinds(episodes: list[Episode], accounts: list[Account], **options: object) -> list[str]:
    result = reconcile(
        episodes,
        [HELD] * len(episodes),
        [COVERED],
        accounts,
        ReconcileSettings(**options),  # type: ignore[arg-type]
    )
    return [f"{f.kind.value}:{f.report}" for f in result.findings]


def test_two_subjects_of_one_firing_corroborate_it_together() -> None:
    fired = _episode(10, T0, UseLevel.FIRED, cartridges=("S8ZS8C2RJG",), pulls=(5_000,))
    first = _account(
        "R-1", T0, aimed=True, red_dotted=True, fired=True, cartridges=("S8ZS8C2RJG",), cycles=1
    )
    second = _account("R-2", T0 + MINUTE, aimed=True, cycles=0)
    assert _kinds([fired], [first, second]) == ["corroborated:R-1", "corroborated:R-2"]
    # alone, the second report understates what the device did
    assert _kinds([fired], [second]) == ["understated_use:R-2", "cycles_differ:R-2"]


def test_one_account_may_cover_two_draws() -> None:
    draws = [_episode(10, T0, UseLevel.DRAWN), _episode(30, T0 + 4 * MINUTE, UseLevel.RED_DOTTED)]
    account = _account("R-1", T0, aimed=True, red_dotted=True, end_ms=T0 + 6 * MINUTE)
    assert _kinds(draws, [account]) == ["corroborated:R-1"]


def test_the_tolerance_is_the_edge_of_covering() -> None:
    draw = _episode(10, T0, UseLevel.DRAWN, bound_ms=2_000)
    # the account ends 15 minutes (and the bound) before the draw starts: still covered
    late = T0 - 2_000 - 15 * MINUTE - 2 * MINUTE
    assert _kinds([draw], [_account("R-1", late)]) == ["corroborated:R-1"]
    assert _kinds([draw], [_account("R-1", late - 1)]) == [
        "unaccounted:None",
        "no_device_evidence:R-1",
    ]
    assert _kinds([draw], [_account("R-1", late - 1)], tolerance_ms=16 * MINUTE) == [
        "corroborated:R-1"
    ]


def test_spark_tests_need_no_account_and_cover_none() -> None:
    test = _episode(10, T0, UseLevel.DRAWN, kind=EpisodeKind.TEST)
    assert _kinds([test], []) == []
    assert _kinds([test], [_account("R-1", T0)]) == ["no_device_evidence:R-1"]


def test_what_the_device_did_not_log_is_overstated_and_long_cycles_are_named() -> None:
    dotted = _episode(10, T0, UseLevel.RED_DOTTED)
    claims = _account("R-1", T0, aimed=True, red_dotted=True, arced=True, fired=True)
    assert _kinds([dotted], [claims]) == ["overstated_use:R-1"]
    long = _episode(10, T0, UseLevel.FIRED, cartridges=("S8ZS8C2RJG",), pulls=(8_000,))
    says_no = _account("R-1", T0, fired=True, cycles=1, cycle_extended=False)
    result = reconcile([long], [HELD], [COVERED], [says_no])
    (finding,) = result.findings
    assert finding.kind is FindingKind.LONG_CYCLE and finding.severity is Severity.WARNING
    assert "says no cycle was extended" in finding.message and "8.0 s" in finding.message


def test_an_account_of_another_officer_and_one_no_download_covers() -> None:
    draw = _episode(10, T0, UseLevel.DRAWN)
    other = _account("R-1", T0, officer="PC 9")
    assert _kinds([draw], [other]) == ["other_officer:R-1"]
    later = _account("R-2", T0 + 40 * 24 * 60 * MINUTE)
    assert _kinds([], [later]) == ["not_downloaded:R-2"]
    no_ced = _account("R-3", T0, device=None)
    assert _kinds([], [no_ced]) == []


@st.composite
def _scenes(draw: st.DrawFn) -> tuple[list[Episode], list[Account]]:
    levels = [UseLevel.DRAWN, UseLevel.RED_DOTTED, UseLevel.ARCED, UseLevel.FIRED]
    episodes = []
    for n in range(draw(st.integers(0, 6))):
        start = T0 + draw(st.integers(0, 600)) * MINUTE
        kind = draw(st.sampled_from([EpisodeKind.USE, EpisodeKind.USE, EpisodeKind.TEST]))
        episodes.append(_episode(10 * n + 1, start, draw(st.sampled_from(levels)), kind=kind))
    accounts = []
    for n in range(draw(st.integers(0, 6))):
        start = T0 + draw(st.integers(-60, 660)) * MINUTE
        ticks = {
            name: draw(st.sampled_from([True, False, None]))
            for name in ("aimed", "red_dotted", "arced", "fired")
        }
        accounts.append(_account(f"R-{n}", start, **ticks))
    return episodes, accounts


@given(_scenes())
@settings(max_examples=150, deadline=None)
def test_every_use_is_covered_or_unaccounted_and_every_account_answered(
    scene: tuple[list[Episode], list[Account]],
) -> None:
    episodes, accounts = scene
    result = reconcile(episodes, [HELD] * len(episodes), [COVERED], accounts)
    unaccounted = {
        (f.device, f.seq_first) for f in result.findings if f.kind is FindingKind.UNACCOUNTED
    }
    for use in result.uses:
        episode = use.episode
        if episode.kind is EpisodeKind.USE:
            assert bool(use.reports) != ((episode.device, episode.seq_first) in unaccounted)
        else:
            assert not use.reports and (episode.device, episode.seq_first) not in unaccounted
    for account in accounts:
        mine = [f for f in result.findings if account.report in (f.report or "").split(";")]
        corroborated = [f for f in mine if f.kind is FindingKind.CORROBORATED]
        assert mine, account.report
        assert len(corroborated) <= 1
        assert not corroborated or all(f.severity is Severity.INFO for f in mine)
    order = [
        (f.severity is not Severity.ERROR, f.severity is Severity.INFO) for f in result.findings
    ]
    assert order == sorted(order)
    assert json.loads(json.dumps(result.as_dict()))["counts"] == result.counts()


# -- the command and the worked example -------------------------------------------------------


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_station_month", ROOT / "tools/make_station_month.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_station_month", module)
    spec.loader.exec_module(module)
    return module


def test_the_worked_example_is_regenerated_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = _tool()
    assert tool.main(["--check"]) == 0, capsys.readouterr().out
    assert tool.main(["--out", str(tmp_path)]) == 0
    made = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert made == {str(p.relative_to(EXAMPLE)) for p in EXAMPLE.rglob("*") if p.is_file()}


def test_the_spoc_runs_the_worked_example_as_its_readme_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(EXAMPLE)
    args = _tool().RECONCILE
    for option, expected in (((), "txt"), (("--json",), "json"), (("--csv",), "csv")):
        code, out, err = _run(*args, *option)
        assert (code, err) == (1, "")
        assert out == (EXAMPLE / f"expected-reconcile.{expected}").read_text()
    data = json.loads((EXAMPLE / "expected-reconcile.json").read_text())
    assert set(data["episodes"][0]) >= {
        "device",
        "seq_first",
        "seq_last",
        "utc_start",
        "utc_end",
        "bound_ms",
        "officer",
        "kind",
        "highest_use",
        "reports",
    }
    assert set(data["findings"][0]) >= {
        "kind",
        "severity",
        "device",
        "seq_first",
        "seq_last",
        "report",
        "officer",
        "message",
    }
    assert all(d["verified"] is True for d in data["downloads"])


def test_the_command_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    base = ["reconcile", "--images", str(EXAMPLE / "images"), "--issues"]
    base.append(str(EXAMPLE / "issues.csv"))
    cases = [
        (["--accounts", str(tmp_path / "none.csv")], "none.csv"),
        (["--accounts", str(EXAMPLE / "ACCOUNTS.csv"), "--from", "yesterday"], "--from"),
        (
            ["--accounts", str(EXAMPLE / "ACCOUNTS.csv"), "--from", "2026-03-02T00:00:00Z"],
            "together",
        ),
        (["--accounts", str(EXAMPLE / "ACCOUNTS.csv"), "--tolerance", "-1"], "--tolerance"),
    ]
    for extra, said in cases:
        code, out, err = _run(*base, *extra)
        assert code == 2 and out == "" and err.count("\n") == 1 and said in err, err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(
        "reconcile",
        "--images",
        str(empty),
        "--accounts",
        str(EXAMPLE / "ACCOUNTS.csv"),
        "--issues",
        str(EXAMPLE / "issues.csv"),
    )
    assert code == 2 and err.count("\n") == 1


def test_a_period_keeps_only_what_overlaps_it() -> None:
    args = [
        "reconcile",
        "--images",
        str(EXAMPLE / "images"),
        "--accounts",
        str(EXAMPLE / "ACCOUNTS.csv"),
        "--issues",
        str(EXAMPLE / "issues.csv"),
        "--from",
        "2026-03-13T00:00:00Z",
        "--to",
        "2026-03-19T00:00:00Z",
        "--json",
    ]
    code, out, _ = _run(*args)
    data = json.loads(out)
    kinds = sorted(f["kind"] for f in data["findings"] if f["severity"] != "info")
    assert code == 1 and kinds == ["cartridge_differs", "long_cycle", "understated_use"]
    assert all("2026-03-13" <= e["utc_start"] < "2026-03-19" for e in data["episodes"])


def test_a_forces_own_export_reads_through_a_column_map(tmp_path: Path) -> None:
    text = (EXAMPLE / "ACCOUNTS.csv").read_text()
    header, rest = text.split("\n", 1)
    renamed = ",".join(f"Force {c}" for c in header.split(","))
    (tmp_path / "export.csv").write_text(renamed + "\n" + rest)
    mapping = {f"Force {c}": c for c in header.split(",")}
    (tmp_path / "map.json").write_text(json.dumps({"columns": mapping}))
    common = ["reconcile", "--images", str(EXAMPLE / "images"), "--issues"]
    common += [str(EXAMPLE / "issues.csv"), "--csv"]
    plain = _run(*common, "--accounts", str(EXAMPLE / "ACCOUNTS.csv"))
    mapped = _run(
        *common,
        "--accounts",
        str(tmp_path / "export.csv"),
        "--columns",
        str(tmp_path / "map.json"),
    )
    assert mapped == plain and plain[0] == 1


def test_a_finding_is_the_contract_json() -> None:
    result = reconcile([], [], [], [_account("R-1", T0)])
    (finding,) = result.findings
    assert list(finding.as_dict())[:8] == [
        "kind",
        "severity",
        "device",
        "seq_first",
        "seq_last",
        "report",
        "officer",
        "message",
    ]


def test_the_readme_reconciles_the_station_month_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (ROOT / "README.md").read_text()
    part = text[text.index("Then hold a station's month") :]
    block = part[part.index("```sh\n") + 6 : part.index("```\n", part.index("```sh"))]
    (line,) = block.strip().splitlines()
    words = shlex.split(line)
    assert words[:2] == [".venv/bin/taserlink", "reconcile"]
    monkeypatch.chdir(ROOT)
    code, out, err = _run(*words[1:])
    assert (code, err) == (1, "")
    assert out == (EXAMPLE / "expected-reconcile.txt").read_text()


def test_the_generator_writes_the_accounts_contracts_columns() -> None:
    columns = accounts_module.COLUMNS
    assert columns[: len(ACCOUNT_COLUMNS)] == ACCOUNT_COLUMNS
    header = station_month(2).accounts_csv.split(b"\n", 1)[0].decode()
    assert header.split(",") == list(ACCOUNT_COLUMNS)
