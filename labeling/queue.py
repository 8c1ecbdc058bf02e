"""The labelers' queue: claiming items, leases, submitting, skipping, flagging, going back.

Every write here is one transaction (`transaction.atomic`), keyword-only and typed.

Reservations (DESIGN.md §4)
---------------------------
An item of a session needs `labels_per_item` (N) different labelers. A labeler *claims* an item
before working on it: the claim is an `Assignment` in state CLAIMED with a lease that ends
`reservation_minutes` later; the open item page renews it while the labeler is active. A slot of
an item is held by a live reservation (claimed, lease not over) or by a submission; an expired
reservation frees its slot.

The rule that keeps many app processes on one PostgreSQL database from handing out more than N
slots: **every change to an item's slots happens while holding a row lock on the item**, and the
slots are counted in a statement that starts *after* the lock was taken (READ COMMITTED gives each
statement a fresh snapshot, and whoever changed the item's assignments before us has committed by
the time we hold the lock). Claiming looks for a candidate with
``SELECT … FOR UPDATE SKIP LOCKED`` (so concurrent claimers spread over different items instead of
queueing behind one), then counts again under the lock, and moves on if the item filled up in the
meantime. The time that decides whether a lease is live is read after the lock is held, so a lease
that ends while two transactions race is seen as ended by whoever comes second.

SQLite has no row locks; the project runs its transactions as ``BEGIN IMMEDIATE`` (settings), so
writers are serialised and the same code is correct there.

`Item.state` is kept in step in the same transactions: *complete* once N labelers submitted,
*in progress* while someone holds a slot, *skipped* when nobody holds one and someone skipped it,
*pending* otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling import rows as sqlrows
from labeling import services as labeling_services
from labeling.models import (
    Answer,
    Assignment,
    AssignmentState,
    Item,
    ItemState,
    LabelingSchema,
    LabelingSession,
)
from traces import services
from traces.models import AssessmentKind, SourceType

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from labeling.forms import AnswerSheet, Question

FLAG_REASON_MAX_LENGTH = 2000
SKIP_REASON_MAX_LENGTH = 2000
DONE_STATES = (AssignmentState.SUBMITTED, AssignmentState.SKIPPED)


class QueueError(Exception):
    """A queue action that cannot be done; the message is meant for the labeler."""


class SlotTaken(QueueError):
    """The labeler's reservation lapsed and the item's slots went to other labelers."""


# --- reads ---------------------------------------------------------------------------------------


def lease_end(session: LabelingSession, now: datetime) -> datetime:
    return now + timedelta(minutes=session.reservation_minutes)


def _with_free_slots(
    items: QuerySet[Item], *, labels_per_item: Any, labeler: AbstractBaseUser, now: datetime
) -> QuerySet[Item]:
    """`items` that `labeler` may still take: not submitted or skipped by them, and fewer than
    `labels_per_item` slots held (live reservations plus submissions). `labels_per_item` may be
    a value or an `OuterRef` (for per-session counts)."""
    slots = (
        Assignment.objects.filter(item=OuterRef("pk"))
        .filter(
            Q(state=AssignmentState.SUBMITTED)
            | Q(state=AssignmentState.CLAIMED, lease_expires_at__gt=now)
        )
        .order_by()
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    done_by_me = Assignment.objects.filter(
        item=OuterRef("pk"), labeler=labeler, state__in=DONE_STATES
    )
    return items.alias(
        held=Coalesce(Subquery(slots, output_field=IntegerField()), 0),
        done_by_me=Exists(done_by_me),
    ).filter(held__lt=labels_per_item, done_by_me=False)


def _open_items(
    *, session: Any, labels_per_item: Any, labeler: AbstractBaseUser, now: datetime
) -> QuerySet[Item]:
    """Items of `session` open to `labeler` (see `_with_free_slots`); `session` may be a value
    or an `OuterRef`."""
    return _with_free_slots(
        Item.objects.filter(session=session).exclude(state=ItemState.COMPLETE),
        labels_per_item=labels_per_item,
        labeler=labeler,
        now=now,
    )


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


def previous_assignment(
    *, session: LabelingSession, labeler: AbstractBaseUser, current: Assignment | None = None
) -> Assignment | None:
    """The item the labeler finished (submitted or skipped) before `current`; with no
    `current` (or a current one still being worked on), the last one they finished."""
    done = Assignment.objects.filter(labeler=labeler, item__session=session, state__in=DONE_STATES)
    if current is not None and current.state in DONE_STATES:
        done = done.filter(
            Q(claimed_at__lt=current.claimed_at)
            | Q(claimed_at=current.claimed_at, id__lt=current.pk)
        )
    return done.order_by("-claimed_at", "-id").first()


@dataclass(frozen=True)
class Progress:
    """A labeler's progress in a session."""

    total: int
    submitted: int
    skipped: int
    remaining: int | None = None

    @property
    def percent(self) -> int:
        return round(100 * self.submitted / self.total) if self.total else 0


