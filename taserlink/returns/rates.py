"""Rates of CED use against the population, and disproportionality (the ratio of a group's
rate to White's) with its 95 % confidence interval — the ``rates`` of ``scrutiny.json``
(design §8, **contract** keys: :meth:`Rate.as_dict`).

For each of the five groups (:data:`~taserlink.returns.population.GROUPS`, in that order):

- ``uses`` — the group's CED uses in the period (one use = one device in one report, as the
  Home Office return counts them); ``population`` — its resident population;
- ``per_10000`` — ``uses × 10,000 / population``: uses per 10,000 people;
- ``ratio_to_white`` — the rate ratio ``RR = (a / n1) / (c / n2)`` of the group (``a`` uses,
  ``n1`` people) to White (``c`` uses, ``n2`` people); White's own is 1;
- ``ci_low``, ``ci_high`` — its 95 % confidence interval by **Katz's log method** (Katz,
  Baptista, Azen and Pike, *Biometrics* 34 (1978) 469–474), treating each group's uses as
  a binomial count out of its population::

      ln(RR) ± z · sqrt(1/a − 1/n1 + 1/c − 1/n2),   z = 1.959963984540054…

  (``z`` the standard normal's 97.5th percentile, :data:`Z_95`), both ends exponentiated.

**Where there is no number.**  Nothing is ever divided by zero (a population is at least
1, :class:`~taserlink.returns.population.Population`):

- a group with no uses has rate 0 and ratio 0 (when White has uses) but **no interval**
  (``None``): ``ln(0)`` and ``1/a`` do not exist, and a made-up correction (adding ½ to
  every count) would print an interval the data do not give;
- when White has no uses, no group has a ratio or an interval (``None``): a rate cannot be
  compared with a rate of zero;
- White's own row has ratio 1 and no interval: it is the reference, not an estimate
  against one.

The interval is an approximation that needs a few uses in both groups: with a handful it is
wide, and it is only as good as the counts (see ``docs/returns.md``, "Rates and
disproportionality").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

from taserlink.errors import PopulationError, excerpt
from taserlink.returns.population import GROUPS, Population

__all__ = ["PER", "REFERENCE", "RATE_KEYS", "Z_95", "Rate", "katz_interval", "rates"]

PER: Final = 10_000
"""Rates are uses per this many people."""
REFERENCE: Final = "White"
"""The group every ratio is taken against."""
Z_95: Final = NormalDist().inv_cdf(0.975)
"""The standard normal quantile of a two-sided 95 % interval (1.959963984540054…)."""
RATE_KEYS: Final = (
    "group",
    "uses",
    "population",
    "per_10000",
    "ratio_to_white",
    "ci_low",
    "ci_high",
)
"""The keys of one rate in ``scrutiny.json`` (**contract**, design §8), in order."""

_NAMES: Final = {group.casefold(): group for group in GROUPS}


@dataclass(frozen=True, slots=True)
class Rate:
    """One group's uses against its population (module docstring).

    Attributes:
        group: one of :data:`~taserlink.returns.population.GROUPS`.
        uses: the group's CED uses (a count).
        population: the group's resident population (people).
        per_10000: uses per 10,000 people.
        ratio_to_white: the group's rate divided by White's; ``None`` when White has no
            uses.
        ci_low: the lower end of the ratio's 95 % interval (Katz); ``None`` for White, and
            when either group has no uses.
        ci_high: its upper end; ``None`` when ``ci_low`` is.
    """

    group: str
    uses: int
    population: int
    per_10000: float
    ratio_to_white: float | None
    ci_low: float | None
    ci_high: float | None

    def as_dict(self) -> dict[str, str | int | float | None]:
        """The rate as ``scrutiny.json`` holds it: exactly the keys :data:`RATE_KEYS`."""
        return {
            "group": self.group,
            "uses": self.uses,
            "population": self.population,
            "per_10000": self.per_10000,
            "ratio_to_white": self.ratio_to_white,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


def katz_interval(a: int, n1: int, c: int, n2: int, z: float = Z_95) -> tuple[float, float] | None:
    """The confidence interval of the ratio ``(a / n1) / (c / n2)`` by Katz's log method:
    ``exp(ln RR ± z · sqrt(1/a − 1/n1 + 1/c − 1/n2))``.

    Args:
        a: events (uses) in the group compared; ``n1`` its size (people).
        c: events in the reference group; ``n2`` its size.
        z: the normal quantile (:data:`Z_95` for 95 %).

    Returns:
        ``(low, high)``, or ``None`` when ``a`` or ``c`` is 0 (no interval exists).

    Raises:
        PopulationError: a count that is negative, or larger than its group
            (``source`` ``uses``).
    """
    for events, people in ((a, n1), (c, n2)):
        if not 0 <= events <= people or people < 1:
            raise PopulationError(
                f"{events} events out of {people}: a count from 0 to its group's size", "uses"
            )
    if a == 0 or c == 0:
        return None
    log_ratio = math.log(a * n2) - math.log(n1 * c)
    half_width = z * math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    return math.exp(log_ratio - half_width), math.exp(log_ratio + half_width)


def rates(uses_by_group: Mapping[str, int], population: Population) -> tuple[Rate, ...]:
    """Each group's rate per 10,000 people and its ratio to White's, with the 95 % interval
    (module docstring), in the order White, Black, Asian, Mixed, Other.

    Args:
        uses_by_group: group → uses (a ``collections.Counter`` of the uses' subject
            ethnicity will do).  Names are compared ignoring case; a group left out has no
            uses.  Uses whose subject's ethnicity was not reported belong in no group and
            are left out.
        population: the groups' populations (:func:`~taserlink.returns.population.read_population`
            or :data:`~taserlink.returns.population.DERBYSHIRE_2011`).

    Raises:
        PopulationError: (``source`` ``uses``) a key that is not one of the five groups (or
            names one twice), a count that is not a whole number from 0, or a group with
            more uses than people (``source`` the population's file: the wrong table?).
    """
    uses: dict[str, int] = dict.fromkeys(GROUPS, 0)
    seen: set[str] = set()
    for key, count in uses_by_group.items():
        group = _NAMES.get(key.strip().casefold()) if isinstance(key, str) else None
        if group is None:
            raise PopulationError(
                f"{excerpt(str(key))} is not one of the groups {', '.join(GROUPS)} (uses whose "
                "ethnicity was not reported are left out of rates)",
                "uses",
            )
        if group in seen:
            raise PopulationError(f"{group} is given twice", "uses")
        seen.add(group)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise PopulationError(
                f"uses of {group} {count!r} is not a whole number of uses from 0", "uses"
            )
        if count > population.counts[group]:
            raise PopulationError(
                f"{count} uses of {group} but a population of {population.counts[group]}: "
                "more uses than people — is this the force area's table?",
                population.path,
            )
        uses[group] = count
    white_uses, white_people = uses[REFERENCE], population.counts[REFERENCE]
    result = []
    for group in GROUPS:
        a, n1 = uses[group], population.counts[group]
        ratio: float | None
        interval: tuple[float, float] | None
        if white_uses == 0:
            ratio, interval = None, None
        elif group == REFERENCE:
            ratio, interval = 1.0, None
        else:
            ratio = (a * white_people) / (n1 * white_uses)  # exact integers, one rounding
            interval = katz_interval(a, n1, white_uses, white_people)
        result.append(
            Rate(
                group=group,
                uses=a,
                population=n1,
                per_10000=a * PER / n1,
                ratio_to_white=ratio,
                ci_low=None if interval is None else interval[0],
                ci_high=None if interval is None else interval[1],
            )
        )
    return tuple(result)
