"""A campaign's agreement figures and per-labeler statistics (/campaigns/<session>/agreement/,
/campaigns/<session>/labelers/). For curators and the session's reviewers only
(`get_session_for_lead`): labelers never see how they compare with each other.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeling.agreement import session_agreement
from labeling.campaign_access import get_session_for_lead
from labeling.labeler_stats import labeler_statistics
from reviewapp.types import HtmxHttpRequest


@require_GET
def agreement(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Per question: percent agreement, Krippendorff's alpha, the kappa matrix and judges.
    An HTMX request gets the compact summary the console's session dashboard loads lazily
    (computing agreement reads every answer, so the dashboard does not wait for it)."""
    session = get_session_for_lead(request, pk)
    context = {"session": session, "results": session_agreement(session)}
    template = "labeling/campaign/agreement.html"
    return render(request, f"{template}#agreement-summary" if request.htmx else template, context)


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
