"""Sign-in throttling (issue 14, finding 2): after five failed sign-ins the account and the
address are locked for 15 minutes, with a clear message; the admin unlocks."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOCKED = (
    "Too many failed sign-ins: this account (or this address) is locked for 15 minutes. "
    "Try again later, or ask an administrator to unlock it."
)


def sign_in(client, username, password, address="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_the_settings(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_wrong_passwords_lock_the_account_even_for_the_right_one(client, labeler):
    for _ in range(4):
        response = sign_in(client, "labeler", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    response = sign_in(client, "labeler", "wrong")
    assert response.status_code == 429
    assert response.context["lockout"] == LOCKED
    assert LOCKED in response.content.decode()
    # The right password, even from elsewhere, does not get in while the lock lasts.
    response = sign_in(client, "labeler", PASSWORD, address="10.9.9.9")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_many_accounts_from_one_address_lock_the_address(client, labeler, other_labeler):
    for name in ("a", "b", "c", "d", "e"):
        sign_in(client, name, "wrong", address="10.0.0.7")
    response = sign_in(client, "labeler", PASSWORD, address="10.0.0.7")
    assert response.status_code == 429
    # Another address signs in as usual.
    response = sign_in(client, "other_labeler", PASSWORD, address="10.0.0.8")
    assert response.status_code == 302


def test_a_success_clears_earlier_failures(client, labeler):
    for _ in range(4):
        sign_in(client, "labeler", "wrong")
    assert sign_in(client, "labeler", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, "labeler", "wrong")
    assert sign_in(client, "labeler", PASSWORD).status_code == 302


def test_the_lock_ends_after_the_cool_off(client, labeler):
    for _ in range(5):
        sign_in(client, "labeler", "wrong")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, "labeler", PASSWORD).status_code == 302


def test_admin_unlocks_an_account(client, labeler):
    for _ in range(5):
        sign_in(client, "labeler", "wrong")
    admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
    admin_client = type(client)()
    admin_client.force_login(admin)
    attempt = AccessAttempt.objects.get(username="labeler")
    page = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code == 200 and "labeler" in page.content.decode()
    response = admin_client.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert sign_in(client, "labeler", PASSWORD).status_code == 302


def test_the_admin_sign_in_is_throttled_too(client, db):
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    url = reverse("admin:login")
    for _ in range(5):
        client.post(url, {"username": "admin", "password": "wrong"}, REMOTE_ADDR="10.1.1.1")
    response = client.post(url, {"username": "admin", "password": PASSWORD}, REMOTE_ADDR="10.2.2.2")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_behind_a_proxy_the_forwarded_address_counts(client, labeler, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        client.post(
            reverse("login"),
            {"username": "x", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}
    response = client.post(
        reverse("login"),
        {"username": "labeler", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )
    assert response.status_code == 302
