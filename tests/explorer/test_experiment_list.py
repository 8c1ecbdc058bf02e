"""The experiments page: each experiment with its trace count, labeled count, last activity."""

import pytest
from django.urls import reverse

from tests.factories import assign_experiment, make_experiment, make_feedback, make_trace
from traces.models import LifecycleStage

URL = reverse("explorer:experiments")


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_counts_and_links(curator_client):
    experiment = make_experiment("support-bot", description="Customer support")
    labeled = make_trace(experiment)
    make_trace(experiment)
    make_trace(experiment)
    make_feedback(labeled, name="correctness", value=True)
    make_feedback(labeled, name="relevance", value=0.5)
    make_experiment("empty one")
    make_experiment("gone", lifecycle_stage=LifecycleStage.DELETED)

    response = curator_client.get(URL)

    assert response.status_code == 200
    rows = {e.name: e for e in response.context["experiments"]}
    assert set(rows) == {"support-bot", "empty one"}
    assert (rows["support-bot"].trace_count, rows["support-bot"].labeled_count) == (3, 1)
    assert rows["support-bot"].last_activity is not None
    assert (rows["empty one"].trace_count, rows["empty one"].labeled_count) == (0, 0)
    assert rows["empty one"].last_activity is None
    html = response.content.decode()
    assert reverse("explorer:trace_list", args=[experiment.pk]) in html
    assert "(33%)" in html


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["curator", "labeler"])
def test_query_count_does_not_grow(client, curator, labeler, role, django_assert_num_queries):
    client.force_login(curator if role == "curator" else labeler)
    for index in range(3):
        assign_experiment(labeler, make_trace(make_experiment(f"e{index}")).experiment)
    with django_assert_num_queries(2):
        client.get(URL)
    for index in range(3, 12):
        trace = make_trace(make_experiment(f"e{index}"))
        make_feedback(trace)
        assign_experiment(labeler, trace.experiment)
    with django_assert_num_queries(2):
        response = client.get(URL)
    assert len(response.context["experiments"]) == 12


@pytest.mark.django_db
def test_home_cards_link_to_the_trace_list(labeler_client, labeler):
    experiment = make_experiment("support-bot")
    make_trace(experiment)
    assign_experiment(labeler, experiment)
    html = labeler_client.get("/").content.decode()
    assert reverse("explorer:trace_list", args=[experiment.pk]) in html
