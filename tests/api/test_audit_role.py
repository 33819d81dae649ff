"""The API runs as a member of ``hrss_app``, the role migration 0011 makes: it reads, writes and audits, its sealer
chains and signs, and that role can neither disable the audit triggers nor change an entry."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.settings import Settings
from store import audit
from store.db import asyncpg_connect_kwargs, create_engine
from tests import factories
from tests.conftest import running_app
from tests.schema.test_writes import IMPORT, penalty


@pytest.fixture
async def app_role_url(database_url: str) -> AsyncIterator[str]:
    """``database_url`` as a login role of the cluster whose only privileges are those of ``hrss_app``."""
    name = f"hrss_app_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(**asyncpg_connect_kwargs(database_url))
    try:
        await admin.execute(f"CREATE ROLE {name} LOGIN IN ROLE hrss_app")
        yield make_url(database_url).set(username=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await admin.execute(f"DROP ROLE IF EXISTS {name}")
        await admin.close()


async def test_the_api_serves_and_audits_as_the_app_role(
    settings: Settings, database_url: str, app_role_url: str
) -> None:
    owner = create_engine(database_url, pool_size=1, max_overflow=0)
    org = await factories.organization(owner)
    async with running_app(settings, app_role_url) as api:
        read = await api.gql("query ($u: String!) { subject(ref: {uscc: $u}) { name } }", {"u": org["uscc"]})
        assert read["data"]["subject"]["name"]
        wrote = await api.gql(IMPORT, {"records": [penalty(factories.new_uscc())]})
        assert wrote["data"]["importRecords"]["created"] == 1, wrote
        log = await api.gql("{ auditLog(first: 5) { edges { node { operationType hash } } } }", as_client="auditor")
        assert [e["node"]["operationType"] for e in log["data"]["auditLog"]["edges"]] == ["mutation", "query"]
        async with api.engine.connect() as conn:
            assert await audit.wait_until_sealed(conn, within=10)
            assert (await conn.execute(sa.text("SELECT current_user"))).scalar_one() != "postgres"
            with pytest.raises(sa.exc.DBAPIError, match="must be owner"):
                await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            await conn.rollback()
            with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
                await conn.execute(sa.text("DELETE FROM audit_log"))
            await conn.rollback()
    async with owner.connect() as conn:
        report = await audit.verify(conn)
        assert await audit.latest_checkpoint(conn) is not None  # signed by the app's sealer
    await owner.dispose()
    assert report.intact and report.entries == 3
