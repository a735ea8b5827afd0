"""The AFID read notation: what examiners write for one recovered tag."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taserlink.errors import ReadError
from taserlink.forensics.serials import CARTRIDGE_SCHEME, AfidRead, SerialScheme, parse_read
from tests.strategies import cartridge_serials


@st.composite
def reads_of(draw: st.DrawFn, serial: str) -> str:
    """A read of ``serial``: some characters unreadable, maybe torn at either end or inside,
    with separators and lower case sprinkled in."""
    chars = [c if draw(st.integers(0, 3)) else "?" for c in serial]
    start = draw(st.integers(0, 3))
    end = len(chars) - draw(st.integers(0, 3))
    middle = draw(st.one_of(st.none(), st.integers(start + 1, max(start + 1, end - 2))))
    kept = chars[start:end]
    if middle is not None and start < middle < end - 1:
        cut = middle - start
        kept = [*kept[:cut], "*", *kept[cut + 1 :]]
    text = ("*" if start else "") + "".join(kept) + ("*" if end < len(chars) else "")
    if draw(st.booleans()):
        text = text.lower()
    if draw(st.booleans()) and len(text) > 4:
        text = text[:4] + "-" + text[4:]
    return text


@given(data=st.data(), serial=cartridge_serials())
def test_a_read_of_a_serial_fits_it(data: st.DataObject, serial: str) -> None:
    text = data.draw(reads_of(serial))
    try:
        read = parse_read(text)
    except ReadError as error:
        assert "no readable character" in str(error)  # all unreadable or torn away
        return
    assert read.fits(serial), (text, read)
    assert read.text == text
    torn = "*" in text
    assert read.complete == (not torn)
    assert read.readable == sum(c not in "?*-" for c in text)


def test_the_notation() -> None:
    full = parse_read("s4k7-p2m9-qb")
    assert full.segments == ("S4K7P2M9QB",) and full.complete
    assert parse_read("S4K7?2M9QB").fits("S4K7P2M9QB")
    assert not parse_read("S4K7?2M9QB").fits("S4K7P2M9QC")
    fragment = parse_read("*7P2M*")
    assert fragment.segments == ("7P2M",)
    assert not fragment.starts_at_start and not fragment.ends_at_end
    assert fragment.fits("S4K7P2M9QB") and not fragment.fits("S4K7P3M9QB")
    ends = parse_read("S4K**9QB")
    assert ends.segments == ("S4K", "9QB") and ends.fits("S4K7P2M9QB")
    assert not ends.fits("X4K7P2M9QB")
    # Characters outside the alphabet are kept as read: the confusion model decides.
    assert parse_read("S4K7P2M9OB").segments == ("S4K7P2M9OB",)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        (" - ", "empty"),
        ("S4K7P2M9Q", "has 9 characters"),
        ("S4K7P2M9QBX", "has 11 characters"),
        ("S4K7P2M9Q!", "'!' is not a character"),
        ("*?*", "no readable character"),
        ("**", "no readable character"),
        ("??????????", "no readable character"),
        ("S4K7P2M9QBX*", "more characters"),
    ],
)
def test_bad_reads_are_clear_errors(text: str, why: str) -> None:
    with pytest.raises(ReadError, match=why):
        parse_read(text)


def test_any_scheme() -> None:
    legacy = SerialScheme(name="legacy", alphabet="0123456789", length=6, type_letters={})
    serial = legacy.generate(random.Random(3))
    assert parse_read(serial[:2] + "??" + serial[4:], legacy).fits(serial)
    with pytest.raises(ReadError, match="a legacy serial has 6"):
        parse_read(serial + "1", legacy)
    assert parse_read("*" + serial[2:], legacy).fits(serial)
    assert CARTRIDGE_SCHEME.length == 10


@given(
    st.lists(st.text("ABC?", min_size=1, max_size=3), min_size=1, max_size=5),
    st.booleans(),
    st.booleans(),
)
def test_placement_count_is_the_number_of_placements_the_reference_enumerates(
    segments: list[str], torn_start: bool, torn_end: bool
) -> None:
    from taserlink.forensics.reference import placements

    text = ("*" if torn_start else "") + "*".join(segments) + ("*" if torn_end else "")
    scheme = SerialScheme("abc", alphabet="ABC0", length=12, type_letters={}, check=False)
    read = AfidRead(text, tuple(segments), not torn_start, not torn_end)
    assert read.placement_count(scheme.length) == len(placements(read, scheme.length))


def test_a_read_torn_into_too_many_pieces_is_refused() -> None:
    legacy = SerialScheme(
        "legacy", alphabet="0123456789ABCDEF", length=16, type_letters={}, check=False
    )
    with pytest.raises(ReadError, match="ways"):
        parse_read("*1*2*3*4*5*6*7*8*", legacy)
    worst = parse_read("*1*2*3*4*5*")  # the most a cartridge read can be torn
    assert worst.placement_count(10) == 252
