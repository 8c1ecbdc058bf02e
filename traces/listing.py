"""What the trace list filters on: the label columns of an experiment and the list's filter form
applied to a queryset. Shared by the explorer's trace list and the console's "add traces" page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.fields.json import KeyTransform

from traces import access
from traces.forms import LabelPresence, Sort, TraceFilterForm, parse_filter_value
from traces.models import (
    Assessment,
    AssessmentKind,
    AssessmentQuerySet,
    Experiment,
    TraceQuerySet,
)


@dataclass(frozen=True)
class LabelColumn:
    kind: str
    name: str

    @property
    def kind_label(self) -> str:
        return AssessmentKind(self.kind).label


def label_columns(experiment: Experiment, user: access.User | None = None) -> list[LabelColumn]:
    """Every label name used in the experiment, feedback first: one query. Over all its
    traces for curators (and with no `user`: the curators' console); for anyone else over the
    labels they may see (`access.label_kinds_and_names`)."""
    if user is None:
        pairs = Assessment.objects.kinds_and_names(experiment.pk)
    else:
        pairs = access.label_kinds_and_names(user, experiment)
    columns = [LabelColumn(kind, name) for kind, name in pairs]
    return sorted(columns, key=lambda c: (c.kind != AssessmentKind.FEEDBACK, c.name.casefold()))


SORT_ORDER = {
    Sort.NEWEST: ("-request_time", "-id"),
    Sort.OLDEST: ("request_time", "id"),
    Sort.SLOWEST: (F("execution_duration").desc(nulls_last=True), "-id"),
    Sort.FASTEST: (F("execution_duration").asc(nulls_last=True), "id"),
}


def filter_traces(
    traces: TraceQuerySet,
    form: TraceFilterForm,
    *,
    experiment: Experiment,
    columns: list[LabelColumn],
    labels: AssessmentQuerySet | None = None,
) -> TraceQuerySet:
    """Apply the valid parts of the filter form (an invalid field is shown, and ignored).
    The label filters look at `labels` (default: every label; in the explorer, the labels
    the user may see, so a filter cannot find labels that blind mode hides)."""
    data = getattr(form, "cleaned_data", {})
    if q := (data.get("q") or "").strip():
        traces = traces.filter(Q(request_preview__icontains=q) | Q(response_preview__icontains=q))
    if state := data.get("state"):
        traces = traces.filter(state=state)
    if data.get("start"):
        traces = traces.filter(request_time__gte=form.start_datetime)
    if data.get("end"):
        traces = traces.filter(request_time__lte=form.end_datetime)
    if key := data.get("tag_key"):
        value = data.get("tag_value")
        if value is None:
            traces = traces.filter(tags__has_key=key)
        elif connections[traces.db].vendor == "postgresql":
            traces = traces.filter(tags__contains={key: value})  # `@>`: uses the GIN index
        else:
            traces = traces.alias(tag_value=KeyTransform(key, "tags")).filter(tag_value=value)
    label, value, source = data.get("label"), (data.get("value") or "").strip(), data.get("source")
    presence = data.get("presence") or LabelPresence.HAS
    if label or value or source or presence == LabelPresence.LACKS:
        # The experiment (and kind) let the (experiment, kind, name) index answer.
        labels = (labels if labels is not None else Assessment.objects.all()).filter(
            trace=OuterRef("pk"), experiment=experiment, valid=True
        )
        if label:
            kinds = [c.kind for c in columns if c.name == label]
            labels = labels.filter(kind__in=kinds, name=label)
        if value:
            labels = labels.filter(value__in=parse_filter_value(value))
        if source:
            labels = labels.filter(source_type=source)
        if presence == LabelPresence.LACKS:
            traces = traces.exclude(Exists(labels))
        else:
            traces = traces.filter(Exists(labels))
    return traces
