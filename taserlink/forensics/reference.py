"""The plain reference matcher: the definition of a match, written the obvious way.

Brute force over every serial, plain Python, no index and no numpy arithmetic: slow on
purpose, so that it can be read against ``docs/matching.md`` line by line and so that the
fast matcher (:mod:`taserlink.forensics.match`) can be tested against it.  Use it for a
handful of serials; for a register use :func:`taserlink.forensics.match.match_reads`.

The model's numbers by position (:class:`~taserlink.forensics.scoring.PositionTables`:
``T[o, t]`` = log P(output ``o`` | true ``t``), ``best``, ``mean``, expansions and break
costs) and the constants come from :mod:`taserlink.forensics.scoring`.  The definition,
for one exhibit (its reads, the list of ``N`` serials of length ``L``):

1. **Alignments.**  A read is written from a serial one true character at a time — each
   skipped, read as one character (``?`` included) or read as two — with an extra legible
   character inserted in a gap now and then (at most one a gap); torn parts (``*``) hide
   stretches of the serial.  A read's *alignments* are the ways it fits a serial with the
   fewest such events its length allows: none for a read of ``L`` characters or a torn read
   of at most ``L``; ``L − n`` skips for a complete read of ``n < L``; ``n − L`` insertions
   or pairs for a read of ``n > L``.  A torn read's pieces may sit anywhere consistent with
   its tears, each placement equally likely (weight ``1/M``); an inserted character weighs
   ``p_insert / legible / (1 − p_insert)`` (``ConfusionModel.insertion_log_weight``).  An
   alignment that puts a pair where no allowed character is written so is dropped.  More
   than ``MAX_EXTRA`` events, more than ``MAX_ALIGNMENTS`` alignments or none left: the read
   is kept, not scored.  A read with no character other than ``?`` is kept as an unreadable
   tag, not scored.
2. **Likelihood.**  ``ℓ_a(s) = log w_a + Σ_(p,o)∈a T[o, s_p]``;
   ``L(read | s) = Σ_a exp ℓ_a(s)``.  A read with the examiner's ``confidence`` ``c``
   counts as ``c`` of a read: ``L^c`` (0 ignores it).
3. **Background.**  ``L₀(read) = Σ_a w_a Π exp mean[p, o]``: the likelihood under a random
   serial (type letter uniform over the type letters, the rest uniform — the check
   character too, an approximation).
4. **Candidates.**  ``ℓ̂ = max_a (log w_a + Σ best[p, o])`` is the most any serial could
   score and ``cost_a(s) = ℓ̂ − ℓ_a(s)`` ≥ 0 how far a serial falls short of it; ``D = ℓ̂ −
   log L₀`` (a serial further behind explains the read worse than a random one). The search
   runs in stages.  At stage ``k`` an alignment has a *window* at every start where
   ``stage_lengths(...)[k]`` consecutive positions are covered, of at most ``STAGE_KEYS[k]``
   keys (each character standing for its expansion, ``?`` and skips for any) and matched by
   at most ``STAGE_HITS[k]`` listed serials; every such window is used at the first stage,
   and at a later one the disjoint windows that make ``λ`` (below) largest (ties to leaving
   a start out).  A serial is *found* by an alignment when one of its windows matches it,
   and costed as the least ``cost_a`` over the alignments that find it; ``c`` is the least
   cost found.  ``λ`` is the least cost a serial can have and be found by no window: over
   the alignments, the cheapest way to break every window (a break: a character outside the
   expansion, at its break cost).  The stage is *conclusive* when ``min(c, D) + CERTAIN_NATS
   < λ`` (nothing it missed can come near what it found: the read's search is *certified*),
   or when what it found is notable — ``c ≤ D − log N``: it stands out from a list of ``N``
   (merely explaining the read better than chance, ``c ≤ D``, is what some of ten million
   serials do for a read with two arbitrary misreads: it does not end the search).
   Otherwise the next stage runs, unless its windows' hits (listed serials matched,
   counted per window and alignment) would number more than ``READ_HITS``: then the stage
   before is the last.  The
   candidates are the serials the last stage run found with cost ≤ ``min(c + SPAN_NATS,
   D)``, at most the ``MAX_CANDIDATES`` cheapest (ties to the serial listed first).
5. **Grouping** (an exhibit's reads may come from several cartridges).  The exhibit's
   *anchors* are the best candidates (ties to the serial listed first) of the reads that
   stand out (``log L(read|best) − log L₀(read) ≥ log N``); a read that does not stand out
   takes as candidates too the anchors that explain it better than chance.  A read may join
   only the serials of its candidates.  Repeatedly, the serial with the most evidence — ``Σ
   c·(log L(read|s) − log L₀(read))`` over the unassigned reads that have it within a factor
   ``grouping_factor`` of their best candidate, positive terms only — forms a group of every
   unassigned read with positive evidence for it within a factor ``N`` of its best (a
   cartridge already found is a priori about ``N`` times likelier to have shed a tag than
   any one other listed serial).  Ties go to the serial listed first.  Reads left when no
   serial gains, and the unreadable and unscored ones, form one group nothing explains.
   Groups whose best serial coincides are merged.  A group is *established* when it holds
   two reads or more whose evidence for its best serial, ``T_best − Σ c·log L₀``, is at
   least ``log N`` (the exhibit holds that cartridge).  Each read alone in its group (or in
   none) joins the established group whose best or runner-up serial it has the most evidence
   for, on the terms above (ties to the group formed first) — a tag that tells a group's two
   likeliest serials apart belongs with it; the merging and joining repeat until no read
   moves.
6. **The group's serials**: the candidates of its reads; each one's total
   ``T_s = Σ_G c·log L(read|s)``; serials more than ``Θ = Σ_p log|allowed_p| + 1`` nats
   below the best total are counted with "another serial" (a random serial is at least
   that likely), the rest kept.
7. **Posterior.**  Each kept serial ``s``: prior ``(1 − p_outside)/N``, likelihood ``exp
   T_s``.  "Another serial" — one of the ``N − K`` not kept, or one outside the list: prior
   ``p_outside + (1 − p_outside)(N − K)/N``, likelihood ``B(G) = E_t[Π_G L(read|t)^c]`` for
   *one* random serial ``t`` (reads that agree with each other but with no listed serial
   make it likely, as they should).  ``B`` is a sum over the combinations of the reads'
   alignments of products over positions: summed exactly while the combinations number at
   most ``MIX_EXACT``, the reads taken in with one alignment first, then by fewest
   alignments (input order among equals); beyond, before a read with ``M`` alignments is
   taken in, only the largest are kept (at most ``min(MIX_KEEP, MIX_EXACT // M − 1)``,
   ranked by mass rounded to ``MASS_QUANTUM``, within ``MIX_SPAN`` nats of the largest — one
   left out weighs at most e^−40 of the largest when it is left out, and a group of reads of
   one cartridge soon agrees on one placement of each piece).  ``B(G)`` is never taken below
   the kept serials' own part of it, ``Σ_K Π_p 1/|allowed_p| · exp T_s``, which the
   combinations kept may miss when reads fit their serial equally well in several ways. A
   read with ``c < 1`` and several alignments enters by ``Σ_a (w_a x_a)^c`` ≥ ``(Σ_a w_a
   x_a)^c``.  A *cartridge of the exhibit* — the best serial of another of its established
   groups — has prior ``1 − p_outside`` instead of ``(1 − p_outside)/N`` (it is a priori the
   source of a tag of the exhibit), unless its prior × likelihood falls more than
   ``RIVAL_SPAN`` nats below the best kept serial's (then it is left out, or, when it is a
   kept serial, keeps the ordinary prior), and the row names the best kept serial that is
   not one.  When no read of the group has a certified search, one more hypothesis: a listed
   serial all the searches could have missed, prior ``(1 − p_outside)/N``, log-likelihood
   ``Σ_G c·min(bound, log L(read|best))`` — on each read as likely as its search allows
   (``bound``: every alignment at most ``settled`` short of ``ℓ̂``, ``settled`` the least
   cost of a serial the read does not name), never likelier than the group's best serial.
8. **Status**: ``match`` when the best serial's posterior ≥ ``match_threshold``; else
   ``none`` when it is below "another serial"'s; else ``ambiguous``.

Ties between log-likelihoods closer than ``TIE_TOLERANCE`` go to the serial listed first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from taserlink.errors import MatchError, ReadError
from taserlink.forensics.confusion import SKIPPED, ConfusionModel
from taserlink.forensics.reads import UNREADABLE, AfidRead, parse_read
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
    stage_lengths,
)
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = ["alignments", "hitting_cost", "reference_match_reads"]


def alignments(read: AfidRead, length: int, model: ConfusionModel) -> list[Alignment] | None:
    """Every way ``read`` fits a serial of ``length`` characters (step 1), in canonical
    order; ``None`` when it needs more than ``MAX_EXTRA`` events or fits more than
    ``MAX_ALIGNMENTS`` ways."""
    segments = read.segments
    if not segments:
        return []
    known = sum(len(s) for s in segments)
    skips = max(0, length - known) if read.complete else 0
    extra = max(0, known - length)
    if skips + extra > MAX_EXTRA:
        return None
    pairs = {written for _, written, _ in model.pairs}
    found: list[tuple[tuple[tuple[int, str], ...], tuple[tuple[int, str], ...]]] = []
    too_many = False

    def walk(
        k: int,
        j: int,
        p: int,
        skips_left: int,
        extra_left: int,
        covered: tuple[tuple[int, str], ...],
        inserted: tuple[tuple[int, str], ...],
    ) -> None:
        nonlocal too_many
        if too_many:
            return
        segment = segments[k]
        if skips_left and p < length:
            walk(k, j, p + 1, skips_left - 1, extra_left, (*covered, (p, SKIPPED)), inserted)
        if j == len(segment):
            if k == len(segments) - 1:
                if skips_left or extra_left or (read.ends_at_end and p != length):
                    return
                found.append((covered, inserted))
                too_many = len(found) > MAX_ALIGNMENTS
                return
            for start in range(p, length + 1):  # a torn part of zero or more characters
                walk(k + 1, 0, start, skips_left, extra_left, covered, inserted)
            return
        char = segment[j]
        if p < length:
            walk(k, j + 1, p + 1, skips_left, extra_left, (*covered, (p, char)), inserted)
        if extra_left:
            # An inserted character is a legible one, at most one in a gap.
            if char != UNREADABLE and not (inserted and inserted[-1][0] == p):
                walk(k, j + 1, p, skips_left, extra_left - 1, covered, (*inserted, (p, char)))
            if p < length and segment[j : j + 2] in pairs:
                pair = segment[j : j + 2]
                walk(k, j + 2, p + 1, skips_left, extra_left - 1, (*covered, (p, pair)), inserted)

    starts = [0] if read.starts_at_start else list(range(length + 1))
    for start in starts:
        walk(0, 0, start, skips, extra, (), ())
    if too_many:
        return None
    torn_only = not read.complete and extra == 0
    result = []
    for covered, inserted in found:
        weight = -math.log(len(found)) if torn_only else 0.0
        weight += len(inserted) * model.insertion_log_weight
        result.append(Alignment(covered, inserted, weight))
    result.sort(key=lambda a: a.key)
    return result


def _log_sum_exp(values: Sequence[float]) -> float:
    finite = [v for v in values if v > -math.inf]
    if not finite:
        return -math.inf
    top = max(finite)
    return top + math.log(sum(math.exp(v - top) for v in finite))


def hitting_cost(windows: Sequence[tuple[int, int]], cost: Sequence[float]) -> float:
    """The least total ``cost`` of a set of positions that meets every window
    (``(start, length)``); 0 without windows, ``inf`` when some window cannot be met."""
    if not windows:
        return 0.0
    spans = [(w, w + n - 1) for w, n in windows]
    best: list[float] = []
    for p in range(len(cost)):
        choices = [0.0] if not any(end < p for _, end in spans) else []
        for q in range(p):
            if not any(q < start and end < p for start, end in spans):
                choices.append(best[q])
        best.append(cost[p] + min(choices) if choices else math.inf)
    answers = [best[p] for p in range(len(cost)) if not any(start > p for start, _ in spans)]
    return min(answers) if answers else math.inf


@dataclass
class _Read:
    tag: TagRead
    parsed: AfidRead
    state: str
    ways: list[Alignment]
    best_possible: float = -math.inf  # ℓ̂
    log_background: float = -math.inf  # log L₀
    candidates: dict[int, float] | None = None  # serial index -> log L(read | s)
    certified: bool = False  # the search found the read's best serial for certain
    settled: float = 0.0  # every listed serial the read does not name costs at least this


class _Reference:
    def __init__(
        self,
        serials: Sequence[str],
        scheme: SerialScheme,
        model: ConfusionModel,
        settings: MatchSettings,
    ) -> None:
        self.serials = serials
        self.scheme = scheme
        self.model = model
        self.settings = settings
        self.tables = PositionTables(model, scheme)
        self.n = len(serials)
        self.lengths = stage_lengths(scheme, len(serials))
        alphabet = scheme.alphabet
        self.codes = [[alphabet.index(c) for c in s] for s in serials]

    # -- one read ---------------------------------------------------------------------
    def T(self, output: str, code: int) -> float:
        return float(self.tables.log_table[self.tables.output_index[output], code])

    def best_at(self, p: int, output: str) -> float:
        return float(self.tables.best[p, self.tables.output_index[output]])

    def prepare(self, tag: TagRead) -> _Read:
        try:
            parsed = parse_read(tag.text)
        except ReadError as error:
            raise ReadError(f"exhibit {tag.exhibit!r} tag {tag.tag!r}: {error}") from None
        if parsed.readable == 0:
            return _Read(tag, parsed, ReadState.UNREADABLE, [])
        unknown = sorted({c for s in parsed.segments for c in s} - set(self.tables.outputs))
        if unknown:
            raise ReadError(
                f"exhibit {tag.exhibit!r} tag {tag.tag!r}: read {tag.text!r}: {unknown[0]!r} is "
                "not a read character of the model"
            )
        ways = alignments(parsed, self.scheme.length, self.model)
        possible = [
            a for a in ways or [] if all(self.best_at(p, o) > -math.inf for p, o in a.covered)
        ]
        if not possible:
            return _Read(tag, parsed, ReadState.UNSCORABLE, [])
        read = _Read(tag, parsed, ReadState.SCORED, possible)
        read.best_possible = max(self.best_possible(a) for a in possible)
        read.log_background = _log_sum_exp(
            [
                a.log_weight
                + sum(float(self.tables.mean[p, self.tables.output_index[o]]) for p, o in a.covered)
                for a in possible
            ]
        )
        return read

    def best_possible(self, a: Alignment) -> float:
        return a.log_weight + sum(self.best_at(p, o) for p, o in a.covered)

    def score(self, a: Alignment, s: int) -> float:
        codes = self.codes[s]
        return a.log_weight + sum(self.T(o, codes[p]) for p, o in a.covered)

    def log_likelihood(self, read: _Read, s: int) -> float:
        return _log_sum_exp([self.score(a, s) for a in read.ways])

    def plan(self, a: Alignment, stage: int) -> list[tuple[int, int]]:
        """The windows of alignment ``a`` at ``stage``, ``(start, length)``: at every start,
        the stage's length of covered positions, of at most ``STAGE_KEYS`` keys (wild
        positions after the last constraint are a range, not keys) and matched by at most
        ``STAGE_HITS`` listed serials."""
        tables = self.tables
        length = self.scheme.length
        size = self.lengths[stage]
        outputs = dict(a.covered)
        windows = []
        for start in range(length - size + 1):
            window = range(start, start + size)
            if any(p not in outputs for p in window):
                continue
            keys = 1
            pending = 1  # keys of wild positions, counted once a constraint follows
            for p in window:
                o = tables.output_index[outputs[p]]
                count = int(tables.size[p, o])
                if tables.wild[p, o]:
                    pending *= count
                else:
                    keys *= pending * count
                    pending = 1
            if keys > STAGE_KEYS[stage]:
                continue
            matched = sum(
                1
                for codes in self.codes
                if all(
                    codes[q] in tables.expansion[q][tables.output_index[outputs[q]]] for q in window
                )
            )
            if matched <= STAGE_HITS[stage]:
                windows.append((start, size))
        if stage == 0:
            return windows
        # Later stages: the disjoint windows that make the guarantee largest.
        at = dict(windows)
        weight = {
            w: min(
                float(tables.break_cost[q, tables.output_index[outputs[q]]])
                for q in range(w, w + size)
            )
            for w in at
        }
        best = [0.0] * (length + 2)
        for w in range(length - 1, -1, -1):
            best[w] = best[w + 1]
            if w in at and weight[w] + best[w + size] > best[w + 1]:
                best[w] = weight[w] + best[w + size]
        chosen = []
        w = 0
        while w < length:
            if w in at and weight[w] + best[w + size] > best[w + 1]:
                chosen.append((w, size))
                w += size
            else:
                w += 1
        return chosen

    def reach(self, read: _Read, plans: list[list[tuple[int, int]]]) -> int:
        """How many listed serials the windows reach, counted per window and alignment."""
        total = 0
        for a, windows in zip(read.ways, plans, strict=True):
            for start, size in windows:
                total += sum(1 for s in range(self.n) if self.found_by(a, [(start, size)], s))
        return total

    def found_by(self, a: Alignment, windows: list[tuple[int, int]], s: int) -> bool:
        outputs = dict(a.covered)
        codes = self.codes[s]
        tables = self.tables
        for start, size in windows:
            if all(
                codes[p] in tables.expansion[p][tables.output_index[outputs[p]]]
                for p in range(start, start + size)
            ):
                return True
        return False

    def breaking(self, a: Alignment, windows: list[tuple[int, int]]) -> float:
        outputs = dict(a.covered)
        tables = self.tables
        cost = [
            float(tables.break_cost[p, tables.output_index[outputs[p]]])
            if p in outputs
            else math.inf
            for p in range(self.scheme.length)
        ]
        return hitting_cost(windows, cost)

    def candidates(self, read: _Read) -> dict[int, float]:
        """Step 4: candidate serial index → log L(read | s); also sets ``read.certified``
        and ``read.settled`` (every listed serial not named costs at least this)."""
        top = read.best_possible
        limit = top - read.log_background
        costs = {id(a): [top - self.score(a, s) for s in range(self.n)] for a in read.ways}
        chosen: list[int] = []
        for stage in range(len(STAGE_HITS)):
            plans = [self.plan(a, stage) for a in read.ways]
            if stage and self.reach(read, plans) > READ_HITS:
                break  # too wide for this read: the previous stage's finds stand
            found: dict[int, float] = {}
            guarantee = math.inf
            for a, windows in zip(read.ways, plans, strict=True):
                guarantee = min(
                    guarantee, self.breaking(a, windows) + (top - self.best_possible(a))
                )
                for s in range(self.n):
                    if self.found_by(a, windows, s):
                        c = costs[id(a)][s]
                        found[s] = min(found.get(s, math.inf), c)
            least = min(found.values(), default=math.inf)
            bound = min(least + SPAN_NATS, limit)
            chosen = [s for c, s in sorted((c, s) for s, c in found.items() if c <= bound)]
            chosen = chosen[:MAX_CANDIDATES]
            left_out = min((c for s, c in found.items() if s not in chosen), default=math.inf)
            read.certified = min(least, limit) + CERTAIN_NATS < guarantee
            read.settled = min(guarantee, left_out, limit)
            notable = limit - math.log(self.n)
            if read.certified or least <= notable:
                break
        return {s: self.log_likelihood(read, s) for s in sorted(chosen)}

    # -- one exhibit ------------------------------------------------------------------
    def match_exhibit(self, exhibit: str, members: list[_Read]) -> list[MatchRow]:
        settings = self.settings
        n = self.n
        scored = [r for r in members if r.state == ReadState.SCORED]
        for read in scored:
            read.candidates = self.candidates(read)
        ll0 = {id(r): r.log_background for r in scored}
        # Anchors: the best candidates of the reads that stand out from the list; a read
        # that does not stand out may join them too, when they explain it better than chance.
        strong: list[_Read] = []
        anchors: set[int] = set()
        for r in scored:
            options = r.candidates or {}
            if not options:
                continue
            top = max(options.values())
            pick = min(s for s, v in options.items() if v >= top - TIE_TOLERANCE)
            if top - ll0[id(r)] >= math.log(n):
                strong.append(r)
                anchors.add(pick)
        for r in scored:
            if any(r is x for x in strong):
                continue
            for a in sorted(anchors):
                if a in (r.candidates or {}):
                    continue
                ll = self.log_likelihood(r, a)
                if ll > ll0[id(r)]:
                    r.candidates = {**(r.candidates or {}), a: ll}

        def cands(r: _Read) -> dict[int, float]:
            return r.candidates or {}

        best = {id(r): max(cands(r).values(), default=-math.inf) for r in scored}
        delta = math.log(settings.grouping_factor)
        join = max(delta, math.log(n))
        unassigned = list(scored)
        groups: list[list[_Read]] = []
        serial_set = sorted({s for r in scored for s in cands(r)})
        while True:
            gains: dict[int, float] = {}
            for s in serial_set:
                total = 0.0
                for r in unassigned:
                    if s not in cands(r):
                        continue
                    ll = cands(r)[s]
                    term = r.tag.confidence * (ll - ll0[id(r)])
                    if ll >= best[id(r)] - delta - TIE_TOLERANCE and term > TIE_TOLERANCE:
                        total += term
                gains[s] = total
            top = max(gains.values(), default=0.0)
            if top <= TIE_TOLERANCE:
                break
            chosen = min(s for s, g in gains.items() if g >= top - TIE_TOLERANCE)
            group = [
                r
                for r in unassigned
                if chosen in cands(r)
                and cands(r)[chosen] >= best[id(r)] - join - TIE_TOLERANCE
                and r.tag.confidence * (cands(r)[chosen] - ll0[id(r)]) > TIE_TOLERANCE
            ]
            groups.append(group)
            unassigned = [r for r in unassigned if all(r is not g for g in group)]

        while True:
            # Groups naming the same serial are merged, the later into the earlier.
            merged = True
            while merged:
                merged = False
                seen: dict[int, int] = {}
                for g, group in enumerate(groups):
                    kept = self.kept(group)
                    if not kept:
                        continue
                    b = kept[0][0]
                    if b in seen:
                        groups[seen[b]] = groups[seen[b]] + group
                        del groups[g]
                        merged = True
                        break
                    seen[b] = g

            # Each read alone in its group, or in none, joins the established group whose
            # best or runner-up serial it has the most evidence for (as when a group is
            # formed), ties to the earlier group.
            named = [
                [s for s, _ in self.kept(group)[:2]] if self.established(group) else []
                for group in groups
            ]
            home = {id(r): g for g, group in enumerate(groups) for r in group}
            moves: list[tuple[_Read, int]] = []
            for r in scored:
                if id(r) in home and len(self.weighed(groups[home[id(r)]])) >= 2:
                    continue
                offers: list[tuple[float, int]] = []
                for g, serials in enumerate(named):
                    for s in serials:
                        fit = cands(r).get(s)
                        if fit is None or fit < best[id(r)] - join - TIE_TOLERANCE:
                            continue
                        term = r.tag.confidence * (fit - ll0[id(r)])
                        if term > TIE_TOLERANCE:
                            offers.append((term, g))
                if offers:
                    most = max(t for t, _ in offers)
                    moves.append((r, min(g for t, g in offers if t >= most - TIE_TOLERANCE)))
            if not moves:
                break
            for r, g in moves:
                if id(r) in home:
                    groups[home[id(r)]] = [x for x in groups[home[id(r)]] if x is not r]
                groups[g].append(r)
            groups = [group for group in groups if group]

        order = {id(r): i for i, r in enumerate(members)}
        assigned = {id(r) for g in groups for r in g}
        rest = [r for r in members if id(r) not in assigned]
        # The exhibit's cartridges: the best serials of its established groups.
        cartridges = [
            (self.kept(group)[0][0], group) for group in groups if self.established(group)
        ]
        rows = []
        for group in groups:
            others = [s for s, g in cartridges if g is not group]
            rows.append(self.row(exhibit, sorted(group, key=lambda r: order[id(r)]), False, others))
        if rest:
            rows.append(self.row(exhibit, rest, True, [s for s, _ in cartridges]))
        return rows

    @staticmethod
    def weighed(group: list[_Read]) -> list[_Read]:
        """The reads of a group that count: scored, of positive confidence."""
        return [r for r in group if r.state == ReadState.SCORED and r.tag.confidence > 0]

    def established(self, group: list[_Read]) -> bool:
        """Whether a group establishes a cartridge of its exhibit: two reads or more whose
        evidence for its best serial, ``T_best − Σ c·log L₀``, is at least ``log N``."""
        weighed = self.weighed(group)
        kept = self.kept(group)
        if len(weighed) < 2 or not kept:
            return False
        chance = sum(r.tag.confidence * r.log_background for r in weighed)
        return kept[0][1] - chance >= math.log(self.n)

    def missed(self, read: _Read) -> float:
        """The most log L(read | s) of a listed serial the read does not name: every
        alignment at most ``settled`` short of ``ℓ̂``."""
        cap = read.best_possible - read.settled
        return _log_sum_exp([min(self.best_possible(a), cap) for a in read.ways])

    def kept(self, group: list[_Read]) -> list[tuple[int, float]]:
        """Step 6: the group's kept serials with their totals, best first."""
        weighed = self.weighed(group)
        serials = sorted({s for r in weighed for s in (r.candidates or {})})
        totals = []
        for s in serials:
            total = 0.0
            for r in weighed:
                ll = (r.candidates or {}).get(s)
                if ll is None:
                    ll = self.log_likelihood(r, s)
                total += r.tag.confidence * ll
            totals.append((s, total))
        if not totals:
            return []
        top = max(t for _, t in totals)
        kept = [(s, t) for s, t in totals if t >= top - self.tables.keep_span]
        return _tie_sorted(kept)

    def row(
        self, exhibit: str, group: list[_Read], nothing_explains: bool, cartridges: list[int]
    ) -> MatchRow:
        """Steps 7 and 8 for one group; ``cartridges`` are the serials of the exhibit's
        other established groups."""
        settings = self.settings
        n = self.n
        kept = self.kept(group)
        summaries = [
            ReadSummary(r.tag.tag, tuple(r.ways), not r.parsed.complete, r.state) for r in group
        ]
        if not kept:
            return build_row(
                exhibit, summaries, [], 1.0, nothing_explains, settings, self.scheme.length
            )
        weighed = self.weighed(group)
        log_serial_prior = math.log((1 - settings.p_outside) / n)
        # B(G) is at least the kept serials' own share of it (each is the random serial
        # with probability Π 1/|allowed|); the combination sum may leave that out.
        floor = _log_sum_exp([t for _, t in kept]) - sum(self.tables.log_allowed)
        log_other = math.log(
            settings.p_outside + (1 - settings.p_outside) * (n - len(kept)) / n
        ) + max(self.background(weighed), floor)
        # Each serial's log prior × likelihood: a cartridge the exhibit holds (the best
        # serial of another established group) is a priori the source of a tag of the
        # exhibit, not one of N; one far below the best serial is left out.
        log_cartridge_prior = math.log(1 - settings.p_outside)
        weight = {s: log_serial_prior + t for s, t in kept}
        least = log_serial_prior + kept[0][1] - RIVAL_SPAN
        for s in cartridges:
            total = dict(kept).get(s)
            if total is None:
                total = sum(r.tag.confidence * self.log_likelihood(r, s) for r in weighed)
            if log_cartridge_prior + total >= least:
                weight[s] = log_cartridge_prior + total
        # When no read's search is certified, a listed serial they could all have missed
        # competes: on each read as likely as its bound allows, never more than the best.
        best = kept[0][0]
        log_missed = (
            -math.inf
            if any(r.certified for r in weighed)
            else log_serial_prior
            + sum(
                r.tag.confidence * min(self.missed(r), self.log_likelihood(r, best))
                for r in weighed
            )
        )
        z = _log_sum_exp([*weight.values(), log_other, log_missed])
        named = [s for s, _ in kept if s not in cartridges][:1] or [kept[0][0]]
        runner = _tie_sorted([(s, w) for s, w in weight.items() if s != named[0]])[:1]
        top = [(self.serials[s], math.exp(weight[s] - z)) for s in named + [s for s, _ in runner]]
        return build_row(
            exhibit,
            summaries,
            top,
            math.exp(log_other - z),
            nothing_explains,
            settings,
            self.scheme.length,
            math.exp(log_missed - z),
        )

    # -- step 7: the background of a group ----------------------------------------------
    def background(self, reads: list[_Read]) -> float:
        """log B(G), by the combination sum of step 7."""
        tables = self.tables
        allowed = tables.allowed
        length = self.scheme.length
        # A combination: [log weight, profile per position over the allowed characters].
        prior = [[-tables.log_allowed[p]] * len(allowed[p]) for p in range(length)]
        combos: list[tuple[float, list[list[float]]]] = [(0.0, prior)]
        single = [r for r in reads if len(r.ways) == 1]
        several = sorted(
            (r for r in reads if len(r.ways) > 1), key=lambda r: len(r.ways)
        )  # stable: input order among equals
        for read in single:
            c = read.tag.confidence
            a = read.ways[0]
            combos = [(w + c * a.log_weight, self._add(profile, a, c)) for w, profile in combos]
        for read in several:
            c = read.tag.confidence
            m = len(read.ways)
            if len(combos) * m > MIX_EXACT:
                combos = self._reduce(combos, max(1, min(MIX_KEEP, MIX_EXACT // m - 1)))
            combos = [
                (w + c * a.log_weight, self._add(profile, a, c))
                for w, profile in combos
                for a in read.ways
            ]
        return _log_sum_exp([self._mass(w, profile) for w, profile in combos])

    def _add(self, profile: list[list[float]], a: Alignment, c: float) -> list[list[float]]:
        allowed = self.tables.allowed
        result = [list(row) for row in profile]
        for p, o in a.covered:
            result[p] = [v + c * self.T(o, t) for v, t in zip(result[p], allowed[p], strict=True)]
        return result

    @staticmethod
    def _mass(w: float, profile: list[list[float]]) -> float:
        return w + sum(_log_sum_exp(row) for row in profile)

    def _reduce(
        self, combos: list[tuple[float, list[list[float]]]], keep: int
    ) -> list[tuple[float, list[list[float]]]]:
        masses = [self._mass(w, profile) for w, profile in combos]
        top = max(masses)
        ranked = sorted(range(len(combos)), key=lambda i: (-round(masses[i] / MASS_QUANTUM), i))
        kept = sorted(i for i in ranked[:keep] if masses[i] >= top - MIX_SPAN)
        return [combos[i] for i in kept]


def _tie_sorted(totals: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Serials by total, totals within TIE_TOLERANCE of the leader counted equal and
    ordered by list position."""
    result: list[tuple[int, float]] = []
    rest = list(totals)
    while rest:
        top = max(t for _, t in rest)
        pick = min((item for item in rest if item[1] >= top - TIE_TOLERANCE), key=lambda x: x[0])
        result.append(pick)
        rest.remove(pick)
    return result


def reference_match_reads(
    reads: Sequence[TagRead],
    serials: Sequence[str],
    *,
    scheme: SerialScheme = CARTRIDGE_SCHEME,
    model: ConfusionModel | None = None,
    settings: MatchSettings | None = None,
) -> list[MatchRow]:
    """Match ``reads`` against ``serials`` by the definition above, by brute force.

    Rows come exhibit by exhibit (in order of first appearance), groups in the order they
    were formed, the group nothing explains last.

    Raises:
        MatchError: an empty or duplicated serial list, a serial that is not canonical
            and valid in ``scheme``, or an exhibit of more than ``MAX_EXHIBIT_READS`` reads.
        ReadError: a read not in the notation.
        ConfusionModelError: a model for another alphabet.
    """
    model = model or ConfusionModel.default(scheme)
    settings = settings or MatchSettings()
    model.check_scheme(scheme)
    if not serials:
        raise MatchError("the serial list is empty")
    for i, serial in enumerate(serials):
        why = scheme.problem(serial)
        if why is not None:
            raise MatchError(
                f"serial {i + 1} {serial!r} is not a valid {scheme.name} serial: {why}"
            )
    if len(set(serials)) != len(serials):
        raise MatchError("the serial list holds a duplicate")
    engine = _Reference(serials, scheme, model, settings)
    prepared = [engine.prepare(tag) for tag in reads]
    exhibits: dict[str, list[_Read]] = {}
    for read in prepared:
        exhibits.setdefault(read.tag.exhibit, []).append(read)
    check_exhibit_sizes({e: [r.tag for r in members] for e, members in exhibits.items()})
    rows: list[MatchRow] = []
    for exhibit, members in exhibits.items():
        rows.extend(engine.match_exhibit(exhibit, members))
    return rows
