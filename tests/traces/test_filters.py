"""traces.filters: the trace list's query-string filters, as the console applies them."""

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from tests.factories import make_experiment, make_feedback, make_trace
from traces.filters import TraceFilterForm, parse_filter_value
from traces.models import Trace
from traces.services import Source


@pytest.fixture
def experiment(db):
    return make_experiment("support-bot")


def matching(experiment, query: str) -> set[str]:
    form = TraceFilterForm(QueryDict(query), experiment=experiment)
    return set(form.filter(Trace.objects.all()).values_list("trace_id", flat=True))


@pytest.fixture
def three(experiment):
    now = timezone.now()
    old = make_trace(
        experiment, request={"q": "Where is Paris?"}, request_time=now - timedelta(days=10),
        tags={"team": "search"},
    )  # fmt: skip
    new = make_trace(experiment, response="Paris is in France", request_time=now, state="ERROR")
    other = make_trace(
        experiment, request={"q": "Hello"}, request_time=now - timedelta(days=1),
        tags={"team": "chat"},
    )  # fmt: skip
    make_trace(make_experiment(), request={"q": "Paris"})  # another experiment: never matches
    make_feedback(old, "correct", True, source=Source("HUMAN", "ann"))
    make_feedback(new, "score", 4)
    replaced = make_feedback(other, "correct", False)
    replaced.valid = False
    replaced.save()
    return old, new, other


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"old", "new", "other"}),
        ("q=paris", {"old", "new"}),
        ("q=PARIS+is", {"new"}),
        ("state=ERROR", {"new"}),
        ("state=ERROR&state=OK", {"old", "new", "other"}),
        ("start=__yesterday__", {"new", "other"}),
        ("end=__yesterday__", {"old", "other"}),
        ("label=correct", {"old"}),  # only valid labels count
        ("presence=has&label=correct", {"old"}),
        ("presence=lacks&label=correct", {"new", "other"}),
        ("presence=lacks", {"other"}),  # no valid label at all
        ("label=correct&value=true", {"old"}),
        ("label=correct&value=pass", {"old"}),
        ("label=correct&value=no", set()),
        ("value=4", {"new"}),
        ("source=HUMAN", {"old"}),
        ("source=CODE", {"new"}),
        ("tag=team", {"old", "other"}),
        ("tag=team=chat", {"other"}),
        ("label=never-used", set()),
        ("q=paris&presence=lacks&label=correct&sort=-duration&page=2", {"new"}),
    ],
)
def test_filters(experiment, three, query, expected):
    names = dict(zip(("old", "new", "other"), three, strict=True))
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    query = query.replace("__yesterday__", yesterday)
    assert matching(experiment, query) == {names[n].trace_id for n in expected}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=BROKEN", "state"),
        ("start=yesterday", "start"),
        ("start=2025-05-02&end=2025-05-01", "end"),
        ("presence=maybe", "presence"),
        ("source=ROBOT", "source"),
        ("tag==x", "tag"),
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
        QueryDict(
            "q=  two   words &state=OK&state=ERROR&start=2025-05-01&presence=lacks&label=correct"
            "&tag=team%3Dchat&page=4&sort=-time"
        ),
        experiment=experiment,
    )
    assert form.is_valid(), form.errors
    assert form.is_filtering
    again = TraceFilterForm(QueryDict(form.query_string()), experiment=experiment)
    assert again.is_valid()
    assert again.cleaned_data == form.cleaned_data
    assert "page" not in form.query_string() and "sort" not in form.query_string()


def test_parse_filter_value():
    assert parse_filter_value("Pass") == ["Pass", True]
    assert parse_filter_value("no") == ["no", False]
    assert parse_filter_value(" 4 ") == ["4", 4]
    assert parse_filter_value("0.5") == ["0.5", 0.5]
    assert parse_filter_value("nan") == ["nan"]
    assert parse_filter_value("Paris") == ["Paris"]
