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
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url

from accounts.access import is_curator
from accounts.types import HtmxHttpRequest
from labeling import queue
from labeling.forms import AnswerSheet, Question
from labeling.models import Answer, Assignment, AssignmentState, LabelingSession, SessionStatus
from labeling.progress import (
    LabelerProgress,
    labeler_progress,
    labeler_progress_of,
    with_labeler_progress,
)
from labeling.review import page
from traces.models import SPAN_TREE_FIELDS, SourceType, Span
from traces.spantree import build_span_tree, format_duration_ns

# --- access --------------------------------------------------------------------------------------


def sessions_for_user(user: Any) -> QuerySet[LabelingSession]:
    """Sessions a user may work on in the review app: active ones they are assigned to;
    curators (staff) may open every active session."""
    if is_curator(user):
        return LabelingSession.objects.active()
    return LabelingSession.objects.for_labeler(user)


def get_session_for_user(request: HtmxHttpRequest, session_pk: int) -> LabelingSession:
    return get_object_or_404(sessions_for_user(request.user), pk=session_pk)


def assignment_for_user(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> Q:
    """The user's own assignment of an item of a session they may work on (the rule of
    `sessions_for_user`)."""
    user = request.user
    rule = Q(
        item_id=item_pk,
        labeler_id=user.pk,
        item__session_id=session_pk,
        item__session__status=SessionStatus.ACTIVE,
    )
    if not is_curator(user):
        rule &= Q(
            Exists(
                LabelingSession.labelers.through.objects.filter(
                    labelingsession_id=OuterRef("item__session_id"), user_id=user.pk
                )
            )
        )
    return rule


def get_assignment_for_user(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> Assignment:
    """`assignment_for_user`'s assignment, with its item, session and trace; or 404."""
    assignment = get_object_or_404(
        Assignment.objects.select_related("item__session", "item__trace").filter(
            assignment_for_user(request, session_pk, item_pk)
        )
    )
    assignment.labeler = request.user
    return assignment


def get_page_for_user(
    request: HtmxHttpRequest, session_pk: int, item_pk: int, *, submit: bool = False
) -> tuple[Assignment, page.ItemPage]:
    """The assignment with everything its page shows, in one query (`labeling.review.page`).
    For a `submit`, what storing the answers needs, with the assignment and its item locked
    until the transaction ends."""
    rule = assignment_for_user(request, session_pk, item_pk)
    assignments = queue.lock(page.for_submit(rule)) if submit else page.for_page(rule)
    assignment = get_object_or_404(assignments)
    assignment.labeler = request.user
    return assignment, _item_page(assignment, assignment)


def _item_page(row: Any, assignment: Assignment, schemas: list | None = None) -> page.ItemPage:
    item = assignment.item
    schemas = schemas if schemas is not None else page.questions(row)
    return page.ItemPage(
        schemas=schemas,
        spans=page.spans(row, item.trace)
        if hasattr(row, "span_rows")
        else page.targeted_spans(item.trace, schemas),
        other_labels=page.other_labels(row, blind=item.session.blind, labeler=assignment.labeler)
        if hasattr(row, "label_rows")
        else None,
        progress=page.progress(row) if hasattr(row, "n_items") else None,
        previous_item_id=getattr(row, "previous_item_id", None),
    )


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
    sessions = with_labeler_progress(
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
    cards = [{"session": s, "progress": labeler_progress_of(s)} for s in sessions]
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
    progress = labeler_progress(session=session, labeler=request.user, with_remaining=True)
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
        "progress": labeler_progress(session=session, labeler=request.user),
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


def _initial(assignment: Assignment) -> dict[tuple[int, str], tuple[Any, str]]:
    """The labeler's answers as they are now, to pre-fill the form of a submitted item."""
    if assignment.state != AssignmentState.SUBMITTED:
        return {}
    return {
        (answer.schema_id, answer.span_id): (answer.assessment.value, answer.assessment.rationale)
        for answer in Answer.objects.filter(assignment=assignment).select_related("assessment")
    }


def _suggestions(session: LabelingSession, item_page: page.ItemPage) -> dict[tuple[str, str], Any]:
    """Judges' feedback that pre-fills the questions of the same name (sessions that allow it,
    never blind ones), by (name, span id): the latest LLM judge's, else the latest code's."""
    if not session.suggestions or session.blind or not item_page.other_labels:
        return {}
    found: dict[tuple[str, str], Any] = {}
    rank = {SourceType.LLM_JUDGE: 0, SourceType.CODE: 1}
    for label in item_page.other_labels:
        if label.source_type not in rank or label.has_error or label.value is None:
            continue
        key = (label.name, label.span_id or "")
        held = found.get(key)
        if held is None or rank[label.source_type] < rank[held.source_type]:
            found[key] = label
    return found


def _render_item(
    request: HtmxHttpRequest,
    assignment: Assignment,
    *,
    item_page: page.ItemPage,
    sheet: AnswerSheet | None = None,
    error: str = "",
    notice: str = "",
    slot_lost: bool = False,
    status: int = 200,
) -> HttpResponse:
    session = assignment.item.session
    if sheet is None:
        sheet = AnswerSheet(
            item_page.schemas,
            spans=item_page.spans,
            initial=_initial(assignment),
            draft=assignment.draft,
            suggestions=_suggestions(session, item_page),
        )
    root_spans = [s for s in item_page.spans if not s.parent_id]
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
    context_spans = [
        span
        for span in item_page.spans
        if span.parent_id
        and span.span_type in page.CONTEXT_SPAN_TYPES
        and span.span_id not in span_sections
    ]
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
        "context_spans": context_spans,
        "other_labels": item_page.other_labels,
        "progress": item_page.progress,
        "previous_item_id": item_page.previous_item_id,
        "error": error,
        "slot_lost": slot_lost,
        "notice": notice,
        "lease_live": lease_live,
        # Their reservation lapsed and another labeler took the item.
        "lease_lost": assignment.state == AssignmentState.RELEASED,
        "lease_interval": _lease_interval(session),
        "is_done": assignment.state in queue.DONE_STATES,
        "open_count": sum(1 for q in sheet.questions if not q.has_input),
        "required_count": sum(1 for q in sheet.questions if q.required),
        "has_suggestions": any(q.suggestion is not None for q in sheet.questions),
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
    assignment, item_page = get_page_for_user(request, session_pk, item_pk)
    return _render_item(request, assignment, item_page=item_page)


def _go_next(
    request: HtmxHttpRequest,
    session: LabelingSession,
    *,
    notice: str = "",
    previous_item_id: int | None = None,
    nxt: Assignment | None = None,
    nxt_page: page.ItemPage | None = None,
) -> HttpResponse:
    """After a submit or a skip: the next item (`nxt`, or claimed now), or the finished page.
    A plain POST is redirected there (the notice becomes a message); HTMX gets the page's
    partial and the URL to show. `previous_item_id` is the item just done when it was a fresh
    reservation: the labeler's previous item from the next one."""
    if nxt is None:
        nxt = queue.claim_next_item(session=session, labeler=request.user)
    if nxt is None:
        url = reverse("review:done", kwargs={"session_pk": session.pk})
    else:
        url = item_url(nxt)
    if not _is_partial(request):
        if notice:
            messages.success(request, notice)
        return redirect(url)
    if nxt is None:
        return push_url(_render_done(request, session, notice=notice), url)
    if nxt_page is None:
        nxt, nxt_page = get_page_for_user(request, session.pk, nxt.item_id)
    if previous_item_id is not None:
        nxt_page.previous_item_id = previous_item_id
    return push_url(_render_item(request, nxt, item_page=nxt_page, notice=notice), url)


def _after_submit(before: LabelerProgress, state: str) -> LabelerProgress:
    """The labeler's progress once an assignment that was in `state` is submitted."""
    if state == AssignmentState.SUBMITTED:
        return before
    skipped = before.skipped - (1 if state == AssignmentState.SKIPPED else 0)
    return LabelerProgress(total=before.total, submitted=before.submitted + 1, skipped=skipped)


@require_POST
def submit(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Submit & next: store the answers and reserve the next item in one transaction, and show
    the next item, all in one request."""
    error, slot_lost = "", False
    for attempt in range(3):
        try:
            with transaction.atomic():
                # The assignment and its item stay locked until the answers are stored.
                assignment, item_page = get_page_for_user(request, session_pk, item_pk, submit=True)
                session = assignment.item.session
                was = assignment.state
                sheet = AnswerSheet(
                    item_page.schemas,
                    spans=item_page.spans,
                    data=request.POST,
                    require=was != AssignmentState.SUBMITTED,
                )
                if not sheet.is_valid():
                    break
                done = queue.submit_and_claim_next(
                    assignment=assignment,
                    sheet=sheet,
                    items=page.next_items(item_page.schemas) if _is_partial(request) else None,
                )
            break
        except (queue.Conflict, IntegrityError):
            if attempt == 2:
                raise
        except (queue.QueueError, ValidationError) as exc:
            # The reservation went to someone else, or a label rule refused an answer: nothing
            # was stored.
            error = str(exc) if isinstance(exc, queue.QueueError) else " ".join(exc.messages)
            slot_lost = isinstance(exc, queue.SlotTaken)
            break
    if error or not sheet.is_valid():
        # The answers stay on the page, with what is wrong.
        assignment, item_page = get_page_for_user(request, session_pk, item_pk)
        sheet = AnswerSheet(
            item_page.schemas,
            spans=item_page.spans,
            data=request.POST,
            require=assignment.state != AssignmentState.SUBMITTED,
        )
        sheet.is_valid()
        return _render_item(
            request,
            assignment,
            item_page=item_page,
            sheet=sheet,
            error=error,
            slot_lost=slot_lost,
        )
    outcome = done.outcome
    if outcome.overridden:
        notice = "Your changed answers were saved; the earlier ones stay in the history."
    elif outcome.created:
        notice = "Saved."
    else:
        notice = "Nothing changed."
    nxt, nxt_page = done.next, None
    if nxt is queue.LOCKED:
        nxt = None  # the claim waits for other claimers' locks: on its own, now
    elif nxt is not None and _is_partial(request) and hasattr(nxt.item, "span_rows"):
        nxt.labeler = request.user
        nxt.item.session = session
        nxt_page = _item_page(nxt.item, nxt, schemas=item_page.schemas)
        nxt_page.progress = _after_submit(item_page.progress, was)
    return _go_next(
        request,
        session,
        notice=notice,
        previous_item_id=assignment.item_id if was == AssignmentState.CLAIMED else None,
        nxt=nxt,
        nxt_page=nxt_page,
    )


@require_POST
def skip(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Skip the item (with an optional reason) and move on."""
    assignment = get_assignment_for_user(request, session_pk, item_pk)
    fresh = assignment.state == AssignmentState.CLAIMED
    try:
        queue.skip_item(assignment=assignment, reason=request.POST.get("reason", ""))
    except queue.QueueError as exc:
        _, item_page = get_page_for_user(request, session_pk, item_pk)
        return _render_item(request, assignment, item_page=item_page, error=str(exc))
    return _go_next(
        request,
        assignment.item.session,
        notice="Skipped.",
        previous_item_id=assignment.item_id if fresh else None,
    )


@require_POST
def flag(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Flag the item for the curator (or withdraw the flag); the labeler stays on the item."""
    assignment, item_page = get_page_for_user(request, session_pk, item_pk)
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
    return _render_item(request, assignment, item_page=item_page, error=error)


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
        "lease_lost": not result.held and result.state == AssignmentState.RELEASED,
        "lease_interval": _lease_interval(assignment.item.session),
    }
    if not _is_partial(request):
        return redirect(item_url(assignment))
    return render(request, "labeling/review/item.html#lease-status", context)


DRAFT_MAX_FIELDS = 500
DRAFT_MAX_CHARS = 200_000


@require_POST
def draft(request: HtmxHttpRequest, session_pk: int, item_pk: int) -> HttpResponse:
    """Keep the answers typed but not submitted (the answer form's fields), on the labeler's
    assignment: the item page shows them again after a reload, on another device or after a
    lost connection; Submit & next clears them. One statement besides the user's."""
    fields: dict[str, Any] = {}
    size = 0
    for name in request.POST:
        if not name.startswith("q-") or len(fields) >= DRAFT_MAX_FIELDS:
            continue
        values = [value for value in request.POST.getlist(name)]
        size += sum(len(value) for value in values) + len(name)
        fields[name] = values
    if size > DRAFT_MAX_CHARS:
        return HttpResponse("This draft is too long to keep.", status=413)
    now = timezone.now()
    saved = Assignment.objects.filter(assignment_for_user(request, session_pk, item_pk)).update(
        draft=fields, draft_saved_at=now
    )
    if not saved:
        raise Http404("You hold no such item.")
    context = {"draft_saved_at": now, "draft_state": "saved"}
    if not _is_partial(request):
        return redirect(
            reverse("review:item", kwargs={"session_pk": session_pk, "item_pk": item_pk})
        )
    return render(request, "labeling/review/item.html#draft-status", context)


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
