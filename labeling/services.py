"""Writes of the labeling app that touch several rows: schemas (with their version history),
sessions (with their ordered questions and labelers), items, and labeler accounts.

Every function is keyword-only, typed and atomic. Rule violations raise
`django.core.exceptions.ValidationError` with a message a curator understands (and, where a form
field is to blame, `error.field` names it), and nothing is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling import tallies
from labeling.inputs import InputSpec, parse_input
from labeling.models import (
    INSTRUCTIONS_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Adjudication,
    Answer,
    Assignment,
    AssignmentState,
    Item,
    ItemState,
    LabelingSchema,
    LabelingSchemaVersion,
    LabelingSession,
    SessionSchema,
    SessionStatus,
)
from traces import services as trace_services
from traces.models import Assessment, Experiment
from traces.services import validate_name


def _error(message: str, *, code: str, field: str | None = None) -> ValidationError:
    error = ValidationError(message, code=code)
    error.field = field  # type: ignore[attr-defined]
    return error


def _check_length(text: str, *, limit: int, what: str, field: str) -> str:
    if len(text) > limit:
        raise _error(
            f"The {what} are {len(text):,} characters long; the limit is {limit:,}."
            if what.endswith("s")
            else f"The {what} is {len(text):,} characters long; the limit is {limit:,}.",
            code="too_long",
            field=field,
        )
    return text


# --- schemas -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaFields:
    """Everything a curator sets on a schema, already checked by the form (`spec` is typed)."""

    name: str
    kind: str
    title: str
    instruction: str
    enable_comment: bool
    target_span_type: str
    spec: InputSpec
    required: bool = True

    @property
    def input_type(self) -> str:
        return self.spec.input_type


def schema_snapshot(schema: LabelingSchema) -> dict[str, Any]:
    """What a schema asks, as stored in its version history."""
    return {
        "name": schema.name,
        "kind": schema.kind,
        "title": schema.title,
        "instruction": schema.instruction,
        "enable_comment": schema.enable_comment,
        "target_span_type": schema.target_span_type,
        "required": schema.required,
        "input_type": schema.input_type,
        "input_config": schema.input_config,
    }


def _check_name_free(experiment: Experiment, name: str, *, exclude_pk: int | None = None) -> None:
    taken = LabelingSchema.objects.filter(experiment=experiment, name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    existing = taken.first()
    if existing is not None:
        archived = " (archived)" if existing.archived else ""
        raise _error(
            f"This experiment already has a schema named “{name}”{archived}.",
            code="name_taken",
            field="name",
        )


def _apply_fields(schema: LabelingSchema, fields: SchemaFields) -> None:
    try:
        fields.spec.check_limits()
    except ValidationError as error:
        raise _error(
            " ".join(error.messages), code=error.code or "limits", field="options"
        ) from None
    schema.name = validate_name(fields.name)
    schema.kind = fields.kind
    schema.title = _check_length(
        fields.title, limit=TITLE_MAX_LENGTH, what="question", field="title"
    )
    schema.instruction = _check_length(
        fields.instruction, limit=INSTRUCTIONS_MAX_LENGTH, what="instructions", field="instruction"
    )
    schema.enable_comment = fields.enable_comment
    schema.target_span_type = fields.target_span_type
    schema.required = fields.required
    schema.input_type = fields.spec.input_type
    schema.input_config = fields.spec.to_config()


@transaction.atomic
def create_schema(
    *, experiment: Experiment, fields: SchemaFields, user: User | None = None
) -> LabelingSchema:
    """A new schema at version 1, with its version-1 snapshot."""
    name = validate_name(fields.name)
    _check_name_free(experiment, name)
    schema = LabelingSchema(experiment=experiment, created_by=user, version=1)
    _apply_fields(schema, fields)
    schema.save()
    LabelingSchemaVersion.objects.create(schema=schema, version=1, snapshot=schema_snapshot(schema))
    return schema


def schema_is_answered(schema: LabelingSchema) -> bool:
    return Answer.objects.filter(schema=schema).exists()


@transaction.atomic
def update_schema(*, schema: LabelingSchema, fields: SchemaFields) -> bool:
    """Apply a curator's edit; returns whether anything changed.

    Once answers exist, the input kind and the type (feedback / expectation) are locked: the old
    answers would no longer fit. Everything else (name, wording, options, bounds) may change. If
    answers were given to the current version, the change becomes a new version with its own
    snapshot, so every answer keeps pointing at the question it actually answered; otherwise the
    current version's snapshot is updated in place (nobody answered it yet).
    """
    schema = LabelingSchema.objects.select_for_update().get(pk=schema.pk)
    before = schema_snapshot(schema)
    answered = schema_is_answered(schema)
    if answered and fields.input_type != schema.input_type:
        raise _error(
            "This schema already has answers, so its input kind cannot change. "
            "Create a new schema instead.",
            code="kind_locked",
            field="input_type",
        )
    if answered and fields.kind != schema.kind:
        raise _error(
            "This schema already has answers, so its type (feedback / expectation) cannot "
            "change. Create a new schema instead.",
            code="type_locked",
            field="kind",
        )
    name = validate_name(fields.name)
    _check_name_free(schema.experiment, name, exclude_pk=schema.pk)
    _apply_fields(schema, fields)
    after = schema_snapshot(schema)
    if after == before:
        return False
    if Answer.objects.filter(schema=schema, schema_version=schema.version).exists():
        schema.version += 1
        LabelingSchemaVersion.objects.create(schema=schema, version=schema.version, snapshot=after)
    else:
        LabelingSchemaVersion.objects.update_or_create(
            schema=schema, version=schema.version, defaults={"snapshot": after}
        )
    schema.updated_at = timezone.now()
    schema.save()
    return True


@transaction.atomic
def set_schema_archived(*, schema: LabelingSchema, archived: bool) -> None:
    """Archived schemas keep their answers and stay in the sessions that ask them, but are no
    longer offered for new sessions."""
    LabelingSchema.objects.filter(pk=schema.pk).update(archived=archived, updated_at=timezone.now())
    schema.archived = archived


@transaction.atomic
def delete_schema(*, schema: LabelingSchema) -> None:
    """Delete a schema nobody answered and no session asks; otherwise refuse (archive it)."""
    schema = LabelingSchema.objects.select_for_update().get(pk=schema.pk)
    if schema_is_answered(schema):
        raise _error(
            "This schema has answers, so it cannot be deleted. Archive it instead: its answers "
            "stay, and it is no longer offered for new sessions.",
            code="answered",
        )
    sessions = list(
        LabelingSession.objects.filter(sessionschema__schema=schema).values_list("name", flat=True)
    )
    if sessions:
        raise _error(
            "This schema is asked in "
            + ", ".join(f"“{name}”" for name in sessions[:3])
            + (f" and {len(sessions) - 3} more" if len(sessions) > 3 else "")
            + ". Remove it from those sessions first, or archive it.",
            code="in_use",
        )
    schema.delete()


# --- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFields:
    """Everything a curator sets on a session, already checked by the form."""

    name: str
    instructions: str
    labels_per_item: int
    reservation_minutes: int
    blind: bool
    status: str
    schemas: Sequence[LabelingSchema]  # in the order labelers see them
    labelers: Sequence[User]
    reviewers: Sequence[User] | None = None  # None: leave the session's reviewers as they are
    suggestions: bool = False  # judges' feedback pre-fills the questions (not in blind mode)


def _check_session_fields(experiment: Experiment, fields: SessionFields) -> None:
    _check_length(
        fields.instructions,
        limit=INSTRUCTIONS_MAX_LENGTH,
        what="instructions",
        field="instructions",
    )
    if not 1 <= fields.labels_per_item <= 10:
        raise _error(
            "Labels per item must be between 1 and 10.", code="labels_per_item",
            field="labels_per_item",
        )  # fmt: skip
    if fields.reservation_minutes < 1:
        raise _error(
            "The reservation must last at least a minute.",
            code="reservation_minutes",
            field="reservation_minutes",
        )
    if any(schema.experiment_id != experiment.pk for schema in fields.schemas):
        raise _error(
            "Every question must belong to the session's experiment.",
            code="schemas",
            field="schemas",
        )
    if len({schema.pk for schema in fields.schemas}) != len(fields.schemas):
        raise _error("A question can be asked only once.", code="schemas", field="schemas")


def _set_schemas(session: LabelingSession, schemas: Sequence[LabelingSchema]) -> None:
    wanted = {schema.pk: position for position, schema in enumerate(schemas, start=1)}
    SessionSchema.objects.filter(session=session).exclude(schema_id__in=wanted).delete()
    existing = {row.schema_id: row for row in SessionSchema.objects.filter(session=session)}
    changed = []
    for schema_pk, position in wanted.items():
        row = existing.get(schema_pk)
        if row is None:
            SessionSchema.objects.create(session=session, schema_id=schema_pk, position=position)
        elif row.position != position:
            row.position = position
            changed.append(row)
    if changed:
        SessionSchema.objects.bulk_update(changed, ["position"])


def _apply_session_fields(session: LabelingSession, fields: SessionFields) -> None:
    session.name = validate_name(fields.name)
    session.instructions = fields.instructions
    session.labels_per_item = fields.labels_per_item
    session.reservation_minutes = fields.reservation_minutes
    session.blind = fields.blind
    session.suggestions = fields.suggestions and not fields.blind
    session.status = fields.status


@transaction.atomic
def create_session(
    *, experiment: Experiment, fields: SessionFields, user: User | None = None
) -> LabelingSession:
    _check_session_fields(experiment, fields)
    session = LabelingSession(experiment=experiment, created_by=user)
    _apply_session_fields(session, fields)
    session.save()
    _set_schemas(session, fields.schemas)
    session.labelers.set(fields.labelers)
    if fields.reviewers is not None:
        session.reviewers.set(fields.reviewers)
    return session


@transaction.atomic
def update_session(*, session: LabelingSession, fields: SessionFields) -> LabelingSession:
    """Apply a curator's edit. Removing a question or a labeler keeps the answers already given;
    changing labels per item re-derives every item's state."""
    session = LabelingSession.objects.select_for_update().get(pk=session.pk)
    _check_session_fields(session.experiment, fields)
    overlap_changed = session.labels_per_item != fields.labels_per_item
    _apply_session_fields(session, fields)
    session.updated_at = timezone.now()
    session.save()
    asked = set(SessionSchema.objects.filter(session=session).values_list("schema_id", flat=True))
    _set_schemas(session, fields.schemas)
    session.labelers.set(fields.labelers)
    if fields.reviewers is not None:
        session.reviewers.set(fields.reviewers)
    if overlap_changed:
        refresh_item_states(session=session)
    if (
        asked != {schema.pk for schema in fields.schemas}
        and Answer.objects.filter(assignment__item__session=session).exists()
    ):
        # Other questions: the results are counted again for the questions asked now.
        tallies.rebuild_session(session)
    return session


