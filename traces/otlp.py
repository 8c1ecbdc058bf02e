"""OTLP/HTTP trace ingest: request bodies in, `SpanBatch` records out.

What arrives at ``POST /v1/traces`` is an ``ExportTraceServiceRequest`` (opentelemetry-proto),
as protobuf (``application/x-protobuf``) or as OTLP JSON (``application/json``: camelCase
names, trace and span ids as hex, enums as numbers), optionally gzip-compressed. This module:

- bounds and decompresses the body (`decode_body`: a gzip bomb stops at the limit);
- parses it (`parse_request`), for JSON with protobuf's json_format after turning OTLP's hex ids
  into the base64 json_format expects;
- maps each span to a `SpanRecord` (`span_batches`). The trace id is ``tr-<32 hex of the OTLP
  trace id>`` unless the span's ``mlflow.traceRequestId`` names another. Span type, inputs,
  outputs and token usage come from MLflow's attributes (``mlflow.spanType``,
  ``mlflow.spanInputs``, ``mlflow.spanOutputs``, ``mlflow.chat.tokenUsage``; JSON-encoded or
  plain values) and, where those are absent, from the OpenTelemetry GenAI semantic conventions
  (``gen_ai.*``), OpenInference (``openinference.span.kind``, ``input.value``,
  ``llm.token_count.*``, …) and OpenLLMetry's indexed ``gen_ai.prompt.N.*`` attributes. Token
  usage found that way is written as ``mlflow.chat.tokenUsage``, so traces add it up the same
  way whatever instrumented them. The original attributes are kept.

Writing the records is `traces.ingest.incremental.ingest_spans` (spans of one trace may come in
several requests).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from django.core.exceptions import ValidationError
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from traces.ingest.records import (
    ATTR_CHAT_USAGE,
    ATTR_INPUTS,
    ATTR_OUTPUTS,
    ATTR_SPAN_TYPE,
    TRACE_ID_MAX_LENGTH,
    SpanBatch,
    SpanEvent,
    SpanRecord,
    decode_attribute_value,
)
from traces.models import SpanType
from traces.services import depth_message, too_deep

ATTR_TRACE_REQUEST_ID = "mlflow.traceRequestId"

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class OtlpError(Exception):
    """A request that cannot be ingested; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- body ---------------------------------------------------------------------------------------


def decode_body(body: bytes, *, content_encoding: str, max_bytes: int) -> bytes:
    """The request body without its content encoding (gzip, deflate or none), at most
    `max_bytes` once decompressed: a larger (or bomb-shaped) body raises OtlpError 413."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > max_bytes:
            raise OtlpError(too_large(max_bytes), status=413)
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = 32 + zlib.MAX_WBITS  # zlib or gzip header, detected
    else:
        raise OtlpError(
            f"Unsupported Content-Encoding {content_encoding!r}: send gzip, deflate or none.",
            status=415,
        )
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(body, max_bytes + 1)
        if len(data) <= max_bytes and not decompressor.unconsumed_tail:
            data += decompressor.flush(max_bytes + 1 - len(data))
    except zlib.error as exc:
        raise OtlpError(f"The {encoding} body cannot be decompressed: {exc}.") from None
    if len(data) > max_bytes or decompressor.unconsumed_tail:
        raise OtlpError(too_large(max_bytes, decompressed=True), status=413)
    if not decompressor.eof:
        raise OtlpError(f"The {encoding} body is truncated.")
    return data


def too_large(max_bytes: int, *, decompressed: bool = False) -> str:
    what = "decompressed body" if decompressed else "body"
    return (
        f"The {what} is larger than {max_bytes:,} bytes; send fewer spans per request "
        "(e.g. a smaller max_export_batch_size)."
    )


def media_type(content_type: str) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_request(data: bytes, content_type: str) -> ExportTraceServiceRequest:
    """An ExportTraceServiceRequest from protobuf or OTLP JSON bytes (OtlpError 400 / 415)."""
    kind = media_type(content_type)
    message = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            message.ParseFromString(data)
        except (DecodeError, ValueError, RecursionError) as exc:
            raise OtlpError(f"The body is not a valid OTLP protobuf message: {exc}.") from None
        return message
    if kind == JSON:
        try:
            document = json.loads(data)
        except RecursionError:
            raise OtlpError(depth_message("The body")) from None
        except ValueError as exc:
            raise OtlpError(f"The body is not valid JSON: {exc}.") from None
        if not isinstance(document, dict):
            raise OtlpError("The body should be an OTLP JSON object with resourceSpans.")
        if too_deep(document):
            raise OtlpError(depth_message("The body"))
        _hex_ids_to_base64(document)
        try:
            json_format.ParseDict(document, message, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
            raise OtlpError(f"The body is not a valid OTLP JSON request: {exc}") from None
        return message
    raise OtlpError(
        f"Unsupported Content-Type {content_type!r}: send {PROTOBUF} or {JSON}.", status=415
    )


_ID_KEYS = {
    "traceId": 16,
    "trace_id": 16,
    "spanId": 8,
    "span_id": 8,
    "parentSpanId": 8,
    "parent_span_id": 8,
}


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP JSON writes ids as hex; protobuf's json_format reads bytes as base64."""

    def convert(obj: dict[str, Any], where: str) -> None:
        for key, size in _ID_KEYS.items():
            value = obj.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise OtlpError(f"{where}: {key} should be a hex string.")
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raise OtlpError(f"{where}: {key} {value[:40]!r} is not hex.") from None
            if len(raw) != size:
                raise OtlpError(f"{where}: {key} should be {size * 2} hex digits.")
            obj[key] = base64.b64encode(raw).decode()

    for r, resource_spans in enumerate(_items(document, "resourceSpans", "resource_spans")):
        for s, scope_spans in enumerate(_items(resource_spans, "scopeSpans", "scope_spans")):
            for n, span in enumerate(_items(scope_spans, "spans", "spans")):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                convert(span, where)
                for k, link in enumerate(_items(span, "links", "links")):
                    convert(link, f"{where}.links[{k}]")


