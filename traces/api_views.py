"""The HTTP API: OTLP/HTTP trace ingest and the MLflow-compatible REST subset.

Every view is token-authenticated (`accounts.api_auth.token_required`) and answers errors in
MLflow's format, ``{"error_code": …, "message": …}``, with MLflow's HTTP statuses. The routes
are in `traces.api_urls`; the JSON shapes in `traces.mlflow_api`; OTLP parsing in `traces.otlp`.
The assessment endpoints are `labeling.api`'s (an assessment may be a labeling answer); they use
the helpers here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from accounts.api_auth import ApiRequest, api_error, token_required
from traces import mlflow_api, otlp
from traces.ingest.incremental import ingest_spans, upsert_trace_info
from traces.ingest.records import loads_strict, strip_nul
from traces.mlflow_api import ApiError, invalid, not_found
from traces.models import (
    NAME_MAX_LENGTH,
    TAG_VALUE_MAX_LENGTH,
    Assessment,
    Experiment,
    LifecycleStage,
    Span,
    Trace,
)
from traces.trace_search import SearchError, filter_q, parse_filter, parse_order_by

# The MLflow server version this API answers to (`GET /version`). The SDK sends spans to
# /v1/traces only to servers of 3.4 or newer.
MLFLOW_COMPATIBLE_VERSION = "3.5.0"
SEARCH_DEFAULT_RESULTS = 100
SEARCH_MAX_RESULTS = 500
BATCH_GET_MAX_TRACES = 100
# A search's page_token holds an offset; a larger one is not one this server gave out (and would
# overflow the database's OFFSET).
MAX_OFFSET = 10**12
EXPERIMENT_HEADER = "x-mlflow-experiment-id"

View = Callable[..., HttpResponse]


def api_endpoint(*methods: str) -> Callable[[View], View]:
    """Token authentication, the allowed methods, and errors as MLflow error JSON."""

    def decorator(view: View) -> View:
        @token_required
        @wraps(view)
        def wrapper(request: ApiRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = api_error(
                    "BAD_REQUEST",
                    f"{request.method} is not allowed here; use {' or '.join(methods)}.",
                    status=405,
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return api_error(exc.error_code, exc.message, status=exc.status)
            except SearchError as exc:
                return api_error("INVALID_PARAMETER_VALUE", str(exc))
            except ValidationError as exc:
                return _validation_error(exc)

        return wrapper

    return decorator


def _validation_error(exc: ValidationError) -> JsonResponse:
    message = " ".join(exc.messages)
    codes = {error.code for error in exc.error_list} if hasattr(exc, "error_list") else set()
    if codes & NOT_FOUND_CODES:
        return api_error("RESOURCE_DOES_NOT_EXIST", message)
    if codes & {"already_exists"}:
        return api_error("RESOURCE_ALREADY_EXISTS", message)
    return api_error("INVALID_PARAMETER_VALUE", message)


# `ValidationError` codes that mean "no such thing" (RESOURCE_DOES_NOT_EXIST, 404).
NOT_FOUND_CODES = {
    "trace_not_found",
    "assessment_not_found",
    "dataset_not_found",
    "experiment_not_found",
    "not_found",
}


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object; INVALID_PARAMETER_VALUE (or 413) otherwise."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(
            "REQUEST_LIMIT_EXCEEDED",
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
            status=413,
        ) from None
    if not raw.strip():
        return {}
    try:
        data = loads_strict(raw)
    except ValueError as exc:
        raise invalid(f"The request body is not valid JSON: {str(exc).rstrip('.')}.") from None
    if not isinstance(data, dict):
        raise invalid("The request body should be a JSON object.")
    # PostgreSQL stores no U+0000: replaced, as the importers do.
    return strip_nul(data) if b"\\u0000" in raw else data


def ok(data: dict[str, Any] | None = None) -> JsonResponse:
    return JsonResponse(data or {})


def request_params(request: HttpRequest, *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """The request's fields: the query string of a GET (the MLflow SDK sends a GET's fields
    there; the names in `lists` may repeat), else the JSON body."""
    if request.method != "GET":
        return json_body(request)
    return {
        key: request.GET.getlist(key) if key in lists else request.GET.get(key)
        for key in request.GET
    }


def string_param(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"Missing value for required parameter '{name}'.")
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} should be a string, not {type(value).__name__}.")
    return value


def int_param(data: dict[str, Any], name: str, *, default: int, maximum: int) -> int:
    """A positive whole number of at most `maximum` (numbers may come as text, as protobuf
    JSON sends int64s); INVALID_PARAMETER_VALUE otherwise."""
    value = data.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise invalid(f"{name} must be between 1 and {maximum}.")
    return value


# --- lookups --------------------------------------------------------------------------------------


def _experiment_by_id(experiment_id: Any) -> Experiment:
    if not isinstance(experiment_id, str | int) or not str(experiment_id).strip().isdigit():
        raise invalid(f"Experiment id {experiment_id!r:.80} is not valid: ids are numbers.")
    experiment = Experiment.objects.filter(pk=int(experiment_id)).first()
    if experiment is None:
        raise not_found(f"No experiment with id {experiment_id} exists.")
    return experiment


def get_trace(trace_id: str) -> Trace:
    """The trace with MLflow id `trace_id`; RESOURCE_DOES_NOT_EXIST otherwise."""
    trace = Trace.objects.filter(trace_id=trace_id).first()
    if trace is None:
        raise not_found(f"Trace with ID {trace_id} is not found.")
    return trace


def _with_spans_and_assessments(traces: QuerySet[Trace]) -> QuerySet[Trace]:
    return traces.prefetch_related(
        Prefetch("spans", queryset=Span.objects.order_by("start_time_ns", "id")),
        Prefetch("assessments", queryset=Assessment.objects.order_by("create_time", "id")),
    )


# --- server ---------------------------------------------------------------------------------------


@login_not_required
@never_cache
def version(request: HttpRequest) -> HttpResponse:
    """`GET /version`: the MLflow server version this API is compatible with."""
    return HttpResponse(MLFLOW_COMPATIBLE_VERSION, content_type="text/plain")


@login_not_required
@csrf_exempt
def endpoint_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other `/api/…` path: MLflow's answer for an endpoint a server does not have."""
    return api_error(
        "ENDPOINT_NOT_FOUND",
        f"{request.method} {request.path} is not part of this server's MLflow-compatible API.",
    )


