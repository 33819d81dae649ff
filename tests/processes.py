"""A real ``hrss-credit serve`` process on a free loopback port, for the tests that need the whole program: two
processes behind one issuer (subscriptions), a browser (tests/browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.settings import DEMO_CLIENT_SECRET_PREFIX
from tests.conftest import TEST_PII_KEY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api_process(
    database_url: str, data_dir: Path, *, public_url: str | None = None, port: int | None = None
) -> Iterator[str]:
    """Serve the database until the block ends; yields the base URL once /readyz says ready. ``public_url`` is
    the issuer in the tokens (default: the process's own URL); processes "behind one load balancer" share one."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HRSS_DATA_DIR": str(data_dir),
        "HRSS_PII_KEY": TEST_PII_KEY,
        "HRSS_PUBLIC_URL": public_url or base,
        "HRSS_PORT": str(port),
        "PORT": str(port),
        "HRSS_LOG_LEVEL": "WARNING",
    }
    cli = Path(sys.executable).parent / "hrss-credit"
    log_path = data_dir / f"api-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(cli), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
            if process.poll() is not None:
                raise AssertionError(log_path.read_text(errors="replace")[-2000:])
        else:
            raise AssertionError("the API process did not become ready")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def client_token(base: str, client: str, scope: str | None = None) -> str:
    """A demo client's access token from the process's own token endpoint (client credentials)."""
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = httpx.post(base + "/oauth/token", data=form, auth=(client, DEMO_CLIENT_SECRET_PREFIX + client))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
