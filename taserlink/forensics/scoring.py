"""The stated model behind every match score: the facts and small rules both matchers share.

The fast matcher (:mod:`taserlink.forensics.match`) and its plain reference
(:mod:`taserlink.forensics.reference`) implement the same definition, written out in
``docs/matching.md`` §5 and in the reference's docstring.  This module holds what neither
may compute its own way: the constants of the definition, what one read of a serial may be
(:class:`Alignment`), the model's numbers arranged by serial position
(:class:`PositionTables`: each output's log-probability under every allowed true
character, the best of them, the background, which true characters a read character
stands for and what it costs to be none of them), and how an answer is explained.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from taserlink.errors import MatchError
from taserlink.forensics.confusion import SKIPPED, ConfusionModel
from taserlink.forensics.reads import UNREADABLE
from taserlink.forensics.results import MatchRow, MatchSettings, MatchStatus, TagRead
from taserlink.serials import SerialScheme

__all__ = [
    "CERTAIN_NATS",
    "EXPANSION_NATS",
    "MAX_ALIGNMENTS",
    "MAX_CANDIDATES",
    "MAX_EXHIBIT_READS",
    "MAX_EXTRA",
    "MIX_EXACT",
    "MIX_KEEP",
    "MIX_SPAN",
    "RIVAL_SPAN",
    "READ_HITS",
    "SPAN_NATS",
    "STAGE_HITS",
    "STAGE_SHORTER",
    "STAGE_KEYS",
    "TIE_TOLERANCE",
    "Alignment",
    "Edit",
    "PositionTables",
    "ReadState",
    "ReadSummary",
    "build_row",
    "check_exhibit_sizes",
    "edits_of",
    "explain",
    "index_window",
    "stage_lengths",
]

EXPANSION_NATS: Final = 4.0
"""A read character stands for every allowed true character whose log-probability of being
read so is within this many nats of the higher of the likeliest one and of the model's
typical correct reading (the mean log P(c | c) over the alphabet) — with the default model
itself (0.85) and its look-alikes (0.025, 3.5 nats below), an alias such as ``O`` for its
look-alikes only, never an arbitrary substitution (0.0027, 5.8 nats below); where no
character is that close, those within this many nats of the likeliest.  ``?`` and a skip,
equally likely under every character, stand for any."""
SPAN_NATS: Final = 10.0
"""Δ: a read's candidates are the listed serials within this many nats of its best listed
serial (a factor e¹⁰ ≈ 22,000): serials further behind are counted with "another serial"."""
STAGE_SHORTER: Final = (0, 1, 2)
"""The search's stages: at stage ``k`` a window is this many characters shorter than the
first stage's (see :func:`stage_lengths`), so it survives more misreads and reaches more
serials."""
STAGE_HITS: Final = (64, 1024, 2048)
"""Most listed serials one window may reach at each stage; a window beyond (a list far from
random there, e.g. serials issued in sequence) is not looked up."""
CERTAIN_NATS: Final = 2.3
"""A stage certifies a read's search when no serial its windows missed can come within
this many nats of the best it found (a factor 10).  A group none of whose reads' searches
is certified meets, in its posterior, a listed serial the searches could all have missed:
on each read as likely as the read's bound allows, never more than the group's best
serial."""
MAX_CANDIDATES: Final = 64
"""Most candidates one read names (the cheapest, ties to the serial listed first): a read
that fits more serials than this within :data:`SPAN_NATS` cannot single one out, and the
rest are counted with "another serial"."""
READ_HITS: Final = 8192
"""A stage after the first is run for a read only if its windows' hits — listed serials
matched, counted per window and alignment (one serial may count several times) — number
at most this many; otherwise the search ends with the
stage before (a torn read fits many ways, and short windows in every one of them would
reach much of the list)."""
STAGE_KEYS: Final = (64, 1024, 1024)
"""Most keys one window may stand for at each stage (its characters' expansions multiplied,
wild positions after the last constraint not counted: they are a range); a window beyond is
not looked up.  The first stage's few keys keep its windows clear of ``?`` and skips."""
MAX_EXTRA: Final = 3
"""Most characters a complete read may have too many or too few (each a skip, an inserted
character or a character read as two); a read beyond is kept but not scored."""
MAX_ALIGNMENTS: Final = 512
"""Most ways one read may be written from a serial (placements of a torn read, skips and
insertions); a read beyond says too little to score and is kept but not scored (no
cartridge read comes near: the worst torn read of ten characters fits 252 ways)."""
MIX_EXACT: Final = 1024
"""The background of a group is summed exactly over the combinations of its reads' ways
while they number at most this many (see ``docs/matching.md`` §5 step 7)."""
MIX_KEEP: Final = 32
"""Beyond :data:`MIX_EXACT`, the combinations kept: the largest, within :data:`MIX_SPAN`
of the largest; the rest are left out."""
MIX_SPAN: Final = 40.0
"""Combinations more than this many nats below the largest are left out."""
RIVAL_SPAN: Final = 25.0
"""A cartridge of the exhibit whose prior × likelihood falls more than this many nats below
the group's best serial's is left out of the group's posterior: each weighs under e^−25
(1.4·10⁻¹¹) of the best, so even the most an exhibit can hold (half its
:data:`MAX_EXHIBIT_READS`, two reads each) stay under 10⁻⁶ together — a unit of a written
score."""
MAX_EXHIBIT_READS: Final = 100_000
"""Most reads one exhibit may hold (the most a reads file holds).  Grouping is near-linear
in an exhibit's reads and every pairing of them is sliced, so memory grows near-linearly;
the pairings' matrix filters are quadratic at heart (``docs/matching.md`` §5, "Any
exhibit size")."""
TIE_TOLERANCE: Final = 1e-9
"""Log-likelihoods (nats) closer than this are equal: ties go to the serial listed first."""
MASS_QUANTUM: Final = 1e-9
"""Combinations of the background are ranked by mass rounded to this many nats (then by
the order they were made), so rounding noise cannot reorder equals."""
_KEY_BITS: Final = 32
FloatArray = npt.NDArray[np.float64]


