"""The labeling flow of the reference documents, in a browser: open a trace, select a span, add
a Feedback of each data type and an Expectation with a JSON object, see them in the pane and as
columns of the trace list, edit one (history keeps the old value) and delete one."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import assign_traces, make_chat_trace
from traces.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)

RETRIEVER = "a0000000000000a2"


def choose_data_type(page, form, data_type):
    """Pick a data type; HTMX swaps in the value input that goes with it."""
    select = form.get_by_label("Data type")
    if select.input_value() != data_type.lower():
        with page.expect_response(lambda response: "/labels/" in response.url):
            select.select_option(data_type.lower())
    expect(form.locator(f".value-field.value-{data_type.lower()}")).to_be_visible()


def add_label(page, *, name, data_type, value, kind="Feedback", rationale=""):
    form = page.locator("#assessments form.label-form")
    form.get_by_label(kind).check()
    form.get_by_label("Name").fill(name)
    choose_data_type(page, form, data_type)
    if data_type == "Boolean":
        form.get_by_label(value, exact=True).check()
    else:
        form.get_by_label("Value").fill(value)
    if rationale:
        form.get_by_label("Rationale").fill(rationale)
    form.get_by_role("button", name="Create label").click()
    card = page.locator("#assessments .label-card", has=page.locator(".label-name", has_text=name))
    expect(card).to_be_visible()
    return card


def test_label_a_span_then_see_edit_and_delete(page, login, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    login(labeler)

    # Open the trace from the experiment's trace list.
    page.goto(f"/experiments/{trace.experiment_id}/")
    page.get_by_role("link", name="Where is my order A-1042?").click()
    expect(page.locator("#labels-title")).to_be_visible()

    # Select a non-root span: the panel and the pane swap, the URL follows.
    page.locator(".span-tree a.sp", has_text="retrieve_docs").click()
    expect(page.locator("#span-title")).to_have_text("retrieve_docs")
    expect(page).to_have_url(re.compile(rf"\?span={RETRIEVER}$"))
    expect(page.locator(".pane-target")).to_contain_text("retrieve_docs")
    expect(page.locator('.span-tree a.sp[aria-current="true"]')).to_contain_text("retrieve_docs")

    add_label(page, name="relevance", data_type="Number", value="4", rationale="Two good docs")
    add_label(page, name="is_relevant", data_type="Boolean", value="True")
    add_label(page, name="comment", data_type="String", value="Misses the delay policy")
    add_label(page, name="issues", data_type="JSON", value='["missing_doc", "stale"]')
    card = add_label(
        page,
        kind="Expectation",
        name="expected_docs",
        data_type="JSON",
        value='{"docs": ["kb/shipping.md", "kb/late.md"], "complete": true}',
    )
    expect(card).to_contain_text('"complete": true')
    expect(page.locator("#assessments .label-card")).to_have_count(5)
    labels = Assessment.objects.filter(trace=trace, valid=True)
    assert {a.span_id for a in labels} == {RETRIEVER}
    assert {a.source_id for a in labels} == {labeler.get_username()}

    # A wrong value is refused in place, the other inputs kept.
    form = page.locator("#assessments form.label-form")
    form.get_by_label("Feedback").check()
    form.get_by_label("Name").fill("broken")
    choose_data_type(page, form, "JSON")
    form.get_by_label("Value").fill('{"a": 1,}')
    form.get_by_role("button", name="Create label").click()
    expect(page.locator("#assessments .field-error")).to_contain_text("line 1, column 9")
    expect(page.locator("#assessments form.label-form").get_by_label("Name")).to_have_value(
        "broken"
    )

    # The labels are columns of the trace list.
    page.goto(f"/experiments/{trace.experiment_id}/")
    header = page.locator(".trace-table thead")
    for name in ("relevance", "is_relevant", "comment", "issues", "expected_docs"):
        expect(header).to_contain_text(name)
    expect(header.locator(".group-feedback")).to_have_text("Feedback")
    expect(header.locator(".group-expectation")).to_have_text("Expectations")
    row = page.locator(".trace-table tbody tr").first
    expect(row.locator(".val-true")).to_have_count(1)
    expect(row.locator(".val-number")).to_have_text("4")
    expect(row.locator(".val-json")).to_have_count(2)

    # Edit one: the old value stays in its history.
    page.goto(f"/traces/{trace.trace_id}/?span={RETRIEVER}")
    relevance = page.locator("#assessments .label-card", has_text="relevance")
    relevance.get_by_role("link", name="Edit relevance").click()
    editing = page.locator("#assessments .label-card.is-editing")
    expect(editing.get_by_label("Value")).to_have_value("4")
    editing.get_by_label("Value").fill("5")
    editing.get_by_role("button", name="Save").click()
    relevance = page.locator("#assessments .label-card", has_text="relevance")
    expect(relevance.locator(".val-number")).to_have_text("5")
    relevance.get_by_role("link", name="edited").click()
    history = relevance.locator(".history")
    expect(history).to_contain_text("replaced")
    expect(history.locator(".is-replaced .val-number")).to_have_text("4")
    expect(history.locator(".is-current .val-number")).to_have_text("5")

    # Delete one, after confirming.
    comment = page.locator("#assessments .label-card", has_text="comment")
    comment.get_by_role("link", name="Delete comment").click()
    confirming = page.locator("#assessments .label-card.is-confirming")
    expect(confirming).to_contain_text("Delete this label?")
    confirming.get_by_role("button", name="Delete label").click()
    expect(page.locator("#assessments .pane-status")).to_contain_text("deleted")
    expect(page.locator("#assessments .label-card")).to_have_count(4)
    assert not Assessment.objects.filter(trace=trace, name="comment").exists()
    assert Assessment.objects.filter(trace=trace, name="relevance", valid=False).count() == 1


def test_keyboard_focus_is_visible_and_arrows_move_in_the_tree(page, login, labeler):
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    login(labeler)
    page.goto(f"/traces/{trace.trace_id}/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('.span-tree a.sp')"):
            break
    else:
        pytest.fail("Tab never reached the span tree")
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert outline[0] != "none" and outline[1] >= 2
    first = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") != first
    page.keyboard.press("Enter")
    expect(page.locator("#span-title")).to_have_text("retrieve_docs")


def test_changing_the_data_type_keeps_what_is_typed_meanwhile(page, login, labeler):
    """Issue 15, finding 4: choose JSON, Tab, type; the value input swapped in a moment later
    keeps what was typed."""
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    login(labeler)
    page.goto(f"/traces/{trace.trace_id}/")
    form = page.locator("#assessments form.label-form")
    form.get_by_label("Name").fill("shape")

    def slow(route):
        page.wait_for_timeout(700)  # the server takes its time
        route.continue_()

    page.route("**/labels/", slow)
    form.get_by_label("Data type").select_option("json")
    form.get_by_label("Value").focus()
    page.keyboard.type('{"a": 1}')
    expect(form.locator(".value-field.value-json")).to_be_visible()
    page.wait_for_timeout(300)
    assert form.get_by_label("Value").input_value() == '{"a": 1}'
    page.unroute("**/labels/")
    form.get_by_role("button", name="Create label").click()
    expect(page.locator("#assessments .label-card", has_text="shape")).to_be_visible()
    assert Assessment.objects.get(name="shape").value == {"a": 1}


def test_the_span_tree_badge_follows_a_label_added_in_the_pane(page, login, labeler):
    """Issue 15, finding 10: the span tree's label badge went stale after an HTMX add."""
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    login(labeler)
    page.goto(f"/traces/{trace.trace_id}/?span={RETRIEVER}")
    link = page.locator(f'.span-tree a.sp[href="?span={RETRIEVER}"]')
    assert link.locator(".sp-labels").count() == 0
    add_label(page, name="relevant", data_type="Boolean", value="True")
    expect(link.locator(".sp-labels")).to_have_text("1")
    add_label(page, name="note", data_type="String", value="ok")
    expect(link.locator(".sp-labels")).to_have_text("2")
