"""Answers follow their label when it is edited or deleted outside the review app: in the trace
explorer, through the MLflow API or in the admin (`labeling.services`)."""

import pytest

from labeling import services as labeling_services
from labeling.campaign.agreement import session_agreement
from labeling.models import Adjudication, Answer
from labeling.results import load_cells
from tests.factories import (
    assign_traces,
    make_answer,
    make_assignment,
    make_experiment,
    make_review_session,
    make_schema,
)
from traces import services
from traces.models import Assessment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(labeler, other_labeler):
    experiment = make_experiment()
    correct = make_schema(experiment, "correct", "pass_fail")
    session = make_review_session(
        experiment=experiment, items=2, schemas=[correct], labels_per_item=2
    )
    items = list(session.items.order_by("position"))
    answers = {}
    for item in items:
        answers[item.pk] = (
            make_answer(make_assignment(item, labeler), correct, True),
            make_answer(make_assignment(item, other_labeler), correct, False),
        )
    return session, correct, items, answers


def values(session):
    return [[a.value for a in cell.answers] for cell in load_cells(session)]


def test_a_label_edited_in_the_explorer_moves_the_answer(world, labeler, client):
    session, _, items, answers = world
    assign_traces(labeler, *(item.trace for item in items))
    before = session_agreement(session)[0].percent.value
    mine = answers[items[0].pk][0]
    client.force_login(labeler)
    response = client.post(
        f"/traces/{items[0].trace.trace_id}/labels/{mine.assessment.assessment_id}/edit/",
        {"data_type": "boolean", "value": "false", "rationale": "On second thoughts."},
    )
    assert response.status_code in (200, 302)
    mine.refresh_from_db()
    assert mine.assessment.valid and mine.assessment.value is False
    assert mine.assessment.rationale == "On second thoughts."
    assert values(session)[0] == [False, False]
    # The cached figures notice: item 1 is no longer split.
    assert session_agreement(session)[0].percent.value > before


def test_deleting_the_override_moves_the_answer_back(world, labeler):
    session, _, items, answers = world
    mine = answers[items[0].pk][0]
    trace_id = items[0].trace.trace_id
    override = labeling_services.override_assessment(
        trace_id=trace_id,
        assessment_id=mine.assessment.assessment_id,
        value=False,
        source=services.Source("HUMAN", labeler.username),
    )
    assert Answer.objects.get(pk=mine.pk).assessment_id == override.pk
    labeling_services.delete_assessment(trace_id=trace_id, assessment_id=override.assessment_id)
    assert Answer.objects.get(pk=mine.pk).assessment_id == mine.assessment_id
    assert values(session)[0] == [True, False]


def test_deleting_a_label_that_replaced_nothing_removes_the_answer(world):
    session, _, items, answers = world
    theirs = answers[items[1].pk][1]
    labeling_services.delete_assessment(
        trace_id=items[1].trace.trace_id, assessment_id=theirs.assessment.assessment_id
    )
    assert not Answer.objects.filter(pk=theirs.pk).exists()
    assert values(session)[1] == [True]


def test_a_final_answer_follows_its_override(world, curator):
    session, correct, items, _ = world
    final = services.log_assessment(
        trace_id=items[0].trace.trace_id,
        assessment=services.Feedback(
            name="correct", value=True, source=services.Source("HUMAN", curator.username)
        ),
    )
    row = Adjudication.objects.create(
        item=items[0], schema=correct, assessment=final, adjudicator=curator
    )
    changed = labeling_services.override_assessment(
        trace_id=items[0].trace.trace_id,
        assessment_id=final.assessment_id,
        value=False,
        source=services.Source("HUMAN", curator.username),
    )
    row.refresh_from_db()
    assert row.assessment_id == changed.pk
    assert load_cells(session)[0].final_value is False
    assert Assessment.objects.get(pk=final.pk).valid is False


MLFLOW = "/api/3.0/mlflow"


def test_an_override_through_the_mlflow_api_moves_the_answer(world, api, labeler):
    session, _, items, answers = world
    mine = answers[items[0].pk][0]
    trace_id = items[0].trace.trace_id
    response = api.post(
        f"{MLFLOW}/traces/{trace_id}/assessments",
        {
            "assessment": {
                "assessment_name": "correct",
                "trace_id": trace_id,
                "source": {"source_type": "HUMAN", "source_id": labeler.username},
                "feedback": {"value": False},
                "overrides": mine.assessment.assessment_id,
            }
        },
    )
    assert response.status_code == 200, response.content
    override_id = response.json()["assessment"]["assessment_id"]
    assert Answer.objects.get(pk=mine.pk).assessment.assessment_id == override_id
    assert values(session)[0] == [False, False]
    # Deleting the override through the API brings the answer back to the first label.
    assert api.delete(f"{MLFLOW}/traces/{trace_id}/assessments/{override_id}").status_code == 200
    assert Answer.objects.get(pk=mine.pk).assessment_id == mine.assessment_id
    assert values(session)[0] == [True, False]


def test_deleting_an_override_in_the_admin_moves_the_answer_back(world, client, labeler):
    from django.contrib.auth.models import User

    session, _, items, answers = world
    mine = answers[items[0].pk][0]
    override = labeling_services.override_assessment(
        trace_id=items[0].trace.trace_id,
        assessment_id=mine.assessment.assessment_id,
        value=False,
        source=services.Source("HUMAN", labeler.username),
    )
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        f"/admin/traces/assessment/{override.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not Assessment.objects.filter(pk=override.pk).exists()
    assert Answer.objects.get(pk=mine.pk).assessment_id == mine.assessment_id
    assert values(session)[0] == [True, False]
