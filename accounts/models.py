"""API tokens: how scripts and instrumented apps (MLflow SDK, OpenTelemetry exporters) sign in.

A token is shown once, when it is created; only its SHA-256 is stored. Tokens start with
`TOKEN_PREFIX` so they are recognisable in logs and secret scanners.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "rva_"
TOKEN_NAME_MAX_LENGTH = 100


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)

    def for_user(self, user: models.Model) -> ApiTokenQuerySet:
        return self.filter(user=user)


class ApiToken(models.Model):
    """A per-user API token, sent as `Authorization: Bearer <token>`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=TOKEN_NAME_MAX_LENGTH)
    # SHA-256 (hex) of the whole token; tokens are looked up by it.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, shown so people can tell their tokens apart.
    hint = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
