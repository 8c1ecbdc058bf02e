"""The trace explorer: experiments, trace lists, a trace with its spans, and labels on spans.

Pages and their HTMX partials are one template each (`page.html#partial`); every action also
works as a plain link or form post. Objects are fetched through `explorer.access`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from accounts.access import is_curator
from accounts.types import HtmxHttpRequest
from explorer import access
from explorer.forms import AddLabelForm, EditLabelForm
from explorer.paging import count_up_to, paginate
from labeling import services as labeling_services
from traces import services
from traces.filters import SORT_ORDER, LabelColumn, Sort, TraceFilterForm, filter_traces
from traces.models import (
    SPAN_TREE_FIELDS,
    Assessment,
    AssessmentKind,
    AssessmentQuerySet,
    Experiment,
    SourceType,
    Span,
    Trace,
    TraceQuerySet,
    TraceState,
)
from traces.rendering import (
    ValueView,
    attribute_items,
    describe_value,
    parse_events,
    preview_text,
    span_io_for,
)
from traces.spantree import build_span_tree, format_duration_ns
from traces.templatetags.trace_display import label_value_html

PAGE_SIZE = 50
COUNT_CAP = 100_000
FILTERED_COUNT_CAP = 10_000

# --- experiments ---------------------------------------------------------------------------------


@require_GET
def experiment_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every experiment the user may see, with its counts over the traces and labels they may
    see (for curators: all of them). One query."""

    def per_experiment(queryset: Any, value: Any) -> Subquery:
        return Subquery(
            queryset.filter(experiment=OuterRef("pk"))
            .order_by()
            .values("experiment")
            .annotate(value=value)
            .values("value")
        )

    user = request.user
    traces = access.restrict_traces(user, Trace.objects.all())
    labels = access.visible_labels(user)
    experiments = list(
        access.visible_experiments(user)
        .annotate(
            trace_count=per_experiment(traces, Count("pk")),
            labeled_count=per_experiment(labels.filter(valid=True), Count("trace", distinct=True)),
            last_trace_time=Subquery(
                traces.filter(experiment=OuterRef("pk"))
                .order_by("-request_time")
                .values("request_time")[:1]
            ),
            last_label_time=Subquery(
                labels.filter(experiment=OuterRef("pk"))
                .order_by("-last_update_time")
                .values("last_update_time")[:1]
            ),
        )
        .order_by("name")
    )
    for experiment in experiments:
        times = [t for t in (experiment.last_trace_time, experiment.last_label_time) if t]
        experiment.last_activity = max(times) if times else None
        experiment.trace_count = experiment.trace_count or 0
        experiment.labeled_count = experiment.labeled_count or 0
    context = {"experiments": experiments, "is_curator": is_curator(user)}
    return render(request, "explorer/experiment_list.html", context)


# --- trace list ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CellGroup:
    """One trace's current values of one label column, as table-cell markup."""

    html: str
    group_start: bool


@dataclass(slots=True)
class TraceRow:
    """A trace list row, formatted in Python: this loop runs for every row of every page."""

    trace_id: str
    url: str
    request_text: str
    response_text: str
    state_class: str
    state_label: str
    time_iso: str
    time_label: str
    time_title: str
    duration_label: str
    tokens_label: str
    cells: list[CellGroup]


def _cell_title(label: Assessment, value: ValueView) -> str:
    text = value.full if len(value.full) <= 300 else value.full[:300] + "…"
    where = " (on a span)" if label.span_id else ""
    return f"{text}\n— {SourceType(label.source_type).label}, {label.source_id}{where}"


def _tokens(trace: Trace) -> str:
    if trace.total_tokens is not None:
        return f"{trace.total_tokens:,}"
    if trace.input_tokens is None and trace.output_tokens is None:
        return "—"
    return f"{(trace.input_tokens or 0) + (trace.output_tokens or 0):,}"


