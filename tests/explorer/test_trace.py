"""The trace page: span tree, span panel (inputs and outputs for people), labels pane."""

import pytest
from django.urls import reverse

from tests.factories import (
    assign_traces,
    make_chat_trace,
    make_expectation,
    make_feedback,
    make_span,
    make_trace,
)
from traces.models import LifecycleStage

pytestmark = pytest.mark.django_db

ROOT, RETRIEVER, TOOL, CHAT = (f"a0000000000000a{i}" for i in range(1, 5))


def url(trace, span=None):
    base = reverse("explorer:trace", args=[trace.trace_id])
    return f"{base}?span={span}" if span else base


def test_anonymous_is_sent_to_login(client):
    trace = make_chat_trace()
    response = client.get(url(trace))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_trace_span_and_deleted_experiment_are_404(labeler_client, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    assert labeler_client.get("/traces/tr-nope/").status_code == 404
    assert labeler_client.get(url(trace, "ffffffffffffffff")).status_code == 404
    trace.experiment.lifecycle_stage = LifecycleStage.DELETED
    trace.experiment.save()
    assert labeler_client.get(url(trace)).status_code == 404


def test_full_page_selects_the_root_by_default(labeler_client, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    response = labeler_client.get(url(trace))
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["selected_id"] == ROOT
    assert response.context["is_root"] is True
    # the tree: every span, a link each, the root marked current
    for span_id in (ROOT, RETRIEVER, TOOL, CHAT):
        assert f'href="?span={span_id}"' in html
    assert f'href="?span={ROOT}" aria-current="true"' in html
    assert '<details open><summary class="sp-toggle">' in html  # the root's children, collapsible
    # the root stands for the whole trace
    assert "whole trace" in html
    assert 'class="chat"' in html and "Where is my order A-1042?" in html
    # the labels pane and its form
    assert 'id="assessments"' in html and "Add label" in html
    assert 'name="span" value="a0000000000000a1"' in html


def test_selected_span_survives_a_reload(labeler_client, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    html = labeler_client.get(url(trace, RETRIEVER)).content.decode()
    assert f'href="?span={RETRIEVER}" aria-current="true"' in html
    assert 'class="doc-card"' in html and "kb/shipping.md" in html and "score 0.91" in html
    assert f'name="span" value="{RETRIEVER}"' in html


def test_tool_span_and_chat_with_tool_calls(labeler_client, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    tool = labeler_client.get(url(trace, TOOL)).content.decode()
    assert "Tool call" in tool and "Arguments" in tool and "Result" in tool
    assert "shipped" in tool
    chat = labeler_client.get(url(trace, CHAT)).content.decode()
    assert "Calls tool" in chat and "lookup_order" in chat
    assert "Tool result" in chat and "Request settings" in chat


def test_htmx_span_selection_renders_only_the_span_view(labeler_client, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    make_feedback(trace, name="doc_ok", value=True, span_id=RETRIEVER)
    make_feedback(trace, name="overall", value=True)
    response = labeler_client.get(url(trace, RETRIEVER), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="span-view"')
    assert "<html" not in html and "span-tree" not in html
    assert 'data-selected-span="a0000000000000a2"' in html
    assert [lv.assessment.name for lv in response.context["labels"]] == ["doc_ok"]
    assert 'option value="overall"' in html  # offered as a name in the form


def test_history_restore_gets_the_full_page(labeler_client, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    response = labeler_client.get(
        url(trace, TOOL),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in response.content.decode()


def test_labels_pane_on_root_includes_trace_level_labels(labeler_client, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    make_feedback(trace, name="overall", value=True)
    make_feedback(trace, name="on_root_span", value=1, span_id=ROOT)
    make_expectation(trace, name="doc_expected", value=["kb/a.md"], span_id=RETRIEVER)
    root = labeler_client.get(url(trace))
    assert [lv.assessment.name for lv in root.context["labels"]] == ["overall", "on_root_span"]
    retriever = labeler_client.get(url(trace, RETRIEVER))
    assert [lv.assessment.name for lv in retriever.context["labels"]] == ["doc_expected"]
    html = root.content.decode()
    assert 'class="sp-labels" title="2 labels">2<' in html  # the root's mark in the tree
    assert 'title="1 label">1<' in html  # the retriever's


def test_trace_content_is_escaped(labeler_client, labeler):
    payload = "<script>alert('x')</script>"
    trace = make_trace(request={"q": payload}, response=payload, tags={"k": payload})
    make_span(
        trace,
        span_id="0000000000000001",
        name=payload,
        span_type=payload,
        inputs={"messages": [{"role": "user", "content": payload}]},
        outputs=[{"page_content": payload, "metadata": {"doc_uri": payload}}],
        attributes={payload: payload},
        events=[{"name": payload, "attributes": {"k": payload}}],
        status_message=payload,
        status_code="ERROR",
    )
    assign_traces(labeler, trace)
    make_feedback(trace, name=payload, value=payload, rationale=payload)
    html = labeler_client.get(url(trace)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_trace_without_spans(labeler_client, labeler):
    trace = make_trace()
    assign_traces(labeler, trace)
    make_feedback(trace, name="overall", value=True)
    response = labeler_client.get(url(trace))
    assert response.status_code == 200
    html = response.content.decode()
    assert "This trace has no spans" in html and "overall" in html
    assert response.context["is_root"] is True


def test_query_count_does_not_grow_with_spans_or_labels(
    labeler_client, labeler, django_assert_num_queries
):
    small = make_trace(spans=3)
    assign_traces(labeler, small)
    # user, trace, labels, span tree, selected span, label names
    with django_assert_num_queries(6):
        labeler_client.get(url(small))
    big = make_trace(spans=60)
    assign_traces(labeler, big)
    for index in range(20):
        make_feedback(big, name=f"f{index % 4}", value=index, span_id=f"{index + 2:016x}")
        make_expectation(big, name="expected", value={"i": index})
    with django_assert_num_queries(6):
        labeler_client.get(url(big))
    with django_assert_num_queries(6):
        labeler_client.get(url(big, f"{5:016x}"))
    # Selecting a span with HTMX: user, trace, span, trace start, labels, names.
    with django_assert_num_queries(6):
        labeler_client.get(url(big, f"{5:016x}"), headers={"HX-Request": "true"})


def test_header_shows_tags_but_not_mlflow_bookkeeping(labeler_client, labeler):
    trace = make_chat_trace(tags={"env": "prod", "mlflow.traceName": "support_agent"})
    assign_traces(labeler, trace)
    html = labeler_client.get(url(trace)).content.decode()
    assert "env: prod" in html and "mlflow.traceName" not in html
