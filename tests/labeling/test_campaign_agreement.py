"""The campaign's agreement page (and the dashboard's lazy summary) and per-labeler page."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from labeling.models import Adjudication
from tests.conftest import make_user
from tests.factories import (
    make_answer,
    make_assignment,
    make_experiment,
    make_feedback,
    make_review_session,
    make_schema,
    refresh_results,
)
from traces import services

pytestmark = pytest.mark.django_db

PAGES = ["campaign:agreement", "campaign:labelers"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Agreement figures are cached per session fingerprint; start each test without them."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reviewer(db):
    return make_user("reviewer")


@pytest.fixture
def campaign(labeler, other_labeler, reviewer):
    """Three labelers, three items, two questions; item 3 split and adjudicated; a judge."""
    third = make_user("third_labeler", labeler=True)
    experiment = make_experiment()
    correct = make_schema(experiment, "correct", "pass_fail", title="Is the answer correct?")
    score = make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5})
    session = make_review_session(
        experiment=experiment,
        items=3,
        schemas=[correct, score],
        labelers=[labeler, other_labeler, third],
        labels_per_item=3,
        name="Support bot, week 1",
    )
    session.reviewers.add(reviewer)
    items = list(session.items.order_by("position"))
    start = timezone.now() - timedelta(hours=5)
    answers = {
        labeler: [True, False, True],
        other_labeler: [True, False, False],
        third: [True, False, False],
    }
    for offset, (person, values) in enumerate(answers.items()):
        for index, (item, value) in enumerate(zip(items, values, strict=True)):
            assignment = make_assignment(
                item, person, claimed_at=start + timedelta(hours=index, minutes=offset)
            )
            make_answer(assignment, correct, value)
            make_answer(assignment, score, 4 if value else 2)
    final = services.log_assessment(
        trace_id=items[2].trace.trace_id,
        assessment=services.Feedback(
            name="correct", value=False, source=services.Source("HUMAN", "curator")
        ),
    )
    Adjudication.objects.create(item=items[2], schema=correct, assessment=final)
    refresh_results(items[2])
    for item, value in zip(items, [True, True, False], strict=True):
        make_feedback(item.trace, "correct", value, source=services.Source("LLM_JUDGE", "judge-1"))
    return session


# --- who may see them ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize(
    ("who", "status"),
    [("curator", 200), ("reviewer", 200), ("labeler", 404), ("outsider", 404)],
)
def test_access_by_role(client, campaign, request, name, who, status):
    client.force_login(request.getfixturevalue(who))
    url = reverse(name, args=[campaign.pk])
    assert client.get(url).status_code == status
    assert client.get(url, headers={"HX-Request": "true"}).status_code == status


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_goes_to_login(client, campaign, name):
    url = reverse(name, args=[campaign.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", PAGES)
def test_unknown_session_is_404(curator_client, name):
    assert curator_client.get(reverse(name, args=[999_999])).status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_reviewer_of_another_session_is_refused(client, campaign, name):
    elsewhere = make_user("elsewhere")
    make_review_session().reviewers.add(elsewhere)
    client.force_login(elsewhere)
    assert client.get(reverse(name, args=[campaign.pk])).status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_pages_are_read_only(curator_client, campaign, name):
    assert curator_client.post(reverse(name, args=[campaign.pk])).status_code == 405


# --- agreement page ------------------------------------------------------------------------------


def test_agreement_page_shows_figures_kappa_and_judge(curator_client, campaign):
    response = curator_client.get(reverse("campaign:agreement", args=[campaign.pk]))
    html = response.content.decode()
    correct, score = response.context["results"]
    # Item 1 and 2 unanimous, item 3 split 1-2: pairs agree 3/3, 3/3, 1/3.
    assert correct.percent.value == pytest.approx(7 / 9)
    assert "78%" in html
    assert f"{correct.alpha.value:.2f}" in html
    assert correct.alpha.reading in html
    assert "Is the answer correct?" in html
    # Kappa matrix: 3 labelers, each cell with its n.
    assert html.count('class="kappa-cell') == 6 * 2  # both questions
    assert "n=3" in html
    # Judge: consensus T, F, F(adjudicated) vs judge T, T, F.
    (judge,) = correct.judges
    assert judge.percent.value == pytest.approx(2 / 3)
    assert "Human consensus vs LLM judge · judge-1" in html
    assert "Confusion matrix" in html
    assert score.judges == []
    assert 'aria-current="page">Agreement' in html


def test_agreement_summary_for_the_dashboard(curator_client, campaign):
    url = reverse("campaign:agreement", args=[campaign.pk])
    response = curator_client.get(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="agreement-summary"')
    assert "<html" not in html
    assert "<code>correct</code>" in html and "<code>score</code>" in html
    assert "Confusion matrix" not in html


def test_dashboard_loads_the_summary_lazily(curator_client, campaign):
    html = curator_client.get(
        reverse("console:session_detail", args=[campaign.pk])
    ).content.decode()
    url = reverse("campaign:agreement", args=[campaign.pk])
    assert f'hx-get="{url}" hx-trigger="load"' in html
    assert f'href="{url}"' in html  # a plain link without JavaScript


def test_agreement_without_answers_says_why(curator_client):
    session = make_review_session(items=2)
    html = curator_client.get(reverse("campaign:agreement", args=[session.pk])).content.decode()
    assert "not enough data" in html
    assert "Needs answers from at least two labelers." in html
    empty = make_review_session(schemas=[])
    html = curator_client.get(reverse("campaign:agreement", args=[empty.pk])).content.decode()
    assert "no questions yet" in html


def test_agreement_with_one_category_is_undefined(curator_client, labeler, other_labeler):
    session = make_review_session(items=2, labelers=[labeler, other_labeler])
    schema = session.schemas.get()
    for item in session.items.all():
        for person in (labeler, other_labeler):
            make_answer(make_assignment(item, person), schema, True)
    response = curator_client.get(reverse("campaign:agreement", args=[session.pk]))
    (result,) = response.context["results"]
    assert result.alpha.value is None
    assert result.percent.value == 1.0
    assert "every label is the same value" in response.content.decode()


def test_agreement_query_count_does_not_grow_with_labelers(
    curator_client, campaign, django_assert_num_queries
):
    url = reverse("campaign:agreement", args=[campaign.pk])
    # user, labeling session, questions, the kept counts, the labelers' names, judges'
    # feedback, the kept cells of the judged traces: no answer is read, however many there are
    with django_assert_num_queries(7):
        curator_client.get(url)
    with django_assert_num_queries(7):
        curator_client.get(url, headers={"HX-Request": "true"})


# --- labelers page -------------------------------------------------------------------------------


def test_labelers_page_figures(client, campaign, reviewer, labeler):
    client.force_login(reviewer)
    response = client.get(reverse("campaign:labelers", args=[campaign.pk]))
    html = response.content.decode()
    rows = {row.progress.user.username: row for row in response.context["rows"]}
    first = rows[labeler.username]
    assert first.progress.done == 3
    # On each question, labeler agrees with both others on items 1 and 2 and with neither on
    # item 3: 4 of 6 comparisons, twice.
    assert (first.with_others.matched, first.with_others.total) == (8, 12)
    assert first.with_others_items == 3
    # Item 3's adjudicated answer is False; labeler said True.
    assert (first.with_final.matched, first.with_final.total) == (0, 1)
    assert rows["third_labeler"].with_final.value == 1.0
    assert "67%" in html
    assert 'aria-current="page">Labelers' in html


def test_labelers_page_chart(curator_client, campaign):
    response = curator_client.get(reverse("campaign:labelers", args=[campaign.pk]))
    html = response.content.decode()
    chart = response.context["chart"]
    assert chart.bucket == "hour"
    assert [series.total for series in chart.series] == [3, 3, 3]
    assert html.count('<polyline class="chart-line') == 3
    assert '<svg viewBox="0 0 720 260" role="img"' in html
    assert '<title id="progress-chart-title">Progress over time</title>' in html
    assert "Items submitted (cumulative)" in html
    assert 'class="chart-legend"' in html


def test_labelers_without_adjudication_or_work(curator_client, labeler):
    session = make_review_session(labelers=[labeler])
    response = curator_client.get(reverse("campaign:labelers", args=[session.pk]))
    (row,) = response.context["rows"]
    assert row.with_final.value is None and row.with_others.value is None
    assert response.context["chart"] is None
    assert "Nothing submitted yet." in response.content.decode()


def test_labelers_query_count_is_fixed(
    curator_client, campaign, labeler, django_assert_num_queries
):
    url = reverse("campaign:labelers", args=[campaign.pk])
    # user, labeling session; labeler figures (kept counts, open and flagged assignments,
    # users with their last activity); the kept counts of agreement (no answer is read) and
    # of submissions per hour
    with django_assert_num_queries(7):
        curator_client.get(url)
    more = [make_user(f"extra{i}", labeler=True) for i in range(3)]
    campaign.labelers.add(*more)
    schema = campaign.schemas.first()
    for person in more:
        make_answer(make_assignment(campaign.items.first(), person), schema, True)
    with django_assert_num_queries(7):
        response = curator_client.get(url)
    assert len(response.context["rows"]) == 6


def test_progress_over_more_than_three_days_is_per_day(curator_client, labeler):
    session = make_review_session(items=3, labelers=[labeler])
    start = timezone.now() - timedelta(days=6)
    for index, item in enumerate(session.items.order_by("position")):
        make_assignment(item, labeler, claimed_at=start + timedelta(days=2 * index))
    chart = curator_client.get(reverse("campaign:labelers", args=[session.pk])).context["chart"]
    assert chart.bucket == "day"
    (series,) = chart.series
    assert series.total == 3
    assert len(series.points.split()) == 1 + 5  # zero, then days 0..4


def test_agreement_with_suggestions_adds_two_queries(
    curator_client, campaign, django_assert_num_queries
):
    """Issue 15: a session with judges' suggestions also counts how often experts changed one
    (the answers given on a suggestion, and the suggestions)."""
    from labeling.models import Answer, LabelingSession

    LabelingSession.objects.filter(pk=campaign.pk).update(suggestions=True)
    answer = Answer.objects.filter(assignment__item__session=campaign).first()
    judge = make_feedback_for(answer)
    answer.assessment.metadata = {"suggestion": judge.assessment_id}
    answer.assessment.save(update_fields=["metadata"])
    url = reverse("campaign:agreement", args=[campaign.pk])
    with django_assert_num_queries(9):
        response = curator_client.get(url)
    assert "Judges&#x27; suggestions" in response.text or "Judges' suggestions" in response.text
    changed = answer.assessment.value != judge.value
    assert f'<td class="num"><strong>{int(changed)}</strong></td>' in response.text


def make_feedback_for(answer):
    from traces import services

    return services.log_assessment(
        trace_id=answer.assessment.trace.trace_id,
        assessment=services.Feedback(
            name=answer.assessment.name,
            value=answer.assessment.value,
            source=services.Source(source_type="LLM_JUDGE", source_id="judge"),
        ),
    )
