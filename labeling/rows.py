"""Model instances from small hand-written SQL statements, for the review app's hot path.

Every submit & next runs about twenty statements; building them through the ORM (filters, joins,
`select_related`) costs more CPU than running them. The few statements on that path are written
out in SQL (portable between PostgreSQL and SQLite) and their rows become model instances here,
with the same conversions the ORM applies (JSON, booleans and dates on SQLite …).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model

type Converter = Callable[[Any, Any, Any], Any]

_specs: dict[tuple[type[Model], str], tuple[list[str], list[tuple[int, list[Converter], Any]]]] = {}


def _spec(model: type[Model]) -> tuple[list[str], list[tuple[int, list[Converter], Any]]]:
    key = (model, connection.vendor)
    spec = _specs.get(key)
    if spec is None:
        fields = model._meta.concrete_fields
        converters = []
        for index, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((index, found, col))
        spec = _specs[key] = ([f.attname for f in fields], converters)
    return spec


@cache
def columns(model: type[Model], alias: str) -> str:
    """The select list for all of `model`'s columns, from table alias `alias`."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def instance[M: Model](model: type[M], row: Sequence[Any], start: int = 0) -> M:
    """The instance of `model` from `row[start:]` (selected with `columns`)."""
    attnames, converters = _spec(model)
    values = list(row[start : start + len(attnames)])
    for index, found, col in converters:
        value = values[index]
        for converter in found:
            value = converter(value, col, connection)
        values[index] = value
    return model.from_db(connection.alias, attnames, values)


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def insert[M: Model](objs: Sequence[M]) -> Sequence[M]:
    """Insert `objs` (new instances of one model with an automatic primary key) in one
    statement, as `bulk_create` does (the same field preparation; no signals), and set their
    primary keys."""
    if not objs:
        return objs
    model = type(objs[0])
    meta = model._meta
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert")
        params.extend(
            field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields
        )
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * len(objs))} RETURNING {quote(meta.pk.column)}"
    )
    for obj, (pk,) in zip(objs, fetch_all(sql, params), strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs
