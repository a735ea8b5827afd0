"""The store room's register: its rules, its ledger, its files and its command."""

from __future__ import annotations

import datetime as dt
import glob
import io
import itertools
import json
import multiprocessing
import random
import shlex
import sqlite3
import subprocess
import sys
import uuid
from contextlib import redirect_stderr, redirect_stdout
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError

from taserlink.cli import main
from taserlink.errors import RefusedError, RegisterError
from taserlink.register import Register, authority_on, open_register
from taserlink.register import ledger as ledger_module
from taserlink.register.authority import add_months
from taserlink.register.move import copy_register
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME

DAY_MS = 86_400_000
HEAD_REVISION = "r0003"
ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 3, 6, 19, 0, tzinfo=dt.UTC)
NOW_MS = int(NOW.timestamp() * 1000)
RNG = random.Random(12)
DEVICES = [DEVICE_SCHEME.generate(RNG, "D") for _ in range(6)]
CARTRIDGES = [CARTRIDGE_SCHEME.generate(RNG, "X") for _ in range(6)]


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'register.db'}"


def _store(url: str) -> Register:
    """A register with three officers (current, lapsed, never trained), six devices and six
    cartridges (one expired)."""
    reg = open_register(url, create=True, operator="PS 88", terminal="store-1")
    reg.add_officers(
        [
            ("PC 2231", "A. Current", "Ripley", dt.date(2025, 9, 1), dt.date(2026, 2, 1), None),
            ("PC 7", "B. Lapsed", "Ripley", dt.date(2024, 1, 2), dt.date(2025, 1, 2), None),
            ("PC 9", "C. Untrained", "Ilkeston", None, None, None),
        ],
        at_ms=NOW_MS - DAY_MS,
    )
    reg.add_devices([(d, "X2", "3.1.0") for d in DEVICES], at_ms=NOW_MS - DAY_MS)
    expiry = [dt.date(2030, 1, 1)] * 5 + [dt.date(2026, 3, 1)]
    reg.add_cartridges(
        [(c, "LOT-1", e) for c, e in zip(CARTRIDGES, expiry, strict=True)], at_ms=NOW_MS - DAY_MS
    )
    return reg


# -- rule 1: authority ---------------------------------------------------------------------


@given(
    initial=st.dates(dt.date(2000, 1, 1), dt.date(2030, 1, 1)),
    later=st.integers(0, 900),
    day=st.integers(-10, 1200),
    months=st.integers(1, 36),
    suspended=st.sampled_from([None, "under investigation"]),
)
def test_authority_is_current_exactly_until_the_period_after_the_last_training(
    initial: dt.date, later: int, day: int, months: int, suspended: str | None
) -> None:
    last = initial + dt.timedelta(days=later)
    on = last + dt.timedelta(days=day)
    course = "refresher" if later else "initial"
    found = authority_on(
        "PC 1",
        initial=initial,
        last_training=(course, last),
        suspended=suspended,
        day=on,
        months=months,
    )
    until = add_months(last, months)
    assert found.until == until
    assert until > last and (until - last).days <= 31 * months
    assert found.authorised == (suspended is None and on < until)
    if suspended is not None:
        assert found.reason == f"PC 1's authority is suspended: {suspended}"
    elif on >= until:
        what = "last refresher" if later else "initial course"
        assert found.reason == f"PC 1's authority lapsed on {until}: {what} {last}"


