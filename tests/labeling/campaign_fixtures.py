"""A small campaign for the disagreements, adjudication and export tests.

Three labelers (`labeler`, `other_labeler`, `third`) on a session asking a pass/fail feedback
question `correct` and a text expectation `answer`; a reviewer (`reviewer`) of the session.
Item 0: the labelers disagree on both questions. Item 1: they all agree. Item 2: one label.
Each trace has a root span whose inputs are `{"question": "Q<n>"}`.
"""

from dataclasses import dataclass

import pytest

from labeling.models import Item, LabelingSchema, LabelingSession
from tests.conftest import make_user
from tests.factories import (
    make_answer,
    make_assignment,
    make_experiment,
    make_review_session,
    make_schema,
    make_span,
)


@dataclass
class Campaign:
    session: LabelingSession
    correct: LabelingSchema
    answer: LabelingSchema
    items: list[Item]
    users: dict


@pytest.fixture
def campaign(curator, labeler, other_labeler, outsider) -> Campaign:
    return build_campaign(curator, labeler, other_labeler, outsider)


def build_campaign(curator, labeler, other_labeler, outsider) -> Campaign:
    third = make_user("third", labeler=True)
    reviewer = make_user("reviewer")
    experiment = make_experiment("campaign experiment")
    correct = make_schema(experiment, "correct", "pass_fail", enable_comment=True)
    answer = make_schema(experiment, "answer", "text", kind="expectation")
    session = make_review_session(
        experiment=experiment,
        items=3,
        schemas=[correct, answer],
        labelers=[labeler, other_labeler, third],
        labels_per_item=3,
        name="March review: Q&A",
    )
    session.reviewers.add(reviewer)
    items = list(session.items.select_related("trace").order_by("position"))
    for number, item in enumerate(items):
        make_span(item.trace, span_id=f"{number + 1:016x}", inputs={"question": f"Q{number}"})
    answers = [
        [(True, "Paris"), (False, "Lyon"), (True, "Paris")],
        [(True, "Rome"), (True, "rome"), (True, "Rome")],
        [(False, "Bern")],
    ]
    labelers = [labeler, other_labeler, third]
    for item, row in zip(items, answers, strict=True):
        for user, (value, text) in zip(labelers, row, strict=False):
            assignment = make_assignment(item, user)
            link = make_answer(assignment, correct, value)
            link.assessment.rationale = f"{user.username} thinks so"
            link.assessment.save(update_fields=["rationale"])
            make_answer(assignment, answer, text)
    users = {
        "curator": curator,
        "reviewer": reviewer,
        "labeler": labeler,
        "outsider": outsider,
    }
    return Campaign(session=session, correct=correct, answer=answer, items=items, users=users)
