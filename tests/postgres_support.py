"""A throw-away PostgreSQL server for the register tests, started and stopped by the tests.

The register runs on SQLite and on PostgreSQL, and CI tests both, so a missing PostgreSQL is a
failure with the reason, never a skip (as with tshark, ``tests/tshark_support.py``):

- :func:`find_binaries` finds the server programs (``initdb``, ``pg_ctl``, ``postgres``) on
  ``PATH`` or under ``/usr/lib/postgresql/*/bin`` (Debian's place, newest version first), and
  installs Debian's ``postgresql`` package (``apt-get update && apt-get install -y
  postgresql`` with ``DEBIAN_FRONTEND=noninteractive``) when they are missing, the process is
  root and ``apt-get`` exists.
- :func:`throwaway_postgres` makes a cluster with ``initdb`` (``trust`` authentication) in a
  new temporary directory (in ``/dev/shm`` when that memory file system has room, which makes
  it several times faster), starts it with ``pg_ctl start -w`` listening only on a Unix socket
  in that directory (no TCP port, so parallel runs cannot collide), and at the end stops it
  with ``pg_ctl stop -m fast``, checks that none of its processes is left (killing them if
  they are, which is then an error) and removes the directory, also when the tests failed.
  PostgreSQL refuses to run as root: when the tests run as root, the server's programs run as
  the ``postgres`` account (which Debian's package creates), else as ``nobody``.

The server is for tests only: ``fsync`` is off, so commits are not flushed to disk and its
timings are not those of a production server. Every step has a bounded timeout. Problems are
raised as :class:`PostgresSetupError`, whose message says what went wrong (with the tail of
the server's log when it did not start); the fixtures in ``conftest.py`` turn it into a test
failure.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tests.apt_support import apt_install

SUPERUSER = "taserlink"
"""The cluster's superuser role, which every URL of the server connects as."""

PORT = 5432
"""The server's port number: it names the socket file (``.s.PGSQL.5432``) in the cluster's own
directory; the server does not listen on TCP."""

DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
"""Where Debian's packages put the server programs (they are not on ``PATH`` there)."""

SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")

_INITDB_TIMEOUT_S = 120
_START_TIMEOUT_S = 60
_STOP_TIMEOUT_S = 30
_EXIT_TIMEOUT_S = 5
_SQL_TIMEOUT_S = 30
_DIR_PREFIX = f"taserlink-pg-{os.getpid()}-"
_SHM_ROOM_BYTES = 2 << 30
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresSetupError(Exception):
    """PostgreSQL could not be found, installed, started, used or stopped; the message says why."""


@dataclass(frozen=True)
class PostgresBinaries:
    """The paths of the server programs of one PostgreSQL installation."""

    initdb: Path
    pg_ctl: Path
    postgres: Path


def _on_path(search_path: str | None) -> PostgresBinaries | None:
    found = [shutil.which(name, path=search_path) for name in SERVER_PROGRAMS]
    if any(path is None for path in found):
        return None
    return PostgresBinaries(*(Path(path) for path in found if path is not None))


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """``/usr/lib/postgresql/15/bin`` → (15,); a directory not named by a version sorts last."""
    parts = bin_dir.parent.name.split(".")
    return tuple(int(part) for part in parts) if all(p.isdigit() for p in parts) else (-1,)


def _under(pattern: str) -> PostgresBinaries | None:
    for bin_dir in sorted((Path(d) for d in glob.glob(pattern)), key=_version_key, reverse=True):
        paths = [bin_dir / name for name in SERVER_PROGRAMS]
        if all(path.is_file() and os.access(path, os.X_OK) for path in paths):
            return PostgresBinaries(*paths)
    return None


def _install() -> str:
    """Install Debian's postgresql package with apt; return why that failed, or '' when it
    worked."""
    return apt_install(["postgresql"])


def locate_binaries(
    search_path: str | None = None, bin_dirs: str = DEBIAN_BIN_DIRS, install: bool = True
) -> PostgresBinaries:
    """The server programs found on ``search_path`` (``$PATH`` when None) or else under
    ``bin_dirs`` (a glob; the highest version wins), installing Debian's package first when
    ``install`` and they are in neither place.

    Raises:
        PostgresSetupError: the programs are missing and could not be installed.
    """
    found = _on_path(search_path) or _under(bin_dirs)
    if found is not None:
        return found
    problem = _install() if install else "installing was not asked for"
    found = _on_path(search_path) or _under(bin_dirs)
    if found is None:
        where = f"on PATH or under {bin_dirs}"
        raise PostgresSetupError(
            f"PostgreSQL's server programs ({', '.join(SERVER_PROGRAMS)}) are not {where}, "
            f"and could not be installed: {problem or 'apt-get reported success'}"
        )
    return found


