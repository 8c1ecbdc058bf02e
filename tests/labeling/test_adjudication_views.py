"""Disagreements view, settling a cell (HTMX and plain POST), bulk accept."""

import pytest
from django.urls import reverse

from labeling.models import Adjudication, Job
from tests.factories import make_review_session

pytestmark = pytest.mark.django_db


def _url(campaign, name="disagreements", **query):
    url = reverse(f"campaign:{name}", args=[campaign.session.pk])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def _settle_url(campaign, item):
    return reverse("campaign:settle", args=[campaign.session.pk, item.pk])


def _answers(campaign, item, schema):
    from labeling.results import load_cells

    (cell,) = [
        c for c in load_cells(campaign.session, item_ids=[item.pk]) if c.question.schema == schema
    ]
    return cell.answers


def test_lists_disagreements_worst_first_with_answers_side_by_side(client, campaign):
    client.force_login(campaign.users["curator"])
    response = client.get(_url(campaign))
    assert response.status_code == 200
    html = response.content.decode()
    # Item 0 disagrees on both questions; "answer" is 2 of 3 pairs apart like "correct".
    assert html.count('class="settle-cell') == 2
    assert "labeler thinks so" in html and "other_labeler thinks so" in html
    assert reverse("explorer:trace", args=[campaign.items[0].trace.trace_id]) in html
    assert "Lyon" in html
    assert "1</strong> <span>unanimous item" in html  # item 1, ready for bulk accept
    assert html.index("Lyon") > 0


def test_filter_by_question_and_show_settled(client, campaign):
    client.force_login(campaign.users["curator"])
    response = client.get(_url(campaign, question=campaign.answer.pk))
    assert response.content.decode().count('class="settle-cell') == 1
    client.post(
        _settle_url(campaign, campaign.items[0]),
        {"question": campaign.answer.pk, f"q-{campaign.answer.pk}": "Paris"},
    )
    html = client.get(_url(campaign)).content.decode()
    assert html.count('class="settle-cell') == 1  # the settled one is hidden
    html = client.get(_url(campaign, settled=1)).content.decode()
    assert html.count('class="settle-cell') == 2
    assert 'chip-ok">settled' in html


