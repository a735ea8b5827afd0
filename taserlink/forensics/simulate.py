"""Simulated AFID reads: what an examiner might write for a tag of a known serial.

Used to test and measure the matcher, and to make the worked example in ``captures/``.
A read is drawn from a :class:`~taserlink.forensics.confusion.ConfusionModel` — each
character written independently as the model's row for the true character says — and,
with probability ``p_torn``, the tag is torn: only a stretch of ``min_fragment`` or more
consecutive characters survives, written in the read notation with ``*`` for the lost
ends.

Reads follow the model's indel part too: a character skipped, one written as two
(``W`` as ``VV``), an extra character inserted.  :func:`second_noise` is a second, documented
way of reading — other look-alikes, more indels, tears with holes — to validate the matcher
on reads drawn from a model other than the one it assumes.

What is *not* simulated: misreads that depend on neighbouring characters, two neighbours
swapped, and reads of tags from another scene.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from taserlink.forensics.confusion import CONFUSABLE_GROUPS, ConfusionModel
from taserlink.forensics.match import Matcher, SerialIndex
from taserlink.forensics.reads import TORN, UNREADABLE
from taserlink.forensics.results import MatchRow, MatchSettings, MatchStatus, TagRead
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = [
    "NEGLIGIBLE",
    "SECOND_GROUPS",
    "TAG_COUNTS",
    "ReadNoise",
    "SceneExhibit",
    "ValidationCell",
    "second_noise",
    "stated_noise",
    "Validation",
    "answered_posterior",
    "confusable_neighbour",
    "consistent_noise",
    "posterior_path",
    "simulate_read",
    "simulate_reads",
    "simulated_register",
    "validate",
    "validation_scene",
    "without_indels",
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
        [serial],
        model,
        rng,
        p_torn=p_torn,
        min_fragment=min_fragment,
        indels=indels,
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
                text = _written(
                    serial, rows, model, rng, one, pairs, legible, p_torn, min_fragment, p_hole
                )
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
            # A gap before p — inside the stretch, or at the serial's start.
            if (p > begin or begin == 0) and rng.random() < model.p_insert:
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


def consistent_noise(
    scheme: SerialScheme = CARTRIDGE_SCHEME, *, p_torn: float, p_hole: float
) -> ReadNoise:
    """Reads *consistent* with their serial: every readable character the serial's own (no
    misread, skip or insertion beyond :data:`NEGLIGIBLE` odds), 15 % of characters
    unreadable, a share ``p_torn`` torn to fragments of 4 or more characters, ``p_hole`` of
    those with an inner stretch lost too — the reads that must never lower the serial's
    posterior (``docs/matching.md`` §5, "More evidence is not a worse answer")."""
    model = ConfusionModel.default(
        scheme,
        p_correct=1 - 2 * NEGLIGIBLE,
        p_confusable=NEGLIGIBLE,
        p_unreadable=0.15,
        p_skip=NEGLIGIBLE,
        p_insert=NEGLIGIBLE,
        read_as_two=[],
    )
    return ReadNoise("consistent reads", model, p_torn, 4, p_hole)


def answered_posterior(rows: list[MatchRow], serial: str) -> tuple[float, bool]:
    """The posterior the rows' answers give ``serial`` — as the serial or the runner-up of
    a ``match`` or ``ambiguous`` row; 0 when none does (a ``none`` row answers no serial) —
    and whether a row answers ``match`` with it."""
    for row in rows:
        if row.status is MatchStatus.NONE:
            continue
        if row.serial == serial and row.score is not None:
            return row.score, row.status is MatchStatus.MATCH
        if row.runner_up == serial and row.runner_up_score is not None:
            return row.runner_up_score, False
    return 0.0, False


def posterior_path(matcher: Matcher, serial: str, texts: list[str]) -> list[tuple[float, bool]]:
    """:func:`answered_posterior` of ``serial`` after each read of ``texts`` is added to one
    exhibit: the first read alone, the first two, … all of them."""
    path = []
    for k in range(1, len(texts) + 1):
        rows = matcher.match([TagRead("E", f"t{i}", t) for i, t in enumerate(texts[:k])])
        path.append(answered_posterior(rows, serial))
    return path


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
    :func:`confusable_neighbour` of an earlier one (a register with near-twins).

    Raises:
        ValueError: ``size`` more than half the serials ``scheme`` has (drawing them at
            random would take too long).
    """
    if 2 * size > scheme.capacity:
        raise ValueError(f"{size} serials: the {scheme.name} scheme has {scheme.capacity}")
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


