"""One compiled schema per audience, built from the policy once (policy.md: "as Hasura does per role").

The full strawberry schema is restricted to the fields the audience's scopes allow: a field outside them is
not in its schema at all, so introspection, GraphiQL, validation and "did you mean" suggestions show only what
the audience may query, and a request pays nothing per field for authorization. Object types left without
fields disappear, and so does every field that returned one, until nothing changes; types no longer reachable
from the roots are dropped from the schema.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, cast

import strawberry
from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_enum_type,
    is_input_object_type,
    is_interface_type,
    is_introspection_type,
    is_object_type,
    is_required_argument,
    is_union_type,
)
from graphql.utilities.map_schema_config import SchemaElementKind, map_schema_config

from auth.policy import Audience, Policy

MAX_COMPILED = 256


def schema_fields(schema: GraphQLSchema) -> list[str]:
    """Every ``Type.field`` of the object and interface types (introspection excluded)."""
    return [
        f"{name}.{field}"
        for name, type_ in schema.type_map.items()
        if (is_object_type(type_) or is_interface_type(type_)) and not is_introspection_type(type_)
        for field in cast(GraphQLObjectType, type_).fields
    ]


def schema_arguments(schema: GraphQLSchema) -> list[str]:
    """Every ``Type.field.argument`` of the object and interface types (introspection excluded)."""
    return [
        f"{name}.{field}.{argument}"
        for name, type_ in schema.type_map.items()
        if (is_object_type(type_) or is_interface_type(type_)) and not is_introspection_type(type_)
        for field, definition in cast(GraphQLObjectType, type_).fields.items()
        for argument in definition.args
    ]


def _kept_fields(
    schema: GraphQLSchema, keep: Callable[[str, str], bool], keep_arg: Callable[[str, str, str], bool]
) -> dict[str, set[str]]:
    kept: dict[str, set[str]] = {}
    for name, type_ in schema.type_map.items():
        if (is_object_type(type_) or is_interface_type(type_)) and not is_introspection_type(type_):
            kept[name] = {
                f
                for f, definition in cast(GraphQLObjectType, type_).fields.items()
                if keep(name, f)
                # A field whose required argument the audience may not use cannot be queried at all.
                and all(keep_arg(name, f, a) for a, arg in definition.args.items() if is_required_argument(arg))
            }
    changed = True
    while changed:
        changed = False
        alive = {name for name, fields in kept.items() if fields}
        for name, fields in kept.items():
            type_ = cast(GraphQLObjectType, schema.type_map[name])
            for field_name in list(fields):
                target = get_named_type(type_.fields[field_name].type)
                if target.name in kept and target.name not in alive:
                    fields.discard(field_name)
                    changed = True
    return kept


def _reachable(schema: GraphQLSchema, kept: dict[str, set[str]], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        type_ = schema.type_map[name]
        if name in kept:
            object_type = cast(GraphQLObjectType, type_)
            for field_name in kept[name]:
                field = object_type.fields[field_name]
                stack.append(get_named_type(field.type).name)
                stack += [get_named_type(arg.type).name for arg in field.args.values()]  # superset: harmless
            stack += [i.name for i in object_type.interfaces if kept.get(i.name)]
            if is_interface_type(type_):
                stack += [t.name for t in schema.get_possible_types(type_) if kept.get(t.name)]
        elif is_input_object_type(type_):
            stack += [get_named_type(f.type).name for f in type_.fields.values()]
        elif is_union_type(type_):
            stack += [t.name for t in type_.types]
    return seen


def _allow_every_argument(type_name: str, field: str, argument: str) -> bool:
    return True


def _with_arguments(field: GraphQLField, keep: Callable[[str], bool]) -> GraphQLField:
    if all(keep(a) for a in field.args):
        return field
    config = field.to_kwargs()
    config["args"] = {a: v for a, v in field.args.items() if keep(a)}
    return GraphQLField(**config)


def restrict_schema(
    schema: GraphQLSchema,
    keep: Callable[[str, str], bool],
    keep_arg: Callable[[str, str, str], bool] = _allow_every_argument,
) -> GraphQLSchema:
    """A copy of ``schema`` with only the fields ``keep(type, field)`` allows and, on them, only the arguments
    ``keep_arg(type, field, argument)`` allows (and the types they need)."""
    kept = _kept_fields(schema, keep, keep_arg)
    roots = [
        t.name
        for t in (schema.query_type, schema.mutation_type, schema.subscription_type)
        if t is not None and kept.get(t.name)
    ]
    reachable = _reachable(schema, kept, roots)

    def fields_of(config: dict[str, Any], name: str) -> dict[str, Any]:
        fields = config["fields"]
        return {
            **config,
            "fields": lambda: {
                k: _with_arguments(v, lambda a, k=k: keep_arg(name, k, a))  # type: ignore[misc]
                for k, v in fields().items()
                if k in kept[name]
            },
            "interfaces": lambda: [i for i in config["interfaces"]() if kept.get(i.name)],
        }

    def mappers(context: Any) -> Any:
        def schema_config(config: dict[str, Any]) -> dict[str, Any]:
            # Enums are kept as they are: strawberry's enum type turns values into the Python enum members, and
            # a rebuilt plain GraphQLEnumType would not. Field types are resolved lazily, after this.
            for type_ in schema.type_map.values():
                if is_enum_type(type_) and not is_introspection_type(type_):
                    context.set_named_type(type_)

            def root(type_: GraphQLObjectType | None) -> GraphQLObjectType | None:
                return type_ if type_ is not None and type_.name in roots else None

            types: tuple[GraphQLNamedType, ...] = config["types"]
            return {
                **config,
                "query": root(config["query"]),
                "mutation": root(config["mutation"]),
                "subscription": root(config["subscription"]),
                "types": tuple(context.get_named_type(t.name) for t in types if t.name in reachable),
            }

        return {
            SchemaElementKind.OBJECT: lambda config: fields_of(config, config["name"]),
            SchemaElementKind.INTERFACE: lambda config: fields_of(config, config["name"]),
            SchemaElementKind.SCHEMA: schema_config,
        }

    return GraphQLSchema(**map_schema_config(schema.to_kwargs(), mappers))


class AudienceSchemas:
    """The compiled schemas, keyed by audience and the scopes its token holds (a narrowed token gets its own)."""

    def __init__(self, full: strawberry.Schema, policy: Policy) -> None:
        self.full = full
        self.policy = policy
        policy.check_covers(schema_fields(full._schema), schema_arguments(full._schema))
        self._compiled: dict[tuple[str, frozenset[str]], strawberry.Schema] = {}
        for audience in policy.audiences.values():
            self.get(audience, audience.scopes)

    def get(self, audience: Audience, scopes: frozenset[str]) -> strawberry.Schema:
        granted = scopes & audience.scopes
        key = (audience.name, granted)
        compiled = self._compiled.get(key)
        if compiled is None:
            if len(self._compiled) >= MAX_COMPILED:
                self._compiled.pop(next(iter(self._compiled)))
            compiled = self._compile(audience.name, granted)
            self._compiled[key] = compiled
        return compiled

    def _compile(self, audience: str, scopes: frozenset[str]) -> strawberry.Schema:
        restricted = restrict_schema(
            self.full._schema,
            lambda t, f: self.policy.field_allowed(t, f, audience, scopes),
            lambda t, f, a: self.policy.argument_allowed(t, f, a, audience, scopes),
        )
        compiled = copy.copy(self.full)
        compiled._schema = restricted
        restricted._strawberry_schema = compiled  # type: ignore[attr-defined]
        return compiled

    def sdl(self, audience: str) -> str:
        found = self.policy.audiences[audience]
        return self.get(found, found.scopes).as_str()
