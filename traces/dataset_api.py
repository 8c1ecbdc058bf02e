"""MLflow's evaluation-dataset REST endpoints (`mlflow.genai.datasets`: `create_dataset`,
`get_dataset`, `search_datasets`, `delete_dataset`, `EvaluationDataset.merge_records`,
`to_df`, `set_dataset_tags`, `delete_dataset_tag`, `add_dataset_to_experiments`,
`remove_dataset_from_experiments`), under /api/3.0/mlflow/datasets/.

Shapes follow MLflow's protos: a dataset's `tags`, `schema` and `profile` are JSON text, times
are milliseconds, records travel as one JSON text (`records`). Writes are `traces.datasets`'.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.http import JsonResponse

from accounts.api_auth import ApiRequest
from traces import datasets
from traces.api_views import (
    api_endpoint,
    int_param,
    json_body,
    ok,
    page_offset,
    page_token,
    request_params,
    string_param,
)
from traces.ingest.records import loads_strict, strip_nul
from traces.mlflow_api import invalid, millis, not_found
from traces.models import DatasetRecord, EvaluationDataset

SEARCH_MAX_RESULTS = 1000
RECORDS_MAX_RESULTS = 1000


def dataset_json(dataset: EvaluationDataset) -> dict[str, Any]:
    data: dict[str, Any] = {
        "dataset_id": dataset.dataset_id,
        "name": dataset.name,
        "tags": json.dumps(dataset.tags),
        "digest": dataset.digest,
        "created_time": millis(dataset.created_time),
        "last_update_time": millis(dataset.last_update_time),
        "experiment_ids": [str(pk) for pk in _experiment_ids(dataset)],
    }
    if dataset.schema is not None:
        data["schema"] = json.dumps(dataset.schema)
    if dataset.profile is not None:
        data["profile"] = json.dumps(dataset.profile)
    if dataset.created_by:
        data["created_by"] = dataset.created_by
    if dataset.last_updated_by:
        data["last_updated_by"] = dataset.last_updated_by
    return data


def _experiment_ids(dataset: EvaluationDataset) -> list[int]:
    # Prefetched (`experiments`) where several datasets are shown.
    return sorted(experiment.pk for experiment in dataset.experiments.all())


def record_json(record: DatasetRecord, dataset_id: str) -> dict[str, Any]:
    source = record.source or None
    source_type = source.get("source_type") if source else None
    source_data = (source or {}).get("source_data") or {}
    source_id = next(iter(source_data.values()), None) if isinstance(source_data, dict) else None
    return {
        "dataset_record_id": record.record_id,
        "dataset_id": dataset_id,
        "inputs": record.inputs,
        "outputs": record.outputs,
        "expectations": record.expectations,
        "tags": record.tags,
        "source": source,
        "source_id": source_id,
        "source_type": source_type,
        "created_time": millis(record.created_time),
        "last_update_time": millis(record.last_update_time),
        "created_by": record.created_by or None,
        "last_updated_by": record.last_updated_by or None,
    }


def _dataset(dataset_id: str) -> EvaluationDataset:
    dataset = (
        EvaluationDataset.objects.filter(dataset_id=dataset_id)
        .prefetch_related("experiments")
        .first()
    )
    if dataset is None:
        raise not_found(f"Dataset with id {dataset_id!r:.80} not found.")
    return dataset


def _json_text(data: dict[str, Any], name: str, default: Any) -> Any:
    """A field MLflow sends as JSON text (`tags`, `records`), parsed."""
    value = data.get(name)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        return value  # already JSON: raw REST clients may send it so
    try:
        parsed = loads_strict(value)
    except ValueError as exc:
        raise invalid(f"{name} should be JSON text: {str(exc).rstrip('.')}.") from None
    # PostgreSQL stores no U+0000: replaced, as the importers do.
    return strip_nul(parsed) if "\\u0000" in value else parsed


def _ids(data: dict[str, Any], name: str) -> list[Any]:
    values = data.get(name) or []
    if not isinstance(values, list):
        raise invalid(f"{name} should be a list.")
    return values


@api_endpoint("POST")
def dataset_create(request: ApiRequest) -> JsonResponse:
    data = json_body(request)
    name = string_param(data, "name")
    dataset = datasets.create_dataset(
        name=name or "",
        tags=_json_text(data, "tags", {}),
        experiment_ids=_ids(data, "experiment_ids"),
        created_by=request.user.get_username(),
    )
    return ok({"dataset": dataset_json(_dataset(dataset.dataset_id))})


@api_endpoint("GET", "DELETE")
def dataset_detail(request: ApiRequest, dataset_id: str) -> JsonResponse:
    """GetDataset, DeleteDataset (deleting a dataset that is not there does nothing)."""
    if request.method == "DELETE":
        datasets.delete_dataset(dataset_id=dataset_id)
        return ok()
    return ok({"dataset": dataset_json(_dataset(dataset_id))})


@api_endpoint("POST")
def dataset_search(request: ApiRequest) -> JsonResponse:
    """SearchEvaluationDatasets: by experiment, filter string, order, paginated."""
    data = json_body(request)
    max_results = int_param(data, "max_results", default=SEARCH_MAX_RESULTS, maximum=1000)
    filter_string = string_param(data, "filter_string", required=False)
    order_by = data.get("order_by") or []
    if isinstance(order_by, str):
        order_by = [order_by]
    if not isinstance(order_by, list):
        raise invalid("order_by should be a list of strings.")
    found = EvaluationDataset.objects.all()
    experiment_ids = _ids(data, "experiment_ids")
    if experiment_ids:
        if not all(str(value).strip().isdigit() for value in experiment_ids):
            raise invalid("experiment_ids should be experiment ids (numbers).")
        found = found.filter(experiments__in=[int(value) for value in experiment_ids]).distinct()
    found = datasets.order_datasets(datasets.filter_datasets(found, filter_string), order_by)
    offset = page_offset(data.get("page_token"))
    rows = list(found.prefetch_related("experiments")[offset : offset + max_results + 1])
    response: dict[str, Any] = {"datasets": [dataset_json(row) for row in rows[:max_results]]}
    if len(rows) > max_results:
        response["next_page_token"] = page_token(offset + max_results)
    return ok(response)


@api_endpoint("GET", "POST", "DELETE")
def dataset_records(request: ApiRequest, dataset_id: str) -> JsonResponse:
    """GetDatasetRecords (paged, in insertion order), UpsertDatasetRecords, DeleteDatasetRecords."""
    if request.method == "POST":
        data = json_body(request)
        raw = _json_text(data, "records", None)
        if not isinstance(raw, list) or not raw:
            raise invalid("records should be a non-empty JSON list of records.")
        records = [datasets.parse_record(record, index) for index, record in enumerate(raw)]
        result = datasets.upsert_records(
            dataset_id=dataset_id, records=records, user=request.user.get_username()
        )
        return ok({"inserted_count": result.inserted, "updated_count": result.updated})
    if request.method == "DELETE":
        data = json_body(request)
        record_ids = _ids(data, "dataset_record_ids")
        if not record_ids or not all(isinstance(value, str) for value in record_ids):
            raise invalid("dataset_record_ids should be a non-empty list of record ids.")
        deleted = datasets.delete_records(dataset_id=dataset_id, record_ids=record_ids)
        return ok({"deleted_count": deleted})
    data = request_params(request)
    max_results = int_param(
        data, "max_results", default=RECORDS_MAX_RESULTS, maximum=RECORDS_MAX_RESULTS
    )
    after = _after(data.get("page_token"))
    if not EvaluationDataset.objects.filter(dataset_id=dataset_id).exists():
        raise not_found(f"Dataset with id {dataset_id!r:.80} not found.")
    rows = list(
        DatasetRecord.objects.filter(dataset__dataset_id=dataset_id, pk__gt=after).order_by("id")[
            : max_results + 1
        ]
    )
    response: dict[str, Any] = {
        "records": json.dumps([record_json(row, dataset_id) for row in rows[:max_results]])
    }
    if len(rows) > max_results:
        token = json.dumps({"after": rows[max_results - 1].pk})
        response["next_page_token"] = base64.urlsafe_b64encode(token.encode()).decode()
    return ok(response)


def _after(token: Any) -> int:
    """The last record id of the page a records page token ends (keyset paging: every page
    costs the same, however large the dataset)."""
    if not token:
        return 0
    try:
        after = json.loads(base64.urlsafe_b64decode(str(token).encode()))["after"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise invalid("The page_token is not one this server gave out.") from None
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise invalid("The page_token is not one this server gave out.")
    return after


@api_endpoint("PATCH")
def dataset_tags(request: ApiRequest, dataset_id: str) -> JsonResponse:
    """SetDatasetTags: merged into the dataset's tags."""
    data = json_body(request)
    dataset = datasets.set_dataset_tags(dataset_id=dataset_id, tags=_json_text(data, "tags", None))
    return ok({"dataset": dataset_json(_dataset(dataset.dataset_id))})


@api_endpoint("DELETE")
def dataset_tag_delete(request: ApiRequest, dataset_id: str, key: str) -> JsonResponse:
    datasets.delete_dataset_tag(dataset_id=dataset_id, key=key)
    return ok()


@api_endpoint("GET")
def dataset_experiment_ids(request: ApiRequest, dataset_id: str) -> JsonResponse:
    dataset = _dataset(dataset_id)
    return ok({"experiment_ids": [str(pk) for pk in _experiment_ids(dataset)]})


def _link(request: ApiRequest, dataset_id: str, *, add: bool) -> JsonResponse:
    experiment_ids = _ids(json_body(request), "experiment_ids")
    if not experiment_ids:
        raise invalid("Name at least one experiment in experiment_ids.")
    datasets.link_experiments(dataset_id=dataset_id, experiment_ids=experiment_ids, add=add)
    return ok({"dataset": dataset_json(_dataset(dataset_id))})


@api_endpoint("POST")
def dataset_add_experiments(request: ApiRequest, dataset_id: str) -> JsonResponse:
    return _link(request, dataset_id, add=True)


@api_endpoint("POST")
def dataset_remove_experiments(request: ApiRequest, dataset_id: str) -> JsonResponse:
    return _link(request, dataset_id, add=False)