@transaction.atomic
def create_draft_session(
    *, experiment: Experiment, name: str, user: User | None = None
) -> LabelingSession:
    """A draft session with only a name (from "Add to session… → new session")."""
    return LabelingSession.objects.create(
        experiment=experiment,
        name=validate_name(name),
        created_by=user,
        status=SessionStatus.DRAFT,
    )


def _per_item(aggregate: Any, **filters: Any) -> Subquery:
    return Subquery(
        Assignment.objects.filter(item=OuterRef("pk"), **filters)
        .order_by()
        .values("item")
        .annotate(n=aggregate)
        .values("n")[:1]
    )


def recount_item_slots(*, items: QuerySet[Item]) -> int:
    """Count `items`' slots again from their assignments (`Item.slots_held`, `submissions`,
    `lease_floor`; the queue keeps them as it goes), in one UPDATE; returns rows touched."""
    return items.update(
        slots_held=Coalesce(
            _per_item(Count("pk"), state__in=[AssignmentState.CLAIMED, AssignmentState.SUBMITTED]),
            Value(0),
        ),
        submissions=Coalesce(_per_item(Count("pk"), state=AssignmentState.SUBMITTED), Value(0)),
        lease_floor=_per_item(Min("lease_expires_at"), state=AssignmentState.CLAIMED),
    )


