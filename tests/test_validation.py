"""``simulate.validate``: the validation record's scenes and counts, on small scenes.

What is tested is that the figures mean what ``bench/validate_match.py``'s table says: each
cell holds the exhibits it names (torn cells only torn reads, complete cells none, reads
without indels exactly a serial long when complete, the tag counts of its column, listed
and unlisted cartridges where they belong), the counts add up, and a truth that reads
every character right gives every complete exhibit its cartridge and no wrong answer.
"""

from __future__ import annotations

import pytest

from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.results import MatchStatus
from taserlink.forensics.simulate import (
    NEGLIGIBLE,
    TAG_COUNTS,
    ReadNoise,
    Validation,
    ValidationCell,
    second_noise,
    stated_noise,
    validate,
    validation_scene,
    without_indels,
)
from taserlink.serials import CARTRIDGE_SCHEME

SERIALS = 400
PER_CELL = 6
UNLISTED = 2
CELLS = 2 * 2 * len(TAG_COUNTS)


def small(truth: ReadNoise | ConfusionModel, seed: int) -> Validation:
    return validate(truth, seed, serials=SERIALS, per_cell=PER_CELL, unlisted_per_cell=UNLISTED)


@pytest.fixture(scope="module")
def second() -> Validation:
    return small(second_noise(), 5)


def test_without_indels_keeps_the_characters_and_drops_the_indels() -> None:
    noise = second_noise()
    plain = without_indels(noise)
    assert plain.model.p_skip == plain.model.p_insert == NEGLIGIBLE
    assert not plain.model.pairs and noise.model.pairs
    assert (plain.model.matrix == noise.model.matrix).all()
    assert (plain.p_torn, plain.min_fragment, plain.p_hole) == (
        noise.p_torn,
        noise.min_fragment,
        noise.p_hole,
    )
    assert noise.model.p_skip > NEGLIGIBLE  # the original is untouched


def test_each_cell_holds_the_exhibits_it_names() -> None:
    register, scene = validation_scene(
        second_noise(), 5, serials=SERIALS, per_cell=PER_CELL, unlisted_per_cell=UNLISTED
    )
    assert len(register) == len(set(register)) == SERIALS
    assert len(scene) == CELLS * (PER_CELL + UNLISTED)
    assert len({e.exhibit for e in scene}) == len(scene)
    listed = set(register)
    ranges = {label: (low, high) for label, low, high in TAG_COUNTS}
    cells: dict[tuple[bool, bool, str], list[bool]] = {}
    for e in scene:
        cells.setdefault((e.indels, e.torn, e.tags), []).append(e.listed)
        assert (e.serial in listed) == e.listed
        low, high = ranges[e.tags]
        assert low <= len(e.texts) <= high
        if e.torn:
            assert all("*" in t for t in e.texts), e
        else:
            assert not any("*" in t for t in e.texts), e
        if not e.indels and not e.torn:
            assert all(len(t) == CARTRIDGE_SCHEME.length for t in e.texts), e
    assert len(cells) == CELLS
    assert all(
        flags.count(True) == PER_CELL and len(flags) == PER_CELL + UNLISTED
        for flags in cells.values()
    )
    # With the second model's indels, some complete reads are not a serial long.
    with_indels = [t for e in scene if e.indels and not e.torn for t in e.texts]
    assert any(len(t) != CARTRIDGE_SCHEME.length for t in with_indels)


def test_scenes_are_deterministic_for_a_seed() -> None:
    def scene(seed: int) -> list[tuple[str, tuple[str, ...]]]:
        _, exhibits = validation_scene(stated_noise(), seed, serials=200, per_cell=2)
        return [(e.serial, e.texts) for e in exhibits]

    assert scene(1) == scene(1)
    assert scene(1) != scene(2)


