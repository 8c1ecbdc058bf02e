"""MLflow REST routes served by labeling (mounted at the site root before `traces.api_urls`,
whose catch-all answers every other /api/ path): assessments, which may be labeling answers;
label schemas (our schemas) and review queues (our sessions)."""

from django.urls import path

from labeling.api import assessments, queues, schemas
from traces.api_urls import MLFLOW_API_VERSIONS

app_name = "labeling-api"

_mlflow = [
    ("traces/<str:trace_id>/assessments", assessments.assessment_create, "assessment-create"),
    (
        "traces/<str:trace_id>/assessments/<str:assessment_id>",
        assessments.assessment_detail,
        "assessment-detail",
    ),
    ("label-schemas/create", schemas.schema_create, "label-schema-create"),
    ("label-schemas/get", schemas.schema_get, "label-schema-get"),
    ("label-schemas/get-by-name", schemas.schema_get_by_name, "label-schema-get-by-name"),
    ("label-schemas/list", schemas.schema_list, "label-schema-list"),
    ("label-schemas/update", schemas.schema_update, "label-schema-update"),
    ("label-schemas/delete", schemas.schema_delete, "label-schema-delete"),
    ("review-queues/create", queues.queue_create, "review-queue-create"),
    (
        "review-queues/get-or-create-user",
        queues.queue_get_or_create_user,
        "review-queue-get-or-create-user",
    ),
    ("review-queues/get", queues.queue_get, "review-queue-get"),
    ("review-queues/get-by-name", queues.queue_get_by_name, "review-queue-get-by-name"),
    ("review-queues/list", queues.queue_list, "review-queue-list"),
    ("review-queues/update", queues.queue_update, "review-queue-update"),
    ("review-queues/delete", queues.queue_delete, "review-queue-delete"),
    ("review-queues/items/add", queues.items_add, "review-queue-items-add"),
    ("review-queues/items/remove", queues.items_remove, "review-queue-items-remove"),
    ("review-queues/items/list", queues.items_list, "review-queue-items-list"),
    ("review-queues/items/set-status", queues.items_set_status, "review-queue-items-set-status"),
]

urlpatterns = [
    path(f"api/{api_version}/mlflow/{route}", view, name=f"{name}-v{api_version[0]}")
    for api_version in MLFLOW_API_VERSIONS
    for route, view, name in _mlflow
]
