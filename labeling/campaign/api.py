"""The one REST endpoint beyond MLflow's: sync a review queue's (a session's) final
expectations into a named evaluation dataset, from code
(`POST /api/3.0/mlflow/review-queues/sync-dataset` with ``{"queue_id", "dataset_name"}``).
MLflow's SDK has no call for it outside Databricks (`LabelingSession.sync`); see the README
for the two-line request. Token-authenticated like the rest of the API (`traces.api_views`)."""

from __future__ import annotations

from django.http import JsonResponse

from accounts.api_auth import ApiRequest
from labeling.campaign.dataset_sync import sync_session_to_dataset
from labeling.models import LabelingSession
from traces.api_views import api_endpoint, json_body, ok, string_param
from traces.dataset_api import dataset_json
from traces.mlflow_api import not_found


@api_endpoint("POST")
def sync_dataset(request: ApiRequest) -> JsonResponse:
    data = json_body(request)
    queue_id = string_param(data, "queue_id") or ""
    session = LabelingSession.objects.filter(pk=int(queue_id) if queue_id.isdigit() else None)
    found = session.first()
    if found is None:
        raise not_found(f"Review queue with id {queue_id!r:.80} not found.")
    result = sync_session_to_dataset(
        session=found,
        dataset_name=string_param(data, "dataset_name") or "",
        user=request.user.get_username(),
    )
    return ok(
        {
            "dataset": dataset_json(result.dataset),
            "created": result.created,
            "inserted_count": result.inserted,
            "updated_count": result.updated,
        }
    )
