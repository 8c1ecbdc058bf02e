"""The labeling admin renders for a superuser in a number of queries that does not grow."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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

MODELS = [
    LabelingSchema,
    LabelingSchemaVersion,
    LabelingSession,
    SessionSchema,
    Item,
    Assignment,
    Answer,
]
MAX_QUERIES = 15
_users = itertools.count(1)


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", password=None)
    client.force_login(user)
    return client


def changelist(model: type) -> str:
    return reverse(f"admin:labeling_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:labeling_{obj._meta.model_name}_change", args=[obj.pk])


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(context.captured_queries)


def populate(sessions: int) -> None:
    """Sessions with two questions, three items and two labelers' answers each."""
    for _ in range(sessions):
        experiment = make_experiment()
        schemas = [
            LabelingSchema.objects.create(
                experiment=experiment,
                name=name,
                title=f"{name}?",
                input_type=InputType.PASS_FAIL,
            )
            for name in ("relevance", "safety")
        ]
        for schema in schemas:
            LabelingSchemaVersion.objects.create(schema=schema, version=1, snapshot={"v": 1})
        session = LabelingSession.objects.create(experiment=experiment, name="round 1")
        for position, schema in enumerate(schemas):
            SessionSchema.objects.create(session=session, schema=schema, position=position)
        labelers = [User.objects.create_user(f"labeler-{next(_users)}") for _ in range(2)]
        session.labelers.set(labelers)
        for position in range(3):
            trace = make_trace(experiment)
            item = Item.objects.create(session=session, trace=trace, position=position)
            for labeler in labelers:
                assignment = Assignment.objects.create(item=item, labeler=labeler)
                for schema in schemas:
                    Answer.objects.create(
                        assignment=assignment,
                        schema=schema,
                        schema_version=1,
                        assessment=make_feedback(trace, name=schema.name),
                    )


@pytest.mark.parametrize("model", MODELS)
def test_changelists_render_in_a_fixed_number_of_queries(admin_client, model):
    populate(1)
    few = queries_for(admin_client, changelist(model))
    populate(3)

    many = queries_for(admin_client, changelist(model))

    assert many == few
    assert many <= MAX_QUERIES


@pytest.mark.parametrize("model", MODELS)
def test_change_pages_render_in_bounded_queries(admin_client, model):
    populate(2)
    obj = model.objects.order_by("pk").last()

    assert queries_for(admin_client, change(obj)) <= MAX_QUERIES + 5


def test_session_page_lists_its_questions_and_links_its_items(admin_client):
    populate(1)
    session = LabelingSession.objects.get()

    response = admin_client.get(change(session))
    listing = admin_client.get(changelist(LabelingSession))

    assert "relevance" in response.text and "safety" in response.text
    assert f"{changelist(Item)}?session__id__exact={session.pk}" in listing.text


def test_items_search_by_trace_id(admin_client):
    populate(2)
    item = Item.objects.order_by("pk").first()

    response = admin_client.get(changelist(Item), {"q": item.trace.trace_id})

    assert list(response.context["cl"].result_list) == [item]
