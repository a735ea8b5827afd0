#!/usr/bin/env python3
"""Matching AFID reads: the serial index and matcher against a brute-force edit-distance scan.

    python bench/bench_match.py                     # 10,000 reads against 1,000,000 serials
    python bench/bench_match.py --large             # the same, then against 10,000,000
    python bench/bench_match.py --serials 200000 --reads 2000 --repeat 1

One run, for each list size N:

1. N valid cartridge serials, generated with numpy (vectorised Luhn mod 32, checked against
   ``CARTRIDGE_SCHEME.check_character`` on a sample), duplicates dropped, in random order;
2. the index: ``SerialIndex(serials)`` built ``--repeat`` times, the shortest kept (gc off),
   then once more under ``tracemalloc`` for the heap it needs: its peak while building and
   what it keeps (``SerialIndex.nbytes`` is the index's arrays, the serial strings not
   counted: they are the caller's list);
3. ``--reads`` reads of serials drawn at random from the list, simulated with
   ``simulate_reads`` under ``ConfusionModel.default()``, in two mixes: complete reads only,
   and with tearing (``p_torn=0.2``, ``min_fragment=6``).  Each read is its own exhibit, so
   reads/s is per read through the whole matcher (candidates, scores, grouping, statuses,
   explanations): ``Matcher(index).match(reads)``, best of ``--repeat``, one process thread;
4. the baseline: ``rapidfuzz.process.cdist(reads, serials, scorer=Levenshtein.distance,
   score_cutoff=2, workers=-1, dtype=uint8)`` on the same reads, hyphens and spaces removed
   and upper-cased (``?`` and ``*`` left as they are: the scan has no notion of an
   unreadable character or a torn end), in chunks of reads, every core, one run, only the
   ``cdist`` calls timed.  By default all reads at up to 1,000,000 serials and a share of
   them (at least 200) beyond; the rate is measured on that subset and both matchers'
   recall is compared on it.

Recall at rank 1 is the share of reads whose best serial is the true one: for the matcher
``row.serial``, or ``row.runner_up`` when the status is ``none`` (its closest serial); for
the scan the serial of least distance when that distance is ≤ 2 and no other serial of the
list ties with it (a tie counts as a miss).

Targets (printed as PASS / MISS; the script does not fail on a miss): reads/s ≥ 100× the
scan's, index build ≤ 5 s and ≤ 200 bytes a serial, recall at rank 1 at least the scan's.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from common import best_of
from common import machine_info as shared_machine_info

from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.match import Matcher, SerialIndex
from taserlink.forensics.matchfiles import read_serials
from taserlink.forensics.results import MatchRow, MatchStatus, TagRead
from taserlink.forensics.simulate import simulate_reads
from taserlink.serials import CARTRIDGE_SCHEME

try:
    import rapidfuzz
    from rapidfuzz import process as rf_process
    from rapidfuzz.distance import Levenshtein
except ImportError:  # the optional extra: pip install 'taserlink[bench]'
    rapidfuzz = None  # type: ignore[assignment]

SCHEME = CARTRIDGE_SCHEME
RATIO_TARGET = 100.0
BUILD_TARGET_S = 5.0
BYTES_TARGET = 200.0
CUTOFF = 2
"""Edit distance the scan accepts (``score_cutoff``)."""
CHUNK_BYTES = 1_000_000_000
"""Distance matrix bytes per ``cdist`` call (at most 200 reads a call)."""
MIXES = (("complete", 0.0), ("torn 20 %", 0.2))
MIN_FRAGMENT = 6
_SEPARATORS = str.maketrans("", "", "- \t")

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# -- the data ------------------------------------------------------------------------------


def serial_codes(n: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """``(n, L)`` alphabet codes of random valid serials (duplicates possible)."""
    base, length = len(SCHEME.alphabet), SCHEME.length
    letters = np.array([SCHEME.alphabet.index(t) for t in SCHEME.type_letters], np.int64)
    codes = np.empty((n, length), np.int64)
    codes[:, 0] = rng.choice(letters, n)
    codes[:, 1:-1] = rng.integers(0, base, (n, length - 2))
    # Luhn mod 32 from the right of the prefix: factors 2, 1, 2, ... (as check_character).
    total = np.zeros(n, np.int64)
    for j, position in enumerate(range(length - 2, -1, -1)):
        addend = (2 if j % 2 == 0 else 1) * codes[:, position]
        total += addend // base + addend % base
    codes[:, -1] = (base - total % base) % base
    return codes


def make_serials(n: int, seed: int) -> list[str]:
    """``n`` distinct valid cartridge serials in random order (deterministic for ``seed``).

    Raises:
        AssertionError: the vectorised check character disagrees with the scheme's.
    """
    rng = np.random.default_rng(seed)
    base = len(SCHEME.alphabet)
    weights = np.array([base**j for j in range(SCHEME.length - 1)], np.int64)
    have = 0
    kept = np.zeros((0, SCHEME.length), np.int64)
    while have < n:
        fresh = serial_codes(n - have + 16, rng)
        codes = np.concatenate([kept, fresh])
        keys = codes[:, :-1] @ weights  # the check follows from the prefix
        _, first = np.unique(keys, return_index=True)
        kept = codes[np.sort(first)][:n]
        have = len(kept)
    points = np.array([ord(c) for c in SCHEME.alphabet], np.uint32)[kept]
    serials: list[str] = points.view(f"<U{SCHEME.length}").ravel().tolist()
    for serial in serials[:: max(1, n // 1000)]:
        assert SCHEME.check_character(serial[:-1]) == serial[-1], serial
    return serials


def make_reads(
    serials: Sequence[str], n_reads: int, p_torn: float, seed: int
) -> tuple[IntArray, list[str]]:
    """``n_reads`` simulated reads of serials drawn at random from ``serials`` (the same draw
    for a given ``seed`` whatever ``p_torn``): the true serials' positions and the reads."""
    truth = np.random.default_rng(seed).integers(0, len(serials), n_reads)
    texts = simulate_reads(
        [serials[i] for i in truth.tolist()],
        ConfusionModel.default(SCHEME),
        random.Random(f"{seed}/{p_torn}"),
        p_torn=p_torn,
        min_fragment=MIN_FRAGMENT,
    )
    return truth, texts


