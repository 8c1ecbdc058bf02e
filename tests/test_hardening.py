"""Issue 14, the security review's findings, one section each: every test reproduced its finding
before the fix (status and message), and checks that nothing was stored.

1 unbounded text · 2 login throttling (tests/accounts/test_login_throttle.py) · 3 answers outside
the schema · 4 500s from input · 5 log flooding · 6 ownership by name · 7 CSV formula injection ·
8 headers, /healthz, which sessions exist.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse

from labeling.campaign import exports
from labeling.models import Answer, LabelingSchema, LabelingSession
from reviewapp.request_log import RefusedRequestFilter
from tests.conftest import make_user
from tests.factories import (
    assign_traces,
    human,
    make_answer,
    make_assignment,
    make_experiment,
    make_feedback,
    make_review_session,
    make_schema,
    make_trace,
    mlflow_trace_json,
    otlp_request,
    otlp_span,
    without_csrf_tokens,
)
from traces.models import Assessment, Span, Trace

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
ROOT = Path(__file__).resolve().parent.parent


def mlflow(path: str) -> str:
    return f"/api/3.0/mlflow/{path}"


def api_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["error_code"] == code
    return body["message"]


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture
def trace(labeler):
    trace = make_trace(spans=2)
    assign_traces(labeler, trace)
    return trace


# --- 1. unbounded text ------------------------------------------------------------------------


def test_explorer_refuses_a_rationale_over_the_limit(labeler_client, trace):
    response = labeler_client.post(
        reverse("explorer:label_create", args=[trace.trace_id]),
        {
            "kind": "feedback",
            "name": "quality",
            "data_type": "string",
            "value": "good",
            "rationale": "x" * 20_001,
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response.context["form"].errors["rationale"] == [
        "Ensure this value has at most 20000 characters (it has 20001)."
    ]
    assert not Assessment.objects.exists()


def test_explorer_edit_refuses_a_rationale_over_the_limit(labeler_client, labeler, trace):
    label = make_feedback(trace, name="quality", value="ok", source=human(labeler))
    response = labeler_client.post(
        reverse("explorer:label_edit", args=[trace.trace_id, label.assessment_id]),
        {"data_type": "string", "value": "better", "rationale": "x" * 20_001},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["rationale"] == [
        "Ensure this value has at most 20000 characters (it has 20001)."
    ]
    assert list(Assessment.objects.values_list("value", flat=True)) == ["ok"]


def test_api_refuses_long_rationale_and_error_message(api, trace):
    path = mlflow(f"traces/{trace.trace_id}/assessments")
    body = {"assessment": {"assessment_name": "q", "feedback": {"value": 1}}}
    body["assessment"]["rationale"] = "x" * 20_001
    message = api_error(api.post(path, body), 400, "INVALID_PARAMETER_VALUE")
    assert message == "The rationale is 20,001 characters long; the limit is 20,000."
    error = {"error_code": "TIMEOUT", "error_message": "y" * 10_001}
    body = {"assessment": {"assessment_name": "q", "feedback": {"error": error}}}
    message = api_error(api.post(path, body), 400, "INVALID_PARAMETER_VALUE")
    assert message == "The error message is 10,001 characters long; the limit is 10,000."
    body = {"assessment": {"assessment_name": "q", "feedback": {"value": 1}}}
    body["assessment"]["metadata"] = {"k": "z" * 70_000}
    message = api_error(api.post(path, body), 400, "INVALID_PARAMETER_VALUE")
    assert message.startswith("The metadata is 70,009 bytes as JSON; the limit is 65,536.")
    assert not Assessment.objects.exists()


def test_api_update_refuses_a_long_rationale(api, trace):
    label = make_feedback(trace, name="q", value=1)
    path = mlflow(f"traces/{trace.trace_id}/assessments/{label.assessment_id}")
    body = {"assessment": {"rationale": "x" * 20_001}, "update_mask": "rationale"}
    message = api_error(api.patch(path, body), 400, "INVALID_PARAMETER_VALUE")
    assert message == "The rationale is 20,001 characters long; the limit is 20,000."
    label.refresh_from_db()
    assert label.rationale == ""


def test_api_refuses_long_tags(api, trace):
    path = mlflow(f"traces/{trace.trace_id}/tags")
    message = api_error(
        api.patch(path, {"key": "k", "value": "v" * 8_001}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert message == "The tag value is 8,001 characters long; the limit is 8,000."
    trace.refresh_from_db()
    assert "k" not in trace.tags


def session_form(**overrides):
    data = {
        "name": "Week 1",
        "instructions": "",
        "labels_per_item": "1",
        "reservation_minutes": "30",
        "status": "draft",
    }
    data.update(overrides)
    return data


def test_session_instructions_over_the_limit_are_refused(curator_client):
    experiment = make_experiment()
    url = reverse("console:session_create", args=[experiment.pk])
    response = curator_client.post(url, session_form(instructions="x" * 20_001))
    assert response.status_code == 200
    assert response.context["form"].errors["instructions"] == [
        "Ensure this value has at most 20000 characters (it has 20001)."
    ]
    assert not LabelingSession.objects.exists()


def schema_form(**overrides):
    data = {
        "name": "tone",
        "kind": "feedback",
        "title": "Tone?",
        "instruction": "",
        "target_span_type": "",
        "input_type": "categorical",
        "positive_label": "Pass",
        "negative_label": "Fail",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"options": "\n".join(f"option {n}" for n in range(201))},
            "options",
            "Give at most 200 options; there are 201.",
        ),
        (
            {"input_type": "pass_fail", "positive_label": "P" * 101},
            "positive_label",
            "Each label may be at most 100 characters.",
        ),
    ],
)
def test_schema_settings_over_the_limits_are_refused(curator_client, overrides, field, message):
    experiment = make_experiment()
    url = reverse("console:schema_create", args=[experiment.pk])
    response = curator_client.post(url, schema_form(**overrides))
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert not LabelingSchema.objects.exists()


def test_questions_saved_before_the_limits_still_load(curator_client):
    """The limits on options are checked when a question is saved, not when it is read."""
    from labeling import services

    experiment = make_experiment()
    schema = LabelingSchema.objects.create(
        experiment=experiment,
        name="legacy",
        title="Legacy?",
        input_type="categorical",
        input_config={"options": [f"option {n}" for n in range(300)], "multi": False},
    )
    assert len(schema.spec.options) == 300
    page = curator_client.get(reverse("console:schema_detail", args=[experiment.pk, schema.pk]))
    assert page.status_code == 200
    fields = services.SchemaFields(
        name="legacy",
        kind="feedback",
        title="Renamed?",
        instruction="",
        enable_comment=False,
        target_span_type="",
        spec=schema.spec,
    )
    with pytest.raises(ValidationError) as refused:
        services.update_schema(schema=schema, fields=fields)
    assert refused.value.messages == ["Give at most 200 options; there are 300."]
    schema.refresh_from_db()
    assert schema.title == "Legacy?"


def test_label_writes_are_rate_limited_per_user(labeler_client, labeler, trace, settings):
    settings.LABEL_WRITES_PER_MINUTE = 3
    url = reverse("explorer:label_create", args=[trace.trace_id])
    data = {"kind": "feedback", "data_type": "number", "value": "1", "rationale": ""}
    for n in range(3):
        response = labeler_client.post(url, {**data, "name": f"label_{n}"}, headers=HTMX)
        assert response.status_code == 200
    response = labeler_client.post(url, {**data, "name": "one_too_many"}, headers=HTMX)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "You changed 3 labels in the last minute, the most there may be; wait a moment and "
        "save again."
    ]
    assert Assessment.objects.count() == 3
    # Someone else is not held up by them.
    other = make_user("second_labeler", labeler=True)
    assign_traces(other, trace)
    labeler_client.force_login(other)
    response = labeler_client.post(url, {**data, "name": "theirs"}, headers=HTMX)
    assert Assessment.objects.count() == 4


# --- 3. answers outside the schema ------------------------------------------------------------


@pytest.fixture
def answered(labeler):
    """A labeler's submitted answers to a 1-5 score and a categorical question, in an active
    session: (session, {question name: answer})."""
    experiment = make_experiment()
    score = make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5})
    tone = make_schema(experiment, "tone", "categorical", {"options": ["warm", "curt"]})
    session = make_review_session(
        experiment=experiment, items=1, schemas=[score, tone], labelers=[labeler], name="Week 1"
    )
    assignment = make_assignment(session.items.get(), labeler)
    answers = {
        "score": make_answer(assignment, score, 3),
        "tone": make_answer(assignment, tone, "warm"),
    }
    for answer in answers.values():
        Assessment.objects.filter(pk=answer.assessment_id).update(
            metadata={"labeling_session_id": session.pk, "schema_version": 1}
        )
    return session, answers


def edit(client, answer, data_type: str, value: str):
    label = answer.assessment
    return client.post(
        reverse("explorer:label_edit", args=[label.trace.trace_id, label.assessment_id]),
        {"data_type": data_type, "value": value, "rationale": ""},
        headers=HTMX,
    )


@pytest.mark.parametrize(
    ("question", "data_type", "value", "message"),
    [
        ("score", "number", "999", "The answer must be at most 5."),
        ("tone", "json", '{"not": "an option"}', "{'not': 'an option'} is not one of the options."),
        ("tone", "string", "cheerful", "'cheerful' is not one of the options."),
    ],
)
def test_explorer_edit_of_an_answer_must_fit_its_question(
    labeler_client, answered, question, data_type, value, message
):
    _session, answers = answered
    response = edit(labeler_client, answers[question], data_type, value)
    assert response.status_code == 200
    title = "Score?" if question == "score" else "Tone?"
    assert response.context["form"].non_field_errors() == [
        f"This label answers “{title}” in the session “Week 1”: {message}"
    ]
    assert Assessment.objects.count() == 2
    assert Answer.objects.get(pk=answers[question].pk).assessment == answers[question].assessment


def test_explorer_edit_of_an_answer_keeps_its_links(labeler_client, answered):
    session, answers = answered
    response = edit(labeler_client, answers["score"], "number", "5")
    assert response.status_code == 200
    answer = Answer.objects.select_related("assessment").get(pk=answers["score"].pk)
    assert answer.assessment.value == 5
    assert answer.assessment.overrides_id == answers["score"].assessment_id
    assert answer.assessment.metadata == {"labeling_session_id": session.pk, "schema_version": 1}


def test_api_override_and_update_of_an_answer_must_fit_its_question(api, answered):
    _session, answers = answered
    label = answers["score"].assessment
    path = mlflow(f"traces/{label.trace.trace_id}/assessments")
    body = {
        "assessment": {
            "assessment_name": "score",
            "feedback": {"value": 999},
            "overrides": label.assessment_id,
            "source": {"source_type": "HUMAN", "source_id": "bot"},
        }
    }
    message = api_error(api.post(path, body), 400, "INVALID_PARAMETER_VALUE")
    assert (
        message
        == "This label answers “Score?” in the session “Week 1”: The answer must be at most 5."
    )
    patch = {"assessment": {"feedback": {"value": 0}}, "update_mask": "feedback"}
    message = api_error(
        api.patch(f"{path}/{label.assessment_id}", patch), 400, "INVALID_PARAMETER_VALUE"
    )
    assert message == (
        "This label answers “Score?” in the session “Week 1”: The answer must be at least 1."
    )
    rename = {"assessment": {"assessment_name": "other"}, "update_mask": "assessment_name"}
    message = api_error(
        api.patch(f"{path}/{label.assessment_id}", rename), 400, "INVALID_PARAMETER_VALUE"
    )
    assert (
        message == "This label answers “Score?” in the session “Week 1”, so its name stays “score”."
    )
    label.refresh_from_db()
    assert (label.name, label.value, label.valid) == ("score", 3, True)
    assert Assessment.objects.count() == 2


def test_admin_edit_of_an_answer_must_fit_its_question(client, answered):
    admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    session, answers = answered
    label = answers["score"].assessment
    url = reverse("admin:traces_assessment_change", args=[label.pk])
    response = client.post(
        url, {"name": "score", "value": "999", "rationale": "", "metadata": "{}"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["value"] == [
        "This label answers “Score?” in the session “Week 1”: The answer must be at most 5."
    ]
    label.refresh_from_db()
    assert label.value == 3
    response = client.post(url, {"name": "score", "value": "4", "rationale": "", "metadata": "{}"})
    assert response.status_code == 302
    label.refresh_from_db()
    assert label.value == 4
    assert label.metadata == {"labeling_session_id": session.pk, "schema_version": 1}


# --- 4. no 500 from input ---------------------------------------------------------------------


def test_deeply_nested_import_file_fails_alone_and_is_reported(curator_client):
    good = json.dumps(mlflow_trace_json(trace_id="tr-good")).encode()
    nested = mlflow_trace_json(trace_id="tr-deep")
    nested["data"]["spans"][0]["attributes"]["mlflow.spanInputs"] = deep(50_000)
    bad_document = json.dumps(nested)[:-1] + ', "x": ' + deep(50_000) + "}"
    response = curator_client.post(
        "/console/import/",
        {
            "new_experiment": "Uploaded",
            "files": [
                SimpleUploadedFile("good.json", good, content_type="application/json"),
                SimpleUploadedFile("deep.json", bad_document.encode(), "application/json"),
            ],
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "good.json" in page and "deep.json" in page
    assert (
        "this is not valid JSON: The JSON nests lists and objects more than 100 levels deep."
        in page
    )
    assert list(Trace.objects.values_list("trace_id", flat=True)) == ["tr-good"]


def test_deeply_nested_span_attribute_is_kept_as_text(api):
    experiment = make_experiment()
    attribute = deep(50_000)
    body = otlp_request(
        otlp_span(attributes={"app.payload": attribute, "mlflow.spanInputs": attribute})
    )
    response = api.otlp(body, experiment=experiment)
    assert response.status_code == 200, response.content
    span = Span.objects.get()
    assert span.attributes["app.payload"] == attribute
    assert span.inputs == attribute


def test_deeply_nested_json_bodies_are_refused_with_mlflow_errors(api, trace):
    experiment = make_experiment()
    message = api_error(
        api.otlp(
            ('{"resourceSpans": ' + deep(50_000) + "}").encode(),
            experiment=experiment,
            content_type="application/json",
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert message == "The body nests lists and objects more than 100 levels deep."
    body = '{"assessment": {"assessment_name": "q", "expectation": {"value": ' + deep(500) + "}}}"
    message = api_error(
        api.post(mlflow(f"traces/{trace.trace_id}/assessments"), body),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert message == (
        "The request body is not valid JSON: The JSON nests lists and objects more than 100 "
        "levels deep."
    )
    assert not Assessment.objects.exists()
    assert Span.objects.count() == 2  # the trace fixture's; the OTLP body stored none


def test_huge_page_number_is_clamped(labeler_client, trace):
    url = reverse("explorer:trace_list", args=[trace.experiment_id])
    response = labeler_client.get(url, {"page": "99999999999999999999"})
    assert response.status_code == 200
    assert response.context["page"].number == 1_000_000
    assert response.context["rows"] == []


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("attributes.execution_time_ms < 1e309", "The number 1e309 is out of range."),
        (
            "attributes.execution_time_ms < 99999999999999999999",
            "The number 99999999999999999999 is out of range.",
        ),
        (
            "attributes.timestamp_ms > '99999999999999999999'",
            "timestamp_ms is compared with a number of milliseconds.",
        ),
        ("feedback.q = '1e309'", None),
    ],
)
def test_out_of_range_numbers_in_search(api, trace, filter_string, message):
    body = {"locations": [{"mlflow_experiment": {"experiment_id": str(trace.experiment_id)}}]}
    response = api.post(mlflow("traces/search"), {**body, "filter": filter_string})
    if message is None:
        assert response.status_code == 200 and response.json()["traces"] == []
    else:
        assert api_error(response, 400, "INVALID_PARAMETER_VALUE") == message


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_unknown_api_paths_answer_mlflow_json(db, method):
    client = Client(enforce_csrf_checks=True)  # as a browser or a script meets the server
    response = getattr(client, method)("/api/2.0/mlflow/no/such/endpoint")
    message = api_error(response, 404, "ENDPOINT_NOT_FOUND")
    assert message == (
        f"{method.upper()} /api/2.0/mlflow/no/such/endpoint is not part of this server's "
        "MLflow-compatible API."
    )


def test_server_errors_under_the_api_are_mlflow_json():
    from reviewapp import views

    response = views.server_error(RequestFactory().post("/api/3.0/mlflow/traces"))
    assert api_error(response, 500, "INTERNAL_ERROR")
    response = views.page_not_found(RequestFactory().get("/v1/nothing"), Exception())
    assert api_error(response, 404, "ENDPOINT_NOT_FOUND")
    assert views.server_error(RequestFactory().get("/")).status_code == 500


# --- 5. log flooding --------------------------------------------------------------------------


@pytest.fixture
def log_output(monkeypatch):
    """What the app's console handler writes (the one with the refused-request filter)."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RefusedRequestFilter) for f in h.filters)
    )
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    return stream


