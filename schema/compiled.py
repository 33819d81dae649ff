"""Compiled reads: the hot single check and batch screen answered by one prepared statement each.

"Is this subject restricted in this sector?" is most of the traffic of procurement and finance systems. A document
of that shape, ``subject(ref: {uscc: …}) { id kind name uscc restrictions(sector: …, asOf: …) { … } }``, or a
``screen(sector: …, refs: $refs, asOf: …) { ref found restricted subject { … } restrictions { … } }`` of USCCs, is
compiled once per audience schema into a plan: it is validated against the audience's own schema (so the field
policy holds exactly as on the general path), its selection becomes the JSON the statement builds, and the audit
entry's fields are computed once. A request then costs one round trip (store/compiled.py).

The plan answers only what it can answer exactly as the resolvers would; everything else returns None and the
request takes the general path: another document shape, aliases or fragments, a variable of the wrong type, an
invalid USCC, a sector outside the caller's scopes, a subject outside the row rule, an unknown subject, a subject
waiting to be recomputed, the database failing. Those answers (errors, nulls, refusals) and their audit entries
therefore come from one place only. tests/api/test_compiled.py holds the two paths to the same answers and the
same audit entries on random documents and data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    EnumValueNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import ASTValidationRule

from auth.policy import Audience, Rows
from auth.tokens import Principal
from domain import identifiers
from domain.taxonomy import Sector
from schema.audit import selected_fields
from schema.ids import global_id
from schema.limits import RequestLimits, limit_rules, operation_cost
from schema.restrictions import MAX_SCREEN  # more is BAD_USER_INPUT, which the general path answers
from store import compiled as store
from store.audit import AuditEntry, AuditWriter
from store.replicas import Reads

SUBJECT_FIELDS = frozenset({"id", "kind", "name", "uscc", "restrictions"})
MAX_DOCUMENT_CHARS = 2000  # the shape is small; a longer text is not worth parsing twice


@dataclass(frozen=True)
class Input:
    """An argument of the plan: a literal, or the variable that carries it."""

    literal: str | None = None
    variable: str | None = None

    def value(self, variables: Mapping[str, Any]) -> Any:
        return self.literal if self.variable is None else variables.get(self.variable)


@dataclass(frozen=True)
class SubjectCheck:
    """A compiled single check: what to read, and how to answer and audit it."""

    uscc: Input
    sector: Input | None  # None: restrictions not selected
    as_of: Input | None
    subject_fields: tuple[str, ...]
    operation: str
    fields_returned: tuple[str, ...]
    variables: frozenset[str]
    sql: str
    public_sql: str  # the same, for an audience that sees organizations only

    # A single check's cost does not depend on its variables (no list or page size is one): computed once.
    cost: int = 0

    def affordable(self, variables: Mapping[str, Any], limits: RequestLimits) -> bool:
        return self.cost <= limits.max_cost

    async def run(
        self,
        reads: Reads,
        writer: AuditWriter,
        *,
        variables: Mapping[str, Any],
        principal: Principal,
        audience: Audience,
        today: date,
        request_id: str | None,
        purpose: str | None,
    ) -> bytes | None:
        """The response body, or None when the general path must answer."""
        if set(variables) - self.variables:
            return None
        uscc = _uscc(self.uscc.value(variables))
        if uscc is None:
            return None
        sector_value: str | None = None
        if self.sector is not None:
            sector_value = _sector(self.sector, variables, principal)
            if sector_value is None:
                return None
        day = _day(self.as_of, variables, today)
        if day is None:
            return None
        sql = _statement(audience, self.sql, self.public_sql)
        if sql is None:
            return None
        try:
            row = await store.subject_check(reads, sql, uscc=uscc, sector=sector_value or "", day=day)
        except Exception:  # an outage or a timeout: the general path answers it (503, its codes)
            return None
        if row is None:
            return None
        entry = _read_entry(principal, audience, self.operation, request_id, purpose, (row.id,), self.fields_returned)
        try:
            await writer.append(entry)
        except Exception:  # no answer without its durable entry: the general path answers (and audits) it
            return None
        values: dict[str, Any] = {
            "id": global_id("Subject", row.id),
            "kind": row.kind,
            "name": row.name,
            "uscc": row.uscc,
            "restrictions": orjson.Fragment(row.found or "[]"),
        }
        subject = {name: values[name] for name in self.subject_fields}
        return orjson.dumps({"data": {"subject": subject}})


@dataclass(frozen=True)
class ScreenCheck:
    """A compiled screen of USCC references: one statement for the verdicts, in request order, and the audit."""

    refs: str  # the variable carrying the references
    sector: Input
    as_of: Input | None
    operation: str
    fields_returned: tuple[str, ...]
    variables: frozenset[str]
    sql: str
    public_sql: str
    read_sql: str  # for a replica: no entry in the statement
    public_read_sql: str
    costs: Any = None

    def affordable(self, variables: Mapping[str, Any], limits: RequestLimits) -> bool:
        document, name = self.costs
        return operation_cost(document, name, variables) <= limits.max_cost

    async def run(
        self,
        reads: Reads,
        writer: AuditWriter,  # for the entry of a screen a replica answered; on the primary its statement writes it
        *,
        variables: Mapping[str, Any],
        principal: Principal,
        audience: Audience,
        today: date,
        request_id: str | None,
        purpose: str | None,
    ) -> bytes | None:
        if set(variables) - self.variables:
            return None
        refs = variables.get(self.refs)
        if not isinstance(refs, list) or len(refs) > MAX_SCREEN:
            return None
        sent: list[str] = []
        usccs: list[str] = []
        for ref in refs:
            # Only references that give a USCC and nothing else: ID numbers are echoed masked and looked up by
            # keyed hash, ids are decoded; the general path does both.
            value = ref["uscc"] if type(ref) is dict and len(ref) == 1 and "uscc" in ref else None
            if type(value) is not str:
                return None
            # Normalized only: the statement finds the register's codes, all valid, and checks the rest itself.
            uscc = identifiers.normalize(value)
            if len(uscc) != identifiers.USCC_LENGTH:
                return None
            usccs.append(uscc)
            sent.append(value)
        sector = _sector(self.sector, variables, principal)
        day = _day(self.as_of, variables, today)
        if sector is None or day is None:
            return None
        sql = _statement(audience, self.sql, self.public_sql)
        read_sql = _statement(audience, self.read_sql, self.public_read_sql)
        if sql is None or read_sql is None:
            return None
        try:
            rows = await store.screen(
                reads,
                sql,
                read_sql,
                refs=sent,
                usccs=usccs,
                sector=sector,
                day=day,
                actor=principal.subject,
                audience=audience.name,
                operation=self.operation,
                request_id=request_id,
                purpose=purpose,
                fields_returned=self.fields_returned,
            )
        except Exception:  # an outage or a timeout: the general path answers it (503, its codes)
            return None
        if rows is None:
            return None
        if rows.unaudited_subjects is not None:
            entry = _read_entry(
                principal, audience, self.operation, request_id, purpose, rows.unaudited_subjects, self.fields_returned
            )
            try:
                await writer.append(entry)
            except Exception:  # no answer without its durable entry: the general path answers (and audits) it
                return None
        return orjson.dumps({"data": {"screen": orjson.Fragment(rows.results)}})


def _read_entry(
    principal: Principal,
    audience: Audience,
    operation: str,
    request_id: str | None,
    purpose: str | None,
    subject_ids: tuple[int, ...],
    fields_returned: tuple[str, ...],
) -> AuditEntry:
    """The entry of a compiled read that answered: the same as the general path writes for it."""
    return AuditEntry(
        actor=principal.subject,
        audience=audience.name,
        operation=operation,
        operation_type="query",
        outcome="ok",
        request_id=request_id,
        purpose=purpose,
        subject_ids=subject_ids,
        fields_returned=fields_returned,
    )


def _uscc(value: Any) -> str | None:
    """The normalized USCC, or None for anything the general path must refuse."""
    if not isinstance(value, str):
        return None
    try:
        return identifiers.validate_uscc(value)
    except identifiers.InvalidIdentifier:
        return None


def _statement(audience: Audience, sql: str, public_sql: str) -> str | None:
    """The statement for the audience's row rule; None for an employer's own subject (or no rows), whose
    refusals the general path hides and audits."""
    if audience.rows in (Rows.ALL, Rows.OWN_UNIT):
        return sql
    if audience.rows is Rows.PUBLIC:
        return public_sql
    return None


def _sector(given: Input, variables: Mapping[str, Any], principal: Principal) -> str | None:
    """The sector asked for, when the caller may see it (else the general path answers FORBIDDEN)."""
    value = given.value(variables)
    if not isinstance(value, str) or value not in Sector.__members__ or not principal.has(Sector(value).scope):
        return None
    return value


def _day(given: Input | None, variables: Mapping[str, Any], today: date) -> date | None:
    """asOf (default: today); None for a value the Date scalar would refuse."""
    value = given.value(variables) if given is not None else None
    if value is None:
        return today
    if not isinstance(value, str):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if day.isoformat() == value else None


def _input(node: ValueNode) -> Input | None:
    if isinstance(node, VariableNode):
        return Input(variable=node.name.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return Input(literal=node.value)
    return None


def _plain_fields(selection: SelectionSetNode | None) -> list[FieldNode] | None:
    """The selection's fields when it has nothing else (no fragments, aliases or directives)."""
    if selection is None:
        return None
    fields: list[FieldNode] = []
    for node in selection.selections:
        if not isinstance(node, FieldNode) or node.alias is not None or node.directives:
            return None
        fields.append(node)
    return fields