def index_window(scheme: SerialScheme) -> int:
    """Characters in each window of the serial index: the most whose keys fit in 32 bits,
    never more than a serial has (6 for the cartridge scheme)."""
    base = len(scheme.alphabet)
    q = 1
    while q < scheme.length and base ** (q + 1) <= 1 << _KEY_BITS:
        q += 1
    return q


def stage_lengths(scheme: SerialScheme, serials: int) -> tuple[int, ...]:
    """Window length at each stage of the search for a list of ``serials`` serials: the
    first the shortest whose possible keys number at least half the list (4 for the
    cartridge scheme from 65,537 to 2,097,152 serials: about one serial a key), never more than
    :func:`index_window`; the others :data:`STAGE_SHORTER` characters shorter, at least 1."""
    base = len(scheme.alphabet)
    first = 1
    while first < index_window(scheme) and 2 * base**first < serials:
        first += 1
    return tuple(max(1, first - k) for k in STAGE_SHORTER)


@dataclass(frozen=True)
class Alignment:
    """One way a read may have been written from a serial.

    Attributes:
        covered: ``(position, output)`` for each serial position the read accounts for, in
            position order: ``output`` is the read character written for it (``?``
            included), ``""`` when it was skipped, or two characters when it was read as
            two.  Positions under a torn part are not covered.
        inserted: ``(gap, character)`` for each character written that stands for no
            serial position; gap ``g`` is just before position ``g`` (``g`` = the serial's
            length: after the last).
        log_weight: log of the alignment's prior weight: ``-log M`` for one of the ``M``
            equally likely placements of a torn read's pieces, plus each insertion's
            :attr:`~taserlink.forensics.confusion.ConfusionModel.insertion_log_weight`
            (skips and pairs are weighed by the model's table).
    """

    covered: tuple[tuple[int, str], ...]
    inserted: tuple[tuple[int, str], ...]
    log_weight: float

    @property
    def key(self) -> tuple[tuple[tuple[int, str], ...], tuple[tuple[int, str], ...]]:
        """The canonical order of a read's alignments (both matchers list them so)."""
        return (self.covered, self.inserted)

    @property
    def events(self) -> int:
        """Skips, pairs and insertions."""
        return len(self.inserted) + sum(1 for _, o in self.covered if len(o) != 1)


