"""The register's ledger at speed: the same hashes, entries and findings as by definition.

An entry's hash is defined on ``json.dumps`` of its fields; the ledger builds that text
from json's own pieces, appends a kit's entries together and verifies from plain rows in
chunks.  These tests hold each fast path to its definition.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, select, update

from taserlink.register import ledger as L
from taserlink.register.schema import ledger, ledger_head, metadata

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
"""Any text a field may hold (surrogates are not text: UTF-8 cannot carry them)."""
NUMBER = st.integers(0, 2**63 - 1)


def _defined(*form: Any) -> str:
    """An entry's hash as defined (ledger module docstring)."""
    text = json.dumps(list(form), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@given(
    prev=TEXT,
    seq=NUMBER,
    at_ms=NUMBER,
    operator=TEXT,
    terminal=TEXT,
    event=TEXT,
    officer=st.none() | TEXT,
    item=st.none() | TEXT,
    detail=st.dictionaries(TEXT, st.none() | TEXT | NUMBER, max_size=3).map(L.canonical),
)
def test_an_entrys_hash_is_the_sha256_of_its_json_form(
    prev: str,
    seq: int,
    at_ms: int,
    operator: str,
    terminal: str,
    event: str,
    officer: str | None,
    item: str | None,
    detail: str,
) -> None:
    form = (prev, seq, at_ms, operator, terminal, event, officer, item, detail)
    assert L.entry_hash(*form) == _defined(*form)


def _empty() -> Engine:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(ledger_head.insert().values(id=1, seq=0, hash=L.GENESIS))
    return engine


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(ledger).order_by(ledger.c.seq)).all()
        head = conn.execute(select(ledger_head)).all()
    return [tuple(r) for r in rows + head]


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["issued", "returned", "lost"]),
        st.none() | TEXT,
        st.none() | TEXT,
        st.none() | st.dictionaries(TEXT, TEXT, max_size=2),
    ),
    min_size=1,
    max_size=6,
)


@given(kits=st.lists(EVENTS, min_size=1, max_size=4), at_ms=NUMBER)
def test_a_kit_appended_together_is_the_kit_appended_one_by_one(
    kits: list[list[tuple[str, str | None, str | None, dict[str, str] | None]]], at_ms: int
) -> None:
    together, one_by_one = _empty(), _empty()
    for kit in kits:
        with together.begin() as conn:
            made = L.append_all(conn, at_ms=at_ms, operator="PS 88", terminal="t", events=kit)
        with one_by_one.begin() as conn:
            for event, officer, item, detail in kit:
                L.append(
                    conn,
                    at_ms=at_ms,
                    operator="PS 88",
                    terminal="t",
                    event=event,
                    officer=officer,
                    item=item,
                    detail=detail,
                )
        assert [e.event for e in made] == [e[0] for e in kit]
    assert _rows(together) == _rows(one_by_one)
    with together.connect() as conn:
        check = L.verify_ledger(conn)
    assert check.ok and check.entries == sum(len(k) for k in kits)


def test_verify_names_the_first_broken_entry_past_a_chunk() -> None:
    """Entries past the first 10,000 read are checked as the first ones are."""
    engine = _empty()
    length = 10_005
    with engine.begin() as conn:
        events = [("issued", "PC 1", f"S{n:09d}", None) for n in range(length)]
        made = L.append_all(conn, at_ms=1, operator="PS 88", terminal="t", events=events)
        assert L.verify_ledger(conn) == L.LedgerCheck(length, True, last_hash=made[-1].hash)
        conn.execute(update(ledger).where(ledger.c.seq == 10_003).values(officer="PC 2"))
        edited = L.verify_ledger(conn)
        assert (edited.ok, edited.seq, edited.entries) == (False, 10_003, 10_003)
        assert edited.problem is not None and "edited" in edited.problem
        conn.execute(delete(ledger).where(ledger.c.seq == 10_001))
        removed = L.verify_ledger(conn)
        assert (removed.ok, removed.seq) == (False, 10_001)
        assert removed.problem is not None and "entry 10001 is missing" in removed.problem
