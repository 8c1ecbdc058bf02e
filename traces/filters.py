"""Trace filters from a query string, with the trace list's parameters.

A trace list URL's query string can be handed to the console ("add all matching traces to a
session") unchanged, and means the same traces there:

    q         search text in the request / response previews (case-insensitive)
    state     trace state (OK, ERROR, IN_PROGRESS, STATE_UNSPECIFIED); may repeat
    start     request date on or after (YYYY-MM-DD)
    end       request date on or before (YYYY-MM-DD, the whole day)
    presence  "has" (default) or "lacks", with:
    label     a label (assessment) name; presence=lacks without a label means "no label at all"
    value     a label value ("true", "pass", "4", text)
    source    a label source type (HUMAN, LLM_JUDGE, CODE)
    tag       a trace tag: "key" or "key=value"

Sorting and paging parameters are ignored. `TraceFilterForm(data, experiment=e)` checks them;
`form.filter(traces)` applies them, and matches nothing while any of them is invalid, so a typo
never turns into "every trace".
"""

from __future__ import annotations

import contextlib
import math
from datetime import datetime, time
from typing import Any

from django import forms
from django.db import connections, models
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KeyTransform
from django.http import QueryDict
from django.utils import timezone

from traces.models import Assessment, Experiment, SourceType, TraceQuerySet, TraceState

FILTER_PARAMS = ("q", "state", "start", "end", "presence", "label", "value", "source", "tag")
MULTI_PARAMS = ("state",)


class LabelPresence(models.TextChoices):
    HAS = "has", "has"
    LACKS = "lacks", "lacks"


def label_names(experiment: Experiment) -> list[str]:
    """The label (assessment) names in use in an experiment, sorted; one query."""
    return list(
        Assessment.objects.filter(experiment=experiment, valid=True)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )


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
        with contextlib.suppress(ValueError):
            number = float(text)
            if math.isfinite(number):
                candidates.append(int(number) if number.is_integer() else number)
    return candidates


class TraceFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Text in the request or response"}
        ),
    )
    state = forms.MultipleChoiceField(
        label="State",
        required=False,
        choices=TraceState.choices,
        widget=forms.CheckboxSelectMultiple,
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
    label = forms.ChoiceField(label="Label name", required=False)
    value = forms.CharField(
        label="Label value",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "any value"}),
    )
    source = forms.ChoiceField(
        label="Label source",
        required=False,
        choices=[("", "Any source"), *SourceType.choices],
    )
    tag = forms.CharField(
        label="Tag",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "key or key=value"}),
    )

    def __init__(
        self,
        data: QueryDict | dict[str, Any] | None = None,
        *,
        experiment: Experiment,
        extra_names: list[str] | tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        # Only our parameters: a trace list URL also carries sorting and paging.
        if data is not None:
            data = _only_filter_params(data)
        kwargs.setdefault("label_suffix", "")
        super().__init__(data, **kwargs)
        self.experiment = experiment
        names = {*label_names(experiment), *extra_names}
        # A name from a link that no trace carries (yet) is still a valid filter.
        posted = self.data.get("label") if data is not None else None
        if posted and len(posted) <= 250:
            names.add(posted)
        self.fields["label"].choices = [("", "any label"), *((n, n) for n in sorted(names))]

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date is before the start date.")
        tag = (cleaned.get("tag") or "").strip()
        cleaned["tag_key"], cleaned["tag_value"] = "", None
        if tag:
            key, sep, value = tag.partition("=")
            if not key.strip():
                self.add_error("tag", "Write a tag as key or key=value.")
            cleaned["tag_key"] = key.strip()
            cleaned["tag_value"] = value.strip() if sep else None
        return cleaned

    @property
    def is_filtering(self) -> bool:
        """Whether any filter is set (after `is_valid()`)."""
        data = getattr(self, "cleaned_data", {})
        keys = ("q", "state", "start", "end", "label", "value", "source", "tag")
        return any(data.get(key) for key in keys) or data.get("presence") == LabelPresence.LACKS

    def filter(self, traces: TraceQuerySet) -> TraceQuerySet:
        """`traces` of this experiment that match; none while the form is invalid."""
        traces = traces.filter(experiment=self.experiment)
        if not self.is_valid():
            return traces.none()
        return apply_filters(traces, self.cleaned_data, experiment=self.experiment)

    def query_string(self) -> str:
        """The valid filters as a query string (to carry them to another page)."""
        if not self.is_valid():
            return ""
        query = QueryDict(mutable=True)
        for name in FILTER_PARAMS:
            value = self.cleaned_data.get(name)
            if not value or (name == "presence" and value == LabelPresence.HAS):
                continue
            if name in MULTI_PARAMS:
                query.setlist(name, list(value))
            elif name in ("start", "end"):
                query[name] = value.isoformat()
            else:
                query[name] = value
        return query.urlencode()


def apply_filters(
    traces: TraceQuerySet, cleaned: dict[str, Any], *, experiment: Experiment
) -> TraceQuerySet:
    """Apply cleaned filter values (see the module docstring) to a trace queryset."""
    if text := cleaned.get("q"):
        traces = traces.filter(
            Q(request_preview__icontains=text) | Q(response_preview__icontains=text)
        )
    if cleaned.get("state"):
        traces = traces.filter(state__in=cleaned["state"])
    if day := cleaned.get("start"):
        traces = traces.filter(
            request_time__gte=timezone.make_aware(datetime.combine(day, time.min))
        )
    if day := cleaned.get("end"):
        traces = traces.filter(
            request_time__lte=timezone.make_aware(datetime.combine(day, time.max))
        )
    if key := cleaned.get("tag_key"):
        value = cleaned.get("tag_value")
        if value is None:
            traces = traces.filter(tags__has_key=key)
        elif connections[traces.db].vendor == "postgresql":
            traces = traces.filter(tags__contains={key: value})
        else:
            traces = traces.alias(tag_value=KeyTransform(key, "tags")).filter(tag_value=value)
    label = cleaned.get("label")
    value = (cleaned.get("value") or "").strip()
    source = cleaned.get("source")
    presence = cleaned.get("presence") or LabelPresence.HAS
    if label or value or source or presence == LabelPresence.LACKS:
        labels = Assessment.objects.filter(trace=OuterRef("pk"), experiment=experiment, valid=True)
        if label:
            labels = labels.filter(name=label)
        if value:
            labels = labels.filter(value__in=parse_filter_value(value))
        if source:
            labels = labels.filter(source_type=source)
        if presence == LabelPresence.LACKS:
            traces = traces.exclude(Exists(labels))
        else:
            traces = traces.filter(Exists(labels))
    return traces


def _only_filter_params(data: QueryDict | dict[str, Any]) -> QueryDict:
    query = QueryDict(mutable=True)
    for name in FILTER_PARAMS:
        if hasattr(data, "getlist"):
            values = data.getlist(name)
        else:
            value = data.get(name)
            values = value if isinstance(value, list) else ([] if value is None else [value])
        values = [str(v) for v in values if str(v) != ""]
        if values:
            query.setlist(name, values if name in MULTI_PARAMS else values[-1:])
    return query
