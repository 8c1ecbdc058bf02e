"""Concurrent labelers never get more than `labels_per_item` slots of an item.

Twenty workers, each a labeler on its own database connection (a thread), claim and submit in
one session at the same time, on PostgreSQL (row locks, SELECT … FOR UPDATE SKIP LOCKED).
SQLite's in-memory test database cannot hold concurrent connections (its shared cache answers
"table is locked" instead of waiting); the SQLite equivalent is the two-server test in
test_review_servers.py, on a database file, where writers queue behind BEGIN IMMEDIATE.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.http import QueryDict
from django.utils import timezone

from labeling import queue
from labeling.forms import AnswerSheet
from labeling.models import Assignment, AssignmentState, Item, ItemState
from labeling.services import recount_item_slots
from tests.conftest import make_user
from tests.factories import make_review_session
from traces.models import Assessment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 20


def run_workers(count: int, work: Callable[[int], None]) -> None:
    """Run `work(i)` in `count` threads that start together; each thread uses (and closes)
    its own database connection. Re-raises the first error of any worker."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(index)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if errors:
        raise errors[0]


def sheet_for(session, value: str = "true") -> AnswerSheet:
    schema = session.schemas.get()
    sheet = AnswerSheet([schema], data=QueryDict(f"q-{schema.pk}={value}"))
    assert sheet.is_valid()
    return sheet


def label_until_done(session, user, *, skip: Callable[[Item], bool] = lambda item: False) -> int:
    """Claim → submit (or skip) until nothing is left; returns how many items were done.

    Like a labeler who looks again later, a worker told "nothing left" while others still hold
    reservations waits a moment and asks again: a reservation that ends in a skip frees its
    slot for someone else."""
    done = 0
    sheet = sheet_for(session)
    while True:
        assignment = queue.claim_next_item(session=session, labeler=user)
        if assignment is None:
            others_working = (
                Assignment.objects.live()
                .filter(item__session=session)
                .exclude(labeler=user)
                .exists()
            )
            if others_working:
                time.sleep(0.02)
                continue
            # One more look: a skip committed since the claim may have freed a slot.
            assignment = queue.claim_next_item(session=session, labeler=user)
            if assignment is None:
                return done
        assignment.labeler = user
        if skip(assignment.item):
            queue.skip_item(assignment=assignment, reason="not for me")
        else:
            queue.submit_answers(assignment=assignment, sheet=sheet)
        done += 1


def labelers(count: int, prefix: str = "worker"):
    return [make_user(f"{prefix}-{i}", labeler=True) for i in range(count)]


def submitted_by_item(session) -> dict[int, list[int]]:
    by_item: dict[int, list[int]] = {item.pk: [] for item in session.items.all()}
    for item_id, labeler_id in Assignment.objects.filter(
        item__session=session, state=AssignmentState.SUBMITTED
    ).values_list("item_id", "labeler_id"):
        by_item[item_id].append(labeler_id)
    return by_item


def test_one_label_per_item_each_item_labeled_exactly_once():
    users = labelers(WORKERS)
    session = make_review_session(items=60, labels_per_item=1, labelers=users)
    close_old_connections()

    run_workers(len(users), lambda i: label_until_done(session, users[i]))

    by_item = submitted_by_item(session)
    assert all(len(who) == 1 for who in by_item.values()), by_item
    assert Assessment.objects.count() == 60
    assert set(session.items.values_list("state", flat=True)) == {ItemState.COMPLETE}
    assert not Assignment.objects.filter(state=AssignmentState.CLAIMED).exists()
    # The work was spread over the workers (skip-locked claims do not queue behind one item).
    per_worker = Counter(
        Assignment.objects.filter(state=AssignmentState.SUBMITTED).values_list(
            "labeler_id", flat=True
        )
    )
    assert len(per_worker) > 1