@functools.cache
def _located() -> PostgresBinaries | PostgresSetupError:
    try:
        return locate_binaries()
    except PostgresSetupError as exc:
        return exc


def find_binaries() -> PostgresBinaries:
    """The server programs of this machine, installing them first if needed (looked up once
    per test session).

    Raises:
        PostgresSetupError: they are missing and could not be installed.
    """
    found = _located()
    if isinstance(found, PostgresSetupError):
        raise found
    return found


@dataclass(frozen=True)
class _Account:
    """The system account the server's programs run as when the tests run as root."""

    name: str
    uid: int
    gid: int


def _server_account() -> _Account | None:
    """None when the tests do not run as root (the programs then run as the tests' own user)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _Account(name, entry.pw_uid, entry.pw_gid)
    raise PostgresSetupError(
        "the tests run as root, which PostgreSQL refuses, and neither a 'postgres' nor a "
        "'nobody' account exists to run it as"
    )


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie waiting to be reaped by its
    parent counts as exited), from ``/proc``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def child_processes(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` (the postmaster's backends and workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


_running_servers: set[PostgresServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Stop any server a test session left running (an interrupted run skips the fixtures'
    teardown)."""
    for server in list(_running_servers):
        with contextlib.suppress(Exception):
            server.stop()
        server.remove()


