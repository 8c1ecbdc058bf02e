"""Review app (/review/): labelers work their queues, one item after another.

Pages: the labeler's sessions (home), a session's start page, the item page (the trace and the
session's questions; Submit & next, Skip, Flag, Back), and the finished page. Every fetch goes
through `get_session_for_user` / `get_assignment_for_user`, which 404 for sessions that are not
active or not assigned to the user (curators may open every active session) and for items the
user has not claimed. The queue rules (claiming, leases, submitting) live in `labeling.queue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url

from accounts.types import HtmxHttpRequest
from labeling import queue, rows
from labeling.forms import AnswerSheet, Question
from labeling.models import (
    Answer,
    Assignment,
    AssignmentState,
    Item,
    LabelingSchema,
    LabelingSession,
    SessionSchema,
    SessionStatus,
)
from traces.models import SPAN_TREE_FIELDS, Assessment, SourceType, Span, Trace
from traces.spantree import build_span_tree, format_duration_ns

# --- access --------------------------------------------------------------------------------------


def sessions_for_user(user: Any) -> QuerySet[LabelingSession]:
    """Sessions a user may work on in the review app: active ones they are assigned to;
    curators (staff) may open every active session."""
    if user.is_staff:
        return LabelingSession.objects.active()
    return LabelingSession.objects.for_labeler(user)


def get_session_for_user(request: HtmxHttpRequest, session_pk: int) -> LabelingSession:
    return get_object_or_404(sessions_for_user(request.user), pk=session_pk)


def get_assignment_for_user(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> Assignment:
    """The user's own assignment of an item of a session they may work on; 404 otherwise."""
    # The same rule as `sessions_for_user` (this runs on every item request): one small SQL
    # statement that brings the item, its session and its trace along.
    assignment_t, item_t = Assignment._meta.db_table, Item._meta.db_table
    session_t, trace_t = LabelingSession._meta.db_table, Trace._meta.db_table
    labelers_t = LabelingSession.labelers.through._meta.db_table
    sql = (
        f"SELECT {rows.columns(Assignment, 'a')}, {rows.columns(Item, 'i')}, "
        f"{rows.columns(LabelingSession, 's')}, {rows.columns(Trace, 't')} "
        f"FROM {assignment_t} a INNER JOIN {item_t} i ON i.id = a.item_id "
        f"INNER JOIN {session_t} s ON s.id = i.session_id "
        f"INNER JOIN {trace_t} t ON t.id = i.trace_id "
        "WHERE a.item_id = %s AND a.labeler_id = %s AND i.session_id = %s AND s.status = %s"
    )
    params: list[Any] = [item_pk, request.user.pk, session_pk, SessionStatus.ACTIVE.value]
    if not request.user.is_staff:
        sql += (
            f" AND EXISTS (SELECT 1 FROM {labelers_t} l "
            "WHERE l.labelingsession_id = s.id AND l.user_id = %s)"
        )
        params.append(request.user.pk)
    row = rows.fetch_one(sql, params)
    if row is None:
        raise Http404("No Assignment matches the given query.")
    start = 0
    assignment = rows.instance(Assignment, row, start)
    start += rows.width(Assignment)
    item = rows.instance(Item, row, start)
    start += rows.width(Item)
    item.session = rows.instance(LabelingSession, row, start)
    start += rows.width(LabelingSession)
    item.trace = rows.instance(Trace, row, start)
    assignment.item = item
    assignment.labeler = request.user
    return assignment


def _is_partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def item_url(assignment: Assignment) -> str:
    return reverse(
        "review:item",
        kwargs={"session_pk": assignment.item.session_id, "item_pk": assignment.item_id},
    )


