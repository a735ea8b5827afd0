"""The fast matcher: AFID reads → cartridge serials, with posterior scores.

It computes exactly what the plain reference (:mod:`taserlink.forensics.reference`) defines
— read that module's docstring, or ``docs/matching.md``, for the model — but with numpy
and an index, and with no Python loop over the serial list or over the reads' candidates:

- :class:`SerialIndex` — built once over ``N`` serials: the serials as an ``(N, L)`` array
  of alphabet codes, and for every window start ``w`` the keys of the window's characters
  from ``w`` (base ``len(alphabet)``), sorted, with the serials' positions in that order.
  About ``L + 8·(L - W + 1)`` bytes per serial for windows of ``W`` characters (58 for the
  cartridge scheme at a million serials, ``W`` = 5).
- :class:`Matcher` — queries the index with a batch of reads: every placement of every
  read, every usable window, every combination its characters stand for, looked up with
  one ``searchsorted`` per window start; the (exhibit, candidate) pairs made unique; every
  read of an exhibit scored against every candidate of it with one gather from the
  log-likelihood table; grouping, posteriors and statuses computed for all exhibits at once
  in rounds (one round per group an exhibit forms).

:func:`match_reads` is the one-call form.  The fast path is not the verifying path: the
reference is, and ``tests/test_match_differential.py`` holds the two together.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from taserlink.errors import MatchError, ReadError
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.results import MatchRow, MatchSettings, TagRead
from taserlink.forensics.scoring import (
    BACKGROUND_COMBINATIONS,
    MAX_VARIANTS,
    TIE_TOLERANCE,
    Placement,
    allowed_characters,
    build_row,
    check_exhibit_sizes,
    expansion,
    window_length,
)
from taserlink.forensics.serials import TORN, UNREADABLE, parse_read
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = ["BATCH_READS", "Matcher", "SerialIndex", "match_reads"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_SEPARATORS = str.maketrans("", "", "- \t")
_CHUNK_ROWS = 1 << 18
"""Placement-candidate rows scored at once (bounds the gather's memory)."""
_NO = np.iinfo(np.int64).max
BATCH_READS = 16_384
"""Most reads matched at once (whole exhibits; a larger input is matched in batches)."""


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
        self.window = window_length(scheme, n)
        key_type = np.uint32 if base**self.window < 2**32 else np.uint64
        position_bits = max(1, (n - 1).bit_length())
        # Window key and position packed in one word: one plain sort gives the keys in
        # order and, among equal keys, the positions in list order (a stable order).
        packed = (base**self.window - 1).bit_length() + position_bits <= 64
        positions = np.arange(n, dtype=np.uint64)
        self.window_keys: list[npt.NDArray[np.unsignedinteger]] = []
        self.window_ids: list[npt.NDArray[np.uint32]] = []
        for start in range(length - self.window + 1):
            keys = self._keys(self.codes[:, start : start + self.window])
            if packed:
                keys <<= np.uint64(position_bits)
                keys |= positions
                keys.sort()
                self.window_ids.append(
                    (keys & np.uint64((1 << position_bits) - 1)).astype(np.uint32)
                )
                keys >>= np.uint64(position_bits)
                self.window_keys.append(keys.astype(key_type))
            else:  # pragma: no cover - alphabets and lists too large to pack
                order = np.argsort(keys, kind="stable")
                self.window_keys.append(keys[order].astype(key_type))
                self.window_ids.append(order.astype(np.uint32))

    def _keys(self, window_codes: npt.NDArray[np.integer]) -> npt.NDArray[np.uint64]:
        keys = np.zeros(len(window_codes), np.uint64)
        for j in range(window_codes.shape[1]):
            keys += window_codes[:, j].astype(np.uint64) * np.uint64(self.base**j)
        return keys

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        """Bytes of the index's arrays (codes and window tables; not the serial strings)."""
        return int(
            self.codes.nbytes
            + sum(k.nbytes for k in self.window_keys)
            + sum(i.nbytes for i in self.window_ids)
        )


@dataclass(frozen=True)
class _Reads:
    """The reads of one query, in internal order (grouped by exhibit)."""

    reads: list[TagRead]  # internal order
    exhibit: IntArray  # per read: exhibit number (first-appearance order)
    exhibits: list[str]
    complete: npt.NDArray[np.bool_]
    texts: list[str]  # cleaned text of complete reads ('' for torn)
    pl_read: IntArray  # per placement: its read
    pl_cols: npt.NDArray[np.int16]  # (placements, L): read-character column, ABSENT if uncovered
    pl_start: IntArray  # per read: its first placement
    pl_count: IntArray  # per read: M


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
        columns = self.model.read_characters
        self._absent = len(columns)
        table = np.zeros((len(columns) + 1, index.base))
        table[: len(columns)] = self.model.log_likelihood_table()
        self._table = table.ravel()
        allowed = allowed_characters(scheme)
        background = np.zeros((len(columns) + 1, scheme.length))
        for position, chars in enumerate(allowed):
            rows = [scheme.alphabet.index(c) for c in chars]
            background[: len(columns), position] = np.log(self.model.matrix[rows].mean(axis=0))
        self._background = background
        self._allowed = np.zeros((scheme.length, index.base), bool)
        for position, chars in enumerate(allowed):
            self._allowed[position, [scheme.alphabet.index(c) for c in chars]] = True
        self._log_allowed = np.log(self._allowed.sum(axis=1))
        self._unreadable = columns.index(UNREADABLE)
        # Complete reads are encoded as "serials" over the read characters: length and
        # characters checked, each turned into its model column, all at once.
        self._read_characters = SerialScheme(
            "read",
            alphabet=columns,
            length=scheme.length,
            type_letters={},
            check=False,
            aliases={},
        )
        sets = [expansion(self.model, c) for c in columns]
        size = np.array([len(s) for s in sets] + [0], np.int64)
        widest = int(size.max())
        expand = np.zeros((len(columns) + 1, max(widest, 1)), np.int64)
        for j, chars in enumerate(sets):
            expand[j, : len(chars)] = [scheme.alphabet.index(c) for c in chars]
        self._expansion_size = size
        self._expansion = expand

    # -- reads ---------------------------------------------------------------------------
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
        torn = np.array([TORN in t for t in cleaned], bool)
        codes, encoded = self._read_characters.encode(
            [t if not k else "" for t, k in zip(cleaned, torn, strict=True)]
        )
        good = ~torn & encoded & (codes != self._unreadable).any(axis=1)
        for i in np.flatnonzero(~torn & ~good):
            self._reject(ordered[int(i)])
        counts = np.ones(len(ordered), np.int64)
        torn_rows: list[npt.NDArray[np.int16]] = []
        for i in np.flatnonzero(torn):
            read = ordered[int(i)]
            try:
                parsed = parse_read(read.text, scheme)
                rows = self._torn_placements(
                    parsed.segments, parsed.starts_at_start, parsed.ends_at_end
                )
            except ReadError as error:
                raise ReadError(f"exhibit {read.exhibit!r} tag {read.tag!r}: {error}") from None
            counts[i] = len(rows)
            torn_rows.append(rows)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        pl_cols = np.full((int(counts.sum()), length), self._absent, np.int16)
        complete_at = np.flatnonzero(~torn)
        pl_cols[starts[complete_at]] = codes[complete_at]
        for i, rows in zip(np.flatnonzero(torn), torn_rows, strict=True):
            pl_cols[starts[i] : starts[i] + len(rows)] = rows
        return _Reads(
            reads=ordered,
            exhibit=exhibit_of[order],
            exhibits=list(names),
            complete=~torn,
            texts=[t if not k else "" for t, k in zip(cleaned, torn, strict=True)],
            pl_read=np.repeat(np.arange(len(ordered)), counts),
            pl_cols=pl_cols,
            pl_start=starts,
            pl_count=counts,
        )

    def _reject(self, read: TagRead) -> None:
        """Raise the error the notation gives for a read the fast encoding refused."""
        try:
            parsed = parse_read(read.text, self.index.scheme)
            for segment in parsed.segments:
                self.model.read_indices(segment)
        except ReadError as error:
            raise ReadError(f"exhibit {read.exhibit!r} tag {read.tag!r}: {error}") from None
        raise ReadError(
            f"exhibit {read.exhibit!r} tag {read.tag!r}: read {read.text!r} not understood"
        )

    def _torn_placements(
        self, segments: tuple[str, ...], at_start: bool, at_end: bool
    ) -> npt.NDArray[np.int16]:
        """Every placement of a torn read as rows of read-character columns."""
        length = self.index.scheme.length
        starts = _segment_starts(tuple(len(s) for s in segments), at_start, at_end, length)
        rows = np.full((len(starts), length), self._absent, np.int16)
        every = np.arange(len(starts))[:, None]
        for k, segment in enumerate(segments):
            columns = [self.model.column(c) for c in segment]
            rows[every, starts[:, k, None] + np.arange(len(segment))] = columns
        return rows

    # -- candidates ------------------------------------------------------------------------
    def _candidates(self, prepared: _Reads) -> tuple[IntArray, IntArray]:
        """Unique (exhibit, serial position) pairs of the candidate rule, sorted."""
        index = self.index
        q = index.window
        found: list[IntArray] = []
        n = len(index)
        exhibit_of_placement = prepared.exhibit[prepared.pl_read]
        for start in range(index.scheme.length - q + 1):
            window = prepared.pl_cols[:, start : start + q]
            sizes = self._expansion_size[window]
            # Too many combinations: characters other than ? narrowed to their likeliest
            # true character (expansions are stored likeliest first); still too many: skip.
            wide = sizes.prod(axis=1) > MAX_VARIANTS
            narrow = wide[:, None] & (window != self._unreadable)
            sizes = np.where(narrow, np.minimum(sizes, 1), sizes)
            use = np.flatnonzero(sizes.all(axis=1) & (sizes.prod(axis=1) <= MAX_VARIANTS))
            if not use.size:
                continue
            # Keys grown one character at a time: each step repeats the keys so far once
            # per true character the next read character stands for.
            owner = use
            keys = np.zeros(len(use), np.int64)
            for j in range(q):
                per = sizes[owner, j]
                total = int(per.sum())
                local = np.arange(total) - np.repeat(np.cumsum(per) - per, per)
                owner = np.repeat(owner, per)
                code = self._expansion[window[owner, j], local]
                keys = np.repeat(keys, per) + code * index.base**j
            table = index.window_keys[start]
            # Sorted needles: each search starts where the previous ended (cache-friendly).
            by_key = np.argsort(keys, kind="stable")
            keys_sorted = keys[by_key].astype(table.dtype)
            lo = np.searchsorted(table, keys_sorted, "left")
            # Buckets are small (WINDOW_LOAD): walk forward instead of a second search.
            hits = np.zeros(len(lo), np.int64)
            probe = lo.copy()
            live = np.flatnonzero(probe < len(table))
            while live.size:
                live = live[table[probe[live]] == keys_sorted[live]]
                hits[live] += 1
                probe[live] += 1
                live = live[probe[live] < len(table)]
            hit = np.flatnonzero(hits)
            if not hit.size:
                continue
            lengths = hits[hit]
            positions = np.repeat(lo[hit] - (np.cumsum(lengths) - lengths), lengths) + np.arange(
                int(lengths.sum())
            )
            owner = owner[by_key]
            serial = index.window_ids[start][positions].astype(np.int64)
            exhibit = np.repeat(exhibit_of_placement[owner[hit]], lengths)
            found.append(exhibit * n + serial)
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        pairs = np.sort(np.concatenate(found))
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
        return pairs // n, pairs % n

    # -- scoring ---------------------------------------------------------------------------
    def _log_likelihoods(
        self, prepared: _Reads, pair_read: IntArray, pair_serial: IntArray
    ) -> FloatArray:
        """log L(read | serial) for each pair (before the read's confidence weight)."""
        counts = prepared.pl_count[pair_read]
        rows = np.repeat(np.arange(len(pair_read)), counts)
        local = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        placement = prepared.pl_start[pair_read][rows] + local
        scores = np.empty(len(rows))
        codes = self.index.codes
        base = self.index.base
        for begin in range(0, len(rows), _CHUNK_ROWS):
            end = min(begin + _CHUNK_ROWS, len(rows))
            flat = (
                prepared.pl_cols[placement[begin:end]].astype(np.int64) * base
                + codes[pair_serial[rows[begin:end]]]
            )
            scores[begin:end] = self._table[flat].sum(axis=1)
        starts = np.cumsum(counts) - counts
        top = np.maximum.reduceat(scores, starts) if len(scores) else scores
        summed = np.add.reduceat(np.exp(scores - top[rows]), starts) if len(scores) else scores
        ll: FloatArray = top + np.log(summed) - np.log(counts)
        return ll

    def _read_backgrounds(self, prepared: _Reads) -> FloatArray:
        """log L₀(read) for every read."""
        cols = prepared.pl_cols
        per_placement = self._background[cols, np.arange(cols.shape[1])].sum(axis=1)
        starts = prepared.pl_start
        top = np.maximum.reduceat(per_placement, starts)
        summed = np.add.reduceat(np.exp(per_placement - top[prepared.pl_read]), starts)
        result: FloatArray = top + np.log(summed) - np.log(prepared.pl_count)
        return result

    # -- the query -------------------------------------------------------------------------
    def match(self, reads: Sequence[TagRead]) -> list[MatchRow]:
        """Match ``reads`` (any number of exhibits): rows exhibit by exhibit in order of
        first appearance, groups in the order formed, the reads nothing explains last —
        exactly as :func:`taserlink.forensics.reference.reference_match_reads`.

        Exhibits are independent, so they are matched in batches of at most
        :data:`BATCH_READS` reads: memory stays bounded however many reads are given.

        Raises:
            ReadError: a read not in the notation (naming its exhibit and tag).
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
        """:meth:`match` for whole exhibits, all at once."""
        prepared = self._prepare(reads)
        n_reads = len(prepared.reads)
        n_exhibits = len(prepared.exhibits)
        n = len(self.index)
        settings = self.settings
        ll0 = self._read_backgrounds(prepared)

        ec_exhibit, ec_serial = self._candidates(prepared)
        n_ec = len(ec_exhibit)
        cands_per_exhibit = np.bincount(ec_exhibit, minlength=n_exhibits)
        ec_start_of_exhibit = np.cumsum(cands_per_exhibit) - cands_per_exhibit
        reads_per_exhibit = np.bincount(prepared.exhibit, minlength=n_exhibits)
        read_start_of_exhibit = np.cumsum(reads_per_exhibit) - reads_per_exhibit

        # Pairs ordered (exhibit, candidate, read): every read with every candidate of its exhibit.
        per_exhibit = cands_per_exhibit * reads_per_exhibit
        pair_exhibit = np.repeat(np.arange(n_exhibits), per_exhibit)
        local = np.arange(int(per_exhibit.sum())) - np.repeat(
            np.cumsum(per_exhibit) - per_exhibit, per_exhibit
        )
        nr = reads_per_exhibit[pair_exhibit]
        pair_ec = ec_start_of_exhibit[pair_exhibit] + local // np.maximum(nr, 1)
        pair_read = read_start_of_exhibit[pair_exhibit] + local % np.maximum(nr, 1)
        pair_serial = ec_serial[pair_ec] if n_ec else np.zeros(0, np.int64)
        ll = self._log_likelihoods(prepared, pair_read, pair_serial)
        weight = np.array([r.confidence for r in prepared.reads])
        weighted = weight[pair_read] * ll

        # Step 5: grouping, all exhibits at once, one round per group formed.
        best = np.full(n_reads, -np.inf)
        np.maximum.at(best, pair_read, ll)
        delta = math.log(settings.grouping_factor)
        gain_term = weight[pair_read] * (ll - ll0[pair_read])
        near_best = ll >= best[pair_read] - delta - TIE_TOLERANCE
        joins = ll >= best[pair_read] - max(delta, math.log(n)) - TIE_TOLERANCE
        better = gain_term > TIE_TOLERANCE
        group_of = np.full(n_reads, -1, np.int64)
        group_exhibit: list[int] = []
        if n_ec:
            ec_starts = np.flatnonzero(np.r_[True, pair_ec[1:] != pair_ec[:-1]])
            exhibits_with = np.flatnonzero(cands_per_exhibit)
            while True:
                eligible = (group_of[pair_read] < 0) & near_best & better
                gain = np.add.reduceat(np.where(eligible, gain_term, 0.0), ec_starts)
                top_gain = np.maximum.reduceat(gain, ec_start_of_exhibit[exhibits_with])
                top_of_ec = np.repeat(top_gain, cands_per_exhibit[exhibits_with])
                choose = (gain >= top_of_ec - TIE_TOLERANCE) & (top_of_ec > TIE_TOLERANCE)
                first = np.minimum.reduceat(
                    np.where(choose, np.arange(n_ec), _NO), ec_start_of_exhibit[exhibits_with]
                )
                chosen = first[first != _NO]
                if not chosen.size:
                    break
                new_ids = len(group_exhibit) + np.arange(len(chosen))
                group_exhibit.extend(int(e) for e in ec_exhibit[chosen])
                id_of_ec = np.full(n_ec, -1, np.int64)
                id_of_ec[chosen] = new_ids
                take = (group_of[pair_read] < 0) & joins & better & (id_of_ec[pair_ec] >= 0)
                group_of[pair_read[take]] = id_of_ec[pair_ec[take]]
        n_formed = len(group_exhibit)
        # The reads nothing explains: one group per exhibit that has any.
        leftover_exhibits = np.unique(prepared.exhibit[group_of < 0])
        leftover_id = np.full(n_exhibits, -1, np.int64)
        leftover_id[leftover_exhibits] = n_formed + np.arange(len(leftover_exhibits))
        group_of = np.where(group_of < 0, leftover_id[prepared.exhibit], group_of)
        group_exhibit.extend(int(e) for e in leftover_exhibits)
        group_exhibit_arr = np.array(group_exhibit, np.int64)

        # Step 7 (end): merge formed groups of one exhibit that name the same serial.
        while True:
            ranking = _Ranking(group_of, pair_read, pair_ec, weighted, len(group_exhibit))
            formed = np.flatnonzero(ranking.first[:n_formed] >= 0)
            formed = formed[np.isin(formed, group_of)]
            keys = group_exhibit_arr[formed] * max(n_ec, 1) + ranking.first[formed]
            _, first_seen = np.unique(keys, return_index=True)
            repeated = np.setdiff1d(np.arange(len(formed)), first_seen)
            if not repeated.size:
                break
            for e in np.unique(group_exhibit_arr[formed[repeated]]):
                # One merge per exhibit per pass: the first group repeating an earlier one.
                here = formed[group_exhibit_arr[formed] == e]
                firsts: dict[int, int] = {}
                for g in here:
                    b = int(ranking.first[g])
                    if b in firsts:
                        group_of[group_of == g] = firsts[b]
                        break
                    firsts[b] = int(g)

        # Steps 6 and 7: posteriors and status, for every group at once.
        groups = len(group_exhibit)
        members_of: dict[int, list[int]] = {}
        for r, g in enumerate(group_of.tolist()):
            members_of.setdefault(g, []).append(r)
        # B(G): a lone read of full weight has its own background; others are enumerated.
        background = np.zeros(groups)
        for g, members in members_of.items():
            if len(members) == 1 and weight[members[0]] == 1.0:
                background[g] = ll0[members[0]]
            else:
                background[g] = self._group_background(prepared, members, weight)
        log_other = (
            np.log(
                settings.p_outside
                + (1 - settings.p_outside) * (n - cands_per_exhibit[group_exhibit_arr]) / n
            )
            + background
        )
        log_prior = math.log((1 - settings.p_outside) / n)
        has = ranking.start >= 0
        z = np.where(has, np.logaddexp(ranking.log_sum + log_prior, log_other), log_other)
        other = np.exp(log_other - z)
        first_score = np.exp(ranking.total(ranking.first) + log_prior - z)
        second_score = np.exp(ranking.total(ranking.second) + log_prior - z)
        serials = self.index.serials
        rows: list[MatchRow] = []
        for g in sorted(members_of, key=lambda g: (int(group_exhibit_arr[g]), g)):
            top: list[tuple[str, float]] = []
            for choice, score in ((ranking.first, first_score), (ranking.second, second_score)):
                if choice[g] >= 0:
                    top.append((str(serials[int(ec_serial[choice[g]])]), float(score[g])))
            rows.append(
                build_row(
                    prepared.exhibits[int(group_exhibit_arr[g])],
                    [self._read_summary(prepared, r) for r in members_of[g]],
                    top,
                    float(other[g]),
                    g >= n_formed,
                    settings,
                )
            )
        return rows

    def _group_background(self, prepared: _Reads, members: list[int], weight: FloatArray) -> float:
        """log B(G) (step 6 of the definition): E over a random serial of the product of
        the group's weighted read likelihoods, every combination of the torn reads'
        placements enumerated up to BACKGROUND_COMBINATIONS, the rest bounded."""
        length, base = self.index.scheme.length, self.index.base
        table = self._table.reshape(-1, base)
        counts = prepared.pl_count
        fixed = [r for r in members if counts[r] == 1]
        torn = sorted((r for r in members if counts[r] > 1), key=lambda r: int(counts[r]))
        enumerated: list[int] = []
        bounded: list[int] = []
        combinations = 1
        for r in torn:
            if combinations * int(counts[r]) <= BACKGROUND_COMBINATIONS:
                enumerated.append(r)
                combinations *= int(counts[r])
            else:
                bounded.append(r)
        base_logs = np.zeros((length, base))
        for r in fixed:
            base_logs += weight[r] * table[prepared.pl_cols[prepared.pl_start[r]]]
        logs = np.broadcast_to(base_logs, (combinations, length, base)).copy()
        if enumerated:
            choice = np.indices([int(counts[r]) for r in enumerated]).reshape(len(enumerated), -1)
            for k, r in enumerate(enumerated):
                rows = prepared.pl_cols[prepared.pl_start[r] + choice[k]]
                logs += weight[r] * table[rows]
        logs = np.where(self._allowed, logs, -np.inf)
        top = logs.max(axis=2, keepdims=True)
        per_position = top[..., 0] + np.log(np.exp(logs - top).sum(axis=2)) - self._log_allowed
        values = per_position.sum(axis=1) - sum(
            weight[r] * math.log(int(counts[r])) for r in enumerated
        )
        total = _log_sum_exp(values)
        for r in bounded:
            cols = prepared.pl_cols[prepared.pl_start[r] : prepared.pl_start[r] + counts[r]]
            best = np.where(self._allowed, table[cols], -np.inf).max(axis=2).sum(axis=1)
            total += float(weight[r]) * (_log_sum_exp(best) - math.log(int(counts[r])))
        return total

    def _read_summary(self, prepared: _Reads, r: int) -> tuple[str, list[Placement], bool]:
        read = prepared.reads[r]
        if prepared.complete[r]:
            return read.tag, [tuple(enumerate(prepared.texts[r]))], True
        columns = self.model.read_characters
        start, count = int(prepared.pl_start[r]), int(prepared.pl_count[r])
        placements = [
            tuple((int(i), columns[int(c)]) for i, c in enumerate(row) if c != self._absent)
            for row in prepared.pl_cols[start : start + count]
        ]
        return read.tag, placements, False


def _log_sum_exp(values: FloatArray) -> float:
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))


@functools.lru_cache(maxsize=1024)
def _segment_starts(
    lengths: tuple[int, ...], at_start: bool, at_end: bool, length: int
) -> npt.NDArray[np.int64]:
    """Where each segment starts in every placement, ``(placements, segments)``: the free
    characters shared out among the gaps that may hold some (stars and bars), in
    lexicographic order of the positions — the order the reference enumerates them in."""
    free = length - sum(lengths)
    gaps = len(lengths) + 1
    fixed = ({0} if at_start else set()) | ({gaps - 1} if at_end else set())
    open_gaps = [g for g in range(gaps) if g not in fixed]
    if not open_gaps:
        shares: list[tuple[int, ...]] = [()] if free == 0 else []
    else:
        k = len(open_gaps)
        shares = []
        for bars in itertools.combinations(range(free + k - 1), k - 1):
            edges = (-1, *bars, free + k - 1)
            shares.append(tuple(edges[i + 1] - edges[i] - 1 for i in range(k)))
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


class _Ranking:
    """Per group: Σ log L over its reads for each candidate of its exhibit, and the best and
    runner-up candidate (global candidate numbers; ties within TIE_TOLERANCE go to the
    serial listed first, i.e. the lower candidate number; -1 when there is none).

    Attributes:
        sums: the totals, group by group, candidates in order within a group.
        start: per group, where its totals begin in ``sums`` (-1: its exhibit has no
            candidate); ``ec_start``: the candidate number of its first total.
        log_sum: per group, log Σ exp(totals) (-inf without candidates).
        first, second: per group, the best and the runner-up candidate number.
    """

    def __init__(
        self,
        group_of: IntArray,
        pair_read: IntArray,
        pair_ec: IntArray,
        ll: FloatArray,
        groups: int,
    ) -> None:
        self.first = np.full(groups, -1, np.int64)
        self.second = np.full(groups, -1, np.int64)
        self.start = np.full(groups, -1, np.int64)
        self.ec_start = np.zeros(groups, np.int64)
        self.log_sum = np.full(groups, -np.inf)
        self.sums = np.zeros(0)
        if not len(pair_ec):
            return
        pair_group = group_of[pair_read]
        order = np.lexsort((pair_ec, pair_group))
        g_sorted, ec_sorted = pair_group[order], pair_ec[order]
        boundary = np.flatnonzero(
            np.r_[True, (g_sorted[1:] != g_sorted[:-1]) | (ec_sorted[1:] != ec_sorted[:-1])]
        )
        sums = np.add.reduceat(ll[order], boundary)
        run_group, run_ec = g_sorted[boundary], ec_sorted[boundary]
        splits = np.flatnonzero(np.r_[True, run_group[1:] != run_group[:-1]])
        ends = np.r_[splits[1:], len(sums)]
        self.sums = sums
        owner = np.repeat(np.arange(len(splits)), ends - splits)
        here = run_group[splits]
        self.start[here] = splits
        self.ec_start[here] = run_ec[splits]
        top = np.maximum.reduceat(sums, splits)
        self.log_sum[here] = top + np.log(np.add.reduceat(np.exp(sums - top[owner]), splits))
        best = self._pick(sums, run_ec, owner, splits, np.ones(len(sums), bool))
        self.first[here] = best
        self.second[here] = self._pick(sums, run_ec, owner, splits, run_ec != best[owner])

    def total(self, choice: IntArray) -> FloatArray:
        """Per group, the total of candidate ``choice[group]`` (-inf where it is -1)."""
        valid = choice >= 0
        at = np.where(valid, self.start + choice - self.ec_start, 0)
        return np.where(valid, self.sums[at] if len(self.sums) else -np.inf, -np.inf)

    @staticmethod
    def _pick(
        sums: FloatArray,
        run_ec: IntArray,
        owner: IntArray,
        splits: IntArray,
        allowed: npt.NDArray[np.bool_],
    ) -> IntArray:
        masked = np.where(allowed, sums, -np.inf)
        top = np.maximum.reduceat(masked, splits)
        tied = allowed & (masked >= top[owner] - TIE_TOLERANCE)
        pick = np.minimum.reduceat(np.where(tied, run_ec, _NO), splits)
        return np.where(pick == _NO, -1, pick)


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
