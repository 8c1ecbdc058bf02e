"""Accounts: labeler accounts (create, deactivate) and API tokens (create: the token is
returned once; authenticate; revoke)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser, Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import TOKEN_NAME_MAX_LENGTH, TOKEN_PREFIX, ApiToken

LABELERS_GROUP = "labelers"
# Names no account may have: the source id API clients get when they name no source
# (`traces.services.DEFAULT_SOURCE_ID`), so that such labels can never look like someone's.
RESERVED_USERNAMES = frozenset({"default"})

# `last_used_at` is written at most this often per token, so busy clients cost no write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A token is the prefix and 43 URL-safe characters (256 random bits).
_TOKEN_BYTES = 32
_TOKEN_MAX_LENGTH = 200


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def validate_token_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the token a name, e.g. where it is used.", code="name")
    if len(name) > TOKEN_NAME_MAX_LENGTH:
        raise ValidationError(
            f"The name is {len(name)} characters long; the limit is {TOKEN_NAME_MAX_LENGTH}.",
            code="name",
        )
    return name


@transaction.atomic
def create_api_token(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`: the saved row, and the token itself (shown once, never stored)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    token = ApiToken.objects.create(
        user=user,
        name=validate_token_name(name),
        token_hash=hash_token(raw),
        hint=raw[: len(TOKEN_PREFIX) + 6],
    )
    return token, raw


def authenticate_api_token(raw: str) -> ApiToken | None:
    """The active token `raw` names (with its user), or None.

    Looked up by SHA-256: the comparison happens on the hash in the database index, so timing
    reveals nothing about the token. Marks the token used (at most once a minute).
    """
    if not raw or len(raw) > _TOKEN_MAX_LENGTH or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.active().select_related("user").filter(token_hash=hash_token(raw)).first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_api_token(*, token: ApiToken) -> ApiToken:
    """Revoke `token` (a no-op when it already is); it stops working at once."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# --- labelers ----------------------------------------------------------------------------------


def validate_username(username: str) -> str:
    """Refuse the reserved names (in any case)."""
    if (username or "").strip().casefold() in RESERVED_USERNAMES:
        raise ValidationError(
            f"“{username}” is reserved (it stands for labels of no one in particular); "
            "choose another username.",
            code="username_reserved",
        )
    return username


def labelers_group() -> Group:
    group, _ = Group.objects.get_or_create(name=LABELERS_GROUP)
    return group


@transaction.atomic
def create_labeler(
    *,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    """A labeler account: an ordinary user in the "labelers" group (validated by the form)."""
    validate_username(username)
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    user.groups.add(labelers_group())
    return user


@transaction.atomic
def set_labeler_active(*, user: User, active: bool) -> None:
    """Deactivated labelers cannot sign in; their labels and assignments stay."""
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
