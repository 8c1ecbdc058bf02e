"""The project's own pages: the home page (each user's queues and recent experiments), the
health check, and the error pages (MLflow's JSON errors under the API's paths)."""

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count, F, Max, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import is_curator
from accounts.api_auth import api_error
from accounts.types import HtmxHttpRequest
from explorer import access
from labeling.models import LabelingSession, SessionStatus
from labeling.progress import labeler_progress_of, with_item_counts, with_labeler_progress
from traces.models import Experiment, LifecycleStage, Trace

RECENT_EXPERIMENTS = 12
SESSION_SUMMARY = 6


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The signed-in user's start page: their review queues (active sessions they are assigned
    to, with their own progress), the recent experiments they may see, and for curators the
    active sessions with their progress; for other users the sessions they review. A fixed
    number of queries: labelers 5, curators 7."""
    user = request.user
    curator = is_curator(user)
    queues = [
        {"session": session, "progress": labeler_progress_of(session)}
        for session in with_labeler_progress(
            LabelingSession.objects.for_labeler(user)
            .select_related("experiment")
            .order_by("name", "pk"),
            labeler=user,
            remaining=True,
        )
    ]
    # Queues with work for the user first.
    queues.sort(key=lambda q: not (q["progress"].remaining or q["session"].has_reservation))
    context = {
        "queues": queues,
        "experiments": _recent_experiments(user),
        "is_curator": curator,
    }
    if not curator:
        # Sessions the user leads as a reviewer: their disagreements and exports.
        context["reviewed_sessions"] = list(
            LabelingSession.objects.filter(
                reviewers=user, experiment__lifecycle_stage=LifecycleStage.ACTIVE
            )
            .exclude(status=SessionStatus.DRAFT)
            .select_related("experiment")
            .order_by("-updated_at", "-pk")
        )
    if curator:
        sessions = with_item_counts(
            LabelingSession.objects.active()
            .select_related("experiment")
            .order_by("-updated_at", "-pk")[: SESSION_SUMMARY + 1]
        )
        context["active_sessions"] = sessions[:SESSION_SUMMARY]
        context["more_sessions"] = len(sessions) > SESSION_SUMMARY
    return render(request, "reviewapp/home.html", context)


def _recent_experiments(user: Any) -> list[Experiment]:
    """The experiments the user may see, most recent traces first, with their trace counts
    over the traces the user may see: one query."""
    experiments = access.visible_experiments(user)
    if is_curator(user):
        experiments = experiments.annotate(
            trace_count=Count("traces"), last_trace_time=Max("traces__request_time")
        )
    else:
        traces = access.restrict_traces(user, Trace.objects.filter(experiment=OuterRef("pk")))
        experiments = experiments.annotate(
            trace_count=Subquery(
                traces.order_by().values("experiment").annotate(n=Count("pk")).values("n")
            ),
            last_trace_time=Subquery(traces.order_by("-request_time").values("request_time")[:1]),
        )
    return list(
        experiments.order_by(F("last_trace_time").desc(nulls_last=True), "name")[
            :RECENT_EXPERIMENTS
        ]
    )


@login_not_required
@never_cache
@require_GET
def healthz(request: HtmxHttpRequest) -> JsonResponse:
    """Liveness and readiness: answers 200 only when the database answers. Anonymous callers
    (load balancers) learn only that, `{"status": "ok"}` or `{"status": "error"}`; curators
    also see which database it is, or why it failed."""
    detail = is_curator(request.user)
    try:
        ContentType.objects.exists()  # a round trip to the database, through the ORM
    except Exception as exc:  # any database failure means "not ready"
        body = {"status": "error"}
        if detail:
            body.update(database="unavailable", detail=type(exc).__name__)
        return JsonResponse(body, status=503)
    body = {"status": "ok"}
    if detail:
        body["database"] = connection.vendor
    return JsonResponse(body)


# --- errors ----------------------------------------------------------------------------------
# Under the API's paths (MLflow's REST API, OTLP) every error is MLflow's JSON error, whatever
# failed; elsewhere Django's own pages (templates/403.html, …).

API_PATH_PREFIXES = ("/api/", "/v1/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PATH_PREFIXES)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error("BAD_REQUEST", "The request is malformed.", status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error("PERMISSION_DENIED", "Permission denied.", status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(
            "ENDPOINT_NOT_FOUND",
            f"{request.method} {request.path[:200]} is not part of this server's "
            "MLflow-compatible API.",
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return api_error("INTERNAL_ERROR", "The server failed to answer; it is logged.")
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """`settings.CSRF_FAILURE_VIEW`. The API's views need no CSRF token (they take API
    tokens), so only a path no view serves gets here; it answers as such a path does."""
    if _is_api(request):
        return api_error("PERMISSION_DENIED", f"CSRF verification failed: {reason}", status=403)
    return django_csrf_failure(request, reason=reason)