Edit = tuple[int, str, str]
"""One difference between a serial and a read: ``(position, true character, written)``
— 0-based; ``written`` is ``?`` (unreadable), ``""`` (skipped) or what was read; an
inserted character has ``true`` ``""`` and stands just before ``position``."""


class ReadState:
    """Why a read is or is not scored (a label, not an enum, so it reads well in rows)."""

    SCORED: Final = "scored"
    UNREADABLE: Final = "unreadable"
    """No character was read (every one ``?``, or only torn parts): kept, matched to nothing."""
    UNSCORABLE: Final = "unscorable"
    """Too many characters too many or too few, or too many ways to fit a serial: kept,
    matched to nothing."""


@dataclass(frozen=True)
class ReadSummary:
    """What a row needs of one read: its tag, how it may sit in a serial, whether it was
    torn, and its :class:`ReadState`."""

    tag: str
    alignments: tuple[Alignment, ...]
    torn: bool
    state: str


@dataclass(frozen=True)
class _Columns:
    """:class:`PositionTables`' numbers for one set of allowed characters, by output."""

    best: FloatArray
    mean: FloatArray
    size: npt.NDArray[np.int64]
    wild: npt.NDArray[np.bool_]
    cost: FloatArray
    expansion: list[tuple[int, ...]]


class PositionTables:
    """The confusion model's numbers by serial position, for one scheme.

    For each serial position ``p`` and each output ``o`` of the model
    (:attr:`~taserlink.forensics.confusion.ConfusionModel.outputs`):

    - ``best[p, o]``: the largest log P(o | t) over the characters ``t`` allowed at ``p``
      (the type letters at the first position of a scheme that has them);
    - ``mean[p, o]``: log of the mean of P(o | t) over them (a random serial: the
      background);
    - ``expansion[p][o]``: the allowed characters ``o`` stands for (:data:`EXPANSION_NATS`),
      likeliest first (alphabet order among equals), as alphabet codes; ``size``
      their number, ``wild`` whether they are all the allowed ones;
    - ``break_cost[p, o]``: the least cost (nats below ``best``) of an allowed character
      outside the expansion (``inf`` when there is none or it can never be read so).
    """

    def __init__(self, model: ConfusionModel, scheme: SerialScheme) -> None:
        model.check_scheme(scheme)
        self.scheme = scheme
        self.outputs = model.outputs
        self.output_index = {o: j for j, o in enumerate(self.outputs)}
        self.log_table = model.output_log_table()
        self.log_table.setflags(write=False)
        base = len(scheme.alphabet)
        length = scheme.length
        letters = sorted(scheme.alphabet.index(t) for t in scheme.type_letters)
        self.typical = sum(
            float(self.log_table[self.outputs.index(c), t]) for t, c in enumerate(scheme.alphabet)
        ) / len(scheme.alphabet)
        every = tuple(range(base))
        self.allowed: tuple[tuple[int, ...], ...] = tuple(
            (tuple(letters) if p == 0 and letters else every) for p in range(length)
        )
        self.log_allowed = tuple(math.log(len(a)) for a in self.allowed)
        n_out = len(self.outputs)
        self.best = np.zeros((length, n_out))
        self.mean = np.zeros((length, n_out))
        self.size = np.zeros((length, n_out), np.int64)
        self.wild = np.zeros((length, n_out), bool)
        self.break_cost = np.zeros((length, n_out))
        self.expansion: list[list[tuple[int, ...]]] = []
        cache: dict[tuple[int, ...], _Columns] = {}
        for p, allowed in enumerate(self.allowed):
            if allowed not in cache:
                cache[allowed] = self._by_position(allowed)
            columns = cache[allowed]
            self.best[p], self.mean[p] = columns.best, columns.mean
            self.size[p], self.wild[p] = columns.size, columns.wild
            self.break_cost[p] = columns.cost
            self.expansion.append(columns.expansion)
        for array in (self.best, self.mean, self.size, self.wild, self.break_cost):
            array.setflags(write=False)
        self.keep_span = sum(self.log_allowed) + 1.0
        """Θ: a listed serial whose group total is more than this below the best is counted
        with "another serial" (a random serial is at least this likely to be the best)."""

    def _by_position(self, allowed: tuple[int, ...]) -> _Columns:
        n_out = len(self.outputs)
        best = np.full(n_out, -math.inf)
        mean = np.full(n_out, -math.inf)
        size = np.zeros(n_out, np.int64)
        wild = np.zeros(n_out, bool)
        cost = np.full(n_out, math.inf)
        expansion: list[tuple[int, ...]] = []
        for o in range(n_out):
            logs = [float(self.log_table[o, t]) for t in allowed]
            top = max(logs)
            finite = [v for v in logs if v > -math.inf]
            if top == -math.inf:
                expansion.append(())
                continue
            best[o] = top
            mean[o] = (
                top + math.log(sum(math.exp(v - top) for v in finite)) - math.log(len(allowed))
            )
            if max(logs) - min(logs) < 1e-12:  # says nothing about the character
                chosen = list(range(len(logs)))
            else:
                floor = max(top, self.typical) - EXPANSION_NATS
                chosen = [k for k, v in enumerate(logs) if v >= floor]
                if not chosen:
                    chosen = [k for k, v in enumerate(logs) if v >= top - EXPANSION_NATS]
            chosen.sort(key=lambda k: (-logs[k], allowed[k]))
            expansion.append(tuple(allowed[k] for k in chosen))
            size[o] = len(chosen)
            wild[o] = len(chosen) == len(allowed)
            outside = [top - v for k, v in enumerate(logs) if k not in chosen and v > -math.inf]
            cost[o] = min(outside) if outside else math.inf
        return _Columns(best, mean, size, wild, cost, expansion)


