"""Settling a session's disagreements: the final answer to one question of one item.

A curator or a session reviewer settles a *cell* (one question of one item, and one span for
span questions) by picking a labeler's answer or entering a new one. The final answer is an
ordinary HUMAN assessment, so it shows on the trace and through the MLflow API like any label:

- a Feedback or an Expectation, as the schema's kind says; source id the adjudicator's login;
- metadata ``{"adjudicated": true, "labeling_session_id", "adjudicator", "settles": [ids]}``,
  where ``settles`` lists the labelers' assessments it settles, so a reader of the raw
  assessments (MLflow SDK, exports) can tell a settled answer from a labeler's;
- settling the same cell again *overrides* the previous final answer (MLflow's override
  semantics: the old one stays in the history, not valid).

An item is marked adjudicated (`Item.adjudicated_by/at`) once none of its cells with two or
more answers is left in disagreement without a final answer. Cells whose labelers agree need
no settling, but `accept_unanimous` can record their consensus as final answers in bulk, which
marks items whose labelers agree on everything as adjudicated too.

Every write locks the session row first, so two leads settling at once (or a settle racing a
bulk accept) queue instead of colliding on the one-final-answer-per-cell constraint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from labeling import tallies
from labeling.models import (
    Adjudication,
    Answer,
    AssignmentState,
    CellTally,
    Item,
    LabelingSchema,
    LabelingSession,
    SessionSchema,
)
from labeling.results import Cell, load_cells, session_questions
from traces import services
from traces.models import RATIONALE_MAX_LENGTH, Assessment, AssessmentKind, SourceType, Trace

BULK_BATCH_SIZE = 500


def needs_settling(cell: Cell) -> bool:
    """Two or more answers that are not all the same."""
    return len(cell.answers) >= 2 and not cell.is_unanimous


def adjudication_metadata(
    *, session: LabelingSession, adjudicator: User, settles: Sequence[str]
) -> dict[str, Any]:
    return {
        "adjudicated": True,
        "labeling_session_id": str(session.pk),
        "adjudicator": adjudicator.get_username(),
        "settles": list(settles),
    }


def _assessment_class(schema: LabelingSchema) -> type[services.Feedback | services.Expectation]:
    """Final answers are of the question's kind, like the labelers' answers."""
    if schema.kind == AssessmentKind.EXPECTATION:
        return services.Expectation
    return services.Feedback


def lock_session(session: LabelingSession) -> LabelingSession:
    return LabelingSession.objects.select_for_update().get(pk=session.pk)


def find_cell(*, item: Item, schema: LabelingSchema, span_id: str = "") -> Cell | None:
    """The cell of `item` for `schema` (and span), None when the session does not ask it or
    nobody answered that span."""
    questions = [q for q in session_questions(item.session) if q.schema.pk == schema.pk]
    if not questions:
        return None
    for cell in load_cells(item.session, questions=questions, item_ids=[item.pk]):
        if cell.span_id == span_id:
            return cell
    return None


@transaction.atomic
def settle_cell(
    *,
    item: Item,
    schema: LabelingSchema,
    span_id: str = "",
    value: Any,
    adjudicator: User,
    rationale: str = "",
) -> Adjudication:
    """Record `value` as the final answer to `schema` on `item` (and span).

    `value` is checked against the schema's input (ValidationError with a message otherwise).
    Settling again overrides the previous final answer and updates the Adjudication row.
    """
    session = lock_session(item.session)
    item = Item.objects.select_related("trace", "session").get(pk=item.pk, session=session)
    cell = find_cell(item=item, schema=schema, span_id=span_id)
    if cell is None:
        raise ValidationError("This session does not ask that question here.", code="no_cell")
    value = schema.spec.check_value(value)
    rationale = (rationale or "").strip()
    if len(rationale) > RATIONALE_MAX_LENGTH:
        raise ValidationError(
            f"The note is {len(rationale):,} characters long; the limit is "
            f"{RATIONALE_MAX_LENGTH:,}.",
            code="rationale_too_long",
        )
    settles = [answer.assessment_id for answer in cell.answers]
    source = services.Source(SourceType.HUMAN, adjudicator.get_username(), user_id=adjudicator.pk)
    metadata = adjudication_metadata(session=session, adjudicator=adjudicator, settles=settles)
    existing = (
        Adjudication.objects.select_for_update()
        .select_related("assessment")
        .filter(item=item, schema=schema, span_id=span_id)
        .first()
    )
    # The final answer's label as it is now (edits elsewhere keep the row on it).
    previous = existing.assessment if existing and existing.assessment.valid else None
    if previous is not None:
        assessment = services.override_assessment(
            trace_id=item.trace.trace_id,
            assessment_id=previous.assessment_id,
            value=value,
            source=source,
            rationale=rationale,
            metadata=metadata,
        )
    else:
        assessment = services.log_assessment(
            trace_id=item.trace.trace_id,
            assessment=_assessment_class(schema)(
                name=schema.name,
                value=value,
                rationale=rationale,
                source=source,
                metadata=metadata,
                span_id=span_id or None,
            ),
        )
    if existing is None:
        adjudication = Adjudication(item=item, schema=schema, span_id=span_id)
    else:
        adjudication = existing
    adjudication.assessment = assessment
    adjudication.adjudicator = adjudicator
    adjudication.settles = settles
    adjudication.accepted_consensus = False
    adjudication.created_at = timezone.now()
    adjudication.save()
    refresh_item_adjudicated(item=item, adjudicator=adjudicator)
    tallies.refresh_items(session=session, item_ids=[item.pk])
    return adjudication


def settle_with_answer(
    *,
    item: Item,
    schema: LabelingSchema,
    span_id: str = "",
    assessment_id: str,
    adjudicator: User,
    rationale: str = "",
) -> Adjudication:
    """Settle a cell with one labeler's answer (named by its assessment id)."""
    cell = find_cell(item=item, schema=schema, span_id=span_id)
    chosen = [a for a in (cell.answers if cell else []) if a.assessment_id == assessment_id]
    if not chosen:
        raise ValidationError(
            "That answer is not one of this question's answers.", code="unknown_answer"
        )
    return settle_cell(
        item=item,
        schema=schema,
        span_id=span_id,
        value=chosen[0].value,
        adjudicator=adjudicator,
        rationale=rationale,
    )


