"""What matching takes and gives: tag reads in, one row per cartridge out.

These types are shared by the fast matcher (:mod:`taserlink.forensics.match`), its plain
reference (:mod:`taserlink.forensics.reference`), the match files
(:mod:`taserlink.forensics.matchfiles`) and linkage (:mod:`taserlink.forensics.link`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from taserlink.errors import MatchError

__all__ = [
    "DEFAULT_MATCH_THRESHOLD",
    "DEFAULT_P_OUTSIDE",
    "DEFAULT_GROUPING_FACTOR",
    "MatchRow",
    "MatchSettings",
    "MatchStatus",
    "TagRead",
]

DEFAULT_MATCH_THRESHOLD = 0.999
"""Posterior a serial needs for the status ``match``."""
DEFAULT_P_OUTSIDE = 0.01
"""Prior probability that a recovered cartridge's serial is not in the serial list."""
DEFAULT_GROUPING_FACTOR = 20.0
"""A read joins a serial's group when that serial explains it within this factor of the
read's best explanation."""


class MatchStatus(enum.Enum):
    """The status of one answer (**contract**, project README "Match files")."""

    MATCH = "match"
    """One serial explains the reads and no other comes close."""
    AMBIGUOUS = "ambiguous"
    """Two or more serials explain the reads comparably."""
    NONE = "none"
    """Nothing in the serial list explains the reads."""


@dataclass(frozen=True)
class TagRead:
    """One recovered AFID tag as the examiner read it.

    Attributes:
        exhibit: the scene exhibit it was recovered with (reads of one exhibit are grouped).
        tag: the examiner's label for the tag (unique within the exhibit by convention;
            not checked).
        text: the read, in the AFID read notation.
        confidence: the examiner's confidence in the read, 0–1 (1 when not given): the read
            counts as ``c`` of a read (its likelihood is raised to the power ``c``; 0
            ignores it).
        line: where the read came from (a CSV line number), for messages; ``None`` if made
            in code.
    """

    exhibit: str
    tag: str
    text: str
    confidence: float = 1.0
    line: int | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.confidence <= 1.0) or math.isnan(self.confidence):
            raise MatchError(f"confidence {self.confidence!r} of tag {self.tag!r} is not in 0–1")


@dataclass(frozen=True)
class MatchRow:
    """One cartridge an exhibit's reads point to (one row of ``OUT.csv``).

    Attributes:
        exhibit: the exhibit.
        serial: the best-explaining serial; ``""`` for status ``none``.
        status: see :class:`MatchStatus`.
        score: posterior probability of ``serial`` given the reads attributed to it, the
            serial list and the stated model (``None`` for status ``none``).
        tags: the tags of the reads attributed to this cartridge, in input order (the
            file's ``reads`` column is their number).
        runner_up: the next most probable serial of the list (``""`` if none).
        runner_up_score: its posterior (``None`` if no runner-up).
        explanation: the edits that take ``serial`` to the reads, e.g.
            ``pos4 B read as 8; pos9 unreadable``.
    """

    exhibit: str
    serial: str
    status: MatchStatus
    score: float | None
    tags: tuple[str, ...]
    runner_up: str
    runner_up_score: float | None
    explanation: str

    @property
    def reads(self) -> int:
        """Number of reads attributed to this cartridge."""
        return len(self.tags)


@dataclass(frozen=True)
class MatchSettings:
    """The stated choices every score depends on, quoted in reports.

    Attributes:
        p_outside: prior probability that the cartridge's serial is not in the list
            (0 < p < 1); the list's serials share the rest equally.
        match_threshold: posterior needed for ``match`` (0.5 < t < 1).
        grouping_factor: a read joins a serial's group when that serial's likelihood is
            at least ``1 / grouping_factor`` of the read's best candidate (≥ 1).
    """

    p_outside: float = DEFAULT_P_OUTSIDE
    match_threshold: float = DEFAULT_MATCH_THRESHOLD
    grouping_factor: float = DEFAULT_GROUPING_FACTOR

    def __post_init__(self) -> None:
        if not 0.0 < self.p_outside < 1.0:
            raise MatchError(f"p_outside = {self.p_outside!r} is not strictly between 0 and 1")
        if not 0.5 < self.match_threshold < 1.0:
            raise MatchError(
                f"match_threshold = {self.match_threshold!r} is not strictly between 0.5 and 1"
            )
        if not (self.grouping_factor >= 1.0 and math.isfinite(self.grouping_factor)):
            raise MatchError(f"grouping_factor = {self.grouping_factor!r} must be ≥ 1 and finite")

    def describe(self) -> str:
        """One line for reports."""
        return (
            f"p_outside={self.p_outside}, match_threshold={self.match_threshold}, "
            f"grouping_factor={self.grouping_factor}"
        )
