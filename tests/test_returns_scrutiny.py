"""The oversight group's figures (``taserlink.returns.scrutiny``): the Derbyshire year to
March 2020 against its published figures and the census, the month and discharge tables
against the uses, the energy figures against station months whose truth is known (the
firmware model's own log of what it delivered, not the episodes' reading of it), and the
public pack's suppression: no count from 1 to 4 shown, and no table telling more than the
table it is derived from (checked by enumerating every count the shown cells allow)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.emulator.station import station_month
from taserlink.postuse.accounts import Account, read_accounts
from taserlink.returns.counting import HIGHEST_USE_ROWS, TOTAL, financial_year
from taserlink.returns.forceyear import force_year
from taserlink.returns.homeoffice import home_office_return
from taserlink.returns.population import DERBYSHIRE_2011
from taserlink.returns.published import DERBYSHIRE_2019
from taserlink.returns.scrutiny import (
    DISCHARGES,
    Scrutiny,
    pack_rates,
    pack_tables,
    scrutinise,
)
from taserlink.returns.suppress import (
    PRIMARY,
    THRESHOLD,
    WITHHELD,
    derived_table,
    suppress_part,
    suppress_table,
)
from taserlink.timeline.times import parse_utc

DERBYSHIRE_ETHNICITY = {"White": 170, "Black": 20, "Asian": 16, "Mixed": 2, "Other": 1, None: 2}


def derbyshire_accounts(seed: int = 2020) -> list[Account]:
    """A force-year of accounts giving the published Derbyshire year to March 2020."""
    return force_year(2019, DERBYSHIRE_2019, ethnicity=DERBYSHIRE_ETHNICITY, seed=seed)


@pytest.fixture(scope="module")
def derbyshire() -> Scrutiny:
    return scrutinise(home_office_return(derbyshire_accounts(), 2019), DERBYSHIRE_2011)


def _table(scrutiny: Scrutiny, name: str, *, public: bool = False) -> dict[str, str]:
    found = next(t for t in pack_tables(scrutiny, public=public) if t.name == name)
    return {row[0]: row[1] for row in found.rows}


def test_derbyshire_black_white_ratio_is_eleven(derbyshire: Scrutiny) -> None:
    black = next(rate for rate in derbyshire.rates if rate.group == "Black")
    assert (black.uses, black.population) == (20, 10_090)
    assert black.ratio_to_white == pytest.approx((20 / 10_090) / (170 / 949_845))
    assert round(black.ratio_to_white or 0, 1) == 11.1
    assert black.ci_low is not None and black.ci_high is not None
    assert black.ci_low < black.ratio_to_white < black.ci_high
    rows = pack_rates(derbyshire)
    assert [row["group"] for row in rows] == ["White", "Black", "Asian", "Mixed", "Other"]


def test_derbyshire_discharges_are_the_seeds_21_of_211(derbyshire: Scrutiny) -> None:
    assert _table(derbyshire, "discharges") == {
        "Discharged": "21",
        "Not discharged": "190",
        TOTAL: "211",
    }
    fired = _table(derbyshire, "ced-by-highest-use")
    discharge_labels = [label for value, label in HIGHEST_USE_ROWS if value in DISCHARGES]
    assert sum(int(fired[label]) for label in discharge_labels) == 21


def test_months_hold_every_use_once_in_uk_local_months(derbyshire: Scrutiny) -> None:
    assert derbyshire.months[0] == "2019-04" and derbyshire.months[-1] == "2020-03"
    assert sum(map(sum, derbyshire.by_month)) == 211
    columns = [sum(row[i] for row in derbyshire.by_month) for i in range(len(HIGHEST_USE_ROWS))]
    assert columns == [DERBYSHIRE_2019.get(value, 0) for value, _ in HIGHEST_USE_ROWS]

    # each use in the month of its start in UK time, by the rule of the clocks (BST from
    # 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October),
    # not by the zone database the code uses; force_year puts reports on the year's edges
    def uk_month(ms: int) -> str:
        when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

        def last_sunday(month: int) -> dt.datetime:
            day = dt.datetime(when.year, month, 31, 1, tzinfo=dt.UTC)
            return day - dt.timedelta(days=(day.weekday() + 1) % 7)

        summer = last_sunday(3) <= when < last_sunday(10)
        return (when + dt.timedelta(hours=summer)).strftime("%Y-%m")

    by_month = {m: sum(row) for m, row in zip(derbyshire.months, derbyshire.by_month, strict=True)}
    expected = Counter(uk_month(u.start_ms) for u in derbyshire.uses)
    assert by_month == {m: expected.get(m, 0) for m in derbyshire.months}
    edge = [u for u in derbyshire.uses if u.start_ms == parse_utc("2019-03-31T23:00:00Z")]
    assert edge and {uk_month(u.start_ms) for u in edge} == {"2019-04"}


def test_under_18s_and_their_list(derbyshire: Scrutiny) -> None:
    ages = _table(derbyshire, "ced-by-age")
    under = _table(derbyshire, "under-18s")
    assert int(under[TOTAL]) == int(ages["Under 11"]) + int(ages["11-17"])
    listed = next(t for t in pack_tables(derbyshire) if t.name == "under-18-reports")
    assert len(listed.rows) == int(under[TOTAL])
    assert {row[4] for row in listed.rows} <= {"under 11", "11-17"}


def test_no_population_no_rates(derbyshire: Scrutiny) -> None:
    bare = scrutinise(derbyshire.result)
    assert bare.rates == () and pack_rates(bare) == ()
    assert "rates" not in {t.name for t in pack_tables(bare)}


# -- public pack ------------------------------------------------------------------------


def test_public_pack_shows_no_count_under_five(derbyshire: Scrutiny) -> None:
    tables = pack_tables(derbyshire, public=True)
    names = {t.name for t in tables}
    assert "under-18-reports" not in names and "device-higher" not in names
    for table in tables:
        for row in table.rows:
            for cell in row[1:2]:
                assert not (cell.isdigit() and 0 < int(cell) < THRESHOLD), (table.name, row)
    rates = {row["group"]: row for row in pack_rates(derbyshire, public=True)}
    assert rates["Mixed"]["uses"] == PRIMARY and rates["Mixed"]["ratio_to_white"] == WITHHELD
    assert rates["Black"]["uses"] == 20 and isinstance(rates["Black"]["ci_low"], float)
    ethnicity = _table(derbyshire, "ced-by-ethnicity", public=True)
    for group in ("White", "Black", "Asian", "Mixed", "Other"):
        assert str(rates[group]["uses"]) == ethnicity[group]


def _possible(published: Sequence[tuple[str, str]], values_max: int) -> list[tuple[int, ...]]:
    """Every table of counts the published cells and total allow."""
    ranges = []
    for _, shown in published[:-1]:
        if shown == PRIMARY:
            ranges.append(range(1, THRESHOLD))
        elif shown == WITHHELD:
            ranges.append(range(THRESHOLD, values_max + 1))
        else:
            ranges.append(range(int(shown), int(shown) + 1))
    total = published[-1][1]
    return [
        combo
        for combo in itertools.product(*ranges)
        if not total.isdigit() or sum(combo) == int(total)
    ]


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 9), min_size=3, max_size=6),
    cut=st.data(),
)
def test_derived_table_tells_nothing_the_published_table_does_not(
    counts: list[int], cut: st.DataObject
) -> None:
    labels = [f"r{i}" for i in range(len(counts))]
    published = suppress_table(list(zip(labels, counts, strict=True)))
    split = cut.draw(st.integers(1, len(labels) - 1))
    groups = (("first", tuple(labels[:split])), ("rest", tuple(labels[split:])))
    derived = derived_table(published, groups)
    assert derived[-1] == published[-1]
    maximum = sum(counts)
    before = _possible(published, maximum)
    assert tuple(counts) in before
    after = []
    for combo in before:
        sums = (sum(combo[:split]), sum(combo[split:]))
        if all(not s.isdigit() or int(s) == v for (_, s), v in zip(derived, sums, strict=False)):
            after.append(combo)
    for index in range(len(counts)):  # each cell can take as many values as before
        assert {c[index] for c in after} == {c[index] for c in before}
    for (_, shown), value in zip(derived, (sum(counts[:split]), sum(counts[split:])), strict=False):
        assert shown == WITHHELD or int(shown) == value


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=2, max_size=8), st.booleans())
def test_a_part_hides_a_figure_its_whole_withholds(counts: list[int], known: bool) -> None:
    rows = [(f"r{i}", n) for i, n in enumerate(counts)]
    shown = suppress_part(rows, known)
    if known:
        assert shown == suppress_table(rows)
        return
    assert shown[-1] == (TOTAL, WITHHELD)
    for (_, cell), n in zip(shown, counts, strict=False):
        assert cell == ("0" if n == 0 else WITHHELD)


# -- energy from the device logs, against the station month's truth -------------------


@pytest.mark.parametrize(
    "seed", [1, 2, 3, *(pytest.param(seed, marks=pytest.mark.slow) for seed in range(4, 24))]
)
def test_energy_matches_what_the_firmware_delivered(seed: int, tmp_path: Path) -> None:
    """Validation (docs/returns.md): 23 station months, seeds 1-23, the last 20 ``slow``."""
    month = station_month(seed)
    folder = tmp_path / "images"
    folder.mkdir()
    for name, data in month.images.items():
        (folder / name).write_bytes(data)
    accounts_path = tmp_path / "ACCOUNTS.csv"
    accounts_path.write_bytes(month.accounts_csv)
    accounts = read_accounts(accounts_path).accounts
    year = financial_year(min(use.start_ms for use in month.uses))
    result = home_office_return(accounts, year, images=sorted(folder.iterdir()))
    energy = scrutinise(result).energy
    assert energy is not None
    logged = [u for u in month.uses if u.planted != "not_downloaded"]  # no download has it
    delivered = [u for u in logged if u.cycles]
    assert sum(energy.lengths) == sum(u.cycles for u in logged)
    assert energy.lengths[1] + energy.lengths[2] == sum(u.longest_ms > 5_000 for u in logged)
    assert list(energy.cycles) == [sum(min(u.cycles, 3) == k for u in delivered) for k in (1, 2, 3)]
    unaccounted = [u for u in logged if not u.reports]
    assert energy.subjects.count("No report") == len(unaccounted)
    assert len(energy.episodes) == len(logged)


def test_a_total_one_table_must_hide_is_hidden_in_every_table() -> None:
    """Four uses, each at another highest use: that table shows four ``<5``, so its total
    (which would make them four 1s) is withheld, and so it is in every table of the uses."""
    accounts = force_year(2019, {"drawn": 1, "aimed": 1, "red_dotted": 1, "fired": 1}, seed=3)
    figures = scrutinise(home_office_return(accounts, 2019))
    assert len(figures.uses) == 4
    tables = {t.name: t for t in pack_tables(figures, public=True)}
    assert tables["ced-by-highest-use"].rows[-1] == (TOTAL, WITHHELD)
    for name in ("uses-by-month", "discharges", "ced-by-age", "ced-by-ethnicity"):
        assert tables[name].rows[-1] == (TOTAL, WITHHELD), name
    full = {t.name: t for t in pack_tables(figures)}
    assert full["ced-by-age"].rows[-1] == (TOTAL, "4")
