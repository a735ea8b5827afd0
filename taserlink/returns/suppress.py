"""Small numbers withheld from published tables (``taserlink scrutiny --public``, design §8:
"suppresses counts under 5").  The rules, and why, are in ``docs/returns.md``
("Suppression"); in short, for a one-way table (rows of counts and their total):

1. **Primary**: a count from 1 to 4 is shown as ``<5`` (:data:`PRIMARY`).  A 0 is shown: it
   says that nothing of that kind was recorded, which names nobody, and hiding zeros would
   only hide which categories are empty (the ONS/GSS practice for such tables).
2. **Total**: kept as counted when it is 5 or more — the force's total is published by the
   Home Office anyway and closes every table of a pack, so hiding it in one table would
   protect nothing.  A total from 1 to 4 is ``<5`` like any count (then no cell can be
   worked out from it, except when four cells are ``<5``: four counts of at least 1 that
   add up to at most 4 are all 1, so that total is withheld, :data:`WITHHELD`).
3. **Secondary**: with the total kept, the cells withheld must not be recoverable by
   subtracting the cells shown from it.  Each ``<5`` is a count from 1 to 4 and each
   secondary cell (``[c]``) one of 5 or more, so the withheld cells add up to
   ``R = total − the cells shown``; every withheld cell can still take two values or more
   exactly when at least two cells are withheld and ``R`` is neither the least nor the most
   they could add up to (all ``<5`` at 1 and all ``[c]`` at 5; all ``<5`` at 4).  While that
   is not so, the smallest count still shown that is not 0 (the first, among equals) is
   withheld too, as ``[c]``; when there is none left, the total is withheld instead.

What a reader can work out is judged from what is shown, the total and what the two marks
mean (``<5``: 1–4; ``[c]``: withheld, 5 or more for a cell).  A reader who also replays
*which* cell this module would have chosen can sometimes narrow a cell further (a
``[c]`` that is the smallest count withheld is at most the smallest shown); published
disclosure checks (τ-Argus's audit, for one) judge tables the same way, by what is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from taserlink.errors import InputFileError, excerpt
from taserlink.returns.population import GROUPS
from taserlink.returns.rates import REFERENCE, Rate

__all__ = [
    "NOT_REPORTED",
    "PRIMARY",
    "THRESHOLD",
    "WITHHELD",
    "Suppressed",
    "derived_table",
    "public_rates",
    "suppress_counts",
    "suppress_part",
    "suppress_table",
]

THRESHOLD = 5
"""Counts from 1 to ``THRESHOLD − 1`` are never shown."""
PRIMARY = "<5"
"""What a count from 1 to 4 is shown as."""
WITHHELD = "[c]"
"""What a count withheld to protect a ``<5`` (or a value derived from a withheld count) is
shown as: the GSS symbol for confidential data."""
NOT_REPORTED = "Not reported"
"""The row of uses whose subject's ethnicity was not reported (the published table's)."""


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A one-way table as published.

    Attributes:
        cells: each count as shown: the number, :data:`PRIMARY` or :data:`WITHHELD`.
        total: the total as shown.
        primary: the indexes of the cells shown as :data:`PRIMARY`.
        secondary: the indexes of the cells withheld to protect them.
        total_withheld: whether the total is withheld (not shown as a number).
    """

    cells: tuple[str, ...]
    total: str
    primary: frozenset[int]
    secondary: frozenset[int]
    total_withheld: bool

    @property
    def withheld(self) -> frozenset[int]:
        """The indexes of every cell not shown as a number."""
        return self.primary | self.secondary


def _protected(values: Sequence[int], primary: set[int], secondary: set[int]) -> bool:
    """Whether no withheld cell can be worked out from the total (module docstring, 3)."""
    if len(primary) + len(secondary) < 2:
        return False
    withheld = sum(values[i] for i in primary) + sum(values[i] for i in secondary)
    least = len(primary) + THRESHOLD * len(secondary)
    most = (THRESHOLD - 1) * len(primary) if not secondary else None
    return withheld > least and (most is None or withheld < most)


def suppress_counts(counts: Sequence[int]) -> Suppressed:
    """The counts of a one-way table (its rows, in order; the total is their sum) as
    published under the rules of the module docstring.

    Raises:
        InputFileError: (``source`` ``counts``) a count that is not a whole number from 0.
    """
    values = list(counts)
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputFileError(
                f"{excerpt(repr(value))} is not a count (a whole number from 0)", "counts"
            )
    total = sum(values)
    primary = {i for i, value in enumerate(values) if 0 < value < THRESHOLD}
    secondary: set[int] = set()
    total_withheld = False
    if 0 < total < THRESHOLD:
        total_withheld = len(primary) >= THRESHOLD - 1
        shown_total = WITHHELD if total_withheld else PRIMARY
    else:
        shown_total = str(total)
        if primary:
            while not _protected(values, primary, secondary):
                candidates = [
                    i
                    for i, value in enumerate(values)
                    if value > 0 and i not in primary and i not in secondary
                ]
                if not candidates:
                    total_withheld, shown_total = True, WITHHELD
                    break
                secondary.add(min(candidates, key=lambda i: (values[i], i)))
    cells = tuple(
        PRIMARY if i in primary else WITHHELD if i in secondary else str(value)
        for i, value in enumerate(values)
    )
    return Suppressed(cells, shown_total, frozenset(primary), frozenset(secondary), total_withheld)


