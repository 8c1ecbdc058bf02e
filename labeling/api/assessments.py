"""The MLflow REST API's assessment endpoints (`mlflow.log_feedback`, `log_expectation`,
`override_feedback`, `update_assessment`, `delete_assessment`, `get_assessment`).

They live in labeling, not in traces, because an assessment may be a labeling answer: an
override or a deletion through the API keeps the session's answers on the current label
(`labeling.services`), as the trace explorer's edits do. Authentication, the error format and
the request helpers are `traces.api_views`'.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

from accounts.api_auth import ApiRequest
from labeling import services as labeling_services
from traces import mlflow_api
from traces import services as trace_services
from traces.api_views import api_endpoint, get_trace, json_body, ok
from traces.mlflow_api import invalid


@api_endpoint("POST")
def assessment_create(request: ApiRequest, trace_id: str) -> JsonResponse:
    """CreateAssessment (mlflow.log_feedback, log_expectation, override_feedback)."""
    data = json_body(request)
    assessment = mlflow_api.parse_assessment(data.get("assessment"))
    # An unknown trace is refused by the service (404).
    row = labeling_services.log_assessment(trace_id=trace_id, assessment=assessment)
    return ok({"assessment": mlflow_api.assessment_json(row, trace_id)})


_MASK_PATHS = {
    "assessment_name": "name",
    "assessmentName": "name",
    "name": "name",
    "feedback": "feedback",
    "expectation": "expectation",
    "rationale": "rationale",
    "metadata": "metadata",
}


def _update_mask(mask: Any, assessment: dict[str, Any]) -> set[str]:
    if mask is None or mask == "":
        return {_MASK_PATHS[key] for key in assessment if key in _MASK_PATHS}
    if isinstance(mask, dict):
        mask = mask.get("paths")
    if isinstance(mask, str):
        paths = [path.strip() for path in mask.split(",") if path.strip()]
    elif isinstance(mask, list) and all(isinstance(path, str) for path in mask):
        paths = mask
    else:
        raise invalid("update_mask should list the fields to update.")
    unknown = [path for path in paths if path not in _MASK_PATHS]
    if unknown:
        raise invalid(
            f"Cannot update {', '.join(unknown)}: only assessment_name, feedback, expectation, "
            "rationale and metadata can be updated."
        )
    return {_MASK_PATHS[path] for path in paths}


@api_endpoint("GET", "PATCH", "DELETE")
def assessment_detail(request: ApiRequest, trace_id: str, assessment_id: str) -> JsonResponse:
    """GetAssessment, UpdateAssessment (mlflow.update_assessment), DeleteAssessment."""
    if request.method == "DELETE":
        get_trace(trace_id)
        # Deleting an assessment that is not there does nothing, as on MLflow's server.
        labeling_services.delete_assessment(trace_id=trace_id, assessment_id=assessment_id)
        return ok()
    if request.method == "GET":
        row = trace_services.get_assessment(trace_id=trace_id, assessment_id=assessment_id)
        return ok({"assessment": mlflow_api.assessment_json(row, trace_id)})
    data = json_body(request)
    assessment = data.get("assessment") or {}
    if not isinstance(assessment, dict):
        raise invalid("assessment should be an object.")
    fields = _update_mask(data.get("update_mask"), assessment)
    get_trace(trace_id)
    changes: dict[str, Any] = {}
    if "name" in fields:
        changes["name"] = assessment.get("assessment_name", assessment.get("name"))
    if "feedback" in fields:
        changes["feedback"] = mlflow_api.feedback_value(assessment.get("feedback"))
    if "expectation" in fields:
        changes["expectation"] = mlflow_api.expectation_value(assessment.get("expectation"))
    if "rationale" in fields:
        rationale = assessment.get("rationale", "")
        if not isinstance(rationale, str):
            raise invalid("rationale should be a string.")
        changes["rationale"] = rationale
    if "metadata" in fields:
        changes["metadata"] = mlflow_api.parse_string_map(assessment.get("metadata")) or {}
    row = labeling_services.update_assessment(
        trace_id=trace_id, assessment_id=assessment_id, **changes
    )
    return ok({"assessment": mlflow_api.assessment_json(row, trace_id)})