def refresh_item_adjudicated(*, item: Item, adjudicator: User | None) -> bool:
    """Mark `item` adjudicated when it has a final answer and no cell left in disagreement
    without one; unmark it otherwise. Returns whether it is adjudicated."""
    cells = load_cells(item.session, item_ids=[item.pk])
    settled = any(cell.is_adjudicated for cell in cells) and not any(
        needs_settling(cell) and not cell.is_adjudicated for cell in cells
    )
    if settled and item.adjudicated_at is None:
        Item.objects.filter(pk=item.pk).update(
            adjudicated_by=adjudicator, adjudicated_at=timezone.now()
        )
    elif not settled and item.adjudicated_at is not None:
        Item.objects.filter(pk=item.pk).update(adjudicated_by=None, adjudicated_at=None)
    return settled


# --- bulk accept ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnanimousItem:
    """An item whose labelers agree on every question they answered (two or more answers)."""

    item_id: int
    trace_pk: int
    cells: list[Cell]  # its unanimous cells without a final answer


def unanimous_batch(
    session: LabelingSession, *, after: int = 0, batch_size: int = BULK_BATCH_SIZE
) -> tuple[list[UnanimousItem], int | None]:
    """The next items (by pk, after `after`) not yet adjudicated whose cells with answers are
    all unanimous (at least one), and the last pk looked at (None: nothing is left). The items
    come from their kept count (`Item.consensus_cells`), their cells from their answers."""
    ids = list(
        Item.objects.filter(
            session=session, consensus_cells__gt=0, adjudicated_at__isnull=True, pk__gt=after
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not ids:
        return [], None
    found = []
    cells = load_cells(session, questions=session_questions(session), item_ids=ids)
    for item_id, group in groupby(cells, key=attrgetter("item_id")):
        pending = tallies.unanimous_pending([cell for cell in group if cell.answers])
        if pending:
            found.append(
                UnanimousItem(item_id=item_id, trace_pk=pending[0].trace_pk, cells=pending)
            )
    return found, ids[-1]


def unanimous_batches(session: LabelingSession) -> Iterator[list[UnanimousItem]]:
    last: int | None = 0
    while True:
        batch, last = unanimous_batch(session, after=last or 0)
        if last is None:
            return
        yield batch


def unanimous_items(session: LabelingSession) -> Iterator[UnanimousItem]:
    for batch in unanimous_batches(session):
        yield from batch


@dataclass(frozen=True)
class BulkResult:
    items: int
    answers: int


def accept_batch(
    *, session: LabelingSession, adjudicator: User, batch: Sequence[UnanimousItem]
) -> BulkResult:
    """Record the consensus of these unanimous items as their final answers (accepted
    consensus) and mark them adjudicated, inside the caller's transaction."""
    if not batch:
        return BulkResult(items=0, answers=0)
    source = services.Source(SourceType.HUMAN, adjudicator.get_username(), user_id=adjudicator.pk)
    now = timezone.now()
    traces = Trace.objects.only("pk", "trace_id", "experiment_id").in_bulk(
        [found.trace_pk for found in batch]
    )
    pending: list[tuple[UnanimousItem, Cell, Assessment]] = []
    for found in batch:
        for cell in found.cells:
            settles = [answer.assessment_id for answer in cell.answers]
            assessment = services.build_assessment(
                trace=traces[found.trace_pk],
                assessment=_assessment_class(cell.question.schema)(
                    name=cell.question.name,
                    value=cell.consensus,
                    rationale="",
                    source=source,
                    metadata=adjudication_metadata(
                        session=session, adjudicator=adjudicator, settles=settles
                    ),
                    span_id=cell.span_id or None,
                ),
            )
            pending.append((found, cell, assessment))
    created = Assessment.objects.bulk_create([row for _, _, row in pending])
    Adjudication.objects.bulk_create(
        [
            Adjudication(
                item_id=found.item_id,
                schema=cell.question.schema,
                span_id=cell.span_id,
                assessment=assessment,
                adjudicator=adjudicator,
                settles=[answer.assessment_id for answer in cell.answers],
                accepted_consensus=True,
                created_at=now,
            )
            for (found, cell, _), assessment in zip(pending, created, strict=True)
        ]
    )
    ids = [found.item_id for found in batch]
    Item.objects.filter(pk__in=ids).update(adjudicated_by=adjudicator, adjudicated_at=now)
    tallies.refresh_items(session=session, item_ids=ids)
    return BulkResult(items=len(batch), answers=len(pending))


@transaction.atomic
def accept_unanimous(*, session: LabelingSession, adjudicator: User) -> BulkResult:
    """Record the consensus of every unanimous item as its final answers (accepted_consensus),
    and mark those items adjudicated; in batches, one transaction (the background job,
    `labeling.campaign.jobs`, commits batch by batch)."""
    session = lock_session(session)
    n_items = n_answers = 0
    for batch in unanimous_batches(session):
        done = accept_batch(session=session, adjudicator=adjudicator, batch=batch)
        n_items += done.items
        n_answers += done.answers
    return BulkResult(items=n_items, answers=n_answers)


def count_unanimous(session: LabelingSession) -> BulkResult:
    """How many items (and answers) `accept_unanimous` would settle now (kept counts)."""
    counts = tallies.read_counts(session, kinds=["ui", "ua"])
    items = counts.get((0, "ui", 0, 0, ""), (0.0, 0.0))[0]
    answers = counts.get((0, "ua", 0, 0, ""), (0.0, 0.0))[0]
    return BulkResult(items=round(items), answers=round(answers))


# --- the disagreements overview ------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """How many disagreements a session has (settled or not), and what bulk accept would
    settle: kept counts, read in two small queries (the questions, the counts)."""

    unsettled: int
    settled: int
    unanimous: BulkResult

    @property
    def disagreements(self) -> int:
        return self.unsettled + self.settled


def overview(session: LabelingSession) -> Overview:
    questions = list(
        SessionSchema.objects.filter(session=session).values_list("schema_id", flat=True)
    )
    counts = tallies.read_counts(
        session, question=Q(question__in=[0, *questions]), kinds=["dun", "dst", "ui", "ua"]
    )

    def total(kind: str) -> int:
        return round(sum(n for (_, k, _, _, _), (n, _) in counts.items() if k == kind))

    return Overview(
        unsettled=total("dun"),
        settled=total("dst"),
        unanimous=BulkResult(items=total("ui"), answers=total("ua")),
    )


class DisagreementRows:
    """The cells that need settling, unsettled first, worst first, then in queue order, for a
    paginator: `(item_id, schema_id, span_id)` rows by slice, and their number from the kept
    counts (no count of the rows)."""

    def __init__(self, rows, count: int) -> None:
        self.rows = rows
        self._count = count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self.rows[index]


def disagreement_cells(
    session: LabelingSession, *, schema: LabelingSchema | None = None, settled: bool = False
) -> DisagreementRows:
    asked = list(SessionSchema.objects.filter(session=session).values_list("schema_id", flat=True))
    questions = [schema.pk] if schema is not None else asked
    rows = CellTally.objects.filter(session=session, needs_settling=True)
    rows = rows.filter(schema=schema) if schema is not None else rows.filter(schema__in=asked)
    kinds = ["dun", "dst"] if settled else ["dun"]
    if not settled:
        rows = rows.filter(settled=False)
    counts = tallies.read_counts(session, question=Q(question__in=questions), kinds=kinds)
    count = round(sum(n for n, _ in counts.values()))
    ordered = rows.order_by(
        "settled", "-disagreement", "item_position", "item_id", "schema_id", "span_id"
    ).values_list("item_id", "schema_id", "span_id")
    return DisagreementRows(ordered, count)


def answers_fingerprint(session: LabelingSession) -> str:
    """Changes whenever an answer, a submission, a final answer or the session's questions
    change (three aggregate queries): the key under which an overview stays valid."""
    answers = Answer.objects.filter(
        assignment__item__session=session, assignment__state=AssignmentState.SUBMITTED
    ).aggregate(
        n=Count("pk"),
        last=Max("assessment_id"),
        latest=Max("assignment__submitted_at"),
        # An answer updated in place (MLflow's update_assessment) keeps its id.
        edited=Max("assessment__last_update_time"),
    )
    finals = Adjudication.objects.filter(item__session=session).aggregate(
        n=Count("pk"), last=Max("assessment_id"), edited=Max("assessment__last_update_time")
    )
    items = Item.objects.filter(session=session, adjudicated_at__isnull=False).aggregate(
        n=Count("pk"), latest=Max("adjudicated_at")
    )
    questions = list(
        SessionSchema.objects.filter(session=session)
        .order_by("position", "pk")
        .values_list("schema_id", "schema__version")
    )
    parts = [session.pk, session.created_at.isoformat(), answers, finals, items, questions]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
