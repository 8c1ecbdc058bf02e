"""Small builders for tests. Each returns saved objects with sensible defaults."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta
from typing import Any

from django.utils import timezone

from traces import services
from traces.models import Assessment, Experiment, Span, SpanStatusCode, Trace, TraceState

_counter = itertools.count(1)

BASE_NS = 1_700_000_000_000_000_000


def make_experiment(name: str | None = None, **fields: Any) -> Experiment:
    return Experiment.objects.create(name=name or f"experiment-{next(_counter)}", **fields)


def make_trace(
    experiment: Experiment | None = None,
    *,
    spans: int = 0,
    request: Any = None,
    response: Any = None,
    state: str = TraceState.OK,
    request_time=None,
    **fields: Any,
) -> Trace:
    """A trace with a root span "app" and `spans - 1` children of types RETRIEVER / CHAT_MODEL."""
    import json

    experiment = experiment or make_experiment()
    request = {"question": "What is MLflow?"} if request is None else request
    response = "MLflow is an open-source platform." if response is None else response
    trace = Trace.objects.create(
        experiment=experiment,
        request_time=request_time or timezone.now() - timedelta(minutes=next(_counter)),
        execution_duration=fields.pop("execution_duration", 1200),
        state=state,
        request_preview=json.dumps(request)[:1000],
        response_preview=json.dumps(response)[:1000],
        **fields,
    )
    if spans:
        make_span(
            trace,
            span_id="0000000000000001",
            name="app",
            span_type="CHAIN",
            inputs=request,
            outputs=response,
            start=0,
            end=1_200_000_000,
        )
        for index in range(1, spans):
            make_span(
                trace,
                span_id=f"{index + 1:016x}",
                parent_id="0000000000000001",
                name=f"step-{index}",
                span_type="RETRIEVER" if index % 2 else "CHAT_MODEL",
                start=index * 1000,
                end=index * 1000 + 500,
            )
    return trace


def make_span(
    trace: Trace,
    *,
    span_id: str,
    name: str = "span",
    parent_id: str | None = None,
    span_type: str = "UNKNOWN",
    start: int = 0,
    end: int | None = 1000,
    status_code: str = SpanStatusCode.OK,
    inputs: Any = None,
    outputs: Any = None,
    **fields: Any,
) -> Span:
    return Span.objects.create(
        trace=trace,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        span_type=span_type,
        start_time_ns=BASE_NS + start,
        end_time_ns=None if end is None else BASE_NS + end,
        status_code=status_code,
        inputs=inputs,
        outputs=outputs,
        **fields,
    )


def make_feedback(
    trace: Trace, name: str = "correctness", value: Any = True, **kw: Any
) -> Assessment:
    return services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(name=name, value=value, **kw)
    )


def make_expectation(
    trace: Trace, name: str = "expected_answer", value: Any = "Paris", **kw: Any
) -> Assessment:
    return services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Expectation(name=name, value=value, **kw)
    )


# --- labeling ------------------------------------------------------------------------------------


def make_schema(
    experiment: Experiment, name: str, input_type: str = "pass_fail", config=None, **fields
):
    """A labeling schema (through the console's service, so it has its version-1 snapshot)."""
    from labeling import services as labeling_services
    from labeling.inputs import parse_input

    return labeling_services.create_schema(
        experiment=experiment,
        fields=labeling_services.SchemaFields(
            name=name,
            kind=fields.pop("kind", "feedback"),
            title=fields.pop("title", name.replace("_", " ").capitalize() + "?"),
            instruction=fields.pop("instruction", ""),
            enable_comment=fields.pop("enable_comment", False),
            target_span_type=fields.pop("target_span_type", ""),
            spec=parse_input(input_type, config or {}),
            required=fields.pop("required", True),
        ),
    )


def make_session(
    experiment: Experiment | None = None,
    *,
    schemas=(),
    labelers=(),
    traces=(),
    **fields: Any,
):
    """A labeling session with its questions, labelers and items (one per trace, in order)."""
    from labeling.models import Item, LabelingSession, SessionSchema

    experiment = experiment or make_experiment()
    session = LabelingSession.objects.create(
        experiment=experiment, name=fields.pop("name", f"session-{next(_counter)}"), **fields
    )
    for position, schema in enumerate(schemas, start=1):
        SessionSchema.objects.create(session=session, schema=schema, position=position)
    session.labelers.set(labelers)
    for position, trace in enumerate(traces, start=1):
        Item.objects.create(session=session, trace=trace, position=position)
    return session


def make_assignment(item, labeler, state: str = "submitted", *, seconds: float = 60, **fields: Any):
    """An assignment; submitted ones took `seconds` from claim to submit."""
    from labeling.models import Assignment

    now = timezone.now()
    claimed_at = fields.pop("claimed_at", now - timedelta(seconds=seconds + 5))
    if state == "submitted":
        fields.setdefault("submitted_at", claimed_at + timedelta(seconds=seconds))
    if state == "claimed":
        fields.setdefault("lease_expires_at", now + timedelta(minutes=30))
    assignment = Assignment.objects.create(
        item=item, labeler=labeler, state=state, claimed_at=claimed_at, **fields
    )
    recount_slots(item)
    count_labeler_figures(assignment)
    return assignment


def count_labeler_figures(*assignments) -> None:
    """Add new assignments (written behind the queue's back) to their labelers' kept figures
    (`labeling.tallies.labeler_counts`)."""
    from labeling import tallies

    for assignment in assignments:
        row = (assignment.labeler_id, assignment.state, assignment.claimed_at,
               assignment.submitted_at)  # fmt: skip
        counts = tallies.labeler_counts([row])
        if counts:
            tallies.add_counts(assignment.item.session_id, counts)


def recount_slots(*items) -> None:
    """Count the items' slots again after assignments were written behind the queue's back."""
    from labeling.models import Item
    from labeling.services import recount_item_slots

    recount_item_slots(items=Item.objects.filter(pk__in=[item.pk for item in items]))


def lapse(assignment, minutes: float = 1) -> None:
    """Let a reservation's lease end `minutes` ago (and the item know that it may have)."""
    from labeling.models import Assignment

    Assignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(minutes=minutes)
    )
    recount_slots(assignment.item)


