"""Styled error pages under DEBUG for everyone but curators.

With `DEBUG=1` (`bin/dev`) Django answers a 404 with its debug page, which lists every URL of
the project, and an error with the traceback and the settings. Labelers trying the app locally
should see the app's own 404, 403 and 500 pages; curators (staff) keep the debug detail. Without
DEBUG, Django serves the styled pages to everyone already (`templates/404.html`, …).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import is_curator

logger = logging.getLogger("django.request")


def _debug_detail_for(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return not settings.DEBUG or (user is not None and is_curator(user))


class FriendlyErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and "text/html" in response.get("Content-Type", "")
            and not _debug_detail_for(request)
        ):
            # A URL that matches nothing (Django's debug 404 lists every URL pattern).
            return render(request, "404.html", status=404)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if _debug_detail_for(request):
            return None
        if isinstance(exception, Http404):
            return render(request, "404.html", status=404)
        if isinstance(exception, PermissionDenied):
            return render(request, "403.html", {"exception": str(exception)}, status=403)
        logger.error("Error on %s", request.path, exc_info=exception)
        return render(request, "500.html", status=500)
