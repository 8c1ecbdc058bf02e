"""The labelers' queue (labeling.queue): claiming, leases, submitting, skipping, flagging."""

from datetime import timedelta

import pytest
from django.db import models
from django.http import QueryDict
from django.utils import timezone

from labeling import queue
from labeling.forms import AnswerSheet
from labeling.models import Answer, Assignment, AssignmentState, Item, ItemState
from labeling.progress import labeler_progress
from tests.conftest import make_user
from tests.factories import make_review_session, make_schema, recount_slots
from traces.models import Assessment, SourceType


def answers(session, item, **values) -> AnswerSheet:
    """A bound, valid answer sheet for `item`: values by schema name (lists for multi)."""
    schemas = [s for s in session.schemas.order_by("sessionschema__position")]
    data = QueryDict(mutable=True)
    by_name = {s.name: s for s in schemas}
    for name, value in values.items():
        rationale = None
        if isinstance(value, tuple):
            value, rationale = value
        key = f"q-{by_name[name].pk}"
        data.setlist(key, value if isinstance(value, list) else [value])
        if rationale is not None:
            data[f"{key}-rationale"] = rationale
    sheet = AnswerSheet(schemas, spans=list(item.trace.spans.all()), data=data)
    assert sheet.is_valid(), sheet.errors
    return sheet


def submit(assignment, session, now=None, **values):
    sheet = answers(session, assignment.item, **values)
    return queue.submit_answers(assignment=assignment, sheet=sheet, now=now)


@pytest.fixture
def session(labeler, other_labeler):
    return make_review_session(items=3, labelers=[labeler, other_labeler])


def test_claims_items_in_order_and_keeps_the_own_reservation(session, labeler):
    first = queue.claim_next_item(session=session, labeler=labeler)
    assert first.item.position == 0
    assert first.state == AssignmentState.CLAIMED
    assert first.lease_expires_at > timezone.now() + timedelta(minutes=29)
    assert Item.objects.get(pk=first.item.pk).state == ItemState.IN_PROGRESS
    # Asking again returns the same reservation, not a second item.
    again = queue.claim_next_item(session=session, labeler=labeler)
    assert again.pk == first.pk
    assert Assignment.objects.count() == 1


def test_a_claim_takes_four_queries(session, labeler, other_labeler, django_assert_num_queries):
    # Items created after others sit first by position: the window is read by position.
    Item.objects.filter(session=session).update(position=models.F("position") + 1000)
    last = Item.objects.filter(session=session).order_by("-position").first()
    Item.objects.filter(pk=last.pk).update(position=1)
    # Their own reservation (none), the candidate (locked, with the window of open items as a
    # subquery), the new assignment, the item's counters; and the savepoint pair (the test
    # runs inside a transaction).
    with django_assert_num_queries(6):
        mine = queue.claim_next_item(session=session, labeler=labeler)
    assert mine.item.pk == last.pk
    # Returning to the own reservation: it (locked, with its item and trace), the lease update.
    with django_assert_num_queries(4):
        assert queue.claim_next_item(session=session, labeler=labeler).pk == mine.pk
    theirs = queue.claim_next_item(session=session, labeler=other_labeler)
    assert theirs.item.position == 1000


def test_claims_look_past_the_first_window(labeler, other_labeler):
    session = make_review_session(items=queue.CLAIM_WINDOW + 2, labelers=[labeler])
    taken = list(Item.objects.filter(session=session).order_by("position")[: queue.CLAIM_WINDOW])
    for item in taken:
        Assignment.objects.create(
            item=item,
            labeler=other_labeler,
            state=AssignmentState.SUBMITTED,
            claimed_at=timezone.now(),
            submitted_at=timezone.now(),
        )
    recount_slots(*taken)
    mine = queue.claim_next_item(session=session, labeler=labeler)
    assert mine.item.position == queue.CLAIM_WINDOW
    nxt = queue.claim_next_item(session=make_review_session(items=0), labeler=labeler)
    assert nxt is None


