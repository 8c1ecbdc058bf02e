"""Values shown as they are: text, a few labelled fields, pretty JSON, assessment values.

The blocks for payloads that are no particular kind of content (`Text`, `Fields`, `Json`), the
text helpers every other kind uses (`pretty_json`, `text_of`, `maybe_parse_json_text`), and how
an assessment value reads in a table cell or a detail pane (`describe_value` → `ValueView`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

# Pretty JSON longer than this is cut (the page stays usable with multi-megabyte payloads).
PRETTY_MAX_CHARS = 100_000
# Text that looks like JSON is parsed when it is no longer than this.
PARSE_TEXT_MAX_CHARS = 1_000_000


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


def maybe_parse_json_text(value: Any) -> Any:
    """Applications often record JSON-encoded strings; read them as the data they encode."""
    if isinstance(value, str) and len(value) <= PARSE_TEXT_MAX_CHARS:
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                return json.loads(stripped)
            except ValueError:
                return value
    return value


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return pretty_json(value)[0]


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
        return text_of(self.value)

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