def refresh_item_states(*, session: LabelingSession, item_ids: Iterable[int] | None = None) -> int:
    """Re-derive items' slot counts and states from their assignments; returns rows touched.

    complete: at least labels-per-item submissions; in progress: some submission or a live
    reservation; skipped: skipped by someone and nothing else going on; pending: untouched.
    """
    now = timezone.now()
    items = Item.objects.filter(session=session)
    if item_ids is not None:
        items = items.filter(pk__in=list(item_ids))
    recount_item_slots(items=items)
    live = Exists(Assignment.objects.filter(item=OuterRef("pk")).live(now))
    any_skipped = Exists(
        Assignment.objects.filter(item=OuterRef("pk"), state=AssignmentState.SKIPPED)
    )
    return items.update(
        state=Case(
            When(submissions__gte=session.labels_per_item, then=Value(ItemState.COMPLETE)),
            When(Q(submissions__gt=0) | live, then=Value(ItemState.IN_PROGRESS)),
            When(any_skipped, then=Value(ItemState.SKIPPED)),
            default=Value(ItemState.PENDING),
        )
    )


# --- labels that may be answers ------------------------------------------------------------------
#
# An answer (`Answer`) or a final answer (`Adjudication`) points at the assessment that holds it.
# Labels are edited outside the review app too (the trace explorer, the MLflow API): an edit is an
# override (a new assessment; the old one stays in the history, not valid), and the answer moves
# to it; deleting an override brings back the label it replaced, and the answer moves back.
# Every such write goes through these functions, so results, agreement figures and exports read
# the label as it is now. (Deleting a label that replaced nothing deletes the answer with it.)


