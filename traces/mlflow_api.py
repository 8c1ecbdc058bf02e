"""MLflow's REST JSON shapes: our models out (`experiment_json`, `trace_info_json`, `trace_json`,
`assessment_json`), MLflow's request bodies in (`parse_assessment`, `parse_trace_info`).

The shapes are those of MLflow's protobuf messages written with ``preserving_proto_field_name``
(snake_case), as MLflow's server writes them: ``mlflow.Experiment``, ``mlflow.TraceInfoV3``,
``mlflow.Trace`` (spans as OpenTelemetry ``Span`` messages: ids base64, attribute values
JSON-encoded strings), ``mlflow.assessments.Assessment``. Times are RFC 3339 (protobuf
``Timestamp``), durations ``"1.250s"``. Expectation values that are lists or objects travel as
``serialized_value`` (JSON text), as the MLflow SDK writes and expects them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError

from traces import services
from traces.ingest.records import (
    ASSESSMENT_ID_MAX_LENGTH,
    ATTR_INPUTS,
    ATTR_OUTPUTS,
    ATTR_SPAN_TYPE,
    METADATA_TOKEN_USAGE,
    TraceRecord,
    loads_strict,
)
from traces.mlflow_json import TraceFileError, parse_duration_ms, parse_timestamp
from traces.models import Assessment, Experiment, Span, Trace

TAG_SPANS_LOCATION = "mlflow.trace.spansLocation"
SPANS_IN_TRACKING_STORE = "TRACKING_STORE"
ATTR_TRACE_REQUEST_ID = "mlflow.traceRequestId"
JSON_FORMAT = "JSON_FORMAT"
_TRACE_ID_HEX = re.compile(r"^tr-([0-9a-f]{32})$")


class ApiError(Exception):
    """A request the API refuses: MLflow error code, message, and optionally the HTTP status."""

    def __init__(self, error_code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.status = status


def invalid(message: str) -> ApiError:
    return ApiError("INVALID_PARAMETER_VALUE", message)


def not_found(message: str) -> ApiError:
    return ApiError("RESOURCE_DOES_NOT_EXIST", message)


# --- scalars --------------------------------------------------------------------------------------


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def timestamp(moment: datetime) -> str:
    """Protobuf Timestamp JSON: UTC, 'Z', 0, 3 or 6 fractional digits."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        fraction = f"{moment.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + "Z"


def duration(milliseconds: int) -> str:
    """Protobuf Duration JSON."""
    seconds, rest = divmod(milliseconds, 1000)
    return f"{seconds}.{rest:03d}s" if rest else f"{seconds}s"


def _string_map(values: Mapping[str, Any]) -> dict[str, str]:
    """MLflow's map<string, string>: non-text values as JSON."""
    return {
        str(key): value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for key, value in values.items()
    }


# --- out ------------------------------------------------------------------------------------------


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": "",
        "lifecycle_stage": experiment.lifecycle_stage,
        "last_update_time": millis(experiment.last_update_time),
        "creation_time": millis(experiment.creation_time),
        "tags": [{"key": k, "value": v} for k, v in _string_map(experiment.tags).items()],
    }


def assessment_json(assessment: Assessment, trace_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "assessment_id": assessment.assessment_id,
        "assessment_name": assessment.name,
        "trace_id": trace_id,
        "source": {"source_type": assessment.source_type, "source_id": assessment.source_id},
        "create_time": timestamp(assessment.create_time),
        "last_update_time": timestamp(assessment.last_update_time),
        "valid": assessment.valid,
    }
    if assessment.span_id:
        data["span_id"] = assessment.span_id
    if assessment.is_feedback:
        feedback: dict[str, Any] = {}
        if assessment.value is not None:
            feedback["value"] = assessment.value
        if assessment.has_error:
            feedback["error"] = {
                "error_code": assessment.error_code,
                "error_message": assessment.error_message,
                "stack_trace": assessment.stack_trace,
            }
        data["feedback"] = feedback
    elif isinstance(assessment.value, list | dict):
        data["expectation"] = {
            "serialized_value": {
                "serialization_format": JSON_FORMAT,
                "value": json.dumps(assessment.value, ensure_ascii=False),
            }
        }
    else:
        data["expectation"] = {"value": assessment.value}
    if assessment.rationale:
        data["rationale"] = assessment.rationale
    if assessment.metadata:
        data["metadata"] = _string_map(assessment.metadata)
    if assessment.overrides_id is not None:
        data["overrides"] = _overridden_id(assessment)
    return data


