"""Curator console (/console/): the sessions list, and what every console view shares.

The console's pages are split by what they manage: `labeling.console.schema_views` (labeling
schemas, per experiment), `session_views` (a session's settings and dashboard),
`add_traces_views` (adding traces to a session) and `people_views` (labeler accounts). They all
use the access helpers and page helpers defined here.

Every view goes through `accounts.access.curator_required` (curators only: others get 403,
anonymous users the login page) and fetches objects through the `get_*_for_curator` helpers,
which 404 for objects that do not exist or belong to another experiment (and refuse anyone who
is not a curator, by the same `accounts.access.is_curator` rule).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts import services as accounts_services
from accounts.access import curator_required, is_curator
from accounts.types import HtmxHttpRequest
from labeling.models import Item, LabelingSchema, LabelingSession, SessionStatus
from labeling.progress import with_item_counts
from traces.models import Experiment, LifecycleStage

SESSIONS_PER_PAGE = 25


# --- access --------------------------------------------------------------------------------------


def get_experiment_for_curator(request: HtmxHttpRequest, pk: int) -> Experiment:
    if not is_curator(request.user):
        raise PermissionDenied("The console is for curators.")
    return get_object_or_404(Experiment.objects.active(), pk=pk)


def get_schema_for_curator(
    request: HtmxHttpRequest, experiment: Experiment, pk: int
) -> LabelingSchema:
    if not is_curator(request.user):
        raise PermissionDenied("The console is for curators.")
    return get_object_or_404(LabelingSchema, experiment=experiment, pk=pk)


def get_session_for_curator(request: HtmxHttpRequest, pk: int) -> LabelingSession:
    if not is_curator(request.user):
        raise PermissionDenied("The console is for curators.")
    return get_object_or_404(
        LabelingSession.objects.select_related("experiment"),
        pk=pk,
        experiment__lifecycle_stage=LifecycleStage.ACTIVE,
    )


def get_item_for_curator(request: HtmxHttpRequest, session: LabelingSession, pk: int) -> Item:
    if not is_curator(request.user):
        raise PermissionDenied("The console is for curators.")
    return get_object_or_404(Item, session=session, pk=pk)


def get_labeler_for_curator(request: HtmxHttpRequest, pk: int) -> User:
    """A labeler account; curators manage labelers only, never staff or superusers."""
    if not is_curator(request.user):
        raise PermissionDenied("The console is for curators.")
    return get_object_or_404(
        User.objects.filter(
            groups__name=accounts_services.LABELERS_GROUP, is_staff=False, is_superuser=False
        ),
        pk=pk,
    )


# --- helpers -------------------------------------------------------------------------------------


def _page(request: HtmxHttpRequest, queryset: Any, per_page: int) -> Page:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _query_without(request: HtmxHttpRequest, *names: str) -> str:
    """The current query string minus `names` (for pagination and filter links)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _count_subquery(queryset: Any, ref: str) -> Coalesce:
    return Coalesce(
        Subquery(
            queryset.filter(**{ref: OuterRef("pk")})
            .order_by()
            .values(ref)
            .annotate(n=Count("pk"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def _service_error(form: Any, error: ValidationError) -> None:
    """Show a service's refusal next to the form field it names, or above the form."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, error.messages)


# --- sessions list -------------------------------------------------------------------------------


@require_GET
@curator_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    """All labeling sessions with their status and progress."""
    experiments = list(Experiment.objects.active().order_by("name").only("pk", "name"))
    sessions = (
        LabelingSession.objects.filter(experiment__lifecycle_stage=LifecycleStage.ACTIVE)
        .select_related("experiment")
        .only("pk", "name", "status", "labels_per_item", "created_at", "experiment__name")
        .order_by("-created_at", "-id")
    )
    status = request.GET.get("status", "")
    if status in SessionStatus.values:
        sessions = sessions.filter(status=status)
    else:
        status = ""
    experiment_id = request.GET.get("experiment", "")
    if experiment_id.isdigit():
        sessions = sessions.filter(experiment_id=int(experiment_id))
    else:
        experiment_id = ""
    page = _page(request, sessions, SESSIONS_PER_PAGE)
    page.object_list = with_item_counts(page.object_list)
    context = {
        "experiments": experiments,
        "page": page,
        "status": status,
        "experiment_id": experiment_id,
        "statuses": SessionStatus.choices,
        "page_query": _query_without(request, "page"),
    }
    template = "labeling/console/index.html"
    return render(request, f"{template}#session-list" if request.htmx else template, context)
