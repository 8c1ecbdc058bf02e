"""Fuzzing every way in (issue 14): Hypothesis makes form posts (a label in the explorer, the
review app's answer sheet, trace list parameters), MLflow API bodies and query parameters,
search filters and page tokens, OTLP JSON requests and import files, with sizes around the
limits, deep nesting, unicode and numbers at the edges (1e309, 2**64, NaN, 400 digits), and
each must get an answer below 500 and leave nothing half-written (a refused request stores
nothing).

The budget is fixed, so CI time stays bounded: `derandomize` (the same examples every run, no
example database), `max_examples` per test, no deadline (the machine is shared). Each example
runs in a savepoint that is rolled back, so examples do not see each other's rows.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import assign_traces, make_trace, mlflow_trace_json
from traces.models import Assessment, Span, Trace

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=75,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Numbers as JSON text that Python's json reads but no column stores as they are.
EDGE_NUMBERS = [
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "-0",
    "1e-400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1" + "0" * 400,
    "0.1e999999",
]
EDGE = "\x00edge\x00"  # stands for one of EDGE_NUMBERS until the body is written out

texts = st.text(max_size=40) | st.sampled_from(["", " ", "\x00", "🙂" * 3, "=1+1", "x" * 20_001])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | st.just(EDGE)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


class Raw:
    """JSON text to put into a body as it is (deep nesting a json.dumps could not write)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:60]!r}…)"


@st.composite
def nested(draw: Callable[..., Any], inner: st.SearchStrategy = json_values) -> Raw:
    """A value, sometimes wrapped in many levels of lists or objects (around the limit of 100,
    and far past what a recursive parser survives), as JSON text."""
    value = write(draw(inner), draw(edge_lists))
    depth = draw(st.sampled_from([0, 0, 0, 1, 50, 99, 100, 101, 150, 3_000]))
    if draw(st.booleans()):
        return Raw("[" * depth + value + "]" * depth)
    return Raw('{"k": ' * depth + value + "}" * depth)


def write(value: Any, edges: list[str]) -> str:
    """JSON text of `value`: each EDGE replaced by the next of `edges` (raw), each `Raw` by its
    text."""
    raws: list[str] = []

    def mark(item: Any) -> Any:
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"\x01raw{len(raws) - 1}\x01"
        if isinstance(item, dict):
            return {key: mark(child) for key, child in item.items()}
        if isinstance(item, list):
            return [mark(child) for child in item]
        return item

    text = json.dumps(mark(value), ensure_ascii=False)
    marker = json.dumps(EDGE)
    for edge in edges:
        text = text.replace(marker, edge, 1)
    text = text.replace(marker, "1")
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x01raw{index}\x01"), raw, 1)
    return text


edge_lists = st.lists(st.sampled_from(EDGE_NUMBERS), max_size=3)


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def assert_answered(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])


@pytest.fixture
def trace(labeler):
    trace = make_trace(spans=2)
    assign_traces(labeler, trace)
    return trace


# --- form fields ------------------------------------------------------------------------------


@FUZZ
@given(
    kind=st.sampled_from(["feedback", "expectation", "opinion", ""]),
    name=texts,
    data_type=st.sampled_from(["string", "number", "boolean", "json", "other"]),
    value=st.one_of(texts, st.sampled_from(EDGE_NUMBERS), nested().map(lambda raw: raw.text)),
    rationale=texts,
    span=st.sampled_from(["", "0000000000000001", "nope", "\x00"]),
)
def test_label_form(labeler_client, trace, kind, name, data_type, value, rationale, span):
    with rolled_back():
        before = Assessment.objects.count()
        response = labeler_client.post(
            reverse("explorer:label_create", args=[trace.trace_id]),
            {
                "kind": kind,
                "name": name,
                "data_type": data_type,
                "value": value,
                "rationale": rationale,
                "span": span,
            },
        )
        assert_answered(response)
        stored = Assessment.objects.count() - before
        if response.status_code == 302:
            assert stored == 1
        else:
            assert stored == 0


@FUZZ
@given(
    page=st.one_of(texts, st.integers(min_value=-(2**80), max_value=2**80).map(str)),
    q=texts,
    start=texts,
    value=texts,
    sort=texts,
)
def test_trace_list_parameters(labeler_client, trace, page, q, start, value, sort):
    url = reverse("explorer:trace_list", args=[trace.experiment_id])
    params = {"page": page, "q": q, "start": start, "value": value, "sort": sort}
    assert_answered(labeler_client.get(url, params))


# --- API bodies -------------------------------------------------------------------------------


