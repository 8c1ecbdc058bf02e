"""labeling.campaign.agreement: every statistic against known answers, then folded over real
cells."""

import math

import pytest
from django.core.cache import cache

from labeling import services as labeling_services
from labeling.campaign import adjudication, agreement
from labeling.campaign.agreement import (
    Figure,
    cohen_kappa,
    human_consensus,
    krippendorff_alpha,
    percent_agreement,
    session_agreement,
)
from labeling.models import Adjudication
from labeling.results import load_cells
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
from traces.models import Assessment

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1-5, with missing data (None). Unit 12 has a single value: not pairable.
KRIPPENDORFF_2011 = [
    # A     B     C     D
    [1, 1, None, 1],
    [2, 2, 3, 2],
    [3, 3, 3, 3],
    [3, 3, 3, 3],
    [2, 2, 2, 2],
    [1, 2, 3, 4],
    [4, 4, 4, 4],
    [1, 1, 2, 1],
    [2, 2, 2, 2],
    [None, 5, 5, 5],
    [None, None, 1, 1],
    [None, 3, None, None],
]


def units(table):
    return [[value for value in row if value is not None] for row in table]


# --- Krippendorff's alpha ------------------------------------------------------------------------


def test_alpha_nominal_matches_krippendorff_2011():
    figure = krippendorff_alpha(units(KRIPPENDORFF_2011), "nominal")
    assert round(figure.value, 3) == 0.743
    assert figure.n == 11  # unit 12 has one value and does not count
    assert figure.reading == "substantial agreement"


def test_alpha_interval_matches_krippendorff_2011():
    figure = krippendorff_alpha(
        [[float(v) for v in unit] for unit in units(KRIPPENDORFF_2011)], "interval"
    )
    assert round(figure.value, 3) == 0.849
    assert figure.reading == "almost perfect agreement"


def test_alpha_nominal_works_on_any_hashable_values():
    letters = [[chr(ord("a") + v) for v in unit] for unit in units(KRIPPENDORFF_2011)]
    assert round(krippendorff_alpha(letters, "nominal").value, 3) == 0.743
    sets = [[frozenset({v}) for v in unit] for unit in units(KRIPPENDORFF_2011)]
    assert round(krippendorff_alpha(sets, "nominal").value, 3) == 0.743


@pytest.mark.parametrize("metric", ["nominal", "interval"])
def test_alpha_closed_form_for_large_domains_equals_the_library(monkeypatch, metric):
    data = [[float(v) for v in unit] for unit in units(KRIPPENDORFF_2011)]
    expected = krippendorff_alpha(data, metric).value
    monkeypatch.setattr(agreement, "LIBRARY_MAX_VALUES", 0)
    assert krippendorff_alpha(data, metric).value == pytest.approx(expected, abs=1e-12)


def test_alpha_with_one_category_is_undefined_not_a_crash():
    figure = krippendorff_alpha([[True, True], [True, True, True], [True]])
    assert figure.value is None
    assert figure.n == 2
    assert figure.reading == "undefined"
    assert "no variation" in figure.why
    assert figure.strength == "none"


def test_alpha_needs_two_items_with_two_labels():
    figure = krippendorff_alpha([[1, 2], [1], [2], []])
    assert figure.value is None
    assert figure.n == 1
    assert figure.reading == "not enough data"


def test_alpha_perfect_and_systematic_disagreement():
    assert krippendorff_alpha([[1, 1], [2, 2], [1, 1]]).value == pytest.approx(1.0)
    # Two coders who always disagree on a binary question: alpha below zero.
    assert krippendorff_alpha([[1, 2], [2, 1], [1, 2], [2, 1]]).value < 0


# --- Cohen's kappa -------------------------------------------------------------------------------