def _items(obj: Any, camel: str, snake: str) -> list[dict[str, Any]]:
    if not isinstance(obj, dict):
        return []
    items = obj.get(camel, obj.get(snake))
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def response_body(content_type: str, *, rejected_spans: int = 0, error: str = "") -> bytes:
    """An ExportTraceServiceResponse in the request's format."""
    response = ExportTraceServiceResponse()
    if rejected_spans or error:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = error
    if media_type(content_type) == JSON:
        return json.dumps(json_format.MessageToDict(response)).encode()
    return response.SerializeToString()


# --- values -------------------------------------------------------------------------------------


def _text(value: str) -> str:
    """PostgreSQL stores no U+0000 in text or jsonb."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def any_value(value: AnyValue) -> Any:
    """A Python value from an OTLP AnyValue (arrays to lists, key-value lists to dicts)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return _text(value.string_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else str(number)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {_text(kv.key): any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def key_values(items: Iterable[Any]) -> dict[str, Any]:
    return {_text(item.key): any_value(item.value) for item in items}


# --- semantic conventions -----------------------------------------------------------------------

# gen_ai.operation.name (OpenTelemetry GenAI semantic conventions)
GENAI_OPERATION_TYPES = {
    "chat": SpanType.CHAT_MODEL,
    "text_completion": SpanType.LLM,
    "generate_content": SpanType.LLM,
    "response": SpanType.LLM,
    "embeddings": SpanType.EMBEDDING,
    "execute_tool": SpanType.TOOL,
    "invoke_agent": SpanType.AGENT,
    "create_agent": SpanType.AGENT,
}
# openinference.span.kind
OPENINFERENCE_KINDS = {
    "LLM": SpanType.LLM,
    "CHAIN": SpanType.CHAIN,
    "RETRIEVER": SpanType.RETRIEVER,
    "RERANKER": SpanType.RERANKER,
    "EMBEDDING": SpanType.EMBEDDING,
    "TOOL": SpanType.TOOL,
    "AGENT": SpanType.AGENT,
    "GUARDRAIL": "GUARDRAIL",
    "EVALUATOR": "EVALUATOR",
    "UNKNOWN": SpanType.UNKNOWN,
}
# traceloop.span.kind (OpenLLMetry)
TRACELOOP_KINDS = {
    "workflow": SpanType.CHAIN,
    "task": SpanType.CHAIN,
    "agent": SpanType.AGENT,
    "tool": SpanType.TOOL,
}

INPUT_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.prompt",
    "input.value",
    "traceloop.entity.input",
)
OUTPUT_KEYS = (
    "gen_ai.output.messages",
    "gen_ai.tool.call.result",
    "gen_ai.completion",
    "output.value",
    "traceloop.entity.output",
)
# Indexed, flattened message attributes: gen_ai.prompt.0.role, llm.input_messages.0.message.role
INPUT_MESSAGE_PREFIXES = ("gen_ai.prompt.", "llm.input_messages.")
OUTPUT_MESSAGE_PREFIXES = ("gen_ai.completion.", "llm.output_messages.")

INPUT_TOKEN_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
)
OUTPUT_TOKEN_KEYS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
TOTAL_TOKEN_KEYS = ("llm.token_count.total", "llm.usage.total_tokens", "gen_ai.usage.total_tokens")

