"""The campaign lead in a browser: opens the disagreements view from the session dashboard,
settles one question by picking a labeler's answer (swapped in place), accepts the unanimous
item in bulk, and downloads the three exports."""

import csv
import io
import json

import pytest
from playwright.sync_api import expect

from labeling.models import Adjudication
from tests.labeling.campaign_fixtures import build_campaign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(curator, labeler, other_labeler, outsider):
    return build_campaign(curator, labeler, other_labeler, outsider)


def test_lead_settles_a_disagreement_and_downloads_the_exports(page, login, world, tmp_path):
    session = world.session
    login(world.users["curator"])
    page.goto(f"/console/sessions/{session.pk}/")
    page.get_by_role("button", name="Disagreements").click()
    expect(page.get_by_role("heading", name="Disagreements", level=1)).to_be_visible()
    cells = page.locator("article.settle-cell")
    expect(cells).to_have_count(2)

    # Pick other_labeler's answer to "Correct?" on item 0: the cell swaps in place.
    cell = cells.filter(has_text="Correct?")
    row = cell.get_by_role("row").filter(has_text="other_labeler")
    expect(row).to_contain_text("other_labeler thinks so")
    cell.get_by_label("Note").fill("Checked the source")
    url_before = page.url
    row.get_by_role("button", name="Use this answer").click()
    expect(page.get_by_role("status").filter(has_text="Settled:")).to_contain_text("Fail")
    assert page.url == url_before  # swapped in place, no navigation
    summary = page.locator("#campaign-summary")
    expect(summary).to_contain_text("1 to settle")  # the figures reload after the swap
    settled = Adjudication.objects.get()
    assert settled.assessment.value is False
    assert settled.assessment.rationale == "Checked the source"

    # Enter a new value for the other disagreement ("Answer?"), through the schema's input.
    cell = page.locator("article.settle-cell").filter(has_text="Answer?")
    cell.get_by_text("Enter a different answer").click()
    cell.get_by_role("textbox", name="Answer?").fill("Paris, France")
    cell.get_by_role("button", name="Settle with this answer").click()
    expect(cell.get_by_text("item adjudicated")).to_be_visible()

    # Bulk accept, after the confirmation page.
    page.get_by_role("button", name="Accept all unanimous answers…").click()
    page.get_by_role("button", name="Accept 1 item").click()
    expect(page.get_by_text("Accepted the unanimous answers of 1 item")).to_be_visible()

    # Downloads.
    page.get_by_role("navigation", name="Campaign").get_by_role("link", name="Exports").click()
    expect(page.get_by_text("6 rows")).to_be_visible()
    files = {}
    for name in ("Download CSV", "Download JSONL", "Download dataset"):
        with page.expect_download() as info:
            page.get_by_role("button", name=name).click()
        download = info.value
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        files[download.suggested_filename] = target.read_text()
    assert set(files) == {
        "march-review-qa-results.csv",
        "march-review-qa-results.jsonl",
        "march-review-qa-eval-dataset.jsonl",
    }
    rows = list(csv.DictReader(io.StringIO(files["march-review-qa-results.csv"])))
    assert rows[0]["final_value"] == "false" and rows[0]["adjudicated"] == "true"
    records = files["march-review-qa-results.jsonl"].splitlines()
    assert len(records) == 6
    dataset = [
        json.loads(line) for line in files["march-review-qa-eval-dataset.jsonl"].splitlines()
    ]
    assert dataset[0] == {"inputs": {"question": "Q0"}, "expectations": {"answer": "Paris, France"}}


def test_the_disagreements_show_what_was_judged_and_one_note_box(page, login, world):
    """Issue 15, finding 8: the trace's request and response beside the answers; "Enter a
    different answer" asks for the answer only (the note below is the rationale)."""
    session = world.session
    login(world.users["curator"])
    page.goto(f"/campaigns/{session.pk}/disagreements/")
    rows = page.locator(".settle-row")
    expect(rows).to_have_count(2)
    context = rows.first.locator(".settle-context")
    expect(context).to_be_visible()
    trace = world.items[0].trace
    expect(context).to_contain_text("What was judged")
    assert context.locator(".io-section").count() >= 1, trace.trace_id
    cell = page.locator("article.settle-cell").filter(has_text="Correct?")
    cell.get_by_text("Enter a different answer").click()
    new = cell.locator("details.settle-new")
    assert new.locator("textarea").count() == 0  # no Comment box next to the Note
    assert cell.get_by_label("Note").count() == 1


