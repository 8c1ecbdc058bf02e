"""A span's attributes and events, as sorted key / text pairs and a list of what happened."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from traces.rendering.values import text_of


@dataclass(frozen=True)
class SpanEvent:
    """Something that happened during a span (an exception, a retry, …)."""

    name: str
    offset_ns: int | None
    attributes: tuple[tuple[str, str], ...]

    @property
    def is_exception(self) -> bool:
        return self.name == "exception"


def attribute_items(
    attributes: Any, *, hidden: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """A span's attributes as sorted (key, text) pairs; non-text values as compact JSON."""
    if not isinstance(attributes, dict):
        return []
    return sorted(
        (str(key), text_of(value) if isinstance(value, str) else json.dumps(value, default=str))
        for key, value in attributes.items()
        if key not in hidden
    )


def parse_events(events: Any, *, start_ns: int) -> list[SpanEvent]:
    """MLflow (`timestamp`) and OpenTelemetry (`time_unix_nano`) events, with their offset
    from `start_ns` when their time is known."""
    if not isinstance(events, list):
        return []
    parsed = []
    for event in events:
        if not isinstance(event, dict):
            parsed.append(
                SpanEvent(name="event", offset_ns=None, attributes=(("value", text_of(event)),))
            )
            continue
        moment = event.get("timestamp", event.get("time_unix_nano"))
        try:
            offset = max(0, int(moment) - start_ns) if moment is not None else None
        except (TypeError, ValueError):
            offset = None
        parsed.append(
            SpanEvent(
                name=str(event.get("name") or "event"),
                offset_ns=offset,
                attributes=tuple(attribute_items(event.get("attributes"))),
            )
        )
    return parsed
