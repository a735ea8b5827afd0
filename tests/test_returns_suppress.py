"""Suppression of small numbers: nothing from 1 to 4 is shown, and no withheld cell can be
worked out from what is shown (checked by brute force over small tables)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import InputFileError
from taserlink.returns.population import DERBYSHIRE_2011
from taserlink.returns.rates import RATE_KEYS, rates
from taserlink.returns.suppress import (
    PRIMARY,
    WITHHELD,
    Suppressed,
    public_rates,
    suppress_counts,
    suppress_table,
)

CEILING = 12
"""How far above the largest count a withheld cell is tried (bounding the search only
shrinks the set of tables tried, so a cell ambiguous within it is ambiguous)."""


def _possible(shown: Suppressed, ceiling: int) -> list[set[int]]:
    """For each cell, the values it takes over every table consistent with what is shown:
    numbers as shown, ``<5`` any of 1–4, a withheld cell any of 5…``ceiling``, and a total
    shown as a number equal to the sum (``<5``: 1–4; withheld: anything)."""
    ranges: list[Sequence[int]] = []
    for cell in shown.cells:
        if cell == PRIMARY:
            ranges.append(range(1, 5))
        elif cell == WITHHELD:
            ranges.append(range(5, ceiling + 1))
        else:
            ranges.append((int(cell),))
    seen: list[set[int]] = [set() for _ in shown.cells]
    for table in itertools.product(*ranges):
        total = sum(table)
        if shown.total == PRIMARY and not 1 <= total <= 4:
            continue
        if shown.total not in (PRIMARY, WITHHELD) and total != int(shown.total):
            continue
        for values, value in zip(seen, table, strict=True):
            values.add(value)
    return seen


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(0, 14), min_size=1, max_size=5))
def test_no_withheld_cell_can_be_worked_out(counts: list[int]) -> None:
    shown = suppress_counts(counts)
    assert len(shown.cells) == len(counts)
    for count, cell in zip(counts, shown.cells, strict=True):
        assert cell in (PRIMARY, WITHHELD) or int(cell) == count
        assert cell in (PRIMARY, WITHHELD) or not 0 < int(cell) < 5  # nothing 1-4 shown
        assert cell != PRIMARY or 1 <= count <= 4
    assert shown.total in (PRIMARY, WITHHELD) or int(shown.total) == sum(counts)
    assert shown.total in (PRIMARY, WITHHELD) or not 0 < sum(counts) < 5
    possible = _possible(shown, max(counts) + CEILING)
    for index in shown.withheld:
        assert counts[index] in possible[index]
        assert len(possible[index]) > 1, (counts, shown, index, possible[index])


def test_every_small_table_exhaustively() -> None:
    for size in (1, 2, 3):
        for counts in itertools.product(range(11), repeat=size):
            shown = suppress_counts(counts)
            possible = _possible(shown, max(counts) + CEILING)
            for index in shown.withheld:
                assert len(possible[index]) > 1, (counts, shown)


@pytest.mark.parametrize(
    ("counts", "cells", "total"),
    [
        ([0, 0, 0], ("0", "0", "0"), "0"),
        ([170, 20, 16, 0, 0, 5], ("170", "20", "16", "0", "0", "5"), "211"),
        ([3, 0, 7, 10], ("<5", "0", "[c]", "10"), "20"),  # one <5: the next smallest too
        ([2, 3, 10], ("<5", "<5", "10"), "15"),  # two <5 adding to 5: either could be 1-4
        ([1, 1, 10, 20], ("<5", "<5", "[c]", "20"), "32"),  # 1 + 1 = 2 would give both
        ([4, 4, 10], ("<5", "<5", "[c]"), "18"),  # 4 + 4 = 8 likewise
        ([1, 5, 9], ("<5", "[c]", "[c]"), "15"),  # 1 + 5 = 6: both at their least
        ([4, 4, 0], ("<5", "<5", "0"), "[c]"),  # nothing left to withhold: the total is
        ([3, 0], ("<5", "0"), "<5"),
        ([1, 1, 1, 1], ("<5", "<5", "<5", "<5"), "[c]"),  # four 1s add up to 4
    ],
)
def test_the_rules_on_examples(counts: list[int], cells: tuple[str, ...], total: str) -> None:
    shown = suppress_counts(counts)
    assert (shown.cells, shown.total) == (cells, total)
    assert shown.total_withheld == (total == WITHHELD)


def test_a_table_with_labels() -> None:
    rows = [("Drawn", 41), ("Aimed", 13), ("Red-dot", 126), ("Arced", 9), ("Drive stun", 1)]
    rows += [("Angled drive stun", 0), ("Fired", 20), ("Not stated", 1)]
    assert suppress_table(rows) == (
        ("Drawn", "41"),
        ("Aimed", "13"),
        ("Red-dot", "126"),
        ("Arced", "[c]"),
        ("Drive stun", "<5"),
        ("Angled drive stun", "0"),
        ("Fired", "20"),
        ("Not stated", "<5"),
        ("Total", "211"),
    )  # the Derbyshire year: two <5 adding up to 2 are both 1, so Arced (9) goes too


def test_a_table_with_labels_withholds_the_next_smallest() -> None:
    rows = [("Drive stun", 1), ("Arced", 9), ("Not stated", 1), ("Fired", 20)]
    assert suppress_table(rows, "All") == (
        ("Drive stun", "<5"),
        ("Arced", "[c]"),
        ("Not stated", "<5"),
        ("Fired", "20"),
        ("All", "31"),
    )


def test_bad_counts_are_refused() -> None:
    for bad in ([-1], [1.5], [True]):
        with pytest.raises(InputFileError, match="not a count"):
            suppress_counts(bad)  # type: ignore[arg-type]


def test_public_rates_withhold_what_gives_a_count_back() -> None:
    found = rates({"White": 170, "Black": 20, "Asian": 16, "Mixed": 3}, DERBYSHIRE_2011)
    public = public_rates(found, not_reported=2)
    assert [tuple(row) for row in public] == [RATE_KEYS] * 5
    white, black, asian, mixed, other = public
    assert white == found[0].as_dict() and black == found[1].as_dict()
    assert asian == found[2].as_dict() and other == found[4].as_dict()
    assert mixed["uses"] == PRIMARY and mixed["population"] == 14_351
    assert [mixed[key] for key in RATE_KEYS[3:]] == [WITHHELD] * 4
    # the ethnicity table of the same pack hides the same cells
    table = suppress_table([*((rate.group, rate.uses) for rate in found), ("Not reported", 2)])
    assert [cell for _, cell in table[:5]] == [str(row["uses"]) for row in public]


def test_public_rates_withhold_every_ratio_when_white_is_withheld() -> None:
    found = rates({"White": 3, "Black": 20, "Asian": 16}, DERBYSHIRE_2011)
    public = public_rates(found)
    assert public[0]["uses"] == PRIMARY
    for row in public:
        assert (row["ratio_to_white"], row["ci_low"], row["ci_high"]) == (WITHHELD,) * 3
    assert public[1]["uses"] == 20 and public[1]["per_10000"] == found[1].per_10000


def test_public_rates_want_the_five_groups() -> None:
    found = rates({"White": 10}, DERBYSHIRE_2011)
    with pytest.raises(InputFileError, match="in that order"):
        public_rates(found[1:])
    with pytest.raises(InputFileError, match="not a count"):
        public_rates(found, not_reported=-1)
