"""A campaign's pages (/campaigns/<session>/…), for curators and the session's reviewers only
(`get_session_for_lead`): labelers never see how they compare with each other, nor the files
that hold every labeler's answers.

- Agreement figures and per-labeler statistics.
- Disagreements and adjudication. The list is an indexed query of the cells kept as answers
  arrive (`adjudication.disagreement_cells`, `labeling.tallies`); each page then loads the
  answers of its own cells. A cell is settled through one form: a button per labeler's answer
  ("use this answer") or the schema's own input for a new value, with an optional note. With
  HTMX the cell swaps in place; without JS the form posts and redirects back (or re-renders the
  one-cell page with the error).
- The exports page and the three streamed downloads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from accounts.access import is_curator
from accounts.types import HtmxHttpRequest
from labeling.campaign import adjudication, exports, jobs
from labeling.campaign.access import get_session_for_lead
from labeling.campaign.agreement import session_agreement
from labeling.campaign.dataset_sync import sync_session_to_dataset
from labeling.campaign.labelers import labeler_statistics
from labeling.campaign.suggestions import suggestion_figures
from labeling.forms import Question
from labeling.models import Item, Job, JobState, LabelingSession
from labeling.progress import item_counts, labeler_figures
from labeling.results import Cell, SessionQuestion, load_cells, session_questions
from traces.models import Span, Trace

CELLS_PER_PAGE = 20


class CellQuestion(Question):
    """The schema's input for a new final answer. Ids carry the item, since the same question
    appears once per item on a page."""

    item_id: int = 0

    @property
    def html_id(self) -> str:
        return f"settle-{self.item_id}-{self.field_name[2:]}"


@dataclass
class CellView:
    """What the `cell` partial shows: the answers side by side and the settle form."""

    session: LabelingSession
    cell: Cell
    question: CellQuestion
    item_adjudicated: bool = False
    error: str = ""
    note: str = ""
    just_settled: bool = False
    new_value_open: bool = False  # keep "enter a different answer" open to show its error
    trace: Trace | None = None  # what was judged (its request and response), on the list

    @property
    def html_id(self) -> str:
        return f"cell-{self.cell.item_id}-{self.cell.question.schema.pk}-{self.cell.span_id or 't'}"

    @property
    def answers(self) -> list[dict[str, Any]]:
        final = self.cell.final
        key = self.cell.question.key(final.value) if final else None
        return [
            {
                "answer": answer,
                "display": self.cell.question.display(answer.value),
                "is_final": final is not None and self.cell.question.key(answer.value) == key,
            }
            for answer in self.cell.answers
        ]

    @property
    def final_display(self) -> str:
        return self.cell.question.display(self.cell.final.value) if self.cell.final else ""

    @property
    def settle_url(self) -> str:
        url = reverse("campaign:settle", args=[self.session.pk, self.cell.item_id])
        query = f"?question={self.cell.question.schema.pk}"
        if self.cell.span_id:
            query += f"&span={self.cell.span_id}"
        return url + query


def _cell_view(
    session: LabelingSession, cell: Cell, span: Span | None, *, adjudicated: bool
) -> CellView:
    question = CellQuestion(schema=cell.question.schema, spec=cell.question.spec, span=span)
    question.item_id = cell.item_id
    if cell.final is not None:
        question.raw = cell.question.spec.initial(cell.final.value)
    return CellView(session=session, cell=cell, question=question, item_adjudicated=adjudicated)


def _spans(cells: list[Cell]) -> dict[tuple[int, str], Span]:
    """The spans of span cells, one query."""
    wanted = {(cell.trace_pk, cell.span_id) for cell in cells if cell.span_id}
    if not wanted:
        return {}
    spans = Span.objects.filter(
        trace_id__in={trace for trace, _ in wanted}, span_id__in={span for _, span in wanted}
    ).only("pk", "trace_id", "span_id", "name", "span_type", "inputs", "outputs")
    return {(span.trace_id, span.span_id): span for span in spans}


def _traces(cells: list[Cell]) -> dict[int, Trace]:
    """The traces of the cells, with their request and response previews: one query."""
    traces = Trace.objects.filter(pk__in={cell.trace_pk for cell in cells}).only(
        "pk", "trace_id", "request_preview", "response_preview"
    )
    return {trace.pk: trace for trace in traces}


def _selected_question(request: HtmxHttpRequest, questions: list[SessionQuestion]):
    raw = request.GET.get("question", "")
    return next((q for q in questions if str(q.schema.pk) == raw), None)


@require_GET
def disagreement_summary(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The figures and the bulk-accept panel alone: the disagreements page reloads them after
    each settle (`cell-settled`)."""
    session = get_session_for_lead(request, pk)
    context = {"session": session, "summary": adjudication.overview(session)}
    return render(request, "labeling/campaign/disagreements.html#campaign-summary", context)


