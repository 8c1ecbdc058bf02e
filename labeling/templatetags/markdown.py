from django import template
from django.utils.safestring import SafeString

from labeling.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str | None) -> SafeString:
    """`{{ schema.instruction|markdown }}`: curator Markdown, rendered and sanitised."""
    return render_markdown(text)