# --- OTLP -----------------------------------------------------------------------------------------


def _otlp_body(request: HttpRequest) -> bytes:
    limit = settings.OTLP_MAX_BODY_BYTES
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise otlp.OtlpError("The Content-Length header is not a number.") from None
    if length > limit:
        raise otlp.OtlpError(otlp.too_large(limit), status=413)
    if not length and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # WSGI servers hand Django no chunked body: refuse rather than store nothing.
        raise otlp.OtlpError(
            "Send the body with a Content-Length (chunked transfer encoding is not supported).",
            status=411,
        )
    body = request.read(limit + 1)
    if len(body) > limit:
        raise otlp.OtlpError(otlp.too_large(limit), status=413)
    return body


@api_endpoint("POST")
def otlp_traces(request: ApiRequest) -> HttpResponse:
    """`POST /v1/traces`: OTLP/HTTP spans (protobuf or JSON, optionally gzip) into the
    experiment named by the ``x-mlflow-experiment-id`` header. All or nothing."""
    content_type = request.headers.get("Content-Type", "")
    try:
        if otlp.media_type(content_type) not in (otlp.PROTOBUF, otlp.JSON):
            raise otlp.OtlpError(
                f"Unsupported Content-Type {content_type!r}: send {otlp.PROTOBUF} or {otlp.JSON}.",
                status=415,
            )
        experiment_id = request.headers.get(EXPERIMENT_HEADER, "").strip()
        if not experiment_id:
            raise otlp.OtlpError(
                f"Say which experiment the spans belong to in the {EXPERIMENT_HEADER} header "
                "(an experiment id, as mlflow.set_experiment returns it)."
            )
        experiment = Experiment.objects.filter(
            pk=int(experiment_id) if experiment_id.isdigit() else None
        ).first()
        if experiment is None:
            raise otlp.OtlpError(
                f"No experiment has the id {experiment_id[:80]!r} ({EXPERIMENT_HEADER} header)."
            )
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise otlp.OtlpError(f"Experiment {experiment.name!r} is deleted.")
        body = otlp.decode_body(
            _otlp_body(request),
            content_encoding=request.headers.get("Content-Encoding", ""),
            max_bytes=settings.OTLP_MAX_DECOMPRESSED_BYTES,
        )
        batches = otlp.span_batches(otlp.parse_request(body, content_type))
        ingest_spans(experiment=experiment, batches=batches)
    except otlp.OtlpError as exc:
        code = "REQUEST_LIMIT_EXCEEDED" if exc.status == 413 else "INVALID_PARAMETER_VALUE"
        return api_error(code, exc.message, status=exc.status)
    return HttpResponse(
        otlp.response_body(content_type),
        content_type=otlp.JSON if otlp.media_type(content_type) == otlp.JSON else otlp.PROTOBUF,
    )


