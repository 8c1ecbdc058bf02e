"""Span inputs and outputs, parsed into small typed blocks that people can read.

A span's payloads are whatever the instrumented application recorded. This module recognises
the common shapes and says how to show them:

- chat messages (OpenAI chat completions and Responses, Anthropic messages, LangChain messages,
  plain or serialised) → a `Conversation`, with tool calls and tool results;
- retrieved documents (MLflow / LangChain `Document`: ``page_content``, ``metadata``) →
  `Documents`;
- a TOOL span → a `ToolInvocation` (its arguments and what it returned);
- a flat dict of short values → `Fields`; text → `Text`; anything else → pretty `Json`.

Everything here is a pure function of the payloads, so it is tested without a database. The
markup lives in ``templates/components/_span_io.html`` (and the ``_io_*.html`` it includes); the
``{% span_io %}`` tag in ``traces.templatetags.span_io`` connects the two. All values are
untrusted: templates auto-escape them, nothing here marks anything safe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

# Pretty JSON longer than this is cut (the page stays usable with multi-megabyte payloads).
PRETTY_MAX_CHARS = 100_000
# A dict with at most this many short values is shown as a list of fields, not as JSON.
FIELDS_MAX_KEYS = 20
FIELD_VALUE_MAX_CHARS = 2_000
# Text that looks like JSON is parsed when it is no longer than this.
PARSE_TEXT_MAX_CHARS = 1_000_000
# Long image data URLs are shortened for display.
URL_MAX_CHARS = 120


def pretty_json(value: Any, *, limit: int = PRETTY_MAX_CHARS) -> tuple[str, bool]:
    """Indented JSON text of `value` and whether it was cut at `limit` characters."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        return text[:limit], True
    return text, False


def _describe_size(value: Any) -> str:
    if isinstance(value, dict):
        return f"{len(value)} key{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return type(value).__name__


def _maybe_parse_json_text(value: Any) -> Any:
    """Applications often record JSON-encoded strings; read them as the data they encode."""
    if isinstance(value, str) and len(value) <= PARSE_TEXT_MAX_CHARS:
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                return json.loads(stripped)
            except ValueError:
                return value
    return value


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return pretty_json(value)[0]


# --- blocks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Plain text, shown with its line breaks."""

    text: str
    kind: ClassVar[str] = "text"


@dataclass(frozen=True)
class Field:
    key: str
    value: Any

    @property
    def text(self) -> str:
        if isinstance(self.value, list):
            return json.dumps(self.value, ensure_ascii=False)
        return _text_of(self.value)

    @property
    def is_long(self) -> bool:
        return isinstance(self.value, str) and (len(self.value) > 80 or "\n" in self.value)

    @property
    def is_empty(self) -> bool:
        return self.value is None or self.value == ""


@dataclass(frozen=True)
class Fields:
    """A small dict of short values: shown as labelled fields."""

    fields: tuple[Field, ...]
    kind: ClassVar[str] = "fields"


@dataclass(frozen=True)
class Json:
    """Anything else: collapsible, indented JSON."""

    value: Any
    kind: ClassVar[str] = "json"

    @cached_property
    def _pretty(self) -> tuple[str, bool]:
        return pretty_json(self.value)

    @property
    def pretty(self) -> str:
        return self._pretty[0]

    @property
    def truncated(self) -> bool:
        return self._pretty[1]

    @property
    def summary(self) -> str:
        return _describe_size(self.value)


@dataclass(frozen=True)
class ToolCall:
    """A model asking for a tool: its name and the arguments it chose."""

    name: str
    arguments: Any = None
    id: str = ""

    @property
    def arguments_block(self) -> Block:
        return parse_payload(self.arguments)


@dataclass(frozen=True)
class Part:
    """One piece of a message's content."""

    kind: str  # "text" | "image" | "tool_result" | "thinking" | "data"
    text: str = ""
    data: Any = None
    ref: str = ""  # image URL, or the id of the tool call a result answers

    @property
    def pretty(self) -> str:
        return pretty_json(self.data)[0]


ROLE_LABELS = {
    "system": "System",
    "developer": "Developer",
    "user": "User",
    "assistant": "Assistant",
    "tool": "Tool result",
}


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "developer" | "user" | "assistant" | "tool" | anything the app used
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    name: str = ""
    tool_call_id: str = ""
    tool_name: str = ""  # for tool results: the name of the call they answer, when known

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role.replace("_", " ").capitalize() or "Message")

    @property
    def is_empty(self) -> bool:
        return not self.tool_calls and not any(p.text or p.data is not None for p in self.parts)