def test_a_refusal_names_the_rule_and_the_dates(database_url: str) -> None:
    reg = _store(database_url)
    with pytest.raises(
        RefusedError, match=r"^PC 7's authority lapsed on 2026-01-02: last refresher 2025-01-02$"
    ):
        reg.issue("PC 7", [DEVICES[0]], at_ms=NOW_MS)
    with pytest.raises(RefusedError, match=r"^PC 9 has not passed the initial course$"):
        reg.issue("PC 9", [DEVICES[0]], at_ms=NOW_MS)
    reg.suspend("PC 2231", "under investigation", at_ms=NOW_MS)
    with pytest.raises(RefusedError, match="suspended: under investigation"):
        reg.issue("PC 2231", [DEVICES[0]], at_ms=NOW_MS)
    reg.reinstate("PC 2231", at_ms=NOW_MS)
    reg.issue("PC 2231", [DEVICES[0]], at_ms=NOW_MS)
    reg.train("PC 7", "refresher", dt.date(2026, 3, 5), at_ms=NOW_MS)
    # an issue back-dated before the refresher is judged on the courses passed by then
    with pytest.raises(RefusedError, match=r"lapsed on 2026-01-02: last refresher 2025-01-02"):
        reg.issue("PC 7", [DEVICES[1]], at_ms=NOW_MS - 2 * 86_400_000)
    assert reg.authority("PC 7", dt.date(2026, 3, 4)).until == dt.date(2026, 1, 2)
    reg.issue("PC 7", [DEVICES[1]], at_ms=NOW_MS)
    assert reg.item_status(DEVICES[1]).officer == "PC 7"
    assert reg.authority("PC 7", NOW.date()).until == dt.date(2027, 3, 5)


# -- rules 2 and 3: one holder, no spent or expired cartridge -----------------------------


def test_an_item_is_out_to_one_officer_and_a_kit_is_all_or_nothing(database_url: str) -> None:
    reg = _store(database_url)
    reg.train("PC 7", "refresher", dt.date(2026, 3, 5), at_ms=NOW_MS)
    reg.issue("PC 2231", [DEVICES[0], CARTRIDGES[0]], at_ms=NOW_MS)
    before = reg.ledger_length()
    with pytest.raises(RefusedError, match=f"^{DEVICES[0]} is out to PC 2231 since"):
        reg.issue("PC 7", [DEVICES[1], DEVICES[0]], at_ms=NOW_MS)
    assert reg.item_status(DEVICES[1]).state == "in_store"  # the kit's first item too
    assert reg.ledger_length() == before
    # issued again to its holder in the same millisecond: still refused, and named
    with pytest.raises(RefusedError, match=f"^{DEVICES[0]} is out to PC 2231 since"):
        reg.issue("PC 2231", [DEVICES[3], DEVICES[0]], at_ms=NOW_MS)
    with pytest.raises(RegisterError, match="no such item"):
        unknown = DEVICE_SCHEME.generate(random.Random(99), "D")
        reg.issue("PC 2231", [DEVICES[3], unknown], at_ms=NOW_MS)
    assert reg.ledger_length() == before
    with pytest.raises(RefusedError, match="not out"):
        reg.return_items([DEVICES[0], DEVICES[2]], at_ms=NOW_MS)
    assert reg.item_status(DEVICES[0]).state == "issued"
    reg.return_items([DEVICES[0]], at_ms=NOW_MS + 1000)
    reg.issue("PC 7", [DEVICES[0]], at_ms=NOW_MS + 2000)
    status = reg.officer_status("PC 2231", NOW.date()).as_dict()
    assert [i["serial"] for i in status["items"]] == [CARTRIDGES[0]]
    assert set(status) == {"officer", "authorised", "authority_until", "reason", "items"}
    assert set(status["items"][0]) == {"serial", "kind", "state", "officer", "since"}


def test_expired_expended_lost_and_damaged_cartridges_are_never_issued(
    database_url: str,
) -> None:
    reg = _store(database_url)
    with pytest.raises(RefusedError, match=f"^cartridge {CARTRIDGES[5]} expired on 2026-03-01"):
        reg.issue("PC 2231", [CARTRIDGES[5]], at_ms=NOW_MS)
    for serial, state in zip(CARTRIDGES[1:4], ("expended", "lost", "damaged"), strict=True):
        reg.mark([serial], state, note="test", at_ms=NOW_MS)
        with pytest.raises(RefusedError, match=f"is {state}: it is never issued again"):
            reg.issue("PC 2231", [serial], at_ms=NOW_MS)
        with pytest.raises(RefusedError, match=f"already {state}"):
            reg.mark([serial], "lost", at_ms=NOW_MS)
    with pytest.raises(RefusedError, match="cannot be expended"):
        reg.mark([DEVICES[0]], "expended", at_ms=NOW_MS)
    with pytest.raises(RegisterError, match="no such item"):
        reg.issue("PC 2231", [CARTRIDGE_SCHEME.generate(random.Random(99), "X")], at_ms=NOW_MS)


# -- the ledger ---------------------------------------------------------------------------


