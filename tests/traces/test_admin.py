"""The admin of experiments, traces, spans and assessments renders for a superuser, stays at a
fixed number of queries however many rows there are, and edits assessments by the rules."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_expectation, make_feedback, make_span, make_trace
from traces import services
from traces.admin import INLINE_LIMIT
from traces.models import Assessment, Experiment, Span, Trace

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    """A signed-in superuser (no password: hashing one costs seconds per test)."""
    user = django_user_model.objects.create_superuser("root", "root@example.com", password=None)
    client.force_login(user)
    return client


# Session, user, and the page's own queries; the exact figure differs by a query or two
# between databases, so pages are pinned to a bound and to "does not grow with rows".
MAX_QUERIES = 15


def changelist(model: type) -> str:
    return reverse(f"admin:traces_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:traces_{obj._meta.model_name}_change", args=[obj.pk])


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(context.captured_queries)


def populate(traces: int) -> list[Trace]:
    made = []
    for _ in range(traces):
        trace = make_trace(spans=4)
        first = make_feedback(trace, name="relevance", value=2, span_id="0000000000000002")
        services.override_assessment(
            trace_id=trace.trace_id, assessment_id=first.assessment_id, value=4
        )
        make_expectation(trace)
        made.append(trace)
    return made


@pytest.mark.parametrize("model", [Experiment, Trace, Span, Assessment])
def test_changelists_render_in_a_fixed_number_of_queries(admin_client, model):
    populate(2)
    few = queries_for(admin_client, changelist(model))
    populate(6)

    many = queries_for(admin_client, changelist(model))

    assert many == few
    assert many <= MAX_QUERIES


@pytest.mark.parametrize("model", [Experiment, Trace, Span, Assessment])
def test_change_pages_render(admin_client, model):
    populate(1)
    obj = model.objects.order_by("pk").last()

    response = admin_client.get(change(obj))

    assert response.status_code == 200
    assert queries_for(admin_client, change(obj)) <= MAX_QUERIES


def test_changelists_search_and_filter(admin_client):
    trace, other = populate(2)

    by_id = admin_client.get(changelist(Trace), {"q": trace.trace_id})
    by_state = admin_client.get(changelist(Trace), {"state__exact": "ERROR"})
    spans = admin_client.get(changelist(Span), {"q": trace.trace_id})
    assessments = admin_client.get(
        changelist(Assessment), {"valid__exact": "1", "q": other.trace_id}
    )

    assert trace.trace_id in by_id.text and other.trace_id not in by_id.text
    assert trace.trace_id not in by_state.text
    assert list(spans.context["cl"].result_list) == list(trace.spans.order_by("-id"))
    assert {a.valid for a in assessments.context["cl"].result_list} == {True}
    assert len(assessments.context["cl"].result_list) == 2


def test_trace_page_lists_spans_and_assessments_without_payloads(admin_client):
    trace = make_trace(spans=3)
    make_span(trace, span_id="00000000000000aa", inputs={"secret-marker": "x" * 50})
    feedback = make_feedback(trace, name="relevance", value=5)

    response = admin_client.get(change(trace))

    assert "4 spans" in response.text
    assert feedback.assessment_id in response.text
    assert "step-1" in response.text
    assert "secret-marker" not in response.text


def test_trace_with_a_thousand_spans_shows_the_first_ones_in_bounded_queries(admin_client):
    small = make_trace(spans=3)
    big = make_trace()
    Span.objects.bulk_create(
        Span(
            trace=big,
            span_id=f"{n + 1:016x}",
            parent_id=None if n == 0 else f"{1:016x}",
            name=f"tool-call-{n}",
            span_type="TOOL",
            start_time_ns=n,
            end_time_ns=n + 10,
            inputs={"payload": "x" * 200},
        )
        for n in range(1000)
    )

    response = admin_client.get(change(big))

    assert "1,000 spans" in response.text
    assert f"the first {INLINE_LIMIT} are listed below" in response.text
    assert f"tool-call-{INLINE_LIMIT - 1} (" in response.text
    assert f"tool-call-{INLINE_LIMIT} (" not in response.text
    assert queries_for(admin_client, change(big)) == queries_for(admin_client, change(small))


def test_span_changelist_does_not_load_payloads(admin_client):
    populate(1)

    with CaptureQueriesContext(connection) as context:
        admin_client.get(changelist(Span))

    span_queries = [q["sql"] for q in context.captured_queries if "traces_span" in q["sql"]]
    assert span_queries
    assert not any('"inputs"' in sql or '"attributes"' in sql for sql in span_queries)


def test_spans_and_traces_cannot_be_added_and_spans_not_edited(admin_client):
    trace = make_trace(spans=1)
    span = trace.spans.get()

    assert admin_client.get(reverse("admin:traces_trace_add")).status_code == 403
    assert admin_client.get(reverse("admin:traces_span_add")).status_code == 403
    assert admin_client.get(reverse("admin:traces_assessment_add")).status_code == 403
    response = admin_client.post(change(span), {"name": "renamed"})
    assert response.status_code == 403
    span.refresh_from_db()
    assert span.name == "app"


def test_trace_tags_can_be_edited_with_the_inlines_on_the_page(admin_client):
    trace = make_trace(spans=3)
    make_feedback(trace)
    page = admin_client.get(change(trace))
    data = {
        "tags": '{"reviewed": "yes"}',
        **management_form(page, "assessments"),
        **management_form(page, "spans"),
    }

    response = admin_client.post(change(trace), data)

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    trace.refresh_from_db()
    assert trace.tags == {"reviewed": "yes"}
    assert trace.spans.count() == 3 and trace.assessments.count() == 1


def management_form(page, prefix: str) -> dict[str, str]:
    formset = next(
        f.formset for f in page.context["inline_admin_formsets"] if f.formset.prefix == prefix
    )
    data = {
        f"{prefix}-{name}": value
        for name, value in formset.management_form.initial.items()
        if value is not None
    }
    data.setdefault(f"{prefix}-MIN_NUM_FORMS", 0)
    for index, form in enumerate(formset.initial_forms):
        data[f"{prefix}-{index}-id"] = form.instance.pk
        data[f"{prefix}-{index}-trace"] = form.instance.trace_id
    return data


def test_experiment_change_saves_and_moves_last_update_time(admin_client):
    experiment = make_trace().experiment
    before = experiment.last_update_time

    response = admin_client.post(
        change(experiment),
        {"name": "renamed", "description": "d", "tags": "{}", "lifecycle_stage": "active"},
    )

    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.name == "renamed"
    assert experiment.last_update_time > before


# --- assessments ---------------------------------------------------------------------------------


def assessment_form(row: Assessment, **changes) -> dict[str, str]:
    import json

    data = {
        "name": row.name,
        "value": json.dumps(row.value),
        "rationale": row.rationale,
        "metadata": json.dumps(row.metadata),
    }
    return {**data, **changes}


def test_assessment_page_shows_its_history(admin_client):
    trace = make_trace(spans=2)
    first = make_feedback(trace, value=1)
    second = services.override_assessment(
        trace_id=trace.trace_id, assessment_id=first.assessment_id, value=2
    )

    response = admin_client.get(change(second))

    assert f"{second.assessment_id}</a> (2)" in response.text
    assert f"{first.assessment_id}</a> (1, not valid)" in response.text


def test_assessment_edit_is_validated_like_the_services(admin_client):
    row = make_feedback(make_trace(), name="relevance", value=3)

    response = admin_client.post(change(row), assessment_form(row, value="[[1, 2]]"))

    assert response.status_code == 200
    assert "A feedback list may hold only numbers, booleans and strings" in response.text
    row.refresh_from_db()
    assert row.value == 3

    response = admin_client.post(change(row), assessment_form(row, name="   "))
    assert "This field is required." in response.text


def test_assessment_edit_saves_and_moves_last_update_time(admin_client):
    row = make_expectation(make_trace(), value="Paris")
    before = row.last_update_time

    response = admin_client.post(
        change(row), assessment_form(row, value='{"city": "Paris", "facts": ["capital"]}')
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.value == {"city": "Paris", "facts": ["capital"]}
    assert row.last_update_time > before


def test_an_expectation_needs_a_value_in_the_admin_too(admin_client):
    row = make_expectation(make_trace(), value="Paris")

    response = admin_client.post(change(row), assessment_form(row, value="null"))

    assert "An expectation needs a value." in response.text
    row.refresh_from_db()
    assert row.value == "Paris"


def test_deleting_an_override_in_the_admin_restores_the_one_it_replaced(admin_client):
    trace = make_trace()
    first = make_feedback(trace, value=1)
    second = services.override_assessment(
        trace_id=trace.trace_id, assessment_id=first.assessment_id, value=2
    )
    url = reverse("admin:traces_assessment_delete", args=[second.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    first.refresh_from_db()
    assert first.valid
    assert not Assessment.objects.filter(pk=second.pk).exists()


def test_bulk_delete_of_a_chain_keeps_the_rest_whole(admin_client):
    trace = make_trace()
    chain = [make_feedback(trace, value=1)]
    for value in (2, 3):
        chain.append(
            services.override_assessment(
                trace_id=trace.trace_id, assessment_id=chain[-1].assessment_id, value=value
            )
        )
    first, middle, last = chain

    response = admin_client.post(
        changelist(Assessment),
        {"action": "delete_selected", "_selected_action": [middle.pk, last.pk], "post": "yes"},
    )

    assert response.status_code == 302
    first.refresh_from_db()
    assert first.valid
    assert list(Assessment.objects.all()) == [first]
