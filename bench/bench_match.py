#!/usr/bin/env python3
"""Matching AFID reads: the serial index and matcher against a plain edit-distance scan.

    python bench/bench_match.py                     # 10,000 reads against 1,000,000 serials
    python bench/bench_match.py --large             # the same, then against 10,000,000
    python bench/bench_match.py --serials 200000 --reads 2000 --repeat 1
    python bench/bench_match.py --noise stated      # reads from the matcher's own model

One run, for each list size N:

1. N valid cartridge serials, generated with numpy (vectorised Luhn mod 32, checked against
   ``CARTRIDGE_SCHEME.check_character`` on a sample), duplicates dropped, in random order;
2. the index: ``SerialIndex(serials)`` built ``--repeat`` times, the shortest kept (gc off),
   then once more under ``tracemalloc`` for the heap it needs: its peak while building and
   what it keeps (``SerialIndex.nbytes`` is the index's arrays, the serial strings not
   counted: they are the caller's list);
3. ``--reads`` true serials drawn at random from the list, and one read of each drawn from
   a noise model *other* than the matcher's defaults — ``simulate.second_noise()``: other
   look-alikes, more unreadable characters, skips, insertions and doubled characters
   (``--noise stated`` draws from the matcher's own model instead) — in two mixes of the
   same true serials: every read complete, and every read torn (a fragment of 4 or more
   characters, a quarter of them with an inner stretch lost too).  Each read is its own
   exhibit, so reads/s is per read through the whole matcher (candidates, scores,
   grouping, statuses, explanations): ``Matcher(index).match(reads, workers=W)``, best of
   ``--repeat``, with ``--workers`` threads (default: every usable core, as the scan) and
   with one (BLAS held to one thread either way);
4. the baseline: ``rapidfuzz.process.cdist(reads, serials, scorer=Levenshtein.distance,
   workers=-1, dtype=uint8)`` with no score cutoff (every read gets its best serial), on
   the same reads given the matcher's input normalisation — hyphens and spaces dropped,
   upper-cased, the scheme's aliases applied (I/L→1, O→0, U→V) — and ``*`` dropped (a
   fragment is compared as what was read); ``?`` is kept (it equals no serial character,
   so it costs one edit against every serial alike).  In chunks of reads, every core, one
   run, only the ``cdist`` calls timed.  By default all reads at up to 1,000,000 serials
   and a share of them (at least 200) beyond; the scan's rate is measured on that subset
   and both recalls are compared on it.

Recall at rank 1 is the share of reads whose best serial is the true one, counted the same
way for both: one best serial each, a tie a miss.  For the matcher the best serial is
``row.serial``, or ``row.runner_up`` (its closest serial) when the status is ``none``; a
row naming no serial is a miss (the matcher breaks ties by list order, so it never ties).
For the scan it is the serial at the least distance, when no other serial of the list is
at that distance too (a tie is a miss).

The matcher's answers are reported too: the shares of ``match``, ``ambiguous`` and
``none`` rows, and the ``match`` rows naming a serial other than the true one (a wrong
``match`` answer; each is printed with its read and row).

Targets (printed PASS / MISS; the script does not fail on a miss): reads/s (both on every
core) ≥ 100× the scan's on the same reads, recall at rank 1 ≥ the scan's, 0 wrong ``match``
answers per 10,000 reads (no wrong answer at all in the mix), index build ≤ 5 s and ≤ 200
bytes a serial.
"""

from __future__ import annotations

import os

# The matcher's threads are its own (--workers): its matrix products run in one thread each
# (set before numpy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

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
from common import best_of, verdict
from common import machine_info as shared_machine_info

