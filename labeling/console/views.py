"""Curator console (/console/): labeling schemas, labeling sessions, adding traces, people.

Every view goes through `accounts.access.curator_required` (curators only: others get 403,
anonymous users the login page) and fetches objects through the `get_*_for_curator` helpers,
which 404 for objects that do not exist or belong to another experiment (and refuse anyone who
is not a curator, by the same `accounts.access.is_curator` rule).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services as accounts_services
from accounts.access import curator_required, is_curator
from accounts.types import HtmxHttpRequest
from labeling import services
from labeling.console.forms import (
    NEW_SESSION,
    AddTracesForm,
    ExperimentChoiceForm,
    LabelerCreateForm,
    LabelerPasswordForm,
    SchemaForm,
    SessionForm,
)
from labeling.forms import Question
from labeling.models import (
    Answer,
    Assignment,
    AssignmentState,
    Item,
    ItemState,
    LabelingSchema,
    LabelingSession,
    SessionSchema,
    SessionStatus,
)
from traces.filters import TraceFilterForm, filter_traces, label_columns
from traces.models import Experiment, LifecycleStage, Span, Trace

SESSIONS_PER_PAGE = 25
ITEMS_PER_PAGE = 50
TRACES_PER_PAGE = 50
ANSWERS_PER_PAGE = 25
PEOPLE_PER_PAGE = 100
# The dashboard refreshes itself this often while open.
DASHBOARD_POLL_SECONDS = 5


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
    page.object_list = page.object_list.with_progress()
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


# --- schemas -------------------------------------------------------------------------------------


@require_GET
@curator_required
def schemas(request: HtmxHttpRequest) -> HttpResponse:
    """Experiments, to pick whose schemas to manage."""
    experiments = (
        Experiment.objects.active()
        .order_by("name")
        .annotate(
            n_schemas=_count_subquery(LabelingSchema.objects.filter(archived=False), "experiment"),
            n_archived=_count_subquery(LabelingSchema.objects.filter(archived=True), "experiment"),
            n_sessions=_count_subquery(LabelingSession.objects.all(), "experiment"),
        )
    )
    return render(request, "labeling/console/schemas.html", {"experiments": experiments})


@require_GET
@curator_required
def schema_list(request: HtmxHttpRequest, experiment_pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    show_archived = request.GET.get("archived") == "1"
    rows = (
        LabelingSchema.objects.filter(experiment=experiment, archived=show_archived)
        .annotate(
            n_answers=_count_subquery(Answer.objects.all(), "schema"),
            n_sessions=_count_subquery(SessionSchema.objects.all(), "schema"),
        )
        .order_by("name")
    )
    archived_count = LabelingSchema.objects.filter(
        experiment=experiment, archived=not show_archived
    ).count()
    context = {
        "experiment": experiment,
        "schemas": rows,
        "show_archived": show_archived,
        "other_count": archived_count,
    }
    return render(request, "labeling/console/schema_list.html", context)


def _preview_question(form: SchemaForm) -> Question | None:
    """The question as a labeler will see it, built from the posted (unsaved) schema."""
    schema = form.preview_schema()
    if schema is None:
        return None
    span = None
    if schema.target_span_type:
        span = Span(span_id="0" * 16, name="example span", span_type=schema.target_span_type)
    return Question(schema=schema, spec=schema.spec, span=span, number=1)


def _schema_form_page(
    request: HtmxHttpRequest,
    *,
    experiment: Experiment,
    schema: LabelingSchema | None,
) -> HttpResponse:
    locked = schema is not None and services.schema_is_answered(schema)
    answer_count = Answer.objects.filter(schema=schema).count() if locked else 0
    if request.method == "POST":
        form = SchemaForm(request.POST, experiment=experiment, instance=schema, locked=locked)
        valid = form.is_valid()
        if "_preview" in request.POST:
            context = {"form": form, "question": _preview_question(form), "preview_only": True}
            if request.htmx:
                return render(request, "labeling/console/schema_form.html#schema-preview", context)
        elif valid:
            try:
                if schema is None:
                    schema = services.create_schema(
                        experiment=experiment, fields=form.fields_for_service(), user=request.user
                    )
                    messages.success(request, f"Schema “{schema.name}” created.")
                else:
                    changed = services.update_schema(
                        schema=schema, fields=form.fields_for_service()
                    )
                    schema.refresh_from_db()
                    messages.success(
                        request,
                        f"Schema “{schema.name}” saved (version {schema.version})."
                        if changed
                        else "Nothing changed.",
                    )
            except ValidationError as error:
                _service_error(form, error)
            else:
                return redirect("console:schema_detail", experiment.pk, schema.pk)
    else:
        form = SchemaForm(experiment=experiment, instance=schema, locked=locked)
    question = _preview_question(form) if form.is_bound else _initial_preview(form, schema)
    context = {
        "experiment": experiment,
        "schema": schema,
        "form": form,
        "question": question,
        "locked": locked,
        "answer_count": answer_count,
    }
    return render(request, "labeling/console/schema_form.html", context)


def _initial_preview(form: SchemaForm, schema: LabelingSchema | None) -> Question | None:
    if schema is not None:
        span = None
        if schema.target_span_type:
            span = Span(span_id="0" * 16, name="example span", span_type=schema.target_span_type)
        return Question(schema=schema, spec=schema.spec, span=span, number=1)
    # A new schema: preview the default (pass / fail) question.
    probe = SchemaForm(
        {
            "name": "new",
            "kind": "feedback",
            "title": "Your question",
            "input_type": "pass_fail",
            "positive_label": "Pass",
            "negative_label": "Fail",
        },
        experiment=form.experiment,
    )
    probe.is_valid()
    return _preview_question(probe)


@require_http_methods(["GET", "POST"])
@curator_required
def schema_create(request: HtmxHttpRequest, experiment_pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    return _schema_form_page(request, experiment=experiment, schema=None)


@require_http_methods(["GET", "POST"])
@curator_required
def schema_edit(request: HtmxHttpRequest, experiment_pk: int, pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    schema = get_schema_for_curator(request, experiment, pk)
    return _schema_form_page(request, experiment=experiment, schema=schema)


@require_GET
@curator_required
def schema_detail(request: HtmxHttpRequest, experiment_pk: int, pk: int) -> HttpResponse:
    """A schema: the question as labelers see it, its versions, and every answer with the
    version it answered."""
    experiment = get_experiment_for_curator(request, experiment_pk)
    schema = get_schema_for_curator(request, experiment, pk)
    per_version = dict(
        Answer.objects.filter(schema=schema)
        .order_by()
        .values("schema_version")
        .annotate(n=Count("pk"))
        .values_list("schema_version", "n")
    )
    versions = list(schema.versions.order_by("-version"))
    for version in versions:
        version.answer_count = per_version.get(version.version, 0)
    answers = (
        Answer.objects.filter(schema=schema)
        .select_related("assessment", "assignment__labeler", "assignment__item__session")
        .only(
            "pk",
            "schema_version",
            "span_id",
            "created_at",
            "assessment__value",
            "assessment__rationale",
            "assessment__valid",
            "assessment__trace_id",
            "assignment__labeler__username",
            "assignment__item__session__name",
            "assignment__item__trace_id",
        )
        .order_by("-created_at", "-pk")
    )
    sessions = list(
        LabelingSession.objects.filter(sessionschema__schema=schema).only("pk", "name", "status")
    )
    answers_page = _page(request, answers, ANSWERS_PER_PAGE)
    trace_ids = dict(
        Trace.objects.filter(
            pk__in={answer.assignment.item.trace_id for answer in answers_page}
        ).values_list("pk", "trace_id")
    )
    for answer in answers_page:
        answer.trace_label = trace_ids.get(answer.assignment.item.trace_id, "")
    span = None
    if schema.target_span_type:
        span = Span(span_id="0" * 16, name="example span", span_type=schema.target_span_type)
    context = {
        "experiment": experiment,
        "schema": schema,
        "question": Question(schema=schema, spec=schema.spec, span=span, number=1),
        "versions": versions,
        "answer_total": sum(per_version.values()),
        "answers": answers_page,
        "sessions": sessions,
        "page_query": _query_without(request, "page"),
    }
    return render(request, "labeling/console/schema_detail.html", context)


@require_POST
@curator_required
def schema_archive(request: HtmxHttpRequest, experiment_pk: int, pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    schema = get_schema_for_curator(request, experiment, pk)
    archived = request.POST.get("archived") != "0"
    services.set_schema_archived(schema=schema, archived=archived)
    if archived:
        messages.success(
            request,
            f"Schema “{schema.name}” archived: it keeps its answers and stays in its sessions, "
            "but is no longer offered for new ones.",
        )
    else:
        messages.success(request, f"Schema “{schema.name}” restored.")
    return redirect("console:schema_detail", experiment.pk, schema.pk)


@require_POST
@curator_required
def schema_delete(request: HtmxHttpRequest, experiment_pk: int, pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    schema = get_schema_for_curator(request, experiment, pk)
    try:
        services.delete_schema(schema=schema)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("console:schema_detail", experiment.pk, schema.pk)
    messages.success(request, f"Schema “{schema.name}” deleted.")
    return redirect("console:schema_list", experiment.pk)


# --- sessions ------------------------------------------------------------------------------------


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
    progress = session.items.state_counts()
    context = {
        "session": session,
        "progress": progress,
        "labelers": session.labeler_progress(now),
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
        services.remove_items(session=session, item_ids=[item.pk])
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


# --- adding traces -------------------------------------------------------------------------------


def _add_traces_page(
    request: HtmxHttpRequest,
    *,
    experiment: Experiment,
    session: LabelingSession | None,
) -> HttpResponse:
    """Pick traces by filter (count shown before confirming), by selection, or as a random
    sample, and add them to `session` (or to a session chosen or created here).

    The filter always comes from the query string, so a trace list's URL works as is; a POST
    carries `trace_id` values (a selection) and, from our own buttons, `action`.
    """
    schema_names = list(
        LabelingSchema.objects.filter(experiment=experiment).values_list("name", flat=True)
    )
    filters, matching, filter_query = _trace_filter(request, experiment, schema_names)
    sessions = []
    if session is None:
        sessions = list(
            LabelingSession.objects.filter(experiment=experiment)
            .exclude(status=SessionStatus.CLOSED)
            .only("pk", "name", "status")
            .order_by("-created_at")
        )
    # Row checkboxes post `trace_id` here and `trace` on the trace list.
    selected = [
        trace_id
        for trace_id in [*request.POST.getlist("trace_id"), *request.POST.getlist("trace")]
        if trace_id and len(trace_id) < 100
    ]
    data = request.POST if "action" in request.POST else None
    initial = {"session": request.GET.get("session", "")}
    form = AddTracesForm(data, sessions=sessions, fixed_session=session, initial=initial)
    if data is not None and form.is_valid():
        action = form.cleaned_data["action"]
        target = form.cleaned_data["target"]
        try:
            result = _add(
                request,
                form=form,
                experiment=experiment,
                target=target,
                action=action,
                selected=selected,
                matching=matching,
                filters=filters,
            )
        except ValidationError as error:
            _service_error(form, error)
        else:
            target = result[0]
            messages.success(request, result[1].message(target))
            return redirect("console:session_detail", target.pk)

    columns = ("pk", "trace_id", "request_time", "state", "request_preview", "response_preview")
    page = _page(request, matching.only(*columns), TRACES_PER_PAGE)
    target = session
    if target is None and form["session"].value() not in (None, "", NEW_SESSION):
        target = next((s for s in sessions if str(s.pk) == str(form["session"].value())), None)
    in_session: set[int] = set()
    already = 0
    if target is not None:
        in_session = set(
            Item.objects.filter(session=target, trace_id__in=[t.pk for t in page]).values_list(
                "trace_id", flat=True
            )
        )
        already = matching.filter(labeling_items__session=target).count()
    for trace in page:
        trace.in_session = trace.pk in in_session
    matched = page.paginator.count
    context = {
        "experiment": experiment,
        "session": session,
        "target": target,
        "filters": filters,
        "form": form,
        "page": page,
        "matched": matched,
        "already": already,
        "new_count": matched - already,
        "selected": selected,
        "filter_query": filter_query,
        "page_query": _query_without(request, "page"),
        "action_url": request.path + (f"?{filter_query}" if filter_query else ""),
    }
    template = "labeling/console/add_traces.html"
    if request.htmx and request.method == "GET":
        return render(request, f"{template}#trace-picker", context)
    return render(request, template, context)


def _trace_filter(
    request: HtmxHttpRequest, experiment: Experiment, schema_names: list[str]
) -> tuple[TraceFilterForm, Any, str]:
    """The trace list's filter form and its matching traces (the explorer's own filtering, so
    a trace list URL means the same traces here), and the filter as a query string.

    Unlike the list, which shows an invalid field and ignores it, nothing matches while any
    field is invalid: a typo must not turn "add all matching" into "add everything"."""
    columns = label_columns(experiment)
    names = sorted({c.name for c in columns} | set(schema_names), key=str.casefold)
    filters = TraceFilterForm(request.GET, label_names=names)
    filters.label_suffix = ""
    if not filters.is_valid():
        return filters, Trace.objects.none(), ""
    matching = filter_traces(
        Trace.objects.in_experiment(experiment), filters, experiment=experiment, columns=columns
    )
    query = QueryDict(mutable=True)
    for name in filters.fields:
        values = [value for value in request.GET.getlist(name) if value]
        if values and name != "sort":
            query.setlist(name, values)
    return filters, matching, query.urlencode()


def _add(
    request: HtmxHttpRequest,
    *,
    form: AddTracesForm,
    experiment: Experiment,
    target: LabelingSession | None,
    action: str,
    selected: list[str],
    matching: Any,
    filters: TraceFilterForm,
) -> tuple[LabelingSession, services.AddResult]:
    """Run one add action; raises ValidationError (nothing written) when it cannot."""
    if action in ("all", "sample") and not filters.is_valid():
        raise ValidationError("Fix the filter first.", code="filter")
    with transaction.atomic():
        if target is None:
            target = services.create_draft_session(
                experiment=experiment,
                name=form.cleaned_data["new_session_name"],
                user=request.user,
            )
        if action == "selected":
            result = services.add_traces_by_id(session=target, trace_ids=selected)
        elif action == "all":
            result = services.add_matching_traces(session=target, traces=matching)
        else:
            result = services.add_trace_sample(
                session=target, traces=matching, size=form.cleaned_data["size"]
            )
    return target, result


@require_http_methods(["GET", "POST"])
@curator_required
def session_add_traces(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    session = get_session_for_curator(request, pk)
    return _add_traces_page(request, experiment=session.experiment, session=session)


@require_http_methods(["GET", "POST"])
@curator_required
def add_to_session(request: HtmxHttpRequest, experiment_pk: int) -> HttpResponse:
    """ "Add to session…" from a trace list: choose or create the session, then add."""
    experiment = get_experiment_for_curator(request, experiment_pk)
    return _add_traces_page(request, experiment=experiment, session=None)


# --- people --------------------------------------------------------------------------------------


@require_GET
@curator_required
def people(request: HtmxHttpRequest) -> HttpResponse:
    """Labeler accounts with their sessions."""
    labelers = (
        User.objects.filter(groups__name=accounts_services.LABELERS_GROUP, is_staff=False)
        .prefetch_related(
            Prefetch(
                "labeling_sessions",
                queryset=LabelingSession.objects.only("pk", "name", "status").order_by(
                    "-created_at"
                ),
            )
        )
        .order_by("username")
    )
    curators = User.objects.filter(is_staff=True, is_active=True).order_by("username")
    page = _page(request, labelers, PEOPLE_PER_PAGE)
    people_on_page = list(page.object_list)
    done = Assignment.objects.filter(labeler__in=people_on_page).done_by_labeler()
    for person in people_on_page:
        person.n_done = done.get(person.pk, 0)
    page.object_list = people_on_page
    context = {
        "page": page,
        "curators": list(curators.only("pk", "username", "first_name", "last_name")),
        "page_query": _query_without(request, "page"),
    }
    return render(request, "labeling/console/people.html", context)


@require_http_methods(["GET", "POST"])
@curator_required
def person_create(request: HtmxHttpRequest) -> HttpResponse:
    form = LabelerCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = accounts_services.create_labeler(
            username=data["username"],
            password=data["password1"],
            email=data.get("email", ""),
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
        )
        messages.success(
            request,
            f"Labeler “{user.username}” created. Give them their password; they can sign in now.",
        )
        return redirect("console:people")
    return render(request, "labeling/console/person_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@curator_required
def person_password(request: HtmxHttpRequest, user_pk: int) -> HttpResponse:
    person = get_labeler_for_curator(request, user_pk)
    form = LabelerPasswordForm(person, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(
            request,
            f"New password set for “{person.username}”. Their other signed-in sessions ended.",
        )
        return redirect("console:people")
    return render(
        request, "labeling/console/person_password.html", {"form": form, "person": person}
    )


@require_POST
@curator_required
def person_active(request: HtmxHttpRequest, user_pk: int) -> HttpResponse:
    person = get_labeler_for_curator(request, user_pk)
    active = request.POST.get("active") == "1"
    accounts_services.set_labeler_active(user=person, active=active)
    if active:
        messages.success(request, f"“{person.username}” can sign in again.")
    else:
        messages.success(
            request, f"“{person.username}” deactivated: they cannot sign in; their labels stay."
        )
    return redirect("console:people")
