"""How traces read in any page (explorer, review app, console): label values, the span tree,
small filters (`{% load trace_display %}`).

The span tree and the label values are written in Python (with every piece of trace content
escaped) rather than with `{% include %}` per item: a trace has thousands of spans and a trace
list hundreds of values, and this keeps those pages fast.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from traces.rendering import ValueView, describe_value
from traces.spantree import SpanTree, format_duration_ns

register = template.Library()

# Tree rows indent by depth up to this one (static/css/sizes.css has classes d-0 … d-14).
MAX_DEPTH_CLASS = 14

# str.translate is several times faster than html.escape's five replaces; same output.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def label_value_html(value: ValueView, *, full: bool = False, title: str = "") -> SafeString:
    """An assessment value as an icon (true / false), a number, a text or JSON chip; with
    `full`, long text and JSON are shown whole. `title` is the tooltip (defaults to the value)."""
    tip = title or value.full
    if value.kind in ("true", "false"):
        icon = "✓" if value.kind == "true" else "✗"
        word = format_html(' <span class="val-word">{}</span>', value.full.capitalize())
        return format_html(
            '<span class="val val-{}" title="{}"><span aria-hidden="true">{}</span>'
            '<span class="visually-hidden">{}</span></span>{}',
            value.kind,
            tip,
            icon,
            value.full,
            word if full else "",
        )
    if value.kind == "number":
        return format_html('<span class="val val-number" title="{}">{}</span>', tip, value.short)
    if value.kind == "error":
        return format_html(
            '<span class="val val-error" title="{}">{}</span>',
            tip,
            value.full if full else value.short,
        )
    if value.kind == "json":
        if full:
            return format_html('<pre class="val-json-full">{}</pre>', value.full)
        return format_html('<span class="val val-json" title="{}">JSON</span>', tip)
    if value.kind == "text":
        if full:
            return format_html('<span class="val-text-full">{}</span>', value.full)
        return format_html('<span class="val val-text" title="{}">{}</span>', tip, value.short)
    return mark_safe('<span class="val val-empty">—</span>')


@register.simple_tag
def label_value(value: object, full: bool = False, title: str = "") -> SafeString:
    """`{% label_value value full=True %}`: a `ValueView` or a raw JSON value."""
    if not isinstance(value, ValueView):
        value = describe_value(value)
    return label_value_html(value, full=full, title=title)


@register.simple_tag
def span_tree(tree: SpanTree, selected_id: str | None) -> SafeString:
    """The span tree as nested lists: a `<details>` holds each span's children (its summary is
    the toggle beside the span's link), so it collapses without JavaScript; each row a link
    (`?span=…`) with type, name, error and label marks, a timing
    bar and the duration. One pass over the spans, string building only."""
    out: list[str] = ["<ul>"]
    append = out.append
    for n in tree.nodes:
        current = ' aria-current="true"' if n.span_id == selected_id else ""
        href = n.span_id if n.span_id.isalnum() else escape(quote(n.span_id, safe=""))
        row = (
            f'<a class="sp{" err" if n.is_error else ""}" href="?span={href}"{current}>'
            f'<span class="sp-type t-{n.type_class}">{escape(n.type_label)}</span>'
            f'<span class="sp-name">{escape(n.name)}</span>'
        )
        if n.is_error:
            row += '<span class="sp-err" title="Error">!</span>'
        if n.label_count:
            plural = "" if n.label_count == 1 else "s"
            row += (
                f'<span class="sp-labels" title="{n.label_count} label{plural}">'
                f"{n.label_count}</span>"
            )
        row += (
            f'<span class="sp-bar" aria-hidden="true"><i class="{n.bar_class}"></i></span>'
            f'<span class="sp-dur">{n.duration_label}</span></a>'
        )
        depth = f"d-{min(n.depth, MAX_DEPTH_CLASS)}"
        if n.has_children:
            # The toggle sits beside the link, not around it (no control inside another).
            append(
                f'<li class="sp-parent {depth}">{row}<details open>'
                f'<summary class="sp-toggle"><span class="visually-hidden">Child spans of '
                f"{escape(n.name)}</span></summary><ul>"
            )
        else:
            append(f'<li class="{depth}">{row}</li>')
        append("</ul></details></li>" * len(n.closes))
    append("</ul>")
    return mark_safe("".join(out))


@register.filter
def duration_ns(value: int | None) -> str:
    """Nanoseconds as "850 µs", "12 ms", "1.25 s"."""
    return format_duration_ns(value)


@register.filter
def breakable(text: str) -> SafeString:
    """Escape `text` and let long snake_case names wrap after underscores and dots."""
    escaped = str(conditional_escape(text))
    return mark_safe(escaped.replace("_", "_<wbr>").replace(".", ".<wbr>"))


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now", "5 minutes ago", "2 days ago" (the largest unit only)."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, depth=1)} ago"
