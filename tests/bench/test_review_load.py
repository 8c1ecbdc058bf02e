"""bench/review_load.py signs its labelers in with the session engine the settings name, so the
same bench drives the server before and after a change of SESSION_ENGINE."""

import pytest

from bench import review_load


@pytest.mark.parametrize(
    "engine",
    [
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.signed_cookies",
        "django.contrib.sessions.backends.cache",
    ],
)
def test_campaign_cookies_sign_the_labelers_in(engine, settings, client, db):
    settings.SESSION_ENGINE = engine
    settings.SESSION_COOKIE_NAME = "review_session"
    campaign = review_load.create_campaign(labelers=2, items=3)

    for username, cookie in campaign.cookies.items():
        client.cookies.clear()
        client.cookies.load(cookie)
        assert client.cookies["csrftoken"].value == campaign.csrf_token
        response = client.get(f"/review/{campaign.session_id}/")
        assert response.status_code == 200
        assert response.wsgi_request.user.username == username
