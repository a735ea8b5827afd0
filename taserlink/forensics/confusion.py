"""The confusion model for AFID reads: P(character read | true character).

An examiner reading a tag under magnification may write the true character, a look-alike
of it (a *confusable*: ``8`` for ``B``), any other character, or ``?`` when a character is
there but cannot be read.  :class:`ConfusionModel` holds those probabilities as a matrix
with one row per true character (the scheme's alphabet) and one column per character an
examiner may write: the alphabet, the letters and digits outside it (``I``, ``L``, ``O``,
``U`` for the Crockford alphabet) and ``?``.  Every row sums to 1 and every entry lies
strictly between 0 and 1, so every log-likelihood is finite.

No public study of AFID misreads exists, so :meth:`ConfusionModel.default` is a set of
*stated assumptions* (see ``docs/matching.md``); a laboratory calibrates its own model from
validation reads with :meth:`ConfusionModel.fit` and keeps it in a small JSON file
(:meth:`ConfusionModel.save`, :meth:`ConfusionModel.load`).

Besides single characters the model states how often a character is *skipped* (nothing
written for it), how often an extra character is *inserted* between two (or before the first,
after the last), and which characters are written as *two* (``W`` as ``VV``): a read one
character short or long is explained by these, never refused.  :meth:`output_log_table`
gives every output — a read character, a skip, a pair — under every true character, the
table both matchers score from.

Torn parts (``*``) are not characters and have no column: where a fragment sits in the
serial is the matcher's question, not this model's.
"""

from __future__ import annotations

import dataclasses
import json
import math
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from taserlink.errors import ConfusionModelError, ReadError, SerialError
from taserlink.forensics.reads import TORN, UNREADABLE, parse_read
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = [
    "CONFUSABLE_GROUPS",
    "DEFAULT_P_INSERT",
    "DEFAULT_P_SKIP",
    "DEFAULT_READ_AS_TWO",
    "SKIPPED",
    "DEFAULT_P_CORRECT",
    "DEFAULT_P_CONFUSABLE",
    "DEFAULT_P_UNREADABLE",
    "DEFAULT_STRENGTH",
    "FIT_ROUNDS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "ROW_SUM_TOLERANCE",
    "ConfusionModel",
    "read_characters_for",
]

CONFUSABLE_GROUPS: tuple[str, ...] = ("0ODQ", "17IL", "2Z", "5S", "6G", "38B", "UV")
"""Characters examiners confuse with one another (the force's list, README "AFIDs")."""
DEFAULT_P_CORRECT = 0.90
"""Default probability that a legible character is read as itself."""
DEFAULT_P_CONFUSABLE = 0.08
"""Default probability that a legible character is read as one of its confusables (the
mass is shared equally among them; a character without confusables has none)."""
DEFAULT_P_UNREADABLE = 0.05
"""Default probability that a character present on the tag is written as ``?``."""
DEFAULT_P_SKIP = 0.005
"""Default probability that a character on the tag is skipped: nothing is written for it."""
DEFAULT_P_INSERT = 0.002
"""Default probability that an extra character is written in one of the gaps of a read
(between two characters, before the first or after the last), any legible character alike."""
DEFAULT_READ_AS_TWO: tuple[tuple[str, str, float], ...] = (("W", "VV", 0.01), ("M", "NN", 0.005))
"""Default characters written as two, ``(true, written, probability)``: a ``W`` is two ``V``
strokes, an ``M`` two ``N``-like ones; those of an alphabet that has the true character."""
SKIPPED = ""
"""The output of a skipped character in :attr:`ConfusionModel.outputs`."""
DEFAULT_STRENGTH = 20.0
"""Default weight of the prior in :meth:`ConfusionModel.fit`, in pseudo-reads per true
character."""
ROW_SUM_TOLERANCE = 1e-6
"""How far a row of a loaded or given matrix may be from summing to 1."""
FIT_ROUNDS = 5
"""Most alignment rounds of :meth:`ConfusionModel.fit` (it stops earlier once the counts, and
so the estimate, stop changing)."""
FORMAT_NAME = "taserlink-confusion-model"
FORMAT_VERSION = 2
"""The file format version :meth:`ConfusionModel.to_json` writes: 2 holds the indel model
(``p_skip``, ``p_insert``, ``read_as_two``)."""
READABLE_VERSIONS: tuple[int, ...] = (1, 2)
"""The versions :meth:`ConfusionModel.from_json` reads.  Version 1 has no indel model: such a
file is given the default indel parameters, and its note says so."""
_READ_SEPARATORS = str.maketrans("", "", "- \t")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def read_characters_for(scheme: SerialScheme) -> str:
    """The columns of a model for ``scheme``: the alphabet in order, then every digit,
    upper-case letter and alias outside it (sorted), then ``?``."""
    extra = set(string.digits + string.ascii_uppercase) | set(scheme.aliases or {})
    return scheme.alphabet + "".join(sorted(extra - set(scheme.alphabet))) + UNREADABLE


