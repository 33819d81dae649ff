"""Small factories that build rows for a test through the store's tables (the write API comes in #3)."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.identifiers import make_id_number, make_uscc, mask_id_number
from domain.taxonomy import CATEGORY_OF, TITLE_ZH, RecordType
from store.pii import PiiCipher
from store.records import content_digest
from store.tables import credit_records, subjects
from tests.conftest import TEST_PII_KEY

_seq = itertools.count(1)


def new_uscc() -> str:
    n = next(_seq)
    return make_uscc("9", "1", "310104", f"{n:08d}")


def new_id_number(birth: date = date(1980, 5, 17)) -> str:
    return make_id_number("310104", birth, next(_seq) % 1000)


async def organization(
    engine: AsyncEngine,
    name: str | None = None,
    *,
    uscc: str | None = None,
    legal_representative_id: int | None = None,
) -> dict[str, Any]:
    code = uscc or new_uscc()
    async with engine.begin() as conn:
        pk = (
            await conn.execute(
                subjects.insert()
                .values(
                    kind="ORGANIZATION",
                    name=name or f"上海测试{code[-6:]}有限公司",
                    uscc=code,
                    region_code=code[2:8],
                    legal_representative_id=legal_representative_id,
                )
                .returning(subjects.c.id)
            )
        ).scalar_one()
    return {"id": pk, "uscc": code}


async def individual(engine: AsyncEngine, name: str = "张三", *, id_number: str | None = None) -> dict[str, Any]:
    number = id_number or new_id_number()
    pii = PiiCipher(TEST_PII_KEY)
    async with engine.begin() as conn:
        pk = (
            await conn.execute(
                subjects.insert()
                .values(
                    kind="INDIVIDUAL",
                    name=name,
                    id_number_hash=pii.lookup_hash(number),
                    id_number_enc=pii.encrypt(number),
                    id_number_masked=mask_id_number(number),
                    region_code=number[:6],
                )
                .returning(subjects.c.id)
            )
        ).scalar_one()
    return {"id": pk, "id_number": number}


async def record(
    engine: AsyncEngine,
    subject_id: int,
    type_: RecordType = RecordType.ADMINISTRATIVE_PENALTY,
    *,
    decided_on: date = date(2026, 3, 2),
    **overrides: Any,
) -> int:
    n = next(_seq)
    content: dict[str, Any] = {
        "type": type_.value,
        "category": CATEGORY_OF[type_].value,
        "severity": "GENERAL" if CATEGORY_OF[type_].value == "DISHONESTY" else None,
        "title": TITLE_ZH[type_],
        "decision_number": f"沪人社监罚〔2026〕{n}号",
        "source_unit": "上海市人力资源和社会保障局执法总队",
        "legal_basis": "《劳动保障监察条例》第二十六条",
        "occurred_on": None,
        "decided_on": decided_on,
        "publicity_until": None,
        "penalty_fulfilled": None,
        "corrected_on": None,
        "details": {"amount_yuan": 20000},
        **overrides,
    }
    digest = content_digest({k: (v.isoformat() if isinstance(v, date) else v) for k, v in content.items()})
    async with engine.begin() as conn:
        pk: int = (
            await conn.execute(
                credit_records.insert()
                .values(
                    subject_id=subject_id,
                    content_digest=digest,
                    created_by="test",
                    **content,
                )
                .returning(credit_records.c.id)
            )
        ).scalar_one()
    return pk
