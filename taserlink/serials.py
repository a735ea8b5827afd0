"""Serial schemes: the one place that knows the serial alphabet and check character.

The default schemes follow the force's contract: Crockford base 32
(``0123456789ABCDEFGHJKMNPQRSTVWXYZ``), 10 characters = 1 type letter + 8 body characters +
1 check character, the check being Luhn mod 32 over the first 9 characters.  Cartridge
type letters are ``S`` standard (7.6 m), ``X`` extended (10.6 m), ``C`` close-quarters and
``T`` training (inert); device serials start with ``D``.

A :class:`SerialScheme` is a value, so a force holding legacy serials can describe any
fixed-length scheme of up to 16 characters over any alphabet.  The dataport format, the
firmware model and the forensic matcher all take their serial facts from here.

Long lists (a register of 10,000,000 serials) are normalised and checked at once with
:meth:`SerialScheme.normalize_all`, :meth:`SerialScheme.encode`,
:meth:`SerialScheme.first_problem` and :meth:`SerialScheme.first_duplicate` — numpy over
the whole list, the same rules as :meth:`SerialScheme.normalize` and
:meth:`SerialScheme.problem` (``tests/test_serials.py`` holds each pair together), about
0.25 µs a serial instead of 7.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from taserlink.errors import SerialError

__all__ = [
    "CROCKFORD32",
    "CROCKFORD_ALIASES",
    "SerialScheme",
    "CARTRIDGE_SCHEME",
    "DEVICE_SCHEME",
    "CARTRIDGE_TYPES",
    "MAX_SERIAL_LENGTH",
    "SERIAL_LENGTH",
]

CROCKFORD32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""The serial alphabet: Crockford base 32 (no I, L, O, U)."""

CROCKFORD_ALIASES: Mapping[str, str] = MappingProxyType({"I": "1", "L": "1", "O": "0", "U": "V"})
"""Characters outside the alphabet that input normalisation reads as alphabet characters."""

CARTRIDGE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "S": "standard (7.6 m)",
        "X": "extended (10.6 m)",
        "C": "close-quarters",
        "T": "training (inert)",
    }
)
"""Cartridge type letters and what they mean."""

MAX_SERIAL_LENGTH = 16
SERIAL_LENGTH = 10
"""Characters in a device or cartridge serial of the default schemes, and so the width (ASCII
bytes) of every serial field of the dataport format and the USB protocol."""
_SEPARATOR_CHARACTERS = "- \t"
_SEPARATORS = str.maketrans("", "", _SEPARATOR_CHARACTERS)
_BLOCK = 1 << 16
"""Serials :meth:`SerialScheme.encode` turns into code points at once (bounds its
temporaries to a few MiB)."""

CodeArray = npt.NDArray[np.signedinteger[Any]]
"""``(n, length)`` alphabet indices, one row a serial (see :meth:`SerialScheme.encode`)."""


