"""The HTTP API (`traces.api_views`): token authentication, OTLP ingest at /v1/traces, and the
MLflow-compatible REST subset, request by request with Django's test client. The real SDKs
talk to a live server in test_api_clients.py."""

import gzip
import json

import pytest
from django.urls import reverse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from accounts.services import revoke_api_token
from tests.factories import (
    PROTOBUF,
    Api,
    make_api_token,
    make_experiment,
    make_feedback,
    make_trace,
    otlp_request,
    otlp_span,
)
from traces import services
from traces.models import Assessment, Experiment, Span, Trace

TRACE = bytes.fromhex("0123456789abcdef0123456789abcdef")
TRACE_ID = "tr-0123456789abcdef0123456789abcdef"


@pytest.fixture
def experiment(db):
    return make_experiment("support bot")


def mlflow(path):
    return f"/api/3.0/mlflow/{path}"


def error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error_code"] == code
    assert body["message"]
    return body["message"]


# --- authentication -------------------------------------------------------------------------------


ENDPOINTS = [
    ("get", mlflow("experiments/get-by-name")),
    ("post", mlflow("traces/search")),
    ("post", "/v1/traces"),
    ("delete", mlflow("traces/tr-1/assessments/a-1")),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_token_is_401(client, db, method, path):
    response = getattr(client, method)(path)
    error(response, 401, "UNAUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_wrong_token_is_401(client, curator, method, path):
    make_api_token(curator)
    for header in ("Bearer rva_not-a-real-token", "Bearer ", "Basic dXNlcjpwdw==", "rva_x"):
        response = getattr(client, method)(path, headers={"Authorization": header})
        error(response, 401, "UNAUTHENTICATED")


def test_revoked_token_is_401(client, curator):
    token = make_api_token(curator)
    api = Api(client, token)
    assert api.get(mlflow("experiments/get-by-name"), {"experiment_name": "x"}).status_code == 404
    revoke_api_token(token=curator.api_tokens.get())
    message = error(api.get(mlflow("experiments/get-by-name")), 401, "UNAUTHENTICATED")
    assert "revoked" in message


def test_token_of_an_inactive_user_is_401(client, curator):
    api = Api(client, make_api_token(curator))
    curator.is_active = False
    curator.save()
    error(api.get(mlflow("experiments/get-by-name")), 401, "UNAUTHENTICATED")


def test_token_of_a_non_curator_is_403(client, labeler):
    api = Api(client, make_api_token(labeler))
    message = error(api.post(mlflow("traces/search"), {}), 403, "PERMISSION_DENIED")
    assert "only curators" in message


def test_a_session_login_is_not_enough(curator_client):
    error(curator_client.get(mlflow("experiments/get-by-name")), 401, "UNAUTHENTICATED")


def test_api_needs_no_csrf_token(client, curator, experiment):
    client = type(client)(enforce_csrf_checks=True)
    api = Api(client, make_api_token(curator))
    assert api.post(mlflow("experiments/create"), {"name": "csrf-free"}).status_code == 200


def test_version_is_public(client, db):
    response = client.get("/version")
    assert response.status_code == 200 and response.content == b"3.5.0"


def test_unknown_api_path_and_wrong_method(api):
    error(api.get("/api/2.0/mlflow/runs/get"), 404, "ENDPOINT_NOT_FOUND")
    response = api.get(mlflow("traces/search"))
    error(response, 405, "BAD_REQUEST")
    assert response["Allow"] == "POST"


# --- OTLP -----------------------------------------------------------------------------------------


def request_with(*spans):
    return otlp_request(*spans, resource={"service.name": "bot"})


def test_otlp_protobuf_ingest(api, experiment):
    body = request_with(
        otlp_span(trace_id=TRACE, span_id=1, name="root", attributes={"input.value": "hi"}),
        otlp_span(trace_id=TRACE, span_id=2, parent_id=1, name="llm"),
    )
    response = api.otlp(body, experiment=experiment)
    assert response.status_code == 200
    assert response["Content-Type"] == PROTOBUF
    ExportTraceServiceResponse().ParseFromString(response.content)
    trace = Trace.objects.get(trace_id=TRACE_ID)
    assert trace.experiment == experiment and trace.request_preview == '"hi"'
    assert trace.tags["service.name"] == "bot"
    assert trace.spans.count() == 2


def test_otlp_json_ingest_with_gzip_answers_json(api, experiment):
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE.hex(),
                                "spanId": "0000000000000001",
                                "name": "root",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001000000000",
                                "attributes": [
                                    {"key": "mlflow.spanType", "value": {"stringValue": "AGENT"}}
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    response = api.otlp(
        gzip.compress(json.dumps(document).encode()),
        experiment=experiment,
        content_type="application/json",
        **{"Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json" and response.json() == {}
    span = Span.objects.get()
    assert (span.trace.trace_id, span.span_type, span.trace.execution_duration) == (
        TRACE_ID,
        "AGENT",
        1000,
    )


def test_otlp_retry_is_idempotent(api, experiment):
    body = request_with(otlp_span(trace_id=TRACE, span_id=1))
    assert api.otlp(body, experiment=experiment).status_code == 200
    assert api.otlp(body, experiment=experiment).status_code == 200
    assert Span.objects.count() == 1 and Trace.objects.count() == 1


def test_otlp_missing_experiment_header_is_400(api, experiment):
    message = error(api.otlp(request_with(otlp_span())), 400, "INVALID_PARAMETER_VALUE")
    assert "x-mlflow-experiment-id header" in message


@pytest.mark.parametrize("value", ["999999", "not-a-number"])
def test_otlp_unknown_experiment_is_400(api, experiment, value):
    response = api.otlp(request_with(otlp_span()), **{"x-mlflow-experiment-id": value})
    message = error(response, 400, "INVALID_PARAMETER_VALUE")
    assert "No experiment has the id" in message


def test_otlp_deleted_experiment_is_400(api, experiment):
    experiment.lifecycle_stage = "deleted"
    experiment.save()
    message = error(
        api.otlp(request_with(otlp_span()), experiment=experiment), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "is deleted" in message


def test_otlp_malformed_protobuf_is_400(api, experiment):
    response = api.otlp(b"\x0a\xff\xff\xff\xff garbage", experiment=experiment)
    assert "not a valid OTLP protobuf" in error(response, 400, "INVALID_PARAMETER_VALUE")


def test_otlp_malformed_json_is_400(api, experiment):
    response = api.otlp(
        b'{"resourceSpans": [', experiment=experiment, content_type="application/json"
    )
    assert "not valid JSON" in error(response, 400, "INVALID_PARAMETER_VALUE")


def test_otlp_wrong_content_type_is_415(api, experiment):
    response = api.otlp(b"hello", experiment=experiment, content_type="text/plain")
    error(response, 415, "INVALID_PARAMETER_VALUE")


def test_otlp_unsupported_content_encoding_is_415(api, experiment):
    body = request_with(otlp_span()).SerializeToString()
    response = api.otlp(body, experiment=experiment, **{"Content-Encoding": "br"})
    error(response, 415, "INVALID_PARAMETER_VALUE")


def test_otlp_oversized_body_is_413(api, experiment, settings):
    settings.OTLP_MAX_BODY_BYTES = 1000
    big = request_with(otlp_span(attributes={"x": "y" * 2000}))
    response = api.otlp(big, experiment=experiment)
    assert "larger than 1,000 bytes" in error(response, 413, "REQUEST_LIMIT_EXCEEDED")
    assert not Trace.objects.exists()


def test_otlp_chunked_body_without_length_is_411(api, experiment):
    response = api.client.post(
        "/v1/traces",
        b"",
        content_type=PROTOBUF,
        headers={
            **api.headers,
            "x-mlflow-experiment-id": str(experiment.pk),
            "Transfer-Encoding": "chunked",
        },
        CONTENT_TYPE=PROTOBUF,  # the test client sets none for an empty body
    )
    assert "Content-Length" in error(response, 411, "INVALID_PARAMETER_VALUE")


def test_otlp_gzip_bomb_is_413(api, experiment, settings):
    settings.OTLP_MAX_DECOMPRESSED_BYTES = 1_000_000
    bomb = gzip.compress(b"\x00" * 20_000_000)
    response = api.otlp(bomb, experiment=experiment, **{"Content-Encoding": "gzip"})
    assert "decompressed body is larger" in error(response, 413, "REQUEST_LIMIT_EXCEEDED")


def test_otlp_bad_span_stores_nothing_of_the_request(api, experiment):
    good = otlp_span(trace_id=TRACE, span_id=1)
    bad = otlp_span(trace_id=bytes.fromhex("ab" * 16), span_id=2, start=500, end=100)
    response = api.otlp(request_with(good, bad), experiment=experiment)
    assert "ends before it starts" in error(response, 400, "INVALID_PARAMETER_VALUE")
    assert not Trace.objects.exists() and not Span.objects.exists()


def test_otlp_spans_for_a_trace_of_another_experiment_are_400(api, experiment):
    make_trace(make_experiment("other"), trace_id=TRACE_ID)
    response = api.otlp(request_with(otlp_span(trace_id=TRACE)), experiment=experiment)
    assert "belongs to experiment" in error(response, 400, "INVALID_PARAMETER_VALUE")


# --- experiments ----------------------------------------------------------------------------------


def test_experiment_create_get_and_get_by_name(api):
    response = api.post(
        "/api/2.0/mlflow/experiments/create",
        {"name": "bot", "tags": [{"key": "team", "value": "search"}]},
    )
    assert response.status_code == 200
    experiment_id = response.json()["experiment_id"]
    by_name = api.get("/api/2.0/mlflow/experiments/get-by-name", {"experiment_name": "bot"})
    by_id = api.get("/api/2.0/mlflow/experiments/get", {"experiment_id": experiment_id})
    assert by_name.json() == by_id.json()
    experiment = by_id.json()["experiment"]
    assert experiment["experiment_id"] == experiment_id and experiment["name"] == "bot"
    assert experiment["lifecycle_stage"] == "active"
    assert experiment["tags"] == [{"key": "team", "value": "search"}]
    assert isinstance(experiment["creation_time"], int)


def test_experiment_errors(api, experiment):
    error(
        api.get(mlflow("experiments/get-by-name"), {"experiment_name": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        api.get(mlflow("experiments/get"), {"experiment_id": "999"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(
        api.get(mlflow("experiments/get"), {"experiment_id": "x"}), 400, "INVALID_PARAMETER_VALUE"
    )
    error(
        api.post(mlflow("experiments/create"), {"name": "support bot"}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    error(api.post(mlflow("experiments/create"), {"name": " "}), 400, "INVALID_PARAMETER_VALUE")
    error(
        api.post(mlflow("experiments/create"), {"name": "x" * 251}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert Experiment.objects.count() == 1


def test_malformed_and_oversized_json_bodies(api, settings):
    assert "not valid JSON" in error(
        api.post(mlflow("experiments/create"), "{nope"), 400, "INVALID_PARAMETER_VALUE"
    )
    error(api.post(mlflow("experiments/create"), "[1]"), 400, "INVALID_PARAMETER_VALUE")
    error(api.post(mlflow("experiments/create"), '{"name": NaN}'), 400, "INVALID_PARAMETER_VALUE")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    error(
        api.post(mlflow("experiments/create"), {"name": "x" * 200}), 413, "REQUEST_LIMIT_EXCEEDED"
    )


# --- traces ---------------------------------------------------------------------------------------


def trace_info_body(experiment, **changes):
    info = {
        "trace_id": TRACE_ID,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": str(experiment.pk)},
        },
        "request_time": "2025-06-01T12:00:00.250Z",
        "execution_duration": "1.500s",
        "state": "OK",
        "request_preview": '{"q": "hi"}',
        "response_preview": '"hello"',
        "trace_metadata": {"mlflow.user": "ann"},
        "tags": {"mlflow.traceName": "app"},
        "assessments": [],
        **changes,
    }
    return {"trace": {"trace_info": info}}


def test_start_trace_stores_the_info_and_answers_tracking_store_spans(api, experiment):
    response = api.post(mlflow("traces"), trace_info_body(experiment))
    assert response.status_code == 200, response.content
    info = response.json()["trace"]["trace_info"]
    assert info["trace_id"] == TRACE_ID
    assert info["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert info["request_time"] == "2025-06-01T12:00:00.250Z"
    assert info["execution_duration"] == "1.500s"
    trace = Trace.objects.get()
    assert (trace.execution_duration, trace.state, trace.tags["mlflow.traceName"]) == (
        1500,
        "OK",
        "app",
    )


def test_start_trace_errors(api, experiment):
    error(api.post(mlflow("traces"), {}), 400, "INVALID_PARAMETER_VALUE")
    missing = trace_info_body(experiment)
    missing["trace"]["trace_info"]["trace_location"]["mlflow_experiment"]["experiment_id"] = "99"
    error(api.post(mlflow("traces"), missing), 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        api.post(mlflow("traces"), trace_info_body(experiment, state="DONE")),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    error(
        api.post(mlflow("traces"), trace_info_body(experiment, request_time="yesterday")),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    long_id = {
        "assessment_id": "a-" + "0" * 80,
        "assessment_name": "x",
        "feedback": {"value": 1},
    }
    message = error(
        api.post(mlflow("traces"), trace_info_body(experiment, assessments=[long_id])),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "at most 64 characters" in message
    assert not Trace.objects.exists()


def test_get_trace_info_trace_and_batch(api, experiment, django_assert_num_queries):
    trace = make_trace(experiment, spans=3, trace_id=TRACE_ID)
    make_feedback(trace, "correct", True)
    info = api.get(mlflow(f"traces/{TRACE_ID}")).json()["trace"]["trace_info"]
    assert info["assessments"][0]["feedback"] == {"value": True}

    with django_assert_num_queries(
        4
    ):  # token (used a moment ago: no write), trace, spans, assessments
        full = api.get(mlflow("traces/get"), {"trace_id": TRACE_ID}).json()["trace"]
    spans = full["spans"]
    assert [span["name"] for span in spans] == ["app", "step-1", "step-2"]
    root = spans[0]
    attributes = {a["key"]: a["value"] for a in root["attributes"]}
    assert attributes["mlflow.spanType"] == {"string_value": "CHAIN"}
    assert attributes["mlflow.traceRequestId"] == {"string_value": TRACE_ID}
    assert attributes["mlflow.spanInputs"]["kvlist_value"]["values"][0]["key"] == "question"
    assert root["status"] == {"code": "STATUS_CODE_OK"} and "parent_span_id" not in root

    batch = api.get(mlflow("traces/batchGet"), {"trace_ids": [TRACE_ID, "tr-missing"]}).json()
    assert [t["trace_info"]["trace_id"] for t in batch["traces"]] == [TRACE_ID]
    infos = api.post(mlflow("traces/batchGetInfos"), {"trace_ids": [TRACE_ID]}).json()
    assert [t["trace_id"] for t in infos["trace_infos"]] == [TRACE_ID]


def test_unknown_trace_is_404(api, db):
    error(api.get(mlflow("traces/tr-nope")), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.get(mlflow("traces/get"), {"trace_id": "tr-nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.get(mlflow("traces/get")), 400, "INVALID_PARAMETER_VALUE")
    error(
        api.get(mlflow("traces/batchGet"), {"trace_ids": [f"t{n}" for n in range(101)]}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_trace_tags(api, experiment):
    make_trace(experiment, trace_id=TRACE_ID)
    assert (
        api.patch(mlflow(f"traces/{TRACE_ID}/tags"), {"key": "k", "value": "v"}).status_code == 200
    )
    assert Trace.objects.get().tags == {"k": "v"}
    assert api.delete(mlflow(f"traces/{TRACE_ID}/tags"), {"key": "k"}).status_code == 200
    error(
        api.delete(mlflow(f"traces/{TRACE_ID}/tags"), {"key": "k"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(api.patch(mlflow("traces/tr-x/tags"), {"key": "k"}), 404, "RESOURCE_DOES_NOT_EXIST")


def search_body(experiment, **fields):
    return {
        "locations": [
            {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": str(experiment.pk)},
            }
        ],
        **fields,
    }


def test_search_filters_orders_and_pages(api, experiment, django_assert_num_queries):
    traces = [make_trace(experiment, trace_id=f"tr-{n}") for n in range(5)]
    make_trace(make_experiment("elsewhere"))
    for trace in traces[:3]:
        make_feedback(trace, "verdict", "good")
    make_feedback(traces[3], "verdict", "bad")
    with django_assert_num_queries(4):  # token, last-used, traces, assessments
        response = api.post(mlflow("traces/search"), search_body(experiment, max_results=10))
    assert len(response.json()["traces"]) == 5

    body = search_body(
        experiment, filter="feedback.verdict = 'good'", order_by=["timestamp_ms ASC"], max_results=2
    )
    page = api.post(mlflow("traces/search"), body).json()
    assert [t["trace_id"] for t in page["traces"]] == ["tr-2", "tr-1"]
    rest = api.post(mlflow("traces/search"), {**body, "page_token": page["next_page_token"]}).json()
    assert [t["trace_id"] for t in rest["traces"]] == ["tr-0"]
    assert "next_page_token" not in rest


@pytest.mark.parametrize(
    "fields",
    [
        {"filter": "feedback.x = 'a' OR feedback.y = 'b'"},
        {"filter": "span.type = 'LLM'"},
        {"order_by": ["name DESC"]},
        {"max_results": 0},
        {"page_token": "garbage!"},
        {"filter": 3},
    ],
)
def test_search_refuses_what_it_does_not_support(api, experiment, fields):
    error(
        api.post(mlflow("traces/search"), search_body(experiment, **fields)),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_search_needs_an_experiment(api, db):
    error(api.post(mlflow("traces/search"), {}), 400, "INVALID_PARAMETER_VALUE")


# --- assessments ----------------------------------------------------------------------------------


def feedback_body(**changes):
    return {
        "assessment": {
            "assessment_name": "correct",
            "trace_id": TRACE_ID,
            "source": {"source_type": "HUMAN", "source_id": "ann"},
            "create_time": "2025-06-01T12:05:00.120Z",
            "last_update_time": "2025-06-01T12:05:00.120Z",
            "feedback": {"value": 1.0},
            "rationale": "looks right",
            "metadata": {"k": "v"},
            "valid": True,
            **changes,
        }
    }


@pytest.fixture
def trace(experiment):
    return make_trace(experiment, spans=2, trace_id=TRACE_ID)


def test_create_get_update_delete_feedback(api, trace):
    created = api.post(mlflow(f"traces/{TRACE_ID}/assessments"), feedback_body())
    assert created.status_code == 200, created.content
    data = created.json()["assessment"]
    assessment_id = data["assessment_id"]
    assert data["feedback"] == {"value": 1}  # whole numbers come back as integers
    assert data["source"] == {"source_type": "HUMAN", "source_id": "ann"}
    assert data["create_time"] == "2025-06-01T12:05:00.120Z"
    stored = Assessment.objects.get(assessment_id=assessment_id)
    assert (stored.value, stored.rationale, stored.metadata) == (1, "looks right", {"k": "v"})

    path = mlflow(f"traces/{TRACE_ID}/assessments/{assessment_id}")
    assert api.get(path).json()["assessment"] == data

    updated = api.patch(
        path,
        {
            "assessment": {"assessment_name": "correctness", "feedback": {"value": False}},
            "update_mask": "assessmentName,feedback",
        },
    ).json()["assessment"]
    assert (updated["assessment_name"], updated["feedback"]) == ("correctness", {"value": False})
    assert updated["rationale"] == "looks right"

    assert api.delete(path).json() == {}
    assert not Assessment.objects.exists()
    # Deleting again does nothing, as on MLflow's server.
    assert api.delete(path).status_code == 200


def test_expectations_round_trip_as_mlflow_writes_them(api, trace):
    listed = api.post(
        mlflow(f"traces/{TRACE_ID}/assessments"),
        {
            "assessment": {
                "assessment_name": "expected_docs",
                "expectation": {
                    "serialized_value": {
                        "serialization_format": "JSON_FORMAT",
                        "value": '["doc-1", {"id": 2}]',
                    }
                },
            }
        },
    ).json()["assessment"]
    assert listed["expectation"]["serialized_value"]["value"] == '["doc-1", {"id": 2}]'
    assert listed["source"]["source_type"] == "HUMAN"  # the default for expectations
    assert Assessment.objects.get(name="expected_docs").value == ["doc-1", {"id": 2}]
    plain = api.post(
        mlflow(f"traces/{TRACE_ID}/assessments"),
        {"assessment": {"assessment_name": "expected", "expectation": {"value": "Paris"}}},
    ).json()["assessment"]
    assert plain["expectation"] == {"value": "Paris"}


def test_feedback_with_an_error_and_on_a_span(api, trace):
    data = api.post(
        mlflow(f"traces/{TRACE_ID}/assessments"),
        feedback_body(
            feedback={"error": {"error_code": "TIMEOUT", "error_message": "judge timed out"}},
            span_id="0000000000000002",
            source={"source_type": "LLM_JUDGE", "source_id": "gpt"},
        ),
    ).json()["assessment"]
    assert data["feedback"]["error"]["error_code"] == "TIMEOUT" and "value" not in data["feedback"]
    assert data["span_id"] == "0000000000000002"


def test_override_marks_the_old_one_invalid_and_refuses_stale_overrides(api, trace):
    old = make_feedback(trace, "correct", False)
    body = feedback_body(overrides=old.assessment_id, feedback={"value": True})
    new = api.post(mlflow(f"traces/{TRACE_ID}/assessments"), body).json()["assessment"]
    assert new["overrides"] == old.assessment_id
    old.refresh_from_db()
    assert old.valid is False
    info = api.get(mlflow(f"traces/{TRACE_ID}")).json()["trace"]["trace_info"]
    assert {a["assessment_id"]: a["valid"] for a in info["assessments"]} == {
        old.assessment_id: False,
        new["assessment_id"]: True,
    }
    message = error(
        api.post(mlflow(f"traces/{TRACE_ID}/assessments"), body), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "already replaced" in message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"feedback": {"value": {"nested": {"too": "deep"}}}}, "may hold only"),
        ({"feedback": {}}, "needs a value or an error"),
        ({"assessment_name": "x" * 300}, "the limit is 250"),
        ({"span_id": "ffffffffffffffff"}, "has no span"),
        ({"source": {"source_type": "ROBOT"}}, "Unknown source type"),
        ({"create_time": "noon"}, "RFC 3339"),
        ({"overrides": "a-missing"}, "to override"),
        ({"expectation": {"value": 1}}, "not both"),
    ],
)
def test_invalid_assessments_are_400(api, trace, changes, message):
    response = api.post(mlflow(f"traces/{TRACE_ID}/assessments"), feedback_body(**changes))
    assert message in error(response, 400, "INVALID_PARAMETER_VALUE")
    assert not Assessment.objects.exists()


def test_unknown_trace_or_assessment_is_404(api, trace):
    error(
        api.post(mlflow("traces/tr-nope/assessments"), feedback_body()),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(mlflow("traces/tr-nope/assessments/a-1"), {})
        error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.get(mlflow(f"traces/{TRACE_ID}/assessments/a-nope")), 404, "RESOURCE_DOES_NOT_EXIST")
    response = api.patch(
        mlflow(f"traces/{TRACE_ID}/assessments/a-nope"),
        {"assessment": {"rationale": "x"}, "update_mask": "rationale"},
    )
    error(response, 404, "RESOURCE_DOES_NOT_EXIST")


def test_update_refuses_unknown_mask_paths_and_kind_changes(api, trace):
    feedback = make_feedback(trace, "correct", True)
    path = mlflow(f"traces/{TRACE_ID}/assessments/{feedback.assessment_id}")
    error(
        api.patch(path, {"assessment": {}, "update_mask": "valid"}), 400, "INVALID_PARAMETER_VALUE"
    )
    message = error(
        api.patch(
            path, {"assessment": {"expectation": {"value": 1}}, "update_mask": "expectation"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "cannot be changed into an expectation" in message


def test_labels_made_in_the_ui_read_back_through_the_api(api, trace):
    services.override_assessment(
        trace_id=TRACE_ID,
        assessment_id=make_feedback(trace, "tone", "rude").assessment_id,
        value="polite",
        source=services.Source("HUMAN", "labeler"),
        rationale="Re-read it",
    )
    info = api.get(mlflow(f"traces/{TRACE_ID}")).json()["trace"]["trace_info"]
    current = [a for a in info["assessments"] if a["valid"]]
    assert [(a["assessment_name"], a["feedback"]["value"], a["source"]) for a in current] == [
        ("tone", "polite", {"source_type": "HUMAN", "source_id": "labeler"})
    ]


def test_api_urls_reverse():
    assert reverse("api:trace-search-v3") == "/api/3.0/mlflow/traces/search"
    assert reverse("api:otlp-traces") == "/v1/traces"
