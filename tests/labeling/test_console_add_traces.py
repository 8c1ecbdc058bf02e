"""Console: adding traces to a session (by filter, by selection, random sample) and
"Add to session…" from a trace list (choose or create the session)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from labeling.models import Item, LabelingSession
from tests.factories import make_experiment, make_feedback, make_session, make_trace


@pytest.fixture
def experiment(db):
    return make_experiment("support-bot")


@pytest.fixture
def traces(experiment):
    """12 OK traces (every third labeled "correct") and 4 ERROR traces."""
    now = timezone.now()
    ok = [
        make_trace(experiment, state="OK", request_time=now - timedelta(hours=i),
                   request={"question": f"question {i}"})
        for i in range(12)
    ]  # fmt: skip
    errors = [
        make_trace(experiment, state="ERROR", request_time=now - timedelta(days=3, hours=i))
        for i in range(4)
    ]
    for trace in ok[::3]:
        make_feedback(trace, "correct", True)
    return ok, errors


def add_url(session):
    return reverse("console:session_add_traces", args=[session.pk])


def test_page_shows_the_count_before_confirming(curator_client, experiment, traces):
    ok, _ = traces
    session = make_session(experiment, traces=ok[:2])
    response = curator_client.get(add_url(session), {"state": "OK"})
    assert response.context["matched"] == 12
    assert response.context["already"] == 2
    assert response.context["new_count"] == 10
    html = response.content.decode()
    assert "Add all 10 new matching" in html
    # The action posts back with the filter in the query string.
    assert 'action="' + add_url(session) + '?state=OK"' in html
    rows = {t.trace_id: t.in_session for t in response.context["page"]}
    assert rows[ok[0].trace_id] and not rows[ok[5].trace_id]


def test_count_partial_for_htmx(curator_client, experiment, traces):
    session = make_session(experiment)
    response = curator_client.get(
        add_url(session), {"state": "ERROR"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="trace-picker"' in html
    assert response.context["matched"] == 4
    # The form the add buttons post is in the partial, so its action follows the filter.
    assert f'action="{add_url(session)}?state=ERROR" id="add-form"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, 16),
        ({"state": "OK"}, 12),
        ({"state": "ERROR"}, 4),
        ({"label": "correct"}, 4),
        ({"presence": "lacks", "label": "correct"}, 12),
        ({"q": "QUESTION 1"}, 3),  # question 1, 10, 11
        ({"start": "__yesterday__"}, 12),
        ({"end": "__2d_ago__"}, 4),
        ({"state": "OK", "presence": "lacks", "label": "correct", "q": "question"}, 8),
    ],
)
def test_add_by_filter_counts(curator_client, experiment, traces, query, expected):
    session = make_session(experiment)
    days = {
        "__yesterday__": (timezone.localdate() - timedelta(days=1)).isoformat(),
        "__2d_ago__": (timezone.localdate() - timedelta(days=2)).isoformat(),
    }
    query = {k: days.get(v, v) if isinstance(v, str) else v for k, v in query.items()}
    assert curator_client.get(add_url(session), query).context["matched"] == expected
    url = add_url(session) + "?" + _urlencode(query)
    response = curator_client.post(url, {"action": "all"})
    assert response.status_code == 302
    assert response["Location"] == reverse("console:session_detail", args=[session.pk])
    assert session.items.count() == expected


def _urlencode(query):
    from urllib.parse import urlencode

    return urlencode(query, doseq=True)


def test_add_by_filter_skips_duplicates_and_says_so(curator_client, experiment, traces):
    ok, _ = traces
    session = make_session(experiment, traces=ok[:3], name="Week 1")
    response = curator_client.post(add_url(session) + "?state=OK", {"action": "all"}, follow=True)
    assert "Added 9 traces to “Week 1”. 3 were already there." in response.content.decode()
    assert session.items.count() == 12
    response = curator_client.post(add_url(session) + "?state=OK", {"action": "all"}, follow=True)
    assert "Added 0 traces to “Week 1”. 12 were already there." in response.content.decode()
    assert session.items.count() == 12


def test_invalid_filter_adds_nothing(curator_client, experiment, traces):
    session = make_session(experiment)
    url = add_url(session) + "?state=BROKEN&start=yesterday&sort=-time"
    page = curator_client.get(url)
    assert page.context["matched"] == 0
    assert "Select a valid choice" in page.content.decode()
    response = curator_client.post(url, {"action": "all"})
    assert response.status_code == 200
    assert "Fix the filter first." in response.content.decode()
    assert not session.items.exists()


def test_add_selected(curator_client, experiment, traces):
    ok, errors = traces
    session = make_session(experiment, traces=ok[:1])
    picked = [errors[1].trace_id, ok[0].trace_id, ok[4].trace_id]
    response = curator_client.post(
        add_url(session), {"action": "selected", "trace_id": picked}, follow=True
    )
    assert "Added 2 traces" in response.content.decode()
    assert "1 was already there." in response.content.decode()
    ordered = list(session.items.order_by("position").values_list("trace__trace_id", flat=True))
    assert ordered == [ok[0].trace_id, errors[1].trace_id, ok[4].trace_id]


def test_add_selected_needs_a_selection(curator_client, experiment, traces):
    session = make_session(experiment)
    response = curator_client.post(add_url(session), {"action": "selected"})
    assert response.status_code == 200
    assert "Select at least one trace." in response.content.decode()


def test_add_selected_refuses_foreign_traces(curator_client, experiment, traces):
    ok, _ = traces
    session = make_session(experiment)
    foreign = make_trace(make_experiment("other"))
    response = curator_client.post(
        add_url(session), {"action": "selected", "trace_id": [ok[0].trace_id, foreign.trace_id]}
    )
    assert response.status_code == 200
    assert "1 of the selected traces are not in experiment" in response.content.decode()
    assert not session.items.exists()


def test_random_sample(curator_client, experiment, traces):
    session = make_session(experiment)
    response = curator_client.post(
        add_url(session) + "?state=OK", {"action": "sample", "size": "5"}, follow=True
    )
    assert "Added 5 traces" in response.content.decode()
    assert session.items.count() == 5
    assert set(session.items.values_list("trace__state", flat=True)) == {"OK"}


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("", "Give the sample size."),
        ("0", "The sample size must be between 1 and 10,000."),
        ("10001", "The sample size must be between 1 and 10,000."),
        ("many", "Enter a whole number."),
    ],
)
def test_random_sample_size_is_checked(curator_client, experiment, traces, size, message):
    session = make_session(experiment)
    response = curator_client.post(add_url(session), {"action": "sample", "size": size})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not session.items.exists()


def test_unknown_action_is_refused(curator_client, experiment, traces):
    session = make_session(experiment)
    response = curator_client.post(add_url(session), {"action": "everything"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not session.items.exists()


def test_page_query_count(curator_client, experiment, traces, django_assert_num_queries):
    session = make_session(experiment, traces=traces[0][:2])
    # user, session, schema names, label names, traces count + page, in-session
    # rows, already-there count
    with django_assert_num_queries(8):
        curator_client.get(add_url(session), {"state": "OK"})
    for _ in range(10):
        make_trace(experiment)
    with django_assert_num_queries(8):
        curator_client.get(add_url(session), {"state": "OK"})


# --- "Add to session…" from the trace list -------------------------------------------------------


def to_session_url(experiment, query=""):
    url = reverse("console:add_to_session", args=[experiment.pk])
    return url + (f"?{query}" if query else "")


def test_selection_from_the_trace_list_asks_for_a_session(curator_client, experiment, traces):
    ok, _ = traces
    make_session(experiment, name="Week 1")
    make_session(experiment, name="Closed one", status="closed")
    picked = [ok[0].trace_id, ok[1].trace_id]
    response = curator_client.post(to_session_url(experiment, "state=OK"), {"trace_id": picked})
    html = response.content.decode()
    assert response.status_code == 200
    assert "2 traces selected on the trace list" in html
    for trace_id in picked:
        assert f'name="trace_id" value="{trace_id}"' in html
    names = [label for _, label in response.context["form"].fields["session"].choices]
    assert any("Week 1" in name for name in names)
    assert not any("Closed one" in name for name in names)
    assert not Item.objects.exists()


def test_selection_into_an_existing_session(curator_client, experiment, traces):
    ok, _ = traces
    session = make_session(experiment, name="Week 1")
    response = curator_client.post(
        to_session_url(experiment),
        {"trace_id": [ok[0].trace_id], "action": "selected", "session": str(session.pk)},
    )
    assert response["Location"] == reverse("console:session_detail", args=[session.pk])
    assert session.items.count() == 1


def test_trace_list_checkbox_name_is_accepted(curator_client, experiment, traces):
    """The trace list's row checkboxes are named `trace`."""
    ok, _ = traces
    session = make_session(experiment, name="Week 1")
    response = curator_client.post(
        to_session_url(experiment, "state=OK&sort=-duration&page=2"),
        {"trace": [ok[1].trace_id, ok[2].trace_id]},
    )
    assert "2 traces selected on the trace list" in response.content.decode()
    response = curator_client.post(
        to_session_url(experiment),
        {"trace": [ok[1].trace_id, ok[2].trace_id], "action": "selected", "session": session.pk},
    )
    assert response.status_code == 302
    assert session.items.count() == 2


