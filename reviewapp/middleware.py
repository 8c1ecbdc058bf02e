"""Requests no view should see: a NUL character (U+0000) in the path, the query string or a
form field. PostgreSQL cannot store or compare text holding one (a lookup with it fails with a
DataError, a 500), and no person types one; Django's form fields refuse it already, this
covers the parameters views read directly (`?span=…`, ids in paths). JSON bodies keep theirs
until they are stored: the API and the importers replace it with U+FFFD."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from accounts.api_auth import api_error

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MESSAGE = "The request holds a NUL character (U+0000), which is not allowed."


def _has_nul(data: object) -> bool:
    return any(
        "\x00" in key or any(isinstance(v, str) and "\x00" in v for v in values)
        for key, values in data.lists()  # type: ignore[attr-defined]
    )


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = "\x00" in request.path or _has_nul(request.GET)
        if not refused and request.method == "POST" and request.content_type in FORM_TYPES:
            refused = _has_nul(request.POST)
        if refused:
            if request.path.startswith(("/api/", "/v1/")):
                return api_error("INVALID_PARAMETER_VALUE", MESSAGE)
            return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
