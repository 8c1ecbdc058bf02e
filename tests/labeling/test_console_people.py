"""Console: labeler accounts (list with sessions, create, set password, deactivate)."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.conftest import make_user
from tests.factories import make_assignment, make_experiment, make_session, make_trace

GOOD_PASSWORD = "violet tractor umbrella 93"


def create(client, **overrides):
    data = {
        "username": "dana",
        "first_name": "Dana",
        "last_name": "Scully",
        "email": "dana@example.com",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
    }
    data.update(overrides)
    return client.post(reverse("console:person_create"), data)


def test_create_labeler(curator_client, db):
    response = create(curator_client)
    assert response["Location"] == reverse("console:people")
    user = User.objects.get(username="dana")
    assert user.groups.filter(name="labelers").exists()
    assert (user.is_staff, user.is_superuser, user.get_full_name()) == (
        False, False, "Dana Scully",
    )  # fmt: skip
    assert user.check_password(GOOD_PASSWORD)
    page = curator_client.get(response["Location"])
    assert "Labeler “dana” created." in page.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"username": ""}, "username", "This field is required."),
        ({"username": "bad name!"}, "username", "Enter a valid username."),
        ({"password1": "short", "password2": "short"}, "password2", "This password is too short."),
        ({"password1": "12345678901", "password2": "12345678901"}, "password2",
         "This password is entirely numeric."),
        ({"password1": "password123", "password2": "password123"}, "password2",
         "This password is too common."),
        ({"password2": "something else 123"}, "password2", "The two password fields"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ],
)  # fmt: skip
def test_create_labeler_errors_in_place(curator_client, db, overrides, field, message):
    response = create(curator_client, **overrides)
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    assert f'id="id_{field}_error"'.encode() in response.content
    assert not User.objects.filter(username="dana").exists()


def test_usernames_are_unique(curator_client, labeler):
    response = create(curator_client, username="LABELER")
    assert (
        "A user with that username already exists." in response.context["form"].errors["username"]
    )


def test_set_password(curator_client, labeler):
    url = reverse("console:person_password", args=[labeler.pk])
    response = curator_client.post(
        url, {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD}
    )
    assert response["Location"] == reverse("console:people")
    labeler.refresh_from_db()
    assert labeler.check_password(GOOD_PASSWORD)


@pytest.mark.parametrize(
    ("password1", "password2", "message"),
    [
        ("short", "short", "This password is too short."),
        ("labeler", "labeler", "too similar to the username"),
        (GOOD_PASSWORD, "different one 123", "The two password fields"),
    ],
)
def test_set_password_errors_in_place(curator_client, labeler, password1, password2, message):
    url = reverse("console:person_password", args=[labeler.pk])
    response = curator_client.post(url, {"new_password1": password1, "new_password2": password2})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert b'id="id_new_password2_error"' in response.content
    labeler.refresh_from_db()
    assert not labeler.check_password(password1)


def test_deactivate_and_reactivate(curator_client, client, labeler):
    url = reverse("console:person_active", args=[labeler.pk])
    curator_client.post(url, {"active": "0"})
    labeler.refresh_from_db()
    assert not labeler.is_active
    curator_client.post(url, {"active": "1"})
    labeler.refresh_from_db()
    assert labeler.is_active


def test_people_lists_labelers_with_their_sessions(
    curator_client, labeler, other_labeler, outsider, django_assert_num_queries
):
    experiment = make_experiment()
    trace = make_trace(experiment)
    first = make_session(experiment, name="Week 1", labelers=[labeler], traces=[trace])
    make_session(experiment, name="Week 2", labelers=[labeler, other_labeler])
    make_assignment(first.items.get(), labeler)
    for index in range(5):
        make_user(f"extra{index}", labeler=True)
    # user, count, labelers, their sessions, items done, curators
    with django_assert_num_queries(6):
        response = curator_client.get(reverse("console:people"))
    rows = {user.username: user for user in response.context["page"]}
    assert "outsider" not in rows and "curator" not in rows
    assert [s.name for s in rows["labeler"].labeling_sessions.all()] == ["Week 2", "Week 1"]
    assert rows["labeler"].n_done == 1
    assert rows["other_labeler"].n_done == 0
    assert len(rows) == 7
