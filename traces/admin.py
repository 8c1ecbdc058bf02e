"""Django admin for experiments, traces, spans and assessments (superusers' back office).

Traces and spans are recorded data: they are shown read-only (trace tags stay editable, as in
MLflow). Assessments are edited through the same validators as `traces.services`, and deleted
through `services.delete_assessment` so an override chain stays whole. Large traces stay fast:
inlines show at most `INLINE_LIMIT` rows without payloads, and every foreign key is a raw id.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from traces import services
from traces.models import Assessment, Experiment, Span, Trace

INLINE_LIMIT = 50
SUMMARY_LENGTH = 80
SPAN_PAYLOAD_FIELDS = ("inputs", "outputs", "attributes", "events")


def summary(value: Any, length: int = SUMMARY_LENGTH) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return Truncator(text).chars(length)


def preview_text(preview: str) -> str:
    """The words of a request preview: the question, or the last message of a conversation."""
    try:
        data = json.loads(preview)
    except ValueError:
        return preview  # truncated previews are not valid JSON
    if isinstance(data, dict):
        messages = data.get("messages") or data.get("input")
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
            content = messages[-1].get("content")
            if isinstance(content, str):
                return content
        strings = [v for v in data.values() if isinstance(v, str)]
        if len(strings) == 1:
            return strings[0]
    return preview


PRETTY_MAX_LENGTH = 200_000


def pretty_json(value: Any) -> str:
    """JSON for reading: indented, wrapped, and cut short when huge."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return preformatted(text)


def preformatted(text: str) -> str:
    note = ""
    if len(text) > PRETTY_MAX_LENGTH:
        note = f"\n… ({len(text) - PRETTY_MAX_LENGTH:,} more characters)"
        text = text[:PRETTY_MAX_LENGTH]
    return format_html('<pre class="rva-pre">{}{}</pre>', text, note)


def changelist_url(model: type, **filters: Any) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return f"{url}?{query}" if query else url


def change_url(obj: Any) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def ns_time(ns: int | None) -> str:
    if ns is None:
        return "-"
    moment = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}"


def is_changelist(request: HttpRequest) -> bool:
    match = request.resolver_match
    return bool(match and match.url_name and match.url_name.endswith("_changelist"))


class LimitedInlineFormSet(BaseInlineFormSet):
    """Shows the first INLINE_LIMIT rows; the admin links to the full list."""

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_limited_queryset"):
            self._limited_queryset = super().get_queryset()[:INLINE_LIMIT]
        return self._limited_queryset


class ReadOnlyInline(admin.TabularInline):
    formset = LimitedInlineFormSet
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- experiments ---------------------------------------------------------------------------------


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "lifecycle_stage", "trace_count", "creation_time", "last_update_time"]
    list_filter = ["lifecycle_stage"]
    search_fields = ["name", "description"]
    readonly_fields = ["experiment_id", "trace_count", "creation_time", "last_update_time"]
    fields = [
        "name",
        "experiment_id",
        "description",
        "tags",
        "lifecycle_stage",
        "trace_count",
        "creation_time",
        "last_update_time",
    ]
    ordering = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Experiment]:
        return super().get_queryset(request).annotate(trace_count=Count("traces"))

    @admin.display(description="traces", ordering="trace_count")
    def trace_count(self, obj: Experiment) -> str:
        count = getattr(obj, "trace_count", None)
        if count is None:
            return "-"
        url = changelist_url(Trace, experiment__id__exact=obj.pk)
        return format_html('<a href="{}">{}</a>', url, f"{count:,}")

    def save_model(self, request: HttpRequest, obj: Experiment, form: Any, change: bool) -> None:
        obj.last_update_time = timezone.now()
        super().save_model(request, obj, form, change)


# --- traces --------------------------------------------------------------------------------------


class SpanInline(ReadOnlyInline):
    model = Span
    # Each row's title already reads "name (span_id)".
    fields = ["span_type", "status_code", "parent_id", "start", "duration"]
    readonly_fields = fields
    verbose_name_plural = f"spans (the first {INLINE_LIMIT}, in time order)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Span]:
        return super().get_queryset(request).tree_fields().order_by("start_time_ns", "id")

    @admin.display(description="start (UTC)")
    def start(self, obj: Span) -> str:
        return ns_time(obj.start_time_ns)

    @admin.display(description="duration")
    def duration(self, obj: Span) -> str:
        ms = obj.duration_ms
        return "-" if ms is None else f"{ms:,.1f} ms"


