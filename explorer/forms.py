"""Forms of the trace explorer: adding and editing a label.

A label form turns what a person typed (kind, name, data type, value, rationale) into the value
the assessment services store, and checks it with the services' own validators, so the rules
are the same as for the importer and the API. Errors land on the field they are about.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from traces import services
from traces.models import NAME_MAX_LENGTH, RATIONALE_MAX_LENGTH, AssessmentKind
from traces.values import DataType, data_type_of, parse_json, parse_number, value_as_text

BOOLEAN_CHOICES = [("true", "True"), ("false", "False")]


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
        max_length=RATIONALE_MAX_LENGTH,
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
