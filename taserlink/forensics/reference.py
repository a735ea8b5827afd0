"""The plain reference matcher: the definition of a match, written the obvious way.

Brute force over every serial, plain Python, no index and no numpy: slow on purpose, so
that it can be read against ``docs/matching.md`` line by line and so that the fast matcher
(:mod:`taserlink.forensics.match`) can be tested against it.  Use it for a handful of
serials; for a register use :func:`taserlink.forensics.match.match_reads`.

The definition, for one exhibit (its reads ``R``, the list of ``N`` serials):

1. **Placements.**  A read's segments are placed in the serial in order, without overlap,
   the first at position 0 when the read does not begin with ``*``, the last at the end
   when it does not end with ``*``; a torn part (``*``) may stand for zero or more
   characters.  ``M`` placements are possible, each equally likely a priori.
2. **Likelihood.**  ``L(read | s) = (1/M) Σ_placements Π_covered P(read char | s char)``
   under the confusion model; uncovered positions contribute 1.  A read with the
   examiner's confidence ``c`` counts as ``c`` of a read: its likelihood is raised to the
   power ``c`` (1 when not given; 0 ignores the read).
3. **Background.**  ``L₀(read) = E_t[L(read | t)]`` for a random serial ``t`` of the
   scheme (type letter uniform over the type letters, other characters uniform over the
   alphabet — the check character taken as uniform too).
4. **Candidates.**  A serial is a candidate of the exhibit when, for some read, placement
   and window (:func:`~taserlink.forensics.scoring.window_length` consecutive covered
   positions), each of its characters in the window is among those the read character
   there stands for: its :func:`~taserlink.forensics.scoring.expansion` (``?`` stands for
   any), narrowed by :func:`~taserlink.forensics.scoring.window_sets` when the window
   stands for too many combinations.
5. **Grouping.**  Repeatedly: a read is *eligible* for candidate ``s`` when it is still
   unassigned, ``log L(read|s) ≥ best(read) - log(grouping_factor)`` (``best`` over all
   candidates) and its evidence ``c·log(L(read|s)/L₀(read))`` is positive; the candidate
   with the largest total evidence over its eligible reads (ties to the serial listed
   first) forms a group: every unassigned read with positive evidence for it whose
   ``log L(read|s) ≥ best(read) - max(log(grouping_factor), log N)`` — a cartridge
   already found in the exhibit is a priori about ``N`` times likelier to have shed a
   tag than any one other listed serial, so a read that fits it a little worse than a
   look-alike joins it rather than naming the look-alike.  Reads left when no candidate
   gains form one group that nothing explains.
6. **Posterior** of a group ``G``: each candidate ``s`` has prior ``(1-p_outside)/N`` and
   likelihood ``Π_G L(read|s)^c``; the other ``N - |C|`` serials and a serial outside
   the list together ("other") have prior ``p_outside + (1-p_outside)(N-|C|)/N`` and
   likelihood ``B(G) = E_t[Π_G L(read|t)^c]`` over a random serial ``t`` — *one* serial
   for all the reads, so reads that agree with each other make "other" likelier too.
   ``B`` is computed exactly over every combination of the torn reads' placements (torn
   reads taken fewest placements first while the combinations number at most
   ``BACKGROUND_COMBINATIONS``); a torn read beyond that, or with ``c < 1``, enters by an
   upper bound (``max_t L(read|t)^c``, resp. ``(Σ_p x_p)^c ≤ Σ_p x_p^c``), so "other" is
   never understated.
7. **Status**: ``match`` when the best serial's posterior ≥ ``match_threshold``; else
   ``none`` when it is below "other"'s; else ``ambiguous``.  Groups whose best serial
   coincides are merged (and re-scored) until every row names a different serial.

Ties between log-likelihoods closer than :data:`~taserlink.forensics.scoring.TIE_TOLERANCE`
go to the serial listed first.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from taserlink.errors import MatchError
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.results import MatchRow, MatchSettings, TagRead
from taserlink.forensics.scoring import (
    BACKGROUND_COMBINATIONS,
    TIE_TOLERANCE,
    Placement,
    allowed_characters,
    build_row,
    check_exhibit_sizes,
    expansion,
    window_length,
    window_sets,
)
from taserlink.forensics.serials import AfidRead, parse_read
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = ["reference_match_reads", "placements"]


def placements(read: AfidRead, length: int) -> list[Placement]:
    """Every way to place ``read``'s segments in a serial of ``length`` characters."""
    segments = read.segments
    found: list[Placement] = []

    def place(k: int, start: int, covered: tuple[tuple[int, str], ...]) -> None:
        if k == len(segments):
            found.append(covered)
            return
        segment = segments[k]
        first = k == 0 and read.starts_at_start
        last = k == len(segments) - 1 and read.ends_at_end
        for position in range(start, length - len(segment) + 1):
            if first and position != 0:
                break
            if last and position + len(segment) != length:
                continue
            place(
                k + 1,
                position + len(segment),
                covered + tuple((position + i, c) for i, c in enumerate(segment)),
            )

    place(0, 0, ())
    return found


