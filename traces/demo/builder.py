"""Building blocks for demo experiments: span trees laid out in time, ids from a seeded random
generator, previews and token totals computed like MLflow does, and one bulk save per experiment.

A demo module describes each trace as a tree of `SpanNode`s (name, type, payloads, how long its
own work takes); `DemoExperiment.add_trace` lays the tree out so children sit inside their
parents, and `DemoExperiment.save` writes traces, spans and assessments with `bulk_create`.
Assessments go through `traces.services.build_assessment`, so they obey the same rules as
everything else.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from traces.models import (
    PREVIEW_MAX_LENGTH,
    Assessment,
    Experiment,
    Span,
    SpanStatusCode,
    Trace,
    TraceState,
)
from traces.services import AssessmentError, Expectation, Feedback, Source, build_assessment

# Every run produces the same data: times are computed from this instant, never from "now".
DEMO_BASE_TIME = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DEMO_DAYS = 21
DEFAULT_SEED = 2026
BATCH_SIZE = 500

TOKEN_USAGE_ATTRIBUTE = "mlflow.chat.tokenUsage"
NS_PER_MS = 1_000_000


def hex_id(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def token_id(rng: random.Random, length: int) -> str:
    """Provider-style opaque ids (chatcmpl-…, call_…, msg_…)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(rng.choice(alphabet) for _ in range(length))


def count_tokens(value: Any) -> int:
    """A stable stand-in for a tokenizer: about four characters per token."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return max(1, round(len(text) / 4))


def token_usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def preview(value: Any) -> str:
    """MLflow's request/response preview: the root span's payload as JSON, truncated."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)[:PREVIEW_MAX_LENGTH]


def python_traceback(
    frames: Iterable[tuple[str, int, str, str]], exc_type: str, message: str
) -> str:
    """A Python traceback as `traceback.format_exception` writes it."""
    lines = ["Traceback (most recent call last):\n"]
    for filename, lineno, function, code in frames:
        lines.append(f'  File "{filename}", line {lineno}, in {function}\n    {code}\n')
    lines.append(f"{exc_type}: {message}\n")
    return "".join(lines)


@dataclass
class SpanError:
    """An exception recorded on a span: ERROR status plus an OpenTelemetry `exception` event."""

    exc_type: str
    message: str
    stacktrace: str


@dataclass
class SpanNode:
    """One span to lay out. `duration_ms` is the span's own work: a leaf lasts that long; a
    parent lasts as long as its children plus that much."""

    name: str
    span_type: str
    inputs: Any = None
    outputs: Any = None
    duration_ms: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[SpanNode] = field(default_factory=list)
    error: SpanError | None = None
    status_message: str = ""
    # Set by the layout.
    span_id: str = ""
    start_ns: int = 0
    end_ns: int = 0

    def add(self, *children: SpanNode) -> SpanNode:
        self.children.extend(children)
        return self

    def walk(self) -> Iterable[tuple[SpanNode, SpanNode | None]]:
        stack: list[tuple[SpanNode, SpanNode | None]] = [(self, None)]
        while stack:
            node, parent = stack.pop()
            yield node, parent
            stack.extend((child, node) for child in reversed(node.children))


@dataclass
class TraceDraft:
    trace: Trace
    root: SpanNode
    spans: dict[str, SpanNode]

    def span(self, name: str) -> SpanNode:
        """The first span (in time) with that name."""
        for node in sorted(self.spans.values(), key=lambda n: n.start_ns):
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def end_time(self) -> datetime:
        return datetime.fromtimestamp(self.root.end_ns / 1e9, tz=UTC)


@dataclass
class DemoStats:
    experiment: str
    traces: int = 0
    spans: int = 0
    assessments: int = 0
    skipped: bool = False