def tag_reads(texts: Sequence[str]) -> list[TagRead]:
    """One exhibit per read: exhibit ``str(i)``, tag ``t``."""
    return [TagRead(exhibit=str(i), tag="t", text=text) for i, text in enumerate(texts)]


# -- the matcher ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexFigures:
    """What building the index cost: ``seconds`` (best of ``repeat``), ``nbytes`` (the
    index's arrays), ``peak`` and ``kept`` (heap bytes over the build, tracemalloc), the
    window length."""

    serials: int
    seconds: float
    repeat: int
    nbytes: int
    peak: int
    kept: int
    window: int


def build_index(serials: Sequence[str], repeat: int) -> tuple[SerialIndex, IndexFigures]:
    """Build the index ``repeat`` times (timed, best kept), then once under tracemalloc."""
    seconds, _ = best_of(repeat, lambda: SerialIndex(serials, SCHEME))
    tracemalloc.start()
    try:
        index = SerialIndex(serials, SCHEME)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    figures = IndexFigures(len(serials), seconds, repeat, index.nbytes, peak, kept, index.window)
    return index, figures


@dataclass(frozen=True)
class Answers:
    """What the matcher answered, per read (one row per read: one exhibit each)."""

    hits: BoolArray  # best serial is the true one
    status: list[MatchStatus]
    wrong_match: BoolArray  # status match and the serial is not the true one

    def recall(self, first: int | None = None) -> float:
        """Recall at rank 1 over all reads, or the first ``first``."""
        return float(self.hits[:first].mean()) if len(self.hits[:first]) else 0.0

    @property
    def match_share(self) -> float:
        return sum(s is MatchStatus.MATCH for s in self.status) / max(len(self.status), 1)

    @property
    def wrong_match_share(self) -> float:
        """Share of the ``match`` answers naming another serial than the true one."""
        matches = sum(s is MatchStatus.MATCH for s in self.status)
        return int(self.wrong_match.sum()) / matches if matches else 0.0


def score_rows(rows: Sequence[MatchRow], true_serials: Sequence[str]) -> Answers:
    """Per read ``i`` (exhibit ``str(i)``): its row's best serial — ``row.serial``, or
    ``row.runner_up`` (the closest serial) when the status is ``none`` — against the truth.

    Raises:
        AssertionError: an exhibit with no row or with more than one.
    """
    by_exhibit: dict[str, MatchRow] = {}
    for row in rows:
        assert row.exhibit not in by_exhibit, f"exhibit {row.exhibit} has two rows"
        by_exhibit[row.exhibit] = row
    assert len(by_exhibit) == len(true_serials), "an exhibit has no row"
    hits = np.zeros(len(true_serials), bool)
    wrong = np.zeros(len(true_serials), bool)
    status = []
    for i, true in enumerate(true_serials):
        row = by_exhibit[str(i)]
        best = row.runner_up if row.status is MatchStatus.NONE else row.serial
        hits[i] = best == true
        wrong[i] = row.status is MatchStatus.MATCH and row.serial != true
        status.append(row.status)
    return Answers(hits, status, wrong)


