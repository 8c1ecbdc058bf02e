"""Who may use the disagreements, adjudication and export URLs: curators and the session's
reviewers. The session's own labelers get 404 (they must not see each other's answers), other
signed-in users 404 as for a session that does not exist (which sessions exist does not leak),
anonymous visitors the login page."""

import pytest
from django.urls import reverse

from labeling.models import Adjudication

pytestmark = pytest.mark.django_db

ALLOWED = {"curator", "reviewer"}


def _urls(campaign, session_pk=None):
    pk = session_pk or campaign.session.pk
    item = campaign.items[0].pk
    question = campaign.correct.pk
    return [
        ("get", reverse("campaign:disagreements", args=[pk]), {}),
        ("get", reverse("campaign:disagreement_summary", args=[pk]), {}),
        ("get", reverse("campaign:settle", args=[pk, item]), {"question": question}),
        (
            "post",
            reverse("campaign:settle", args=[pk, item]),
            {"question": question, f"q-{question}": "true"},
        ),
        ("get", reverse("campaign:accept_unanimous", args=[pk]), {}),
        ("post", reverse("campaign:accept_unanimous", args=[pk]), {}),
        ("get", reverse("campaign:exports", args=[pk]), {}),
        ("get", reverse("campaign:export_csv", args=[pk]), {}),
        ("get", reverse("campaign:export_jsonl", args=[pk]), {}),
        ("get", reverse("campaign:eval_dataset", args=[pk]), {}),
    ]


@pytest.mark.parametrize("role", ["curator", "reviewer", "labeler", "outsider", "anonymous"])
def test_every_url_for_every_role(client, campaign, role):
    if role != "anonymous":
        client.force_login(campaign.users[role])
    for method, url, data in _urls(campaign):
        response = getattr(client, method)(url, data)
        if role == "anonymous":
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("login")), url
        elif role in ALLOWED:
            assert response.status_code in (200, 302), (url, response.status_code)
        else:
            assert response.status_code == 404, (url, response.status_code)
    if role not in ALLOWED:
        assert not Adjudication.objects.exists()


def test_a_labeler_made_reviewer_of_the_session_may_lead_it(client, campaign):
    labeler = campaign.users["labeler"]
    campaign.session.reviewers.add(labeler)
    client.force_login(labeler)
    for method, url, data in _urls(campaign):
        assert getattr(client, method)(url, data).status_code in (200, 302), url


def test_a_reviewer_of_another_session_is_refused(client, campaign):
    from tests.factories import make_review_session, without_csrf_tokens

    other = make_review_session(items=1)
    other.reviewers.add(campaign.users["outsider"])
    client.force_login(campaign.users["outsider"])
    response = client.get(reverse("campaign:disagreements", args=[campaign.session.pk]))
    assert response.status_code == 404
    unknown = client.get(reverse("campaign:disagreements", args=[999999]))
    assert unknown.status_code == 404
    assert without_csrf_tokens(response.content) == without_csrf_tokens(unknown.content)


def test_unknown_session_is_404(client, campaign):
    client.force_login(campaign.users["curator"])
    for method, url, data in _urls(campaign, session_pk=999999):
        assert getattr(client, method)(url, data).status_code == 404, url


def test_the_session_of_a_deleted_experiment_is_404(client, campaign):
    campaign.session.experiment.lifecycle_stage = "deleted"
    campaign.session.experiment.save()
    client.force_login(campaign.users["curator"])
    for method, url, data in _urls(campaign):
        assert getattr(client, method)(url, data).status_code == 404, url


def test_exports_and_settle_refuse_other_methods(client, campaign):
    client.force_login(campaign.users["curator"])
    assert (
        client.post(reverse("campaign:export_csv", args=[campaign.session.pk])).status_code == 405
    )
    assert (
        client.delete(reverse("campaign:disagreements", args=[campaign.session.pk])).status_code
        == 405
    )