# Span events that carry prompts and completions (GenAI semantic conventions, older versions).
INPUT_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}

_INDEXED = re.compile(r"^(\d+)(?:\.(.+))?$")


def span_type_from_conventions(attributes: Mapping[str, Any]) -> str | None:
    operation = attributes.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation.lower() in GENAI_OPERATION_TYPES:
        return GENAI_OPERATION_TYPES[operation.lower()]
    kind = attributes.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[kind.upper()]
    kind = attributes.get("traceloop.span.kind")
    if isinstance(kind, str) and kind.lower() in TRACELOOP_KINDS:
        return TRACELOOP_KINDS[kind.lower()]
    return None


def _indexed_messages(attributes: Mapping[str, Any], prefixes: Iterable[str]) -> list[Any] | None:
    """``gen_ai.prompt.0.role = "user"``, ``gen_ai.prompt.0.content = "…"`` → ``[{"role":
    "user", "content": "…"}]`` (OpenInference's ``.message.`` level is dropped)."""
    for prefix in prefixes:
        entries: dict[int, dict[str, Any]] = {}
        for key, value in attributes.items():
            if not key.startswith(prefix):
                continue
            match = _INDEXED.match(key[len(prefix) :])
            if not match or match.group(2) is None:
                continue
            path = match.group(2).removeprefix("message.")
            _set_path(entries.setdefault(int(match.group(1)), {}), path.split("."), value)
        if entries:
            return [_listify(entries[index]) for index in sorted(entries)]
    return None


