"""Smoke test of bench/bench_reconcile.py on a tiny force: the downloads verify, the
issue list puts each device out over its whole log, the accounts are of the year's uses
and name their device's holder, and a run's figures come back from a fresh process."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

from taserlink.emulator.pki import test_authority as make_test_authority
from taserlink.forensics.issues import parse_issues
from taserlink.integrity import TrustStore
from taserlink.postuse.driver import reconcile_downloads
from taserlink.postuse.reconcile import ReconcileSettings

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("bench_reconcile")
    finally:
        sys.path.remove(str(BENCH))


def test_a_tiny_force_year_reconciles_as_the_benchmark_says(
    bench: ModuleType, tmp_path: Path
) -> None:
    paths, issues_text = bench.build(tmp_path, 6, 12_000)
    assert len(paths) == 6 and issues_text.count("\n") == 7
    accounts = bench.accounts_of(paths, issues_text, 40, 0)
    assert accounts and all(
        bench.YEAR[0] - 5 * 60_000 <= a.start_ms < bench.YEAR[1] for a in accounts
    )
    trust = TrustStore.from_pem(make_test_authority().root_pem())
    run = reconcile_downloads(
        paths,
        parse_issues(issues_text),
        accounts,
        trust=trust,
        settings=ReconcileSettings(period=bench.YEAR),
        workers=2,
    )
    assert all(d.verified for d in run.downloads)
    counts = run.result.counts()
    assert counts["other_officer"] == 0 and counts["not_downloaded"] == 0
    assert counts["corroborated"] + counts["overstated_use"] >= len(accounts) - 1
    seconds, (own, _), summary = bench.measure(lambda: len(paths))
    assert summary == 6 and seconds >= 0 and own > 0
