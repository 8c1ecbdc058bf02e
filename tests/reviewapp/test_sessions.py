"""reviewapp.sessions: Django's database sessions, read with one SQL statement."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from reviewapp.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_reads_what_was_saved():
    store = SessionStore()
    store["answer"] = {"n": 42}
    store.create()
    again = SessionStore(session_key=store.session_key)
    assert again["answer"] == {"n": 42}
    assert again.session_key == store.session_key


def test_expired_and_unknown_sessions_read_as_empty():
    store = SessionStore()
    store["x"] = 1
    store.create()
    Session.objects.filter(pk=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(session_key=store.session_key)
    assert expired.load() == {}
    assert expired.session_key is None
    unknown = SessionStore(session_key="x" * 32)
    assert unknown.load() == {}
    assert unknown.session_key is None
    assert SessionStore(session_key=None).load() == {}


def test_signing_out_ends_the_session(client, django_user_model):
    user = django_user_model.objects.create_user("ann", password="pw-12345-long")
    client.force_login(user)
    assert client.get("/review/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/review/").status_code == 302