def _set_path(target: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = value


def _listify(value: Any) -> Any:
    """Dicts keyed 0, 1, 2… (from flattened attributes) become lists."""
    if not isinstance(value, dict):
        return value
    items = {key: _listify(item) for key, item in value.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def _first(attributes: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def _event_messages(events: Iterable[SpanEvent]) -> tuple[Any, Any]:
    """Prompts and completions carried by span events (older GenAI conventions)."""
    inputs: Any = None
    outputs: Any = None
    messages: list[dict[str, Any]] = []
    choices: list[dict[str, Any]] = []
    for event in events:
        attributes = event.attributes
        if event.name == "gen_ai.content.prompt" and "gen_ai.prompt" in attributes:
            inputs = decode_attribute_value(attributes["gen_ai.prompt"])
        elif event.name == "gen_ai.content.completion" and "gen_ai.completion" in attributes:
            outputs = decode_attribute_value(attributes["gen_ai.completion"])
        elif event.name in INPUT_EVENTS and attributes.get("content") is not None:
            role = attributes.get("role") or INPUT_EVENTS[event.name]
            content = decode_attribute_value(attributes["content"])
            messages.append({"role": role, "content": content})
        elif event.name == "gen_ai.choice" and attributes.get("content") is not None:
            content = decode_attribute_value(attributes["content"])
            choices.append({"role": attributes.get("role") or "assistant", "content": content})
    return (inputs if inputs is not None else messages or None), (
        outputs if outputs is not None else choices or None
    )


def _token_count(attributes: Mapping[str, Any], keys: Iterable[str]) -> int | None:
    value = _first(attributes, keys)
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def token_usage_from_conventions(attributes: Mapping[str, Any]) -> dict[str, int] | None:
    """MLflow's ``mlflow.chat.tokenUsage`` dict from GenAI / OpenInference token counts."""
    input_tokens = _token_count(attributes, INPUT_TOKEN_KEYS)
    output_tokens = _token_count(attributes, OUTPUT_TOKEN_KEYS)
    total_tokens = _token_count(attributes, TOTAL_TOKEN_KEYS)
    if input_tokens is None and output_tokens is None and total_tokens is None:
        return None
    if total_tokens is None:
        total_tokens = (input_tokens or 0) + (output_tokens or 0)
    usage = {"total_tokens": total_tokens}
    if input_tokens is not None:
        usage["input_tokens"] = input_tokens
    if output_tokens is not None:
        usage["output_tokens"] = output_tokens
    return usage


def apply_conventions(record: SpanRecord, raw_keys: Iterable[str]) -> SpanRecord:
    """Fill what MLflow's attributes left out (`raw_keys`: the keys the span arrived with)
    from the GenAI / OpenInference / OpenLLMetry conventions."""
    raw_keys = set(raw_keys)
    attributes = record.attributes
    changes: dict[str, Any] = {}
    if ATTR_SPAN_TYPE not in raw_keys and (span_type := span_type_from_conventions(attributes)):
        changes["span_type"] = span_type
    event_inputs, event_outputs = (None, None)
    if record.events and (ATTR_INPUTS not in raw_keys or ATTR_OUTPUTS not in raw_keys):
        event_inputs, event_outputs = _event_messages(record.events)
    if ATTR_INPUTS not in raw_keys:
        inputs = _first(attributes, INPUT_KEYS)
        if inputs is None:
            inputs = _indexed_messages(attributes, INPUT_MESSAGE_PREFIXES)
        if inputs is None:
            inputs = event_inputs
        if inputs is not None:
            changes["inputs"] = inputs
    if ATTR_OUTPUTS not in raw_keys:
        outputs = _first(attributes, OUTPUT_KEYS)
        if outputs is None:
            outputs = _indexed_messages(attributes, OUTPUT_MESSAGE_PREFIXES)
        if outputs is None:
            outputs = event_outputs
        if outputs is not None:
            changes["outputs"] = outputs
    if ATTR_CHAT_USAGE not in attributes and (usage := token_usage_from_conventions(attributes)):
        changes["attributes"] = {**attributes, ATTR_CHAT_USAGE: usage}
    return replace(record, **changes) if changes else record


# --- spans --------------------------------------------------------------------------------------


def _hex_id(raw: bytes, size: int, what: str) -> str:
    if len(raw) != size or not any(raw):
        raise OtlpError(f"{what} should be {size} bytes, not all zero; got {len(raw)} bytes.")
    return binascii.hexlify(raw).decode()


def span_record(span: ProtoSpan, where: str) -> tuple[str, SpanRecord]:
    """(MLflow trace id, SpanRecord) of one OTLP span."""
    otel_trace_id = _hex_id(span.trace_id, 16, f"{where}: the trace id")
    span_id = _hex_id(span.span_id, 8, f"{where}: the span id")
    parent_id = (
        _hex_id(span.parent_span_id, 8, f"{where}: the parent span id")
        if (span.parent_span_id)
        else None
    )
    raw_attributes = key_values(span.attributes)
    trace_id = decode_attribute_value(raw_attributes.get(ATTR_TRACE_REQUEST_ID))
    if not isinstance(trace_id, str) or not trace_id.strip():
        trace_id = f"tr-{otel_trace_id}"
    if len(trace_id) > TRACE_ID_MAX_LENGTH:
        raise OtlpError(f"{where}: {ATTR_TRACE_REQUEST_ID} is longer than {TRACE_ID_MAX_LENGTH}.")
    if not span.start_time_unix_nano:
        raise OtlpError(f"{where} ({span.name!r}) has no start time.")
    events = [
        SpanEvent(
            name=_text(event.name),
            time_unix_nano=event.time_unix_nano or None,
            attributes=key_values(event.attributes),
        )
        for event in span.events
    ]
    try:
        record = SpanRecord.from_attributes(
            span_id=span_id,
            parent_id=parent_id,
            name=_text(span.name),
            start_time_ns=span.start_time_unix_nano,
            end_time_ns=span.end_time_unix_nano or None,
            attributes=raw_attributes,
            status_code=span.status.code,
            status_message=_text(span.status.message),
            events=events,
        )
    except ValidationError as exc:
        raise OtlpError(f"{where}: {' '.join(exc.messages)}") from None
    return trace_id, apply_conventions(record, raw_attributes)


def resource_tags(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Resource attributes (``service.name``, …) as trace tags, as MLflow's server keeps them;
    the SDK's own (``telemetry.sdk.*``) and MLflow's reserved ``mlflow.*`` keys are left out."""
    tags = {}
    for key, value in attributes.items():
        if key.startswith(("telemetry.sdk.", "mlflow.")) or value is None:
            continue
        tags[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return tags


def span_batches(request: ExportTraceServiceRequest) -> list[SpanBatch]:
    """The request's spans grouped by MLflow trace id, in order of first appearance."""
    batches: dict[str, tuple[list[SpanRecord], dict[str, str]]] = {}
    for r, resource_spans in enumerate(request.resource_spans):
        tags = resource_tags(key_values(resource_spans.resource.attributes))
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for n, span in enumerate(scope_spans.spans):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                trace_id, record = span_record(span, where)
                spans, trace_tags = batches.setdefault(trace_id, ([], {}))
                spans.append(record)
                for key, value in tags.items():
                    trace_tags.setdefault(key, value)
    return [
        SpanBatch(trace_id=trace_id, spans=spans, tags=tags)
        for trace_id, (spans, tags) in batches.items()
    ]
