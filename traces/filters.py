"""Trace filters from a query string: one definition for the trace list and the console.

The same parameters mean the same thing wherever traces are picked, so a trace list URL's query
string can be handed to the console ("add all matching traces to a session") unchanged:

    q       search text, in the request / response previews and the trace id (case-insensitive)
    state   trace state, repeatable (OK, ERROR, IN_PROGRESS, STATE_UNSPECIFIED)
    start   request time at or after (ISO date or datetime, e.g. 2025-05-01T09:30)
    end     request time before
    has     has a valid label (assessment) with this name
    lacks   has no valid label with this name

Unknown parameters (sorting, paging) are ignored. `TraceFilterForm(data, experiment=e)` checks
them; `form.filter(queryset)` applies the valid ones.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.http import QueryDict

from traces.models import Assessment, Experiment, TraceQuerySet, TraceState

FILTER_PARAMS = ("q", "state", "start", "end", "has", "lacks")
SEARCH_MAX_LENGTH = 200

DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


def label_names(experiment: Experiment) -> list[str]:
    """The label (assessment) names in use in an experiment, sorted; one query."""
    return list(
        Assessment.objects.filter(experiment=experiment, valid=True)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )


class TraceFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=SEARCH_MAX_LENGTH,
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
    start = forms.DateTimeField(
        label="From",
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = forms.DateTimeField(
        label="Until",
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    has = forms.ChoiceField(label="Has label", required=False)
    lacks = forms.ChoiceField(label="Lacks label", required=False)

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
        # A name from a link that no trace carries (yet) is still a valid filter: it matches
        # nothing (has) or everything (lacks).
        for name in ("has", "lacks"):
            value = self.data.get(name) if data is not None else None
            if value and len(value) <= 250:
                names.add(value)
        choices = [("", "Any"), *((name, name) for name in sorted(names))]
        self.fields["has"].choices = choices
        self.fields["lacks"].choices = choices

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start >= end:
            self.add_error("end", "The end must be after the start.")
        has, lacks = cleaned.get("has"), cleaned.get("lacks")
        if has and has == lacks:
            self.add_error("lacks", "A trace cannot both have and lack the same label.")
        return cleaned

    @property
    def is_filtering(self) -> bool:
        """Whether any filter is set (after `is_valid()`)."""
        return any(self.cleaned_data.get(name) for name in FILTER_PARAMS)

    def filter(self, traces: TraceQuerySet) -> TraceQuerySet:
        """`traces` narrowed to this experiment and the valid filters; none if the form is
        invalid (so a bad filter never means "everything")."""
        traces = traces.filter(experiment=self.experiment)
        if not self.is_valid():
            return traces.none()
        return apply_filters(traces, self.cleaned_data)

    def query_string(self) -> str:
        """The valid filters as a query string (to carry them over to another page)."""
        query = QueryDict(mutable=True)
        if not self.is_valid():
            return ""
        for name in FILTER_PARAMS:
            value = self.cleaned_data.get(name)
            if not value:
                continue
            if name == "state":
                query.setlist(name, list(value))
            elif name in ("start", "end"):
                query[name] = value.strftime("%Y-%m-%dT%H:%M")
            else:
                query[name] = value
        return query.urlencode()


def apply_filters(traces: TraceQuerySet, cleaned: dict[str, Any]) -> TraceQuerySet:
    """Apply cleaned filter values (see the module docstring) to a trace queryset."""
    text = cleaned.get("q")
    if text:
        traces = traces.filter(
            Q(request_preview__icontains=text)
            | Q(response_preview__icontains=text)
            | Q(trace_id__iexact=text)
        )
    if cleaned.get("state"):
        traces = traces.filter(state__in=cleaned["state"])
    if cleaned.get("start"):
        traces = traces.filter(request_time__gte=cleaned["start"])
    if cleaned.get("end"):
        traces = traces.filter(request_time__lt=cleaned["end"])
    if cleaned.get("has"):
        traces = traces.filter(_label_exists(cleaned["has"]))
    if cleaned.get("lacks"):
        traces = traces.filter(~_label_exists(cleaned["lacks"]))
    return traces


def _label_exists(name: str) -> Exists:
    return Exists(Assessment.objects.filter(trace=OuterRef("pk"), name=name, valid=True))


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
            query.setlist(name, values if name == "state" else values[-1:])
    return query
