"""MLflow's trace search syntax (`mlflow.search_traces(filter_string=…, order_by=[…])`), the part
this server supports, turned into Django filters on `Trace`.

Filter: clauses joined with ``AND`` (``OR`` is refused, as MLflow refuses it):

- ``feedback.<name>`` / ``expectation.<name>``: ``=``, ``!=``, ``IS NULL``, ``IS NOT NULL``. Only
  valid (current) assessments count. ``feedback.correct = 'true'`` matches the boolean true and
  the text "true", ``= '4'`` the number 4 and the text "4", as on MLflow's server.
- ``attributes.timestamp_ms`` (``timestamp``), ``attributes.execution_time_ms``
  (``execution_time``): ``=  !=  <  <=  >  >=`` with a number of milliseconds.
- ``attributes.status`` (``state``): ``=``, ``!=``, ``IN (…)``, ``NOT IN (…)``.
- ``attributes.trace_id`` (``request_id``), ``attributes.client_request_id``, ``name`` (the
  trace name tag), ``run_id``: ``=``, ``!=``, ``IN``, ``NOT IN``; ``name`` also ``LIKE`` /
  ``ILIKE``.
- ``tags.<key>`` / ``metadata.<key>`` (``tag.``, ``request_metadata.``): ``=``, ``!=``,
  ``LIKE``, ``ILIKE``, ``IS NULL``, ``IS NOT NULL``.

``attributes.`` / ``trace.`` may be left out. Keys with dots or spaces go in backticks or double
quotes (``tags.`mlflow.traceName```); values are quoted strings, numbers for the numeric
attributes. Anything else raises `SearchError`, which the API answers with 400
INVALID_PARAMETER_VALUE.

Order: ``timestamp_ms`` (``timestamp``, ``request_time``), ``execution_time_ms``, ``status``,
``trace_id`` (``request_id``), each with ``ASC`` or ``DESC``; the default is newest first.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Exists, F, OrderBy, OuterRef, Q
from django.db.models.fields.json import HasKey, KeyTextTransform
from django.db.models.lookups import Exact, IRegex, Regex

from traces.models import Assessment, AssessmentKind, TraceState


class SearchError(ValueError):
    """A filter or order-by this server does not understand; the message says what and why."""


# --- tokens -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<backtick>`[^`]*`)
  | (?P<single>'(?:[^'\\]|\\.|'')*')
  | (?P<double>"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _tokens(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise SearchError(
                f"Unexpected character {text[position]!r} at position {position + 1} of the filter."
            )
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group()))
    return tokens


def _unquote(token: _Token) -> str:
    text = token.text
    if token.kind == "backtick":
        return text[1:-1]
    if token.kind == "single":
        return re.sub(r"\\(.)|''", lambda m: m.group(1) or "'", text[1:-1])
    if token.kind == "double":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


# --- clauses ------------------------------------------------------------------------------------

_ENTITY_ALIASES = {
    "attribute": "attribute",
    "attributes": "attribute",
    "trace": "attribute",
    "tag": "tag",
    "tags": "tag",
    "metadata": "metadata",
    "request_metadata": "metadata",
    "feedback": "feedback",
    "expectation": "expectation",
    "span": "span",
    "issue": "issue",
}
_ATTRIBUTE_ALIASES = {
    "timestamp_ms": "timestamp_ms",
    "timestamp": "timestamp_ms",
    "request_time": "timestamp_ms",
    "execution_time_ms": "execution_time_ms",
    "execution_time": "execution_time_ms",
    "execution_duration": "execution_time_ms",
    "status": "status",
    "state": "status",
    "trace_id": "trace_id",
    "request_id": "trace_id",
    "client_request_id": "client_request_id",
    "name": "name",
    "run_id": "run_id",
}
NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">="}
TEXT_OPS = {"=", "!=", "IN", "NOT IN"}
KEY_VALUE_OPS = {"=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}
ASSESSMENT_OPS = {"=", "!=", "IS NULL", "IS NOT NULL"}
TRACE_NAME_TAG = "mlflow.traceName"
RUN_ID_METADATA = "mlflow.sourceRun"


@dataclass(frozen=True)
class Clause:
    entity: str  # attribute, tag, metadata, feedback, expectation
    key: str
    op: str
    value: Any = None


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise SearchError(f"The filter ends where {what} was expected.")
        self.position += 1
        return token

    def clauses(self) -> list[Clause]:
        clauses = [self.clause()]
        while (token := self.peek()) is not None:
            if token.upper == "AND":
                self.position += 1
                clauses.append(self.clause())
            elif token.upper == "OR":
                raise SearchError("OR is not supported in trace filters: combine clauses with AND.")
            else:
                raise SearchError(f"Expected AND between clauses, found {token.text!r}.")
        return clauses

    def key(self) -> tuple[str, str]:
        parts = [self.key_part()]
        while (token := self.peek()) is not None and token.text == ".":
            self.position += 1
            parts.append(self.key_part())
        first = parts[0].lower()
        if len(parts) > 1 and first in _ENTITY_ALIASES:
            entity, key = _ENTITY_ALIASES[first], ".".join(parts[1:])
        elif len(parts) == 1:
            entity, key = "attribute", parts[0]
        else:
            raise SearchError(
                f"Unknown key {'.'.join(parts)!r}: start it with feedback., expectation., "
                "tags., metadata. or attributes."
            )
        if not key:
            raise SearchError("A key name is empty.")
        return entity, key

    def key_part(self) -> str:
        token = self.next("a key")
        if token.kind in ("word", "backtick", "double"):
            return _unquote(token)
        raise SearchError(f"Expected a key, found {token.text!r}.")

    def op(self) -> str:
        token = self.next("a comparison (=, !=, <, >, LIKE, IN, IS NULL…)")
        if token.kind == "op":
            return "!=" if token.text == "<>" else token.text
        word = token.upper
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            if self.next("IN").upper != "IN":
                raise SearchError("NOT must be followed by IN.")
            return "NOT IN"
        if word == "IS":
            negated = (following := self.next("NULL")).upper == "NOT"
            if negated:
                following = self.next("NULL")
            if following.upper != "NULL":
                raise SearchError("IS must be followed by NULL or NOT NULL.")
            return "IS NOT NULL" if negated else "IS NULL"
        raise SearchError(f"Expected a comparison, found {token.text!r}.")

    def value(self) -> Any:
        token = self.next("a value")
        if token.kind in ("single", "double"):
            return _unquote(token)
        if token.kind == "number":
            try:
                number = float(token.text) if re.search(r"[.eE]", token.text) else int(token.text)
            except ValueError:  # more digits than Python converts
                raise SearchError(f"The number {token.text:.40}… is out of range.") from None
            if not _in_range(number):
                raise SearchError(f"The number {token.text:.40} is out of range.")
            return number
        raise SearchError(f"Expected a value (a quoted string or a number), found {token.text!r}.")

    def values(self) -> list[Any]:
        if self.next("(").text != "(":
            raise SearchError("IN needs a parenthesised list of values: IN ('a', 'b').")
        values = [self.value()]
        while (token := self.next(") or ,")).text == ",":
            values.append(self.value())
        if token.text != ")":
            raise SearchError(f"Expected , or ) in the IN list, found {token.text!r}.")
        return values

    def clause(self) -> Clause:
        entity, key = self.key()
        op = self.op()
        if op in ("IS NULL", "IS NOT NULL"):
            value = None
        elif op in ("IN", "NOT IN"):
            value = self.values()
        else:
            value = self.value()
        return _checked(Clause(entity, key, op, value))


def _checked(clause: Clause) -> Clause:
    entity, key, op, value = clause.entity, clause.key, clause.op, clause.value
    if entity in ("span", "issue"):
        raise SearchError(f"Filtering on {entity}.{key} is not supported by this server.")
    if entity == "attribute":
        name = _ATTRIBUTE_ALIASES.get(key.lower())
        if name is None:
            raise SearchError(
                f"Unknown attribute {key!r}: use timestamp_ms, execution_time_ms, status, "
                "trace_id, client_request_id, name or run_id."
            )
        if name in ("timestamp_ms", "execution_time_ms"):
            _need(op, NUMERIC_OPS, name)
            if isinstance(value, str) and re.fullmatch(r"-?\d{1,19}", value.strip()):
                value = int(value)
            if not isinstance(value, int | float):
                raise SearchError(f"{name} is compared with a number of milliseconds.")
            if not _in_range(value):
                raise SearchError(f"The number {str(value)[:40]} is out of range for {name}.")
        elif name == "name":
            _need(op, TEXT_OPS | {"LIKE", "ILIKE"}, name)
        else:
            _need(op, TEXT_OPS, name)
        values = value if isinstance(value, list) else [value]
        if name != "timestamp_ms" and name != "execution_time_ms":
            for item in values:
                if not isinstance(item, str):
                    raise SearchError(f"{name} is compared with a quoted string.")
        if name == "status":
            value = [_state(item) for item in values] if isinstance(value, list) else _state(value)
        return Clause("attribute", name, op, value)
    if entity in ("tag", "metadata"):
        _need(op, KEY_VALUE_OPS, f"{entity}s")
    else:
        _need(op, ASSESSMENT_OPS, entity)
    if op not in ("IS NULL", "IS NOT NULL") and not isinstance(value, str):
        raise SearchError(f"{entity}.{key} is compared with a quoted string, e.g. '{value}'.")
    return clause


INT64_MAX = 2**63 - 1


def _in_range(number: int | float) -> bool:
    """Finite, and within what a 64-bit integer column compares with."""
    if isinstance(number, float) and not math.isfinite(number):
        return False
    return -INT64_MAX <= number <= INT64_MAX


def _need(op: str, allowed: set[str], what: str) -> None:
    if op not in allowed:
        raise SearchError(
            f"The comparison {op} is not supported for {what}; use {', '.join(sorted(allowed))}."
        )


def _state(value: str) -> str:
    state = value.strip().upper()
    if state not in TraceState.values:
        raise SearchError(f"Unknown status {value!r}: use one of {', '.join(TraceState.values)}.")
    return state


def parse_filter(text: str | None) -> list[Clause]:
    """The clauses of an MLflow trace filter string; `SearchError` on anything unsupported."""
    if text is None or not text.strip():
        return []
    return _Parser(text).clauses()


# --- to Django ----------------------------------------------------------------------------------


def _like_regex(pattern: str) -> str:
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return "^" + "".join(parts) + "$"


def _key_value_q(column: str, key: str, op: str, value: Any) -> Q:
    has_key = HasKey(F(column), key)
    text = KeyTextTransform(key, column)
    if op == "IS NULL":
        return ~Q(has_key)
    if op == "IS NOT NULL":
        return Q(has_key)
    if op == "=":
        return Q(Exact(text, value))
    if op == "!=":
        return Q(has_key) & ~Q(Exact(text, value))
    if op == "LIKE":
        return Q(Regex(text, _like_regex(value)))
    if op == "ILIKE":
        return Q(IRegex(text, _like_regex(value)))
    if op == "IN":
        return Q(*(Exact(text, item) for item in value), _connector=Q.OR)
    if op == "NOT IN":
        return Q(has_key) & ~Q(*(Exact(text, item) for item in value), _connector=Q.OR)
    raise SearchError(f"Unsupported comparison {op}.")  # pragma: no cover (checked earlier)


def _assessment_value_q(text: str) -> Q:
    """MLflow's rule: the text matches a value equal to it, or to the JSON scalar it spells."""
    match = Q(value=text)
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return match
    if isinstance(parsed, bool) or (isinstance(parsed, int | float) and _in_range(parsed)):
        match |= Q(value=parsed)
    return match