def _overridden_id(assessment: Assessment) -> str:
    """The replaced assessment's id (read from the prefetched trace assessments when there)."""
    cache = getattr(assessment, "_assessment_ids", None)
    if cache is not None and assessment.overrides_id in cache:
        return cache[assessment.overrides_id]
    return assessment.overrides.assessment_id  # type: ignore[union-attr]


def trace_info_json(trace: Trace, assessments: Iterable[Assessment] | None = None) -> dict:
    """TraceInfoV3. `assessments`: the trace's assessments (all of them, history included, as
    MLflow returns them); None reads them."""
    if assessments is None:
        assessments = trace.assessments.all()
    assessments = list(assessments)
    ids = {a.pk: a.assessment_id for a in assessments}
    for assessment in assessments:
        assessment._assessment_ids = ids  # type: ignore[attr-defined]
    metadata = _string_map(trace.trace_metadata)
    if METADATA_TOKEN_USAGE not in metadata and trace.total_tokens is not None:
        metadata[METADATA_TOKEN_USAGE] = json.dumps(
            {
                "input_tokens": trace.input_tokens or 0,
                "output_tokens": trace.output_tokens or 0,
                "total_tokens": trace.total_tokens,
            }
        )
    info: dict[str, Any] = {
        "trace_id": trace.trace_id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": str(trace.experiment_id)},
        },
        "request_preview": trace.request_preview,
        "response_preview": trace.response_preview,
        "request_time": timestamp(trace.request_time),
        "state": trace.state,
        "trace_metadata": metadata,
        "assessments": [assessment_json(a, trace.trace_id) for a in assessments],
        # Spans live in this server's database: the SDK reads them back with GetTrace /
        # BatchGetTraces and never looks for an artifact store.
        "tags": {**_string_map(trace.tags), TAG_SPANS_LOCATION: SPANS_IN_TRACKING_STORE},
    }
    if trace.client_request_id:
        info["client_request_id"] = trace.client_request_id
    if trace.execution_duration is not None:
        info["execution_duration"] = duration(trace.execution_duration)
    return info


def otel_trace_id(trace_id: str) -> bytes:
    """The 16 OTLP trace id bytes: those of ``tr-<32 hex>``, else a stable hash of the id."""
    match = _TRACE_ID_HEX.match(trace_id)
    if match:
        return bytes.fromhex(match.group(1))
    return hashlib.md5(trace_id.encode(), usedforsecurity=False).digest()


def _any_value(value: Any) -> dict[str, Any]:
    """An OTLP AnyValue holding `value` as it is (the SDK JSON-encodes attributes itself)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": value}
    if isinstance(value, float):
        return {"double_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, list | tuple):
        return {"array_value": {"values": [_any_value(item) for item in value]}}
    if isinstance(value, dict):
        return {
            "kvlist_value": {
                "values": [{"key": str(k), "value": _any_value(v)} for k, v in value.items()]
            }
        }
    return {"string_value": str(value)}


def _span_id_b64(span_id: str) -> str:
    try:
        raw = bytes.fromhex(span_id)
    except ValueError:
        raw = hashlib.md5(span_id.encode(), usedforsecurity=False).digest()[:8]
    return base64.b64encode(raw).decode()


_STATUS = {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR", "UNSET": "STATUS_CODE_UNSET"}


def span_json(span: Span, trace_id: str, trace_id_b64: str) -> dict[str, Any]:
    """An OpenTelemetry Span message as MLflow's GetTrace returns it."""
    attributes = {
        **span.attributes,
        ATTR_TRACE_REQUEST_ID: trace_id,
        ATTR_SPAN_TYPE: span.span_type,
    }
    if span.inputs is not None:
        attributes[ATTR_INPUTS] = span.inputs
    if span.outputs is not None:
        attributes[ATTR_OUTPUTS] = span.outputs
    data: dict[str, Any] = {
        "trace_id": trace_id_b64,
        "span_id": _span_id_b64(span.span_id),
        "name": span.name,
        "kind": "SPAN_KIND_INTERNAL",
        "start_time_unix_nano": span.start_time_ns,
        "attributes": [{"key": k, "value": _any_value(v)} for k, v in attributes.items()],
        "events": [
            {
                "name": event.get("name") or "",
                "time_unix_nano": event.get("time_unix_nano") or 0,
                "attributes": [
                    {"key": k, "value": _any_value(v)}
                    for k, v in (event.get("attributes") or {}).items()
                ],
            }
            for event in span.events
            if isinstance(event, dict)
        ],
        "status": {"code": _STATUS.get(span.status_code, "STATUS_CODE_UNSET")},
    }
    if span.status_message:
        data["status"]["message"] = span.status_message
    if span.parent_id:
        data["parent_span_id"] = _span_id_b64(span.parent_id)
    if span.end_time_ns is not None:
        data["end_time_unix_nano"] = span.end_time_ns
    return data


