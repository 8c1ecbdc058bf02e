"""Drafts, required questions and suggestions in the review app (issue 15)."""

import pytest

from labeling import queue
from labeling.forms import AnswerSheet
from labeling.models import Assignment
from tests.factories import make_experiment, make_review_session, make_schema
from tests.labeling.test_review_views import HTMX, answers, claim, schema, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(labeler, other_labeler):
    experiment = make_experiment()
    schemas = [
        make_schema(experiment, "correct", "pass_fail"),
        make_schema(experiment, "note", "text", required=False),
    ]
    return make_review_session(
        experiment=experiment, items=3, schemas=schemas, labelers=[labeler, other_labeler]
    )


def test_a_draft_is_kept_on_the_assignment_and_shown_again(labeler_client, session, labeler):
    mine = claim(session, labeler)
    data = answers(session, correct="false", note="half typed")
    data["unrelated"] = "dropped"
    response = labeler_client.post(url("draft", session, mine.item), data, **HTMX)
    assert response.status_code == 200
    assert "Draft saved" in response.text
    mine.refresh_from_db()
    assert mine.draft == {
        f"q-{schema(session, 'correct').pk}": ["false"],
        f"q-{schema(session, 'note').pk}": ["half typed"],
    }
    page = labeler_client.get(url("item", session, mine.item))
    assert "half typed" in page.text and "restored" in page.text
    assert 'value="false" checked' in page.text


def test_the_draft_endpoint_is_one_statement(
    labeler_client, session, labeler, django_assert_num_queries
):
    mine = claim(session, labeler)
    data = answers(session, note="x")
    with django_assert_num_queries(2):  # the user, the update
        labeler_client.post(url("draft", session, mine.item), data, **HTMX)


def test_a_plain_post_of_a_draft_goes_back_to_the_item(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.post(url("draft", session, mine.item), answers(session, note="x"))
    assert response.status_code == 302
    assert response["Location"] == url("item", session, mine.item)


def test_nobody_else_writes_a_draft(client, other_labeler, session, labeler):
    mine = claim(session, labeler)
    client.force_login(other_labeler)
    response = client.post(url("draft", session, mine.item), answers(session, note="x"))
    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.draft is None


def test_a_draft_too_long_is_refused(labeler_client, session, labeler):
    mine = claim(session, labeler)
    data = answers(session, note="x" * 250_000)
    response = labeler_client.post(url("draft", session, mine.item), data, **HTMX)
    assert response.status_code == 413
    mine.refresh_from_db()
    assert mine.draft is None


def test_submitting_clears_the_draft(labeler_client, session, labeler):
    mine = claim(session, labeler)
    labeler_client.post(url("draft", session, mine.item), answers(session, note="x"), **HTMX)
    response = labeler_client.post(
        url("submit", session, mine.item), answers(session, correct="true")
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.draft is None and mine.draft_saved_at is None


def test_a_required_question_left_open_is_refused_with_the_list(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.post(
        url("submit", session, mine.item), answers(session, note="only the note"), **HTMX
    )
    assert response.status_code == 200
    assert "1 required question is still open (1)" in response.text
    assert Assignment.objects.get(pk=mine.pk).state == "claimed"


def test_the_sheet_requires_only_required_questions(session):
    schemas = list(session.schemas.order_by("sessionschema__position"))
    data = {f"q-{schemas[0].pk}": "true"}
    assert AnswerSheet(schemas, data=data, require=True).is_valid()
    sheet = AnswerSheet(schemas, data={f"q-{schemas[1].pk}": "x"}, require=True)
    assert not sheet.is_valid()
    assert [q.number for q in sheet.open_required] == [1]
    # Without `require` (a submitted item edited again, the console preview) one answer is enough.
    assert AnswerSheet(schemas, data={f"q-{schemas[1].pk}": "x"}).is_valid()


def test_skip_is_always_possible_with_questions_open(labeler_client, session, labeler):
    mine = claim(session, labeler)
    labeler_client.post(url("skip", session, mine.item), {"reason": ""})
    mine.refresh_from_db()
    assert mine.state == "skipped"
    assert queue.DONE_STATES
