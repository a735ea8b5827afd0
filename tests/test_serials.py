"""Serial schemes: generation, the check character's guarantees, normalisation, messages."""

from __future__ import annotations

import itertools
import random
import re
from typing import Any
from unittest import mock

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from taserlink import serials as serials_module
from taserlink.errors import SerialError, TaserlinkError
from taserlink.format.events import SERIAL_FIELD
from taserlink.format.layout import IDENTITY
from taserlink.serials import (
    CARTRIDGE_SCHEME,
    CARTRIDGE_TYPES,
    CROCKFORD32,
    DEVICE_SCHEME,
    MAX_SERIAL_LENGTH,
    SERIAL_LENGTH,
    SerialScheme,
)
from tests.strategies import cartridge_serials, scheme_serials, seeded_random

SAFE_CHARACTERS = CROCKFORD32 + "#+=/&%ΔΣΩ"
"""Characters a custom alphabet may use without meeting the input rules (no separators, no
lower case, none of the default aliases' keys) — see the tests at the end for the others."""

DEFAULTS = [CARTRIDGE_SCHEME, DEVICE_SCHEME]


def _luhn_total(scheme: SerialScheme, serial: str) -> int:
    """The Luhn mod N verification sum of a whole serial, check character included.

    Written in the verification form (rightmost character undoubled, then alternating),
    independently of the scheme's generation form: a serial is valid iff this is 0 mod N.
    """
    n = len(scheme.alphabet)
    total = 0
    for position, char in enumerate(reversed(serial)):
        value = scheme.alphabet.index(char) * (2 if position % 2 else 1)
        total += sum(divmod(value, n))
    return total % n


def _check_holds(scheme: SerialScheme, serial: str) -> bool:
    return scheme.check_character(serial[:-1]) == serial[-1]


@st.composite
def alphabets(draw: st.DrawFn, even: bool | None = None) -> str:
    """Custom alphabets: 2+ distinct characters in any order (of even or odd size if asked)."""
    sizes = st.integers(2, len(SAFE_CHARACTERS))
    if even is not None:
        sizes = sizes.filter(lambda n: (n % 2 == 0) == even)
    return "".join(draw(st.permutations(SAFE_CHARACTERS))[: draw(sizes)])


@st.composite
def custom_schemes(
    draw: st.DrawFn, check: bool | None = None, even: bool | None = None
) -> SerialScheme:
    """Any valid scheme over a custom alphabet: length 2..16, with or without type letters."""
    check = draw(st.booleans()) if check is None else check
    alphabet = draw(alphabets(even=True if check else even))
    letters = draw(st.lists(st.sampled_from(alphabet), unique=True, max_size=4))
    return SerialScheme(
        name="legacy",
        alphabet=alphabet,
        length=draw(st.integers(2, MAX_SERIAL_LENGTH)),
        type_letters={letter: f"type {letter}" for letter in letters},
        check=check,
        group=draw(st.integers(0, 6)),
    )


# -- generation and validation ----------------------------------------------------------


@pytest.mark.parametrize("scheme", DEFAULTS, ids=lambda s: s.name)
@settings(max_examples=50)
@given(rng=seeded_random())
def test_generated_serials_validate(scheme: SerialScheme, rng: random.Random) -> None:
    serial = scheme.generate(rng)
    assert len(serial) == scheme.length == 10
    assert set(serial) <= set(CROCKFORD32)
    assert serial[0] in scheme.type_letters
    assert scheme.validate(serial) == serial
    assert scheme.is_valid(serial)
    assert _luhn_total(scheme, serial) == 0
    assert scheme.validate(scheme.display(serial)) == serial
    assert scheme.validate(serial.lower()) == serial


@pytest.mark.parametrize("letter", list(CARTRIDGE_TYPES))
@settings(max_examples=10)
@given(rng=seeded_random())
def test_generate_with_a_type_letter(letter: str, rng: random.Random) -> None:
    serial = CARTRIDGE_SCHEME.generate(rng, letter)
    assert serial[0] == letter
    assert CARTRIDGE_SCHEME.is_valid(serial)


