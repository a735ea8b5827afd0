"""The fast matcher against its plain reference, on generated scenes.

Both implement the definition in ``docs/matching.md``; here hypothesis draws schemes
(the cartridge scheme and small ones that make collisions likely), serial lists with
near-duplicates (one confusable character apart, check character recomputed), exhibits
mixing reads of listed serials, of unlisted ones and garbage, with tearing, ``?``,
confidences and settings, and the two must give the same rows: same grouping, serials,
statuses, runner-ups and explanations, and scores equal to 1e-9.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from taserlink.errors import MatchError, ReadError
from taserlink.forensics import match as match_module
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.match import Matcher, SerialIndex, match_reads
from taserlink.forensics.reference import reference_match_reads
from taserlink.forensics.results import MatchRow, MatchSettings, TagRead
from taserlink.forensics.simulate import confusable_neighbour, simulate_reads, simulated_register
from taserlink.serials import CARTRIDGE_SCHEME, SerialScheme

SCHEMES = [
    CARTRIDGE_SCHEME,
    SerialScheme("hex6", alphabet="0123456789ABCDEF", length=6, type_letters={}, check=True),
    SerialScheme(
        "short4",
        alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ",
        length=4,
        type_letters={},
        check=False,
    ),
    SerialScheme(
        "tiny5", alphabet="01258BSZ", length=5, type_letters={"B": "b", "S": "s"}, check=False
    ),
]


def garbage_read(scheme: SerialScheme, rng: random.Random) -> str:
    """A read of nothing listed: random characters of any length, torn or not, sometimes
    with nothing readable at all."""
    chars = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    kind = rng.random()
    if kind < 0.35:
        return "".join(rng.choice(chars) for _ in range(scheme.length + rng.randint(-2, 2)))
    if kind < 0.45:
        return rng.choice(["?" * scheme.length, "*??*", "*?*", "?" * (scheme.length - 1)])
    size = rng.randint(1, scheme.length - 1)
    return "*" + "".join(rng.choice(chars + "?") for _ in range(size - 1)) + rng.choice(chars) + "*"


@st.composite
def scenes(draw: st.DrawFn) -> tuple[SerialScheme, list[str], list[TagRead], MatchSettings]:
    scheme = draw(st.sampled_from(SCHEMES))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(1, 40))
    serials: list[str] = []
    seen: set[str] = set()
    for _ in range(size * 3):
        if len(serials) >= size:
            break
        if serials and rng.random() < 0.3:
            candidate = confusable_neighbour(rng.choice(serials), scheme, rng)
        else:
            candidate = scheme.generate(rng)
        if candidate is not None and candidate not in seen:
            seen.add(candidate)
            serials.append(candidate)
    model = ConfusionModel.default(scheme)
    # Reads drawn with more skips, insertions and pairs than the model states, so that
    # reads one or two characters short or long are common.
    sloppy = ConfusionModel.default(
        scheme,
        p_skip=0.06,
        p_insert=0.04,
        read_as_two=[(t, "VV", 0.2) for t in "W" if t in scheme.alphabet],
    )
    p_torn = draw(st.sampled_from([0.0, 0.3, 0.8]))
    p_hole = draw(st.sampled_from([0.0, 0.5]))
    reads: list[TagRead] = []
    for e in range(draw(st.integers(1, 3))):
        sources = draw(
            st.lists(st.sampled_from(["listed", "outside", "garbage"]), min_size=1, max_size=3)
        )
        for source in sources:
            count = draw(st.integers(1, 4))
            if source == "garbage":
                texts = [garbage_read(scheme, rng) for _ in range(count)]
            else:
                serial = rng.choice(serials) if source == "listed" else scheme.generate(rng)
                texts = simulate_reads(
                    [serial] * count,
                    sloppy if rng.random() < 0.5 else model,
                    rng,
                    p_torn=p_torn,
                    min_fragment=min(3, scheme.length),
                    p_hole=p_hole,
                )
            for text in texts:
                confidence = draw(st.sampled_from([1.0, 1.0, 0.9, 0.5, 0.0]))
                reads.append(TagRead(f"E{e}", f"t{len(reads)}", text, confidence))
    rng.shuffle(reads)
    match_settings = MatchSettings(
        p_outside=draw(st.sampled_from([0.01, 0.2, 0.5])),
        match_threshold=draw(st.sampled_from([0.99, 0.9])),
        grouping_factor=draw(st.sampled_from([20.0, 1.0, 1000.0])),
    )
    return scheme, serials, reads, match_settings


def assert_same(fast: list[MatchRow], reference: list[MatchRow]) -> None:
    assert len(fast) == len(reference), (fast, reference)
    for f, r in zip(fast, reference, strict=True):
        assert (f.exhibit, f.serial, f.status, f.tags, f.runner_up, f.explanation) == (
            r.exhibit,
            r.serial,
            r.status,
            r.tags,
            r.runner_up,
            r.explanation,
        ), (f, r)
        for a, b in ((f.score, r.score), (f.runner_up_score, r.runner_up_score)):
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (f, r)


@pytest.mark.slow
@settings(max_examples=400)
@given(scenes())
def test_fast_matcher_agrees_with_the_reference(
    scene: tuple[SerialScheme, list[str], list[TagRead], MatchSettings],
) -> None:
    scheme, serials, reads, match_settings = scene
    fast = match_reads(reads, serials, scheme=scheme, settings=match_settings)
    reference = reference_match_reads(reads, serials, scheme=scheme, settings=match_settings)
    assert_same(fast, reference)
    for row in fast:
        event(f"status {row.status.value}")
        event(f"reads in a row: {min(row.reads, 4)}{'+' if row.reads >= 4 else ''}")
    event(f"rows per exhibit > 1: {len(fast) > len({r.exhibit for r in reads})}")
    # Every read is in exactly one row, and rows of one exhibit name different serials.
    assert sorted(t for row in fast for t in row.tags) == sorted(r.tag for r in reads)
    named = [(row.exhibit, row.serial) for row in fast if row.serial]
    assert len(named) == len(set(named))


@settings(max_examples=40, suppress_health_check=[HealthCheck.large_base_example])
@given(scenes(), st.randoms(use_true_random=False))
def test_a_fitted_model_changes_nothing_between_the_two(
    scene: tuple[SerialScheme, list[str], list[TagRead], MatchSettings], rng: random.Random
) -> None:
    """A lab's own model (fitted from simulated validation reads) goes through both paths
    the same way: the expansion sets and tables come from the model, not from constants."""
    scheme, serials, reads, match_settings = scene
    truth = [scheme.generate(rng) for _ in range(30)]
    noisy = ConfusionModel.default(scheme, p_correct=0.6, p_confusable=0.3)
    pairs = list(zip(truth, simulate_reads(truth, noisy, rng), strict=True))
    model = ConfusionModel.fit(pairs, scheme, strength=2.0)
    fast = match_reads(reads, serials, scheme=scheme, model=model, settings=match_settings)
    reference = reference_match_reads(
        reads, serials, scheme=scheme, model=model, settings=match_settings
    )
    assert_same(fast, reference)


def test_the_index_refuses_what_the_reference_refuses() -> None:
    rng = random.Random(5)
    serials = [CARTRIDGE_SCHEME.generate(rng) for _ in range(5)]
    for bad, words in (
        ([], "empty"),
        ([*serials, serials[2]], "serials 3 and 6"),
        ([*serials, serials[0].lower()], "serial 6"),
        ([*serials, serials[0][:-1] + ("0" if serials[0][-1] != "0" else "1")], "check character"),
        ([*serials, "Q" + serials[0][1:]], "type letter"),
        ([*serials, serials[0] + "0"], "serial 6"),
    ):
        with pytest.raises(MatchError, match=words):
            SerialIndex(bad)
        with pytest.raises(MatchError):
            reference_match_reads([TagRead("E", "t", serials[0])], bad)


@pytest.mark.parametrize("text", ["", "-", "S4K7P2M9Q!", "S4K7_P2M9QX", "*S4K7é*"])
def test_reads_outside_the_notation_are_read_errors_naming_the_tag(text: str) -> None:
    rng = random.Random(2)
    serials = [CARTRIDGE_SCHEME.generate(rng) for _ in range(5)]
    for matcher in (match_reads, reference_match_reads):
        with pytest.raises(ReadError, match="tag 'bad'"):
            matcher([TagRead("E1", "good", serials[0]), TagRead("E1", "bad", text)], serials)


@pytest.mark.parametrize(
    "text, why",
    [
        ("??????????", "no readable character"),
        ("*?*", "no readable character"),
        ("*", "no readable character"),
        ("*???-?*", "no readable character"),
        ("S4K7", "too damaged to score"),
        ("S4K7P2M9QXYZAB", "too damaged to score"),
    ],
)
def test_reads_that_cannot_be_scored_are_kept_not_refused(text: str, why: str) -> None:
    """A tag nobody could read, or a read too far from any serial's shape, is a recovered
    tag all the same: it stays in its exhibit's row of reads nothing explains."""
    rng = random.Random(2)
    serials = [CARTRIDGE_SCHEME.generate(rng) for _ in range(50)]
    reads = [TagRead("E1", "good", serials[7]), TagRead("E1", "bad", text)]
    fast = match_reads(reads, serials)
    assert_same(fast, reference_match_reads(reads, serials))
    assert [(r.serial, r.tags) for r in fast] == [(serials[7], ("good",)), ("", ("bad",))]
    assert why in fast[1].explanation
    (alone,) = match_reads([TagRead("E2", "bad", text)], serials)
    assert alone.status.value == "none" and alone.reads == 1 and why in alone.explanation


