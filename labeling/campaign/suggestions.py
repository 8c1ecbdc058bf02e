"""How often experts changed a judge's suggestion (sessions with suggestions to confirm).

In such sessions the review app pre-fills a question with the LLM-judge or code feedback of the
same name; the labeler's answer then names that feedback in its metadata (`"suggestion"`:
the judge's assessment id). Here each such answer is compared with the suggestion as it was
(the judge's own assessment is never changed by the labeler): kept as it was, or changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from labeling.models import Answer, LabelingSession
from traces.models import Assessment


@dataclass(frozen=True)
class SuggestionFigures:
    """One question: answers given on a suggestion, how many kept it, how many changed it."""

    name: str
    title: str
    offered: int
    kept: int

    @property
    def changed(self) -> int:
        return self.offered - self.kept

    @property
    def changed_percent(self) -> int:
        return round(100 * self.changed / self.offered) if self.offered else 0


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def suggestion_figures(session: LabelingSession) -> list[SuggestionFigures]:
    """Per question (in the session's order), over the answers given on a suggestion. Two
    queries."""
    rows = list(
        Answer.objects.filter(
            assignment__item__session=session, assessment__metadata__has_key="suggestion"
        ).values_list(
            "schema__name",
            "schema__title",
            "assessment__value",
            "assessment__metadata",
            "assessment__trace_id",
        )
    )
    if not rows:
        return []
    ids = {str(metadata.get("suggestion")) for *_, metadata, _ in rows}
    suggested = {
        assessment_id: (name, trace_id, value)
        for assessment_id, name, trace_id, value in Assessment.objects.filter(
            assessment_id__in=ids
        ).values_list("assessment_id", "name", "trace_id", "value")
    }
    figures: dict[str, list[Any]] = {}
    for name, title, value, metadata, trace_id in rows:
        found = suggested.get(str(metadata.get("suggestion")))
        if found is None or found[0] != name or found[1] != trace_id:
            continue  # not a suggestion of this question on this trace
        entry = figures.setdefault(name, [title, 0, 0])
        entry[1] += 1
        entry[2] += _same(found[2], value)
    return [
        SuggestionFigures(name=name, title=title, offered=offered, kept=kept)
        for name, (title, offered, kept) in figures.items()
    ]