def test_counts_add_up(second: Validation) -> None:
    _, scene = validation_scene(
        second_noise(), 5, serials=SERIALS, per_cell=PER_CELL, unlisted_per_cell=UNLISTED
    )
    assert len(second.cells) == CELLS
    assert second.seeds == (5,)
    assert second.truth == second_noise().name
    for cell in second.cells:
        assert cell.listed == PER_CELL and cell.unlisted == UNLISTED
        assert 0 <= cell.matched_right <= cell.listed
        assert 0 <= cell.rank1 <= cell.listed
        assert 0 <= cell.matched_wrong <= cell.match_rows
        # A listed exhibit is matched right at most once, and every other match is wrong.
        assert cell.match_rows >= cell.matched_right
        assert cell.unlisted_matched <= cell.unlisted
        exhibits = [e for e in scene if (e.indels, e.torn, e.tags) == cell.key]
        assert cell.reads == sum(len(e.texts) for e in exhibits)
    assert second.exhibits == len(scene) == second.listed + sum(c.unlisted for c in second.cells)
    whole = second.select()
    assert (whole.tags, whole.torn, whole.indels) == ("all", None, None)
    assert whole.listed == second.listed and whole.matched_right == second.matched_right
    assert second.matched_wrong == whole.matched_wrong + whole.unlisted_matched
    assert len(second.wrong) >= second.matched_wrong  # rows; an unlisted exhibit may have two
    for exhibit, row in second.wrong:
        assert row.status is MatchStatus.MATCH and row.serial != exhibit.serial
    torn = second.select(torn=True)
    complete = second.select(torn=False)
    assert torn.listed + complete.listed == second.listed
    assert second.select(tags="1").listed == 4 * PER_CELL
    with pytest.raises(KeyError):
        second.select(tags="4")


def test_runs_add_up_cell_by_cell(second: Validation) -> None:
    other = small(second_noise(), 6)
    total = second + other
    assert total.seeds == (5, 6)
    assert total.listed == second.listed + other.listed
    assert total.matched_right == second.matched_right + other.matched_right
    assert [c.key for c in total.cells] == [c.key for c in second.cells]
    with pytest.raises(ValueError, match="same truth"):
        _ = second + small(stated_noise(), 6)


def test_rates_of_a_cell() -> None:
    cell = ValidationCell(
        "2", True, False, listed=8, matched_right=6, match_rows=8, matched_wrong=2, rank1=7
    )
    assert cell.right_rate == pytest.approx(0.75)
    assert cell.wrong_rate == pytest.approx(0.25)
    assert cell.recall == pytest.approx(7 / 8)
    empty = ValidationCell("2", True, False)
    assert empty.right_rate == empty.wrong_rate == empty.recall == 0.0


def test_a_perfect_reader_is_matched_right_and_never_wrong() -> None:
    perfect = ConfusionModel.default(
        p_correct=1 - 1e-7,
        p_confusable=5e-8,
        p_unreadable=1e-9,
        p_skip=1e-9,
        p_insert=1e-9,
        read_as_two=[],
    )
    v = small(ReadNoise("a perfect reader", perfect, 0.0, 4, 0.0), 3)
    complete = v.select(torn=False)
    assert complete.matched_right == complete.listed == complete.rank1
    assert complete.matched_wrong == 0
    assert v.matched_wrong == 0 and v.unlisted_matched == 0 and not v.wrong
    # An exact fragment fits its serial exactly: it is the best unless another serial
    # holds the same characters (rare in 400 serials).
    assert v.select(torn=True).recall >= 0.9


def test_a_bare_model_is_read_with_the_default_tearing() -> None:
    v = small(ConfusionModel.default(), 4)
    assert v.truth == "the given model"
    assert v.listed == CELLS * PER_CELL
    assert v.select(torn=False).right_rate >= 0.9


def test_a_register_larger_than_half_its_scheme_is_refused_not_drawn_forever() -> None:
    """Drawing distinct serials at random from a scheme that cannot hold enough of them
    would never end: it is refused up front."""
    import random

    from taserlink.forensics.simulate import simulated_register
    from taserlink.serials import SerialScheme

    tiny = SerialScheme("ab", alphabet="AB", length=2, type_letters={}, check=False)
    assert tiny.capacity == 4 and CARTRIDGE_SCHEME.capacity == 4 * 32**8
    assert len(set(simulated_register(2, random.Random(1), tiny))) == 2
    with pytest.raises(ValueError, match="3 serials: the ab scheme has 4"):
        simulated_register(3, random.Random(1), tiny)
