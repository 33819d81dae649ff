"""No N+1: a page of subjects with their records and representatives costs a fixed number of statements."""

from __future__ import annotations

from tests import factories
from tests.conftest import Api, count_statements

PAGE = """
query { subjects(first: 20, kind: ORGANIZATION) {
  totalCount
  edges { node { name legalRepresentative { name }
                 records(first: 5) { totalCount edges { node { title decidedOn subject { name } } } } } } } }
"""


async def test_page_of_20_subjects_with_records_costs_four_statements(api: Api) -> None:
    for i in range(25):
        rep = await factories.individual(api.engine, f"代表{i}")
        org = await factories.organization(api.engine, legal_representative_id=rep["id"])
        for _ in range(3):
            await factories.record(api.engine, org["id"])
    await api.gql("{ catalogue { recordTypes } }")  # warm the pool's connection and the document caches
    with count_statements(api.engine) as counter:
        body = await api.gql(PAGE)
    edges = body["data"]["subjects"]["edges"]
    assert len(edges) == 20
    assert all(e["node"]["records"]["totalCount"] == 3 for e in edges)
    assert all(e["node"]["legalRepresentative"]["name"].startswith("代表") for e in edges)
    # subjects page, total count, records of all 20 (one window query), representatives (one batch);
    # CreditRecord.subject is already loaded. Plus the audit entry.
    assert len(counter.excluding_audit()) == 4, counter.statements
    assert len(counter.statements) == 5