def test_a_refused_request_is_one_line_without_traceback(
    labeler_client, labeler, other_labeler, trace, log_output
):
    theirs = make_feedback(trace, name="tone", value="ok", source=human(other_labeler))
    url = reverse("explorer:label_edit", args=[trace.trace_id, theirs.assessment_id])
    response = labeler_client.post(url, {"data_type": "string", "value": "mine"})
    assert response.status_code == 403
    lines = log_output.getvalue().splitlines()
    assert lines == [
        f"refused POST {url} user={labeler.pk} status=403: Forbidden (Permission denied)"
    ]


def test_server_errors_keep_their_traceback():
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", (), None)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.status_code = 500
    assert RefusedRequestFilter().filter(record) and record.exc_info is not None


# --- 6. ownership by account ------------------------------------------------------------------


def test_a_labeler_named_like_the_default_source_cannot_edit_api_labels(client, api, db):
    trace = make_trace()
    path = mlflow(f"traces/{trace.trace_id}/assessments")
    created = api.post(
        path, {"assessment": {"assessment_name": "truth", "expectation": {"value": "Paris"}}}
    )
    assert created.status_code == 200
    label = Assessment.objects.get()
    assert (label.source_type, label.source_id, label.created_by) == ("HUMAN", "default", None)
    default = User.objects.create_user("default", password="x")  # as it could be, before
    assign_traces(default, trace)
    client.force_login(default)
    url = reverse("explorer:label_edit", args=[trace.trace_id, label.assessment_id])
    assert client.get(url).status_code == 403
    assert client.post(url, {"data_type": "string", "value": "Lyon"}).status_code == 403
    delete = reverse("explorer:label_delete", args=[trace.trace_id, label.assessment_id])
    assert client.post(delete).status_code == 403
    assert list(Assessment.objects.values_list("value", flat=True)) == ["Paris"]


