"""Simulated AFID reads: what an examiner might write for a tag of a known serial.

Used to test and measure the matcher, and to make the worked example in ``captures/``.
A read is drawn from a :class:`~taserlink.forensics.confusion.ConfusionModel` — each
character written independently as the model's row for the true character says — and,
with probability ``p_torn``, the tag is torn: only a stretch of ``min_fragment`` or more
consecutive characters survives, written in the read notation with ``*`` for the lost
ends.

Reads follow the model's indel part too: a character skipped, one written as two
(``W`` as ``VV``), an extra character inserted.  :data:`SECOND_NOISE` is a second, documented
way of reading — other look-alikes, more indels, tears with holes — to validate the matcher
on reads drawn from a model other than the one it assumes.

What is *not* simulated: misreads that depend on neighbouring characters, two neighbours
swapped, and reads of tags from another scene.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from taserlink.forensics.confusion import CONFUSABLE_GROUPS, ConfusionModel
from taserlink.forensics.match import Matcher, SerialIndex
from taserlink.forensics.results import MatchSettings, MatchStatus, TagRead
from taserlink.forensics.serials import TORN, UNREADABLE
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = [
    "SECOND_GROUPS",
    "ReadNoise",
    "second_noise",
    "stated_noise",
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
    indels: bool = True,
    p_hole: float = 0.0,
) -> str:
    """One read of a tag printed with ``serial`` (canonical, in the model's alphabet); see
    :func:`simulate_reads`.

    Raises:
        ValueError: as :func:`simulate_reads`.
    """
    return simulate_reads(
        [serial], model, rng, p_torn=p_torn, min_fragment=min_fragment, indels=indels,
        p_hole=p_hole,
    )[0]


def simulate_reads(
    serials: list[str],
    model: ConfusionModel,
    rng: random.Random,
    *,
    p_torn: float = 0.0,
    min_fragment: int = 4,
    indels: bool = True,
    p_hole: float = 0.0,
) -> list[str]:
    """One read for each of ``serials`` (repeat a serial for several tags of it).

    With probability ``p_torn`` the tag is torn: a uniformly chosen stretch of
    ``min_fragment``..``len - 1`` characters survives (written with ``*`` for the lost
    ends), and with probability ``p_hole`` a torn tag also loses an inner stretch of 1–3
    characters (``AB*CD``).  Each surviving character is then written as the model says:
    with ``indels`` (the default) skipped with ``p_skip``, written as two with the model's
    pair probabilities, otherwise one character from its row; and in each gap of the
    written stretch (inside it, and at an end the tear did not take) an extra legible
    character is inserted with ``p_insert``.  Without ``indels`` every character is written
    as exactly one, in the same random stream as before indels were modelled (the bundled
    scene depends on it).  A read always holds at least one readable character (one read
    wholly as ``?`` is drawn again).  Deterministic for a seeded ``rng``.

    Raises:
        ValueError: ``p_torn`` or ``p_hole`` outside 0–1, ``min_fragment`` not in
            1..length, or a serial character outside the model's alphabet.
    """
    if not 0.0 <= p_torn <= 1.0:
        raise ValueError(f"p_torn = {p_torn!r} is not in 0–1")
    if not 0.0 <= p_hole <= 1.0:
        raise ValueError(f"p_hole = {p_hole!r} is not in 0–1")
    cumulative = _cumulative(model)
    columns = model.read_characters
    legible = columns.replace(UNREADABLE, "")
    pairs: dict[int, list[tuple[str, float]]] = {}
    for true, written, probability in model.pairs:
        pairs.setdefault(model.alphabet.index(true), []).append((written, probability))
    reads: list[str] = []

    def one(r: int) -> str:
        return columns[
            min(int(np.searchsorted(cumulative[r], rng.random(), "right")), len(columns) - 1)
        ]

    for serial in serials:
        if not 1 <= min_fragment <= len(serial):
            raise ValueError(f"min_fragment = {min_fragment} is not in 1..{len(serial)}")
        rows = [model.alphabet.index(c) for c in serial]
        while True:
            if not indels:
                text = "".join(one(r) for r in rows)
                if rng.random() < p_torn and min_fragment < len(serial):
                    size = rng.randint(min_fragment, len(serial) - 1)
                    start = rng.randint(0, len(serial) - size)
                    kept = text[start : start + size]
                    text = (
                        ("" if start == 0 else TORN)
                        + kept
                        + ("" if start + size == len(serial) else TORN)
                    )
            else:
                text = _written(serial, rows, model, rng, one, pairs, legible, p_torn,
                                min_fragment, p_hole)
            if text.replace(TORN, "").replace(UNREADABLE, ""):
                break
        reads.append(text)
    return reads


def _written(
    serial: str,
    rows: list[int],
    model: ConfusionModel,
    rng: random.Random,
    one: Callable[[int], str],
    pairs: dict[int, list[tuple[str, float]]],
    legible: str,
    p_torn: float,
    min_fragment: int,
    p_hole: float,
) -> str:
    """One read with tearing and indels: the stretches that survive, each written."""
    length = len(serial)
    stretches = [(0, length)]
    if rng.random() < p_torn and min_fragment < length:
        size = rng.randint(min_fragment, length - 1)
        start = rng.randint(0, length - size)
        stretches = [(start, start + size)]
        if size >= 3 and rng.random() < p_hole:
            hole = rng.randint(1, min(3, size - 2))
            at = rng.randint(start + 1, start + size - hole - 1)
            stretches = [(start, at), (at + hole, start + size)]
    parts = []
    for begin, end in stretches:
        written = []
        for p in range(begin, end):
            if p > begin or begin == 0:  # a gap before p: inside, or the serial's start
                if rng.random() < model.p_insert:
                    written.append(rng.choice(legible))
            u = rng.random()
            r = rows[p]
            if u < model.p_skip:
                continue
            u -= model.p_skip
            for pair, probability in pairs.get(r, []):
                if u < probability:
                    written.append(pair)
                    break
                u -= probability
            else:
                written.append(one(r))
        if end == length and rng.random() < model.p_insert:
            written.append(rng.choice(legible))
        parts.append("".join(written))
    first, last = stretches[0][0], stretches[-1][1]
    return ("" if first == 0 else TORN) + TORN.join(parts) + ("" if last == length else TORN)


@dataclass(frozen=True)
class ReadNoise:
    """How tags are read in a simulation: a confusion model (its indel part included) and
    how tags tear.

    Attributes:
        name: a label for tables ("the stated model", …).
        model: the confusion model reads are drawn from.
        p_torn: the share of tags torn.
        min_fragment: the fewest characters a torn tag keeps.
        p_hole: the share of torn tags that also lose an inner stretch (``AB*CD``).
    """

    name: str
    model: ConfusionModel
    p_torn: float
    min_fragment: int
    p_hole: float

    def reads(
        self, serials: list[str], rng: random.Random, *, torn: bool | None = None
    ) -> list[str]:
        """One read for each of ``serials``: torn with ``p_torn`` (``torn=True``: every
        one, ``False``: none).

        Raises:
            ValueError: as :func:`simulate_reads`.
        """
        p_torn = self.p_torn if torn is None else float(torn)
        return simulate_reads(
            serials,
            self.model,
            rng,
            p_torn=p_torn,
            min_fragment=self.min_fragment,
            p_hole=self.p_hole,
        )


SECOND_GROUPS: tuple[str, ...] = (
    "0OQ", "0D", "1IL", "7T", "2Z", "5S", "6G", "8B", "3B",
    "EF", "PR", "MN", "HN", "KX", "VY", "UV", "4A", "CG",
)  # fmt: skip
"""The look-alikes of :func:`second_noise`: some the stated groups hold, some they split
(``3``/``8``, ``D``/``Q``), and pairs the stated model does not know at all (``E``/``F``,
``P``/``R``, ``M``/``N``, ``H``/``N``, ``K``/``X``, ``V``/``Y``, ``4``/``A``, ``C``/``G``,
``7``/``T``) — to the matcher those are arbitrary substitutions."""


def stated_noise(scheme: SerialScheme = CARTRIDGE_SCHEME, *, p_torn: float = 0.2) -> ReadNoise:
    """Reads drawn from the stated model itself (:meth:`ConfusionModel.default`), a share
    ``p_torn`` torn to fragments of 4 or more characters."""
    return ReadNoise("the stated model", ConfusionModel.default(scheme), p_torn, 4, 0.0)


def second_noise(scheme: SerialScheme = CARTRIDGE_SCHEME, *, p_torn: float = 0.25) -> ReadNoise:
    """A second, documented way of reading, *other* than the matcher's stated model, to
    validate it against: examiners less accurate (a legible character read right 86 % of
    the time, 10 % as a look-alike, 7 % of characters unreadable) with other look-alikes
    (:data:`SECOND_GROUPS`), who skip a character twice as often (1 %), insert one more
    often (0.5 % a gap) and write ``W`` as ``VV`` (3 %) and ``M`` as ``NN`` (1.5 %) or
    ``IV`` (1 %); a share ``p_torn`` of tags torn to fragments of 4 or more characters,
    a quarter of those with an inner stretch lost too."""
    pairs = [
        (t, w, p)
        for t, w, p in (("W", "VV", 0.03), ("M", "NN", 0.015), ("M", "IV", 0.01))
        if t in scheme.alphabet
    ]
    model = ConfusionModel.default(
        scheme,
        p_correct=0.86,
        p_confusable=0.10,
        p_unreadable=0.07,
        groups=SECOND_GROUPS,
        p_skip=0.01,
        p_insert=0.005,
        read_as_two=pairs,
    )
    return ReadNoise("a second way of reading", model, p_torn, 4, 0.25)


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