class PostgresServer:
    """One throw-away PostgreSQL cluster in ``root``: ``root/data`` holds the cluster,
    ``root/server.log`` the server's log, and the server listens on a Unix socket in
    ``socket_dir`` (``root`` unless given).

    Use :func:`throwaway_postgres`, which makes, starts, stops and removes it.
    """

    def __init__(
        self,
        root: Path,
        binaries: PostgresBinaries,
        account: _Account | None,
        socket_dir: Path | None = None,
    ) -> None:
        self.root = root
        self.binaries = binaries
        self.account = account
        self.data_dir = root / "data"
        self.log_file = root / "server.log"
        self.socket_dir = socket_dir if socket_dir is not None else root
        self.postmaster_pid: int | None = None
        self._database_numbers = itertools.count(1)

    def _run(
        self, program: Path, args: Sequence[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the server programs as the server's account; raise on a timeout."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        account = self.account
        try:
            return subprocess.run(
                [str(program), *args],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                user=None if account is None else account.uid,
                group=None if account is None else account.gid,
                extra_groups=None if account is None else [],
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresSetupError(f"{program.name} {' '.join(args)} failed: {exc}") from exc

    def _pg_ctl(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return self._run(self.binaries.pg_ctl, [*args, "-D", str(self.data_dir)], timeout)

    def create_cluster(self) -> None:
        """Make the cluster with ``initdb``: UTF-8, C locale, ``trust`` authentication,
        superuser :data:`SUPERUSER`, listening only on the Unix socket.

        Raises:
            PostgresSetupError: ``initdb`` failed; the message holds its output.
        """
        if self.account is not None:
            os.chown(self.root, self.account.uid, self.account.gid)
        args = ["-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "--no-locale"]
        args += ["--encoding=UTF8", "--no-sync"]
        done = self._run(self.binaries.initdb, args, _INITDB_TIMEOUT_S)
        if done.returncode != 0:
            raise PostgresSetupError(
                f"initdb exited {done.returncode}: {_tail(done.stderr or done.stdout)}"
            )
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": _quoted(str(self.socket_dir)),
            "port": str(PORT),
            "fsync": "off",
        }
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# taserlink's test server\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        Raises:
            PostgresSetupError: it did not start; the message holds pg_ctl's reason and the
                tail of the server's log.
        """
        timeout = str(_START_TIMEOUT_S)
        done = self._pg_ctl(
            "start", "-w", "-t", timeout, "-l", str(self.log_file), timeout=_START_TIMEOUT_S + 15
        )
        self.postmaster_pid = self._pid_from_file()
        if self.postmaster_pid is not None:
            _running_servers.add(self)
        if done.returncode != 0:
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            raise PostgresSetupError(
                f"PostgreSQL did not start (pg_ctl start exited {done.returncode}: "
                f"{_tail(done.stderr or done.stdout)}); server log: {_tail(log) or '(empty)'}"
            )

    def _pid_from_file(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:
            return None
        return int(first) if first.strip().isdigit() else None

    def status(self) -> str:
        """What ``pg_ctl status`` says (``pg_ctl: no server running`` once stopped)."""
        done = self._pg_ctl("status", timeout=_STOP_TIMEOUT_S)
        return (done.stdout + done.stderr).strip()

    def processes(self) -> list[int]:
        """The server's live processes: the postmaster and its children (empty when stopped)."""
        pid = self.postmaster_pid
        if pid is None or not process_alive(pid):
            return []
        return [pid, *(child for child in child_processes(pid) if process_alive(child))]

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``, then ``-m immediate`` if that fails) and
        check that none of its processes is left. Does nothing when it is not running.

        Raises:
            PostgresSetupError: processes were left, and had to be killed.
        """
        pid = self.postmaster_pid
        if pid is None:
            return
        processes = self.processes()

        def gone() -> bool:
            return not any(process_alive(process) for process in processes)

        for mode in ("fast", "immediate"):
            if gone():
                break
            stop = ["stop", "-m", mode, "-w", "-t", str(_STOP_TIMEOUT_S)]
            with contextlib.suppress(PostgresSetupError):
                self._pg_ctl(*stop, timeout=_STOP_TIMEOUT_S + 5)
            _wait_until(gone, _EXIT_TIMEOUT_S)  # pg_ctl returns as the postmaster exits
        left = [process for process in processes if process_alive(process)]
        for leftover in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(leftover, signal.SIGKILL)
        self.postmaster_pid = None
        _running_servers.discard(self)
        if left:
            raise PostgresSetupError(
                f"PostgreSQL (postmaster {pid}) did not stop: processes {left} were killed"
            )

    def remove(self) -> None:
        """Remove the cluster's directory (the server must be stopped)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3, over the socket):
        ``postgresql+psycopg://taserlink@/DATABASE?host=SOCKET_DIR&port=5432``."""
        query = {"host": str(self.socket_dir), "port": str(PORT)}
        url = URL.create("postgresql+psycopg", username=SUPERUSER, database=database, query=query)
        return url.render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        """Run one statement outside a transaction on the server's ``postgres`` database."""
        connect_args = {
            "connect_timeout": _SQL_TIMEOUT_S,
            "options": f"-c statement_timeout={_SQL_TIMEOUT_S}s",
        }
        try:
            engine = create_engine(
                self.url("postgres"),
                isolation_level="AUTOCOMMIT",
                poolclass=NullPool,
                connect_args=connect_args,
            )
        except ImportError as exc:
            raise PostgresSetupError(
                f"the PostgreSQL tests need psycopg 3 (the 'postgres' or 'dev' extra): {exc}"
            ) from exc
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        except SQLAlchemyError as exc:
            raise PostgresSetupError(f"{statement} failed: {exc}") from exc
        finally:
            engine.dispose()

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database called ``name`` (``reg_<n>``, the next unused number of
        this server, when None) and return its name.

        Raises:
            PostgresSetupError: the name is not a plain lower-case identifier, or the server
                refused.
        """
        if name is None:
            name = f"reg_{next(self._database_numbers)}"
        if _DATABASE_NAME.fullmatch(name) is None:
            raise PostgresSetupError(f"{name!r} is not a plain lower-case database name")
        self._execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, closing any connection a test left open to it.

        Raises:
            PostgresSetupError: the name is not a plain identifier, or the server refused.
        """
        if _DATABASE_NAME.fullmatch(name) is None:
            raise PostgresSetupError(f"{name!r} is not a plain lower-case database name")
        self._execute(f"DROP DATABASE {name} WITH (FORCE)")


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition()`` every 10 ms until it is true (True) or ``timeout`` seconds pass
    (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


@functools.cache
def _base_dir() -> Path:
    """Where the clusters' directories go (chosen once per test session): ``/dev/shm`` when it
    is a writable memory file system with :data:`_SHM_ROOM_BYTES` free, else the system's
    temporary directory."""
    shm = Path("/dev/shm")
    with contextlib.suppress(OSError):
        room = os.statvfs(shm)
        if room.f_bavail * room.f_frsize >= _SHM_ROOM_BYTES and os.access(shm, os.W_OK):
            return shm
    return Path(tempfile.gettempdir())


def leftover_directories() -> list[Path]:
    """The directories of this test process's servers still on disk."""
    return sorted(_base_dir().glob(_DIR_PREFIX + "*"))


@contextlib.contextmanager
def throwaway_postgres(socket_dir: Path | None = None) -> Iterator[PostgresServer]:
    """A running PostgreSQL server in a new temporary directory, stopped and removed on exit
    (also when the body raised). ``socket_dir`` puts its socket elsewhere than in that
    directory.

    Raises:
        PostgresSetupError: PostgreSQL is missing and could not be installed, or the server
            could not be made, started or cleanly stopped.
    """
    binaries = find_binaries()
    account = _server_account()
    # Not under pytest's tmp_path: that is private to root, and the server's account must
    # reach its directory.
    root = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=_base_dir()))
    server = PostgresServer(root, binaries, account, socket_dir)
    try:
        server.create_cluster()
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.remove()
