"""Completeness and drafts on the review item (issue 15, findings 2 and 3)."""

import pytest
from playwright.sync_api import expect

from labeling.models import Assignment, AssignmentState
from tests.browser.conftest import PASSWORD
from tests.browser.test_review import start, wait_for_item
from tests.factories import make_experiment, make_review_session, make_schema
from traces.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def six_questions(labeler):
    experiment = make_experiment()
    schemas = [
        make_schema(experiment, "correct", "pass_fail", title="Is the answer correct?"),
        make_schema(experiment, "tone", "categorical", {"options": ["good", "bad"]}),
        make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5}),
        make_schema(experiment, "note", "text", required=False, title="Anything else?"),
        make_schema(experiment, "expected", "text", kind="expectation", title="Expected answer"),
        make_schema(
            experiment,
            "relevant",
            "pass_fail",
            target_span_type="RETRIEVER",
            title="Is this passage relevant?",
        ),
    ]
    return make_review_session(
        experiment=experiment, items=2, spans=2, schemas=schemas, labelers=[labeler], name="Six"
    )


def test_a_partly_answered_item_is_refused_with_the_open_questions(
    page, login, labeler, six_questions
):
    session = six_questions
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    marks = page.locator("[data-completeness] .completeness-mark")
    questions = page.locator("[data-question]").count()
    assert marks.count() == questions
    assert page.locator("[data-open-count]").inner_text() == str(questions)
    page.keyboard.press("1")  # correct: pass
    assert page.locator("[data-open-count]").inner_text() == str(questions - 1)
    assert "is-answered" in marks.first.get_attribute("class")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".message-error")
    error = page.locator(".review-panel .message-error").first.inner_text()
    assert "still open" in error
    wait_for_item(page, session, 1)
    assert not Assessment.objects.exists()
    # The span question has its mark too, and the optional one is not asked for.
    span_question = page.locator("[data-question]", has_text="Is this passage relevant?")
    assert span_question.locator(".field-error").count() == 1
    optional = page.locator("[data-question]", has_text="Anything else?")
    assert optional.locator(".field-error").count() == 0
    # Skipping is always possible.
    page.keyboard.press("s")
    page.keyboard.press("Enter")
    wait_for_item(page, session, 2)
    assert Assignment.objects.filter(state=AssignmentState.SKIPPED).count() == 1


def test_a_draft_survives_a_reload_and_another_browser_and_the_submit_clears_it(
    page, browser, live_server, login, labeler, six_questions
):
    session = six_questions
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    page.keyboard.press("2")  # fail
    expected = page.get_by_label("Expected answer")
    expected.fill("Refunds take 5 days")
    expect(page.locator("[data-draft-status]")).to_contain_text("Draft saved")
    page.reload()
    wait_for_item(page, session, 1)
    assert page.get_by_label("Expected answer").input_value() == "Refunds take 5 days"
    correct = page.locator("[data-question]", has_text="Is the answer correct?")
    assert correct.locator("input[value=false]").is_checked()
    assert "restored" in page.locator("[data-draft-status]").inner_text()

    # The same labeler on another device.
    other = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 860})
    try:
        phone = other.new_page()
        phone.goto("/accounts/login/")
        phone.get_by_label("Username").fill(labeler.username)
        phone.get_by_label("Password").fill(PASSWORD)
        phone.get_by_role("button", name="Sign in").click()
        phone.wait_for_url(lambda url: "/accounts/login/" not in url)
        phone.goto(page.url)
        phone.wait_for_selector("[data-review-item][data-ready]")
        assert phone.get_by_label("Expected answer").input_value() == "Refunds take 5 days"
    finally:
        other.close()

    # Answer the rest and submit: the draft is gone.
    page.locator("[data-question]", has_text="Tone?").locator("input").first.check()
    page.locator("input[type=number]").fill("3")
    for question in page.locator("[data-question]", has_text="Is this passage relevant?").all():
        question.locator("input").first.check()
    page.keyboard.press("Control+Enter")
    wait_for_item(page, session, 2)
    first = Assignment.objects.get(labeler=labeler, item__position=0)
    assert first.state == AssignmentState.SUBMITTED
    assert first.draft is None
    assert Assessment.objects.get(name="expected").value == "Refunds take 5 days"


def test_leaving_with_unsaved_changes_asks_first(page, login, labeler, six_questions):
    session = six_questions
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    page.context.set_offline(True)  # the draft cannot be saved
    page.get_by_label("Expected answer").fill("Not saved yet")
    expect(page.locator("[data-draft-status]")).to_contain_text("not saved")
    page.context.set_offline(False)
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.locator(".review-session").click()  # a plain link away
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    wait_for_item(page, session, 1)
    # The connection is back: the draft is saved after all.
    expect(page.locator("[data-draft-status]")).to_contain_text("Draft saved")
    draft = Assignment.objects.get(labeler=labeler).draft
    assert "Not saved yet" in str(draft)


def test_the_item_shows_the_retrieved_documents_and_tool_calls_inline(page, login, labeler):
    """Issue 15, finding 5: the instructions say "read the retrieved passages"; no question
    targets RETRIEVER spans, and the passages are on the page anyway, collapsible."""
    from labeling.models import Item
    from tests.factories import make_chat_trace

    trace = make_chat_trace()
    schema = make_schema(trace.experiment, "correct", "pass_fail")
    session = make_review_session(
        experiment=trace.experiment,
        items=0,
        schemas=[schema],
        labelers=[labeler],
        instructions="Read the retrieved passages first.",
    )
    Item.objects.create(session=session, trace=trace, position=0)
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    context = page.locator(".context-spans")
    expect(context).to_contain_text("Orders leave the warehouse within 2 days.")
    expect(context).to_contain_text("lookup_order")
    retriever = context.locator("details.context-span", has_text="retrieve_docs")
    retriever.locator(":scope > summary").click()  # collapsible
    expect(retriever.locator(".doc-content").first).to_be_hidden()