@st.composite
def assessment_bodies(draw: Callable[..., Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"assessment_name": draw(texts | st.none())}
    if draw(st.booleans()):
        feedback: dict[str, Any] = {"value": draw(nested())}
        if draw(st.booleans()):
            feedback["error"] = {"error_code": draw(texts), "error_message": draw(texts)}
        body["feedback"] = feedback
    else:
        body["expectation"] = (
            {"value": draw(nested())}
            if draw(st.booleans())
            else {"serialized_value": {"value": draw(nested()).text}}
        )
    for key, strategy in [
        ("rationale", texts | json_values),
        ("metadata", st.dictionaries(texts, json_values, max_size=3) | json_values),
        ("span_id", texts),
        ("source", st.fixed_dictionaries({"source_type": texts, "source_id": texts})),
        ("overrides", texts),
        ("create_time", texts | st.integers()),
    ]:
        if draw(st.booleans()):
            body[key] = draw(strategy)
    return {"assessment": body}


@FUZZ
@given(body=assessment_bodies(), edges=edge_lists)
def test_assessment_api(api, trace, body, edges):
    with rolled_back():
        before = Assessment.objects.count()
        response = api.post(
            f"/api/3.0/mlflow/traces/{trace.trace_id}/assessments", write(body, edges)
        )
        assert_answered(response)
        assert response["Content-Type"] == "application/json"
        assert Assessment.objects.count() - before == (1 if response.status_code == 200 else 0)


filters = st.one_of(
    st.text(max_size=60),
    st.builds(
        "{} {} {}".format,
        st.sampled_from(
            [
                "attributes.execution_time_ms",
                "attributes.timestamp_ms",
                "feedback.q",
                "tags.k",
                "metadata.`a b`",
                "attributes.status",
                "name",
            ]
        ),
        st.sampled_from(["=", "!=", "<", ">=", "LIKE", "IN", "IS NULL", "IS"]),
        st.one_of(
            st.sampled_from(EDGE_NUMBERS),
            texts.map(lambda text: "'" + text.replace("'", "''") + "'"),
            st.just("('OK', 'ERROR')"),
        ),
    ),
)


def page_token(offset: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


@FUZZ
@given(
    filter_string=filters,
    order_by=st.lists(texts, max_size=2),
    max_results=json_values,
    page_token=json_values | json_values.map(page_token) | st.integers().map(page_token),
)
def test_search_api(api, trace, filter_string, order_by, max_results, page_token):
    body = {
        "locations": [{"mlflow_experiment": {"experiment_id": str(trace.experiment_id)}}],
        "filter": filter_string,
        "order_by": order_by,
        "max_results": max_results,
        "page_token": page_token,
    }
    response = api.post("/api/3.0/mlflow/traces/search", body)
    assert_answered(response)
    assert response["Content-Type"] == "application/json"


numbers_as_text = st.one_of(
    texts,
    st.sampled_from(EDGE_NUMBERS),
    st.integers(min_value=-(2**100), max_value=2**100).map(str),
)


@FUZZ
@given(experiment_id=numbers_as_text, trace_id=texts, name=texts)
def test_api_query_parameters(api, trace, experiment_id, trace_id, name):
    for path, params in [
        ("experiments/get", {"experiment_id": experiment_id}),
        ("experiments/get-by-name", {"experiment_name": name}),
        ("traces/get", {"trace_id": trace_id}),
        ("traces/batchGet", {"trace_ids": [trace_id, trace.trace_id]}),
        (f"traces/{trace_id or 'x'}", {}),
    ]:
        response = api.get(f"/api/3.0/mlflow/{path}", params)
        assert_answered(response)
        assert response["Content-Type"] == "application/json"


# --- OTLP and import payloads -----------------------------------------------------------------


@st.composite
def otlp_bodies(draw: Callable[..., Any]) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": draw(st.sampled_from(["01" * 16, "zz", "", "00" * 16])),
        "spanId": draw(st.sampled_from(["02" * 8, "x", ""])),
        "name": draw(texts),
        "startTimeUnixNano": draw(st.sampled_from(["1700000000000000000", EDGE, "-1", "abc"])),
        "endTimeUnixNano": draw(st.sampled_from(["1700000000100000000", EDGE, "0"])),
        "attributes": [
            {
                "key": draw(st.sampled_from(["mlflow.spanInputs", "mlflow.spanType", "app.x"])),
                "value": {"stringValue": draw(nested()).text},
            }
            for _ in range(draw(st.integers(0, 2)))
        ],
    }
    body: Any = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    return body if draw(st.booleans()) else {"resourceSpans": [draw(nested())]}


@FUZZ
@given(body=otlp_bodies(), edges=edge_lists)
def test_otlp_json(api, body, edges):
    from tests.factories import make_experiment

    with rolled_back():
        experiment = make_experiment()
        response = api.otlp(
            write(body, edges).encode(), experiment=experiment, content_type="application/json"
        )
        assert_answered(response)
        if response.status_code != 200:
            assert not Span.objects.exists() and not Trace.objects.exists()


@st.composite
def trace_files(draw: Callable[..., Any]) -> str:
    document = mlflow_trace_json(trace_id=f"tr-{draw(st.integers(0, 10**6)):032x}", spans=2)
    info, first = document["info"], document["data"]["spans"][0]
    target = draw(
        st.sampled_from(
            [
                (info, "request_time"),
                (info, "execution_duration_ms"),
                (info, "state"),
                (info, "trace_metadata"),
                (info, "assessments"),
                (first, "start_time_unix_nano"),
                (first, "status"),
                (first["attributes"], "mlflow.spanInputs"),
                (first["attributes"], "mlflow.spanType"),
            ]
        )
    )
    container, key = target
    container[key] = draw(nested())
    if draw(st.booleans()):
        first["attributes"]["mlflow.spanOutputs"] = draw(nested()).text
    return write(document, draw(edge_lists))


@FUZZ
@given(good=st.booleans(), content=trace_files())
def test_import_files(curator_client, good, content):
    with rolled_back():
        files = [SimpleUploadedFile("fuzz.json", content.encode(), "application/json")]
        if good:
            good_file = json.dumps(mlflow_trace_json(trace_id="tr-" + "a" * 32))
            files.insert(0, SimpleUploadedFile("good.json", good_file.encode(), "application/json"))
        response = curator_client.post(
            "/console/import/", {"new_experiment": "fuzz", "files": files}, HTTP_HX_REQUEST="true"
        )
        assert_answered(response)
        ids = set(Trace.objects.values_list("trace_id", flat=True))
        # The good file lands whatever the other does; the other lands whole or not at all.
        assert ("tr-" + "a" * 32 in ids) == good
        landed = len(ids) - good
        assert landed in (0, 1)
        assert Span.objects.count() == 3 * good + 2 * landed  # every span of what landed
        assert "fuzz.json" in response.content.decode()


# --- the review app's answer sheet ------------------------------------------------------------


@pytest.fixture
def claimed(labeler):
    """A labeler's reservation of an item asking a number (1-5), a text (20 characters), a
    multi-select and a pass/fail question, with comments: (assignment, questions)."""
    from labeling import queue
    from tests.factories import make_review_session, make_schema

    session = make_review_session(items=1, labelers=[labeler])
    experiment = session.experiment
    questions = [
        session.schemas.get(),
        make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5}),
        make_schema(experiment, "note", "text", {"max_length": 20}, enable_comment=True),
        make_schema(experiment, "tags", "categorical_list", {"options": ["a", "b"]}),
    ]
    for position, schema in enumerate(questions[1:], start=1):
        session.sessionschema_set.create(schema=schema, position=position)
    return queue.claim_next_item(session=session, labeler=labeler), questions


