"""Token authentication for the HTTP API (OTLP ingest and the MLflow-compatible REST API).

API views carry one decorator, `token_required`: no login redirect, no CSRF (there is no cookie
session to protect), and a valid `Authorization: Bearer <token>` or an MLflow-style error:

    {"error_code": "UNAUTHENTICATED", "message": "…"}   (401)
    {"error_code": "PERMISSION_DENIED", "message": "…"} (403: the token's user is not a curator)

The MLflow SDK sends `MLFLOW_TRACKING_TOKEN` as exactly this header. The API reads and writes
every experiment, so only curators (staff) may use it; labelers work in the review app.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.models import ApiToken
from accounts.services import authenticate_api_token

# MLflow's error codes (`mlflow.protos.databricks_pb2.ErrorCode`) with the HTTP status MLflow's
# server answers them with (`mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS`).
ERROR_STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "NOT_IMPLEMENTED": 501,
    "INTERNAL_ERROR": 500,
}


class ApiRequest(HttpRequest):
    """A request that passed `token_required`."""

    api_token: ApiToken


def api_error(error_code: str, message: str, *, status: int | None = None) -> JsonResponse:
    """An error in MLflow's format, with the status MLflow gives that code."""
    response = JsonResponse(
        {"error_code": error_code, "message": message},
        status=status or ERROR_STATUS.get(error_code, 400),
    )
    if response.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="Review App API"'
    return response


def bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def token_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Authenticate with an API token instead of a session; see the module docstring."""

    @login_not_required
    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raw = bearer_token(request)
        if raw is None:
            return api_error(
                "UNAUTHENTICATED",
                "Authentication required: send an API token as 'Authorization: Bearer <token>' "
                "(for the MLflow SDK, set MLFLOW_TRACKING_TOKEN). Create tokens on your profile "
                "page.",
            )
        token = authenticate_api_token(raw)
        if token is None:
            return api_error(
                "UNAUTHENTICATED", "The API token is not valid: it is unknown or was revoked."
            )
        if not token.user.is_staff:
            return api_error(
                "PERMISSION_DENIED",
                f"User {token.user.get_username()!r} may not use the API: only curators can.",
            )
        request.user = token.user
        request.api_token = token  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