def _assessment_q(kind: str, name: str, op: str, value: Any) -> Q:
    current = Assessment.objects.filter(trace=OuterRef("pk"), kind=kind, name=name, valid=True)
    if op == "IS NULL":
        return ~Q(Exists(current))
    if op == "IS NOT NULL":
        return Q(Exists(current))
    if op == "=":
        return Q(Exists(current.filter(_assessment_value_q(value))))
    return Q(Exists(current.exclude(_assessment_value_q(value))))


def _millis(value: int | float) -> datetime:
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise SearchError(f"The timestamp {value} is out of range.") from None


_LOOKUPS = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def _compare(field: str, op: str, value: Any) -> Q:
    if op == "!=":
        return ~Q(**{field: value})
    if op == "IN":
        return Q(**{f"{field}__in": value})
    if op == "NOT IN":
        return ~Q(**{f"{field}__in": value})
    return Q(**{f"{field}__{_LOOKUPS[op]}": value})


def _attribute_q(clause: Clause) -> Q:
    key, op, value = clause.key, clause.op, clause.value
    if key == "timestamp_ms":
        return _compare("request_time", op, _millis(value))
    if key == "execution_time_ms":
        return Q(execution_duration__isnull=False) & _compare("execution_duration", op, value)
    if key == "status":
        return _compare("state", op, value)
    if key == "trace_id":
        return _compare("trace_id", op, value)
    if key == "client_request_id":
        return _compare("client_request_id", op, value)
    if key == "name":
        return _key_value_q("tags", TRACE_NAME_TAG, op, value)
    return _key_value_q("trace_metadata", RUN_ID_METADATA, op, value)  # run_id


