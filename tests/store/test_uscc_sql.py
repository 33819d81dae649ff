"""``uscc_is_valid`` (migration 0013) gives domain.identifiers.validate_uscc's verdict on every normalized code."""

from __future__ import annotations

import random

import sqlalchemy as sa

from domain.identifiers import USCC_ALPHABET, InvalidIdentifier, make_uscc, normalize, validate_uscc
from store.db import create_engine

AUTHORITIES = "123456789ANY"
# Characters a mutation puts in: the alphabet, the letters GB 32100 leaves out, lower case (normalized away) and
# others no code holds.
ODD = USCC_ALPHABET + "IOSVZ" + "abxy" + "-_ ,.!中"


def _valid(rng: random.Random) -> str:
    return make_uscc(
        rng.choice(AUTHORITIES),
        rng.choice(USCC_ALPHABET),
        "".join(rng.choice("0123456789") for _ in range(6)),
        "".join(rng.choice(USCC_ALPHABET) for _ in range(8)),
    )


def _candidates(n: int, *, seed: int = 32100) -> list[str]:
    """Valid codes, each once unchanged and once with one to three characters replaced, dropped or added, and
    strings of 16 to 20 characters of the alphabet and beyond."""
    rng = random.Random(seed)
    found: list[str] = []
    for _ in range(n):
        code = _valid(rng)
        found.append(code)
        mutated = list(code)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(mutated))
            how = rng.random()
            if how < 0.8:
                mutated[at] = rng.choice(ODD)
            elif how < 0.9:
                del mutated[at]
            else:
                mutated.insert(at, rng.choice(ODD))
        found.append("".join(mutated))
        found.append("".join(rng.choice(ODD) for _ in range(rng.randint(16, 20))))
    return found


def _python(code: str) -> bool:
    try:
        validate_uscc(code)
    except InvalidIdentifier:
        return False
    return True


async def test_uscc_is_valid_agrees_with_validate_uscc(database_url: str) -> None:
    codes = sorted({normalize(c) for c in _candidates(3000)})
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT c, uscc_is_valid(c) FROM unnest(CAST(:codes AS text[])) AS c"), {"codes": codes}
        )
        verdicts = {code: valid for code, valid in rows}
    await engine.dispose()
    disagree = {c: v for c, v in verdicts.items() if v != _python(c)}
    assert not disagree
    # Both verdicts are well represented, and many refusals are of codes whose only fault is a check character.
    valid = sum(verdicts.values())
    assert 2000 < valid < len(codes) - 2000
    alphabet = set(USCC_ALPHABET)
    well_formed = [c for c in codes if len(c) == 18 and set(c) <= alphabet and c[0] in AUTHORITIES and c[2:8].isdigit()]
    assert sum(not verdicts[c] for c in well_formed) > 500


async def test_uscc_is_valid_on_the_codes_of_the_standards(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        query = sa.text("SELECT uscc_is_valid(:c)")
        assert await conn.scalar(query, {"c": "91110000600037341L"})  # python-stdnum's example
        assert not await conn.scalar(query, {"c": "91110000600037341M"})  # position 18 wrong
        assert not await conn.scalar(query, {"c": "91110000600037342L"})  # the organization code's check wrong
        assert not await conn.scalar(query, {"c": "B1110000600037341L"})  # no such registration authority
        assert await conn.scalar(query, {"c": None}) is None
    await engine.dispose()
