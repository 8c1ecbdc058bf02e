"""Roles and the gates every app's pages use.

Two roles: **curators** are active staff users (they run the console, the campaigns and the
API); everyone else signed in is a **labeler**, who sees only what their sessions give them (the
rule is `explorer.access`). Views check the role through `is_curator`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from accounts.types import HtmxHttpRequest

User = AbstractBaseUser | AnonymousUser


def is_curator(user: User) -> bool:
    """Curators: signed-in, active staff users."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def curator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Curators only: anonymous users go to the login page, everyone else gets 403."""

    @wraps(view)
    def wrapped(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_curator(request.user):
            raise PermissionDenied("The console is for curators.")
        return view(request, *args, **kwargs)

    return wrapped