@dataclass(frozen=True, eq=False)
class ConfusionModel:
    """P(read character | true character) for one serial alphabet.

    Attributes:
        alphabet: the true characters (a scheme's alphabet), the matrix's rows in order.
        read_characters: the characters an examiner may write, the matrix's columns in
            order: the alphabet first, then others, and ``?`` (unreadable) among them.
        matrix: shape ``(len(alphabet), len(read_characters))``; ``matrix[i, j]`` is the
            probability that true ``alphabet[i]`` is written as ``read_characters[j]``.
            Stored as a read-only float64 copy.
        note: where the numbers come from (the default's parameters, a fit's data), shown
            in reports so the model used is always stated.
        p_skip: probability that a character on the tag is skipped (nothing written).
        p_insert: probability that an extra character is written in a gap of the read
            (``L + 1`` gaps for a serial of ``L`` characters), uniform over the legible read
            characters.
        read_as_two: ``(true, written, probability)``: the true character written as the
            two read characters ``written``; ``None`` takes :data:`DEFAULT_READ_AS_TWO`'s
            entries whose true character is in ``alphabet`` and whose written characters are
            legible read characters.

    A true character ``t`` is skipped with ``p_skip``, written as a pair with the
    probabilities of ``read_as_two``, and otherwise written as one character drawn from
    ``matrix``'s row (which is conditional on one character being written).

    Raises:
        ConfusionModelError: duplicate characters, an alphabet character or ``?`` missing
            from ``read_characters``, ``*`` among them, a matrix of the wrong shape, an entry
            not strictly between 0 and 1, a row whose sum is more than
            :data:`ROW_SUM_TOLERANCE` from 1, ``p_skip`` or ``p_insert`` not strictly between
            0 and 1, a pair of another alphabet's character or of characters that are not
            two legible read characters, the same pair twice, or a true character whose
            skip and pair probabilities leave nothing for one written character.
    """

    alphabet: str
    read_characters: str
    matrix: FloatArray
    note: str = ""
    p_skip: float = DEFAULT_P_SKIP
    p_insert: float = DEFAULT_P_INSERT
    read_as_two: tuple[tuple[str, str, float], ...] | None = None
    _column: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.alphabet) < 2 or len(set(self.alphabet)) != len(self.alphabet):
            raise ConfusionModelError("alphabet must have 2+ distinct characters")
        if len(set(self.read_characters)) != len(self.read_characters):
            raise ConfusionModelError("read characters must be distinct")
        missing = [c for c in self.alphabet + UNREADABLE if c not in self.read_characters]
        if missing:
            raise ConfusionModelError(f"read characters lack {''.join(missing)!r}")
        if TORN in self.read_characters:
            raise ConfusionModelError(f"{TORN!r} (torn) is not a character and has no column")
        try:
            matrix = np.array(self.matrix, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ConfusionModelError(f"matrix is not numeric: {error}") from error
        shape = (len(self.alphabet), len(self.read_characters))
        if matrix.shape != shape:
            raise ConfusionModelError(f"matrix has shape {matrix.shape}, expected {shape}")
        bad = np.argwhere(~((matrix > 0.0) & (matrix < 1.0)))
        if bad.size:
            i, j = (int(x) for x in bad[0])
            raise ConfusionModelError(
                f"P({self.read_characters[j]!r} read | {self.alphabet[i]!r} true) = "
                f"{matrix[i, j]!r} is not strictly between 0 and 1"
            )
        sums = matrix.sum(axis=1)
        off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
        if off.size:
            i = int(off[0])
            raise ConfusionModelError(
                f"row for true {self.alphabet[i]!r} sums to {sums[i]!r}, not 1 "
                f"(tolerance {ROW_SUM_TOLERANCE})"
            )
        matrix.setflags(write=False)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "_column", {c: j for j, c in enumerate(self.read_characters)})
        self._check_indels()

    def _check_indels(self) -> None:
        for name in ("p_skip", "p_insert"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value < 1.0):
                raise ConfusionModelError(f"{name} = {value!r} is not strictly between 0 and 1")
            object.__setattr__(self, name, float(value))
        pairs = self.read_as_two
        legible = set(self.read_characters) - {UNREADABLE}
        if pairs is None:
            pairs = tuple(
                p for p in DEFAULT_READ_AS_TWO if p[0] in self.alphabet and set(p[1]) <= legible
            )
        seen: set[tuple[str, str]] = set()
        checked: list[tuple[str, str, float]] = []
        for entry in pairs:
            if not (isinstance(entry, (tuple, list)) and len(entry) == 3):
                raise ConfusionModelError(f"read_as_two entry {entry!r} is not (true, read, p)")
            true, written, probability = entry
            if not (isinstance(true, str) and len(true) == 1 and true in self.alphabet):
                raise ConfusionModelError(f"read_as_two: {true!r} is not in the alphabet")
            if not (isinstance(written, str) and len(written) == 2 and set(written) <= legible):
                raise ConfusionModelError(
                    f"read_as_two: {written!r} is not two legible read characters"
                )
            if not (
                isinstance(probability, (int, float))
                and not isinstance(probability, bool)
                and 0.0 < probability < 1.0
            ):
                raise ConfusionModelError(
                    f"read_as_two: P({written!r} | {true!r}) = {probability!r} is not strictly "
                    "between 0 and 1"
                )
            if (true, written) in seen:
                raise ConfusionModelError(f"read_as_two: {true!r} as {written!r} given twice")
            seen.add((true, written))
            checked.append((true, written, float(probability)))
        for true in self.alphabet:
            total = self.p_skip + sum(p for t, _, p in checked if t == true)
            if total >= 1.0:
                raise ConfusionModelError(
                    f"skips and pairs of {true!r} add up to {total!r}: nothing is left for "
                    "one written character"
                )
        object.__setattr__(self, "read_as_two", tuple(sorted(checked)))

    # -- construction --------------------------------------------------------------------
    @classmethod
    def default(
        cls,
        scheme: SerialScheme = CARTRIDGE_SCHEME,
        *,
        p_correct: float = DEFAULT_P_CORRECT,
        p_confusable: float = DEFAULT_P_CONFUSABLE,
        p_unreadable: float = DEFAULT_P_UNREADABLE,
        groups: Sequence[str] = CONFUSABLE_GROUPS,
        p_skip: float = DEFAULT_P_SKIP,
        p_insert: float = DEFAULT_P_INSERT,
        read_as_two: Sequence[tuple[str, str, float]] | None = None,
    ) -> ConfusionModel:
        """The stated-assumption model for ``scheme``.

        A character present on the tag is written ``?`` with probability ``p_unreadable``.
        Otherwise (legible) it is read as itself with probability ``p_correct``, as one of
        its confusables (the other members of its ``groups`` that are read characters) with
        ``p_confusable`` shared equally, and as any other character with the rest shared
        equally.  A character without confusables spreads all of ``1 - p_correct``
        uniformly.  ``p_skip``, ``p_insert`` and ``read_as_two`` are the indel model (see
        the class); ``read_as_two=None`` keeps the pairs of :data:`DEFAULT_READ_AS_TWO`
        whose true character is in the scheme's alphabet.

        Raises:
            ConfusionModelError: a probability outside (0, 1),
                ``p_correct + p_confusable >= 1``, or an invalid indel parameter.
        """
        for name, value in (
            ("p_correct", p_correct),
            ("p_confusable", p_confusable),
            ("p_unreadable", p_unreadable),
        ):
            if not 0.0 < value < 1.0:
                raise ConfusionModelError(f"{name} = {value!r} is not strictly between 0 and 1")
        if p_correct + p_confusable >= 1.0:
            raise ConfusionModelError(
                f"p_correct + p_confusable = {p_correct + p_confusable!r} leaves nothing for "
                "arbitrary substitutions; it must be below 1"
            )
        read_characters = read_characters_for(scheme)
        legible = read_characters.replace(UNREADABLE, "")
        matrix = np.zeros((len(scheme.alphabet), len(read_characters)))
        column = {c: j for j, c in enumerate(read_characters)}
        for i, true in enumerate(scheme.alphabet):
            confusables = sorted(
                {c for g in groups if true in g for c in g if c != true and c in legible}
            )
            others = [c for c in legible if c != true and c not in confusables]
            error = 1.0 - p_correct
            row = matrix[i]
            row[column[true]] = p_correct
            if confusables:
                for c in confusables:
                    row[column[c]] = p_confusable / len(confusables)
                error -= p_confusable
            for c in others:
                row[column[c]] = error / len(others)
            row *= 1.0 - p_unreadable
            row[column[UNREADABLE]] = p_unreadable
        given = None if read_as_two is None else tuple(read_as_two)
        # Validated (a malformed pair is a ConfusionModelError) before the note names them.
        model = cls(scheme.alphabet, read_characters, matrix, "", p_skip, p_insert, given)
        two = ", ".join(f"{t}->{w} {p}" for t, w, p in model.pairs) or "none"
        note = (
            f"default for the {scheme.name} scheme (stated assumptions): "
            f"p_correct={p_correct}, p_confusable={p_confusable}, "
            f"p_unreadable={p_unreadable}, groups={'/'.join(groups)}, "
            f"p_skip={p_skip}, p_insert={p_insert}, read as two: {two}"
        )
        return dataclasses.replace(model, note=note)

    @classmethod
    def fit(
        cls,
        pairs: Iterable[tuple[str, str]],
        scheme: SerialScheme = CARTRIDGE_SCHEME,
        prior: ConfusionModel | None = None,
        strength: float = DEFAULT_STRENGTH,
    ) -> ConfusionModel:
        """Estimate the model from validation reads: ``(true serial, read)`` pairs.

        Reads are in the AFID read notation and must be complete (no ``*``: a torn fragment
        cannot be aligned with its serial for counting), but may have any length: a read a
        character short or long is an examiner's skip, insertion or character written as two.

        Each read is aligned with its serial by its most probable alignment (Viterbi) under
        the current estimate, the first being ``prior`` (:meth:`default` for ``scheme`` when
        ``None``).  An alignment's steps: a true character written as one read character
        (weighted as in :meth:`output_log_table`), skipped, or written as one of the prior's
        pairs; and a legible read character inserted in a gap (at most one per gap, never
        ``?``, weighted :attr:`insertion_log_weight`: the ``(1 - p_insert)`` of every gap is
        common to all alignments of a read and drops out).  Between alignments that score the
        same the order decides, so the fit is deterministic: in each gap no insertion before
        an insertion, then for each true character one character before a pair before a
        skip.  The alignments' counts give a new estimate and the reads are aligned again
        (hard EM) until the counts — hence the estimate — stop changing, at most
        :data:`FIT_ROUNDS` rounds.

        Every estimate is a posterior mean under a Dirichlet prior centred on ``prior``'s
        value with weight ``strength`` (pseudo-observations):

        - the matrix row of ``t``: ``(times t was written as each read character +
          strength · prior row) / (times t was written as one character + strength)``;
        - ``p_skip``: ``(skips + strength · prior p_skip) / (true characters + strength)``;
        - a pair ``(t, w, p)`` of the prior: ``(times t was written w + strength · p) /
          (occurrences of t + strength)``;
        - ``p_insert``: ``(insertions + strength · prior p_insert) / (gaps + strength)``,
          ``L + 1`` gaps per read of an ``L``-character serial.

        A character seen rarely stays near the prior; one seen often follows the data.
        Counting only the best alignment explains a skip and an insertion a character or two
        apart as substitutions, so ``p_skip`` and ``p_insert`` come out somewhat low: by
        about a tenth from reads with ``p_skip`` 0.03 and ``p_insert`` 0.02
        (``tests/test_confusion.py::test_fit_recovers_known_indel_rates``).  The
        fit keeps the prior's pairs and only those: it re-estimates their probabilities and
        never invents a pair (a ``W`` written ``VV`` without a ``W``-as-``VV`` pair in the
        prior is counted as some other alignment, such as a ``V`` and an inserted ``V``).
        Should a true character's skip and pair estimates leave nothing for one written
        character (possible only with a small ``strength`` and reads that skip and pair a
        lot), its pair probabilities are scaled so that they share ``1 - p_skip`` with its
        one-character outputs in the proportion of their estimates; the note says so.  A read
        no alignment explains (more ``?`` than the serial has characters, or more extra
        characters than its gaps hold, one each) is left out of the counts, and the note
        names it.

        Raises:
            SerialError: a true serial that is not valid in ``scheme`` (the message names
                the pair, counting from 1).
            ReadError: a read that is empty, torn (``*``), or holds a character the model
                does not know (the message names the pair, counting from 1).
            ConfusionModelError: ``strength`` not positive and finite, or a prior for
                another alphabet or without columns for the scheme's aliases.
        """
        if not (strength > 0.0 and math.isfinite(strength)):
            raise ConfusionModelError(f"strength = {strength!r} must be positive and finite")
        if prior is None:
            prior = cls.default(scheme)
        prior.check_scheme(scheme)
        rows = {c: i for i, c in enumerate(prior.alphabet)}
        by_length: dict[int, tuple[list[int], list[list[int]], list[IntArray]]] = {}
        n_pairs = 0
        for n_pairs, (serial, text) in enumerate(pairs, start=1):
            try:
                true = scheme.validate(serial)
            except SerialError as error:
                raise SerialError(f"pair {n_pairs}: {error}") from error
            try:
                read = parse_read(text)
                if not read.complete:
                    raise ReadError(
                        f"read {text!r} is torn (*): only complete reads can be aligned "
                        "with their serial; mark unreadable characters with ?"
                    )
                columns = prior.read_indices("".join(read.segments))
            except ReadError as error:
                raise ReadError(f"pair {n_pairs}: {error}") from error
            numbers, trues, reads = by_length.setdefault(len(columns), ([], [], []))
            numbers.append(n_pairs)
            trues.append([rows[c] for c in true])
            reads.append(columns)
        groups = [
            _ReadGroup.of(prior, numbers, trues, reads, scheme.length)
            for _, (numbers, trues, reads) in sorted(by_length.items())
        ]
        model = prior
        previous: _FitCounts | None = None
        rounds = 0
        while True:
            rounds += 1
            counts = _FitCounts.zero(prior)
            table = model.output_log_table()
            table = np.vstack([table, np.full((1, table.shape[1]), -np.inf)])
            for group in groups:
                group.align(table, model.insertion_log_weight, counts)
            matrix, p_skip, p_insert, read_as_two, scaled = _estimate(prior, strength, counts)
            model = cls(
                prior.alphabet, prior.read_characters, matrix, "", p_skip, p_insert, read_as_two
            )
            if rounds >= FIT_ROUNDS or (previous is not None and counts.same_as(previous)):
                break
            previous = counts
        note = counts.describe(n_pairs, rounds, scaled) + (
            f" with strength {strength} towards: {prior.note}"
        )
        return cls(
            prior.alphabet,
            prior.read_characters,
            model.matrix,
            note,
            model.p_skip,
            model.p_insert,
            model.read_as_two,
        )

    # -- use -------------------------------------------------------------------------------
    def check_scheme(self, scheme: SerialScheme) -> None:
        """Raise :class:`ConfusionModelError` unless this model is for ``scheme``'s alphabet."""
        if self.alphabet != scheme.alphabet:
            raise ConfusionModelError(
                f"the model is for alphabet {self.alphabet!r}, the {scheme.name} scheme uses "
                f"{scheme.alphabet!r}"
            )
        missing = sorted(set(scheme.aliases or {}) - set(self.read_characters))
        if missing:
            raise ConfusionModelError(
                f"the model has no column for the {scheme.name} scheme's aliases {missing}"
            )

    def column(self, char: str) -> int:
        """Column of read character ``char`` (upper-cased when the alphabet has no lower case).

        Raises:
            ReadError: ``char`` is not a character this model knows.
        """
        key = char.upper() if self.alphabet == self.alphabet.upper() else char
        try:
            return self._column[key]
        except KeyError:
            raise ReadError(
                f"{char!r} is not a read character of this model ({self.read_characters!r})"
            ) from None

    def read_indices(self, text: str) -> IntArray:
        """Columns of the characters of ``text`` (separators dropped), as :meth:`fit`
        counts them.

        Raises:
            ReadError: a character the model does not know (``*`` included: split torn
                reads into segments first).
        """
        return np.array([self.column(c) for c in text.translate(_READ_SEPARATORS)], np.intp)

    def probability(self, read: str, true: str) -> float:
        """P(``read`` written | ``true`` on the tag).

        Raises:
            ReadError: ``read`` is not a read character of the model.
            ConfusionModelError: ``true`` is not in the alphabet.
        """
        row = self.alphabet.find(true)
        if row < 0 or len(true) != 1:
            raise ConfusionModelError(f"{true!r} is not in the model's alphabet")
        return float(self.matrix[row, self.column(read)])

    @property
    def pairs(self) -> tuple[tuple[str, str, float], ...]:
        """The characters written as two: ``(true, written, probability)``, sorted."""
        return self.read_as_two or ()

    @property
    def outputs(self) -> tuple[str, ...]:
        """Everything one true character may be written as: each read character (the
        matrix's columns, in order), :data:`SKIPPED` (nothing), then each pair of
        :attr:`pairs` (sorted, each once): the rows of :meth:`output_log_table`."""
        written = sorted({w for _, w, _ in self.pairs})
        return (*self.read_characters, SKIPPED, *written)

    def output_log_table(self) -> FloatArray:
        """log P(output | true), shape ``(len(outputs), len(alphabet))``, row by row
        :attr:`outputs`: a read character ``c`` —
        ``log((1 - p_skip - P(pair | t)) · matrix[t, c])``; a skip — ``log p_skip``; a pair —
        its probability, ``-inf`` for a true character never written so.  A fresh array."""
        alphabet = self.alphabet
        pair_mass = np.zeros(len(alphabet))
        outputs = self.outputs
        table = np.full((len(outputs), len(alphabet)), -np.inf)
        for true, written, probability in self.pairs:
            i = alphabet.index(true)
            pair_mass[i] += probability
            table[outputs.index(written), i] = math.log(probability)
        single = np.log(self.matrix.T) + np.log1p(-(self.p_skip + pair_mass))[None, :]
        table[: len(self.read_characters)] = single
        table[len(self.read_characters)] = math.log(self.p_skip)
        return table

    @property
    def insertion_log_weight(self) -> float:
        """log of one inserted character's weight in a read's alignment, relative to the
        same gap left empty: ``log(p_insert / legible) - log(1 - p_insert)``, ``legible``
        being the number of read characters other than ``?``."""
        legible = len(self.read_characters) - 1
        return math.log(self.p_insert / legible) - math.log1p(-self.p_insert)

    # -- files -----------------------------------------------------------------------------
    def to_json(self) -> str:
        """The model in its JSON file format, version :data:`FORMAT_VERSION` (see
        ``docs/matching.md``).  Floats are written by their ``repr``, so
        :meth:`from_json` gives back exactly this model."""
        document: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "note": self.note,
            "alphabet": self.alphabet,
            "read_characters": self.read_characters,
            "p_skip": self.p_skip,
            "p_insert": self.p_insert,
            "read_as_two": [
                {"true": true, "read": written, "probability": probability}
                for true, written, probability in self.pairs
            ],
            "matrix": [[float(p) for p in row] for row in self.matrix],
        }
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "<string>") -> ConfusionModel:
        """Parse the JSON file format; ``source`` names the input in messages.

        Reads the versions of :data:`READABLE_VERSIONS`.  Version 2 must hold ``p_skip``,
        ``p_insert`` (numbers) and ``read_as_two`` (a list of objects with ``true``,
        ``read`` — strings — and ``probability`` — a number).  Version 1 has no indel
        model and must hold none of these keys: the model gets :data:`DEFAULT_P_SKIP`,
        :data:`DEFAULT_P_INSERT` and the default pairs for its alphabet, and its note says
        so.

        Raises:
            ConfusionModelError: not JSON, not this format or a readable version, a missing
                or mistyped key, an indel key in a version 1 file, or values the model
                rejects (each message starts with ``source``).
        """
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfusionModelError(f"{source}: not JSON: {error}") from error
        if not isinstance(document, dict):
            raise ConfusionModelError(f"{source}: expected a JSON object")
        if document.get("format") != FORMAT_NAME:
            raise ConfusionModelError(
                f"{source}: 'format' is {document.get('format')!r}, expected {FORMAT_NAME!r}"
            )
        version = document.get("version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            readable = " and ".join(str(v) for v in READABLE_VERSIONS)
            raise ConfusionModelError(
                f"{source}: version {version!r} is not supported "
                f"(this taserlink reads versions {readable})"
            )
        for key, kind in (("alphabet", str), ("read_characters", str), ("matrix", list)):
            if not isinstance(document.get(key), kind):
                raise ConfusionModelError(f"{source}: {key!r} missing or not a {kind.__name__}")
        note = document.get("note", "")
        if not isinstance(note, str):
            raise ConfusionModelError(f"{source}: 'note' is not a string")
        matrix = document["matrix"]
        if not all(isinstance(row, list) and all(_is_number(p) for p in row) for row in matrix):
            raise ConfusionModelError(f"{source}: 'matrix' must be a list of lists of numbers")
        try:
            array = np.array(matrix, dtype=np.float64)
        except ValueError as error:
            raise ConfusionModelError(f"{source}: 'matrix' rows differ in length") from error
        indel_keys = ("p_skip", "p_insert", "read_as_two")
        if version == 1:
            present = [key for key in indel_keys if key in document]
            if present:
                raise ConfusionModelError(
                    f"{source}: a version 1 file has no {present[0]!r} (the indel model is "
                    f"version {FORMAT_VERSION}'s): give version {FORMAT_VERSION}"
                )
            default = (
                f"indel parameters are the defaults (p_skip={DEFAULT_P_SKIP}, "
                f"p_insert={DEFAULT_P_INSERT}, default pairs) because the file is version 1"
            )
            note = f"{note} [{default}]" if note else default
            p_skip, p_insert = DEFAULT_P_SKIP, DEFAULT_P_INSERT
            read_as_two: tuple[tuple[str, str, float], ...] | None = None
        else:
            p_skip, p_insert, read_as_two = _indels_from_document(document, source)
        try:
            return cls(
                document["alphabet"],
                document["read_characters"],
                array,
                note,
                p_skip,
                p_insert,
                read_as_two,
            )
        except ConfusionModelError as error:
            raise ConfusionModelError(f"{source}: {error}") from error

    def save(self, path: str | Path) -> None:
        """Write the model to ``path`` as JSON (UTF-8).

        Raises:
            ConfusionModelError: the file cannot be written.
        """
        try:
            Path(path).write_text(self.to_json(), encoding="utf-8")
        except OSError as error:
            raise ConfusionModelError(f"{path}: cannot write: {error}") from error

    @classmethod
    def load(cls, path: str | Path) -> ConfusionModel:
        """Read a model written by :meth:`save` (or by hand, in the same format).

        Raises:
            ConfusionModelError: the file cannot be read or is not a valid model.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfusionModelError(f"{path}: cannot read: {error}") from error
        return cls.from_json(text, str(path))


# -- files ---------------------------------------------------------------------------------
def _is_number(value: object) -> bool:
    """A JSON number (an int or a float, not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _indels_from_document(
    document: dict[str, Any], source: str
) -> tuple[float, float, tuple[tuple[str, str, float], ...]]:
    """``p_skip``, ``p_insert`` and ``read_as_two`` of a version 2 document, type-checked
    (their values are the model's to check).

    Raises:
        ConfusionModelError: a key missing or of the wrong type (the message starts with
            ``source``).
    """
    for key in ("p_skip", "p_insert"):
        if not _is_number(document.get(key)):
            raise ConfusionModelError(f"{source}: {key!r} missing or not a number")
    entries = document.get("read_as_two")
    if not isinstance(entries, list):
        raise ConfusionModelError(f"{source}: 'read_as_two' missing or not a list")
    pairs: list[tuple[str, str, float]] = []
    for k, entry in enumerate(entries):
        where = f"{source}: 'read_as_two' entry {k + 1}"
        if not isinstance(entry, dict):
            raise ConfusionModelError(
                f"{where} is not an object with 'true', 'read' and 'probability'"
            )
        for key, check, kind in (
            ("true", _is_string, "string"),
            ("read", _is_string, "string"),
            ("probability", _is_number, "number"),
        ):
            if not check(entry.get(key)):
                raise ConfusionModelError(f"{where}: {key!r} missing or not a {kind}")
        pairs.append((entry["true"], entry["read"], entry["probability"]))
    return document["p_skip"], document["p_insert"], tuple(pairs)


def _is_string(value: object) -> bool:
    return isinstance(value, str)


# -- fitting -------------------------------------------------------------------------------
_SINGLE, _PAIR, _SKIP = 0, 1, 2
"""The steps a true character takes in an alignment, in the order that wins ties."""


@dataclass
class _FitCounts:
    """What one round of alignments counted (reads no alignment explains aside)."""

    alphabet: str
    pairs: tuple[tuple[str, str, float], ...]
    outputs: tuple[str, ...]
    singles: FloatArray
    """``(alphabet, read characters)``: one-character outputs."""
    skips: FloatArray
    """``(alphabet,)``: skipped characters."""
    written: FloatArray
    """``(outputs + 1, alphabet)``: pair outputs, by row of the output table."""
    occurrences: FloatArray
    """``(alphabet,)``: true characters of the reads aligned."""
    insertions: int = 0
    gaps: int = 0
    reads: int = 0
    left_out: list[int] = field(default_factory=list)

    @classmethod
    def zero(cls, model: ConfusionModel) -> _FitCounts:
        size = len(model.alphabet)
        return cls(
            model.alphabet,
            model.pairs,
            model.outputs,
            np.zeros_like(model.matrix),
            np.zeros(size),
            np.zeros((len(model.outputs) + 1, size)),
            np.zeros(size),
        )

    def pair_count(self, true: str, written: str) -> float:
        return float(self.written[self.outputs.index(written), self.alphabet.index(true)])

    def same_as(self, other: _FitCounts) -> bool:
        return (
            self.insertions == other.insertions
            and np.array_equal(self.singles, other.singles)
            and np.array_equal(self.skips, other.skips)
            and np.array_equal(self.written, other.written)
        )

    def describe(self, given: int, rounds: int, scaled: Sequence[str]) -> str:
        """The note's account of the data: what was aligned and how."""
        two = ", ".join(f"{t}->{w} {self.pair_count(t, w):.0f}" for t, w, _ in self.pairs)
        parts = [
            f"{self.occurrences.sum():.0f} characters: {self.singles.sum():.0f} written as "
            f"one, {self.skips.sum():.0f} skipped, {self.written.sum():.0f} written as two"
            + (f" ({two})" if two else ""),
            f"{self.insertions} inserted in {self.gaps} gaps",
            f"aligned in {rounds} round{'s' if rounds != 1 else ''}",
        ]
        if self.left_out:
            shown = ", ".join(str(n) for n in sorted(self.left_out)[:10])
            more = ", …" if len(self.left_out) > 10 else ""
            parts.append(
                f"{len(self.left_out)} of {given} reads left out, no alignment explaining "
                f"them: pairs {shown}{more}"
            )
        if scaled:
            parts.append(f"pairs of {', '.join(scaled)} scaled down to leave room beside p_skip")
        return f"fitted from {self.reads} reads ({'; '.join(parts)})"


@dataclass(frozen=True)
class _ReadGroup:
    """Reads of one length, aligned together (numpy over the reads)."""

    numbers: IntArray
    """``(reads,)``: each read's pair number, counting from 1."""
    trues: IntArray
    """``(reads, L)``: rows of the true characters."""
    columns: IntArray
    """``(reads, n)``: columns of the read characters."""
    pair_rows: IntArray
    """``(reads, n - 1)``: row of the output table for the two read characters from each
    position on, ``-1`` (the appended impossible row) when they are no pair's."""
    insertable: npt.NDArray[np.bool_]
    """``(reads, n)``: read characters that may be inserted (legible ones)."""
    skip_row: int

    @classmethod
    def of(
        cls,
        model: ConfusionModel,
        numbers: list[int],
        trues: list[list[int]],
        reads: list[IntArray],
        length: int,
    ) -> _ReadGroup:
        columns = np.array(reads, dtype=np.intp).reshape(len(reads), -1)
        size = len(model.read_characters)
        lookup = np.full((size, size), -1, dtype=np.intp)
        for k, written in enumerate(model.outputs[size + 1 :]):
            lookup[model.column(written[0]), model.column(written[1])] = size + 1 + k
        return cls(
            np.array(numbers, dtype=np.intp),
            np.array(trues, dtype=np.intp).reshape(len(trues), length),
            columns,
            lookup[columns[:, :-1], columns[:, 1:]],
            columns != model.column(UNREADABLE),
            size,
        )

    def align(self, table: FloatArray, insert_weight: float, counts: _FitCounts) -> None:
        """Viterbi-align every read with its serial and add the best alignments' steps to
        ``counts``.  ``table`` is :meth:`ConfusionModel.output_log_table` with a row of
        ``-inf`` appended."""
        reads, length = self.trues.shape
        n = self.columns.shape[1]
        single = table[self.columns[:, None, :], self.trues[:, :, None]]  # (reads, L, n)
        pair = table[self.pair_rows[:, None, :], self.trues[:, :, None]]  # (reads, L, n - 1)
        skip = table[self.skip_row][self.trues]  # (reads, L)
        insert = np.where(self.insertable, insert_weight, -np.inf)  # (reads, n)
        inserted = np.zeros((length + 1, reads, n + 1), dtype=np.bool_)
        step = np.zeros((length, reads, n + 1), dtype=np.intp)
        # best[r, j]: the best alignment of the first i true characters with the first j
        # read characters, the gap before true character i not yet filled.
        best = np.full((reads, n + 1), -np.inf)
        best[:, 0] = 0.0
        candidates = np.empty((3, reads, n + 1))
        for i in range(length + 1):
            via = np.full_like(best, -np.inf)
            via[:, 1:] = best[:, :-1] + insert
            inserted[i] = via > best
            gap = np.maximum(best, via)
            if i == length:
                break
            candidates.fill(-np.inf)
            candidates[_SINGLE, :, 1:] = gap[:, :-1] + single[:, i]
            candidates[_PAIR, :, 2:] = gap[:, :-2] + pair[:, i]
            candidates[_SKIP] = gap + skip[:, i, None]
            step[i] = np.argmax(candidates, axis=0)
            best = candidates.max(axis=0)
        explained = np.isfinite(gap[:, n])
        counts.left_out.extend(int(k) for k in self.numbers[~explained])
        kept = np.flatnonzero(explained)
        counts.reads += len(kept)
        counts.gaps += len(kept) * (length + 1)
        np.add.at(counts.occurrences, self.trues[kept].ravel(), 1.0)
        j = np.full(len(kept), n, dtype=np.intp)
        for i in range(length, -1, -1):
            was_inserted = inserted[i, kept, j]
            counts.insertions += int(was_inserted.sum())
            j -= was_inserted
            if i == 0:
                break
            taken = step[i - 1, kept, j]
            true = self.trues[kept, i - 1]
            one, two, none = (taken == _SINGLE), (taken == _PAIR), (taken == _SKIP)
            np.add.at(counts.singles, (true[one], self.columns[kept[one], j[one] - 1]), 1.0)
            np.add.at(counts.written, (self.pair_rows[kept[two], j[two] - 2], true[two]), 1.0)
            np.add.at(counts.skips, true[none], 1.0)
            j -= one + 2 * two
        assert not j.any(), "an alignment must use every read character"


def _posterior(
    count: FloatArray | float, total: FloatArray | float, prior: FloatArray | float, strength: float
) -> FloatArray:
    """The Dirichlet posterior mean ``(count + strength · prior) / (total + strength)``;
    exactly ``prior`` where ``total`` is 0."""
    total = np.asarray(total, dtype=np.float64)
    mean = (np.asarray(count) + strength * np.asarray(prior)) / (total + strength)
    return np.where(total > 0, mean, prior)


def _estimate(
    prior: ConfusionModel, strength: float, counts: _FitCounts
) -> tuple[FloatArray, float, float, tuple[tuple[str, str, float], ...], list[str]]:
    """The model's parameters from one round's counts (see :meth:`ConfusionModel.fit`):
    matrix, ``p_skip``, ``p_insert``, pairs, and the true characters whose pairs were scaled
    down to leave room for one written character."""
    row_totals = counts.singles.sum(axis=1, keepdims=True)
    matrix = _posterior(counts.singles, row_totals, prior.matrix, strength)
    characters = float(counts.occurrences.sum())
    p_skip = float(_posterior(float(counts.skips.sum()), characters, prior.p_skip, strength))
    p_insert = float(_posterior(counts.insertions, counts.gaps, prior.p_insert, strength))
    alphabet = prior.alphabet
    estimates: dict[str, list[tuple[str, float]]] = {}
    for true, written, p in prior.pairs:
        i = alphabet.index(true)
        value = _posterior(counts.pair_count(true, written), counts.occurrences[i], p, strength)
        estimates.setdefault(true, []).append((written, float(value)))
    scaled: list[str] = []
    for true, entries in estimates.items():
        i = alphabet.index(true)
        paired = sum(p for _, p in entries)
        if p_skip + paired < 1.0:
            continue
        prior_single = 1.0 - prior.p_skip - sum(p for t, _, p in prior.pairs if t == true)
        single = float(_posterior(row_totals[i, 0], counts.occurrences[i], prior_single, strength))
        factor = (1.0 - p_skip) / (paired + single)
        estimates[true] = [(w, p * factor) for w, p in entries]
        scaled.append(repr(true))
    read_as_two = tuple((t, w, p) for t, entries in estimates.items() for w, p in entries)
    return matrix, p_skip, p_insert, read_as_two, scaled