@require_GET
def disagreements(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Cells where labelers disagree: unsettled first, worst first; filter by question and
    "show settled too"."""
    session = get_session_for_lead(request, pk)
    questions = session_questions(session)
    selected = _selected_question(request, questions)
    show_settled = request.GET.get("settled") == "1"
    summary = adjudication.overview(session)
    rows = adjudication.disagreement_cells(
        session, schema=selected.schema if selected else None, settled=show_settled
    )
    page = Paginator(rows, CELLS_PER_PAGE).get_page(request.GET.get("page"))
    wanted = list(page.object_list)
    cells = {
        (c.item_id, c.question.schema.pk, c.span_id): c
        for c in load_cells(session, questions=questions, item_ids={k[0] for k in wanted})
        if (c.item_id, c.question.schema.pk, c.span_id) in set(wanted)
    }
    adjudicated = set(
        Item.objects.filter(
            pk__in={k[0] for k in wanted}, adjudicated_at__isnull=False
        ).values_list("pk", flat=True)
    )
    spans = _spans(list(cells.values()))
    traces = _traces(list(cells.values())) if cells else {}
    views = []
    for key in wanted:
        cell = cells.get(key)
        if cell is not None:  # an answer changed since the list was read
            span = spans.get((cell.trace_pk, cell.span_id))
            view = _cell_view(session, cell, span, adjudicated=cell.item_id in adjudicated)
            view.trace = traces.get(cell.trace_pk)
            views.append(view)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "session": session,
        "campaign_tab": "disagreements",
        "questions": questions,
        "selected": selected,
        "show_settled": show_settled,
        "summary": summary,
        "page": page,
        "cells": views,
        "page_query": query.urlencode(),
        "next_url": request.get_full_path(),
    }
    template = "labeling/campaign/disagreements.html"
    return render(request, f"{template}#disagreement-list" if request.htmx else template, context)


def _get_cell(
    session: LabelingSession, item: Item, schema_pk: str, span_id: str
) -> tuple[Cell, Span | None]:
    questions = [q for q in session_questions(session) if str(q.schema.pk) == schema_pk]
    if not questions:
        raise Http404("This session does not ask that question.")
    for cell in load_cells(session, questions=questions, item_ids=[item.pk]):
        if cell.span_id == span_id:
            span = _spans([cell]).get((cell.trace_pk, span_id)) if span_id else None
            if span_id and span is None:
                break
            return cell, span
    raise Http404("No such question on this item.")


def _safe_next(request: HtmxHttpRequest, fallback: str) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
        return url
    return fallback


@require_http_methods(["GET", "POST"])
def settle(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """One cell: GET shows it on its own page (a permalink, and where a plain POST with an
    error lands); POST settles it with a labeler's answer (`pick`) or a new value."""
    session = get_session_for_lead(request, pk)
    item = get_object_or_404(Item.objects.select_related("session"), pk=item_pk, session=session)
    source = request.POST if request.method == "POST" else request.GET
    schema_pk = str(source.get("question", ""))
    span_id = str(source.get("span", ""))
    cell, span = _get_cell(session, item, schema_pk, span_id)
    view = _cell_view(session, cell, span, adjudicated=item.is_adjudicated)
    if request.method == "POST":
        note = str(request.POST.get("rationale", "")).strip()
        pick = str(request.POST.get("pick", ""))
        view.note = note
        try:
            if pick:
                adjudication.settle_with_answer(
                    item=item,
                    schema=cell.question.schema,
                    span_id=span_id,
                    assessment_id=pick,
                    adjudicator=request.user,
                    rationale=note,
                )
            else:
                view.new_value_open = True
                view.question.raw = request.POST.getlist(view.question.field_name)
                value = cell.question.spec.clean(view.question.raw)
                if value is None:
                    raise ValidationError("Pick one of the answers, or enter a new one.")
                adjudication.settle_cell(
                    item=item,
                    schema=cell.question.schema,
                    span_id=span_id,
                    value=value,
                    adjudicator=request.user,
                    rationale=note,
                )
        except ValidationError as error:
            view.error = " ".join(error.messages)
        else:
            if not request.htmx:
                messages.success(request, f"Settled “{cell.question.schema.title}”.")
                fallback = reverse("campaign:disagreements", args=[session.pk])
                return redirect(_safe_next(request, fallback) + f"#{view.html_id}")
            item.refresh_from_db()
            cell, span = _get_cell(session, item, schema_pk, span_id)
            view = _cell_view(session, cell, span, adjudicated=item.is_adjudicated)
            view.just_settled = True
    context = {
        "session": session,
        "campaign_tab": "disagreements",
        "view": view,
        "next_url": _safe_next(request, reverse("campaign:disagreements", args=[session.pk])),
    }
    template = "labeling/campaign/settle.html"
    response = render(request, f"{template}#cell" if request.htmx else template, context)
    if view.just_settled:
        trigger_client_event(response, "cell-settled")
    return response


@require_http_methods(["GET", "POST"])
def accept_unanimous(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Bulk accept: GET asks for confirmation with the count, POST records the consensus of
    every item whose labelers all agree as its final answers."""
    session = get_session_for_lead(request, pk)
    if request.method == "POST":
        # A background job (`labeling.campaign.jobs`): its page shows the progress, and
        # closing the browser does not stop it.
        started = jobs.start_accept_unanimous(session=session, user=request.user)
        return redirect("campaign:job", session.pk, started.pk)
    context = {
        "session": session,
        "campaign_tab": "disagreements",
        "pending": adjudication.count_unanimous(session),
        "running": Job.objects.filter(
            session=session, state__in=[JobState.QUEUED, JobState.RUNNING]
        ).first(),
    }
    return render(request, "labeling/campaign/accept_unanimous.html", context)


@require_GET
def job(request: HtmxHttpRequest, pk: int, job_pk: int) -> HttpResponse:
    """A background job's progress; the `job-progress` partial polls itself while it runs
    (and the page refreshes itself without JS)."""
    session = get_session_for_lead(request, pk)
    found = get_object_or_404(Job, pk=job_pk, session=session)
    context = {"session": session, "campaign_tab": "disagreements", "job": found}
    template = "labeling/campaign/job.html"
    return render(request, f"{template}#job-progress" if request.htmx else template, context)


# --- agreement and labelers ----------------------------------------------------------------------


@require_GET
def agreement(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Per question: percent agreement, Krippendorff's alpha, the kappa matrix and judges.
    An HTMX request gets the compact summary the console's session dashboard loads lazily
    (loaded after the page, so the dashboard never waits for it)."""
    session = get_session_for_lead(request, pk)
    context = {"session": session, "results": session_agreement(session)}
    if not request.htmx and session.suggestions:
        context["suggestions"] = suggestion_figures(session)
    template = "labeling/campaign/agreement.html"
    return render(request, f"{template}#agreement-summary" if request.htmx else template, context)


@require_GET
def progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The session's progress, read-only: items by state and each labeler's figures. For the
    session's reviewers (curators have the console's dashboard, with its actions)."""
    session = get_session_for_lead(request, pk)
    now = timezone.now()
    context = {
        "session": session,
        "progress": item_counts(session.items.all()),
        "labelers": labeler_figures(session, now),
        "now": now,
        "campaign_tab": "progress",
    }
    return render(request, "labeling/campaign/progress.html", context)


@require_GET
def labelers(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Per labeler: work done, speed, agreement with the others and with adjudicated answers,
    and a chart of progress over time."""
    session = get_session_for_lead(request, pk)
    statistics = labeler_statistics(session)
    return render(
        request,
        "labeling/campaign/labelers.html",
        {"session": session, "rows": statistics.rows, "chart": statistics.chart},
    )


# --- exports -------------------------------------------------------------------------------------


def _download(lines: Iterator[str], *, content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def exports_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The three downloads with their row counts and what each format holds."""
    session = get_session_for_lead(request, pk)
    context = {
        "session": session,
        "campaign_tab": "exports",
        "counts": exports.export_counts(session),
        "filenames": {
            "csv": exports.export_filename(session, "results.csv"),
            "jsonl": exports.export_filename(session, "results.jsonl"),
            "eval": exports.export_filename(session, "eval-dataset.jsonl"),
        },
        "can_sync": is_curator(request.user),
    }
    return render(request, "labeling/campaign/exports.html", context)


@require_http_methods(["POST"])
def sync_dataset(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Sync the session's evaluation records into the named MLflow evaluation dataset
    (curators: datasets are the API's, which only curators use)."""
    session = get_session_for_lead(request, pk)
    if not is_curator(request.user):
        raise Http404
    try:
        result = sync_session_to_dataset(
            session=session,
            dataset_name=request.POST.get("dataset_name", ""),
            user=request.user.get_username(),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, result.message())
    return redirect("campaign:exports", pk=session.pk)


@require_GET
def export_csv(request: HtmxHttpRequest, pk: int) -> StreamingHttpResponse:
    session = get_session_for_lead(request, pk)
    return _download(
        exports.results_csv(session),
        content_type="text/csv; charset=utf-8",
        filename=exports.export_filename(session, "results.csv"),
    )


@require_GET
def export_jsonl(request: HtmxHttpRequest, pk: int) -> StreamingHttpResponse:
    session = get_session_for_lead(request, pk)
    return _download(
        exports.results_jsonl(session),
        content_type="application/x-ndjson; charset=utf-8",
        filename=exports.export_filename(session, "results.jsonl"),
    )


@require_GET
def eval_dataset(request: HtmxHttpRequest, pk: int) -> StreamingHttpResponse:
    session = get_session_for_lead(request, pk)
    return _download(
        exports.eval_dataset_jsonl(session),
        content_type="application/x-ndjson; charset=utf-8",
        filename=exports.export_filename(session, "eval-dataset.jsonl"),
    )