@dataclass(frozen=True)
class Conversation:
    """Chat messages in order; `params` holds the other keys of the request (model, …)."""

    messages: tuple[Message, ...]
    params: Block | None = None
    kind: ClassVar[str] = "conversation"


@dataclass(frozen=True)
class Document:
    content: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""
    score: float | None = None
    source: str = ""

    @property
    def metadata_items(self) -> list[tuple[str, str]]:
        shown = {"doc_uri", "source", "url", "score", "relevance_score"}
        return [(str(k), _text_of(v)) for k, v in self.metadata.items() if k not in shown]


@dataclass(frozen=True)
class Documents:
    """Retrieved documents, shown as cards with their metadata."""

    documents: tuple[Document, ...]
    kind: ClassVar[str] = "documents"


@dataclass(frozen=True)
class ToolInvocation:
    """What a TOOL span was called with and what it returned."""

    name: str
    arguments: Block | None
    result: Block | None
    failed: bool = False
    kind: ClassVar[str] = "tool"


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


# --- messages ------------------------------------------------------------------------------------

LANGCHAIN_TYPES = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "chat": "",  # ChatMessage carries its own role
    "developer": "developer",
}
LANGCHAIN_CLASSES = {
    "HumanMessage": "user",
    "AIMessage": "assistant",
    "SystemMessage": "system",
    "ToolMessage": "tool",
    "FunctionMessage": "tool",
    "ChatMessage": "",
}
CHAT_ROLES = {"system", "developer", "user", "assistant", "tool", "function", "model"}


def _parse_arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def _tool_calls(raw: Any) -> list[ToolCall]:
    """OpenAI (`function.name/arguments`), LangChain (`name/args`) and Anthropic (`input`)."""
    if not isinstance(raw, list):
        return []
    calls = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        function = item.get("function")
        if isinstance(function, dict):
            name, arguments = function.get("name"), function.get("arguments")
        else:
            name = item.get("name")
            arguments = item.get("args", item.get("arguments", item.get("input")))
        calls.append(
            ToolCall(
                name=str(name or "tool"),
                arguments=_parse_arguments(arguments),
                id=str(item.get("id") or item.get("call_id") or ""),
            )
        )
    return calls


def _short_url(url: Any) -> str:
    text = str(url or "")
    if len(text) > URL_MAX_CHARS:
        return text[: URL_MAX_CHARS - 1] + "…"
    return text


def _content(content: Any) -> tuple[list[Part], list[ToolCall]]:
    """Message content: a string, or a list of typed blocks (OpenAI, Anthropic, LangChain)."""
    if content is None or content == "":
        return [], []
    if isinstance(content, str):
        return [Part(kind="text", text=content)], []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return [Part(kind="text", text=_text_of(content))], []
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for item in content:
        if isinstance(item, str):
            parts.append(Part(kind="text", text=item))
            continue
        if not isinstance(item, dict):
            parts.append(Part(kind="data", data=item))
            continue
        kind = item.get("type")
        if kind in ("text", "input_text", "output_text") or (kind is None and "text" in item):
            parts.append(Part(kind="text", text=_text_of(item.get("text"))))
        elif kind in ("image_url", "input_image"):
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append(Part(kind="image", ref=_short_url(url)))
        elif kind == "image":
            source = item.get("source") if isinstance(item.get("source"), dict) else {}
            ref = source.get("url") or source.get("media_type") or "image"
            parts.append(Part(kind="image", ref=_short_url(ref)))
        elif kind == "tool_use":
            calls.extend(_tool_calls([item]))
        elif kind == "tool_result":
            inner, _ = _content(item.get("content"))
            text = "\n\n".join(p.text for p in inner if p.text) or _text_of(item.get("content"))
            parts.append(Part(kind="tool_result", text=text, ref=str(item.get("tool_use_id", ""))))
        elif kind in ("thinking", "reasoning"):
            parts.append(Part(kind="thinking", text=_text_of(item.get("thinking") or item)))
        else:
            parts.append(Part(kind="data", data=item))
    return parts, calls


def _message_from(role: str, data: Mapping[str, Any]) -> Message:
    parts, calls = _content(data.get("content"))
    calls = calls + _tool_calls(data.get("tool_calls"))
    extra = data.get("additional_kwargs")
    if not calls and isinstance(extra, dict):
        calls = _tool_calls(extra.get("tool_calls"))
    function_call = data.get("function_call")
    if isinstance(function_call, dict):
        calls += _tool_calls([function_call])
    tool_results = [p for p in parts if p.kind == "tool_result"]
    if role == "function":
        role = "tool"
    if role == "model":  # Gemini's name for the assistant
        role = "assistant"
    if tool_results and len(tool_results) == len(parts) and not calls:
        # An Anthropic user turn that only carries tool results reads as a tool message.
        role = "tool"
    return Message(
        role=role,
        parts=tuple(parts),
        tool_calls=tuple(calls),
        name=str(data.get("name") or "") if role != "tool" else "",
        tool_call_id=str(data.get("tool_call_id") or (tool_results[0].ref if tool_results else "")),
        tool_name=str(data.get("name") or "") if role == "tool" else "",
    )


