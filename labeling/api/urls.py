"""MLflow REST routes served by labeling (mounted at the site root before `traces.api_urls`,
whose catch-all answers every other /api/ path): assessments, which may be labeling answers."""

from django.urls import path

from labeling.api import assessments
from traces.api_urls import MLFLOW_API_VERSIONS

app_name = "labeling-api"

_mlflow = [
    ("traces/<str:trace_id>/assessments", assessments.assessment_create, "assessment-create"),
    (
        "traces/<str:trace_id>/assessments/<str:assessment_id>",
        assessments.assessment_detail,
        "assessment-detail",
    ),
]

urlpatterns = [
    path(f"api/{api_version}/mlflow/{route}", view, name=f"{name}-v{api_version[0]}")
    for api_version in MLFLOW_API_VERSIONS
    for route, view, name in _mlflow
]
