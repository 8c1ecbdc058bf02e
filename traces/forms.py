"""Forms of the trace explorer: adding and editing a label, and the trace list's filters.

A label form turns what a person typed (kind, name, data type, value, rationale) into the value
the assessment services store, and checks it with the services' own validators, so the rules
are the same as for the importer and the API. Errors land on the field they are about.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from traces import services
from traces.models import NAME_MAX_LENGTH, AssessmentKind, SourceType, TraceState


class DataType(models.TextChoices):
    """The UI's data types and the JSON values they make."""

    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    STRING = "string", "String"
    JSON = "json", "JSON"


BOOLEAN_CHOICES = [("true", "True"), ("false", "False")]


def data_type_of(value: Any) -> DataType:
    """The data type a stored value is edited as."""
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if isinstance(value, (int, float)):
        return DataType.NUMBER
    if isinstance(value, str):
        return DataType.STRING
    return DataType.JSON


def value_as_text(value: Any, data_type: str) -> str:
    """How a stored value is written in the value input of `data_type`."""
    if value is None:
        return ""
    if data_type == DataType.JSON:
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_number(text: str) -> int | float:
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        raise ValidationError(
            "“%(value)s” is not a number. Enter a number such as 4 or 0.75.",
            code="not_a_number",
            params={"value": text[:40]},
        ) from None
    if not math.isfinite(number):
        raise ValidationError("Enter a finite number.", code="not_a_number")
    if number.is_integer() and not any(c in text for c in ".eE"):
        return int(text)
    return number


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "This is not valid JSON: %(reason)s at line %(line)d, column %(column)d.",
            code="invalid_json",
            params={"reason": exc.msg, "line": exc.lineno, "column": exc.colno},
        ) from None


class LabelValueForm(forms.Form):
    """Data type, value and rationale: what adding and editing a label have in common.

    `kind` decides which values are allowed (a feedback's JSON holds only flat lists and
    dicts; an expectation's any JSON). After `is_valid()`, `cleaned_data["parsed_value"]` is the
    value to store. The value input follows the data type; `change_type` posts re-render the
    form with the new input and no errors (the no-JavaScript way to switch types).
    """

    data_type = forms.ChoiceField(label="Data type", choices=DataType.choices)
    value = forms.CharField(label="Value", required=False, strip=False)
    rationale = forms.CharField(
        label="Rationale",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Optional: why this value?"}),
        help_text="Optional notes about the value.",
    )

    def __init__(self, *args: Any, kind: str = AssessmentKind.FEEDBACK, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self._set_value_widget()

    # The data type the form currently shows (posted, or initial).
    @property
    def current_data_type(self) -> str:
        if self.is_bound:
            posted = self.data.get(self.add_prefix("data_type"))
            if posted in DataType.values:
                return posted
        initial = self.initial.get("data_type") or self.fields["data_type"].initial
        return initial if initial in DataType.values else DataType.STRING

    @property
    def value_field_id(self) -> str:
        """The id of the element the HTMX type switch swaps."""
        return f"{self.auto_id % 'value'}-field" if self.auto_id else "value-field"

    def _set_value_widget(self) -> None:
        data_type = self.current_data_type
        value_field = self.fields["value"]
        if data_type == DataType.BOOLEAN:
            value_field.widget = forms.RadioSelect(choices=BOOLEAN_CHOICES)
        elif data_type == DataType.NUMBER:
            value_field.widget = forms.TextInput(
                attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "e.g. 4"}
            )
        elif data_type == DataType.JSON:
            value_field.widget = forms.Textarea(
                attrs={
                    "rows": 5,
                    "class": "code-input",
                    "spellcheck": "false",
                    "placeholder": '{"key": "value"}',
                }
            )
        else:
            value_field.widget = forms.Textarea(attrs={"rows": 3})
        value_field.help_text = self._value_help(data_type)

    def _value_help(self, data_type: str) -> str:
        if data_type == DataType.JSON:
            if self.kind == AssessmentKind.FEEDBACK:
                return (
                    "A JSON list or object of numbers, booleans and text. Nested JSON needs an "
                    "Expectation."
                )
            return "Any JSON: an object, a list, text in quotes, a number, true or false."
        if data_type == DataType.NUMBER:
            return "A whole or decimal number."
        return ""

    def clean_value(self) -> str:
        value = self.cleaned_data.get("value") or ""
        data_type = self.data.get(self.add_prefix("data_type"))
        if data_type == DataType.BOOLEAN:
            return value
        # Keep the text as typed (JSON indentation); only blank means missing.
        return value if value.strip() else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        data_type = cleaned.get("data_type")
        if data_type is None or "value" in self.errors:
            return cleaned
        text = cleaned.get("value", "")
        try:
            cleaned["parsed_value"] = self._parse(data_type, text)
        except ValidationError as error:
            self.add_error("value", error)
        return cleaned

    def _parse(self, data_type: str, text: str) -> Any:
        if data_type == DataType.BOOLEAN:
            if text not in ("true", "false"):
                raise ValidationError("Choose True or False.", code="required")
            return text == "true"
        if not text.strip():
            message = {
                DataType.NUMBER: "Enter a number.",
                DataType.JSON: 'Enter a JSON value, for example {"key": "value"}.',
            }.get(data_type, "Enter a value.")
            raise ValidationError(message, code="required")
        if data_type == DataType.NUMBER:
            value: Any = parse_number(text)
        elif data_type == DataType.JSON:
            value = parse_json(text)
        else:
            value = text.strip()
        if value is None:
            raise ValidationError("A label needs a value; null is not one.", code="required")
        if self.kind == AssessmentKind.FEEDBACK:
            value = services.validate_feedback_value(value)
        return services.validate_json_value(value)


class AddLabelForm(LabelValueForm):
    """The Add label form: kind and name, then the shared value fields."""

    kind = forms.ChoiceField(
        label="Type",
        choices=AssessmentKind.choices,
        initial=AssessmentKind.FEEDBACK,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "placeholder": "e.g. correctness",
                "list": "label-name-options",
            }
        ),
    )

    field_order = ["kind", "name", "data_type", "value", "rationale"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound:
            kind = self.data.get(self.add_prefix("kind"))
        else:
            kind = self.initial.get("kind") or self.fields["kind"].initial
        self.kind = kind if kind in AssessmentKind.values else AssessmentKind.FEEDBACK
        self.fields["value"].help_text = self._value_help(self.current_data_type)

    def clean_name(self) -> str:
        name = self.cleaned_data.get("name") or ""
        if not name.strip():
            raise ValidationError(
                "Give the label a name, such as correctness or expected_answer.", code="required"
            )
        return services.validate_name(name)


class EditLabelForm(LabelValueForm):
    """Editing a label changes its value and rationale; its kind, name and span stay."""

    @classmethod
    def for_assessment(cls, assessment: Any, **kwargs: Any) -> EditLabelForm:
        data_type = data_type_of(assessment.value)
        return cls(
            initial={
                "data_type": data_type,
                "value": value_as_text(assessment.value, data_type),
                "rationale": assessment.rationale,
            },
            kind=assessment.kind,
            **kwargs,
        )


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
        return sum(1 for key in keys if self.cleaned_data.get(key))


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