def test_generate_rejects_a_foreign_type_letter() -> None:
    with pytest.raises(SerialError, match="'D'"):
        CARTRIDGE_SCHEME.generate(random.Random(1), "D")
    assert DEVICE_SCHEME.generate(random.Random(1))[0] == "D"


def test_generation_is_deterministic_for_a_seed() -> None:
    first = [CARTRIDGE_SCHEME.generate(random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1
    rng = random.Random(7)
    assert len({CARTRIDGE_SCHEME.generate(rng) for _ in range(50)}) == 50


def test_luhn_known_answer() -> None:
    """The classic Luhn example (7992739871 → check 3) on a decimal scheme."""
    decimal = SerialScheme(
        name="decimal", alphabet="0123456789", length=11, type_letters={}, aliases={}
    )
    assert decimal.check_character("7992739871") == "3"
    assert decimal.validate("79927398713") == "79927398713"
    assert not decimal.is_valid("79927398710")


# -- what the check character detects ---------------------------------------------------


@pytest.mark.parametrize("scheme", DEFAULTS, ids=lambda s: s.name)
@settings(max_examples=30)
@given(rng=seeded_random())
def test_every_single_substitution_is_detected(scheme: SerialScheme, rng: random.Random) -> None:
    serial = scheme.generate(rng)
    for position in range(len(serial)):
        for char in scheme.alphabet:
            if char == serial[position]:
                continue
            changed = serial[:position] + char + serial[position + 1 :]
            assert not _check_holds(scheme, changed), changed
            assert not scheme.is_valid(changed), changed


def _transposition_escapes(scheme: SerialScheme, serial: str, position: int) -> bool:
    swapped = serial[:position] + serial[position + 1] + serial[position] + serial[position + 2 :]
    return _check_holds(scheme, swapped)


@pytest.mark.parametrize("scheme", DEFAULTS, ids=lambda s: s.name)
@settings(max_examples=30)
@given(rng=seeded_random())
def test_adjacent_transpositions_escape_only_for_the_first_and_last_characters(
    scheme: SerialScheme, rng: random.Random
) -> None:
    """Luhn mod N misses exactly one transposition: the alphabet's first and last characters
    (``0`` and ``Z`` here, as ``0``/``9`` in decimal Luhn), wherever they stand."""
    serial = scheme.generate(rng)
    blind_spot = {scheme.alphabet[0], scheme.alphabet[-1]}
    for position in range(len(serial) - 1):
        pair = {serial[position], serial[position + 1]}
        if len(pair) == 2:
            assert _transposition_escapes(scheme, serial, position) == (pair == blind_spot)


@pytest.mark.parametrize("position", range(CARTRIDGE_SCHEME.length - 1))
def test_every_transposition_of_every_pair(position: int) -> None:
    """Exhaustive: every ordered pair of distinct characters at every adjacent position,
    the check character included; only the ``0``/``Z`` pair escapes."""
    scheme = CARTRIDGE_SCHEME
    alphabet = scheme.alphabet
    base = list("S4K7P2M9Q")
    escaped = set()
    for a in alphabet:
        for b in alphabet:
            if a == b:
                continue
            prefix = base.copy()
            if position + 1 < len(prefix):
                prefix[position : position + 2] = [a, b]
            else:  # (last body character, check character): pick the character before
                prefix[position] = a  # so that the check character comes out as b
                head = "".join(prefix[: position - 1])
                prefix[position - 1] = next(
                    c for c in alphabet if scheme.check_character(head + c + a) == b
                )
            serial = "".join(prefix) + scheme.check_character("".join(prefix))
            assert serial[position : position + 2] == a + b
            if _transposition_escapes(scheme, serial, position):
                escaped.add(frozenset((a, b)))
    assert escaped == {frozenset("0Z")}


def test_the_blind_spot_is_real() -> None:
    scheme = CARTRIDGE_SCHEME
    prefix = "S0Z000000"
    serial = prefix + scheme.check_character(prefix)
    swapped = "SZ0000000" + serial[-1]
    assert scheme.is_valid(serial) and scheme.is_valid(swapped)


@settings(max_examples=40)
@given(scheme=custom_schemes(check=True, even=True), rng=seeded_random())
def test_custom_even_alphabets_detect_substitutions_and_all_but_one_transposition(
    scheme: SerialScheme, rng: random.Random
) -> None:
    serial = scheme.generate(rng)
    assert scheme.validate(serial) == serial
    assert _luhn_total(scheme, serial) == 0
    for position in range(len(serial)):
        for char in scheme.alphabet:
            if char != serial[position]:
                changed = serial[:position] + char + serial[position + 1 :]
                assert not _check_holds(scheme, changed)
    blind_spot = {scheme.alphabet[0], scheme.alphabet[-1]}
    for position in range(len(serial) - 1):
        pair = {serial[position], serial[position + 1]}
        if len(pair) == 2:
            assert _transposition_escapes(scheme, serial, position) == (pair == blind_spot)


@pytest.mark.parametrize("size", [3, 5, 31])
def test_custom_odd_alphabets_cannot_carry_a_luhn_check(size: int) -> None:
    """Luhn mod N misses some single substitutions when N is odd, so such schemes are refused."""
    with pytest.raises(SerialError, match="even size"):
        SerialScheme(name="odd", alphabet=SAFE_CHARACTERS[:size], length=4, type_letters={})
    unchecked = SerialScheme(
        name="odd", alphabet=SAFE_CHARACTERS[:size], length=4, type_letters={}, check=False
    )
    assert unchecked.is_valid(unchecked.alphabet[1] * 4)


# -- normalisation ----------------------------------------------------------------------


@st.composite
def as_typed(draw: st.DrawFn, serial: str) -> str:
    """``serial`` as someone might type it: any case, separators, confusable letters."""
    out = []
    for char in serial:
        choices = [char, char.lower()]
        choices += {"1": ["I", "i", "L", "l"], "0": ["O", "o"], "V": ["U", "u"]}.get(char, [])
        out.append(draw(st.sampled_from(choices)))
        out.append(draw(st.sampled_from(["", "", "", "-", " ", "\t", " - "])))
    return draw(st.sampled_from(["", " ", "-"])) + "".join(out)


@settings(max_examples=60)
@given(data=st.data(), serial=cartridge_serials())
def test_typed_forms_normalise_to_the_serial(data: st.DataObject, serial: str) -> None:
    typed = data.draw(as_typed(serial))
    assert CARTRIDGE_SCHEME.normalize(typed) == serial
    assert CARTRIDGE_SCHEME.validate(typed) == serial
    assert CARTRIDGE_SCHEME.is_valid(typed)


def test_normalisation_rules() -> None:
    normalize = CARTRIDGE_SCHEME.normalize
    assert normalize("s4k7-p2m9 q\tx") == "S4K7P2M9QX"
    assert normalize("IiLl") == "1111"
    assert normalize("Oo") == "00"
    assert normalize("Uu") == "VV"
    assert normalize("") == ""
    assert CARTRIDGE_SCHEME.display("S4K7P2M9QX") == "S4K7-P2M9-QX"


def _separators_and_case_only(serial: str) -> str:
    """The rule the device host (USB enumeration, download) and the dock's fault script
    used before they took the scheme's :meth:`~SerialScheme.normalize`: hyphens and spaces
    dropped, upper case, nothing else."""
    return serial.replace("-", "").replace(" ", "").upper()


@st.composite
def displayed(draw: st.DrawFn, serial: str) -> str:
    """``serial`` as a device or a person shows it: any case, hyphens and spaces anywhere."""
    out = []
    for char in serial:
        out.append(draw(st.sampled_from([char, char.lower()])))
        out.append(draw(st.sampled_from(["", "", "-", " ", " - "])))
    return draw(st.sampled_from(["", " ", "-"])) + "".join(out)


@settings(max_examples=80)
@given(data=st.data(), scheme=st.sampled_from(DEFAULTS), rng=seeded_random())
def test_normalize_agrees_with_the_separator_rule_on_valid_serials(
    data: st.DataObject, scheme: SerialScheme, rng: random.Random
) -> None:
    serial = scheme.generate(rng)
    shown = data.draw(displayed(serial))
    assert scheme.normalize(shown) == _separators_and_case_only(shown) == serial


def test_normalize_also_reads_tabs_and_aliases_where_the_separator_rule_did_not() -> None:
    """The two differences from the old rule: a tab is a separator, and I/L, O, U are read
    as 1, 0, V (the contract's input rule), so a serial typed with them still matches."""
    serial = DEVICE_SCHEME.generate(random.Random(7))
    typed = "\t".join([serial[:5], serial[5:]])
    assert DEVICE_SCHEME.normalize(typed) == serial
    assert _separators_and_case_only(typed) != serial
    aliased = "DO1L" + serial[4:]
    assert DEVICE_SCHEME.normalize(aliased) == "D011" + serial[4:]
    assert _separators_and_case_only(aliased) == aliased


def test_format_serial_fields_are_as_wide_as_the_default_schemes() -> None:
    """The dataport format stores device and cartridge serials in fields SERIAL_LENGTH
    ASCII bytes wide: exactly a serial of either default scheme."""
    assert DEVICE_SCHEME.length == CARTRIDGE_SCHEME.length == SERIAL_LENGTH == 10
    serial_field = next(c for c in IDENTITY.subcons if c.name == "serial")
    assert serial_field.sizeof() == SERIAL_FIELD.sizeof() == SERIAL_LENGTH


# -- messages ---------------------------------------------------------------------------


@settings(max_examples=20)
@given(serial=cartridge_serials(), cut=st.integers(0, 9), extra=st.text("0123456789", min_size=1))
def test_wrong_length_message(serial: str, cut: int, extra: str) -> None:
    for wrong in (serial[:cut], serial + extra):
        with pytest.raises(SerialError) as caught:
            CARTRIDGE_SCHEME.validate(wrong)
        message = str(caught.value)
        assert repr(wrong) in message
        assert f"has {len(wrong)} characters" in message
        assert "cartridge serial has 10" in message


@settings(max_examples=30)
@given(serial=cartridge_serials(), position=st.integers(1, 9), char=st.sampled_from("#!*?ÄЖ"))
def test_alphabet_message_names_the_position(serial: str, position: int, char: str) -> None:
    wrong = serial[: position - 1] + char + serial[position:]
    with pytest.raises(SerialError, match=re.escape(f"character {position} {char!r} is not in")):
        CARTRIDGE_SCHEME.validate(wrong)


@settings(max_examples=30)
@given(rng=seeded_random(), letter=st.sampled_from(sorted(set(CROCKFORD32) - set("SXCT"))))
def test_type_letter_message(rng: random.Random, letter: str) -> None:
    body = CARTRIDGE_SCHEME.generate(rng)[1:-1]
    prefix = letter + body
    wrong = prefix + CARTRIDGE_SCHEME.check_character(prefix)  # a correct check character
    with pytest.raises(SerialError, match=f"type letter {letter!r} is not one of S/X/C/T"):
        CARTRIDGE_SCHEME.validate(wrong)


@settings(max_examples=30)
@given(serial=cartridge_serials(), char=st.sampled_from(CROCKFORD32))
def test_check_message_names_the_expected_character(serial: str, char: str) -> None:
    assume(char != serial[-1])
    wrong = serial[:-1] + char
    with pytest.raises(SerialError) as caught:
        CARTRIDGE_SCHEME.validate(wrong)
    assert f"check character is {char!r}, expected {serial[-1]!r}" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TaserlinkError)


def test_checks_are_reported_in_order() -> None:
    """Length before alphabet before type letter before check."""
    assert "characters" in (CARTRIDGE_SCHEME.problem("A#") or "")
    assert "alphabet" in (CARTRIDGE_SCHEME.problem("A#00000000") or "")
    assert "type letter" in (CARTRIDGE_SCHEME.problem("A000000000") or "")
    assert "check character" in (CARTRIDGE_SCHEME.problem("S000000001") or "")


# -- custom schemes ---------------------------------------------------------------------


@settings(max_examples=80)
@given(scheme=custom_schemes(), rng=seeded_random())
def test_custom_schemes_generate_valid_serials(scheme: SerialScheme, rng: random.Random) -> None:
    serial = scheme.generate(rng)
    assert len(serial) == scheme.length
    assert set(serial) <= set(scheme.alphabet)
    if scheme.type_letters:
        assert serial[0] in scheme.type_letters
    assert scheme.validate(serial) == serial
    assert scheme.validate(scheme.display(serial)) == serial
    if scheme.check:
        assert _luhn_total(scheme, serial) == 0


@settings(max_examples=60)
@given(scheme=custom_schemes(check=False), data=st.data())
def test_without_a_check_any_string_of_the_alphabet_is_valid(
    scheme: SerialScheme, data: st.DataObject
) -> None:
    first = data.draw(st.sampled_from(sorted(scheme.type_letters) or list(scheme.alphabet)))
    rest = data.draw(
        st.text(
            st.sampled_from(scheme.alphabet), min_size=scheme.length - 1, max_size=scheme.length - 1
        )
    )
    assert scheme.validate(first + rest) == first + rest
    with pytest.raises(SerialError):
        scheme.validate(first + rest + first)  # one character too many


SHORT = SerialScheme(name="short", length=4, type_letters={}, group=0)


@given(scheme_serials(SHORT))
@settings(max_examples=20)
def test_scheme_serials_strategy_is_valid(serial: str) -> None:
    """The shared strategy (tests.strategies) gives valid serials of the scheme it is given."""
    assert SHORT.is_valid(serial)
    assert SHORT.display(serial) == serial
    assert len(serial) == 4


@given(scheme_serials(DEVICE_SCHEME))
@settings(max_examples=20)
def test_device_serials_strategy(serial: str) -> None:
    assert DEVICE_SCHEME.validate(serial) == serial
    assert not CARTRIDGE_SCHEME.is_valid(serial)  # D is not a cartridge type


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alphabet": "AAB", "type_letters": {}}, "distinct"),
        ({"alphabet": "A", "type_letters": {}}, "2\\+ distinct"),
        ({"alphabet": "", "type_letters": {}}, "alphabet"),
        ({"length": 1}, "length must be 2..16"),
        ({"length": 0}, "length must be 2..16"),
        ({"length": 17}, "length must be 2..16"),
        ({"type_letters": {"I": "not in Crockford"}}, "type letters \\['I'\\]"),
        ({"alphabet": "0123456789"}, "not in the alphabet"),  # default S/X/C/T letters
    ],
)
def test_invalid_schemes_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(SerialError, match=match):
        SerialScheme(name="bad", **kwargs)