def parse_message(value: Any) -> Message | None:
    """One chat message in any of the shapes we know, or None."""
    if not isinstance(value, dict):
        return None
    # LangChain's serialised form: {"lc": 1, "type": "constructor", "id": [..., "AIMessage"], ...}
    if value.get("lc") == 1 and isinstance(value.get("id"), list) and value["id"]:
        class_name = str(value["id"][-1]).removesuffix("Chunk")
        kwargs = value.get("kwargs")
        if class_name in LANGCHAIN_CLASSES and isinstance(kwargs, dict):
            role = LANGCHAIN_CLASSES[class_name] or str(kwargs.get("role") or "message")
            return _message_from(role, kwargs)
        return None
    role = value.get("role")
    if isinstance(role, str) and role and ("content" in value or "tool_calls" in value):
        if value.get("type") not in (None, "message"):
            return None
        return _message_from(role.lower(), value)
    kind = value.get("type")
    if isinstance(kind, str) and "content" in value:
        base = kind.removesuffix("Chunk").removesuffix("MessageChunk").lower()
        if base in LANGCHAIN_TYPES:
            role = LANGCHAIN_TYPES[base] or str(value.get("role") or "message")
            return _message_from(role, value)
    # OpenAI Responses API items that are not messages.
    if kind == "function_call" and "name" in value:
        call = ToolCall(
            name=str(value["name"]),
            arguments=_parse_arguments(value.get("arguments")),
            id=str(value.get("call_id") or value.get("id") or ""),
        )
        return Message(role="assistant", tool_calls=(call,))
    if kind == "function_call_output" and "output" in value:
        return Message(
            role="tool",
            parts=(Part(kind="text", text=_text_of(value["output"])),),
            tool_call_id=str(value.get("call_id") or ""),
        )
    return None


def _messages(value: Any) -> list[Message] | None:
    """A list whose items are all messages (LangChain batches `[[...]]` of one are unwrapped)."""
    if not isinstance(value, list) or not value:
        return None
    if len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    messages = []
    for item in value:
        message = parse_message(item)
        if message is None:
            return None
        messages.append(message)
    return messages or None


def _link_tool_results(messages: list[Message]) -> tuple[Message, ...]:
    """Name each tool result after the call it answers, when the call is in the conversation."""
    names = {call.id: call.name for m in messages for call in m.tool_calls if call.id}
    linked = []
    for message in messages:
        if message.role == "tool" and not message.tool_name and message.tool_call_id in names:
            message = Message(
                role=message.role,
                parts=message.parts,
                tool_calls=message.tool_calls,
                name=message.name,
                tool_call_id=message.tool_call_id,
                tool_name=names[message.tool_call_id],
            )
        linked.append(message)
    return tuple(linked)


def _params(rest: Mapping[str, Any]) -> Block | None:
    rest = {k: v for k, v in rest.items() if v is not None}
    return parse_payload(rest) if rest else None


