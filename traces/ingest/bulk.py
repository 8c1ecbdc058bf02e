"""Whole traces written in bulk: `ingest_traces` and the row builders it shares.

`ingest_traces` takes a batch of `traces.ingest.records.TraceRecord` (from MLflow trace JSON
files and `manage.py import_traces`), builds and validates every Trace, Span and Assessment row
before the first write, then writes them with `bulk_create` inside one transaction: a bad trace
costs no writes. `build_trace_row` and `build_span_rows` also serve `traces.ingest.incremental`.

Assessments go through `traces.services.build_assessment`, the one place MLflow's assessment
rules are checked; they keep their ids, times, `valid` flags and `overrides` links.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from traces.ingest.records import (
    ASSESSMENT_ID_MAX_LENGTH,
    CLIENT_REQUEST_ID_MAX_LENGTH,
    SPAN_ID_MAX_LENGTH,
    SPAN_NAME_MAX_LENGTH,
    SPAN_TYPE_MAX_LENGTH,
    TRACE_ID_MAX_LENGTH,
    TokenUsage,
    TraceRecord,
    datetime_from_ns,
    is_int64,
    preview_text,
    root_span,
    span_status_code,
    token_usage_from_metadata,
    token_usage_from_spans,
    trace_state,
)
from traces.models import (
    PREVIEW_MAX_LENGTH,
    Assessment,
    Experiment,
    Span,
    SpanStatusCode,
    SpanType,
    Trace,
    TraceState,
)
from traces.services import build_assessment

# Rows per INSERT. Spans carry large JSON payloads: keep statements a sensible size.
TRACE_BATCH_SIZE = 500
SPAN_BATCH_SIZE = 500
ASSESSMENT_BATCH_SIZE = 500


@dataclass
class IngestResult:
    """What `ingest_traces` did: trace ids imported, trace ids skipped because they exist."""

    imported: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    spans: int = 0
    assessments: int = 0
    warnings: list[str] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.imported += other.imported
        self.already_present += other.already_present
        self.spans += other.spans
        self.assessments += other.assessments
        self.warnings += other.warnings


# --- writing ------------------------------------------------------------------------------------


def _fail(trace_id: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError(f"Trace {trace_id}: {message}", code=code)


def _messages(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def build_trace_row(record: TraceRecord, experiment: Experiment) -> Trace:
    """An unsaved Trace for `record`, with what the record leaves out derived from its spans."""
    trace_id = record.trace_id
    if not isinstance(trace_id, str) or not trace_id.strip():
        raise ValidationError("A trace has no trace id.", code="trace_id")
    if len(trace_id) > TRACE_ID_MAX_LENGTH:
        raise _fail(trace_id[:40] + "…", f"the trace id is longer than {TRACE_ID_MAX_LENGTH}.")
    if len(record.client_request_id or "") > CLIENT_REQUEST_ID_MAX_LENGTH:
        raise _fail(
            trace_id, f"the client request id is longer than {CLIENT_REQUEST_ID_MAX_LENGTH}."
        )
    root = root_span(record.spans)
    request_time = record.request_time
    if request_time is None:
        request_time = datetime_from_ns(root.start_time_ns) if root else timezone.now()
    duration = record.execution_duration_ms
    if duration is None and root is not None and root.end_time_ns is not None:
        duration = (root.end_time_ns - root.start_time_ns) // 1_000_000
    if duration is not None and not (is_int64(duration) and duration >= 0):
        raise _fail(trace_id, f"the execution duration {duration!r:.40} is not a valid one.")
    if record.state is not None:
        try:
            state = trace_state(record.state)
        except ValidationError as exc:
            raise _fail(trace_id, _messages(exc)) from exc
    elif root is None:
        state = TraceState.STATE_UNSPECIFIED
    elif root.end_time_ns is None:
        state = TraceState.IN_PROGRESS
    else:
        state = TraceState.ERROR if root.status_code == SpanStatusCode.ERROR else TraceState.OK
    request_preview = record.request_preview
    if request_preview is None:
        request_preview = preview_text(root.inputs) if root else ""
    response_preview = record.response_preview
    if response_preview is None:
        response_preview = preview_text(root.outputs) if root else ""
    usage = (
        record.token_usage
        or token_usage_from_metadata(record.trace_metadata)
        or token_usage_from_spans(record.spans)
        or TokenUsage()
    )
    return Trace(
        trace_id=trace_id,
        experiment=experiment,
        request_time=request_time,
        execution_duration=duration,
        state=state,
        request_preview=request_preview[:PREVIEW_MAX_LENGTH],
        response_preview=response_preview[:PREVIEW_MAX_LENGTH],
        client_request_id=record.client_request_id or "",
        trace_metadata=dict(record.trace_metadata),
        tags=dict(record.tags),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


def build_span_rows(record: TraceRecord, trace: Trace) -> list[Span]:
    """Unsaved, validated Span rows of `record` (span ids unique, ends not before starts)."""
    rows: list[Span] = []
    seen: set[str] = set()
    for span in record.spans:
        span_id = span.span_id
        if not isinstance(span_id, str) or not span_id:
            raise _fail(record.trace_id, f"span {span.name!r} has no span id.")
        if len(span_id) > SPAN_ID_MAX_LENGTH:
            raise _fail(record.trace_id, f"span id {span_id[:40]!r} is too long.")
        if span.parent_id and len(span.parent_id) > SPAN_ID_MAX_LENGTH:
            raise _fail(record.trace_id, f"span {span_id} has a parent id that is too long.")
        if span_id in seen:
            raise _fail(record.trace_id, f"two spans have the id {span_id}.")
        seen.add(span_id)
        for label, value in (("start", span.start_time_ns), ("end", span.end_time_ns)):
            if value is not None and not is_int64(value):
                raise _fail(
                    record.trace_id,
                    f"span {span_id} has a {label} time that is not a nanosecond timestamp: "
                    f"{value!r:.40}.",
                )
        if span.end_time_ns is not None and span.end_time_ns < span.start_time_ns:
            raise _fail(record.trace_id, f"span {span_id} ({span.name!r}) ends before it starts.")
        try:
            status_code = span_status_code(span.status_code)
        except ValidationError as exc:
            raise _fail(record.trace_id, f"span {span_id}: {_messages(exc)}") from exc
        rows.append(
            Span(
                trace=trace,
                span_id=span_id,
                parent_id=span.parent_id or None,
                name=str(span.name)[:SPAN_NAME_MAX_LENGTH],
                span_type=str(span.span_type or SpanType.UNKNOWN)[:SPAN_TYPE_MAX_LENGTH],
                start_time_ns=span.start_time_ns,
                end_time_ns=span.end_time_ns,
                status_code=status_code,
                status_message=span.status_message or "",
                inputs=span.inputs,
                outputs=span.outputs,
                attributes=span.attributes,
                events=[event.as_json() for event in span.events],
            )
        )
    return rows


def build_assessment_rows(
    record: TraceRecord, trace: Trace, span_ids: set[str]
) -> list[tuple[Assessment, str | None]]:
    """Validated, unsaved assessments with the id each one overrides (resolved after insert)."""
    rows = []
    for assessment in record.assessments:
        label = assessment.assessment_id or repr(assessment.name)
        if assessment.assessment_id is not None and (
            not isinstance(assessment.assessment_id, str)
            or len(assessment.assessment_id) > ASSESSMENT_ID_MAX_LENGTH
        ):
            raise _fail(
                record.trace_id,
                f"assessment id {str(assessment.assessment_id)[:80]!r} is not text of at most "
                f"{ASSESSMENT_ID_MAX_LENGTH} characters.",
            )
        try:
            row = build_assessment(trace=trace, assessment=assessment)
        except ValidationError as exc:
            raise _fail(record.trace_id, f"assessment {label}: {_messages(exc)}") from exc
        if row.span_id and row.span_id not in span_ids:
            raise _fail(
                record.trace_id,
                f"assessment {label} is attached to span {row.span_id!r}, "
                "which is not a span of this trace.",
            )
        rows.append((row, assessment.overrides or None))
    return rows


@transaction.atomic
def ingest_traces(*, experiment: Experiment, traces: Iterable[TraceRecord]) -> IngestResult:
    """Write `traces` into `experiment` in bulk, in one transaction.

    A trace whose id is already stored (in any experiment), or that came earlier in the same
    batch, is skipped and reported in `already_present`. Anything invalid raises
    `ValidationError` naming the trace, and nothing of the batch is written.

    Queries do not grow with the number of spans or assessments: two lookups, then one INSERT
    per `*_BATCH_SIZE` rows of each table and one UPDATE for the overrides links.
    """
    result = IngestResult()
    traces = list(traces)
    existing = set(
        Trace.objects.filter(trace_id__in={t.trace_id for t in traces})
        .order_by()
        .values_list("trace_id", flat=True)
    )
    records: list[TraceRecord] = []
    for record in traces:
        if record.trace_id in existing:
            result.already_present.append(record.trace_id)
            continue
        existing.add(record.trace_id)
        records.append(record)
    if not records:
        return result

    # Build and validate every row first: a bad trace costs no writes.
    trace_rows: list[Trace] = []
    span_rows: list[Span] = []
    assessment_rows: list[Assessment] = []
    links: list[tuple[Assessment, Assessment]] = []
    for record in records:
        trace = build_trace_row(record, experiment)
        spans = build_span_rows(record, trace)
        assessments = build_assessment_rows(record, trace, {span.span_id for span in spans})
        links += _override_links(record, assessments, result.warnings)
        trace_rows.append(trace)
        span_rows += spans
        assessment_rows += [row for row, _ in assessments]
    _check_assessment_ids(assessment_rows)

    Trace.objects.bulk_create(trace_rows, batch_size=TRACE_BATCH_SIZE)
    Span.objects.bulk_create(span_rows, batch_size=SPAN_BATCH_SIZE)
    Assessment.objects.bulk_create(assessment_rows, batch_size=ASSESSMENT_BATCH_SIZE)
    if links:
        for row, replaced in links:
            row.overrides = replaced
        Assessment.objects.bulk_update(
            [row for row, _ in links], ["overrides"], batch_size=ASSESSMENT_BATCH_SIZE
        )

    result.imported = [record.trace_id for record in records]
    result.spans = len(span_rows)
    result.assessments = len(assessment_rows)
    return result


def _override_links(
    record: TraceRecord,
    rows: list[tuple[Assessment, str | None]],
    warnings: list[str],
) -> list[tuple[Assessment, Assessment]]:
    """Pairs (assessment, the assessment it overrides), both of this trace."""
    by_id = {row.assessment_id: row for row, _ in rows}
    links = []
    for row, overrides in rows:
        if not overrides:
            continue
        replaced = by_id.get(overrides)
        if replaced is None:
            warnings.append(
                f"Trace {record.trace_id}: assessment {row.assessment_id} overrides "
                f"{overrides}, which is not in the trace; imported without the link."
            )
            continue
        if replaced is row:
            raise _fail(record.trace_id, f"assessment {row.assessment_id} overrides itself.")
        if replaced.kind != row.kind:
            raise _fail(
                record.trace_id,
                f"assessment {row.assessment_id} is a {row.get_kind_display().lower()} "
                f"and cannot override the {replaced.get_kind_display().lower()} "
                f"{replaced.assessment_id}.",
            )
        links.append((row, replaced))
    return links


def _check_assessment_ids(rows: list[Assessment]) -> None:
    """Assessment ids are unique across all traces: refuse clashes with a clear message."""
    if not rows:
        return
    counts = Counter(row.assessment_id for row in rows)
    twice = [aid for aid, count in counts.items() if count > 1]
    if twice:
        raise ValidationError(
            f"The assessment id {twice[0]} appears more than once.", code="assessment_id"
        )
    taken = (
        Assessment.objects.filter(assessment_id__in=list(counts))
        .values_list("assessment_id", "trace__trace_id")
        .first()
    )
    if taken is not None:
        raise ValidationError(
            f"The assessment id {taken[0]} already exists (on trace {taken[1]}).",
            code="assessment_id",
        )
