"""The review item's keys (issue 15, finding 1): Enter never submits; Ctrl/⌘+Enter does; the
shortcut list is the key handler's own table."""

import pytest

from labeling.models import Assignment, AssignmentState
from tests.browser.test_review import start, wait_for_item
from tests.factories import make_experiment, make_review_session, make_schema
from traces.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mixed_session(labeler):
    experiment = make_experiment()
    schemas = [
        make_schema(
            experiment,
            "issues",
            "categorical",
            {"options": ["wrong", "vague", "rude"], "multi": True},
            title="What is wrong?",
        ),
        make_schema(experiment, "tone", "categorical", {"options": ["good", "bad"]}),
        make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5}),
        make_schema(experiment, "expected", "text", kind="expectation", title="Expected answer"),
    ]
    return make_review_session(
        experiment=experiment, items=3, schemas=schemas, labelers=[labeler], name="Keys"
    )


def test_enter_after_a_number_key_or_in_a_number_box_never_submits(
    page, login, labeler, mixed_session
):
    session = mixed_session
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    page.keyboard.press("1")  # a checkbox option
    page.keyboard.press("Enter")
    page.keyboard.press("j")
    page.keyboard.press("2")  # a single choice
    page.keyboard.press("Enter")
    page.locator("input[type=number]").focus()
    page.keyboard.type("4")
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    wait_for_item(page, session, 1)  # still the first item
    assert not Assessment.objects.exists()
    assert Assignment.objects.get(labeler=labeler).state == AssignmentState.CLAIMED
    page.locator("textarea").first.fill("Refund in 5 days")
    page.keyboard.press("Control+Enter")
    wait_for_item(page, session, 2)
    first = Assignment.objects.get(labeler=labeler, item__position=0)
    assert first.state == AssignmentState.SUBMITTED
    expected = Assessment.objects.get(name="expected")
    assert expected.value == "Refund in 5 days"
    assert expected.trace_id == first.item.trace_id


def test_the_shortcut_list_is_the_key_table(page, login, labeler, mixed_session):
    login(labeler)
    start(page, mixed_session)
    wait_for_item(page, mixed_session, 1)
    page.keyboard.press("?")
    dialog = page.locator("dialog#shortcuts")
    assert dialog.is_visible()
    text = dialog.inner_text()
    assert "N" in dialog.locator("kbd").all_inner_texts()  # N was missing
    assert "Type into" not in text  # Enter does not submit, nor is it a shortcut
    keys = page.evaluate("window.reviewShortcuts.map(s => s.keys.join(' '))")
    rows = dialog.locator("tbody tr th").all_inner_texts()
    assert len(rows) == len(keys)