def _tamper(url: str, *statements: str) -> None:
    """Edit the register behind the library's back, as someone with the database would:
    switch off the triggers that refuse it, then change rows with plain SQL."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER ledger_no_update")
            conn.exec_driver_sql("DROP TRIGGER ledger_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE ledger DISABLE TRIGGER ledger_append_only")
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


def _busy(url: str) -> Register:
    reg = _store(url)
    for k in range(5):
        reg.issue("PC 2231", [DEVICES[k]], at_ms=NOW_MS + k)
        reg.return_items([DEVICES[k]], at_ms=NOW_MS + 10 + k)
    assert reg.verify().ok
    return reg


@pytest.mark.parametrize(
    ("statements", "seq", "words"),
    [
        (["UPDATE ledger SET operator = 'someone else' WHERE seq = 20"], 20, "was edited"),
        (["UPDATE ledger SET at_ms = at_ms + 1 WHERE seq = 17"], 17, "was edited"),
        (["DELETE FROM ledger WHERE seq = 18"], 18, "is missing"),
        (
            [
                "UPDATE ledger SET seq = -1 WHERE seq = 18",
                "UPDATE ledger SET seq = 18 WHERE seq = 19",
                "UPDATE ledger SET seq = 19 WHERE seq = -1",
            ],
            18,
            "does not follow",
        ),
        (
            [
                "UPDATE ledger SET seq = seq + 1000 WHERE seq >= 18",
                "UPDATE ledger SET seq = seq - 999 WHERE seq >= 1018",
                "INSERT INTO ledger SELECT 18, at_ms, operator, terminal, event, officer, item, "
                "detail, prev_hash, 'x' FROM ledger WHERE seq = 17",
            ],
            18,
            "does not follow",
        ),
        (["DELETE FROM ledger WHERE seq >= 24"], 24, "newest entries were removed"),
    ],
    ids=["edited", "edited-time", "removed", "reordered", "inserted", "tail-removed"],
)
def test_verify_names_the_first_entry_edited_removed_inserted_or_reordered(
    database_url: str, statements: list[str], seq: int, words: str
) -> None:
    _busy(database_url).close()
    _tamper(database_url, *statements)
    check = open_register(database_url).verify()
    assert not check.ok and check.seq == seq and words in str(check.problem), check


def test_the_database_refuses_to_update_or_delete_ledger_rows(database_url: str) -> None:
    _busy(database_url).close()
    engine = create_engine(database_url)
    for statement in ("UPDATE ledger SET operator = 'x'", "DELETE FROM ledger"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    engine.dispose()


def test_the_register_opens_again_at_the_same_schema_revision(tmp_path: Path) -> None:
    _busy(_url(tmp_path)).close()
    with sqlite3.connect(tmp_path / "register.db") as db:
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert revision == HEAD_REVISION and mode == "wal"
    again = open_register(_url(tmp_path))
    assert again.verify().ok and again.item_status(DEVICES[0]).state == "in_store"
    with pytest.raises(RegisterError, match="no register there"):
        open_register(f"sqlite:///{tmp_path / 'other.db'}")


# -- concurrent terminals -------------------------------------------------------------------


def _terminal(url: str, number: int, rounds: int) -> None:
    reg = open_register(url, operator=f"PS {number}", terminal=f"terminal-{number}")
    rng = random.Random(number)
    for _ in range(rounds):
        serial = rng.choice(DEVICES)
        try:
            reg.issue("PC 2231", [serial], at_ms=NOW_MS)
        except RefusedError:
            continue
        reg.return_items([serial], at_ms=NOW_MS)
    reg.close()


def test_eight_terminals_at_once_never_issue_an_item_twice(database_url: str) -> None:
    _store(database_url).close()
    url = database_url
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_terminal, args=(url, n, 25)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * 8
    reg = open_register(url)
    assert reg.verify().ok
    for serial in DEVICES:
        events = [e.event for e in reg.history(item=serial) if e.event in ("issued", "returned")]
        assert all(a != b for a, b in itertools.pairwise(events)), serial
        assert reg.item_status(serial).state == "in_store"
    seqs = [e.seq for e in reg.history(officer="PC 2231")]
    assert seqs == sorted(set(seqs))


# -- the command ----------------------------------------------------------------------------


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_command_walks_a_shift_with_its_exit_codes(tmp_path: Path) -> None:
    db = ["register", "--db", _url(tmp_path)]
    officers = tmp_path / "officers.csv"
    officers.write_text(
        "officer,name,station,initial_course,last_refresher,suspended\n"
        "PC 2231,A. Current,Ripley,2025-09-01,2026-02-01,\n"
        "PC 7,B. Lapsed,Ripley,2024-01-02,2025-01-02,\n"
    )
    devices = tmp_path / "devices.csv"
    devices.write_text("serial,model,firmware\n" + "".join(f"{d},X2,3.1.0\n" for d in DEVICES))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"serial,model,firmware\n{DEVICES[0]},X2,3.1.0\nDK6TM76B7X,X2,3.1.0\n")
    nowhere = f"sqlite:///{tmp_path / 'no such folder' / 'register.db'}"
    code, _, err = _run("register", "--db", nowhere, "init")
    assert code == 2 and err.count("\n") == 1 and "no folder" in err
    assert not (tmp_path / "no such folder").exists()
    assert _run(*db, "init")[0] == 0
    assert _run(*db, "import", "officers", str(officers))[0] == 0
    code, _, err = _run(*db, "import", "devices", str(bad))
    assert code == 2 and err.count("\n") == 1 and "DK6TM76B7X" in err
    assert _run(*db, "import", "devices", str(devices))[0] == 0  # nothing of bad.csv kept
    code, out, err = _run(*db, "issue", "--officer", "PC 7", "--item", DEVICES[0])
    assert code == 1 and out == "" and "PC 7's authority lapsed" in err and err.count("\n") == 1
    code, out, _ = _run(
        *db,
        "issue",
        "--officer",
        "PC 2231",
        "--item",
        DEVICES[0],
        "--at",
        "2026-03-06T19:00:00Z",
        "--operator",
        "PS 99",
    )
    assert code == 0 and DEVICES[0] in out
    code, out, _ = _run(*db, "status", "--item", DEVICES[0], "--json")
    status = json.loads(out)
    provenance = status.pop("provenance")
    assert code == 0 and status == {
        "serial": DEVICES[0],
        "kind": "device",
        "state": "issued",
        "officer": "PC 2231",
        "since": "2026-03-06T19:00:00.000Z",
    }
    assert provenance["inputs"] == [] and provenance["settings"]["ledger_entries"] > 0
    code, out, _ = _run(*db, "history", "--item", DEVICES[0], "--json")
    history = json.loads(out)
    assert history["provenance"]["settings"]["register_id"] == provenance["settings"]["register_id"]
    entries = history["entries"]
    assert [e["event"] for e in entries] == ["device_added", "issued"]
    assert entries[1]["operator"] == "PS 99" and entries[1]["at"] == "2026-03-06T19:00:00.000Z"
    assert _run(*db, "verify")[0] == 0
    assert (
        _run(*db, "issue", "--officer", "PC 2231", "--item", DEVICES[1], "--at", "yesterday")[0]
        == 2
    )
    assert _run("register", "--db", "nosuchdb://x", "verify")[0] == 2
    for day in ("2026-3-6", "2026-02-30", "２０２６-03-06"):
        code, out, err = _run(
            *db, "train", "--officer", "PC 7", "--course", "refresher", "--date", day
        )
        assert (code, out, err.count("\n")) == (2, "", 1) and "2026" in err, (day, err)
    _tamper(_url(tmp_path), "UPDATE ledger SET operator = 'x' WHERE seq = 3")
    code, out, _ = _run(*db, "verify")
    assert code == 1 and "entry 3 was edited" in out


def test_the_check_by_hand_in_the_docs_holds_on_a_register(tmp_path: Path) -> None:
    """docs/register.md §4's few lines of Python, run on a register: the chain holds, and
    after an edit behind the library's back the same lines stop at the edited entry."""
    text = (Path(__file__).parents[1] / "docs" / "register.md").read_text(encoding="utf-8")
    section = text[text.index("## 4.") : text.index("## 5.")]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    _busy(_url(tmp_path)).close()
    program = code.replace('"ripley-store.db"', repr(str(tmp_path / "register.db")))
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(program, "register.md", "exec"), {})
    assert out.getvalue() == "chain holds\n"
    _tamper(_url(tmp_path), "UPDATE ledger SET terminal = 'elsewhere' WHERE seq = 9")
    with pytest.raises(AssertionError, match=r"^9$"):
        exec(compile(program, "register.md", "exec"), {})