def table(yes_yes, yes_no, no_yes, no_no):
    """Two raters' answers from a 2x2 table (rater A's answer first)."""
    return (
        [("yes", "yes")] * yes_yes
        + [("yes", "no")] * yes_no
        + [("no", "yes")] * no_yes
        + [("no", "no")] * no_no
    )


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # Textbook examples (Wikipedia, "Cohen's kappa"): po 0.70 pe 0.50; po 0.60 pe 0.54;
        # po 0.60 pe 0.46.
        ((20, 5, 10, 15), 0.4),
        ((45, 15, 25, 15), 0.1304),
        ((25, 35, 5, 35), 0.2593),
    ],
)
def test_kappa_textbook_tables(cells, expected):
    figure = cohen_kappa(table(*cells))
    assert round(figure.value, 4) == expected
    assert figure.n == sum(cells)


def test_kappa_three_categories_by_hand():
    a = ["neg", "pos", "neg", "neu", "pos"]
    b = ["neg", "pos", "neg", "neu", "neg"]
    # po = 4/5; pe = (2*3 + 2*1 + 1*1) / 25 = 0.36; kappa = 0.44 / 0.64
    assert cohen_kappa(list(zip(a, b, strict=True))).value == pytest.approx(0.6875)


def test_kappa_single_category_and_too_few_items():
    same = cohen_kappa([(True, True)] * 5)
    assert same.value is None and same.n == 5 and same.reading == "undefined"
    assert cohen_kappa([(True, False)]).reading == "not enough data"
    assert cohen_kappa([]).n == 0


# --- percent agreement and readings --------------------------------------------------------------


def test_percent_agreement_averages_pairwise_shares_per_item():
    # Shares: 1 (3 of 3 pairs), 1/3, 0; the single-label item does not count.
    figure = percent_agreement([[1, 1, 1], [1, 1, 2], [1, 2], [3]])
    assert figure.value == pytest.approx(4 / 9)
    assert figure.n == 3
    assert percent_agreement([[1, 1]]).value is None


@pytest.mark.parametrize(
    ("value", "reading"),
    [
        (-0.05, "poor agreement"),
        (0.0, "no better than chance"),
        (0.001, "no better than chance"),
        (0.2, "slight agreement"),
        (0.21, "fair agreement"),
        (0.55, "moderate agreement"),
        (0.8, "substantial agreement"),
        (0.81, "almost perfect agreement"),
        (1.0, "almost perfect agreement"),
    ],
)
def test_landis_koch_readings(value, reading):
    assert Figure(value=value, n=10).reading == reading


def test_a_figure_over_few_items_says_so():
    """Issue 15: "alpha 0.00, slight agreement" over 2 items read as a finding."""
    assert Figure(value=0.5, n=2).reading == (
        "moderate agreement (only 2 items: too few to rely on)"
    )


@pytest.fixture(autouse=True)
def empty_cache():
    """Figures are cached per session fingerprint; each test starts from an empty cache."""
    cache.clear()
    yield
    cache.clear()


# --- over a session's cells ----------------------------------------------------------------------


@pytest.fixture
def campaign(db, labeler, other_labeler):
    """Three labelers on four items: pass/fail with one disagreement, a numeric score, a
    multi-select question, and an LLM judge under the pass/fail question's name."""
    third = make_user("third_labeler", labeler=True)
    experiment = make_experiment()
    correct = make_schema(experiment, "correct", "pass_fail")
    score = make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5})
    topics = make_schema(
        experiment, "topics", "categorical", {"options": ["a", "b", "c"], "multi": True}
    )
    session = make_review_session(
        experiment=experiment,
        items=4,
        schemas=[correct, score, topics],
        labelers=[labeler, other_labeler, third],
        labels_per_item=3,
    )
    items = list(session.items.order_by("position"))
    answers = {
        labeler: [True, True, False, True],
        other_labeler: [True, True, False, False],
        third: [True, True, False, None],  # third skipped the last item
    }
    for person, values in answers.items():
        for item, value in zip(items, values, strict=True):
            if value is None:
                make_assignment(item, person, state="skipped")
                continue
            assignment = make_assignment(item, person)
            make_answer(assignment, correct, value)
            make_answer(assignment, score, 3 if value else 1)
            make_answer(assignment, topics, ["a", "b"] if person == labeler else ["b", "a"])
    judge = services.Source("LLM_JUDGE", "gpt-judge")
    for item, value in zip(items, [True, False, False, True], strict=True):
        make_feedback(item.trace, "correct", value, source=judge)
    # An invalid (overridden) judge label and a HUMAN one are not judges' current answers.
    stale = make_feedback(items[0].trace, "correct", False, source=judge)
    Assessment.objects.filter(pk=stale.pk).update(valid=False)
    make_feedback(items[1].trace, "correct", False, source=services.Source("HUMAN", "someone"))
    return session, items, (labeler, other_labeler, third)