def test_claim_windows_stop_growing_at_the_cap(labeler, other_labeler, monkeypatch):
    """Windows double up to CLAIM_WINDOW_MAX items, and the search still walks every window
    until it finds a free item."""
    monkeypatch.setattr(queue, "CLAIM_WINDOW", 2)
    monkeypatch.setattr(queue, "CLAIM_WINDOW_MAX", 4)
    seen: list[int] = []
    real = queue.candidates

    def recording(**kwargs):
        window = kwargs["window"].query
        seen.append(window.high_mark - window.low_mark)
        return real(**kwargs)

    monkeypatch.setattr(queue, "candidates", recording)
    session = make_review_session(items=20, labelers=[labeler])
    taken = list(Item.objects.filter(session=session).order_by("position")[:17])
    for item in taken:
        Assignment.objects.create(
            item=item,
            labeler=other_labeler,
            state=AssignmentState.SUBMITTED,
            claimed_at=timezone.now(),
            submitted_at=timezone.now(),
        )
    recount_slots(*taken)
    mine = queue.claim_next_item(session=session, labeler=labeler)
    assert mine.item.position == 17
    assert max(seen) == 4 and seen[:3] == [2, 4, 4]


def test_a_reserved_item_is_not_handed_to_a_second_labeler(session, labeler, other_labeler):
    mine = queue.claim_next_item(session=session, labeler=labeler)
    theirs = queue.claim_next_item(session=session, labeler=other_labeler)
    assert theirs.item.pk != mine.item.pk
    assert theirs.item.position == 1


def test_labels_per_item_two_gives_each_item_to_two_labelers(labeler, other_labeler):
    session = make_review_session(items=2, labels_per_item=2, labelers=[labeler, other_labeler])
    mine = queue.claim_next_item(session=session, labeler=labeler)
    theirs = queue.claim_next_item(session=session, labeler=other_labeler)
    assert mine.item.pk == theirs.item.pk
    third = make_user("third", labeler=True)
    session.labelers.add(third)
    assert queue.claim_next_item(session=session, labeler=third).item.position == 1


def test_submit_stores_assessments_and_completes_the_item(session, labeler):
    assignment = queue.claim_next_item(session=session, labeler=labeler)
    outcome = submit(assignment, session, correct=("true", "Cites the docs."))
    assert (outcome.created, outcome.overridden, outcome.unchanged) == (1, 0, 0)
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.SUBMITTED
    assert assignment.submitted_at is not None
    assert assignment.lease_expires_at is None
    assert assignment.item.state == ItemState.COMPLETE
    answer = Answer.objects.get(assignment=assignment)
    assessment = answer.assessment
    assert assessment.trace_id == assignment.item.trace_id
    assert assessment.name == "correct"
    assert assessment.kind == "feedback"
    assert assessment.value is True
    assert assessment.rationale == "Cites the docs."
    assert assessment.source_type == SourceType.HUMAN
    assert assessment.source_id == "labeler"
    assert assessment.span_id is None
    schema = session.schemas.get()
    assert assessment.metadata == {"labeling_session_id": session.pk, "schema_version": 1}
    assert answer.schema == schema and answer.schema_version == 1
    # The next claim moves on.
    assert queue.claim_next_item(session=session, labeler=labeler).item.position == 1


def test_double_submit_stores_nothing_twice(session, labeler):
    assignment = queue.claim_next_item(session=session, labeler=labeler)
    submit(assignment, session, correct="true")
    again = submit(assignment, session, correct="true")
    assert (again.created, again.overridden, again.unchanged) == (0, 0, 1)
    assert Assessment.objects.count() == 1
    assert Answer.objects.count() == 1


