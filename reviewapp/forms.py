from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """Project form markup: errors next to their field, help text linked for screen readers."""

    field_template_name = "components/_field.html"
