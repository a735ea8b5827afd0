"""Serial schemes: the one place that knows the serial alphabet and check character.

The default schemes follow the force's contract: Crockford base 32
(``0123456789ABCDEFGHJKMNPQRSTVWXYZ``), 10 characters = 1 type letter + 8 body characters +
1 check character, the check being Luhn mod 32 over the first 9 characters.  Cartridge
type letters are ``S`` standard (7.6 m), ``X`` extended (10.6 m), ``C`` close-quarters and
``T`` training (inert); device serials start with ``D``.

A :class:`SerialScheme` is a value, so a force holding legacy serials can describe any
fixed-length scheme of up to 16 characters over any alphabet.  The dataport format, the
firmware model and the forensic matcher all take their serial facts from here.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from taserlink.errors import SerialError

__all__ = [
    "CROCKFORD32",
    "CROCKFORD_ALIASES",
    "SerialScheme",
    "CARTRIDGE_SCHEME",
    "DEVICE_SCHEME",
    "CARTRIDGE_TYPES",
    "MAX_SERIAL_LENGTH",
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
_SEPARATOR_CHARACTERS = "- \t"
_SEPARATORS = str.maketrans("", "", _SEPARATOR_CHARACTERS)


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
    length: int = 10
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
        """Input as typed → canonical characters: separators dropped, upper case, aliases."""
        cleaned = text.translate(_SEPARATORS)
        if self.case_insensitive:
            cleaned = cleaned.upper()
        aliases = self.aliases or {}
        return "".join(aliases.get(c, c) for c in cleaned)

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