def _shorten(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows(
    traces: list[Trace], columns: list[LabelColumn], labels: AssessmentQuerySet
) -> list[TraceRow]:
    """Rows with the current labels of these traces (of `labels`: those the user may see), one
    cell per column: one query."""
    index = {(c.kind, c.name): i for i, c in enumerate(columns)}
    values: dict[int, list[list[str]]] = {t.pk: [[] for _ in columns] for t in traces}
    labels = (
        labels.filter(trace__in=[t.pk for t in traces], valid=True)
        .only(
            "trace_id",
            "kind",
            "name",
            "value",
            "error_code",
            "error_message",
            "source_type",
            "source_id",
            "span_id",
        )
        .order_by("create_time", "id")
    )
    for label in labels:
        column = index.get((label.kind, label.name))
        if column is None:
            continue
        value = describe_value(
            label.value, error_code=label.error_code, error_message=label.error_message
        )
        values[label.trace_id][column].append(
            label_value_html(value, title=_cell_title(label, value))
        )
    first_expectation = next(
        (i for i, c in enumerate(columns) if c.kind == AssessmentKind.EXPECTATION), -1
    )
    url_pattern = reverse("explorer:trace", args=["TRACE_ID"])
    states = dict(TraceState.choices)
    rows = []
    for trace in traces:
        moment = timezone.localtime(trace.request_time)
        rows.append(
            TraceRow(
                trace_id=trace.trace_id,
                url=url_pattern.replace("TRACE_ID", quote(trace.trace_id, safe="")),
                request_text=_shorten(preview_text(trace.request_preview)),
                response_text=_shorten(preview_text(trace.response_preview)),
                state_class=trace.state.lower(),
                state_label=states.get(trace.state, trace.state),
                time_iso=moment.isoformat(),
                time_label=f"{moment:%b} {moment.day}, {moment:%H:%M}",
                time_title=f"{moment:%Y-%m-%d %H:%M:%S %Z}",
                duration_label=(
                    "—"
                    if trace.execution_duration is None
                    else format_duration_ns(trace.execution_duration * 1_000_000)
                ),
                tokens_label=_tokens(trace),
                cells=[
                    CellGroup(html=mark_safe(" ".join(cell)), group_start=i == first_expectation)
                    for i, cell in enumerate(values[trace.pk])
                ],
            )
        )
    return rows


LIST_FIELDS = (
    "id",
    "trace_id",
    "experiment_id",
    "request_time",
    "execution_duration",
    "state",
    "request_preview",
    "response_preview",
    "input_tokens",
    "output_tokens",
    "total_tokens",
)


@dataclass
class TraceSearch:
    """An experiment's traces as the list's query string filters them."""

    experiment: Experiment
    columns: list[LabelColumn]
    form: TraceFilterForm
    traces: TraceQuerySet
    labels: AssessmentQuerySet  # the labels the user may see


def _search(request: HtmxHttpRequest, experiment_id: int) -> TraceSearch:
    """The experiment's traces the user may see, as the list's query string filters them."""
    user = request.user
    experiment = access.get_experiment_for_user(request, experiment_id)
    columns = access.visible_label_columns(user, experiment)
    names = sorted({c.name for c in columns}, key=str.casefold)
    form = TraceFilterForm(request.GET, label_names=names)
    form.is_valid()
    labels = access.visible_labels(user)
    traces = filter_traces(
        access.restrict_traces(user, Trace.objects.in_experiment(experiment)),
        form,
        experiment=experiment,
        columns=columns,
        labels=labels,
    )
    return TraceSearch(
        experiment=experiment, columns=columns, form=form, traces=traces, labels=labels
    )


@require_GET
def trace_list(request: HtmxHttpRequest, experiment_id: int) -> HttpResponse:
    search = _search(request, experiment_id)
    experiment, columns, form = search.experiment, search.columns, search.form
    sort = form.cleaned_data.get("sort") or Sort.NEWEST
    page = paginate(
        search.traces.order_by(*SORT_ORDER[Sort(sort)]),
        request.GET.get("page"),
        per_page=PAGE_SIZE,
        fetch=lambda pks: Trace.objects.filter(pk__in=pks).only(*LIST_FIELDS),
    )
    rows = _rows(page.object_list, columns, search.labels)
    query = request.GET.copy()
    query.pop("page", None)
    toggles = {
        "time": Sort.OLDEST if sort == Sort.NEWEST else Sort.NEWEST,
        "duration": Sort.FASTEST if sort == Sort.SLOWEST else Sort.SLOWEST,
    }
    sort_urls = {}
    for key, value in toggles.items():
        changed = query.copy()
        changed["sort"] = value
        sort_urls[key] = "?" + changed.urlencode()
    context = {
        "experiment": experiment,
        "form": form,
        "columns": columns,
        "feedback_columns": [c for c in columns if c.kind == AssessmentKind.FEEDBACK],
        "expectation_columns": [c for c in columns if c.kind == AssessmentKind.EXPECTATION],
        "rows": rows,
        "page": page,
        "is_curator": is_curator(request.user),
        "query": query.urlencode(),
        "sort": sort,
        "sort_urls": sort_urls,
        "count_url": reverse("explorer:trace_count", args=[experiment.pk])
        + ("?" + query.urlencode() if query else ""),
    }
    template = "explorer/trace_list.html"
    return render(request, f"{template}#trace-results" if request.htmx else template, context)


@require_GET
def trace_count(request: HtmxHttpRequest, experiment_id: int) -> HttpResponse:
    """How many traces match the list's filters ("of 1,234 traces"), loaded after the rows.

    Counting stops at 10,000 matches of a filter (each may need its previews or labels
    checked) and at 100,000 traces unfiltered (an index-only count)."""
    search = _search(request, experiment_id)
    cap = FILTERED_COUNT_CAP if search.form.active_count else COUNT_CAP
    count, exact = count_up_to(search.traces, cap)
    context = {"count": count, "count_label": f"{count:,}" if exact else f"{count:,}+"}
    return render(request, "explorer/trace_list.html#trace-count", context)


# --- trace page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelView:
    assessment: Assessment
    value: ValueView
    can_change: bool

    @property
    def is_edited(self) -> bool:
        return self.assessment.overrides_id is not None


def _label_views(request: HtmxHttpRequest, labels: list[Assessment]) -> list[LabelView]:
    return [
        LabelView(
            assessment=label,
            value=describe_value(
                label.value, error_code=label.error_code, error_message=label.error_message
            ),
            can_change=access.can_change_assessment(request.user, label),
        )
        for label in labels
    ]


def _selected_span(trace: Trace, span_id: str | None) -> Span | None:
    """The span named by ?span= (404 if the trace has none such), else the trace's root."""
    spans = Span.objects.filter(trace=trace)
    if span_id:
        span = spans.filter(span_id=span_id).first()
        if span is None:
            raise Http404("This trace has no such span.")
        return span
    return (
        spans.filter(Q(parent_id__isnull=True) | Q(parent_id="")).order_by("start_time_ns").first()
        or spans.order_by("start_time_ns").first()
    )


def _is_root(span: Span | None) -> bool:
    return span is None or not span.parent_id


def _pane_context(
    request: HtmxHttpRequest,
    trace: Trace,
    span: Span | None,
    *,
    labels: list[Assessment] | None = None,
    form: AddLabelForm | None = None,
    announce: str = "",
    highlight: str = "",
) -> dict[str, Any]:
    """What the labels pane needs: the current labels of the selected span (on the root: of
    the trace as a whole too), the experiment's label names and the Add label form."""
    root = _is_root(span)
    if labels is None:
        labels = list(access.trace_labels(request.user, trace).valid())
    if root:
        shown = [a for a in labels if not a.span_id or (span and a.span_id == span.span_id)]
    else:
        shown = [a for a in labels if a.span_id == span.span_id]
    return {
        "trace": trace,
        "span": span,
        "is_root": root,
        "span_param": span.span_id if span else "",
        "labels": _label_views(request, shown),
        "label_names": sorted(
            {c.name for c in access.visible_label_columns(request.user, trace.experiment)},
            key=str.casefold,
        ),
        # Blind mode: only the user's own labels show until they submit the item.
        "blind_session_id": getattr(trace, "blind_session_id", None),
        "add_form": form or AddLabelForm(),
        "announce": announce,
        "highlight": highlight,
    }


# MLflow repeats the payloads in these attributes; the panel shows them already.
HIDDEN_ATTRIBUTES = frozenset({"mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.traceRequestId"})


def _span_context(trace: Trace, span: Span | None, trace_start_ns: int | None) -> dict[str, Any]:
    if span is None:
        return {"span": None}
    start = trace_start_ns if trace_start_ns is not None else span.start_time_ns
    return {
        "span": span,
        "io": span_io_for(span),
        "attributes": attribute_items(span.attributes, hidden=HIDDEN_ATTRIBUTES),
        "events": parse_events(span.events, start_ns=start),
        "span_duration": format_duration_ns(span.duration_ns),
        "span_offset": format_duration_ns(span.start_time_ns - start),
    }


def _trace_page(
    request: HtmxHttpRequest,
    trace: Trace,
    span_id: str | None,
    *,
    form: AddLabelForm | None = None,
) -> HttpResponse:
    """The whole trace page: span tree, span panel and labels pane."""
    labels = list(access.trace_labels(request.user, trace).valid())
    # Light rows (no payloads), as named tuples: model instances would cost more than the
    # whole tree at thousands of spans.
    rows = (
        Span.objects.filter(trace=trace)
        .tree_fields()
        .order_by()
        .values_list(*SPAN_TREE_FIELDS, named=True)
    )
    counts = Counter(a.span_id for a in labels if a.span_id)
    tree = build_span_tree(rows, label_counts=counts)
    if tree.root_span_id:
        tree.by_id[tree.root_span_id].label_count += sum(1 for a in labels if not a.span_id)
    if span_id and tree.get(span_id) is None:
        raise Http404("This trace has no such span.")
    selected_id = span_id or tree.root_span_id
    span = Span.objects.filter(trace=trace, span_id=selected_id).first() if selected_id else None
    context = {
        "experiment": trace.experiment,
        # MLflow's own tags (mlflow.traceName, …) are bookkeeping, not something to read.
        "tags": sorted(
            (k, v) for k, v in (trace.tags or {}).items() if not str(k).startswith("mlflow.")
        ),
        "tree": tree,
        "selected_id": selected_id,
        "request_text": preview_text(trace.request_preview),
        "trace_duration": (
            format_duration_ns(trace.execution_duration * 1_000_000)
            if trace.execution_duration is not None
            else "—"
        ),
        **_span_context(trace, span, tree.start_ns if len(tree) else None),
        **_pane_context(request, trace, span, labels=labels, form=form),
    }
    return render(request, "explorer/trace.html", context)


@require_GET
def trace_detail(request: HtmxHttpRequest, trace_id: str) -> HttpResponse:
    trace = access.get_trace_for_user(request, trace_id)
    span_id = request.GET.get("span") or None
    if request.htmx and not request.htmx.history_restore_request:
        # Selecting a span: only the span panel and its labels change.
        span = _selected_span(trace, span_id)
        root_start = (
            Span.objects.filter(trace=trace)
            .order_by("start_time_ns")
            .values_list("start_time_ns", flat=True)
            .first()
        )
        context = {
            "experiment": trace.experiment,
            "selected_id": span.span_id if span else None,
            **_span_context(trace, span, root_start),
            **_pane_context(request, trace, span),
        }
        return render(request, "explorer/trace.html#span-view", context)
    return _trace_page(request, trace, span_id)


def trace_url(trace: Trace, span_id: str | None = None, anchor: str = "") -> str:
    url = reverse("explorer:trace", args=[trace.trace_id])
    if span_id:
        url += "?" + urlencode({"span": span_id})
    return url + (f"#{anchor}" if anchor else "")


def _pane(request: HtmxHttpRequest, trace: Trace, span: Span | None, **kw: Any) -> HttpResponse:
    response = render(
        request, "explorer/trace.html#assessments", _pane_context(request, trace, span, **kw)
    )
    return reswap(retarget(response, "#assessments"), "outerHTML")


def writing_too_fast(request: HtmxHttpRequest) -> str:
    """The refusal when the user made `settings.LABEL_WRITES_PER_MINUTE` labels (new ones and
    edits) in the last minute, else "": one user cannot flood a trace with labels."""
    limit = settings.LABEL_WRITES_PER_MINUTE
    since = timezone.now() - timedelta(minutes=1)
    recent = Assessment.objects.filter(created_by=request.user.pk, create_time__gte=since)
    if recent.order_by()[:limit].count() < limit:
        return ""
    return (
        f"You changed {limit} labels in the last minute, the most there may be; wait a moment "
        "and save again."
    )


def _source(request: HtmxHttpRequest) -> services.Source:
    return services.Source(
        source_type=SourceType.HUMAN,
        source_id=request.user.get_username(),
        user_id=request.user.pk,
    )


@require_POST
def label_create(request: HtmxHttpRequest, trace_id: str) -> HttpResponse:
    trace = access.get_trace_for_user(request, trace_id)
    span = _selected_span(trace, request.POST.get("span") or None)
    if "change_type" in request.POST:
        # Switching the data type: show the matching value input, keep everything typed.
        form = AddLabelForm(initial=_typed(request))
        if request.htmx:
            return render(request, "components/_label_fields.html#value-field", {"form": form})
        return _trace_page(request, trace, span.span_id if span else None, form=form)
    form = AddLabelForm(request.POST)
    if form.is_valid() and (too_fast := writing_too_fast(request)):
        form.add_error(None, too_fast)
    if form.is_valid():
        data = form.cleaned_data
        target = None if _is_root(span) else span.span_id
        try:
            label = services.log_assessment(
                trace_id=trace.trace_id,
                assessment=services.assessment_class(data["kind"])(
                    name=data["name"],
                    value=data["parsed_value"],
                    rationale=data["rationale"],
                    source=_source(request),
                    span_id=target,
                ),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            message = f"Label “{label.name}” added."
            if not request.htmx:
                messages.success(request, message)
                return redirect(trace_url(trace, span.span_id if span else None, "labels"))
            fresh = AddLabelForm(initial={"kind": data["kind"], "data_type": data["data_type"]})
            return _pane(
                request, trace, span, form=fresh, announce=message, highlight=label.assessment_id
            )
    if request.htmx:
        return _pane(request, trace, span, form=form)
    return _trace_page(request, trace, span.span_id if span else None, form=form)


def _typed(request: HtmxHttpRequest) -> dict[str, str]:
    """What the person typed so far, as initial values of an unbound form (no errors shown)."""
    return {key: request.POST.get(key, "") for key in AddLabelForm.base_fields}


def _edit_form(assessment: Assessment, request: HtmxHttpRequest) -> EditLabelForm:
    auto_id = f"edit-{assessment.assessment_id}-%s"
    if request.method != "POST":
        return EditLabelForm.for_assessment(assessment, auto_id=auto_id)
    if "change_type" in request.POST:
        return EditLabelForm(initial=_typed(request), kind=assessment.kind, auto_id=auto_id)
    return EditLabelForm(request.POST, kind=assessment.kind, auto_id=auto_id)


@require_http_methods(["GET", "POST"])
def label_edit(request: HtmxHttpRequest, trace_id: str, assessment_id: str) -> HttpResponse:
    trace = access.get_trace_for_user(request, trace_id)
    assessment = access.get_changeable_assessment(request, trace, assessment_id)
    params = request.POST if request.method == "POST" else request.GET
    span = _selected_span(trace, params.get("span") or assessment.span_id)
    form = _edit_form(assessment, request)
    if request.method == "POST" and "change_type" in request.POST:
        if request.htmx:
            return render(request, "components/_label_fields.html#value-field", {"form": form})
    elif request.method == "POST" and form.is_valid() and (too_fast := writing_too_fast(request)):
        form.add_error(None, too_fast)
    elif request.method == "POST" and form.is_valid():
        try:
            new = labeling_services.override_assessment(
                trace_id=trace.trace_id,
                assessment_id=assessment.assessment_id,
                value=form.cleaned_data["parsed_value"],
                rationale=form.cleaned_data["rationale"],
                source=_source(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            message = f"Label “{assessment.name}” changed; the previous value is in its history."
            if not request.htmx:
                messages.success(request, message)
                return redirect(trace_url(trace, span.span_id if span else None, "labels"))
            return _pane(request, trace, span, announce=message, highlight=new.assessment_id)
    context = {
        "trace": trace,
        "experiment": trace.experiment,
        "assessment": assessment,
        "form": form,
        "span_param": span.span_id if span else "",
        "back_url": trace_url(trace, span.span_id if span else None, "labels"),
    }
    template = "explorer/label_edit.html"
    return render(request, f"{template}#label-edit" if request.htmx else template, context)


@require_http_methods(["GET", "POST"])
def label_delete(request: HtmxHttpRequest, trace_id: str, assessment_id: str) -> HttpResponse:
    trace = access.get_trace_for_user(request, trace_id)
    assessment = access.get_changeable_assessment(request, trace, assessment_id)
    params = request.POST if request.method == "POST" else request.GET
    span = _selected_span(trace, params.get("span") or assessment.span_id)
    if request.method == "POST":
        restores = assessment.overrides_id is not None
        labeling_services.delete_assessment(
            trace_id=trace.trace_id, assessment_id=assessment.assessment_id
        )
        message = f"Label “{assessment.name}” deleted." + (
            " Its previous value is current again." if restores else ""
        )
        if not request.htmx:
            messages.success(request, message)
            return redirect(trace_url(trace, span.span_id if span else None, "labels"))
        return _pane(request, trace, span, announce=message)
    context = {
        "trace": trace,
        "experiment": trace.experiment,
        "assessment": assessment,
        "value": describe_value(
            assessment.value,
            error_code=assessment.error_code,
            error_message=assessment.error_message,
        ),
        "span_param": span.span_id if span else "",
        "back_url": trace_url(trace, span.span_id if span else None, "labels"),
    }
    template = "explorer/label_delete.html"
    return render(request, f"{template}#label-delete" if request.htmx else template, context)


@require_GET
def label_history(request: HtmxHttpRequest, trace_id: str, assessment_id: str) -> HttpResponse:
    trace = access.get_trace_for_user(request, trace_id)
    assessment = access.get_assessment_for_user(request, trace, assessment_id)
    # Blind mode: only the user's own versions (the chain may hold someone else's edits).
    chain = [
        version
        for version in services.assessment_history(assessment)
        if access.can_see_label(request.user, trace, version)
    ]
    context = {
        "trace": trace,
        "experiment": trace.experiment,
        "assessment": assessment,
        "versions": [
            (
                version,
                describe_value(
                    version.value,
                    error_code=version.error_code,
                    error_message=version.error_message,
                ),
            )
            for version in chain
        ],
        "back_url": trace_url(trace, request.GET.get("span") or assessment.span_id, "labels"),
    }
    template = "explorer/label_history.html"
    return render(request, f"{template}#label-history" if request.htmx else template, context)
