"""Curator console: labeling schemas, per experiment (/console/schemas/, /console/experiments/…).

Lists of an experiment's schemas, creating and editing one (with a live preview of the question
as labelers will see it; a schema that has answers only takes changes that keep them valid),
its detail page with its versions and answers, archiving and deleting. Objects are fetched
through `labeling.console.views`' access helpers.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import curator_required
from accounts.types import HtmxHttpRequest
from labeling import services
from labeling.console.forms import SchemaForm
from labeling.console.views import (
    _count_subquery,
    _page,
    _query_without,
    _service_error,
    get_experiment_for_curator,
    get_schema_for_curator,
)
from labeling.forms import Question
from labeling.models import Answer, LabelingSchema, LabelingSession, SessionSchema
from traces.models import Experiment, Span, Trace

ANSWERS_PER_PAGE = 25


@require_GET
@curator_required
def schemas(request: HtmxHttpRequest) -> HttpResponse:
    """Experiments, to pick whose schemas to manage."""
    experiments = (
        Experiment.objects.active()
        .order_by("name")
        .annotate(
            n_schemas=_count_subquery(LabelingSchema.objects.filter(archived=False), "experiment"),
            n_archived=_count_subquery(LabelingSchema.objects.filter(archived=True), "experiment"),
            n_sessions=_count_subquery(LabelingSession.objects.all(), "experiment"),
        )
    )
    return render(request, "labeling/console/schemas.html", {"experiments": experiments})


@require_GET
@curator_required
def schema_list(request: HtmxHttpRequest, experiment_pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    show_archived = request.GET.get("archived") == "1"
    rows = (
        LabelingSchema.objects.filter(experiment=experiment, archived=show_archived)
        .annotate(
            n_answers=_count_subquery(Answer.objects.all(), "schema"),
            n_sessions=_count_subquery(SessionSchema.objects.all(), "schema"),
        )
        .order_by("name")
    )
    archived_count = LabelingSchema.objects.filter(
        experiment=experiment, archived=not show_archived
    ).count()
    context = {
        "experiment": experiment,
        "schemas": rows,
        "show_archived": show_archived,
        "other_count": archived_count,
    }
    return render(request, "labeling/console/schema_list.html", context)


def _preview_question(form: SchemaForm) -> Question | None:
    """The question as a labeler will see it, built from the posted (unsaved) schema."""
    schema = form.preview_schema()
    if schema is None:
        return None
    span = None
    if schema.target_span_type:
        span = Span(span_id="0" * 16, name="example span", span_type=schema.target_span_type)
    return Question(schema=schema, spec=schema.spec, span=span, number=1)


def _schema_form_page(
    request: HtmxHttpRequest,
    *,
    experiment: Experiment,
    schema: LabelingSchema | None,
) -> HttpResponse:
    locked = schema is not None and services.schema_is_answered(schema)
    answer_count = Answer.objects.filter(schema=schema).count() if locked else 0
    if request.method == "POST":
        form = SchemaForm(request.POST, experiment=experiment, instance=schema, locked=locked)
        valid = form.is_valid()
        if "_preview" in request.POST:
            context = {"form": form, "question": _preview_question(form), "preview_only": True}
            if request.htmx:
                return render(request, "labeling/console/schema_form.html#schema-preview", context)
        elif valid:
            try:
                if schema is None:
                    schema = services.create_schema(
                        experiment=experiment, fields=form.fields_for_service(), user=request.user
                    )
                    messages.success(request, f"Schema “{schema.name}” created.")
                else:
                    changed = services.update_schema(
                        schema=schema, fields=form.fields_for_service()
                    )
                    schema.refresh_from_db()
                    messages.success(
                        request,
                        f"Schema “{schema.name}” saved (version {schema.version})."
                        if changed
                        else "Nothing changed.",
                    )
            except ValidationError as error:
                _service_error(form, error)
            else:
                return redirect("console:schema_detail", experiment.pk, schema.pk)
    else:
        form = SchemaForm(experiment=experiment, instance=schema, locked=locked)
    question = _preview_question(form) if form.is_bound else _initial_preview(form, schema)
    context = {
        "experiment": experiment,
        "schema": schema,
        "form": form,
        "question": question,
        "locked": locked,
        "answer_count": answer_count,
    }
    return render(request, "labeling/console/schema_form.html", context)


def _initial_preview(form: SchemaForm, schema: LabelingSchema | None) -> Question | None:
    if schema is not None:
        span = None
        if schema.target_span_type:
            span = Span(span_id="0" * 16, name="example span", span_type=schema.target_span_type)
        return Question(schema=schema, spec=schema.spec, span=span, number=1)
    # A new schema: preview the default (pass / fail) question.
    probe = SchemaForm(
        {
            "name": "new",
            "kind": "feedback",
            "title": "Your question",
            "input_type": "pass_fail",
            "positive_label": "Pass",
            "negative_label": "Fail",
        },
        experiment=form.experiment,
    )
    probe.is_valid()
    return _preview_question(probe)


@require_http_methods(["GET", "POST"])
@curator_required
def schema_create(request: HtmxHttpRequest, experiment_pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    return _schema_form_page(request, experiment=experiment, schema=None)


@require_http_methods(["GET", "POST"])
@curator_required
def schema_edit(request: HtmxHttpRequest, experiment_pk: int, pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    schema = get_schema_for_curator(request, experiment, pk)
    return _schema_form_page(request, experiment=experiment, schema=schema)


@require_GET
@curator_required
def schema_detail(request: HtmxHttpRequest, experiment_pk: int, pk: int) -> HttpResponse:
    """A schema: the question as labelers see it, its versions, and every answer with the
    version it answered."""
    experiment = get_experiment_for_curator(request, experiment_pk)
    schema = get_schema_for_curator(request, experiment, pk)
    per_version = dict(
        Answer.objects.filter(schema=schema)
        .order_by()
        .values("schema_version")
        .annotate(n=Count("pk"))
        .values_list("schema_version", "n")
    )
    versions = list(schema.versions.order_by("-version"))
    for version in versions:
        version.answer_count = per_version.get(version.version, 0)
    answers = (
        Answer.objects.filter(schema=schema)
        .select_related("assessment", "assignment__labeler", "assignment__item__session")
        .only(
            "pk",
            "schema_version",
            "span_id",
            "created_at",
            "assessment__value",
            "assessment__rationale",
            "assessment__valid",
            "assessment__trace_id",
            "assignment__labeler__username",
            "assignment__item__session__name",
            "assignment__item__trace_id",
        )
        .order_by("-created_at", "-pk")
    )
    sessions = list(
        LabelingSession.objects.filter(sessionschema__schema=schema).only("pk", "name", "status")
    )
    answers_page = _page(request, answers, ANSWERS_PER_PAGE)
    trace_ids = dict(
        Trace.objects.filter(
            pk__in={answer.assignment.item.trace_id for answer in answers_page}
        ).values_list("pk", "trace_id")
    )
    for answer in answers_page:
        answer.trace_label = trace_ids.get(answer.assignment.item.trace_id, "")
    span = None
    if schema.target_span_type:
        span = Span(span_id="0" * 16, name="example span", span_type=schema.target_span_type)
    context = {
        "experiment": experiment,
        "schema": schema,
        "question": Question(schema=schema, spec=schema.spec, span=span, number=1),
        "versions": versions,
        "answer_total": sum(per_version.values()),
        "answers": answers_page,
        "sessions": sessions,
        "page_query": _query_without(request, "page"),
    }
    return render(request, "labeling/console/schema_detail.html", context)


@require_POST
@curator_required
def schema_archive(request: HtmxHttpRequest, experiment_pk: int, pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    schema = get_schema_for_curator(request, experiment, pk)
    archived = request.POST.get("archived") != "0"
    services.set_schema_archived(schema=schema, archived=archived)
    if archived:
        messages.success(
            request,
            f"Schema “{schema.name}” archived: it keeps its answers and stays in its sessions, "
            "but is no longer offered for new ones.",
        )
    else:
        messages.success(request, f"Schema “{schema.name}” restored.")
    return redirect("console:schema_detail", experiment.pk, schema.pk)


@require_POST
@curator_required
def schema_delete(request: HtmxHttpRequest, experiment_pk: int, pk: int) -> HttpResponse:
    experiment = get_experiment_for_curator(request, experiment_pk)
    schema = get_schema_for_curator(request, experiment, pk)
    try:
        services.delete_schema(schema=schema)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("console:schema_detail", experiment.pk, schema.pk)
    messages.success(request, f"Schema “{schema.name}” deleted.")
    return redirect("console:schema_list", experiment.pk)