def _count(queryset: QuerySet, group: str) -> Subquery:
    return Subquery(
        queryset.order_by().values(group).annotate(n=Count("pk")).values("n"),
        output_field=IntegerField(),
    )


def with_progress(
    sessions: QuerySet[LabelingSession],
    *,
    labeler: AbstractBaseUser,
    remaining: bool = False,
    now: datetime | None = None,
) -> QuerySet[LabelingSession]:
    """`sessions` annotated with the labeler's progress (read it with `progress_of`): items,
    submitted, skipped; with `remaining`, also about how many items are still open to them and
    whether they hold a live reservation."""
    now = now or timezone.now()
    mine = Assignment.objects.filter(item__session=OuterRef("pk"), labeler=labeler)
    sessions = sessions.annotate(
        n_items=_count(Item.objects.filter(session=OuterRef("pk")), "session"),
        n_submitted=_count(mine.filter(state=AssignmentState.SUBMITTED), "labeler"),
        n_skipped=_count(mine.filter(state=AssignmentState.SKIPPED), "labeler"),
    )
    if remaining:
        # Items not complete, less those the labeler finished: two index counts, whatever the
        # size of the session. (Items that other labelers hold reserved right now count as
        # open: their reservations may run out.)
        not_complete = Item.objects.filter(session=OuterRef("pk")).exclude(state=ItemState.COMPLETE)
        finished = Assignment.objects.filter(
            item__session=OuterRef("pk"), labeler=labeler, state__in=DONE_STATES
        ).exclude(item__state=ItemState.COMPLETE)
        sessions = sessions.annotate(
            n_not_complete=_count(not_complete, "session"),
            n_finished_open=_count(finished, "labeler"),
            has_reservation=Exists(mine.live(now)),
        )
    return sessions


def progress_of(session: LabelingSession) -> Progress:
    """The progress annotated by `with_progress`."""
    remaining = None
    if hasattr(session, "n_not_complete"):
        remaining = max(0, (session.n_not_complete or 0) - (session.n_finished_open or 0))
    return Progress(
        total=session.n_items or 0,
        submitted=session.n_submitted or 0,
        skipped=session.n_skipped or 0,
        remaining=remaining,
    )


def labeler_progress(
    *,
    session: LabelingSession,
    labeler: AbstractBaseUser,
    with_remaining: bool = False,
    now: datetime | None = None,
) -> Progress:
    """Items in the session, how many of them the labeler submitted and skipped, and with
    `with_remaining` how many are still open to them. One query.

    The item page shows this on every request, so the plain counts are one small SQL statement
    (building the equivalent ORM query costs more CPU than running it)."""
    if not with_remaining:
        total, submitted, skipped = _progress_counts(session.pk, labeler.pk)
        return Progress(total=total, submitted=submitted, skipped=skipped)
    row = with_progress(
        LabelingSession.objects.filter(pk=session.pk),
        labeler=labeler,
        remaining=with_remaining,
        now=now,
    ).first()
    if row is None:
        return Progress(total=0, submitted=0, skipped=0, remaining=0 if with_remaining else None)
    return progress_of(row)


