"""Blind mode in the trace explorer: in an active blind session, a labeler sees only their own
labels on an item until they submit (or skip) it; then every label shows. The review app hides
them the same way (labeling/review_views.py)."""

from dataclasses import dataclass

import pytest
from django.urls import reverse

from labeling.models import Item, LabelingSession
from tests.factories import (
    assign_traces,
    human,
    make_assignment,
    make_chat_trace,
    make_experiment,
    make_feedback,
    make_session,
)
from traces import services
from traces.models import Assessment, Trace

pytestmark = pytest.mark.django_db

RETRIEVER = "a0000000000000a2"
HTMX = {"HX-Request": "true"}
JUDGE = services.Source("LLM_JUDGE", "gpt-judge")


@dataclass
class Blind:
    trace: Trace
    session: LabelingSession
    item: Item
    own: Assessment
    judge: Assessment
    peer: Assessment
    peer_on_span: Assessment


@pytest.fixture
def blind(labeler, other_labeler) -> Blind:
    experiment = make_experiment("support-bot")
    trace = make_chat_trace(experiment)
    session = make_session(
        experiment,
        traces=[trace],
        labelers=[labeler, other_labeler],
        status="active",
        blind=True,
    )
    return Blind(
        trace=trace,
        session=session,
        item=session.items.get(),
        own=make_feedback(trace, name="my_note", value="mine", source=human(labeler)),
        judge=make_feedback(trace, name="judge_score", value=0.2, source=JUDGE),
        peer=make_feedback(trace, name="peer_verdict", value=False, source=human(other_labeler)),
        peer_on_span=make_feedback(
            trace, name="peer_doc", value=True, span_id=RETRIEVER, source=human(other_labeler)
        ),
    )


def trace_url(trace: Trace, span: str | None = None) -> str:
    url = reverse("explorer:trace", args=[trace.trace_id])
    return f"{url}?span={span}" if span else url


def label_url(view: str, label: Assessment) -> str:
    return reverse(f"explorer:label_{view}", args=[label.trace.trace_id, label.assessment_id])


def pane_names(response) -> list[str]:
    return [view.assessment.name for view in response.context["labels"]]


def list_response(client, blind: Blind, **params):
    url = reverse("explorer:trace_list", args=[blind.trace.experiment_id])
    return client.get(url, params)


def test_before_submitting_only_own_labels_show_on_the_trace_page(labeler_client, blind):
    response = labeler_client.get(trace_url(blind.trace))
    assert response.status_code == 200
    assert pane_names(response) == ["my_note"]
    html = response.content.decode()
    for hidden in ("judge_score", "peer_verdict", "peer_doc", "gpt-judge", "other_labeler"):
        assert hidden not in html
    assert 'class="sp-labels" title="1 label">1<' in html  # the root's mark counts own only
    assert 'title="1 label"' in html and html.count('class="sp-labels"') == 1
    assert "Blind session." in html
    assert reverse("review:session", args=[blind.session.pk]) in html
    # The span panel (HTMX) of a span that has only someone else's label.
    span = labeler_client.get(trace_url(blind.trace, RETRIEVER), headers=HTMX)
    assert span.status_code == 200 and pane_names(span) == []
    assert "peer_doc" not in span.content.decode()


def test_hidden_labels_cannot_be_opened_by_url(labeler_client, blind):
    for label in (blind.judge, blind.peer, blind.peer_on_span):
        for view in ("history", "edit", "delete"):
            assert labeler_client.get(label_url(view, label)).status_code == 404
            assert labeler_client.get(label_url(view, label), headers=HTMX).status_code == 404
        assert labeler_client.post(label_url("delete", label)).status_code == 404
    assert Assessment.objects.filter(valid=True).count() == 4
    # Their own label works as always.
    assert labeler_client.get(label_url("history", blind.own)).status_code == 200
    assert labeler_client.get(label_url("edit", blind.own)).status_code == 200


def test_the_trace_list_hides_other_labels_cells_columns_and_filters(labeler_client, blind):
    response = list_response(labeler_client, blind)
    assert [c.name for c in response.context["columns"]] == ["my_note"]
    html = response.content.decode()
    assert "judge_score" not in html and "peer_verdict" not in html and ">mine<" in html
    # Filters cannot find hidden labels: the name is not one to choose, the source finds none.
    by_name = list_response(labeler_client, blind, label="judge_score")
    assert "label" in by_name.context["form"].errors
    assert not list_response(labeler_client, blind, source="LLM_JUDGE").context["rows"]
    assert list_response(labeler_client, blind, presence="lacks", source="LLM_JUDGE").context[
        "rows"
    ]