def run_matcher(
    index: SerialIndex, texts: Sequence[str], truth: IntArray, repeat: int
) -> tuple[float, Answers]:
    """reads/s of ``Matcher(index).match`` (best of ``repeat``) and its answers."""
    matcher = Matcher(index)
    reads = tag_reads(texts)
    seconds, rows = best_of(repeat, lambda: matcher.match(reads))
    serials = index.serials
    return len(reads) / seconds, score_rows(rows, [serials[i] for i in truth.tolist()])


# -- the baseline --------------------------------------------------------------------------


def rank1_hits(distances: npt.NDArray[np.integer[Any]], truth: IntArray, cutoff: int) -> BoolArray:
    """Per row of a ``(reads, serials)`` distance matrix: True when column ``truth[row]`` is
    the unique least distance and that distance is ≤ ``cutoff``."""
    rows = np.arange(len(distances))
    least = distances.min(axis=1) if distances.shape[1] else np.full(len(rows), cutoff + 1)
    hits: BoolArray = (least <= cutoff) & (distances[rows, truth] == least)
    for r in np.flatnonzero(hits):
        hits[r] = np.count_nonzero(distances[r] == least[r]) == 1
    return hits


def chunk_reads(serials: int) -> int:
    """Reads per ``cdist`` call: at most 200, and a matrix of at most CHUNK_BYTES."""
    return int(max(1, min(200, CHUNK_BYTES // max(serials, 1))))


def run_baseline(
    serials: Sequence[str], texts: Sequence[str], truth: IntArray
) -> tuple[float, BoolArray]:
    """reads/s of the ``cdist`` scan over ``texts`` (one run, only the calls timed) and its
    rank-1 hits."""
    assert rapidfuzz is not None
    queries = [t.translate(_SEPARATORS).upper() for t in texts]
    chunk = chunk_reads(len(serials))
    hits = np.zeros(len(queries), bool)
    elapsed = 0.0
    for begin in range(0, len(queries), chunk):
        end = min(begin + chunk, len(queries))
        start = time.perf_counter()
        distances = rf_process.cdist(
            queries[begin:end],
            serials,
            scorer=Levenshtein.distance,
            score_cutoff=CUTOFF,
            workers=-1,
            dtype=np.uint8,
        )
        elapsed += time.perf_counter() - start
        hits[begin:end] = rank1_hits(distances, truth[begin:end], CUTOFF)
        del distances
    return len(queries) / elapsed, hits


def baseline_reads(serials: int, reads: int, requested: int | None) -> int:
    """Reads the scan is run on: ``requested``, else all up to 1,000,000 serials and
    ``reads × 1,000,000 / serials`` (at least 200) beyond."""
    if requested is not None:
        return max(0, min(requested, reads))
    return min(reads, max(200, reads * 1_000_000 // max(serials, 1)))


# -- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MixFigures:
    label: str
    reads: int
    reads_per_s: float
    answers: Answers
    baseline_reads: int
    baseline_per_s: float | None
    baseline_hits: BoolArray | None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_size(built: IndexFigures, mixes: list[MixFigures]) -> None:
    n, repeat = built.serials, built.repeat
    print(f"\n== {n:,} serials, window {built.window} ==")
    print(
        f"{'index build (best of ' + str(built.repeat) + ')':<46} {built.seconds:10.2f} s"
        f"   ≤ {BUILD_TARGET_S:.0f} s: {verdict(built.seconds <= BUILD_TARGET_S)}"
    )
    print(
        f"{'index size (SerialIndex.nbytes / N)':<46} {built.nbytes / n:10.1f} B"
        f"   ≤ {BYTES_TARGET:.0f} B: {verdict(built.nbytes / n <= BYTES_TARGET)}"
        f"  ({built.nbytes / 1e6:,.0f} MB)"
    )
    print(
        f"{'build peak heap, tracemalloc (/ N)':<46} {built.peak / n:10.1f} B"
        f"   ≤ {BYTES_TARGET:.0f} B: {verdict(built.peak / n <= BYTES_TARGET)}"
        f"  ({built.peak / 1e6:,.0f} MB; kept {built.kept / n:.1f} B/serial)"
    )
    width = 18
    print(f"\n{'':<46}" + "".join(f"{m.label:>{width}}" for m in mixes))

    def line(label: str, cells: list[str]) -> None:
        print(f"{label:<46}" + "".join(f"{c:>{width}}" for c in cells))

    line("reads", [f"{m.reads:,}" for m in mixes])
    line(
        f"taserlink reads/s (best of {repeat}, 1 thread)", [f"{m.reads_per_s:,.0f}" for m in mixes]
    )
    line("taserlink recall at rank 1", [f"{m.answers.recall():.2%}" for m in mixes])
    line("taserlink answered match", [f"{m.answers.match_share:.2%}" for m in mixes])
    line("taserlink match answers wrong", [f"{m.answers.wrong_match_share:.3%}" for m in mixes])
    line(
        "taserlink answered ambiguous / none",
        [
            "{:.1%} / {:.1%}".format(
                *(
                    sum(s is st for s in m.answers.status) / m.reads
                    for st in (MatchStatus.AMBIGUOUS, MatchStatus.NONE)
                )
            )
            for m in mixes
        ],
    )
    if any(m.baseline_per_s is None for m in mixes):
        print("rapidfuzz not installed (pip install 'taserlink[bench]'): no baseline")
        return
    line("rapidfuzz cdist reads (one run, all cores)", [f"{m.baseline_reads:,}" for m in mixes])
    line("rapidfuzz reads/s", [f"{m.baseline_per_s:,.1f}" for m in mixes])
    ratios = [m.reads_per_s / (m.baseline_per_s or 1.0) for m in mixes]
    line(
        f"reads/s ratio (target ≥ {RATIO_TARGET:.0f}×)",
        [f"{r:,.0f}× {verdict(r >= RATIO_TARGET)}" for r in ratios],
    )
    subset = [m.baseline_reads for m in mixes]
    line(
        "recall on those reads: taserlink",
        [f"{m.answers.recall(k):.2%}" for m, k in zip(mixes, subset, strict=True)],
    )
    line(
        "recall on those reads: rapidfuzz",
        [f"{float(m.baseline_hits.mean()):.2%}" for m in mixes if m.baseline_hits is not None],
    )
    line(
        "recall taserlink ≥ rapidfuzz",
        [
            verdict(m.answers.recall(k) >= float(m.baseline_hits.mean()))
            for m, k in zip(mixes, subset, strict=True)
            if m.baseline_hits is not None
        ],
    )


def read_list_seconds(serials: Sequence[str]) -> float:
    """Seconds :func:`read_serials` takes to read ``serials`` from a text file (one run)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "serials.txt"
        path.write_text("\n".join(serials) + "\n", encoding="ascii")
        start = time.perf_counter()
        read = read_serials(path)
        seconds = time.perf_counter() - start
    assert len(read) == len(serials)
    return seconds


def run_size(args: argparse.Namespace, n: int) -> tuple[IndexFigures, list[MixFigures]]:
    start = time.perf_counter()
    serials = make_serials(n, args.seed)
    print(f"\n{n:,} serials generated in {time.perf_counter() - start:.1f} s", flush=True)
    print(
        f"serial list read back by read_serials in {read_list_seconds(serials):.2f} s", flush=True
    )
    index, built = build_index(serials, args.repeat)
    print(f"index built in {built.seconds:.2f} s (best of {args.repeat})", flush=True)
    mixes = []
    for label, p_torn in MIXES:
        truth, texts = make_reads(serials, args.reads, p_torn, args.seed + 1)
        per_s, answers = run_matcher(index, texts, truth, args.repeat)
        k = baseline_reads(n, len(texts), args.baseline_reads)
        base_per_s: float | None = None
        base_hits: BoolArray | None = None
        if rapidfuzz is not None and k:
            base_per_s, base_hits = run_baseline(serials, texts[:k], truth[:k])
        print(
            f"{label}: taserlink {per_s:,.0f} reads/s"
            + (f", rapidfuzz {base_per_s:,.1f} reads/s over {k:,}" if base_per_s else ""),
            flush=True,
        )
        mixes.append(MixFigures(label, len(texts), per_s, answers, k, base_per_s, base_hits))
    del index
    return built, mixes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--serials", type=int, nargs="+", default=[1_000_000], help="list sizes (1,000,000)"
    )
    parser.add_argument("--large", action="store_true", help="also 10,000,000 serials")
    parser.add_argument("--reads", type=int, default=10_000, help="reads per mix (10,000)")
    parser.add_argument(
        "--baseline-reads",
        type=int,
        default=None,
        help="reads the rapidfuzz scan runs on (all up to 1M serials, a share beyond)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, best kept (3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of serials and reads (0)")
    args = parser.parse_args(argv)
    sizes = list(args.serials) + ([10_000_000] if args.large else [])
    if min(sizes) < 1 or args.reads < 1 or args.repeat < 1:
        parser.error("--serials, --reads and --repeat must be ≥ 1")

    libraries = {"numpy": np.__version__, "taserlink": importlib.metadata.version("taserlink")}
    libraries["rapidfuzz"] = rapidfuzz.__version__ if rapidfuzz is not None else "not installed"
    print("taserlink match benchmark")
    for text in shared_machine_info(
        libraries, "; the matcher uses one, rapidfuzz all (workers=-1)"
    ):
        print("  " + text)
    print(
        f"reads: {args.reads:,} per mix, simulate_reads under ConfusionModel.default(), "
        f"torn mix p_torn=0.2 min_fragment={MIN_FRAGMENT}; seed {args.seed}"
    )
    results = [run_size(args, n) for n in sizes]
    for built, mixes in results:
        print_size(built, mixes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
