"""Template helpers of the review app."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


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
