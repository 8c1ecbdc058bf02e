"""What the review app's item page reads, in the item's own query.

The page shows one assignment: its item, session and trace, the session's questions, the
trace's root span and the spans the questions target, other people's and judges' labels on the
trace (not in blind sessions), the labeler's progress in the session and the item they
finished before. All of it comes with the assignment's row (`for_page`): the related rows as
JSON arrays (`traces.nested`), the counts as subqueries. Submit & next reads the next item the
same way, in its claim (`next_items`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import JSONObject

from labeling.models import Assignment, AssignmentState, Item, LabelingSchema
from labeling.progress import DONE_STATES, LabelerProgress, count_of
from traces.models import Assessment, SourceType, Span
from traces.nested import instances, rows_of

SCHEMA_FIELDS = (
    "id",
    "experiment_id",
    "name",
    "kind",
    "title",
    "instruction",
    "enable_comment",
    "target_span_type",
    "input_type",
    "input_config",
    "required",
    "version",
    "archived",
)
SPAN_FIELDS = (
    "span_id",
    "parent_id",
    "name",
    "span_type",
    "start_time_ns",
    "end_time_ns",
    "status_code",
    "inputs",
    "outputs",
)
LABEL_FIELDS = (
    "assessment_id",
    "kind",
    "name",
    "source_type",
    "source_id",
    "created_by_id",
    "span_id",
    "value",
    "error_code",
    "rationale",
)


def _questions(session: str) -> Subquery:
    return rows_of(
        LabelingSchema.objects.all(),
        fields=SCHEMA_FIELDS,
        extra={"position": F("sessionschema__position"), "link": F("sessionschema__id")},
        inner="sessionschema__session_id",
        outer=session,
    )


# Spans the item page shows for context whatever the questions target: what instructions
# usually point at (the retrieved documents, the tool calls).
CONTEXT_SPAN_TYPES = ("RETRIEVER", "TOOL")


def _spans(trace: str, session: str | None, *, root: bool = True) -> Subquery:
    """The root span(s) (with `root`) and the context spans (`CONTEXT_SPAN_TYPES`), and the
    spans of the types the session's questions target (when `session` is given)."""
    shown = Q(parent_id__isnull=True) | Q(parent_id="") if root else Q()
    if root:
        shown |= Q(span_type__in=CONTEXT_SPAN_TYPES)
    if session is not None:
        targets = (
            LabelingSchema.objects.filter(sessionschema__session_id=OuterRef(OuterRef(session)))
            .exclude(target_span_type="")
            .values("target_span_type")
        )
        shown |= Q(span_type__in=targets)
    return rows_of(Span.objects.filter(shown), fields=SPAN_FIELDS, inner="trace_id", outer=trace)


def _labels(trace: str, blind: str) -> Case:
    """The current labels on the trace, unless the session is blind (the labeler's own are
    left out when they are read: `other_labels`)."""
    labels = rows_of(
        Assessment.objects.filter(valid=True), fields=LABEL_FIELDS, inner="trace_id", outer=trace
    )
    return Case(
        When(**{blind: True}, then=Value(None, output_field=JSONField())),
        default=labels,
        output_field=JSONField(),
    )


def _assignments() -> QuerySet[Assignment]:
    """Assignments with their item, session and trace, the session's questions, the spans the
    page shows and the labeler's progress: what both the item page and a submit read."""
    session = OuterRef("item__session_id")
    mine = Assignment.objects.filter(item__session=session, labeler=OuterRef("labeler_id"))
    counts = JSONObject(
        submitted=Count("pk", filter=Q(state=AssignmentState.SUBMITTED)),
        skipped=Count("pk", filter=Q(state=AssignmentState.SKIPPED)),
    )
    return Assignment.objects.select_related("item__session", "item__trace").annotate(
        question_rows=_questions("item__session_id"),
        n_items=count_of(Item.objects.filter(session=session), "session"),
        n_mine=Subquery(mine.order_by().values("labeler").annotate(n=counts).values("n")),
    )