# --- home and session pages ----------------------------------------------------------------------


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The sessions the labeler works on, with their progress."""
    sessions = queue.with_progress(
        sessions_for_user(request.user)
        .select_related("experiment")
        .annotate(
            is_assigned=Exists(
                LabelingSession.labelers.through.objects.filter(
                    labelingsession_id=OuterRef("pk"), user_id=request.user.pk
                )
            )
        )
        .order_by("name", "pk"),
        labeler=request.user,
        remaining=True,
    )
    cards = [{"session": s, "progress": queue.progress_of(s)} for s in sessions]
    # Queues with work for the labeler first.
    cards.sort(key=lambda card: not (card["progress"].remaining or card["session"].has_reservation))
    return render(request, "labeling/review/home.html", {"cards": cards})


@require_GET
def session_start(request: HtmxHttpRequest, session_pk: int) -> HttpResponse:
    """A session's instructions and the labeler's progress, with Start / Continue."""
    session = get_session_for_user(request, session_pk)
    current = queue.own_reservation(session=session, labeler=request.user)
    if current is not None:
        current.item.session = session
    progress = queue.labeler_progress(session=session, labeler=request.user, with_remaining=True)
    previous = queue.previous_assignment(session=session, labeler=request.user)
    return render(
        request,
        "labeling/review/session.html",
        {
            "session": session,
            "current": current,
            "progress": progress,
            "previous": previous,
        },
    )


@require_POST
def next_item(request: HtmxHttpRequest, session_pk: int) -> HttpResponse:
    """Claim the next item (or return to the labeler's own reservation) and go there."""
    session = get_session_for_user(request, session_pk)
    assignment = queue.claim_next_item(session=session, labeler=request.user)
    if assignment is None:
        return redirect("review:done", session_pk=session.pk)
    return redirect(item_url(assignment))


@require_GET
def done(request: HtmxHttpRequest, session_pk: int) -> HttpResponse:
    """Nothing is left for the labeler in this session (or they came here to check)."""
    session = get_session_for_user(request, session_pk)
    return _render_done(request, session)


def _render_done(
    request: HtmxHttpRequest, session: LabelingSession, *, notice: str = ""
) -> HttpResponse:
    current = queue.own_reservation(session=session, labeler=request.user)
    if current is not None:
        current.item.session = session
    context = {
        "session": session,
        "progress": queue.labeler_progress(session=session, labeler=request.user),
        "previous": queue.previous_assignment(session=session, labeler=request.user),
        "current": current,
        "notice": notice,
    }
    template = "labeling/review/done.html"
    return render(request, f"{template}#review-item" if _is_partial(request) else template, context)


# --- the item page -------------------------------------------------------------------------------


@dataclass
class SpanSection:
    """A span that questions are asked about, with those questions."""

    span: Span
    questions: list[Question]


def _schemas(session: LabelingSession) -> list[LabelingSchema]:
    sql = (
        f"SELECT {rows.columns(LabelingSchema, 'q')} FROM {SessionSchema._meta.db_table} l "
        f"INNER JOIN {LabelingSchema._meta.db_table} q ON q.id = l.schema_id "
        "WHERE l.session_id = %s ORDER BY l.position, l.id"
    )
    return [rows.instance(LabelingSchema, row) for row in rows.fetch_all(sql, [session.pk])]


def _spans(assignment: Assignment, schemas: list[LabelingSchema]) -> list[Span]:
    """The spans the page shows: the root span(s) and the spans questions target. When the
    item's trace is not loaded yet (an item just claimed), it comes along with them."""
    item = assignment.item
    targets = sorted({s.target_span_type for s in schemas if s.target_span_type})
    where = "(p.parent_id IS NULL OR p.parent_id = %s"
    params: list[Any] = [""]
    if targets:
        where += f" OR p.span_type IN ({', '.join(['%s'] * len(targets))})"
        params += targets
    where += ") AND p.trace_id = %s"
    params.append(item.trace_id)
    with_trace = not Item.trace.is_cached(item)
    sql = (
        f"SELECT {rows.columns(Span, 'p')}"
        + (f", {rows.columns(Trace, 't')}" if with_trace else "")
        + f" FROM {Span._meta.db_table} p"
        + (f" INNER JOIN {Trace._meta.db_table} t ON t.id = p.trace_id" if with_trace else "")
        + f" WHERE {where} ORDER BY p.start_time_ns, p.id"
    )
    found = rows.fetch_all(sql, params)
    spans = [rows.instance(Span, row) for row in found]
    if not with_trace:
        for span in spans:
            span.trace = item.trace
        return spans
    item.trace = (
        rows.instance(Trace, found[0], rows.width(Span))
        if found
        else Trace.objects.get(pk=item.trace_id)
    )
    for span in spans:
        span.trace = item.trace
    return spans


def _initial(assignment: Assignment) -> dict[tuple[int, str], tuple[Any, str]]:
    if assignment.state != AssignmentState.SUBMITTED:
        return {}
    initial = {}
    for answer in Answer.objects.filter(assignment=assignment).select_related("assessment"):
        label = answer.assessment
        initial[(answer.schema_id, answer.span_id)] = (label.value, label.rationale)
    return initial


def _other_labels(assignment: Assignment, request: HtmxHttpRequest) -> list[Assessment] | None:
    """Other people's and judges' current labels on the trace; None in blind mode."""
    if assignment.item.session.blind:
        return None
    sql = (
        f"SELECT {rows.columns(Assessment, 'x')} FROM {Assessment._meta.db_table} x "
        "WHERE x.trace_id = %s AND x.valid = %s AND NOT (x.source_type = %s AND x.source_id = %s) "
        "ORDER BY x.name, x.span_id, x.create_time"
    )
    params = [
        assignment.item.trace_id,
        True,
        SourceType.HUMAN.value,
        request.user.get_username(),
    ]
    return [rows.instance(Assessment, row) for row in rows.fetch_all(sql, params)]


@dataclass
class ItemPage:
    """What the item page needs besides the assignment; built once per request."""

    schemas: list[LabelingSchema]
    spans: list[Span]


def _page_data(assignment: Assignment, schemas: list[LabelingSchema] | None = None) -> ItemPage:
    schemas = schemas if schemas is not None else _schemas(assignment.item.session)
    return ItemPage(schemas=schemas, spans=_spans(assignment, schemas))


def _sheet_data(assignment: Assignment) -> ItemPage:
    """What checking posted answers needs: the schemas, and the spans questions target (no
    query when no question targets spans)."""
    schemas = _schemas(assignment.item.session)
    targets = {s.target_span_type for s in schemas if s.target_span_type}
    spans = (
        list(
            Span.objects.filter(trace_id=assignment.item.trace_id, span_type__in=targets).order_by(
                "start_time_ns", "id"
            )
        )
        if targets
        else []
    )
    return ItemPage(schemas=schemas, spans=spans)


def _render_item(
    request: HtmxHttpRequest,
    assignment: Assignment,
    *,
    page: ItemPage,
    sheet: AnswerSheet | None = None,
    error: str = "",
    notice: str = "",
    previous: Assignment | None = None,
    slot_lost: bool = False,
    status: int = 200,
) -> HttpResponse:
    session = assignment.item.session
    if sheet is None:
        sheet = AnswerSheet(page.schemas, spans=page.spans, initial=_initial(assignment))
    root_spans = [s for s in page.spans if not s.parent_id]
    span_sections: dict[str, SpanSection] = {}
    trace_questions = []
    for question in sheet.questions:
        if question.span is None:
            trace_questions.append(question)
        else:
            section = span_sections.setdefault(
                question.span.span_id, SpanSection(span=question.span, questions=[])
            )
            section.questions.append(question)
    now = timezone.now()
    lease_live = (
        assignment.state == AssignmentState.CLAIMED
        and assignment.lease_expires_at is not None
        and assignment.lease_expires_at > now
    )
    context = {
        "session": session,
        "assignment": assignment,
        "item": assignment.item,
        "trace": assignment.item.trace,
        "sheet": sheet,
        "root_span": root_spans[0] if root_spans else None,
        "span_sections": sorted(
            span_sections.values(), key=lambda section: section.questions[0].number
        ),
        "trace_questions": trace_questions,
        "other_labels": _other_labels(assignment, request),
        "progress": queue.labeler_progress(session=session, labeler=request.user),
        "previous": previous
        or queue.previous_assignment(session=session, labeler=request.user, current=assignment),
        "error": error,
        "slot_lost": slot_lost,
        "notice": notice,
        "lease_live": lease_live,
        "lease_interval": _lease_interval(session),
        "is_done": assignment.state in queue.DONE_STATES,
    }
    template = "labeling/review/item.html"
    return render(
        request,
        f"{template}#review-item" if _is_partial(request) else template,
        context,
        status=status,
    )


def _lease_interval(session: LabelingSession) -> int:
    """Seconds between lease renewals while the labeler is active: a third of the lease, at
    most a minute, at least ten seconds."""
    return max(10, min(60, session.reservation_minutes * 60 // 3))


@require_GET
def item(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    assignment = get_assignment_for_user(request, session_pk, item_pk)
    return _render_item(request, assignment, page=_page_data(assignment))


def _go_next(
    request: HtmxHttpRequest,
    session: LabelingSession,
    schemas: list[LabelingSchema] | None = None,
    *,
    notice: str = "",
    finished: Assignment | None = None,
) -> HttpResponse:
    """After a submit or a skip: the next item (claimed now), or the finished page. A plain
    POST is redirected there (the notice becomes a message); HTMX gets the page's partial and
    the URL to show. `finished` is the item just done when it was a fresh reservation: the
    labeler's previous item from the next one."""
    nxt = queue.claim_next_item(session=session, labeler=request.user)
    if nxt is None:
        url = reverse("review:done", kwargs={"session_pk": session.pk})
    else:
        nxt.labeler = request.user
        url = item_url(nxt)
    if not _is_partial(request):
        if notice:
            messages.success(request, notice)
        return redirect(url)
    if nxt is None:
        return push_url(_render_done(request, session, notice=notice), url)
    response = _render_item(
        request, nxt, page=_page_data(nxt, schemas), notice=notice, previous=finished
    )
    return push_url(response, url)


@require_POST
def submit(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Submit & next: store the answers and move on to the next item in one request."""
    assignment = get_assignment_for_user(request, session_pk, item_pk)
    fresh = assignment.state == AssignmentState.CLAIMED
    data = _sheet_data(assignment)
    sheet = AnswerSheet(data.schemas, spans=data.spans, data=request.POST)
    if not sheet.is_valid():
        return _render_item(
            request, assignment, page=_page_data(assignment, data.schemas), sheet=sheet
        )
    try:
        outcome = queue.submit_answers(assignment=assignment, sheet=sheet)
    except (queue.QueueError, ValidationError) as exc:
        # The reservation went to someone else, or a label rule refused an answer: nothing was
        # stored; the answers stay on the page with the reason.
        message = str(exc) if isinstance(exc, queue.QueueError) else " ".join(exc.messages)
        page = _page_data(assignment, data.schemas)
        return _render_item(
            request,
            assignment,
            page=page,
            sheet=sheet,
            error=message,
            slot_lost=isinstance(exc, queue.SlotTaken),
        )
    if outcome.overridden:
        notice = "Your changed answers were saved; the earlier ones stay in the history."
    elif outcome.created:
        notice = "Saved."
    else:
        notice = "Nothing changed."
    return _go_next(
        request,
        assignment.item.session,
        data.schemas,
        notice=notice,
        finished=assignment if fresh else None,
    )


@require_POST
def skip(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Skip the item (with an optional reason) and move on."""
    assignment = get_assignment_for_user(request, session_pk, item_pk)
    fresh = assignment.state == AssignmentState.CLAIMED
    try:
        queue.skip_item(assignment=assignment, reason=request.POST.get("reason", ""))
    except queue.QueueError as exc:
        page = _page_data(assignment)
        return _render_item(request, assignment, page=page, error=str(exc))
    return _go_next(
        request,
        assignment.item.session,
        notice="Skipped.",
        finished=assignment if fresh else None,
    )


@require_POST
def flag(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Flag the item for the curator (or withdraw the flag); the labeler stays on the item."""
    assignment = get_assignment_for_user(request, session_pk, item_pk)
    error = ""
    try:
        if request.POST.get("action") == "unflag":
            queue.unflag_item(assignment=assignment)
        else:
            queue.flag_item(assignment=assignment, reason=request.POST.get("reason", ""))
    except queue.QueueError as exc:
        error = str(exc)
    if not error and not _is_partial(request):
        return redirect(item_url(assignment))
    page = _page_data(assignment)
    return _render_item(request, assignment, page=page, error=error)


@require_http_methods(["POST"])
def lease(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Renew the labeler's reservation while they are active on the item page."""
    assignment = get_assignment_for_user(request, session_pk, item_pk)
    result = queue.renew_lease(assignment=assignment)
    context = {
        "session": assignment.item.session,
        "assignment": assignment,
        "item": assignment.item,
        "lease_live": result.held,
        "lease_lost": not result.held and assignment.state == AssignmentState.CLAIMED,
        "lease_interval": _lease_interval(assignment.item.session),
    }
    if not _is_partial(request):
        return redirect(item_url(assignment))
    return render(request, "labeling/review/item.html#lease-status", context)


# --- the full span tree --------------------------------------------------------------------------


@require_GET
def spans(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Every span of the item's trace as a tree, and the inputs and outputs of the one picked
    (`?span=<id>`; the root span first). No labels here, so it suits blind sessions too."""
    assignment = get_assignment_for_user(request, session_pk, item_pk)
    trace = assignment.item.trace
    rows = (
        Span.objects.filter(trace=trace)
        .tree_fields()
        .order_by()
        .values_list(*SPAN_TREE_FIELDS, named=True)
    )
    tree = build_span_tree(rows)
    span_id = request.GET.get("span") or None
    if span_id and tree.get(span_id) is None:
        raise Http404("This trace has no such span.")
    selected_id = span_id or tree.root_span_id
    span = Span.objects.filter(trace=trace, span_id=selected_id).first() if selected_id else None
    context = {
        "session": assignment.item.session,
        "assignment": assignment,
        "item": assignment.item,
        "trace": trace,
        "tree": tree,
        "selected_id": selected_id,
        "span": span,
        "span_duration": format_duration_ns(span.duration_ns) if span else "",
    }
    template = "labeling/review/spans.html"
    return render(request, f"{template}#span-view" if _is_partial(request) else template, context)
