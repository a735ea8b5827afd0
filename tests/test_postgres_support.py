"""The test set-up's own PostgreSQL (tests/postgres_support.py) and the database fixtures."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from tests.postgres_support import (
    PostgresServer,
    PostgresSetupError,
    leftover_directories,
    locate_binaries,
    process_alive,
    throwaway_postgres,
)


def test_the_session_server_answers_through_sqlalchemy_and_psycopg(postgres_url: str) -> None:
    url = make_url(postgres_url)
    assert (url.drivername, url.database) == ("postgresql+psycopg", "taserlink")
    assert Path(str(url.query["host"])).is_dir()  # a Unix socket, not a TCP port
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version()")).scalar_one()
            database = connection.execute(text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL ")
    assert database == "taserlink"
    assert engine.dialect.driver == "psycopg"


def _tables_and_database(url: str) -> tuple[list[str], str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            if engine.dialect.name == "postgresql":
                name = connection.execute(text("SELECT current_database()")).scalar_one()
            else:
                name = str(make_url(url).database)
    finally:
        engine.dispose()
    return tables, name


def test_fresh_databases_are_distinct_and_empty(new_database_url: Callable[[], str]) -> None:
    first, second = new_database_url(), new_database_url()
    assert first != second
    engine = create_engine(first)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE officers (officer TEXT PRIMARY KEY)"))
            connection.execute(text("INSERT INTO officers VALUES ('PC 2231')"))
    finally:
        engine.dispose()
    first_tables, first_name = _tables_and_database(first)
    second_tables, second_name = _tables_and_database(second)
    assert first_tables == ["officers"]
    assert second_tables == []
    assert first_name != second_name


def test_database_url_runs_on_each_engine(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            assert inspect(connection).get_table_names() == []
            connection.execute(text("CREATE TABLE devices (serial TEXT PRIMARY KEY)"))
            connection.execute(text("INSERT INTO devices VALUES ('D4K7P2M9Q0')"))
        with engine.connect() as connection:
            serials = connection.execute(text("SELECT serial FROM devices")).scalars().all()
    finally:
        engine.dispose()
    assert serials == ["D4K7P2M9Q0"]
    assert engine.dialect.name == request.node.callspec.params["new_database_url"]


def test_a_made_database_is_dropped_even_with_a_connection_left_open(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    name = postgres_server.create_database()
    assert name.startswith("reg_")
    left_open = create_engine(postgres_server.url(name))
    listing = create_engine(postgres_url)
    query = text("SELECT datname FROM pg_database WHERE datname = :name")
    try:
        left_open.connect()  # never closed: a careless test
        with listing.connect() as connection:
            assert connection.execute(query, {"name": name}).all() == [(name,)]
        postgres_server.drop_database(name)
        with listing.connect() as connection:
            assert connection.execute(query, {"name": name}).all() == []
    finally:
        left_open.dispose()
        listing.dispose()


def test_database_names_are_plain_identifiers(postgres_server: PostgresServer) -> None:
    for name in ("reg_1; DROP DATABASE taserlink", "Reg", "1reg", ""):
        with pytest.raises(PostgresSetupError, match="not a plain lower-case database name"):
            postgres_server.create_database(name)


def _live_processes_working_in(directory: Path) -> list[int]:
    """The live processes whose working directory is ``directory`` (every PostgreSQL process
    works in its cluster's data directory)."""
    directory, found = directory.resolve(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = Path(os.readlink(entry / "cwd"))
            except OSError:
                continue
            if cwd == directory and process_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def test_a_stopped_cluster_leaves_no_process_and_no_directory() -> None:
    with throwaway_postgres() as server:
        processes = server.processes()
        assert server.postmaster_pid is not None
        assert processes[0] == server.postmaster_pid
        assert len(processes) > 1  # the postmaster's workers (checkpointer, walwriter…)
        assert sorted(_live_processes_working_in(server.data_dir)) == sorted(processes)
        assert "server is running" in server.status()
        if server.account is not None:  # as root: the server runs as another account
            assert os.stat(server.data_dir).st_uid == server.account.uid != 0
        assert stat.S_IMODE(os.stat(server.data_dir).st_mode) == 0o700
        server.stop()
        assert "no server running" in server.status()
        assert not any(process_alive(pid) for pid in processes)
        assert _live_processes_working_in(server.data_dir) == []
        assert server.processes() == []
        server.stop()  # a second stop does nothing
    assert not server.root.exists()
    assert server.root not in leftover_directories()


def test_a_failing_test_still_stops_the_server() -> None:
    with pytest.raises(RuntimeError, match="a test failed"), throwaway_postgres() as server:
        processes = server.processes()
        data_dir = server.data_dir
        raise RuntimeError("a test failed")
    assert processes and not any(process_alive(pid) for pid in processes)
    assert _live_processes_working_in(data_dir) == []
    assert not server.root.exists()


def test_a_server_that_cannot_open_its_socket_fails_with_the_reason(tmp_path: Path) -> None:
    unusable = tmp_path / "no-such-directory"
    before = leftover_directories()
    with pytest.raises(PostgresSetupError) as failure, throwaway_postgres(socket_dir=unusable):
        pytest.fail("the server started without a socket directory")
    message = str(failure.value)
    assert message.startswith("PostgreSQL did not start (pg_ctl start exited 1")
    assert "FATAL:  could not" in message  # the server's own reason, from its log…
    assert f'lock file "{unusable}/.s.PGSQL.5432.lock"' in message  # …naming the socket
    assert leftover_directories() == before


def test_missing_programs_fail_with_where_they_were_looked_for(tmp_path: Path) -> None:
    with pytest.raises(PostgresSetupError) as failure:
        locate_binaries(search_path=str(tmp_path), bin_dirs=str(tmp_path / "*/bin"), install=False)
    message = str(failure.value)
    assert "initdb, pg_ctl, postgres" in message
    assert f"under {tmp_path}/*/bin" in message
    assert "installing was not asked for" in message


def test_the_highest_installed_version_is_chosen(tmp_path: Path) -> None:
    for version in ("9.6", "15", "16", "not-a-version"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for name in ("initdb", "pg_ctl", "postgres"):
            (bin_dir / name).write_text("#!/bin/sh\n")
            (bin_dir / name).chmod(0o755)
    (tmp_path / "16" / "bin" / "postgres").chmod(0o644)  # incomplete: not executable
    found = locate_binaries(
        search_path=str(tmp_path / "none"), bin_dirs=str(tmp_path / "*/bin"), install=False
    )
    assert found.pg_ctl == tmp_path / "15" / "bin" / "pg_ctl"
    assert found.initdb.parent == found.postgres.parent == found.pg_ctl.parent