# -- explanations ------------------------------------------------------------------------


def edits_of(alignments: Sequence[Alignment], serial: str) -> list[Edit]:
    """A read's differences from ``serial`` in the alignment with the fewest (the first in
    canonical order on ties): what the explanation shows for that read.  In position
    order, an insertion before the character it precedes."""
    best: list[Edit] = []
    fewest = math.inf
    for alignment in alignments:
        edits: list[Edit] = [(p, serial[p], o) for p, o in alignment.covered if o != serial[p]]
        edits += [(g, "", c) for g, c in alignment.inserted]
        if len(edits) < fewest:
            best, fewest = edits, len(edits)
    best.sort(key=lambda e: (e[0], e[1] != ""))
    return best


def _describe(edit: Edit, length: int) -> str:
    position, true, read = edit
    if true == "":
        if position < length:
            return f"extra {read} before pos{position + 1}"
        return f"extra {read} after pos{position}"
    if read == UNREADABLE:
        return f"pos{position + 1} unreadable"
    if read == SKIPPED:
        return f"pos{position + 1} skipped"
    return f"pos{position + 1} {true} read as {read}"


def explain(
    edits_per_read: Sequence[Sequence[Edit]],
    torn: int,
    length: int,
    runner_up_edits: Sequence[Edit] | None = None,
) -> str:
    """The explanation column: the edits that take the serial to its reads.

    ``edits_per_read`` holds, for each attributed read, :func:`edits_of`; ``torn`` counts
    the torn reads among them; ``length`` is the serial's; ``runner_up_edits`` the
    positions where the runner-up differs (``(position, serial's character, runner-up's
    character)``), shown for an ambiguous answer.  Positions are 1-based in the text.
    """
    n = len(edits_per_read)
    parts: list[str]
    if n == 1:
        parts = [_describe(edit, length) for edit in edits_per_read[0]]
    else:
        counts: Counter[Edit] = Counter(edit for edits in edits_per_read for edit in set(edits))
        parts = [
            f"{_describe(edit, length)} ({k} of {n} reads)"
            for edit, k in sorted(
                counts.items(),
                key=lambda item: (item[0][0], item[0][1] != "", -item[1], item[0][2]),
            )
        ]
    if not parts:
        parts.append("every read exact" if n > 1 else "read exact")
    if torn:
        parts.append(f"{torn} of {n} reads torn" if n > 1 else "read torn")
    if runner_up_edits:
        differs = ", ".join(f"pos{p + 1} {a}/{b}" for p, a, b in runner_up_edits)
        parts.append(f"runner-up differs at {differs}")
    return "; ".join(parts)