def _log_sum_exp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


@dataclass
class _Read:
    tag: TagRead
    parsed: AfidRead
    placements: list[Placement]
    log_background: float


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
        MatchError: an empty or duplicated serial list, or a serial that is not canonical
            and valid in ``scheme``.
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
    n = len(serials)
    index = {s: i for i, s in enumerate(serials)}
    allowed = allowed_characters(scheme)
    q = window_length(scheme, len(serials))

    def p(read_char: str, true_char: str) -> float:
        return model.probability(read_char, true_char)

    def background(placement: Placement) -> float:
        total = 0.0
        for position, c in placement:
            chars = allowed[position]
            total += math.log(sum(p(c, t) for t in chars) / len(chars))
        return total

    def model_log_likelihood(read: _Read, serial: str) -> float:
        terms = [sum(math.log(p(c, serial[i])) for i, c in pl) for pl in read.placements]
        return _log_sum_exp(terms) - math.log(len(read.placements))

    expansions = {c: expansion(model, c) for c in model.read_characters}

    def is_candidate(read: _Read, serial: str) -> bool:
        for pl in read.placements:
            covered = dict(pl)
            for start in range(scheme.length - q + 1):
                window = range(start, start + q)
                chars = [covered.get(i) for i in window]
                if any(c is None for c in chars):
                    continue
                read_chars = [c for c in chars if c is not None]
                sets = window_sets([expansions[c] for c in read_chars], read_chars)
                if sets is None:
                    continue
                if all(serial[i] in e for i, e in zip(window, sets, strict=True)):
                    return True
        return False

    parsed: list[_Read] = []
    for tag in reads:
        afid = parse_read(tag.text, scheme)
        pls = placements(afid, scheme.length)
        log_bg = _log_sum_exp([background(pl) for pl in pls]) - math.log(len(pls))
        parsed.append(_Read(tag, afid, pls, log_bg))

    exhibits: dict[str, list[_Read]] = {}
    for read in parsed:
        exhibits.setdefault(read.tag.exhibit, []).append(read)
    check_exhibit_sizes({e: [r.tag for r in members] for e, members in exhibits.items()})

    rows: list[MatchRow] = []
    for exhibit, members in exhibits.items():
        candidates = [s for s in serials if any(is_candidate(r, s) for r in members)]
        ll = [[model_log_likelihood(r, s) for s in candidates] for r in members]
        rows.extend(
            _match_exhibit(
                exhibit,
                members,
                candidates,
                [index[c] for c in candidates],
                ll,
                n,
                settings,
                lambda reads: group_background(reads, allowed, p),
            )
        )
    return rows


