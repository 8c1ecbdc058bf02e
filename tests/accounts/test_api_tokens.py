"""API tokens: the services, the profile page, `manage.py create_api_token`, the admin."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import (
    authenticate_api_token,
    create_api_token,
    hash_token,
    revoke_api_token,
)

PROFILE = "/accounts/profile/"


# --- services -------------------------------------------------------------------------------------


def test_only_the_hash_is_stored(curator):
    token, raw = create_api_token(user=curator, name="  bot  ")
    assert raw.startswith("rva_") and len(raw) > 40
    assert token.name == "bot"
    assert token.token_hash == hash_token(raw) and raw not in token.token_hash
    assert token.hint == raw[:10]
    assert not ApiToken.objects.filter(token_hash=raw).exists()


def test_authenticate_finds_active_tokens_only(curator):
    token, raw = create_api_token(user=curator, name="bot")
    assert authenticate_api_token(raw) == token
    assert authenticate_api_token(raw + "x") is None
    assert authenticate_api_token("") is None
    assert authenticate_api_token("not-even-prefixed") is None
    assert authenticate_api_token("rva_" + "x" * 500) is None
    revoke_api_token(token=token)
    assert authenticate_api_token(raw) is None


def test_authenticate_refuses_inactive_users(curator):
    _, raw = create_api_token(user=curator, name="bot")
    curator.is_active = False
    curator.save()
    assert authenticate_api_token(raw) is None


def test_last_used_is_written_at_most_once_a_minute(curator, django_assert_num_queries):
    token, raw = create_api_token(user=curator, name="bot")
    with django_assert_num_queries(2):
        authenticate_api_token(raw)
    with django_assert_num_queries(1):
        authenticate_api_token(raw)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    with django_assert_num_queries(2):
        authenticate_api_token(raw)
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < timedelta(seconds=5)


def test_token_names_are_required_and_bounded(curator):
    from django.core.exceptions import ValidationError

    for name in ("", "   ", "x" * 101):
        with pytest.raises(ValidationError):
            create_api_token(user=curator, name=name)


# --- profile page ---------------------------------------------------------------------------------


def test_profile_needs_a_login(client, db):
    response = client.get(PROFILE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_profile_page_lists_own_tokens(curator_client, curator, labeler, django_assert_num_queries):
    create_api_token(user=curator, name="support bot")
    create_api_token(user=labeler, name="someone else's")
    with django_assert_num_queries(2):  # user, tokens (the session is a signed cookie)
        response = curator_client.get(PROFILE)
    page = response.content.decode()
    assert response.status_code == 200
    assert "support bot" in page and "someone else" not in page
    assert "Create token" in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_profile_partial_for_htmx(curator_client):
    response = curator_client.get(PROFILE, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="api-tokens"') and "<html" not in page


def test_create_a_token_shows_it_once(curator_client, curator):
    response = curator_client.post(reverse("token-create"), {"name": "support bot"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    token = curator.api_tokens.get()
    page = response.content.decode()
    shown = page.split('id="new-token" value="')[1].split('"')[0]
    assert hash_token(shown) == token.token_hash
    assert "shown only this once" in page
    again = curator_client.get(PROFILE).content.decode()
    assert shown not in again and 'id="new-token"' not in again
    # Nothing of it stays in the session (a signed cookie the browser keeps).
    assert shown not in str(dict(curator_client.session))
    assert shown not in response.cookies.output()


def test_create_a_token_with_htmx(curator_client, curator):
    response = curator_client.post(
        reverse("token-create"), {"name": "notebook"}, headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page
    shown = page.split('id="new-token" value="')[1].split('"')[0]
    assert authenticate_api_token(shown).name == "notebook"


def test_create_a_token_without_a_name_shows_the_error(curator_client, curator):
    response = curator_client.post(reverse("token-create"), {"name": "  "})
    assert response.status_code == 200
    assert "field-error" in response.content.decode()
    assert not curator.api_tokens.exists()


def test_labelers_cannot_create_tokens(labeler_client, labeler):
    page = labeler_client.get(PROFILE).content.decode()
    assert "API tokens are for curators" in page and "Create token" not in page
    assert labeler_client.post(reverse("token-create"), {"name": "x"}).status_code == 403
    assert not labeler.api_tokens.exists()


def test_revoke_own_token(curator_client, curator):
    token, raw = create_api_token(user=curator, name="old laptop")
    response = curator_client.post(reverse("token-revoke", args=[token.pk]))
    assert response.status_code == 302
    assert authenticate_api_token(raw) is None
    assert "is revoked" in curator_client.get(PROFILE).content.decode()


def test_revoke_with_htmx_returns_the_partial(curator_client, curator):
    token, _ = create_api_token(user=curator, name="old laptop")
    response = curator_client.post(
        reverse("token-revoke", args=[token.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "revoked" in response.content.decode()


def test_revoke_someone_elses_token_is_404(outsider_client, curator):
    token, raw = create_api_token(user=curator, name="bot")
    assert outsider_client.post(reverse("token-revoke", args=[token.pk])).status_code == 404
    assert authenticate_api_token(raw) == token


def test_revoke_needs_post_and_csrf(curator, client):
    token, _ = create_api_token(user=curator, name="bot")
    client.force_login(curator)
    assert client.get(reverse("token-revoke", args=[token.pk])).status_code == 405
    strict = type(client)(enforce_csrf_checks=True)
    strict.force_login(curator)
    assert strict.post(reverse("token-revoke", args=[token.pk])).status_code == 403


# --- command and admin ----------------------------------------------------------------------------


def test_create_api_token_command_prints_the_token_once(curator):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "curator", "--name", "ci", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert authenticate_api_token(raw).name == "ci"
    assert "shown only once" in err.getvalue()
    assert ApiToken.objects.get().token_hash != raw


def test_create_api_token_command_errors(curator, labeler):
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        call_command("create_api_token", "nobody")
    with pytest.raises(CommandError, match="not a curator"):
        call_command("create_api_token", "labeler")
    with pytest.raises(CommandError, match="the limit is 100"):
        call_command("create_api_token", "curator", "--name", "x" * 101)
    assert not ApiToken.objects.exists()


def test_admin_lists_tokens_without_secrets(client, curator, django_user_model):
    create_api_token(user=curator, name="support bot")
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    page = client.get("/admin/accounts/apitoken/").content.decode()
    assert "support bot" in page
    token = ApiToken.objects.get()
    change = client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert token.token_hash not in change
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403


def test_old_admin_address_of_tokens_redirects(client, curator, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    response = client.get("/admin/reviewapp/apitoken/?q=bot")
    assert response.status_code == 302
    assert response["Location"] == "/admin/accounts/apitoken/?q=bot"