from taserlink.forensics.match import Matcher, SerialIndex
from taserlink.forensics.matchfiles import read_serials
from taserlink.forensics.reads import TORN
from taserlink.forensics.results import MatchRow, MatchStatus, TagRead
from taserlink.forensics.simulate import ReadNoise, second_noise, stated_noise
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.workers import usable_cores

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
WRONG_PER = 10_000
"""Wrong ``match`` answers are reported per this many reads (the target: 0)."""
CHUNK_BYTES = 1_000_000_000
"""Distance matrix bytes per ``cdist`` call (at most 200 reads a call)."""
MIXES = (("complete", False), ("torn", True))
"""The mixes: label, and whether every read is torn (``ReadNoise.reads(torn=...)``)."""
NOISES = {"second": second_noise, "stated": stated_noise}
SHOW_WRONG = 20
"""Wrong ``match`` answers printed in full per mix, at most."""

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
    serials: Sequence[str], n_reads: int, torn: bool, seed: int, noise: ReadNoise
) -> tuple[IntArray, list[str]]:
    """``n_reads`` reads drawn from ``noise`` of serials drawn at random from ``serials``
    (the same true serials for a given ``seed`` whatever ``torn``), every read torn or
    none: the true serials' positions and the reads."""
    truth = np.random.default_rng(seed).integers(0, len(serials), n_reads)
    texts = noise.reads(
        [serials[i] for i in truth.tolist()], random.Random(f"{seed}/{torn}"), torn=torn
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
    """What the matcher answered, per read (one row per read: one exhibit each).

    Attributes:
        hits: the row's best serial (``serial``, or ``runner_up`` for ``none``) is the
            true one.
        status: each read's row status.
        wrong_match: the status is ``match`` and the serial is not the true one.
        rows: each read's row.
    """

    hits: BoolArray
    status: list[MatchStatus]
    wrong_match: BoolArray
    rows: list[MatchRow]

    def recall(self, first: int | None = None) -> float:
        """Recall at rank 1 over all reads, or the first ``first``."""
        return float(self.hits[:first].mean()) if len(self.hits[:first]) else 0.0

    def share(self, status: MatchStatus) -> float:
        """Share of the reads answered ``status``."""
        return sum(s is status for s in self.status) / max(len(self.status), 1)

    @property
    def wrong_matches(self) -> int:
        """Number of ``match`` answers naming another serial than the true one."""
        return int(self.wrong_match.sum())

    @property
    def wrong_per_10k(self) -> float:
        """Wrong ``match`` answers per 10,000 reads."""
        return self.wrong_matches * WRONG_PER / max(len(self.status), 1)


def score_rows(rows: Sequence[MatchRow], true_serials: Sequence[str]) -> Answers:
    """Per read ``i`` (exhibit ``str(i)``): its row's best serial — ``row.serial``, or
    ``row.runner_up`` (the closest serial) when the status is ``none`` — against the truth;
    a row naming no serial is a miss.

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
    ordered = []
    for i, true in enumerate(true_serials):
        row = by_exhibit[str(i)]
        best = row.runner_up if row.status is MatchStatus.NONE else row.serial
        hits[i] = bool(best) and best == true
        wrong[i] = row.status is MatchStatus.MATCH and row.serial != true
        status.append(row.status)
        ordered.append(row)
    return Answers(hits, status, wrong, ordered)


def run_matcher(
    index: SerialIndex, texts: Sequence[str], truth: IntArray, repeat: int, workers: int = 1
) -> tuple[float, Answers]:
    """reads/s of ``Matcher(index).match`` with ``workers`` threads (best of ``repeat``) and
    its answers."""
    matcher = Matcher(index)
    reads = tag_reads(texts)
    seconds, rows = best_of(repeat, lambda: matcher.match(reads, workers=workers))
    serials = index.serials
    return len(reads) / seconds, score_rows(rows, [serials[i] for i in truth.tolist()])


# -- the baseline --------------------------------------------------------------------------


def scan_text(text: str) -> str:
    """A read as the scan compares it: the matcher's input normalisation
    (``SCHEME.normalize``: separators dropped, upper case, aliases I/L→1, O→0, U→V), then
    ``*`` dropped; ``?`` kept."""
    return SCHEME.normalize(text).replace(TORN, "")


def rank1_hits(distances: npt.NDArray[np.integer[Any]], truth: IntArray) -> BoolArray:
    """Per row of a ``(reads, serials)`` distance matrix: True when column ``truth[row]`` is
    the unique least distance of the row (a tie is a miss)."""
    rows = np.arange(len(distances))
    if not distances.shape[1]:
        return np.zeros(len(rows), bool)
    least = distances.min(axis=1)
    hits: BoolArray = distances[rows, truth] == least
    for r in np.flatnonzero(hits):
        hits[r] = np.count_nonzero(distances[r] == least[r]) == 1
    return hits


def chunk_reads(serials: int) -> int:
    """Reads per ``cdist`` call: at most 200, and a matrix of at most CHUNK_BYTES."""
    return int(max(1, min(200, CHUNK_BYTES // max(serials, 1))))


def run_baseline(
    serials: Sequence[str], texts: Sequence[str], truth: IntArray
) -> tuple[float, BoolArray]:
    """reads/s of the ``cdist`` scan over ``texts`` (one run, every core, no score cutoff,
    only the calls timed) and its rank-1 hits."""
    assert rapidfuzz is not None
    queries = [scan_text(t) for t in texts]
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
            workers=-1,
            dtype=np.uint8,
        )
        elapsed += time.perf_counter() - start
        hits[begin:end] = rank1_hits(distances, truth[begin:end])
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
    """One mix at one list size: the matcher's rate and answers, the scan's on the first
    ``baseline_reads`` reads (``None`` without rapidfuzz), the reads and true serials."""

    label: str
    reads: int
    reads_per_s: float  # with the workers
    one_thread_per_s: float
    workers: int
    answers: Answers
    baseline_reads: int
    baseline_per_s: float | None
    baseline_hits: BoolArray | None
    texts: list[str]
    true_serials: list[str]


def print_size(built: IndexFigures, mixes: list[MixFigures]) -> None:
    """The table of one list size."""
    n, repeat = built.serials, built.repeat
    workers = mixes[0].workers if mixes else 1
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
    width = 24
    print(f"\n{'':<46}" + "".join(f"{m.label:>{width}}" for m in mixes))

    def line(label: str, cells: list[str]) -> None:
        print(f"{label:<46}" + "".join(f"{c:>{width}}" for c in cells))

    line("reads (one exhibit each)", [f"{m.reads:,}" for m in mixes])
    line(
        f"taserlink reads/s (best of {repeat}, {workers} threads)",
        [f"{m.reads_per_s:,.0f}" for m in mixes],
    )
    line(
        f"taserlink reads/s (best of {repeat}, 1 thread)",
        [f"{m.one_thread_per_s:,.0f}" for m in mixes],
    )
    line("taserlink recall at rank 1, all reads", [f"{m.answers.recall():.2%}" for m in mixes])
    line(
        "taserlink match / ambiguous / none",
        [" / ".join(f"{m.answers.share(s):.1%}" for s in MatchStatus) for m in mixes],
    )
    line(
        f"wrong match answers (per {WRONG_PER:,} reads)",
        [f"{m.answers.wrong_matches:,} ({m.answers.wrong_per_10k:.1f})" for m in mixes],
    )
    line(
        f"  target 0 per {WRONG_PER:,} reads",
        [verdict(m.answers.wrong_matches == 0) for m in mixes],
    )
    if any(m.baseline_per_s is None or m.baseline_hits is None for m in mixes):
        print("rapidfuzz not installed (pip install 'taserlink[bench]'): no baseline")
        return
    line("rapidfuzz cdist reads (one run, all cores)", [f"{m.baseline_reads:,}" for m in mixes])
    line("rapidfuzz reads/s", [f"{m.baseline_per_s:,.1f}" for m in mixes])
    ratios = [m.reads_per_s / (m.baseline_per_s or 1.0) for m in mixes]
    line(
        f"reads/s ratio (target ≥ {RATIO_TARGET:.0f}×)",
        [f"{r:,.0f}× {verdict(r >= RATIO_TARGET)}" for r in ratios],
    )
    line(
        "recall at rank 1 on those reads: taserlink",
        [f"{m.answers.recall(m.baseline_reads):.2%}" for m in mixes],
    )
    base_recall = [float(np.mean(m.baseline_hits)) for m in mixes]  # type: ignore[arg-type]
    line("recall at rank 1 on those reads: rapidfuzz", [f"{r:.2%}" for r in base_recall])
    line(
        "  target taserlink ≥ rapidfuzz",
        [
            verdict(m.answers.recall(m.baseline_reads) >= r)
            for m, r in zip(mixes, base_recall, strict=True)
        ],
    )
    both = []
    for m in mixes:
        ours = m.answers.hits[: m.baseline_reads]
        theirs = m.baseline_hits
        assert theirs is not None
        both.append(
            f"{int(np.sum(ours & theirs)):,}/{int(np.sum(ours & ~theirs)):,}"
            f"/{int(np.sum(~ours & theirs)):,}/{int(np.sum(~ours & ~theirs)):,}"
        )
    line("  both / taserlink only / rapidfuzz only / neither", both)


def print_wrong(n: int, mixes: list[MixFigures]) -> None:
    """Every wrong ``match`` answer (up to SHOW_WRONG per mix): true serial, read, row."""
    for m in mixes:
        wrong = np.flatnonzero(m.answers.wrong_match)
        if not len(wrong):
            continue
        print(f"\nwrong match answers, {n:,} serials, {m.label} (true serial, read, row):")
        for i in wrong[:SHOW_WRONG].tolist():
            row = m.answers.rows[i]
            print(
                f"  read {i}: true {m.true_serials[i]}  read {m.texts[i]!r}  -> "
                f"{row.serial} {row.status.value} score {row.score}"
                f"  runner-up {row.runner_up or '-'} {row.runner_up_score}"
                f"  [{row.explanation}]"
            )
        if len(wrong) > SHOW_WRONG:
            print(f"  … and {len(wrong) - SHOW_WRONG} more")


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
    """Generate, index and match at one list size; the figures of both mixes."""
    start = time.perf_counter()
    serials = make_serials(n, args.seed)
    print(f"\n{n:,} serials generated in {time.perf_counter() - start:.1f} s", flush=True)
    print(
        f"serial list read back by read_serials in {read_list_seconds(serials):.2f} s", flush=True
    )
    index, built = build_index(serials, args.repeat)
    print(f"index built in {built.seconds:.2f} s (best of {args.repeat})", flush=True)
    noise = NOISES[args.noise]()
    mixes = []
    for label, torn in MIXES:
        truth, texts = make_reads(serials, args.reads, torn, args.seed + 1, noise)
        per_s, answers = run_matcher(index, texts, truth, args.repeat, args.workers)
        one_per_s, one = run_matcher(index, texts, truth, args.repeat)
        if one.rows != answers.rows:
            raise SystemExit(f"{label}: the rows of {args.workers} threads differ from one's")
        k = baseline_reads(n, len(texts), args.baseline_reads)
        base_per_s: float | None = None
        base_hits: BoolArray | None = None
        if rapidfuzz is not None and k:
            base_per_s, base_hits = run_baseline(serials, texts[:k], truth[:k])
        print(
            f"{label}: taserlink {per_s:,.0f} reads/s ({one_per_s:,.0f} in one thread)"
            + (f", rapidfuzz {base_per_s:,.1f} reads/s over {k:,}" if base_per_s else ""),
            flush=True,
        )
        true_serials = [serials[i] for i in truth.tolist()]
        mixes.append(
            MixFigures(
                label,
                len(texts),
                per_s,
                one_per_s,
                args.workers,
                answers,
                k,
                base_per_s,
                base_hits,
                texts,
                true_serials,
            )
        )
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
    parser.add_argument(
        "--workers",
        type=int,
        default=usable_cores(),
        help="the matcher's threads (default: every usable core, %(default)s, as the scan)",
    )
    parser.add_argument(
        "--noise",
        choices=sorted(NOISES),
        default="second",
        help="the model reads are drawn from: simulate.second_noise() (default) or "
        "stated_noise(), the matcher's own",
    )
    args = parser.parse_args(argv)
    sizes = list(args.serials) + ([10_000_000] if args.large else [])
    if min(sizes) < 1 or args.reads < 1 or args.repeat < 1 or args.workers < 1:
        parser.error("--serials, --reads, --repeat and --workers must be ≥ 1")

    libraries = {"numpy": np.__version__, "taserlink": importlib.metadata.version("taserlink")}
    libraries["rapidfuzz"] = rapidfuzz.__version__ if rapidfuzz is not None else "not installed"
    print("taserlink match benchmark")
    for text in shared_machine_info(
        libraries,
        f"; the matcher uses {args.workers} threads (and 1 for comparison), "
        "rapidfuzz all (workers=-1)",
    ):
        print("  " + text)
    noise = NOISES[args.noise]()
    print(
        f"reads: {args.reads:,} per mix, one exhibit each, drawn from {args.noise}_noise() "
        f"({noise.name}: {noise.model.note}); torn mix: every read torn, fragments of "
        f"≥ {noise.min_fragment} characters, {noise.p_hole:.0%} with a hole; seed {args.seed}"
    )
    print(
        "scan: rapidfuzz cdist, Levenshtein distance, no cutoff; reads normalised "
        "(separators, case, aliases I/L→1 O→0 U→V), '*' dropped, '?' kept; a tie is a miss"
    )
    results = [run_size(args, n) for n in sizes]
    for built, mixes in results:
        print_size(built, mixes)
        print_wrong(built.serials, mixes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
