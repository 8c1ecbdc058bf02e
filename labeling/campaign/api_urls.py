"""The campaign's REST route (mounted at the site root before `traces.api_urls`' catch-all):
syncing a review queue into an evaluation dataset (`labeling.campaign.api`)."""

from django.urls import path

from labeling.campaign import api
from traces.api_urls import MLFLOW_API_VERSIONS

app_name = "campaign-api"

urlpatterns = [
    path(
        f"api/{api_version}/mlflow/review-queues/sync-dataset",
        api.sync_dataset,
        name=f"sync-dataset-v{api_version[0]}",
    )
    for api_version in MLFLOW_API_VERSIONS
]
