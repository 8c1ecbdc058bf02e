"""MLflow's label-schema REST endpoints (`mlflow.genai.label_schemas`: `create_label_schema`,
`get_label_schema` by id or by experiment and name, `list_label_schemas`,
`update_label_schema`, `delete_label_schema`), under /api/3.0/mlflow/label-schemas/.

A label schema is one of our labeling schemas (`labeling.models.LabelingSchema`): its
`schema_id` is the schema's id, and the console shows what the SDK made and the other way
round. The rules are ours (`labeling.services`): names are unique per experiment, a schema with
answers keeps its input kind and type, and an edit of an answered schema makes a new version.

Inputs: MLflow's wire format has four variants (`pass_fail`, `categorical` with
`multi_select`, `numeric`, `text`). A categorical list is a categorical with `multi_select`;
a text list, which MLflow's SDK cannot send, is accepted as `text_list` {max_length_each,
max_count} and read back as `text_list` plus a `text` input the SDK understands. Fields that
MLflow has no place for (`title`, `version`, `target_span_type`, `archived`, a numeric
`step`) are extra fields, which the SDK ignores.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse

from accounts.api_auth import ApiRequest
from labeling import services
from labeling.api.common import experiment_by_id, schema_by_id
from labeling.inputs import (
    Categorical,
    CategoricalList,
    InputSpec,
    InputType,
    Numeric,
    PassFail,
    Text,
    TextList,
    parse_input,
)
from labeling.models import LabelingSchema
from traces.api_views import (
    api_endpoint,
    int_param,
    ok,
    page_offset,
    page_token,
    request_params,
    string_param,
)
from traces.mlflow_api import ApiError, invalid, millis, not_found
from traces.models import AssessmentKind

LIST_MAX_RESULTS = 1000
TITLE_MAX_LENGTH = 500

_TYPES = {
    "FEEDBACK": AssessmentKind.FEEDBACK,
    "EXPECTATION": AssessmentKind.EXPECTATION,
    1: AssessmentKind.FEEDBACK,
    2: AssessmentKind.EXPECTATION,
}


def schema_type(value: Any) -> str:
    key = value.upper() if isinstance(value, str) else value
    if isinstance(key, bool) or key not in _TYPES:
        raise invalid(
            f"Label schema `type` must be one of FEEDBACK or EXPECTATION; got {value!r:.40}."
        )
    return _TYPES[key]


# --- inputs ---------------------------------------------------------------------------------------


def input_json(spec: InputSpec) -> dict[str, Any]:
    if isinstance(spec, PassFail):
        return {
            "pass_fail": {
                "positive_label": spec.positive_label,
                "negative_label": spec.negative_label,
            }
        }
    if isinstance(spec, Categorical):
        data: dict[str, Any] = {
            "categorical": {"options": list(spec.options), "multi_select": spec.is_multi}
        }
        if isinstance(spec, CategoricalList):
            data["categorical_list"] = {"options": list(spec.options)}
        return data
    if isinstance(spec, Numeric):
        numeric = {
            key: value
            for key, value in (
                ("min_value", spec.min_value),
                ("max_value", spec.max_value),
                ("step", spec.step),
            )
            if value is not None
        }
        return {"numeric": numeric}
    if isinstance(spec, Text):
        return {"text": {} if spec.max_length is None else {"max_length": spec.max_length}}
    assert isinstance(spec, TextList)
    text_list = {
        key: value
        for key, value in (("max_length_each", spec.max_length_each), ("max_count", spec.max_count))
        if value is not None
    }
    text = {} if spec.max_length_each is None else {"max_length": spec.max_length_each}
    return {"text": text, "text_list": text_list}


_VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    # wire name: (our input kind, {wire field: our setting})
    "pass_fail": (
        InputType.PASS_FAIL,
        {"positive_label": "positive_label", "negative_label": "negative_label"},
    ),
    "categorical": (InputType.CATEGORICAL, {"options": "options", "multi_select": "multi"}),
    "categorical_list": (InputType.CATEGORICAL_LIST, {"options": "options"}),
    "numeric": (
        InputType.NUMERIC,
        {"min_value": "min_value", "max_value": "max_value", "step": "step"},
    ),
    "text": (InputType.TEXT, {"max_length": "max_length"}),
    "text_list": (
        InputType.TEXT_LIST,
        {"max_length_each": "max_length_each", "max_count": "max_count"},
    ),
}


def parse_schema_input(data: Any) -> InputSpec:
    if not isinstance(data, dict):
        raise invalid("Label schema `input` should be an object with one input variant.")
    variants = [key for key in data if key in _VARIANTS]
    # What this server sends back for a text list or a categorical list carries the variant
    # MLflow's SDK reads too; the exact one wins.
    if "text_list" in variants and "text" in variants:
        variants.remove("text")
    if "categorical_list" in variants and "categorical" in variants:
        variants.remove("categorical")
    unknown = [key for key in data if key not in _VARIANTS]
    if unknown:
        raise invalid(f"Unknown label schema input {', '.join(map(str, unknown))!s:.120}.")
    if len(variants) != 1:
        raise invalid(
            "Label schema `input` must have exactly one of `pass_fail`, `categorical`, "
            "`numeric`, `text` (or `categorical_list`, `text_list`) set."
        )
    variant = variants[0]
    kind, fields = _VARIANTS[variant]
    config = data[variant]
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise invalid(f"`input.{variant}` should be an object.")
    unknown = [key for key in config if key not in fields]
    if unknown:
        raise invalid(f"`input.{variant}` has no field {', '.join(map(str, unknown))!s:.80}.")
    settings = {fields[key]: value for key, value in config.items()}
    if kind == InputType.CATEGORICAL and not isinstance(settings.get("multi", False), bool):
        raise invalid("`input.categorical.multi_select` should be true or false.")
    if kind == InputType.CATEGORICAL and settings.get("options") is not None:
        options = settings["options"]
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise invalid(f"`input.{variant}.options` should be a list of strings.")
    return parse_input(kind, settings)


# --- out ------------------------------------------------------------------------------------------


def schema_json(schema: LabelingSchema) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_id": str(schema.pk),
        "experiment_id": str(schema.experiment_id),
        "name": schema.name,
        "type": "EXPECTATION" if schema.kind == AssessmentKind.EXPECTATION else "FEEDBACK",
        "enable_comment": schema.enable_comment,
        "input": input_json(schema.spec),
        "created_at": millis(schema.created_at),
        "last_updated_at": millis(schema.updated_at),
        "is_default": False,
        # Ours, beyond MLflow's shape (the SDK ignores them):
        "title": schema.title,
        "version": schema.version,
        "archived": schema.archived,
    }
    if schema.instruction:
        data["instruction"] = schema.instruction
    if schema.created_by_id is not None:
        data["created_by"] = schema.created_by.get_username()
    if schema.target_span_type:
        data["target_span_type"] = schema.target_span_type
    return data


def _bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(f"{name} should be true or false.")
    return value


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{name} should be a string.")
    return value


def _service_call(action: Any) -> Any:
    """Run a labeling service; its refusals become MLflow errors (a taken name is
    RESOURCE_ALREADY_EXISTS)."""
    try:
        return action()
    except ValidationError as exc:
        codes = {error.code for error in exc.error_list}
        message = " ".join(exc.messages)
        if "name_taken" in codes:
            raise ApiError("RESOURCE_ALREADY_EXISTS", message) from None
        raise invalid(message) from None


# --- views ----------------------------------------------------------------------------------------


@api_endpoint("POST")
def schema_create(request: ApiRequest) -> JsonResponse:
    data = request_params(request)
    experiment = experiment_by_id(string_param(data, "experiment_id"))
    name = string_param(data, "name") or ""
    kind = schema_type(data.get("type"))
    spec = parse_schema_input(data.get("input"))
    target = _text(data, "target_span_type") or ""
    fields = services.SchemaFields(
        name=name,
        kind=kind,
        title=(_text(data, "title") or name.strip())[:TITLE_MAX_LENGTH],
        instruction=_text(data, "instruction") or "",
        enable_comment=bool(_bool(data, "enable_comment")),
        target_span_type=target.strip(),
        spec=spec,
    )
    schema = _service_call(
        lambda: services.create_schema(experiment=experiment, fields=fields, user=request.user)
    )
    return ok({"label_schema": schema_json(schema_by_id(str(schema.pk)))})


@api_endpoint("GET")
def schema_get(request: ApiRequest) -> JsonResponse:
    schema = schema_by_id(string_param(request_params(request), "schema_id"))
    return ok({"label_schema": schema_json(schema)})


@api_endpoint("GET")
def schema_get_by_name(request: ApiRequest) -> JsonResponse:
    data = request_params(request)
    experiment = experiment_by_id(string_param(data, "experiment_id"))
    name = string_param(data, "name")
    schema = (
        LabelingSchema.objects.select_related("created_by")
        .filter(experiment=experiment, name=name)
        .first()
    )
    if schema is None:
        raise not_found(
            f"Label schema with name {name!r:.260} not found in experiment {experiment.pk}."
        )
    return ok({"label_schema": schema_json(schema)})


@api_endpoint("GET")
def schema_list(request: ApiRequest) -> JsonResponse:
    """ListLabelSchemas: the experiment's schemas (archived ones too), oldest first."""
    data = request_params(request)
    experiment = experiment_by_id(string_param(data, "experiment_id"))
    max_results = int_param(data, "max_results", default=100, maximum=LIST_MAX_RESULTS)
    offset = page_offset(data.get("page_token"))
    rows = list(
        LabelingSchema.objects.filter(experiment=experiment)
        .select_related("created_by")
        .order_by("created_at", "id")[offset : offset + max_results + 1]
    )
    response: dict[str, Any] = {"label_schemas": [schema_json(row) for row in rows[:max_results]]}
    if len(rows) > max_results:
        response["next_page_token"] = page_token(offset + max_results)
    return ok(response)


