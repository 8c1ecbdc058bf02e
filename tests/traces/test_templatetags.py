"""The reusable display pieces: {% span_io %}, {% label_value %}, {% span_tree %}."""

from types import SimpleNamespace

import pytest
from django.template import Context, Template

from tests.factories import make_expectation, make_feedback, make_trace
from traces.models import Assessment
from traces.rendering import describe_value
from traces.spantree import build_span_tree
from traces.templatetags.trace_display import label_value_html

PAYLOAD = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


def test_span_io_component_renders_any_span_escaped():
    span = SimpleNamespace(
        inputs={"messages": [{"role": "user", "content": PAYLOAD}]},
        outputs=[{"page_content": PAYLOAD, "metadata": {PAYLOAD: PAYLOAD}}],
        span_type="RETRIEVER",
        name=PAYLOAD,
        status_code="OK",
    )
    html = render("{% load span_io %}{% span_io span %}", span=span)
    assert "<script>" not in html and ESCAPED in html
    assert 'class="chat"' in html and 'class="doc-card"' in html and "Show as JSON" in html


def test_span_io_from_bare_payloads():
    html = render(
        '{% load span_io %}{% span_io inputs=i outputs=o span_type="TOOL" name="lookup" %}',
        i={"order": PAYLOAD},
        o=PAYLOAD,
    )
    assert "Tool call" in html and "lookup" in html and ESCAPED in html and "<script>" not in html


def test_label_values_are_escaped_everywhere():
    for value in (PAYLOAD, {"k": PAYLOAD}, [PAYLOAD]):
        for full in (True, False):
            html = label_value_html(describe_value(value), full=full, title=PAYLOAD)
            assert "<script>" not in html
    assert "val-true" in render("{% load trace_display %}{% label_value v %}", v=True)
    assert "True" in render("{% load trace_display %}{% label_value v full=True %}", v=True)


def test_span_tree_escapes_names_types_and_ids():
    row = SimpleNamespace(
        span_id='x"><script>',
        parent_id=None,
        name=PAYLOAD,
        span_type=PAYLOAD,
        start_time_ns=0,
        end_time_ns=10,
        status_code="ERROR",
    )
    html = render(
        "{% load trace_display %}{% span_tree tree sel %}", tree=build_span_tree([row]), sel=""
    )
    assert "<script>" not in html
    assert ESCAPED in html and "%22%3E%3Cscript%3E" in html


def test_breakable_and_ago_filters():
    assert render("{% load trace_display %}{{ n|breakable }}", n="a_b<c") == "a_<wbr>b&lt;c"
    assert render("{% load trace_display %}{{ t|ago }}", t=None) == ""


@pytest.mark.django_db
def test_label_names_of_an_experiment_are_discovered_from_all_labels():
    trace = make_trace()
    make_feedback(trace, name="b")
    make_feedback(trace, name="a")
    make_feedback(trace, name="a")
    make_expectation(trace, name="a")
    make_feedback(make_trace(), name="elsewhere")
    pairs = Assessment.objects.kinds_and_names(trace.experiment_id)
    assert pairs == [("expectation", "a"), ("feedback", "a"), ("feedback", "b")]
