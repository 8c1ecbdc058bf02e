"""Routes of the HTTP API, mounted at the site root (`reviewapp/urls.py`): OTLP at /v1/traces,
MLflow's REST paths under /api/2.0/mlflow/ and /api/3.0/mlflow/ (the SDK uses both). The
assessment routes are `labeling.api.urls`'."""

from django.urls import path, re_path

from traces import api_views, dataset_api

app_name = "api"

MLFLOW_API_VERSIONS = ("2.0", "3.0")

_mlflow = [
    ("experiments/get-by-name", api_views.experiment_get_by_name, "experiment-get-by-name"),
    ("experiments/get", api_views.experiment_get, "experiment-get"),
    ("experiments/create", api_views.experiment_create, "experiment-create"),
    ("traces", api_views.trace_start, "trace-start"),
    ("traces/search", api_views.trace_search, "trace-search"),
    ("traces/get", api_views.trace_get, "trace-get"),
    ("traces/batchGet", api_views.trace_batch_get, "trace-batch-get"),
    ("traces/batchGetInfos", api_views.trace_batch_get_infos, "trace-batch-get-infos"),
    ("traces/<str:trace_id>", api_views.trace_info, "trace-info"),
    ("traces/<str:trace_id>/tags", api_views.trace_tags, "trace-tags"),
    ("datasets/create", dataset_api.dataset_create, "dataset-create"),
    ("datasets/search", dataset_api.dataset_search, "dataset-search"),
    ("datasets/<str:dataset_id>", dataset_api.dataset_detail, "dataset-detail"),
    ("datasets/<str:dataset_id>/records", dataset_api.dataset_records, "dataset-records"),
    ("datasets/<str:dataset_id>/tags", dataset_api.dataset_tags, "dataset-tags"),
    ("datasets/<str:dataset_id>/tags/<path:key>", dataset_api.dataset_tag_delete, "dataset-tag"),
    (
        "datasets/<str:dataset_id>/experiment-ids",
        dataset_api.dataset_experiment_ids,
        "dataset-experiment-ids",
    ),
    (
        "datasets/<str:dataset_id>/add-experiments",
        dataset_api.dataset_add_experiments,
        "dataset-add-experiments",
    ),
    (
        "datasets/<str:dataset_id>/remove-experiments",
        dataset_api.dataset_remove_experiments,
        "dataset-remove-experiments",
    ),
]

urlpatterns = [
    path("version", api_views.version, name="version"),
    path("v1/traces", api_views.otlp_traces, name="otlp-traces"),
    *(
        path(f"api/{api_version}/mlflow/{route}", view, name=f"{name}-v{api_version[0]}")
        for api_version in MLFLOW_API_VERSIONS
        for route, view, name in _mlflow
    ),
    # Last: every other /api/ path (the root urls mount labeling's API routes before these).
    re_path(r"^api/(?P<path>.*)$", api_views.endpoint_not_found, name="endpoint-not-found"),
]