def test_changing_an_answer_overrides_it(session, labeler):
    assignment = queue.claim_next_item(session=session, labeler=labeler)
    submit(assignment, session, correct="true")
    first = Assessment.objects.get()
    outcome = submit(assignment, session, correct=("false", "Missed a step."))
    assert outcome.overridden == 1
    first.refresh_from_db()
    assert first.valid is False
    current = Answer.objects.get(assignment=assignment).assessment
    assert current.overrides_id == first.pk
    assert current.value is False and current.valid
    assert current.rationale == "Missed a step."
    assert current.source_id == "labeler"
    assert Assessment.objects.filter(valid=True).count() == 1


def test_expectation_schemas_become_expectations(labeler):
    session = make_review_session(items=1, labelers=[labeler], schemas=[])
    schema = make_schema(session.experiment, "facts", "text_list", kind="expectation")
    session.sessionschema_set.create(schema=schema)
    assignment = queue.claim_next_item(session=session, labeler=labeler)
    submit(assignment, session, facts=["Paris", "France"])
    assessment = Assessment.objects.get()
    assert assessment.kind == "expectation"
    assert assessment.value == ["Paris", "France"]


def test_span_questions_are_stored_on_their_span(labeler):
    session = make_review_session(items=1, labelers=[labeler], spans=3, schemas=[])
    schema = make_schema(session.experiment, "relevant", "pass_fail", target_span_type="RETRIEVER")
    session.sessionschema_set.create(schema=schema)
    assignment = queue.claim_next_item(session=session, labeler=labeler)
    spans = list(assignment.item.trace.spans.all())
    sheet = AnswerSheet(
        [schema], spans=spans, data=QueryDict(f"q-{schema.pk}-0000000000000002=true")
    )
    assert sheet.is_valid(), sheet.errors
    queue.submit_answers(assignment=assignment, sheet=sheet)
    assessment = Assessment.objects.get()
    assert assessment.span_id == "0000000000000002"
    assert Answer.objects.get().span_id == "0000000000000002"


def test_an_expired_reservation_frees_the_slot(session, labeler, other_labeler):
    now = timezone.now()
    mine = queue.claim_next_item(session=session, labeler=labeler, now=now)
    later = now + timedelta(minutes=31)
    theirs = queue.claim_next_item(session=session, labeler=other_labeler, now=later)
    assert theirs.item.pk == mine.item.pk
    # The first labeler's late submit is refused: the item went to someone else.
    with pytest.raises(queue.SlotTaken):
        submit(mine, session, now=later, correct="true")
    assert Assessment.objects.count() == 0
    # Their next claim moves on to another item.
    nxt = queue.claim_next_item(session=session, labeler=labeler, now=later)
    assert nxt.item.position == 1


def test_an_expired_reservation_can_be_submitted_when_nobody_took_it(session, labeler):
    now = timezone.now()
    mine = queue.claim_next_item(session=session, labeler=labeler, now=now)
    submit(mine, session, now=now + timedelta(hours=2), correct="true")
    mine.refresh_from_db()
    assert mine.state == AssignmentState.SUBMITTED


def test_the_same_labeler_reclaims_their_lapsed_item(session, labeler):
    now = timezone.now()
    first = queue.claim_next_item(session=session, labeler=labeler, now=now)
    again = queue.claim_next_item(session=session, labeler=labeler, now=now + timedelta(hours=1))
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.lease_expires_at > now + timedelta(hours=1)
    assert Assignment.objects.count() == 1


def test_renewing_a_lease(session, labeler, other_labeler):
    now = timezone.now()
    mine = queue.claim_next_item(session=session, labeler=labeler, now=now)
    lease = queue.renew_lease(assignment=mine, now=now + timedelta(minutes=20))
    assert lease.held
    assert lease.expires_at == now + timedelta(minutes=50)
    # It lapsed, but nobody took it: renewing takes it again.
    lease = queue.renew_lease(assignment=mine, now=now + timedelta(minutes=60))
    assert lease.held
    # It lapsed and someone took it: the reservation is lost.
    later = now + timedelta(minutes=200)
    queue.claim_next_item(session=session, labeler=other_labeler, now=later)
    lease = queue.renew_lease(assignment=mine, now=later)
    assert not lease.held


