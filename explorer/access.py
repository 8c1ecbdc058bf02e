"""Who may see and change what in the trace explorer (and on the home page): every fetch and
every list of the explorer goes through here, so the rule lives in one place.

The rule
--------
- **Curators** (staff users) see every active experiment, all its traces and all their labels.
  They are never blinded: they run the campaigns and see the session dashboards anyway.
- **Everyone else** (labelers) sees only the traces that are items of the labeling sessions they
  are assigned to, as a labeler or as a reviewer, **while the session is active**. Draft sessions
  are not open yet and closed ones are over: neither opens any trace (the console's rule
  "labelers see a session only while it is active and they are assigned"). A trace in several
  sessions is visible while any of them qualifies. Experiments are visible when they hold at least
  one such trace, and every count, label column and label name is taken over the visible traces
  only, so nothing about other traces leaks.
- **Blind mode**: on a trace that is an item of an active blind session the user is assigned to
  *label*, and which they have not submitted or skipped yet, they see only their own labels; other
  people's and judges' labels (current and history) stay hidden until they submit (or skip) the
  item in the review app. After that they see every label, as on any other trace.
- Anonymous users see nothing (the login middleware sends them to the login page first).
- Changing a label: curators change any; everyone else only the HUMAN labels they made, on traces
  they may see. Anything the user may not see is a 404, never a 403, so existence does not leak.
- "The labels they made" are those their account made in the explorer or the review app
  (`Assessment.created_by`), never a match of the source id with their username: API clients
  name sources freely (and one that names none gets "default").

Reads for curators are the plain querysets (no extra joins or subqueries); the narrowing for
labelers is a semi-join on the items of their open sessions (`labeling.models`:
`Item.objects.open_to`, `Item.objects.blind_for`).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404, HttpRequest

from accounts.access import User, is_curator
from labeling.models import Item
from traces.filters import LabelColumn, label_columns
from traces.models import (
    Assessment,
    AssessmentQuerySet,
    Experiment,
    ExperimentQuerySet,
    LifecycleStage,
    SourceType,
    Trace,
    TraceQuerySet,
)


def _own(user: User) -> Q:
    """Labels the user's account made in the UI (or the review app): HUMAN, `created_by` them."""
    return Q(source_type=SourceType.HUMAN, created_by=user.pk)


def is_own_label(user: User, assessment: Assessment) -> bool:
    return bool(
        user.is_authenticated
        and assessment.source_type == SourceType.HUMAN
        and assessment.created_by_id is not None
        and assessment.created_by_id == user.pk
    )


# --- experiments and traces ----------------------------------------------------------------------


def visible_experiments(user: User) -> ExperimentQuerySet:
    """Active experiments; for labelers only those holding a trace they may see."""
    experiments = Experiment.objects.active()
    if is_curator(user):
        return experiments
    if not user.is_authenticated:
        return experiments.none()
    return experiments.filter(pk__in=Item.objects.open_to(user).values("trace__experiment_id"))


def restrict_traces(user: User, traces: TraceQuerySet) -> TraceQuerySet:
    """`traces` narrowed to those the user may see. Use it on the traces of an experiment
    already checked with `get_experiment_for_user` (it does not look at the experiment's
    lifecycle). Curators get `traces` back unchanged."""
    if is_curator(user):
        return traces
    if not user.is_authenticated:
        return traces.none()
    return traces.filter(pk__in=Item.objects.open_to(user).values("trace_id"))


def visible_traces(user: User) -> TraceQuerySet:
    """Every trace the user may see, in active experiments."""
    active = Trace.objects.filter(experiment__lifecycle_stage=LifecycleStage.ACTIVE)
    return restrict_traces(user, active)


def get_experiment_for_user(request: HttpRequest, experiment_id: int) -> Experiment:
    try:
        return visible_experiments(request.user).get(pk=experiment_id)
    except Experiment.DoesNotExist:
        raise Http404("No such experiment.") from None


