"""Small builders for tests. Each returns saved objects with sensible defaults."""

from __future__ import annotations

import itertools
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
    return services.log_feedback(trace_id=trace.trace_id, name=name, value=value, **kw)


def make_expectation(
    trace: Trace, name: str = "expected_answer", value: Any = "Paris", **kw: Any
) -> Assessment:
    return services.log_expectation(trace_id=trace.trace_id, name=name, value=value, **kw)


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
    return Assignment.objects.create(
        item=item, labeler=labeler, state=state, claimed_at=claimed_at, **fields
    )


def make_answer(assignment, schema, value: Any = True, *, version: int | None = None):
    """An answer to `schema` by the assignment's labeler: an Assessment plus its Answer link."""
    from labeling.models import Answer

    source = services.Source("HUMAN", assignment.labeler.get_username())
    log = services.log_expectation if schema.kind == "expectation" else services.log_feedback
    assessment = log(
        trace_id=assignment.item.trace.trace_id, name=schema.name, value=value, source=source
    )
    return Answer.objects.create(
        assignment=assignment,
        schema=schema,
        schema_version=version or schema.version,
        assessment=assessment,
    )
