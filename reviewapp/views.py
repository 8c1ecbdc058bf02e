from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.models import Count, Max
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from reviewapp.types import HtmxHttpRequest
from traces.models import Experiment


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    experiments = (
        Experiment.objects.active()
        .annotate(trace_count=Count("traces"), last_trace_time=Max("traces__request_time"))
        .order_by("-last_trace_time", "name")[:12]
    )
    return render(request, "reviewapp/home.html", {"experiments": experiments})


@login_not_required
@never_cache
@require_GET
def healthz(request: HtmxHttpRequest) -> JsonResponse:
    """Liveness and readiness: answers 200 only when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure means "not ready"
        return JsonResponse(
            {"status": "error", "database": "unavailable", "detail": type(exc).__name__},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": connection.vendor})