TAG_COUNTS: tuple[tuple[str, int, int], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3", 3, 3),
    ("5", 5, 5),
    ("10+", 10, 20),
)
"""The tag-count columns of :func:`validate`: a label, and the fewest and most tags an
exhibit of that column holds (drawn uniformly)."""
NEGLIGIBLE = 1e-9
"""``p_skip`` and ``p_insert`` of a model "without indels" (:func:`without_indels`): the
model requires them above 0; at this rate not one in a hundred million reads has one."""


def without_indels(noise: ReadNoise) -> ReadNoise:
    """``noise`` with its indels made negligible: ``p_skip`` and ``p_insert`` of
    :data:`NEGLIGIBLE`, no character written as two; look-alikes, unreadable characters
    and tearing (holes included) as they were."""
    model = dataclasses.replace(
        noise.model,
        p_skip=NEGLIGIBLE,
        p_insert=NEGLIGIBLE,
        read_as_two=(),
        note=f"{noise.model.note}; indels negligible (p_skip = p_insert = {NEGLIGIBLE}, no pairs)",
    )
    return dataclasses.replace(noise, name=f"{noise.name}, without indels", model=model)


@dataclass(frozen=True)
class SceneExhibit:
    """One exhibit of a validation scene (:func:`validation_scene`).

    Attributes:
        exhibit: its name (``"0"``, ``"1"``, …).
        serial: its cartridge's serial (the truth).
        listed: whether that serial is in the scene's serial list.
        tags: its tag-count column (a :data:`TAG_COUNTS` label).
        torn: every tag torn (``True``) or none (``False``).
        indels: reads drawn with the truth's indels (``True``) or without
            (:func:`without_indels`).
        texts: the reads, one per tag.
    """

    exhibit: str
    serial: str
    listed: bool
    tags: str
    torn: bool
    indels: bool
    texts: tuple[str, ...]


def validation_scene(
    truth: ReadNoise,
    seed: int,
    *,
    serials: int = 5000,
    per_cell: int = 100,
    unlisted_per_cell: int = 10,
    look_alikes: float = 0.1,
    tag_counts: tuple[tuple[str, int, int], ...] = TAG_COUNTS,
    scheme: SerialScheme = CARTRIDGE_SCHEME,
) -> tuple[list[str], list[SceneExhibit]]:
    """The serial list and exhibits :func:`validate` matches.

    A list of ``serials`` serials (:func:`simulated_register`, ``look_alikes`` of them
    near-twins of others); then for every cell — with and without indels × complete and
    torn × each tag-count column — ``per_cell`` exhibits of a listed cartridge (drawn
    uniformly from the list, so two exhibits may share one) and ``unlisted_per_cell`` of a
    cartridge not in the list, each exhibit one cartridge's tags read with ``truth`` (or
    :func:`without_indels` of it), every tag torn in a torn cell and none in a complete one.
    Each cell draws from its own random stream, so cells do not depend on one another.
    Deterministic for a ``seed``.

    Raises:
        ValueError: a tag-count column with fewer than one tag or ``low > high``, or as
            :func:`simulated_register` and :func:`simulate_reads`.
    """
    for label, low, high in tag_counts:
        if not 1 <= low <= high:
            raise ValueError(f"tag-count column {label!r}: {low}..{high} is not a range ≥ 1")
    register = simulated_register(serials, random.Random(seed), scheme, look_alikes=look_alikes)
    listed = set(register)
    variants = {True: truth, False: without_indels(truth)}
    exhibits: list[SceneExhibit] = []
    for indels in (True, False):
        for torn in (False, True):
            for label, low, high in tag_counts:
                rng = random.Random(f"scene {seed}/{indels}/{torn}/{label}")
                for k in range(per_cell + unlisted_per_cell):
                    if k < per_cell:
                        serial = rng.choice(register)
                    else:
                        serial = scheme.generate(rng)
                        while serial in listed:
                            serial = scheme.generate(rng)
                    tags = [serial] * rng.randint(low, high)
                    texts = tuple(variants[indels].reads(tags, rng, torn=torn))
                    name = str(len(exhibits))
                    exhibits.append(
                        SceneExhibit(name, serial, k < per_cell, label, torn, indels, texts)
                    )
    return register, exhibits