def _match_exhibit(
    exhibit: str,
    members: list[_Read],
    candidates: list[str],
    ranks: list[int],
    ll: list[list[float]],
    n: int,
    settings: MatchSettings,
    background: Callable[[list[_Read]], float],
) -> list[MatchRow]:
    """Steps 5–7 of the definition for one exhibit: ``ll[r][j]`` is the log-likelihood of
    read ``r`` under candidate ``j``; ``ranks`` the candidates' positions in the list;
    ``background`` gives log B(G) for a group's reads."""
    ll0 = [r.log_background for r in members]
    weight = [r.tag.confidence for r in members]
    log_other_prior = math.log(
        settings.p_outside + (1 - settings.p_outside) * (n - len(candidates)) / n
    )
    log_serial_prior = math.log((1 - settings.p_outside) / n)

    def totals(group: list[int]) -> list[float]:
        return [sum(weight[r] * ll[r][j] for r in group) for j in range(len(candidates))]

    # Step 5: grouping.
    best = [max(row, default=-math.inf) for row in ll]
    delta = math.log(settings.grouping_factor)
    join = max(delta, math.log(n))
    remaining = list(range(len(members)))
    groups: list[list[int]] = []
    while remaining:
        gains: list[float] = []
        eligible: list[list[int]] = []
        for j in range(len(candidates)):
            chosen = [
                r
                for r in remaining
                if ll[r][j] >= best[r] - delta - TIE_TOLERANCE
                and weight[r] * (ll[r][j] - ll0[r]) > TIE_TOLERANCE
            ]
            eligible.append(chosen)
            gains.append(sum(weight[r] * (ll[r][j] - ll0[r]) for r in chosen))
        top = max(gains, default=0.0)
        if top <= TIE_TOLERANCE:
            break
        j_star = min(
            (j for j, g in enumerate(gains) if g >= top - TIE_TOLERANCE), key=lambda j: ranks[j]
        )
        # The chosen serial takes every read it explains within the joining factor.
        group = [
            r
            for r in remaining
            if ll[r][j_star] >= best[r] - join - TIE_TOLERANCE
            and weight[r] * (ll[r][j_star] - ll0[r]) > TIE_TOLERANCE
        ]
        groups.append(group)
        remaining = [r for r in remaining if r not in group]

    # Step 7 (end): groups naming the same serial are merged.
    merged = True
    while merged:
        merged = False
        seen: dict[int, int] = {}
        for g, group in enumerate(groups):
            b = _tie_sorted(totals(group), ranks)[0]
            if b in seen:
                groups[seen[b]] = sorted(groups[seen[b]] + group)
                del groups[g]
                merged = True
                break
            seen[b] = g

    # Steps 6 and 7: posteriors and status.
    def row_for(group: list[int], nothing_explains: bool) -> MatchRow:
        logs = totals(group)
        serial_logs = [log_serial_prior + v for v in logs]
        other = log_other_prior + background([members[r] for r in group])
        z = _log_sum_exp([*serial_logs, other])
        order = _tie_sorted(logs, ranks)
        return build_row(
            exhibit,
            [
                (members[r].tag.tag, members[r].placements, members[r].parsed.complete)
                for r in group
            ],
            [(candidates[j], math.exp(serial_logs[j] - z)) for j in order[:2]],
            math.exp(other - z),
            nothing_explains,
            settings,
        )

    rows = [row_for(sorted(group), nothing_explains=False) for group in groups]
    if remaining:
        rows.append(row_for(sorted(remaining), nothing_explains=True))
    return rows


def group_background(
    reads: list[_Read], allowed: list[str], p: Callable[[str, str], float]
) -> float:
    """log B(G): step 6 of the definition, by plain enumeration."""
    fixed = [r for r in reads if len(r.placements) == 1]
    torn = sorted((r for r in reads if len(r.placements) > 1), key=lambda r: len(r.placements))
    enumerated: list[_Read] = []
    bounded: list[_Read] = []
    combinations = 1
    for read in torn:
        if combinations * len(read.placements) <= BACKGROUND_COMBINATIONS:
            enumerated.append(read)
            combinations *= len(read.placements)
        else:
            bounded.append(read)
    log_p = {
        (c, t): math.log(p(c, t)) for chars in allowed for t in chars for c in _read_chars(reads)
    }
    values: list[float] = []
    for combo in itertools.product(*(r.placements for r in enumerated)):
        chosen = [(r, r.placements[0]) for r in fixed] + list(zip(enumerated, combo, strict=True))
        covered: list[list[tuple[float, str]]] = [[] for _ in allowed]
        for read, placement in chosen:
            for i, c in placement:
                covered[i].append((read.tag.confidence, c))
        value = -sum(r.tag.confidence * math.log(len(r.placements)) for r in enumerated)
        for position, chars in enumerate(allowed):
            terms = [sum(w * log_p[c, t] for w, c in covered[position]) for t in chars]
            value += _log_sum_exp(terms) - math.log(len(chars))
        values.append(value)
    total = _log_sum_exp(values)
    for read in bounded:
        best = [
            sum(math.log(max(p(c, t) for t in allowed[i])) for i, c in placement)
            for placement in read.placements
        ]
        total += read.tag.confidence * (_log_sum_exp(best) - math.log(len(read.placements)))
    return total


def _read_chars(reads: list[_Read]) -> set[str]:
    return {c for r in reads for placement in r.placements for _, c in placement}


def _tie_sorted(logs: list[float], ranks: list[int]) -> list[int]:
    """Indices by log-likelihood, values within TIE_TOLERANCE of the leader counted equal
    and ordered by list position."""
    result: list[int] = []
    rest = list(range(len(logs)))
    while rest:
        top = max(logs[j] for j in rest)
        pick = min((j for j in rest if logs[j] >= top - TIE_TOLERANCE), key=lambda j: ranks[j])
        result.append(pick)
        rest.remove(pick)
    return result
