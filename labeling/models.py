"""Labeling schemas (the questions), labeling sessions (campaigns), items and assignments.

An item is one trace in one session; an assignment is one labeler's reservation or work on an
item. Answers are ordinary `traces.Assessment` rows (source HUMAN, source id = the labeler's
login); `Answer` links each one to the assignment and the schema version it answered.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Q,
)
from django.utils import timezone

from labeling.inputs import InputSpec, InputType, parse_input
from traces.models import NAME_MAX_LENGTH, Assessment, AssessmentKind, Experiment, Trace

# Limits of what curators and labelers write (README, "Limits"); the forms and services read
# them from here. Options and pass/fail labels are `labeling.inputs`'.
INSTRUCTIONS_MAX_LENGTH = 20_000  # a session's instructions, a question's instruction
TITLE_MAX_LENGTH = 500
REASON_MAX_LENGTH = 2_000  # why a labeler skipped or flagged an item


class LabelingSchemaQuerySet(models.QuerySet["LabelingSchema"]):
    def active(self) -> LabelingSchemaQuerySet:
        return self.filter(archived=False)


class LabelingSchema(models.Model):
    """A question asked of labelers. Its `name` becomes the name of the assessments it yields.

    `input_config` holds the settings of `input_type` (options, bounds, lengths); it is parsed
    into the typed classes of `labeling.inputs` wherever it is used.
    """

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="labeling_schemas"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    kind = models.CharField(
        "type", max_length=12, choices=AssessmentKind.choices, default=AssessmentKind.FEEDBACK
    )
    title = models.CharField(
        max_length=TITLE_MAX_LENGTH, help_text="The question, as labelers read it."
    )
    instruction = models.TextField(
        blank=True, max_length=INSTRUCTIONS_MAX_LENGTH, help_text="Markdown; rendered sanitised."
    )
    enable_comment = models.BooleanField(
        default=False, help_text="Ask labelers for a rationale with their answer."
    )
    target_span_type = models.CharField(
        max_length=64,
        blank=True,
        help_text="Ask about each span of this type (e.g. RETRIEVER) rather than the trace.",
    )
    input_type = models.CharField(max_length=20, choices=InputType.choices)
    input_config = models.JSONField(default=dict, blank=True)
    required = models.BooleanField(
        default=True,
        help_text="Labelers answer it before they submit an item (they may always skip it).",
    )
    version = models.PositiveIntegerField(default=1)
    archived = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = LabelingSchemaQuerySet.as_manager()

    class Meta:
        ordering = ["experiment", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "name"], name="labeling_schema_unique_name"
            ),
            models.CheckConstraint(
                condition=Q(input_type__in=InputType.values), name="labeling_schema_input_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=AssessmentKind.values), name="labeling_schema_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def spec(self) -> InputSpec:
        """The typed input (`labeling.inputs.InputSpec`) described by `input_config`."""
        return parse_input(self.input_type, self.input_config)


class LabelingSchemaVersion(models.Model):
    """A snapshot of a schema as it was at one version, so old answers stay interpretable."""

    schema = models.ForeignKey(LabelingSchema, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["schema", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["schema", "version"], name="schema_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.schema} v{self.version}"


class SessionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class QueueType(models.TextChoices):
    """MLflow's review queue kinds: a custom queue (any name, its own questions and people) or
    a user queue (named after its one labeler; `mlflow.genai.get_or_create_user_queue`)."""

    CUSTOM = "custom", "Custom"
    USER = "user", "User"


class LabelingSessionQuerySet(models.QuerySet["LabelingSession"]):
    def active(self) -> LabelingSessionQuerySet:
        return self.filter(status=SessionStatus.ACTIVE)

    def for_labeler(self, user) -> LabelingSessionQuerySet:
        """Sessions a labeler may work on: active, and the user is assigned."""
        return self.active().filter(labelers=user)

    def open_to(self, user) -> LabelingSessionQuerySet:
        """Active sessions the user is assigned to as a labeler or as a reviewer: whose
        traces they may read in the trace explorer (`explorer.access`). No duplicates."""
        labelers = LabelingSession.labelers.through.objects.filter(user=user)
        reviewers = LabelingSession.reviewers.through.objects.filter(user=user)
        return self.active().filter(
            Q(pk__in=labelers.values("labelingsession_id"))
            | Q(pk__in=reviewers.values("labelingsession_id"))
        )


class LabelingSession(models.Model):
    """A labeling campaign: a queue of traces, the questions to ask, the people who answer."""

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="labeling_sessions"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    instructions = models.TextField(
        blank=True, max_length=INSTRUCTIONS_MAX_LENGTH, help_text="Markdown; rendered sanitised."
    )
    schemas = models.ManyToManyField(
        LabelingSchema, through="SessionSchema", related_name="sessions", blank=True
    )
    labelers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="labeling_sessions", blank=True
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="reviewed_sessions",
        blank=True,
        help_text="Users who may adjudicate and export this session besides curators.",
    )
    labels_per_item = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="How many different people must label each item.",
    )
    reservation_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="How long an opened item stays reserved for its labeler.",
    )
    blind = models.BooleanField(
        default=False,
        help_text="Hide other people's and judges' labels from labelers while they work.",
    )
    suggestions = models.BooleanField(
        default=False,
        help_text="Pre-fill the questions with judges' feedback of the same name, for labelers "
        "to confirm or change (never in blind mode).",
    )
    status = models.CharField(
        max_length=8, choices=SessionStatus.choices, default=SessionStatus.DRAFT
    )
    queue_type = models.CharField(
        max_length=8,
        choices=QueueType.choices,
        default=QueueType.CUSTOM,
        db_default=QueueType.CUSTOM,
        help_text="How MLflow's review-queue API shows the session.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = LabelingSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(labels_per_item__gte=1) & Q(labels_per_item__lte=10),
                name="session_labels_per_item_range",
            ),
            models.CheckConstraint(
                condition=Q(reservation_minutes__gte=1), name="session_reservation_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(queue_type__in=QueueType.values), name="session_queue_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SessionSchema(models.Model):
    """The ordered questions of a session."""

    session = models.ForeignKey(LabelingSession, on_delete=models.CASCADE)
    schema = models.ForeignKey(LabelingSchema, on_delete=models.PROTECT)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["session", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "schema"], name="session_schema_unique")
        ]

    def __str__(self) -> str:
        return f"{self.session} #{self.position}: {self.schema}"


class ItemState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"
    SKIPPED = "skipped", "Skipped"


class ItemQuerySet(models.QuerySet["Item"]):
    def open_to(self, user) -> ItemQuerySet:
        """Items of the active sessions the user is assigned to (labeler or reviewer)."""
        return self.filter(session__in=LabelingSession.objects.open_to(user))

    def blind_for(self, user) -> ItemQuerySet:
        """Items on which `user` may not see other people's or judges' labels yet: items of
        active blind sessions they are assigned to label, which they have not submitted or
        skipped."""
        finished = Assignment.objects.filter(
            item=OuterRef("pk"),
            labeler=user,
            state__in=[AssignmentState.SUBMITTED, AssignmentState.SKIPPED],
        )
        return self.filter(
            session__status=SessionStatus.ACTIVE, session__blind=True, session__labelers=user
        ).exclude(Exists(finished))


class Item(models.Model):
    """One trace in one session.

    `state` and the slot counters are kept in step with the item's assignments by
    `labeling.queue` (and `labeling.services.refresh_item_states`), under the item's row lock
    and in the same transaction as the assignment change. A claim decides on them alone, so a
    claimer that locks an item a moment after another changed it sees the change (see
    docs/architecture.md, "Claiming").
    """

    session = models.ForeignKey(LabelingSession, on_delete=models.CASCADE, related_name="items")
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="labeling_items")
    position = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=12, choices=ItemState.choices, default=ItemState.PENDING)
    # Reservations that were not released (live or lapsed) plus submissions: the slots taken.
    slots_held = models.PositiveSmallIntegerField(default=0, db_default=0)
    submissions = models.PositiveSmallIntegerField(default=0, db_default=0)
    # No later than the earliest lease end of the item's reservations (renewals leave it
    # behind): once it has passed, a reservation may have lapsed, and a claim looks closer.
    lease_floor = models.DateTimeField(null=True, blank=True)
    # How many of its cells bulk accept would settle now (0 unless every answered cell is
    # unanimous and the item is not adjudicated): kept by `labeling.tallies`.
    consensus_cells = models.PositiveSmallIntegerField(default=0, db_default=0)
    adjudicated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["session", "position", "id"]
        indexes = [
            models.Index(fields=["session", "state", "position"], name="item_session_state_idx"),
            # MLflow's review-queue API pages through a session's items, newest first.
            models.Index(fields=["session", "position", "id"], name="item_session_position_idx"),
            # Claiming walks a session's open items in order and stops at the first it may take.
            models.Index(
                fields=["session", "position", "id"],
                condition=~Q(state="complete"),
                name="item_claim_order_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["session", "trace"], name="item_unique_trace"),
            models.CheckConstraint(
                condition=Q(state__in=ItemState.values), name="item_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(submissions__lte=F("slots_held")), name="item_submissions_held"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session} / {self.trace_id}"

    @property
    def is_adjudicated(self) -> bool:
        return self.adjudicated_at is not None


class AssignmentState(models.TextChoices):
    CLAIMED = "claimed", "Reserved"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    RELEASED = "released", "Released"


class AssignmentQuerySet(models.QuerySet["Assignment"]):
    def live(self, now=None) -> AssignmentQuerySet:
        """Reservations that still hold a slot (claimed and not expired)."""
        return self.filter(
            state=AssignmentState.CLAIMED, lease_expires_at__gt=now or timezone.now()
        )

    def submitted(self) -> AssignmentQuerySet:
        return self.filter(state=AssignmentState.SUBMITTED)

    def done_by_labeler(self) -> dict[int, int]:
        """How many items each labeler submitted, in one grouped query."""
        rows = self.submitted().order_by().values("labeler_id").annotate(n=Count("pk"))
        return dict(rows.values_list("labeler_id", "n"))


class Assignment(models.Model):
    """One labeler's reservation of, and work on, one item."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    state = models.CharField(
        max_length=10, choices=AssignmentState.choices, default=AssignmentState.CLAIMED
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.TextField(blank=True, max_length=REASON_MAX_LENGTH)
    flagged = models.BooleanField(default=False)
    flag_reason = models.TextField(blank=True, max_length=REASON_MAX_LENGTH)
    last_active_at = models.DateTimeField(default=timezone.now)
    # Answers typed but not submitted yet (the answer form's fields, as posted), kept so they
    # survive a reload, another device or a lost connection; cleared by the submit.
    draft = models.JSONField(null=True, blank=True)
    draft_saved_at = models.DateTimeField(null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["claimed_at", "id"]
        indexes = [
            models.Index(fields=["labeler", "state"], name="assignment_labeler_state_idx"),
            models.Index(fields=["item", "state"], name="assignment_item_state_idx"),
            # A labeler's last activity in a session (`labeling.progress.labeler_figures`).
            models.Index(fields=["labeler", "-last_active_at"], name="assignment_active_idx"),
            # The few assignments a session's live figures read: reservations and flags.
            models.Index(
                fields=["item"],
                condition=Q(state=AssignmentState.CLAIMED) | Q(flagged=True),
                name="assignment_open_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["item", "labeler"], name="assignment_unique_labeler"),
            models.CheckConstraint(
                condition=Q(state__in=AssignmentState.values), name="assignment_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} ← {self.labeler}"


class Answer(models.Model):
    """Links an assignment's answer to one question to the Assessment that holds it.

    One row per (assignment, schema, span): a second submit or a changed answer updates the
    row to point at the new (overriding) assessment instead of adding a second answer.
    """

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="answers")
    schema = models.ForeignKey(LabelingSchema, on_delete=models.PROTECT, related_name="answers")
    schema_version = models.PositiveIntegerField()
    span_id = models.CharField(max_length=32, blank=True, default="")
    assessment = models.OneToOneField(
        Assessment, on_delete=models.CASCADE, related_name="labeling_answer"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["assignment", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "schema", "span_id"], name="answer_unique_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"{self.assignment}: {self.schema.name}"


class Adjudication(models.Model):
    """The settled (final) answer to one question of one item, chosen by a curator or a
    session reviewer: one of the labelers' answers or a new one.

    The answer itself is a HUMAN `traces.Assessment` (source id: the adjudicator's login; metadata
    `{"adjudicated": true, "labeling_session_id", "adjudicator", "settles": [assessment ids]}`);
    this row ties it to the item and question. Settling the same question again replaces the
    row's assessment (the earlier one is overridden, so the history keeps it).
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="adjudications")
    schema = models.ForeignKey(
        LabelingSchema, on_delete=models.PROTECT, related_name="adjudications"
    )
    span_id = models.CharField(max_length=32, blank=True, default="")
    assessment = models.OneToOneField(
        Assessment, on_delete=models.CASCADE, related_name="adjudication"
    )
    adjudicator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The labelers' assessments this answer settles (their ids), and whether it was accepted
    # as the labelers' unanimous answer (bulk accept) rather than chosen or entered.
    settles = models.JSONField(default=list, blank=True)
    accepted_consensus = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["item", "schema", "span_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "schema", "span_id"], name="adjudication_unique_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item}: {self.schema.name} (adjudicated)"


class CellTally(models.Model):
    """One cell (question of an item, and span) as the results see it, kept by
    `labeling.tallies` in the transaction that changes one of its answers or its final answer.

    `answers` holds the submitted answers' values in submit order (`[[labeler id, value], …]`),
    `final` the final answer (`{"value": …, "accepted": bool}`) or null. The other fields are
    derived from them, so that the disagreements list is an indexed query.
    """

    session = models.ForeignKey(LabelingSession, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="cell_tallies")
    schema = models.ForeignKey(LabelingSchema, on_delete=models.CASCADE, related_name="+")
    span_id = models.CharField(max_length=32, blank=True, default="")
    item_position = models.PositiveIntegerField(default=0)
    answers = models.JSONField(default=list)
    final = models.JSONField(null=True, blank=True)
    answered = models.PositiveSmallIntegerField(default=0)
    unanimous = models.BooleanField(default=False)
    needs_settling = models.BooleanField(default=False)
    settled = models.BooleanField(default=False)
    disagreement = models.FloatField(default=0.0)

    class Meta:
        ordering = ["item", "schema", "span_id"]
        indexes = [
            # The disagreements list: unsettled first, worst first, then in queue order.
            models.Index(
                "session",
                "settled",
                models.F("disagreement").desc(),
                "item_position",
                "item",
                name="cell_tally_disagreements_idx",
                condition=Q(needs_settling=True),
            ),
            models.Index(
                "session",
                "schema",
                "settled",
                models.F("disagreement").desc(),
                "item_position",
                "item",
                name="cell_tally_question_idx",
                condition=Q(needs_settling=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["item", "schema", "span_id"], name="cell_tally_unique")
        ]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.schema_id}/{self.span_id}"


class Tally(models.Model):
    """One running count of a session's results (`labeling.tallies` names the kinds): for a
    question (`question` is its schema's pk) or the session as a whole (0), per labeler (`a`),
    labeler pair (`a` < `b`) or answer value (`key`, a hash of its comparison key). Changed only
    by adding to `n` and `n2`, so concurrent submits never overwrite each other's counts."""

    session = models.ForeignKey(LabelingSession, on_delete=models.CASCADE, related_name="+")
    question = models.IntegerField(default=0)
    kind = models.CharField(max_length=4)
    a = models.IntegerField(default=0)
    b = models.IntegerField(default=0)
    key = models.CharField(max_length=40, blank=True, default="")
    n = models.FloatField(default=0.0)
    n2 = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "question", "kind", "a", "b", "key"], name="tally_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.question}/{self.kind}/{self.a}/{self.b}/{self.key}"


class JobState(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """Long work on a session run by the task worker (`django.tasks`, `manage.py db_worker`),
    with its progress for the page that watches it. The work commits batch by batch, each batch
    with its progress, so what `done` counts is applied and nothing else is."""

    # A running job whose worker has not reported for this long has lost its worker.
    STALE_SECONDS = 120

    kind = models.CharField(max_length=32)
    session = models.ForeignKey(LabelingSession, on_delete=models.CASCADE, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=8, choices=JobState.choices, default=JobState.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=JobState.values), name="job_state_valid")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def lost(self) -> bool:
        """Running, but its worker stopped reporting (it crashed or was killed)."""
        if self.state != JobState.RUNNING or self.heartbeat_at is None:
            return False
        return (timezone.now() - self.heartbeat_at).total_seconds() > self.STALE_SECONDS

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED) or self.lost

    @property
    def percent(self) -> int:
        if self.state == JobState.DONE:
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0
