"""`hrss-credit serve` without DATABASE_URL: the embedded PostgreSQL starts with it and stops with it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PII_KEY
from tests.processes import free_port


def _postmaster(data_dir: Path) -> int | None:
    """The pid of the embedded PostgreSQL running on ``data_dir``, if one is (postmaster.pid: removed on a stop)."""
    pid_file = data_dir / "pg" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None
    return pid


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serve_stops_its_embedded_postgresql_when_stopped(tmp_path: Path, stop: signal.Signals) -> None:
    """SIGTERM (a service manager) and Ctrl-C end it with status 0 after a graceful shutdown; both stop the
    embedded server."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env |= {"HRSS_DATA_DIR": str(tmp_path), "HRSS_PII_KEY": TEST_PII_KEY, "HRSS_PORT": str(port)}
    env |= {"HRSS_LOG_LEVEL": "WARNING"}
    cli = Path(sys.executable).parent / "hrss-credit"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(cli), "serve", "--migrate"], env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        ready, deadline = False, time.monotonic() + 120  # the first start runs initdb
        while not ready and time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            time.sleep(0 if ready else 0.2)
        assert ready, log.read_text(errors="replace")[-2000:]
        assert _postmaster(tmp_path), "the embedded PostgreSQL is running"
        process.send_signal(stop)
        assert process.wait(30) == 0
        assert _postmaster(tmp_path) is None, log.read_text(errors="replace")[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
        if (left := _postmaster(tmp_path)) is not None:  # not left behind by a failure
            os.kill(left, signal.SIGTERM)


def test_serve_with_database_url_exits_0_after_sigterm(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path), "HRSS_PII_KEY": TEST_PII_KEY}
    env |= {"HRSS_PORT": str(port), "HRSS_LOG_LEVEL": "WARNING"}
    cli = Path(sys.executable).parent / "hrss-credit"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(cli), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        ready, deadline = False, time.monotonic() + 60
        while not ready and time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            time.sleep(0 if ready else 0.2)
        assert ready, log.read_text(errors="replace")[-2000:]
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text(errors="replace")[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
