"""A session's results: for each item and question, every labeler's submitted answer and the
adjudicated (final) one.

This is the one place that reads answers back for agreement figures, the disagreements view,
adjudication and exports. A *cell* is one question of one item (and, for span-targeted
questions, one span). Only submitted assignments count: a skipped item has no answers, and a
labeler who went back and changed an answer contributes their current one (the `Answer` row
points at the overriding assessment).

Loading is done per batch of items (`iter_cells`), so exports of large sessions never hold the
whole session in memory; `load_cells` is the convenience for one page or one item.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db.models import Q

from labeling.inputs import InputSpec, Level
from labeling.models import (
    Adjudication,
    Answer,
    AssignmentState,
    Item,
    LabelingSchema,
    LabelingSession,
)

BATCH_SIZE = 500


@dataclass(frozen=True)
class SessionQuestion:
    """One question of a session, with its parsed input and how agreement compares values."""

    schema: LabelingSchema
    spec: InputSpec
    position: int

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def level(self) -> Level:
        """nominal, interval, set (multi-select and lists, compared as sets) or text."""
        if getattr(self.spec, "is_multi", False):
            return "set"
        return self.spec.level

    def key(self, value: Any) -> Any:
        """A hashable key under which equal answers compare equal (sets for multi-select and
        lists, case- and space-insensitive text, numbers as floats)."""
        return comparison_key(value, self.level)

    def display(self, value: Any) -> str:
        """The value as a labeler would read it (pass/fail labels, lists joined)."""
        if value is None:
            return ""
        display = getattr(self.spec, "display", None)
        if display is not None:
            return display(value)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, dict):
            return json.dumps(value, sort_keys=True)
        return str(value)


def comparison_key(value: Any, level: Level) -> Any:
    if value is None:
        return None
    if level == "set":
        items = value if isinstance(value, list) else [value]
        return frozenset(_text_key(v) if isinstance(v, str) else json.dumps(v) for v in items)
    if level == "interval" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return _text_key(value) if level == "text" else value
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def _text_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def session_questions(session: LabelingSession) -> list[SessionQuestion]:
    """The session's questions in their order (one query)."""
    schemas = session.schemas.order_by("sessionschema__position", "sessionschema__id")
    return [
        SessionQuestion(schema=schema, spec=schema.spec, position=position)
        for position, schema in enumerate(schemas)
    ]


@dataclass(frozen=True)
class LabelerAnswer:
    labeler_id: int
    username: str
    value: Any
    rationale: str
    assessment_id: str  # the Assessment's MLflow id (`a-…`)
    schema_version: int
    submitted_at: datetime | None


@dataclass(frozen=True)
class FinalAnswer:
    value: Any
    rationale: str
    assessment_id: str
    adjudicator: str  # login, "" when the account is gone
    accepted_consensus: bool
    created_at: datetime


@dataclass
class Cell:
    """One question of one item (and span): the labelers' answers and the final one."""

    item_id: int
    item_position: int
    trace_pk: int
    trace_id: str
    question: SessionQuestion
    span_id: str = ""
    answers: list[LabelerAnswer] = field(default_factory=list)
    final: FinalAnswer | None = None

    @cached_property
    def keys(self) -> list[Any]:
        """Comparison keys of the answers (computed once: unanimity, consensus and
        disagreement all read them)."""
        return [self.question.key(answer.value) for answer in self.answers]

    @property
    def is_adjudicated(self) -> bool:
        return self.final is not None

    @property
    def is_unanimous(self) -> bool:
        """At least two answers and all of them equal."""
        keys = self.keys
        return len(keys) >= 2 and all(key == keys[0] for key in keys)

    @cached_property
    def disagreement(self) -> float:
        """0 when everyone agrees, up to 1 when no two answers agree: the share of labeler pairs
        that disagree; for numeric questions, the spread (max - min) relative to the scale's
        range, or to the largest absolute value when the schema has no bounds."""
        answers = [a for a in self.answers if a.value is not None]
        if len(answers) < 2:
            return 0.0
        if self.question.level == "interval":
            numbers = [float(a.value) for a in answers]
            spread = max(numbers) - min(numbers)
            if spread == 0:
                return 0.0
            low = getattr(self.question.spec, "min_value", None)
            high = getattr(self.question.spec, "max_value", None)
            scale = (high - low) if low is not None and high is not None else None
            scale = scale or max(abs(n) for n in numbers) or 1.0
            return min(1.0, spread / scale)
        keys = [self.question.key(a.value) for a in answers]
        pairs = disagreeing = 0
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                pairs += 1
                disagreeing += keys[i] != keys[j]
        return disagreeing / pairs

    @property
    def consensus(self) -> Any:
        """The unanimous answer's value (the first labeler's form of it), else None."""
        return self.answers[0].value if self.is_unanimous else None

    @property
    def final_value(self) -> Any:
        """The adjudicated value; failing that, the labelers' unanimous value, or their only
        answer when one person labeled the item; else None (unsettled)."""
        if self.final is not None:
            return self.final.value
        if len(self.answers) == 1:
            return self.answers[0].value
        return self.consensus


