"""Lookups the labeling API's endpoints share: experiments, schemas, sessions (review queues)
and accounts by the identifiers MLflow's SDK sends, each a RESOURCE_DOES_NOT_EXIST (or, for an
account, INVALID_PARAMETER_VALUE) MLflow error when there is none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db.models.functions import Lower

from labeling.models import LabelingSchema, LabelingSession
from traces.mlflow_api import invalid, not_found
from traces.models import Experiment


def pk_of(value: Any) -> int | None:
    text = str(value).strip() if isinstance(value, str | int) else ""
    return int(text) if text.isdigit() and len(text) < 18 else None


def experiment_by_id(experiment_id: Any) -> Experiment:
    experiment = Experiment.objects.filter(pk=pk_of(experiment_id)).first()
    if experiment is None:
        raise not_found(f"No experiment with id {experiment_id!r:.80} exists.")
    return experiment


def schema_by_id(schema_id: Any) -> LabelingSchema:
    schema = LabelingSchema.objects.select_related("created_by").filter(pk=pk_of(schema_id)).first()
    if schema is None:
        raise not_found(f"Label schema with id {schema_id!r:.80} not found.")
    return schema


def session_by_id(queue_id: Any, *, lock: bool = False) -> LabelingSession:
    sessions = LabelingSession.objects.filter(pk=pk_of(queue_id))
    if lock:
        sessions = sessions.select_for_update()
    session = sessions.first()
    if session is None:
        raise not_found(f"Review queue with id {queue_id!r:.80} not found.")
    return session


def users_by_login(logins: Sequence[Any], what: str = "users") -> list[User]:
    """The active accounts with these logins (case-insensitive, as MLflow compares users), in
    this order without repeats; an unknown login is INVALID_PARAMETER_VALUE, never dropped."""
    if not isinstance(logins, list | tuple) or not all(isinstance(v, str) for v in logins):
        raise invalid(f"`{what}` should be a list of user names.")
    wanted = list(dict.fromkeys(login.strip().lower() for login in logins))
    if any(not login for login in wanted):
        raise invalid(f"`{what}` has an empty user name.")
    found = {
        user.username.lower(): user
        for user in User.objects.annotate(login=Lower("username")).filter(
            login__in=wanted, is_active=True
        )
    }
    unknown = [login for login in wanted if login not in found]
    if unknown:
        raise invalid(
            f"Unknown user{'s' if len(unknown) > 1 else ''} {', '.join(unknown)!s:.200}: every "
            "user of a review queue must be an active account of the Review App."
        )
    return [found[login] for login in wanted]
