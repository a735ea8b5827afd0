"""Shared test settings: hypothesis profiles, paths to the bundled captures, the register's
databases (a SQLite file, a throw-away PostgreSQL server) and a headless Chromium."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import URL

from tests.browser_support import Browser, require_chromium
from tests.postgres_support import PostgresServer, PostgresSetupError, throwaway_postgres

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
CAPTURE_FILES = sorted(CAPTURES.glob("*.tdi"))

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


# The register's databases: SQLite and a throw-away PostgreSQL (tests/postgres_support.py).

DATABASE_ENGINES = ("sqlite", "postgresql")
"""The engines the register runs on; tests using ``database_url`` run once on each."""


@contextlib.contextmanager
def _postgres_problems_fail_the_test() -> Iterator[None]:
    """Turn a :class:`PostgresSetupError` into a test failure whose one line is its reason."""
    try:
        yield
    except PostgresSetupError as exc:
        problem = f"the PostgreSQL tests need a server: {exc}"
        raise pytest.fail.Exception(problem, pytrace=False) from None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server started for this test session (installed first if missing) and
    stopped after it; a server that cannot be had fails the test with the reason."""
    with _postgres_problems_fail_the_test(), throwaway_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The SQLAlchemy URL (psycopg 3, Unix socket) of a database ``taserlink`` on the
    session's PostgreSQL server, shared by the tests of the session."""
    with _postgres_problems_fail_the_test():
        return postgres_server.url(postgres_server.create_database("taserlink"))


@pytest.fixture(params=DATABASE_ENGINES)
def new_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A maker of fresh, empty databases on the test's engine, each call a new one: a new
    SQLite file in ``tmp_path``, or a new database ``reg_<n>`` on the session's PostgreSQL
    server, dropped after the test. Returns the database's SQLAlchemy URL."""
    if request.param == "sqlite":
        numbers = itertools.count(1)

        def make_sqlite() -> str:
            path = tmp_path / f"register-{next(numbers)}.db"
            return URL.create("sqlite", database=str(path)).render_as_string()

        yield make_sqlite
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    made: list[str] = []

    def make_postgres() -> str:
        with _postgres_problems_fail_the_test():
            made.append(server.create_database())
        return server.url(made[-1])

    yield make_postgres
    with _postgres_problems_fail_the_test():
        for name in made:
            server.drop_database(name)


@pytest.fixture
def database_url(new_database_url: Callable[[], str]) -> str:
    """The URL of a fresh, empty database; the test runs once on SQLite and once on
    PostgreSQL, with the same assertions."""
    return new_database_url()


# A headless Chromium for the pages taserlink writes (tests/browser_support.py).


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium shared by the module's tests (installed first if missing; one that
    cannot be had fails the test with the reason), closed after the module."""
    with Browser(require_chromium()) as running:
        yield running
