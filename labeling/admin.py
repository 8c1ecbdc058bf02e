"""Django admin for labeling schemas, sessions, items, assignments and answers.

Every foreign key to a trace, an assessment or a user is a raw id or an autocomplete, so pages
stay light with 100,000 traces; changelists select their related rows in the same query.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from labeling import services
from labeling.models import (
    Answer,
    Assignment,
    Item,
    LabelingSchema,
    LabelingSchemaVersion,
    LabelingSession,
    SessionSchema,
)
from traces import admin as traces_admin
from traces.admin import INLINE_LIMIT, LimitedInlineFormSet, change_url, changelist_url
from traces.models import Assessment

admin.site.unregister(Assessment)


class AnswerAssessmentForm(traces_admin.AssessmentAdminForm):
    """An edit of a label that is a labeling answer must still answer its question (the
    schema version it answered), keep its name and its session links."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        answer = services.answer_of(self.instance.pk) if self.instance.pk else None
        if answer is None or self.errors:
            return cleaned
        try:
            cleaned["value"] = services.check_answer_value(
                answer, cleaned.get("value"), name=cleaned.get("name")
            )
        except ValidationError as error:
            self.add_error("value" if error.code == "answer_value" else "name", error)
            return cleaned
        metadata = cleaned.get("metadata") or {}
        for key in services.LINK_METADATA_KEYS:
            if key in (self.initial.get("metadata") or {}):
                metadata[key] = self.initial["metadata"][key]
        cleaned["metadata"] = metadata
        return cleaned


# Assessments may be labeling answers: deleting one in the admin goes through labeling's service,
# which moves an answer on a deleted override back to the label it replaced; editing one is
# checked against its question.
@admin.register(Assessment)
class AssessmentAdmin(traces_admin.AssessmentAdmin):
    form = AnswerAssessmentForm
    delete_assessment = staticmethod(services.delete_assessment)


class LabelingSchemaVersionInline(admin.TabularInline):
    model = LabelingSchemaVersion
    fields = ["version", "snapshot", "created_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LabelingSchema)
class LabelingSchemaAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "title",
        "experiment",
        "kind",
        "input_type",
        "target_span_type",
        "version",
        "archived",
        "updated_at",
    ]
    list_filter = ["kind", "input_type", "archived", "experiment"]
    search_fields = ["name", "title"]
    list_select_related = ["experiment"]
    ordering = ["experiment__name", "name"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["version", "created_at", "updated_at"]
    inlines = [LabelingSchemaVersionInline]


@admin.register(LabelingSchemaVersion)
class LabelingSchemaVersionAdmin(admin.ModelAdmin):
    list_display = ["schema", "version", "experiment", "created_at"]
    list_select_related = ["schema__experiment"]
    search_fields = ["schema__name"]
    ordering = ["schema__name", "-version"]
    raw_id_fields = ["schema"]
    readonly_fields = ["created_at"]

    @admin.display(ordering="schema__experiment__name")
    def experiment(self, obj: LabelingSchemaVersion) -> str:
        return obj.schema.experiment.name


class SessionSchemaInline(admin.TabularInline):
    model = SessionSchema
    fields = ["position", "schema"]
    autocomplete_fields = ["schema"]
    extra = 0
    ordering = ["position", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SessionSchema]:
        return super().get_queryset(request).select_related("schema")


@admin.register(LabelingSession)
class LabelingSessionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "experiment",
        "status",
        "labels_per_item",
        "blind",
        "item_count",
        "created_at",
    ]
    list_filter = ["status", "blind", "experiment"]
    search_fields = ["name", "instructions"]
    list_select_related = ["experiment"]
    ordering = ["-created_at", "-id"]
    autocomplete_fields = ["labelers", "reviewers"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["item_count", "created_at", "updated_at"]
    inlines = [SessionSchemaInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LabelingSession]:
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description="items", ordering="item_count")
    def item_count(self, obj: LabelingSession) -> str:
        count = getattr(obj, "item_count", None)
        if count is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', changelist_url(Item, session__id__exact=obj.pk), f"{count:,}"
        )


@admin.register(SessionSchema)
class SessionSchemaAdmin(admin.ModelAdmin):
    list_display = ["session", "position", "schema"]
    list_select_related = ["session", "schema"]
    search_fields = ["session__name", "schema__name"]
    ordering = ["session", "position", "id"]
    raw_id_fields = ["session", "schema"]


class AssignmentInline(admin.TabularInline):
    model = Assignment
    formset = LimitedInlineFormSet
    fields = ["labeler", "state", "claimed_at", "lease_expires_at", "submitted_at", "flagged"]
    raw_id_fields = ["labeler"]
    extra = 0
    verbose_name_plural = f"assignments (the first {INLINE_LIMIT})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Assignment]:
        return super().get_queryset(request).select_related("labeler")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "session", "trace_link", "position", "state", "adjudicated_at"]
    list_filter = ["state", "session__status"]
    search_fields = ["=trace__trace_id", "session__name"]
    search_help_text = "Exact trace id, or words from the session name."
    list_select_related = ["session", "trace"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["session", "position", "id"]
    raw_id_fields = ["session", "trace", "adjudicated_by"]
    readonly_fields = ["created_at"]
    inlines = [AssignmentInline]

    @admin.display(description="trace", ordering="trace__trace_id")
    def trace_link(self, obj: Item) -> str:
        return format_html('<a href="{}">{}</a>', change_url(obj.trace), obj.trace.trace_id)


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "labeler",
        "session",
        "trace",
        "state",
        "claimed_at",
        "lease_expires_at",
        "submitted_at",
        "flagged",
    ]
    list_filter = ["state", "flagged"]
    search_fields = ["labeler__username", "=item__trace__trace_id", "item__session__name"]
    list_select_related = ["labeler", "item__session", "item__trace"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["-claimed_at", "-id"]
    raw_id_fields = ["item", "labeler"]

    @admin.display(ordering="item__session__name")
    def session(self, obj: Assignment) -> str:
        return obj.item.session.name

    @admin.display(ordering="item__trace__trace_id")
    def trace(self, obj: Assignment) -> str:
        return format_html(
            '<a href="{}">{}</a>', change_url(obj.item.trace), obj.item.trace.trace_id
        )


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "labeler",
        "schema",
        "schema_version",
        "span_id",
        "assessment_link",
        "created_at",
    ]
    # The row's checkbox label is str(answer): assignment → item → session, and the labeler.
    list_select_related = [
        "assignment__labeler",
        "assignment__item__session",
        "schema",
        "assessment",
    ]
    search_fields = ["assignment__labeler__username", "schema__name", "=assessment__assessment_id"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["-id"]
    raw_id_fields = ["assignment", "schema", "assessment"]
    readonly_fields = ["created_at"]

    @admin.display(ordering="assignment__labeler__username")
    def labeler(self, obj: Answer) -> str:
        return obj.assignment.labeler.get_username()

    @admin.display(description="assessment", ordering="assessment__assessment_id")
    def assessment_link(self, obj: Answer) -> str:
        return format_html(
            '<a href="{}">{}</a>', change_url(obj.assessment), obj.assessment.assessment_id
        )
