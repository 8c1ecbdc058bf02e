"""Adding, editing and deleting labels from the trace page (HTMX and plain form posts)."""

import re

import pytest
from django.urls import reverse

from tests.factories import assign_traces, human, make_chat_trace, make_feedback
from traces import services
from traces.models import Assessment, SourceType

pytestmark = pytest.mark.django_db

ROOT, RETRIEVER = "a0000000000000a1", "a0000000000000a2"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def trace(labeler):
    """A trace the labeler may see: an item of an active session they are assigned to."""
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    return trace


def create_url(trace):
    return reverse("explorer:label_create", args=[trace.trace_id])


def label_url(view, label):
    return reverse(f"explorer:label_{view}", args=[label.trace.trace_id, label.assessment_id])


def post_label(client, trace, *, htmx=True, **data):
    fields = {
        "span": RETRIEVER,
        "kind": "feedback",
        "name": "quality",
        "data_type": "string",
        "value": "",
        "rationale": "",
        **data,
    }
    return client.post(create_url(trace), fields, headers=HTMX if htmx else {})


# --- creating -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data_type", "text", "value"),
    [
        ("feedback", "number", "4", 4),
        ("feedback", "boolean", "false", False),
        ("feedback", "string", "Cites the wrong policy.", "Cites the wrong policy."),
        ("feedback", "json", '["late", "polite"]', ["late", "polite"]),
        ("expectation", "json", '{"answer": "Friday", "docs": [{"id": 1}]}', None),
    ],
)
def test_create_each_data_type_on_a_span(
    labeler_client, labeler, trace, kind, data_type, text, value
):
    response = post_label(
        labeler_client,
        trace,
        kind=kind,
        name="my_label",
        data_type=data_type,
        value=text,
        rationale="Checked by hand.",
    )
    assert response.status_code == 200
    label = Assessment.objects.get(trace=trace, name="my_label")
    assert label.kind == kind
    assert label.value == (
        value if value is not None else {"answer": "Friday", "docs": [{"id": 1}]}
    )
    assert (label.source_type, label.source_id) == (SourceType.HUMAN, labeler.get_username())
    assert label.span_id == RETRIEVER and label.rationale == "Checked by hand."
    html = response.content.decode()
    assert html.lstrip().startswith('<aside id="assessments"')
    assert f'id="label-{label.assessment_id}"' in html
    assert "Label “my_label” added." in html
    assert response["HX-Retarget"] == "#assessments"


def test_label_on_the_root_is_about_the_whole_trace(labeler_client, trace):
    post_label(labeler_client, trace, span=ROOT, value="Good overall")
    label = Assessment.objects.get(trace=trace)
    assert label.span_id is None


def test_plain_post_redirects_back_to_the_span(labeler_client, trace):
    response = post_label(labeler_client, trace, htmx=False, value="fine")
    assert response.status_code == 302
    assert response["Location"] == (
        reverse("explorer:trace", args=[trace.trace_id]) + f"?span={RETRIEVER}#labels"
    )
    page = labeler_client.get(response["Location"])
    assert "Label “quality” added." in page.content.decode()
    assert Assessment.objects.filter(trace=trace, name="quality").count() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"data_type": "number", "value": "four"}, "value", "is not a number"),
        (
            {"data_type": "json", "value": '{"a": 1,,}'},
            "value",
            "This is not valid JSON: Expecting property name enclosed in double quotes at line 1, "
            "column 9.",
        ),
        ({"name": "   "}, "name", "Give the label a name"),
        ({"data_type": "string", "value": ""}, "value", "Enter a value."),
        ({"data_type": "boolean"}, "value", "Choose True or False."),
        ({"data_type": "json", "value": '{"a": {"b": 1}}'}, "value", "may hold only numbers"),
    ],
)
def test_each_validation_error_shows_in_place(labeler_client, trace, data, field, message):
    data = {"value": "kept", "rationale": "my reason", **data}
    response = post_label(labeler_client, trace, **data)
    assert response.status_code == 200
    assert not Assessment.objects.exists()
    form = response.context["add_form"]
    assert message in " ".join(form.errors[field])
    html = response.content.decode()
    assert 'class="field-error"' in html and 'aria-invalid="true"' in html
    assert "my reason" in html  # the other input is kept


def test_errors_without_javascript_rerender_the_whole_page(labeler_client, trace):
    response = post_label(labeler_client, trace, htmx=False, data_type="number", value="x")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and "is not a number" in html and "span-tree" in html


