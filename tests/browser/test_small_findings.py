"""The smaller findings of issue 15 (finding 10), each as a person meets it in a browser."""

import pytest
from playwright.sync_api import expect

from labeling.models import LabelingSchema
from tests.browser.test_review import start, wait_for_item
from tests.factories import make_experiment, make_review_session, make_schema, make_trace

pytestmark = pytest.mark.django_db(transaction=True)


def test_question_mark_lists_the_shortcuts_on_the_session_start_page(page, login, labeler):
    session = make_review_session(items=1, labelers=[labeler])
    login(labeler)
    page.goto(f"/review/{session.pk}/")
    page.keyboard.press("?")
    dialog = page.locator("dialog#shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog.locator("tbody tr").first).to_contain_text("Pick an option")


def test_skip_back_and_submit_log_no_errors_and_say_just_now(page, login, labeler):
    session = make_review_session(items=3, labelers=[labeler])
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    wait_for_item(page, session, 2)
    page.keyboard.press("s")
    page.keyboard.press("Enter")
    wait_for_item(page, session, 3)
    page.keyboard.press("b")
    wait_for_item(page, session, 2)
    page.keyboard.press("b")
    wait_for_item(page, session, 1)
    expect(page.locator(".review-banner")).to_contain_text("You submitted this item just now.")
    assert errors == []


@pytest.mark.parametrize("width", [1400, 390])
def test_the_saved_notice_on_the_done_page_stays_below_the_header(page, login, labeler, width):
    session = make_review_session(items=1, labelers=[labeler])
    page.set_viewport_size({"width": width, "height": 800})
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    notice = page.locator(".review-notice")
    expect(notice).to_have_text("Saved.")
    header = page.locator(".app-header").bounding_box()
    box = notice.bounding_box()
    assert box["y"] >= header["y"] + header["height"] + 8  # clear of the header line
    heading = page.locator("#done-heading").bounding_box()
    assert box["y"] + box["height"] <= heading["y"]


def test_a_misspelled_span_type_is_refused(page, login, curator):
    experiment = make_experiment("support-bot")
    make_trace(experiment, spans=2)
    login(curator)
    page.goto(f"/console/experiments/{experiment.pk}/schemas/new/")
    page.get_by_label("Question", exact=True).fill("Is this passage relevant?")
    page.get_by_label("Ask about spans of type").fill("retreiver")
    page.get_by_role("button", name="Create schema").click()
    expect(page.get_by_text("would never be asked")).to_be_visible()
    assert not LabelingSchema.objects.exists()
    page.get_by_label("Ask about spans of type").fill("retriever")
    page.get_by_role("button", name="Create schema").click()
    expect(page.get_by_text("created.")).to_be_visible()
    assert LabelingSchema.objects.get().target_span_type == "RETRIEVER"


def test_a_random_sample_does_not_count_traces_it_could_not_draw(page, login, curator):
    experiment = make_experiment("support-bot")
    traces = [make_trace(experiment) for _ in range(12)]
    schema = make_schema(experiment, "correct")
    session = make_review_session(experiment=experiment, items=0, schemas=[schema])
    for position, trace in enumerate(traces[:4]):
        session.items.create(trace=trace, position=position)
    login(curator)
    page.goto(f"/console/sessions/{session.pk}/add-traces/")
    page.get_by_label("or a random sample of").fill("5")
    page.get_by_role("button", name="Add sample").click()
    message = page.get_by_text("Added 5 traces")
    expect(message).to_contain_text("drawn at random from the 8 matching traces not yet in")
    assert "already there" not in page.locator(".messages").inner_text()


def test_the_dashboard_says_opened_not_assigned(page, login, curator, labeler):
    session = make_review_session(items=9, labelers=[labeler])
    login(curator)
    page.goto(f"/console/sessions/{session.pk}/")
    headers = page.locator(".labelers-table thead th").all_text_contents()
    assert "Opened" in headers and "Assigned" not in headers


def test_trace_list_headers_never_break_mid_word(page, login, curator):
    """Issue 15, finding 6: "groundedne/ss" in the trace list's label columns."""
    from tests.factories import make_feedback

    experiment = make_experiment("docs-bot")
    for _ in range(3):
        trace = make_trace(experiment)
        make_feedback(trace, "groundedness", True)
        make_feedback(trace, "answer_quality", 4)
    login(curator)
    page.goto(f"/experiments/{experiment.pk}/")
    headers = page.locator("th.label-col")
    expect(headers.first).to_be_visible()
    for header in headers.all():
        fits = header.evaluate(
            "th => th.scrollWidth <= th.clientWidth + 1"
            " && !['anywhere', 'break-word'].includes(getComputedStyle(th).overflowWrap)"
        )
        assert fits, header.inner_text()