@pytest.mark.parametrize("length", [2, MAX_SERIAL_LENGTH])
def test_length_bounds_are_allowed(length: int) -> None:
    scheme = SerialScheme(name="edge", length=length, type_letters={})
    serial = scheme.generate(random.Random(length))
    assert len(serial) == length and scheme.is_valid(serial)


# -- custom alphabets meet the input rules --------------------------------------------


def test_alphabet_containing_alias_letters() -> None:
    scheme = SerialScheme(name="legacy", alphabet="0123456789ABCDEFGHIJ", length=6, type_letters={})
    prefix = "IIIII"
    assert scheme.validate(
        prefix + scheme.check_character(prefix)
    ) == prefix + scheme.check_character(prefix)


def test_lower_case_alphabet() -> None:
    scheme = SerialScheme(name="legacy", alphabet="abcdef", length=4, type_letters={}, aliases={})
    assert scheme.is_valid("abca"[:3] + scheme.check_character("abc"))


def test_separator_in_alphabet_is_rejected() -> None:
    with pytest.raises(SerialError):
        SerialScheme(name="legacy", alphabet="AB-C", length=4, type_letters={})


def test_generate_rejects_a_type_letter_outside_the_alphabet() -> None:
    scheme = SerialScheme(name="legacy", length=4, type_letters={}, check=False)
    with pytest.raises(SerialError):
        scheme.generate(random.Random(1), "#")


