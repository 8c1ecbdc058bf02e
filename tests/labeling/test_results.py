"""labeling.results: reading a session's answers back per item and question."""

import pytest

from labeling.models import Adjudication
from labeling.results import comparison_key, iter_cells, load_cells, session_questions
from tests.factories import (
    make_answer,
    make_assignment,
    make_experiment,
    make_review_session,
    make_schema,
)
from traces import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(labeler, other_labeler, outsider):
    experiment = make_experiment()
    correct = make_schema(experiment, "correct", "pass_fail")
    topics = make_schema(experiment, "topics", "categorical_list", {"options": ["a", "b", "c"]})
    score = make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5})
    session = make_review_session(
        experiment=experiment, items=3, schemas=[correct, topics, score], labels_per_item=2
    )
    return session, (correct, topics, score), list(session.items.order_by("position"))


def test_cells_hold_each_labelers_submitted_answer(world, labeler, other_labeler, outsider):
    session, (correct, topics, score), items = world
    first = make_assignment(items[0], labeler)
    second = make_assignment(items[0], other_labeler)
    make_answer(first, correct, True)
    make_answer(second, correct, False)
    make_answer(first, topics, ["a", "b"])
    make_answer(second, topics, ["b", "a"])
    make_answer(first, score, 2)
    make_answer(second, score, 4)
    make_assignment(items[1], outsider, state="skipped")

    cells = load_cells(session)
    assert len(cells) == 9  # 3 items x 3 questions, answered or not
    by_key = {(c.item_id, c.question.name): c for c in cells}
    correct_cell = by_key[(items[0].pk, "correct")]
    assert [a.value for a in correct_cell.answers] == [True, False]
    assert [a.username for a in correct_cell.answers] == [
        labeler.username,
        other_labeler.username,
    ]
    assert correct_cell.disagreement == 1.0
    assert not correct_cell.is_unanimous
    assert correct_cell.final_value is None
    assert by_key[(items[0].pk, "topics")].is_unanimous  # compared as sets
    assert by_key[(items[0].pk, "topics")].final_value == ["a", "b"]
    assert by_key[(items[0].pk, "score")].disagreement == pytest.approx(0.5)  # 2 of range 4
    assert by_key[(items[1].pk, "correct")].answers == []


def test_adjudication_is_the_final_answer(world, labeler, other_labeler, curator):
    session, (correct, *_), items = world
    make_answer(make_assignment(items[0], labeler), correct, True)
    make_answer(make_assignment(items[0], other_labeler), correct, False)
    final = services.log_assessment(
        trace_id=items[0].trace.trace_id,
        assessment=services.Feedback(
            name="correct",
            value=False,
            source=services.Source("HUMAN", curator.username),
            metadata={"adjudicated": True},
        ),
    )
    Adjudication.objects.create(
        item=items[0], schema=correct, assessment=final, adjudicator=curator
    )

    cells = load_cells(session, item_ids=[items[0].pk])
    (cell,) = [c for c in cells if c.question.name == "correct"]
    assert cell.is_adjudicated
    assert cell.final_value is False
    assert cell.final.adjudicator == curator.username


def test_iter_cells_walks_in_batches(world, labeler, django_assert_max_num_queries):
    session, (correct, *_), items = world
    for item in items:
        make_answer(make_assignment(item, labeler), correct, True)
    questions = session_questions(session)
    with django_assert_max_num_queries(3 * 3 + 1):
        cells = list(iter_cells(session, questions=questions, batch_size=1))
    assert [c.item_id for c in cells if c.question.name == "correct"] == [i.pk for i in items]
    assert all(c.final_value is True for c in cells if c.question.name == "correct")


def test_comparison_keys():
    assert comparison_key(["a", "b"], "set") == comparison_key(["b", "a"], "set")
    assert comparison_key(" Paris ", "text") == comparison_key("paris", "text")
    assert comparison_key(3, "interval") == comparison_key(3.0, "interval")
    assert comparison_key(True, "nominal") != comparison_key(False, "nominal")
    assert comparison_key(None, "nominal") is None