def filter_q(clauses: list[Clause]) -> Q:
    """One Q for all clauses (AND)."""
    q = Q()
    for clause in clauses:
        if clause.entity == "attribute":
            q &= _attribute_q(clause)
        elif clause.entity == "tag":
            q &= _key_value_q("tags", clause.key, clause.op, clause.value)
        elif clause.entity == "metadata":
            q &= _key_value_q("trace_metadata", clause.key, clause.op, clause.value)
        else:
            kind = (
                AssessmentKind.FEEDBACK
                if clause.entity == "feedback"
                else (AssessmentKind.EXPECTATION)
            )
            q &= _assessment_q(kind, clause.key, clause.op, clause.value)
    return q


_ORDER_FIELDS = {
    "timestamp_ms": "request_time",
    "timestamp": "request_time",
    "request_time": "request_time",
    "execution_time_ms": "execution_duration",
    "execution_time": "execution_duration",
    "execution_duration": "execution_duration",
    "status": "state",
    "state": "state",
    "trace_id": "trace_id",
    "request_id": "trace_id",
}
_ORDER = re.compile(
    r"^\s*(?:(?:attributes?|trace)\.)?`?(?P<key>[A-Za-z_]+)`?(?:\s+(?P<dir>ASC|DESC))?\s*$",
    re.IGNORECASE,
)


def parse_order_by(items: list[str] | None) -> list[OrderBy]:
    """Order-by clauses for Trace querysets; newest first (then by id) when none is given."""
    ordering: list[OrderBy] = []
    for item in items or []:
        if not isinstance(item, str):
            raise SearchError("order_by items are strings like 'timestamp_ms DESC'.")
        match = _ORDER.match(item)
        field = _ORDER_FIELDS.get(match.group("key").lower()) if match else None
        if field is None:
            raise SearchError(
                f"Cannot order by {item!r}: use timestamp_ms, execution_time_ms, status or "
                "trace_id, optionally followed by ASC or DESC."
            )
        descending = (match.group("dir") or "ASC").upper() == "DESC"  # type: ignore[union-attr]
        expression = F(field)
        ordering.append(
            expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
        )
    if not ordering:
        ordering.append(F("request_time").desc())
    ordering.append(F("id").desc())
    return ordering
