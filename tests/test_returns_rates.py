"""Rates per 10,000 and the ratio to White with Katz's interval, checked against an
independent computation, a published reference and the Derbyshire year."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import PopulationError
from taserlink.returns.population import DERBYSHIRE_2011, GROUPS, Population
from taserlink.returns.rates import RATE_KEYS, Z_95, Rate, katz_interval, rates

Z_TABLE = 1.959963984540054
"""The 97.5th percentile of the standard normal, as printed in tables (not computed)."""


def _reference(a: int, n1: int, c: int, n2: int) -> tuple[float, float, float]:
    """The rate ratio and its 95 % interval written another way: the delta method's
    variance of each log proportion, ``var ln p̂ = (1 − p̂) / (n p̂)``, added; the ratio
    from the proportions, the ends as ``RR / e^{zσ}`` and ``RR · e^{zσ}``."""
    p1, p2 = a / n1, c / n2
    variance = (1 - p1) / (n1 * p1) + (1 - p2) / (n2 * p2)
    factor = math.exp(Z_TABLE * math.sqrt(variance))
    ratio = p1 / p2
    return ratio, ratio / factor, ratio * factor


def test_z_is_the_normal_quantile() -> None:
    assert abs(Z_95 - Z_TABLE) < 1e-12


def test_the_derbyshire_year() -> None:
    """HO tables, year to March 2020: White 170, Black 20, Asian 16 uses; census 2011."""
    found = rates({"White": 170, "Black": 20, "Asian": 16}, DERBYSHIRE_2011)
    assert [rate.group for rate in found] == list(GROUPS)
    white, black, asian, mixed, other = found
    assert black.ratio_to_white == pytest.approx((20 / 10_090) / (170 / 949_845), rel=1e-12)
    assert black.ratio_to_white is not None
    assert round(black.ratio_to_white, 1) == 11.1  # the "≈ 11.1"
    assert (round(black.ci_low or 0, 2), round(black.ci_high or 0, 2)) == (6.97, 17.59)
    assert black.per_10000 == pytest.approx(19.8216, abs=1e-4)
    assert white.per_10000 == pytest.approx(1.7898, abs=1e-4)
    assert (white.ratio_to_white, white.ci_low, white.ci_high) == (1.0, None, None)
    assert asian.ratio_to_white == pytest.approx(2.2411, abs=1e-4)
    assert (round(asian.ci_low or 0, 2), round(asian.ci_high or 0, 2)) == (1.34, 3.74)
    for empty in (mixed, other):
        assert (empty.uses, empty.per_10000, empty.ratio_to_white) == (0, 0.0, 0.0)
        assert (empty.ci_low, empty.ci_high) == (None, None)
    for rate in (black, asian):
        ratio, low, high = _reference(rate.uses, rate.population, 170, 949_845)
        assert (rate.ratio_to_white, rate.ci_low, rate.ci_high) == pytest.approx(
            (ratio, low, high), rel=1e-12
        )


def test_a_published_reference() -> None:
    """statsmodels' ``Table2x2`` test suite (``statsmodels/stats/tests/
    test_contingency_tables.py``, class ``Test2x2_1``): the table [[2, 2], [2, 2]] has risk
    ratio 1 and log-method interval [0.25009765325990629, 3.9984381579173824]."""
    low, high = katz_interval(2, 4, 2, 4) or (0.0, 0.0)
    assert low == pytest.approx(0.25009765325990629, rel=1e-12)
    assert high == pytest.approx(3.9984381579173824, rel=1e-12)


def test_a_hand_worked_example() -> None:
    """Worked by hand: a = 10 of 100, c = 5 of 100: RR = 2; 1/10 − 1/100 + 1/5 − 1/100 =
    0.28, √0.28 = 0.52915, × 1.95996 = 1.03711; e^±1.03711 = 2.82107, 0.35448; the interval
    is 2 × those: 0.70896 to 5.64215."""
    low, high = katz_interval(10, 100, 5, 100) or (0.0, 0.0)
    assert (round(low, 4), round(high, 4)) == (0.709, 5.6421)


@settings(max_examples=200, deadline=None)
@given(
    a=st.integers(1, 10_000),
    c=st.integers(1, 10_000),
    extra1=st.integers(0, 10**7),
    extra2=st.integers(0, 10**7),
)
def test_agrees_with_the_independent_computation(a: int, c: int, extra1: int, extra2: int) -> None:
    n1, n2 = a + extra1, c + extra2
    population = Population("p", "", {**DERBYSHIRE_2011.counts, "White": n2, "Black": n1})
    black = rates({"White": c, "Black": a}, population)[1]
    ratio, low, high = _reference(a, n1, c, n2)
    assert black.ratio_to_white == pytest.approx(ratio, rel=1e-9)
    assert black.ci_low == pytest.approx(low, rel=1e-9, abs=1e-300)
    assert black.ci_high == pytest.approx(high, rel=1e-9)
    assert black.ci_low is not None and black.ci_high is not None
    assert black.ratio_to_white is not None
    assert black.ci_low <= black.ratio_to_white <= black.ci_high


def test_no_uses_anywhere_divides_nothing_by_zero() -> None:
    for rate in rates({}, DERBYSHIRE_2011):
        assert (rate.uses, rate.per_10000) == (0, 0.0)
        assert (rate.ratio_to_white, rate.ci_low, rate.ci_high) == (None, None, None)
    black = rates({"Black": 3}, DERBYSHIRE_2011)[1]
    assert black.per_10000 == pytest.approx(3 * 10_000 / 10_090)
    assert (black.ratio_to_white, black.ci_low, black.ci_high) == (None, None, None)
    assert katz_interval(0, 10, 5, 10) is None
    assert katz_interval(5, 10, 0, 10) is None


def test_everyone_used_on_gives_a_zero_width_interval() -> None:
    assert katz_interval(4, 4, 2, 2) == (1.0, 1.0)


def test_as_dict_has_exactly_the_contract_keys() -> None:
    found = rates(Counter({"White": 170, "black": 20}), DERBYSHIRE_2011)
    for rate in found:
        assert tuple(rate.as_dict()) == RATE_KEYS
        assert json.loads(json.dumps(rate.as_dict())) == rate.as_dict()
    assert RATE_KEYS == (
        "group",
        "uses",
        "population",
        "per_10000",
        "ratio_to_white",
        "ci_low",
        "ci_high",
    )
    assert isinstance(found[0], Rate)


@pytest.mark.parametrize(
    ("uses", "source", "words"),
    [
        ({"Chinese": 1}, "uses", "not one of the groups"),
        ({"Not reported": 1}, "uses", "not reported"),
        ({"White": -1}, "uses", "whole number"),
        ({"White": 1.0}, "uses", "whole number"),
        ({"White": True}, "uses", "whole number"),
        ({"White": 1, "white": 2}, "uses", "twice"),
        ({"Other": 4_263}, DERBYSHIRE_2011.path, "more uses than people"),
    ],
)
def test_bad_uses_are_refused(uses: dict[str, object], source: str, words: str) -> None:
    with pytest.raises(PopulationError, match=words) as caught:
        rates(uses, DERBYSHIRE_2011)  # type: ignore[arg-type]
    assert caught.value.source == source


def test_katz_refuses_impossible_counts() -> None:
    with pytest.raises(PopulationError):
        katz_interval(5, 4, 1, 10)
    with pytest.raises(PopulationError):
        katz_interval(-1, 4, 1, 10)