def _progress_counts(session_id: int, labeler_id: int) -> tuple[int, int, int]:
    item, assignment = Item._meta.db_table, Assignment._meta.db_table
    sql = (
        f"SELECT (SELECT COUNT(*) FROM {item} WHERE session_id = %s), "
        "COUNT(*) FILTER (WHERE a.state = %s), COUNT(*) FILTER (WHERE a.state = %s) "
        f"FROM {assignment} a INNER JOIN {item} i ON i.id = a.item_id "
        "WHERE i.session_id = %s AND a.labeler_id = %s"
    )
    params = [
        session_id,
        AssignmentState.SUBMITTED.value,
        AssignmentState.SKIPPED.value,
        session_id,
        labeler_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        total, submitted, skipped = cursor.fetchone()
    return total or 0, submitted or 0, skipped or 0


# --- item state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slots:
    live: int  # live reservations of other labelers
    submitted: int  # submissions of other labelers
    skipped: int
    mine_id: int | None
    mine_state: str | None
    mine_live: bool
    mine_submitted: bool

    @property
    def held_by_others(self) -> int:
        return self.live + self.submitted


def _count_slots(item_id: int, labeler_id: int, now: datetime) -> _Slots:
    """Count an item's slots (call while holding the item's row lock).

    One small SQL statement: this runs on every claim, and building the equivalent ORM
    aggregate (six filtered aggregates) costs more CPU than running it. An item has at most one
    assignment per labeler (`assignment_unique_labeler`), so `MAX` picks the labeler's own row.
    """
    table = Assignment._meta.db_table
    sql = (
        "SELECT COUNT(*) FILTER (WHERE state = %s AND lease_expires_at > %s AND labeler_id <> %s), "
        "COUNT(*) FILTER (WHERE state = %s AND labeler_id <> %s), "
        "COUNT(*) FILTER (WHERE state = %s), "
        "MAX(id) FILTER (WHERE labeler_id = %s), "
        "MAX(state) FILTER (WHERE labeler_id = %s), "
        "COUNT(*) FILTER (WHERE state = %s AND lease_expires_at > %s AND labeler_id = %s) "
        f"FROM {table} WHERE item_id = %s"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    claimed, submitted = AssignmentState.CLAIMED.value, AssignmentState.SUBMITTED.value
    params = [
        *(claimed, at, labeler_id),
        *(submitted, labeler_id),
        AssignmentState.SKIPPED.value,
        labeler_id,
        labeler_id,
        *(claimed, at, labeler_id),
        item_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        live, submitted_n, skipped, mine_id, mine_state, mine_live = cursor.fetchone()
    return _Slots(
        live=live or 0,
        submitted=submitted_n or 0,
        skipped=skipped or 0,
        mine_id=mine_id,
        mine_state=mine_state,
        mine_live=bool(mine_live),
        mine_submitted=mine_state == AssignmentState.SUBMITTED,
    )


def _state_for(*, submitted: int, live: int, skipped: int, labels_per_item: int) -> str:
    if submitted >= labels_per_item:
        return ItemState.COMPLETE
    if submitted or live:
        return ItemState.IN_PROGRESS
    if skipped:
        return ItemState.SKIPPED
    return ItemState.PENDING


def _set_item_state(item: Item, state: str) -> None:
    if item.state != state:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Item._meta.db_table} SET state = %s WHERE id = %s", [state, item.pk]
            )
        item.state = state


# --- claiming ------------------------------------------------------------------------------------


def _lock_assignment(assignment: Assignment | int) -> Assignment:
    """The assignment (or the one with that id) again, fresh, with its item row and its own row
    locked (PostgreSQL). A small SQL statement: every submit & next runs it."""
    pk = assignment if isinstance(assignment, int) else assignment.pk
    sql = (
        f"SELECT {sqlrows.columns(Assignment, 'a')}, {sqlrows.columns(Item, 'i')} "
        f"FROM {Assignment._meta.db_table} a INNER JOIN {Item._meta.db_table} i "
        "ON i.id = a.item_id WHERE a.id = %s"
    )
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF a, i"
    row = sqlrows.fetch_one(sql, [pk])
    if row is None:
        raise Assignment.DoesNotExist("Assignment matching query does not exist.")
    locked = sqlrows.instance(Assignment, row)
    locked.item = sqlrows.instance(Item, row, sqlrows.width(Assignment))
    return locked


_RETRY = object()
CLAIM_WINDOW = 128
# Windows double up to this many ids: the ids travel as query parameters (SQLite caps them).
CLAIM_WINDOW_MAX = 4096


def _open_item_ids(session: LabelingSession) -> QuerySet[Item, int]:
    return (
        Item.objects.filter(session=session)
        .exclude(state=ItemState.COMPLETE)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )


def _reservation_and_window(
    *, session: LabelingSession, labeler: AbstractBaseUser, now: datetime, size: int
) -> tuple[int | None, list[int]]:
    """A claim's first read, in one statement: the id of the labeler's own live reservation in
    `session` (the first by position; see `own_reservation`), and the ids of the session's first
    `size` open items by position (see `_open_item_ids`). A small SQL statement because every
    submit & next runs it."""
    item, assignment = Item._meta.db_table, Assignment._meta.db_table
    sql = (
        "SELECT * FROM ("
        f"SELECT a.id, 0, i.position, i.id FROM {assignment} a "
        f"INNER JOIN {item} i ON i.id = a.item_id "
        "WHERE a.labeler_id = %s AND i.session_id = %s "
        "AND a.state = %s AND a.lease_expires_at > %s "
        "ORDER BY i.position, i.id LIMIT 1) mine "
        "UNION ALL SELECT * FROM ("
        f"SELECT id, 1, position, id FROM {item} WHERE session_id = %s AND NOT (state = %s) "
        "ORDER BY position, id LIMIT %s) open_items"
    )
    params = [
        labeler.pk,
        session.pk,
        AssignmentState.CLAIMED.value,
        connection.ops.adapt_datetimefield_value(now),
        session.pk,
        ItemState.COMPLETE.value,
        size,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    mine = next((row[0] for row in rows if row[1] == 0), None)
    window = [item_id for _, item_id in sorted(row[2:] for row in rows if row[1] == 1)]
    return mine, window


def _lock_first_candidate(
    ids: list[int], *, labels_per_item: int, labeler_id: int, now: datetime, tried: list[int]
) -> Item | None:
    """Of the items `ids`, the first by position that the labeler may take (the conditions of
    `_with_free_slots`: fewer than `labels_per_item` slots held, not submitted or skipped by
    them; not in `tried`) and that no other transaction holds locked; locked now.

    Written in SQL because every submit & next runs it: the ORM builds this statement (two
    correlated subqueries, a lock clause) in more CPU time than the database needs to run it.
    On PostgreSQL the lock is `FOR UPDATE OF … SKIP LOCKED`; SQLite runs claims one at a time
    (`BEGIN IMMEDIATE`) and has no row locks.
    """
    item, assignment = Item._meta.db_table, Assignment._meta.db_table
    columns = ", ".join(f"i.{field.column}" for field in Item._meta.concrete_fields)
    postgresql = connection.vendor == "postgresql"

    def among(values: list[int]) -> tuple[str, list[Any]]:
        if postgresql:
            return "= ANY(%s)", [list(values)]
        return f"IN ({', '.join(['%s'] * len(values))})", list(values)

    in_ids, params = among(ids)
    sql = (
        f"SELECT {columns} FROM {item} i WHERE i.id {in_ids} "
        f"AND (SELECT COUNT(*) FROM {assignment} s WHERE s.item_id = i.id AND (s.state = %s "
        "OR (s.state = %s AND s.lease_expires_at > %s))) < %s "
        f"AND NOT EXISTS (SELECT 1 FROM {assignment} d WHERE d.item_id = i.id "
        "AND d.labeler_id = %s AND d.state IN (%s, %s)) "
    )
    params += [
        AssignmentState.SUBMITTED.value,
        AssignmentState.CLAIMED.value,
        connection.ops.adapt_datetimefield_value(now),
        labels_per_item,
        labeler_id,
        *(state.value for state in DONE_STATES),
    ]
    if tried:
        not_in, tried_params = among(tried)
        sql += f"AND NOT (i.id {not_in}) "
        params += tried_params
    sql += "ORDER BY i.position, i.id LIMIT 1"
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE OF i SKIP LOCKED"
    return next(iter(Item.objects.raw(sql, params)), None)


def _first_unlocked(
    session: LabelingSession,
    take: Callable[[list[int]], Item | None],
    first_window: list[int],
) -> Item | None:
    """The first candidate by position that no other transaction holds locked, locked now.

    The session's open items are searched in windows (the first 128 by position, then the next
    256, … up to 4,096 at a time): their ids are read first, with a plain ordered query
    (`first_window` holds the first `CLAIM_WINDOW + 1`), and the candidate conditions (`take`:
    slot counts, the labeler's own work) are checked on those ids only. So a claim looks at a
    bounded number of items whatever the planner believes: with stale statistics (a session
    created a moment ago) PostgreSQL would otherwise count the slots of every item of the
    session before sorting them.
    """
    start, size = 0, CLAIM_WINDOW
    window = first_window
    while True:
        if not window:
            return None
        # Skip items other claimers hold locked this instant: they take those, we the next.
        item = take(window[:size])
        if item is not None or len(window) <= size:
            return item
        start += size
        size = min(size * 2, CLAIM_WINDOW_MAX)
        window = list(_open_item_ids(session)[start : start + size + 1])


def claim_next_item(
    *, session: LabelingSession, labeler: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The item `labeler` should work on next in `session`, reserved for them; None when
    nothing is left for them.

    Their own live reservation comes first (its lease is extended). Otherwise the first item by
    position that still needs labels and that they have not submitted or skipped is reserved.

    Each attempt is one transaction. An attempt that finds its candidate filled up by someone
    else in the meantime ends (releasing that item's lock) and the next attempt looks further;
    so a claim never holds one item's lock while waiting for another's, and claimers cannot
    deadlock.
    """
    tried: list[int] = []
    while True:
        result = _claim_attempt(session=session, labeler=labeler, now=now, tried=tried)
        if result is not _RETRY:
            return result  # type: ignore[return-value]


@transaction.atomic
def _claim_attempt(
    *,
    session: LabelingSession,
    labeler: AbstractBaseUser,
    now: datetime | None,
    tried: list[int],
) -> Assignment | object | None:
    fixed_now = now
    current_id, window = _reservation_and_window(
        session=session, labeler=labeler, now=now or timezone.now(), size=CLAIM_WINDOW + 1
    )
    if current_id is not None:
        locked = _lock_assignment(current_id)
        now = fixed_now or timezone.now()
        if locked.state == AssignmentState.CLAIMED and locked.lease_expires_at > now:
            locked.lease_expires_at = lease_end(session, now)
            locked.last_active_at = now
            locked.save(update_fields=["lease_expires_at", "last_active_at"])
            locked.item.session = session
            return locked
        return _RETRY  # it lapsed between the two reads: claim like anyone else

    candidates_at = fixed_now or timezone.now()

    def take(ids: list[int]) -> Item | None:
        # No join to the trace here: with stale statistics PostgreSQL hashes the whole trace
        # table for it. The item page loads the trace by id.
        return _lock_first_candidate(
            ids,
            labels_per_item=session.labels_per_item,
            labeler_id=labeler.pk,
            now=candidates_at,
            tried=tried,
        )

    item = _first_unlocked(session, take, window)
    if item is None:
        # Every candidate left may be locked by other claimers right now: wait for the first
        # one rather than tell the labeler that nothing is left. (This transaction holds no
        # other lock, so waiting cannot deadlock.)
        open_items = _open_items(
            session=session,
            labels_per_item=session.labels_per_item,
            labeler=labeler,
            now=candidates_at,
        )
        if tried:
            open_items = open_items.exclude(pk__in=tried)
        item = open_items.order_by("position", "id").select_for_update(of=("self",)).first()
        if item is None:
            return None
    now = fixed_now or timezone.now()
    slots = _count_slots(item.pk, labeler.pk, now)
    if slots.mine_state in DONE_STATES or (
        not slots.mine_live and slots.held_by_others >= session.labels_per_item
    ):
        # Done in another tab, or filled up, since the candidates were read: look further.
        tried.append(item.pk)
        return _RETRY
    if slots.mine_live:
        assignment = Assignment.objects.get(pk=slots.mine_id)
    else:
        fields = {
            "state": AssignmentState.CLAIMED,
            "claimed_at": now,
            "lease_expires_at": lease_end(session, now),
            "last_active_at": now,
            "submitted_at": None,
            "skip_reason": "",
        }
        if slots.mine_id is not None:
            # An earlier reservation of theirs that lapsed (or was released): take it again.
            Assignment.objects.filter(pk=slots.mine_id).update(**fields)
            assignment = Assignment(pk=slots.mine_id, item=item, labeler=labeler, **fields)
            assignment._state.adding = False
        else:
            (assignment,) = sqlrows.insert([Assignment(item=item, labeler=labeler, **fields)])
    _set_item_state(
        item,
        _state_for(
            submitted=slots.submitted,
            live=slots.live + 1,
            skipped=slots.skipped,
            labels_per_item=session.labels_per_item,
        ),
    )
    item.session = session
    assignment.item = item
    return assignment


@dataclass(frozen=True)
class Lease:
    held: bool
    expires_at: datetime | None
    state: str


@transaction.atomic
def renew_lease(*, assignment: Assignment, now: datetime | None = None) -> Lease:
    """Extend the labeler's reservation of an item they are working on.

    A lease that lapsed is taken again when the item still has a free slot; when other
    labelers took the slots meanwhile, the reservation is lost (`held` is False).
    Submitted and skipped assignments hold no lease and are left alone.
    """
    locked = _lock_assignment(assignment)
    session = assignment.item.session
    now = now or timezone.now()
    if locked.state != AssignmentState.CLAIMED:
        return Lease(held=False, expires_at=None, state=locked.state)
    if locked.lease_expires_at is None or locked.lease_expires_at <= now:
        slots = _count_slots(locked.item_id, locked.labeler_id, now)
        if slots.held_by_others >= session.labels_per_item:
            return Lease(held=False, expires_at=locked.lease_expires_at, state=locked.state)
        _set_item_state(
            locked.item,
            _state_for(
                submitted=slots.submitted,
                live=slots.live + 1,
                skipped=slots.skipped,
                labels_per_item=session.labels_per_item,
            ),
        )
    expires = lease_end(session, now)
    Assignment.objects.filter(pk=locked.pk).update(lease_expires_at=expires, last_active_at=now)
    assignment.lease_expires_at = expires
    assignment.last_active_at = now
    return Lease(held=True, expires_at=expires, state=locked.state)


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
    model = services.Expectation if schema.kind == AssessmentKind.EXPECTATION else services.Feedback
    return model(
        name=schema.name,
        value=question.value,
        rationale=question.rationale or None,
        source=source,
        metadata=metadata,
        span_id=question.span.span_id if question.span is not None else None,
        overrides=overrides or None,
    )


@transaction.atomic
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

    Raises `SlotTaken` when the labeler's reservation had lapsed (or they had skipped the item)
    and other labelers have taken all of the item's slots since.
    """
    if not sheet.is_valid():
        raise QueueError("The answers are not valid.")
    locked = _lock_assignment(assignment)
    item: Item = locked.item
    session = assignment.item.session
    trace = assignment.item.trace
    now = now or timezone.now()

    holds_slot = locked.state == AssignmentState.SUBMITTED or (
        locked.state == AssignmentState.CLAIMED
        and locked.lease_expires_at is not None
        and locked.lease_expires_at > now
    )
    slots = None
    if not holds_slot:
        slots = _count_slots(item.pk, locked.labeler_id, now)
        if slots.held_by_others >= session.labels_per_item:
            raise SlotTaken(
                "Your reservation of this item ran out and other labelers have taken it since, "
                "so these answers were not saved."
            )

    # Answers exist only once an assignment was submitted (a submitted one stays submitted).
    existing = {
        (answer.schema_id, answer.span_id): answer
        for answer in (
            Answer.objects.filter(assignment=locked).select_related("assessment")
            if locked.state == AssignmentState.SUBMITTED
            else ()
        )
    }
    source = services.Source(
        source_type=SourceType.HUMAN, source_id=assignment.labeler.get_username()
    )

    new_rows = []
    new_questions = []
    overridden = unchanged = 0
    for question in sheet.answers:
        schema = question.schema
        metadata = {"labeling_session_id": session.pk, "schema_version": schema.version}
        key = (schema.pk, question.span.span_id if question.span is not None else "")
        answer = existing.get(key)
        if answer is None:
            # The span comes from this trace's spans (the sheet was built from them), so the
            # span check of `log_assessment` is not needed; `build_assessment` checks the rest.
            new_rows.append(
                services.build_assessment(
                    trace=trace,
                    assessment=_assessment_for(question, source=source, metadata=metadata),
                )
            )
            new_questions.append(question)
            continue
        old = answer.assessment  # the label as it is now (edits elsewhere move the answer)
        if _same(old.value, question.value) and (old.rationale or "") == question.rationale:
            unchanged += 1
            continue
        replacement = services.log_assessment(
            trace_id=trace.trace_id,
            assessment=_assessment_for(
                question, source=source, metadata=metadata, overrides=old.assessment_id
            ),
        )
        answer.assessment = replacement
        answer.schema_version = schema.version
        answer.save(update_fields=["assessment", "schema_version"])
        overridden += 1

    if new_rows:
        created = sqlrows.insert(new_rows)
        sqlrows.insert(
            [
                Answer(
                    assignment=locked,
                    schema=question.schema,
                    schema_version=question.schema.version,
                    span_id=question.span.span_id if question.span is not None else "",
                    assessment=row,
                    created_at=now,
                )
                for question, row in zip(new_questions, created, strict=True)
            ]
        )

    if locked.state != AssignmentState.SUBMITTED:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Assignment._meta.db_table} SET state = %s, submitted_at = %s, "
                "last_active_at = %s, lease_expires_at = NULL, skip_reason = %s WHERE id = %s",
                [
                    AssignmentState.SUBMITTED.value,
                    *[connection.ops.adapt_datetimefield_value(now)] * 2,
                    "",
                    locked.pk,
                ],
            )
        assignment.state = AssignmentState.SUBMITTED
        assignment.submitted_at = now
        assignment.lease_expires_at = None
        if session.labels_per_item == 1:
            _set_item_state(item, ItemState.COMPLETE)  # one submission completes it
        else:
            if slots is None:
                slots = _count_slots(item.pk, locked.labeler_id, now)
            _set_item_state(
                item,
                _state_for(
                    submitted=slots.submitted + 1,
                    live=slots.live,
                    skipped=slots.skipped - (1 if locked.state == AssignmentState.SKIPPED else 0),
                    labels_per_item=session.labels_per_item,
                ),
            )
        assignment.item.state = item.state
    elif new_rows or overridden:
        Assignment.objects.filter(pk=locked.pk).update(last_active_at=now)
    return SubmitOutcome(created=len(new_rows), overridden=overridden, unchanged=unchanged)


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
    locked = _lock_assignment(assignment)
    if locked.state == AssignmentState.SUBMITTED:
        raise QueueError("You already submitted this item; it cannot be skipped now.")
    session = assignment.item.session
    now = now or timezone.now()
    Assignment.objects.filter(pk=locked.pk).update(
        state=AssignmentState.SKIPPED,
        skip_reason=reason,
        lease_expires_at=None,
        last_active_at=now,
    )
    assignment.state = AssignmentState.SKIPPED
    assignment.skip_reason = reason
    assignment.lease_expires_at = None
    labeling_services.refresh_item_states(session=session, item_ids=[locked.item_id])


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