def trace_json(trace: Trace, spans: Iterable[Span], assessments: Iterable[Assessment]) -> dict:
    """mlflow.Trace: info and spans."""
    trace_id_b64 = base64.b64encode(otel_trace_id(trace.trace_id)).decode()
    return {
        "trace_info": trace_info_json(trace, assessments),
        "spans": [span_json(span, trace.trace_id, trace_id_b64) for span in spans],
    }


# --- in -------------------------------------------------------------------------------------------


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} should be an object.")
    return value


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(f"{what} should be a string.")
    return value


def _protobuf_number(value: Any) -> Any:
    """google.protobuf.Value numbers are doubles (the SDK sends 3 as 3.0): whole numbers come
    back as integers, in lists and objects too."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_protobuf_number(item) for item in value]
    if isinstance(value, dict):
        return {key: _protobuf_number(item) for key, item in value.items()}
    return value


def parse_time(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_timestamp(value, what)
    except TraceFileError as exc:
        raise invalid(str(exc)) from None


_SOURCE_TYPES = {"AI_JUDGE": "LLM_JUDGE", "SOURCE_TYPE_UNSPECIFIED": "", "": ""}


def _source(data: Any) -> services.Source | None:
    if data is None:
        return None
    data = _object(data, "assessment.source")
    source_type = _text(data.get("source_type"), "source.source_type").upper()
    source_type = _SOURCE_TYPES.get(source_type, source_type)
    if not source_type:
        return None
    try:
        return services.Source(
            source_type=source_type, source_id=_text(data.get("source_id"), "source.source_id")
        )
    except ValidationError as exc:
        raise invalid(" ".join(exc.messages)) from None


def parse_string_map(data: Any, what: str = "assessment.metadata") -> dict[str, str] | None:
    if data is None:
        return None
    data = _object(data, what)
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def _error(data: Any) -> services.AssessmentError | None:
    if data is None:
        return None
    data = _object(data, "feedback.error")
    return services.AssessmentError(
        error_code=_text(data.get("error_code"), "error.error_code"),
        error_message=_text(data.get("error_message"), "error.error_message"),
        stack_trace=_text(data.get("stack_trace"), "error.stack_trace"),
    )


def feedback_value(data: Any) -> services.FeedbackValue:
    data = _object(data, "assessment.feedback")
    return services.FeedbackValue(
        value=_protobuf_number(data.get("value")), error=_error(data.get("error"))
    )


def expectation_value(data: Any) -> services.ExpectationValue:
    data = _object(data, "assessment.expectation")
    if "serialized_value" in data:
        serialized = _object(data["serialized_value"], "expectation.serialized_value")
        fmt = serialized.get("serialization_format") or JSON_FORMAT
        if fmt != JSON_FORMAT:
            raise invalid(f"Unknown serialization format {fmt!r}: only JSON_FORMAT is supported.")
        try:
            value = loads_strict(_text(serialized.get("value"), "serialized_value.value"))
        except ValueError as exc:
            raise invalid(f"The expectation's serialized value is not JSON: {exc}.") from None
        return services.ExpectationValue(value=value)
    return services.ExpectationValue(value=_protobuf_number(data.get("value")))


def check_assessment_id(assessment_id: Any) -> str | None:
    if assessment_id in (None, ""):
        return None
    if not isinstance(assessment_id, str) or len(assessment_id) > ASSESSMENT_ID_MAX_LENGTH:
        raise invalid(f"An assessment id is text of at most {ASSESSMENT_ID_MAX_LENGTH} characters.")
    return assessment_id


def parse_assessment(
    data: Any, *, keep_id: bool = False
) -> services.Feedback | services.Expectation:
    """A Feedback or an Expectation from an ``mlflow.assessments.Assessment`` dict.

    `keep_id`: keep the client's assessment id, validity and overrides link as sent (traces
    logged with their assessments); otherwise this server assigns the id.
    """
    data = _object(data, "assessment")
    name = data.get("assessment_name", data.get("name"))
    common: dict[str, Any] = {
        "source": _source(data.get("source")),
        "rationale": _text(data.get("rationale"), "assessment.rationale") or None,
        "metadata": parse_string_map(data.get("metadata")),
        "span_id": _text(data.get("span_id"), "assessment.span_id") or None,
        "overrides": _text(data.get("overrides"), "assessment.overrides") or None,
        "create_time": parse_time(data.get("create_time"), "assessment.create_time"),
        "last_update_time": parse_time(data.get("last_update_time"), "assessment.last_update_time"),
    }
    if keep_id:
        common["assessment_id"] = check_assessment_id(data.get("assessment_id"))
        if isinstance(data.get("valid"), bool):
            common["valid"] = data["valid"]
    if "feedback" in data and "expectation" in data:
        raise invalid("An assessment is a feedback or an expectation, not both.")
    if "feedback" in data:
        value = feedback_value(data["feedback"])
        return services.Feedback(
            name=services.DEFAULT_FEEDBACK_NAME if name is None else name,
            value=value.value,
            error=value.error,
            **common,
        )
    if "expectation" in data:
        return services.Expectation(
            name=name, value=expectation_value(data["expectation"]).value, **common
        )
    raise invalid("The assessment needs a feedback or an expectation.")


def parse_trace_info(data: Any) -> tuple[str, TraceRecord]:
    """(experiment id, TraceRecord) from a TraceInfoV3 dict (StartTraceV3)."""
    info = _object(data, "trace.trace_info")
    location = _object(info.get("trace_location") or {}, "trace_info.trace_location")
    experiment = _object(location.get("mlflow_experiment") or {}, "mlflow_experiment")
    experiment_id = _text(experiment.get("experiment_id"), "experiment_id")
    if not experiment_id:
        raise invalid("trace_info.trace_location.mlflow_experiment.experiment_id is required.")
    trace_id = _text(info.get("trace_id"), "trace_info.trace_id")
    if not trace_id:
        raise invalid("trace_info.trace_id is required.")
    raw_duration = info.get("execution_duration")
    try:
        duration_ms = (
            parse_duration_ms(raw_duration, "trace_info.execution_duration")
            if raw_duration not in (None, "")
            else None
        )
    except TraceFileError as exc:
        raise invalid(str(exc)) from None
    assessments = info.get("assessments") or []
    if not isinstance(assessments, list):
        raise invalid("trace_info.assessments should be a list.")
    state = _text(info.get("state"), "trace_info.state") or None
    tags = parse_string_map(info.get("tags"), "trace_info.tags") or {}
    return experiment_id, TraceRecord(
        trace_id=trace_id,
        request_time=parse_time(info.get("request_time"), "trace_info.request_time"),
        execution_duration_ms=duration_ms,
        state=state,
        request_preview=_text(info.get("request_preview"), "trace_info.request_preview") or None,
        response_preview=_text(info.get("response_preview"), "trace_info.response_preview") or None,
        client_request_id=_text(info.get("client_request_id"), "trace_info.client_request_id"),
        trace_metadata=parse_string_map(info.get("trace_metadata"), "trace_info.trace_metadata")
        or {},
        tags={k: v for k, v in tags.items() if k != TAG_SPANS_LOCATION},
        assessments=[parse_assessment(item, keep_id=True) for item in assessments],
    )
