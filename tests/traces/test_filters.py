"""traces.filters: the query-string filters shared by the trace list and the console."""

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from tests.factories import make_experiment, make_feedback, make_trace
from traces.filters import TraceFilterForm
from traces.models import Trace


@pytest.fixture
def experiment(db):
    return make_experiment("support-bot")


def matching(experiment, query: str) -> set[str]:
    form = TraceFilterForm(QueryDict(query), experiment=experiment)
    return set(form.filter(Trace.objects.all()).values_list("trace_id", flat=True))


def test_filters(experiment):
    now = timezone.now()
    old = make_trace(
        experiment, request={"q": "Where is Paris?"}, request_time=now - timedelta(days=10)
    )
    new = make_trace(experiment, response="Paris is in France", request_time=now, state="ERROR")
    other = make_trace(experiment, request={"q": "Hello"}, request_time=now - timedelta(days=1))
    make_trace(make_experiment(), request={"q": "Paris"})  # another experiment: never matches
    make_feedback(old, "correct", True)
    overridden = make_feedback(other, "correct", False)
    overridden.valid = False
    overridden.save()
    assert matching(experiment, "") == {old.trace_id, new.trace_id, other.trace_id}
    assert matching(experiment, "q=paris") == {old.trace_id, new.trace_id}
    assert matching(experiment, f"q={new.trace_id}") == {new.trace_id}
    assert matching(experiment, "state=ERROR") == {new.trace_id}
    assert matching(experiment, "state=ERROR&state=OK") == {
        old.trace_id,
        new.trace_id,
        other.trace_id,
    }
    two_days = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert matching(experiment, f"start={two_days}") == {new.trace_id, other.trace_id}
    assert matching(experiment, f"end={two_days}") == {old.trace_id}
    assert matching(experiment, "has=correct") == {old.trace_id}  # only valid labels count
    assert matching(experiment, "lacks=correct") == {new.trace_id, other.trace_id}
    assert matching(experiment, "has=never-used") == set()
    assert matching(experiment, "q=paris&lacks=correct&sort=time&page=2") == {new.trace_id}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=BROKEN", "state"),
        ("start=yesterday", "start"),
        ("start=2025-05-02T00:00&end=2025-05-01T00:00", "end"),
        ("has=a&lacks=a", "lacks"),
        ("q=" + "x" * 201, "q"),
    ],
)
def test_invalid_filters_match_nothing(experiment, query, field):
    make_trace(experiment)
    form = TraceFilterForm(QueryDict(query), experiment=experiment)
    assert not form.is_valid()
    assert field in form.errors
    assert not form.filter(Trace.objects.all()).exists()


def test_query_string_round_trip(experiment):
    form = TraceFilterForm(
        QueryDict("q=  two   words &state=OK&state=ERROR&start=2025-05-01&has=correct&page=4"),
        experiment=experiment,
    )
    assert form.is_valid()
    assert form.is_filtering
    again = TraceFilterForm(QueryDict(form.query_string()), experiment=experiment)
    assert again.is_valid()
    assert again.cleaned_data == form.cleaned_data
    assert "page" not in form.query_string()