@dataclass(frozen=True)
class SerialScheme:
    """A fixed-length serial scheme.

    Attributes:
        name: a label for messages ("cartridge", "device", a legacy scheme's name).
        alphabet: the characters a serial may contain, in check-digit code-point order.
        length: total characters, type letter and check character included (2..16).
        type_letters: allowed first characters and their meaning; empty means any.
        check: whether the last character is a Luhn mod ``len(alphabet)`` check character
            over the ones before it.
        aliases: characters read as another on input (applied after upper-casing); by
            default the Crockford aliases (I/L→1, O→0, U→V) for the Crockford alphabet and
            none for any other.
        group: display group size (``S4K7-P2M9-Q`` has groups of 4); 0 shows no groups.

    Raises:
        SerialError: when the scheme itself is inconsistent.
    """

    name: str
    alphabet: str = CROCKFORD32
    length: int = SERIAL_LENGTH
    type_letters: Mapping[str, str] = field(default_factory=lambda: CARTRIDGE_TYPES)
    check: bool = True
    aliases: Mapping[str, str] | None = None
    group: int = 4

    def __post_init__(self) -> None:
        if len(set(self.alphabet)) != len(self.alphabet) or len(self.alphabet) < 2:
            raise SerialError(f"{self.name} scheme: alphabet must have 2+ distinct characters")
        if not 2 <= self.length <= MAX_SERIAL_LENGTH:
            raise SerialError(f"{self.name} scheme: length must be 2..{MAX_SERIAL_LENGTH}")
        if any(c in _SEPARATOR_CHARACTERS for c in self.alphabet):
            raise SerialError(f"{self.name} scheme: separators may not be alphabet characters")
        if self.check and len(self.alphabet) % 2:
            raise SerialError(
                f"{self.name} scheme: a Luhn check needs an alphabet of even size "
                "(with an odd one some single misreads go undetected)"
            )
        bad = [t for t in self.type_letters if len(t) != 1 or t not in self.alphabet]
        if bad:
            raise SerialError(f"{self.name} scheme: type letters {bad} not in the alphabet")
        aliases = self.aliases
        if aliases is None:
            aliases = CROCKFORD_ALIASES if self.alphabet == CROCKFORD32 else {}
        wrong = [k for k, v in aliases.items() if k in self.alphabet or v not in self.alphabet]
        if wrong:
            raise SerialError(f"{self.name} scheme: aliases {wrong} clash with the alphabet")
        object.__setattr__(self, "type_letters", MappingProxyType(dict(self.type_letters)))
        object.__setattr__(self, "aliases", MappingProxyType(dict(aliases)))

    @property
    def case_insensitive(self) -> bool:
        """True when the alphabet has no lower-case letters, so input is upper-cased."""
        return self.alphabet == self.alphabet.upper()

    # -- values ------------------------------------------------------------------------
    def code_point(self, char: str) -> int:
        """Index of ``char`` in the alphabet; :class:`SerialError` when absent."""
        index = self.alphabet.find(char)
        if index < 0 or len(char) != 1:
            raise SerialError(f"{char!r} is not in the {self.name} serial alphabet")
        return index

    def check_character(self, prefix: str) -> str:
        """The Luhn mod N check character for ``prefix`` (the serial without its check)."""
        n = len(self.alphabet)
        total = 0
        factor = 2
        for char in reversed(prefix):
            addend = factor * self.code_point(char)
            total += addend // n + addend % n
            factor = 3 - factor
        return self.alphabet[(n - total % n) % n]

    def normalize(self, text: str) -> str:
        """Input as typed → canonical characters: separators (hyphen, space, tab) dropped,
        upper case (for an alphabet without lower-case letters), aliases read as what they
        stand for.  Never raises: whether the result is a serial is :meth:`problem`'s
        question.  The one rule every comparison of serials as typed or reported uses (the
        USB serial-number string against a requested serial or the identity's serial, a
        dock position named by serial)."""
        cleaned = text.translate(_SEPARATORS)
        if self.case_insensitive:
            cleaned = cleaned.upper()
        aliases = self.aliases or {}
        return "".join(aliases.get(c, c) for c in cleaned)

    def normalize_all(self, texts: Sequence[str]) -> list[str]:
        """``[self.normalize(t) for t in texts]``, but with three passes over the joined
        texts instead of three per text (about 0.08 µs a serial instead of 1.5)."""
        if not texts:
            return []
        if ord("\n") not in self._alias_table:
            joined = "\n".join(texts).translate(_SEPARATORS)
            if self.case_insensitive:
                joined = joined.upper()
            pieces = joined.translate(self._alias_table).split("\n")
            # Every character is mapped on its own and "\n" to itself, so the pieces are the
            # texts' normal forms exactly when no text holds or makes a "\n".
            if len(pieces) == len(texts):
                return pieces
        return [self.normalize(text) for text in texts]

    @cached_property
    def _alias_table(self) -> dict[int, str]:
        """:meth:`normalize`'s alias step as a :meth:`str.translate` table (a key of more
        than one character never matches a character, so it is left out)."""
        return {ord(k): v for k, v in (self.aliases or {}).items() if len(k) == 1}

    def problem(self, serial: str) -> str | None:
        """Why a *canonical* serial is invalid in this scheme, or ``None`` when valid."""
        if len(serial) != self.length:
            return f"has {len(serial)} characters, a {self.name} serial has {self.length}"
        for position, char in enumerate(serial, start=1):
            if char not in self.alphabet:
                return f"character {position} {char!r} is not in the alphabet"
        if self.type_letters and serial[0] not in self.type_letters:
            letters = "/".join(self.type_letters)
            return f"type letter {serial[0]!r} is not one of {letters}"
        if self.check:
            expected = self.check_character(serial[:-1])
            if serial[-1] != expected:
                return f"check character is {serial[-1]!r}, expected {expected!r}"
        return None

    # -- many serials at once -------------------------------------------------------------
    @cached_property
    def _lookup(self) -> CodeArray:
        """Code point → alphabet index, ``-1`` for any other; the last entry stands for
        every code point past the alphabet's largest."""
        table = np.full(max(map(ord, self.alphabet)) + 2, -1, self._code_type)
        table[[ord(c) for c in self.alphabet]] = np.arange(len(self.alphabet))
        return table

    @property
    def _code_type(self) -> type[np.signedinteger[Any]]:
        size = len(self.alphabet)
        return np.int8 if size <= 127 else np.int16 if size <= 32_767 else np.int32

    def encode(self, serials: Sequence[str]) -> tuple[CodeArray, npt.NDArray[np.bool_]]:
        """Canonical serials → their alphabet indices and whether each is valid.

        Returns:
            ``codes``, an ``(n, length)`` array of alphabet indices (the smallest signed
            integer type that holds them; ``-1`` for a character outside the alphabet, a row
            of ``0`` for a serial of the wrong length), and ``valid``, an ``(n,)`` array that
            is True exactly where :meth:`problem` returns ``None`` — the same four checks
            (length, alphabet, type letter, check character), vectorised.
        """
        n = len(serials)
        codes = np.zeros((n, self.length), self._code_type)
        valid = np.zeros(n, np.bool_)
        for start in range(0, n, _BLOCK):
            block = serials[start : start + _BLOCK]
            codes[start : start + len(block)], valid[start : start + len(block)] = (
                self._encode_block(block)
            )
        return codes, valid

    def _encode_block(self, serials: Sequence[str]) -> tuple[CodeArray, npt.NDArray[np.bool_]]:
        n, length = len(serials), self.length
        right = np.fromiter(map(len, serials), np.int64, count=n) == length
        if right.all():
            joined = "".join(serials)
        else:
            filler = self.alphabet[0] * length
            joined = "".join(s if len(s) == length else filler for s in serials)
        if joined.isascii():
            points = np.frombuffer(joined.encode("ascii"), np.uint8)
        else:
            points = np.frombuffer(joined.encode("utf-32-le"), np.uint32)
        lookup = self._lookup
        past = len(lookup) - 1  # the entry for every code point past the alphabet's
        if past < np.iinfo(points.dtype).max:
            points = np.minimum(points, points.dtype.type(past))
        codes = lookup[points].reshape(n, length)
        valid = right & (codes >= 0).all(axis=1)
        if self.type_letters:
            letter = np.zeros(len(self.alphabet), np.bool_)
            letter[[self.alphabet.index(t) for t in self.type_letters]] = True
            valid &= letter[codes[:, 0]]  # -1 reads the last entry: that row is invalid anyway
        if self.check:
            base = len(self.alphabet)
            total = np.zeros(n, np.int64)
            for j, position in enumerate(range(length - 2, -1, -1)):  # as check_character
                addend = (2 - j % 2) * codes[:, position].astype(np.int64)
                total += addend // base + addend % base
            valid &= codes[:, -1] == (base - total % base) % base
        return codes, valid

    def first_problem(self, serials: Sequence[str]) -> tuple[int, str] | None:
        """The first *canonical* serial :meth:`problem` refuses: its index (0-based) and
        :meth:`problem`'s message; ``None`` when all are valid.  Vectorised
        (:meth:`encode`): about 0.15 µs a serial.

        Raises:
            SerialError: never for bad serials (they are the answer); only if the
                vectorised check and :meth:`problem` disagree, which is a bug.
        """
        for start in range(0, len(serials), _BLOCK):
            block = serials[start : start + _BLOCK]
            valid = self._encode_block(block)[1]
            if not valid.all():
                index = start + int(np.argmin(valid))
                why = self.problem(serials[index])
                if why is None:  # pragma: no cover - held equal by tests/test_serials.py
                    raise SerialError(
                        f"{serials[index]!r}: the vectorised {self.name} check refuses it, "
                        "SerialScheme.problem accepts it (a bug)"
                    )
                return index, why
        return None

    def first_duplicate(self, codes: CodeArray | Sequence[CodeArray]) -> tuple[int, int] | None:
        """The first repeat in a list of valid serials given as :meth:`encode` codes (one
        array, or the arrays of consecutive blocks of the list): ``(i, j)``, ``j`` the
        smallest index whose serial stands earlier too and ``i`` its first place; ``None``
        when there is none.  Found by sorting with numpy — a 10,000,000-serial list in
        about half a second and 8 more bytes a serial — never a Python set."""
        blocks = [codes] if isinstance(codes, np.ndarray) else list(codes)
        if sum(len(block) for block in blocks) < 2:
            return None
        keys = self._keys(blocks)
        keys.sort()  # in place: the keys are made again for the rare list with a repeat
        if not (keys[1:] == keys[:-1]).any():
            return None
        keys = self._keys(blocks)
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        later = order[1:][ordered[1:] == ordered[:-1]]  # each repeat after its first place
        j = int(later.min())
        i = int(np.flatnonzero(keys == keys[j])[0])
        return i, j

    def _keys(self, blocks: Sequence[CodeArray]) -> npt.NDArray[Any]:
        """One value per serial that sorts and compares as the serial: the codes as a
        number in base ``len(alphabet)`` when that fits in 63 bits, else the row's bytes."""
        base = len(self.alphabet)
        if base**self.length > 2**63:
            rows = np.ascontiguousarray(np.concatenate(blocks))
            return rows.view(np.dtype((np.void, rows.dtype.itemsize * self.length))).ravel()
        keys = np.empty(sum(len(block) for block in blocks), np.int64)
        start = 0
        for block in blocks:
            for part in range(0, len(block), _BLOCK):
                rows = block[part : part + _BLOCK]
                key = np.zeros(len(rows), np.int64)
                for column in rows.T:
                    key *= base
                    key += column
                keys[start : start + len(rows)] = key
                start += len(rows)
        return keys

    def validate(self, text: str) -> str:
        """Normalise ``text`` and return the canonical serial.

        Raises:
            SerialError: naming the serial and what is wrong with it.
        """
        serial = self.normalize(text)
        why = self.problem(serial)
        if why is not None:
            raise SerialError(f"{text!r} is not a valid {self.name} serial: {why}")
        return serial

    def is_valid(self, text: str) -> bool:
        """True when :meth:`validate` would accept ``text``."""
        return self.problem(self.normalize(text)) is None

    @property
    def capacity(self) -> int:
        """How many distinct valid serials the scheme has (what :meth:`generate` can
        draw)."""
        body_length = self.length - 1 - (1 if self.check else 0)
        first = len(self.type_letters) if self.type_letters else len(self.alphabet)
        return first * math.prod([len(self.alphabet)] * body_length)

    def generate(self, rng: random.Random, type_letter: str | None = None) -> str:
        """A random valid serial (deterministic for a seeded ``rng``)."""
        if type_letter is None:
            letters = list(self.type_letters) or list(self.alphabet)
            type_letter = rng.choice(letters)
        elif type_letter not in (self.type_letters or self.alphabet) or len(type_letter) != 1:
            raise SerialError(f"{type_letter!r} is not a {self.name} type letter")
        body_length = self.length - 1 - (1 if self.check else 0)
        prefix = type_letter + "".join(rng.choice(self.alphabet) for _ in range(body_length))
        return prefix + self.check_character(prefix) if self.check else prefix

    def display(self, serial: str) -> str:
        """Grouped for people: ``S4K7P2M9QX`` → ``S4K7-P2M9-QX``."""
        if self.group <= 0:
            return serial
        return "-".join(serial[i : i + self.group] for i in range(0, len(serial), self.group))


CARTRIDGE_SCHEME = SerialScheme(name="cartridge")
"""Cartridge serials: type letter S/X/C/T, 8 body characters, Luhn mod 32 check."""

DEVICE_SCHEME = SerialScheme(name="device", type_letters={"D": "conducted energy device"})
"""Device serials: ``D``, 8 body characters, Luhn mod 32 check."""
