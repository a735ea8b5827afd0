"""Smoke test of bench/bench_match.py's own code paths, on tiny sizes.

The benchmark prints figures and asserts no target; what is tested here is that the figures
it computes mean what its table says: valid distinct serials, recall at rank 1 counted as
documented (the runner-up of a ``none`` row, ties of the scan as misses), sane rates.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.serials import CARTRIDGE_SCHEME

BENCH = Path(__file__).resolve().parent.parent / "bench"
SERIALS = 2_000
READS = 50


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("bench_match")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def serials(bench: ModuleType) -> list[str]:
    made: list[str] = bench.make_serials(SERIALS, 3)
    return made


def test_serials_are_valid_distinct_and_reproducible(bench: ModuleType, serials: list[str]) -> None:
    assert len(serials) == SERIALS
    assert len(set(serials)) == SERIALS
    assert all(CARTRIDGE_SCHEME.problem(s) is None for s in serials)
    assert {s[0] for s in serials} == set(CARTRIDGE_SCHEME.type_letters)
    assert bench.make_serials(SERIALS, 3) == serials
    assert bench.make_serials(SERIALS, 4) != serials


def test_serials_topped_up_after_duplicates(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    draw = bench.serial_codes

    def with_duplicates(n: int, rng: np.random.Generator) -> np.ndarray:
        codes: np.ndarray = draw(n, rng)
        codes[1::2] = codes[0::2][: len(codes[1::2])]  # every other row repeats the one before
        return codes

    monkeypatch.setattr(bench, "serial_codes", with_duplicates)
    made = bench.make_serials(300, 1)
    assert len(made) == len(set(made)) == 300
    assert all(CARTRIDGE_SCHEME.problem(s) is None for s in made)


def _row(exhibit: str, serial: str, status: MatchStatus, runner_up: str) -> MatchRow:
    score = None if status is MatchStatus.NONE else 0.5
    return MatchRow(exhibit, serial, status, score, ("t",), runner_up, None, "")


def test_score_rows_counts_recall_as_documented(bench: ModuleType) -> None:
    truth = ["A", "B", "C", "D", "E"]
    rows = [
        _row("0", "A", MatchStatus.MATCH, "Z"),  # hit
        _row("1", "Z", MatchStatus.MATCH, "B"),  # wrong match: miss
        _row("2", "", MatchStatus.NONE, "C"),  # none, closest is true: hit
        _row("3", "", MatchStatus.NONE, ""),  # none without candidates: miss
        _row("4", "E", MatchStatus.AMBIGUOUS, "Y"),  # ambiguous, best true: hit
    ]
    answers = bench.score_rows(list(reversed(rows)), truth)  # order of rows does not matter
    assert answers.hits.tolist() == [True, False, True, False, True]
    assert answers.recall() == pytest.approx(3 / 5)
    assert answers.recall(2) == pytest.approx(1 / 2)
    assert answers.match_share == pytest.approx(2 / 5)
    assert answers.wrong_match_share == pytest.approx(1 / 2)
    with pytest.raises(AssertionError):
        bench.score_rows(rows[:4], truth)


def test_rank1_hits_known_answer(bench: ModuleType) -> None:
    distances = np.array(
        [
            [3, 1, 3, 3],  # true 1, unique minimum 1: hit
            [0, 0, 3, 3],  # true 0, tied with 1: miss
            [3, 3, 3, 3],  # nothing within the cutoff: miss
            [2, 1, 3, 3],  # true 0, but 1 is closer: miss
            [3, 3, 3, 2],  # true 3 at the cutoff, unique: hit
        ],
        np.uint8,
    )
    truth = np.array([1, 0, 2, 0, 3])
    assert bench.rank1_hits(distances, truth, 2).tolist() == [True, False, False, False, True]


def test_matcher_figures_are_sane(bench: ModuleType, serials: list[str]) -> None:
    index, built = bench.build_index(serials, 1)
    assert built.serials == SERIALS and built.seconds > 0
    assert built.nbytes == index.nbytes > 0
    # What the index keeps is its arrays (the serial list is the caller's), and the build
    # peaks at least there.
    assert built.nbytes <= built.kept <= built.peak
    assert built.kept < 2 * built.nbytes + 100_000

    truth, texts = bench.make_reads(serials, READS, 0.2, 5)
    assert len(texts) == READS and truth.min() >= 0 and truth.max() < SERIALS
    per_s, answers = bench.run_matcher(index, texts, truth, 1)
    assert per_s > 0
    assert 0.0 <= answers.recall() <= 1.0 and len(answers.hits) == READS
    assert answers.recall() >= 0.7  # a small list: most reads find their serial
    assert answers.wrong_match_share <= 0.05

    # Exact reads: every one is found, and answered match.
    exact = [serials[i] for i in truth.tolist()]
    _, perfect = bench.run_matcher(index, exact, truth, 1)
    assert perfect.recall() == 1.0
    assert perfect.wrong_match_share == 0.0


def test_baseline_figures(bench: ModuleType, serials: list[str]) -> None:
    pytest.importorskip("rapidfuzz")
    truth = np.arange(0, SERIALS, SERIALS // READS)[:READS]
    exact = [serials[i] for i in truth.tolist()]
    per_s, hits = bench.run_baseline(serials, exact, truth)
    assert per_s > 0 and hits.all()  # serials are distinct: distance 0 is unique
    # Three substitutions are beyond the cutoff; one is within it unless another serial ties.
    far = ["".join("0" if c != "0" else "1" for c in s[:3]) + s[3:] for s in exact]
    _, far_hits = bench.run_baseline(serials, far, truth)
    assert not far_hits.any()
    # Hyphens are dropped and case folded before the scan.
    grouped = [CARTRIDGE_SCHEME.display(s).lower() for s in exact]
    _, grouped_hits = bench.run_baseline(serials, grouped, truth)
    assert grouped_hits.all()


def test_sizes_of_the_scan(bench: ModuleType) -> None:
    assert bench.chunk_reads(1_000_000) == 200
    assert bench.chunk_reads(10_000_000) == 100
    assert bench.chunk_reads(10**12) == 1
    assert bench.baseline_reads(1_000_000, 10_000, None) == 10_000
    assert bench.baseline_reads(10_000_000, 10_000, None) == 1_000
    assert bench.baseline_reads(100_000_000, 10_000, None) == 200
    assert bench.baseline_reads(1_000_000, 10_000, 300) == 300


def test_main_runs_small(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--serials", "3000", "--reads", "40", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "3,000 serials, window 4" in out
    assert "index build (best of 1)" in out
    assert out.count("PASS") + out.count("MISS") >= 3
