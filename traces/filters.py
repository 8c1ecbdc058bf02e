"""The trace list's search, filters and sort: the form (from the query string), the label
columns of an experiment and the form applied to a queryset. A read of the trace store, shared by
the explorer's trace list and the console's "add traces" page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from traces.models import (
    Assessment,
    AssessmentKind,
    AssessmentQuerySet,
    Experiment,
    SourceType,
    TraceQuerySet,
    TraceState,
)
from traces.values import parse_number

# --- trace list filters --------------------------------------------------------------------------


class Sort(models.TextChoices):
    NEWEST = "-time", "Newest first"
    OLDEST = "time", "Oldest first"
    SLOWEST = "-duration", "Slowest first"
    FASTEST = "duration", "Fastest first"


class LabelPresence(models.TextChoices):
    HAS = "has", "has"
    LACKS = "lacks", "lacks"


class TraceFilterForm(forms.Form):
    """The trace list's search, filters and sort, all from the query string."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": "Search requests and responses"}),
    )
    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "Any state"), *TraceState.choices]
    )
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    presence = forms.ChoiceField(
        label="Label", required=False, choices=LabelPresence.choices, initial=LabelPresence.HAS
    )
    label = forms.ChoiceField(label="Label name", required=False, choices=[])
    value = forms.CharField(
        label="Label value",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "any value"}),
    )
    source = forms.ChoiceField(
        label="Source", required=False, choices=[("", "Any source"), *SourceType.choices]
    )
    tag = forms.CharField(
        label="Tag",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "key or key=value"}),
    )
    sort = forms.ChoiceField(label="Sort", required=False, choices=Sort.choices)

    def __init__(self, *args: Any, label_names: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["label"].choices = [("", "any label"), *((n, n) for n in label_names)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date is before the start date.")
        tag = (cleaned.get("tag") or "").strip()
        if tag:
            key, sep, value = tag.partition("=")
            if not key.strip():
                self.add_error("tag", "Write a tag as key or key=value.")
            cleaned["tag_key"] = key.strip()
            cleaned["tag_value"] = value.strip() if sep else None
        return cleaned

    @property
    def start_datetime(self) -> datetime | None:
        day = self.cleaned_data.get("start")
        return timezone.make_aware(datetime.combine(day, time.min)) if day else None

    @property
    def end_datetime(self) -> datetime | None:
        day = self.cleaned_data.get("end")
        return timezone.make_aware(datetime.combine(day, time.max)) if day else None

    @property
    def active_count(self) -> int:
        if not self.is_bound or not hasattr(self, "cleaned_data"):
            return 0
        keys = ("q", "state", "start", "end", "label", "value", "source", "tag")
        count = sum(1 for key in keys if self.cleaned_data.get(key))
        lacks_any = self.cleaned_data.get("presence") == LabelPresence.LACKS
        return count + (1 if lacks_any and not self.cleaned_data.get("label") else 0)


def parse_filter_value(text: str) -> list[Any]:
    """The JSON values a typed label value matches: `true`/`pass` → true, `4` → 4 and "4"."""
    text = text.strip()
    lowered = text.lower()
    candidates: list[Any] = [text]
    if lowered in ("true", "yes", "pass", "passed"):
        candidates.append(True)
    elif lowered in ("false", "no", "fail", "failed"):
        candidates.append(False)
    else:
        with contextlib.suppress(ValidationError):
            candidates.append(parse_number(text))
    return candidates


@dataclass(frozen=True)
class LabelColumn:
    kind: str
    name: str

    @property
    def kind_label(self) -> str:
        return AssessmentKind(self.kind).label


def label_columns(
    experiment: Experiment, pairs: Iterable[tuple[str, str]] | None = None
) -> list[LabelColumn]:
    """The label names of the experiment as columns, feedback first: by default every name used
    in it (one query); or the (kind, name) `pairs` given (the explorer passes those of the
    labels the user may see)."""
    if pairs is None:
        pairs = Assessment.objects.kinds_and_names(experiment.pk)
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