def test_skip_frees_the_slot_and_is_not_offered_again(session, labeler, other_labeler):
    mine = queue.claim_next_item(session=session, labeler=labeler)
    queue.skip_item(assignment=mine, reason="Trace is empty")
    mine.refresh_from_db()
    assert mine.state == AssignmentState.SKIPPED
    assert mine.skip_reason == "Trace is empty"
    assert mine.item.state == ItemState.SKIPPED
    assert queue.claim_next_item(session=session, labeler=labeler).item.position == 1
    assert queue.claim_next_item(session=session, labeler=other_labeler).item.position == 0


def test_a_skipped_item_can_still_be_answered(session, labeler):
    mine = queue.claim_next_item(session=session, labeler=labeler)
    queue.skip_item(assignment=mine)
    submit(mine, session, correct="false")
    mine.refresh_from_db()
    assert mine.state == AssignmentState.SUBMITTED
    assert mine.item.state == ItemState.COMPLETE


def test_a_submitted_item_cannot_be_skipped(session, labeler):
    mine = queue.claim_next_item(session=session, labeler=labeler)
    submit(mine, session, correct="true")
    with pytest.raises(queue.QueueError):
        queue.skip_item(assignment=mine)


def test_skip_reason_is_bounded(session, labeler):
    mine = queue.claim_next_item(session=session, labeler=labeler)
    with pytest.raises(queue.QueueError, match="limit"):
        queue.skip_item(assignment=mine, reason="x" * 5000)
    mine.refresh_from_db()
    assert mine.state == AssignmentState.CLAIMED


def test_flag_needs_a_reason(session, labeler):
    mine = queue.claim_next_item(session=session, labeler=labeler)
    with pytest.raises(queue.QueueError):
        queue.flag_item(assignment=mine, reason="  ")
    queue.flag_item(assignment=mine, reason="The answer is cut off")
    mine.refresh_from_db()
    assert mine.flagged and mine.flag_reason == "The answer is cut off"
    assert mine.state == AssignmentState.CLAIMED
    queue.unflag_item(assignment=mine)
    mine.refresh_from_db()
    assert not mine.flagged and mine.flag_reason == ""


def test_nothing_left(session, labeler, other_labeler):
    for _ in range(3):
        submit(queue.claim_next_item(session=session, labeler=labeler), session, correct="true")
    assert queue.claim_next_item(session=session, labeler=labeler) is None
    assert queue.claim_next_item(session=session, labeler=other_labeler) is None
    progress = labeler_progress(session=session, labeler=labeler, with_remaining=True)
    assert (progress.total, progress.submitted, progress.skipped, progress.remaining) == (
        3,
        3,
        0,
        0,
    )


def test_previous_assignment_walks_back(session, labeler):
    a = queue.claim_next_item(session=session, labeler=labeler)
    submit(a, session, correct="true")
    b = queue.claim_next_item(session=session, labeler=labeler)
    queue.skip_item(assignment=b)
    c = queue.claim_next_item(session=session, labeler=labeler)
    assert queue.previous_assignment(session=session, labeler=labeler, current=c).pk == b.pk
    b.refresh_from_db()
    assert queue.previous_assignment(session=session, labeler=labeler, current=b).pk == a.pk
    a.refresh_from_db()
    assert queue.previous_assignment(session=session, labeler=labeler, current=a) is None


def test_progress_counts(session, labeler):
    a = queue.claim_next_item(session=session, labeler=labeler)
    submit(a, session, correct="true")
    b = queue.claim_next_item(session=session, labeler=labeler)
    queue.skip_item(assignment=b)
    progress = labeler_progress(session=session, labeler=labeler, with_remaining=True)
    assert (progress.total, progress.submitted, progress.skipped, progress.remaining) == (
        3,
        1,
        1,
        1,
    )
    assert progress.percent == 33
