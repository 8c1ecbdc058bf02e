"""Traces, spans and assessments as they arrive, and MLflow's conventions for reading them.

Every entry point (MLflow trace JSON files, OTLP, the MLflow-compatible API) turns what it
receives into the small typed records below (`TraceRecord`, `SpanRecord`, `SpanEvent`,
`SpanBatch`, `TokenUsage`) before `traces.ingest.bulk` or `traces.ingest.incremental` writes
them. The pieces that depend on MLflow's conventions rather than on a file format live here too,
so every entry point reads them the same way:

- span attributes are JSON inside strings (`mlflow.spanType` is ``"\\"RETRIEVER\\""``):
  `decode_attributes`; `SpanRecord.from_attributes` takes a span's type, inputs and outputs out
  of them;
- status codes come as ``STATUS_CODE_ERROR``, ``ERROR`` or ``2``: `span_status_code`,
  `trace_state`;
- token usage is `mlflow.trace.tokenUsage` in the trace metadata, or `mlflow.chat.tokenUsage` on
  spans: `token_usage_from_metadata`, `token_usage_from_spans`;
- request / response previews are the JSON of the root span's inputs / outputs, truncated:
  `preview_text`, `root_span`.

Assessments are `traces.services.Feedback` / `Expectation` records (`AssessmentRecord`). Nothing
here touches the database.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError

from traces.models import (
    PREVIEW_MAX_LENGTH,
    Assessment,
    Span,
    SpanStatusCode,
    SpanType,
    Trace,
    TraceState,
)
from traces.services import Expectation, Feedback, depth_message, too_deep

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
class SpanBatch:
    """Spans of one trace that arrived together; the trace may already hold others."""

    trace_id: str
    spans: Sequence[SpanRecord]
    tags: Mapping[str, str] = field(default_factory=dict)


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


# --- MLflow conventions --------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads_strict(text: str | bytes) -> Any:
    """`json.loads` without NaN / Infinity, which no JSON column (jsonb) can store, and without
    lists and objects nested deeper than `traces.services.JSON_MAX_DEPTH` (ValueError for
    both, also when the nesting is too deep for the parser itself)."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    try:
        value = _STRICT_DECODER.decode(text)
    except RecursionError:
        raise ValueError(depth_message("The JSON")) from None
    if too_deep(value):
        raise ValueError(depth_message("The JSON"))
    return value


def strip_nul(value: Any) -> Any:
    """PostgreSQL cannot store U+0000 in text or jsonb: replace it with U+FFFD (in strings,
    keys, lists and objects; values nest at most `JSON_MAX_DEPTH` deep)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, list | tuple):
        return type(value)(strip_nul(item) for item in value)
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    return value


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


def is_int64(value: Any) -> bool:
    """Fits a BigIntegerField (and is not a bool)."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and -INT64_MAX <= value <= INT64_MAX
    )


def _count(value: Any) -> int | None:
    """A token count, or None when the value is not a sensible one."""
    finite_float = isinstance(value, float) and math.isfinite(value)
    if finite_float or (isinstance(value, str) and value.strip().isdigit()):
        value = int(value)
    return value if is_int64(value) and value >= 0 else None


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