# -- the schema's revisions, and reads that see one state ---------------------------------


def _at_revision(url: str, revision: str) -> None:
    """Make the register at ``url`` at ``revision``, as that version of taserlink did."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("taserlink.register") / "migrations")
        )
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def test_a_register_of_the_first_revision_opens_upgraded_with_its_ledger_whole(
    database_url: str,
) -> None:
    _at_revision(database_url, "r0001")
    old = Register(
        create_engine(database_url), operator="PS 88", terminal="store-1"
    )  # the first revision's register, written as it was
    old.add_officers([("PC 2231", "A. Current", "Ripley", dt.date(2025, 9, 1), None, None)])
    old.add_devices([(d, "X2", "3.1.0") for d in DEVICES[:2]])
    old.issue("PC 2231", [DEVICES[0]], at_ms=NOW_MS)
    before = old.verify()
    old.close()
    assert before.ok and before.entries == 4

    reg = open_register(database_url, operator="PS 88", terminal="store-1")
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == (
            HEAD_REVISION
        )
    engine.dispose()
    after = reg.verify()
    assert (after.ok, after.entries, after.last_hash) == (True, 4, before.last_hash)
    assert reg.item_status(DEVICES[0]).officer == "PC 2231"
    identity = reg.register_id
    assert uuid.UUID(identity).version == 4
    reg.return_items([DEVICES[0]], at_ms=NOW_MS + 1)  # and it carries on
    reg.close()
    again = open_register(database_url)
    assert again.register_id == identity and again.verify().entries == 5
    engine = create_engine(database_url)  # the ledger still refuses to be rewritten
    for statement in ("UPDATE ledger SET operator = 'x'", "DELETE FROM ledger"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    engine.dispose()
    assert again.verify().ok


def test_a_verification_sees_one_state_of_the_ledger_while_terminals_write(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminal commits an issue after the verification walked the chain and before it
    read the head: the verification still reports the ledger it walked, whole."""
    reg = _busy(database_url)
    other = open_register(database_url, operator="PS 12", terminal="store-2")
    walked = reg.ledger_length()
    hash_of = ledger_module.entry_hash
    wrote: list[int] = []

    def hash_then_write(prev: str, seq: int, *rest: object) -> str:
        if seq == walked and not wrote:
            other.issue("PC 2231", [DEVICES[5]], at_ms=NOW_MS + 99)
            wrote.append(seq)
        return hash_of(prev, seq, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger_module, "entry_hash", hash_then_write)
    check = reg.verify()
    assert wrote and check.ok, check.problem
    assert check.entries == walked
    monkeypatch.undo()
    assert reg.verify().entries == walked + 1