def test_a_reviewer_sees_the_progress_of_the_session(page, login, world):
    """Issue 15, finding 9: a non-staff reviewer opens a read-only dashboard."""
    session = world.session
    login(world.users["reviewer"])
    page.goto("/")
    page.get_by_role("link", name="Progress").click()
    expect(page.get_by_role("heading", name="Progress", exact=True)).to_be_visible()
    tabs = page.get_by_role("navigation", name="Campaign")
    expect(tabs.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    table = page.locator(".labelers-table")
    expect(table).to_contain_text("other_labeler")
    assert page.url.endswith(f"/campaigns/{session.pk}/progress/")
    assert page.get_by_role("button", name="Remove").count() == 0  # read-only


def test_bulk_accept_runs_as_a_job_whose_progress_the_page_shows(
    page, login, curator, labeler, other_labeler, settings, monkeypatch
):
    """The job is queued for a worker (the database backend, as in production), a worker in
    another thread runs it in small batches, and the page shows it moving, then done."""
    import threading
    import time

    from django.db import connection
    from django_tasks_db.management.commands.db_worker import Worker

    from labeling import tallies
    from labeling.campaign import adjudication, jobs
    from labeling.models import Answer, Assignment, Job
    from tests.factories import make_experiment, make_review_session, make_schema
    from traces import services
    from traces.models import Assessment

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    experiment = make_experiment()
    correct = make_schema(experiment, "correct", "pass_fail")
    session = make_review_session(
        experiment=experiment, items=120, schemas=[correct], labels_per_item=2,
        labelers=[labeler, other_labeler],
    )  # fmt: skip
    for item in session.items.select_related("trace"):
        for person in (labeler, other_labeler):
            assignment = Assignment.objects.create(item=item, labeler=person, state="submitted")
            label = services.log_assessment(
                trace_id=item.trace.trace_id,
                assessment=services.Feedback(
                    name="correct", value=True, source=services.Source("HUMAN", person.username)
                ),
            )
            Answer.objects.create(
                assignment=assignment, schema=correct, schema_version=1, assessment=label
            )
    tallies.rebuild_session(session)
    assert adjudication.count_unanimous(session).items == 120

    # Small, slow batches, so that the page has something to show on the way.
    monkeypatch.setattr(jobs, "BATCH_SIZE", 10)
    accept_batch = adjudication.accept_batch

    def slow_batch(**kwargs):
        time.sleep(0.25)
        return accept_batch(**kwargs)

    monkeypatch.setattr(adjudication, "accept_batch", slow_batch)

    login(curator)
    page.goto(f"/campaigns/{session.pk}/accept-unanimous/")
    page.get_by_role("button", name="Accept 120 items").click()
    progress = page.locator("#job-progress")
    expect(progress).to_have_attribute("data-job-state", "queued")
    expect(progress).to_contain_text("Waiting for a worker")
    assert Job.objects.get().state == "queued"

    def work() -> None:
        try:
            Worker(
                queue_names=["default"], interval=0.1, batch=True, backend_name="default",
                startup_delay=False, max_tasks=1, worker_id="browser-test",
                excluded_queue_names=[],
            ).run()  # fmt: skip
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    expect(progress).to_have_attribute("data-job-state", "running", timeout=15_000)
    expect(progress).to_contain_text(" of 120 items")
    bar = progress.get_by_role("progressbar")
    expect(progress).to_have_attribute("data-job-state", "done", timeout=30_000)
    worker.join(timeout=30)
    expect(progress).to_contain_text(
        "Done: accepted the unanimous answers of 120 items (120 answers)."
    )
    expect(bar).to_have_attribute("value", "100")
    assert adjudication.count_unanimous(session).items == 0
    assert Assessment.objects.filter(metadata__adjudicated=True).count() == 120