def test_the_experiments_page_counts_own_labels_only(labeler_client, other_labeler, blind):
    Assessment.objects.filter(source_id="labeler").delete()
    (row,) = labeler_client.get(reverse("explorer:experiments")).context["experiments"]
    assert (row.trace_count, row.labeled_count) == (1, 0)
    assert row.last_activity == blind.trace.request_time  # no hidden label's time


@pytest.mark.parametrize("state", ["submitted", "skipped"])
def test_after_submitting_or_skipping_every_label_shows(labeler_client, labeler, blind, state):
    make_assignment(blind.item, labeler, state)
    response = labeler_client.get(trace_url(blind.trace))
    assert pane_names(response) == ["my_note", "judge_score", "peer_verdict"]
    assert "Blind session." not in response.content.decode()
    assert labeler_client.get(label_url("history", blind.peer)).status_code == 200
    listing = list_response(labeler_client, blind)
    assert {c.name for c in listing.context["columns"]} == {
        "my_note",
        "judge_score",
        "peer_verdict",
        "peer_doc",
    }
    assert list_response(labeler_client, blind, label="judge_score").context["rows"]


@pytest.mark.parametrize("state", ["claimed", "released"])
def test_a_reservation_does_not_reveal_anything(labeler_client, labeler, blind, state):
    make_assignment(blind.item, labeler, state)
    assert pane_names(labeler_client.get(trace_url(blind.trace))) == ["my_note"]


def test_another_labelers_submission_reveals_nothing_to_this_one(
    labeler_client, other_labeler, blind
):
    make_assignment(blind.item, other_labeler, "submitted")
    assert pane_names(labeler_client.get(trace_url(blind.trace))) == ["my_note"]


def test_curators_and_reviewers_are_never_blinded(client, curator, outsider, blind):
    blind.session.labelers.add(curator)  # even a curator who labels in the session
    blind.session.reviewers.add(outsider)
    for user in (curator, outsider):
        client.force_login(user)
        response = client.get(trace_url(blind.trace))
        assert pane_names(response) == ["my_note", "judge_score", "peer_verdict"], user


def test_a_blind_item_stays_blind_when_the_trace_is_also_in_an_open_session(
    labeler_client, labeler, blind
):
    assign_traces(labeler, blind.trace)  # a second, non-blind active session
    assert pane_names(labeler_client.get(trace_url(blind.trace))) == ["my_note"]


def test_a_draft_blind_session_blinds_nothing(labeler_client, labeler, blind):
    """Blindness comes from active sessions only; here the trace is visible through an
    open non-blind session while the blind one is still a draft."""
    LabelingSession.objects.filter(pk=blind.session.pk).update(status="draft")
    assign_traces(labeler, blind.trace)
    assert len(pane_names(labeler_client.get(trace_url(blind.trace)))) == 3


def test_history_shows_only_own_versions_while_blind(labeler_client, labeler, blind):
    """A label of theirs that replaced someone else's: the older version stays hidden."""
    mine = services.override_assessment(
        trace_id=blind.trace.trace_id,
        assessment_id=blind.judge.assessment_id,
        value=0.9,
        source=human(labeler),
    )
    response = labeler_client.get(label_url("history", mine), headers=HTMX)
    assert response.status_code == 200
    assert [version.pk for version, _ in response.context["versions"]] == [mine.pk]
    make_assignment(blind.item, labeler, "submitted")
    response = labeler_client.get(label_url("history", mine), headers=HTMX)
    assert [version.pk for version, _ in response.context["versions"]] == [mine.pk, blind.judge.pk]


def test_a_labeler_adds_labels_while_blind_and_sees_them(labeler_client, blind):
    response = labeler_client.post(
        reverse("explorer:label_create", args=[blind.trace.trace_id]),
        {"span": "", "kind": "feedback", "name": "fresh", "data_type": "string", "value": "ok"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert pane_names(response) == ["my_note", "fresh"]


@pytest.mark.parametrize("blinded", [True, False])
def test_query_counts_do_not_change_in_blind_mode(
    labeler_client, labeler, blind, blinded, django_assert_num_queries
):
    if not blinded:
        make_assignment(blind.item, labeler, "submitted")
    with django_assert_num_queries(6):
        labeler_client.get(trace_url(blind.trace))
    with django_assert_num_queries(6):
        labeler_client.get(trace_url(blind.trace, RETRIEVER), headers=HTMX)
    with django_assert_num_queries(6):
        list_response(labeler_client, blind)
    with django_assert_num_queries(2):
        labeler_client.get(reverse("explorer:experiments"))