@api_endpoint("PATCH")
def schema_update(request: ApiRequest) -> JsonResponse:
    """UpdateLabelSchema: the fields given change; the rest stay (`labeling.services`)."""
    data = request_params(request)
    schema = schema_by_id(string_param(data, "schema_id"))
    if "type" in data:
        raise invalid("A label schema's `type` cannot be updated.")
    name = _text(data, "name")
    instruction = _text(data, "instruction")
    enable_comment = _bool(data, "enable_comment")
    spec = parse_schema_input(data["input"]) if data.get("input") is not None else schema.spec
    fields = services.SchemaFields(
        name=schema.name if name is None else name,
        kind=schema.kind,
        # A title that was the name (a schema made through the API) follows a rename.
        title=(name or schema.name)[:TITLE_MAX_LENGTH]
        if schema.title == schema.name
        else schema.title,
        instruction=schema.instruction if instruction is None else instruction,
        enable_comment=schema.enable_comment if enable_comment is None else enable_comment,
        target_span_type=schema.target_span_type,
        spec=spec,
    )
    with transaction.atomic():
        _service_call(lambda: services.update_schema(schema=schema, fields=fields))
    return ok({"label_schema": schema_json(schema_by_id(str(schema.pk)))})


@api_endpoint("DELETE")
def schema_delete(request: ApiRequest) -> JsonResponse:
    """DeleteLabelSchema: deleting one that is not there does nothing (as on MLflow's server);
    one with answers, or asked in a session, is refused (archive it in the console)."""
    data = request_params(request)
    schema_id = string_param(data, "schema_id") or ""
    schema = (
        LabelingSchema.objects.filter(pk=int(schema_id)).first() if schema_id.isdigit() else None
    )
    if schema is not None:
        _service_call(lambda: services.delete_schema(schema=schema))
    return ok()
