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


def make_schema(experiment: Experiment, name: str, input_type: str, config=None, **fields: Any):
    """A labeling schema (question) of `experiment`."""
    from labeling.models import LabelingSchema

    return LabelingSchema.objects.create(
        experiment=experiment,
        name=name,
        title=fields.pop("title", name.replace("_", " ").capitalize() + "?"),
        input_type=input_type,
        input_config=config or {},
        **fields,
    )


def make_session(
    *,
    experiment: Experiment | None = None,
    items: int = 3,
    schemas=None,
    labelers=(),
    spans: int = 0,
    status: str = "active",
    **fields: Any,
):
    """An active labeling session of `items` new traces (each with `spans` spans), asking
    `schemas` (default: one pass/fail question "correct"), with `labelers` assigned."""
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


def human(user_or_name: Any) -> services.Source:
    """The source of a label made in the UI by this user (HUMAN, their login)."""
    name = user_or_name if isinstance(user_or_name, str) else user_or_name.get_username()
    return services.Source(source_type="HUMAN", source_id=name)


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
