"""The labelers' queue: claiming items, leases, submitting, skipping, flagging.

Every write here is one transaction (`transaction.atomic`), keyword-only and typed. The rules
are those of docs/architecture.md, "Claiming" and "Submitting"; in short:

Slots
-----
An item of a session needs `labels_per_item` (N) different labelers. A labeler *claims* an item
before working on it: an `Assignment` in state CLAIMED with a lease that ends
`reservation_minutes` later (the open item page renews it while the labeler is active). The
item's slots are taken by its reservations that were not released, lapsed or not, and by its
submissions; the item row counts them (`Item.slots_held`, `Item.submissions`) and keeps a
lower bound of its reservations' lease ends (`Item.lease_floor`). **Every change to an item's
assignments happens under the item's row lock and updates those counters in the same
transaction.**

A claim reads its candidates with ``SELECT … FOR UPDATE SKIP LOCKED``: items other claimers hold
this instant are skipped, so concurrent claimers spread over different items instead of queueing
behind one. Whether an item has a free slot is decided on the item's own row, so when
PostgreSQL locks a row that another transaction changed after the statement began, it checks the
conditions again on the row as it is now (READ COMMITTED's re-check): an item filled a moment
ago is never handed out again, and no second count is needed. A lapsed reservation keeps its slot
until someone needs it: a claim (or a late submit) that finds an item full with `lease_floor` in
the past releases the reservations that lapsed, under the lock, and counts again. The labeler
whose reservation lapsed keeps it as long as nobody took it.

SQLite has no row locks; the project runs its transactions as ``BEGIN IMMEDIATE`` (settings), so
writers are serialised and the same code is correct there.

`Item.state` follows the counters: *complete* once N labelers submitted, *in progress* while a
slot is taken, *skipped* when the last slot was given back by a skip, *pending* otherwise.

Submit & next
-------------
The review app stores an item's answers and reserves the next item in one transaction
(`submit_and_claim_next`): the labeler's assignment and its item are locked by the page's own
read (`labeling.review.page`), the next item by the claim, and both items' counters are written
in one statement at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Exists,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from labeling import tallies
from labeling.models import (
    REASON_MAX_LENGTH,
    Answer,
    Assignment,
    AssignmentState,
    Item,
    ItemState,
    LabelingSchema,
    LabelingSession,
)
from labeling.results import SessionQuestion
from traces import services
from traces.models import SourceType

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from labeling.forms import AnswerSheet, Question

FLAG_REASON_MAX_LENGTH = REASON_MAX_LENGTH
SKIP_REASON_MAX_LENGTH = REASON_MAX_LENGTH
DONE_STATES = (AssignmentState.SUBMITTED, AssignmentState.SKIPPED)
# A claim looks at the session's open items this many at a time (by position), doubling up to
# the cap: whatever the planner believes about a session created a moment ago, a claim reads a
# bounded number of items.
CLAIM_WINDOW = 128
CLAIM_WINDOW_MAX = 4096
ITEM_COUNTERS = ["state", "slots_held", "submissions", "lease_floor"]


class QueueError(Exception):
    """A queue action that cannot be done; the message is meant for the labeler."""


class SlotTaken(QueueError):
    """The labeler's reservation lapsed and the item's slots went to other labelers."""


class Conflict(Exception):
    """Another request of the same labeler (a second tab) changed this assignment after this
    one read it: the transaction is rolled back and the action runs again."""


# --- reads ---------------------------------------------------------------------------------------


def lease_end(session: LabelingSession, now: datetime) -> datetime:
    return now + timedelta(minutes=session.reservation_minutes)


def own_reservation(
    *, session: LabelingSession, labeler: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The labeler's live reservation in `session` (the first by position), if any."""
    return (
        Assignment.objects.live(now or timezone.now())
        .filter(labeler=labeler, item__session=session)
        .select_related("item")
        .order_by("item__position", "item_id")
        .first()
    )


def finished_before(
    *, session: Any, labeler: Any, current: Assignment | None = None
) -> QuerySet[Assignment]:
    """The labeler's finished (submitted or skipped) assignments of `session` before `current`
    (all of them without one, or while `current` is being worked on), latest first. `session`
    and `labeler` may be `OuterRef`s."""
    done = Assignment.objects.filter(labeler=labeler, item__session=session, state__in=DONE_STATES)
    if current is not None and current.state in DONE_STATES:
        done = done.filter(
            Q(claimed_at__lt=current.claimed_at)
            | Q(claimed_at=current.claimed_at, id__lt=current.pk)
        )
    return done.order_by("-claimed_at", "-id")