def test_switching_the_data_type_swaps_only_the_value_input(labeler_client, trace):
    response = post_label(
        labeler_client, trace, change_type="1", data_type="boolean", name="kept", value="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="id_value-field"')
    assert re.search(r'<input type="radio" name="value" value="true"[^>]* checked', html)
    assert "field-error" not in html
    assert not Assessment.objects.exists()


def test_switching_the_data_type_without_javascript(labeler_client, trace):
    response = post_label(
        labeler_client, trace, htmx=False, change_type="1", data_type="json", name="kept_name"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'value="kept_name"' in html and "code-input" in html
    assert "field-error" not in html
    assert not Assessment.objects.exists()


def test_posting_to_an_unknown_span_writes_nothing(labeler_client, trace):
    response = post_label(labeler_client, trace, span="ffffffffffffffff", value="x")
    assert response.status_code == 404
    assert not Assessment.objects.exists()


def test_anonymous_cannot_post(client, trace):
    response = post_label(client, trace, value="x")
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert not Assessment.objects.exists()


def test_create_needs_post(labeler_client, trace):
    assert labeler_client.get(create_url(trace)).status_code == 405


# --- editing ------------------------------------------------------------------------------


def test_edit_form_full_page_and_partial(labeler_client, labeler, trace):
    label = make_feedback(trace, name="tone", value=3, span_id=RETRIEVER, source=human(labeler))
    page = labeler_client.get(label_url("edit", label) + f"?span={RETRIEVER}")
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert page.context["form"]["value"].value() == "3"
    partial = labeler_client.get(label_url("edit", label), headers=HTMX)
    html = partial.content.decode()
    assert html.lstrip().startswith('<article class="label-card is-editing')
    assert "<html" not in html


def test_edit_makes_an_override_and_keeps_history(labeler_client, labeler, trace):
    label = make_feedback(
        trace, name="tone", value="curt", span_id=RETRIEVER, source=human(labeler)
    )
    response = labeler_client.post(
        label_url("edit", label),
        {"span": RETRIEVER, "data_type": "string", "value": "warm", "rationale": "Re-read it."},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#assessments"
    label.refresh_from_db()
    new = Assessment.objects.get(trace=trace, valid=True)
    assert not label.valid and new.overrides_id == label.pk
    assert (new.value, new.rationale, new.span_id) == ("warm", "Re-read it.", RETRIEVER)
    html = response.content.decode()
    assert "edited" in html and ">warm<" in html

    history = labeler_client.get(label_url("history", new), headers=HTMX).content.decode()
    assert (
        "warm" in history and "curt" in history and "replaced" in history and "current" in history
    )
    assert "<html" not in history
    full = labeler_client.get(label_url("history", new))
    assert "<html" in full.content.decode() and "curt" in full.content.decode()


def test_invalid_edit_stays_in_the_card(labeler_client, labeler, trace):
    label = make_feedback(trace, name="score", value=1, span_id=RETRIEVER, source=human(labeler))
    response = labeler_client.post(
        label_url("edit", label), {"data_type": "number", "value": "lots"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "HX-Retarget" not in response
    assert "is not a number" in response.content.decode()
    assert Assessment.objects.get().value == 1


def test_plain_edit_redirects(labeler_client, labeler, trace):
    label = make_feedback(trace, name="score", value=1, source=human(labeler))
    response = labeler_client.post(label_url("edit", label), {"data_type": "number", "value": "2"})
    assert response.status_code == 302
    assert Assessment.objects.get(valid=True).value == 2


def test_labeler_cannot_edit_or_delete_someone_elses_label(labeler_client, other_labeler, trace):
    theirs = make_feedback(trace, name="tone", value="ok", source=human(other_labeler))
    judge = make_feedback(trace, name="judge", value=True)  # source CODE
    for label in (theirs, judge):
        edit = labeler_client.post(label_url("edit", label), {"data_type": "string", "value": "x"})
        delete = labeler_client.post(label_url("delete", label))
        assert edit.status_code == 403 and delete.status_code == 403
        assert labeler_client.get(label_url("edit", label)).status_code == 403
    assert Assessment.objects.count() == 2
    assert all(a.valid for a in Assessment.objects.all())
    html = labeler_client.get(reverse("explorer:trace", args=[trace.trace_id])).content.decode()
    assert label_url("edit", theirs) not in html


def test_curator_can_edit_any_label(curator_client, curator, other_labeler, trace):
    theirs = make_feedback(trace, name="tone", value="ok", source=human(other_labeler))
    response = curator_client.post(
        label_url("edit", theirs), {"data_type": "string", "value": "better"}, headers=HTMX
    )
    assert response.status_code == 200
    new = Assessment.objects.get(valid=True)
    assert (new.value, new.source_id) == ("better", curator.get_username())


def test_a_replaced_label_cannot_be_edited_again(labeler_client, labeler, trace):
    label = make_feedback(trace, name="tone", value="a", source=human(labeler))
    services.override_assessment(
        trace_id=trace.trace_id, assessment_id=label.assessment_id, value="b", source=human(labeler)
    )
    response = labeler_client.post(label_url("edit", label), {"data_type": "string", "value": "c"})
    assert response.status_code == 404
    assert Assessment.objects.count() == 2


# --- deleting -----------------------------------------------------------------------------


def test_delete_asks_first(labeler_client, labeler, trace):
    label = make_feedback(trace, name="tone", value="ok", source=human(labeler))
    page = labeler_client.get(label_url("delete", label))
    assert page.status_code == 200 and "Delete this label?" in page.content.decode()
    partial = labeler_client.get(label_url("delete", label), headers=HTMX).content.decode()
    assert partial.lstrip().startswith('<article class="label-card is-confirming')
    assert Assessment.objects.count() == 1


def test_delete_an_override_brings_back_the_previous_value(labeler_client, labeler, trace):
    first = make_feedback(trace, name="tone", value="a", span_id=RETRIEVER, source=human(labeler))
    second = services.override_assessment(
        trace_id=trace.trace_id, assessment_id=first.assessment_id, value="b", source=human(labeler)
    )
    response = labeler_client.post(label_url("delete", second), {"span": RETRIEVER}, headers=HTMX)
    assert response.status_code == 200
    assert "previous value is current again" in response.content.decode()
    first.refresh_from_db()
    assert first.valid and not Assessment.objects.filter(pk=second.pk).exists()


def test_plain_delete_redirects(labeler_client, labeler, trace):
    label = make_feedback(trace, name="tone", value="ok", source=human(labeler))
    response = labeler_client.post(label_url("delete", label))
    assert response.status_code == 302
    assert not Assessment.objects.exists()


def test_unknown_label_is_404(labeler_client, trace):
    missing = reverse("explorer:label_edit", args=[trace.trace_id, "a-missing"])
    assert labeler_client.get(missing).status_code == 404
    other = make_feedback(make_chat_trace(), name="x", value=1)
    wrong_trace = reverse("explorer:label_delete", args=[trace.trace_id, other.assessment_id])
    assert labeler_client.post(wrong_trace).status_code == 404