def _page() -> QuerySet[Assignment]:
    done = (
        Assignment.objects.filter(
            item__session=OuterRef("item__session_id"),
            labeler=OuterRef("labeler_id"),
            state__in=DONE_STATES,
        )
        .order_by("-claimed_at", "-id")
        .values("item_id")
    )
    return SUBMIT.annotate(
        span_rows=_spans("item__trace_id", "item__session_id"),
        label_rows=_labels("item__trace_id", "item__session__blind"),
        # The item finished before this one (or the last one finished, while this one is
        # being worked on).
        previous_item_id=Case(
            When(
                state__in=DONE_STATES,
                then=Subquery(
                    done.filter(
                        Q(claimed_at__lt=OuterRef("claimed_at"))
                        | Q(claimed_at=OuterRef("claimed_at"), id__lt=OuterRef("pk"))
                    )[:1]
                ),
            ),
            default=Subquery(done[:1]),
        ),
    )


def _next_page(*, targets: bool) -> QuerySet[Item]:
    return Item.objects.select_related("trace").annotate(
        span_rows=_spans("trace_id", "session_id" if targets else None),
        label_rows=_labels("trace_id", "session__blind"),
    )


# Built once: these queries take the ORM longer to put together than the database to run them,
# and nothing in them depends on the request (every value comes from the row they annotate).
# A request narrows a copy with a filter.
SUBMIT = _assignments()
PAGE = _page()
NEXT_PAGE = _next_page(targets=True)
NEXT_PAGE_ROOT = _next_page(targets=False)  # when no question targets spans


def for_page(assignments: Q) -> QuerySet[Assignment]:
    """The assignments matching `assignments` with everything their item page shows (see the
    module docstring): read it back with `questions`, `spans`, `other_labels`, `progress` and
    the `previous_item_id` attribute."""
    return PAGE.filter(assignments)


def for_submit(assignments: Q) -> QuerySet[Assignment]:
    """`for_page` without what only the page shows (the spans, the other labels, the previous
    item): what a submit reads before it stores the answers. (A submit that asks about spans
    reads them with `targeted_spans`.)"""
    return SUBMIT.filter(assignments)


def targeted_spans(trace: Any, schemas: list[LabelingSchema]) -> list[Span]:
    """The spans of the types the questions target (one query; none without such questions)."""
    targets = {schema.target_span_type for schema in schemas if schema.target_span_type}
    if not targets:
        return []
    found = Span.objects.filter(trace=trace, span_type__in=targets).order_by("start_time_ns", "id")
    return list(found.only(*SPAN_FIELDS, "trace_id"))


def next_items(schemas: list[LabelingSchema]) -> QuerySet[Item]:
    """Items with what the page of the next item shows (`spans`, `other_labels`), for the
    claim of the next item."""
    if any(schema.target_span_type for schema in schemas):
        return NEXT_PAGE
    return NEXT_PAGE_ROOT


def questions(row: Any) -> list[LabelingSchema]:
    """The session's questions in their order, from `for_page`."""
    schemas = instances(LabelingSchema, row.question_rows, extra=("position", "link"))
    return sorted(schemas, key=lambda schema: (schema.position, schema.link))


def spans(row: Any, trace: Any) -> list[Span]:
    """The spans the page shows, by start time (each knows its trace)."""
    found = sorted(
        instances(Span, row.span_rows), key=lambda span: (span.start_time_ns, span.span_id)
    )
    for span in found:
        span.trace = trace
    return found


def other_labels(row: Any, *, blind: bool, labeler: Any) -> list[Assessment] | None:
    """Other people's and judges' current labels on the trace; None in blind mode."""
    if blind:
        return None
    # Their own: labels their account made (not merely labels that carry their name).
    labels = [
        label
        for label in instances(Assessment, row.label_rows)
        if not (label.source_type == SourceType.HUMAN and label.created_by_id == labeler.pk)
    ]
    return sorted(labels, key=lambda label: (label.name, label.span_id or ""))


def progress(row: Any) -> LabelerProgress:
    mine = row.n_mine or {}
    return LabelerProgress(
        total=row.n_items or 0, submitted=mine.get("submitted", 0), skipped=mine.get("skipped", 0)
    )


@dataclass
class ItemPage:
    """What the item page needs besides the assignment."""

    schemas: list[LabelingSchema]
    spans: list[Span]
    other_labels: list[Assessment] | None
    progress: LabelerProgress
    previous_item_id: int | None
