"""How far sessions are: item counts by state for curators, and each labeler's own progress.

Everything that counts a session's work for a page is here, in grouped or correlated counts,
so that a page's number of queries does not grow with its sessions, items or labelers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from labeling.models import Assignment, AssignmentState, Item, ItemState, LabelingSession
from labeling.tallies import read_counts

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

DONE_STATES = (AssignmentState.SUBMITTED, AssignmentState.SKIPPED)


# --- a labeler's own progress (review app, home page) -------------------------------------------


@dataclass(frozen=True)
class LabelerProgress:
    """A labeler's progress in a session."""

    total: int
    submitted: int
    skipped: int
    remaining: int | None = None

    @property
    def percent(self) -> int:
        return round(100 * self.submitted / self.total) if self.total else 0


def count_of(queryset: QuerySet, group: str) -> Subquery:
    """A correlated COUNT(*) of `queryset`, grouped by `group` (its filter on the outer row)."""
    return Subquery(
        queryset.order_by().values(group).annotate(n=Count("pk")).values("n"),
        output_field=IntegerField(),
    )


def with_labeler_progress(
    sessions: QuerySet[LabelingSession],
    *,
    labeler: AbstractBaseUser,
    remaining: bool = False,
    now: datetime | None = None,
) -> QuerySet[LabelingSession]:
    """`sessions` annotated with the labeler's progress (read it with `labeler_progress_of`): items,
    submitted, skipped; with `remaining`, also about how many items are still open to them and
    whether they hold a live reservation."""
    now = now or timezone.now()
    mine = Assignment.objects.filter(item__session=OuterRef("pk"), labeler=labeler)
    sessions = sessions.annotate(
        n_items=count_of(Item.objects.filter(session=OuterRef("pk")), "session"),
        n_submitted=count_of(mine.filter(state=AssignmentState.SUBMITTED), "labeler"),
        n_skipped=count_of(mine.filter(state=AssignmentState.SKIPPED), "labeler"),
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
            n_not_complete=count_of(not_complete, "session"),
            n_finished_open=count_of(finished, "labeler"),
            has_reservation=Exists(mine.live(now)),
        )
    return sessions


def labeler_progress_of(session: Any) -> LabelerProgress:
    """The progress annotated by `with_labeler_progress` (or by the review page's read)."""
    remaining = None
    if hasattr(session, "n_not_complete"):
        remaining = max(0, (session.n_not_complete or 0) - (session.n_finished_open or 0))
    return LabelerProgress(
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
) -> LabelerProgress:
    """Items in the session, how many of them the labeler submitted and skipped, and with
    `with_remaining` how many are still open to them. One query."""
    row = with_labeler_progress(
        LabelingSession.objects.filter(pk=session.pk),
        labeler=labeler,
        remaining=with_remaining,
        now=now,
    ).first()
    if row is None:
        remaining = 0 if with_remaining else None
        return LabelerProgress(total=0, submitted=0, skipped=0, remaining=remaining)
    return labeler_progress_of(row)


# --- items by state (curators) -------------------------------------------------------------------


@dataclass(frozen=True)
class ItemCounts:
    """How many items of a session are in each state, with shares for a progress bar."""

    complete: int = 0
    in_progress: int = 0
    pending: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.complete + self.in_progress + self.pending + self.skipped

    def _share(self, count: int) -> float:
        return round(100 * count / self.total, 1) if self.total else 0.0

    @property
    def percent_complete(self) -> int:
        return int(100 * self.complete / self.total) if self.total else 0

    @property
    def segments(self) -> list[dict]:
        """Bar segments in display order: state, label, count and width in percent."""
        return [
            {"state": state, "label": label, "count": count, "share": self._share(count)}
            for state, label, count in (
                (ItemState.COMPLETE, "Complete", self.complete),
                (ItemState.IN_PROGRESS, "In progress", self.in_progress),
                (ItemState.SKIPPED, "Skipped", self.skipped),
                (ItemState.PENDING, "Pending", self.pending),
            )
        ]

    @property
    def summary(self) -> str:
        return (
            f"{self.complete} of {self.total} complete, {self.in_progress} in progress, "
            f"{self.skipped} skipped, {self.pending} pending"
        )


def _item_counts(by_state: dict[str, int]) -> ItemCounts:
    return ItemCounts(
        complete=by_state.get(ItemState.COMPLETE, 0),
        in_progress=by_state.get(ItemState.IN_PROGRESS, 0),
        pending=by_state.get(ItemState.PENDING, 0),
        skipped=by_state.get(ItemState.SKIPPED, 0),
    )


def item_counts(items: QuerySet[Item]) -> ItemCounts:
    """How many of `items` are in each state, in one query."""
    return _item_counts(
        dict(items.order_by().values("state").annotate(n=Count("pk")).values_list("state", "n"))
    )