def parse_conversation(value: Any) -> Conversation | None:
    """Chat requests and responses of the providers and frameworks we know, or None."""
    value = _maybe_parse_json_text(value)
    messages = _messages(value)
    if messages:
        return Conversation(messages=_link_tool_results(messages))
    if not isinstance(value, dict):
        return None
    # Requests: OpenAI / Anthropic / LangChain `{"messages": [...]}`, Responses API `input`.
    for key in ("messages", "input"):
        messages = _messages(value.get(key))
        if messages:
            rest = {k: v for k, v in value.items() if k not in (key, "system", "instructions")}
            system = value.get("system", value.get("instructions"))
            if system:
                parts, _ = _content(system)
                messages = [Message(role="system", parts=tuple(parts)), *messages]
            return Conversation(messages=_link_tool_results(messages), params=_params(rest))
    # OpenAI chat completion: {"choices": [{"message": {...}}]}
    choices = value.get("choices")
    if isinstance(choices, list) and choices:
        messages = []
        for choice in choices:
            if not isinstance(choice, dict):
                return None
            message = parse_message(choice.get("message") or choice.get("delta"))
            if message is None:
                return None
            messages.append(message)
        rest = {k: v for k, v in value.items() if k != "choices"}
        return Conversation(messages=tuple(messages), params=_params(rest))
    # OpenAI Responses API: {"output": [...]}
    messages = _messages(value.get("output"))
    if messages:
        rest = {k: v for k, v in value.items() if k != "output"}
        return Conversation(messages=_link_tool_results(messages), params=_params(rest))
    # LangChain LLMResult: {"generations": [[{"message": {...}} | {"text": "..."}]]}
    generations = value.get("generations")
    if isinstance(generations, list) and generations:
        batch = generations[0] if isinstance(generations[0], list) else generations
        messages = []
        for generation in batch:
            if not isinstance(generation, dict):
                return None
            message = parse_message(generation.get("message"))
            if message is None and isinstance(generation.get("text"), str):
                message = Message(role="assistant", parts=(Part("text", generation["text"]),))
            if message is None:
                return None
            messages.append(message)
        if messages:
            rest = {k: v for k, v in value.items() if k != "generations"}
            return Conversation(messages=tuple(messages), params=_params(rest))
    # One message (an Anthropic response, a LangChain AIMessage).
    message = parse_message(value)
    if message is not None:
        rest = {
            k: v
            for k, v in value.items()
            if k in ("model", "stop_reason", "usage", "usage_metadata", "response_metadata")
        }
        return Conversation(messages=(message,), params=_params(rest))
    return None


# --- documents -----------------------------------------------------------------------------------


def _document(value: Any, *, loose: bool) -> Document | None:
    if isinstance(value, str) and loose:
        return Document(content=value)
    if not isinstance(value, dict):
        return None
    metadata = value.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    if "page_content" in value:
        content = value.get("page_content")
    elif ("content" in value or "text" in value) and ("metadata" in value or loose):
        content = value.get("content", value.get("text"))
    else:
        return None
    score = value.get("score", metadata.get("score", metadata.get("relevance_score")))
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        score = None
    source = metadata.get("doc_uri") or metadata.get("source") or metadata.get("url") or ""
    doc_id = value.get("id") or metadata.get("chunk_id") or metadata.get("id") or ""
    return Document(
        content=_text_of(content),
        metadata=metadata,
        id=_text_of(doc_id),
        score=score,
        source=_text_of(source),
    )


def parse_documents(value: Any, *, retriever: bool = False) -> Documents | None:
    """A list of retrieved documents (`{"documents": [...]}` too), or None.

    In a RETRIEVER span, plain strings and `{"content": …}` dicts count as documents as well.
    """
    value = _maybe_parse_json_text(value)
    if isinstance(value, dict) and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, list):
            value = inner
    if not isinstance(value, list) or not value:
        return None
    documents = []
    for item in value:
        document = _document(item, loose=retriever)
        if document is None:
            return None
        documents.append(document)
    return Documents(documents=tuple(documents))


# --- everything ----------------------------------------------------------------------------------


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
    value = _maybe_parse_json_text(value)
    if isinstance(value, str):
        return Text(text=value)
    if isinstance(value, (bool, int, float)):
        return Text(text=_text_of(value))
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


# --- assessment values ---------------------------------------------------------------------------

VALUE_SHORT_CHARS = 40


@dataclass(frozen=True)
class ValueView:
    """An assessment value for display: `short` fits a table cell, `full` a detail pane."""

    kind: str  # "true" | "false" | "number" | "text" | "json" | "error" | "empty"
    short: str
    full: str

    @property
    def is_multiline(self) -> bool:
        return self.kind == "json" or "\n" in self.full


def _format_number(value: int | float) -> str:
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return f"{value:.6g}"


def describe_value(value: Any, *, error_code: str = "", error_message: str = "") -> ValueView:
    if error_code:
        full = f"{error_code}: {error_message}" if error_message else error_code
        return ValueView(kind="error", short="error", full=full)
    if value is None:
        return ValueView(kind="empty", short="—", full="")
    if isinstance(value, bool):
        text = "true" if value else "false"
        return ValueView(kind=text, short=text, full=text)
    if isinstance(value, (int, float)):
        text = _format_number(value)
        return ValueView(kind="number", short=text, full=str(value))
    if isinstance(value, str):
        one_line = " ".join(value.split())
        short = (
            one_line
            if len(one_line) <= VALUE_SHORT_CHARS
            else one_line[: VALUE_SHORT_CHARS - 1] + "…"
        )
        return ValueView(kind="text", short=short, full=value)
    full, _ = pretty_json(value, limit=20_000)
    return ValueView(kind="json", short="JSON", full=full)