# -- many serials at once: the vectorised checks agree with the scalar ones -------------

HEX_SCHEME = SerialScheme(
    name="hex",
    alphabet="0123456789ABCDEF",
    length=12,
    type_letters={"A": "a", "F": "f"},
    check=False,
)
"""Hexadecimal without a check character: only the type letter and the length tell."""
ODD_SCHEME = SerialScheme(name="odd", alphabet="ΔΣΩ#+=/", length=3, type_letters={}, check=False)
"""A short scheme over an odd, non-ASCII alphabet without a check (code points past 255)."""
LONG_SCHEME = SerialScheme(name="long", length=MAX_SERIAL_LENGTH, type_letters={"A": "a"})
"""32¹⁶ serials: too many to number in 63 bits, so duplicates are found by their bytes."""
LOWER_SCHEME = SerialScheme(
    name="lower", alphabet="abcdefgh", length=5, type_letters={"a": "a", "b": "b"}, aliases={}
)
"""Lower case: input is not upper-cased."""
NEWLINE_ALIAS = SerialScheme(name="nl", length=4, type_letters={}, aliases={"\n": "A", "U": "V"})
"""An alias for a line break: normalize_all cannot join texts with line breaks."""
MANY_SCHEMES = [
    CARTRIDGE_SCHEME,
    DEVICE_SCHEME,
    HEX_SCHEME,
    ODD_SCHEME,
    LONG_SCHEME,
    LOWER_SCHEME,
    NEWLINE_ALIAS,
]
_STRANGERS = "-x\x00\n\u00e9\u0394\u00df\U0001f600S0DIlOu"
"""Characters a mutation may bring in: outside most alphabets, lower case, aliases, a
character whose upper case is two, one past the Basic Multilingual Plane."""


