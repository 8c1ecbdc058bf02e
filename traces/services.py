"""Assessment services with MLflow's behaviour (`mlflow.log_feedback`, `override_feedback`, …).

One path logs every assessment: `log_assessment`, with a `Feedback` or an `Expectation`; it is
also the one place that records overrides.

Every write that touches assessments goes through here, whether it comes from the trace explorer,
the review app, the importer or the MLflow-compatible API, so the rules hold everywhere (edits and
deletions of labels that may be labeling answers come through `labeling.services`, which keeps
the answers on the current label):

- a Feedback needs a value or an error; its value is a number, bool, string, or a list / dict of
  those. Default name ``feedback``, default source CODE.
- an Expectation needs a value, any JSON. Default source HUMAN.
- ``source_id`` defaults to ``default``; names are 1-250 characters; ``span_id`` must name a span
  of the trace; stack traces keep their last 1000 characters.
- overriding creates a new assessment and marks the old one not valid; deleting an override makes
  the one it replaced valid again; deleting a missing assessment is a no-op.

Violations raise `django.core.exceptions.ValidationError` with a message a person understands.
"""

from __future__ import annotations

import json
import math
import traceback
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.services import RESERVED_USERNAMES
from traces.models import (
    ERROR_MESSAGE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    RATIONALE_MAX_LENGTH,
    Assessment,
    AssessmentKind,
    SourceType,
    Span,
    Trace,
)

STACK_TRACE_MAX_LENGTH = 1000
STACK_TRACE_TRUNCATION_PREFIX = "[Stack trace is truncated]\n...\n"
# A single assessment value larger than this is refused (it would not be a label any more).
VALUE_MAX_BYTES = 1024 * 1024
# An assessment's metadata, as JSON.
METADATA_MAX_BYTES = 64 * 1024
# How deeply lists and objects may nest in any JSON we take in (assessment values, request
# bodies, import files, span attributes): deeper input is refused (or, for a span attribute
# string, kept as the text it is) before anything recursive reads it.
JSON_MAX_DEPTH = 100

DEFAULT_FEEDBACK_NAME = "feedback"
DEFAULT_SOURCE_ID = "default"
# Source ids that stand for "no one in particular": API clients get them when they name no
# source, so no account may be called that (`accounts.services.validate_username`).
RESERVED_SOURCE_IDS = RESERVED_USERNAMES
assert DEFAULT_SOURCE_ID in RESERVED_SOURCE_IDS


@dataclass(frozen=True)
class Source:
    """Who made an assessment (`mlflow.entities.AssessmentSource`)."""

    source_type: str
    source_id: str = DEFAULT_SOURCE_ID
    # The account behind a label made in the UI or the review app (`Assessment.created_by`);
    # None for API clients, imports, judges and code, whatever their source id says.
    user_id: int | None = None

    def __post_init__(self) -> None:
        source_type = str(self.source_type).upper()
        if source_type not in SourceType.values:
            raise ValidationError(
                f"Unknown source type {self.source_type!r}: use one of "
                f"{', '.join(SourceType.values)}.",
                code="source_type",
            )
        object.__setattr__(self, "source_type", source_type)
        source_id = self.source_id or DEFAULT_SOURCE_ID
        if len(source_id) > NAME_MAX_LENGTH:
            raise ValidationError(
                f"The source id is {len(source_id)} characters long; "
                f"the limit is {NAME_MAX_LENGTH}.",
                code="source_id",
            )
        object.__setattr__(self, "source_id", source_id)


@dataclass(frozen=True)
class AssessmentError:
    """Why a feedback could not be produced (`mlflow.entities.AssessmentError`)."""

    error_code: str
    error_message: str = ""
    stack_trace: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> AssessmentError:
        return cls(
            error_code=type(exc).__name__,
            error_message=str(exc),
            stack_trace="".join(traceback.format_exception(exc)),
        )


