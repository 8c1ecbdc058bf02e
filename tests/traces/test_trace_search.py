"""MLflow's trace filter and order-by syntax (`traces.trace_search`)."""

from datetime import UTC, datetime

import pytest

from tests.factories import make_expectation, make_experiment, make_feedback, make_trace
from traces import services
from traces.models import Trace
from traces.trace_search import (
    Clause,
    SearchError,
    filter_q,
    parse_filter,
    parse_order_by,
)


def test_parse_feedback_and_attribute_clauses():
    assert parse_filter(
        "feedback.correctness = 'yes' AND attributes.timestamp_ms > 1700000000000 "
        "and trace.status IN ('OK', 'error') AND tags.`mlflow.traceName` LIKE 'chat%' "
        'AND metadata."mlflow.user" IS NOT NULL AND expectation.`expected answer` != "x"'
    ) == [
        Clause("feedback", "correctness", "=", "yes"),
        Clause("attribute", "timestamp_ms", ">", 1700000000000),
        Clause("attribute", "status", "IN", ["OK", "ERROR"]),
        Clause("tag", "mlflow.traceName", "LIKE", "chat%"),
        Clause("metadata", "mlflow.user", "IS NOT NULL"),
        Clause("expectation", "expected answer", "!=", "x"),
    ]


def test_parse_aliases_and_quotes():
    assert parse_filter("timestamp >= 5 AND execution_time < 2.5 AND state != 'ok'") == [
        Clause("attribute", "timestamp_ms", ">=", 5),
        Clause("attribute", "execution_time_ms", "<", 2.5),
        Clause("attribute", "status", "!=", "OK"),
    ]
    assert parse_filter("tags.mlflow.traceName = 'it''s'") == [
        Clause("tag", "mlflow.traceName", "=", "it's")
    ]
    assert parse_filter("name NOT IN ('a', 'b')") == [
        Clause("attribute", "name", "NOT IN", ["a", "b"])
    ]
    assert parse_filter("  ") == [] and parse_filter(None) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feedback.x = 'a' OR feedback.y = 'b'", "OR is not supported"),
        ("feedback.x > 'a'", "comparison > is not supported for feedback"),
        ("feedback.x = 3", "compared with a quoted string"),
        ("span.name = 'x'", "span.name is not supported"),
        ("attributes.end_time_ms > 3", "Unknown attribute 'end_time_ms'"),
        ("foo.bar = 'x'", "Unknown key 'foo.bar'"),
        ("timestamp_ms > 'soon'", "number of milliseconds"),
        ("status = 'DONE'", "Unknown status 'DONE'"),
        ("status LIKE 'O%'", "comparison LIKE is not supported for status"),
        ("feedback.x = 'a' feedback.y = 'b'", "Expected AND"),
        ("feedback.x = ", "ends where a value was expected"),
        ("feedback.x 'a'", "Expected a comparison"),
        ("feedback.x IS 'a'", "IS must be followed by NULL"),
        ("name IN 'a'", "parenthesised list"),
        ("feedback.x = 'a' AND", "ends where a key was expected"),
        ("feedback.x = 'a'; DROP TABLE", "Unexpected character ';'"),
        ("tags.x = 'unterminated", "Unexpected character"),
    ],
)
def test_parse_errors_say_what_is_wrong(text, message):
    with pytest.raises(SearchError) as caught:
        parse_filter(text)
    assert message in str(caught.value)


def test_order_by_parsing():
    assert len(parse_order_by(None)) == 2
    parse_order_by(["timestamp_ms ASC", "attributes.execution_time_ms DESC", "status"])
    for bad in (["name DESC"], ["timestamp_ms sideways"], [3]):
        with pytest.raises(SearchError):
            parse_order_by(bad)


def search(text, *, order_by=None):
    return list(
        Trace.objects.filter(filter_q(parse_filter(text)))
        .order_by(*parse_order_by(order_by))
        .values_list("trace_id", flat=True)
    )