def test_two_labels_per_item_two_different_labelers_each():
    users = labelers(WORKERS)
    session = make_review_session(items=30, labels_per_item=2, labelers=users)
    close_old_connections()
    rng = random.Random(7)
    skips = {(u.pk, i.pk) for u in users for i in session.items.all() if rng.random() < 0.15}

    def work(index: int) -> None:
        user = users[index]
        label_until_done(session, user, skip=lambda item: (user.pk, item.pk) in skips)

    run_workers(len(users), work)

    by_item = submitted_by_item(session)
    for who in by_item.values():
        assert len(who) == 2
        assert len(set(who)) == 2
    assert Assessment.objects.count() == 60
    assert set(session.items.values_list("state", flat=True)) == {ItemState.COMPLETE}
    # Nobody labeled an item they skipped.
    skipped = set(
        Assignment.objects.filter(state=AssignmentState.SKIPPED).values_list(
            "labeler_id", "item_id"
        )
    )
    submitted = set(
        Assignment.objects.filter(state=AssignmentState.SUBMITTED).values_list(
            "labeler_id", "item_id"
        )
    )
    assert not skipped & submitted


def test_expired_reservations_are_reissued_to_concurrent_workers():
    count = WORKERS
    abandoners = labelers(count, "abandoner")
    workers = labelers(count, "worker")
    session = make_review_session(items=count, labels_per_item=1, labelers=abandoners + workers)
    close_old_connections()

    # Everyone of the first group reserves an item and walks away.
    abandoned = {}

    def reserve(index: int) -> None:
        assignment = queue.claim_next_item(session=session, labeler=abandoners[index])
        abandoned[index] = assignment

    run_workers(count, reserve)
    assert len({a.item_id for a in abandoned.values()}) == count  # every item is reserved
    # While the reservations hold, a worker finds nothing.
    assert queue.claim_next_item(session=session, labeler=workers[0]) is None
    Assignment.objects.filter(item__session=session).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    recount_item_slots(items=Item.objects.filter(session=session))
    close_old_connections()

    run_workers(count, lambda i: label_until_done(session, workers[i]))

    by_item = submitted_by_item(session)
    worker_ids = {w.pk for w in workers}
    assert all(len(who) == 1 and who[0] in worker_ids for who in by_item.values())
    # The walkers-away come back too late: their answers are refused, nothing is doubled.
    for index, assignment in abandoned.items():
        assignment.labeler = abandoners[index]
        with pytest.raises(queue.SlotTaken):
            queue.submit_answers(assignment=assignment, sheet=sheet_for(session))
    assert Assessment.objects.count() == count


def test_racing_claims_on_one_item_never_exceed_the_slots():
    """Many labelers ask for the single item of a session at the same moment, over and over."""
    users = labelers(WORKERS)
    for labels_per_item in (1, 3):
        session = make_review_session(items=1, labels_per_item=labels_per_item, labelers=users)
        close_old_connections()
        got: list[int] = []
        lock = threading.Lock()

        def claim(index: int, session=session, got=got, lock=lock) -> None:
            assignment = queue.claim_next_item(session=session, labeler=users[index])
            if assignment is not None:
                with lock:
                    got.append(users[index].pk)

        run_workers(WORKERS, claim)
        assert len(got) == labels_per_item
        live = Assignment.objects.live().filter(item__session=session).count()
        assert live == labels_per_item


def test_the_same_answers_submitted_from_many_tabs_at_once_are_stored_once():
    user = make_user("tabby", labeler=True)
    session = make_review_session(items=2, labelers=[user])
    assignment = queue.claim_next_item(session=session, labeler=user)
    close_old_connections()
    outcomes = []

    def submit(index: int) -> None:
        mine = Assignment.objects.select_related("item__session", "item__trace").get(
            pk=assignment.pk
        )
        mine.labeler = user
        value = "true" if index % 2 else "false"  # two different answers race, too
        outcomes.append(queue.submit_answers(assignment=mine, sheet=sheet_for(session, value)))

    run_workers(10, submit)

    assert sum(o.created for o in outcomes) == 1
    answer = assignment.answers.get()
    assert Assessment.objects.filter(valid=True).count() == 1
    assert answer.assessment.valid
    # Every other submit either changed nothing or overrode the one before: one line of history.
    assert Assessment.objects.count() == 1 + sum(o.overridden for o in outcomes)
    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.SUBMITTED
