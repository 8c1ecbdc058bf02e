"""A labeler works a queue with the keyboard only."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Answer, Assignment, AssignmentState
from tests.factories import make_experiment, make_review_session, make_schema
from traces.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queue_session(labeler):
    experiment = make_experiment()
    schemas = [
        make_schema(experiment, "correct", "pass_fail", title="Is the answer correct?"),
        make_schema(
            experiment,
            "tone",
            "categorical",
            {"options": ["friendly", "neutral", "curt"]},
            title="How is the tone?",
        ),
    ]
    return make_review_session(
        experiment=experiment,
        items=5,
        spans=2,
        schemas=schemas,
        labelers=[labeler],
        name="Keyboard queue",
        instructions="Judge the **answer**.",
    )


def item_number(page, session) -> int:
    """The position (1-based) of the item the page shows."""
    match = re.search(r"/items/(\d+)/$", page.url)
    assert match, page.url
    return session.items.get(pk=int(match.group(1))).position + 1


def start(page, session) -> None:
    """Open the session's start page and press Enter on its Start button (which has the focus)."""
    page.goto(f"/review/{session.pk}/")
    page.wait_for_function("document.activeElement?.textContent.includes('Start')")
    page.keyboard.press("Enter")


def wait_for_item(page, session, number: int) -> None:
    """Wait until the page shows item `number` (1-based), swapped in and ready for keys."""
    item_id = session.items.get(position=number - 1).pk
    page.wait_for_selector(f'[data-review-item][data-item-id="{item_id}"][data-ready]')
    assert page.url.endswith(f"/items/{item_id}/")


def test_a_labeler_works_three_items_with_the_keyboard(
    page, login, labeler, curator, queue_session
):
    session = queue_session
    login(labeler)
    start(page, session)  # the Start button has the focus: Enter starts
    wait_for_item(page, session, 1)
    assert page.locator(".progress-count").first.inner_text() == "0 of 5"

    # Item 1: pass, friendly — number keys answer and move on to the next question.
    page.keyboard.press("1")
    page.keyboard.press("1")
    assert page.locator("input[value=true]").is_checked()
    assert page.locator("input[value=friendly]").is_checked()
    page.keyboard.press("Control+Enter")
    wait_for_item(page, session, 2)
    assert page.locator(".progress-count").first.inner_text() == "1 of 5"

    # Item 2: skip it, with a reason.
    page.keyboard.press("s")
    assert page.evaluate("document.activeElement.id") == "skip-reason"
    page.keyboard.type("Not my area")
    page.keyboard.press("Enter")
    wait_for_item(page, session, 3)

    # Item 3: fail, curt; j/k move between questions.
    page.keyboard.press("2")  # fail; moves on to the tone question
    page.keyboard.press("k")  # back to the first question
    assert page.locator("[data-question].is-current").get_attribute("data-question-number") == "1"
    page.keyboard.press("j")
    page.keyboard.press("3")
    page.keyboard.press("Control+Enter")
    wait_for_item(page, session, 4)

    # Item 4: flag it for the curator (the labeler stays on it), then pass, neutral.
    page.keyboard.press("f")
    assert page.evaluate("document.activeElement.id") == "flag-reason"
    page.keyboard.type("The answer is cut off")
    page.keyboard.press("Enter")
    page.wait_for_selector(".review-bar .chip-warn")
    wait_for_item(page, session, 4)
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("Control+Enter")
    wait_for_item(page, session, 5)
    assert page.locator(".progress-count").first.inner_text() == "3 of 5"

    # The cheat sheet opens with ? and closes with Escape.
    page.keyboard.press("?")
    assert page.locator("dialog#shortcuts").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("dialog#shortcuts").is_visible()

    # Back twice, to item 3: its answers are there; change "fail" to "pass" and save.
    page.keyboard.press("b")
    wait_for_item(page, session, 4)
    page.keyboard.press("b")
    wait_for_item(page, session, 3)
    assert page.locator("input[value=false]").is_checked()
    assert page.locator("input[value=curt]").is_checked()
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    # Saving returns to the item the labeler left.
    wait_for_item(page, session, 5)
    assert "changed answers were saved" in page.locator(".review-notice").inner_text()

    mine = Assignment.objects.filter(labeler=labeler, item__session=session)
    assert mine.filter(state=AssignmentState.SUBMITTED).count() == 3
    skipped = mine.get(state=AssignmentState.SKIPPED)
    assert skipped.item.position == 1 and skipped.skip_reason == "Not my area"
    third = mine.get(item__position=2)
    current = Answer.objects.get(assignment=third, schema__name="correct").assessment
    assert current.value is True
    assert current.overrides is not None and current.overrides.value is False
    assert Assessment.objects.filter(valid=True).count() == 6  # 3 items, 2 questions each
    assert Assessment.objects.count() == 7  # and the overridden one, kept in the history

    # The curator's dashboard shows the same: 3 of 5 complete, 1 skipped, 1 reserved now.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
    login(curator)
    page.goto(f"/console/sessions/{session.pk}/")
    assert page.locator(".progress-panel .progress-bar").get_attribute("aria-label") == (
        "3 of 5 complete, 1 in progress, 1 skipped, 0 pending"
    )
    row = page.locator(".labelers-table tbody tr", has_text=labeler.username)
    cells = row.locator("td").all_inner_texts()
    assert cells[:4] == ["5", "3", "1", "1"]  # assigned, done, skipped, reserved now
    flagged = page.locator(".flag-list").inner_text()
    assert "The answer is cut off" in flagged and labeler.username in flagged


def test_invalid_answer_keeps_the_page_and_focuses_the_error(page, login, labeler):
    experiment = make_experiment()
    score = make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5})
    session = make_review_session(
        experiment=experiment, items=2, schemas=[score], labelers=[labeler]
    )
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    page.keyboard.press("9")  # a digit on a number question starts typing the answer
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".question.has-error")
    assert "at most 5" in page.locator(".field-error").inner_text()
    assert page.locator("input[type=number]").input_value() == "9"
    assert item_number(page, session) == 1
    page.locator("input[type=number]").fill("4")
    page.keyboard.press("Control+Enter")
    wait_for_item(page, session, 2)


def test_the_open_item_renews_its_reservation_while_the_labeler_is_active(page, login, labeler):
    session = make_review_session(items=1, labelers=[labeler])
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    assignment = Assignment.objects.get(labeler=labeler)
    # Pretend the reservation is about to run out, and renew every second instead of every
    # ten minutes; an idle labeler does not renew it.
    Assignment.objects.filter(pk=assignment.pk).update(lease_expires_at=timezone.now())
    page.evaluate("document.getElementById('lease-status').dataset.leaseInterval = '1'")
    page.wait_for_timeout(2500)
    assignment.refresh_from_db()
    assert assignment.lease_expires_at <= timezone.now()
    # Activity (a key, the mouse) renews it within a second or two.
    page.mouse.move(300, 300)
    page.mouse.move(400, 380)
    page.keyboard.press("j")
    page.wait_for_function(
        "() => document.querySelector('#lease-status').textContent.includes('Reserved for you')"
    )
    deadline = timezone.now() + timedelta(seconds=10)
    while timezone.now() < deadline:
        assignment.refresh_from_db()
        if assignment.lease_expires_at > timezone.now() + timedelta(minutes=29):
            break
        page.wait_for_timeout(200)
    assert assignment.lease_expires_at > timezone.now() + timedelta(minutes=29)
