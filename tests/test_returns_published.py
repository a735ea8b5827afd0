"""The Home Office return's counting rules (``taserlink.returns.counting``) checked against
real published figures: force-years of accounts built by
:func:`taserlink.returns.forceyear.force_year` — with multiply-ticked forms, several
reports per incident, two devices in one report, a CED use with no device and reports at
the year's edges in UK local time — written as ``ACCOUNTS.csv``, read back and counted,
must give the Home Office tables for the year to March 2020 exactly; and properties of the
counting over random accounts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import ReturnError
from taserlink.postuse.accounts import (
    AGE_BANDS,
    ETHNICITIES,
    HEALTH,
    USES,
    Account,
    read_accounts,
    write_accounts,
)
from taserlink.returns.counting import (
    HIGHEST_USES,
    NOT_STATED,
    TABLES,
    count_return,
    financial_year,
    financial_year_bounds,
    use_of,
)
from taserlink.returns.forceyear import DECOYS, force_year
from taserlink.returns.published import DERBYSHIRE_2019, NATIONAL_2019
from taserlink.timeline.times import parse_utc

LABELS = dict(TABLES[0].rows)


def _published(counts: dict[str, int]) -> dict[str, int]:
    table = {LABELS[value]: n for value, n in counts.items()}
    ordered = {label: table[label] for _, label in TABLES[0].rows}
    return {**ordered, "Total": sum(counts.values())}


def _through_a_file(accounts: list[Account], tmp_path: Path) -> tuple[Account, ...]:
    path = tmp_path / "ACCOUNTS.csv"
    write_accounts(accounts, path)
    return read_accounts(path).accounts


def test_derbyshire_year_to_march_2020(tmp_path: Path) -> None:
    ethnicity = {"White": 170, "Black": 20, "Asian": 16, "Mixed": 2, "Other": 1, None: 2}
    accounts = force_year(2019, DERBYSHIRE_2019, ethnicity=ethnicity, seed=2020)
    counted = count_return(_through_a_file(accounts, tmp_path), 2019)
    assert counted.table("ced-by-highest-use").as_dict() == _published(DERBYSHIRE_2019)
    assert sum(DERBYSHIRE_2019.values()) == 211 == len(counted.uses)
    by_ethnicity = counted.table("ced-by-ethnicity")
    assert (by_ethnicity["White"], by_ethnicity["Black"], by_ethnicity["Asian"]) == (170, 20, 16)
    rest = by_ethnicity["Mixed"] + by_ethnicity["Other"] + by_ethnicity["Not reported"]
    assert by_ethnicity.total == 211 and rest == 211 - 170 - 20 - 16
    # the corpus holds what makes totals disagree when counted wrongly
    _holds_every_hard_case(accounts, 2019)


def test_england_and_wales_year_to_march_2020(tmp_path: Path) -> None:
    accounts = force_year(2019, NATIONAL_2019, seed=32058)
    counted = count_return(_through_a_file(accounts, tmp_path), 2019)
    assert counted.table("ced-by-highest-use").as_dict() == _published(NATIONAL_2019)
    assert len(counted.uses) == 32_058
    assert all(table.total == 32_058 for table in counted.tables)
    _holds_every_hard_case(accounts, 2019)


def _holds_every_hard_case(accounts: list[Account], year: int) -> None:
    lo, hi = financial_year_bounds(year)
    inside = [a for a in accounts if lo <= a.start_ms < hi]
    assert len(accounts) - len(inside) == DECOYS
    ticked = [sum(getattr(a, u) is True for u in USES) for a in inside]
    assert max(ticked) >= 3  # multiply-ticked forms
    per_report = Counter(a.report for a in inside)
    assert max(per_report.values()) == 2  # two devices in one report
    reports_per_incident = Counter(a.incident for a in {a.report: a for a in inside}.values())
    assert max(reports_per_incident.values()) >= 2  # several officers on one subject
    assert any(a.device is None for a in inside)  # a CED use with no device
    assert lo in {a.start_ms for a in inside}  # 00:00 BST on 1 April, 23:00 UTC the day before


@pytest.mark.parametrize(
    ("utc", "year"),
    [
        ("2019-03-31T00:30:00Z", 2018),  # 00:30 GMT, 31 March
        ("2019-03-31T22:59:59.999Z", 2018),  # 23:59:59 BST, 31 March
        ("2019-03-31T23:00:00Z", 2019),  # 00:00 BST, 1 April
        ("2019-03-31T23:30:00Z", 2019),  # 00:30 BST, 1 April: the UTC date says March
        ("2020-03-31T22:30:00Z", 2019),
        ("2020-03-31T23:30:00Z", 2020),  # 00:30 BST, 1 April 2020
        ("2019-12-31T23:59:59Z", 2019),
        ("2020-01-01T00:00:00Z", 2019),
    ],
)
def test_the_year_is_reckoned_in_uk_local_time(utc: str, year: int) -> None:
    ms = parse_utc(utc)
    assert financial_year(ms) == year
    lo, hi = financial_year_bounds(year)
    assert lo <= ms < hi


def test_a_year_outside_the_range_is_refused() -> None:
    for bad in (1899, 9999, True, "2019"):
        with pytest.raises(ReturnError):
            financial_year_bounds(bad)  # type: ignore[arg-type]


def test_highest_use_and_the_rows_with_no_device() -> None:
    base = {"report": "R-1", "incident": "I-1", "officer": "PC 1", "start_ms": 0}
    fired = Account(**base, device="DARBY0NVE1", drawn=True, aimed=True, fired=True)
    assert use_of(fired) is not None and use_of(fired).highest_use == "fired"  # type: ignore[union-attr]
    nothing = Account(**base, device="DARBY0NVE1", drawn=False)
    assert use_of(nothing).highest_use == NOT_STATED  # type: ignore[union-attr]
    assert use_of(Account(**base, drawn=True)).device is None  # type: ignore[union-attr]
    assert use_of(Account(**base, drawn=False)) is None  # no CED, nothing ticked


_ticks = st.sampled_from((True, False, None))
_accounts = st.lists(
    st.builds(
        Account,
        report=st.integers(0, 10**9).map(lambda n: f"R-{n}"),
        incident=st.just("I-1"),
        officer=st.just("PC 1"),
        start_ms=st.integers(parse_utc("2019-01-01T00:00:00Z"), parse_utc("2020-06-01T00:00:00Z")),
        device=st.sampled_from((None, "DARBY0NVE1")),
        subject_age=st.sampled_from((*AGE_BANDS, None)),
        subject_ethnicity=st.sampled_from((*ETHNICITIES, None)),
        subject_health=st.sampled_from((*HEALTH, None)),
        **{use: _ticks for use in USES},
    ),
    max_size=60,
)


@settings(max_examples=150)
@given(_accounts)
def test_the_total_is_the_uses_and_each_use_is_in_one_row(accounts: list[Account]) -> None:
    counted = count_return(accounts, 2019)
    lo, hi = financial_year_bounds(2019)
    expected = [a for a in accounts if lo <= a.start_ms < hi and use_of(a) is not None]
    assert len(counted.uses) == len(expected)
    for table, spec in zip(counted.tables, TABLES, strict=True):
        assert table.total == len(counted.uses)
        assert sum(row.count for row in table.rows[:-1]) == table.total
        for value, label in spec.rows:  # each use in exactly one row: its value's
            assert table[label] == sum(getattr(u, spec.field) == value for u in counted.uses)
    assert {u.highest_use for u in counted.uses} <= set(HIGHEST_USES)