def make_answer(assignment, schema, value: Any = True, *, version: int | None = None):
    """An answer to `schema` by the assignment's labeler: an Assessment plus its Answer link."""
    from labeling.models import Answer

    source = services.Source(
        "HUMAN", assignment.labeler.get_username(), user_id=assignment.labeler_id
    )
    assessment = services.log_assessment(
        trace_id=assignment.item.trace.trace_id,
        assessment=services.assessment_class(schema.kind)(
            name=schema.name, value=value, source=source
        ),
    )
    answer = Answer.objects.create(
        assignment=assignment,
        schema=schema,
        schema_version=version or schema.version,
        assessment=assessment,
    )
    refresh_results(assignment.item)
    return answer


def refresh_results(*items) -> None:
    """Bring the results' tallies in step after answers were written behind the services'
    back (`labeling.tallies`)."""
    from django.db import transaction

    from labeling import tallies

    for item in items:
        with transaction.atomic():
            tallies.refresh_items(session=item.session, item_ids=[item.pk])


def make_review_session(
    *,
    experiment: Experiment | None = None,
    items: int = 3,
    schemas=None,
    labelers=(),
    spans: int = 0,
    status: str = "active",
    **fields: Any,
):
    """The review app's usual queue: an active session of `items` new traces (each with `spans`
    spans), asking `schemas` (default: one pass/fail question "correct"), with `labelers`
    assigned; items at positions 0, 1, …"""
    from labeling.models import Item, LabelingSession, SessionSchema

    experiment = experiment or make_experiment()
    if schemas is None:
        schemas = [make_schema(experiment, "correct", "pass_fail")]
    session = LabelingSession.objects.create(
        experiment=experiment,
        name=fields.pop("name", f"session-{next(_counter)}"),
        status=status,
        **fields,
    )
    for position, schema in enumerate(schemas):
        SessionSchema.objects.create(session=session, schema=schema, position=position)
    session.labelers.add(*labelers)
    for position in range(items):
        Item.objects.create(
            session=session, trace=make_trace(experiment, spans=spans), position=position
        )
    return session


def assign_traces(
    user: Any,
    *traces: Trace,
    status: str = "active",
    blind: bool = False,
    reviewer: bool = False,
):
    """Make `traces` visible to a labeler in the trace explorer: items of a labeling session of
    their experiment (one per user, experiment, status and blind mode, reused) that `user` is
    assigned to, as a labeler or with `reviewer` as a reviewer. Returns the (last) session."""
    from labeling.models import Item, LabelingSession

    session = None
    for trace in traces:
        session, _ = LabelingSession.objects.get_or_create(
            experiment_id=trace.experiment_id,
            name=f"{user.get_username()} {status}{' blind' if blind else ''}"
            f"{' review' if reviewer else ''}",
            defaults={"status": status, "blind": blind},
        )
        (session.reviewers if reviewer else session.labelers).add(user)
        Item.objects.get_or_create(session=session, trace=trace, defaults={"position": trace.pk})
    return session


def assign_experiment(user: Any, experiment: Experiment, **options: Any):
    """`assign_traces` for every trace of the experiment (so far)."""
    return assign_traces(user, *Trace.objects.filter(experiment=experiment), **options)