def _follow(replaced_pk: int, current_pk: int) -> None:
    Answer.objects.filter(assessment_id=replaced_pk).update(assessment_id=current_pk)
    Adjudication.objects.filter(assessment_id=replaced_pk).update(assessment_id=current_pk)


# The metadata keys that tie a label to its session and question (set by the review app and by
# adjudication); an edit of the label keeps them, whatever else its metadata says.
LINK_METADATA_KEYS = (
    "labeling_session_id",
    "schema_version",
    "adjudicated",
    "adjudicator",
    "settles",
)


@dataclass(frozen=True)
class AnswerOf:
    """The question a label answers (as an answer or a final answer), at its version."""

    schema: LabelingSchema
    spec: InputSpec
    session_name: str


def answer_of(assessment_pk: int) -> AnswerOf | None:
    """The question `assessment_pk` answers, at the version it answered; None for a label
    that is no answer. Two small queries."""
    answer = (
        Answer.objects.filter(assessment_id=assessment_pk)
        .select_related("schema", "assignment__item__session")
        .first()
    )
    if answer is not None:
        schema, session, version = (
            answer.schema,
            answer.assignment.item.session,
            answer.schema_version,
        )
    else:
        final = (
            Adjudication.objects.filter(assessment_id=assessment_pk)
            .select_related("schema", "item__session")
            .first()
        )
        if final is None:
            return None
        schema, session, version = final.schema, final.item.session, final.schema.version
    snapshot = (
        LabelingSchemaVersion.objects.filter(schema=schema, version=version)
        .values_list("snapshot", flat=True)
        .first()
    )
    if snapshot:
        spec = parse_input(
            snapshot.get("input_type", schema.input_type), snapshot.get("input_config")
        )
    else:
        spec = schema.spec
    return AnswerOf(schema=schema, spec=spec, session_name=session.name)


def check_answer_value(answer: AnswerOf, value: Any, *, name: str | None = None) -> Any:
    """`value` as the question's input kind stores it; ValidationError (saying which question
    and session) when it does not fit, or when the edit would rename the answer."""
    where = f"This label answers “{answer.schema.title}” in the session “{answer.session_name}”"
    if name is not None and name != answer.schema.name:
        raise ValidationError(
            f"{where}, so its name stays “{answer.schema.name}”.", code="answer_name"
        )
    if value is None:
        raise ValidationError(f"{where}: it needs an answer.", code="answer_value")
    try:
        return answer.spec.check_value(value)
    except ValidationError as error:
        raise ValidationError(f"{where}: {' '.join(error.messages)}", code="answer_value") from None


