"""Force-years of accounts with known Home Office tables: the test corpus of the counting
rules (tests/test_returns_published.py builds the published Derbyshire and national
years with it) and the benchmark's input (bench/bench_returns.py).

It lives in the library, beside the rules it exercises, because more than the tests use
it: the benchmark, and a force trying ``taserlink home-office`` on a made-up year.

:func:`force_year` makes accounts whose uses in the financial year give *exactly* the
asked highest-use counts (and ethnicity counts, when asked), while exercising every
counting rule that could make a total disagree:

- **multiply-ticked forms**: a use's highest tick is set yes with most of the lower uses
  ticked yes too (drawn + aimed + fired counts once, as fired); the higher uses are ticked
  ``no`` or left empty;
- **not stated**: a device named and no tick yes (every tick ``no`` or empty);
- **several officers per subject**: incidents of one to three reports;
- **two devices in one report**: every ``pair_every``-th report has two rows (two uses);
- **a CED use with no device**: one report ticks drawn with the device left empty;
- **the year's edges in UK local time**: uses just inside the year
  (``YYYY-03-31T23:00:00Z`` is 00:00 BST on 1 April), and decoy reports just outside it
  (``YYYY-03-31T22:59:59Z``, ``(YYYY+1)-03-31T23:30:00Z``) that the year must not count.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from taserlink.postuse.accounts import AGE_BANDS, ETHNICITIES, HEALTH, Account
from taserlink.postuse.uses import SEVERITY, USES
from taserlink.returns.counting import HIGHEST_USES, NOT_STATED, financial_year_bounds
from taserlink.serials import DEVICE_SCHEME

__all__ = ["DECOYS", "force_year"]

DECOYS: Final = 3
"""How many reports :func:`force_year` adds outside the year (never counted)."""
_AGE_WEIGHTS: Final = (1, 40, 450, 300, 100, 15, 94)
"""Subjects' ages per 1,000 uses (:data:`AGE_BANDS`, then not reported): a plausible mix
with most subjects adults under 50 and a few children — made up, not a published table."""
_HEALTH_WEIGHTS: Final = (250, 50, 50, 450, 200)
"""Subjects' perceived health per 1,000 uses (:data:`HEALTH`, then not reported): made up."""


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def _ticks(highest: str, rng: random.Random) -> dict[str, bool | None]:
    """The seven ticks of a form whose highest use is ``highest``."""
    if highest == NOT_STATED:
        return {use: rng.choice((False, None)) for use in USES}
    rank = SEVERITY[highest]
    ticks: dict[str, bool | None] = {}
    for use in USES:
        if use == highest:
            ticks[use] = True
        elif SEVERITY[use] < rank:
            ticks[use] = rng.random() < 0.7
        else:
            ticks[use] = rng.choice((False, None))
    return ticks


def _ticked(account: Account, **ticks: bool | None) -> Account:
    changes: dict[str, Any] = dict(ticks)
    return replace(account, **changes)


