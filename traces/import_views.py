"""Curators upload MLflow trace JSON files (`/console/import/`): the same importer as
`manage.py import_traces` (`traces.mlflow_json.import_trace_file`), one transaction per file,
with a result per file."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_http_methods

from accounts.access import curator_required
from accounts.types import HtmxHttpRequest
from traces.mlflow_json import TRACE_FILE_SUFFIXES, FileResult, import_trace_file
from traces.models import NAME_MAX_LENGTH, Experiment, LifecycleStage
from traces.services import validate_name

RESULTS_SESSION_KEY = "traces.import_results"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one `<input type="file" multiple>`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ",".join(TRACE_FILE_SUFFIXES)})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if isinstance(data, list | tuple):
            if not data and self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)]


class TraceUploadForm(forms.Form):
    experiment = forms.ModelChoiceField(
        queryset=Experiment.objects.active(),
        required=False,
        empty_label="Choose an experiment…",
        label="Into the experiment",
    )
    new_experiment = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        required=False,
        label="Or a new experiment",
        help_text="Created when no experiment has that name yet.",
    )
    files = MultipleFileField(
        label="MLflow trace files",
        help_text=(
            "JSON written by MLflow's Trace.to_json(): one trace, a list of traces, or one "
            "trace per line (.jsonl). Several files at once."
        ),
    )

    def clean_new_experiment(self) -> str:
        name = self.cleaned_data["new_experiment"].strip()
        return validate_name(name) if name else ""

    def clean_files(self) -> list[Any]:
        files = self.cleaned_data["files"]
        limit = settings.TRACE_UPLOAD_MAX_BYTES
        for upload in files:
            if not upload.name.lower().endswith(TRACE_FILE_SUFFIXES):
                raise ValidationError(
                    f"{upload.name} is not a .json or .jsonl file.", code="file_type"
                )
        total = sum(upload.size for upload in files)
        if total > limit:
            raise ValidationError(
                f"The files add up to {filesizeformat(total)}; the limit is "
                f"{filesizeformat(limit)} per upload. Upload them in several goes, or use "
                "manage.py import_traces.",
                code="too_large",
            )
        return files

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen, named = cleaned.get("experiment"), cleaned.get("new_experiment")
        if chosen and named:
            raise ValidationError(
                "Choose an existing experiment or name a new one, not both.", code="experiment"
            )
        if not chosen and not named and "new_experiment" not in self.errors:
            raise ValidationError(
                "Choose the experiment to import into, or name a new one.", code="experiment"
            )
        if named:
            existing = Experiment.objects.filter(name=named).first()
            if existing is not None and existing.lifecycle_stage == LifecycleStage.DELETED:
                self.add_error(
                    "new_experiment",
                    f"The experiment “{named}” is deleted; restore it or pick another name.",
                )
        return cleaned

    def target_experiment(self) -> Experiment:
        if self.cleaned_data.get("experiment"):
            return self.cleaned_data["experiment"]
        with transaction.atomic():
            experiment, _ = Experiment.objects.get_or_create(
                name=self.cleaned_data["new_experiment"]
            )
        return experiment


WARNINGS_SHOWN = 20


def _summary(experiment: Experiment, results: list[FileResult]) -> dict[str, Any]:
    """What the page shows after an import (kept in the session between POST and GET)."""
    return {
        "experiment": {"id": experiment.pk, "name": experiment.name},
        "files": [
            {
                "name": result.name,
                "ok": result.ok,
                "error": result.error,
                "imported": len(result.imported),
                "already_present": len(result.already_present),
                "spans": result.spans,
                "assessments": result.assessments,
                "warnings": result.warnings[:WARNINGS_SHOWN],
                "more_warnings": max(0, len(result.warnings) - WARNINGS_SHOWN),
            }
            for result in results
        ],
        "imported": sum(len(result.imported) for result in results),
        "already_present": sum(len(result.already_present) for result in results),
        "failed": sum(1 for result in results if not result.ok),
    }


def _page(
    request: HtmxHttpRequest,
    form: TraceUploadForm,
    summary: dict[str, Any] | None = None,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "error": error,
        "summary": summary,
        "max_bytes": settings.TRACE_UPLOAD_MAX_BYTES,
        "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
    }
    template = (
        "traces/import_upload.html#import-panel" if request.htmx else ("traces/import_upload.html")
    )
    return render(request, template, context, status=status)


@curator_required
@require_http_methods(["GET", "POST"])
def import_traces(request: HtmxHttpRequest) -> HttpResponse:
    """Upload MLflow trace JSON files into an experiment; each file is imported whole or not
    at all, and reported: imported, already present, or failed with the problem."""
    if request.method == "GET":
        return _page(request, TraceUploadForm(), request.session.pop(RESULTS_SESSION_KEY, None))
    limit = settings.TRACE_UPLOAD_MAX_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
        too_large = (
            f"The upload is larger than {filesizeformat(limit)}, the limit per upload. Upload "
            "the files in several goes, or use manage.py import_traces on the server."
        )
        # htmx swaps no 4xx answer: it gets the message with 200, a plain form post with 413.
        return _page(
            request, TraceUploadForm(), error=too_large, status=200 if request.htmx else 413
        )
    form = TraceUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form)
    experiment = form.target_experiment()
    results = [
        import_trace_file(experiment=experiment, data=upload, name=upload.name)
        for upload in form.cleaned_data["files"]
    ]
    summary = _summary(experiment, results)
    if request.htmx:
        return _page(request, TraceUploadForm(initial={"experiment": experiment}), summary)
    request.session[RESULTS_SESSION_KEY] = summary
    return redirect("trace-import")
