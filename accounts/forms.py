from django import forms

from accounts.models import TOKEN_NAME_MAX_LENGTH
from accounts.services import validate_token_name


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