def force_year(
    year: int,
    highest: Mapping[str, int],
    *,
    ethnicity: Mapping[str | None, int] | None = None,
    seed: int = 0,
    pair_every: int = 37,
) -> list[Account]:
    """Accounts whose financial year ``year`` has the highest-use counts ``highest`` (and
    ``ethnicity``'s counts, keys one of ``ETHNICITIES`` or ``None`` for not reported),
    plus :data:`DECOYS` reports outside the year (module docstring).

    Args:
        year: the financial year.
        highest: uses per highest use (keys of :data:`HIGHEST_USES`; missing keys 0).
        ethnicity: uses per ethnicity, summing to the uses; ``None``: drawn at random.
        seed: the random seed (the same seed, the same accounts).
        pair_every: every this many reports has two devices (two uses).

    Raises:
        ValueError: an unknown highest use or ethnicity, ethnicity counts that do not sum
            to the uses or cannot give both uses of a two-device report one subject.
    """
    rng = random.Random(seed)
    unknown = set(highest) - set(HIGHEST_USES)
    if unknown:
        raise ValueError(f"unknown highest use(s): {sorted(unknown)}")
    levels = [level for level in HIGHEST_USES for _ in range(highest.get(level, 0))]
    rng.shuffle(levels)
    total = len(levels)
    # reports: a list of use counts (1, or 2 for a two-device report)
    sizes: list[int] = []
    left = total
    while left:
        size = 2 if left >= 2 and (len(sizes) + 1) % pair_every == 0 else 1
        sizes.append(size)
        left -= size
    subjects = _subjects(sizes, ethnicity, rng)
    devices = [DEVICE_SCHEME.generate(rng) for _ in range(max(4, total // 20))]
    lo, hi = financial_year_bounds(year)
    edges = [_ms(f"{year}-03-31T23:00:00+00:00"), _ms(f"{year + 1}-03-31T22:59:59+00:00")]
    accounts: list[Account] = []
    incident = 0
    in_incident = 0
    no_device_done = False
    k = 0
    for n, size in enumerate(sizes):
        if in_incident == 0:
            incident += 1
            in_incident = rng.choice((1, 1, 1, 2, 3))
            start = edges[n] if n < len(edges) else rng.randrange(lo, hi) // 60_000 * 60_000
            later = 0  # the incident's first report starts at its start (an edge)
        else:
            later = rng.randrange(1, 4) * 60_000
        in_incident -= 1
        when = max(lo, min(start + later, hi - 1))
        age, ethnic, health = subjects[n]
        chosen = rng.sample(devices, size)
        for d in range(size):
            level = levels[k]
            k += 1
            device: str | None = chosen[d]
            if not no_device_done and size == 1 and level == "drawn":
                device, no_device_done = None, True
            accounts.append(
                _ticked(
                    Account(
                        report=f"R-{n + 1:06d}",
                        incident=f"I-{incident:06d}",
                        officer=f"PC {1000 + (n * 7 + in_incident) % 900}",
                        start_ms=when,
                        end_ms=when + 120_000,
                        device=device,
                        subject_age=age,
                        subject_ethnicity=ethnic,
                        subject_health=health,
                    ),
                    **_ticks(level, rng),
                )
            )
    decoys = [
        (_ms(f"{year}-03-31T22:59:59+00:00"), "fired"),
        (_ms(f"{year + 1}-03-31T23:30:00+00:00"), "drawn"),
        (_ms(f"{year + 1}-04-01T00:00:00+01:00"), NOT_STATED),
    ]
    for m, (when, level) in enumerate(decoys):
        accounts.append(
            _ticked(
                Account(
                    report=f"X-{m + 1}",
                    incident=f"X-{m + 1}",
                    officer="PC 9999",
                    start_ms=when,
                    device=devices[0],
                ),
                **_ticks(level, rng),
            )
        )
    rng.shuffle(accounts)
    return accounts


def _subjects(
    sizes: list[int], ethnicity: Mapping[str | None, int] | None, rng: random.Random
) -> list[tuple[str | None, str | None, str | None]]:
    """A subject (age band, ethnicity, health) per report; both uses of a two-device report
    share one subject, so its ethnicity counts twice."""
    total = sum(sizes)
    if ethnicity is None:
        groups: list[str | None] = [*ETHNICITIES, None]
        ethnicity = {g: 0 for g in groups}
        for _ in range(total):
            ethnicity[rng.choice(groups)] += 1
    unknown = set(ethnicity) - {*ETHNICITIES, None}
    if unknown or sum(ethnicity.values()) != total:
        raise ValueError(f"ethnicity counts {dict(ethnicity)} do not fit {total} uses")
    pool = dict(ethnicity)
    pairs = sizes.count(2)
    paired: list[str | None] = []
    for _ in range(pairs):
        group = max(pool, key=lambda g: pool[g])
        if pool[group] < 2:
            raise ValueError("too few uses of one ethnicity for the two-device reports")
        pool[group] -= 2
        paired.append(group)
    singles = [g for g, n in pool.items() for _ in range(n)]
    rng.shuffle(singles)
    out = []
    for size in sizes:
        group = paired.pop() if size == 2 else singles.pop()
        age = rng.choices((*AGE_BANDS, None), _AGE_WEIGHTS)[0]
        out.append((age, group, rng.choices((*HEALTH, None), _HEALTH_WEIGHTS)[0]))
    return out
