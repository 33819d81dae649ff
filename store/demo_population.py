"""The demo subjects (store.demo): names and identifiers of its individuals and organizations.

They depend on the generator they are drawn from only, never on the seed day; store.demo passes one seeded
generator, so the same subjects come out on every machine.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial

from domain.identifiers import make_id_number, make_uscc
from domain.taxonomy import GradeLevel
from store.demo_data import (
    ASSOCIATIONS,
    CONSTRUCTION_SUFFIXES,
    DISTRICTS,
    FEMALE_CHARS,
    INDUSTRIES,
    MALE_CHARS,
    OTHER_ORGS,
    OTHER_REGIONS,
    PUBLIC_INSTITUTIONS,
    RURAL,
    SHOPS,
    SURNAMES,
    TRADE_CHARS,
    District,
)
from store.demo_scenarios import COMPANIES, COMPANY_SCENARIOS, PEOPLE, PLAIN, REPRESENTATIVES_FROM, Scenario


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str

    @property
    def surname(self) -> str:
        return self.name[0]


@dataclass(frozen=True)
class Org:
    name: str
    uscc: str
    district: District
    industry: str  # tag of INDUSTRIES, "public" for the non-company organizations
    representative: int | None  # index into Plan.people
    grade: GradeLevel  # the grade the records are laid out to produce
    scenario: str


@dataclass(frozen=True)
class Plan:
    people: tuple[Person, ...]
    orgs: tuple[Org, ...]


def trade_name(rng: random.Random) -> str:
    first, second = rng.sample(TRADE_CHARS, 2)
    return first + second


def _make_people(rng: random.Random) -> tuple[Person, ...]:
    people: list[Person] = []
    names: set[str] = set()
    numbers: set[str] = set()
    first_day, last_day = date(1960, 1, 1), date(2000, 12, 31)
    while len(people) < PEOPLE:
        male = rng.random() < 0.6
        chars = MALE_CHARS if male else FEMALE_CHARS
        given = "".join(rng.sample(chars, rng.choice((1, 2, 2))))
        name = rng.choice(SURNAMES) + given
        # The people with a part to play are registered in Shanghai, so their courts are Shanghai courts.
        if len(people) < REPRESENTATIVES_FROM or rng.random() < 0.75:
            region = rng.choice(DISTRICTS).code
        else:
            region = rng.choice(OTHER_REGIONS)
        birth = first_day + timedelta(days=rng.randint(0, (last_day - first_day).days))
        # GB 11643-1999: the sequence number is odd for men, even for women.
        sequence = rng.randrange(1 if male else 0, 1000, 2)
        number = make_id_number(region, birth, sequence)
        if name in names or number in numbers:
            continue
        names.add(name)
        numbers.add(number)
        people.append(Person(name, number))
    return tuple(people)


def _org_code_body(rng: random.Random) -> str:
    """Positions 9-16 of a USCC: newer registrations look like MA1xxxxx, older ones keep an 8-digit code."""
    if rng.random() < 0.65:
        return "MA1" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(5))
    return "".join(rng.choice("0123456789") for _ in range(8))


def _uscc(rng: random.Random, authority: str, org_type: str, district: District) -> str:
    return make_uscc(authority, org_type, district.code, _org_code_body(rng))


def _company_name(rng: random.Random, suffix: str) -> str:
    return f"上海{trade_name(rng)}{suffix}"


def _other_org_name(rng: random.Random, kind: str, district: District) -> str:
    trade = trade_name(rng)
    if kind == "shop":
        return f"上海市{district.name}{trade}{rng.choice(SHOPS)}"
    if kind == "cooperative":
        return f"上海{trade}蔬果专业合作社"
    if kind == "agency":
        return f"上海市{district.name}机关事务管理局"
    if kind == "institution":
        return f"上海市{district.name}{rng.choice(PUBLIC_INSTITUTIONS)}"
    if kind == "association":
        return f"上海市{district.name}{rng.choice(ASSOCIATIONS)}"
    if kind == "school":
        return f"上海市{district.name}{trade}职业技能培训学校"
    if kind == "village":
        return f"上海市{district.name}{trade}村股份经济合作社"
    return f"上海市{district.name}{trade}邻里互助服务社"


@dataclass
class _Registry:
    """The names and USCCs given so far: each organization gets its own."""

    names: set[str] = field(default_factory=set)
    usccs: set[str] = field(default_factory=set)

    def unique(self, make_name: Callable[[], str], make_code: Callable[[], str]) -> tuple[str, str]:
        while True:
            name, code = make_name(), make_code()
            if name not in self.names and code not in self.usccs:
                self.names.add(name)
                self.usccs.add(code)
                return name, code


def _companies(rng: random.Random, registry: _Registry, representatives: Iterator[int]) -> list[Org]:
    slots: list[Scenario] = [s for s in COMPANY_SCENARIOS for _ in range(s.companies)]
    slots += [PLAIN] * (COMPANIES - len(slots))
    orgs: list[Org] = []
    for scenario in slots:
        district = rng.choice(DISTRICTS)
        if scenario.construction:
            suffix, industry = rng.choice(CONSTRUCTION_SUFFIXES), "construction"
        else:
            suffix, industry = rng.choice(INDUSTRIES)
        name, uscc = registry.unique(
            partial(_company_name, rng, suffix),
            partial(_uscc, rng, "9", "1", district),
        )
        rep = scenario.representative if scenario.representative is not None else next(representatives)
        orgs.append(Org(name, uscc, district, industry, rep, scenario.grade, scenario.name))
    return orgs


def _other_orgs(rng: random.Random, registry: _Registry, representatives: Iterator[int]) -> list[Org]:
    orgs: list[Org] = []
    for authority, org_type, count, kind in OTHER_ORGS:
        for _ in range(count):
            district = rng.choice(RURAL if kind in ("village", "cooperative") else DISTRICTS)
            name, uscc = registry.unique(
                partial(_other_org_name, rng, kind, district),
                partial(_uscc, rng, authority, org_type, district),
            )
            # 个体工商户 have an operator (经营者), not a legal representative.
            rep = None if kind == "shop" else next(representatives)
            orgs.append(Org(name, uscc, district, "public", rep, PLAIN.grade, PLAIN.name))
    return orgs


def make_plan(rng: random.Random) -> Plan:
    """The subjects, drawn from ``rng``."""
    people = _make_people(rng)
    order = list(range(REPRESENTATIVES_FROM, len(people)))
    rng.shuffle(order)
    # Ordinary organizations take representatives in this order; a few people represent two, as happens.
    representatives = itertools.cycle(order)
    registry = _Registry()
    orgs = _companies(rng, registry, representatives)
    orgs += _other_orgs(rng, registry, representatives)
    rng.shuffle(orgs)  # so that row ids say nothing about grades
    return Plan(people, tuple(orgs))
