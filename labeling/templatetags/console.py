"""Template helpers of the curator console."""

from typing import Any

from django import template

from labeling.console.forms import describe_settings

register = template.Library()


@register.filter
def input_summary(schema: Any) -> str:
    """`{{ schema|input_summary }}`: "1 to 5, step 1", "3 options: …" and so on. Accepts a
    schema or a version snapshot (a dict)."""
    if isinstance(schema, dict):
        return describe_settings(schema.get("input_type", ""), schema.get("input_config"))
    return describe_settings(schema.input_type, schema.input_config)


@register.filter
def seconds(value: float | None) -> str:
    """A duration in seconds, short: "42 s", "3 min 5 s", "1 h 2 min"; "—" when unknown."""
    if value is None:
        return "—"
    total = round(value)
    if total < 60:
        return f"{value:.1f} s" if value < 10 else f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def json_value(value: Any) -> str:
    """An assessment value, compact: lists joined, booleans as true/false, dicts as JSON."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


@register.filter
def preview_text(preview: str | None) -> str:
    """A trace's request / response preview as a person reads it (the explorer's reading:
    `traces.rendering.preview_text`). Plain text out, escaped by the template as usual."""
    from traces.rendering import preview_text as reading

    return reading(preview or "")


@register.filter
def ago(moment: Any, now: Any = None) -> str:
    """ "just now", "5 min ago", "3 h ago", "2 days ago"; "never" when empty."""
    from django.utils import timezone

    if not moment:
        return "never"
    seconds = int(((now or timezone.now()) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days != 1 else ''} ago"


@register.simple_tag
def answer_display(schema: Any, value: Any) -> str:
    """`{% answer_display schema value %}`: a pass / fail answer by its label, else compact."""
    if schema.input_type == "pass_fail" and isinstance(value, bool):
        config = schema.input_config or {}
        return (
            config.get("positive_label", "Pass") if value else config.get("negative_label", "Fail")
        )
    return json_value(value)
