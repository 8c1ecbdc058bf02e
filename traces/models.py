"""Experiments, traces, spans and assessments: MLflow's GenAI tracing data model.

Field names follow MLflow's entities (`mlflow.entities.TraceInfo`, `Span`, `Assessment`) so that the
importer and the MLflow-compatible API map one to one. Writes go through `traces.services`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import connections, models
from django.db.models import Q
from django.db.models.functions import Length
from django.utils import timezone

models.CharField.register_lookup(Length)

NAME_MAX_LENGTH = 250
PREVIEW_MAX_LENGTH = 1000

# Limits of what people and clients write (README, "Limits"). Each is stated once, here or in
# `traces.services` (sizes of JSON values), and checked by the same validator whether the text
# comes from a form, the API or an import: longer input is refused, never cut.
RATIONALE_MAX_LENGTH = 20_000  # LLM judges explain at length; people rarely near it
ERROR_MESSAGE_MAX_LENGTH = 10_000
TAG_VALUE_MAX_LENGTH = 8_000


def new_trace_id() -> str:
    return f"tr-{uuid.uuid4().hex}"


def new_assessment_id() -> str:
    return f"a-{uuid.uuid4().hex}"


class LifecycleStage(models.TextChoices):
    ACTIVE = "active", "Active"
    DELETED = "deleted", "Deleted"


class ExperimentQuerySet(models.QuerySet["Experiment"]):
    def active(self) -> ExperimentQuerySet:
        return self.filter(lifecycle_stage=LifecycleStage.ACTIVE)


class Experiment(models.Model):
    """A named container for one application's traces (MLflow experiment)."""

    name = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    lifecycle_stage = models.CharField(
        max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE
    )
    creation_time = models.DateTimeField(default=timezone.now)
    last_update_time = models.DateTimeField(default=timezone.now)

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(lifecycle_stage__in=LifecycleStage.values),
                name="experiment_lifecycle_stage_valid",
            ),
            models.CheckConstraint(
                condition=Q(name__length__gte=1), name="experiment_name_nonempty"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def experiment_id(self) -> str:
        """MLflow's experiment ids are strings."""
        return str(self.pk)


class TraceState(models.TextChoices):
    OK = "OK", "OK"
    ERROR = "ERROR", "Error"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED", "Unspecified"


class TraceQuerySet(models.QuerySet["Trace"]):
    def in_experiment(self, experiment: Experiment) -> TraceQuerySet:
        return self.filter(experiment=experiment)


class Trace(models.Model):
    """One execution of the application (MLflow TraceInfo V3)."""

    trace_id = models.CharField(max_length=100, unique=True, default=new_trace_id)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="traces")
    request_time = models.DateTimeField(default=timezone.now)
    execution_duration = models.BigIntegerField(
        null=True, blank=True, help_text="Duration of the trace in milliseconds."
    )
    state = models.CharField(max_length=20, choices=TraceState.choices, default=TraceState.OK)
    request_preview = models.TextField(blank=True)
    response_preview = models.TextField(blank=True)
    client_request_id = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    trace_metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    input_tokens = models.BigIntegerField(null=True, blank=True)
    output_tokens = models.BigIntegerField(null=True, blank=True)
    total_tokens = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = TraceQuerySet.as_manager()

    class Meta:
        ordering = ["-request_time", "-id"]
        indexes = [
            models.Index(fields=["experiment", "-request_time", "-id"], name="trace_exp_time_idx"),
            models.Index(
                fields=["experiment", "execution_duration"], name="trace_exp_duration_idx"
            ),
            models.Index(fields=["experiment", "state"], name="trace_exp_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=TraceState.values), name="trace_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(execution_duration__isnull=True) | Q(execution_duration__gte=0),
                name="trace_duration_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return self.trace_id


class SpanStatusCode(models.TextChoices):
    OK = "OK", "OK"
    ERROR = "ERROR", "Error"
    UNSET = "UNSET", "Unset"


class SpanType:
    """MLflow's predefined span types; `Span.span_type` is a free string."""

    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    RETRIEVER = "RETRIEVER"
    TOOL = "TOOL"
    AGENT = "AGENT"
    CHAIN = "CHAIN"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    PARSER = "PARSER"
    MEMORY = "MEMORY"
    UNKNOWN = "UNKNOWN"

    ALL = (
        LLM,
        CHAT_MODEL,
        RETRIEVER,
        TOOL,
        AGENT,
        CHAIN,
        EMBEDDING,
        RERANKER,
        PARSER,
        MEMORY,
        UNKNOWN,
    )


# What a span tree (and its waterfall) needs of each span; the payloads stay in the database.
SPAN_TREE_FIELDS = (
    "span_id",
    "parent_id",
    "name",
    "span_type",
    "start_time_ns",
    "end_time_ns",
    "status_code",
)


class SpanQuerySet(models.QuerySet["Span"]):
    def tree_fields(self) -> SpanQuerySet:
        """Only what a span tree needs: leaves the (possibly large) payloads in the database."""
        return self.only("id", "trace_id", *SPAN_TREE_FIELDS)


class Span(models.Model):
    """One unit of work inside a trace. Ids are hex strings, as MLflow shows them."""

    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="spans")
    span_id = models.CharField(max_length=32)
    parent_id = models.CharField(max_length=32, null=True, blank=True)
    name = models.CharField(max_length=500)
    span_type = models.CharField(max_length=64, default=SpanType.UNKNOWN)
    start_time_ns = models.BigIntegerField()
    end_time_ns = models.BigIntegerField(null=True, blank=True)
    status_code = models.CharField(
        max_length=8, choices=SpanStatusCode.choices, default=SpanStatusCode.UNSET
    )
    status_message = models.TextField(blank=True)
    inputs = models.JSONField(null=True, blank=True)
    outputs = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)

    objects = SpanQuerySet.as_manager()

    class Meta:
        ordering = ["start_time_ns", "id"]
        indexes = [models.Index(fields=["trace", "start_time_ns"], name="span_trace_start_idx")]
        constraints = [
            models.UniqueConstraint(fields=["trace", "span_id"], name="span_unique_id_per_trace"),
            models.CheckConstraint(
                condition=Q(status_code__in=SpanStatusCode.values), name="span_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(end_time_ns__isnull=True)
                | Q(end_time_ns__gte=models.F("start_time_ns")),
                name="span_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.span_id})"

    @property
    def is_root(self) -> bool:
        return not self.parent_id

    @property
    def duration_ns(self) -> int | None:
        if self.end_time_ns is None:
            return None
        return self.end_time_ns - self.start_time_ns

    @property
    def duration_ms(self) -> float | None:
        duration = self.duration_ns
        return None if duration is None else duration / 1_000_000


class AssessmentKind(models.TextChoices):
    FEEDBACK = "feedback", "Feedback"
    EXPECTATION = "expectation", "Expectation"


class SourceType(models.TextChoices):
    HUMAN = "HUMAN", "Human"
    LLM_JUDGE = "LLM_JUDGE", "LLM judge"
    CODE = "CODE", "Code"


class AssessmentQuerySet(models.QuerySet["Assessment"]):
    def valid(self) -> AssessmentQuerySet:
        return self.filter(valid=True)

    def feedback(self) -> AssessmentQuerySet:
        return self.filter(kind=AssessmentKind.FEEDBACK)

    def expectations(self) -> AssessmentQuerySet:
        return self.filter(kind=AssessmentKind.EXPECTATION)

    def on_span(self, span_id: str | None) -> AssessmentQuerySet:
        """On one span; `None` means trace-level assessments."""
        if span_id is None:
            return self.filter(span_id__isnull=True)
        return self.filter(span_id=span_id)

    def kinds_and_names(self, experiment_id: int) -> list[tuple[str, str]]:
        """The distinct (kind, name) pairs of an experiment's assessments, history included.

        On PostgreSQL a recursive query hops through the (experiment, kind, name) index one
        distinct pair at a time (a "loose index scan"), so the cost follows the number of
        names, not the number of assessments (a plain DISTINCT reads them all).
        """
        if connections[self.db].vendor != "postgresql":
            return list(
                self.filter(experiment_id=experiment_id)
                .order_by("kind", "name")
                .values_list("kind", "name")
                .distinct()
            )
        table = connections[self.db].ops.quote_name(self.model._meta.db_table)
        # Raw SQL: the ORM cannot express a recursive CTE (docs/architecture.md, "Raw SQL").
        # Only the (quoted) table name is formatted in; the values are query parameters.
        sql = f"""
            WITH RECURSIVE pairs AS (
                (SELECT kind, name FROM {table} WHERE experiment_id = %s
                 ORDER BY kind, name LIMIT 1)
                UNION ALL
                SELECT next.kind, next.name FROM pairs, LATERAL (
                    SELECT kind, name FROM {table}
                    WHERE experiment_id = %s AND (kind, name) > (pairs.kind, pairs.name)
                    ORDER BY kind, name LIMIT 1
                ) AS next
            )
            SELECT kind, name FROM pairs
        """
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql, [experiment_id, experiment_id])
            return [(kind, name) for kind, name in cursor.fetchall()]


class Assessment(models.Model):
    """A Feedback or an Expectation attached to a trace, optionally to one of its spans.

    Feedback: `value` (number, bool, string, list or dict of those) or an error. Expectation:
    `value` is any JSON value. SQL NULL in `value` means "no value".
    """

    assessment_id = models.CharField(max_length=64, unique=True, default=new_assessment_id)
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="assessments")
    # Denormalised from the trace so per-experiment views (label columns, agreement) need no join.
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assessments")
    span_id = models.CharField(max_length=32, null=True, blank=True)
    kind = models.CharField(max_length=12, choices=AssessmentKind.choices)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    source_type = models.CharField(max_length=12, choices=SourceType.choices)
    source_id = models.CharField(max_length=NAME_MAX_LENGTH, default="default")
    value = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    error_message = models.TextField(blank=True, max_length=ERROR_MESSAGE_MAX_LENGTH)
    stack_trace = models.TextField(blank=True)
    rationale = models.TextField(blank=True, max_length=RATIONALE_MAX_LENGTH)
    metadata = models.JSONField(default=dict, blank=True)
    # The account that made a label in the UI or the review app ("my label" is this, never a
    # match of `source_id`, which API clients may set to anything). None for labels logged
    # through the API, imported, or made by judges and code.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    overrides = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="overridden_by",
        help_text="The assessment this one replaces (it is then no longer valid).",
    )
    valid = models.BooleanField(default=True)
    create_time = models.DateTimeField(default=timezone.now)
    last_update_time = models.DateTimeField(default=timezone.now)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["create_time", "id"]
        indexes = [
            models.Index(fields=["trace", "valid", "name"], name="assessment_trace_valid_idx"),
            models.Index(
                fields=["experiment", "kind", "name"], name="assessment_exp_kind_name_idx"
            ),
            models.Index(fields=["name", "valid"], name="assessment_name_valid_idx"),
            # The experiments page: labeled traces and last label activity per experiment.
            models.Index(
                fields=["experiment", "trace"],
                condition=Q(valid=True),
                name="assessment_exp_trace_valid_idx",
            ),
            models.Index(
                fields=["experiment", "-last_update_time"], name="assessment_exp_updated_idx"
            ),
            # A user's own labels, newest first (ownership, and the rate of their label writes).
            models.Index(
                fields=["created_by", "-create_time"],
                condition=Q(created_by__isnull=False),
                name="assessment_created_by_idx",
            ),
            # Judge-vs-human agreement: the few judges' labels among many human ones.
            models.Index(
                fields=["experiment", "name"],
                condition=Q(source_type__in=["LLM_JUDGE", "CODE"]),
                name="assessment_exp_judge_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=AssessmentKind.values), name="assessment_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(source_type__in=SourceType.values),
                name="assessment_source_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(name__length__gte=1) & Q(name__length__lte=NAME_MAX_LENGTH),
                name="assessment_name_length",
            ),
            # Feedback: a value or an error. Expectation: a value, never an error.
            models.CheckConstraint(
                condition=(
                    Q(kind=AssessmentKind.FEEDBACK) & (Q(value__isnull=False) | ~Q(error_code=""))
                )
                | (Q(kind=AssessmentKind.EXPECTATION) & Q(value__isnull=False) & Q(error_code="")),
                name="assessment_value_semantics",
            ),
            models.CheckConstraint(
                condition=~Q(overrides=models.F("id")), name="assessment_not_self_override"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.assessment_id})"

    @property
    def is_feedback(self) -> bool:
        return self.kind == AssessmentKind.FEEDBACK

    @property
    def is_expectation(self) -> bool:
        return self.kind == AssessmentKind.EXPECTATION

    @property
    def has_error(self) -> bool:
        return bool(self.error_code)