def human(user_or_name: Any) -> services.Source:
    """The source of a label made in the UI by this user (HUMAN, their login, their account);
    given a name only, a label that merely names them (as an API client may)."""
    if isinstance(user_or_name, str):
        return services.Source(source_type="HUMAN", source_id=user_or_name)
    return services.Source(
        source_type="HUMAN", source_id=user_or_name.get_username(), user_id=user_or_name.pk
    )


def make_chat_trace(experiment: Experiment | None = None, **fields: Any) -> Trace:
    """A small agent trace: root AGENT (chat in/out), a RETRIEVER with two documents, a TOOL
    call, and a CHAT_MODEL span whose messages include a tool call and its result."""
    question = "Where is my order A-1042?"
    answer = "It left the warehouse on Friday."
    trace = make_trace(
        experiment,
        request={"messages": [{"role": "user", "content": question}]},
        response={"choices": [{"message": {"role": "assistant", "content": answer}}]},
        **fields,
    )
    make_span(
        trace,
        span_id="a0000000000000a1",
        name="support_agent",
        span_type="AGENT",
        start=0,
        end=2_000_000_000,
        inputs={"messages": [{"role": "user", "content": question}]},
        outputs={"choices": [{"message": {"role": "assistant", "content": answer}}]},
    )
    make_span(
        trace,
        span_id="a0000000000000a2",
        parent_id="a0000000000000a1",
        name="retrieve_docs",
        span_type="RETRIEVER",
        start=100_000_000,
        end=300_000_000,
        inputs={"query": "order delivery status"},
        outputs=[
            {
                "page_content": "Orders leave the warehouse within 2 days.",
                "metadata": {"doc_uri": "kb/shipping.md", "chunk_id": "c1", "score": 0.91},
            },
            {"page_content": "Late orders get a refund.", "metadata": {"doc_uri": "kb/late.md"}},
        ],
    )
    make_span(
        trace,
        span_id="a0000000000000a3",
        parent_id="a0000000000000a1",
        name="lookup_order",
        span_type="TOOL",
        start=300_000_000,
        end=400_000_000,
        inputs={"order_id": "A-1042"},
        outputs={"status": "shipped"},
    )
    make_span(
        trace,
        span_id="a0000000000000a4",
        parent_id="a0000000000000a1",
        name="generate_answer",
        span_type="CHAT_MODEL",
        start=400_000_000,
        end=1_900_000_000,
        inputs={
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be kind."},
                {"role": "user", "content": question},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup_order", "arguments": '{"id": "A-1042"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
            ],
        },
        outputs={"choices": [{"message": {"role": "assistant", "content": answer}}]},
    )
    return trace


# --- MLflow trace JSON (what `mlflow.entities.Trace.to_json()` writes) ---------------------------


def mlflow_span_id(number: int) -> str:
    """A span id as `Trace.to_json()` writes it: base64 of the 8 id bytes."""
    import base64

    return base64.b64encode(number.to_bytes(8, "big")).decode()


def mlflow_trace_json(
    *,
    trace_id: str | None = None,
    spans: int = 3,
    assessments: list[dict[str, Any]] | None = None,
    start_ns: int = BASE_NS,
    output_chars: int = 40,
) -> dict[str, Any]:
    """One trace in MLflow 3's `to_json()` shape: a root CHAIN span "app" and `spans - 1`
    children alternating RETRIEVER / CHAT_MODEL (ids 1…n, attributes JSON-encoded).

    Built by hand for tests that need many or odd traces; the fixtures under
    tests/fixtures/mlflow/ come from the real SDK (tests/fixtures/make_mlflow_traces.py).
    """
    import json
    import uuid

    trace_id = trace_id or f"tr-{uuid.uuid4().hex}"
    span_dicts = []
    for number in range(1, spans + 1):
        root = number == 1
        span_type = "CHAIN" if root else ("RETRIEVER" if number % 2 == 0 else "CHAT_MODEL")
        begin = start_ns + (0 if root else number * 1_000_000)
        end = start_ns + (spans + 1) * 1_000_000 if root else begin + 500_000
        span_dicts.append(
            {
                "trace_id": "AAAAAAAAAAAAAAAAAAAAAA==",
                "span_id": mlflow_span_id(number),
                "parent_span_id": None if root else mlflow_span_id(1),
                "name": "app" if root else f"step-{number}",
                "start_time_unix_nano": begin,
                "end_time_unix_nano": end,
                "events": [],
                "status": {"code": "STATUS_CODE_OK", "message": ""},
                "attributes": {
                    "mlflow.traceRequestId": json.dumps(trace_id),
                    "mlflow.spanType": json.dumps(span_type),
                    "mlflow.spanInputs": json.dumps({"question": f"q{number}"}),
                    "mlflow.spanOutputs": json.dumps("x" * output_chars),
                },
                "links": [],
            }
        )
    return {
        "info": {
            "trace_id": trace_id,
            "trace_location": {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": "1"},
            },
            "request_time": "2025-06-01T12:00:00.250Z",
            "state": "OK",
            "trace_metadata": {"mlflow.trace_schema.version": "3"},
            "tags": {"mlflow.traceName": "app"},
            "assessments": assessments or [],
            "execution_duration_ms": (spans + 1),
        },
        "data": {"spans": span_dicts},
    }