class AssessmentInline(ReadOnlyInline):
    model = Assessment
    fk_name = "trace"
    # Each row's title already reads "name (assessment_id)".
    fields = [
        "kind",
        "value_summary",
        "source_type",
        "source_id",
        "span_id",
        "valid",
        "overrides",
        "create_time",
    ]
    readonly_fields = fields
    verbose_name_plural = f"assessments (the first {INLINE_LIMIT})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Assessment]:
        return super().get_queryset(request).select_related("overrides")

    @admin.display(description="value")
    def value_summary(self, obj: Assessment) -> str:
        return assessment_value(obj)


def assessment_value(obj: Assessment) -> str:
    if obj.error_code:
        return f"error: {obj.error_code}"
    return summary(obj.value, 60)


@admin.register(Trace)
class TraceAdmin(admin.ModelAdmin):
    list_display = [
        "trace_id",
        "request_summary",
        "experiment",
        "request_time",
        "state",
        "duration",
    ]
    list_filter = ["state", "request_time", "experiment"]
    search_fields = ["=trace_id", "=client_request_id", "request_preview"]
    search_help_text = "Exact trace id or client request id, or words from the request."
    list_select_related = ["experiment"]
    list_per_page = 50
    show_full_result_count = False
    ordering = ["-request_time", "-id"]
    raw_id_fields = ["experiment"]
    readonly_fields = [
        "trace_id",
        "experiment",
        "request_time",
        "execution_duration",
        "state",
        "spans_overview",
        "assessments_overview",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "request_preview",
        "response_preview",
        "client_request_id",
        "metadata_json",
        "created_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "trace_id",
                    "experiment",
                    ("request_time", "execution_duration", "state"),
                    "spans_overview",
                    "assessments_overview",
                    ("input_tokens", "output_tokens", "total_tokens"),
                ]
            },
        ),
        ("Request and response", {"fields": ["request_preview", "response_preview"]}),
        (
            "Metadata and tags",
            {"fields": ["client_request_id", "metadata_json", "tags", "created_at"]},
        ),
    ]
    inlines = [AssessmentInline, SpanInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # traces arrive through ingestion (OTLP, MLflow JSON, the API)

    @admin.display(description="duration", ordering="execution_duration")
    def duration(self, obj: Trace) -> str:
        if obj.execution_duration is None:
            return "-"
        return f"{obj.execution_duration:,} ms"

    @admin.display(description="request")
    def request_summary(self, obj: Trace) -> str:
        return summary(preview_text(obj.request_preview), 60)

    @admin.display(description="trace metadata")
    def metadata_json(self, obj: Trace) -> str:
        return pretty_json(obj.trace_metadata)

    @admin.display(description="spans")
    def spans_overview(self, obj: Trace) -> str:
        count = obj.spans.count()
        note = f" (the first {INLINE_LIMIT} are listed below)" if count > INLINE_LIMIT else ""
        return format_html(
            '<a href="{}">{} spans</a>{}',
            changelist_url(Span, trace__id__exact=obj.pk),
            f"{count:,}",
            note,
        )

    @admin.display(description="assessments")
    def assessments_overview(self, obj: Trace) -> str:
        counts = obj.assessments.aggregate(total=Count("id"), valid=Count("id", valid=True))
        return format_html(
            '<a href="{}">{} assessments</a> ({} valid)',
            changelist_url(Assessment, trace__id__exact=obj.pk),
            f"{counts['total']:,}",
            f"{counts['valid']:,}",
        )


# --- spans ---------------------------------------------------------------------------------------


@admin.register(Span)
class SpanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "span_type",
        "status_code",
        "trace_link",
        "span_id",
        "parent_id",
        "duration",
    ]
    list_filter = ["span_type", "status_code"]
    search_fields = ["=span_id", "=trace__trace_id", "name"]
    search_help_text = "Exact span id or trace id, or words from the span name."
    list_select_related = ["trace"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["-id"]
    raw_id_fields = ["trace"]
    fields = [
        "trace",
        ("span_id", "parent_id"),
        ("name", "span_type"),
        ("start", "end", "duration"),
        ("status_code", "status_message"),
        "inputs_json",
        "outputs_json",
        "attributes_json",
        "events_json",
    ]
    readonly_fields = [
        "start",
        "end",
        "duration",
        "inputs_json",
        "outputs_json",
        "attributes_json",
        "events_json",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Span]:
        queryset = super().get_queryset(request)
        if is_changelist(request):
            queryset = queryset.defer(*SPAN_PAYLOAD_FIELDS)
        return queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # recorded data: view and delete only

    @admin.display(description="trace", ordering="trace__trace_id")
    def trace_link(self, obj: Span) -> str:
        return format_html('<a href="{}">{}</a>', change_url(obj.trace), obj.trace.trace_id)

    @admin.display(description="inputs")
    def inputs_json(self, obj: Span) -> str:
        return pretty_json(obj.inputs)

    @admin.display(description="outputs")
    def outputs_json(self, obj: Span) -> str:
        return pretty_json(obj.outputs)

    @admin.display(description="attributes")
    def attributes_json(self, obj: Span) -> str:
        return pretty_json(obj.attributes)

    @admin.display(description="events")
    def events_json(self, obj: Span) -> str:
        return pretty_json(obj.events)

    @admin.display(description="start (UTC)")
    def start(self, obj: Span) -> str:
        return ns_time(obj.start_time_ns)

    @admin.display(description="end (UTC)")
    def end(self, obj: Span) -> str:
        return ns_time(obj.end_time_ns)

    @admin.display(description="duration")
    def duration(self, obj: Span) -> str:
        ms = obj.duration_ms
        return "-" if ms is None else f"{ms:,.1f} ms"


# --- assessments ---------------------------------------------------------------------------------


class AssessmentAdminForm(forms.ModelForm):
    """Checks an edit with the rules of `traces.services` (names, value types, metadata)."""

    class Meta:
        model = Assessment
        fields = ["name", "value", "rationale", "metadata"]

    def clean_name(self) -> str:
        return services.validate_name(self.cleaned_data["name"])

    def clean_value(self) -> Any:
        value = self.cleaned_data.get("value")
        if self.instance.is_feedback:
            if value is None:
                if not self.instance.error_code:
                    raise ValidationError("A feedback needs a value or an error.")
                return None
            return services.validate_json_value(services.validate_feedback_value(value))
        if value is None:
            raise ValidationError("An expectation needs a value.")
        return services.validate_json_value(value)

    def clean_metadata(self) -> dict[str, Any]:
        return services.validate_metadata(self.cleaned_data.get("metadata"))


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    form = AssessmentAdminForm
    list_display = [
        "name",
        "value_summary",
        "kind",
        "source_type",
        "source_id",
        "valid",
        "trace_link",
        "span_id",
        "create_time",
        "assessment_id",
    ]
    list_filter = ["kind", "source_type", "valid", "experiment"]
    search_fields = ["=assessment_id", "=trace__trace_id", "name", "source_id"]
    search_help_text = "Exact assessment id or trace id, or words from the name or source id."
    list_select_related = ["trace"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["-id"]
    raw_id_fields = ["trace", "experiment", "overrides"]
    readonly_fields = [
        "assessment_id",
        "trace",
        "experiment",
        "span_id",
        "kind",
        "source_type",
        "source_id",
        "error_code",
        "error_message",
        "stack_trace_text",
        "valid",
        "overrides",
        "history",
        "create_time",
        "last_update_time",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "assessment_id",
                    ("trace", "span_id"),
                    "experiment",
                    ("kind", "name"),
                    ("source_type", "source_id"),
                    "value",
                    "rationale",
                    "metadata",
                ]
            },
        ),
        ("Error", {"fields": ["error_code", "error_message", "stack_trace_text"]}),
        ("History", {"fields": ["valid", "overrides", "history"]}),
        (None, {"fields": [("create_time", "last_update_time")]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # assessments are logged from the explorer, the review app and the API

    @admin.display(description="value")
    def value_summary(self, obj: Assessment) -> str:
        return assessment_value(obj)

    @admin.display(description="trace", ordering="trace__trace_id")
    def trace_link(self, obj: Assessment) -> str:
        return format_html('<a href="{}">{}</a>', change_url(obj.trace), obj.trace.trace_id)

    @admin.display(description="stack trace")
    def stack_trace_text(self, obj: Assessment) -> str:
        return preformatted(obj.stack_trace) if obj.stack_trace else "-"

    @admin.display(description="overrides chain (newest first)")
    def history(self, obj: Assessment) -> str:
        chain = services.assessment_history(obj)
        if len(chain) == 1:
            return "-"
        return format_html_join(
            " → ",
            '<a href="{}">{}</a> ({}{})',
            (
                (
                    change_url(a),
                    a.assessment_id,
                    assessment_value(a),
                    "" if a.valid else ", not valid",
                )
                for a in chain
            ),
        )

    def save_model(self, request: HttpRequest, obj: Assessment, form: Any, change: bool) -> None:
        obj.last_update_time = timezone.now()
        super().save_model(request, obj, form, change)

    # How an assessment is deleted (labeling's admin puts its own service here: an assessment
    # may be a labeling answer).
    delete_assessment = staticmethod(services.delete_assessment)

    def delete_model(self, request: HttpRequest, obj: Assessment) -> None:
        self.delete_assessment(trace_id=obj.trace.trace_id, assessment_id=obj.assessment_id)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Assessment]) -> None:
        # Newest first, so each deletion sees the chain as the UI would.
        for trace_id, assessment_id in queryset.order_by("-id").values_list(
            "trace__trace_id", "assessment_id"
        ):
            self.delete_assessment(trace_id=trace_id, assessment_id=assessment_id)
