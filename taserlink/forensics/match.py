"""The fast matcher: AFID reads → cartridge serials, with posterior scores.

It computes exactly what the plain reference (:mod:`taserlink.forensics.reference`) defines
— read that module's docstring, or ``docs/matching.md`` §5, for the model — with numpy and
an index, and with no Python loop over the serial list:

- :class:`SerialIndex` — built once over ``N`` serials: the serials as an ``(N, L)`` array
  of alphabet codes, and for every start ``w`` the keys of the characters from ``w``
  (up to :func:`~taserlink.forensics.scoring.index_window` of them, the first the most
  significant), sorted, with the serials' positions in that order.  A window of any
  length from ``w`` is then one range of keys: ``L + 8·L`` bytes per serial (90 for the
  cartridge scheme).
- :class:`Matcher` — takes a batch of reads through the definition's steps: every
  alignment of every read as a row of output columns; the search, stage by stage, for
  the reads it has not yet settled (each window's keys looked up as ranges through a
  directory of its first characters, a bucket scanned or searched; what is found costed
  by a float32 filter, then exactly); each read's
  candidates scored over all its alignments; the groups of every exhibit formed from a
  heap of gains made stale as reads are assigned (work near-linear in the read–candidate
  edges, however many cartridges an exhibit holds); each group's serials, totals and
  background; posteriors and rows.  Where an exhibit pairs many reads with many serials
  (weak reads with anchors, groups with the exhibit's cartridges, a large group with its
  contenders) one float32 matrix product filters the pairs before any is scored exactly.

:func:`match_reads` is the one-call form.  The fast path is not the verifying path: the
reference is, and ``tests/test_match_differential.py`` holds the two together.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from taserlink.errors import MatchError, ReadError
from taserlink.forensics.confusion import SKIPPED, ConfusionModel
from taserlink.forensics.reads import TORN, UNREADABLE, AfidRead, parse_read
from taserlink.forensics.results import MatchRow, MatchSettings, TagRead
from taserlink.forensics.scoring import (
    CERTAIN_NATS,
    MASS_QUANTUM,
    MAX_ALIGNMENTS,
    MAX_CANDIDATES,
    MAX_EXTRA,
    MIX_EXACT,
    MIX_KEEP,
    MIX_SPAN,
    READ_HITS,
    RIVAL_SPAN,
    SPAN_NATS,
    STAGE_HITS,
    STAGE_KEYS,
    TIE_TOLERANCE,
    Alignment,
    PositionTables,
    ReadState,
    ReadSummary,
    build_row,
    check_exhibit_sizes,
    index_window,
    stage_lengths,
)
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = ["BATCH_READS", "Matcher", "SerialIndex", "match_reads"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_SEPARATORS = str.maketrans("", "", "- \t")
_CHUNK = 1 << 18
"""(row, serial) pairs costed at once (bounds the gather's memory)."""
FILL_PAIRS = 1 << 20
"""(read, serial) pairs whose log-likelihoods one slice of exact totals computes at once."""
MATRIX_PAIRS = 1 << 16
"""An exhibit pairing more reads with more serials than this (weak reads with anchors,
groups with cartridges) filters the pairs by one float32 matrix product first."""
_MATRIX_CELLS = 1 << 22
"""(row, serial) cells of one slice of that product."""
_ROUGH_MARGIN = 1e-3
"""Nats a float32 filter's sum may fall short of the exact one, per read: its rounding is
below 1e-4 for a serial of 16 characters."""
_NO = np.iinfo(np.int64).max
_SCAN = 64
"""A directory bucket of at most this many keys is scanned; a larger one searched."""
BATCH_READS = 16_384
"""Most reads matched at once (whole exhibits; a larger input is matched in batches, an
exhibit larger than this alone)."""
WORKER_BATCHES = 4
"""With several workers, reads are cut into about this many batches a worker (whole
exhibits, at least :data:`MIN_WORKER_BATCH` reads each), so that a batch slow to match
does not leave the other workers idle."""
MIN_WORKER_BATCH = 512
"""Fewest reads a batch is cut to for workers: below, numpy's per-call cost dominates."""


class SerialIndex:
    """An index over a list of serials, built once, queried by :class:`Matcher`.

    Args:
        serials: canonical, valid serials of ``scheme`` (as :meth:`SerialScheme.validate`
            returns them), no duplicates; their order is the list order ties go by.
        scheme: the serial scheme.

    Raises:
        MatchError: an empty list, a duplicate (naming both positions, 1-based), or a serial
            that is not canonical and valid in ``scheme`` (naming its position and why).
    """

    def __init__(self, serials: Sequence[str], scheme: SerialScheme = CARTRIDGE_SCHEME) -> None:
        self.scheme = scheme
        self.serials: Sequence[str] = serials
        length = scheme.length
        n = len(serials)
        if n == 0:
            raise MatchError("the serial list is empty")
        codes, valid = scheme.encode(serials)
        if not valid.all():
            i = int(np.flatnonzero(~valid)[0])
            why = scheme.problem(str(serials[i])) or "it is not written canonically"
            raise MatchError(
                f"serial {i + 1} {serials[i]!r} is not a valid {scheme.name} serial: {why}"
            )
        repeat = scheme.first_duplicate(codes)
        if repeat is not None:
            first, second = repeat
            raise MatchError(
                f"serials {first + 1} and {second + 1} are the same: {serials[first]!r}"
            )
        base = len(scheme.alphabet)
        self.codes: npt.NDArray[np.unsignedinteger] = codes.astype(
            np.uint8 if base <= 256 else np.uint16
        )
        del codes
        self.base = base
        self.window = index_window(scheme)
        position_bits = max(1, (n - 1).bit_length())
        positions = np.arange(n, dtype=np.uint64)
        # Every window's sorted keys (and the serials' positions in that order) one after
        # another: window w holds [w·N, (w+1)·N).  Keys fit 32 bits (index_window).
        self.keys = np.empty(length * n, np.uint32)
        self.ids = np.empty(length * n, np.uint32)
        # A directory over each window's first `depth` characters: where the keys of every
        # such prefix begin, so a short prefix is two lookups, not two searches.
        depth = 1
        while depth < self.window and base ** (depth + 1) <= max(2 * n, base):
            depth += 1
        self.widths = np.array([min(self.window, length - w) for w in range(length)], np.int64)
        self.depths = np.minimum(self.widths, depth)
        sizes = np.array([base**d + 1 for d in self.depths.tolist()], np.int64)
        self.directory_at = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self.directory = np.zeros(int(sizes.sum()), np.uint32)
        for start in range(length):
            width = int(self.widths[start])
            keys = np.zeros(n, np.uint64)
            for j in range(width):
                keys *= np.uint64(base)
                keys += self.codes[:, start + j].astype(np.uint64)
            # Key and position packed in one word: one plain sort gives the keys in order
            # and, among equal keys, the positions in list order.
            keys <<= np.uint64(position_bits)
            keys |= positions
            keys.sort()
            block = slice(start * n, (start + 1) * n)
            self.ids[block] = keys & np.uint64((1 << position_bits) - 1)
            keys >>= np.uint64(position_bits)
            self.keys[block] = keys
            d = int(self.depths[start])
            heads = (keys // np.uint64(base ** (width - d))).astype(np.int64)
            at = int(self.directory_at[start])
            np.cumsum(
                np.bincount(heads, minlength=base**d), out=self.directory[at + 1 : at + base**d + 1]
            )
            del keys, heads
        self.powers = np.array([base**k for k in range(self.window + 1)], np.int64)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        """Bytes of the index's arrays (codes, window tables and directories; not the serial
        strings)."""
        return int(self.codes.nbytes + self.keys.nbytes + self.ids.nbytes + self.directory.nbytes)

    def ranges(
        self,
        start: npt.NDArray[np.int64],
        prefix: npt.NDArray[np.int64],
        enumerated: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Where the keys beginning with ``prefix`` — the first ``enumerated`` characters
        of the window at ``start``, the first the most significant — lie in :attr:`keys`:
        ``[left, right)`` per prefix."""
        n = len(self)
        depth = self.depths[start]
        width = self.widths[start]
        base_at = start * n
        short = enumerated <= depth
        left = np.empty(len(prefix), np.int64)
        right = np.empty(len(prefix), np.int64)
        at = np.flatnonzero(short)
        if at.size:
            step = self.powers[depth[at] - enumerated[at]]
            head = self.directory_at[start[at]] + prefix[at] * step
            left[at] = self.directory[head].astype(np.int64) + base_at[at]
            right[at] = self.directory[head + step].astype(np.int64) + base_at[at]
        long = np.flatnonzero(~short)
        if long.size:
            # Longer prefixes: the directory gives the bucket of their first `depth`
            # characters; a small bucket is scanned, a large one (a list far from random)
            # searched.
            extra = enumerated[long] - depth[long]
            bucket = self.directory_at[start[long]] + prefix[long] // self.powers[extra]
            lo = self.directory[bucket].astype(np.int64) + base_at[long]
            hi = self.directory[bucket + 1].astype(np.int64) + base_at[long]
            span = self.powers[width[long] - enumerated[long]]
            key_lo = prefix[long] * span
            key_hi = key_lo + span
            size = hi - lo
            small = size <= _SCAN
            at = np.flatnonzero(small)
            counts = size[at]
            owner = np.repeat(np.arange(len(at)), counts)
            where = np.repeat(lo[at], counts) + (
                np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            )
            key = self.keys[where].astype(np.int64)
            below = np.bincount(owner, key < key_lo[at][owner], minlength=len(at))
            inside = np.bincount(
                owner, (key >= key_lo[at][owner]) & (key < key_hi[at][owner]), minlength=len(at)
            )
            left[long[at]] = lo[at] + below.astype(np.int64)
            right[long[at]] = left[long[at]] + inside.astype(np.int64)
            big = np.flatnonzero(~small)
            for i in big.tolist():
                table = self.keys[lo[i] : hi[i]]
                a = int(np.searchsorted(table, np.uint32(key_lo[i]), "left"))
                b = (
                    len(table)
                    if key_hi[i] > np.iinfo(np.uint32).max
                    else int(np.searchsorted(table, np.uint32(key_hi[i]), "left"))
                )
                left[long[i]] = lo[i] + a
                right[long[i]] = lo[i] + b
        return left, right


def _disjoint(used: BoolArray, size: int, cost: FloatArray) -> BoolArray:
    """Per row, of the windows ``used`` (``size`` positions from each start marked), the
    disjoint ones whose cheapest breaks add up most, chosen from the right with ties to
    leaving a start out — the reference's rule, the same sums in the same order."""
    rows, length = used.shape
    weight = np.full((rows, length), math.inf)
    for w in range(length - size + 1):
        weight[:, w] = cost[:, w : w + size].min(axis=1)
    best = np.zeros((rows, length + size + 1))
    for w in range(length - 1, -1, -1):
        take = weight[:, w] + best[:, w + size]
        best[:, w] = np.where(used[:, w] & (take > best[:, w + 1]), take, best[:, w + 1])
    chosen = np.zeros((rows, length), bool)
    at = np.zeros(rows, np.int64)
    for w in range(length):
        here = at == w
        take = weight[:, w] + best[:, w + size]
        pick = here & used[:, w] & (take > best[:, w + 1])
        chosen[pick, w] = True
        at = np.where(pick, w + size, np.where(here, w + 1, at))
    return chosen


def _hitting_cost(used: BoolArray, size: int, cost: FloatArray) -> FloatArray:
    """Per row, the least total ``cost`` of a set of positions that meets every window
    (``used[row, start]``: a window of ``size`` positions from ``start``); 0 without
    windows, inf when a window cannot be met — the reference's ``hitting_cost``, by the
    same recurrence over the last position chosen."""
    rows, length = cost.shape
    pos = np.arange(length)
    end = np.where(used, pos + size - 1, length + 1)
    # after[:, q + 1]: the least end of a window starting after q (q = -1: any window).
    after = np.full((rows, length + 1), length + 1, np.int64)
    for q in range(length - 2, -2, -1):
        after[:, q + 1] = np.minimum(after[:, q + 2], end[:, q + 1])
    best = np.full((rows, length), math.inf)
    for p in range(length):
        choice = np.where(after[:, 0] >= p, 0.0, math.inf)
        for q in range(p):
            choice = np.where(after[:, q + 1] >= p, np.minimum(choice, best[:, q]), choice)
        best[:, p] = cost[:, p] + choice
    has = used.any(axis=1)
    last_start = np.where(used, pos, -1).max(axis=1)
    answer = np.where(pos[None, :] >= last_start[:, None], best, math.inf).min(axis=1)
    result: FloatArray = np.where(has, answer, 0.0)
    return result


@dataclass
class _Reads:
    """The reads of one batch, in internal order (grouped by exhibit), and their rows."""

    reads: list[TagRead]
    exhibit: IntArray  # per read
    exhibits: list[str]
    state: list[str]  # ReadState per read
    torn: BoolArray  # per read
    ways: list[tuple[Alignment, ...] | None]  # None: the read's text is its one alignment
    templated: dict[int, tuple[str, npt.NDArray[np.int64], float]]  # read -> built lazily
    texts: list[str]  # cleaned text of complete reads of the serial's length
    row_read: IntArray  # per row: its read
    row_cols: npt.NDArray[np.int16]  # (rows, L) output columns, Matcher._absent if uncovered
    row_weight: FloatArray  # per row: log w_a
    row_start: IntArray  # per read: its first row (rows of unscored reads: none)
    row_count: IntArray  # per read
    scored: BoolArray  # per read
    top: FloatArray  # per read: ℓ̂ (-inf unscored)
    row_top: FloatArray  # per row: ℓ̂_a
    background: FloatArray  # per read: log L₀


@dataclass
class _Found:
    """Each scored read's candidates: edges (read, serial) with exact log L, and the bound
    on every other serial's log L."""

    read: IntArray
    serial: IntArray
    ll: FloatArray
    other_bound: FloatArray  # per read: the most log L of a serial it does not name
    certified: BoolArray  # per read: the search ruled out a missed serial beating its best


class Matcher:
    """Matches reads against a :class:`SerialIndex` under a confusion model and settings.

    Raises:
        ConfusionModelError: a model for another alphabet than the index's scheme.
    """

    def __init__(
        self,
        index: SerialIndex,
        model: ConfusionModel | None = None,
        settings: MatchSettings | None = None,
    ) -> None:
        scheme = index.scheme
        self.index = index
        self.model = model or ConfusionModel.default(scheme)
        self.model.check_scheme(scheme)
        self.settings = settings or MatchSettings()
        tables = PositionTables(self.model, scheme)
        self.tables = tables
        outputs = tables.outputs
        self._absent = len(outputs)
        self._unreadable = tables.output_index[UNREADABLE]
        self._skip = tables.output_index[SKIPPED]
        length, base = scheme.length, index.base
        table = np.zeros((len(outputs) + 1, base))
        table[: len(outputs)] = tables.log_table
        self._table = table
        self._flat = table.ravel()
        self._flat32 = np.maximum(self._flat, -1e30).astype(np.float32)
        self._table32 = self._flat32.reshape(table.shape)
        self._ones32 = np.ones(length, np.float32)

        def with_absent(
            values: npt.NDArray[np.generic], fill: float | bool | int
        ) -> npt.NDArray[Any]:
            out = np.empty((length, len(outputs) + 1), values.dtype)
            out[:, : len(outputs)] = values
            out[:, -1] = fill
            return out

        self._best = with_absent(tables.best, 0.0)
        self._mean = with_absent(tables.mean, 0.0)
        self._size = with_absent(tables.size, 0)
        self._wild = with_absent(tables.wild, True)
        self._break = with_absent(tables.break_cost, math.inf)
        widest = max(1, int(tables.size.max()))
        self._expansion = np.zeros((length, len(outputs) + 1, widest), np.int64)
        for p in range(length):
            for o, codes in enumerate(tables.expansion[p]):
                self._expansion[p, o, : len(codes)] = codes
        # Where a pair can never be written (no allowed character there is written so).
        self._impossible = {
            (p, o)
            for p in range(length)
            for o in outputs
            if len(o) == 2 and tables.best[p, tables.output_index[o]] == -math.inf
        }
        self._lengths = stage_lengths(scheme, len(index))
        self._prior = np.full((length, base), -math.inf)
        for p, allowed in enumerate(tables.allowed):
            self._prior[p, list(allowed)] = -tables.log_allowed[p]
        self._output_of = tables.output_index
        # Complete reads are encoded as "serials" over the read characters: length and
        # characters checked, each turned into its output column, all at once.
        read_characters = self.model.read_characters
        self._read_characters = SerialScheme(
            "read",
            alphabet=read_characters,
            length=length,
            type_letters={},
            check=False,
            aliases={},
        )

    # -- reads and their alignments ----------------------------------------------------
    def _prepare(self, reads: Sequence[TagRead]) -> _Reads:
        scheme = self.index.scheme
        length = scheme.length
        names: dict[str, int] = {}
        for read in reads:
            names.setdefault(read.exhibit, len(names))
        exhibit_of = np.array([names[r.exhibit] for r in reads], np.int64)
        order = np.argsort(exhibit_of, kind="stable")
        ordered = [reads[i] for i in order]
        cleaned = [r.text.translate(_SEPARATORS).upper() for r in ordered]
        n = len(ordered)
        plain = np.array([TORN not in t and len(t) == length for t in cleaned], bool)
        codes, encoded = self._read_characters.encode(
            [t if k else "" for t, k in zip(cleaned, plain, strict=True)]
        )
        plain &= encoded
        # The outputs begin with the read characters in order: a code is its column.
        columns = codes.astype(np.int16) if n else np.zeros((0, length), np.int16)
        state = [ReadState.SCORED] * n
        plain &= (columns != self._unreadable).any(axis=1)
        ways: list[tuple[Alignment, ...] | None] = [None] * n
        templated: dict[int, tuple[str, npt.NDArray[np.int64], float]] = {}
        torn = np.zeros(n, bool)
        counts = np.zeros(n, np.int64)
        counts[plain] = 1
        for i in np.flatnonzero(~plain).tolist():
            read = ordered[i]
            try:
                parsed = parse_read(read.text)
                for segment in parsed.segments:
                    for c in segment:
                        if c not in self._output_of:
                            raise ReadError(
                                f"read {read.text!r}: {c!r} is not a read character of the model"
                            )
            except ReadError as error:
                raise ReadError(f"exhibit {read.exhibit!r} tag {read.tag!r}: {error}") from None
            torn[i] = not parsed.complete
            if parsed.readable == 0:
                state[i] = ReadState.UNREADABLE
                continue
            made = self._template(parsed)
            if made is not None:
                templated[i] = made
                counts[i] = len(made[1])
                continue
            found = self._alignments(parsed)
            if not found:
                state[i] = ReadState.UNSCORABLE
                continue
            ways[i] = found
            counts[i] = len(found)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        rows = int(counts.sum())
        row_cols = np.full((rows, length), self._absent, np.int16)
        row_weight = np.zeros(rows)
        at = np.flatnonzero(plain)
        row_cols[starts[at]] = columns[at]
        for i, (chars, template, weight) in templated.items():
            written = np.array([self._output_of[c] for c in chars] + [self._skip, self._absent])
            block = slice(starts[i], starts[i] + len(template))
            row_cols[block] = written[template]
            row_weight[block] = weight
        for i, found in enumerate(ways):
            if found is None:
                continue
            for k, alignment in enumerate(found):
                for p, o in alignment.covered:
                    row_cols[starts[i] + k, p] = self._output_of[o]
                row_weight[starts[i] + k] = alignment.log_weight
        row_read = np.repeat(np.arange(n), counts)
        scored = counts > 0
        # ℓ̂_a and the background, summed position by position as the reference does.
        best_sum = np.zeros(rows)
        mean_sum = np.zeros(rows)
        for p in range(length):
            best_sum += self._best[p, row_cols[:, p]]
            mean_sum += self._mean[p, row_cols[:, p]]
        row_top = row_weight + best_sum
        top = np.full(n, -math.inf)
        background = np.full(n, -math.inf)
        if rows:
            first = starts[scored]
            top[scored] = np.maximum.reduceat(row_top, first)
            background[scored] = _segment_lse(row_weight + mean_sum, first, row_read, n)[scored]
        return _Reads(
            reads=ordered,
            exhibit=exhibit_of[order],
            exhibits=list(names),
            state=state,
            torn=torn,
            ways=ways,
            templated=templated,
            texts=[t if k else "" for t, k in zip(cleaned, plain, strict=True)],
            row_read=row_read,
            row_cols=row_cols,
            row_weight=row_weight,
            row_start=starts,
            row_count=counts,
            scored=scored,
            top=top,
            row_top=row_top,
            background=background,
        )

    def _template(self, read: AfidRead) -> tuple[str, npt.NDArray[np.int64], float] | None:
        """The alignments of a read that needs no inserted character, as rows of indices
        into its characters (then one past them: a skip; two past: not covered), in
        canonical order, with their common weight; ``None`` for any other read."""
        length = self.index.scheme.length
        chars = "".join(read.segments)
        known = len(chars)
        if known > length or (read.complete and length - known > MAX_EXTRA):
            return None
        if read.complete:
            template = _skip_template(length, known)
            return (chars, template, 0.0) if len(template) <= MAX_ALIGNMENTS else None
        lengths = tuple(len(s) for s in read.segments)
        starts = _segment_starts(lengths, read.starts_at_start, read.ends_at_end, length)
        if not 0 < len(starts) <= MAX_ALIGNMENTS:
            return None
        return chars, _placement_template(lengths, starts, length), -math.log(len(starts))

    def _alignments(self, read: AfidRead) -> tuple[Alignment, ...] | None:
        """The alignments of a read with characters too many (step 1: each inserted or the
        second of a pair), impossible ones left out; None when unscorable."""
        length = self.index.scheme.length
        extra = read.length - length
        if not 0 < extra <= MAX_EXTRA:
            return None  # what :meth:`_template` could not place cannot be scored
        found = _event_alignments(read, self.model, extra)
        if found is None:
            return None
        impossible = self._impossible
        possible = tuple(
            a
            for a in found
            if not impossible or not any(len(o) == 2 and (p, o) in impossible for p, o in a.covered)
        )
        return possible or None

    # -- the search (step 4) -----------------------------------------------------------
    def _search(self, prepared: _Reads) -> _Found:
        index = self.index
        n = len(index)
        n_reads = len(prepared.reads)
        top = prepared.top
        limit = np.where(
            prepared.scored, top - np.where(prepared.scored, prepared.background, 0.0), 0.0
        )
        active = prepared.scored.copy()
        cand_read: list[IntArray] = []
        cand_serial: list[IntArray] = []
        settled = np.zeros(n_reads)  # per read: every serial not named costs at least this
        certified = np.zeros(n_reads, bool)  # per read: nothing missed can beat what was found
        last_read = last_serial = np.zeros(0, np.int64)  # what the stage before would name
        for stage in range(len(STAGE_HITS)):
            last = stage == len(STAGE_HITS) - 1
            if not active.any():
                break
            rows = np.flatnonzero(active[prepared.row_read])
            cols = prepared.row_cols.take(rows, axis=0)
            w_row, w_left, w_right, guarantee = self._windows(cols, stage)
            row_of_read = prepared.row_read[rows]
            if stage:
                # A read whose windows would reach too much of the list keeps what the
                # stage before found.
                reach = np.bincount(row_of_read[w_row], w_right - w_left, minlength=n_reads)
                wide = active & (reach > READ_HITS)
                active &= ~wide
                keep = active[row_of_read[w_row]]
                w_row, w_left, w_right = w_row[keep], w_left[keep], w_right[keep]
                take = wide[last_read]
                cand_read.append(last_read[take])
                cand_serial.append(last_serial[take])

            per_read = np.full(n_reads, math.inf)
            np.minimum.at(
                per_read, row_of_read, guarantee + top[row_of_read] - prepared.row_top[rows]
            )
            local_row, pair_serial = self._hits(w_row, w_left, w_right)
            pair_row = rows[local_row]
            pair_read = prepared.row_read[pair_row]
            # Only what explains the read better than chance can be a candidate or change
            # the decision: the rest is dropped before anything is sorted — first by a
            # float32 sum (its rounding is far below the margin), then exactly.
            rough = prepared.row_weight[pair_row] + self._rough_scores(
                prepared, pair_row, pair_serial
            )
            keep = top[pair_read] - rough <= limit[pair_read] + _ROUGH_MARGIN
            pair_row, pair_read, pair_serial = pair_row[keep], pair_read[keep], pair_serial[keep]
            cost = top[pair_read] - self._row_scores(prepared, pair_row, pair_serial)
            keep = cost <= limit[pair_read]
            pair_read, pair_serial, cost = pair_read[keep], pair_serial[keep], cost[keep]
            # Each (read, serial) found once, at its least cost, in (read, serial) order.
            key = pair_read * n + pair_serial
            order = np.argsort(key)
            key, cost = key[order], cost[order]
            if len(key):
                first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
                key, cost = key[first], np.minimum.reduceat(cost, first)
            f_read, f_serial = key // n, key % n
            least = np.full(n_reads, math.inf)
            np.minimum.at(least, f_read, cost)
            certain = np.minimum(least, limit)
            bound = np.minimum(least + SPAN_NATS, limit)
            sure = certain + CERTAIN_NATS < per_read
            stands_out = least <= limit - math.log(n)
            conclusive = active & (sure | stands_out)
            done = conclusive | (active & last)
            # Each read's finds within bound cheapest first (a stable sort: ties stay in
            # serial order, to the serial listed first), so that the first MAX_CANDIDATES
            # are its candidates.
            near = np.flatnonzero(active[f_read] & (cost <= bound[f_read]))
            near = near[np.lexsort((cost[near], f_read[near]))]
            n_read = f_read[near]
            rank = np.arange(len(near)) - np.searchsorted(n_read, n_read, "left")
            named = np.zeros(len(key), bool)
            named[near[rank < MAX_CANDIDATES]] = True
            take = named & done[f_read]
            cand_read.append(f_read[take])
            cand_serial.append(f_serial[take])
            last_read, last_serial = f_read[named & ~take], f_serial[named & ~take]
            # What the stage guarantees of the serials a read does not name: a serial no
            # window found costs at least λ, one found but not named at least the cheapest
            # such, one found beyond D more than D.
            left_out = np.full(n_reads, math.inf)
            np.minimum.at(left_out, f_read[~named], cost[~named])
            settled[active] = np.minimum(np.minimum(per_read, left_out), limit)[active]
            certified[active] = sure[active]
            active &= ~done
        read = np.concatenate(cand_read) if cand_read else np.zeros(0, np.int64)
        serial = np.concatenate(cand_serial) if cand_serial else np.zeros(0, np.int64)
        order = np.lexsort((serial, read))
        read, serial = read[order], serial[order]
        ll = self._pair_log_likelihoods(prepared, read, serial)
        # Bound on log L(read | s) for a serial the read does not name (step 6's pruning,
        # step 7's serial missed): every alignment falls at least `settled` short of ℓ̂.
        cap = top[prepared.row_read] - settled[prepared.row_read]
        capped = np.minimum(prepared.row_top, cap)
        other_bound = np.full(n_reads, -math.inf)
        if len(capped):
            first_row = prepared.row_start[prepared.scored]
            other_bound[prepared.scored] = _segment_lse(
                capped, first_row, prepared.row_read, n_reads
            )[prepared.scored]
        return _Found(read, serial, ll, other_bound, certified)

    def _windows(
        self, cols: npt.NDArray[np.int16], stage: int
    ) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
        """Each row's windows at ``stage`` (step 4): at every start where the stage's
        length of positions is covered, the window's keys (each position's expansion; wild
        positions after the last constraint left to the range), used when they number at
        most ``STAGE_KEYS`` and reach at most ``STAGE_HITS`` listed serials.  Returns, per
        key of every window used, its row and ``[left, right)`` in the index's keys; and
        per row the least cost that breaks every window used (the hitting set)."""
        index = self.index
        length = index.scheme.length
        size = self._lengths[stage]
        most, cap = STAGE_KEYS[stage], STAGE_HITS[stage]
        rows = len(cols)
        pos = np.arange(length)
        covered = cols != self._absent
        wild = self._wild[pos, cols]
        sizes = self._size[pos, cols]
        used = np.zeros((rows, length), bool)
        parts: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []
        for start in range(length - size + 1):
            span = slice(start, start + size)
            ok = covered[:, span].all(axis=1)
            # Keys: every position up to the last constrained one.
            constrained = ~wild[:, span]
            last = np.where(
                constrained.any(axis=1), size - 1 - np.argmax(constrained[:, ::-1], axis=1), -1
            )
            keys = np.ones(rows, np.int64)
            for j in range(size):
                keys = np.where(j <= last, np.minimum(keys * sizes[:, start + j], most + 1), keys)
            live = np.flatnonzero(ok & (keys <= most))
            if not live.size:
                continue
            owner = np.arange(len(live))
            prefix = np.zeros(len(live), np.int64)
            depth = last[live]
            for j in range(int(depth.max()) + 1):
                add = (j <= depth)[owner]
                o = cols[live[owner], start + j].astype(np.int64)
                per = np.where(add, self._size[start + j, o], 1)
                local = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
                code = self._expansion[start + j, np.repeat(o, per), local]
                prefix = np.repeat(prefix, per)
                prefix = np.where(np.repeat(add, per), prefix * index.base + code, prefix)
                owner = np.repeat(owner, per)
            left, right = index.ranges(
                np.full(len(owner), start, np.int64), prefix, depth[owner] + 1
            )
            hits = np.bincount(owner, right - left, minlength=len(live))
            good = hits <= cap
            used[live[good], start] = True
            pick = good[owner]
            parts.append(
                (
                    live[owner[pick]].astype(np.int64),
                    np.full(int(pick.sum()), start, np.int64),
                    left[pick],
                    right[pick],
                )
            )
        cost = np.where(covered, self._break[pos, cols], math.inf)
        if stage > 0:
            used = _disjoint(used, size, cost)
        guarantee = _hitting_cost(used, size, cost)
        if not parts:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, guarantee
        row, start_of, left, right = (np.concatenate(x) for x in zip(*parts, strict=True))
        keep = used[row, start_of]
        return row[keep], left[keep], right[keep], guarantee

    def _hits(self, row: IntArray, left: IntArray, right: IntArray) -> tuple[IntArray, IntArray]:
        """The (row, serial) pairs in the ranges of :meth:`_windows` (a serial found by two
        windows of a row comes twice)."""
        counts = right - left
        keep = np.flatnonzero(counts)
        if not keep.size:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        row, left, counts = row[keep], left[keep], counts[keep]
        positions = np.repeat(left - (np.cumsum(counts) - counts), counts) + np.arange(
            int(counts.sum())
        )
        return np.repeat(row, counts), self.index.ids[positions].astype(np.int64)

    def _rough_scores(self, prepared: _Reads, rows: IntArray, serials: IntArray) -> FloatArray:
        """Σ T[o, s_p] in float32, summed in any order: a filter (within
        :data:`_ROUGH_MARGIN` of the exact sum), never a score."""
        base = self.index.base
        out = np.empty(len(rows))
        for begin in range(0, len(rows), _CHUNK):
            end = min(begin + _CHUNK, len(rows))
            # ``take`` along the first axis: a plain gather of whole rows, several times
            # faster than the general fancy index.
            index = prepared.row_cols.take(rows[begin:end], axis=0).astype(np.int32)
            index *= base
            index += self.index.codes.take(serials[begin:end], axis=0)
            out[begin:end] = self._flat32[index] @ self._ones32
        return out

    def _row_scores(self, prepared: _Reads, rows: IntArray, serials: IntArray) -> FloatArray:
        """ℓ_a(s) = log w_a + Σ T[o, s_p], position by position as the reference sums."""
        base = self.index.base
        length = self.index.scheme.length
        out = np.empty(len(rows))
        for begin in range(0, len(rows), _CHUNK):
            end = min(begin + _CHUNK, len(rows))
            r, s = rows[begin:end], serials[begin:end]
            index = prepared.row_cols.take(r, axis=0).astype(np.int32)
            index *= base
            index += self.index.codes.take(s, axis=0)
            values = self._flat.take(index.T)  # (L, pairs): each position contiguous
            acc = np.zeros(end - begin)
            for p in range(length):
                acc += values[p]
            out[begin:end] = prepared.row_weight[r] + acc
        return out

    def _rough_totals(
        self,
        prepared: _Reads,
        reads: IntArray,
        owner: IntArray,
        weights: FloatArray,
        serials: IntArray,
    ) -> Iterator[tuple[int, int, FloatArray]]:
        """A filter's ``Σ weight · log L(read | serial)`` over the reads of each owner
        (``owner``: non-decreasing, ``0 … k − 1``), for every serial: each alignment's
        ``Σ T[o, s_p]`` in float32 by one matrix product (a one-hot serial picks each
        position's column), the alignments' log-sum-exp, the owner's weighted sum.  At least
        the exact total minus ``_ROUGH_MARGIN`` per read; never a score.  Yields
        ``(lo, hi, totals)`` for the serials ``serials[lo:hi]``, ``totals`` of shape
        ``(k, hi − lo)``, in slices of at most about ``_MATRIX_CELLS`` cells."""
        length, base = self.index.scheme.length, self.index.base
        n_owner = int(owner[-1]) + 1 if len(owner) else 0
        width = max(1, min(len(serials), _MATRIX_CELLS // max(1, n_owner), 1 << 14))
        row_count = prepared.row_count[reads]
        for lo in range(0, len(serials), width):
            hi = min(lo + width, len(serials))
            onehot = np.zeros((length * base, hi - lo), np.float32)
            codes = self.index.codes.take(serials[lo:hi], axis=0).astype(np.int64)
            onehot[np.arange(length) * base + codes, np.arange(hi - lo)[:, None]] = 1.0
            totals = np.zeros((n_owner, hi - lo))
            per_slice = max(1, _MATRIX_CELLS // (hi - lo))
            ends = np.cumsum(row_count)
            start = 0
            while start < len(reads):
                reach = ends[start] - row_count[start] + per_slice
                stop = max(start + 1, int(np.searchsorted(ends, reach, "right")))
                counts = row_count[start:stop]
                which = np.repeat(np.arange(stop - start), counts)
                local = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
                rows = prepared.row_start[reads[start:stop]][which] + local
                table = self._table32.take(prepared.row_cols.take(rows, axis=0), axis=0).reshape(
                    len(rows), length * base
                )
                scores = table @ onehot
                scores += prepared.row_weight[rows].astype(np.float32)[:, None]
                if len(rows) == stop - start:  # one alignment a read
                    lls = scores.astype(np.float64)
                else:
                    first = np.cumsum(counts) - counts
                    top = np.maximum.reduceat(scores, first, axis=0)
                    spread = np.add.reduceat(np.exp(scores - top[which]), first, axis=0)
                    lls = top.astype(np.float64) + np.log(spread.astype(np.float64))
                lls *= weights[start:stop, None]
                mine = owner[start:stop]
                runs = np.flatnonzero(np.r_[True, mine[1:] != mine[:-1]])
                totals[mine[runs]] += np.add.reduceat(lls, runs, axis=0)
                start = stop
            yield lo, hi, totals

    def _pair_log_likelihoods(
        self, prepared: _Reads, read: IntArray, serial: IntArray
    ) -> FloatArray:
        """log L(read | serial) for each pair: the sum over the read's alignments."""
        if not len(read):
            return np.zeros(0)
        counts = prepared.row_count[read]
        owner = np.repeat(np.arange(len(read)), counts)
        local = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = prepared.row_start[read][owner] + local
        scores = self._row_scores(prepared, rows, serial[owner])
        starts = np.cumsum(counts) - counts
        return _segment_lse(scores, starts, owner, len(read))

    # -- the query -----------------------------------------------------------------------
    def match(self, reads: Sequence[TagRead], *, workers: int = 1) -> list[MatchRow]:
        """Match ``reads`` (any number of exhibits): rows exhibit by exhibit in order of
        first appearance, groups in the order formed, the reads nothing explains last —
        exactly as :func:`taserlink.forensics.reference.reference_match_reads`.

        Exhibits are independent, so they are matched in batches of at most
        :data:`BATCH_READS` reads (an exhibit larger than that alone): memory stays
        bounded however many reads are given.  With ``workers`` > 1 the batches are
        smaller (:data:`WORKER_BATCHES`) and matched by that many threads at once (numpy
        releases the interpreter's lock in its array work); the rows are the same, in the
        same order, whatever ``workers``.

        Raises:
            ReadError: a read not in the notation, or with a character the model has no
                column for (naming its exhibit and tag).
            MatchError: an exhibit of more than
                :data:`~taserlink.forensics.scoring.MAX_EXHIBIT_READS` reads, or
                ``workers`` < 1.
        """
        if workers < 1:
            raise MatchError(f"workers = {workers!r}: at least 1")
        by_exhibit: dict[str, list[TagRead]] = {}
        for read in reads:
            by_exhibit.setdefault(read.exhibit, []).append(read)
        check_exhibit_sizes(by_exhibit)
        size = BATCH_READS
        if workers > 1:
            share = -(-len(reads) // (workers * WORKER_BATCHES))
            size = min(BATCH_READS, max(MIN_WORKER_BATCH, share))
        batches: list[list[TagRead]] = [[]]
        for members in by_exhibit.values():
            if batches[-1] and len(batches[-1]) + len(members) > size:
                batches.append([])
            batches[-1].extend(members)
        if workers == 1 or len(batches) == 1:
            return [row for batch in batches if batch for row in self._match_batch(batch)]
        with ThreadPoolExecutor(min(workers, len(batches))) as pool:
            return [row for rows in pool.map(self._match_batch, batches) for row in rows]

    def _match_batch(self, reads: Sequence[TagRead]) -> list[MatchRow]:
        prepared = self._prepare(reads)
        found = self._anchored(prepared, self._search(prepared))
        grouping = _Grouping(self, prepared, found)
        return grouping.rows()

    def _anchored(self, prepared: _Reads, found: _Found) -> _Found:
        """Step 5's anchors: the best candidates of the reads that stand out from the list;
        every other read of the exhibit takes those that explain it better than chance."""
        n = len(self.index)
        n_reads = len(prepared.reads)
        read, serial, ll = found.read, found.serial, found.ll
        if not len(read):
            return found
        best = np.full(n_reads, -np.inf)
        np.maximum.at(best, read, ll)
        pick, _ = _pick(read, serial, ll, n_reads, None)
        evidence = np.where(np.isfinite(best), best, 0.0) - np.where(
            prepared.scored, prepared.background, 0.0
        )
        strong = np.isfinite(best) & (evidence >= math.log(n))
        strong_reads = np.flatnonzero(strong)
        if not strong_reads.size:
            return found
        anchor_key = np.unique(prepared.exhibit[strong_reads] * n + pick[strong_reads])
        weak = np.flatnonzero(prepared.scored & ~strong)
        if not weak.size:
            return found
        # Pair every weak read with every anchor of its exhibit; in an exhibit of many of
        # both, a float32 product first leaves out the pairs that cannot explain the read
        # better than chance.
        exhibit_of_anchor = anchor_key // n
        anchors_of = np.bincount(exhibit_of_anchor, minlength=len(prepared.exhibits))
        weak_of = np.bincount(prepared.exhibit[weak], minlength=len(prepared.exhibits))
        large = weak_of * anchors_of > MATRIX_PAIRS
        small = weak[~large[prepared.exhibit[weak]]]
        lo = np.searchsorted(exhibit_of_anchor, prepared.exhibit[small], "left")
        hi = np.searchsorted(exhibit_of_anchor, prepared.exhibit[small], "right")
        counts = hi - lo
        owner = np.repeat(np.arange(len(small)), counts)
        local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        pairs_read = [small[owner]]
        pairs_serial = [anchor_key[lo[owner] + local] % n]
        for e in np.flatnonzero(large).tolist():
            these = weak[prepared.exhibit[weak] == e]
            anchors = anchor_key[exhibit_of_anchor == e] % n
            floor = prepared.background[these][:, None] - _ROUGH_MARGIN
            ones = np.ones(len(these))
            for begin, _, rough in self._rough_totals(
                prepared, these, np.arange(len(these)), ones, anchors
            ):
                at_read, at_anchor = np.nonzero(rough > floor)
                pairs_read.append(these[at_read])
                pairs_serial.append(anchors[begin + at_anchor])
        pair_read, pair_serial = np.concatenate(pairs_read), np.concatenate(pairs_serial)
        have = np.isin(pair_read * n + pair_serial, read * n + serial)
        pair_read, pair_serial = pair_read[~have], pair_serial[~have]
        pair_ll = self._pair_log_likelihoods(prepared, pair_read, pair_serial)
        good = pair_ll > prepared.background[pair_read]
        all_read = np.concatenate([read, pair_read[good]])
        all_serial = np.concatenate([serial, pair_serial[good]])
        all_ll = np.concatenate([ll, pair_ll[good]])
        order = np.lexsort((all_serial, all_read))
        return _Found(
            all_read[order], all_serial[order], all_ll[order], found.other_bound, found.certified
        )

    # -- step 7 ----------------------------------------------------------------------------
    def _background(self, prepared: _Reads, members: list[int]) -> float:
        """log B(G) for the scored, weighed ``members`` (reads), by the combination sum of
        step 7 (exact while small; beyond, bounded from above)."""
        length, base = self.index.scheme.length, self.index.base
        table = self._table
        weight = [prepared.reads[r].confidence for r in members]
        single = [k for k, r in enumerate(members) if prepared.row_count[r] == 1]
        several = sorted(
            (k for k, r in enumerate(members) if prepared.row_count[r] > 1),
            key=lambda k: int(prepared.row_count[members[k]]),
        )
        profile = self._prior.copy()[None]  # (combinations, L, base)
        log_w = np.zeros(1)
        for k in single:
            row = int(prepared.row_start[members[k]])
            cols = prepared.row_cols[row]
            profile = profile + weight[k] * table[cols][None]
            log_w = log_w + weight[k] * prepared.row_weight[row]
        for k in several:
            r = members[k]
            m = int(prepared.row_count[r])
            if len(log_w) * m > MIX_EXACT:
                log_w, profile = _reduce(log_w, profile, max(1, min(MIX_KEEP, MIX_EXACT // m - 1)))
            rows = np.arange(prepared.row_start[r], prepared.row_start[r] + m)
            add = weight[k] * table[prepared.row_cols[rows]]  # (m, L, base)
            profile = (profile[:, None] + add[None]).reshape(-1, length, base)
            log_w = (log_w[:, None] + weight[k] * prepared.row_weight[rows][None]).ravel()
        return _log_sum_exp(_masses(log_w, profile))


def _masses(log_w: FloatArray, profile: FloatArray) -> FloatArray:
    top = profile.max(axis=2, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        per = np.log(np.exp(profile - safe).sum(axis=2)) + safe[..., 0]
    result: FloatArray = log_w + per.sum(axis=1)
    return result


def _reduce(log_w: FloatArray, profile: FloatArray, keep: int) -> tuple[FloatArray, FloatArray]:
    """Keep the ``keep`` largest combinations within MIX_SPAN of the largest (ranked by
    mass rounded to MASS_QUANTUM, then by the order they were made); leave out the rest."""
    masses = _masses(log_w, profile)
    top = float(masses.max())
    ranked = np.lexsort((np.arange(len(masses)), -np.round(masses / MASS_QUANTUM)))
    chosen = ranked[:keep]
    chosen = np.sort(chosen[masses[chosen] >= top - MIX_SPAN])
    return log_w[chosen], profile[chosen]


def _log_sum_exp(values: FloatArray) -> float:
    finite = values[values > -math.inf]
    if not finite.size:
        return -math.inf
    top = float(finite.max())
    return top + math.log(float(np.exp(finite - top).sum()))


def _segment_lse(values: FloatArray, starts: IntArray, owner: IntArray, n: int) -> FloatArray:
    """log Σ exp over consecutive segments (``starts`` of each segment; ``owner`` of each
    value, a segment number ``< n``); -inf for empty and all -inf segments."""
    out = np.full(n, -math.inf)
    if not len(values):
        return out
    seg = np.zeros(len(values), np.int64)
    seg[starts[1:]] = 1 if len(starts) > 1 else 0
    seg = np.cumsum(seg) if len(starts) > 1 else seg
    top = np.maximum.reduceat(values, starts)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        total = np.log(np.add.reduceat(np.exp(values - safe[seg]), starts)) + safe
    total = np.where(np.isfinite(top), total, -math.inf)
    out[owner[starts]] = total
    return out


# -- alignments, the fast path's own enumeration --------------------------------------------


@functools.lru_cache(maxsize=1024)
def _segment_starts(
    lengths: tuple[int, ...], at_start: bool, at_end: bool, length: int
) -> npt.NDArray[np.int64]:
    """Where each segment starts in every placement, ``(placements, segments)``: the free
    characters shared out among the gaps that may hold some (stars and bars), in
    lexicographic order of the positions — the canonical order."""
    free = length - sum(lengths)
    gaps = len(lengths) + 1
    fixed = ({0} if at_start else set()) | ({gaps - 1} if at_end else set())
    open_gaps = [g for g in range(gaps) if g not in fixed]
    if free < 0:
        shares: list[tuple[int, ...]] = []
    elif not open_gaps:
        shares = [()] if free == 0 else []
    else:
        k = len(open_gaps)
        shares = []
        for bars in itertools.combinations(range(free + k - 1), k - 1):
            edges = (-1, *bars, free + k - 1)
            shares.append(tuple(edges[i + 1] - edges[i] - 1 for i in range(k)))
            if len(shares) > MAX_ALIGNMENTS:
                break
    starts = np.zeros((len(shares), len(lengths)), np.int64)
    for row, share in enumerate(shares):
        gap = [0] * gaps
        for g, amount in zip(open_gaps, share, strict=True):
            gap[g] = amount
        position = gap[0]
        for k, size in enumerate(lengths):
            starts[row, k] = position
            position += size + gap[k + 1]
    starts.setflags(write=False)
    return starts


@functools.lru_cache(maxsize=64)
def _skip_template(length: int, known: int) -> npt.NDArray[np.int64]:
    """The skips of a complete read of ``known < length`` characters as rows of indices
    into its characters (``known``: skipped), skipped positions in combination order — the
    canonical order (a skip, written "", sorts before any character)."""
    rows = []
    for skipped in itertools.combinations(range(length), length - known):
        row, k = [], 0
        for p in range(length):
            if p in skipped:
                row.append(known)
            else:
                row.append(k)
                k += 1
        rows.append(row)
        if len(rows) > MAX_ALIGNMENTS:
            break
    table = np.array(rows, np.int64).reshape(-1, length)
    table.setflags(write=False)
    return table


def _placement_template(
    lengths: tuple[int, ...], starts: npt.NDArray[np.int64], length: int
) -> npt.NDArray[np.int64]:
    """Placements of pieces as rows of indices into the read's characters (``sum(lengths)
    + 1``: not covered)."""
    known = sum(lengths)
    rows = np.full((len(starts), length), known + 1, np.int64)
    offset = 0
    for k, size in enumerate(lengths):
        rows[np.arange(len(starts))[:, None], starts[:, k, None] + np.arange(size)] = (
            offset + np.arange(size)
        )
        offset += size
    return rows


def _from_template(
    chars: str, template: npt.NDArray[np.int64], weight: float
) -> tuple[Alignment, ...]:
    """The Alignment objects a template stands for (for an explanation)."""
    known = len(chars)
    out = []
    for row in template.tolist():
        covered = tuple(
            (p, chars[i] if i < known else SKIPPED) for p, i in enumerate(row) if i <= known
        )
        out.append(Alignment(covered, (), weight))
    return tuple(out)


def _event_alignments(
    read: AfidRead, model: ConfusionModel, extra: int
) -> tuple[Alignment, ...] | None:
    """Alignments of a read ``extra`` characters too long: which of its characters are
    extra, each inserted (never a ``?``, at most one a gap) or the second of a pair."""
    found: list[Alignment] = []
    pairs = {written for _, written, _ in model.pairs}
    chars: list[str] = []
    segment_of: list[int] = []
    for k, segment in enumerate(read.segments):
        chars.extend(segment)
        segment_of.extend([k] * len(segment))
    weight = model.insertion_log_weight
    for chosen in itertools.combinations(range(len(chars)), extra):
        # Each chosen character is inserted (never a "?": an extra character is a legible
        # one), or (when it can be) the second of a pair.
        options = []
        for j in chosen:
            kinds: list[str] = ["insert"] if chars[j] != UNREADABLE else []
            if (
                j > 0
                and j - 1 not in chosen
                and segment_of[j - 1] == segment_of[j]
                and chars[j - 1] + chars[j] in pairs
            ):
                kinds.append("pair")
            options.append(kinds)
        for choice in itertools.product(*options):
            role = dict(zip(chosen, choice, strict=True))
            covered: list[tuple[int, str]] = []
            inserted: list[tuple[int, str]] = []
            p = 0
            for j, c in enumerate(chars):
                if role.get(j) == "insert":
                    inserted.append((p, c))
                elif role.get(j) == "pair":
                    continue
                elif role.get(j + 1) == "pair":
                    covered.append((p, c + chars[j + 1]))
                    p += 1
                else:
                    covered.append((p, c))
                    p += 1
            if len({g for g, _ in inserted}) < len(inserted):
                continue  # at most one inserted character a gap
            found.append(Alignment(tuple(covered), tuple(inserted), len(inserted) * weight))
            if len(found) > MAX_ALIGNMENTS:
                return None
    return tuple(sorted(found, key=lambda a: a.key))


# -- steps 5 to 8 --------------------------------------------------------------------------


@dataclass
class _Stats:
    """Per group (step 6 and 7's parts that numpy does for all groups at once)."""

    kept: IntArray  # number of kept serials
    log_sum: FloatArray  # log Σ exp T over the kept serials
    first: IntArray  # best serial (-1: none)
    first_total: FloatArray
    second: IntArray  # runner-up (-1: none)
    second_total: FloatArray
    k_group: IntArray  # every kept (group, serial, total), by group
    k_serial: IntArray
    k_total: FloatArray


class _Grouping:
    """Grouping, the groups' serials and backgrounds, posteriors and rows for one batch."""

    def __init__(self, matcher: Matcher, prepared: _Reads, found: _Found) -> None:
        self.m = matcher
        self.p = prepared
        self.f = found
        self.weight = np.array([r.confidence for r in prepared.reads])
        self.weighed = prepared.scored & (self.weight > 0)

    def rows(self) -> list[MatchRow]:
        m, p, f = self.m, self.p, self.f
        settings = m.settings
        n = len(m.index)
        n_reads = len(p.reads)
        weight = self.weight
        e_read, e_serial, e_ll = f.read, f.serial, f.ll
        best = np.full(n_reads, -math.inf)
        np.maximum.at(best, e_read, e_ll)
        delta = math.log(settings.grouping_factor)
        term = weight[e_read] * (e_ll - p.background[e_read])
        near = e_ll >= best[e_read] - delta - TIE_TOLERANCE
        joins = e_ll >= best[e_read] - max(delta, math.log(n)) - TIE_TOLERANCE
        better = term > TIE_TOLERANCE
        # (exhibit, serial) nodes of the read–candidate graph.
        ec_keys, e_ec = np.unique(p.exhibit[e_read] * n + e_serial, return_inverse=True)
        e_ec = e_ec.astype(np.int64)
        ec_serial = ec_keys % n
        ec_exhibit = ec_keys // n
        group_of, group_exhibit = _form_groups(
            e_read, e_ec, ec_exhibit, ec_serial, term, near & better, joins & better, n_reads
        )
        n_formed = len(group_exhibit)
        left = np.unique(p.exhibit[group_of < 0])
        leftover_id = np.full(len(p.exhibits), -1, np.int64)
        leftover_id[left] = n_formed + np.arange(len(left))
        group_of = np.where(group_of < 0, leftover_id[p.exhibit], group_of)
        group_exhibit.extend(left.tolist())
        stats: _Stats | None = None
        changed: BoolArray | None = None  # the groups whose reads changed since `stats`
        while True:
            # Groups of one exhibit naming the same serial are merged, the later into the
            # earlier.
            while True:
                stats = self._stats(group_of, len(group_exhibit), stats, changed)
                alive = np.zeros(len(group_exhibit), bool)
                alive[group_of] = True
                seen: dict[tuple[int, int], int] = {}
                merge: tuple[int, int] | None = None
                for g in range(n_formed):
                    if not alive[g] or stats.first[g] < 0:
                        continue
                    key = (group_exhibit[g], int(stats.first[g]))
                    if key in seen:
                        merge = (seen[key], g)
                        break
                    seen[key] = g
                if merge is None:
                    break
                group_of[group_of == merge[1]] = merge[0]
                changed = np.zeros(len(group_exhibit), bool)
                changed[list(merge)] = True
            changed = self._rejoin(group_of, n_formed, group_exhibit, stats, term, joins & better)
            if changed is None:
                break
        members_of: dict[int, list[int]] = {}
        for r, g in enumerate(group_of.tolist()):
            members_of.setdefault(g, []).append(r)
        # B(G) is at least the kept serials' own share of it: a random serial is each of
        # them with probability Π 1/|allowed|.
        floor = stats.log_sum - sum(m.tables.log_allowed)
        background = np.maximum(self._backgrounds(group_of, members_of, stats), floor)
        log_prior = math.log((1 - settings.p_outside) / n)
        log_other = (
            np.log(settings.p_outside + (1 - settings.p_outside) * (n - stats.kept) / n)
            + background
        )
        # When no read's search is certified, a listed serial they could all have missed
        # competes too: on each read as likely as the read's bound allows, but never more
        # than the group's best serial (so a read that cannot bound its search adds nothing
        # against the best, and reads of the best cannot make it gain on it).
        weighed = np.flatnonzero(self.weighed)
        has = stats.first >= 0
        sure = np.zeros(len(group_exhibit), bool)
        sure[group_of[weighed[f.certified[weighed]]]] = True
        unsure = weighed[~sure[group_of[weighed]] & has[group_of[weighed]]]
        best_ll = m._pair_log_likelihoods(p, unsure, stats.first[group_of[unsure]])
        log_missed = log_prior + np.bincount(
            group_of[unsure],
            self.weight[unsure] * np.minimum(f.other_bound[unsure], best_ll),
            minlength=len(group_exhibit),
        )
        log_missed = np.where(sure | ~has, -np.inf, log_missed)
        z = np.where(has, np.logaddexp(stats.log_sum + log_prior, log_other), log_other)
        z = np.where(has, np.logaddexp(z, log_missed), z)
        other = np.exp(log_other - z)
        missed_share = np.where(has, np.exp(log_missed - z), 0.0)
        p1 = np.exp(stats.first_total + log_prior - z)
        p2 = np.exp(stats.second_total + log_prior - z)
        serials = m.index.serials
        length = m.index.scheme.length
        exhibit_of_group = [int(e) for e in group_exhibit]
        best_two_of = {
            g: [
                (int(choice[g]), float(score[g]))
                for choice, score in ((stats.first, p1), (stats.second, p2))
                if choice[g] >= 0
            ]
            for g in members_of
        }
        # The exhibit's cartridges — the best serials of its established groups — are a
        # priori the source of any tag of it: in every other group of the exhibit they
        # compete with prior 1 − p_outside, not (1 − p_outside)/N.
        established = self._established(group_of, n_formed, stats)
        rivals = self._rivals(group_of, group_exhibit, established, stats, log_prior)
        cartridges_of: dict[int, set[int]] = {}
        for g in np.flatnonzero(established).tolist():
            cartridges_of.setdefault(exhibit_of_group[g], set()).add(int(stats.first[g]))
        for g, found in rivals.items():
            own = {int(stats.first[g])} if established[g] else set()
            best_two_of[g], other[g], missed_share[g] = self._with_cartridges(
                g,
                stats,
                found,
                cartridges_of[exhibit_of_group[g]] - own,
                float(log_other[g]),
                float(log_missed[g]),
                log_prior,
            )
        rows: list[MatchRow] = []
        order = sorted(members_of, key=lambda g: (exhibit_of_group[g], g))
        for g in order:
            best_two = [(str(serials[s]), score) for s, score in best_two_of[g]]
            rows.append(
                build_row(
                    p.exhibits[group_exhibit[g]],
                    [self._summary(r) for r in members_of[g]],
                    best_two,
                    float(other[g]),
                    g >= n_formed,
                    settings,
                    length,
                    float(missed_share[g]),
                )
            )
        return rows

    def _rejoin(
        self,
        group_of: IntArray,
        n_formed: int,
        group_exhibit: list[int],
        stats: _Stats,
        term: FloatArray,
        may_join: BoolArray,
    ) -> BoolArray | None:
        """Step 5's last part: each read alone in its group, or in none, joins the
        established group of its exhibit whose best or runner-up serial it has the most
        evidence for (``term``, over its candidates; ``may_join`` as when a group is
        formed), ties to the group formed first.  The groups any read left or joined, or
        ``None`` when none moved."""
        m, p, f = self.m, self.p, self.f
        n = len(m.index)
        weighed = np.flatnonzero(self.weighed)
        size = np.bincount(group_of[weighed], minlength=len(group_exhibit))
        alone = (group_of >= n_formed) | (size[group_of] == 1)
        edge = np.flatnonzero(may_join & alone[f.read])
        formed = np.flatnonzero(self._established(group_of, n_formed, stats))
        if not edge.size or not formed.size:
            return None
        seconds = formed[stats.second[formed] >= 0]
        opt_group = np.concatenate([formed, seconds])
        opt_serial = np.concatenate([stats.first[formed], stats.second[seconds]])
        exhibit_of = np.array(group_exhibit, np.int64)
        opt_key = exhibit_of[opt_group] * n + opt_serial
        order = np.lexsort((opt_group, opt_key))
        opt_key, opt_group = opt_key[order], opt_group[order]
        want = p.exhibit[f.read[edge]] * n + f.serial[edge]
        lo = np.searchsorted(opt_key, want, "left")
        counts = np.searchsorted(opt_key, want, "right") - lo
        if not counts.any():
            return None
        owner = np.repeat(np.arange(len(edge)), counts)
        local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        group = opt_group[lo[owner] + local]
        read = f.read[edge[owner]]
        gain = term[edge[owner]]
        top = np.full(len(group_of), -math.inf)
        np.maximum.at(top, read, gain)
        choose = gain >= top[read] - TIE_TOLERANCE
        pick = np.full(len(group_of), _NO, np.int64)
        np.minimum.at(pick, read[choose], group[choose])
        moving = np.flatnonzero(pick != _NO)
        if not moving.size:
            return None
        changed = np.zeros(len(group_exhibit), bool)
        changed[group_of[moving]] = True
        changed[pick[moving]] = True
        group_of[moving] = pick[moving]
        return changed

    def _established(self, group_of: IntArray, n_formed: int, stats: _Stats) -> BoolArray:
        """Per group: whether it establishes a cartridge of its exhibit — a formed group of
        two weighed reads or more whose evidence for its best serial,
        ``T_best − Σ c·log L₀``, is at least ``log N``."""
        weighed = np.flatnonzero(self.weighed)
        n_groups = len(stats.kept)
        size = np.bincount(group_of[weighed], minlength=n_groups)
        chance = np.bincount(
            group_of[weighed], self.weight[weighed] * self.p.background[weighed], minlength=n_groups
        )
        evidence = np.where(stats.first >= 0, stats.first_total - chance, -math.inf)
        out = (size >= 2) & (evidence >= math.log(len(self.m.index)))
        out[n_formed:] = False
        return out

    def _rivals(
        self,
        group_of: IntArray,
        group_exhibit: list[int],
        established: BoolArray,
        stats: _Stats,
        log_prior: float,
    ) -> dict[int, list[tuple[int, float]]]:
        """Step 7's cartridges of the exhibit: for each group with a kept serial, the best
        serials of the exhibit's other established groups whose prior × likelihood is
        within ``RIVAL_SPAN`` of its best serial's, with their totals.  Each pair is first
        bounded from above — in an exhibit of many groups and cartridges by one float32
        matrix product over all its reads, otherwise by the group's most telling read
        exactly and each other read at most ``ℓ̂`` plus the log of its number of
        alignments — then totalled exactly where the bound leaves it in."""
        p = self.p
        n_groups = len(stats.kept)
        exhibit_of = np.array(group_exhibit, np.int64)
        cart = np.flatnonzero(established)
        if not cart.size:
            return {}
        cart = cart[np.lexsort((cart, exhibit_of[cart]))]
        cart_exhibit = exhibit_of[cart]
        alive = np.bincount(group_of, minlength=n_groups) > 0
        groups = np.flatnonzero((stats.first >= 0) & alive)
        lo = np.searchsorted(cart_exhibit, exhibit_of[groups], "left")
        counts = np.searchsorted(cart_exhibit, exhibit_of[groups], "right") - lo
        log_cartridge_prior = math.log(1 - self.m.settings.p_outside)
        # The least total a cartridge needs in each group.
        least = log_prior + stats.first_total - RIVAL_SPAN - log_cartridge_prior
        groups_of = np.bincount(exhibit_of[groups], minlength=int(exhibit_of.max()) + 1)
        carts_of = np.bincount(cart_exhibit, minlength=len(groups_of))
        large = groups_of * carts_of > MATRIX_PAIRS
        weighed = np.flatnonzero(self.weighed)
        found_group: list[IntArray] = []
        found_serial: list[IntArray] = []
        # Small exhibits: the most telling read exactly, the others at their ceiling.
        few = ~large[exhibit_of[groups]]
        owner = np.repeat(np.flatnonzero(few), counts[few])
        local = np.arange(len(owner)) - np.repeat(np.cumsum(counts[few]) - counts[few], counts[few])
        pair_group = groups[owner]
        pair_cart = cart[lo[owner] + local]
        keep = pair_cart != pair_group
        pair_group, pair_serial = pair_group[keep], stats.first[pair_cart[keep]]
        if pair_group.size:
            ceiling = np.zeros(len(group_of))
            ceiling[weighed] = self.weight[weighed] * (
                p.top[weighed] + np.log(p.row_count[weighed])
            )
            telling_first = np.lexsort(
                (weighed, -(p.top[weighed] - p.background[weighed]), group_of[weighed])
            )
            ranked = weighed[telling_first]
            g_ranked = group_of[ranked]
            starts = np.flatnonzero(np.r_[True, g_ranked[1:] != g_ranked[:-1]])
            telling_of = np.zeros(n_groups, np.int64)
            telling_of[g_ranked[starts]] = ranked[starts]
            others = np.bincount(group_of[weighed], ceiling[weighed], minlength=n_groups)
            telling = telling_of[pair_group]
            upper = (
                others[pair_group]
                - ceiling[telling]
                + self.weight[telling] * self.m._pair_log_likelihoods(p, telling, pair_serial)
            )
            near = upper >= least[pair_group] - 1e-6
            found_group.append(pair_group[near])
            found_serial.append(pair_serial[near])
        # Large exhibits: every read against every cartridge at once, summed by group.
        for e in np.flatnonzero(large).tolist():
            members = weighed[exhibit_of[group_of[weighed]] == e]
            members = members[np.argsort(group_of[members], kind="stable")]
            members = members[stats.first[group_of[members]] >= 0]
            here = cart[cart_exhibit == e]
            member_group = group_of[members]
            starts = np.flatnonzero(np.r_[True, member_group[1:] != member_group[:-1]])
            g_here = member_group[starts]
            slot = np.cumsum(np.r_[False, member_group[1:] != member_group[:-1]])
            size = np.diff(np.r_[starts, len(members)])
            floor = (least[g_here] - size * _ROUGH_MARGIN)[:, None]
            for begin, _, upper in self.m._rough_totals(
                p, members, slot, self.weight[members], stats.first[here]
            ):
                at_group, at_cart = np.nonzero(upper >= floor)
                rival = here[begin + at_cart]
                keep = rival != g_here[at_group]
                found_group.append(g_here[at_group][keep])
                found_serial.append(stats.first[rival][keep])
        if not found_group:
            return {}
        pair_group, pair_serial = np.concatenate(found_group), np.concatenate(found_serial)
        order = np.lexsort((pair_serial, pair_group))
        pair_group, pair_serial = pair_group[order], pair_serial[order]
        totals = self._totals(pair_group, pair_serial, group_of)
        inside = totals >= least[pair_group]
        found: dict[int, list[tuple[int, float]]] = {}
        for g, serial, total in zip(
            pair_group[inside].tolist(),
            pair_serial[inside].tolist(),
            totals[inside].tolist(),
            strict=True,
        ):
            found.setdefault(g, []).append((serial, total))
        return found

    def _with_cartridges(
        self,
        g: int,
        stats: _Stats,
        rivals: list[tuple[int, float]],
        cartridges: set[int],
        log_other: float,
        log_missed: float,
        log_prior: float,
    ) -> tuple[list[tuple[int, float]], float, float]:
        """Step 7 for a group whose posterior the exhibit's other cartridges enter
        (``rivals``, with their totals; ``cartridges``: every one of the exhibit): the
        named serial (the best kept that is not a cartridge), the runner-up among all, and
        "another serial", each a posterior."""
        at = np.flatnonzero(stats.k_group == g)
        kept = dict(zip(stats.k_serial[at].tolist(), stats.k_total[at].tolist(), strict=True))
        weight = {s: log_prior + t for s, t in kept.items()}
        log_cartridge_prior = math.log(1 - self.m.settings.p_outside)
        for s, total in rivals:
            weight[s] = log_cartridge_prior + total
        z = _log_sum_exp(np.array([*weight.values(), log_other, log_missed]))
        named = next(
            (s for s, _ in _tie_order(list(kept.items())) if s not in cartridges),
            next(_tie_order(list(kept.items())))[0],
        )
        rest = list(
            itertools.islice(_tie_order([(s, w) for s, w in weight.items() if s != named]), 1)
        )
        best_two = [(s, math.exp(weight[s] - z)) for s in [named, *(s for s, _ in rest)]]
        return best_two, math.exp(log_other - z), math.exp(log_missed - z)

    def _stats(
        self,
        group_of: IntArray,
        n_groups: int,
        previous: _Stats | None = None,
        changed: BoolArray | None = None,
    ) -> _Stats:
        """Step 6 for every group: the serials kept, their totals, best and runner-up —
        computed afresh for the ``changed`` groups only when ``previous`` holds the rest."""
        m, f = self.m, self.f
        if previous is None or changed is None:
            changed = np.ones(n_groups, bool)
        n = len(m.index)
        keep_span = m.tables.keep_span
        weight = self.weight
        members = np.flatnonzero(self.weighed)
        size = np.bincount(group_of[members], minlength=n_groups)
        bound_total = np.bincount(
            group_of[members], weight[members] * f.other_bound[members], minlength=n_groups
        )
        use = self.weighed[f.read] & changed[group_of[f.read]]
        e_read, e_serial, e_ll = f.read[use], f.serial[use], f.ll[use]
        e_group = group_of[e_read]
        gs_key, gs_of = np.unique(e_group * n + e_serial, return_inverse=True)
        gs_of = gs_of.astype(np.int64)
        gs_group, gs_serial = gs_key // n, gs_key % n
        n_gs = len(gs_key)
        count = np.bincount(gs_of, minlength=n_gs)
        w = weight[e_read]
        upper = bound_total[gs_group] + np.bincount(
            gs_of, w * (e_ll - f.other_bound[e_read]), minlength=n_gs
        )
        exact = np.where(
            count == size[gs_group], np.bincount(gs_of, w * e_ll, minlength=n_gs), np.nan
        )
        # The exact total of each group's largest upper bound, then of every contender.
        if n_gs:
            top_upper = np.full(n_groups, -math.inf)
            np.maximum.at(top_upper, gs_group, upper)
            first_top = np.full(n_groups, _NO, np.int64)
            at_top = np.flatnonzero(upper >= top_upper[gs_group])
            np.minimum.at(first_top, gs_group[at_top], at_top)
            self._fill(exact, first_top[first_top != _NO], gs_group, gs_serial, group_of)
            best_exact = np.full(n_groups, -math.inf)
            known = ~np.isnan(exact)
            np.maximum.at(best_exact, gs_group[known], exact[known])
            contenders = np.flatnonzero(
                np.isnan(exact) & (upper >= best_exact[gs_group] - keep_span)
            )
            contenders = self._refine(
                upper, best_exact, contenders, gs_group, gs_serial, group_of, e_read, e_serial
            )
            self._fill(exact, contenders, gs_group, gs_serial, group_of)
        known = ~np.isnan(exact)
        best_exact = np.full(n_groups, -math.inf)
        np.maximum.at(best_exact, gs_group[known], exact[known])
        kept = known & (exact >= best_exact[gs_group] - keep_span)
        k_group, k_serial, k_total = gs_group[kept], gs_serial[kept], exact[kept]
        if previous is not None and not changed.all():
            stay = ~changed[previous.k_group]
            k_group = np.concatenate([previous.k_group[stay], k_group])
            k_serial = np.concatenate([previous.k_serial[stay], k_serial])
            k_total = np.concatenate([previous.k_total[stay], k_total])
            order = np.lexsort((k_serial, k_group))
            k_group, k_serial, k_total = k_group[order], k_serial[order], k_total[order]
        n_kept = np.bincount(k_group, minlength=n_groups)
        log_sum = np.full(n_groups, -math.inf)
        if len(k_group):
            starts = np.flatnonzero(np.r_[True, k_group[1:] != k_group[:-1]])
            log_sum = _segment_lse(k_total, starts, k_group, n_groups)
        first, first_total = _pick(k_group, k_serial, k_total, n_groups, None)
        second, second_total = _pick(k_group, k_serial, k_total, n_groups, first)
        return _Stats(
            n_kept, log_sum, first, first_total, second, second_total, k_group, k_serial, k_total
        )

    def _refine(
        self,
        upper: FloatArray,
        best: FloatArray,
        contenders: IntArray,
        gs_group: IntArray,
        gs_serial: IntArray,
        group_of: IntArray,
        e_read: IntArray,
        e_serial: IntArray,
    ) -> IntArray:
        """Tighten the contenders' upper bounds before their exact totals are computed: a
        few of their group's most telling reads at a time (largest ``ℓ̂ − log L₀`` first),
        each bound replaced by the read's exact log L; contenders that fall more than Θ
        below the group's best known total are dropped — soundly, so the kept serials are
        those the exact totals would keep."""
        p, m = self.p, self.m
        n = len(m.index)
        if not contenders.size:
            return contenders
        members = np.flatnonzero(self.weighed)
        keep_span = m.tables.keep_span
        # A group of many reads and many contenders: one float32 product bounds them all,
        # closely enough that they need no further tightening.
        size = np.bincount(group_of[members], minlength=len(best))
        per_group = np.bincount(gs_group[contenders], minlength=len(best))
        wide = size * per_group > MATRIX_PAIRS
        settled: list[IntArray] = []
        for g in np.flatnonzero(wide).tolist():
            mine = contenders[gs_group[contenders] == g]
            reads = members[group_of[members] == g]
            floor = best[g] - keep_span - len(reads) * _ROUGH_MARGIN
            for begin, end, bound in m._rough_totals(
                p, reads, np.zeros(len(reads), np.int64), self.weight[reads], gs_serial[mine]
            ):
                settled.append(mine[begin:end][bound[0] >= floor])
        contenders = contenders[~wide[gs_group[contenders]]]
        telling = p.top[members] - p.background[members]
        order = np.lexsort((members, -telling, group_of[members]))
        by_group = members[order]
        g_sorted = group_of[by_group]
        edge_key = e_read * n + e_serial
        chunk = 16
        for k in range(8):
            if not contenders.size:
                break
            lo = np.searchsorted(g_sorted, gs_group[contenders], "left") + k * chunk
            hi = np.minimum(np.searchsorted(g_sorted, gs_group[contenders], "right"), lo + chunk)
            counts = np.maximum(hi - lo, 0)
            if not counts.any():
                break
            owner = np.repeat(np.arange(len(contenders)), counts)
            local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            reads = by_group[lo[owner] + local]
            serials = gs_serial[contenders][owner]
            want = reads * n + serials
            at = np.searchsorted(edge_key, want)
            has = (at < len(edge_key)) & (edge_key[np.minimum(at, len(edge_key) - 1)] == want)
            missing = np.flatnonzero(~has)
            if missing.size:
                ll = m._pair_log_likelihoods(p, reads[missing], serials[missing])
                slack = self.weight[reads[missing]] * (self.f.other_bound[reads[missing]] - ll)
                np.subtract.at(upper, contenders[owner[missing]], slack)
            contenders = contenders[upper[contenders] >= best[gs_group[contenders]] - keep_span]
        return np.sort(np.concatenate([contenders, *settled]))

    def _fill(
        self,
        exact: FloatArray,
        which: IntArray,
        gs_group: IntArray,
        gs_serial: IntArray,
        group_of: IntArray,
    ) -> None:
        """Exact totals for the (group, serial) pairs ``which`` that lack them."""
        which = which[np.isnan(exact[which])]
        if which.size:
            exact[which] = self._totals(gs_group[which], gs_serial[which], group_of)

    def _totals(self, group: IntArray, serial: IntArray, group_of: IntArray) -> FloatArray:
        """``T_s`` of each (group, serial) pair: ``c·log L`` summed over the group's weighed
        members, from the read's candidate edge where it has one, computed otherwise; in
        slices of about ``FILL_PAIRS`` (read, serial) pairs, so memory stays bounded however
        many reads a group holds."""
        out = np.zeros(len(group))
        if not len(group):
            return out
        n = len(self.m.index)
        f = self.f
        members = np.flatnonzero(self.weighed)
        by_group = members[np.argsort(group_of[members], kind="stable")]
        g_sorted = group_of[by_group]
        lo_all = np.searchsorted(g_sorted, group, "left")
        counts_all = np.searchsorted(g_sorted, group, "right") - lo_all
        f_key = f.read * n + f.serial  # sorted: edges are by (read, serial)
        ends = np.cumsum(counts_all)
        start = 0
        while start < len(group):
            reach = ends[start] - counts_all[start] + FILL_PAIRS
            stop = max(start + 1, int(np.searchsorted(ends, reach, "right")))
            lo, counts = lo_all[start:stop], counts_all[start:stop]
            owner = np.repeat(np.arange(stop - start), counts)
            local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            reads = by_group[lo[owner] + local]
            serials = serial[start:stop][owner]
            want = reads * n + serials
            at = np.minimum(np.searchsorted(f_key, want), max(len(f_key) - 1, 0))
            have = f_key[at] == want if len(f_key) else np.zeros(len(want), bool)
            lls = np.empty(len(reads))
            lls[have] = f.ll[at[have]]
            missing = np.flatnonzero(~have)
            if missing.size:
                lls[missing] = self.m._pair_log_likelihoods(
                    self.p, reads[missing], serials[missing]
                )
            out[start:stop] = np.bincount(owner, self.weight[reads] * lls, minlength=stop - start)
            start = stop
        return out

    def _backgrounds(
        self, group_of: IntArray, members_of: dict[int, list[int]], stats: _Stats
    ) -> FloatArray:
        """log B(G) for every group that has a kept serial."""
        p, m = self.p, self.m
        n_groups = len(stats.kept)
        out = np.zeros(n_groups)
        simple: list[int] = []
        for g, members in members_of.items():
            if stats.first[g] < 0:
                continue
            weighed = [r for r in members if self.weighed[r]]
            if len(weighed) == 1 and self.weight[weighed[0]] == 1.0:
                out[g] = p.background[weighed[0]]
            elif all(p.row_count[r] == 1 for r in weighed):
                simple.append(g)
            else:
                out[g] = m._background(p, weighed)
        if simple:
            # Every read has one alignment: the sum factorises by position.
            index = np.full(n_groups, -1, np.int64)
            index[simple] = np.arange(len(simple))
            reads = np.flatnonzero(self.weighed & (index[group_of] >= 0))
            rows = p.row_start[reads]
            length, base = m.index.scheme.length, m.index.base
            profile = np.broadcast_to(m._prior, (len(simple), length, base)).copy()
            np.add.at(
                profile,
                index[group_of[reads]],
                self.weight[reads, None, None] * m._table[p.row_cols[rows]],
            )
            log_w = np.bincount(
                index[group_of[reads]],
                self.weight[reads] * p.row_weight[rows],
                minlength=len(simple),
            ).astype(np.float64)
            out[simple] = _masses(log_w, profile)
        return out

    def _summary(self, r: int) -> ReadSummary:
        p = self.p
        tag = p.reads[r].tag
        if p.state[r] != ReadState.SCORED:
            return ReadSummary(tag, (), bool(p.torn[r]), p.state[r])
        ways = p.ways[r]
        if r in p.templated:
            ways = _from_template(*p.templated[r])
        elif ways is None:
            ways = (Alignment(tuple(enumerate(p.texts[r])), (), 0.0),)
        return ReadSummary(tag, ways, bool(p.torn[r]), ReadState.SCORED)


def _pick(
    group: IntArray, serial: IntArray, total: FloatArray, n_groups: int, exclude: IntArray | None
) -> tuple[IntArray, FloatArray]:
    """Per group, the serial of largest total (totals within TIE_TOLERANCE equal, then the
    serial listed first), leaving out ``exclude[group]``; -1 and -inf where none."""
    allowed = np.ones(len(group), bool) if exclude is None else serial != exclude[group]
    top = np.full(n_groups, -math.inf)
    np.maximum.at(top, group[allowed], total[allowed])
    tied = allowed & (total >= top[group] - TIE_TOLERANCE)
    pick = np.full(n_groups, _NO, np.int64)
    np.minimum.at(pick, group[tied], serial[tied])
    chosen = np.where(pick == _NO, -1, pick)
    value = np.full(n_groups, -math.inf)
    mark = tied & (serial == pick[group])
    value[group[mark]] = total[mark]
    return chosen, value


def _form_groups(
    e_read: IntArray,
    e_ec: IntArray,
    ec_exhibit: IntArray,
    ec_serial: IntArray,
    term: FloatArray,
    counts: BoolArray,
    may_join: BoolArray,
    n_reads: int,
) -> tuple[IntArray, list[int]]:
    """Step 5's groups, exhibit by exhibit: repeatedly the (exhibit, serial) node ``ec``
    with the most gain — ``Σ term`` over its edges that ``counts`` and whose read is
    unassigned — forms a group of the unassigned reads of its edges that ``may_join``;
    gains within TIE_TOLERANCE of the most are equal, and then the serial listed first.
    Edges are sorted by read.  A heap of gains, made stale as reads are assigned and
    refreshed when popped, keeps the work near-linear in the edges.  Returns each read's
    group (−1: none) and each group's exhibit, groups numbered in the order formed."""
    n_ec = len(ec_serial)
    gain = np.bincount(e_ec, np.where(counts, term, 0.0), minlength=n_ec)
    by_ec = np.argsort(e_ec, kind="stable")
    ec_start = np.searchsorted(e_ec[by_ec], np.arange(n_ec + 1))
    read_start = np.searchsorted(e_read, np.arange(n_reads + 1))
    group_of = np.full(n_reads, -1, np.int64)
    group_exhibit: list[int] = []
    live = np.flatnonzero(gain > TIE_TOLERANCE)
    heap = list(
        zip(
            ec_exhibit[live].tolist(),
            (-gain[live]).tolist(),
            ec_serial[live].tolist(),
            live.tolist(),
            strict=True,
        )
    )
    heapq.heapify(heap)
    gains: list[float] = gain.tolist()
    e_ec_list: list[int] = e_ec.tolist()
    term_list: list[float] = term.tolist()
    counts_list: list[bool] = counts.tolist()
    while heap:
        exhibit, key, _, k = heap[0]
        if -key != gains[k]:  # stale: refresh
            heapq.heappop(heap)
            if gains[k] > TIE_TOLERANCE:
                heapq.heappush(heap, (exhibit, -gains[k], int(ec_serial[k]), k))
            continue
        top = gains[k]
        near: list[tuple[int, float, int, int]] = []
        while heap and heap[0][0] == exhibit and -heap[0][1] >= top - TIE_TOLERANCE:
            entry = heapq.heappop(heap)
            now = gains[entry[3]]
            if now >= top - TIE_TOLERANCE:
                near.append((entry[0], -now, entry[2], entry[3]))
            elif now > TIE_TOLERANCE:
                heapq.heappush(heap, (entry[0], -now, entry[2], entry[3]))
        pick = min(near, key=lambda entry: entry[2])
        for entry in near:
            if entry is not pick:
                heapq.heappush(heap, entry)
        chosen = pick[3]
        group = len(group_exhibit)
        group_exhibit.append(exhibit)
        edges = by_ec[ec_start[chosen] : ec_start[chosen + 1]]
        joining = e_read[edges[may_join[edges] & (group_of[e_read[edges]] < 0)]]
        group_of[joining] = group
        for r in joining.tolist():
            for j in range(int(read_start[r]), int(read_start[r + 1])):
                if counts_list[j]:
                    gains[e_ec_list[j]] -= term_list[j]
        gains[chosen] = 0.0
    return group_of, group_exhibit


def _tie_order(values: list[tuple[int, float]]) -> Iterator[tuple[int, float]]:
    """Serials by value, values within TIE_TOLERANCE of the leader equal and ordered by
    list position (the reference's rule), lazily: each one found in one pass over the
    rest, so taking the first one or two costs a pass or two."""
    rest = list(values)
    while rest:
        top = max(v for _, v in rest)
        at = min(
            (k for k, (_, v) in enumerate(rest) if v >= top - TIE_TOLERANCE),
            key=lambda k: rest[k][0],
        )
        yield rest.pop(at)


def match_reads(
    reads: Sequence[TagRead],
    serials: Sequence[str],
    *,
    scheme: SerialScheme = CARTRIDGE_SCHEME,
    model: ConfusionModel | None = None,
    settings: MatchSettings | None = None,
    workers: int = 1,
) -> list[MatchRow]:
    """Match ``reads`` against ``serials``: build a :class:`SerialIndex`, run a
    :class:`Matcher` with ``workers`` threads (:meth:`Matcher.match`).  Build the index
    once yourself to match many batches.

    Raises:
        MatchError: an empty serial list, a duplicate, a serial not canonical and valid,
            or ``workers`` < 1.
        ReadError: a read not in the notation.
        ConfusionModelError: a model for another alphabet.
    """
    return Matcher(SerialIndex(serials, scheme), model, settings).match(reads, workers=workers)