def mlflow_feedback_json(
    name: str = "correctness", value: Any = True, **fields: Any
) -> dict[str, Any]:
    """A feedback as it appears in `info.assessments` of `Trace.to_json()`."""
    import uuid

    return {
        "assessment_id": f"a-{uuid.uuid4().hex}",
        "assessment_name": name,
        "source": {"source_type": "HUMAN", "source_id": "expert@example.com"},
        "create_time": "2025-06-01T12:05:00Z",
        "last_update_time": "2025-06-01T12:05:00Z",
        "feedback": {"value": value},
        "valid": True,
        **fields,
    }


# --- API -----------------------------------------------------------------------------------------


def make_api_token(user: Any, name: str = "test token") -> str:
    """A new API token for `user`; returns the token itself (as sent in `Authorization`)."""
    from accounts.services import create_api_token

    return create_api_token(user=user, name=name)[1]


def otlp_span(
    *,
    trace_id: bytes = b"\x01" * 16,
    span_id: int = 1,
    parent_id: int | None = None,
    name: str = "span",
    start: int = 0,
    end: int | None = 1_000_000,
    attributes: dict[str, Any] | None = None,
    status_code: int = 0,
    events: list[tuple[str, dict[str, Any]]] | None = None,
) -> Any:
    """An OTLP protobuf Span (opentelemetry-proto), times relative to BASE_NS."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

    span = ProtoSpan(
        trace_id=trace_id,
        span_id=span_id.to_bytes(8, "big"),
        name=name,
        start_time_unix_nano=BASE_NS + start,
    )
    if parent_id is not None:
        span.parent_span_id = parent_id.to_bytes(8, "big")
    if end is not None:
        span.end_time_unix_nano = BASE_NS + end
    for key, value in (attributes or {}).items():
        _set_any_value(span.attributes.add(), key, value)
    for event_name, event_attributes in events or []:
        event = span.events.add(name=event_name, time_unix_nano=BASE_NS + start)
        for key, value in event_attributes.items():
            _set_any_value(event.attributes.add(), key, value)
    span.status.code = status_code
    return span


def _set_any_value(key_value: Any, key: str, value: Any) -> None:
    key_value.key = key
    _any(key_value.value, value)


def _any(target: Any, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, list):
        target.array_value.SetInParent()
        for item in value:
            _any(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        target.kvlist_value.SetInParent()
        for key, item in value.items():
            _set_any_value(target.kvlist_value.values.add(), key, item)


def otlp_request(*spans: Any, resource: dict[str, Any] | None = None) -> Any:
    """An ExportTraceServiceRequest holding `spans` in one resource and scope."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (resource or {}).items():
        _set_any_value(resource_spans.resource.attributes.add(), key, value)
    resource_spans.scope_spans.add().spans.extend(spans)
    return request


PROTOBUF = "application/x-protobuf"


class Api:
    """A test client that sends an API token."""

    def __init__(self, client, token):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path, params=None, **headers):
        return self.client.get(path, params or {}, headers={**self.headers, **headers})

    def send(self, method, path, body=None, **headers):
        data = json.dumps(body) if isinstance(body, dict | list) else (body or "")
        return getattr(self.client, method)(
            path, data, content_type="application/json", headers={**self.headers, **headers}
        )

    def post(self, path, body=None, **headers):
        return self.send("post", path, body, **headers)

    def patch(self, path, body=None, **headers):
        return self.send("patch", path, body, **headers)

    def delete(self, path, body=None, **headers):
        return self.send("delete", path, body, **headers)

    def otlp(self, body, *, experiment=None, content_type=PROTOBUF, **headers):
        if experiment is not None:
            headers["x-mlflow-experiment-id"] = str(experiment.pk)
        if not isinstance(body, bytes):
            body = body.SerializeToString()
        return self.client.post(
            "/v1/traces", body, content_type=content_type, headers={**self.headers, **headers}
        )


_CSRF_TOKEN = re.compile(rb'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+')


def without_csrf_tokens(content: bytes) -> bytes:
    """A page's HTML with its CSRF tokens (masked anew on every response) blanked, so that two
    responses can be compared byte for byte."""
    return _CSRF_TOKEN.sub(rb"\1", content)
