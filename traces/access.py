"""Who may see and change what in the trace explorer: every fetch in a view goes through here.

For now every signed-in user may browse every active experiment and its traces; labeling
sessions will narrow what labelers see, and that change belongs in these functions only.
Changing a label: curators (staff) may change any; others only the HUMAN labels they made.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from traces.models import (
    Assessment,
    Experiment,
    ExperimentQuerySet,
    SourceType,
    Trace,
    TraceQuerySet,
)

User = AbstractBaseUser | AnonymousUser


def visible_experiments(user: User) -> ExperimentQuerySet:
    return Experiment.objects.active()


def visible_traces(user: User) -> TraceQuerySet:
    return Trace.objects.filter(experiment__lifecycle_stage="active")


def get_experiment_for_user(request: HttpRequest, experiment_id: int) -> Experiment:
    try:
        return visible_experiments(request.user).get(pk=experiment_id)
    except Experiment.DoesNotExist:
        raise Http404("No such experiment.") from None


def get_trace_for_user(request: HttpRequest, trace_id: str) -> Trace:
    """The trace (with its experiment), or 404 when it does not exist or is not visible."""
    try:
        return visible_traces(request.user).select_related("experiment").get(trace_id=trace_id)
    except Trace.DoesNotExist:
        raise Http404("No such trace.") from None


def get_assessment_for_user(request: HttpRequest, trace: Trace, assessment_id: str) -> Assessment:
    try:
        return Assessment.objects.get(trace=trace, assessment_id=assessment_id)
    except Assessment.DoesNotExist:
        raise Http404("No such label on this trace.") from None


def can_change_assessment(user: User, assessment: Assessment) -> bool:
    """Curators change any label; everyone else only the human labels they made themselves."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    return (
        assessment.source_type == SourceType.HUMAN and assessment.source_id == user.get_username()
    )


def get_changeable_assessment(request: HttpRequest, trace: Trace, assessment_id: str) -> Assessment:
    """The current label, if this user may edit or delete it: 404 if it is missing or was
    replaced since, 403 if it is not theirs."""
    assessment = get_assessment_for_user(request, trace, assessment_id)
    if not assessment.valid:
        raise Http404("This label was changed since; reload the trace to see its current value.")
    if not can_change_assessment(request.user, assessment):
        raise PermissionDenied("You can change only the labels you made.")
    return assessment