@st.composite
def serial_or_mutant(draw: st.DrawFn, scheme: SerialScheme) -> str:
    """A valid serial of ``scheme``, or one changed a little: a character replaced, dropped,
    added or two swapped, another type letter with a right check character; or any short
    text."""
    serial = scheme.generate(draw(seeded_random()))
    kind = draw(st.sampled_from(["valid", "replace", "drop", "add", "swap", "retype", "text"]))
    characters = st.sampled_from(scheme.alphabet + _STRANGERS)
    at = draw(st.integers(0, len(serial) - 1))
    if kind == "retype":  # another first character, the check made right for it
        prefix = draw(st.sampled_from(scheme.alphabet)) + serial[1 : len(serial) - scheme.check]
        return prefix + (scheme.check_character(prefix) if scheme.check else "")
    if kind == "replace":
        return serial[:at] + draw(characters) + serial[at + 1 :]
    if kind == "drop":
        return serial[:at] + serial[at + 1 :]
    if kind == "add":
        return serial[:at] + draw(characters) + serial[at:]
    if kind == "swap" and at + 1 < len(serial):
        return serial[:at] + serial[at + 1] + serial[at] + serial[at + 2 :]
    if kind == "text":
        return draw(st.text(characters, max_size=MAX_SERIAL_LENGTH + 2))
    return serial


