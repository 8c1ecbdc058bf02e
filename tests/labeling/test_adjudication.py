"""labeling.campaign.adjudication: settling cells, overriding a settled answer, bulk accept."""

import pytest
from django.core.exceptions import ValidationError

from labeling.campaign import adjudication
from labeling.models import Adjudication, Answer, Item
from labeling.results import load_cells
from tests.conftest import make_user
from tests.factories import (
    make_answer,
    make_assignment,
    make_experiment,
    make_review_session,
    make_schema,
    make_span,
)
from traces.models import Assessment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(labeler, other_labeler):
    experiment = make_experiment()
    correct = make_schema(experiment, "correct", "pass_fail")
    answer = make_schema(experiment, "answer", "text", kind="expectation")
    session = make_review_session(
        experiment=experiment, items=3, schemas=[correct, answer], labels_per_item=2
    )
    items = list(session.items.order_by("position"))
    # Item 0: disagree on correct, agree on answer. Item 1: agree on both. Item 2: one label.
    pairs = [((True, "Paris"), (False, "paris")), ((True, "x"), (True, "x"))]
    for item, (a, b) in zip(items[:2], pairs, strict=True):
        first, second = make_assignment(item, labeler), make_assignment(item, other_labeler)
        make_answer(first, correct, a[0])
        make_answer(second, correct, b[0])
        make_answer(first, answer, a[1])
        make_answer(second, answer, b[1])
    make_answer(make_assignment(items[2], labeler), correct, True)
    return session, correct, answer, items


def test_settle_stores_a_human_assessment_with_metadata(world, curator):
    session, correct, _, items = world
    result = adjudication.settle_cell(
        item=items[0], schema=correct, value=False, adjudicator=curator, rationale="Wrong city"
    )
    assessment = result.assessment
    assert assessment.kind == "feedback"
    assert assessment.name == "correct"
    assert (assessment.source_type, assessment.source_id) == ("HUMAN", "curator")
    assert assessment.value is False
    assert assessment.rationale == "Wrong city"
    labelers = [a.assessment_id for a in load_cells(session, item_ids=[items[0].pk])[0].answers]
    assert assessment.metadata == {
        "adjudicated": True,
        "labeling_session_id": str(session.pk),
        "adjudicator": "curator",
        "settles": labelers,
    }
    assert result.settles == labelers
    assert not result.accepted_consensus
    items[0].refresh_from_db()
    # The only disagreeing cell is settled (the other agrees, case-insensitively).
    assert items[0].adjudicated_by == curator
    assert items[0].adjudicated_at is not None


def test_expectation_questions_settle_as_expectations(world, curator):
    _, _, answer, items = world
    result = adjudication.settle_cell(
        item=items[0], schema=answer, value="Paris, France", adjudicator=curator
    )
    assert result.assessment.kind == "expectation"
    assert result.assessment.value == "Paris, France"
    items[0].refresh_from_db()
    assert not items[0].is_adjudicated  # "correct" is still in disagreement


def test_settling_again_overrides_the_previous_final_answer(world, curator, outsider):
    _, correct, _, items = world
    first = adjudication.settle_cell(item=items[0], schema=correct, value=True, adjudicator=curator)
    old_assessment = first.assessment
    second = adjudication.settle_cell(
        item=items[0], schema=correct, value=False, adjudicator=outsider
    )
    assert second.pk == first.pk
    assert Adjudication.objects.count() == 1
    old_assessment.refresh_from_db()
    assert not old_assessment.valid
    assert second.assessment.overrides_id == old_assessment.pk
    assert second.assessment.value is False
    assert second.adjudicator == outsider
    assert second.assessment.source_id == "outsider"


def test_settling_after_an_explorer_edit_overrides_the_current_answer(world, curator):
    from labeling import services
    from traces.services import Source

    _, correct, _, items = world
    first = adjudication.settle_cell(item=items[0], schema=correct, value=True, adjudicator=curator)
    edited = services.override_assessment(
        trace_id=items[0].trace.trace_id,
        assessment_id=first.assessment.assessment_id,
        value=False,
        source=Source("HUMAN", "someone"),
    )
    again = adjudication.settle_cell(item=items[0], schema=correct, value=True, adjudicator=curator)
    assert again.assessment.overrides_id == edited.pk


