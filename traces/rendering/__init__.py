"""Span inputs and outputs, parsed into small typed blocks that people can read.

A span's payloads are whatever the instrumented application recorded. This package recognises
the common shapes and says how to show them, one module per kind of content:

- `chat`: chat messages (OpenAI chat completions and Responses, Anthropic messages, LangChain
  messages, plain or serialised) → a `Conversation`, with tool calls and tool results;
- `documents`: retrieved documents (MLflow / LangChain `Document`: ``page_content``,
  ``metadata``) → `Documents`;
- `tools`: the tool calls a message makes, and a TOOL span → a `ToolInvocation` (its arguments
  and what it returned);
- `values`: a flat dict of short values → `Fields`; text → `Text`; anything else → pretty
  `Json`; and an assessment value for a table cell or a detail pane → `ValueView`;
- `events`: a span's attributes and events;
- `payloads`: which of those a payload is (`parse_payload`), a span's panel (`span_io`,
  `span_io_for`) and the one-line reading of a trace's preview (`preview_text`).

The names other modules and templates use are importable from `traces.rendering` itself.

Everything here is a pure function of the payloads, so it is tested without a database. The
markup lives in ``templates/components/_span_io.html`` (and the ``_io_*.html`` it includes); the
``{% span_io %}`` tag in ``traces.templatetags.span_io`` connects the two. All values are
untrusted: templates auto-escape them, nothing here marks anything safe.
"""

from traces.rendering.chat import Conversation, Message, Part, parse_conversation, parse_message
from traces.rendering.documents import Document, Documents, parse_documents
from traces.rendering.events import SpanEvent, attribute_items, parse_events
from traces.rendering.payloads import (
    Block,
    Section,
    SpanIO,
    parse_payload,
    preview_text,
    span_io,
    span_io_for,
)
from traces.rendering.tools import ToolCall, ToolInvocation
from traces.rendering.values import (
    Field,
    Fields,
    Json,
    Text,
    ValueView,
    describe_value,
    pretty_json,
)

__all__ = [
    "Block",
    "Conversation",
    "Document",
    "Documents",
    "Field",
    "Fields",
    "Json",
    "Message",
    "Part",
    "Section",
    "SpanEvent",
    "SpanIO",
    "Text",
    "ToolCall",
    "ToolInvocation",
    "ValueView",
    "attribute_items",
    "describe_value",
    "parse_conversation",
    "parse_documents",
    "parse_events",
    "parse_message",
    "parse_payload",
    "pretty_json",
    "preview_text",
    "span_io",
    "span_io_for",
]
