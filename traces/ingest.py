"""Ingestion core: traces, spans and assessments as they arrive, written in bulk.

Every way traces come in (MLflow trace JSON files, OTLP, the MLflow-compatible API) turns what it
receives into the small typed records below and hands a batch of them to `ingest_traces`, which
writes them with `bulk_create` inside one transaction. The pieces that depend on MLflow's
conventions rather than on a file format live here too, so every entry point reads them the same
way:

- span attributes are JSON inside strings (`mlflow.spanType` is ``"\\"RETRIEVER\\""``):
  `decode_attributes`; `SpanRecord.from_attributes` takes a span's type, inputs and outputs out
  of them;
- status codes come as ``STATUS_CODE_ERROR``, ``ERROR`` or ``2``: `span_status_code`,
  `trace_state`;
- token usage is `mlflow.trace.tokenUsage` in the trace metadata, or `mlflow.chat.tokenUsage` on
  spans: `token_usage_from_metadata`, `token_usage_from_spans`;
- request / response previews are the JSON of the root span's inputs / outputs, truncated:
  `preview_text`, `root_span`.

Assessments are `traces.services.Feedback` / `Expectation` records and go through
`traces.services.build_assessment`, the one place MLflow's assessment rules are checked; they keep
their ids, times, `valid` flags and `overrides` links.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

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
from traces.services import Expectation, Feedback, build_assessment

# MLflow's span attribute and trace metadata keys (`mlflow.tracing.constant`).
ATTR_SPAN_TYPE = "mlflow.spanType"
ATTR_INPUTS = "mlflow.spanInputs"
ATTR_OUTPUTS = "mlflow.spanOutputs"
ATTR_CHAT_USAGE = "mlflow.chat.tokenUsage"
METADATA_TOKEN_USAGE = "mlflow.trace.tokenUsage"

# Limits of the Span / Trace columns.
SPAN_ID_MAX_LENGTH = Span._meta.get_field("span_id").max_length
SPAN_NAME_MAX_LENGTH = Span._meta.get_field("name").max_length
SPAN_TYPE_MAX_LENGTH = Span._meta.get_field("span_type").max_length
TRACE_ID_MAX_LENGTH = Trace._meta.get_field("trace_id").max_length
CLIENT_REQUEST_ID_MAX_LENGTH = Trace._meta.get_field("client_request_id").max_length
ASSESSMENT_ID_MAX_LENGTH = Assessment._meta.get_field("assessment_id").max_length

# Rows per INSERT. Spans carry large JSON payloads: keep statements a sensible size.
TRACE_BATCH_SIZE = 500
SPAN_BATCH_SIZE = 500
ASSESSMENT_BATCH_SIZE = 500

AssessmentRecord = Feedback | Expectation


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanEvent:
    """Something that happened during a span (an exception, a retry, a streamed chunk)."""

    name: str
    time_unix_nano: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "time_unix_nano": self.time_unix_nano,
            "attributes": self.attributes,
        }


@dataclass(frozen=True)
class SpanRecord:
    """One span as it arrives. Ids are hex strings (16 hex digits for OpenTelemetry spans)."""

    span_id: str
    name: str
    start_time_ns: int
    end_time_ns: int | None = None
    parent_id: str | None = None
    span_type: str = SpanType.UNKNOWN
    status_code: str = SpanStatusCode.UNSET
    status_message: str = ""
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()

    @classmethod
    def from_attributes(
        cls,
        *,
        span_id: str,
        name: str,
        start_time_ns: int,
        end_time_ns: int | None,
        parent_id: str | None,
        attributes: Mapping[str, Any],
        status_code: Any = None,
        status_message: str | None = None,
        events: Iterable[SpanEvent] = (),
    ) -> SpanRecord:
        """A span from OpenTelemetry-style raw attributes written by MLflow.

        The values are decoded (`decode_attributes`); the span type, inputs and outputs move to
        their own fields, everything else stays in `attributes`.
        """
        decoded = decode_attributes(attributes)
        span_type = decoded.pop(ATTR_SPAN_TYPE, None)
        inputs = decoded.pop(ATTR_INPUTS, None)
        outputs = decoded.pop(ATTR_OUTPUTS, None)
        return cls(
            span_id=span_id,
            parent_id=parent_id or None,
            name=name,
            span_type=str(span_type) if span_type else SpanType.UNKNOWN,
            start_time_ns=start_time_ns,
            end_time_ns=end_time_ns,
            status_code=span_status_code(status_code),
            status_message=status_message or "",
            inputs=inputs,
            outputs=outputs,
            attributes=decoded,
            events=tuple(events),
        )


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


@dataclass(frozen=True)
class TraceRecord:
    """One trace as it arrives, with its spans and assessments.

    Fields left as None are derived from the spans: the request time and duration from the root
    span, the state from its status, the previews from its inputs and outputs, the token usage
    from `mlflow.trace.tokenUsage` in the metadata or else from the spans.
    """

    trace_id: str
    spans: Sequence[SpanRecord] = ()
    assessments: Sequence[AssessmentRecord] = ()
    request_time: datetime | None = None
    execution_duration_ms: int | None = None
    state: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str = ""
    trace_metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    token_usage: TokenUsage | None = None


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


# --- MLflow conventions --------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads_strict(text: str | bytes) -> Any:
    """`json.loads` without NaN / Infinity, which no JSON column (jsonb) can store."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    return _STRICT_DECODER.decode(text)


