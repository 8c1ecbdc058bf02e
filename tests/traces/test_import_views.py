"""The curator upload page (/console/import/): MLflow trace JSON files into an experiment."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import make_experiment, mlflow_trace_json
from traces.models import Experiment, Trace

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mlflow"
URL = "/console/import/"


def upload(name, content=None):
    if content is None:
        content = (FIXTURES / name).read_bytes()
    if not isinstance(content, bytes):
        content = json.dumps(content).encode()
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_url():
    assert reverse("trace-import") == URL


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_non_curators_are_refused(labeler_client, outsider_client):
    assert labeler_client.get(URL).status_code == 403
    assert outsider_client.post(URL, {"new_experiment": "x"}).status_code == 403
    assert not Experiment.objects.exists()


def test_full_page_and_partial(curator_client, django_assert_num_queries):
    make_experiment("docs bot")
    with django_assert_num_queries(2):  # user, experiments
        page = curator_client.get(URL)
    html = page.content.decode()
    assert page.status_code == 200 and "<html" in html and "docs bot" in html
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    partial = curator_client.get(URL, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="import-panel"') and "<html" not in partial


def test_upload_several_files_into_a_new_experiment(curator_client):
    bad = {"info": {"trace_id": "tr-bad"}, "data": {"spans": "nope"}}
    response = curator_client.post(
        URL,
        {
            "new_experiment": "Uploaded",
            "files": [upload("rag_trace.json"), upload("traces.jsonl"), upload("bad.json", bad)],
        },
    )
    assert response.status_code == 302 and response["Location"] == URL
    experiment = Experiment.objects.get(name="Uploaded")
    assert Trace.objects.filter(experiment=experiment).count() == 4

    page = curator_client.get(URL).content.decode()
    assert "4 traces imported" in page and "1 file failed" in page
    assert "rag_trace.json" in page and "1 trace imported (4 spans, 6 assessments)" in page
    assert "3 traces imported (9 spans, 0 assessments)" in page
    assert "bad.json" in page and "data.spans should be a list" in page
    # The summary is shown once.
    assert "traces imported" not in curator_client.get(URL).content.decode()


def test_upload_again_reports_traces_already_present(curator_client):
    experiment = make_experiment("docs bot")
    data = {"experiment": experiment.pk, "files": [upload("traces.jsonl")]}
    curator_client.post(URL, data)
    data["files"] = [upload("traces.jsonl")]
    response = curator_client.post(URL, data, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page
    assert "0 traces imported" in page and "3 already present" in page
    assert Trace.objects.count() == 3


def test_an_existing_experiment_can_be_named(curator_client):
    experiment = make_experiment("docs bot")
    curator_client.post(URL, {"new_experiment": "docs bot", "files": [upload("rag_trace.json")]})
    assert Trace.objects.get().experiment == experiment


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose the experiment to import into"),
        ({"new_experiment": "a", "experiment": "EXP"}, "not both"),
        ({"new_experiment": "x" * 300}, "at most 250 characters"),
        ({"experiment": "999999"}, "Select a valid choice"),
    ],
)
def test_experiment_errors_are_shown_in_place(curator_client, data, message):
    experiment = make_experiment("docs bot")
    if data.get("experiment") == "EXP":
        data["experiment"] = experiment.pk
    response = curator_client.post(URL, {**data, "files": [upload("rag_trace.json")]})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Trace.objects.exists()


def test_files_are_required_and_must_be_json(curator_client):
    response = curator_client.post(URL, {"new_experiment": "x"})
    assert "This field is required" in response.content.decode()
    response = curator_client.post(
        URL, {"new_experiment": "x", "files": [upload("notes.txt", b"hello")]}
    )
    assert "notes.txt is not a .json or .jsonl file" in response.content.decode()
    assert not Experiment.objects.exists()


def test_uploads_over_the_limit_are_refused_with_a_clear_message(curator_client, settings):
    settings.TRACE_UPLOAD_MAX_BYTES = 2000
    files = [upload(f"{n}.json", mlflow_trace_json(spans=3)) for n in range(2)]  # ~1.9 KB each
    response = curator_client.post(URL, {"new_experiment": "x", "files": files})
    assert response.status_code == 200
    assert "the limit is 2.0\xa0KB per upload" in response.content.decode()
    huge = upload("big.json", mlflow_trace_json(spans=3, output_chars=200_000))
    response = curator_client.post(URL, {"new_experiment": "x", "files": [huge]})
    assert response.status_code == 413
    assert "larger than 2.0\xa0KB, the limit per upload" in response.content.decode()
    assert not Trace.objects.exists()


def test_deleted_experiments_cannot_be_named(curator_client):
    make_experiment("gone", lifecycle_stage="deleted")
    response = curator_client.post(
        URL, {"new_experiment": "gone", "files": [upload("rag_trace.json")]}
    )
    assert "is deleted" in response.content.decode()
    assert not Trace.objects.exists()


def test_upload_needs_csrf(curator, client):
    strict = type(client)(enforce_csrf_checks=True)
    strict.force_login(curator)
    response = strict.post(URL, {"new_experiment": "x", "files": [upload("rag_trace.json")]})
    assert response.status_code == 403


def test_an_oversized_htmx_upload_gets_the_message_with_200(curator_client, settings):
    settings.TRACE_UPLOAD_MAX_BYTES = 2000
    huge = upload("big.json", mlflow_trace_json(spans=3, output_chars=200_000))
    response = curator_client.post(
        URL, {"new_experiment": "x", "files": [huge]}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "the limit per upload" in response.content.decode()