def get_trace_for_user(request: HttpRequest, trace_id: str) -> Trace:
    """The trace (with its experiment), or 404 when it does not exist or is not visible.

    The trace carries `blind_session_id`: the blind session that hides other people's and
    judges' labels on it from this user (see `trace_labels`), or None. Same query either way.
    """
    user = request.user
    traces = visible_traces(user).select_related("experiment")
    curator = is_curator(user)
    if not curator:
        traces = traces.annotate(
            blind_session_id=Subquery(
                Item.objects.blind_for(user)
                .filter(trace=OuterRef("pk"))
                .order_by("session_id")
                .values("session_id")[:1]
            )
        )
    try:
        trace = traces.get(trace_id=trace_id)
    except Trace.DoesNotExist:
        raise Http404("No such trace.") from None
    if curator:
        trace.blind_session_id = None
    return trace


# --- labels --------------------------------------------------------------------------------------


def visible_labels(user: User) -> AssessmentQuerySet:
    """The assessments (history included) the user may see: curators all of them; others those
    on traces they may see, less other people's and judges' labels on traces that blind mode
    hides from them. Scope it to a visible experiment or trace."""
    labels = Assessment.objects.all()
    if is_curator(user):
        return labels
    if not user.is_authenticated:
        return labels.none()
    hidden = Item.objects.blind_for(user).values("trace_id")
    return labels.filter(trace_id__in=Item.objects.open_to(user).values("trace_id")).filter(
        ~Q(trace_id__in=hidden) | _own(user)
    )


def label_kinds_and_names(user: User, experiment: Experiment) -> list[tuple[str, str]]:
    """The distinct (kind, name) pairs of the labels the user may see in an experiment, history
    included (curators: every label of the experiment, by the index-hopping query)."""
    if is_curator(user):
        return Assessment.objects.kinds_and_names(experiment.pk)
    return list(
        visible_labels(user)
        .filter(experiment=experiment)
        .order_by("kind", "name")
        .values_list("kind", "name")
        .distinct()
    )


def visible_label_columns(user: User, experiment: Experiment) -> list[LabelColumn]:
    """The label columns of an experiment's trace list, over the labels the user may see."""
    return label_columns(experiment, label_kinds_and_names(user, experiment))


def labels_hidden(trace: Trace) -> bool:
    """Whether blind mode hides other people's labels on this trace (from `get_trace_for_user`)."""
    return getattr(trace, "blind_session_id", None) is not None


def trace_labels(user: User, trace: Trace) -> AssessmentQuerySet:
    """The labels of a trace (from `get_trace_for_user`) the user may see, history included:
    in blind mode only their own."""
    labels = Assessment.objects.filter(trace=trace)
    if labels_hidden(trace):
        labels = labels.filter(_own(user))
    return labels


def can_see_label(user: User, trace: Trace, assessment: Assessment) -> bool:
    """`trace_labels` for one label already loaded (e.g. the versions in a label's history)."""
    return not labels_hidden(trace) or is_own_label(user, assessment)


def get_assessment_for_user(request: HttpRequest, trace: Trace, assessment_id: str) -> Assessment:
    try:
        return trace_labels(request.user, trace).get(assessment_id=assessment_id)
    except Assessment.DoesNotExist:
        raise Http404("No such label on this trace.") from None


def can_change_assessment(user: User, assessment: Assessment) -> bool:
    """Curators change any label; everyone else only the human labels they made themselves."""
    return is_curator(user) or is_own_label(user, assessment)


def get_changeable_assessment(request: HttpRequest, trace: Trace, assessment_id: str) -> Assessment:
    """The current label, if this user may edit or delete it: 404 if it is missing, hidden or
    was replaced since, 403 if it is not theirs."""
    assessment = get_assessment_for_user(request, trace, assessment_id)
    if not assessment.valid:
        raise Http404("This label was changed since; reload the trace to see its current value.")
    if not can_change_assessment(request.user, assessment):
        raise PermissionDenied("You can change only the labels you made.")
    return assessment
