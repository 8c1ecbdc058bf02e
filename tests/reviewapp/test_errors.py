"""Under DEBUG (bin/dev), labelers get the styled 404/403/500 pages; curators the debug ones."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=True)
def test_a_labeler_gets_the_styled_404_under_debug(labeler_client):
    response = labeler_client.get("/no-such-page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "This page does not exist" in text
    assert "URLconf" not in text  # Django's debug page lists every URL pattern


@override_settings(DEBUG=True)
def test_a_labeler_gets_the_styled_404_for_a_missing_object_under_debug(labeler_client):
    response = labeler_client.get("/review/999999/")
    assert response.status_code == 404
    assert "This page does not exist" in response.content.decode()


@override_settings(DEBUG=True)
def test_a_labeler_gets_the_styled_403_under_debug(labeler_client):
    response = labeler_client.get("/console/")
    assert response.status_code == 403
    assert "You cannot open this page" in response.content.decode()


@override_settings(DEBUG=True)
def test_a_curator_keeps_the_debug_404(curator_client):
    response = curator_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "URLconf" in response.content.decode()


def test_without_debug_everyone_gets_the_styled_404(curator_client):
    response = curator_client.get("/no-such-page/")
    assert "This page does not exist" in response.content.decode()
