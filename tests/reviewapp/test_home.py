"""The home page: my queues (with my progress), recent experiments I may see, and for curators
the active sessions with their progress."""

import pytest
from django.urls import reverse

from tests.factories import (
    make_assignment,
    make_experiment,
    make_review_session,
    make_trace,
)

pytestmark = pytest.mark.django_db

URL = reverse("home")


def queue_names(response) -> list[str]:
    return [queue["session"].name for queue in response.context["queues"]]


def experiment_names(response) -> list[str]:
    return [experiment.name for experiment in response.context["experiments"]]


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_only_get(labeler_client):
    assert labeler_client.post(URL).status_code == 405


def test_a_labeler_sees_their_active_queues_with_their_progress(labeler_client, labeler):
    experiment = make_experiment("support-bot")
    started = make_review_session(
        experiment=experiment,
        schemas=[],
        name="Tone check",
        items=4,
        labelers=[labeler],
        blind=True,
    )
    fresh = make_review_session(
        experiment=experiment, schemas=[], name="Facts", items=2, labelers=[labeler]
    )
    make_review_session(
        experiment=experiment, schemas=[], name="Draft one", labelers=[labeler], status="draft"
    )
    make_review_session(
        experiment=experiment, schemas=[], name="Closed one", labelers=[labeler], status="closed"
    )
    make_review_session(experiment=experiment, schemas=[], name="Not mine")
    items = list(started.items.order_by("position"))
    make_assignment(items[0], labeler, "submitted")
    make_assignment(items[1], labeler, "skipped")

    response = labeler_client.get(URL)

    assert response.status_code == 200
    assert sorted(queue_names(response)) == ["Facts", "Tone check"]
    progress = {q["session"].name: q["progress"] for q in response.context["queues"]}
    assert (progress["Tone check"].total, progress["Tone check"].submitted) == (4, 1)
    assert progress["Tone check"].skipped == 1 and progress["Tone check"].remaining == 2
    assert (progress["Facts"].total, progress["Facts"].submitted) == (2, 0)
    html = response.content.decode()
    for session in (started, fresh):
        assert f'action="{reverse("review:next", args=[session.pk])}"' in html
        assert reverse("review:session", args=[session.pk]) in html
    assert "Continue →" in html and "Start →" in html
    assert ">blind</span>" in html
    assert "Not mine" not in html and "Draft one" not in html and "Closed one" not in html
    assert 'id="sessions-heading"' not in html  # the curators' summary


def test_a_finished_queue_links_to_its_done_page(labeler_client, labeler):
    session = make_review_session(name="Done queue", items=1, labelers=[labeler])
    make_assignment(session.items.get(), labeler, "submitted")
    html = labeler_client.get(URL).content.decode()
    assert reverse("review:done", args=[session.pk]) in html and "All done" in html


def test_recent_experiments_are_those_a_labeler_may_see_with_their_counts(labeler_client, labeler):
    seen = make_experiment("seen")
    session = make_review_session(experiment=seen, items=2, labelers=[labeler])
    make_trace(seen)  # not in the session: not counted
    closed = make_experiment("only closed")
    make_review_session(experiment=closed, labelers=[labeler], status="closed")
    make_trace(make_experiment("unrelated"))

    response = labeler_client.get(URL)

    assert experiment_names(response) == ["seen"]
    assert response.context["experiments"][0].trace_count == 2
    html = response.content.decode()
    assert "2 traces in your sessions" in html
    assert reverse("explorer:trace_list", args=[session.experiment_id]) in html
    assert "unrelated" not in html and "only closed" not in html


def test_an_outsider_sees_empty_states_that_say_why(outsider_client):
    make_review_session(name="Someone else's")
    make_trace(make_experiment("private"))
    response = outsider_client.get(URL)
    assert response.status_code == 200
    assert queue_names(response) == [] and experiment_names(response) == []
    html = response.content.decode()
    assert "When a curator assigns you to an active labeling session" in html
    assert "private" not in html and "Someone else" not in html


def test_a_curator_sees_active_sessions_with_progress_and_every_experiment(
    curator_client, labeler, other_labeler
):
    experiment = make_experiment("support-bot")
    active = make_review_session(
        experiment=experiment,
        schemas=[],
        name="Campaign A",
        items=3,
        labelers=[labeler, other_labeler],
    )
    make_review_session(experiment=experiment, schemas=[], name="Still a draft", status="draft")
    make_assignment(active.items.order_by("position").first(), labeler, "submitted")
    active.items.filter(position=0).update(state="complete")
    make_trace(make_experiment("no sessions"))

    response = curator_client.get(URL)

    assert response.status_code == 200
    (summary,) = response.context["active_sessions"]
    assert summary.name == "Campaign A" and summary.n_labelers == 2
    assert (summary.progress.complete, summary.progress.total) == (1, 3)
    html = response.content.decode()
    assert reverse("console:session_detail", args=[active.pk]) in html
    assert reverse("console:index") in html
    assert "1 / 3" in html  # the compact progress caption
    assert "Still a draft" not in html
    assert sorted(experiment_names(response)) == ["no sessions", "support-bot"]
    assert queue_names(response) == []
    assert 'id="queues-heading"' not in html  # no empty "My queues" for a curator
    assert html.index('id="sessions-heading"') < html.index('id="experiments-heading"')


def test_a_curator_who_labels_sees_their_queue_too(curator_client, curator):
    make_review_session(name="Curator labels too", items=2, labelers=[curator])
    response = curator_client.get(URL)
    assert queue_names(response) == ["Curator labels too"]
    html = response.content.decode()
    assert html.index('id="sessions-heading"') < html.index('id="queues-heading"')


def test_a_curator_without_sessions_is_offered_to_create_one(curator_client):
    html = curator_client.get(URL).content.decode()
    assert reverse("console:session_new") in html
    assert "No experiments yet" in html


def test_the_summary_is_short(curator_client, monkeypatch):
    from reviewapp import views

    monkeypatch.setattr(views, "SESSION_SUMMARY", 2)
    for index in range(3):
        make_review_session(name=f"S{index}", items=1)
    response = curator_client.get(URL)
    assert len(response.context["active_sessions"]) == 2
    assert response.context["more_sessions"] is True
    assert "see every session" in response.content.decode()


@pytest.mark.parametrize(("role", "queries"), [("labeler", 4), ("curator", 6)])
def test_query_count_is_fixed(client, labeler, curator, role, queries, django_assert_num_queries):
    user = labeler if role == "labeler" else curator
    client.force_login(user)

    def grow(n: int) -> None:
        for _ in range(n):
            session = make_review_session(items=3, labelers=[labeler, curator])
            make_assignment(session.items.first(), user, "submitted")
            make_trace(session.experiment)

    grow(1)
    # everyone: user, my queues, experiments; labelers also the sessions they review;
    # curators instead the active sessions, their item counts by state, their labeler counts
    with django_assert_num_queries(queries):
        client.get(URL)
    grow(4)
    with django_assert_num_queries(queries):
        response = client.get(URL)
    assert len(response.context["queues"]) == 5
    assert len(response.context["experiments"]) == 5


def test_reviewers_find_the_sessions_they_review(client, outsider):
    from django.urls import reverse

    from tests.factories import make_review_session

    session = make_review_session(items=1, name="Reviewed one")
    session.reviewers.add(outsider)
    make_review_session(items=1, name="Draft one", status="draft").reviewers.add(outsider)
    client.force_login(outsider)
    html = client.get(URL).content.decode()
    assert "Sessions you review" in html and "Reviewed one" in html
    assert "Draft one" not in html
    assert reverse("campaign:disagreements", args=[session.pk]) in html
