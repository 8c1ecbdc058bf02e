"""Which kind of content a payload is, and a span's panel of sections.

`parse_payload` tries each kind in turn (a conversation, documents, a few fields) and falls back
to text or pretty JSON; `span_io` / `span_io_for` lay out a span's inputs and outputs (a TOOL
span as one tool call); `preview_text` reads a trace's stored request or response preview as
one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from traces.rendering.chat import Conversation, parse_conversation
from traces.rendering.documents import Documents, parse_documents
from traces.rendering.tools import ToolInvocation
from traces.rendering.values import (
    Field,
    Fields,
    Json,
    Text,
    maybe_parse_json_text,
    pretty_json,
    text_of,
)

# A dict with at most this many short values is shown as a list of fields, not as JSON.
FIELDS_MAX_KEYS = 20
FIELD_VALUE_MAX_CHARS = 2_000


Block = Text | Fields | Json | Conversation | Documents | ToolInvocation


@dataclass(frozen=True)
class Section:
    """A titled part of the span panel ("Inputs", "Outputs", "Tool call")."""

    title: str
    block: Block | None
    raw: Any = None
    empty_text: str = "Nothing recorded."

    @cached_property
    def _raw(self) -> tuple[str, bool]:
        return pretty_json(self.raw)

    @property
    def raw_json(self) -> str:
        return self._raw[0]

    @property
    def raw_truncated(self) -> bool:
        return self._raw[1]

    @property
    def shows_raw(self) -> bool:
        """Offer the exact JSON next to a friendlier rendering (not when it is JSON already)."""
        return self.block is not None and self.block.kind not in ("json", "text")


@dataclass(frozen=True)
class SpanIO:
    sections: tuple[Section, ...]


def _is_short_scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= FIELD_VALUE_MAX_CHARS
    return value is None or isinstance(value, (bool, int, float))


def _is_field_value(value: Any) -> bool:
    """Short scalars, and short lists of them (shown as compact JSON: `["a", "b"]`)."""
    if isinstance(value, list):
        return len(value) <= 10 and all(
            len(v) <= 80 if isinstance(v, str) else _is_short_scalar(v) for v in value
        )
    return _is_short_scalar(value)


def parse_payload(value: Any, *, span_type: str = "") -> Block | None:
    """The best way to show one payload. None when nothing was recorded."""
    if value is None or value == "" or value == {} or value == []:
        return None
    value = maybe_parse_json_text(value)
    if isinstance(value, str):
        return Text(text=value)
    if isinstance(value, (bool, int, float)):
        return Text(text=text_of(value))
    conversation = parse_conversation(value)
    if conversation is not None:
        return conversation
    documents = parse_documents(value, retriever=span_type.upper() == "RETRIEVER")
    if documents is not None:
        return documents
    if (
        isinstance(value, dict)
        and 0 < len(value) <= FIELDS_MAX_KEYS
        and all(isinstance(k, str) for k in value)
        and all(_is_field_value(v) for v in value.values())
    ):
        return Fields(fields=tuple(Field(key=k, value=v) for k, v in value.items()))
    return Json(value=value)


def span_io(
    *,
    inputs: Any,
    outputs: Any,
    span_type: str = "",
    name: str = "",
    failed: bool = False,
) -> SpanIO:
    """The sections of a span panel for these payloads.

    A TOOL span reads as one tool call (arguments and result); other spans as inputs, outputs.
    """
    kind = (span_type or "").upper()
    if kind == "TOOL":
        invocation = ToolInvocation(
            name=name or "tool",
            arguments=parse_payload(inputs),
            result=parse_payload(outputs),
            failed=failed,
        )
        raw = {"inputs": inputs, "outputs": outputs}
        return SpanIO(sections=(Section(title="Tool call", block=invocation, raw=raw),))
    return SpanIO(
        sections=(
            Section(
                title="Inputs",
                block=parse_payload(inputs, span_type=kind),
                raw=inputs,
                empty_text="No inputs were recorded.",
            ),
            Section(
                title="Outputs",
                block=parse_payload(outputs, span_type=kind),
                raw=outputs,
                empty_text="No outputs were recorded.",
            ),
        )
    )


def span_io_for(span: Any) -> SpanIO:
    """`span_io` for a `traces.models.Span` (or anything with the same attributes)."""
    return span_io(
        inputs=getattr(span, "inputs", None),
        outputs=getattr(span, "outputs", None),
        span_type=getattr(span, "span_type", "") or "",
        name=getattr(span, "name", "") or "",
        failed=getattr(span, "status_code", "") == "ERROR",
    )


def preview_text(preview: str) -> str:
    """A one-line reading of a trace's request or response preview (truncated JSON text).

    The question of `{"messages": [...]}` is its last user message; a dict with one text value
    is that text; a JSON string is its text; anything else (including JSON cut short) is shown
    as it was stored.
    """
    if not preview:
        return ""
    try:
        value = json.loads(preview)
    except ValueError:
        return preview
    if isinstance(value, str):
        return value
    conversation = parse_conversation(value)
    if conversation is not None:
        for wanted in ("user", "assistant", None):
            for message in reversed(conversation.messages):
                if wanted is None or message.role == wanted:
                    text = " ".join(p.text for p in message.parts if p.text)
                    if text:
                        return text
    if isinstance(value, dict):
        texts = [v for v in value.values() if isinstance(v, str) and v]
        if len(texts) == 1:
            return texts[0]
    return preview