@dataclass(frozen=True)
class ValidationCell:
    """What the matcher answered for the exhibits of one cell of :func:`validate`.

    Attributes:
        tags: the tag-count column (a :data:`TAG_COUNTS` label; ``"all"`` for cells of
            several columns added up).
        torn: every tag torn (``True``) or none (``False``); ``None``: cells of both added
            up.
        indels: reads drawn with the truth's indels or without (``None``: both).
        listed: exhibits whose cartridge is listed.
        matched_right: of those, exhibits with a ``match`` row naming their cartridge.
        match_rows: ``match`` rows of the listed exhibits.
        matched_wrong: of those, rows naming another serial than the exhibit's cartridge
            (confident wrong answers).
        rank1: listed exhibits whose best serial is their cartridge: the serial of the row
            holding most of the exhibit's reads (the first such row), or its runner-up when
            that row's status is ``none`` — a row naming no serial is a miss.
        unlisted: exhibits whose cartridge is not listed.
        unlisted_matched: of those, exhibits given a ``match`` row (each one wrong).
        reads: tags read in the cell's exhibits, listed and unlisted.
    """

    tags: str
    torn: bool | None
    indels: bool | None
    listed: int = 0
    matched_right: int = 0
    match_rows: int = 0
    matched_wrong: int = 0
    rank1: int = 0
    unlisted: int = 0
    unlisted_matched: int = 0
    reads: int = 0

    def __add__(self, other: ValidationCell) -> ValidationCell:
        """The counts of both added; the labels kept where they agree (``"all"`` for the
        tag count, ``None`` for a flag, where not)."""
        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("tags", "torn", "indels")
        }
        return ValidationCell(
            self.tags if self.tags == other.tags else "all",
            self.torn if self.torn == other.torn else None,
            self.indels if self.indels == other.indels else None,
            **counts,
        )

    @property
    def key(self) -> tuple[bool | None, bool | None, str]:
        """``(indels, torn, tags)``: where the cell sits in the table."""
        return (self.indels, self.torn, self.tags)

    @property
    def right_rate(self) -> float:
        """``matched_right / listed`` (0 when no exhibit is listed)."""
        return self.matched_right / self.listed if self.listed else 0.0

    @property
    def wrong_rate(self) -> float:
        """The confident-wrong rate: ``matched_wrong / match_rows`` (0 without a match)."""
        return self.matched_wrong / self.match_rows if self.match_rows else 0.0

    @property
    def recall(self) -> float:
        """Rank-1 recall: ``rank1 / listed`` (0 when no exhibit is listed)."""
        return self.rank1 / self.listed if self.listed else 0.0


@dataclass(frozen=True)
class Validation:
    """What the matcher answered on a simulated scene (:func:`validate`), cell by cell,
    with totals over all cells.

    Attributes:
        truth: the name of the noise the reads were drawn from.
        seeds: the seeds of the scenes counted (one for a single :func:`validate`).
        cells: one per (indels, torn, tag-count column), in the scene's order.
        wrong: every ``match`` row naming a serial other than its exhibit's cartridge
            (listed or not), with the exhibit: what to look at.
    """

    truth: str
    seeds: tuple[int, ...]
    cells: tuple[ValidationCell, ...]
    wrong: tuple[tuple[SceneExhibit, MatchRow], ...] = ()

    def select(
        self, *, indels: bool | None = None, torn: bool | None = None, tags: str | None = None
    ) -> ValidationCell:
        """The cells that fit (``None``: any), added up.

        Raises:
            KeyError: no cell fits.
        """
        chosen = [
            c
            for c in self.cells
            if (indels is None or c.indels == indels)
            and (torn is None or c.torn == torn)
            and (tags is None or c.tags == tags)
        ]
        if not chosen:
            raise KeyError((indels, torn, tags))
        total = chosen[0]
        for cell in chosen[1:]:
            total = total + cell
        return total

    def __add__(self, other: Validation) -> Validation:
        """Two runs of the same truth and cells (other seeds) added cell by cell.

        Raises:
            ValueError: other truths or other cells.
        """
        if self.truth != other.truth or [c.key for c in self.cells] != [c.key for c in other.cells]:
            raise ValueError("only validations of the same truth and cells add up")
        return Validation(
            self.truth,
            self.seeds + other.seeds,
            tuple(a + b for a, b in zip(self.cells, other.cells, strict=True)),
            self.wrong + other.wrong,
        )

    @property
    def exhibits(self) -> int:
        """Exhibits simulated, listed and unlisted."""
        return sum(c.listed + c.unlisted for c in self.cells)

    @property
    def listed(self) -> int:
        """Exhibits whose cartridge is listed."""
        return sum(c.listed for c in self.cells)

    @property
    def matched_right(self) -> int:
        """Listed exhibits with a ``match`` row naming their cartridge."""
        return sum(c.matched_right for c in self.cells)

    @property
    def matched_wrong(self) -> int:
        """Wrong ``match`` answers: rows of listed exhibits naming another serial, plus the
        unlisted exhibits given a ``match`` (counted once each, however many rows)."""
        return sum(c.matched_wrong + c.unlisted_matched for c in self.cells)

    @property
    def unlisted_matched(self) -> int:
        """Exhibits of an unlisted cartridge given a ``match`` row."""
        return sum(c.unlisted_matched for c in self.cells)