def test_selection_into_a_new_session(curator_client, experiment, traces, curator):
    ok, _ = traces
    response = curator_client.post(
        to_session_url(experiment),
        {
            "trace_id": [t.trace_id for t in ok[:3]],
            "action": "selected",
            "session": "new",
            "new_session_name": "Fresh batch",
        },
    )
    session = LabelingSession.objects.get(name="Fresh batch")
    assert response["Location"] == reverse("console:session_detail", args=[session.pk])
    assert (session.status, session.experiment, session.created_by) == (
        "draft", experiment, curator,
    )  # fmt: skip
    assert session.items.count() == 3


def test_new_session_needs_a_name(curator_client, experiment, traces):
    response = curator_client.post(
        to_session_url(experiment, "state=OK"), {"action": "all", "session": "new"}
    )
    assert response.status_code == 200
    assert "Name the new session." in response.content.decode()
    assert not LabelingSession.objects.exists()


def test_a_session_must_be_chosen(curator_client, experiment, traces):
    response = curator_client.post(to_session_url(experiment), {"action": "all"})
    assert "Choose a session, or a new one." in response.content.decode()


def test_sessions_of_other_experiments_cannot_be_chosen(curator_client, experiment, traces):
    foreign = make_session(make_experiment("other"))
    response = curator_client.post(
        to_session_url(experiment), {"action": "all", "session": str(foreign.pk)}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not foreign.items.exists()


def test_failed_add_into_a_new_session_creates_no_session(curator_client, experiment, traces):
    response = curator_client.post(
        to_session_url(experiment),
        {"action": "selected", "trace_id": ["tr-unknown"], "session": "new",
         "new_session_name": "Doomed"},
    )  # fmt: skip
    assert response.status_code == 200
    assert not LabelingSession.objects.exists()


def test_filter_from_the_trace_list_into_new_session(curator_client, experiment, traces):
    response = curator_client.post(
        to_session_url(experiment, "state=ERROR&sort=-duration&page=3"),
        {"action": "all", "session": "new", "new_session_name": "Errors"},
    )
    session = LabelingSession.objects.get(name="Errors")
    assert response.status_code == 302
    assert session.items.count() == 4


def test_choosing_a_session_shows_what_is_already_there(curator_client, experiment, traces):
    ok, _ = traces
    session = make_session(experiment, traces=ok[:5])
    response = curator_client.get(
        to_session_url(experiment), {"session": session.pk, "state": "OK"}
    )
    assert (response.context["matched"], response.context["already"]) == (12, 5)
