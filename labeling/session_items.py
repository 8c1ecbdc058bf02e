"""A session's items: adding traces to a session (by id, every trace a filter matches, a random
sample) and removing items nobody labeled.

Like `labeling.services`, every function is keyword-only, typed and atomic, and a rule violation
raises `ValidationError` (with `error.field` naming the form field to blame) before anything is
written.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from labeling import tallies
from labeling.models import Assignment, AssignmentState, Item, ItemState, LabelingSession
from labeling.services import _error, refresh_item_states
from traces.models import Trace, TraceQuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

BULK_BATCH_SIZE = 1000
# How many trace ids one "add selected" request may carry.
MAX_SELECTED_TRACES = 1000
# How large a random sample may be.
MAX_SAMPLE_SIZE = 10_000


@dataclass(frozen=True)
class AddResult:
    """What adding traces to a session did."""

    added: int
    already_there: int
    matched: int
    sampled_from: int | None = None  # a random sample: drawn among this many new traces

    def message(self, session: LabelingSession) -> str:
        added = f"Added {self.added:,} trace{'s' if self.added != 1 else ''} to “{session.name}”."
        if self.sampled_from is not None:
            # The sample was drawn among the traces not in the session yet: the ones already
            # there were never candidates, so they are not "skipped".
            pool = self.sampled_from
            return (
                f"Added {self.added:,} trace{'s' if self.added != 1 else ''}, drawn at random "
                f"from the {pool:,} matching trace{'s' if pool != 1 else ''} not yet in "
                f"“{session.name}”."
            )
        if self.already_there:
            were = "was" if self.already_there == 1 else "were"
            added += f" {self.already_there:,} {were} already there."
        return added


def _lock_session(session: LabelingSession) -> LabelingSession:
    return LabelingSession.objects.select_for_update().get(pk=session.pk)


def _existing_trace_pks(session: LabelingSession) -> set[int]:
    return set(Item.objects.filter(session=session).values_list("trace_id", flat=True))


def _create_items(session: LabelingSession, trace_pks: Sequence[int]) -> int:
    """Append items for `trace_pks` (none of them in the session yet) in this order."""
    if not trace_pks:
        return 0
    positions = Item.objects.filter(session=session).order_by("-position")
    last = positions.values_list("position", flat=True).first() or 0
    now = timezone.now()
    Item.objects.bulk_create(
        (
            Item(session=session, trace_id=pk, position=last + index, created_at=now)
            for index, pk in enumerate(trace_pks, start=1)
        ),
        batch_size=BULK_BATCH_SIZE,
    )
    LabelingSession.objects.filter(pk=session.pk).update(updated_at=now)
    return len(trace_pks)


@transaction.atomic
def add_traces_by_id(*, session: LabelingSession, trace_ids: Sequence[str]) -> AddResult:
    """Add the traces with these MLflow trace ids (`tr-…`), in this order, skipping those already
    in the session. Ids that are not traces of the session's experiment are refused, and then
    nothing is added."""
    wanted = list(dict.fromkeys(str(trace_id).strip() for trace_id in trace_ids if trace_id))
    if not wanted:
        raise _error("Select at least one trace.", code="no_traces", field="trace_id")
    if len(wanted) > MAX_SELECTED_TRACES:
        raise _error(
            f"Select at most {MAX_SELECTED_TRACES:,} traces at a time, or add them by filter.",
            code="too_many",
            field="trace_id",
        )
    session = _lock_session(session)
    found = dict(
        Trace.objects.filter(experiment_id=session.experiment_id, trace_id__in=wanted).values_list(
            "trace_id", "pk"
        )
    )
    missing = [trace_id for trace_id in wanted if trace_id not in found]
    if missing:
        shown = ", ".join(missing[:3])
        if len(missing) > 3:
            shown += f" and {len(missing) - 3} more"
        raise _error(
            f"{len(missing)} of the selected traces are not in experiment "
            f"“{session.experiment.name}”: {shown}. Nothing was added.",
            code="unknown_traces",
            field="trace_id",
        )
    existing = _existing_trace_pks(session)
    new = [found[trace_id] for trace_id in wanted if found[trace_id] not in existing]
    added = _create_items(session, new)
    return AddResult(added=added, already_there=len(wanted) - added, matched=len(wanted))


@transaction.atomic
def add_matching_traces(*, session: LabelingSession, traces: TraceQuerySet) -> AddResult:
    """Add every trace of `traces` (a filtered queryset) that is not in the session yet, newest
    first, after the items already there.

    One INSERT … SELECT … ON CONFLICT DO NOTHING: adding tens of thousands of traces moves no
    rows through Python, and duplicates are skipped by the (session, trace) unique index rather
    than by an anti-join whose plan depends on fresh table statistics. Skipped rows leave gaps
    in the positions, which only order the items.
    """
    session = _lock_session(session)
    traces = traces.filter(experiment_id=session.experiment_id)
    matched = traces.count()
    candidates = (
        traces.order_by()
        .annotate(c_trace=F("pk"), c_time=F("request_time"))
        .values("c_trace", "c_time")
    )
    select_sql, select_params = candidates.query.sql_with_params()
    positions = Item.objects.filter(session=session).order_by("-position")
    last = positions.values_list("position", flat=True).first() or 0
    connection = connections[Item.objects.db]
    quote = connection.ops.quote_name
    meta = Item._meta
    columns = ", ".join(
        quote(meta.get_field(name).column)
        for name in ("session", "trace", "position", "state", "created_at")
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    # Raw SQL: the ORM has no INSERT … SELECT (docs/architecture.md, "Raw SQL").
    # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "
        f"SELECT %s, c.c_trace, %s + ROW_NUMBER() OVER (ORDER BY c.c_time DESC, c.c_trace DESC), "
        f"%s, %s FROM ({select_sql}) c WHERE true ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [session.pk, last, ItemState.PENDING, now, *select_params])
        added = cursor.rowcount
    if added:
        LabelingSession.objects.filter(pk=session.pk).update(updated_at=timezone.now())
    return AddResult(added=added, already_there=matched - added, matched=matched)


@transaction.atomic
def add_trace_sample(
    *,
    session: LabelingSession,
    traces: TraceQuerySet,
    size: int,
    rng: random.Random | None = None,
) -> AddResult:
    """Add a random sample of `size` traces among `traces` that are not in the session yet (all
    of them if fewer remain), in random order. `already_there` counts the matching traces that
    were in the session before, and so could not be drawn."""
    if not 1 <= size <= MAX_SAMPLE_SIZE:
        raise _error(
            f"The sample size must be between 1 and {MAX_SAMPLE_SIZE:,}.", code="size", field="size"
        )
    session = _lock_session(session)
    matched = list(traces.filter(experiment_id=session.experiment_id).values_list("pk", flat=True))
    existing = _existing_trace_pks(session)
    candidates = sorted(pk for pk in matched if pk not in existing)
    chosen = (rng or random.SystemRandom()).sample(candidates, min(size, len(candidates)))
    added = _create_items(session, chosen)
    already_there = len(matched) - len(candidates)
    return AddResult(
        added=added,
        already_there=already_there,
        matched=len(matched),
        sampled_from=len(candidates),
    )


def item_is_labeled(item: Item) -> bool:
    return (
        Assignment.objects.filter(item=item)
        .filter(Q(state=AssignmentState.SUBMITTED) | Q(answers__isnull=False))
        .exists()
    )


@transaction.atomic
def remove_items(*, session: LabelingSession, item_ids: Iterable[int]) -> int:
    """Remove items nobody has labeled (or is labeling right now); returns how many.

    An item with a submission or an answer, or reserved by someone at this moment, is refused,
    and then nothing is removed.
    """
    session = _lock_session(session)
    ids = {int(pk) for pk in item_ids}
    items = Item.objects.filter(session=session, pk__in=ids)
    if len(ids) != items.count():
        raise _error("Some of these items are not in this session.", code="unknown_items")
    labeled = Assignment.objects.filter(item__in=items).filter(
        Q(state=AssignmentState.SUBMITTED) | Q(answers__isnull=False)
    )
    if labeled.exists():
        raise _error(
            "This item has been labeled, so it stays: its labels belong to the session."
            if len(ids) == 1
            else "Some of these items have been labeled, so nothing was removed.",
            code="labeled",
        )
    if Assignment.objects.filter(item__in=items).live().exists():
        raise _error(
            "Someone is labeling this item right now; try again once their reservation ends."
            if len(ids) == 1
            else "Someone is labeling some of these items right now, so nothing was removed.",
            code="reserved",
        )
    count = len(ids)
    # Their skips leave the labelers' kept figures.
    moves = tallies.LabelerMoves(session.pk, Assignment.objects.filter(item__in=items))
    items.delete()
    moves.done()
    LabelingSession.objects.filter(pk=session.pk).update(updated_at=timezone.now())
    return count


# --- item status set from outside the review app (MLflow's review-queue API) ----------------------

STATUS_COMPLETE = "complete"
STATUS_DECLINED = "declined"
STATUS_PENDING = "pending"
DECLINED_REASON = "Declined through the API."


@transaction.atomic
def set_item_status(*, item: Item, labeler: AbstractBaseUser, status: str) -> Item:
    """Mark an item done by `labeler` without answers (`complete`: their submission counts
    towards the item's labels), passed on by them (`declined`: a skip), or open again
    (`pending`: every submission and skip without answers is released).

    Submitted labels are never thrown away: a submission with answers cannot be declined or
    reopened. Under the item's row lock, with its counters counted again in the same
    transaction (docs/architecture.md, "Claiming").
    """
    item = Item.objects.select_for_update().select_related("session").get(pk=item.pk)
    now = timezone.now()
    moves = tallies.LabelerMoves(item.session_id, Assignment.objects.filter(item=item))
    answered = Assignment.objects.filter(item=item, answers__isnull=False)
    if status == STATUS_PENDING:
        if answered.filter(state=AssignmentState.SUBMITTED).exists():
            raise _error(
                "This item has submitted labels, so it cannot be reopened; they stay.",
                code="labeled",
            )
        Assignment.objects.filter(
            item=item, state__in=[AssignmentState.SUBMITTED, AssignmentState.SKIPPED]
        ).update(state=AssignmentState.RELEASED, lease_expires_at=None)
    elif status in (STATUS_COMPLETE, STATUS_DECLINED):
        state = AssignmentState.SUBMITTED if status == STATUS_COMPLETE else AssignmentState.SKIPPED
        if (
            state == AssignmentState.SKIPPED
            and answered.filter(labeler=labeler, state=AssignmentState.SUBMITTED).exists()
        ):
            raise _error(
                f"{labeler.get_username()} submitted labels for this item, so it cannot be "
                "declined for them.",
                code="labeled",
            )
        changes = {
            "state": state,
            "lease_expires_at": None,
            "submitted_at": now if state == AssignmentState.SUBMITTED else None,
            "skip_reason": DECLINED_REASON if state == AssignmentState.SKIPPED else "",
            "last_active_at": now,
        }
        Assignment.objects.update_or_create(
            item=item,
            labeler=labeler,
            defaults=changes,
            create_defaults={**changes, "claimed_at": now},
        )
    else:
        raise _error(f"Unknown status {status!r}.", code="status")
    moves.done()
    refresh_item_states(session=item.session, item_ids=[item.pk])
    item.refresh_from_db()
    return item