def test_htmx_filter_returns_the_list_partial(client, campaign):
    client.force_login(campaign.users["curator"])
    response = client.get(_url(campaign, question=campaign.correct.pk), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="disagreement-list"')
    assert "<html" not in html


def test_disagreements_query_count_does_not_grow_with_items(
    client, campaign, django_assert_max_num_queries
):
    client.force_login(campaign.users["curator"])
    with django_assert_max_num_queries(20):
        client.get(_url(campaign))


def test_pick_a_labelers_answer_with_htmx_swaps_the_cell(client, campaign):
    client.force_login(campaign.users["reviewer"])
    item = campaign.items[0]
    theirs = _answers(campaign, item, campaign.correct)[1]  # other_labeler: False
    response = client.post(
        _settle_url(campaign, item),
        {"question": campaign.correct.pk, "pick": theirs.assessment_id, "rationale": "Checked"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<article")
    assert f'id="cell-{item.pk}-{campaign.correct.pk}-t"' in html
    assert "Settled:" in html
    assert "cell-settled" in response["HX-Trigger"]  # the page reloads its figures
    row = Adjudication.objects.get(item=item, schema=campaign.correct)
    assert row.assessment.value is False
    assert row.assessment.rationale == "Checked"
    assert row.adjudicator == campaign.users["reviewer"]
    assert row.assessment.source_id == "reviewer"


def test_enter_a_new_value_without_js_redirects_back(client, campaign):
    client.force_login(campaign.users["curator"])
    item = campaign.items[0]
    back = _url(campaign, settled=1)
    response = client.post(
        _settle_url(campaign, item),
        {"question": campaign.answer.pk, f"q-{campaign.answer.pk}": "Paris, France", "next": back},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(back + "#cell-")
    row = Adjudication.objects.get(item=item, schema=campaign.answer)
    assert (row.assessment.kind, row.assessment.value) == ("expectation", "Paris, France")


def test_next_must_stay_on_this_site(client, campaign):
    client.force_login(campaign.users["curator"])
    response = client.post(
        _settle_url(campaign, campaign.items[0]),
        {"question": campaign.correct.pk, f"q-{campaign.correct.pk}": "true",
         "next": "https://evil.example/"},
    )  # fmt: skip
    assert response["Location"].startswith(_url(campaign) + "#")


def test_settling_both_questions_marks_the_item_adjudicated_on_the_dashboard(client, campaign):
    client.force_login(campaign.users["curator"])
    item = campaign.items[0]
    for schema, value in ((campaign.correct, "false"), (campaign.answer, "Paris")):
        client.post(_settle_url(campaign, item), {"question": schema.pk, f"q-{schema.pk}": value})
    item.refresh_from_db()
    assert item.adjudicated_by == campaign.users["curator"]
    html = client.get(reverse("console:session_detail", args=[campaign.session.pk])).content
    assert b"adjudicated" in html
    html = client.get(_url(campaign, settled=1)).content.decode()
    assert "item adjudicated" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Pick one of the answers, or enter a new one."),
        ({"q-{correct}": "maybe"}, "Choose Pass or Fail."),
        ({"pick": "a-doesnotexist"}, "not one of this question"),
        ({"q-{correct}": "true", "rationale": "x" * 20_001}, "the limit is 20,000"),
    ],
)
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_input_re_renders_with_the_error_and_writes_nothing(
    client, campaign, data, message, htmx
):
    client.force_login(campaign.users["curator"])
    data = {k.format(correct=campaign.correct.pk): v for k, v in data.items()}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(
        _settle_url(campaign, campaign.items[0]),
        {"question": campaign.correct.pk, **data},
        **headers,
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Adjudication.objects.exists()


def test_a_numeric_value_out_of_range_is_refused(client, campaign):
    from tests.factories import make_answer, make_schema

    score = make_schema(
        campaign.session.experiment, "score", "numeric", {"min_value": 1, "max_value": 5}
    )
    campaign.session.sessionschema_set.create(schema=score, position=9)
    item = campaign.items[0]
    for assignment in item.assignments.all()[:2]:
        make_answer(assignment, score, 2 if assignment.labeler.username == "labeler" else 4)
    client.force_login(campaign.users["curator"])
    response = client.post(
        _settle_url(campaign, item), {"question": score.pk, f"q-{score.pk}": "9"}
    )
    assert response.status_code == 200
    assert "at most 5" in response.content.decode()
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        {"question": "999999"},
        {"question": "abc"},
        {},
        {"question": "{correct}", "span": "0123456789abcdef"},
    ],
)
def test_unknown_question_or_span_is_404(client, campaign, query):
    client.force_login(campaign.users["curator"])
    query = {k: v.format(correct=campaign.correct.pk) for k, v in query.items()}
    response = client.post(_settle_url(campaign, campaign.items[0]), query)
    assert response.status_code == 404


def test_unknown_item_or_item_of_another_session_is_404(client, campaign):
    from tests.factories import make_review_session

    client.force_login(campaign.users["curator"])
    elsewhere = make_review_session(items=1).items.get()
    for item_pk in (elsewhere.pk, 999999):
        url = reverse("campaign:settle", args=[campaign.session.pk, item_pk])
        assert client.get(url, {"question": campaign.correct.pk}).status_code == 404


def test_settle_page_shows_one_cell(client, campaign):
    client.force_login(campaign.users["curator"])
    response = client.get(
        _settle_url(campaign, campaign.items[0]), {"question": campaign.correct.pk}
    )
    assert response.status_code == 200
    assert response.content.decode().count('class="settle-cell') == 1


def test_settle_requires_csrf(campaign):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(campaign.users["curator"])
    response = client.post(
        _settle_url(campaign, campaign.items[0]),
        {"question": campaign.correct.pk, f"q-{campaign.correct.pk}": "true"},
    )
    assert response.status_code == 403
    response = client.post(_url(campaign, "accept_unanimous"))
    assert response.status_code == 403
    assert not Adjudication.objects.exists()


def test_bulk_accept_confirms_the_count_then_accepts(client, campaign):
    client.force_login(campaign.users["curator"])
    response = client.get(_url(campaign, "accept_unanimous"))
    assert response.status_code == 200
    assert "Accept 1 item" in response.content.decode()
    assert not Adjudication.objects.exists()  # GET only asks
    # A background job (run at once here: the tests' immediate task backend); its page.
    response = client.post(_url(campaign, "accept_unanimous"), follow=True)
    job = Job.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "campaign:job", args=[campaign.session.pk, job.pk]
    )
    html = response.content.decode()
    assert "Done: accepted the unanimous answers of 1 item (2 answers)." in html
    assert 'data-job-state="done"' in html and "hx-trigger" not in html  # no more polling
    assert (job.state, job.done, job.total, job.result) == (
        "done",
        1,
        1,
        {"items": 1, "answers": 2},
    )
    partial = client.get(response.redirect_chain[-1][0], HTTP_HX_REQUEST="true")
    assert partial.content.decode().lstrip().startswith('<div id="job-progress"')
    rows = Adjudication.objects.filter(item=campaign.items[1])
    assert rows.count() == 2 and all(row.accepted_consensus for row in rows)
    campaign.items[1].refresh_from_db()
    assert campaign.items[1].is_adjudicated
    response = client.get(_url(campaign, "accept_unanimous"))
    assert "no unanimous items left" in response.content.decode()


