"""The trace list of an experiment: previews, label columns, search, filters, sort, pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    assign_experiment,
    human,
    make_expectation,
    make_experiment,
    make_feedback,
    make_trace,
)
from traces import services
from traces.models import LifecycleStage

pytestmark = pytest.mark.django_db


def url(experiment, **params):
    from urllib.parse import urlencode

    base = reverse("explorer:trace_list", args=[experiment.pk])
    return base + ("?" + urlencode(params) if params else "")


def shown(response):
    return [row.trace_id for row in response.context["rows"]]


@pytest.fixture
def experiment():
    return make_experiment("support-bot")


def test_anonymous_is_sent_to_login(client, experiment):
    response = client.get(url(experiment))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_and_deleted_experiments_are_404(labeler_client):
    gone = make_experiment("gone", lifecycle_stage=LifecycleStage.DELETED)
    assert labeler_client.get(url(gone)).status_code == 404
    assert labeler_client.get("/experiments/999999/").status_code == 404


def test_full_page_with_previews_and_label_columns(labeler_client, labeler, experiment):
    trace = make_trace(
        experiment,
        request={"messages": [{"role": "user", "content": "Is the tent waterproof?"}]},
        response={"choices": [{"message": {"role": "assistant", "content": "Yes, fully."}}]},
        total_tokens=1234,
        execution_duration=2500,
    )
    make_feedback(trace, name="correctness", value=False)
    make_feedback(trace, name="relevance", value=0.75)
    make_feedback(trace, name="tone", value="friendly", source=human("maria"))
    make_expectation(trace, name="expected_facts", value={"must": ["x"]})

    assign_experiment(labeler, experiment)
    response = labeler_client.get(url(experiment))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert "Is the tent waterproof?" in html and "Yes, fully." in html
    assert "1,234" in html and "2.50 s" in html
    assert [c.name for c in response.context["feedback_columns"]] == [
        "correctness",
        "relevance",
        "tone",
    ]
    assert [c.name for c in response.context["expectation_columns"]] == ["expected_facts"]
    assert ">Feedback</th>" in html and ">Expectations</th>" in html
    assert 'class="val val-false"' in html
    assert ">0.75<" in html
    assert ">friendly<" in html
    assert 'class="val val-json"' in html
    assert reverse("explorer:trace", args=[trace.trace_id]) in html
    assert "data-select-all" in html and 'name="trace"' in html


def test_columns_come_from_every_trace_not_just_this_page(labeler_client, labeler, experiment):
    old = make_trace(experiment, request_time=timezone.now() - timedelta(days=30))
    make_feedback(old, name="rare_label", value=True)
    for _ in range(55):
        make_trace(experiment)
    assign_experiment(labeler, experiment)
    response = labeler_client.get(url(experiment))
    assert old.trace_id not in shown(response)
    assert "rare_label" in [c.name for c in response.context["columns"]]


def test_only_current_values_show(labeler_client, experiment, labeler):
    trace = make_trace(experiment)
    first = make_feedback(trace, name="tone", value="curt", source=human(labeler))
    services.override_assessment(
        trace_id=trace.trace_id,
        assessment_id=first.assessment_id,
        value="warm",
        source=human(labeler),
    )
    assign_experiment(labeler, experiment)
    html = labeler_client.get(url(experiment)).content.decode()
    assert ">warm<" in html and ">curt<" not in html


def test_htmx_gets_the_results_partial(labeler_client, labeler, experiment):
    make_trace(experiment)
    assign_experiment(labeler, experiment)
    response = labeler_client.get(url(experiment, page=1), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="trace-results"')
    assert "<html" not in html


def test_search_over_previews(labeler_client, labeler, experiment):
    tent = make_trace(experiment, request={"q": "Is the TENT waterproof?"})
    answer = make_trace(experiment, response="We ship tents to Norway")
    make_trace(experiment, request={"q": "Where is my order?"})
    assign_experiment(labeler, experiment)
    response = labeler_client.get(url(experiment, q="tent"))
    assert sorted(shown(response)) == sorted([tent.trace_id, answer.trace_id])


def test_state_and_time_filters(labeler_client, labeler, experiment):
    now = timezone.now()
    failed = make_trace(experiment, state="ERROR", request_time=now - timedelta(days=1))
    make_trace(experiment, state="ERROR", request_time=now - timedelta(days=10))
    make_trace(experiment, request_time=now - timedelta(days=1))
    day = (now - timedelta(days=2)).date().isoformat()
    assign_experiment(labeler, experiment)
    response = labeler_client.get(url(experiment, state="ERROR", start=day))
    assert shown(response) == [failed.trace_id]
    before = labeler_client.get(url(experiment, end=day))
    assert len(shown(before)) == 1


def test_label_filters(labeler_client, labeler, experiment):
    passed = make_trace(experiment)
    failed = make_trace(experiment)
    unlabeled = make_trace(experiment)
    scored = make_trace(experiment)
    judge = services.Source("LLM_JUDGE", "judge")
    make_feedback(passed, name="correctness", value=True, source=judge)
    make_feedback(failed, name="correctness", value=False, source=human("maria"))
    make_feedback(scored, name="relevance", value=4)

    assign_experiment(labeler, experiment)

    def ids(**params):
        return sorted(shown(labeler_client.get(url(experiment, **params))))

    assert ids(label="correctness") == sorted([passed.trace_id, failed.trace_id])
    assert ids(label="correctness", value="fail") == [failed.trace_id]
    assert ids(label="correctness", value="true") == [passed.trace_id]
    assert ids(presence="lacks", label="correctness") == sorted(
        [unlabeled.trace_id, scored.trace_id]
    )
    assert ids(label="relevance", value="4") == [scored.trace_id]
    assert ids(source="HUMAN") == [failed.trace_id]
    assert ids(label="correctness", source="LLM_JUDGE") == [passed.trace_id]
    assert ids(presence="lacks") == [unlabeled.trace_id]


def test_tag_filter(labeler_client, labeler, experiment):
    prod = make_trace(experiment, tags={"env": "prod"})
    staging = make_trace(experiment, tags={"env": "staging", "beta": "1"})
    make_trace(experiment)
    assign_experiment(labeler, experiment)
    assert shown(labeler_client.get(url(experiment, tag="env=prod"))) == [prod.trace_id]
    assert sorted(shown(labeler_client.get(url(experiment, tag="env")))) == sorted(
        [prod.trace_id, staging.trace_id]
    )
    assert shown(labeler_client.get(url(experiment, tag="beta"))) == [staging.trace_id]


def test_sort_by_time_and_duration(labeler_client, labeler, experiment):
    now = timezone.now()
    slow = make_trace(experiment, execution_duration=9000, request_time=now - timedelta(hours=3))
    fast = make_trace(experiment, execution_duration=100, request_time=now - timedelta(hours=1))
    running = make_trace(experiment, execution_duration=None, state="IN_PROGRESS", request_time=now)
    assign_experiment(labeler, experiment)
    assert shown(labeler_client.get(url(experiment))) == [
        running.trace_id,
        fast.trace_id,
        slow.trace_id,
    ]
    assert shown(labeler_client.get(url(experiment, sort="time")))[0] == slow.trace_id
    assert shown(labeler_client.get(url(experiment, sort="-duration"))) == [
        slow.trace_id,
        fast.trace_id,
        running.trace_id,
    ]
    assert shown(labeler_client.get(url(experiment, sort="duration"))) == [
        fast.trace_id,
        slow.trace_id,
        running.trace_id,
    ]


def test_pages_keep_the_filters(labeler_client, labeler, experiment):
    for _ in range(60):
        make_trace(experiment, state="ERROR")
    make_trace(experiment)
    assign_experiment(labeler, experiment)
    first = labeler_client.get(url(experiment, state="ERROR"))
    assert len(shown(first)) == 50 and first.context["page"].has_next
    html = first.content.decode()
    assert "?state=ERROR&amp;page=2" in html
    count_url = reverse("explorer:trace_count", args=[experiment.pk]) + "?state=ERROR"
    assert f'hx-get="{count_url}"' in html
    second = labeler_client.get(url(experiment, state="ERROR", page=2))
    assert len(shown(second)) == 10
    assert not set(shown(first)) & set(shown(second))


def test_bad_filter_input_is_shown_not_fatal(labeler_client, labeler, experiment):
    make_trace(experiment)
    assign_experiment(labeler, experiment)
    response = labeler_client.get(
        url(experiment, start="not a date", label="unknown", sort="sideways", page="abc")
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"start", "label", "sort"}
    assert len(shown(response)) == 1
    beyond = labeler_client.get(url(experiment, page=999))
    assert beyond.status_code == 200 and not shown(beyond)
    assert "Nothing on page 999" in beyond.content.decode()


def test_untrusted_previews_are_escaped(labeler_client, labeler, experiment):
    make_trace(experiment, request={"q": "<script>alert(1)</script>"})
    trace = make_trace(experiment)
    make_feedback(trace, name="<b>name</b>", value="<img src=x onerror=alert(1)>")
    assign_experiment(labeler, experiment)
    html = labeler_client.get(url(experiment)).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html and "<b>name</b>" not in html


def test_query_count_does_not_grow_with_rows_or_labels(
    labeler_client, labeler, experiment, django_assert_num_queries
):
    for _ in range(2):
        make_trace(experiment)
    assign_experiment(labeler, experiment)
    # user, experiment, label columns, page keys, page rows, page labels
    with django_assert_num_queries(6):
        labeler_client.get(url(experiment))
    for index in range(40):
        trace = make_trace(experiment)
        make_feedback(trace, name=f"judge_{index % 5}", value=index % 2 == 0)
        make_expectation(trace, name="expected", value={"i": index})
    assign_experiment(labeler, experiment)
    with django_assert_num_queries(6):
        labeler_client.get(url(experiment))
    with django_assert_num_queries(6):
        labeler_client.get(url(experiment, q="MLflow", label="expected", sort="-duration"))
    # The total, loaded after the rows: user, experiment, label columns, count.
    with django_assert_num_queries(4):
        labeler_client.get(reverse("explorer:trace_count", args=[experiment.pk]))


def test_count_of_matching_traces(labeler_client, labeler, experiment):
    for _ in range(3):
        make_trace(experiment, state="ERROR")
    make_trace(experiment)
    count_url = reverse("explorer:trace_count", args=[experiment.pk])
    assign_experiment(labeler, experiment)
    response = labeler_client.get(count_url + "?state=ERROR", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html == '<span id="trace-count" class="trace-count">of <strong>3</strong> traces</span>'
    assert "of <strong>4</strong> traces" in labeler_client.get(count_url).content.decode()
    assert client_redirects(count_url)


def client_redirects(path):
    from django.test import Client

    response = Client().get(path)
    return response.status_code == 302 and reverse("login") in response["Location"]


def test_count_stops_at_the_cap(labeler_client, labeler, experiment, monkeypatch):
    from explorer import views

    monkeypatch.setattr(views, "FILTERED_COUNT_CAP", 2)
    for _ in range(3):
        make_trace(experiment, state="ERROR")
    count_url = reverse("explorer:trace_count", args=[experiment.pk]) + "?state=ERROR"
    assign_experiment(labeler, experiment)
    assert "of <strong>2+</strong> traces" in labeler_client.get(count_url).content.decode()


def test_curators_can_send_the_selection_to_a_session(client, curator, labeler, experiment):
    """The list's row checkboxes belong to a form that posts to the console's add page, with
    the list's filters in the query string (for "add all matching")."""
    trace = make_trace(experiment)
    url = reverse("explorer:trace_list", args=[experiment.pk]) + "?state=OK"
    client.force_login(labeler)
    assert 'id="trace-selection"' not in client.get(url).content.decode()

    client.force_login(curator)
    html = client.get(url).content.decode()
    action = reverse("console:add_to_session", args=[experiment.pk]) + "?state=OK"
    assert f'<form id="trace-selection" method="post" action="{action}">' in html
    assert f'value="{trace.trace_id}" form="trace-selection"' in html

    response = client.post(action, {"trace": [trace.trace_id]})
    assert response.status_code == 200
    assert trace.trace_id in response.content.decode()