def previous_assignment(
    *, session: LabelingSession, labeler: AbstractBaseUser, current: Assignment | None = None
) -> Assignment | None:
    """The item the labeler finished (submitted or skipped) before `current`; with no
    `current` (or a current one still being worked on), the last one they finished."""
    return finished_before(session=session, labeler=labeler, current=current).first()


# --- item counters -------------------------------------------------------------------------------


def _item_state(item: Item, labels_per_item: int, *, skipped: bool = False) -> str:
    if item.submissions >= labels_per_item:
        return ItemState.COMPLETE
    if item.slots_held:
        return ItemState.IN_PROGRESS
    if skipped or item.state == ItemState.SKIPPED:
        return ItemState.SKIPPED
    return ItemState.PENDING


def _earlier(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


# The fields a claim or a submit writes on an assignment (the rest are the labeler's flag).
ASSIGNMENT_FIELDS = [
    "state",
    "claimed_at",
    "lease_expires_at",
    "submitted_at",
    "skip_reason",
    "last_active_at",
    "draft",
    "draft_saved_at",
]


@dataclass
class _Writes:
    """What a transaction changes on assignments and items, written at its end: the assignments
    in one upsert (a submitted one and the next one claimed alike), each changed item's counters
    in one small update."""

    assignments: list[Assignment] = field(default_factory=list)
    items: dict[int, Item] = field(default_factory=dict)
    # Items whose `consensus_cells` changed (`labeling.tallies`), written with their counters.
    consensus: dict[int, int] = field(default_factory=dict)

    def add(self, item: Item) -> None:
        self.items[item.pk] = item

    def flush(self) -> None:
        if self.assignments:
            # On (item, labeler): an existing row is updated, a new one inserted; the ids are
            # set on the objects either way.
            for assignment in self.assignments:
                assignment.pk = None
            Assignment.objects.bulk_create(
                self.assignments,
                update_conflicts=True,
                unique_fields=["item", "labeler"],
                update_fields=ASSIGNMENT_FIELDS,
            )
            self.assignments.clear()
        for item in self.items.values():
            changes = {name: getattr(item, name) for name in ITEM_COUNTERS}
            if item.pk in self.consensus:
                changes["consensus_cells"] = self.consensus[item.pk]
            Item.objects.filter(pk=item.pk).update(**changes)
        self.items.clear()
        self.consensus.clear()


def _release_lapsed(item: Item, *, now: datetime, keep_labeler_id: int | None = None) -> None:
    """Release the item's reservations whose lease ended (under the item's lock), so that
    their slots can be taken; count again. The labeler `keep_labeler_id`'s own stays."""
    lapsed = Assignment.objects.filter(
        item=item, state=AssignmentState.CLAIMED, lease_expires_at__lte=now
    ).exclude(labeler_id=keep_labeler_id)
    released = lapsed.update(state=AssignmentState.RELEASED, lease_expires_at=None)
    item.slots_held -= released
    item.lease_floor = Assignment.objects.filter(
        item=item, state=AssignmentState.CLAIMED
    ).aggregate(floor=Min("lease_expires_at"))["floor"]


def _free_slot(item: Item, *, labels_per_item: int, now: datetime, labeler_id: int) -> bool:
    """Whether the locked `item` has a slot for a labeler who holds none there; lapsed
    reservations are released when that is what it takes."""
    if item.slots_held < labels_per_item:
        return True
    if item.lease_floor is None or item.lease_floor > now:
        return False
    _release_lapsed(item, now=now, keep_labeler_id=labeler_id)
    return item.slots_held < labels_per_item


# --- claiming ------------------------------------------------------------------------------------


def _open_item_ids(session: LabelingSession) -> QuerySet[Item, int]:
    """The ids of the session's items that are not complete, by position (the claim order,
    which `item_claim_order_idx` keeps)."""
    return (
        Item.objects.filter(session=session)
        .exclude(state=ItemState.COMPLETE)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )


def candidates(
    *,
    session: LabelingSession,
    labeler: AbstractBaseUser,
    now: datetime,
    window: QuerySet[Any, int],
    exclude: Iterable[int] = (),
    items: QuerySet[Item] | None = None,
) -> QuerySet[Item]:
    """The items of `window` (ids, by position) that `labeler` may take: with a free slot, or
    a reservation that may have lapsed, and nothing of theirs there (no reservation, submission
    or skip; a reservation of theirs that was released counts as nothing). `items`: the
    queryset to narrow (e.g. with annotations of its own)."""
    theirs = Assignment.objects.filter(item=OuterRef("pk"), labeler=labeler).exclude(
        state=AssignmentState.RELEASED
    )
    items = (Item.objects.all() if items is None else items).filter(
        Q(slots_held__lt=session.labels_per_item) | Q(lease_floor__lte=now),
        session=session,
        pk__in=window,
    )
    exclude = list(exclude)
    if exclude:
        items = items.exclude(pk__in=exclude)
    return items.exclude(Exists(theirs)).order_by("position", "id")


class _Locked:
    """The candidates were all locked by other claimers this instant (or may have been)."""


LOCKED = _Locked()


def _renew_own(
    *, session: LabelingSession, labeler: AbstractBaseUser, now: datetime
) -> Assignment | None:
    """The labeler's own reservation in `session` (live first, then lapsed ones nobody took;
    by position), locked with its item and extended; None when they hold none."""
    own = (
        lock(Assignment.objects.filter(labeler=labeler, item__session=session))
        .filter(state=AssignmentState.CLAIMED)
        .select_related("item__trace")
        .alias(live=Case(When(lease_expires_at__gt=now, then=Value(0)), default=Value(1)))
        .order_by("live", "item__position", "item_id")
        .first()
    )
    if own is not None:
        own.lease_expires_at = lease_end(session, now)
        own.last_active_at = now
        own.save(update_fields=["lease_expires_at", "last_active_at"])
    return own


def _take(
    item: Item,
    *,
    session: LabelingSession,
    labeler: AbstractBaseUser,
    now: datetime,
    writes: _Writes,
) -> Assignment | None:
    """Reserve the locked candidate `item` (from `candidates`) for `labeler`; None when it
    turned out full (its lapsed reservations were live after all)."""
    if not _free_slot(
        item, labels_per_item=session.labels_per_item, now=now, labeler_id=labeler.pk
    ):
        writes.add(item)  # the lapsed reservations were counted again
        return None
    assignment = Assignment(
        item=item,
        labeler=labeler,
        state=AssignmentState.CLAIMED,
        claimed_at=now,
        lease_expires_at=lease_end(session, now),
        submitted_at=None,
        skip_reason="",
        last_active_at=now,
    )
    writes.assignments.append(assignment)
    item.slots_held += 1
    item.lease_floor = _earlier(item.lease_floor, assignment.lease_expires_at)
    item.state = _item_state(item, session.labels_per_item)
    writes.add(item)
    return assignment


def _claim(
    *,
    session: LabelingSession,
    labeler: AbstractBaseUser,
    now: datetime,
    writes: _Writes,
    exclude: Iterable[int] = (),
    wait: bool,
    items: QuerySet[Item] | None = None,
) -> Assignment | _Locked | None:
    """Reserve the first item by position that `labeler` may take (see `candidates`), inside
    the caller's transaction, looking at the session's open items a window at a time. Without
    `wait`, never waits for a lock: LOCKED when every candidate was locked by others (or
    when the search would have to wait to be sure)."""
    tried = list(exclude)
    start, size = 0, CLAIM_WINDOW

    def first(window: QuerySet[Any, int], *, skip_locked: bool) -> Item | None:
        found = candidates(
            session=session,
            labeler=labeler,
            now=now,
            window=window,
            exclude=tried,
            items=items,
        )
        return (
            found.select_related("trace")
            .select_for_update(of=("self",), skip_locked=skip_locked)
            .first()
        )

    while True:
        found = first(_open_item_ids(session)[start : start + size], skip_locked=True)
        if found is None and _open_item_ids(session)[start + size : start + size + 1].exists():
            start += size
            size = min(size * 2, CLAIM_WINDOW_MAX)
            continue
        if found is None:
            if not wait:
                return LOCKED
            # Every candidate left may be locked by other claimers right now: wait for the
            # first one rather than tell the labeler that nothing is left.
            found = first(_open_item_ids(session), skip_locked=False)
            if found is None:
                return None
        assignment = _take(found, session=session, labeler=labeler, now=now, writes=writes)
        if assignment is not None:
            return assignment
        tried.append(found.pk)


def _retrying[T](action: Any) -> T:
    """Run `action` (one transaction) again when a second tab of the same labeler got in
    between (`Conflict`, or the unique assignment per item and labeler)."""
    for attempt in range(3):
        try:
            return action()
        except (Conflict, IntegrityError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def claim_next_item(
    *, session: LabelingSession, labeler: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The item `labeler` should work on next in `session`, reserved for them; None when
    nothing is left for them.

    Their own reservation comes first (its lease is extended): a live one, else one that lapsed
    while nobody took the item. Otherwise the first item by position that still needs labels
    and that they have not submitted or skipped is reserved.
    """

    @transaction.atomic
    def attempt() -> Assignment | None:
        at = now or timezone.now()
        own = _renew_own(session=session, labeler=labeler, now=at)
        if own is not None:
            own.item.session = session
            return own
        writes = _Writes()
        result = _claim(session=session, labeler=labeler, now=at, writes=writes, wait=True)
        writes.flush()
        assert not isinstance(result, _Locked)
        if result is not None:
            result.item.session = session
        return result

    return _retrying(attempt)


@dataclass(frozen=True)
class Lease:
    held: bool
    expires_at: datetime | None
    state: str


def lock(assignments: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """`assignments` with their items, both rows locked (PostgreSQL; SQLite writes one at a
    time anyway)."""
    return assignments.select_related("item").select_for_update(of=("self", "item"))


def _locked(assignment: Assignment) -> Assignment:
    """The assignment read again with its item (and the item's trace), both rows locked."""
    locked = lock(Assignment.objects.filter(pk=assignment.pk)).select_related("item__trace").get()
    locked.item.session = assignment.item.session
    locked.labeler = assignment.labeler
    return locked


@transaction.atomic
def renew_lease(*, assignment: Assignment, now: datetime | None = None) -> Lease:
    """Extend the labeler's reservation of an item they are working on.

    A lease that lapsed is extended while nobody took the item; once other labelers took its
    slot (the reservation was released), the reservation is lost (`held` is False). Submitted
    and skipped assignments hold no lease and are left alone.
    """
    session = assignment.item.session
    now = now or timezone.now()
    renewed = Assignment.objects.filter(pk=assignment.pk, state=AssignmentState.CLAIMED).update(
        lease_expires_at=lease_end(session, now), last_active_at=now
    )
    if not renewed:
        state = Assignment.objects.filter(pk=assignment.pk).values_list("state", flat=True)
        return Lease(held=False, expires_at=None, state=state.first() or AssignmentState.RELEASED)
    assignment.lease_expires_at = lease_end(session, now)
    assignment.last_active_at = now
    return Lease(held=True, expires_at=assignment.lease_expires_at, state=AssignmentState.CLAIMED)


# --- submitting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitOutcome:
    created: int
    overridden: int
    unchanged: int

    @property
    def changed(self) -> bool:
        return bool(self.created or self.overridden)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _assessment_for(
    question: Question, *, source: services.Source, metadata: dict[str, Any], overrides: str = ""
) -> services.Feedback | services.Expectation:
    schema: LabelingSchema = question.schema
    return services.assessment_class(schema.kind)(
        name=schema.name,
        value=question.value,
        rationale=question.rationale or None,
        source=source,
        metadata=metadata,
        span_id=question.span.span_id if question.span is not None else None,
        overrides=overrides or None,
    )


def _store_answers(
    assignment: Assignment, sheet: AnswerSheet, *, now: datetime, writes: _Writes
) -> SubmitOutcome:
    """The writes of a submit, inside the caller's transaction, on a locked assignment."""
    item: Item = assignment.item
    session = item.session
    trace = item.trace
    labels_per_item = session.labels_per_item
    state = assignment.state
    if state in (AssignmentState.RELEASED, AssignmentState.SKIPPED):
        # Their reservation went to someone else, or they skipped the item: answering it
        # takes a slot again, if there is one.
        if not _free_slot(
            item, labels_per_item=labels_per_item, now=now, labeler_id=assignment.labeler_id
        ):
            raise SlotTaken(
                "Your reservation of this item ran out and other labelers have taken it since, "
                "so these answers were not saved."
            )
        item.slots_held += 1

    # Answers exist only once an assignment was submitted (a submitted one stays submitted).
    existing = {
        (answer.schema_id, answer.span_id): answer
        for answer in (
            Answer.objects.filter(assignment=assignment).select_related("assessment")
            if state == AssignmentState.SUBMITTED
            else ()
        )
    }
    source = services.Source(
        source_type=SourceType.HUMAN,
        source_id=assignment.labeler.get_username(),
        user_id=assignment.labeler_id,
    )
    new_questions: list[Question] = []
    new_labels = []
    overridden = unchanged = 0
    for question in sheet.answers:
        schema = question.schema
        metadata = {"labeling_session_id": session.pk, "schema_version": schema.version}
        if question.suggestion_id:
            # The answer confirms (or changes) a judge's suggestion: campaign pages count how
            # often experts changed one (`labeling.campaign.suggestions`).
            metadata["suggestion"] = question.suggestion_id[:64]
        answer = existing.get(question.key)
        if answer is None:
            new_questions.append(question)
            new_labels.append(_assessment_for(question, source=source, metadata=metadata))
            continue
        old = answer.assessment  # the label as it is now (edits elsewhere move the answer)
        if _same(old.value, question.value) and (old.rationale or "") == question.rationale:
            unchanged += 1
            continue
        answer.assessment = services.log_assessment(
            trace_id=trace.trace_id,
            assessment=_assessment_for(
                question, source=source, metadata=metadata, overrides=old.assessment_id
            ),
        )
        answer.schema_version = schema.version
        answer.save(update_fields=["assessment", "schema_version"])
        overridden += 1

    if new_labels:
        # The spans come from this trace (the sheet was built from them).
        created = services.log_assessments(
            trace=trace,
            assessments=new_labels,
            span_ids={q.span.span_id for q in new_questions if q.span is not None},
        )
        Answer.objects.bulk_create(
            Answer(
                assignment=assignment,
                schema=question.schema,
                schema_version=question.schema.version,
                span_id=question.key[1],
                assessment=label,
                created_at=now,
            )
            for question, label in zip(new_questions, created, strict=True)
        )

    labeler_delta: tallies.Counts = {}
    if state != AssignmentState.SUBMITTED:
        # The labelers page's kept figures: the item moves from `state` to submitted.
        labeler_delta = tallies.submitted_move(
            assignment.labeler_id, was=state, claimed_at=assignment.claimed_at, now=now
        )
        assignment.state = AssignmentState.SUBMITTED
        assignment.submitted_at = now
        assignment.lease_expires_at = None
        assignment.skip_reason = ""
        assignment.last_active_at = now
        assignment.draft = assignment.draft_saved_at = None  # the draft is submitted
        writes.assignments.append(assignment)
        item.submissions += 1
        item.state = _item_state(item, labels_per_item)
        writes.add(item)
    elif new_labels or overridden or assignment.draft is not None:
        Assignment.objects.filter(pk=assignment.pk).update(
            last_active_at=now, draft=None, draft_saved_at=None
        )
        assignment.draft = assignment.draft_saved_at = None
    if new_labels or overridden or state != AssignmentState.SUBMITTED:
        # The results' tallies, in this transaction (`labeling.tallies`): three statements.
        consensus = tallies.record_submit(
            item=item,
            labeler_id=assignment.labeler_id,
            values={question.key: question.value for question in sheet.answers},
            questions=[
                SessionQuestion(schema=question.schema, spec=question.spec, position=position)
                for position, question in enumerate(sheet.questions)
            ],
            labeler_delta=labeler_delta,
        )
        if consensus != item.consensus_cells:
            item.consensus_cells = consensus
            writes.consensus[item.pk] = consensus
            writes.add(item)
    return SubmitOutcome(created=len(new_labels), overridden=overridden, unchanged=unchanged)


def submit_answers(
    *, assignment: Assignment, sheet: AnswerSheet, now: datetime | None = None
) -> SubmitOutcome:
    """Store the answers of a valid answer sheet and mark the assignment submitted, in one
    transaction.

    Each answer becomes an Assessment (Feedback or Expectation per its schema; source HUMAN with
    the labeler's login; the span for span questions; metadata naming the session and the
    schema version) linked to the assignment by an `Answer`. Submitting again (a second tab, a
    retry, going back to an item) stores nothing twice: an unchanged answer is left alone, a
    changed one overrides the earlier assessment (which stays in the history), and a question
    left empty keeps its earlier answer.

    Raises `SlotTaken` when the labeler's reservation had lapsed and been taken (or they had
    skipped the item) and other labelers hold all of the item's slots.
    """
    if not sheet.is_valid():
        raise QueueError("The answers are not valid.")
    with transaction.atomic():
        locked = _locked(assignment)
        writes = _Writes()
        outcome = _store_answers(locked, sheet, now=now or timezone.now(), writes=writes)
        writes.flush()
    assignment.state = locked.state
    assignment.submitted_at = locked.submitted_at
    assignment.lease_expires_at = locked.lease_expires_at
    assignment.item.state = locked.item.state
    return outcome


@dataclass(frozen=True)
class SubmitAndNext:
    outcome: SubmitOutcome
    next: Assignment | None  # the item reserved next (None: nothing is left for them)


def submit_and_claim_next(
    *,
    assignment: Assignment,
    sheet: AnswerSheet,
    now: datetime | None = None,
    items: QuerySet[Item] | None = None,
) -> SubmitAndNext:
    """Submit & next, inside the caller's transaction: store the answers of `assignment`
    (read with its item locked, `lock`) and reserve the labeler's next item, read from `items`
    (with what its page needs) and with its trace.

    Both assignments are written in one statement. When the claim would have to wait for
    other claimers' locks, the answers are still stored, and the claim is left to
    `claim_next_item` after this transaction (`next` is then `LOCKED`). An item finished
    earlier and submitted again leads back to the labeler's reservation, if they hold one."""
    if not sheet.is_valid():
        raise QueueError("The answers are not valid.")
    now = now or timezone.now()
    was = assignment.state
    writes = _Writes()
    outcome = _store_answers(assignment, sheet, now=now, writes=writes)
    nxt: Assignment | _Locked | None = None
    if was != AssignmentState.CLAIMED:
        # Back on an item finished earlier: they may hold a reservation to return to.
        nxt = _renew_own(session=assignment.item.session, labeler=assignment.labeler, now=now)
    if nxt is None:
        nxt = _claim(
            session=assignment.item.session,
            labeler=assignment.labeler,
            now=now,
            writes=writes,
            exclude=[assignment.item_id],
            wait=False,
            items=items,
        )
    writes.flush()
    return SubmitAndNext(outcome=outcome, next=nxt)  # type: ignore[arg-type]


# --- skipping and flagging -----------------------------------------------------------------------


def _clean_reason(reason: str, *, limit: int, required: bool, what: str) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise QueueError(f"Say why you {what} this item.")
    if len(reason) > limit:
        raise QueueError(f"The reason is {len(reason):,} characters long; the limit is {limit:,}.")
    return reason


@transaction.atomic
def skip_item(*, assignment: Assignment, reason: str = "", now: datetime | None = None) -> None:
    """The labeler passes on an item (with an optional reason): its slot goes back to the
    queue and it is not offered to them again. A submitted item cannot be skipped."""
    reason = _clean_reason(reason, limit=SKIP_REASON_MAX_LENGTH, required=False, what="skip")
    locked = _locked(assignment)
    if locked.state == AssignmentState.SUBMITTED:
        raise QueueError("You already submitted this item; it cannot be skipped now.")
    now = now or timezone.now()
    Assignment.objects.filter(pk=locked.pk).update(
        state=AssignmentState.SKIPPED,
        skip_reason=reason,
        lease_expires_at=None,
        last_active_at=now,
    )
    item = locked.item
    if locked.state != AssignmentState.SKIPPED:
        # The labelers page's kept figures: one more item skipped (a claim counts for nothing).
        skipped = [(locked.labeler_id, AssignmentState.SKIPPED, None, None)]
        tallies.add_counts(item.session_id, tallies.labeler_counts(skipped))
    if locked.state == AssignmentState.CLAIMED:
        item.slots_held -= 1
    item.state = _item_state(item, assignment.item.session.labels_per_item, skipped=True)
    Item.objects.filter(pk=item.pk).update(slots_held=item.slots_held, state=item.state)
    assignment.state = AssignmentState.SKIPPED
    assignment.skip_reason = reason
    assignment.lease_expires_at = None
    assignment.item.state = item.state


@transaction.atomic
def flag_item(*, assignment: Assignment, reason: str) -> None:
    """Flag an item for the curator (a broken trace, an unclear question …), with a reason.
    The labeler can still answer or skip it."""
    reason = _clean_reason(reason, limit=FLAG_REASON_MAX_LENGTH, required=True, what="flag")
    Assignment.objects.filter(pk=assignment.pk).update(flagged=True, flag_reason=reason)
    assignment.flagged = True
    assignment.flag_reason = reason


@transaction.atomic
def unflag_item(*, assignment: Assignment) -> None:
    """Withdraw the labeler's flag on an item."""
    Assignment.objects.filter(pk=assignment.pk).update(flagged=False, flag_reason="")
    assignment.flagged = False
    assignment.flag_reason = ""