def test_labels_made_in_the_ui_belong_to_the_account(labeler_client, labeler, trace):
    response = labeler_client.post(
        reverse("explorer:label_create", args=[trace.trace_id]),
        {"kind": "feedback", "name": "q", "data_type": "number", "value": "2", "rationale": ""},
    )
    assert response.status_code == 302
    assert Assessment.objects.get().created_by == labeler


@pytest.mark.parametrize("username", ["default", "Default"])
def test_reserved_usernames_are_refused(curator_client, username):
    response = curator_client.post(
        reverse("console:person_create"),
        {
            "username": username,
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["username"] == [
        f"“{username}” is reserved (it stands for labels of no one in particular); "
        "choose another username."
    ]
    assert not User.objects.filter(username__iexact="default").exists()


def test_admin_refuses_reserved_usernames(client, db):
    admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "default",
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 200
    assert "is reserved" in response.content.decode()
    assert not User.objects.filter(username="default").exists()


# --- 7. CSV formula injection -----------------------------------------------------------------


def test_every_text_cell_of_the_csv_is_formula_safe(labeler):
    experiment = make_experiment()
    question = make_schema(experiment, "=1+1", "text")
    session = make_review_session(experiment=experiment, items=0, schemas=[question])
    trace = make_trace(experiment, trace_id="@SUM(A1)")
    item = session.items.create(trace=trace, position=0)
    make_answer(make_assignment(item, labeler), question, "-2+3")
    rows = list(csv.reader(io.StringIO("".join(exports.results_csv(session)))))
    assert rows[1][:3] == ["'@SUM(A1)", "0", "'=1+1"]
    assert rows[1][4] == "'-2+3"


# --- 8. headers, /healthz, which sessions exist -----------------------------------------------


def test_pages_carry_a_content_security_policy(labeler_client, trace):
    response = labeler_client.get(reverse("explorer:trace", args=[trace.trace_id]))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    assert " style=" not in html and "<style" not in html
    assert 'name="htmx-config" content=\'{"includeIndicatorStyles": false}\'' in html


def test_healthz_says_only_ok_to_anonymous_callers(client, curator):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    client.force_login(curator)
    assert client.get("/healthz").json() == {"status": "ok", "database": connection.vendor}


def test_a_labeler_cannot_tell_which_sessions_exist(labeler_client, labeler):
    session = make_review_session(items=1, labelers=[labeler])
    mine = labeler_client.get(reverse("campaign:disagreements", args=[session.pk]))
    missing = labeler_client.get(reverse("campaign:disagreements", args=[session.pk + 1000]))
    assert mine.status_code == missing.status_code == 404
    assert without_csrf_tokens(mine.content) == without_csrf_tokens(missing.content)


def test_check_deploy_is_clean_with_production_settings():
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DEBUG", "SECURE_", "DATABASE_URL"))
    }
    env.update(
        SECRET_KEY="a-long-random-production-secret-key-" + "k9Xq2vR7pL" * 5,
        ALLOWED_HOSTS="review.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_nul_characters_in_parameters_are_refused(labeler_client, api, trace):
    response = labeler_client.post(
        reverse("explorer:label_create", args=[trace.trace_id]),
        {"kind": "feedback", "name": "q", "data_type": "number", "value": "1", "span": "\x00"},
    )
    assert response.status_code == 400
    assert response.content.decode() == (
        "The request holds a NUL character (U+0000), which is not allowed."
    )
    response = labeler_client.get(reverse("explorer:trace", args=[trace.trace_id]) + "?span=%00")
    assert response.status_code == 400
    message = api_error(
        api.get(mlflow("traces/get"), {"trace_id": "\x00"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert message == "The request holds a NUL character (U+0000), which is not allowed."
    assert not Assessment.objects.exists()


def test_nul_characters_in_api_bodies_are_replaced(api, trace):
    body = {"assessment": {"assessment_name": "q\x00", "feedback": {"value": "a\x00b"}}}
    response = api.post(mlflow(f"traces/{trace.trace_id}/assessments"), body)
    assert response.status_code == 200
    label = Assessment.objects.get()
    assert (label.name, label.value) == ("q\ufffd", "a\ufffdb")


def test_a_forged_page_token_is_refused(api, trace):
    import base64

    token = base64.urlsafe_b64encode(json.dumps({"offset": 10**30}).encode()).decode()
    body = {"experiment_ids": [str(trace.experiment_id)], "page_token": token}
    message = api_error(api.post(mlflow("traces/search"), body), 400, "INVALID_PARAMETER_VALUE")
    assert message == "The page_token is not one this server gave out."
    for experiment_id in ("99999999999999999999", "1" * 400):
        response = api.get(mlflow("experiments/get"), {"experiment_id": experiment_id})
        assert response.status_code in (400, 404), response.content


def test_a_bad_host_is_one_line_too(client, db, log_output):
    response = client.get("/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    lines = log_output.getvalue().splitlines()
    assert lines == ["refused GET / user=- status=400: Invalid HTTP_HOST header"]
