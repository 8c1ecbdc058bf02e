"""Judges' suggestions to confirm (issue 15): in a session that allows them, the judge's
feedback of the same name pre-fills the question, marked as a suggestion with its rationale;
confirming stores a HUMAN answer (the judge's stays); the agreement page counts the changes."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_review import start, wait_for_item
from tests.factories import make_experiment, make_feedback, make_review_session, make_schema
from traces import services
from traces.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)

JUDGE = services.Source(source_type="LLM_JUDGE", source_id="gpt-judge")


def judged_session(labeler, *, blind=False):
    experiment = make_experiment()
    schema = make_schema(experiment, "correct", "pass_fail", title="Is the answer correct?")
    session = make_review_session(
        experiment=experiment,
        items=2,
        schemas=[schema],
        labelers=[labeler],
        suggestions=not blind,
        blind=blind,
    )
    for item in session.items.select_related("trace"):
        make_feedback(item.trace, "correct", True, source=JUDGE, rationale="Matches the docs page")
    return session


def test_a_labeler_confirms_one_suggestion_and_changes_another(page, login, labeler, curator):
    session = judged_session(labeler)
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    question = page.locator("[data-question]", has_text="Is the answer correct?")
    expect(question.locator(".suggestion")).to_contain_text("gpt-judge")
    expect(question.locator(".suggestion")).to_contain_text("Matches the docs page")
    assert question.locator("input[value=true]").is_checked()
    page.keyboard.press("Control+Enter")  # confirm
    wait_for_item(page, session, 2)
    page.keyboard.press("2")  # change it: fail
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/done/")

    human = Assessment.objects.filter(source_type="HUMAN", name="correct").order_by("pk")
    assert [a.value for a in human] == [True, False]
    assert all(a.metadata.get("suggestion") for a in human)
    judges = Assessment.objects.filter(source_type="LLM_JUDGE", valid=True)
    assert judges.count() == 2 and all(a.value is True for a in judges)

    page.get_by_role("button", name="Sign out").click()
    login(curator)
    page.goto(f"/campaigns/{session.pk}/agreement/")
    row = page.locator(".suggestions-table tbody tr")
    assert row.locator("td").all_inner_texts() == ["2", "1", "1", "50%"]


def test_a_blind_session_never_shows_suggestions(page, login, labeler):
    session = judged_session(labeler, blind=True)
    login(labeler)
    start(page, session)
    wait_for_item(page, session, 1)
    assert page.locator(".suggestion").count() == 0
    assert not page.locator("input[value=true]").is_checked()
