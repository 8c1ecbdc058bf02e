"""How far sessions are: item counts by state for curators, and each labeler's own progress.

Everything that counts a session's work for a page is here, in grouped or correlated counts,
so that a page's number of queries does not grow with its sessions, items or labelers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.utils import timezone

from labeling.models import Assignment, AssignmentState, Item, ItemState, LabelingSession

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

DONE_STATES = (AssignmentState.SUBMITTED, AssignmentState.SKIPPED)


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
