"""Database URLs and the async engine (SQLAlchemy Core over asyncpg).

The engine is created in the application's lifespan and passed down; nothing here is a module global.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

BUREAU_TIME_ZONE = "Asia/Shanghai"  # the sessions' time zone, and the one "today" is taken in


def async_url(url: str) -> str:
    """Any PostgreSQL URL (``postgres://``, ``postgresql://``, ``postgresql+psycopg://``) for asyncpg."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    """The same server, another database (tests create one database per test)."""
    return make_url(async_url(url)).set(database=database).render_as_string(hide_password=False)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    max_overflow: int = 10,
    statement_timeout_ms: int = 5000,
    application_name: str = "hrss-credit",
) -> AsyncEngine:
    """A pooled engine: pre-ping drops dead connections; every statement has a server-side timeout."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={
            "server_settings": {
                "statement_timeout": str(statement_timeout_ms),
                "application_name": application_name,
                "timezone": BUREAU_TIME_ZONE,
            },
        },
    )


def asyncpg_connect_kwargs(url: str) -> dict[str, Any]:
    """asyncpg.connect() arguments for a URL (TCP host/port or a Unix socket directory in ``?host=``)."""
    u = make_url(async_url(url))
    kwargs: dict[str, Any] = {"user": u.username or "postgres", "database": u.database or "postgres"}
    if u.password:
        kwargs["password"] = u.password
    if "host" in u.query:
        kwargs["host"] = str(u.query["host"])
    else:
        kwargs["host"] = u.host or "127.0.0.1"
        kwargs["port"] = u.port or 5432
    return kwargs


def bureau_today() -> date:
    """Today in the bureau's time zone: the day a write is made on, and the default as-of date of a read."""
    return datetime.now(ZoneInfo(BUREAU_TIME_ZONE)).date()


def array_param(values: Iterable[Any], element: type[sa.types.TypeEngine[Any]]) -> sa.Cast[Any]:
    """One array parameter (for ``= ANY(...)`` or ``unnest``): a batch of thousands of values is one small
    statement that PostgreSQL plans once, not an IN list of a parameter per value."""
    return sa.cast(sa.bindparam(None, list(values), type_=sa.ARRAY(element)), sa.ARRAY(element))


async def copy_rows(conn: AsyncConnection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY ``rows`` (tuples in the order of ``columns``) into ``table``, in the connection's transaction.

    Binary COPY, for bulk writes: against an INSERT over one array a column, it spends about a tenth of the
    client's CPU a row (no per-element type checks) and less of the server's (rows are written in batches).
    A statement must have run in the transaction first (SQLAlchemy begins it lazily); a failure is raised as
    SQLAlchemy's ``IntegrityError`` (SQLSTATE class 23) or ``DBAPIError``, ``orig`` holding asyncpg's error with
    its ``sqlstate``, like a failed statement's.
    """
    import asyncpg  # type: ignore[import-untyped]

    driver = (await conn.get_raw_connection()).driver_connection
    assert conn.in_transaction() and driver is not None
    try:
        await driver.copy_records_to_table(table, records=rows, columns=list(columns))
    except asyncpg.PostgresError as exc:
        wrap = sa.exc.IntegrityError if str(exc.sqlstate).startswith("23") else sa.exc.DBAPIError
        raise wrap(f"COPY {table} ({', '.join(columns)})", None, exc) from exc
