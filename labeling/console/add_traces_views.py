"""Curator console: adding traces to a session, by filter, by selection or as a sample.

From a session (`session_add_traces`) or from a trace list's "Add to session…"
(`add_to_session`, which chooses or creates the session). The filter is the explorer's own
(`traces.filters`), so a trace list's URL picks the same traces here. Objects are fetched
through `labeling.console.views`' access helpers.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.access import curator_required
from accounts.types import HtmxHttpRequest
from labeling import services, session_items
from labeling.console.forms import NEW_SESSION, AddTracesForm
from labeling.console.views import (
    _page,
    _query_without,
    _service_error,
    get_experiment_for_curator,
    get_session_for_curator,
)
from labeling.models import Item, LabelingSchema, LabelingSession, SessionStatus
from traces.filters import TraceFilterForm, filter_traces, label_columns
from traces.models import Experiment, Trace

TRACES_PER_PAGE = 50


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
) -> tuple[LabelingSession, session_items.AddResult]:
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
            result = session_items.add_traces_by_id(session=target, trace_ids=selected)
        elif action == "all":
            result = session_items.add_matching_traces(session=target, traces=matching)
        else:
            result = session_items.add_trace_sample(
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