@dataclass(frozen=True)
class Feedback:
    """A judgement to log (`mlflow.entities.Feedback`)."""

    name: str = DEFAULT_FEEDBACK_NAME
    value: Any = None
    error: AssessmentError | BaseException | None = None
    rationale: str | None = None
    source: Source | None = None
    metadata: dict[str, Any] | None = None
    span_id: str | None = None
    overrides: str | None = None
    valid: bool = True
    create_time: datetime | None = None
    last_update_time: datetime | None = None
    assessment_id: str | None = None

    kind = AssessmentKind.FEEDBACK
    default_source_type = SourceType.CODE


@dataclass(frozen=True)
class Expectation:
    """Ground truth to log (`mlflow.entities.Expectation`). The value is any JSON value."""

    name: str
    value: Any = None
    rationale: str | None = None
    source: Source | None = None
    metadata: dict[str, Any] | None = None
    span_id: str | None = None
    overrides: str | None = None
    valid: bool = True
    create_time: datetime | None = None
    last_update_time: datetime | None = None
    assessment_id: str | None = None

    kind = AssessmentKind.EXPECTATION
    default_source_type = SourceType.HUMAN


@dataclass(frozen=True)
class FeedbackValue:
    """The new value (or error) of a feedback, for `update_assessment`."""

    value: Any = None
    error: AssessmentError | BaseException | None = None


@dataclass(frozen=True)
class ExpectationValue:
    """The new value of an expectation, for `update_assessment`."""

    value: Any = field(default=None)


# --- validation ----------------------------------------------------------------------------------


def validate_name(name: Any) -> str:
    if not isinstance(name, str):
        raise ValidationError("The name must be text.", code="name")
    name = name.strip()
    if not name:
        raise ValidationError("A name is required.", code="name")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            f"The name is {len(name)} characters long; the limit is {NAME_MAX_LENGTH}.",
            code="name",
        )
    return name


def _limit_text(value: Any, *, what: str, limit: int, code: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"The {what} must be text.", code=code)
    if len(value) > limit:
        raise ValidationError(
            f"The {what} is {len(value):,} characters long; the limit is {limit:,}.", code=code
        )
    return value


def validate_rationale(rationale: Any) -> str:
    """A rationale (a labeler's comment): text of at most `RATIONALE_MAX_LENGTH` characters."""
    return _limit_text(
        rationale, what="rationale", limit=RATIONALE_MAX_LENGTH, code="rationale_length"
    )


def validate_error_message(message: Any) -> str:
    return _limit_text(
        message, what="error message", limit=ERROR_MESSAGE_MAX_LENGTH, code="error_message"
    )


def too_deep(value: Any, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether lists and objects nest more than `limit` levels deep in `value` (no recursion,
    so any depth is safe to ask about)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def depth_message(what: str = "The value") -> str:
    return f"{what} nests lists and objects more than {JSON_MAX_DEPTH} levels deep."


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (bool, int, str))