def decode_attribute_value(value: Any) -> Any:
    """MLflow stores every span attribute JSON-encoded in a string; other instrumentations write
    plain strings. Decode when the string is JSON, keep it as it is otherwise."""
    if not isinstance(value, str):
        return value
    try:
        return loads_strict(value)
    except ValueError:
        return value


def decode_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {str(key): decode_attribute_value(value) for key, value in (attributes or {}).items()}


_SPAN_STATUS = {
    "STATUS_CODE_OK": SpanStatusCode.OK,
    "OK": SpanStatusCode.OK,
    "1": SpanStatusCode.OK,
    "STATUS_CODE_ERROR": SpanStatusCode.ERROR,
    "ERROR": SpanStatusCode.ERROR,
    "2": SpanStatusCode.ERROR,
    "STATUS_CODE_UNSET": SpanStatusCode.UNSET,
    "UNSET": SpanStatusCode.UNSET,
    "0": SpanStatusCode.UNSET,
    "": SpanStatusCode.UNSET,
}


def span_status_code(code: Any) -> str:
    """OK / ERROR / UNSET from MLflow's and OpenTelemetry's spellings (names or proto numbers)."""
    if code is None:
        return SpanStatusCode.UNSET
    try:
        return _SPAN_STATUS[str(code).strip().upper()]
    except KeyError:
        raise ValidationError(
            f"Unknown span status code {code!r}: expected OK, ERROR or UNSET "
            "(or STATUS_CODE_OK, STATUS_CODE_ERROR, STATUS_CODE_UNSET).",
            code="status_code",
        ) from None


_TRACE_STATE = {
    "OK": TraceState.OK,
    "ERROR": TraceState.ERROR,
    "IN_PROGRESS": TraceState.IN_PROGRESS,
    "STATE_UNSPECIFIED": TraceState.STATE_UNSPECIFIED,
    "TRACE_STATUS_UNSPECIFIED": TraceState.STATE_UNSPECIFIED,  # MLflow 2 `status`
    "UNSPECIFIED": TraceState.STATE_UNSPECIFIED,
    "": TraceState.STATE_UNSPECIFIED,
}


def trace_state(value: Any) -> str:
    """A TraceState from MLflow 3 `state` or MLflow 2 `status` values."""
    try:
        return _TRACE_STATE[str(value).strip().upper()]
    except KeyError:
        raise ValidationError(
            f"Unknown trace state {value!r}: expected one of {', '.join(TraceState.values)}.",
            code="state",
        ) from None


def root_span(spans: Sequence[SpanRecord]) -> SpanRecord | None:
    """The span without a parent in the trace (the earliest, if several claim to be roots)."""
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if not span.parent_id or span.parent_id not in ids]
    return min(roots, key=lambda span: span.start_time_ns, default=None)


def preview_text(value: Any) -> str:
    """The preview MLflow shows in trace lists: JSON of the value, truncated."""
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text[:PREVIEW_MAX_LENGTH]


INT64_MAX = 2**63 - 1


def _is_int64(value: Any) -> bool:
    """Fits a BigIntegerField (and is not a bool)."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and -INT64_MAX <= value <= INT64_MAX
    )


def _count(value: Any) -> int | None:
    """A token count, or None when the value is not a sensible one."""
    finite_float = isinstance(value, float) and math.isfinite(value)
    if finite_float or (isinstance(value, str) and value.strip().isdigit()):
        value = int(value)
    return value if _is_int64(value) and value >= 0 else None


def _usage_from_dict(data: Any) -> TokenUsage | None:
    if not isinstance(data, Mapping):
        return None
    usage = TokenUsage(
        input_tokens=_count(data.get("input_tokens")),
        output_tokens=_count(data.get("output_tokens")),
        total_tokens=_count(data.get("total_tokens")),
    )
    if usage == TokenUsage():
        return None
    if usage.total_tokens is None and None not in (usage.input_tokens, usage.output_tokens):
        usage = TokenUsage(
            usage.input_tokens, usage.output_tokens, usage.input_tokens + usage.output_tokens
        )
    return usage


def token_usage_from_metadata(trace_metadata: Mapping[str, Any]) -> TokenUsage | None:
    """`mlflow.trace.tokenUsage` (a JSON string) from a trace's metadata."""
    return _usage_from_dict(decode_attribute_value(trace_metadata.get(METADATA_TOKEN_USAGE)))


def token_usage_from_spans(spans: Sequence[SpanRecord]) -> TokenUsage | None:
    """Sum of `mlflow.chat.tokenUsage` over the spans, as MLflow aggregates it: a span whose
    ancestor already reports usage is not counted again."""
    by_id = {span.span_id: span for span in spans}
    totals = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    found = False
    for span in spans:
        usage = _usage_from_dict(span.attributes.get(ATTR_CHAT_USAGE))
        if usage is None:
            continue
        parent, seen = by_id.get(span.parent_id or ""), {span.span_id}
        counted_above = False
        while parent is not None and parent.span_id not in seen:
            if _usage_from_dict(parent.attributes.get(ATTR_CHAT_USAGE)) is not None:
                counted_above = True
                break
            seen.add(parent.span_id)
            parent = by_id.get(parent.parent_id or "")
        if counted_above:
            continue
        found = True
        totals["input_tokens"] += usage.input_tokens or 0
        totals["output_tokens"] += usage.output_tokens or 0
        totals["total_tokens"] += usage.total_tokens or 0
    return TokenUsage(**totals) if found else None


def datetime_from_ns(nanoseconds: int) -> datetime:
    return datetime.fromtimestamp(nanoseconds / 1e9, tz=UTC)


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
    if duration is not None and not (_is_int64(duration) and duration >= 0):
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
            if value is not None and not _is_int64(value):
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
