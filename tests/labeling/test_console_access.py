"""Who may open the console: every URL, every member of the cast.

Curators (staff) get the page; labelers and outsiders get 403; anonymous users go to the login
page. The list of URLs is checked against the URLconf, so a new console URL cannot be left out.
"""

import pytest
from django.urls import reverse

from labeling.console import urls as console_urls
from tests.labeling.console_fixtures import build_world

# url name -> (function of the world giving the URL's args, methods it answers)
CONSOLE_URLS = {
    "index": (lambda w: [], {"GET"}),
    "schemas": (lambda w: [], {"GET"}),
    "schema_list": (lambda w: [w.experiment.pk], {"GET"}),
    "schema_create": (lambda w: [w.experiment.pk], {"GET", "POST"}),
    "schema_detail": (lambda w: [w.experiment.pk, w.schema.pk], {"GET"}),
    "schema_edit": (lambda w: [w.experiment.pk, w.schema.pk], {"GET", "POST"}),
    "schema_archive": (lambda w: [w.experiment.pk, w.schema.pk], {"POST"}),
    "schema_delete": (lambda w: [w.experiment.pk, w.schema.pk], {"POST"}),
    "session_new": (lambda w: [], {"GET"}),
    "session_create": (lambda w: [w.experiment.pk], {"GET", "POST"}),
    "session_detail": (lambda w: [w.session.pk], {"GET"}),
    "session_edit": (lambda w: [w.session.pk], {"GET", "POST"}),
    "session_add_traces": (lambda w: [w.session.pk], {"GET", "POST"}),
    "item_remove": (lambda w: [w.session.pk, w.item.pk], {"POST"}),
    "add_to_session": (lambda w: [w.experiment.pk], {"GET", "POST"}),
    "people": (lambda w: [], {"GET"}),
    "person_create": (lambda w: [], {"GET", "POST"}),
    "person_password": (lambda w: [w.labeler.pk], {"GET", "POST"}),
    "person_active": (lambda w: [w.labeler.pk], {"POST"}),
}

CASES = [
    (name, method) for name, (_, methods) in CONSOLE_URLS.items() for method in sorted(methods)
]


def url_for(w, name):
    args_of, _ = CONSOLE_URLS[name]
    return reverse(f"console:{name}", args=args_of(w))


@pytest.fixture
def w(db, curator, labeler, other_labeler):
    return build_world(labeler, other_labeler)


def test_every_console_url_is_in_the_matrix():
    names = {pattern.name for pattern in console_urls.urlpatterns}
    assert names == set(CONSOLE_URLS)


@pytest.mark.parametrize(("name", "method"), CASES)
def test_anonymous_users_are_sent_to_login(client, w, name, method):
    url = url_for(w, name)
    response = getattr(client, method.lower())(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("who", ["labeler", "other_labeler", "outsider"])
@pytest.mark.parametrize(("name", "method"), CASES)
def test_non_curators_get_403(client, w, request, who, name, method):
    client.force_login(request.getfixturevalue(who))
    url = url_for(w, name)
    response = getattr(client, method.lower())(
        url, HTTP_HX_REQUEST="true" if method == "GET" else ""
    )
    assert response.status_code == 403
    # Nothing was written by a refused POST.
    w.schema.refresh_from_db()
    assert not w.schema.archived


@pytest.mark.parametrize("name", [n for n, (_, m) in CONSOLE_URLS.items() if "GET" in m])
def test_curators_get_every_page(curator_client, w, name):
    response = curator_client.get(url_for(w, name))
    assert response.status_code == 200
    assert b"Console" in response.content


@pytest.mark.parametrize("name", [n for n, (_, m) in CONSOLE_URLS.items() if "GET" not in m])
def test_post_only_urls_refuse_get(curator_client, w, name):
    assert curator_client.get(url_for(w, name)).status_code == 405


def test_deactivated_staff_are_refused(client, w, curator):
    curator.is_active = False
    curator.save()
    client.force_login(curator)
    response = client.get(reverse("console:index"))
    assert response.status_code in (302, 403)


def test_403_page_is_friendly(labeler_client, w):
    response = labeler_client.get(reverse("console:index"))
    assert response.status_code == 403
    assert b"You cannot open this page" in response.content


def test_console_link_only_for_curators(curator_client, client, labeler, w):
    assert reverse("console:index").encode() in curator_client.get(reverse("home")).content
    client.force_login(labeler)
    assert reverse("console:index").encode() not in client.get(reverse("home")).content


# Objects of another experiment, or that do not exist: 404.
NOT_FOUND = [
    ("schema_detail", lambda w: [w.experiment.pk, w.other_schema.pk]),
    ("schema_edit", lambda w: [w.experiment.pk, w.other_schema.pk]),
    ("schema_detail", lambda w: [w.experiment.pk, 999_999]),
    ("schema_list", lambda w: [999_999]),
    ("schema_create", lambda w: [999_999]),
    ("session_create", lambda w: [999_999]),
    ("session_detail", lambda w: [999_999]),
    ("session_edit", lambda w: [999_999]),
    ("session_add_traces", lambda w: [999_999]),
    ("add_to_session", lambda w: [999_999]),
    ("person_password", lambda w: [999_999]),
]


@pytest.mark.parametrize(("name", "args_of"), NOT_FOUND)
def test_missing_or_foreign_objects_404(curator_client, w, name, args_of):
    assert curator_client.get(reverse(f"console:{name}", args=args_of(w))).status_code == 404


def test_item_of_another_session_404(curator_client, w):
    from tests.factories import make_session, make_trace

    elsewhere = make_session(w.experiment, traces=[make_trace(w.experiment)])
    item = elsewhere.items.get()
    url = reverse("console:item_remove", args=[w.session.pk, item.pk])
    assert curator_client.post(url).status_code == 404
    assert elsewhere.items.exists()


def test_schema_archive_of_another_experiment_404(curator_client, w):
    url = reverse("console:schema_archive", args=[w.experiment.pk, w.other_schema.pk])
    assert curator_client.post(url).status_code == 404
    w.other_schema.refresh_from_db()
    assert not w.other_schema.archived


def test_curators_cannot_manage_staff_accounts(curator_client, w, curator, outsider):
    for user in (curator, outsider):  # staff, and a user who is not a labeler
        url = reverse("console:person_password", args=[user.pk])
        assert curator_client.get(url).status_code == 404
        url = reverse("console:person_active", args=[user.pk])
        assert curator_client.post(url, {"active": "0"}).status_code == 404
