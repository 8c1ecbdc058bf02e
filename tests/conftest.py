"""Shared fixtures: a fixed cast of users, and the rules for PostgreSQL-only and browser tests.

Cast: `curator` (staff), `labeler` and `other_labeler` (in the "labelers" group), `outsider`
(signed in, but assigned to nothing and not staff). Every password is `PASSWORD`.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

PASSWORD = "correct horse battery staple"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only tests run in the PostgreSQL pass (`DATABASE_URL=postgres://…`).

    In the SQLite pass they are deselected in CI (the PostgreSQL pass runs them, and fails if
    PostgreSQL is missing) and skipped with a reason locally.
    """
    if on_postgres():
        return
    keep, deselected = [], []
    for item in items:
        if item.get_closest_marker("postgres"):
            if IN_CI:
                deselected.append(item)
                continue
            item.add_marker(
                pytest.mark.skip(
                    reason="needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
                )
            )
        keep.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


def make_user(username: str, *, staff: bool = False, labeler: bool = False) -> User:
    user = User.objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, is_staff=staff
    )
    if labeler:
        group, _ = Group.objects.get_or_create(name="labelers")
        user.groups.add(group)
    return user


@pytest.fixture
def curator(db) -> User:
    return make_user("curator", staff=True)


@pytest.fixture
def labeler(db) -> User:
    return make_user("labeler", labeler=True)


@pytest.fixture
def other_labeler(db) -> User:
    return make_user("other_labeler", labeler=True)


@pytest.fixture
def outsider(db) -> User:
    return make_user("outsider")


@pytest.fixture
def curator_client(client, curator):
    client.force_login(curator)
    return client


@pytest.fixture
def labeler_client(client, labeler):
    client.force_login(labeler)
    return client


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture
def api(client, curator):
    """The test client with a curator's API token (MLflow's REST paths, OTLP)."""
    from tests.factories import Api, make_api_token

    return Api(client, make_api_token(curator))


@pytest.fixture(autouse=True, scope="session")
def database_features_known(django_db_setup, django_db_blocker) -> None:
    """Django asks SQLite once per connection whether it has JSON functions (a SELECT of its
    own); ask it before any test, so that pinned query counts do not depend on test order."""
    from django.db import connection

    with django_db_blocker.unblock():
        assert connection.features.supports_json_field


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Real hashers cost seconds per login on a busy machine; tests do not need their strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