def test_pick_a_labelers_answer(world, curator, other_labeler):
    session, correct, _, items = world
    (cell, _) = load_cells(session, item_ids=[items[0].pk])
    theirs = next(a for a in cell.answers if a.labeler_id == other_labeler.pk)
    result = adjudication.settle_with_answer(
        item=items[0], schema=correct, assessment_id=theirs.assessment_id, adjudicator=curator
    )
    assert result.assessment.value is False


def test_picking_an_answer_of_another_cell_is_refused(world, curator):
    session, correct, _, items = world
    other = load_cells(session, item_ids=[items[1].pk])[0].answers[0]
    with pytest.raises(ValidationError):
        adjudication.settle_with_answer(
            item=items[0], schema=correct, assessment_id=other.assessment_id, adjudicator=curator
        )
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize("value", ["yes", 1, None, ["a"]])
def test_values_invalid_for_the_schema_are_refused_without_writing(world, curator, value):
    _, correct, _, items = world
    before = Assessment.objects.count()
    with pytest.raises(ValidationError):
        adjudication.settle_cell(item=items[0], schema=correct, value=value, adjudicator=curator)
    assert Assessment.objects.count() == before
    assert not Adjudication.objects.exists()


def test_a_question_the_session_does_not_ask_is_refused(world, curator):
    session, *_ = world
    stranger = make_schema(session.experiment, "stranger", "pass_fail")
    with pytest.raises(ValidationError):
        adjudication.settle_cell(
            item=session.items.first(), schema=stranger, value=True, adjudicator=curator
        )


def test_span_questions_settle_on_their_span(labeler, other_labeler, curator):
    experiment = make_experiment()
    relevant = make_schema(experiment, "relevant", "pass_fail", target_span_type="RETRIEVER")
    session = make_review_session(experiment=experiment, items=1, schemas=[relevant])
    item = session.items.get()
    span = make_span(item.trace, span_id="ab12cd34ef567890", span_type="RETRIEVER")
    from labeling.models import Answer
    from traces import services

    for user, value in ((labeler, True), (other_labeler, False)):
        assignment = make_assignment(item, user)
        assessment = services.log_assessment(
            trace_id=item.trace.trace_id,
            assessment=services.Feedback(
                name="relevant",
                value=value,
                span_id=span.span_id,
                source=services.Source("HUMAN", user.username),
            ),
        )
        Answer.objects.create(
            assignment=assignment,
            schema=relevant,
            schema_version=1,
            span_id=span.span_id,
            assessment=assessment,
        )
    result = adjudication.settle_cell(
        item=item, schema=relevant, span_id=span.span_id, value=True, adjudicator=curator
    )
    assert result.assessment.span_id == span.span_id
    assert result.span_id == span.span_id
    with pytest.raises(ValidationError):  # no trace-level cell was answered for it
        adjudication.settle_cell(item=item, schema=relevant, value=True, adjudicator=curator)


def test_accept_unanimous_settles_items_whose_labelers_agree(world, curator):
    session, _, _, items = world
    assert adjudication.count_unanimous(session) == adjudication.BulkResult(items=1, answers=2)
    result = adjudication.accept_unanimous(session=session, adjudicator=curator)
    assert result == adjudication.BulkResult(items=1, answers=2)
    rows = Adjudication.objects.filter(item=items[1]).select_related("assessment", "schema")
    assert {row.schema.name: row.assessment.value for row in rows} == {
        "correct": True,
        "answer": "x",
    }
    assert all(row.accepted_consensus for row in rows)
    assert {row.assessment.kind for row in rows} == {"feedback", "expectation"}
    assert all(row.assessment.metadata["adjudicated"] is True for row in rows)
    assert all(len(row.settles) == 2 for row in rows)
    adjudicated = set(
        Item.objects.filter(adjudicated_at__isnull=False).values_list("pk", flat=True)
    )
    assert adjudicated == {items[1].pk}  # not the disagreement, not the single label
    # Nothing left to accept; running it again does nothing.
    assert adjudication.accept_unanimous(session=session, adjudicator=curator).items == 0