# --- experiments ----------------------------------------------------------------------------------


@api_endpoint("GET")
def experiment_get_by_name(request: ApiRequest) -> JsonResponse:
    name = request.GET.get("experiment_name", "")
    if not name:
        raise invalid("experiment_name is required.")
    experiment = Experiment.objects.filter(name=name).first()
    if experiment is None:
        raise not_found(f"Could not find experiment with name '{name}'")
    return ok({"experiment": mlflow_api.experiment_json(experiment)})


@api_endpoint("GET")
def experiment_get(request: ApiRequest) -> JsonResponse:
    experiment = _experiment_by_id(request.GET.get("experiment_id"))
    return ok({"experiment": mlflow_api.experiment_json(experiment)})


@api_endpoint("POST")
def experiment_create(request: ApiRequest) -> JsonResponse:
    data = json_body(request)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("An experiment needs a name.")
    name = name.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise invalid(f"The experiment name is longer than {NAME_MAX_LENGTH} characters.")
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(
        isinstance(tag, dict) and isinstance(tag.get("key"), str) for tag in tags
    ):
        raise invalid("tags should be a list of {key, value} objects.")
    for tag in tags:
        if len(tag["key"]) > NAME_MAX_LENGTH:
            raise invalid(f"A tag key is longer than {NAME_MAX_LENGTH} characters.")
        _tag_value(str(tag.get("value", "")))
    with transaction.atomic():
        if Experiment.objects.filter(name=name).exists():
            raise ApiError("RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.")
        experiment = Experiment.objects.create(
            name=name, tags={tag["key"]: str(tag.get("value", "")) for tag in tags}
        )
    return ok({"experiment_id": experiment.experiment_id})


def _tag_value(value: str) -> str:
    if len(value) > TAG_VALUE_MAX_LENGTH:
        raise invalid(
            f"The tag value is {len(value):,} characters long; the limit is "
            f"{TAG_VALUE_MAX_LENGTH:,}."
        )
    return value


# --- traces ---------------------------------------------------------------------------------------


@api_endpoint("POST")
def trace_start(request: ApiRequest) -> JsonResponse:
    """StartTraceV3: the info of a finished trace (its spans come over OTLP, before or after)."""
    data = json_body(request)
    trace_data = data.get("trace")
    if not isinstance(trace_data, dict):
        raise invalid("The body needs a trace with its trace_info.")
    experiment_id, record = mlflow_api.parse_trace_info(trace_data.get("trace_info"))
    experiment = _experiment_by_id(experiment_id)
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise invalid(f"Experiment {experiment.name!r} is deleted.")
    trace, _ = upsert_trace_info(experiment=experiment, record=record)
    return ok({"trace": {"trace_info": mlflow_api.trace_info_json(trace)}})


@api_endpoint("GET")
def trace_info(request: ApiRequest, trace_id: str) -> JsonResponse:
    """GetTraceInfoV3."""
    trace = get_trace(trace_id)
    return ok({"trace": {"trace_info": mlflow_api.trace_info_json(trace)}})


@api_endpoint("GET")
def trace_get(request: ApiRequest) -> JsonResponse:
    """GetTrace: info, spans and assessments of one trace."""
    trace_id = request.GET.get("trace_id", "")
    if not trace_id:
        raise invalid("trace_id is required.")
    trace = _with_spans_and_assessments(Trace.objects.filter(trace_id=trace_id)).first()
    if trace is None:
        raise not_found(f"Trace with ID {trace_id} is not found.")
    return ok({"trace": mlflow_api.trace_json(trace, trace.spans.all(), trace.assessments.all())})


def _trace_ids(values: list[Any]) -> list[str]:
    if not all(isinstance(value, str) for value in values):
        raise invalid("trace_ids should be strings.")
    if len(values) > BATCH_GET_MAX_TRACES:
        raise invalid(f"Ask for at most {BATCH_GET_MAX_TRACES} traces at a time.")
    return values


@api_endpoint("GET")
def trace_batch_get(request: ApiRequest) -> JsonResponse:
    """BatchGetTraces: full traces; ids that name no trace are left out."""
    trace_ids = _trace_ids(request.GET.getlist("trace_ids"))
    traces = _with_spans_and_assessments(Trace.objects.filter(trace_id__in=trace_ids))
    by_id = {trace.trace_id: trace for trace in traces}
    return ok(
        {
            "traces": [
                mlflow_api.trace_json(trace, trace.spans.all(), trace.assessments.all())
                for trace_id in dict.fromkeys(trace_ids)
                if (trace := by_id.get(trace_id)) is not None
            ]
        }
    )


