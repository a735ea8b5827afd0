"""The stated model behind every match score: the facts both matchers share.

The fast matcher (:mod:`taserlink.forensics.match`) and its plain reference
(:mod:`taserlink.forensics.reference`) implement the same definition, written out in
``docs/matching.md``; this module holds the constants and small rules of it so neither can
drift from the other: which true characters a read character stands for
(:func:`expansion`), the window length of the candidate rule, the background (a random
serial of the scheme), the tolerance of comparisons and how an answer is explained.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from taserlink.errors import MatchError
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.results import MatchRow, MatchSettings, MatchStatus, TagRead
from taserlink.forensics.serials import UNREADABLE
from taserlink.serials import SerialScheme

__all__ = [
    "BACKGROUND_COMBINATIONS",
    "EXPANSION_NATS",
    "MAX_EXHIBIT_READS",
    "MAX_VARIANTS",
    "TIE_TOLERANCE",
    "WINDOW",
    "WINDOW_LOAD",
    "Edit",
    "Placement",
    "build_row",
    "check_exhibit_sizes",
    "edits_of",
    "allowed_characters",
    "expansion",
    "explain",
    "window_length",
    "window_sets",
]

EXPANSION_NATS = 5.0
"""A read character stands for every true character whose log-probability of being read
so is within this many nats of the likeliest one (with the default model: itself and its
confusables, not arbitrary substitutions — ln(0.855/0.0253) ≈ 3.5 < 5 < ln(0.855/0.00059))."""
WINDOW = 4
"""Fewest characters in a window of the candidate rule (fewer only for schemes shorter than
this); see :func:`window_length`."""
WINDOW_LOAD = 2
"""A window has room for at least this many keys per serial of the list (see
:func:`window_length`)."""
MAX_VARIANTS = 64
"""A window whose characters stand for more combinations than this is narrowed (see
:func:`window_sets`)."""
BACKGROUND_COMBINATIONS = 1024
"""Most combinations of torn reads' placements enumerated for a group's background; torn
reads beyond enter by an upper bound."""
MAX_EXHIBIT_READS = 2_000
"""Most reads one exhibit may hold: a cartridge sheds a few dozen tags, and every read of an
exhibit is scored against every candidate of it, so the work grows with the square of an
exhibit's size."""
TIE_TOLERANCE = 1e-9
"""Log-likelihoods (nats) closer than this are equal: ties go to the serial listed first."""


def window_length(scheme: SerialScheme, serials: int) -> int:
    """Window length of the candidate rule for a list of ``serials`` serials of ``scheme``:
    the shortest of at least :data:`WINDOW` characters whose number of possible keys is at
    least :data:`WINDOW_LOAD` times the list's length (so a window looked up returns few
    serials by chance), never more than the serial's length.  For the cartridge scheme:
    4 up to 524,288 serials, 5 up to 16.7 million, 6 beyond."""
    q = min(WINDOW, scheme.length)
    while q < scheme.length and len(scheme.alphabet) ** q < WINDOW_LOAD * serials:
        q += 1
    return q


def allowed_characters(scheme: SerialScheme) -> list[str]:
    """For each position, the characters a random serial of ``scheme`` holds there (the
    background): the type letters first, the alphabet elsewhere (the check character is
    taken as uniform, an approximation)."""
    first = "".join(scheme.type_letters) if scheme.type_letters else scheme.alphabet
    return [first] + [scheme.alphabet] * (scheme.length - 1)


def expansion(model: ConfusionModel, read_char: str) -> str:
    """The true characters ``read_char`` stands for in the candidate rule: those whose
    probability of being read as ``read_char`` is within :data:`EXPANSION_NATS` of the
    likeliest, likeliest first (alphabet order among equals)."""
    column = model.column(read_char)
    logs = [math.log(float(model.matrix[i, column])) for i in range(len(model.alphabet))]
    top = max(logs)
    chosen = [i for i, v in enumerate(logs) if v >= top - EXPANSION_NATS]
    return "".join(model.alphabet[i] for i in sorted(chosen, key=lambda i: (-logs[i], i)))


def window_sets(sets: Sequence[str], read_chars: Sequence[str]) -> list[str] | None:
    """The true characters each position of a window is looked up with, given the
    :func:`expansion` of each of its read characters: all of them when the window stands
    for at most :data:`MAX_VARIANTS` combinations; otherwise each read character other
    than ``?`` only as its likeliest true character; ``None`` (the window is not looked
    up) when even that is too many."""
    if math.prod(len(e) for e in sets) <= MAX_VARIANTS:
        return list(sets)
    narrowed = [e if c == UNREADABLE else e[:1] for e, c in zip(sets, read_chars, strict=True)]
    return narrowed if math.prod(len(e) for e in narrowed) <= MAX_VARIANTS else None


Placement = tuple[tuple[int, str], ...]
"""Where a read sits in a serial: (0-based position, read character) for each covered
position, in order."""

