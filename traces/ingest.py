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

OTLP spans arrive a few at a time and a client may send a trace's info apart from its spans
(MLflow's StartTraceV3): `ingest_spans` adds spans to traces that may already exist, and
`upsert_trace_info` creates or completes a trace from its info (`traces.otlp` parses OTLP).

Assessments are `traces.services.Feedback` / `Expectation` records and go through
`traces.services.build_assessment`, the one place MLflow's assessment rules are checked; they keep
their ids, times, `valid` flags and `overrides` links.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
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
from traces.services import Expectation, Feedback, build_assessment, log_assessment

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


# --- spans arriving over time (OTLP) and trace info arriving apart (MLflow's StartTraceV3) -----

# Trace metadata key MLflow's server sets once the client sent the finished trace's info
# (`mlflow.tracing.constant.TraceMetadataKey.TRACE_INFO_FINALIZED`): from then on the info is the
# client's, and spans arriving later do not recompute it.
METADATA_INFO_FINALIZED = "mlflow.trace.infoFinalized"
TAG_TRACE_NAME = "mlflow.traceName"


@dataclass(frozen=True)
class SpanBatch:
    """Spans of one trace that arrived together; the trace may already hold others."""

    trace_id: str
    spans: Sequence[SpanRecord]
    tags: Mapping[str, str] = field(default_factory=dict)


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
