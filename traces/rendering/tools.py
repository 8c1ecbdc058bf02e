"""Tool calls: a model asking for a tool (in a chat message) and a TOOL span's invocation.

`parse_tool_calls` reads the shapes providers use for the calls a message makes (OpenAI
`function.name/arguments`, LangChain `name/args`, Anthropic `input`); a TOOL span reads as one
`ToolInvocation` with its arguments and result (`traces.rendering.payloads.span_io`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from traces.rendering.payloads import Block


@dataclass(frozen=True)
class ToolCall:
    """A model asking for a tool: its name and the arguments it chose."""

    name: str
    arguments: Any = None
    id: str = ""

    @property
    def arguments_block(self) -> Block:
        # A payload inside a payload: `payloads` imports this module, so look it up when used.
        from traces.rendering.payloads import parse_payload

        return parse_payload(self.arguments)


@dataclass(frozen=True)
class ToolInvocation:
    """What a TOOL span was called with and what it returned."""

    name: str
    arguments: Block | None
    result: Block | None
    failed: bool = False
    kind: ClassVar[str] = "tool"


def parse_arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def parse_tool_calls(raw: Any) -> list[ToolCall]:
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
                arguments=parse_arguments(arguments),
                id=str(item.get("id") or item.get("call_id") or ""),
            )
        )
    return calls
