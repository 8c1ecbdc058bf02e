"""Sign-in, the profile page and API tokens (a token just created is shown once)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import is_curator
from accounts.forms import ApiTokenForm
from accounts.models import ApiToken
from accounts.services import create_api_token, revoke_api_token
from accounts.types import HtmxHttpRequest


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
    template = "accounts/profile.html#api-tokens" if request.htmx else "accounts/profile.html"
    return render(request, template, context)


@never_cache
@require_GET
def profile(request: HtmxHttpRequest) -> HttpResponse:
    """Who you are, and your API tokens."""
    return _profile(request)


@never_cache
@require_POST
def token_create(request: HtmxHttpRequest) -> HttpResponse:
    if not is_curator(request.user):
        raise PermissionDenied("Only curators can create API tokens.")
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _profile(request, form=form)
    token, raw = create_api_token(user=request.user, name=form.cleaned_data["name"])
    # The token is shown in this response only: not kept for a redirect, since sessions live
    # in the browser's cookie (settings.SESSION_ENGINE) and a secret does not belong there.
    return _profile(request, new_token={"id": token.pk, "name": token.name, "token": raw})


@require_POST
def token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    token = revoke_api_token(token=get_token_for_user(request, pk))
    if request.htmx:
        return _profile(request)
    messages.success(request, f"Token “{token.name}” is revoked: it no longer works.")
    return redirect("profile")
