"""Import the trace JSON that MLflow writes (`mlflow.entities.Trace.to_json()`).

One file holds one trace, a JSON list of traces, or one trace per line (JSONL). A trace is
``{"info": …, "data": {"spans": […]}}``:

- ``info`` is a TraceInfoV3 dict: ``trace_id``, ``request_time`` (RFC 3339),
  ``execution_duration_ms`` (or the protobuf form ``execution_duration: "0.123s"``), ``state``,
  ``request_preview``, ``response_preview``, ``client_request_id``, ``trace_metadata``, ``tags``,
  ``assessments``. MLflow 2 files (``request_id``, ``timestamp_ms``, ``execution_time_ms``,
  ``status``, ``request_metadata``) are read too.
- ``data.spans`` are OpenTelemetry-style dicts whose ``span_id`` / ``parent_span_id`` are
  base64 of the 8 id bytes (turned into 16 hex digits here), whose status codes are
  ``STATUS_CODE_*`` and whose attribute values are JSON inside strings. MLflow 2 spans
  (``context.span_id`` = ``0x…`` hex) are read too.
- assessments name spans by hex id already; expectation values are either ``{"value": …}`` or
  ``{"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "<json>"}}``.

`import_trace_file` takes the bytes (or a file object) of one file and imports it in one
transaction: a bad file is reported with its problem and leaves nothing behind. The management
command `import_traces` and the upload page both use it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from traces import services
from traces.ingest.bulk import ingest_traces
from traces.ingest.records import SpanEvent, SpanRecord, TraceRecord, loads_strict, strip_nul
from traces.models import Experiment, Trace

TRACE_FILE_SUFFIXES = (".json", ".jsonl")
# Traces written per bulk batch inside a file's transaction (progress is reported per batch).
IMPORT_CHUNK_SIZE = 200

_HEX_SPAN_ID = re.compile(r"^(?:0x)?[0-9a-fA-F]{16}$")
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)s\s*$")


class TraceFileError(ValueError):
    """The file is not MLflow trace JSON; the message says where and why."""


# --- reading a file ---------------------------------------------------------------------------


def _text(data: bytes | str | IO[bytes] | IO[str]) -> str:
    if hasattr(data, "read"):
        data = data.read()
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TraceFileError(
                f"the file is not UTF-8 text (byte {exc.start} cannot be decoded)."
            ) from None
    return data


def _documents(text: str, *, jsonl: bool) -> Iterator[tuple[str, Any]]:
    """(where, parsed JSON) for each trace document of the file."""
    if not jsonl:
        try:
            document = loads_strict(text)
        except ValueError as exc:
            # `{…}\n{…}` is JSONL whatever the file is called.
            if not (getattr(exc, "msg", "") == "Extra data" and text.lstrip().startswith("{")):
                raise TraceFileError(f"this is not valid JSON: {exc}.") from None
        else:
            if isinstance(document, list):
                for index, item in enumerate(document, start=1):
                    yield f"item {index} of the list", item
            else:
                yield "", document
            return
    # Only "\n" ends a line: str.splitlines() would also split at U+2028 and friends, which
    # JSON allows unescaped inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", loads_strict(line)
        except ValueError as exc:
            raise TraceFileError(f"line {number} is not valid JSON: {exc}.") from None


def _load(data: bytes | str | IO[bytes] | IO[str], name: str) -> tuple[list[_Document], bool]:
    """The trace documents of a file, and whether they need NUL characters replaced."""
    text = _text(data)
    if not text.strip():
        raise TraceFileError("the file is empty.")
    documents = [
        _Document(where, raw)
        for where, raw in _documents(text, jsonl=name.lower().endswith(".jsonl"))
    ]
    if not documents:
        raise TraceFileError("the file holds no traces.")
    return documents, "\\u0000" in text


@dataclass(frozen=True)
class _Document:
    where: str  # "line 3", "item 2 of the list", or "" for a file holding one trace
    raw: Any

    @property
    def trace_id(self) -> str | None:
        """The trace id, read without parsing the trace (None when not where it should be)."""
        info = self.raw.get("info") if isinstance(self.raw, dict) else None
        if not isinstance(info, dict):
            return None
        trace_id = info.get("trace_id", info.get("request_id"))
        return trace_id if isinstance(trace_id, str) else None

    def parse(self, *, scrub: bool, warnings: list[str] | None) -> TraceRecord:
        try:
            record = parse_trace(self.raw, warnings=warnings)
        except (TraceFileError, ValidationError) as exc:
            problem = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise TraceFileError(f"{self.where}: {problem}" if self.where else problem) from None
        return without_nul_characters(record) if scrub else record


def read_trace_file(
    data: bytes | str | IO[bytes] | IO[str],
    *,
    name: str = "",
    warnings: list[str] | None = None,
) -> list[TraceRecord]:
    """The traces of one file: a trace, a JSON list of traces, or JSONL (by content or by a
    ``.jsonl`` name). Raises `TraceFileError` saying where the first problem is."""
    documents, scrub = _load(data, name)
    return [document.parse(scrub=scrub, warnings=warnings) for document in documents]


# --- one trace -----------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:6])
        return f"an object with keys {keys}" if keys else "an empty object"
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TraceFileError(f"{what} should be an object; it is {_describe(value)}.")
    return value


def _string(value: Any, what: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise TraceFileError(f"{what} should be a non-empty string; it is {_describe(value)}.")
    return value


def _integer(value: Any, what: str) -> int:
    """Integers, also as the strings protobuf's JSON uses for 64-bit numbers."""
    if isinstance(value, bool):
        raise TraceFileError(f"{what} should be an integer; it is a boolean.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise TraceFileError(f"{what} should be an integer; it is {value!r:.60}.")


def _string_map(value: Any, what: str) -> dict[str, str]:
    """Metadata and tags: an object of strings, or MLflow 2's list of {key, value}."""
    if value is None:
        return {}
    if isinstance(value, list):
        try:
            value = {item["key"]: item.get("value", "") for item in value}
        except (TypeError, KeyError):
            raise TraceFileError(f"{what} should be an object of strings.") from None
    value = _object(value, what)
    return {str(k): v if isinstance(v, str) else _json_text(v) for k, v in value.items()}


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def parse_timestamp(value: Any, what: str) -> datetime:
    """RFC 3339 text (MLflow 3, protobuf JSON) or milliseconds since the epoch (MLflow 2)."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        text = value.strip()
        # Python keeps microseconds: drop the digits beyond them (protobuf writes nanoseconds).
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise TraceFileError(f"{what} is not an RFC 3339 time: {value!r:.60}.") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    milliseconds = _integer(value, what)
    try:
        return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise TraceFileError(f"{what} is out of range: {milliseconds}.") from None


def parse_duration_ms(value: Any, what: str) -> int:
    """``"0.123s"`` (protobuf Duration JSON) or an integer of milliseconds."""
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return round(float(match.group(1)) * 1000)
    return _integer(value, what)


def span_id_to_hex(value: Any, what: str) -> str:
    """16 hex digits from the base64 that MLflow 3's `to_json()` writes, or from hex (MLflow 2)."""
    value = _string(value, what)
    if _HEX_SPAN_ID.match(value):
        return value.lower().removeprefix("0x")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TraceFileError(f"{what} {value!r:.40} is neither base64 nor hex.") from None
    if len(raw) != 8:
        raise TraceFileError(f"{what} {value!r:.40} is not an 8-byte span id.")
    return raw.hex()


def _span(data: Any, index: int) -> SpanRecord:
    span = _object(data, f"span {index}")
    if "context" in span:
        return _span_v2(span, index)
    name = span.get("name")
    what = f"span {index} ({name!r})" if isinstance(name, str) else f"span {index}"
    status = _object(span.get("status") or {}, f"{what} status")
    start = _integer(span.get("start_time_unix_nano"), f"{what} start_time_unix_nano")
    end = span.get("end_time_unix_nano")
    return SpanRecord.from_attributes(
        span_id=span_id_to_hex(span.get("span_id"), f"{what} span_id"),
        parent_id=(
            span_id_to_hex(span["parent_span_id"], f"{what} parent_span_id")
            if span.get("parent_span_id")
            else None
        ),
        name=_string(name, f"{what} name", required=False),
        start_time_ns=start,
        end_time_ns=_integer(end, f"{what} end_time_unix_nano") if end else None,
        attributes=_object(span.get("attributes") or {}, f"{what} attributes"),
        status_code=status.get("code"),
        status_message=_string(status.get("message"), f"{what} status message", required=False),
        events=_events(span.get("events"), what, time_key="time_unix_nano"),
    )


def _span_v2(span: dict[str, Any], index: int) -> SpanRecord:
    name = span.get("name")
    what = f"span {index} ({name!r})" if isinstance(name, str) else f"span {index}"
    context = _object(span.get("context"), f"{what} context")
    end = span.get("end_time")
    return SpanRecord.from_attributes(
        span_id=span_id_to_hex(context.get("span_id"), f"{what} span_id"),
        parent_id=(
            span_id_to_hex(span["parent_id"], f"{what} parent_id")
            if span.get("parent_id")
            else None
        ),
        name=_string(name, f"{what} name", required=False),
        start_time_ns=_integer(span.get("start_time"), f"{what} start_time"),
        end_time_ns=_integer(end, f"{what} end_time") if end else None,
        attributes=_object(span.get("attributes") or {}, f"{what} attributes"),
        status_code=span.get("status_code"),
        status_message=_string(span.get("status_message"), f"{what} status", required=False),
        events=_events(span.get("events"), what, time_key="timestamp"),
    )


def _events(value: Any, what: str, *, time_key: str) -> list[SpanEvent]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TraceFileError(f"{what} events should be a list; it is {_describe(value)}.")
    events = []
    for number, item in enumerate(value, start=1):
        event = _object(item, f"{what} event {number}")
        time = event.get(time_key)
        events.append(
            SpanEvent(
                name=_string(event.get("name"), f"{what} event {number} name", required=False),
                time_unix_nano=_integer(time, f"{what} event {number} time") if time else None,
                attributes=_object(event.get("attributes") or {}, f"{what} event attributes"),
            )
        )
    return events


_SOURCE_TYPES = {"AI_JUDGE": "LLM_JUDGE", "SOURCE_TYPE_UNSPECIFIED": None, "": None}


def _assessment(
    data: Any, index: int, overridden: set[str]
) -> services.Feedback | services.Expectation | None:
    item = _object(data, f"assessment {index}")
    assessment_id = item.get("assessment_id") or None
    what = f"assessment {assessment_id or index}"
    if assessment_id is not None:
        _string(assessment_id, f"{what} assessment_id")
    source = None
    if raw_source := item.get("source"):
        raw_source = _object(raw_source, f"{what} source")
        source_type = str(raw_source.get("source_type") or "").upper()
        source_type = _SOURCE_TYPES.get(source_type, source_type)
        if source_type:
            source = services.Source(
                source_type=source_type,
                source_id=_string(raw_source.get("source_id"), f"{what} source_id", required=False),
            )
    create_time = _time_field(item, "create_time", what)
    common: dict[str, Any] = {
        "name": item.get("assessment_name", item.get("name")),
        "source": source,
        "rationale": _string(item.get("rationale"), f"{what} rationale", required=False) or None,
        "metadata": _string_map(item.get("metadata"), f"{what} metadata") or None,
        "span_id": _string(item.get("span_id"), f"{what} span_id", required=False) or None,
        "overrides": _string(item.get("overrides"), f"{what} overrides", required=False) or None,
        "create_time": create_time,
        "last_update_time": _time_field(item, "last_update_time", what) or create_time,
        "assessment_id": assessment_id,
    }
    valid = item.get("valid")
    if valid is None:  # not written (expectations, MLflow 2): valid unless overridden
        valid = assessment_id not in overridden
    elif not isinstance(valid, bool):
        raise TraceFileError(f"{what} valid should be true or false.")
    common["valid"] = valid
    if common["span_id"]:
        common["span_id"] = common["span_id"].lower()
    if "feedback" in item:
        feedback = _object(item["feedback"], f"{what} feedback")
        error = None
        if raw_error := feedback.get("error"):
            raw_error = _object(raw_error, f"{what} feedback error")
            error = services.AssessmentError(
                error_code=_string(raw_error.get("error_code"), f"{what} error_code"),
                error_message=_string(raw_error.get("error_message"), "", required=False),
                stack_trace=_string(raw_error.get("stack_trace"), "", required=False),
            )
        return services.Feedback(value=feedback.get("value"), error=error, **common)
    if "expectation" in item:
        expectation = _object(item["expectation"], f"{what} expectation")
        if "serialized_value" in expectation:
            serialized = _object(expectation["serialized_value"], f"{what} serialized_value")
            fmt = serialized.get("serialization_format", "JSON_FORMAT")
            if fmt != "JSON_FORMAT":
                raise TraceFileError(
                    f"{what}: unknown serialization format {fmt!r} (only JSON_FORMAT is)."
                )
            try:
                value = loads_strict(_string(serialized.get("value"), f"{what} value"))
            except ValueError as exc:
                raise TraceFileError(f"{what}: the serialized value is not JSON: {exc}.") from None
        else:
            value = expectation.get("value")
        return services.Expectation(value=value, **common)
    if "issue" in item:
        return None  # an issue reference links a trace to a discovered issue: not a label
    raise TraceFileError(f"{what} has neither a feedback nor an expectation.")


def _time_field(item: dict[str, Any], key: str, what: str) -> datetime | None:
    if item.get(key) is not None:
        return parse_timestamp(item[key], f"{what} {key}")
    if item.get(f"{key}_ms") is not None:
        return parse_timestamp(_integer(item[f"{key}_ms"], f"{what} {key}_ms"), f"{what} {key}")
    return None


def parse_trace(document: Any, *, warnings: list[str] | None = None) -> TraceRecord:
    """A `TraceRecord` from one trace of `Trace.to_json()` (MLflow 3, or MLflow 2)."""
    if not isinstance(document, dict) or not {"info", "data"} <= document.keys():
        raise TraceFileError(
            'expected a trace: an object with "info" and "data", as MLflow\'s Trace.to_json() '
            f"writes; found {_describe(document)}."
        )
    info = _object(document["info"], "info")
    data = _object(document["data"], "data")
    v2 = "request_id" in info and "trace_id" not in info
    trace_id = _string(info.get("request_id" if v2 else "trace_id"), "info.trace_id")
    raw_spans = data.get("spans") or []
    if not isinstance(raw_spans, list):
        raise TraceFileError(f"data.spans should be a list; it is {_describe(raw_spans)}.")
    spans = [_span(span, index) for index, span in enumerate(raw_spans, start=1)]

    raw_assessments = info.get("assessments") or []
    if not isinstance(raw_assessments, list):
        raise TraceFileError("info.assessments should be a list.")
    overridden = {
        a["overrides"] for a in raw_assessments if isinstance(a, dict) and a.get("overrides")
    }
    assessments = []
    for index, item in enumerate(raw_assessments, start=1):
        assessment = _assessment(item, index, overridden)
        if assessment is None:
            if warnings is not None:
                warnings.append(f"Trace {trace_id}: skipped issue reference {index}.")
            continue
        assessments.append(assessment)

    if v2:
        request_time = info.get("timestamp_ms")
        duration = info.get("execution_time_ms")
        state = info.get("status")
        metadata = info.get("request_metadata")
        request_preview = data.get("request")
        response_preview = data.get("response")
    else:
        request_time = info.get("request_time")
        duration = info.get("execution_duration_ms", info.get("execution_duration"))
        state = info.get("state")
        metadata = info.get("trace_metadata")
        request_preview = info.get("request_preview")
        response_preview = info.get("response_preview")
    return TraceRecord(
        trace_id=trace_id,
        spans=spans,
        assessments=assessments,
        request_time=(parse_timestamp(request_time, "info.request_time") if request_time else None),
        execution_duration_ms=(
            parse_duration_ms(duration, "info.execution_duration") if duration is not None else None
        ),
        state=_string(state, "info.state") if state else None,
        request_preview=_optional_text(request_preview, "info.request_preview"),
        response_preview=_optional_text(response_preview, "info.response_preview"),
        client_request_id=_string(
            info.get("client_request_id"), "info.client_request_id", required=False
        ),
        trace_metadata=_string_map(metadata, "info.trace_metadata"),
        tags=_string_map(info.get("tags"), "info.tags"),
    )


def _optional_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    return _string(value, what, required=False)


# --- NUL characters ------------------------------------------------------------------------------


_strip_nul = strip_nul


def without_nul_characters(record: TraceRecord) -> TraceRecord:
    spans = [
        replace(
            span,
            name=_strip_nul(span.name),
            status_message=_strip_nul(span.status_message),
            inputs=_strip_nul(span.inputs),
            outputs=_strip_nul(span.outputs),
            attributes=_strip_nul(span.attributes),
            events=tuple(
                replace(e, name=_strip_nul(e.name), attributes=_strip_nul(e.attributes))
                for e in span.events
            ),
        )
        for span in record.spans
    ]
    assessments = [
        replace(
            a,
            name=_strip_nul(a.name),
            value=_strip_nul(a.value),
            rationale=_strip_nul(a.rationale),
            metadata=_strip_nul(a.metadata),
        )
        for a in record.assessments
    ]
    return replace(
        record,
        spans=spans,
        assessments=assessments,
        request_preview=_strip_nul(record.request_preview),
        response_preview=_strip_nul(record.response_preview),
        client_request_id=_strip_nul(record.client_request_id),
        trace_metadata=_strip_nul(record.trace_metadata),
        tags=_strip_nul(record.tags),
    )


# --- importing ------------------------------------------------------------------------------------


@dataclass
class FileResult:
    """The outcome of importing one file."""

    name: str
    imported: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    spans: int = 0
    assessments: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


ProgressCallback = Callable[[int, int], None]


def import_trace_file(
    *,
    experiment: Experiment,
    data: bytes | str | IO[bytes] | IO[str],
    name: str,
    on_progress: ProgressCallback | None = None,
) -> FileResult:
    """Import one file of MLflow trace JSON into `experiment`, all or nothing.

    Traces already stored are skipped (`already_present`). Any problem (not JSON, not a trace,
    an invalid assessment, …) rolls the whole file back and is returned in `error`.
    `on_progress(done, total)` is called with trace counts as the file's batches are written.
    """
    result = FileResult(name=name)
    try:
        documents, scrub = _load(data, name)
        with transaction.atomic():
            for start in range(0, len(documents), IMPORT_CHUNK_SIZE):
                chunk = documents[start : start + IMPORT_CHUNK_SIZE]
                # Traces already stored are not even parsed: re-importing a folder is cheap.
                stored = set(
                    Trace.objects.filter(trace_id__in={d.trace_id for d in chunk} - {None})
                    .order_by()
                    .values_list("trace_id", flat=True)
                )
                records = []
                for document in chunk:
                    if document.trace_id in stored:
                        result.already_present.append(document.trace_id)
                    else:
                        records.append(document.parse(scrub=scrub, warnings=result.warnings))
                if records:
                    done = ingest_traces(experiment=experiment, traces=records)
                    result.imported += done.imported
                    result.already_present += done.already_present
                    result.spans += done.spans
                    result.assessments += done.assessments
                    result.warnings += done.warnings
                if on_progress is not None:
                    on_progress(start + len(chunk), len(documents))
    except TraceFileError as exc:
        return _failed(result, str(exc))
    except ValidationError as exc:
        return _failed(result, " ".join(exc.messages))
    except DatabaseError as exc:
        return _failed(result, f"the database refused the data: {exc}".strip())
    except RecursionError:
        return _failed(result, "its JSON nests too deeply to be read.")
    return result


def _failed(result: FileResult, message: str) -> FileResult:
    return FileResult(name=result.name, error=message, warnings=result.warnings)


def find_trace_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """The files to import: each file given, and the *.json / *.jsonl files under each folder
    (recursively, in name order, hidden ones left out). Paths that do not exist come back as
    failed results."""
    files: list[Path] = []
    missing: list[FileResult] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in TRACE_FILE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                missing.append(
                    FileResult(name=str(path), error="the folder has no .json or .jsonl files.")
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            missing.append(FileResult(name=str(path), error="no such file or folder."))
    return list(dict.fromkeys(files)), missing