def test_a_job_page_is_for_the_session_leads_only(client, campaign):
    client.force_login(campaign.users["curator"])
    client.post(_url(campaign, "accept_unanimous"))
    job = Job.objects.get()
    url = reverse("campaign:job", args=[campaign.session.pk, job.pk])
    client.force_login(campaign.users["outsider"])
    assert client.get(url).status_code == 404  # as every campaign page, for non-leads
    client.force_login(campaign.users["curator"])
    other = make_review_session()
    assert client.get(reverse("campaign:job", args=[other.pk, job.pk])).status_code == 404


def test_a_job_whose_worker_died_shows_as_stopped_and_can_start_again(client, campaign):
    """A job still running whose worker stopped reporting (it crashed): shown as stopped, with
    what was applied, and starting again makes a new job that carries on."""
    from datetime import timedelta

    from django.utils import timezone

    client.force_login(campaign.users["curator"])
    lost = Job.objects.create(
        kind="accept_unanimous",
        session=campaign.session,
        created_by=campaign.users["curator"],
        state="running",
        total=1,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )
    html = client.get(reverse("campaign:job", args=[campaign.session.pk, lost.pk])).text
    assert "the worker running this job stopped reporting" in html
    assert "Start again" in html and "hx-trigger" not in html
    response = client.post(_url(campaign, "accept_unanimous"))
    again = Job.objects.exclude(pk=lost.pk).get()
    assert response["Location"] == reverse("campaign:job", args=[campaign.session.pk, again.pk])
    assert again.state == "done" and again.result == {"items": 1, "answers": 2}


def test_summary_partial_has_fresh_figures(client, campaign):
    client.force_login(campaign.users["curator"])
    url = _url(campaign, "disagreement_summary")
    html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<div id="campaign-summary"')
    assert "<strong>2</strong> <span>to settle" in html
    client.post(
        _settle_url(campaign, campaign.items[0]),
        {"question": campaign.correct.pk, f"q-{campaign.correct.pk}": "true"},
        HTTP_HX_REQUEST="true",
    )
    html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>1</strong> <span>to settle" in html
    assert "<strong>1</strong> <span>settled" in html
