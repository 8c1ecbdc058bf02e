from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, Max
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from reviewapp.forms import ApiTokenForm
from reviewapp.models import ApiToken
from reviewapp.services import create_api_token, revoke_api_token
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


# --- profile and API tokens ------------------------------------------------------------------

NEW_TOKEN_SESSION_KEY = "reviewapp.new_api_token"


def get_token_for_user(request: HtmxHttpRequest, pk: int) -> ApiToken:
    """One of the signed-in user's tokens; 404 for anyone else's."""
    return get_object_or_404(ApiToken.objects.for_user(request.user), pk=pk)


def _profile(
    request: HtmxHttpRequest,
    *,
    form: ApiTokenForm | None = None,
    new_token: dict[str, object] | None = None,
) -> HttpResponse:
    context = {
        "tokens": ApiToken.objects.for_user(request.user),
        "form": form or ApiTokenForm(),
        "new_token": new_token,
        "api_url": request.build_absolute_uri("/").rstrip("/"),
    }
    template = "reviewapp/profile.html#api-tokens" if request.htmx else "reviewapp/profile.html"
    return render(request, template, context)


@never_cache
@require_GET
def profile(request: HtmxHttpRequest) -> HttpResponse:
    """Who you are, and your API tokens (a token just created is shown here once)."""
    return _profile(request, new_token=request.session.pop(NEW_TOKEN_SESSION_KEY, None))


@never_cache
@require_POST
def token_create(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied("Only curators can create API tokens.")
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _profile(request, form=form)
    token, raw = create_api_token(user=request.user, name=form.cleaned_data["name"])
    new_token = {"id": token.pk, "name": token.name, "token": raw}
    if request.htmx:
        return _profile(request, new_token=new_token)
    request.session[NEW_TOKEN_SESSION_KEY] = new_token
    return redirect("profile")


@require_POST
def token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    token = revoke_api_token(token=get_token_for_user(request, pk))
    if request.htmx:
        return _profile(request)
    messages.success(request, f"Token “{token.name}” is revoked: it no longer works.")
    return redirect("profile")
