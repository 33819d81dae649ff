"""Compiled reads (schema/compiled.py) answer exactly as the resolvers do, audit exactly as they do, and cost one
round trip; on random single-check documents, callers and subjects, against a real PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from api.settings import Settings
from store.db import bureau_today
from store.tables import audit_log, recompute_queue
from tests import factories
from tests.conftest import Api, count_statements, running_app
from tests.schema.test_restrictions import blacklisting
from tests.schema.test_writes import IMPORT

SUBJECT_FIELDS = ["id", "kind", "name", "uscc"]
RESTRICTION_FIELDS = ["sector", "measure", "since", "until", "exception", "disputed"]
LEGAL_BASIS_FIELDS = ["document", "article", "text"]
SECTORS = ["GOVERNMENT_PROCUREMENT", "FINANCING_LOANS", "COMMITMENT_APPROVAL", "TRAVEL"]
CLIENTS = ["procurement", "finance", "portal", "admin", "inspection"]
AUDITED = ("actor", "audience", "operation", "operation_type", "outcome", "purpose", "subject_ids", "fields_returned")
SINGLE_CHECK = """query Check($u: String!) { subject(ref: {uscc: $u}) {
  name restrictions(sector: GOVERNMENT_PROCUREMENT) { sector since until legalBasis { article } } } }"""


@pytest.fixture
async def pair(settings: Settings, database_url: str) -> AsyncIterator[tuple[Api, Api]]:
    """The same database behind the compiled path and behind the resolvers alone."""
    quiet = settings.model_copy(update={"recompute_drain_seconds": 0})
    async with running_app(quiet, database_url) as compiled:
        plain = quiet.model_copy(update={"compiled_reads": False})
        async with running_app(plain, database_url) as resolvers:
            yield compiled, resolvers


def document(rng: random.Random, usccs: list[str]) -> tuple[str, dict[str, Any], str | None]:
    """A random single-check document (sometimes just outside what compiles), its variables and its name."""
    variables: dict[str, Any] = {}
    definitions: list[str] = []
    uscc = rng.choice(usccs)
    if rng.random() < 0.7:
        definitions.append("$u: String!")
        variables["u"] = uscc
        ref = "$u"
    else:
        ref = f'"{uscc}"'
    fields = rng.sample(SUBJECT_FIELDS, rng.randint(0, len(SUBJECT_FIELDS)))
    if rng.random() < 0.85:
        inner = rng.sample(RESTRICTION_FIELDS, rng.randint(1, len(RESTRICTION_FIELDS)))
        if rng.random() < 0.5:
            basis = " ".join(rng.sample(LEGAL_BASIS_FIELDS, rng.randint(1, 3)))
            inner.insert(rng.randint(0, len(inner)), f"legalBasis {{ {basis} }}")
        sector = rng.choice(SECTORS)
        if rng.random() < 0.5:
            definitions.append("$s: Sector!")
            variables["s"] = sector
            arguments = "sector: $s"
        else:
            arguments = f"sector: {sector}"
        roll = rng.random()
        day = (bureau_today() + timedelta(days=rng.randint(-400, 1400))).isoformat()
        if roll < 0.3:
            definitions.append("$d: Date")
            variables["d"] = day if rng.random() < 0.8 else None
            arguments += ", asOf: $d"
        elif roll < 0.5:
            arguments += f', asOf: "{day}"'
        fields.insert(rng.randint(0, len(fields)), f"restrictions({arguments}) {{ {' '.join(inner)} }}")
    if not fields:
        fields = ["name"]
    name = rng.choice([None, "Check", "Bidder"])
    head = "query" + (f" {name}" if name else "") + (f"({', '.join(definitions)})" if definitions else "")
    return f"{head} {{ subject(ref: {{uscc: {ref}}}) {{ {' '.join(fields)} }} }}", variables, name


def screen_document(rng: random.Random, usccs: list[str]) -> tuple[str, dict[str, Any], str | None]:
    """A random screen document: USCC references (with repeats, unknown and sometimes invalid ones)."""
    valid = usccs[:5]  # the last two are not USCCs: a screen holding one is the general path's to refuse
    pool = usccs if rng.random() < 0.1 else valid
    variables: dict[str, Any] = {"r": [{"uscc": rng.choice(pool)} for _ in range(rng.randint(0, 12))]}
    definitions = ["$r: [SubjectRef!]!"]
    sector = rng.choice(SECTORS)
    if rng.random() < 0.5:
        definitions.append("$s: Sector!")
        variables["s"] = sector
        arguments = "sector: $s, refs: $r"
    else:
        arguments = f"sector: {sector}, refs: $r"
    if rng.random() < 0.3:
        arguments += f', asOf: "{(bureau_today() + timedelta(days=rng.randint(-400, 1400))).isoformat()}"'
    fields = rng.sample(["ref", "found", "restricted"], rng.randint(0, 3))
    if rng.random() < 0.6:
        fields.insert(
            rng.randint(0, len(fields)), f"subject {{ {' '.join(rng.sample(SUBJECT_FIELDS, rng.randint(1, 4)))} }}"
        )
    if rng.random() < 0.7:
        inner = " ".join(rng.sample(RESTRICTION_FIELDS, rng.randint(1, len(RESTRICTION_FIELDS))))
        fields.insert(rng.randint(0, len(fields)), f"restrictions {{ {inner} }}")
    if not fields:
        fields = ["found"]
    return f"query ({', '.join(definitions)}) {{ screen({arguments}) {{ {' '.join(fields)} }} }}", variables, None


async def last_audit(api: Api) -> dict[str, Any]:
    async with api.engine.connect() as conn:
        row = (await conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(1))).one()
    return {k: row._mapping[k] for k in AUDITED}


async def test_compiled_reads_answer_and_audit_exactly_as_the_resolvers(pair: tuple[Api, Api]) -> None:
    compiled, resolvers = pair
    admin = await compiled.token("admin")
    listed, penalized, queued = factories.new_uscc(), factories.new_uscc(), factories.new_uscc()
    decided = bureau_today() - timedelta(days=40)
    rows = [
        blacklisting(listed, decided),
        {
            **blacklisting(penalized, decided, "沪人社监〔2026〕黑2号"),
            "type": "FALSE_MATERIALS",
            "title": "提供虚假材料",
        },
        blacklisting(queued, decided, "沪人社监〔2026〕黑3号"),
    ]
    assert (await compiled.gql(IMPORT, {"records": rows}, token=admin))["data"]["importRecords"]["created"] == 3
    clean = await factories.organization(compiled.engine, "上海守信有限公司")
    person = await factories.individual(compiled.engine)
    async with compiled.engine.begin() as conn:
        queued_id = (await conn.execute(sa.text("SELECT id FROM subjects WHERE uscc = :u"), {"u": queued})).scalar()
        await conn.execute(recompute_queue.insert().values(subject_id=queued_id))
    usccs = [listed, penalized, queued, clean["uscc"], factories.new_uscc(), "91310000MA1FL0000X", str(person["id"])]
    tokens = {client: await compiled.token(client) for client in CLIENTS}
    rng = random.Random(20261203)
    answered_by_plan = {document: 0, screen_document: 0}
    for _ in range(90):
        make = document if rng.random() < 0.6 else screen_document
        query, variables, _name = make(rng, usccs)
        client = rng.choice(CLIENTS)
        purpose = rng.choice([None, "政府采购资格审查"])
        headers = {"X-Purpose": quote(purpose)} if purpose else {}
        with count_statements(compiled.engine) as general:
            ours = await compiled.post(query, variables, token=tokens[client], headers=headers)
        ours_audit = await last_audit(compiled)
        theirs = await resolvers.post(query, variables, token=tokens[client], headers=headers)
        theirs_audit = await last_audit(resolvers)
        assert ours.status_code == theirs.status_code, (query, client)
        assert ours.json() == theirs.json(), (query, variables, client)
        assert ours_audit == theirs_audit, (query, client)
        answered_by_plan[make] += not general.excluding_audit()
    # The documents are not all outside the compiled shapes.
    assert answered_by_plan[document] >= 10 and answered_by_plan[screen_document] >= 10, answered_by_plan


async def test_a_compiled_single_check_is_one_round_trip(settings: Settings, database_url: str) -> None:
    one = settings.model_copy(update={"recompute_drain_seconds": 0, "pool_size": 1})
    async with running_app(one, database_url) as api:
        listed = factories.new_uscc()
        await api.gql(IMPORT, {"records": [blacklisting(listed, bureau_today() - timedelta(days=5))]})
        token = await api.token("procurement")
        pool = api.app.state.graphql.compiled_pool
        queries: list[str] = []
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda record: queries.append(record.query))
        await api.post(SINGLE_CHECK, {"u": listed}, token=token)  # prepares the statement on the connection
        queries.clear()
        with count_statements(api.engine) as general:
            body = (await api.post(SINGLE_CHECK, {"u": listed}, token=token)).json()
        assert body["data"]["subject"]["restrictions"][0]["legalBasis"] == {"article": "第四十八条"}
        # One statement reads; the entry is one INSERT of the group writer (shared with concurrent reads).
        assert len(queries) == 1 and "audit_log" not in queries[0], queries
        assert general.excluding_audit() == []
        assert len(general.statements) == 1 and "INSERT INTO audit_log" in general.statements[0]


SCREEN = """query ($r: [SubjectRef!]!) { screen(sector: GOVERNMENT_PROCUREMENT, refs: $r) {
  ref found restricted restrictions { sector since until } } }"""


async def test_a_compiled_screen_of_a_thousand_is_one_round_trip(settings: Settings, database_url: str) -> None:
    one = settings.model_copy(update={"recompute_drain_seconds": 0, "pool_size": 1})
    async with running_app(one, database_url) as api:
        listed = factories.new_uscc()
        await api.gql(IMPORT, {"records": [blacklisting(listed, bureau_today() - timedelta(days=5))]})
        token = await api.token("procurement")
        refs = [{"uscc": listed}] + [{"uscc": factories.new_uscc()} for _ in range(999)]
        with count_statements(api.engine) as general:
            body = (await api.post(SCREEN, {"r": refs}, token=token)).json()
        assert general.statements == []
        results = body["data"]["screen"]
        assert len(results) == 1000 and results[0]["ref"] == listed and results[0]["restricted"] is True
        assert not any(r["found"] for r in results[1:])
        audit = await last_audit(api)
        assert audit["operation"] == "anonymous" and len(audit["subject_ids"]) == 1


async def test_the_request_limits_hold_on_the_compiled_path(settings: Settings, database_url: str) -> None:
    """A screen over the cost limit, or a check deeper than the depth limit, is refused as on the general path."""
    tight = settings.model_copy(update={"recompute_drain_seconds": 0, "max_cost": 50, "max_depth": 2})
    async with running_app(tight, database_url) as api:
        token = await api.token("procurement")
        refs = [{"uscc": factories.new_uscc()} for _ in range(100)]
        costly = (await api.post(SCREEN, {"r": refs}, token=token)).json()
        assert costly["errors"][0]["extensions"]["code"] == "COST_LIMIT"
        deep = (await api.post(SINGLE_CHECK, {"u": factories.new_uscc()}, token=token)).json()
        assert deep["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