def _restriction_fields(node: FieldNode) -> list[str | tuple[str, list[str]]] | None:
    fields = _plain_fields(node.selection_set)
    if fields is None:
        return None
    out: list[str | tuple[str, list[str]]] = []
    for f in fields:
        name = f.name.value
        if f.arguments:
            return None
        if name == "legalBasis":
            sub = _plain_fields(f.selection_set)
            if sub is None or any(s.arguments or s.name.value not in store.LEGAL_BASIS_COLUMNS for s in sub):
                return None
            out.append((name, [s.name.value for s in sub]))
        elif name in store.RESTRICTION_COLUMNS:
            out.append(name)
        else:
            return None
    return out


def compile_check(
    schema: GraphQLSchema,
    query: str,
    operation_name: str | None,
    limits: RequestLimits = RequestLimits(),  # noqa: B008 - a frozen dataclass
    rules: tuple[type[ASTValidationRule], ...] | None = None,
) -> SubjectCheck | ScreenCheck | None:
    """The plan of a single-check or screen document valid in ``schema`` within ``limits`` (tokens, depth,
    aliases: the general path's validation; the cost is checked per request), or None for any other document."""
    if len(query) > MAX_DOCUMENT_CHARS:
        return None
    try:
        document = parse(query, no_location=True, max_tokens=limits.max_tokens)
    except GraphQLError:
        return None
    every_rule = rules if rules is not None else (*specified_rules, *limit_rules(limits))
    if len(document.definitions) != 1 or validate(schema, document, every_rule):
        return None
    plan = _compile(schema, document, operation_name)
    if isinstance(plan, SubjectCheck):
        return dataclasses.replace(plan, cost=operation_cost(document, operation_name, {}))
    if isinstance(plan, ScreenCheck):
        return dataclasses.replace(plan, costs=(document, operation_name))
    return None