def item_counts_by_session(items: QuerySet[Item]) -> dict[int, ItemCounts]:
    """Item counts by state for each session of `items`, in one grouped query."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = items.order_by().values("session_id", "state").annotate(n=Count("pk"))
    for session_id, state, n in rows.values_list("session_id", "state", "n"):
        counts[session_id][state] = n
    return {session_id: _item_counts(by_state) for session_id, by_state in counts.items()}


def with_item_counts(sessions: Iterable[LabelingSession]) -> list[LabelingSession]:
    """The sessions, each with `progress` (item counts by state) and `n_labelers`: two
    grouped queries besides the sessions' own, whatever the number of sessions and items."""
    sessions = list(sessions)
    ids = [session.pk for session in sessions]
    counts = item_counts_by_session(Item.objects.filter(session_id__in=ids))
    labelers = dict(
        LabelingSession.objects.filter(pk__in=ids)
        .order_by()
        .annotate(n=Count("labelers"))
        .values_list("pk", "n")
    )
    for session in sessions:
        session.progress = counts.get(session.pk, ItemCounts())
        session.n_labelers = labelers.get(session.pk, 0)
    return sessions


# --- each labeler's figures (session dashboard, labelers page) ----------------------------------


@dataclass(frozen=True)
class LabelerFigures:
    """One labeler's work in one session (`labeler_figures`)."""

    user: object
    is_assigned: bool
    assigned: int  # items handed to them (reserved, submitted or skipped; not released)
    done: int
    skipped: int
    reserved: int  # live reservations right now
    flagged: int
    median_seconds: float | None  # submitted_at - claimed_at, over their submitted items
    last_active: datetime | None


def _median(buckets: dict[float, float]) -> float | None:
    """The median of values given as {value: how many}: the middle one, or the mean of the two
    middle ones."""
    total = round(sum(buckets.values()))
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]  # the middle position(s), from 0
    found: list[float] = []
    seen = 0
    for value in sorted(buckets):
        seen += round(buckets[value])
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
    return sum(found) / len(found)


def labeler_figures(session: LabelingSession, now: datetime | None = None) -> list[LabelerFigures]:
    """One row per labeler: everyone assigned, plus anyone who submitted or skipped items of
    the session, holds one or flagged one and was unassigned since. Three queries, whatever
    the number of labelers and items: items done and skipped and their durations come from the
    counts kept as assignments change (`labeling.tallies.labeler_counts`); reservations and
    flags, which are few, from the assignments that are open or flagged; each labeler's last
    activity from their latest assignment (an index on labeler and last activity)."""
    now = now or timezone.now()
    done: dict[int, int] = defaultdict(int)
    skipped: dict[int, int] = defaultdict(int)
    durations: dict[int, dict[float, float]] = defaultdict(dict)
    for (_, kind, labeler, _, key), (n, _) in read_counts(
        session, question=Q(question=0), kinds=["dn", "sk", "du"]
    ).items():
        if kind == "du":
            durations[labeler][float(key)] = n
        else:
            (done if kind == "dn" else skipped)[labeler] = round(n)
    live = {
        row["labeler_id"]: row
        for row in Assignment.objects.filter(item__session=session)
        .filter(Q(state=AssignmentState.CLAIMED) | Q(flagged=True))
        .order_by()
        .values("labeler_id")
        .annotate(
            claimed=Count("pk", filter=Q(state=AssignmentState.CLAIMED)),
            reserved=Count("pk", filter=Q(state=AssignmentState.CLAIMED, lease_expires_at__gt=now)),
            flagged=Count("pk", filter=Q(flagged=True)),
        )
    }
    assigned = LabelingSession.labelers.through.objects.filter(labelingsession=session)
    users = (
        get_user_model()
        .objects.filter(Q(pk__in={*done, *skipped, *live}) | Q(pk__in=assigned.values("user")))
        .annotate(
            is_assigned=Exists(assigned.filter(user=OuterRef("pk"))),
            last_active=Subquery(
                Assignment.objects.filter(labeler=OuterRef("pk"), item__session=session)
                .order_by("-last_active_at")
                .values("last_active_at")[:1]
            ),
        )
        .only("pk", "username", "first_name", "last_name", "is_active")
        .order_by("username")
    )
    rows = []
    for user in users:
        row = live.get(user.pk, {})
        rows.append(
            LabelerFigures(
                user=user,
                is_assigned=user.is_assigned,
                assigned=done[user.pk] + skipped[user.pk] + row.get("claimed", 0),
                done=done[user.pk],
                skipped=skipped[user.pk],
                reserved=row.get("reserved", 0),
                flagged=row.get("flagged", 0),
                median_seconds=_median(durations.get(user.pk, {})),
                last_active=user.last_active,
            )
        )
    return rows