def validate(
    truth: ReadNoise | ConfusionModel,
    seed: int,
    *,
    model: ConfusionModel | None = None,
    settings: MatchSettings | None = None,
    serials: int = 5000,
    per_cell: int = 100,
    unlisted_per_cell: int = 10,
    look_alikes: float = 0.1,
    tag_counts: tuple[tuple[str, int, int], ...] = TAG_COUNTS,
) -> Validation:
    """Match the scene of :func:`validation_scene` and count the answers cell by cell.

    The exhibits' reads are drawn from ``truth`` — a :class:`ReadNoise` (as
    :func:`stated_noise` or :func:`second_noise`), or a bare confusion model, read with
    fragments of 4 or more characters and no holes — and matched, all exhibits in one call,
    under ``model`` (the default model when ``None``) and ``settings`` (the defaults when
    ``None``) against the scene's list of ``serials`` cartridge serials.  A laboratory can
    run it with its fitted model as ``truth`` to see what the default model makes of its
    examiners' reads.  Deterministic for a ``seed``.

    Raises:
        ValueError: as :func:`validation_scene`.
    """
    if isinstance(truth, ConfusionModel):
        truth = ReadNoise("the given model", truth, 0.2, 4, 0.0)
    register, scene = validation_scene(
        truth,
        seed,
        serials=serials,
        per_cell=per_cell,
        unlisted_per_cell=unlisted_per_cell,
        look_alikes=look_alikes,
        tag_counts=tag_counts,
    )
    reads = [
        TagRead(e.exhibit, f"{e.exhibit}-{i}", text)
        for e in scene
        for i, text in enumerate(e.texts)
    ]
    rows = Matcher(SerialIndex(register), model, settings or MatchSettings()).match(reads)
    by_exhibit: dict[str, list[MatchRow]] = {}
    for row in rows:
        by_exhibit.setdefault(row.exhibit, []).append(row)
    cells = {
        (indels, torn, label): ValidationCell(label, torn, indels)
        for indels in (True, False)
        for torn in (False, True)
        for label, _, _ in tag_counts
    }
    wrong: list[tuple[SceneExhibit, MatchRow]] = []
    for e in scene:
        key = (e.indels, e.torn, e.tags)
        answered = by_exhibit.get(e.exhibit, [])
        cells[key] = cells[key] + _tally(e, answered)
        wrong += [
            (e, r) for r in answered if r.status is MatchStatus.MATCH and r.serial != e.serial
        ]
    return Validation(truth.name, (seed,), tuple(cells.values()), tuple(wrong))


def _tally(exhibit: SceneExhibit, rows: list[MatchRow]) -> ValidationCell:
    """One exhibit's answers as a cell of its own."""
    matches = [r for r in rows if r.status is MatchStatus.MATCH]
    counts = ValidationCell(exhibit.tags, exhibit.torn, exhibit.indels, reads=len(exhibit.texts))
    if not exhibit.listed:
        return dataclasses.replace(counts, unlisted=1, unlisted_matched=int(bool(matches)))
    largest = max(rows, key=lambda r: r.reads, default=None)  # the first of the largest
    best = ""
    if largest is not None:
        best = largest.runner_up if largest.status is MatchStatus.NONE else largest.serial
    return dataclasses.replace(
        counts,
        listed=1,
        matched_right=int(any(r.serial == exhibit.serial for r in matches)),
        match_rows=len(matches),
        matched_wrong=sum(r.serial != exhibit.serial for r in matches),
        rank1=int(bool(best) and best == exhibit.serial),
    )