def test_one_index_serves_many_batches() -> None:
    rng = random.Random(9)
    serials = [CARTRIDGE_SCHEME.generate(rng) for _ in range(500)]
    matcher = Matcher(SerialIndex(serials))
    model = ConfusionModel.default()
    for _ in range(3):
        target = rng.choice(serials)
        reads = [
            TagRead("E", str(i), t) for i, t in enumerate(simulate_reads([target] * 5, model, rng))
        ]
        assert_same(matcher.match(reads), reference_match_reads(reads, serials))
    assert matcher.match([]) == []


@st.composite
def crowded_scenes(draw: st.DrawFn) -> tuple[SerialScheme, list[str], list[TagRead]]:
    """One exhibit of many torn and sloppy reads of one or two cartridges, among look-alikes
    and serials sharing pieces: enough combinations that the background is carried forward
    by its largest, stray reads that only the exhibit's anchors can place, groups that the
    bounds on their totals must sort out."""
    scheme = draw(st.sampled_from(SCHEMES[:2]))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    serials = simulated_register(30, rng, scheme, look_alikes=0.4)
    sloppy = ConfusionModel.default(scheme, p_correct=0.8, p_skip=0.03, p_insert=0.02)
    reads: list[TagRead] = []
    for serial in rng.sample(serials, draw(st.integers(1, 2))):
        texts = simulate_reads(
            [serial] * draw(st.integers(5, 12)), sloppy, rng, p_torn=0.8, min_fragment=3, p_hole=0.3
        )
        reads += [TagRead("E", f"t{len(reads) + i}", t) for i, t in enumerate(texts)]
    rng.shuffle(reads)
    return scheme, serials, reads


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crowded_scenes())
def test_crowded_exhibits_agree_with_the_reference(
    scene: tuple[SerialScheme, list[str], list[TagRead]],
) -> None:
    scheme, serials, reads = scene
    assert_same(
        match_reads(reads, serials, scheme=scheme),
        reference_match_reads(reads, serials, scheme=scheme),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene=st.one_of(scenes(), crowded_scenes().map(lambda s: (*s, MatchSettings()))))
def test_the_matrix_filters_change_nothing(
    scene: tuple[SerialScheme, list[str], list[TagRead], MatchSettings],
) -> None:
    """Large exhibits filter their pairings (weak reads × anchors, groups × cartridges, a
    group × its contenders) by a float32 matrix product first; forced onto every exhibit,
    the answers are still the reference's."""
    scheme, serials, reads, match_settings = scene
    forced = pytest.MonkeyPatch()
    forced.setattr(match_module, "MATRIX_PAIRS", 0)
    try:
        fast = match_reads(reads, serials, scheme=scheme, settings=match_settings)
    finally:
        forced.undo()
    assert_same(fast, reference_match_reads(reads, serials, scheme=scheme, settings=match_settings))
