import pytest

from tests.factories import make_feedback, make_trace
from traces import services


@pytest.mark.django_db
def test_healthz_is_public(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_override_then_delete_restores(curator_client):
    trace = make_trace(spans=3)
    first = make_feedback(trace, value=0.5)
    second = services.override_assessment(
        trace_id=trace.trace_id, assessment_id=first.assessment_id, value=0.9
    )
    first.refresh_from_db()
    assert not first.valid and second.overrides_id == first.pk
    services.delete_assessment(trace_id=trace.trace_id, assessment_id=second.assessment_id)
    first.refresh_from_db()
    assert first.valid
    assert curator_client.get("/").status_code == 200


@pytest.mark.django_db
def test_nav_marks_only_the_current_section(curator_client):
    html = curator_client.get("/review/").content.decode()
    assert html.count('aria-current="page"') == 1
    assert 'aria-current="page">Review' in html
    html = curator_client.get("/").content.decode()
    assert 'aria-current="page">Home' in html and html.count('aria-current="page"') == 1