@pytest.fixture
def traces(db):
    experiment = make_experiment()
    a = make_trace(
        experiment,
        trace_id="tr-a",
        request_time=datetime(2025, 1, 1, tzinfo=UTC),
        execution_duration=100,
        tags={"mlflow.traceName": "chat_turn", "env": "prod"},
        trace_metadata={"mlflow.user": "ann", "mlflow.sourceRun": "run-1"},
        client_request_id="req-a",
    )
    b = make_trace(
        experiment,
        trace_id="tr-b",
        request_time=datetime(2025, 1, 2, tzinfo=UTC),
        execution_duration=300,
        state="ERROR",
        tags={"mlflow.traceName": "Chat_summary"},
    )
    c = make_trace(
        experiment,
        trace_id="tr-c",
        request_time=datetime(2025, 1, 3, tzinfo=UTC),
        execution_duration=None,
    )
    make_feedback(a, "correct", True)
    make_feedback(b, "correct", "true")
    make_feedback(c, "correct", False)
    make_feedback(a, "score", 4)
    make_feedback(b, "score", 4.5)
    make_feedback(a, "tone", "friendly")
    make_expectation(b, "expected", "Paris")
    old = make_feedback(c, "tone", "rude")
    services.override_assessment(trace_id="tr-c", assessment_id=old.assessment_id, value="polite")
    return a, b, c


def test_feedback_equality_matches_values_as_mlflow_does(traces):
    assert search("feedback.correct = 'true'") == ["tr-b", "tr-a"]  # True and "true"
    assert search("feedback.correct = 'false'") == ["tr-c"]
    assert search("feedback.score = '4'") == ["tr-a"]
    assert search("feedback.score = '4.5'") == ["tr-b"]
    assert search("feedback.tone = 'friendly'") == ["tr-a"]
    assert search("feedback.correct != 'false'") == ["tr-b", "tr-a"]
    assert search("expectation.expected = 'Paris'") == ["tr-b"]


def test_only_current_assessments_count(traces):
    assert search("feedback.tone = 'rude'") == []
    assert search("feedback.tone = 'polite'") == ["tr-c"]


def test_assessment_presence(traces):
    assert search("feedback.tone IS NOT NULL") == ["tr-c", "tr-a"]
    assert search("feedback.tone IS NULL") == ["tr-b"]
    assert search("expectation.expected IS NULL") == ["tr-c", "tr-a"]


def test_attribute_filters(traces):
    jan2 = int(datetime(2025, 1, 2, tzinfo=UTC).timestamp() * 1000)
    assert search(f"timestamp_ms >= {jan2}") == ["tr-c", "tr-b"]
    assert search(f"attributes.timestamp_ms < {jan2}") == ["tr-a"]
    assert search("execution_time_ms > 150") == ["tr-b"]
    assert search("status = 'ERROR'") == ["tr-b"]
    assert search("status NOT IN ('ERROR')") == ["tr-c", "tr-a"]
    assert search("trace_id IN ('tr-a', 'tr-c')") == ["tr-c", "tr-a"]
    assert search("client_request_id = 'req-a'") == ["tr-a"]
    assert search("run_id = 'run-1'") == ["tr-a"]


def test_tag_and_metadata_filters(traces):
    assert search("name = 'chat_turn'") == ["tr-a"]
    assert search("name LIKE 'chat%'") == ["tr-a"]
    assert search("name ILIKE 'chat%'") == ["tr-b", "tr-a"]
    assert search("tags.env = 'prod'") == ["tr-a"]
    assert search("tags.env != 'prod'") == []
    assert search("tags.env IS NULL") == ["tr-c", "tr-b"]
    assert search("metadata.`mlflow.user` = 'ann' AND feedback.correct = 'true'") == ["tr-a"]
    assert search("tags.`mlflow.traceName` LIKE '%_s%'") == ["tr-b"]


def test_ordering(traces):
    assert search(None) == ["tr-c", "tr-b", "tr-a"]
    assert search(None, order_by=["timestamp_ms ASC"]) == ["tr-a", "tr-b", "tr-c"]
    assert search(None, order_by=["execution_time_ms DESC"]) == ["tr-b", "tr-a", "tr-c"]
    assert search(None, order_by=["execution_time_ms ASC"]) == ["tr-a", "tr-b", "tr-c"]
