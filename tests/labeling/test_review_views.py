"""Review app views (/review/): access, pages, partials, submit & next, skip, flag, leases."""

import pytest
from django.urls import reverse

from labeling import queue
from labeling.models import Answer, Assignment, AssignmentState, ItemState
from tests.factories import (
    lapse,
    make_experiment,
    make_feedback,
    make_review_session,
    make_schema,
    make_span,
)
from traces.models import Assessment
from traces.services import Source

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, session, item=None):
    kwargs = {"session_pk": session.pk}
    if item is not None:
        kwargs["item_pk"] = item.pk
    return reverse(f"review:{name}", kwargs=kwargs)


@pytest.fixture
def session(labeler, other_labeler):
    experiment = make_experiment()
    schemas = [
        make_schema(experiment, "correct", "pass_fail", enable_comment=True),
        make_schema(
            experiment, "score", "numeric", {"min_value": 1, "max_value": 5}, required=False
        ),
        make_schema(
            experiment, "tone", "categorical", {"options": ["formal", "casual"]}, required=False
        ),
    ]
    return make_review_session(
        experiment=experiment,
        items=3,
        schemas=schemas,
        labelers=[labeler, other_labeler],
        instructions="Read **carefully**.",
    )


def schema(session, name):
    return session.schemas.get(name=name)


def claim(session, user):
    return queue.claim_next_item(session=session, labeler=user)


# --- access --------------------------------------------------------------------------------------