def _kept_note(reads: Sequence[ReadSummary]) -> str:
    unreadable = sum(1 for r in reads if r.state == ReadState.UNREADABLE)
    unscorable = sum(1 for r in reads if r.state == ReadState.UNSCORABLE)
    parts = []
    if unreadable:
        parts.append(f"{unreadable} tag{'s' if unreadable > 1 else ''} with no readable character")
    if unscorable:
        parts.append(
            f"{unscorable} read{'s' if unscorable > 1 else ''} too damaged to score "
            f"(more than {MAX_EXTRA} characters too many or too few, or more than "
            f"{MAX_ALIGNMENTS} ways to fit a serial)"
        )
    return "; ".join(parts)


def build_row(
    exhibit: str,
    reads: Sequence[ReadSummary],
    top: Sequence[tuple[str, float]],
    other: float,
    nothing_explains: bool,
    settings: MatchSettings,
    length: int,
    missed: float = 0.0,
) -> MatchRow:
    """The row for one group of reads.

    ``reads`` are the group's reads (unreadable and unscorable ones only ever in the group
    nothing explains); ``top`` the best and the runner-up serial with their posteriors
    (fewer when the group has fewer serials); ``other`` the posterior of "another serial or
    one outside the list"; ``nothing_explains`` marks the reads no serial gained on (status
    ``none`` whatever the scores); ``length`` the serials' length.
    """
    tags = tuple(r.tag for r in reads)
    scored = [r for r in reads if r.state == ReadState.SCORED]
    kept = _kept_note(reads)
    if not top:
        why = "no serial of the list is near enough to the reads" if scored else "nothing to match"
        return MatchRow(
            exhibit,
            "",
            MatchStatus.NONE,
            None,
            tags,
            "",
            None,
            "; ".join(p for p in (why, kept) if p),
        )
    serial, p1 = top[0]
    if nothing_explains or (p1 < settings.match_threshold and p1 < other):
        status = MatchStatus.NONE
    elif p1 >= settings.match_threshold:
        status = MatchStatus.MATCH
    else:
        status = MatchStatus.AMBIGUOUS
    edits = [edits_of(r.alignments, serial) for r in scored]
    torn = sum(1 for r in scored if r.torn)
    if status is MatchStatus.NONE:
        explanation = (
            f"nothing explains the reads better than a random serial; closest {serial}: "
            + explain(edits, torn, length)
        )
        if kept:
            explanation += "; " + kept
        return MatchRow(exhibit, "", status, None, tags, serial, p1, explanation)
    runner, p2 = top[1] if len(top) > 1 else ("", None)
    runner_edits = None
    if status is MatchStatus.AMBIGUOUS and runner:
        runner_edits = [
            (i, a, b) for i, (a, b) in enumerate(zip(serial, runner, strict=True)) if a != b
        ]
    explanation = explain(edits, torn, length, runner_edits)
    if status is MatchStatus.AMBIGUOUS and (p2 is None or other > p2):
        explanation += f"; another serial of the list or one outside it: {other:.3g}"
    if status is MatchStatus.AMBIGUOUS and missed > max(other, p2 or 0.0):
        explanation += f"; a listed serial the search could have missed: {missed:.3g}"
    return MatchRow(exhibit, serial, status, p1, tags, runner, p2, explanation)


def check_exhibit_sizes(by_exhibit: Mapping[str, Sequence[TagRead]]) -> None:
    """Raise :class:`MatchError` naming the first exhibit of more than
    :data:`MAX_EXHIBIT_READS` reads."""
    for exhibit, members in by_exhibit.items():
        if len(members) > MAX_EXHIBIT_READS:
            raise MatchError(
                f"exhibit {exhibit!r} holds {len(members)} reads, more than "
                f"{MAX_EXHIBIT_READS}: split the exhibit by where its tags were recovered"
            )