@api_endpoint("POST")
def trace_batch_get_infos(request: ApiRequest) -> JsonResponse:
    """BatchGetTraceInfos."""
    trace_ids = _trace_ids(json_body(request).get("trace_ids") or [])
    traces = Trace.objects.filter(trace_id__in=trace_ids).prefetch_related(
        Prefetch("assessments", queryset=Assessment.objects.order_by("create_time", "id"))
    )
    by_id = {trace.trace_id: trace for trace in traces}
    return ok(
        {
            "trace_infos": [
                mlflow_api.trace_info_json(trace, trace.assessments.all())
                for trace_id in dict.fromkeys(trace_ids)
                if (trace := by_id.get(trace_id)) is not None
            ]
        }
    )


def page_offset(token: Any) -> int:
    """The offset a page token this server gave out stands for (0 for none)."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = data["offset"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise invalid("The page_token is not one this server gave out.") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise invalid("The page_token is not one this server gave out.")
    return offset


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _experiment_ids(data: dict[str, Any]) -> list[int]:
    locations = data.get("locations")
    ids: list[Any] = []
    if isinstance(locations, list):
        for location in locations:
            experiment = location.get("mlflow_experiment") if isinstance(location, dict) else None
            if not isinstance(experiment, dict):
                raise invalid("Only MLflow experiment locations can be searched here.")
            ids.append(experiment.get("experiment_id"))
    elif locations is not None:
        raise invalid("locations should be a list.")
    experiment_ids = data.get("experiment_ids")  # SearchTraces (v2)
    if isinstance(experiment_ids, list):
        ids += experiment_ids
    if not ids:
        raise invalid("Name at least one experiment to search in.")
    for value in ids:
        if not isinstance(value, str | int) or not str(value).strip().isdigit():
            raise invalid(f"Experiment id {value!r:.80} is not valid: ids are numbers.")
    return [int(value) for value in ids]


@api_endpoint("POST")
def trace_search(request: ApiRequest) -> JsonResponse:
    """SearchTracesV3: trace infos of experiments, filtered, ordered, paginated."""
    data = json_body(request)
    experiment_ids = _experiment_ids(data)
    max_results = data.get("max_results", SEARCH_DEFAULT_RESULTS)
    if isinstance(max_results, str) and max_results.isdigit():
        max_results = int(max_results)
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise invalid("max_results should be a positive number.")
    max_results = min(max_results, SEARCH_MAX_RESULTS)
    filter_string = data.get("filter")
    if filter_string is not None and not isinstance(filter_string, str):
        raise invalid("filter should be a string.")
    order_by = data.get("order_by") or []
    if isinstance(order_by, str):
        order_by = [order_by]
    if not isinstance(order_by, list):
        raise invalid("order_by should be a list of strings.")
    offset = page_offset(data.get("page_token"))
    traces = list(
        Trace.objects.filter(experiment_id__in=experiment_ids)
        .filter(filter_q(parse_filter(filter_string)))
        .order_by(*parse_order_by(order_by))
        .prefetch_related(
            Prefetch("assessments", queryset=Assessment.objects.order_by("create_time", "id"))
        )[offset : offset + max_results + 1]
    )
    response: dict[str, Any] = {
        "traces": [
            mlflow_api.trace_info_json(trace, trace.assessments.all())
            for trace in traces[:max_results]
        ]
    }
    if len(traces) > max_results:
        response["next_page_token"] = page_token(offset + max_results)
    return ok(response)


@api_endpoint("PATCH", "DELETE")
def trace_tags(request: ApiRequest, trace_id: str) -> JsonResponse:
    """SetTraceTag (PATCH {key, value}) and DeleteTraceTag (DELETE {key})."""
    data = json_body(request)
    key = data.get("key")
    if not isinstance(key, str) or not key:
        raise invalid("key is required.")
    if len(key) > NAME_MAX_LENGTH:
        raise invalid(
            f"The tag key is {len(key):,} characters long; the limit is {NAME_MAX_LENGTH}."
        )
    with transaction.atomic():
        trace = Trace.objects.select_for_update().filter(trace_id=trace_id).first()
        if trace is None:
            raise not_found(f"Trace with ID {trace_id} is not found.")
        if request.method == "PATCH":
            value = data.get("value", "")
            trace.tags[key] = _tag_value(value if isinstance(value, str) else json.dumps(value))
        elif key not in trace.tags:
            raise not_found(f"No tag with key {key!r} on trace {trace_id}.")
        else:
            del trace.tags[key]
        trace.save(update_fields=["tags"])
    return ok()