def by_name(results):
    return {result.question.name: result for result in results}


def test_session_agreement_per_question(campaign):
    session, _, (labeler, other_labeler, third) = campaign
    results = by_name(session_agreement(session))
    correct = results["correct"]
    assert correct.labeled == 4
    # Items 1-3 unanimous, item 4 split between two labelers.
    assert correct.percent.value == pytest.approx(3 / 4) and correct.percent.n == 4
    # By hand: n = 11 pairable labels (7 True, 4 False); the split item has o[T,F] = o[F,T] = 1,
    # so Do = 2/11 and De = 2*7*4/(11*10); alpha = 1 - (2/11) / (56/110) = 1 - 20/56.
    assert correct.alpha.value == pytest.approx(1 - 20 / 56)
    assert correct.alpha.n == 4
    people = [labeler.username, other_labeler.username, third.username]
    assert correct.kappa.labelers == sorted(people)
    names = correct.kappa.labelers
    a, b = names.index(labeler.username), names.index(other_labeler.username)
    assert correct.kappa.rows[a][a] is None
    pair = correct.kappa.rows[a][b]
    # 4 items both labeled: T/T, T/T, F/F, T/F -> po 0.75, pe (3*2 + 1*2)/16 = 0.5
    assert pair.n == 4 and pair.value == pytest.approx(0.5)
    assert correct.kappa.rows[b][a] == pair
    # labeler and third agree on the three items both labeled.
    c = names.index(third.username)
    assert correct.kappa.rows[a][c].n == 3 and correct.kappa.rows[a][c].value == pytest.approx(1)

    assert results["score"].metric == "interval"
    assert results["score"].alpha.value == pytest.approx(
        krippendorff_alpha([[3.0] * 3, [3.0] * 3, [1.0] * 3, [3.0, 1.0]], "interval").value
    )
    topics = results["topics"]  # ["a", "b"] and ["b", "a"] are the same set: one category
    assert topics.percent.value == 1.0
    assert topics.alpha.value is None and topics.alpha.reading == "undefined"


def test_judge_value_outside_the_question_is_shown_as_is(campaign):
    session, items, _ = campaign
    make_feedback(items[2].trace, "correct", "no", source=services.Source("CODE", "check"))
    judges = by_name(session_agreement(session))["correct"].judges
    code = next(judge for judge in judges if judge.source_type == "CODE")
    assert code.label == "Code · check"
    assert code.confusion.labels == ["Fail", "no"]  # not "Pass" (a truthy string)
    assert code.confusion.counts == [[0, 1], [0, 0]]


def test_judge_against_human_consensus(campaign):
    session, _, _ = campaign
    (judge,) = by_name(session_agreement(session))["correct"].judges
    assert judge.label == "LLM judge · gpt-judge"
    # Consensus: T, T, F, and item 4 split 1-1 (no majority): three items compared.
    # Judge: T, F, F -> agrees on 2 of 3.
    assert judge.percent.n == 3
    assert judge.percent.value == pytest.approx(2 / 3)
    assert judge.kappa.n == 3
    # Rows: human consensus; columns: the judge.
    assert judge.confusion.labels == ["Fail", "Pass"]
    assert judge.confusion.counts == [[1, 0], [1, 1]]
    assert judge.confusion.column_totals == [2, 1]
    assert [total for *_, total in judge.confusion.rows] == [1, 2]
    # Only nominal questions get a confusion matrix; no judge on the others.
    assert by_name(session_agreement(session))["score"].judges == []


