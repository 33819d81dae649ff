"""The authorization policy as data (auth/policy.toml), validated at start-up.

It maps audiences to their scopes, clients and row rule, and every schema field to the scope it needs. The
schema layer compiles it, once, into one schema per audience (schema/audiences.py); this module only reads
and checks it, and answers which fields a set of scopes may see.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from auth.clients import ALL_SCOPES

AUTHENTICATED = "authenticated"
ANY_RESTRICTION = "restriction:any"
EVERY_SCOPE = "*"


class Rows(StrEnum):
    """Row rules (policy.md "rows")."""

    ALL = "all"
    PUBLIC = "public"  # organizations only; any record only while published (WG art. 7)
    OWN_UNIT = "own-unit"  # the token's source_unit claim
    OWN_SUBJECT = "own-subject"  # the token's uscc claim
    NONE = "none"


class PolicyError(ValueError):
    """The policy file is wrong; the message names the entry and the reason."""


@dataclass(frozen=True)
class Audience:
    name: str
    scopes: frozenset[str]
    rows: Rows
    clients: frozenset[str]
    description: str = ""


@dataclass(frozen=True)
class FieldRule:
    scope: str
    audiences: frozenset[str] | None = None  # None: every audience holding the scope

    def allows(self, audience: str, scopes: frozenset[str]) -> bool:
        if self.audiences is not None and audience not in self.audiences:
            return False
        if self.scope == AUTHENTICATED:
            return True
        if self.scope == ANY_RESTRICTION:
            return any(s.startswith("restriction:") for s in scopes)
        return self.scope in scopes


@dataclass(frozen=True)
class Policy:
    audiences: Mapping[str, Audience]
    fields: Mapping[str, FieldRule]  # "Type.field" -> rule
    arguments: Mapping[str, FieldRule] = field(default_factory=dict)  # "Type.field.argument" -> rule
    _by_client: Mapping[str, str] = field(default_factory=dict)

    def audience_of_client(self, client_id: str) -> Audience | None:
        name = self._by_client.get(client_id)
        return self.audiences[name] if name else None

    def field_allowed(self, type_name: str, field_name: str, audience: str, scopes: frozenset[str]) -> bool:
        """Default deny: a field the policy does not name is never allowed."""
        rule = self.fields.get(f"{type_name}.{field_name}")
        return rule is not None and rule.allows(audience, scopes)

    def argument_allowed(
        self, type_name: str, field_name: str, argument: str, audience: str, scopes: frozenset[str]
    ) -> bool:
        """Default deny, as for fields: an argument the policy does not name is never allowed."""
        rule = self.arguments.get(f"{type_name}.{field_name}.{argument}")
        return rule is not None and rule.allows(audience, scopes)

    def check_covers(self, schema_fields: Iterable[str], schema_arguments: Iterable[str]) -> None:
        """Every field and argument of the schema has an entry, and every entry names one of the schema."""
        problems = []
        for kind, present, entries in (
            ("fields", set(schema_fields), set(self.fields)),
            ("arguments", set(schema_arguments), set(self.arguments)),
        ):
            missing = sorted(present - entries)
            unknown = sorted(entries - present)
            if missing:
                problems.append(f"{kind} without a policy entry (default deny refuses to start): " + ", ".join(missing))
            if unknown:
                problems.append(f"policy entries for {kind} the schema does not have: " + ", ".join(unknown))
        if problems:
            raise PolicyError("; ".join(problems))


def _scope_set(name: str, raw: Any) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise PolicyError(f"audiences.{name}.scopes must be a list of strings")
    if raw == [EVERY_SCOPE]:
        return frozenset(ALL_SCOPES)
    unknown = sorted(set(raw) - ALL_SCOPES)
    if unknown:
        raise PolicyError(f"audiences.{name}.scopes: unknown scopes {unknown}")
    return frozenset(raw)


_KNOWN_SCOPES = ALL_SCOPES | {AUTHENTICATED, ANY_RESTRICTION}
"""What a field or an argument may name: a scope, or one of the two scope-free rules."""


def parse_policy(data: Mapping[str, Any]) -> Policy:
    audiences, by_client = _parse_audiences(data.get("audiences"))
    fields = _parse_fields(data.get("fields"), audiences)
    arguments = _parse_arguments(data.get("arguments", {}))
    return Policy(audiences=audiences, fields=fields, arguments=arguments, _by_client=by_client)


def _parse_audiences(raw_audiences: Any) -> tuple[dict[str, Audience], dict[str, str]]:
    """The ``[audiences]`` table, and the audience of each client (a client belongs to one audience)."""
    audiences: dict[str, Audience] = {}
    by_client: dict[str, str] = {}
    if not isinstance(raw_audiences, dict) or not raw_audiences:
        raise PolicyError("the policy needs an [audiences] table")
    for name, raw in raw_audiences.items():
        if not isinstance(raw, dict):
            raise PolicyError(f"audiences.{name} must be a table")
        try:
            rows = Rows(str(raw.get("rows")))
        except ValueError:
            raise PolicyError(f"audiences.{name}.rows must be one of {[r.value for r in Rows]}") from None
        clients = raw.get("clients", [])
        if not isinstance(clients, list) or not all(isinstance(c, str) for c in clients):
            raise PolicyError(f"audiences.{name}.clients must be a list of client ids")
        for client in clients:
            if client in by_client:
                raise PolicyError(f"client {client} belongs to both {by_client[client]} and {name}")
            by_client[client] = name
        audiences[name] = Audience(
            name=name,
            scopes=_scope_set(name, raw.get("scopes")),
            rows=rows,
            clients=frozenset(clients),
            description=str(raw.get("description", "")),
        )
    return audiences, by_client


def _parse_fields(raw_fields: Any, audiences: Mapping[str, Audience]) -> dict[str, FieldRule]:
    """The ``[fields]`` table: ``"Type.field"`` to its rule."""
    fields: dict[str, FieldRule] = {}
    if not isinstance(raw_fields, dict):
        raise PolicyError("the policy needs a [fields] table")
    for type_name, entries in raw_fields.items():
        if not isinstance(entries, dict):
            raise PolicyError(f"fields.{type_name} must be a table of field = scope")
        for field_name, value in entries.items():
            where = f"fields.{type_name}.{field_name}"
            if isinstance(value, str):
                rule = FieldRule(value)
            elif isinstance(value, dict) and isinstance(value.get("scope"), str):
                only = value.get("audiences")
                if only is not None and (not isinstance(only, list) or set(only) - set(audiences)):
                    raise PolicyError(f"{where}.audiences must list known audiences")
                rule = FieldRule(value["scope"], frozenset(only) if only is not None else None)
            else:
                raise PolicyError(f"{where} must be a scope or {{ scope = ..., audiences = [...] }}")
            if rule.scope not in _KNOWN_SCOPES:
                raise PolicyError(f"{where}: unknown scope {rule.scope!r}")
            fields[f"{type_name}.{field_name}"] = rule
    return fields


def _parse_arguments(raw_arguments: Any) -> dict[str, FieldRule]:
    """The optional ``[arguments]`` table: ``"Type.field.argument"`` to its rule."""
    arguments: dict[str, FieldRule] = {}
    if not isinstance(raw_arguments, dict):
        raise PolicyError("arguments must be a table of TYPE.FIELD tables")
    for type_name, by_field in raw_arguments.items():
        if not isinstance(by_field, dict):
            raise PolicyError(f"arguments.{type_name} must be a table of FIELD tables")
        for field_name, entries in by_field.items():
            if not isinstance(entries, dict):
                raise PolicyError(f"arguments.{type_name}.{field_name} must be a table of argument = scope")
            for argument, value in entries.items():
                where = f"arguments.{type_name}.{field_name}.{argument}"
                if not isinstance(value, str) or value not in _KNOWN_SCOPES:
                    raise PolicyError(f"{where}: unknown scope {value!r}")
                arguments[f"{type_name}.{field_name}.{argument}"] = FieldRule(value)
    return arguments


def load_policy(path: Path | None = None) -> Policy:
    """The policy file given, or the one shipped with the package."""
    if path is None:
        text = resources.files("auth").joinpath("policy.toml").read_text(encoding="utf-8")
        source = "auth/policy.toml"
    else:
        text = path.read_text(encoding="utf-8")
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    return parse_policy(data)