def test_accept_unanimous_runs_in_batches(labeler, other_labeler, curator, monkeypatch):
    monkeypatch.setattr(adjudication, "BULK_BATCH_SIZE", 2)
    session = make_review_session(items=5, labels_per_item=2)
    correct = session.schemas.get()
    for item in session.items.all():
        for user in (labeler, other_labeler):
            make_answer(make_assignment(item, user), correct, True)
    assert adjudication.accept_unanimous(session=session, adjudicator=curator).items == 5
    assert Item.objects.filter(adjudicated_by=curator).count() == 5
    assert Adjudication.objects.count() == 5


def test_an_accepted_consensus_still_settles_its_cell_after_a_late_dissent(world, curator):
    session, correct, _, items = world
    adjudication.accept_unanimous(session=session, adjudicator=curator)
    late = make_user("late", labeler=True)
    make_answer(make_assignment(items[1], late), correct, False)
    # The accepted consensus still settles that cell: the item stays adjudicated.
    assert adjudication.refresh_item_adjudicated(item=items[1], adjudicator=curator)


def _listed(session, **options):
    return [
        (item_id, settled)
        for item_id, schema_id, span_id, settled in adjudication.disagreement_cells(
            session, **options
        ).rows.values_list("item_id", "schema_id", "span_id", "settled")
    ]


def test_overview_follows_every_answer_and_final_answer(world, curator):
    session, correct, _, items = world
    first = adjudication.overview(session)
    assert (first.unsettled, first.settled) == (1, 0)
    assert _listed(session) == [(items[0].pk, False)]
    adjudication.settle_cell(item=items[0], schema=correct, value=True, adjudicator=curator)
    assert _listed(session) == []
    assert _listed(session, settled=True) == [(items[0].pk, True)]
    late = make_user("late", labeler=True)
    make_answer(make_assignment(items[1], late), correct, False)
    now = adjudication.overview(session)
    assert {item for item, _ in _listed(session, settled=True)} == {items[0].pk, items[1].pk}
    assert (now.unsettled, now.settled) == (1, 1)
    assert now.unanimous.items == 0


def test_overview_sees_an_answer_updated_in_place(world):
    from labeling import services
    from traces.services import FeedbackValue

    session, correct, _, items = world
    assert adjudication.overview(session).disagreements == 1
    answer = Answer.objects.filter(assignment__item=items[0], schema=correct).first()
    other = not answer.assessment.value
    services.update_assessment(
        trace_id=items[0].trace.trace_id,
        assessment_id=answer.assessment.assessment_id,
        feedback=FeedbackValue(value=other),
    )
    assert adjudication.overview(session).disagreements == 0


def test_final_answers_reach_mlflow_clients_with_string_metadata(world, client, curator):
    """MLflow's assessment metadata is a map<string, string>: the API sends the adjudication
    metadata as text (JSON for the list), so the MLflow SDK can read it."""
    import json

    from tests.factories import make_api_token

    session, correct, _, items = world
    result = adjudication.settle_cell(
        item=items[0], schema=correct, value=False, adjudicator=curator
    )
    token = make_api_token(curator)
    response = client.get(
        f"/api/3.0/mlflow/traces/{items[0].trace.trace_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assessments = response.json()["trace"]["trace_info"]["assessments"]
    (final,) = [a for a in assessments if a["assessment_id"] == result.assessment.assessment_id]
    assert final["source"] == {"source_type": "HUMAN", "source_id": "curator"}
    assert final["metadata"]["adjudicated"] == "true"
    assert final["metadata"]["labeling_session_id"] == str(session.pk)
    assert json.loads(final["metadata"]["settles"]) == result.settles