@st.composite
def scheme_and_lists(draw: st.DrawFn) -> tuple[SerialScheme, list[str]]:
    scheme = draw(st.sampled_from(MANY_SCHEMES))
    return scheme, draw(st.lists(serial_or_mutant(scheme), max_size=12))


@settings(max_examples=400)
@given(drawn=scheme_and_lists(), block=st.sampled_from([1, 2, 5, 1 << 16]))
def test_encode_and_first_problem_agree_with_problem(
    drawn: tuple[SerialScheme, list[str]], block: int
) -> None:
    scheme, serials = drawn
    with mock.patch.object(serials_module, "_BLOCK", block):
        codes, valid = scheme.encode(serials)
        found = scheme.first_problem(serials)
    problems = [scheme.problem(s) for s in serials]
    assert valid.tolist() == [why is None for why in problems]
    expected = next(((i, why) for i, why in enumerate(problems) if why is not None), None)
    assert found == expected
    assert codes.shape == (len(serials), scheme.length)
    for serial, row, ok in zip(serials, codes.tolist(), valid, strict=True):
        if ok:  # a valid serial's codes are its characters' places in the alphabet
            assert "".join(scheme.alphabet[c] for c in row) == serial


@pytest.mark.parametrize("scheme", MANY_SCHEMES, ids=lambda s: s.name)
def test_every_single_substitution_is_found_by_encode(scheme: SerialScheme) -> None:
    """Exhaustive for one serial: each position, each character of the alphabet and a
    stranger; the vectorised check must refuse exactly what problem() refuses."""
    serial = scheme.generate(random.Random(7))
    variants = [
        serial[:at] + c + serial[at + 1 :]
        for at in range(len(serial))
        for c in scheme.alphabet + "\x00Iß"
    ]
    assert scheme.encode(variants)[1].tolist() == [scheme.problem(v) is None for v in variants]


