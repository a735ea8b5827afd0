"""Smoke test of bench/bench_register.py, on a tiny register.

The benchmark asserts no target; what is tested here is that its figures mean what its
tables say: the force's authorised officers are authorised, the build brings the ledger to
exactly the entries asked for through the library (a chain that verifies, every item back
in the store), each terminal's calls are all timed and none refused, and the percentiles
are nearest-rank.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taserlink.register import open_register

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("bench_register")
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("entries", [116, 1_000, 1_001, 1_005])
def test_the_build_makes_exactly_the_entries_asked_for(
    bench: ModuleType, tmp_path: Path, entries: int
) -> None:
    force = bench.make_force(officers=45, devices=12, cartridges=40, seed=3)
    assert len(force.authorised) == 44  # the 40th lapsed (the 101st, suspended, not reached)
    url = f"sqlite:///{tmp_path / 'register.db'}"
    lines = bench.build(url, force, entries, kit_cartridges=2, shift=10)
    assert any("45 officers" in line for line in lines)
    reg = open_register(url)
    week = force.today + dt.timedelta(days=7)
    assert all(reg.authority(o, week).authorised for o in force.authorised)
    assert not reg.authority(force.officers[39][0]).authorised
    check = reg.verify()
    assert check.ok and check.entries == entries == reg.ledger_length()
    assert {reg.item_status(s).state for s in force.devices + force.cartridges} == {"in_store"}
    issued = [e for e in reg.history(item=force.devices[0]) if e.event == "issued"]
    assert issued and all(e.officer in force.authorised for e in issued)


def test_every_terminal_call_is_timed_and_none_refused(bench: ModuleType, tmp_path: Path) -> None:
    force = bench.make_force(officers=30, devices=8, cartridges=40, seed=4)
    url = f"sqlite:///{tmp_path / 'register.db'}"
    bench.build(url, force, 200, kit_cartridges=2, shift=5)
    issues, returns, rate = bench.latency(url, force, 2, 6, 2, 1.0)
    assert len(issues) == len(returns) == 12 and rate > 0
    assert all(ms > 0 for ms in issues + returns)
    reg = open_register(url)
    # two terminals, 3 untimed and 6 timed cycles each, 6 entries a cycle
    assert reg.ledger_length() == 200 + 2 * (3 + 6) * 6 and reg.verify().ok
    timings = bench.status(reg, force, 5, seed=0)
    assert [len(v) for v in timings.values()] == [5, 5]


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=300), st.sampled_from([0.5, 0.99]))
def test_percentiles_are_nearest_rank(bench: ModuleType, values: list[float], q: float) -> None:
    got = bench.percentile(values, q)
    ordered = sorted(values)
    assert got in values
    assert sum(v <= got for v in ordered) >= q * len(values)
    assert sum(v < got for v in ordered) < q * len(values)
