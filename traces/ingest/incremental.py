"""Traces that arrive in pieces: spans over time (OTLP) and a trace's info apart (StartTraceV3).

OTLP spans arrive a few at a time and a client may send a trace's info apart from its spans
(MLflow's StartTraceV3): `ingest_spans` adds spans to traces that may already exist, and
`upsert_trace_info` creates or completes a trace from its info (`traces.otlp` parses OTLP into
`SpanBatch` records; `traces.mlflow_api` parses trace info into a `TraceRecord`). Rows are built
and checked by `traces.ingest.bulk`'s builders, so both paths validate the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from traces.ingest.bulk import SPAN_BATCH_SIZE, TRACE_BATCH_SIZE, build_span_rows, build_trace_row
from traces.ingest.records import (
    ATTR_CHAT_USAGE,
    AssessmentRecord,
    SpanBatch,
    SpanRecord,
    TokenUsage,
    TraceRecord,
    datetime_from_ns,
    preview_text,
    token_usage_from_metadata,
    token_usage_from_spans,
)
from traces.models import Assessment, Experiment, Span, SpanStatusCode, Trace, TraceState
from traces.services import log_assessment

# Trace metadata key MLflow's server sets once the client sent the finished trace's info
# (`mlflow.tracing.constant.TraceMetadataKey.TRACE_INFO_FINALIZED`): from then on the info is the
# client's, and spans arriving later do not recompute it.
METADATA_INFO_FINALIZED = "mlflow.trace.infoFinalized"
TAG_TRACE_NAME = "mlflow.traceName"


@dataclass
class SpanIngestResult:
    """What `ingest_spans` did: traces created or added to, spans stored or already present."""

    traces_created: list[str] = field(default_factory=list)
    traces_updated: list[str] = field(default_factory=list)
    spans: int = 0
    duplicates: int = 0


_TRACE_DERIVED_FIELDS = [
    "request_time",
    "execution_duration",
    "state",
    "request_preview",
    "response_preview",
    "tags",
    "input_tokens",
    "output_tokens",
    "total_tokens",
]


def _locked_traces(trace_ids: Iterable[str]) -> dict[str, Trace]:
    """The stored traces among `trace_ids`, locked for update in id order (no deadlocks between
    requests touching the same traces)."""
    return {
        trace.trace_id: trace
        for trace in Trace.objects.select_for_update()
        .filter(trace_id__in=list(trace_ids))
        .order_by("trace_id")
    }


def _check_experiment(trace: Trace, experiment: Experiment) -> None:
    if trace.experiment_id != experiment.pk:
        raise ValidationError(
            f"Trace {trace.trace_id} belongs to experiment {trace.experiment_id}, "
            f"not to experiment {experiment.pk}.",
            code="experiment",
        )


def _partial_trace_row(
    trace_id: str, spans: Sequence[SpanRecord], tags: Mapping[str, str], experiment: Experiment
) -> Trace:
    """A trace whose root span may not have arrived yet: in progress, starting at its earliest
    span; `_refresh_trace` fills the rest once the root is there."""
    row = build_trace_row(
        TraceRecord(
            trace_id=trace_id,
            request_time=datetime_from_ns(min(span.start_time_ns for span in spans)),
            state=TraceState.IN_PROGRESS,
            request_preview="",
            response_preview="",
            tags=dict(tags),
            token_usage=TokenUsage(),
        ),
        experiment,
    )
    return row


def _usage_from_stored_spans(traces: Sequence[Trace]) -> dict[int, TokenUsage | None]:
    """Token usage over every stored span of each trace (two queries; payloads stay unread)."""
    links: dict[int, list[tuple[str, str | None]]] = {trace.pk: [] for trace in traces}
    for trace_pk, span_id, parent_id in Span.objects.filter(trace__in=traces).values_list(
        "trace_id", "span_id", "parent_id"
    ):
        links[trace_pk].append((span_id, parent_id))
    usage = {
        (trace_pk, span_id): attributes.get(ATTR_CHAT_USAGE)
        for trace_pk, span_id, attributes in Span.objects.filter(
            trace__in=traces, attributes__has_key=ATTR_CHAT_USAGE
        ).values_list("trace_id", "span_id", "attributes")
    }
    return {
        trace_pk: token_usage_from_spans(
            [
                SpanRecord(
                    span_id=span_id,
                    parent_id=parent_id,
                    name="",
                    start_time_ns=0,
                    attributes={ATTR_CHAT_USAGE: usage[(trace_pk, span_id)]}
                    if (trace_pk, span_id) in usage
                    else {},
                )
                for span_id, parent_id in spans
            ]
        )
        for trace_pk, spans in links.items()
    }


def _needs_usage(trace: Trace, new_spans: Sequence[SpanRecord]) -> bool:
    return token_usage_from_metadata(trace.trace_metadata) is None and any(
        ATTR_CHAT_USAGE in span.attributes for span in new_spans
    )


def _refresh_trace(
    trace: Trace,
    new_spans: Sequence[SpanRecord],
    tags: Mapping[str, str],
    usage: TokenUsage | None,
) -> None:
    """Update what a trace derives from its spans after `new_spans` were stored (`usage`: the
    token usage over all its spans, when `_needs_usage`)."""
    for key, value in tags.items():
        trace.tags.setdefault(key, value)
    if trace.trace_metadata.get(METADATA_INFO_FINALIZED) != "true":
        root = next((span for span in new_spans if not span.parent_id), None)
        if root is not None:
            trace.request_time = datetime_from_ns(root.start_time_ns)
            if root.end_time_ns is None:
                trace.execution_duration = None
                trace.state = TraceState.IN_PROGRESS
            else:
                trace.execution_duration = (root.end_time_ns - root.start_time_ns) // 1_000_000
                trace.state = (
                    TraceState.ERROR if root.status_code == SpanStatusCode.ERROR else TraceState.OK
                )
            trace.request_preview = preview_text(root.inputs)
            trace.response_preview = preview_text(root.outputs)
            if root.name:
                trace.tags.setdefault(TAG_TRACE_NAME, root.name)
        elif trace.state == TraceState.IN_PROGRESS:
            earliest = datetime_from_ns(min(span.start_time_ns for span in new_spans))
            trace.request_time = min(trace.request_time, earliest)
    if _needs_usage(trace, new_spans):
        usage = usage or TokenUsage()
        trace.input_tokens = usage.input_tokens
        trace.output_tokens = usage.output_tokens
        trace.total_tokens = usage.total_tokens


@transaction.atomic
def ingest_spans(*, experiment: Experiment, batches: Iterable[SpanBatch]) -> SpanIngestResult:
    """Add spans to their traces in `experiment`, creating the traces that are new, in one
    transaction.

    Spans of a trace may come in several calls, in any order. A span already stored (a retried
    batch) is skipped. A trace is "in progress" until its root span (no parent) arrives; then its
    request time, duration, state, previews and name come from the root, unless the client
    already sent the trace's info (`upsert_trace_info`). Token usage is summed again whenever
    spans reporting it arrive. Anything invalid raises `ValidationError` and nothing is written.

    Queries do not grow with the number of spans: traces whose spans all arrive in this call
    are written complete (no UPDATE); traces that already existed take two queries for their
    token usage (all of them together) and one UPDATE each.
    """
    result = SpanIngestResult()
    merged: dict[str, tuple[dict[str, SpanRecord], dict[str, str]]] = {}
    for batch in batches:
        spans, tags = merged.setdefault(batch.trace_id, ({}, {}))
        for span in batch.spans:
            if span.span_id in spans:
                result.duplicates += 1
                continue
            spans[span.span_id] = span
        for key, value in batch.tags.items():
            tags.setdefault(key, value)
    merged = {trace_id: item for trace_id, item in merged.items() if item[0]}
    if not merged:
        return result

    # Validate everything before the first write. New traces get their final fields now.
    new_rows: dict[str, Trace] = {}
    span_rows: dict[str, list[Span]] = {}
    for trace_id, (spans, tags) in merged.items():
        records = list(spans.values())
        row = _partial_trace_row(trace_id, records, tags, experiment)
        span_rows[trace_id] = build_span_rows(TraceRecord(trace_id=trace_id, spans=records), row)
        usage = token_usage_from_spans(records) if _needs_usage(row, records) else None
        _refresh_trace(row, records, {}, usage)
        new_rows[trace_id] = row

    traces = _locked_traces(merged)
    missing = sorted(set(merged) - set(traces))
    created: set[str] = set()
    if missing:
        Trace.objects.bulk_create(
            [new_rows[trace_id] for trace_id in missing],
            batch_size=TRACE_BATCH_SIZE,
            ignore_conflicts=True,
        )
        for trace_id, trace in _locked_traces(missing).items():
            traces[trace_id] = trace
            # Ours, unless another request created the trace in the meantime (its row then
            # carries that request's creation time, not the one set on ours).
            if trace.created_at == new_rows[trace_id].created_at:
                created.add(trace_id)
    for trace in traces.values():
        _check_experiment(trace, experiment)

    existing = [traces[trace_id] for trace_id in merged if trace_id not in created]
    stored = set()
    if existing:
        stored = set(
            Span.objects.filter(
                trace__in=existing,
                span_id__in={
                    span_id for trace in existing for span_id in merged[trace.trace_id][0]
                },
            )
            .order_by()
            .values_list("trace_id", "span_id")
        )
    to_insert: list[Span] = []
    changed: list[tuple[Trace, list[SpanRecord], dict[str, str]]] = []
    for trace_id, (spans, tags) in merged.items():
        trace = traces[trace_id]
        fresh = []
        for row in span_rows[trace_id]:
            if (trace.pk, row.span_id) in stored:
                result.duplicates += 1
                continue
            row.trace = trace
            to_insert.append(row)
            fresh.append(spans[row.span_id])
        if trace_id in created:
            result.traces_created.append(trace_id)
        elif fresh:
            result.traces_updated.append(trace_id)
            changed.append((trace, fresh, tags))
    Span.objects.bulk_create(to_insert, batch_size=SPAN_BATCH_SIZE, ignore_conflicts=True)
    result.spans = len(to_insert)

    recount = [trace for trace, fresh, _ in changed if _needs_usage(trace, fresh)]
    usage_by_trace = _usage_from_stored_spans(recount) if recount else {}
    for trace, fresh, tags in changed:
        _refresh_trace(trace, fresh, tags, usage_by_trace.get(trace.pk))
        trace.save(update_fields=_TRACE_DERIVED_FIELDS)
    return result


@transaction.atomic
def upsert_trace_info(*, experiment: Experiment, record: TraceRecord) -> tuple[Trace, bool]:
    """Store the info of a finished trace as a client sends it (MLflow's StartTraceV3), creating
    the trace or completing the one its spans already started. Returns (trace, created).

    The client's values win over what was derived from spans; metadata and tags are merged;
    assessments not stored yet are added. The trace is then marked finalized
    (`METADATA_INFO_FINALIZED`): spans arriving later no longer change its info.
    """
    row = build_trace_row(record, experiment)
    trace = _locked_traces([record.trace_id]).get(record.trace_id)
    created = False
    if trace is None:
        row.trace_metadata = {**row.trace_metadata, METADATA_INFO_FINALIZED: "true"}
        try:
            with transaction.atomic():
                row.save()
            trace, created = row, True
        except IntegrityError:  # its first spans were stored meanwhile
            trace = _locked_traces([record.trace_id]).get(record.trace_id)
            if trace is None:
                raise
    _check_experiment(trace, experiment)
    if not created:
        if record.request_time is not None:
            trace.request_time = row.request_time
        if record.execution_duration_ms is not None:
            trace.execution_duration = row.execution_duration
        if record.state is not None:
            trace.state = row.state
        if record.request_preview:
            trace.request_preview = row.request_preview
        if record.response_preview:
            trace.response_preview = row.response_preview
        if record.client_request_id:
            trace.client_request_id = row.client_request_id
        trace.trace_metadata = {
            **trace.trace_metadata,
            **record.trace_metadata,
            METADATA_INFO_FINALIZED: "true",
        }
        trace.tags = {**trace.tags, **record.tags}
        if usage := (record.token_usage or token_usage_from_metadata(record.trace_metadata)):
            trace.input_tokens = usage.input_tokens
            trace.output_tokens = usage.output_tokens
            trace.total_tokens = usage.total_tokens
        trace.save()
    if record.assessments:
        _add_new_assessments(trace, record.assessments)
    return trace, created


def _stable_assessment_id(trace_id: str, assessment: AssessmentRecord) -> str:
    """An id for an assessment sent without one (the SDK logs those with the trace), the same
    each time the same trace info is sent: a retry adds nothing."""
    error = getattr(assessment, "error", None)
    key = json.dumps(
        [
            trace_id,
            assessment.kind,
            assessment.name,
            assessment.value,
            getattr(error, "error_code", None),
            assessment.rationale,
            assessment.span_id,
            assessment.source.source_type if assessment.source else None,
            assessment.source.source_id if assessment.source else None,
            assessment.create_time.isoformat() if assessment.create_time else None,
        ],
        sort_keys=True,
        default=str,
    )
    return "a-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _add_new_assessments(trace: Trace, assessments: Sequence[AssessmentRecord]) -> None:
    assessments = [
        a if a.assessment_id else replace(a, assessment_id=_stable_assessment_id(trace.trace_id, a))
        for a in assessments
    ]
    stored = set(
        Assessment.objects.filter(
            assessment_id__in=[a.assessment_id for a in assessments if a.assessment_id]
        ).values_list("assessment_id", flat=True)
    )
    for assessment in assessments:
        if assessment.assessment_id and assessment.assessment_id in stored:
            continue
        log_assessment(trace_id=trace.trace_id, assessment=assessment)
