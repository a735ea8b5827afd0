"""The AFID read notation: what an examiner read off one recovered tag (**contract**).

- a character as read — possibly wrong (a confusable of the true one, or any other);
- ``?`` — one character present but unreadable, its position known;
- ``*`` — a run of unknown length that could not be read (a torn tag): ``*7P2M*`` is a
  fragment whose position in the serial is unknown;
- hyphens, spaces and case are ignored.

Reads keep the characters as read, aliases included (``O`` stays ``O``): which true
character an ``O`` stands for is the confusion model's question, not the parser's.  The
serial scheme the reads are matched against is :mod:`taserlink.serials`'s.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from taserlink.errors import ReadError

__all__ = [
    "UNREADABLE",
    "TORN",
    "AfidRead",
    "parse_read",
]

UNREADABLE = "?"
"""One character present but unreadable."""
TORN = "*"
"""A run of unknown length that could not be read."""
_IGNORED = str.maketrans("", "", "- \t")
_READ_CHARACTER = re.compile(r"[0-9A-Z?*]")


@dataclass(frozen=True)
class AfidRead:
    """One tag as an examiner read it, parsed.

    Attributes:
        text: the read as given.
        segments: the readable stretches between torn parts, in order (each of known
            length, ``?`` for unreadable characters).
        starts_at_start: the first segment begins at the serial's first character (the read
            does not begin with ``*``).
        ends_at_end: the last segment ends at the serial's last character.
    """

    text: str
    segments: tuple[str, ...]
    starts_at_start: bool
    ends_at_end: bool

    @property
    def complete(self) -> bool:
        """True when nothing is torn: no ``*`` (one segment, which may still be shorter or
        longer than a serial)."""
        return self.starts_at_start and self.ends_at_end and len(self.segments) <= 1

    @property
    def length(self) -> int:
        """Characters written, ``?`` included (torn parts not counted)."""
        return sum(len(s) for s in self.segments)

    def placement_count(self, length: int) -> int:
        """In how many ways the segments fit a serial of ``length`` characters, in order,
        without overlap, a torn part standing for zero or more characters."""
        free = length - self.length
        gaps = len(self.segments) + 1 - self.starts_at_start - self.ends_at_end
        if free < 0:
            return 0
        if gaps == 0:
            return 1 if free == 0 else 0
        return math.comb(free + gaps - 1, gaps - 1)

    @property
    def readable(self) -> int:
        """Characters read (not ``?``)."""
        return sum(len(s) - s.count(UNREADABLE) for s in self.segments)

    def fits(self, serial: str) -> bool:
        """True when ``serial`` is consistent with the read taking every character as read
        (``?`` and torn parts match anything).  The exact-reading reference of matching."""
        pattern = "".join(
            [
                "^" if self.starts_at_start else "",
                ".*".join(re.escape(s).replace(r"\?", ".") for s in self.segments),
                "$" if self.ends_at_end else "",
            ]
        )
        return re.search(pattern, serial) is not None


def parse_read(text: str) -> AfidRead:
    """Parse one read in the AFID read notation.

    Any read the notation can write is accepted: one of the wrong length (a character
    skipped or written twice, which the matcher's model explains), one with no readable
    character (a recovered tag nobody could read), one torn into many pieces.  Whether and
    how such a read is scored is the matcher's question (``docs/matching.md``).

    Raises:
        ReadError: an empty read, or a character that is neither a letter, a digit, ``?``
            nor ``*`` (the message names the read and the character).
    """
    cleaned = text.translate(_IGNORED).upper()
    if not cleaned:
        raise ReadError(f"read {text!r} is empty")
    bad = [c for c in cleaned if not _READ_CHARACTER.fullmatch(c)]
    if bad:
        raise ReadError(f"read {text!r}: {bad[0]!r} is not a character, ? or *")
    collapsed = re.sub(r"\*+", TORN, cleaned)
    segments = tuple(p for p in collapsed.split(TORN) if p)
    return AfidRead(text, segments, not collapsed.startswith(TORN), not collapsed.endswith(TORN))
