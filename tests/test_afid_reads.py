"""The AFID read notation: what examiners write for one recovered tag."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from taserlink.errors import ReadError
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.reads import AfidRead, parse_read
from taserlink.forensics.reference import alignments
from taserlink.forensics.scoring import MAX_ALIGNMENTS, Alignment
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme
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
    read = parse_read(text)  # kept even when all unreadable or torn away
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
        ("S4K7P2M9Q!", "'!' is not a character"),
        ("*7P2#*", "'#' is not a character"),
        ("S4K7_P2M9QB", "'_' is not a character"),
    ],
)
def test_bad_reads_are_clear_errors(text: str, why: str) -> None:
    with pytest.raises(ReadError, match=why):
        parse_read(text)


@pytest.mark.parametrize(
    ("text", "segments", "complete", "length", "readable"),
    [
        ("S4K7P2M9Q", ("S4K7P2M9Q",), True, 9, 9),  # a character skipped
        ("S4K7P2M9QBX", ("S4K7P2M9QBX",), True, 11, 11),  # one too many
        ("S4K7-VVP2-M9Q", ("S4K7VVP2M9Q",), True, 11, 11),  # S4K7WP2M9Q, W written VV
        ("S4K7", ("S4K7",), True, 4, 4),  # far too short: kept, the matcher does not score it
        ("S4K7P2M9QBX*", ("S4K7P2M9QBX",), False, 11, 11),
        ("??????????", ("??????????",), True, 10, 0),
        ("*?*", ("?",), False, 1, 0),
        ("*???-?*", ("????",), False, 4, 0),
        ("**", (), False, 0, 0),
        ("*", (), False, 0, 0),
    ],
)
def test_reads_of_any_length_or_none_readable_are_kept(
    text: str, segments: tuple[str, ...], complete: bool, length: int, readable: int
) -> None:
    read = parse_read(text)
    assert (read.segments, read.complete, read.length, read.readable) == (
        segments,
        complete,
        length,
        readable,
    )


def test_any_scheme() -> None:
    legacy = SerialScheme(name="legacy", alphabet="0123456789", length=6, type_letters={})
    serial = legacy.generate(random.Random(3))
    assert parse_read(serial[:2] + "??" + serial[4:]).fits(serial)
    longer = parse_read(serial + "1")  # one too many: kept, for the matcher to explain
    assert longer.complete and longer.length == 7 and not longer.fits(serial)
    assert parse_read("*" + serial[2:]).fits(serial)
    assert CARTRIDGE_SCHEME.length == 10


MODEL = ConfusionModel.default(CARTRIDGE_SCHEME)


@given(
    st.lists(st.text("ABC?", min_size=1, max_size=3), min_size=1, max_size=5),
    st.booleans(),
    st.booleans(),
)
def test_a_torn_reads_alignments_are_its_placements(
    segments: list[str], torn_start: bool, torn_end: bool
) -> None:
    """A torn read of at most a serial's length has one alignment per placement (none
    beyond MAX_ALIGNMENTS), each equally likely, with no skip, pair or insertion."""
    assume(torn_start or torn_end or len(segments) > 1)
    text = ("*" if torn_start else "") + "*".join(segments) + ("*" if torn_end else "")
    read = AfidRead(text, tuple(segments), not torn_start, not torn_end)
    assume(read.length <= 12)  # more characters than a serial: insertions, not placements
    assert not read.complete
    count = read.placement_count(12)
    found = alignments(read, 12, MODEL)
    if count > MAX_ALIGNMENTS:
        assert found is None
        return
    assert found is not None and len(found) == count
    assert len({a.key for a in found}) == count
    for a in found:
        assert a.events == 0 and not a.inserted
        assert "".join(o for _, o in a.covered) == "".join(segments)
        assert a.log_weight == pytest.approx(-math.log(count))


def _written(a: Alignment, length: int) -> str:
    """The read an alignment writes: inserted characters before their position, then each
    position's output."""
    parts = [c for g, c in a.inserted if g == length]
    for p, o in reversed(a.covered):
        parts[:0] = [*[c for g, c in a.inserted if g == p], o]
    return "".join(parts)


def test_a_complete_read_one_short_has_one_skip_at_each_position() -> None:
    serial = CARTRIDGE_SCHEME.generate(random.Random(7))
    text = serial[:4] + serial[5:]
    found = alignments(parse_read(text), 10, MODEL)
    assert found is not None and len(found) == 10
    skipped = []
    for a in found:
        assert not a.inserted and [p for p, _ in a.covered] == list(range(10))
        (position,) = [p for p, o in a.covered if o == ""]
        skipped.append(position)
        assert _written(a, 10) == text and a.log_weight == 0.0
    assert sorted(skipped) == list(range(10))


def test_a_complete_read_one_long_has_one_insertion_or_one_pair() -> None:
    rng = random.Random(11)
    serial = next(s for s in iter(lambda: CARTRIDGE_SCHEME.generate(rng), "") if "W" in s[1:])
    w = serial.index("W", 1)
    extra, doubled = serial[:3] + "K" + serial[3:], serial[:w] + "VV" + serial[w + 1 :]
    for text, pair in ((extra, None), (doubled, (w, "VV"))):
        found = alignments(parse_read(text), 10, MODEL)
        assert found is not None
        pairs = []
        for a in found:
            two = [(p, o) for p, o in a.covered if len(o) == 2]
            assert (len(a.inserted), len(two)) in {(1, 0), (0, 1)}, a
            assert all(len(o) in (1, 2) for _, o in a.covered)
            assert _written(a, 10) == text
            if two:
                assert a.log_weight == 0.0
                pairs += two
            else:
                assert a.log_weight == pytest.approx(MODEL.insertion_log_weight)
        assert pairs == ([] if pair is None else [pair])
        assert len(found) == 11 + len(pairs)  # each written character inserted, or the pair


def test_a_read_torn_into_many_pieces_is_kept_but_too_damaged_to_score() -> None:
    legacy = SerialScheme(
        "legacy", alphabet="0123456789ABCDEF", length=16, type_letters={}, check=False
    )
    many = parse_read("*1*2*3*4*5*6*7*8*")
    assert many.segments == tuple("12345678") and many.placement_count(16) > MAX_ALIGNMENTS
    assert alignments(many, 16, ConfusionModel.default(legacy)) is None
    worst = parse_read("*1*2*3*4*5*")  # the most a cartridge read can be torn
    assert worst.placement_count(10) == 252 <= MAX_ALIGNMENTS
    found = alignments(worst, 10, MODEL)
    assert found is not None and len(found) == 252