def _answer_rows(session: LabelingSession, item_ids: Sequence[int]) -> Iterable[dict]:
    return (
        Answer.objects.filter(
            assignment__item_id__in=item_ids,
            assignment__item__session=session,
            assignment__state=AssignmentState.SUBMITTED,
        )
        .order_by("assignment__submitted_at", "assignment_id", "pk")
        .values(
            "schema_id",
            "span_id",
            "schema_version",
            "assignment__item_id",
            "assignment__labeler_id",
            "assignment__labeler__username",
            "assignment__submitted_at",
            "assessment__assessment_id",
            "assessment__value",
            "assessment__rationale",
        )
    )


def _final_rows(item_ids: Sequence[int]) -> Iterable[dict]:
    return (
        Adjudication.objects.filter(item_id__in=item_ids)
        .order_by()
        .values(
            "item_id",
            "schema_id",
            "span_id",
            "accepted_consensus",
            "created_at",
            "adjudicator__username",
            "assessment__assessment_id",
            "assessment__value",
            "assessment__rationale",
        )
    )


def _cells_for_items(
    session: LabelingSession, questions: Sequence[SessionQuestion], items: Sequence[dict]
) -> list[Cell]:
    """Cells of a batch of items (dicts with pk, position, trace_id, trace__trace_id), in item
    order then question order; three queries."""
    by_schema = {question.schema.pk: question for question in questions}
    item_ids = [item["pk"] for item in items]
    answers: dict[tuple[int, int, str], list[LabelerAnswer]] = defaultdict(list)
    for row in _answer_rows(session, item_ids):
        if row["schema_id"] not in by_schema:
            continue  # a question removed from the session since
        answers[(row["assignment__item_id"], row["schema_id"], row["span_id"])].append(
            LabelerAnswer(
                labeler_id=row["assignment__labeler_id"],
                username=row["assignment__labeler__username"],
                value=row["assessment__value"],
                rationale=row["assessment__rationale"] or "",
                assessment_id=row["assessment__assessment_id"],
                schema_version=row["schema_version"],
                submitted_at=row["assignment__submitted_at"],
            )
        )
    finals = {
        (row["item_id"], row["schema_id"], row["span_id"]): FinalAnswer(
            value=row["assessment__value"],
            rationale=row["assessment__rationale"] or "",
            assessment_id=row["assessment__assessment_id"],
            adjudicator=row["adjudicator__username"] or "",
            accepted_consensus=row["accepted_consensus"],
            created_at=row["created_at"],
        )
        for row in _final_rows(item_ids)
    }
    # Span questions have one cell per span that was answered or settled.
    spans: dict[tuple[int, int], set[str]] = defaultdict(set)
    for item_id, schema_id, span_id in [*answers, *finals]:
        spans[(item_id, schema_id)].add(span_id)
    cells = []
    for item in items:
        for question in questions:
            for span_id in sorted(spans.get((item["pk"], question.schema.pk), {""})):
                key = (item["pk"], question.schema.pk, span_id)
                cells.append(
                    Cell(
                        item_id=item["pk"],
                        item_position=item["position"],
                        trace_pk=item["trace_id"],
                        trace_id=item["trace__trace_id"],
                        question=question,
                        span_id=span_id,
                        answers=answers.get(key, []),
                        final=finals.get(key),
                    )
                )
    return cells


def _items(session: LabelingSession, item_ids: Iterable[int] | None = None):
    items = Item.objects.filter(session=session).order_by("position", "pk")
    if item_ids is not None:
        items = items.filter(pk__in=list(item_ids))
    return items.values("pk", "position", "trace_id", "trace__trace_id")


def iter_cells(
    session: LabelingSession,
    *,
    questions: Sequence[SessionQuestion] | None = None,
    item_ids: Iterable[int] | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[Cell]:
    """Every cell of the session (or of `item_ids`), in item then question order, loaded
    `batch_size` items at a time (keyset pagination on position, pk)."""
    questions = session_questions(session) if questions is None else questions
    items = _items(session, item_ids)
    last: tuple[int, int] | None = None
    while True:
        batch_query = items
        if last is not None:
            position, pk = last
            batch_query = batch_query.filter(
                Q(position__gt=position) | Q(position=position, pk__gt=pk)
            )
        batch = list(batch_query[:batch_size])
        if not batch:
            return
        yield from _cells_for_items(session, questions, batch)
        last = (batch[-1]["position"], batch[-1]["pk"])


def load_cells(
    session: LabelingSession,
    *,
    questions: Sequence[SessionQuestion] | None = None,
    item_ids: Iterable[int] | None = None,
) -> list[Cell]:
    """The cells of the session (or of `item_ids`) as a list."""
    return list(iter_cells(session, questions=questions, item_ids=item_ids))
