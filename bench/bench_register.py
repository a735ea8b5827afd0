"""The store room's register at force scale: build, issue and return latency, status, verify.

    python bench/bench_register.py                        # 2,000 officers, 1,500 devices,
                                                          # 100,000 cartridges, 1,000,000 entries
    python bench/bench_register.py --engines sqlite --cartridges 20000 --entries 200000

For each engine of ``--engines`` (SQLite: a file in a temporary folder under ``--dir``;
PostgreSQL: a throw-away server started for the run, see :func:`throwaway_postgres`), one
run:

1. **builds** a force's register through the library, as a store room would:
   ``--officers`` officers (:meth:`~taserlink.register.Register.add_officers`, one call),
   ``--devices`` devices (``add_devices``, one call), ``--cartridges`` cartridges
   (``add_cartridges``, deliveries of 10,000), then shifts of kits issued and returned
   (``issue`` of one device and ``--kit-cartridges`` cartridges to an officer, ``return_items``
   of the kit at the end of the shift; ``--shift`` kits a shift, the shifts spread over the
   last 330 days) until the ledger holds ``--entries`` entries.  Every entry is appended by
   the library and chained; nothing is written behind its back.  Prints each step's time;
2. **verifies** the whole ledger (:meth:`~taserlink.register.Register.verify`), best of
   ``--repeat``: target ≤ 3 s for 1,000,000 entries;
3. **issue and return latency**: for each count of ``--terminals``, that many processes
   (forked, each with its own connection, operator and terminal name, officers and kits of
   its own so that no issue is refused) start together and each runs ``--cycles`` cycles of
   ``issue`` then ``return_items`` of a kit with no pause: every terminal always writing,
   so that each call queues behind the others' (the worst a store room could see); then
   the most terminals again, paced: a pause of ``--pause`` ms ± 50 % before each call
   (8 terminals then ask for some 150 transactions a second, where a store room at a shift
   change asks for a few a minute).  Prints p50, p99 and the slowest call of each (ms,
   each call timed in its terminal) and the transactions a second of all the terminals
   together: target p99 ≤ 10 ms on SQLite with 8 terminals;
4. **status latency**: one shift of kits issued (so officers hold items), then
   ``--lookups`` calls each of ``item_status`` (random devices and cartridges) and
   ``officer_status`` (random officers) in one process: target p99 ≤ 50 ms.

The machine is a shared 2-core VM (its load is printed): quote figures from one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing
import os
import pwd
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import alembic
import sqlalchemy
from common import best_of, machine_info, verdict
from sqlalchemy import bindparam, select, text

import taserlink
from taserlink.register import Register, open_register, turns
from taserlink.register.schema import items, ledger
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME

DAY_MS = 86_400_000
DELIVERY = 10_000
"""Cartridges added in one call (a delivery of lots)."""
SPAN_DAYS = 330
"""The shifts of the build are spread over this many days up to yesterday."""
VERIFY_TARGET_S = 3.0
LATENCY_TARGET_MS = 10.0
STATUS_TARGET_MS = 50.0
POSTGRES_BIN = Path("/usr/lib/postgresql")


class Unavailable(Exception):
    """An engine this run cannot use, with why."""


@dataclass(frozen=True)
class Force:
    """What the register is built from (deterministic for a seed)."""

    officers: list[tuple[str, str, str, dt.date | None, dt.date | None, str | None]]
    authorised: list[str]
    """Officers whose authority is current until at least a week after ``today``."""
    devices: list[str]
    cartridges: list[str]
    today: dt.date


def make_force(officers: int, devices: int, cartridges: int, seed: int) -> Force:
    """``officers`` officers at 20 stations (every 40th lapsed, every 101st suspended; the
    others' last refresher 300 to 357 days ago), ``devices`` device serials and
    ``cartridges`` cartridge serials (7 in 10 standard, 1 in 4 extended, the rest
    close-quarters)."""
    rng = random.Random(seed)
    today = dt.datetime.now(dt.UTC).date()
    rows: list[tuple[str, str, str, dt.date | None, dt.date | None, str | None]] = []
    authorised = []
    for n in range(officers):
        officer = f"PC {1000 + n}"
        lapsed, suspended = n % 40 == 39, n % 101 == 100
        refresher = today - dt.timedelta(days=(400 if lapsed else 300 + n % 58))
        reason = "under investigation" if suspended else None
        station = f"Station {n % 20:02d}"
        initial = refresher - dt.timedelta(days=365)
        rows.append((officer, f"Officer {n}", station, initial, refresher, reason))
        if not lapsed and not suspended:
            authorised.append(officer)
    device_serials = _unique(lambda: DEVICE_SCHEME.generate(rng, "D"), devices)
    letters = "S" * 14 + "X" * 5 + "C"
    cartridge_serials = _unique(
        lambda: CARTRIDGE_SCHEME.generate(rng, rng.choice(letters)), cartridges
    )
    return Force(rows, authorised, device_serials, cartridge_serials, today)


def _unique(make: Any, count: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(make(), None)
    return list(seen)


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


# -- the build -------------------------------------------------------------------------------


def build(url: str, force: Force, entries: int, kit_cartridges: int, shift: int) -> list[str]:
    """Build the register at ``url`` through the library; returns the lines to print."""
    lines = []
    reg = open_register(url, create=True, operator="PS 88", terminal="store-room")
    start_ms = _ms(force.today) - SPAN_DAYS * DAY_MS
    begun = time.perf_counter()
    took, _ = best_of(1, lambda: reg.add_officers(force.officers, at_ms=start_ms - DAY_MS))
    lines.append(_step(f"{len(force.officers):,} officers (add_officers, one call)", took))
    rows = [(serial, "X2", "3.1.0") for serial in force.devices]
    took, _ = best_of(1, lambda: reg.add_devices(rows, at_ms=start_ms - DAY_MS))
    lines.append(_step(f"{len(rows):,} devices (add_devices, one call)", took))
    took = 0.0
    for first in range(0, len(force.cartridges), DELIVERY):
        lot = f"LOT-{first // DELIVERY:03d}"
        expires = force.today + dt.timedelta(days=3 * 365)
        delivery = [(c, lot, expires) for c in force.cartridges[first : first + DELIVERY]]
        once, _ = best_of(1, lambda d=delivery: reg.add_cartridges(d, at_ms=start_ms - DAY_MS))
        took += once
    deliveries = math.ceil(len(force.cartridges) / DELIVERY)
    lines.append(
        _step(
            f"{len(force.cartridges):,} cartridges (add_cartridges, {deliveries} deliveries)",
            took,
        )
    )
    count = reg.ledger_length()
    wanted = entries - count
    per_kit = 2 * (1 + kit_cartridges)
    shift = max(
        1,
        min(
            shift,
            len(force.devices),
            len(force.authorised),
            len(force.cartridges) // max(1, kit_cartridges),
        ),
    )
    kits = max(0, wanted // per_kit)
    shifts = math.ceil(kits / shift)
    step_ms = (SPAN_DAYS - 1) * DAY_MS // max(1, shifts)
    device, cartridge, officer = 0, 0, 0
    tenths: list[float] = []
    began = time.perf_counter()
    done = 0
    for number in range(shifts):
        at_ms = start_ms + number * step_ms
        out = []
        for _ in range(min(shift, kits - done)):
            kit = [force.devices[device]] + [
                force.cartridges[(cartridge + k) % len(force.cartridges)]
                for k in range(kit_cartridges)
            ]
            device = (device + 1) % len(force.devices)
            cartridge = (cartridge + kit_cartridges) % len(force.cartridges)
            reg.issue(force.authorised[officer], kit, at_ms=at_ms)
            officer = (officer + 1) % len(force.authorised)
            out.append(kit)
        for kit in out:
            reg.return_items(kit, at_ms=at_ms + step_ms * 3 // 4)
        done += len(out)
        while len(tenths) < 10 and done >= kits * (len(tenths) + 1) / 10:
            tenths.append(time.perf_counter() - began)
    rest = entries - reg.ledger_length()
    if rest >= 2:  # a last, smaller kit
        kit = [force.devices[device], *force.cartridges[: rest // 2 - 1]]
        reg.issue(force.authorised[officer], kit, at_ms=_ms(force.today) - DAY_MS)
        reg.return_items(kit, at_ms=_ms(force.today) - DAY_MS // 2)
    if rest > 0 and rest % 2:  # and one refresher recorded
        reg.train(force.authorised[0], "refresher", force.today - dt.timedelta(days=1))
    took = time.perf_counter() - began
    total = reg.ledger_length()
    made = total - count
    lines.append(
        _step(
            f"{made:,} entries, {kits:,} kits issued and returned in {shifts:,} shifts "
            f"({2 * kits:,} transactions)",
            took,
            made,
        )
    )
    if len(tenths) == 10 and shifts >= 20:  # each tenth two shifts or more
        first, last = tenths[0], tenths[9] - tenths[8]
        lines.append(
            f"    first tenth of the kits {kits / 10 / first:,.0f} kits/s, last tenth "
            f"{kits / 10 / last:,.0f} kits/s"
        )
    lines.append(_step(f"the register, {total:,} ledger entries", time.perf_counter() - begun))
    reg.close()
    return lines


def _step(what: str, seconds: float, entries: int | None = None) -> str:
    rate = "" if not entries else f", {entries / seconds:,.0f} entries/s"
    return f"  {what}: {seconds:,.1f} s{rate}"


# -- latency ---------------------------------------------------------------------------------


def _terminal(
    url: str,
    number: int,
    officers: Sequence[str],
    kits: Sequence[list[str]],
    cycles: int,
    pause_ms: float,
    barrier: Any,
    results: Any,
    flock: bool = False,
) -> None:
    """One terminal: a few untimed cycles, then ``cycles`` timed ``issue`` + ``return``,
    with a pause of ``pause_ms`` ± 50 % (uniform) before each call when it is not 0.
    ``flock``: writers take their turns by ``flock`` (any order), the fallback of
    :mod:`taserlink.register.turns`, instead of its first-come queue (the peer)."""
    if flock:
        turns._OFD_WAIT = None  # type: ignore[misc]  # this process only
    reg = open_register(url, operator=f"PS {number}", terminal=f"terminal-{number}")
    rng = random.Random(number)
    issues, returns = [], []
    began = time.perf_counter()
    for k in range(-3, cycles):
        if k == 0:
            barrier.wait(300)
            began = time.perf_counter()
        kit = kits[k % len(kits)]
        if pause_ms:
            time.sleep(rng.uniform(0.5, 1.5) * pause_ms / 1000)
        t0 = time.perf_counter()
        reg.issue(officers[k % len(officers)], kit)
        t1 = time.perf_counter()
        if pause_ms:
            time.sleep(rng.uniform(0.5, 1.5) * pause_ms / 1000)
        t2 = time.perf_counter()
        reg.return_items(kit)
        t3 = time.perf_counter()
        if k >= 0:
            issues.append((t1 - t0) * 1000)
            returns.append((t3 - t2) * 1000)
    results.put((number, issues, returns, time.perf_counter() - began))
    reg.close()


def latency(
    url: str,
    force: Force,
    terminals: int,
    cycles: int,
    kit_cartridges: int,
    pause_ms: float,
    flock: bool = False,
) -> tuple[list[float], list[float], float]:
    """Issue and return latencies (ms) of ``terminals`` processes at once, each with kits
    and officers of its own, and the transactions a second they made together."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(terminals)
    results = context.Queue()
    workers = []
    for n in range(terminals):
        devices = force.devices[n::terminals]
        cartridges = force.cartridges[n::terminals]
        count = min(len(devices), len(cartridges) // max(1, kit_cartridges), 50)
        kits = [
            [devices[k], *cartridges[k * kit_cartridges : (k + 1) * kit_cartridges]]
            for k in range(count)
        ]
        officers = force.authorised[n::terminals][:50]
        args = (url, n + 1, officers, kits, cycles, pause_ms, barrier, results, flock)
        workers.append(context.Process(target=_terminal, args=args))
    for worker in workers:
        worker.start()
    got = [results.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join(60)
    if any(w.exitcode != 0 for w in workers):
        raise RuntimeError(f"a terminal failed: exit codes {[w.exitcode for w in workers]}")
    issues = [ms for _, i, _, _ in got for ms in i]
    returns = [ms for _, _, r, _ in got for ms in r]
    wall = max(seconds for *_, seconds in got)
    return issues, returns, 2 * cycles * terminals / wall


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.5 for the median, 0.99 for p99)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def read_ledger(reg: Register) -> int:
    """Read every ledger row as the verification does, and do nothing with them."""
    walk = select(*(c for c in ledger.columns)).order_by(ledger.c.seq)
    count = 0
    with reg.engine.connect() as conn:
        for _ in conn.execution_options(stream_results=True).execute(walk):
            count += 1
    return count


# -- status ----------------------------------------------------------------------------------


def status(reg: Register, force: Force, lookups: int, seed: int) -> dict[str, list[float]]:
    """``lookups`` timed calls of ``item_status`` and of ``officer_status`` (ms)."""
    rng = random.Random(seed)
    serials = force.devices + force.cartridges
    timings: dict[str, list[float]] = {"item_status": [], "officer_status": []}
    for _ in range(lookups):
        serial = rng.choice(serials)
        t0 = time.perf_counter()
        reg.item_status(serial)
        timings["item_status"].append((time.perf_counter() - t0) * 1000)
        officer = rng.choice(force.officers)[0]
        t0 = time.perf_counter()
        reg.officer_status(officer)
        timings["officer_status"].append((time.perf_counter() - t0) * 1000)
    return timings


# -- PostgreSQL --------------------------------------------------------------------------------


def _postgres_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (PATH first, then Debian's newest)."""
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "pg_ctl").exists():
        return Path(found).resolve().parent
    versions = sorted(
        (p for p in POSTGRES_BIN.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise Unavailable(f"no initdb on PATH or under {POSTGRES_BIN}/*/bin")
    return versions[-1]


@contextmanager
def throwaway_postgres(folder: Path) -> Iterator[str]:
    """A PostgreSQL server of its own in ``folder`` (a new cluster, ``trust`` on a Unix
    socket there, no TCP), stopped at the end; yields the URL of an empty database.

    PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user
    (or ``nobody``) through ``runuser``.

    Raises:
        Unavailable: no server binaries, or the server did not start (the reason).
    """
    binaries = _postgres_binaries()
    prefix: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        if not shutil.which("runuser"):
            raise Unavailable("running as root and no runuser to start the server as another user")
        for name in ("postgres", "nobody"):
            try:
                account = pwd.getpwnam(name)
            except KeyError:
                continue
            user, prefix = name, ["runuser", "-u", name, "--"]
            os.chown(folder, account.pw_uid, account.pw_gid)
            break
        else:
            raise Unavailable("running as root and no postgres or nobody user")
    data, socket_dir = folder / "data", folder

    def run(step: str, *argv: str) -> None:
        try:
            subprocess.run(
                [*prefix, *argv], check=True, capture_output=True, text=True, timeout=120
            )
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            lines = detail.strip().splitlines() or [str(error)]
            raise Unavailable(f"{step} failed: {lines[-1]}") from None

    run(
        "initdb",
        str(binaries / "initdb"),
        "-D",
        str(data),
        "-U",
        user,
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    )
    options = f"-c listen_addresses='' -c unix_socket_directories={socket_dir}"
    pg_ctl = str(binaries / "pg_ctl")
    try:
        log = str(folder / "log")
        run(
            "pg_ctl start",
            pg_ctl,
            "-D",
            str(data),
            "-l",
            log,
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        server = f"postgresql+psycopg://{user}@/postgres?host={socket_dir}"
        engine = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("CREATE DATABASE bench"))
        except sqlalchemy.exc.SQLAlchemyError as error:
            raise Unavailable(f"CREATE DATABASE failed: {error}") from None
        finally:
            engine.dispose()
        yield f"postgresql+psycopg://{user}@/bench?host={socket_dir}"
    finally:  # also after a start that timed out: a server may be running
        try:
            run("pg_ctl stop", pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        except Unavailable as why:
            print(f"PostgreSQL in {folder}: {why}", file=sys.stderr)


# -- one engine ----------------------------------------------------------------------------------


def measure(engine: str, url: str, force: Force, args: argparse.Namespace) -> None:
    """Build, verify, latency and status on one engine; prints as it goes."""
    for line in build(url, force, args.entries, args.kit_cartridges, args.shift):
        print(line, flush=True)
    reg = open_register(url, operator="PS 88", terminal="store-room")
    print(f"  database size: {_size(reg, url) / 1e6:,.0f} MB", flush=True)
    took, check = best_of(args.repeat, reg.verify)
    assert check.ok, check.problem
    print(
        f"\nverify: {check.entries:,} entries in {took:.2f} s (best of {args.repeat})"
        f"  target <= {VERIFY_TARGET_S:g} s: {verdict(took <= VERIFY_TARGET_S)}",
        flush=True,
    )
    reading, rows = best_of(args.repeat, lambda: read_ledger(reg))
    print(
        f"  of which reading the {rows:,} rows alone {reading:.2f} s (the same query, "
        f"streamed, nothing done with them), the hashes and checks {took - reading:.2f} s"
    )
    reg.close()
    print(
        f"\nissue / return latency, ms (a kit of 1 device + {args.kit_cartridges} cartridges, "
        f"{args.cycles} cycles a terminal; txn/s: the terminals' issues and returns together)"
    )
    print(
        f"{'terminals':>9}  {'pause':<11}{'call':<8}{'p50':>8}{'p99':>8}{'slowest':>9}{'txn/s':>8}"
    )
    runs = [(t, 0.0, False) for t in args.terminals]
    if engine == "sqlite":  # the peer: the same terminals taking turns by flock
        runs += [(max(args.terminals), 0.0, True)]
    if args.pause:
        runs += [(max(args.terminals), args.pause, False)]
    for terminals, pause, flock in runs:
        issues, returns, rate = latency(
            url, force, terminals, args.cycles, args.kit_cartridges, pause, flock
        )
        for name, values in (("issue", issues), ("return", returns)):
            p99 = percentile(values, 0.99)
            mark = ""
            if engine == "sqlite" and terminals == 8 and not flock:
                mark = f"  target p99 <= {LATENCY_TARGET_MS:g} ms: "
                mark += verdict(p99 <= LATENCY_TARGET_MS)
            rate_cell = f"{rate:>8.0f}" if name == "issue" else " " * 8
            paced = f"{pause:g} ms" if pause else "flock" if flock else "none"
            print(
                f"{terminals:>9}  {paced:<11}{name:<8}{percentile(values, 0.5):>8.2f}{p99:>8.2f}"
                f"{max(values):>9.2f}{rate_cell}{mark}",
                flush=True,
            )
    reg = open_register(url, operator="PS 88", terminal="store-room")
    shift = min(args.shift, len(force.devices), len(force.authorised))
    for k in range(shift):
        kit = [
            force.devices[k],
            *force.cartridges[k * args.kit_cartridges :][: args.kit_cartridges],
        ]
        reg.issue(force.authorised[k], kit)
    timings = status(reg, force, args.lookups, args.seed)
    print(f"\nstatus latency, ms ({args.lookups:,} calls each, one process, {shift} kits out)")
    print(f"{'call':<16}{'p50':>8}{'p99':>8}{'slowest':>9}")
    for name, values in timings.items():
        p99 = percentile(values, 0.99)
        print(
            f"{name:<16}{percentile(values, 0.5):>8.2f}{p99:>8.2f}{max(values):>9.2f}"
            f"  target p99 <= {STATUS_TARGET_MS:g} ms: {verdict(p99 <= STATUS_TARGET_MS)}"
        )
    if engine == "sqlite":
        core, driver = statement_cost(reg, force)
        print(
            f"\na statement (an item by serial, {STATEMENTS:,} times): SQLAlchemy Core "
            f"{core:.1f} µs, sqlite3 directly {driver:.1f} µs"
        )
    reg.close()


STATEMENTS = 5_000


def statement_cost(reg: Register, force: Force) -> tuple[float, float]:
    """What one small statement costs (µs) through SQLAlchemy Core and straight through
    the ``sqlite3`` connection under it: the most a path around SQLAlchemy could save."""
    query = select(items).where(items.c.serial == bindparam("wanted"))
    serial = force.devices[0]
    with reg.engine.connect() as conn:
        sql = str(query.compile(dialect=reg.engine.dialect))
        driver = conn.connection.driver_connection
        assert driver is not None

        def core() -> None:
            conn.execute(query, {"wanted": serial}).first()

        def direct() -> None:
            driver.execute(sql, (serial,)).fetchone()

        spent = []
        for call in (core, direct):
            for _ in range(200):
                call()
            began = time.perf_counter()
            for _ in range(STATEMENTS):
                call()
            spent.append((time.perf_counter() - began) / STATEMENTS * 1e6)
    return spent[0], spent[1]


def _size(reg: Register, url: str) -> int:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with reg.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--officers", type=int, default=2_000, help="officers (2,000)")
    parser.add_argument("--devices", type=int, default=1_500, help="devices (1,500)")
    parser.add_argument("--cartridges", type=int, default=100_000, help="cartridges (100,000)")
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="ledger entries built (1,000,000)"
    )
    parser.add_argument(
        "--engines",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (both)",
    )
    parser.add_argument("--kit-cartridges", type=int, default=2, help="cartridges a kit (2)")
    parser.add_argument("--shift", type=int, default=100, help="kits issued a shift (100)")
    parser.add_argument(
        "--terminals",
        default="1,8",
        help="comma-separated counts of concurrent terminals (1,8)",
    )
    parser.add_argument("--cycles", type=int, default=500, help="issue+return a terminal (500)")
    parser.add_argument(
        "--pause",
        type=float,
        default=50.0,
        help="ms between a paced terminal's calls, +-50%% (50; 0: no paced run)",
    )
    parser.add_argument("--lookups", type=int, default=1_000, help="status calls each (1,000)")
    parser.add_argument("--repeat", type=int, default=3, help="verify runs, best kept (3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of serials and lookups (0)")
    parser.add_argument("--dir", default=None, help="folder for the SQLite file (system temp)")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - {"sqlite", "postgresql"})
    if unknown:
        parser.error(f"--engines: unknown {', '.join(unknown)}")
    args.terminals = [int(t) for t in args.terminals.split(",")]
    try:
        import psycopg

        driver = f"psycopg {psycopg.__version__}"
    except ImportError:
        driver = "not installed"
    libraries = {
        "taserlink": taserlink.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "alembic": alembic.__version__,
        "sqlite": sqlite3.sqlite_version,
        "postgres driver": driver,
    }
    print("\n".join(machine_info(libraries)))
    force = make_force(args.officers, args.devices, args.cartridges, args.seed)
    print(
        f"\na force: {len(force.officers):,} officers ({len(force.authorised):,} authorised), "
        f"{len(force.devices):,} devices, {len(force.cartridges):,} cartridges; "
        f"ledger built to {args.entries:,} entries",
        flush=True,
    )
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="bench-register-", dir=args.dir) as folder:
            if engine == "sqlite":
                url = f"sqlite:///{Path(folder) / 'register.db'}"
                print(f"\n== SQLite {sqlite3.sqlite_version}, WAL, a file in {folder}", flush=True)
                measure(engine, url, force, args)
                continue
            try:
                with throwaway_postgres(Path(folder)) as url:
                    version = _server_version(url)
                    print(
                        f"\n== PostgreSQL {version}, a throw-away server on a Unix socket",
                        flush=True,
                    )
                    measure(engine, url, force, args)
            except Unavailable as why:
                print(f"\n== PostgreSQL: not available ({why})")


def _server_version(url: str) -> str:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