@settings(max_examples=300)
@given(data=st.data(), scheme=st.sampled_from(MANY_SCHEMES))
def test_normalize_all_is_normalize_of_each(data: st.DataObject, scheme: SerialScheme) -> None:
    pieces = st.sampled_from([*scheme.alphabet, *_STRANGERS, " ", "\t", "-", "q", "ﬁ"])
    texts = data.draw(st.lists(st.text(pieces, max_size=10), max_size=8))
    assert scheme.normalize_all(texts) == [scheme.normalize(t) for t in texts]


def _first_repeat(serials: list[str]) -> tuple[int, int] | None:
    for j, serial in enumerate(serials):
        if serial in serials[:j]:
            return serials.index(serial), j
    return None


@settings(max_examples=300)
@given(
    scheme=st.sampled_from([CARTRIDGE_SCHEME, HEX_SCHEME, ODD_SCHEME, LONG_SCHEME, LOWER_SCHEME]),
    picks=st.lists(st.integers(0, 5), max_size=14),
    cuts=st.lists(st.integers(0, 14), max_size=3),
)
def test_first_duplicate_is_the_first_repeat(
    scheme: SerialScheme, picks: list[int], cuts: list[int]
) -> None:
    """From a pool of six serials, so repeats are common; given whole or in blocks."""
    pool = [scheme.generate(random.Random(n)) for n in range(6)]
    serials = [pool[p] for p in picks]
    codes, valid = scheme.encode(serials)
    assert valid.all()
    bounds = [0, *sorted(c for c in cuts if c <= len(serials)), len(serials)]
    blocks = [codes[a:b] for a, b in itertools.pairwise(bounds)]
    expected = _first_repeat(serials)
    assert scheme.first_duplicate(codes) == expected
    assert scheme.first_duplicate(blocks) == expected
    if expected is not None:
        earlier, later = expected
        assert serials[earlier] == serials[later] and earlier < later


def test_many_serials_at_once_on_an_empty_list() -> None:
    codes, valid = CARTRIDGE_SCHEME.encode([])
    assert codes.shape == (0, 10) and valid.shape == (0,)
    assert CARTRIDGE_SCHEME.first_problem([]) is None
    assert CARTRIDGE_SCHEME.first_duplicate(codes) is None
    assert CARTRIDGE_SCHEME.first_duplicate([]) is None
    assert CARTRIDGE_SCHEME.normalize_all([]) == []
