"""`{% span_io span %}`: a span's inputs and outputs, rendered for people.

Usable on any page: ``{% load span_io %}{% span_io span %}`` for a `traces.models.Span` (or any
object with `inputs`, `outputs`, `span_type`, `name`), or
``{% span_io inputs=… outputs=… span_type="RETRIEVER" %}`` for bare payloads. The markup is
``templates/components/_span_io.html``; parsing is `traces.rendering`.
"""

from __future__ import annotations

from typing import Any

from django import template

from traces import rendering

register = template.Library()


@register.inclusion_tag("components/_span_io.html")
def span_io(
    span: Any = None,
    *,
    inputs: Any = None,
    outputs: Any = None,
    span_type: str = "",
    name: str = "",
) -> dict[str, Any]:
    if span is not None:
        return {"io": rendering.span_io_for(span)}
    return {"io": rendering.span_io(inputs=inputs, outputs=outputs, span_type=span_type, name=name)}
