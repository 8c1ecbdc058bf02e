"""The curator console in a browser: define one schema of every input kind, create a session
with three of them, assign two labelers, add 50 traces by filter and 10 by selection, and watch
the dashboard refresh itself as labels come in."""

import re

import pytest
from playwright.sync_api import expect

from labeling import services
from labeling.models import LabelingSchema, LabelingSession
from tests.factories import make_assignment, make_experiment, make_trace

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMAS = [
    # (kind card label, question, settings: label -> value)
    ("Pass / fail", "Is the answer correct?",
     {"Positive label": "Correct", "Negative label": "Wrong"}),
    ("Categorical", "How is the tone?", {"Options": "Friendly\nNeutral\nCurt"}),
    ("Categorical list", "Which problems does it have?", {"Options": "Hallucination\nOff-topic"}),
    ("Numeric", "How helpful is it, from 1 to 5?", {"Minimum": "1", "Maximum": "5", "Step": "1"}),
    ("Text", "What should the answer have said?", {"Maximum length": "500"}),
    ("Text list", "Which facts are missing?", {"Maximum number of entries": "5"}),
]  # fmt: skip


@pytest.fixture
def experiment(db):
    experiment = make_experiment("support-bot")
    for index in range(55):
        make_trace(experiment, state="ERROR", request={"question": f"failing question {index}"})
    for index in range(20):
        make_trace(experiment, state="OK", request={"question": f"fine question {index}"})
    return experiment


def test_curator_sets_up_a_campaign(page, login, curator, labeler, other_labeler, experiment):
    login(curator)
    page.get_by_role("link", name="Console").click()
    expect(page.get_by_role("heading", name="Labeling sessions")).to_be_visible()

    # One schema of every input kind, with the live preview following the form.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Schemas").click()
    page.get_by_role("link", name="support-bot").click()
    for kind, question, settings in SCHEMAS:
        page.get_by_role("button", name="New schema").first.click()
        page.get_by_label("Question", exact=True).fill(question)
        page.locator("label.kind-card", has_text=kind).first.click()
        for label, value in settings.items():
            page.get_by_label(label, exact=True).fill(value)
        preview = page.locator("#schema-preview")
        expect(preview).to_contain_text(question)
        if kind == "Categorical":
            expect(preview.get_by_label("Curt")).to_be_visible()
        page.get_by_role("button", name="Create schema").click()
        expect(page.get_by_text("created.")).to_be_visible()
        page.get_by_role("navigation", name="Breadcrumb").get_by_role(
            "link", name="support-bot"
        ).click()
    assert sorted(LabelingSchema.objects.values_list("input_type", flat=True)) == sorted(
        ["pass_fail", "categorical", "categorical_list", "numeric", "text", "text_list"]
    )
    # Names were suggested from the questions.
    assert LabelingSchema.objects.filter(name="is_the_answer_correct").exists()

    # A session with three of them, in a chosen order, and two labelers.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Sessions").click()
    page.get_by_role("button", name="New session").first.click()
    page.get_by_label("Name", exact=True).fill("Week 12 review")
    for position, question in enumerate(
        ["How helpful is it, from 1 to 5?", "Is the answer correct?", "How is the tone?"], start=1
    ):
        row = page.locator(".schema-pick", has_text=question)
        row.get_by_role("checkbox").check()
        row.get_by_role("spinbutton").fill(str(position))
    page.locator(".labeler-choices").get_by_label("labeler", exact=True).check()
    page.locator(".labeler-choices").get_by_label("other_labeler", exact=True).check()
    page.get_by_label("Active").check()
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("heading", name=re.compile("Week 12 review"))).to_be_visible()
    session = LabelingSession.objects.get(name="Week 12 review")
    assert [s.title for s in session.schemas.order_by("sessionschema__position")] == [
        "How helpful is it, from 1 to 5?",
        "Is the answer correct?",
        "How is the tone?",
    ]

    # 50 traces by filter: the count shows before confirming.
    page.get_by_role("button", name="Add traces").first.click()
    page.get_by_label("Search").fill("failing question")
    page.get_by_label("Error").check()
    expect(page.locator(".count-line")).to_contain_text("55 traces match")
    page.get_by_label("Search").fill("failing question 1")  # 1, 10-19: 11 traces
    expect(page.locator(".count-line")).to_contain_text("11 traces match")
    page.get_by_label("Search").fill("")
    expect(page.locator(".count-line")).to_contain_text("55 traces match")
    page.get_by_role("button", name="Add all 55 new matching").click()
    expect(page.get_by_text("Added 55 traces")).to_be_visible()
    assert session.items.count() == 55

    # 10 by selection (and 5 of the filtered ones again are already there).
    page.get_by_role("button", name="Add traces").first.click()
    expect(page.locator(".count-line")).to_contain_text("75 traces match")
    page.get_by_label("OK", exact=True).check()
    expect(page.locator(".count-line")).to_contain_text("20 traces match")
    boxes = page.locator("input[data-select-row]")
    for index in range(10):
        boxes.nth(index).check()
    page.get_by_role("button", name="Add selected (10)").click()
    expect(page.get_by_text("Added 10 traces")).to_be_visible()
    assert session.items.count() == 65

    # The dashboard: progress, a row per labeler, the items; it refreshes by itself.
    expect(page.locator(".big-figure")).to_contain_text("0 of 65 items")
    labelers = page.locator(".labelers-table tbody tr")
    expect(labelers).to_have_count(2)
    item = session.items.order_by("position").first()
    make_assignment(item, labeler, seconds=42)
    services.refresh_item_states(session=session)
    expect(page.locator(".big-figure")).to_contain_text("1 of 65 items", timeout=12_000)
    expect(page.locator(".labelers-table tbody tr", has_text="labeler").first).to_contain_text(
        "42 s"
    )
