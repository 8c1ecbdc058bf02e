"""The database refuses labeling rows that break the rules (unique names, enums, ranges)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from labeling.models import (
    Answer,
    Assignment,
    InputType,
    Item,
    LabelingSchema,
    LabelingSchemaVersion,
    LabelingSession,
    SessionSchema,
)
from tests.factories import make_experiment, make_feedback, make_trace

pytestmark = pytest.mark.django_db


def refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def make_schema(experiment, name: str = "relevance", **fields) -> LabelingSchema:
    defaults = {"title": "Is the answer relevant?", "input_type": InputType.PASS_FAIL}
    return LabelingSchema.objects.create(experiment=experiment, name=name, **{**defaults, **fields})


def test_schema_names_are_unique_per_experiment():
    experiment = make_experiment()
    make_schema(experiment)

    refused(lambda: make_schema(experiment))
    assert make_schema(make_experiment()).pk


def test_schema_input_type_and_kind_are_in_their_enums():
    experiment = make_experiment()

    refused(lambda: make_schema(experiment, input_type="slider"))
    refused(lambda: make_schema(experiment, kind="label"))


def test_schema_versions_are_unique():
    schema = make_schema(make_experiment())
    LabelingSchemaVersion.objects.create(schema=schema, version=1, snapshot={})

    refused(lambda: LabelingSchemaVersion.objects.create(schema=schema, version=1, snapshot={}))


@pytest.mark.parametrize(
    "fields",
    [{"labels_per_item": 0}, {"labels_per_item": 11}, {"reservation_minutes": 0}, {"status": "x"}],
    ids=repr,
)
def test_session_ranges_and_status(fields):
    experiment = make_experiment()

    refused(lambda: LabelingSession.objects.create(experiment=experiment, name="s", **fields))


def test_session_schema_item_assignment_and_answer_rules(labeler, other_labeler):
    experiment = make_experiment()
    session = LabelingSession.objects.create(experiment=experiment, name="round 1")
    schema = make_schema(experiment)
    trace = make_trace(experiment)
    SessionSchema.objects.create(session=session, schema=schema)
    item = Item.objects.create(session=session, trace=trace)
    assignment = Assignment.objects.create(item=item, labeler=labeler)
    feedback = make_feedback(trace, name="relevance")
    Answer.objects.create(
        assignment=assignment, schema=schema, schema_version=1, assessment=feedback
    )

    refused(lambda: SessionSchema.objects.create(session=session, schema=schema))
    refused(lambda: Item.objects.create(session=session, trace=trace))
    refused(lambda: Item.objects.create(session=session, trace=make_trace(), state="done"))
    refused(lambda: Assignment.objects.create(item=item, labeler=labeler))
    refused(lambda: Assignment.objects.create(item=item, labeler=other_labeler, state="lost"))
    second = make_feedback(trace, name="relevance")
    refused(
        lambda: Answer.objects.create(
            assignment=assignment, schema=schema, schema_version=1, assessment=second
        )
    )
    refused(
        lambda: Answer.objects.create(
            assignment=assignment,
            schema=make_schema(experiment, "tone"),
            schema_version=1,
            assessment=feedback,
        )
    )
