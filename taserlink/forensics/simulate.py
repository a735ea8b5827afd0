"""Simulated AFID reads: what an examiner might write for a tag of a known serial.

Used to test and measure the matcher, and to make the worked example in ``captures/``.
A read is drawn from a :class:`~taserlink.forensics.confusion.ConfusionModel` — each
character written independently as the model's row for the true character says — and,
with probability ``p_torn``, the tag is torn: only a stretch of ``min_fragment`` or more
consecutive characters survives, written in the read notation with ``*`` for the lost
ends.

What is *not* simulated: misreads that depend on neighbouring characters, a character
skipped or written twice (the notation has no room for them), and reads of tags from
another scene.
"""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt

from taserlink.forensics.confusion import CONFUSABLE_GROUPS, ConfusionModel
from taserlink.forensics.serials import TORN, UNREADABLE
from taserlink.serials import SerialScheme

__all__ = ["confusable_neighbour", "simulate_read", "simulate_reads"]


def _cumulative(model: ConfusionModel) -> npt.NDArray[np.float64]:
    return np.cumsum(model.matrix, axis=1)


def simulate_read(
    serial: str,
    model: ConfusionModel,
    rng: random.Random,
    *,
    p_torn: float = 0.0,
    min_fragment: int = 4,
) -> str:
    """One read of a tag printed with ``serial`` (canonical, in the model's alphabet).

    Raises:
        ValueError: ``p_torn`` outside 0–1 or ``min_fragment`` not in 1..len(serial).
    """
    return simulate_reads([serial], model, rng, p_torn=p_torn, min_fragment=min_fragment)[0]


def simulate_reads(
    serials: list[str],
    model: ConfusionModel,
    rng: random.Random,
    *,
    p_torn: float = 0.0,
    min_fragment: int = 4,
) -> list[str]:
    """One read for each of ``serials`` (repeat a serial for several tags of it).

    A torn read keeps a uniformly chosen stretch of ``min_fragment``..``len - 1``
    characters and always holds at least one readable character (a stretch read wholly as
    ``?`` is drawn again).  Deterministic for a seeded ``rng``.

    Raises:
        ValueError: ``p_torn`` outside 0–1, ``min_fragment`` not in 1..length, or a serial
            character outside the model's alphabet.
    """
    if not 0.0 <= p_torn <= 1.0:
        raise ValueError(f"p_torn = {p_torn!r} is not in 0–1")
    cumulative = _cumulative(model)
    columns = model.read_characters
    reads: list[str] = []
    for serial in serials:
        if not 1 <= min_fragment <= len(serial):
            raise ValueError(f"min_fragment = {min_fragment} is not in 1..{len(serial)}")
        rows = [model.alphabet.index(c) for c in serial]
        while True:
            text = "".join(
                columns[
                    min(
                        int(np.searchsorted(cumulative[r], rng.random(), "right")), len(columns) - 1
                    )
                ]
                for r in rows
            )
            if rng.random() < p_torn and min_fragment < len(serial):
                size = rng.randint(min_fragment, len(serial) - 1)
                start = rng.randint(0, len(serial) - size)
                kept = text[start : start + size]
                text = (
                    ("" if start == 0 else TORN)
                    + kept
                    + ("" if start + size == len(serial) else TORN)
                )
            if text.replace(TORN, "").replace(UNREADABLE, ""):
                break
        reads.append(text)
    return reads


def confusable_neighbour(serial: str, scheme: SerialScheme, rng: random.Random) -> str | None:
    """A valid serial of ``scheme`` that differs from ``serial`` by one body character
    swapped for a look-alike (``CONFUSABLE_GROUPS``) — and, with a check character, in
    that character too — the hardest serial to tell apart from ``serial`` by eye.  The
    position and look-alike are drawn from ``rng``; ``None`` when no body character has a
    look-alike in the alphabet."""
    body_end = scheme.length - 1 if scheme.check else scheme.length
    positions = list(range(1 if scheme.type_letters else 0, body_end))
    rng.shuffle(positions)
    for position in positions:
        options = sorted(
            {
                c
                for group in CONFUSABLE_GROUPS
                if serial[position] in group
                for c in group
                if c != serial[position] and c in scheme.alphabet
            }
        )
        if options:
            prefix = serial[:position] + rng.choice(options) + serial[position + 1 : body_end]
            return prefix + scheme.check_character(prefix) if scheme.check else prefix
    return None