def test_adjudicated_answer_is_the_consensus(campaign, curator):
    session, items, _ = campaign
    question = next(q for q in session_agreement(session) if q.question.name == "correct")
    schema = question.question.schema
    final = services.log_assessment(
        trace_id=items[3].trace.trace_id,
        assessment=services.Feedback(
            name="correct", value=True, source=services.Source("HUMAN", curator.username)
        ),
    )
    Adjudication.objects.create(item=items[3], schema=schema, assessment=final)
    refresh_results(items[3])
    cell = next(
        c for c in load_cells(session, item_ids=[items[3].pk]) if c.question.name == "correct"
    )
    assert human_consensus(cell) is True
    (judge,) = by_name(session_agreement(session))["correct"].judges
    assert judge.percent.n == 4


def test_numeric_consensus_without_majority_is_the_median(campaign):
    session, items, _ = campaign
    cells = load_cells(session, item_ids=[items[3].pk])
    score = next(c for c in cells if c.question.name == "score")
    assert sorted(a.value for a in score.answers) == [1, 3]
    assert human_consensus(score) == 2.0


def test_empty_session_and_question_without_answers(db):
    experiment = make_experiment()
    session = make_review_session(experiment=experiment, items=2)
    (result,) = session_agreement(session)
    assert result.labeled == 0
    assert result.alpha.reading == "not enough data"
    assert result.kappa.labelers == [] and result.kappa.pairs == 0
    assert session_agreement(make_review_session(experiment=experiment, schemas=[])) == []


def test_alpha_value_is_a_plain_float(campaign):
    session, _, _ = campaign
    value = by_name(session_agreement(session))["correct"].alpha.value
    assert type(value) is float and not math.isnan(value)


# --- kept counts ---------------------------------------------------------------------------------


def test_figures_come_from_kept_counts_and_see_every_change(
    campaign, curator, django_assert_num_queries
):
    session, items, (labeler, *_) = campaign
    first = by_name(session_agreement(session))
    # questions, the kept counts, the labelers' names, the judges' feedback and the kept cells
    # of the judged traces; no answer is read
    with django_assert_num_queries(5):
        again = by_name(session_agreement(session))
    assert again["correct"].alpha == first["correct"].alpha

    # A changed answer (an edit in the explorer: an override) is seen at once.
    schema = first["correct"].question.schema
    answer = items[3].assignments.get(labeler=labeler).answers.get(schema=schema)
    labeling_services.override_assessment(
        trace_id=items[3].trace.trace_id,
        assessment_id=answer.assessment.assessment_id,
        value=False,
        source=services.Source("HUMAN", labeler.username),
    )
    now = by_name(session_agreement(session))
    assert now["correct"].percent.value == 1.0  # item 4 is no longer split

    # So are an adjudication and a new judge label.
    adjudication.settle_cell(item=items[0], schema=schema, value=False, adjudicator=curator)
    (judge,) = by_name(session_agreement(session))["correct"].judges
    # Consensus now F (adjudicated), T, F, F (item 4 settled by the change); judge T, F, F, T.
    assert judge.confusion.counts == [[1, 2], [1, 0]]
    make_feedback(items[2].trace, "correct", True, source=services.Source("CODE", "rule"))
    assert len(by_name(session_agreement(session))["correct"].judges) == 2


def test_an_answer_updated_in_place_is_seen(campaign):
    """`update_assessment` (the MLflow API's PATCH) changes a value without a new assessment:
    the figures follow it."""
    session, items, (labeler, *_) = campaign
    first = by_name(session_agreement(session))
    schema = first["correct"].question.schema
    answer = items[3].assignments.get(labeler=labeler).answers.get(schema=schema)
    labeling_services.update_assessment(
        trace_id=items[3].trace.trace_id,
        assessment_id=answer.assessment.assessment_id,
        feedback=services.FeedbackValue(value=False),
    )
    now = by_name(session_agreement(session))
    assert now["correct"].percent.value == 1.0


def test_a_retitled_question_shows_its_new_title(campaign):
    session, _, _ = campaign
    session_agreement(session)
    schema = session.schemas.get(name="correct")
    schema.title = "Is it right?"
    schema.save(update_fields=["title"])
    titles = [result.question.schema.title for result in session_agreement(session)]
    assert "Is it right?" in titles