def test_pages_need_a_login(client, session):
    response = client.get(reverse("review:home"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_outsider_sees_no_session_and_gets_404s(outsider_client, session, labeler):
    response = outsider_client.get(reverse("review:home"))
    assert response.status_code == 200
    assert session.name not in response.text
    assert outsider_client.get(url("session", session)).status_code == 404
    assert outsider_client.post(url("next", session)).status_code == 404
    assert outsider_client.get(url("done", session)).status_code == 404
    item = claim(session, labeler).item
    for name in ("item",):
        assert outsider_client.get(url(name, session, item)).status_code == 404
    for name in ("submit", "skip", "flag", "lease"):
        assert outsider_client.post(url(name, session, item)).status_code == 404


def test_another_labelers_item_is_404(client, session, labeler, other_labeler):
    theirs = claim(session, other_labeler)
    client.force_login(labeler)
    assert client.get(url("item", session, theirs.item)).status_code == 404
    assert client.post(url("submit", session, theirs.item)).status_code == 404
    assert client.post(url("skip", session, theirs.item)).status_code == 404


def test_item_of_another_session_is_404(labeler_client, session, labeler):
    other = make_review_session(items=1, labelers=[labeler])
    mine = claim(other, labeler)
    assert labeler_client.get(url("item", session, mine.item)).status_code == 404


@pytest.mark.parametrize("status", ["draft", "closed"])
def test_inactive_sessions_are_hidden(labeler_client, labeler, status):
    session = make_review_session(items=1, labelers=[labeler], status=status, name="Hidden one")
    assert "Hidden one" not in labeler_client.get(reverse("review:home")).text
    assert labeler_client.get(url("session", session)).status_code == 404
    assert labeler_client.post(url("next", session)).status_code == 404


def test_unassigned_session_is_hidden_from_labelers(labeler_client):
    session = make_review_session(items=1, name="Not yours")
    assert "Not yours" not in labeler_client.get(reverse("review:home")).text
    assert labeler_client.get(url("session", session)).status_code == 404


def test_curators_may_open_every_active_session(curator_client, session):
    response = curator_client.get(reverse("review:home"))
    assert session.name in response.text
    assert "not assigned to you" in response.text
    assert curator_client.get(url("session", session)).status_code == 200


def test_methods(labeler_client, session, labeler):
    assert labeler_client.get(url("next", session)).status_code == 405
    item = claim(session, labeler).item
    assert labeler_client.get(url("submit", session, item)).status_code == 405
    assert labeler_client.get(url("lease", session, item)).status_code == 405


# --- home and session pages ----------------------------------------------------------------------


def test_home_lists_sessions_with_progress(
    labeler_client, session, labeler, django_assert_num_queries
):
    first = claim(session, labeler)
    queue.skip_item(assignment=first)
    make_review_session(items=2, labelers=[labeler], name="Second queue")
    with django_assert_num_queries(2):  # user, sessions with progress
        response = labeler_client.get(reverse("review:home"))
    assert response.status_code == 200
    text = response.text
    assert session.name in text and "Second queue" in text
    assert "<strong>carefully</strong>" in text
    assert "2 items open to you" in text
    assert "1 skipped" in text
    assert url("next", session) in text


def test_session_page_shows_instructions_and_start(labeler_client, session):
    response = labeler_client.get(url("session", session))
    assert response.status_code == 200
    assert "<strong>carefully</strong>" in response.text
    assert "Start labeling" in response.text
    assert f'action="{url("next", session)}"' in response.text


def test_session_page_continues_a_reservation(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.get(url("session", session))
    assert url("item", session, mine.item) in response.text
    assert "Continue where you were" in response.text


def test_next_claims_and_redirects(labeler_client, session, labeler):
    response = labeler_client.post(url("next", session))
    assignment = Assignment.objects.get(labeler=labeler)
    assert response.status_code == 302
    assert response["Location"] == url("item", session, assignment.item)
    # Again: the same reservation.
    assert labeler_client.post(url("next", session))["Location"] == response["Location"]


def test_next_with_nothing_left_goes_to_the_done_page(labeler_client, labeler):
    session = make_review_session(items=0, labelers=[labeler])
    response = labeler_client.post(url("next", session))
    assert response["Location"] == url("done", session)
    page = labeler_client.get(response["Location"])
    assert "Nothing left for you" in page.text
    assert "has not added items to this session yet" in page.text


# --- the item page -------------------------------------------------------------------------------


def test_item_page(labeler_client, session, labeler, django_assert_num_queries):
    mine = claim(session, labeler)
    # The user, and the page: the assignment with its item, session and trace, and along with
    # them the questions, the spans, the other labels, the progress and the previous item.
    with django_assert_num_queries(2):
        response = labeler_client.get(url("item", session, mine.item))
    assert response.status_code == 200
    text = response.text
    assert "<html" in text
    assert 'id="review-item"' in text
    assert "<strong>0</strong> of 3" in text
    assert "Reserved for you" in text
    assert "Submit &amp; next" in text
    assert "<strong>carefully</strong>" in text  # instructions
    assert f'name="q-{schema(session, "correct").pk}"' in text
    assert 'data-option-key="1"' in text
    assert 'id="shortcuts"' in text  # the cheat sheet
    assert "js/review.js" in text


def test_item_partial_for_htmx(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.get(url("item", session, mine.item), **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="review-item"')


def test_history_restore_gets_the_full_page(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.get(
        url("item", session, mine.item), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )
    assert "<html" in response.text


def test_trace_content_is_escaped(labeler_client, labeler):
    session = make_review_session(items=1, labelers=[labeler])
    item = session.items.get()
    make_span(
        item.trace,
        span_id="0000000000000001",
        name="app",
        inputs={"question": "<script>alert('x')</script>"},
        outputs="<img src=x onerror=alert(1)>",
    )
    claim(session, labeler)
    text = labeler_client.get(url("item", session, item)).text
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert" in text
    assert "<img src=x" not in text


def test_span_questions_sit_next_to_their_span(labeler_client, labeler):
    experiment = make_experiment()
    relevant = make_schema(experiment, "relevant", "pass_fail", target_span_type="RETRIEVER")
    session = make_review_session(
        experiment=experiment, items=1, spans=4, schemas=[relevant], labelers=[labeler]
    )
    mine = claim(session, labeler)
    text = labeler_client.get(url("item", session, mine.item)).text
    # Spans 2 and 4 are retrievers (see make_trace): one question each, inside their card.
    for span_id in ("0000000000000002", "0000000000000004"):
        card = text.index(f'id="span-{span_id}"')
        question = text.index(f'name="q-{relevant.pk}-{span_id}"')
        assert card < question
    assert 'id="span-0000000000000003"' not in text


def test_other_labels_show_unless_blind(labeler_client, session, labeler, other_labeler):
    mine = claim(session, labeler)
    trace = mine.item.trace
    make_feedback(trace, "correct", False, source=Source("LLM_JUDGE", "judge-7"))
    make_feedback(trace, "correct", True, source=Source("HUMAN", "other_labeler"))
    make_feedback(trace, "correct", True, source=Source("HUMAN", "labeler"))
    text = labeler_client.get(url("item", session, mine.item)).text
    assert "Other labels on this trace" in text
    assert "judge-7" in text and "other_labeler" in text
    session.blind = True
    session.save()
    text = labeler_client.get(url("item", session, mine.item)).text
    assert "Other labels on this trace" not in text
    assert "judge-7" not in text


def test_own_labels_are_those_of_the_account_not_of_the_name(labeler_client, session, labeler):
    """A label an API client logged under the labeler's name is someone else's (issue 14)."""
    mine = claim(session, labeler)
    trace = mine.item.trace
    make_feedback(trace, "named_after_them", True, source=Source("HUMAN", "labeler"))
    make_feedback(
        trace, "theirs_really", True, source=Source("HUMAN", "labeler", user_id=labeler.pk)
    )
    text = labeler_client.get(url("item", session, mine.item)).text
    assert "named_after_them" in text and "theirs_really" not in text


# --- submit & next -------------------------------------------------------------------------------


def answers(session, **values):
    data = {}
    for name, value in values.items():
        data[f"q-{schema(session, name).pk}"] = value
    return data


def test_submit_plain_post_redirects_to_the_next_item(labeler_client, session, labeler):
    mine = claim(session, labeler)
    data = answers(session, correct="true", score="4")
    data[f"q-{schema(session, 'correct').pk}-rationale"] = "Looks right"
    response = labeler_client.post(url("submit", session, mine.item), data)
    assert response.status_code == 302
    nxt = Assignment.objects.get(labeler=labeler, state=AssignmentState.CLAIMED)
    assert response["Location"] == url("item", session, nxt.item)
    assert nxt.item.position == 1
    values = {a.name: (a.value, a.rationale) for a in Assessment.objects.all()}
    assert values == {"correct": (True, "Looks right"), "score": (4, "")}
    mine.refresh_from_db()
    assert mine.state == AssignmentState.SUBMITTED
    assert mine.item.state == ItemState.COMPLETE


def test_submit_htmx_swaps_in_the_next_item(
    labeler_client, session, labeler, django_assert_num_queries
):
    mine = claim(session, labeler)
    data = answers(session, correct="false")
    # 11 queries: the user; the page (locked: the assignment, item, session and trace, the
    # questions, spans, other labels and progress); the answers: 2 inserts (assessments,
    # answers) and the assignment's update; the results' tallies (labeling.tallies): the
    # item's kept cells, their upsert, one upsert adding to the counts (a second one when
    # two labelers' answers meet, below); the next item: its claim (locked, with its trace,
    # spans and other labels), the new assignment; both items' counters in one update. And
    # the savepoint pair of the one transaction (the test runs inside a transaction).
    with django_assert_num_queries(13):
        response = labeler_client.post(url("submit", session, mine.item), data, **HTMX)
    assert response.status_code == 200
    nxt = Assignment.objects.get(labeler=labeler, state=AssignmentState.CLAIMED)
    assert response["HX-Push-Url"] == url("item", session, nxt.item)
    assert response.text.lstrip().startswith('<div id="review-item"')
    assert "<strong>1</strong> of 3" in response.text
    assert "Saved." in response.text
    assert url("submit", session, nxt.item) in response.text


def test_submit_and_next_reads_the_next_trace_with_its_spans(
    labeler_client, labeler, django_assert_num_queries
):
    session = make_review_session(items=2, spans=2, labelers=[labeler])
    mine = claim(session, labeler)
    data = {f"q-{schema(session, 'correct').pk}": "true"}
    # As above: the next item's spans come with its claim.
    with django_assert_num_queries(13):
        response = labeler_client.post(url("submit", session, mine.item), data, **HTMX)
    nxt = Assignment.objects.get(labeler=labeler, state=AssignmentState.CLAIMED)
    assert response["HX-Push-Url"] == url("item", session, nxt.item)
    assert nxt.item.trace.trace_id in response.text


def test_submit_where_two_labelers_answers_meet(labeler, other_labeler, django_assert_num_queries):
    """The second labeler's answers make the item's cells count for agreement: the value and
    pair counts are added first, then the sums that follow from them (14 in all)."""
    from django.test import Client

    from labeling.campaign.agreement import session_agreement

    session = make_review_session(items=2, labelers=[labeler, other_labeler], labels_per_item=2)
    data = {f"q-{schema(session, 'correct').pk}": "true"}
    for person in (labeler, other_labeler):
        client = Client()
        client.force_login(person)
        mine = claim(session, person)
        assert mine.item.position == 0
        if person == labeler:
            client.post(url("submit", session, mine.item), data, **HTMX)
            continue
        with django_assert_num_queries(14):
            response = client.post(url("submit", session, mine.item), data, **HTMX)
        assert response.status_code == 200
    correct = next(r for r in session_agreement(session) if r.question.name == "correct")
    assert (correct.labeled, correct.percent.n) == (1, 1)


def test_invalid_answer_rerenders_with_the_error_and_keeps_the_others(
    labeler_client, session, labeler
):
    mine = claim(session, labeler)
    data = answers(session, correct="true", score="9", tone="casual")
    response = labeler_client.post(url("submit", session, mine.item), data, **HTMX)
    assert response.status_code == 200
    assert "HX-Push-Url" not in response
    text = response.text
    assert "The answer must be at most 5." in text
    assert 'aria-invalid="true"' in text
    assert 'value="9"' in text
    assert 'value="true" checked' in text
    assert 'value="casual" checked' in text
    assert Assessment.objects.count() == 0
    mine.refresh_from_db()
    assert mine.state == AssignmentState.CLAIMED


@pytest.mark.parametrize(
    "data",
    [
        {"tone": "shouting"},  # not an option
        {"score": "many"},  # not a number
        {"correct": "maybe"},
        {},  # nothing answered
    ],
)
def test_bad_answers_are_refused_without_a_write(labeler_client, session, labeler, data):
    mine = claim(session, labeler)
    response = labeler_client.post(url("submit", session, mine.item), answers(session, **data))
    assert response.status_code == 200
    assert 'role="alert"' in response.text
    assert Assessment.objects.count() == 0
    assert Answer.objects.count() == 0


def test_double_submit_stores_nothing_twice(labeler_client, session, labeler):
    mine = claim(session, labeler)
    data = answers(session, correct="true")
    first = labeler_client.post(url("submit", session, mine.item), data)
    second = labeler_client.post(url("submit", session, mine.item), data)
    assert first["Location"] == second["Location"]  # back to the same next item
    assert Assessment.objects.count() == 1
    assert Answer.objects.count() == 1
    assert Assignment.objects.filter(labeler=labeler).count() == 2


def test_back_prefills_and_changing_makes_an_override(labeler_client, session, labeler):
    mine = claim(session, labeler)
    labeler_client.post(url("submit", session, mine.item), answers(session, correct="true"))
    current = Assignment.objects.get(labeler=labeler, state=AssignmentState.CLAIMED)
    page = labeler_client.get(url("item", session, current.item)).text
    assert url("item", session, mine.item) in page  # "Back to my previous item"
    back = labeler_client.get(url("item", session, mine.item)).text
    assert 'value="true" checked' in back
    assert "Save changes" in back
    assert "You submitted this item" in back
    response = labeler_client.post(
        url("submit", session, mine.item), answers(session, correct="false", score="2")
    )
    # Saving returns to the item the labeler left.
    assert response["Location"] == url("item", session, current.item)
    correct = Assessment.objects.filter(name="correct")
    assert correct.count() == 2
    assert correct.filter(valid=True).get().value is False
    assert Answer.objects.filter(assignment=mine).count() == 2  # correct + score, no duplicate


def test_submitting_the_last_item_ends_on_the_done_page(labeler_client, labeler):
    session = make_review_session(items=1, labelers=[labeler])
    mine = claim(session, labeler)
    data = {f"q-{session.schemas.get().pk}": "true"}
    response = labeler_client.post(url("submit", session, mine.item), data, **HTMX)
    assert response["HX-Push-Url"] == url("done", session)
    assert "Nothing left for you" in response.text
    assert "You labeled <strong>1</strong> item" in response.text


def test_late_submit_after_the_slot_went_to_someone_else(
    labeler_client, session, labeler, other_labeler
):
    mine = claim(session, labeler)
    lapse(mine)
    theirs = claim(session, other_labeler)
    assert theirs.item == mine.item
    response = labeler_client.post(
        url("submit", session, mine.item), answers(session, correct="true"), **HTMX
    )
    assert response.status_code == 200
    assert "other labelers have taken it" in response.text
    assert 'value="true" checked' in response.text  # the answers are still on the page
    assert "Go to my next item" in response.text
    assert Assessment.objects.count() == 0


# --- skip, flag, lease ---------------------------------------------------------------------------


def test_skip_moves_on(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.post(url("skip", session, mine.item), {"reason": "Not my area"})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.state == AssignmentState.SKIPPED
    assert mine.skip_reason == "Not my area"
    nxt = Assignment.objects.get(labeler=labeler, state=AssignmentState.CLAIMED)
    assert response["Location"] == url("item", session, nxt.item)


def test_skip_htmx(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.post(url("skip", session, mine.item), **HTMX)
    assert response.status_code == 200
    assert "Skipped." in response.text
    assert response["HX-Push-Url"].endswith(f"/items/{session.items.get(position=1).pk}/")


def test_skip_reason_too_long(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.post(url("skip", session, mine.item), {"reason": "x" * 3000}, **HTMX)
    assert response.status_code == 200
    assert "the limit is 2,000" in response.text
    mine.refresh_from_db()
    assert mine.state == AssignmentState.CLAIMED


def test_flag_needs_a_reason_then_shows(labeler_client, session, labeler):
    mine = claim(session, labeler)
    response = labeler_client.post(url("flag", session, mine.item), {"reason": ""}, **HTMX)
    assert response.status_code == 200
    assert "Say why you flag this item." in response.text
    response = labeler_client.post(url("flag", session, mine.item), {"reason": "Cut off"})
    assert response["Location"] == url("item", session, mine.item)
    page = labeler_client.get(url("item", session, mine.item)).text
    assert "You flagged this item for the curator" in page
    assert "Withdraw the flag" in page
    labeler_client.post(url("flag", session, mine.item), {"action": "unflag"})
    mine.refresh_from_db()
    assert not mine.flagged


def test_lease_renewal(labeler_client, session, labeler, other_labeler):
    mine = claim(session, labeler)
    before = mine.lease_expires_at
    response = labeler_client.post(url("lease", session, mine.item), **HTMX)
    assert response.status_code == 200
    assert 'id="lease-status"' in response.text
    assert "Reserved for you" in response.text
    mine.refresh_from_db()
    assert mine.lease_expires_at >= before
    # Lapsed and taken by someone else: the page says so and stops renewing.
    lapse(mine)
    claim(session, other_labeler)
    response = labeler_client.post(url("lease", session, mine.item), **HTMX)
    assert "Someone else took this item" in response.text
    assert "hx-post" not in response.text
    # Without HTMX: back to the item page.
    assert labeler_client.post(url("lease", session, mine.item)).status_code == 302


# --- the full span tree --------------------------------------------------------------------------


def test_span_tree_page(labeler_client, labeler, other_labeler):
    session = make_review_session(items=2, spans=3, labelers=[labeler, other_labeler])
    mine = claim(session, labeler)
    page = url("item", session, mine.item)
    assert url("spans", session, mine.item) in labeler_client.get(page).text
    response = labeler_client.get(url("spans", session, mine.item))
    assert response.status_code == 200
    assert "All spans of this trace" in response.text
    assert "step-1" in response.text and "step-2" in response.text
    # Picking a span: the HTMX partial shows it.
    response = labeler_client.get(
        url("spans", session, mine.item) + "?span=0000000000000002", **HTMX
    )
    assert response.text.lstrip().startswith('<div id="span-view"')
    assert "step-1" in response.text
    assert labeler_client.get(url("spans", session, mine.item) + "?span=nope").status_code == 404
    # Someone else's item: 404.
    theirs = claim(session, other_labeler)
    assert (
        theirs is None or labeler_client.get(url("spans", session, theirs.item)).status_code == 404
    )


def test_explorer_link_only_when_not_blind(labeler_client, session, labeler):
    mine = claim(session, labeler)
    trace_url = reverse("explorer:trace", args=[mine.item.trace.trace_id])
    assert trace_url in labeler_client.get(url("item", session, mine.item)).text
    session.blind = True
    session.save()
    assert trace_url not in labeler_client.get(url("item", session, mine.item)).text


def test_a_label_changed_in_the_explorer_is_the_answer_when_going_back(
    labeler_client, session, labeler
):
    from labeling.services import override_assessment

    mine = claim(session, labeler)
    labeler_client.post(url("submit", session, mine.item), answers(session, correct="true"))
    first = Assessment.objects.get(name="correct")
    # The labeler changes it in the trace explorer (an override the review app did not make).
    edited = override_assessment(
        trace_id=first.trace.trace_id,
        assessment_id=first.assessment_id,
        value=False,
        source=Source("HUMAN", "labeler"),
    )
    back = labeler_client.get(url("item", session, mine.item)).text
    assert 'value="false" checked' in back
    # Changing it again in the review app overrides the current label, not the stale one.
    response = labeler_client.post(
        url("submit", session, mine.item), answers(session, correct="true")
    )
    assert response.status_code == 302
    current = Answer.objects.get(assignment=mine, schema__name="correct").assessment
    assert current.overrides_id == edited.pk
    assert current.value is True
    assert Assessment.objects.filter(name="correct", valid=True).count() == 1