def suppress_table(
    rows: Sequence[tuple[str, int]], total_label: str = "Total"
) -> tuple[tuple[str, str], ...]:
    """A one-way table's ``(label, count)`` rows, in order, as published: ``(label, shown)``
    for each row, then ``(total_label, shown total)`` (:func:`suppress_counts`).

    Raises:
        InputFileError: a count that is not a whole number from 0.
    """
    published = suppress_counts([count for _, count in rows])
    return (
        *((label, shown) for (label, _), shown in zip(rows, published.cells, strict=True)),
        (total_label, published.total),
    )


def public_rates(
    rates: Sequence[Rate], not_reported: int = 0
) -> tuple[dict[str, str | int | float | None], ...]:
    """The ``rates`` of ``scrutiny.json`` for a public pack: each :meth:`Rate.as_dict`, with
    what small numbers would give away withheld.

    The uses are suppressed as the ethnicity table (White, Black, Asian, Mixed, Other,
    :data:`NOT_REPORTED`, Total) is, by :func:`suppress_counts` over the same counts, so
    the two published tables hide the same cells.  A group whose uses are withheld shows
    them as :data:`PRIMARY` or :data:`WITHHELD` and its ``per_10000``, ``ratio_to_white``,
    ``ci_low`` and ``ci_high`` as :data:`WITHHELD` (each gives the count back, with the
    population); when White's uses are withheld, every ratio and interval is (each gives
    White's count back).  The population is shown (it is the census's).  Values not
    withheld are as :meth:`Rate.as_dict` gives them (``None``: no interval).

    Args:
        rates: the five groups' rates (:func:`taserlink.returns.rates.rates`), in order.
        not_reported: the uses whose subject's ethnicity was not reported.

    Raises:
        InputFileError: (``source`` ``rates``) rates that are not the five groups in order,
            or a ``not_reported`` that is not a count.
    """
    if tuple(rate.group for rate in rates) != GROUPS:
        raise InputFileError(
            f"rates must be for {', '.join(GROUPS)}, in that order "
            "(as taserlink.returns.rates.rates gives them)",
            "rates",
        )
    published = suppress_counts([*(rate.uses for rate in rates), not_reported])
    white_hidden = GROUPS.index(REFERENCE) in published.withheld
    rows = []
    for index, rate in enumerate(rates):
        row = rate.as_dict()
        if index in published.withheld:
            row["uses"] = published.cells[index]
            row["per_10000"] = WITHHELD
        if index in published.withheld or white_hidden:
            row["ratio_to_white"] = row["ci_low"] = row["ci_high"] = WITHHELD
        rows.append(row)
    return tuple(rows)


def derived_table(
    published: Sequence[Sequence[str]],
    groups: Sequence[tuple[str, Sequence[str]]],
    total_label: str = "Total",
) -> tuple[tuple[str, str], ...]:
    """A table whose rows are sums of a published table's rows (discharges: fired + drive
    stun + angled drive stun), showing only what the published table already gives away.

    A group's sum is shown when the published table gives it: when none of its rows is
    withheld (the sum of the numbers shown), or when every withheld row is in it and the
    total is shown (the total less the other rows shown — which says no more than the
    published table's own total does).  Otherwise it is :data:`WITHHELD`.  The total is
    the published total.

    Args:
        published: the published table's ``(label, shown)`` rows, its total last (as
            :func:`suppress_table` gives them, or every count shown).
        groups: each derived row's label and the labels of the published rows it sums;
            together they must take every published row (but the total) once.
        total_label: the derived table's total row's label.

    Raises:
        InputFileError: (``source`` ``groups``) groups that do not take every published
            row exactly once.
    """
    cells = {row[0]: row[1] for row in published[:-1]}
    taken = [label for _, members in groups for label in members]
    if sorted(taken) != sorted(cells):
        raise InputFileError(
            "the groups must take every row of the published table exactly once", "groups"
        )
    hidden = {label for label, shown in cells.items() if not shown.isdigit()}
    total = published[-1][1]
    rows = []
    for label, members in groups:
        inside = set(members)
        if not inside & hidden:
            shown = str(sum(int(cells[m]) for m in members))
        elif hidden <= inside and total.isdigit():
            shown = str(int(total) - sum(int(v) for k, v in cells.items() if k not in inside))
        else:
            shown = WITHHELD
        rows.append((label, shown))
    return (*rows, (total_label, total))


def suppress_part(
    rows: Sequence[tuple[str, int]], total_public: bool, total_label: str = "Total"
) -> tuple[tuple[str, str], ...]:
    """A one-way table that breaks down a figure another published table withholds or
    shows (the uses on under-18s by highest use; their number is the age table's
    under 11 and 11-17).

    When ``total_public`` (the other table gives the figure), it is :func:`suppress_table`.
    When not, this table must not give it either: its total is :data:`WITHHELD` and so is
    every count but 0 (were any shown, the rest could be bounded and, with none withheld,
    added up to the figure).

    Raises:
        InputFileError: a count that is not a whole number from 0.
    """
    if total_public:
        return suppress_table(rows, total_label)
    suppress_counts([count for _, count in rows])  # checks the counts
    return (
        *((label, "0" if count == 0 else WITHHELD) for label, count in rows),
        (total_label, WITHHELD),
    )