class DemoExperiment:
    """Collects one experiment's traces, spans and assessments, then saves them in bulk."""

    def __init__(self, experiment: Experiment, rng: random.Random) -> None:
        self.experiment = experiment
        self.rng = rng
        self.drafts: list[TraceDraft] = []
        self._assessments: list[tuple[TraceDraft, Feedback | Expectation]] = []

    # --- time ------------------------------------------------------------------------------------

    def request_times(self, count: int) -> list[datetime]:
        """`count` times over the DEMO_DAYS before DEMO_BASE_TIME, mostly in working hours."""
        times = []
        for _ in range(count):
            day = self.rng.randrange(DEMO_DAYS)
            hour = self.rng.choice(
                [7, 8, 9, 9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 17, 19, 22]
            )
            moment = DEMO_BASE_TIME - timedelta(days=DEMO_DAYS - day)
            moment = moment.replace(hour=hour, minute=self.rng.randrange(60))
            times.append(
                moment
                + timedelta(
                    seconds=self.rng.randrange(60), microseconds=self.rng.randrange(1_000_000)
                )
            )
        return sorted(times)

    def ms(self, low: float, high: float) -> float:
        return round(self.rng.uniform(low, high), 3)

    # --- traces ----------------------------------------------------------------------------------

    def add_trace(
        self,
        root: SpanNode,
        *,
        request_time: datetime,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        client_request_id: str = "",
    ) -> TraceDraft:
        start_ns = int(request_time.timestamp() * 1e9)
        self._layout(root, start_ns)
        spans = {}
        input_tokens = output_tokens = 0
        has_usage = False
        for node, _parent in root.walk():
            node.span_id = hex_id(self.rng, 64)
            spans[node.span_id] = node
            usage = node.attributes.get(TOKEN_USAGE_ATTRIBUTE)
            if usage:
                has_usage = True
                input_tokens += usage["input_tokens"]
                output_tokens += usage["output_tokens"]
        trace_metadata = {"mlflow.trace_schema.version": "3", **(metadata or {})}
        if has_usage:
            trace_metadata["mlflow.trace.tokenUsage"] = json.dumps(
                token_usage(input_tokens, output_tokens)
            )
        trace = Trace(
            trace_id=f"tr-{hex_id(self.rng, 128)}",
            experiment=self.experiment,
            request_time=request_time,
            execution_duration=(root.end_ns - root.start_ns) // NS_PER_MS,
            state=TraceState.ERROR if root.error else TraceState.OK,
            request_preview=preview(root.inputs),
            response_preview=preview(root.outputs),
            client_request_id=client_request_id,
            trace_metadata=trace_metadata,
            tags={"mlflow.traceName": root.name, **(tags or {})},
            input_tokens=input_tokens if has_usage else None,
            output_tokens=output_tokens if has_usage else None,
            total_tokens=input_tokens + output_tokens if has_usage else None,
            created_at=datetime.fromtimestamp(root.end_ns / 1e9, tz=UTC),
        )
        draft = TraceDraft(trace=trace, root=root, spans=spans)
        self.drafts.append(draft)
        return draft

    def _layout(self, node: SpanNode, start_ns: int) -> None:
        node.start_ns = start_ns
        cursor = start_ns
        if node.children:
            cursor += int(self.ms(0.2, 3.0) * NS_PER_MS)
            for child in node.children:
                self._layout(child, cursor)
                cursor = child.end_ns + int(self.ms(0.05, 2.0) * NS_PER_MS)
        node.end_ns = cursor + int(node.duration_ms * NS_PER_MS)

    # --- assessments -----------------------------------------------------------------------------

    def _when(self, draft: TraceDraft, minutes: tuple[float, float]) -> datetime:
        return draft.end_time + timedelta(minutes=self.ms(*minutes))

    def feedback(
        self,
        draft: TraceDraft,
        name: str,
        value: Any = None,
        *,
        source_type: str,
        source_id: str,
        rationale: str | None = None,
        error: AssessmentError | None = None,
        span: SpanNode | None = None,
        metadata: dict[str, Any] | None = None,
        minutes_after: tuple[float, float] = (1, 45),
    ) -> None:
        assessment = Feedback(
            name=name,
            value=value,
            error=error,
            rationale=rationale,
            source=Source(source_type=source_type, source_id=source_id),
            metadata=metadata,
            span_id=span.span_id if span else None,
            create_time=self._when(draft, minutes_after),
            assessment_id=f"a-{hex_id(self.rng, 128)}",
        )
        self._assessments.append((draft, assessment))

    def expectation(
        self,
        draft: TraceDraft,
        name: str,
        value: Any,
        *,
        source_id: str,
        rationale: str | None = None,
        span: SpanNode | None = None,
        minutes_after: tuple[float, float] = (60 * 24, 60 * 24 * 4),
    ) -> None:
        assessment = Expectation(
            name=name,
            value=value,
            rationale=rationale,
            source=Source(source_type="HUMAN", source_id=source_id),
            span_id=span.span_id if span else None,
            create_time=self._when(draft, minutes_after),
            assessment_id=f"a-{hex_id(self.rng, 128)}",
        )
        self._assessments.append((draft, assessment))

    # --- saving ----------------------------------------------------------------------------------

    @transaction.atomic
    def save(self) -> DemoStats:
        traces = Trace.objects.bulk_create([d.trace for d in self.drafts], batch_size=BATCH_SIZE)
        assert all(t.pk for t in traces), "bulk_create must return primary keys"
        spans = [
            Span(
                trace=draft.trace,
                span_id=node.span_id,
                parent_id=parent.span_id if parent else None,
                name=node.name,
                span_type=node.span_type,
                start_time_ns=node.start_ns,
                end_time_ns=node.end_ns,
                status_code=SpanStatusCode.ERROR if node.error else SpanStatusCode.OK,
                status_message=(
                    f"{node.error.exc_type}: {node.error.message}"
                    if node.error
                    else node.status_message
                ),
                inputs=node.inputs,
                outputs=node.outputs,
                attributes=node.attributes,
                events=(
                    [
                        {
                            "name": "exception",
                            "timestamp": node.end_ns,
                            "attributes": {
                                "exception.type": node.error.exc_type,
                                "exception.message": node.error.message,
                                "exception.stacktrace": node.error.stacktrace,
                                "exception.escaped": "False",
                            },
                        }
                    ]
                    if node.error
                    else []
                ),
            )
            for draft in self.drafts
            for node, parent in draft.root.walk()
        ]
        Span.objects.bulk_create(spans, batch_size=BATCH_SIZE)
        assessments = [
            build_assessment(trace=draft.trace, assessment=assessment)
            for draft, assessment in self._assessments
        ]
        Assessment.objects.bulk_create(assessments, batch_size=BATCH_SIZE)
        return DemoStats(
            experiment=self.experiment.name,
            traces=len(traces),
            spans=len(spans),
            assessments=len(assessments),
        )