answer_texts = st.one_of(texts, st.sampled_from(EDGE_NUMBERS), st.just("true"))
# Answers each question takes, so that many examples submit.
VALID = {
    "correct": ["true", "false"],
    "score": ["1", "2.5", "5"],
    "note": ["fine", "too long? no"],
    "tags": ["a", "b"],
}


@FUZZ
@given(data=st.data())
def test_review_submit(labeler_client, claimed, data):
    from labeling.models import Answer

    assignment, questions = claimed
    post: dict[str, Any] = {}
    for schema in questions:
        field = f"q-{schema.pk}"
        how = data.draw(st.sampled_from(["valid", "valid", "fuzz", "none"]), label=schema.name)
        if how == "valid":
            post[field] = [data.draw(st.sampled_from(VALID[schema.name]))]
        elif how == "fuzz":
            post[field] = data.draw(st.lists(answer_texts, min_size=1, max_size=3))
        if not data.draw(st.integers(0, 3), label=f"comment {schema.name}"):
            post[f"{field}-rationale"] = data.draw(texts)
    url = reverse("review:submit", args=[assignment.item.session_id, assignment.item_id])
    with rolled_back():
        response = labeler_client.post(url, post)
        assert_answered(response)
        stored = Answer.objects.filter(assignment=assignment).count()
        assert stored == Assessment.objects.count()  # every label stored is one of its answers
        assignment.refresh_from_db()
        if assignment.state == "submitted":
            assert 1 <= stored <= len(questions)
        else:
            assert stored == 0  # refused: nothing of it stored
