"""More evidence is never a worse answer; any exhibit size is one answer.

The posterior an answer gives a cartridge's serial (as the serial or runner-up of a `match`
or `ambiguous` row; a `none` row answers no serial) must not fall as reads consistent with
it are added (reads whose every readable character is the serial's: complete or torn into
pieces, with holes and unreadable characters) — a property over registers of 100,000 and
1,000,000 serials.  It holds up to :data:`FALL_TOLERANCE`, and a `match` is lost only by
such a fall across the threshold: the exact posterior itself may fall a little (a torn
piece can sit in several places, so a consistent read may be likelier under a serial no
read has shown in full, with repeated characters, than under the true one), and a later
read may bring into view a listed serial close to the earlier reads that their searches,
already conclusive, had left to "another serial".  ``python bench/validate_match.py
--monotone`` measures how often and by how much (docs/matching.md §8).

Reads with misreads are evidence, weakly, for serials with those characters, so one of them
may lower the posterior a little (the definition is a posterior, not a tally); tens to a
thousand tags of one cartridge, drawn from the stated model and from a second, different
one, still give a `match` whose posterior does not fall as tags are added.  Exhibits of
thousands of reads of one cartridge, or of thousands of cartridges, are answered as one
exhibit.
"""

from __future__ import annotations

import itertools
import random
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taserlink.forensics.match import Matcher, SerialIndex
from taserlink.forensics.reads import parse_read
from taserlink.forensics.results import MatchSettings, MatchStatus, TagRead
from taserlink.forensics.simulate import (
    ReadNoise,
    answered_posterior,
    consistent_noise,
    posterior_path,
    second_noise,
    stated_noise,
)
from taserlink.serials import CARTRIDGE_SCHEME

THRESHOLD = MatchSettings().match_threshold
FALL_TOLERANCE = 0.01
"""The most a consistent read may lower the posterior (see the module's docstring)."""


@lru_cache(maxsize=2)
def register(size: int) -> tuple[str, ...]:
    """``size`` distinct valid cartridge serials, drawn fast with numpy (deterministic)."""
    rng = np.random.default_rng(size)
    alphabet = CARTRIDGE_SCHEME.alphabet
    letters = np.array([alphabet.index(t) for t in CARTRIDGE_SCHEME.type_letters])
    found: set[str] = set()
    while len(found) < size:
        batch = 2 * (size - len(found))
        codes = np.empty((batch, 9), np.int64)
        codes[:, 0] = rng.choice(letters, batch)
        codes[:, 1:] = rng.integers(0, len(alphabet), (batch, 8))
        for row in codes.tolist():
            prefix = "".join(alphabet[c] for c in row)
            found.add(prefix + CARTRIDGE_SCHEME.check_character(prefix))
            if len(found) == size:
                break
    return tuple(sorted(found))


@lru_cache(maxsize=2)
def matcher(size: int) -> Matcher:
    return Matcher(SerialIndex(list(register(size))))


@pytest.mark.parametrize("size", [100_000, pytest.param(1_000_000, marks=pytest.mark.slow)])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_consistent_reads_never_lower_the_posterior(size: int, data: st.DataObject) -> None:
    """Reads whose every readable character is the serial's — complete or torn, with holes
    and unreadable characters — only ever raise its posterior, and a `match` stays one."""
    serials = register(size)
    serial = serials[data.draw(st.integers(0, size - 1), label="serial")]
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    noise = consistent_noise(
        p_torn=data.draw(st.sampled_from([0.0, 0.4, 1.0]), label="p_torn"),
        p_hole=data.draw(st.sampled_from([0.0, 0.5]), label="p_hole"),
    )
    texts = noise.reads([serial] * data.draw(st.integers(2, 7), label="reads"), rng)
    assert all(parse_read(t).fits(serial) for t in texts)
    path = posterior_path(matcher(size), serial, texts)
    for (before, matched), (after, still) in itertools.pairwise(path):
        assert after >= before - FALL_TOLERANCE, (texts, path)
        # A match is lost only by such a small fall across the threshold.
        assert still or not matched or after >= THRESHOLD - FALL_TOLERANCE, (texts, path)


@pytest.mark.parametrize(
    "noise, torn",
    [
        (stated_noise(), False),
        (stated_noise(), None),
        (stated_noise(), True),
        (second_noise(), False),
        (second_noise(), None),
        (second_noise(), True),
    ],
    ids=[
        "stated-complete",
        "stated-some-torn",
        "stated-all-torn",
        "second-complete",
        "second-some-torn",
        "second-all-torn",
    ],
)
def test_hundreds_of_tags_of_one_cartridge_match_it(noise: ReadNoise, torn: bool | None) -> None:
    """10, 30, 100, 300 and 1,000 reads of one cartridge, as one exhibit, against a million
    serials: each time a `match` on the true serial holding nearly every read, never a
    `match` on another serial, and a posterior that does not fall as reads are added."""
    m = matcher(1_000_000)
    serials = register(1_000_000)
    rng = random.Random(f"{noise.name} {torn}")
    serial = serials[rng.randrange(len(serials))]
    texts = noise.reads([serial] * 1000, rng, torn=torn)
    previous = 0.0
    for count in (10, 30, 100, 300, 1000):
        rows = m.match([TagRead("E", f"t{i}", t) for i, t in enumerate(texts[:count])])
        score, matched = answered_posterior(rows, serial)
        assert matched, (count, rows[:3])
        assert score >= previous - 1e-9
        previous = score
        main = next(r for r in rows if r.serial == serial)
        assert main.reads >= 0.85 * count
        assert not [r for r in rows if r.status is MatchStatus.MATCH and r.serial != serial]
        assert sum(r.reads for r in rows) == count


def test_an_exhibit_of_two_thousand_cartridges_is_answered_as_they_would_be_apart() -> None:
    """2,000 reads of 2,000 cartridges in one exhibit: each serial named once, and nearly
    every read (97 %) answered with the same serial and status as when each read is an
    exhibit of its own."""
    m = matcher(100_000)
    serials = register(100_000)
    rng = random.Random(21)
    chosen = rng.sample(range(len(serials)), 2000)
    texts = stated_noise(p_torn=0.0).reads([serials[i] for i in chosen], rng)
    together = m.match([TagRead("E", f"t{i}", t) for i, t in enumerate(texts)])
    apart = m.match([TagRead(f"E{i}", "t", t) for i, t in enumerate(texts)])
    by_tag = {r.tags[0]: r for r in together if r.reads == 1 and r.serial}
    agree = 0
    for i, row in enumerate(apart):
        mine = by_tag.get(f"t{i}")
        if row.serial and mine is not None and mine.serial == row.serial:
            agree += mine.status is row.status
    # A look-alike found in the same exhibit may share a row; nearly all stand alone.
    assert agree >= 0.97 * sum(1 for r in apart if r.serial)
    assert sum(r.reads for r in together) == 2000
    named = [r.serial for r in together if r.serial]
    assert len(named) == len(set(named))
