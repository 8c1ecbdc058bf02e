"""Who may open what: the decorators shared by the console pages of every app."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from reviewapp.types import HtmxHttpRequest


def curator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Curators (active staff users) only: anonymous users go to the login page, everyone else
    gets 403."""

    @wraps(view)
    def wrapped(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The console is for curators.")
        return view(request, *args, **kwargs)

    return wrapped
