"""Smoke test of bench/bench_match.py and bench/bench_exhibit.py, on tiny sizes.

The benchmarks print figures and assert no target; what is tested here is that the figures
they compute mean what their tables say: valid distinct serials, reads from the second
noise model in a complete and an all-torn mix, the scan's normalisation (separators, case,
aliases, ``*`` dropped, ``?`` kept), recall at rank 1 counted as documented (the runner-up
of a ``none`` row, a row naming nothing a miss, a tie of the scan a miss, no cutoff), wrong
``match`` answers counted, sane rates.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.forensics.simulate import second_noise
from taserlink.serials import CARTRIDGE_SCHEME

BENCH = Path(__file__).resolve().parent.parent / "bench"
SERIALS = 2_000
READS = 50


def _import(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _import("bench_match")


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


def test_reads_come_from_the_second_model_in_a_complete_and_a_torn_mix(
    bench: ModuleType, serials: list[str]
) -> None:
    noise = bench.NOISES["second"]()
    assert noise.name == second_noise().name
    truth, complete = bench.make_reads(serials, 200, False, 5, noise)
    truth_torn, torn = bench.make_reads(serials, 200, True, 5, noise)
    assert truth.tolist() == truth_torn.tolist()  # the same true serials in both mixes
    assert not any("*" in t for t in complete)
    assert all("*" in t for t in torn)
    # Fragments keep at least 4 characters of the tag before any hole (1–3 lost, a quarter
    # of them) or skip: nearly all still show 4, none is empty.
    kept = [len(t.replace("*", "")) for t in torn]
    assert min(kept) >= 1 and sum(k >= 4 for k in kept) >= 0.7 * len(kept)
    # The second model's indels: some complete reads are not 10 characters long.
    assert any(len(t) != CARTRIDGE_SCHEME.length for t in complete)
    # The same seed draws the same reads; the stated model draws others.
    assert bench.make_reads(serials, 200, False, 5, noise)[1] == complete
    assert bench.make_reads(serials, 200, False, 5, bench.NOISES["stated"]())[1] != complete


def _row(exhibit: str, serial: str, status: MatchStatus, runner_up: str) -> MatchRow:
    score = None if status is MatchStatus.NONE else 0.5
    return MatchRow(exhibit, serial, status, score, ("t",), runner_up, None, "")


def test_score_rows_counts_recall_and_wrong_answers_as_documented(bench: ModuleType) -> None:
    truth = ["A", "B", "C", "D", "E", "F"]
    rows = [
        _row("0", "A", MatchStatus.MATCH, "Z"),  # hit
        _row("1", "Z", MatchStatus.MATCH, "B"),  # wrong match: miss (the runner-up is not used)
        _row("2", "", MatchStatus.NONE, "C"),  # none, closest is true: hit
        _row("3", "", MatchStatus.NONE, ""),  # none naming nothing: miss
        _row("4", "E", MatchStatus.AMBIGUOUS, "Y"),  # ambiguous, best true: hit
        _row("5", "Y", MatchStatus.AMBIGUOUS, "F"),  # ambiguous, best wrong: miss, not wrong
    ]
    answers = bench.score_rows(list(reversed(rows)), truth)  # order of rows does not matter
    assert answers.hits.tolist() == [True, False, True, False, True, False]
    assert answers.recall() == pytest.approx(3 / 6)
    assert answers.recall(2) == pytest.approx(1 / 2)
    assert answers.share(MatchStatus.MATCH) == pytest.approx(2 / 6)
    assert answers.share(MatchStatus.AMBIGUOUS) == pytest.approx(2 / 6)
    assert answers.share(MatchStatus.NONE) == pytest.approx(2 / 6)
    assert answers.wrong_matches == 1
    assert answers.wrong_per_10k == pytest.approx(10_000 / 6)
    assert [r.exhibit for r in answers.rows] == [str(i) for i in range(6)]
    with pytest.raises(AssertionError):
        bench.score_rows(rows[:5], truth)  # an exhibit without a row
    with pytest.raises(AssertionError):
        bench.score_rows([*rows, rows[0]], truth)  # an exhibit with two rows


def test_rank1_hits_a_unique_least_distance_with_no_cutoff(bench: ModuleType) -> None:
    distances = np.array(
        [
            [3, 1, 3, 3],  # true 1, unique minimum: hit
            [0, 0, 3, 3],  # true 0, tied with 1: miss
            [9, 9, 9, 9],  # all tied: miss
            [2, 1, 3, 3],  # true 0, but 1 is closer: miss
            [9, 8, 9, 7],  # true 3, far but the unique least: hit (no cutoff)
        ],
        np.uint8,
    )
    truth = np.array([1, 0, 2, 0, 3])
    assert bench.rank1_hits(distances, truth).tolist() == [True, False, False, False, True]


def test_the_scan_gets_the_matchers_input_normalisation(bench: ModuleType) -> None:
    assert bench.scan_text("s4k7-p2m9 q") == "S4K7P2M9Q"  # separators, case
    assert bench.scan_text("OIlu") == "011V"  # the scheme's aliases
    assert bench.scan_text("*7P?M*9") == "7P?M9"  # torn ends and holes dropped, ? kept
    assert all(bench.scan_text(k) == v for k, v in CARTRIDGE_SCHEME.aliases.items())


def test_baseline_figures(bench: ModuleType, serials: list[str]) -> None:
    truth = np.arange(0, SERIALS, SERIALS // READS)[:READS]
    exact = [serials[i] for i in truth.tolist()]
    per_s, hits = bench.run_baseline(serials, exact, truth)
    assert per_s > 0 and hits.all()  # serials are distinct: distance 0 is unique
    # Grouped, lower-case and with aliases for 0/1/V, every read still finds its serial.
    aliased = [
        CARTRIDGE_SCHEME.display(s).lower().replace("0", "o").replace("1", "l").replace("v", "u")
        for s in exact
    ]
    assert bench.run_baseline(serials, aliased, truth)[1].all()
    # A read wholly unreadable is as far from every serial: every serial ties, a miss.
    blank = ["?" * CARTRIDGE_SCHEME.length] * READS
    assert not bench.run_baseline(serials, blank, truth)[1].any()
    # One ? costs one edit against every serial alike: the true serial stays the unique best.
    one_unknown = [s[:4] + "?" + s[5:] for s in exact]
    assert bench.run_baseline(serials, one_unknown, truth)[1].all()


def test_matcher_figures_are_sane(bench: ModuleType, serials: list[str]) -> None:
    index, built = bench.build_index(serials, 1)
    assert built.serials == SERIALS and built.seconds > 0
    assert built.nbytes == index.nbytes > 0
    # What the index keeps is its arrays (the serial list is the caller's), and the build
    # peaks at least there.
    assert built.nbytes <= built.kept <= built.peak
    assert built.kept < 2 * built.nbytes + 100_000

    noise = bench.NOISES["second"]()
    truth, texts = bench.make_reads(serials, READS, False, 5, noise)
    assert len(texts) == READS and truth.min() >= 0 and truth.max() < SERIALS
    per_s, answers = bench.run_matcher(index, texts, truth, 1)
    assert per_s > 0
    assert 0.0 <= answers.recall() <= 1.0 and len(answers.hits) == READS
    assert answers.recall() >= 0.7  # a small list: most complete reads find their serial
    assert answers.wrong_matches <= 1

    # Exact reads: every one is found, and answered match.
    exact = [serials[i] for i in truth.tolist()]
    _, perfect = bench.run_matcher(index, exact, truth, 1)
    assert perfect.recall() == 1.0
    assert perfect.share(MatchStatus.MATCH) == 1.0 and perfect.wrong_matches == 0


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
    assert "3,000 serials, window" in out
    assert "index build (best of 1)" in out
    assert "drawn from second_noise()" in out
    assert "wrong match answers (per 10,000 reads)" in out
    assert "rapidfuzz reads/s" in out  # the baseline is a test dependency: it always runs
    targets = 3 + 3 * 2  # index build, size, peak; per mix: wrong answers, ratio, recall
    assert out.count("PASS") + out.count("MISS") == targets


# -- bench_exhibit.py --------------------------------------------------------------------


@pytest.fixture(scope="module")
def exhibit_bench() -> ModuleType:
    return _import("bench_exhibit")


def test_exhibit_scenes_and_answers(exhibit_bench: ModuleType, serials: list[str]) -> None:
    noise = second_noise(p_torn=0.2)
    many = exhibit_bench.make_scene(serials, 30, 30, noise, 1, "many")
    assert len(many.texts) == 30 and len(set(many.true_serials)) == 30
    one = exhibit_bench.make_scene(serials, 30, 1, noise, 1, "one")
    assert len(set(one.true_serials)) == 1
    assert {r.exhibit for r in many.reads(False)} == {"E"}
    assert len({r.exhibit for r in many.reads(True)}) == 30

    true = ["A", "B", "C"]
    rows = [
        MatchRow("E", "A", MatchStatus.MATCH, 0.999, ("t0", "t3"), "", None, ""),
        MatchRow("E", "Z", MatchStatus.MATCH, 0.999, ("t1",), "", None, ""),
        MatchRow("E", "C", MatchStatus.AMBIGUOUS, 0.6, ("t2",), "B", 0.4, ""),
        MatchRow("E", "", MatchStatus.NONE, None, ("t4", "t5"), "", None, ""),
    ]
    assert exhibit_bench.answers(rows, true) == (1, 1, 2)  # found A; Z wrong; 2 in none


def test_exhibit_measurement_in_a_capped_child(
    exhibit_bench: ModuleType,
    bench: ModuleType,
    serials: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index, _ = bench.build_index(serials, 1)
    scene = exhibit_bench.make_scene(serials, 20, 20, second_noise(p_torn=0.2), 2, "s")
    figures = exhibit_bench.measure_isolated(index, scene, False, 1, 2_000_000_000, 60.0)
    assert isinstance(figures, exhibit_bench.Figures), figures
    assert figures.seconds > 0 and figures.runs == 1 and figures.rss >= 0
    assert figures.peak is not None and figures.peak > 0
    assert figures.found + figures.wrong <= figures.rows

    # A measurement that runs out of memory, fails or takes too long is reported.
    def out_of_memory(*_: object) -> None:
        raise MemoryError

    def failing(*_: object) -> None:
        raise RuntimeError("boom")

    def slow(*_: object) -> None:
        time.sleep(30)

    for replacement, timeout, said in (
        (out_of_memory, 60.0, "MemoryError"),
        (failing, 60.0, "RuntimeError: boom"),
        (slow, 0.5, "stopped after"),
    ):
        monkeypatch.setattr(exhibit_bench, "measure", replacement)
        result = exhibit_bench.measure_isolated(index, scene, False, 1, 2_000_000_000, timeout)
        assert isinstance(result, str) and said in result