def test_a_delivery_is_added_whole_or_not_at_all(database_url: str) -> None:
    reg = _store(database_url)
    before = reg.ledger_length()
    fresh = [CARTRIDGE_SCHEME.generate(random.Random(n), "S") for n in range(1200)]
    expires = dt.date(2031, 1, 1)
    with pytest.raises(RegisterError, match=f"^{CARTRIDGES[2]} is already in the register$"):
        reg.add_cartridges([(c, "LOT-9", expires) for c in [*fresh, CARTRIDGES[2]]])
    with pytest.raises(RegisterError, match=f"^{fresh[7]} is given twice$"):
        reg.add_cartridges([(c, "LOT-9", expires) for c in [*fresh, fresh[7]]])
    with pytest.raises(RegisterError, match=r"^PC 7 is already in the register$"):
        reg.add_officers(
            [("PC 8", "D. New", "Ripley", None, None, None), ("PC 7", "", "", None, None, None)]
        )
    assert reg.ledger_length() == before
    with pytest.raises(RegisterError, match="no such item"):
        reg.item_status(fresh[0])
    assert reg.add_cartridges([(c, "LOT-9", expires) for c in fresh], at_ms=NOW_MS) == 1200
    assert reg.ledger_length() == before + 1200
    assert reg.item_status(fresh[-1]).state == "in_store"
    added = reg.history(item=fresh[-1])
    assert [(e.event, json.loads(e.detail)) for e in added] == [
        ("cartridge_added", {"lot": "LOT-9", "expires": "2031-01-01"})
    ]
    assert reg.verify().ok


