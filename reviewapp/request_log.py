"""How refused requests are logged: one line each, no traceback.

Django logs every 4xx answer through the `django.request` logger, and a PermissionDenied or a
suspicious request with the exception's whole traceback (about 1.3 KB), which any signed-in
user could repeat to flood the log. `RefusedRequestFilter` turns those records into one line,
``refused GET /path user=12 status=403: Forbidden (Permission denied)``, and leaves 5xx records
(real failures) with their traceback. It is installed on the `django.request` and
`django.security` loggers by `settings.LOGGING`.
"""

from __future__ import annotations

import logging


class RefusedRequestFilter(logging.Filter):
    """Strip the traceback from records of refused requests (status below 500)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is None and record.name.startswith("django.security"):
            status = 400  # DisallowedHost and other SuspiciousOperation: a bad request
        if status is None or status >= 500:
            return True
        request = getattr(record, "request", None)
        method = getattr(request, "method", "-") or "-"
        path = getattr(request, "path", "-") or "-"
        user = getattr(request, "user", None)
        user_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
        reason = record.getMessage().split(":", 1)[0].strip()
        record.msg = "refused %s %s user=%s status=%s: %s"
        record.args = (method, path[:500], user_id if user_id is not None else "-", status, reason)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True
