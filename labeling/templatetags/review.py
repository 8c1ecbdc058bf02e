"""Template helpers of the review app."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()

PRETTY_MAX_CHARS = 100_000


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON text of a value (escaped by the template like any text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value[:PRETTY_MAX_CHARS]
        if isinstance(value, str):
            return value[:PRETTY_MAX_CHARS]
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > PRETTY_MAX_CHARS:
        return text[:PRETTY_MAX_CHARS] + "\n… (cut)"
    return text


@register.filter
def label_value(value: Any) -> str:
    """A label's value as a person reads it."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(label_value(v) for v in value)
    if value is None:
        return "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
