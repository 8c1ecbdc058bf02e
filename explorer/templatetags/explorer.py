"""The trace explorer's own template tags (`{% load explorer %}`)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from traces.templatetags.trace_display import escape

register = template.Library()


@register.simple_tag
def trace_rows(rows: list) -> SafeString:
    """The trace list's rows (`explorer.views.TraceRow`): one `<tr>` each, string building only,
    every value escaped (the label cells are already-escaped markup)."""
    out = []
    for row in rows:
        trace_id = escape(row.trace_id)
        cells = "".join(
            f'<td class="label-cell{" group-start" if cell.group_start else ""}">{cell.html}</td>'
            for cell in row.cells
        )
        out.append(
            "<tr>"
            f'<td class="select-col"><input type="checkbox" name="trace" value="{trace_id}"'
            f' form="trace-selection" aria-label="Select trace {trace_id}"></td>'
            f'<td class="preview"><a href="{escape(row.url)}" class="preview-link">'
            f"{escape(row.request_text) or '(empty request)'}</a></td>"
            f'<td class="preview"><span class="preview-text">{escape(row.response_text)}'
            "</span></td>"
            f'<td><span class="state state-{escape(row.state_class)}">{escape(row.state_label)}'
            "</span></td>"
            f'<td class="nowrap"><time datetime="{row.time_iso}" title="{escape(row.time_title)}">'
            f"{escape(row.time_label)}</time></td>"
            f'<td class="num nowrap">{row.duration_label}</td>'
            f'<td class="num">{row.tokens_label}</td>'
            f"{cells}</tr>"
        )
    return mark_safe("\n".join(out))  # every value above is escaped
