"""Chat messages, shown as a conversation.

OpenAI chat completions and Responses, Anthropic messages, LangChain messages (plain or
serialised), Gemini's roles: `parse_conversation` turns a chat request or response into a
`Conversation` of `Message`s made of `Part`s, with the tool calls they make
(`traces.rendering.tools`) and tool results named after the call they answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from traces.rendering.tools import ToolCall, parse_arguments, parse_tool_calls
from traces.rendering.values import maybe_parse_json_text, pretty_json, text_of

if TYPE_CHECKING:
    from traces.rendering.payloads import Block

# Long image data URLs are shortened for display.
URL_MAX_CHARS = 120


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

    @property
    def json_block(self) -> Block | None:
        """Text that is a JSON object or list (what tools often return), as a block."""
        # A payload inside a payload: `payloads` imports this module, so look it up when used.
        from traces.rendering.payloads import parse_payload

        if self.kind not in ("text", "tool_result"):
            return None
        value = maybe_parse_json_text(self.text)
        if isinstance(value, (dict, list)) and value:
            return parse_payload(value)
        return None


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
        return [Part(kind="text", text=text_of(content))], []
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
            parts.append(Part(kind="text", text=text_of(item.get("text"))))
        elif kind in ("image_url", "input_image"):
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append(Part(kind="image", ref=_short_url(url)))
        elif kind == "image":
            source = item.get("source") if isinstance(item.get("source"), dict) else {}
            ref = source.get("url") or source.get("media_type") or "image"
            parts.append(Part(kind="image", ref=_short_url(ref)))
        elif kind == "tool_use":
            calls.extend(parse_tool_calls([item]))
        elif kind == "tool_result":
            inner, _ = _content(item.get("content"))
            text = "\n\n".join(p.text for p in inner if p.text) or text_of(item.get("content"))
            parts.append(Part(kind="tool_result", text=text, ref=str(item.get("tool_use_id", ""))))
        elif kind in ("thinking", "reasoning"):
            parts.append(Part(kind="thinking", text=text_of(item.get("thinking") or item)))
        else:
            parts.append(Part(kind="data", data=item))
    return parts, calls


def _message_from(role: str, data: Mapping[str, Any]) -> Message:
    parts, calls = _content(data.get("content"))
    calls = calls + parse_tool_calls(data.get("tool_calls"))
    extra = data.get("additional_kwargs")
    if not calls and isinstance(extra, dict):
        calls = parse_tool_calls(extra.get("tool_calls"))
    function_call = data.get("function_call")
    if isinstance(function_call, dict):
        calls += parse_tool_calls([function_call])
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
            arguments=parse_arguments(value.get("arguments")),
            id=str(value.get("call_id") or value.get("id") or ""),
        )
        return Message(role="assistant", tool_calls=(call,))
    if kind == "function_call_output" and "output" in value:
        return Message(
            role="tool",
            parts=(Part(kind="text", text=text_of(value["output"])),),
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
    # A payload inside a payload: `payloads` imports this module, so look it up when used.
    from traces.rendering.payloads import parse_payload

    rest = {k: v for k, v in rest.items() if v is not None}
    return parse_payload(rest) if rest else None


def parse_conversation(value: Any) -> Conversation | None:
    """Chat requests and responses of the providers and frameworks we know, or None."""
    value = maybe_parse_json_text(value)
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