def _compile(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> SubjectCheck | ScreenCheck | None:
    op = document.definitions[0]
    if not isinstance(op, OperationDefinitionNode) or op.operation is not OperationType.QUERY or op.directives:
        return None
    name = op.name.value if op.name else None
    if operation_name is not None and operation_name != name:
        return None
    definitions = op.variable_definitions or ()
    if any(v.default_value is not None or v.directives for v in definitions):
        return None
    roots = _plain_fields(op.selection_set)
    if roots is None or len(roots) != 1:
        return None
    root = roots[0]
    operation = name or "anonymous"
    variables = frozenset(v.variable.name.value for v in definitions)
    returned = selected_fields(schema, document, operation_name)
    if root.name.value == "screen":
        return _compile_screen(root, operation, variables, returned)
    if root.name.value != "subject":
        return None
    return _compile_check(root, operation, variables, returned)


def _compile_check(
    root: FieldNode, operation: str, variables: frozenset[str], returned: tuple[str, ...]
) -> SubjectCheck | None:
    """``subject(ref: {uscc: …}) { … restrictions(sector: …, asOf: …) { … } }``, or None for any other shape."""
    root_arguments = root.arguments or ()
    if len(root_arguments) != 1 or root_arguments[0].name.value != "ref":
        return None
    ref = root_arguments[0].value
    if not isinstance(ref, ObjectValueNode) or len(ref.fields) != 1 or ref.fields[0].name.value != "uscc":
        return None
    uscc = _input(ref.fields[0].value)
    fields = _plain_fields(root.selection_set)
    if uscc is None or fields is None:
        return None
    sector = as_of = None
    restriction_sql: str | None = None
    for f in fields:
        if f.name.value not in SUBJECT_FIELDS:
            return None
        if f.name.value != "restrictions":
            if f.arguments or f.selection_set:
                return None
            continue
        arguments = {a.name.value: a.value for a in f.arguments or ()}
        if set(arguments) - {"sector", "asOf"} or "sector" not in arguments:
            return None  # without a sector, every sector the caller may see: left to the general path
        sector = _input(arguments["sector"])
        as_of = _input(arguments["asOf"]) if "asOf" in arguments else None
        selected = _restriction_fields(f)
        if sector is None or selected is None or ("asOf" in arguments and as_of is None):
            return None
        restriction_sql = store.restriction_json(selected)
    return SubjectCheck(
        uscc=uscc,
        sector=sector,
        as_of=as_of,
        subject_fields=tuple(f.name.value for f in fields),
        operation=operation,
        fields_returned=returned,
        variables=variables,
        sql=store.subject_check_sql(restriction_sql, organizations_only=False),
        public_sql=store.subject_check_sql(restriction_sql, organizations_only=True),
    )


SCREEN_FIELDS = frozenset({"ref", "found", "restricted", "subject", "restrictions"})


def _compile_screen(
    root: FieldNode, operation: str, variables: frozenset[str], returned: tuple[str, ...]
) -> ScreenCheck | None:
    arguments = {a.name.value: a.value for a in root.arguments or ()}
    if set(arguments) - {"sector", "refs", "asOf"} or not isinstance(arguments.get("refs"), VariableNode):
        return None
    refs = arguments["refs"]
    assert isinstance(refs, VariableNode)
    sector = _input(arguments["sector"])
    as_of = _input(arguments["asOf"]) if "asOf" in arguments else None
    fields = _plain_fields(root.selection_set)
    if sector is None or fields is None or ("asOf" in arguments and as_of is None):
        return None
    results: list[str | tuple[str, list[str]]] = []
    restriction = store.restriction_json(["sector"])  # "restricted" needs the list even when it is not selected
    for f in fields:
        field = f.name.value
        if field not in SCREEN_FIELDS or f.arguments:
            return None
        if field == "subject":
            sub = _plain_fields(f.selection_set)
            if sub is None or any(
                s.arguments or s.selection_set or s.name.value not in store.SUBJECT_COLUMNS for s in sub
            ):
                return None
            results.append((field, [s.name.value for s in sub]))
        elif field == "restrictions":
            selected = _restriction_fields(f)
            if selected is None:
                return None
            restriction = store.restriction_json(selected)
            results.append(field)
        else:
            results.append(field)
    return ScreenCheck(
        refs=refs.name.value,
        sector=sector,
        as_of=as_of,
        operation=operation,
        fields_returned=returned,
        variables=variables,
        sql=store.screen_sql(results, restriction, organizations_only=False),
        public_sql=store.screen_sql(results, restriction, organizations_only=True),
        read_sql=store.screen_sql(results, restriction, organizations_only=False, audited=False),
        public_read_sql=store.screen_sql(results, restriction, organizations_only=True, audited=False),
    )


class CompiledReads:
    """Plans by (audience schema, document, operation name), ``None`` remembered too; bounded."""

    def __init__(self, limits: RequestLimits = RequestLimits(), limit: int = 1000) -> None:  # noqa: B008
        self.limits = limits
        self._rules = (*specified_rules, *limit_rules(limits))
        # The schema itself is in the key (not its id): a plan never outlives the schema it was validated in.
        self._plans: dict[tuple[GraphQLSchema, str, str | None], SubjectCheck | ScreenCheck | None] = {}
        self._limit = limit

    def plan(self, schema: GraphQLSchema, query: str, operation_name: str | None) -> SubjectCheck | ScreenCheck | None:
        key = (schema, query, operation_name)
        if key in self._plans:
            return self._plans[key]
        plan = compile_check(schema, query, operation_name, self.limits, self._rules)
        if len(self._plans) >= self._limit:
            self._plans.pop(next(iter(self._plans)))
        self._plans[key] = plan
        return plan