def _keep_links(old: Assessment, metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    links = {key: old.metadata[key] for key in LINK_METADATA_KEYS if key in (old.metadata or {})}
    if not links:
        return metadata
    return {**(metadata or {}), **links}


def _refresh_results(items: dict[int, set[int]]) -> None:
    """Bring the results' tallies of these items (by session) in step with their labels."""
    for session in LabelingSession.objects.filter(pk__in=list(items)):
        tallies.refresh_items(session=session, item_ids=items[session.pk])


@transaction.atomic
def log_assessment(
    *, trace_id: str, assessment: trace_services.Feedback | trace_services.Expectation
) -> Assessment:
    """`traces.services.log_assessment`; when the new assessment overrides another, the answers
    that stood for the old one stand for the new one. An override of an answer must answer its
    question (the schema version it answered) and keeps its links to the session."""
    if assessment.overrides:
        old = (
            Assessment.objects.filter(trace__trace_id=trace_id, assessment_id=assessment.overrides)
            .only("pk", "metadata")
            .first()
        )
        answer = answer_of(old.pk) if old is not None else None
        if answer is not None:
            value = check_answer_value(answer, assessment.value, name=assessment.name)
            assessment = dataclasses.replace(
                assessment, value=value, metadata=_keep_links(old, assessment.metadata)
            )
    row = trace_services.log_assessment(trace_id=trace_id, assessment=assessment)
    if row.overrides_id is not None:
        _follow(row.overrides_id, row.pk)
        _refresh_results(tallies.items_answering([row.pk]))
    return row


@transaction.atomic
def update_assessment(
    *,
    trace_id: str,
    assessment_id: str,
    name: str | None = None,
    feedback: trace_services.FeedbackValue | None = None,
    expectation: trace_services.ExpectationValue | None = None,
    rationale: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Assessment:
    """`traces.services.update_assessment` (`mlflow.update_assessment`, in place); on an answer
    the new value must answer its question, the name stays, and so do the session links."""
    row = trace_services.get_assessment(trace_id=trace_id, assessment_id=assessment_id)
    answer = answer_of(row.pk)
    if answer is not None:
        if name is not None:
            check_answer_value(answer, row.value, name=name)
        if feedback is not None:
            feedback = dataclasses.replace(
                feedback, value=check_answer_value(answer, feedback.value)
            )
        if expectation is not None:
            expectation = dataclasses.replace(
                expectation, value=check_answer_value(answer, expectation.value)
            )
        if metadata is not None:
            metadata = _keep_links(row, metadata)
    row = trace_services.update_assessment(
        trace_id=trace_id,
        assessment_id=assessment_id,
        name=name,
        feedback=feedback,
        expectation=expectation,
        rationale=rationale,
        metadata=metadata,
    )
    # An answer's new value reaches the results' tallies.
    _refresh_results(tallies.items_answering([row.pk]))
    return row


@transaction.atomic
def override_assessment(
    *,
    trace_id: str,
    assessment_id: str,
    value: Any,
    source: trace_services.Source | None,
    rationale: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Assessment:
    """Edit a label (`traces.services.override_assessment`), keeping its answers on it."""
    old = trace_services.get_assessment(trace_id=trace_id, assessment_id=assessment_id)
    return log_assessment(
        trace_id=trace_id,
        assessment=trace_services.replacement(
            old, value=value, source=source, rationale=rationale, metadata=metadata
        ),
    )


@transaction.atomic
def delete_assessment(*, trace_id: str, assessment_id: str) -> None:
    """`traces.services.delete_assessment`; an answer on a deleted override goes back to the
    label it replaced."""
    replaced = (
        Assessment.objects.filter(trace__trace_id=trace_id, assessment_id=assessment_id)
        .values_list("pk", "overrides_id")
        .first()
    )
    answering = tallies.items_answering([replaced[0]]) if replaced is not None else {}
    if replaced is not None and replaced[1] is not None:
        _follow(*replaced)
    trace_services.delete_assessment(trace_id=trace_id, assessment_id=assessment_id)
    if answering:
        _refresh_results(answering)
