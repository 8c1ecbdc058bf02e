from django import forms
from django.forms.renderers import TemplatesSetting

from reviewapp.models import TOKEN_NAME_MAX_LENGTH
from reviewapp.services import validate_token_name


class FormRenderer(TemplatesSetting):
    """Project form markup: errors next to their field, help text linked for screen readers."""

    field_template_name = "components/_field.html"


class ApiTokenForm(forms.Form):
    """Name a new API token."""

    name = forms.CharField(
        label="Name of the new token",
        max_length=TOKEN_NAME_MAX_LENGTH,
        help_text="Where the token is used, e.g. “support bot (production)”.",
        widget=forms.TextInput(attrs={"placeholder": "support bot (production)"}),
    )

    def clean_name(self) -> str:
        return validate_token_name(self.cleaned_data["name"])
