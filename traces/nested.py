"""Rows of one table read inside a query of another, as a JSON array per outer row.

The review app's pages need one item together with its trace's root span, the spans its
questions target, the other labels on the trace and the session's questions. Four queries of
their own would cost four round trips and four times the ORM's work of building a query; as
`JSONArrayAgg` subqueries in the item's query they cost one statement. Both databases have the
functions (`jsonb_agg` and `jsonb_build_object` on PostgreSQL, `json_group_array` and
`json_object` on SQLite), and the rows come back as model instances (`instances`).

Order inside an array is not guaranteed (SQLite before 3.44 cannot order an aggregate's
input): callers sort the instances.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import Aggregate, F, Func, JSONField, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone


class JSONArrayAgg(Aggregate):
    """The JSON array of an expression's values over the group."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra_context)


class AsJSON(Func):
    """A JSON column as a JSON value inside `JSONObject` (SQLite keeps JSON as text: without
    `json()` it would nest as a string)."""

    template = "%(expressions)s"
    output_field = JSONField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, template="JSON(%(expressions)s)", **extra_context)


def json_object(
    model: type[Model], fields: Sequence[str], extra: dict[str, Any] | None = None
) -> JSONObject:
    """`JSONObject` of `fields` (attribute names: `trace_id` for a foreign key) of `model`, and
    of the `extra` expressions."""
    values: dict[str, Any] = dict(extra or {})
    for name in fields:
        column = F(name)
        json = isinstance(model._meta.get_field(name), JSONField)
        values[name] = AsJSON(column) if json else column
    return JSONObject(**values)


def rows_of(
    queryset: QuerySet,
    *,
    fields: Sequence[str],
    outer: str,
    inner: str,
    extra: dict[str, Any] | None = None,
) -> Subquery:
    """A subquery: the JSON array of `fields` (and `extra`) of the rows of `queryset` whose
    `inner` column equals the outer query's `outer` column (NULL when there are none)."""
    return Subquery(
        queryset.filter(**{inner: OuterRef(outer)})
        .order_by()
        .values(inner)
        .annotate(rows=JSONArrayAgg(json_object(queryset.model, fields, extra)))
        .values("rows"),
        output_field=JSONField(),
    )


def instances[M: Model](
    model: type[M], rows: Iterable[dict[str, Any]] | None, extra: Sequence[str] = ()
) -> list[M]:
    """Model instances of rows from `rows_of` (for reading: they are not saved again); the
    `extra` values become plain attributes."""
    found = []
    for row in rows or ():
        values = {}
        for name, value in row.items():
            if name in extra:
                continue
            field = model._meta.get_field(name)  # names and attnames (`trace_id`) alike
            if value is not None and not isinstance(field, JSONField):
                value = field.to_python(value)
                if isinstance(value, datetime) and timezone.is_naive(value):
                    value = value.replace(tzinfo=UTC)  # SQLite stores UTC without an offset
            values[name] = value
        instance = model(**values)
        for name in extra:
            setattr(instance, name, row.get(name))
        found.append(instance)
    return found
