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
  the reads it has not yet settled (each window's keys looked up as ranges with one
  ``searchsorted`` per start, what is found costed with one gather); each read's
  candidates scored over all its alignments; the groups of every exhibit formed in
  rounds, one per connected part of the read–candidate graph, so an exhibit of thousands
  of cartridges takes a handful of rounds; each group's serials, totals and background;
  posteriors and rows.

:func:`match_reads` is the one-call form.  The fast path is not the verifying path: the
reference is, and ``tests/test_match_differential.py`` holds the two together.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from taserlink.errors import MatchError, ReadError
from taserlink.forensics.confusion import SKIPPED, ConfusionModel
from taserlink.forensics.results import MatchRow, MatchSettings, TagRead
from taserlink.forensics.scoring import (
    MASS_QUANTUM,
    MAX_ALIGNMENTS,
    MAX_CANDIDATES,
    MAX_EXTRA,
    MIX_EXACT,
    MIX_KEEP,
    MIX_SPAN,
    READ_HITS,
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
from taserlink.forensics.serials import TORN, UNREADABLE, AfidRead, parse_read
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = ["BATCH_READS", "Matcher", "SerialIndex", "match_reads"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_SEPARATORS = str.maketrans("", "", "- \t")
_CHUNK = 1 << 18
"""(row, serial) pairs costed at once (bounds the gather's memory)."""
_NO = np.iinfo(np.int64).max
_SCAN = 64
"""A directory bucket of at most this many keys is scanned; a larger one searched."""
BATCH_READS = 16_384
"""Most reads matched at once (whole exhibits; a larger input is matched in batches, an
exhibit larger than this alone)."""


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
                w = int(start[long[i]])
                table = self.keys[lo[i] : hi[i]]
                a = int(np.searchsorted(table, np.uint32(key_lo[i]), "left"))
                b = (
                    len(table)
                    if key_hi[i] > np.iinfo(np.uint32).max
                    else int(np.searchsorted(table, np.uint32(key_hi[i]), "left"))
                )
                left[long[i]] = lo[i] + a
                right[long[i]] = lo[i] + b
                del w
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
    row_cols: npt.NDArray[np.int16]  # (rows, L) output columns, ABSENT if uncovered
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
        log_count = np.array(tables.log_count)
        self._gain = log_count[self._size] - np.array(tables.log_allowed)[:, None]
        widest = max(1, int(tables.size.max()))
        self._expansion = np.zeros((length, len(outputs) + 1, widest), np.int64)
        for p in range(length):
            for o, codes in enumerate(tables.expansion[p]):
                self._expansion[p, o, : len(codes)] = codes
        self._allowed_count = np.array([len(a) for a in tables.allowed], np.int64)
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
        self._output_of = {c: i for i, c in enumerate(outputs)}
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
        self._read_column = np.array([self._output_of[c] for c in read_characters], np.int16)

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
        columns = self._read_column[codes] if n else np.zeros((0, length), np.int16)
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
                parsed = parse_read(read.text, scheme)
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
        found = _event_alignments(read, length, self.model, extra)
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
            cols = prepared.row_cols[rows]
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
            keep = top[pair_read] - rough <= limit[pair_read] + 1e-3
            pair_row, pair_read, pair_serial = pair_row[keep], pair_read[keep], pair_serial[keep]
            cost = top[pair_read] - self._row_scores(prepared, pair_row, pair_serial)
            keep = cost <= limit[pair_read]
            pair_read, pair_serial, cost = pair_read[keep], pair_serial[keep], cost[keep]
            key = pair_read * n + pair_serial
            order = np.lexsort((cost, key))
            key, cost = key[order], cost[order]
            first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
            key, cost = key[first], cost[first]
            f_read, f_serial = key // n, key % n
            # Each read's finds cheapest first (ties to the serial listed first), so that
            # the first MAX_CANDIDATES within bound are its candidates.
            order = np.lexsort((f_serial, cost, f_read))
            f_read, f_serial, cost = f_read[order], f_serial[order], cost[order]
            least = np.full(n_reads, math.inf)
            np.minimum.at(least, f_read, cost)
            certain = np.minimum(least, limit)
            bound = np.minimum(least + SPAN_NATS, limit)
            stands_out = least <= limit - (math.log(n) if stage == 0 else 0.0)
            conclusive = active & ((certain < per_read) | stands_out)
            done = conclusive | (active & last)
            named = active[f_read] & (cost <= bound[f_read])
            rank = np.cumsum(named) - 1
            starts = np.searchsorted(f_read, f_read, "left")
            before = np.concatenate(([0], np.cumsum(named)))[starts]
            named &= (rank - before + 1) <= MAX_CANDIDATES
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
            certified[active] = (certain < per_read)[active]
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
        """Σ T[o, s_p] in float32, summed in any order: a filter (rounding below 1e-4 nats
        for a serial of 16 characters), never a score."""
        base = self.index.base
        out = np.empty(len(rows))
        for begin in range(0, len(rows), _CHUNK):
            end = min(begin + _CHUNK, len(rows))
            index = prepared.row_cols[rows[begin:end]].astype(np.int32)
            index *= base
            index += self.index.codes[serials[begin:end]]
            out[begin:end] = self._flat32[index].sum(axis=1)
        return out

    def _row_scores(self, prepared: _Reads, rows: IntArray, serials: IntArray) -> FloatArray:
        """ℓ_a(s) = log w_a + Σ T[o, s_p], position by position as the reference sums."""
        base = self.index.base
        length = self.index.scheme.length
        out = np.empty(len(rows))
        for begin in range(0, len(rows), _CHUNK):
            end = min(begin + _CHUNK, len(rows))
            r, s = rows[begin:end], serials[begin:end]
            index = prepared.row_cols[r].astype(np.int32)
            index *= base
            index += self.index.codes[s]
            values = self._flat[index]
            acc = np.zeros(end - begin)
            for p in range(length):
                acc += values[:, p]
            out[begin:end] = prepared.row_weight[r] + acc
        return out

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
    def match(self, reads: Sequence[TagRead]) -> list[MatchRow]:
        """Match ``reads`` (any number of exhibits): rows exhibit by exhibit in order of
        first appearance, groups in the order formed, the reads nothing explains last —
        exactly as :func:`taserlink.forensics.reference.reference_match_reads`.

        Exhibits are independent, so they are matched in batches of at most
        :data:`BATCH_READS` reads (an exhibit larger than that alone): memory stays
        bounded however many reads are given.

        Raises:
            ReadError: a read not in the notation, or with a character the model has no
                column for (naming its exhibit and tag).
            MatchError: an exhibit of more than
                :data:`~taserlink.forensics.scoring.MAX_EXHIBIT_READS` reads.
        """
        by_exhibit: dict[str, list[TagRead]] = {}
        for read in reads:
            by_exhibit.setdefault(read.exhibit, []).append(read)
        check_exhibit_sizes(by_exhibit)
        rows: list[MatchRow] = []
        batch: list[TagRead] = []
        for members in by_exhibit.values():
            if batch and len(batch) + len(members) > BATCH_READS:
                rows.extend(self._match_batch(batch))
                batch = []
            batch.extend(members)
        if batch:
            rows.extend(self._match_batch(batch))
        return rows

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
        tied = ll >= best[read] - TIE_TOLERANCE
        pick = np.full(n_reads, _NO, np.int64)
        np.minimum.at(pick, read[tied], serial[tied])
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
        # Pair every weak read with every anchor of its exhibit.
        exhibit_of_anchor = anchor_key // n
        lo = np.searchsorted(exhibit_of_anchor, prepared.exhibit[weak], "left")
        hi = np.searchsorted(exhibit_of_anchor, prepared.exhibit[weak], "right")
        counts = hi - lo
        owner = np.repeat(np.arange(len(weak)), counts)
        local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        pair_read = weak[owner]
        pair_serial = anchor_key[lo[owner] + local] % n
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
        pos = np.arange(length)
        for k in single:
            row = int(prepared.row_start[members[k]])
            cols = prepared.row_cols[row]
            profile = profile + weight[k] * table[cols][None]
            log_w = log_w + weight[k] * prepared.row_weight[row]
        del pos
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
    read: AfidRead, length: int, model: ConfusionModel, extra: int
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
        # (exhibit, serial) nodes of the read–candidate graph, and its connected parts.
        ec_keys, e_ec = np.unique(p.exhibit[e_read] * n + e_serial, return_inverse=True)
        e_ec = e_ec.astype(np.int64)
        n_ec = len(ec_keys)
        ec_serial = ec_keys % n
        ec_exhibit = ec_keys // n
        component = _components(e_read, e_ec, n_reads, n_ec)
        ec_comp = np.zeros(n_ec, np.int64)
        ec_comp[e_ec] = component[e_read]
        group_of = np.full(n_reads, -1, np.int64)
        formed_ec: list[int] = []
        formed_gain: list[float] = []
        while n_ec:
            eligible = (group_of[e_read] < 0) & near & better
            gain = np.bincount(e_ec, np.where(eligible, term, 0.0), minlength=n_ec)
            top = np.full(n_reads, -math.inf)
            np.maximum.at(top, ec_comp, gain)
            choose = (gain >= top[ec_comp] - TIE_TOLERANCE) & (top[ec_comp] > TIE_TOLERANCE)
            if not choose.any():
                break
            pick = np.full(n_reads, _NO, np.int64)
            np.minimum.at(pick, ec_comp[choose], ec_serial[choose])
            chosen = np.flatnonzero(choose & (ec_serial == pick[ec_comp]))
            ids = len(formed_ec) + np.arange(len(chosen))
            formed_ec.extend(chosen.tolist())
            formed_gain.extend(gain[chosen].tolist())
            id_of_ec = np.full(n_ec, -1, np.int64)
            id_of_ec[chosen] = ids
            take = (group_of[e_read] < 0) & joins & better & (id_of_ec[e_ec] >= 0)
            group_of[e_read[take]] = id_of_ec[e_ec[take]]
        formed = np.array(formed_ec, np.int64)
        sequence = _merge_order(
            ec_exhibit[formed], ec_comp[formed], np.array(formed_gain), ec_serial[formed]
        )
        # Renumber the formed groups in formation order, then one group per exhibit for the
        # reads nothing explains.
        rank = np.empty(len(formed), np.int64)
        rank[np.array(sequence, np.int64)] = np.arange(len(formed))
        group_of = np.where(group_of >= 0, rank[np.maximum(group_of, 0)] if len(formed) else -1, -1)
        group_exhibit = (
            list(ec_exhibit[formed][np.array(sequence, np.int64)].tolist()) if len(formed) else []
        )
        n_formed = len(group_exhibit)
        left = np.unique(p.exhibit[group_of < 0])
        leftover_id = np.full(len(p.exhibits), -1, np.int64)
        leftover_id[left] = n_formed + np.arange(len(left))
        group_of = np.where(group_of < 0, leftover_id[p.exhibit], group_of)
        group_exhibit.extend(left.tolist())
        # Groups of one exhibit naming the same serial are merged, the later into the earlier.
        while True:
            stats = self._stats(group_of, len(group_exhibit))
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
        members_of: dict[int, list[int]] = {}
        for r, g in enumerate(group_of.tolist()):
            members_of.setdefault(g, []).append(r)
        # B(G) is at least the kept serials' own share of it: a random serial is each of
        # them with probability Π 1/|allowed|.
        floor = stats.log_sum - (m.tables.keep_span - 1.0)
        background = np.maximum(self._backgrounds(group_of, members_of, stats), floor)
        log_prior = math.log((1 - settings.p_outside) / n)
        log_other = (
            np.log(settings.p_outside + (1 - settings.p_outside) * (n - stats.kept) / n)
            + background
        )
        # A group none of whose reads' searches was certified: the best serial they could
        # have missed competes, as a serial of the list.
        weighed = np.flatnonzero(self.weighed)
        sure = np.zeros(len(group_exhibit), bool)
        sure[group_of[weighed[f.certified[weighed]]]] = True
        missed = np.bincount(
            group_of[weighed], self.weight[weighed] * f.other_bound[weighed], minlength=len(sure)
        )
        unsure = ~sure & (stats.first >= 0)
        log_other = np.where(unsure, np.logaddexp(log_other, log_prior + missed), log_other)
        has = stats.first >= 0
        z = np.where(has, np.logaddexp(stats.log_sum + log_prior, log_other), log_other)
        other = np.exp(log_other - z)
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
        # The exhibit's cartridges — the best serials of its groups of two reads or more —
        # are a priori the source of any tag of it: in every other group of the exhibit
        # they compete with prior 1 − p_outside, not (1 − p_outside)/N.
        size = np.bincount(group_of[weighed], minlength=len(group_exhibit))
        cartridges: dict[int, list[tuple[int, int]]] = {}
        for g in range(n_formed):
            if g in members_of and size[g] >= 2 and stats.first[g] >= 0:
                cartridges.setdefault(exhibit_of_group[g], []).append((g, int(stats.first[g])))
        for g in members_of:
            rivals = [c for h, c in cartridges.get(exhibit_of_group[g], []) if h != g]
            if rivals and stats.first[g] >= 0:
                best_two_of[g], other[g] = self._with_cartridges(
                    g, group_of, stats, rivals, float(log_other[g]), log_prior
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
                )
            )
        return rows

    def _with_cartridges(
        self,
        g: int,
        group_of: IntArray,
        stats: _Stats,
        rivals: list[int],
        log_other: float,
        log_prior: float,
    ) -> tuple[list[tuple[int, float]], float]:
        """Step 7 for a group of an exhibit that holds other cartridges (``rivals``): the
        named serial (the best kept that is not one of them), the runner-up among all, and
        "another serial", each a posterior."""
        m, p, f = self.m, self.p, self.f
        at = np.flatnonzero(stats.k_group == g)
        kept = dict(zip(stats.k_serial[at].tolist(), stats.k_total[at].tolist(), strict=True))
        weight = {s: log_prior + t for s, t in kept.items()}
        reads = np.flatnonzero(self.weighed & (group_of == g))
        log_cartridge_prior = math.log(1 - m.settings.p_outside)
        for s in rivals:
            total = kept.get(s)
            if total is None:
                lls = m._pair_log_likelihoods(p, reads, np.full(len(reads), s, np.int64))
                total = float(np.sum(self.weight[reads] * lls))
            weight[s] = log_cartridge_prior + total
        z = _log_sum_exp(np.array([*weight.values(), log_other]))
        ranked = _tie_sorted(list(kept.items()))
        named = next((s for s, _ in ranked if s not in rivals), ranked[0][0])
        rest = _tie_sorted([(s, w) for s, w in weight.items() if s != named])[:1]
        del f
        best_two = [(s, math.exp(weight[s] - z)) for s in [named, *(s for s, _ in rest)]]
        return best_two, math.exp(log_other - z)

    def _stats(self, group_of: IntArray, n_groups: int) -> _Stats:
        """Step 6 for every group: the serials kept, their totals, best and runner-up."""
        m, f = self.m, self.f
        n = len(m.index)
        keep_span = m.tables.keep_span
        weight = self.weight
        members = np.flatnonzero(self.weighed)
        size = np.bincount(group_of[members], minlength=n_groups)
        bound_total = np.bincount(
            group_of[members], weight[members] * f.other_bound[members], minlength=n_groups
        )
        use = self.weighed[f.read]
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
            self._fill(
                exact, first_top[first_top != _NO], gs_group, gs_serial, group_of, e_read, e_serial
            )
            best_exact = np.full(n_groups, -math.inf)
            known = ~np.isnan(exact)
            np.maximum.at(best_exact, gs_group[known], exact[known])
            contenders = np.flatnonzero(
                np.isnan(exact) & (upper >= best_exact[gs_group] - keep_span)
            )
            contenders = self._refine(
                upper, best_exact, contenders, gs_group, gs_serial, group_of, e_read, e_serial
            )
            self._fill(exact, contenders, gs_group, gs_serial, group_of, e_read, e_serial)
        known = ~np.isnan(exact)
        best_exact = np.full(n_groups, -math.inf)
        np.maximum.at(best_exact, gs_group[known], exact[known])
        kept = known & (exact >= best_exact[gs_group] - keep_span)
        k_group, k_serial, k_total = gs_group[kept], gs_serial[kept], exact[kept]
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
            contenders = contenders[
                upper[contenders] >= best[gs_group[contenders]] - m.tables.keep_span
            ]
        return contenders

    def _fill(
        self,
        exact: FloatArray,
        which: IntArray,
        gs_group: IntArray,
        gs_serial: IntArray,
        group_of: IntArray,
        e_read: IntArray,
        e_serial: IntArray,
    ) -> None:
        """Exact totals for the (group, serial) pairs ``which`` that lack them: log L of every
        weighed member, from its edge where it has one, computed otherwise."""
        which = which[np.isnan(exact[which])]
        if not which.size:
            return
        n = len(self.m.index)
        members = np.flatnonzero(self.weighed)
        by_group = members[np.argsort(group_of[members], kind="stable")]
        g_sorted = group_of[by_group]
        lo = np.searchsorted(g_sorted, gs_group[which], "left")
        hi = np.searchsorted(g_sorted, gs_group[which], "right")
        counts = hi - lo
        owner = np.repeat(np.arange(len(which)), counts)
        local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        reads = by_group[lo[owner] + local]
        serials = gs_serial[which][owner]
        edge_key = e_read * n + e_serial  # sorted: edges are by (read, serial)
        want = reads * n + serials
        at = np.searchsorted(edge_key, want)
        have = (at < len(edge_key)) & (edge_key[np.minimum(at, len(edge_key) - 1)] == want)
        lls = np.empty(len(reads))
        f = self.f
        f_key = f.read * n + f.serial
        f_at = np.searchsorted(f_key, want)
        lls[have] = f.ll[np.minimum(f_at, len(f_key) - 1)][have]
        missing = np.flatnonzero(~have)
        if missing.size:
            lls[missing] = self.m._pair_log_likelihoods(self.p, reads[missing], serials[missing])
        exact[which] = np.bincount(owner, self.weight[reads] * lls, minlength=len(which))

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


def _components(e_read: IntArray, e_ec: IntArray, n_reads: int, n_ec: int) -> IntArray:
    """Connected parts of the read–candidate graph: a label per read (the least read of
    its part)."""
    label = np.arange(n_reads, dtype=np.int64)
    if not len(e_read):
        return label
    while True:
        ec_label = np.full(n_ec, _NO, np.int64)
        np.minimum.at(ec_label, e_ec, label[e_read])
        new = label.copy()
        np.minimum.at(new, e_read, ec_label[e_ec])
        if np.array_equal(new, label):
            return label
        label = new


def _merge_order(
    exhibit: IntArray, component: IntArray, gain: FloatArray, serial: IntArray
) -> list[int]:
    """The order groups form in over a whole exhibit: the per-component sequences (each in
    formation order) merged, at each step the largest gain first, gains within
    TIE_TOLERANCE equal and then the serial listed first."""
    result: list[int] = []
    if not len(exhibit):
        return result
    order = np.argsort(exhibit, kind="stable")
    bounds = np.flatnonzero(np.r_[True, exhibit[order][1:] != exhibit[order][:-1], True])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        ids = order[lo:hi].tolist()  # formation order within each component
        if len(ids) == 1:
            result.append(ids[0])
            continue
        queues: dict[int, list[int]] = {}
        for g in ids:
            queues.setdefault(int(component[g]), []).append(g)
        lists = list(queues.values())
        pointer = [0] * len(lists)
        heap = [(-float(gain[q[0]]), int(serial[q[0]]), k) for k, q in enumerate(lists)]
        heapq.heapify(heap)
        while heap:
            top = heap[0][0]
            near = []
            while heap and heap[0][0] <= top + TIE_TOLERANCE:
                near.append(heapq.heappop(heap))
            pick = min(near, key=lambda item: item[1])
            for item in near:
                if item is not pick:
                    heapq.heappush(heap, item)
            k = pick[2]
            result.append(lists[k][pointer[k]])
            pointer[k] += 1
            if pointer[k] < len(lists[k]):
                g = lists[k][pointer[k]]
                heapq.heappush(heap, (-float(gain[g]), int(serial[g]), k))
    return result


def _tie_sorted(values: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Serials by value, values within TIE_TOLERANCE of the leader equal and ordered by
    list position (the reference's rule)."""
    result: list[tuple[int, float]] = []
    rest = list(values)
    while rest:
        top = max(v for _, v in rest)
        pick = min((item for item in rest if item[1] >= top - TIE_TOLERANCE), key=lambda x: x[0])
        result.append(pick)
        rest.remove(pick)
    return result


def match_reads(
    reads: Sequence[TagRead],
    serials: Sequence[str],
    *,
    scheme: SerialScheme = CARTRIDGE_SCHEME,
    model: ConfusionModel | None = None,
    settings: MatchSettings | None = None,
) -> list[MatchRow]:
    """Match ``reads`` against ``serials``: build a :class:`SerialIndex`, run a
    :class:`Matcher`.  Build the index once yourself to match many batches.

    Raises:
        MatchError: an empty serial list, a duplicate, or a serial not canonical and valid.
        ReadError: a read not in the notation.
        ConfusionModelError: a model for another alphabet.
    """
    return Matcher(SerialIndex(serials, scheme), model, settings).match(reads)