def new_dataset_id() -> str:
    return f"d-{uuid.uuid4().hex}"


def new_dataset_record_id() -> str:
    return f"dr-{uuid.uuid4().hex}"


class EvaluationDataset(models.Model):
    """An MLflow evaluation dataset (`mlflow.genai.datasets`): named records of inputs and
    expectations that `mlflow.genai.evaluate` runs over. Linked to any number of experiments.
    `schema` and `profile` are what MLflow's server derives from the records (field types, the
    record count); writes go through `traces.datasets`."""

    dataset_id = models.CharField(max_length=36, unique=True, default=new_dataset_id)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    tags = models.JSONField(default=dict, blank=True)
    schema = models.JSONField(null=True, blank=True)
    profile = models.JSONField(null=True, blank=True)
    digest = models.CharField(max_length=64, blank=True)
    experiments = models.ManyToManyField(Experiment, related_name="datasets", blank=True)
    created_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    last_updated_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    created_time = models.DateTimeField(default=timezone.now)
    last_update_time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_time", "-id"]
        indexes = [models.Index(fields=["name"], name="dataset_name_idx")]

    def __str__(self) -> str:
        return self.name


class DatasetRecord(models.Model):
    """One record of an evaluation dataset. Records are keyed by their inputs (`input_hash`,
    the SHA-256 of the inputs as sorted JSON): upserting the same inputs again merges the new
    expectations and tags into the record instead of adding a second one, as MLflow does."""

    dataset = models.ForeignKey(EvaluationDataset, on_delete=models.CASCADE, related_name="records")
    record_id = models.CharField(max_length=36, unique=True, default=new_dataset_record_id)
    input_hash = models.CharField(max_length=64)
    inputs = models.JSONField(default=dict)
    outputs = models.JSONField(null=True, blank=True)
    expectations = models.JSONField(null=True, blank=True)
    tags = models.JSONField(null=True, blank=True)
    source = models.JSONField(null=True, blank=True)
    created_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    last_updated_by = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    created_time = models.DateTimeField(default=timezone.now)
    last_update_time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "input_hash"], name="dataset_record_unique_inputs"
            )
        ]

    def __str__(self) -> str:
        return self.record_id
