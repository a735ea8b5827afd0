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

Torn parts (``*``) are not characters and have no column: where a fragment sits in the
serial is the matcher's question, not this model's.
"""

from __future__ import annotations

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
from taserlink.forensics.serials import TORN, UNREADABLE, parse_read
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

__all__ = [
    "CONFUSABLE_GROUPS",
    "DEFAULT_P_CORRECT",
    "DEFAULT_P_CONFUSABLE",
    "DEFAULT_P_UNREADABLE",
    "DEFAULT_STRENGTH",
    "FORMAT_NAME",
    "FORMAT_VERSION",
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
DEFAULT_STRENGTH = 20.0
"""Default weight of the prior in :meth:`ConfusionModel.fit`, in pseudo-reads per true
character."""
ROW_SUM_TOLERANCE = 1e-6
"""How far a row of a loaded or given matrix may be from summing to 1."""
FORMAT_NAME = "taserlink-confusion-model"
FORMAT_VERSION = 1
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

    Raises:
        ConfusionModelError: duplicate characters, an alphabet character or ``?`` missing
            from ``read_characters``, ``*`` among them, a matrix of the wrong shape, an entry
            not strictly between 0 and 1, or a row whose sum is more than
            :data:`ROW_SUM_TOLERANCE` from 1.
    """

    alphabet: str
    read_characters: str
    matrix: FloatArray
    note: str = ""
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
    ) -> ConfusionModel:
        """The stated-assumption model for ``scheme``.

        A character present on the tag is written ``?`` with probability ``p_unreadable``.
        Otherwise (legible) it is read as itself with probability ``p_correct``, as one of
        its confusables (the other members of its ``groups`` that are read characters) with
        ``p_confusable`` shared equally, and as any other character with the rest shared
        equally.  A character without confusables spreads all of ``1 - p_correct``
        uniformly.

        Raises:
            ConfusionModelError: a probability outside (0, 1) or
                ``p_correct + p_confusable >= 1``.
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
        note = (
            f"default for the {scheme.name} scheme (stated assumptions): "
            f"p_correct={p_correct}, p_confusable={p_confusable}, "
            f"p_unreadable={p_unreadable}, groups={'/'.join(groups)}"
        )
        return cls(scheme.alphabet, read_characters, matrix, note)

    @classmethod
    def fit(
        cls,
        pairs: Iterable[tuple[str, str]],
        scheme: SerialScheme = CARTRIDGE_SCHEME,
        prior: ConfusionModel | None = None,
        strength: float = DEFAULT_STRENGTH,
    ) -> ConfusionModel:
        """Estimate the model from validation reads: ``(true serial, read)`` pairs.

        Each row is the posterior mean under a Dirichlet prior centred on ``prior``'s row
        (:meth:`default` for ``scheme`` when ``None``) with weight ``strength``:
        ``(counts + strength * prior_row) / (reads of that character + strength)``.
        A character seen rarely stays near the prior; one seen often follows the data.

        Reads are in the AFID read notation and must be complete (no ``*``): a torn
        fragment cannot be aligned with its serial for counting.

        Raises:
            SerialError: a true serial that is not valid in ``scheme``.
            ReadError: a read that is not in the notation, is torn, or does not have the
                scheme's length (the message names the pair, counting from 1).
            ConfusionModelError: ``strength`` not positive, or a prior for another alphabet
                or other read characters.
        """
        if not (strength > 0.0 and math.isfinite(strength)):
            raise ConfusionModelError(f"strength = {strength!r} must be positive and finite")
        if prior is None:
            prior = cls.default(scheme)
        prior.check_scheme(scheme)
        rows = {c: i for i, c in enumerate(scheme.alphabet)}
        true_index: list[int] = []
        read_index: list[int] = []
        n_pairs = 0
        for n_pairs, (serial, text) in enumerate(pairs, start=1):
            try:
                true = scheme.validate(serial)
            except SerialError as error:
                raise SerialError(f"pair {n_pairs}: {error}") from error
            try:
                read = parse_read(text, scheme)
                if not read.complete:
                    raise ReadError(
                        f"read {text!r} is torn (*): only complete reads can be aligned "
                        "with their serial; mark unreadable characters with ?"
                    )
                columns = prior.read_indices(read.segments[0])
            except ReadError as error:
                raise ReadError(f"pair {n_pairs}: {error}") from error
            true_index.extend(rows[c] for c in true)
            read_index.extend(int(j) for j in columns)
        counts = np.zeros_like(prior.matrix)
        np.add.at(
            counts, (np.array(true_index, dtype=np.intp), np.array(read_index, dtype=np.intp)), 1.0
        )
        matrix = (counts + strength * prior.matrix) / (counts.sum(axis=1, keepdims=True) + strength)
        note = (
            f"fitted from {n_pairs} reads ({len(true_index)} characters) with strength "
            f"{strength} towards: {prior.note}"
        )
        return cls(prior.alphabet, prior.read_characters, matrix, note)

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
        """Columns of the characters of ``text`` (separators dropped): the rows of
        :meth:`log_likelihood_table` a vectorised matcher gathers.

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

    def log_likelihood_table(self) -> FloatArray:
        """log P(read | true), shape ``(len(read_characters), len(alphabet))``: row ``j`` is
        read character ``read_characters[j]``, column ``i`` true ``alphabet[i]``.  Natural
        logarithms, all finite.  A fresh writable array."""
        return np.log(self.matrix.T)

    # -- files -----------------------------------------------------------------------------
    def to_json(self) -> str:
        """The model in its JSON file format (see ``docs/matching.md``)."""
        document: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "note": self.note,
            "alphabet": self.alphabet,
            "read_characters": self.read_characters,
            "matrix": [[float(p) for p in row] for row in self.matrix],
        }
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "<string>") -> ConfusionModel:
        """Parse the JSON file format; ``source`` names the input in messages.

        Raises:
            ConfusionModelError: not JSON, not this format or version, a missing or
                mistyped key, or a matrix the model rejects (each message starts with
                ``source``).
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
        if document.get("version") != FORMAT_VERSION:
            raise ConfusionModelError(
                f"{source}: version {document.get('version')!r} is not supported "
                f"(this taserlink reads version {FORMAT_VERSION})"
            )
        for key, kind in (("alphabet", str), ("read_characters", str), ("matrix", list)):
            if not isinstance(document.get(key), kind):
                raise ConfusionModelError(f"{source}: {key!r} missing or not a {kind.__name__}")
        note = document.get("note", "")
        if not isinstance(note, str):
            raise ConfusionModelError(f"{source}: 'note' is not a string")
        matrix = document["matrix"]
        if not all(
            isinstance(row, list)
            and all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in row)
            for row in matrix
        ):
            raise ConfusionModelError(f"{source}: 'matrix' must be a list of lists of numbers")
        try:
            array = np.array(matrix, dtype=np.float64)
        except ValueError as error:
            raise ConfusionModelError(f"{source}: 'matrix' rows differ in length") from error
        try:
            return cls(document["alphabet"], document["read_characters"], array, note)
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
