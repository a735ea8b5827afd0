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
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from taserlink.forensics.confusion import CONFUSABLE_GROUPS, ConfusionModel
from taserlink.forensics.match import Matcher, SerialIndex
from taserlink.forensics.results import MatchSettings, MatchStatus, TagRead
from taserlink.forensics.serials import TORN, UNREADABLE
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = [
    "Validation",
    "confusable_neighbour",
    "simulate_read",
    "simulate_reads",
    "simulated_register",
    "validate",
]


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


def simulated_register(
    size: int,
    rng: random.Random,
    scheme: SerialScheme = CARTRIDGE_SCHEME,
    *,
    look_alikes: float = 0.0,
) -> list[str]:
    """``size`` distinct serials of ``scheme``; with probability ``look_alikes`` each is a
    :func:`confusable_neighbour` of an earlier one (a register with near-twins)."""
    serials: list[str] = []
    seen: set[str] = set()
    while len(serials) < size:
        serial = (
            confusable_neighbour(rng.choice(serials), scheme, rng)
            if serials and rng.random() < look_alikes
            else scheme.generate(rng)
        )
        if serial is not None and serial not in seen:
            seen.add(serial)
            serials.append(serial)
    return serials


@dataclass(frozen=True)
class Validation:
    """What the matcher answered on a simulated scene (:func:`validate`).

    Attributes:
        exhibits: exhibits simulated.
        listed: those whose cartridge is in the serial list.
        matched_right: ``match`` rows naming the exhibit's cartridge.
        matched_wrong: ``match`` rows naming another serial.
        unlisted_matched: ``match`` rows for exhibits whose cartridge is not listed.
    """

    exhibits: int
    listed: int
    matched_right: int
    matched_wrong: int
    unlisted_matched: int


def validate(
    truth_model: ConfusionModel,
    seed: int,
    *,
    model: ConfusionModel | None = None,
    serials: int = 5000,
    exhibits: int = 2000,
    look_alikes: float = 0.1,
    p_unlisted: float = 0.05,
    p_torn: float = 0.2,
) -> Validation:
    """Match a simulated scene and count the answers: ``exhibits`` exhibits of 1–5 reads of
    one cartridge each, drawn from ``truth_model`` (a share ``p_torn`` torn to fragments of
    5 or more characters), against ``serials`` cartridge serials (``look_alikes`` of them
    near-twins of others), a share ``p_unlisted`` of cartridges not in the list; matched
    under ``model`` (the default model when ``None``) and the default settings.  A
    laboratory can run it with its fitted model as ``truth_model`` to see what the default
    model makes of its examiners' reads.  Deterministic for a ``seed``."""
    register = simulated_register(serials, random.Random(seed), look_alikes=look_alikes)
    rng = random.Random(f"scene {seed}")  # a stream unrelated to the register's
    truth: dict[str, tuple[str, bool]] = {}
    reads: list[TagRead] = []
    for e in range(exhibits):
        listed = rng.random() >= p_unlisted
        serial = rng.choice(register) if listed else CARTRIDGE_SCHEME.generate(rng)
        truth[str(e)] = (serial, listed)
        texts = simulate_reads(
            [serial] * rng.randint(1, 5), truth_model, rng, p_torn=p_torn, min_fragment=5
        )
        reads.extend(TagRead(str(e), f"{e}-{i}", text) for i, text in enumerate(texts))
    rows = Matcher(SerialIndex(register), model, MatchSettings()).match(reads)
    right = wrong = unlisted = 0
    for row in rows:
        serial, listed = truth[row.exhibit]
        if row.status is MatchStatus.MATCH:
            right += row.serial == serial
            wrong += row.serial != serial
            unlisted += not listed
    return Validation(exhibits, sum(listed for _, listed in truth.values()), right, wrong, unlisted)