def test_a_register_moves_to_another_engine_whole(tmp_path: Path, database_url: str) -> None:
    source = _busy(_url(tmp_path))
    source.train("PC 7", "refresher", dt.date(2026, 3, 5), at_ms=NOW_MS)
    source.issue("PC 7", [DEVICES[1], CARTRIDGES[1]], at_ms=NOW_MS + 50)
    before = source.verify()
    check = copy_register(source, database_url)
    assert (check.ok, check.entries, check.last_hash) == (True, before.entries, before.last_hash)
    copy = open_register(database_url, operator="PS 88", terminal="store-1")
    assert copy.register_id == source.register_id
    for serial in DEVICES + CARTRIDGES:
        assert copy.item_status(serial) == source.item_status(serial)
        assert copy.history(item=serial) == source.history(item=serial)
    for officer in ("PC 2231", "PC 7", "PC 9"):
        assert copy.officer_status(officer, NOW.date()) == source.officer_status(
            officer, NOW.date()
        )
    copy.train("PC 9", "initial", dt.date(2026, 3, 1), at_ms=NOW_MS + 60)  # numbered anew
    copy.return_items([DEVICES[1]], at_ms=NOW_MS + 70)  # and the copy carries on
    assert copy.verify().entries == before.entries + 2
    with pytest.raises(RegisterError, match="not an empty register"):
        copy_register(source, database_url)
    assert copy.verify().entries == before.entries + 2
    tool = Path(__file__).parents[1] / "tools" / "move_register.py"
    backup = f"sqlite:///{tmp_path / 'backup.db'}"
    for target, code, said in [
        (database_url, 2, "not an empty register"),
        (backup, 0, f"copied register {source.register_id}: {before.entries} ledger entries"),
    ]:
        run = subprocess.run(
            [sys.executable, str(tool), _url(tmp_path), target],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == code and said in run.stdout + run.stderr
    assert open_register(backup).verify().last_hash == before.last_hash


def _walk_through() -> list[str]:
    """The commands of the README's store-room walk-through, as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### The store room: a shift on the bundled station") :]
    block = section[section.index("```sh\n") + 6 : section.index("```\n", section.index("```sh"))]
    return block.strip().splitlines()


def test_the_readme_walks_a_shift_through_on_the_bundled_station(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command of the README's walk-through, run from the repository's top folder
    (the register in a temporary folder): exit codes and the facts the README states."""
    monkeypatch.chdir(ROOT)
    runs = []
    for line in _walk_through():
        words = shlex.split(line)
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            assert (name, value) == ("TASERLINK_DB", "sqlite:///ripley-store.db")
            monkeypatch.setenv(name, f"sqlite:///{tmp_path / 'ripley-store.db'}")
            continue
        assert words[0] == ".venv/bin/taserlink"
        argv = [m for w in words[1:] for m in (sorted(glob.glob(w)) if "*" in w else [w])]
        runs.append((argv[1], *_run(*argv)))
    assert [(what, code) for what, code, _, _ in runs] == [
        ("init", 0),
        ("import", 0),
        ("import", 0),
        ("import", 0),
        ("issue", 1),
        ("issue", 0),
        ("status", 0),
        ("return", 0),
        ("archive", 0),
        ("history", 0),
        ("verify", 0),
    ]
    refused = runs[4][3]
    assert refused == (
        "taserlink: error: PC 1187's authority lapsed on 2026-01-02: last refresher 2025-01-02\n"
    )
    assert "DBTCR5VWTW" in runs[6][2] and "XG1MTSVXNJ" in runs[6][2]
    assert runs[8][2].count("OK; the device's first archived download") == 3
    assert [line.split()[2] for line in runs[9][2].splitlines()] == [
        "device_added",
        "issued",
        "returned",
    ]
    assert runs[10][2].startswith("ledger OK: 5027 entries")
    assert not (ROOT / "ripley-store.db").exists()