Edit = tuple[int, str, str]
"""One difference between a serial and a read: (0-based position, true character, character
read — ``?`` for unreadable)."""


def explain(
    edits_per_read: Sequence[Sequence[Edit]],
    torn: int,
    runner_up_edits: Sequence[Edit] | None = None,
) -> str:
    """The explanation column: the edits that take the serial to its reads.

    ``edits_per_read`` holds, for each attributed read, its differences from the serial in
    the read's best placement; ``torn`` counts the torn reads among them;
    ``runner_up_edits`` the positions where the runner-up differs from the serial
    (``(position, serial's character, runner-up's character)``), shown for an ambiguous
    answer.  Positions are 1-based in the text.
    """
    n = len(edits_per_read)
    parts: list[str]
    if n == 1:  # one read: its edits in position order (a placement's are already so)
        parts = [
            f"pos{position + 1} "
            + ("unreadable" if read == UNREADABLE else f"{true} read as {read}")
            for position, true, read in edits_per_read[0]
        ]
    else:
        counts: Counter[Edit] = Counter(edit for edits in edits_per_read for edit in set(edits))
        parts = []
        for (position, true, read), k in sorted(
            counts.items(), key=lambda item: (item[0][0], -item[1], item[0][2])
        ):
            what = "unreadable" if read == UNREADABLE else f"{true} read as {read}"
            parts.append(f"pos{position + 1} {what} ({k} of {n} reads)")
    if not parts:
        parts.append("every read exact" if n > 1 else "read exact")
    if torn:
        parts.append(f"{torn} of {n} reads torn" if n > 1 else "read torn")
    if runner_up_edits:
        differs = ", ".join(f"pos{p + 1} {a}/{b}" for p, a, b in runner_up_edits)
        parts.append(f"runner-up differs at {differs}")
    return "; ".join(parts)


def edits_of(placements: Sequence[Placement], serial: str) -> list[Edit]:
    """A read's differences from ``serial`` in the placement with the fewest (the first
    such placement on ties): what the explanation shows for that read."""
    best: list[Edit] = []
    fewest = len(serial) + 1
    for placement in placements:
        edits = [(i, serial[i], c) for i, c in placement if c != serial[i]]
        if len(edits) < fewest:
            best, fewest = edits, len(edits)
    return best


def build_row(
    exhibit: str,
    reads: Sequence[tuple[str, Sequence[Placement], bool]],
    top: Sequence[tuple[str, float]],
    other: float,
    nothing_explains: bool,
    settings: MatchSettings,
) -> MatchRow:
    """The row for one group of reads.

    ``reads`` holds each read's tag, placements and whether it is complete (not torn);
    ``top`` the best and the runner-up serial with their posteriors (fewer when the
    exhibit has fewer candidates); ``other`` the posterior of "another serial or one outside
    the list"; ``nothing_explains`` marks the reads no candidate gained on (status
    ``none`` whatever the scores).
    """
    tags = tuple(tag for tag, _, _ in reads)
    if not top:
        return MatchRow(
            exhibit,
            "",
            MatchStatus.NONE,
            None,
            tags,
            "",
            None,
            "no serial of the list shares a window with the reads",
        )
    serial, p1 = top[0]
    if nothing_explains or (p1 < settings.match_threshold and p1 < other):
        status = MatchStatus.NONE
    elif p1 >= settings.match_threshold:
        status = MatchStatus.MATCH
    else:
        status = MatchStatus.AMBIGUOUS
    edits = [edits_of(placements, serial) for _, placements, _ in reads]
    torn = sum(1 for _, _, complete in reads if not complete)
    if status is MatchStatus.NONE:
        explanation = (
            f"nothing explains the reads better than a random serial; closest {serial}: "
            + explain(edits, torn)
        )
        return MatchRow(exhibit, "", status, None, tags, serial, p1, explanation)
    runner, p2 = top[1] if len(top) > 1 else ("", None)
    runner_edits = None
    if status is MatchStatus.AMBIGUOUS and runner:
        runner_edits = [
            (i, a, b) for i, (a, b) in enumerate(zip(serial, runner, strict=True)) if a != b
        ]
    explanation = explain(edits, torn, runner_edits)
    if status is MatchStatus.AMBIGUOUS and (p2 is None or other > p2):
        explanation += f"; another serial of the list or one outside it: {other:.3g}"
    return MatchRow(exhibit, serial, status, p1, tags, runner, p2, explanation)


def check_exhibit_sizes(by_exhibit: Mapping[str, Sequence[TagRead]]) -> None:
    """Raise :class:`MatchError` naming the first exhibit of more than
    :data:`MAX_EXHIBIT_READS` reads."""
    for exhibit, members in by_exhibit.items():
        if len(members) > MAX_EXHIBIT_READS:
            raise MatchError(
                f"exhibit {exhibit!r} holds {len(members)} reads, more than "
                f"{MAX_EXHIBIT_READS}: a cartridge sheds a few dozen tags — split the "
                "exhibit by where its tags were recovered"
            )
