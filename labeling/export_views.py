"""The exports page and the three streamed downloads of a session (/campaigns/<session>/…).

Curators and the session's reviewers only (`get_session_for_lead`); labelers get 403 even for
sessions they label, since the files hold every labeler's answers.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeling import exports
from labeling.campaign_access import get_session_for_lead
from reviewapp.types import HtmxHttpRequest


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
    }
    return render(request, "labeling/campaign/exports.html", context)


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