def _describe(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"the number {value} (not finite)"
    return f"a {type(value).__name__}"


def validate_feedback_value(value: Any) -> Any:
    """A number, bool or string; or a list of those; or a dict of text keys to those."""
    if _is_scalar(value):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            if not _is_scalar(item):
                raise ValidationError(
                    "A feedback list may hold only numbers, booleans and strings; "
                    f"it holds {_describe(item)}.",
                    code="value_type",
                )
        return list(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError("A feedback dictionary needs text keys.", code="value_type")
            if not _is_scalar(item):
                raise ValidationError(
                    "A feedback dictionary may hold only numbers, booleans and strings; "
                    f"{key!r} holds {_describe(item)}.",
                    code="value_type",
                )
        return dict(value)
    raise ValidationError(
        "A feedback value must be a number, a boolean, text, or a list or dictionary of those; "
        f"got {_describe(value)}.",
        code="value_type",
    )


def validate_json_value(value: Any) -> Any:
    """Any JSON value (objects, lists, text, numbers, booleans); not NaN, not too large, not
    too deeply nested."""
    if too_deep(value):
        raise ValidationError(depth_message(), code="value_depth")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"The value cannot be stored as JSON: {exc}.", code="value_type"
        ) from exc
    if len(encoded.encode()) > VALUE_MAX_BYTES:
        raise ValidationError(
            f"The value is {len(encoded.encode()):,} bytes as JSON; "
            f"the limit is {VALUE_MAX_BYTES:,}.",
            code="value_size",
        )
    return json.loads(encoded)


def validate_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise ValidationError("Metadata must be a dictionary with text keys.", code="metadata")
    metadata = validate_json_value(metadata)
    size = len(json.dumps(metadata).encode())
    if size > METADATA_MAX_BYTES:
        raise ValidationError(
            f"The metadata is {size:,} bytes as JSON; the limit is {METADATA_MAX_BYTES:,}.",
            code="metadata_size",
        )
    return metadata


def truncate_stack_trace(stack_trace: str) -> str:
    """Keep the tail of a long stack trace: the innermost frames are the useful ones."""
    if len(stack_trace) <= STACK_TRACE_MAX_LENGTH:
        return stack_trace
    keep = STACK_TRACE_MAX_LENGTH - len(STACK_TRACE_TRUNCATION_PREFIX)
    return STACK_TRACE_TRUNCATION_PREFIX + stack_trace[-keep:]


def _normalise_error(error: AssessmentError | BaseException | None) -> AssessmentError | None:
    if error is None:
        return None
    if isinstance(error, BaseException):
        error = AssessmentError.from_exception(error)
    if not isinstance(error, AssessmentError):
        raise ValidationError("The error must be an exception or an AssessmentError.")
    code = (error.error_code or "").strip()
    if not code:
        raise ValidationError("An error needs an error code.", code="error_code")
    if len(code) > NAME_MAX_LENGTH:
        raise ValidationError(
            f"The error code is {len(code)} characters long; the limit is {NAME_MAX_LENGTH}.",
            code="error_code",
        )
    return AssessmentError(
        error_code=code,
        error_message=validate_error_message(error.error_message),
        stack_trace=truncate_stack_trace(error.stack_trace or ""),
    )


def _check_span(trace: Trace, span_id: str | None) -> str | None:
    if span_id in (None, ""):
        return None
    if (
        not isinstance(span_id, str)
        or not Span.objects.filter(trace=trace, span_id=span_id).exists()
    ):
        raise ValidationError(f"Trace {trace.trace_id} has no span {span_id!r}.", code="span_id")
    return span_id


def _get_trace(trace_id: str) -> Trace:
    try:
        return Trace.objects.get(trace_id=trace_id)
    except Trace.DoesNotExist:
        raise ValidationError(
            f"No trace has the id {trace_id!r}.", code="trace_not_found"
        ) from None


class AssessmentNotFound(ValidationError):
    """The assessment id does not name an assessment of that trace."""


# --- reads ---------------------------------------------------------------------------------------


def get_assessment(*, trace_id: str, assessment_id: str) -> Assessment:
    try:
        return Assessment.objects.select_related("trace").get(
            trace__trace_id=trace_id, assessment_id=assessment_id
        )
    except Assessment.DoesNotExist:
        raise AssessmentNotFound(
            f"Trace {trace_id!r} has no assessment {assessment_id!r}.",
            code="assessment_not_found",
        ) from None


# --- writes --------------------------------------------------------------------------------------


def build_assessment(*, trace: Trace, assessment: Feedback | Expectation) -> Assessment:
    """Validate `assessment` against MLflow's rules and return an unsaved `Assessment`.

    Used by `log_assessment` and by bulk paths (the importer) that save many at once.
    """
    name = validate_name(assessment.name)
    source = assessment.source or Source(source_type=assessment.default_source_type)
    if not isinstance(source, Source):
        raise ValidationError("The source must be an AssessmentSource.", code="source")
    error = None
    if isinstance(assessment, Feedback):
        error = _normalise_error(assessment.error)
        if assessment.value is None and error is None:
            raise ValidationError("A feedback needs a value or an error.", code="value_required")
        value = None if assessment.value is None else validate_feedback_value(assessment.value)
        if value is not None:
            value = validate_json_value(value)
    elif isinstance(assessment, Expectation):
        if assessment.value is None:
            raise ValidationError("An expectation needs a value.", code="value_required")
        value = validate_json_value(assessment.value)
    else:
        raise ValidationError("An assessment must be a Feedback or an Expectation.")
    now = timezone.now()
    create_time = assessment.create_time or now
    fields: dict[str, Any] = {}
    if assessment.assessment_id:
        fields["assessment_id"] = assessment.assessment_id
    return Assessment(
        trace=trace,
        experiment_id=trace.experiment_id,
        span_id=assessment.span_id or None,
        kind=assessment.kind,
        name=name,
        source_type=source.source_type,
        source_id=source.source_id,
        value=value,
        error_code=error.error_code if error else "",
        error_message=error.error_message if error else "",
        stack_trace=error.stack_trace if error else "",
        rationale=validate_rationale(assessment.rationale),
        metadata=validate_metadata(assessment.metadata),
        created_by_id=source.user_id,
        valid=assessment.valid,
        create_time=create_time,
        last_update_time=assessment.last_update_time or create_time,
        **fields,
    )


@transaction.atomic
def log_assessment(*, trace_id: str, assessment: Feedback | Expectation) -> Assessment:
    """Attach a Feedback or an Expectation to a trace (or to one of its spans).

    When `assessment.overrides` names another assessment of the trace, that one is marked not
    valid: the new one replaces it in the current view and the old one stays in the history.
    """
    trace = _get_trace(trace_id)
    row = build_assessment(trace=trace, assessment=assessment)
    row.span_id = _check_span(trace, row.span_id)
    if assessment.overrides:
        try:
            replaced = Assessment.objects.select_for_update().get(
                trace=trace, assessment_id=assessment.overrides
            )
        except Assessment.DoesNotExist:
            raise ValidationError(
                f"Trace {trace_id} has no assessment {assessment.overrides!r} to override.",
                code="overrides",
            ) from None
        if replaced.kind != row.kind:
            raise ValidationError(
                "An expectation cannot override a feedback."
                if row.is_expectation
                else "A feedback cannot override an expectation.",
                code="overrides_kind",
            )
        if not replaced.valid:
            raise ValidationError(
                f"Assessment {replaced.assessment_id} was already replaced by a newer one; "
                "override the current assessment instead.",
                code="overrides_stale",
            )
        row.overrides = replaced
        replaced.valid = False
        replaced.save(update_fields=["valid"])
    row.save()
    return row


def log_assessments(
    *,
    trace: Trace,
    assessments: Sequence[Feedback | Expectation],
    span_ids: Collection[str] | None = None,
) -> list[Assessment]:
    """Attach several new assessments to one trace in one INSERT (`log_assessment`'s rules,
    without overrides). `span_ids`: the trace's span ids the caller has read already (the
    review app builds its questions from them); otherwise one query checks the spans named."""
    if any(assessment.overrides for assessment in assessments):
        raise ValueError("log_assessments logs new assessments; use log_assessment to override.")
    rows = [build_assessment(trace=trace, assessment=assessment) for assessment in assessments]
    named = {row.span_id for row in rows if row.span_id}
    if named:
        known = (
            set(span_ids)
            if span_ids is not None
            else set(
                Span.objects.filter(trace=trace, span_id__in=named).values_list(
                    "span_id", flat=True
                )
            )
        )
        if missing := sorted(named - known):
            raise ValidationError(
                f"Trace {trace.trace_id} has no span {missing[0]!r}.", code="span_id"
            )
    return Assessment.objects.bulk_create(rows)


def assessment_class(kind: str) -> type[Feedback] | type[Expectation]:
    """The dataclass that logs an assessment of `kind` (feedback or expectation)."""
    return Expectation if kind == AssessmentKind.EXPECTATION else Feedback


def replacement(
    old: Assessment,
    *,
    value: Any,
    source: Source | None,
    rationale: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Feedback | Expectation:
    """What overrides `old` when its value is edited (the way the UI and MLflow's
    `override_feedback` do it): the same kind, name and span, a new value, and `overrides`
    naming `old`. Log it with `log_assessment`."""
    return assessment_class(old.kind)(
        name=old.name,
        span_id=old.span_id,
        value=value,
        rationale=rationale,
        source=source,
        metadata=metadata,
        overrides=old.assessment_id,
    )


def override_assessment(
    *,
    trace_id: str,
    assessment_id: str,
    value: Any,
    source: Source | None = None,
    rationale: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Assessment:
    """Edit a label the way the UI does (`mlflow.override_feedback`, for expectations too): a
    new assessment of the same kind, name and span overrides the old one, which stays in the
    history."""
    with transaction.atomic():
        old = get_assessment(trace_id=trace_id, assessment_id=assessment_id)
        return log_assessment(
            trace_id=trace_id,
            assessment=replacement(
                old, value=value, source=source, rationale=rationale, metadata=metadata
            ),
        )


@transaction.atomic
def update_assessment(
    *,
    trace_id: str,
    assessment_id: str,
    name: str | None = None,
    feedback: FeedbackValue | None = None,
    expectation: ExpectationValue | None = None,
    rationale: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Assessment:
    """`mlflow.update_assessment`: change an assessment in place.

    Arguments left as None keep their current value; metadata is merged into the existing
    metadata; a feedback cannot become an expectation or the other way round.
    """
    row = get_assessment(trace_id=trace_id, assessment_id=assessment_id)
    row = Assessment.objects.select_for_update().get(pk=row.pk)
    if feedback is not None and expectation is not None:
        raise ValidationError("Give either a feedback or an expectation value, not both.")
    if feedback is not None and not row.is_feedback:
        raise ValidationError(
            "This assessment is an expectation; it cannot be changed into a feedback.",
            code="type_change",
        )
    if expectation is not None and not row.is_expectation:
        raise ValidationError(
            "This assessment is a feedback; it cannot be changed into an expectation.",
            code="type_change",
        )
    if name is not None:
        row.name = validate_name(name)
    if feedback is not None:
        error = _normalise_error(feedback.error)
        if feedback.value is None and error is None:
            raise ValidationError("A feedback needs a value or an error.", code="value_required")
        row.value = (
            None
            if feedback.value is None
            else validate_json_value(validate_feedback_value(feedback.value))
        )
        row.error_code = error.error_code if error else ""
        row.error_message = error.error_message if error else ""
        row.stack_trace = error.stack_trace if error else ""
    if expectation is not None:
        if expectation.value is None:
            raise ValidationError("An expectation needs a value.", code="value_required")
        row.value = validate_json_value(expectation.value)
    if rationale is not None:
        row.rationale = validate_rationale(rationale)
    if metadata is not None:
        row.metadata = validate_metadata({**row.metadata, **validate_metadata(metadata)})
    row.last_update_time = timezone.now()
    row.save()
    return row


@transaction.atomic
def delete_assessment(*, trace_id: str, assessment_id: str) -> None:
    """`mlflow.delete_assessment`. Deleting an override makes the assessment it replaced valid
    again; an assessment that overrode the deleted one now overrides what the deleted one did,
    so the history chain stays whole. Deleting an assessment that does not exist does nothing."""
    row = (
        Assessment.objects.select_for_update()
        .filter(trace__trace_id=trace_id, assessment_id=assessment_id)
        .first()
    )
    if row is None:
        return
    replaced_id = row.overrides_id
    successors = list(row.overridden_by.all())
    if successors:
        Assessment.objects.filter(pk__in=[s.pk for s in successors]).update(overrides=replaced_id)
    elif replaced_id is not None and row.valid:
        Assessment.objects.filter(pk=replaced_id).update(valid=True)
    row.delete()


def assessment_history(assessment: Assessment) -> list[Assessment]:
    """The overrides chain of `assessment`, newest first: itself, the one it replaced, …"""
    chain = [assessment]
    by_pk = {
        a.pk: a
        for a in Assessment.objects.filter(
            trace_id=assessment.trace_id, name=assessment.name, kind=assessment.kind
        )
    }
    seen = {assessment.pk}
    current = assessment
    while current.overrides_id and current.overrides_id not in seen:
        current = by_pk.get(current.overrides_id) or Assessment.objects.get(pk=current.overrides_id)
        seen.add(current.pk)
        chain.append(current)
    return chain
