"""Sign-in throttling: what django-axes needs from us (settings.AXES_*).

Axes counts failed sign-ins per account and per address (`AccessAttempt` rows, in the database,
so every app process sees the same counts). After `AXES_FAILURE_LIMIT` failures the account
and the address are locked for `AXES_COOLOFF_TIME`; the sign-in page then says so (status
429) instead of checking the password. The admin's "Access attempts" page lists the failures;
deleting an account's rows unlocks it at once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        "Too many failed sign-ins: this account (or this address) is locked for "
        f"{minutes} minutes. Try again later, or ask an administrator to unlock it."
    )


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The sign-in page with the lockout message, status 429 (`AXES_LOCKOUT_CALLABLE`)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    return render(
        request,
        "accounts/login.html",
        {"form": form, "lockout": lockout_message(), "next": request.POST.get("next", "")},
        status=429,
    )


def client_ip(request: HttpRequest) -> str | None:
    """The client's address (`AXES_CLIENT_IP_CALLABLE`): REMOTE_ADDR, or behind
    `TRUSTED_PROXY_COUNT` proxies the address the outermost one saw (X-Forwarded-For)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies][:64]
    return request.META.get("REMOTE_ADDR")
