"""labeling.rows: model instances from hand-written SQL equal the ORM's, and inserts match
bulk_create (JSON, booleans, dates, nulls; SQLite and PostgreSQL)."""

from datetime import UTC, datetime

import pytest
from django.db.models import Model

from labeling import rows
from tests.factories import make_feedback, make_span, make_trace
from traces.models import Assessment, Span, Trace

pytestmark = pytest.mark.django_db


def fields(obj: Model) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def select(model: type[Model], pk: int) -> Model:
    sql = f"SELECT {rows.columns(model, 'x')} FROM {model._meta.db_table} x WHERE x.id = %s"
    return rows.instance(model, rows.fetch_one(sql, [pk]))


@pytest.mark.parametrize("value", [True, 0.5, "text", ["a", "b"], {"k": "v"}])
def test_instances_read_like_the_orm(value):
    trace = make_trace()
    span = make_span(trace, span_id="01", inputs={"q": "x"}, outputs=None)
    label = make_feedback(trace, value=value, rationale="why")
    for model, pk in ((Trace, trace.pk), (Span, span.pk), (Assessment, label.pk)):
        mine = select(model, pk)
        assert not mine._state.adding
        assert fields(mine) == fields(model.objects.get(pk=pk))


def test_insert_matches_bulk_create():
    trace = make_trace()
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

    def label(name):
        return Assessment(
            trace=trace,
            experiment_id=trace.experiment_id,
            kind="feedback",
            name=name,
            source_type="HUMAN",
            source_id="ann",
            value={"k": [1, 2]} if name == "a" else None,
            error_code="" if name == "a" else "TIMEOUT",
            valid=False,
            create_time=when,
            last_update_time=when,
        )

    mine = rows.insert([label("a"), label("b")])
    theirs = Assessment.objects.bulk_create([label("a"), label("b")])
    assert all(obj.pk and not obj._state.adding for obj in mine)
    for a, b in zip(mine, theirs, strict=True):
        stored_a, stored_b = (
            fields(Assessment.objects.get(pk=a.pk)),
            fields(Assessment.objects.get(pk=b.pk)),
        )
        for key in ("id", "assessment_id"):
            stored_a.pop(key), stored_b.pop(key)
        assert stored_a == stored_b
    assert Assessment.objects.get(pk=mine[1].pk).value is None
    assert Assessment.objects.filter(pk=mine[1].pk, value__isnull=True).exists()
