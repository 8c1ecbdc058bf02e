"""Curator console: a labeling session's settings and dashboard (/console/sessions/…).

Creating a session (its experiment chosen first), editing it, its dashboard (progress, labelers,
flagged items, items; the `dashboard-live` partial refreshes itself while open) and removing an
item. Objects are fetched through `labeling.console.views`' access helpers.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import curator_required
from accounts.types import HtmxHttpRequest
from labeling import services, session_items
from labeling.console.forms import ExperimentChoiceForm, SessionForm
from labeling.console.views import (
    _page,
    _query_without,
    _service_error,
    get_experiment_for_curator,
    get_item_for_curator,
    get_session_for_curator,
)
from labeling.models import Assignment, AssignmentState, Item, ItemState, LabelingSession
from labeling.progress import item_counts, labeler_figures
from traces.models import Experiment, Trace

ITEMS_PER_PAGE = 50
# The dashboard refreshes itself this often while open.
DASHBOARD_POLL_SECONDS = 5


@require_GET
@curator_required
def session_new(request: HtmxHttpRequest) -> HttpResponse:
    """Pick the experiment of a new session (skipped when there is only one)."""
    form = ExperimentChoiceForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return redirect("console:session_create", form.cleaned_data["experiment"].pk)
    experiments = form.fields["experiment"].queryset
    if not form.is_bound and experiments.count() == 1:
        return redirect("console:session_create", experiments.get().pk)
    return render(request, "labeling/console/session_new.html", {"form": form})


def _session_form_page(
    request: HtmxHttpRequest,
    *,
    experiment: Experiment,
    session: LabelingSession | None,
) -> HttpResponse:
    # The form works on its own copy, so a rejected edit does not show in the page header.
    instance = LabelingSession.objects.get(pk=session.pk) if session else LabelingSession()
    form = SessionForm(
        request.POST if request.method == "POST" else None,
        instance=instance,
        experiment=experiment,
    )
    if request.method == "POST" and form.is_valid():
        try:
            if session is None:
                session = services.create_session(
                    experiment=experiment, fields=form.fields_for_service(), user=request.user
                )
                messages.success(
                    request, f"Session “{session.name}” created. Now add traces to it."
                )
            else:
                session = services.update_session(session=session, fields=form.fields_for_service())
                messages.success(request, f"Session “{session.name}” saved.")
        except ValidationError as error:
            _service_error(form, error)
        else:
            return redirect("console:session_detail", session.pk)
    context = {"experiment": experiment, "session": session, "form": form}
    return render(request, "labeling/console/session_form.html", context)


@require_http_methods(["GET", "POST"])
@curator_required
def session_create(request: HtmxHttpRequest, experiment_pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    return _session_form_page(request, experiment=experiment, session=None)


@require_http_methods(["GET", "POST"])
@curator_required
def session_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    session = get_session_for_curator(request, pk)
    return _session_form_page(request, experiment=session.experiment, session=session)


@require_GET
@curator_required
def session_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The session dashboard: progress, labelers, flagged items, items. The `dashboard-live`
    partial refreshes itself every few seconds while the page is open and visible."""
    session = get_session_for_curator(request, pk)
    now = timezone.now()
    state = request.GET.get("state", "")
    if state not in ItemState.values:
        state = ""
    items = (
        Item.objects.filter(session=session)
        .only("pk", "position", "state", "session_id", "trace_id", "adjudicated_at")
        .prefetch_related(
            # A second query for the page's traces: joining first would touch every item.
            Prefetch(
                "trace", queryset=Trace.objects.only("pk", "trace_id", "request_preview", "state")
            ),
            Prefetch(
                "assignments",
                queryset=Assignment.objects.select_related("labeler")
                .only(
                    "pk",
                    "item_id",
                    "state",
                    "lease_expires_at",
                    "flagged",
                    "labeler__username",
                )
                .order_by("claimed_at", "pk"),
            ),
        )
        .order_by("position", "pk")
    )
    if state:
        items = items.filter(state=state)
    items_page = _page(request, items, ITEMS_PER_PAGE)
    for item in items_page:
        assignments = list(item.assignments.all())
        item.submitted = [a for a in assignments if a.state == AssignmentState.SUBMITTED]
        item.reserved = [
            a
            for a in assignments
            if a.state == AssignmentState.CLAIMED
            and a.lease_expires_at
            and a.lease_expires_at > now
        ]
        item.skips = [a for a in assignments if a.state == AssignmentState.SKIPPED]
        item.is_flagged = any(a.flagged for a in assignments)
        item.removable = not item.submitted and not item.reserved
    flagged = list(
        Assignment.objects.filter(item__session=session, flagged=True)
        .select_related("labeler", "item__trace")
        .only(
            "pk",
            "flag_reason",
            "last_active_at",
            "labeler__username",
            "item__position",
            "item__trace__trace_id",
        )
        .order_by("-last_active_at", "-pk")[:50]
    )
    progress = item_counts(session.items.all())
    context = {
        "session": session,
        "progress": progress,
        "labelers": labeler_figures(session, now),
        "flagged": flagged,
        "items": items_page,
        "state": state,
        "states": ItemState.choices,
        "page_query": _query_without(request, "page"),
        "poll_seconds": DASHBOARD_POLL_SECONDS,
        "now": now,
    }
    if not request.htmx:
        context["schemas"] = list(
            session.schemas.order_by("sessionschema__position", "sessionschema__id").only(
                "pk", "name", "title", "input_type", "archived", "experiment_id"
            )
        )
        context["labeler_names"] = [row.user.username for row in context["labelers"]]
    template = "labeling/console/session_detail.html"
    return render(request, f"{template}#dashboard-live" if request.htmx else template, context)


@require_POST
@curator_required
def item_remove(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    session = get_session_for_curator(request, pk)
    item = get_item_for_curator(request, session, item_pk)
    try:
        session_items.remove_items(session=session, item_ids=[item.pk])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Item {item.position} removed from the session.")
    url = reverse("console:session_detail", args=[session.pk])
    back = request.POST.get("back", "")
    if back.startswith("?"):  # the dashboard's filter and page, re-encoded: never a new URL
        query = QueryDict(back[1:]).urlencode()
        url += f"?{query}" if query else ""
    return HttpResponseRedirect(url)
