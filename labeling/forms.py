"""The answer sheet: a session's questions as one form, for the review app and the console preview.

Questions come from labeling schemas; a schema that targets a span type (e.g. RETRIEVER) yields one
question per span of that type in the trace. Each question posts under its own field name
(`q-<schema id>` or `q-<schema id>-<span id>`, plus `…-rationale`), so several values of one
question (checkboxes, text-list rows) arrive as a list. The typed input of the schema
(`labeling.inputs`) turns those strings into the assessment value, or an error shown next to the
question; the same classes check values that arrive as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from labeling.inputs import InputSpec
from labeling.models import LabelingSchema
from traces.models import RATIONALE_MAX_LENGTH, Span

# A question's key: (schema id, span id or "" for the trace).
QuestionKey = tuple[int, str]


@dataclass
class Question:
    schema: LabelingSchema
    spec: InputSpec
    span: Span | None = None
    number: int = 1
    raw: list[str] = field(default_factory=list)
    rationale: str = ""
    error: str = ""
    rationale_error: str = ""
    value: Any = None
    suggestion: Any = None  # a judge's feedback pre-filling the question (an Assessment)
    suggestion_id: str = ""  # posted back: the answer confirms or changes that suggestion
    missing: bool = False  # required, and left open (the error says so)

    @property
    def key(self) -> QuestionKey:
        return (self.schema.pk, self.span.span_id if self.span else "")

    @property
    def field_name(self) -> str:
        if self.span is not None:
            return f"q-{self.schema.pk}-{self.span.span_id}"
        return f"q-{self.schema.pk}"

    @property
    def rationale_name(self) -> str:
        return f"{self.field_name}-rationale"

    @property
    def html_id(self) -> str:
        return f"question-{self.field_name[2:]}"

    @property
    def input_type(self) -> str:
        return self.spec.input_type

    @property
    def options(self) -> list[dict[str, Any]]:
        """Choices with their hotkey number and whether they are selected."""
        spec = self.spec
        if spec.input_type == "pass_fail":
            choices = [("true", spec.positive_label), ("false", spec.negative_label)]
        else:
            choices = [(option, option) for option in getattr(spec, "options", [])]
        return [
            {
                "value": value,
                "label": label,
                "key": index if index <= 9 else None,
                "selected": value in self.raw,
                "id": f"{self.html_id}-{index}",
            }
            for index, (value, label) in enumerate(choices, start=1)
        ]

    @property
    def is_multi(self) -> bool:
        return bool(getattr(self.spec, "multi", False))

    @property
    def text_rows(self) -> list[str]:
        """Rows for a text list: what was given, plus one empty row to add another."""
        rows = [value for value in self.raw if value.strip()]
        limit = getattr(self.spec, "max_count", None)
        if limit is None or len(rows) < limit:
            rows.append("")
        return rows

    @property
    def text_value(self) -> str:
        return self.raw[-1] if self.raw else ""

    @property
    def is_answered(self) -> bool:
        return self.value is not None

    @property
    def has_input(self) -> bool:
        """Something is given (before checking it): the question shows as answered."""
        return any(str(value).strip() for value in self.raw)

    @property
    def required(self) -> bool:
        return getattr(self.schema, "required", True)


class AnswerSheet:
    """The questions for one trace, bound to posted data or pre-filled with earlier answers.

    `initial` maps question keys to (value, rationale) of earlier answers, to pre-fill the form
    when a labeler goes back to an item.
    """

    def __init__(
        self,
        schemas: Iterable[LabelingSchema],
        *,
        spans: Sequence[Span] = (),
        data: Mapping[str, Any] | None = None,
        initial: Mapping[QuestionKey, tuple[Any, str]] | None = None,
        draft: Mapping[str, Any] | None = None,
        suggestions: Mapping[QuestionKey, Any] | None = None,
        require: bool = False,
    ) -> None:
        """`draft`: the fields of a draft (as the form posts them), shown instead of the
        earlier answers; `suggestions`: judges' feedback (Assessments) by (name, span id), to
        pre-fill questions that have neither; `require`: required questions must be answered
        (`is_valid`)."""
        self.is_bound = data is not None
        self.data = data
        self.questions: list[Question] = []
        self.non_field_errors: list[str] = []
        self.require = require
        self.from_draft = draft is not None and data is None
        initial = initial or {}
        suggestions = suggestions or {}
        number = 0
        for schema in schemas:
            spec = schema.spec
            targets: list[Span | None]
            if schema.target_span_type:
                targets = [s for s in spans if s.span_type == schema.target_span_type]
                if not targets:
                    continue  # nothing of that type in this trace: nothing to ask
            else:
                targets = [None]
            for span in targets:
                number += 1
                question = Question(schema=schema, spec=spec, span=span, number=number)
                if data is not None:
                    question.raw = _getlist(data, question.field_name)
                    question.rationale = str(data.get(question.rationale_name, "")).strip()
                    question.suggestion_id = str(data.get(f"{question.field_name}-suggestion", ""))
                elif draft is not None:
                    question.raw = _getlist(draft, question.field_name)
                    question.rationale = str(draft.get(question.rationale_name, "") or "")
                    question.suggestion_id = str(draft.get(f"{question.field_name}-suggestion", ""))
                elif question.key in initial:
                    value, rationale = initial[question.key]
                    question.raw = spec.initial(value)
                    question.rationale = rationale or ""
                    question.value = value
                elif (schema.name, question.key[1]) in suggestions:
                    label = suggestions[(schema.name, question.key[1])]
                    try:
                        question.raw = spec.initial(label.value)
                    except (TypeError, ValueError, AttributeError):
                        question.raw = []
                    if question.raw:
                        question.suggestion = label
                        question.suggestion_id = label.assessment_id
                self.questions.append(question)
        self._validated = False

    def is_valid(self) -> bool:
        """Check every answer against its schema. Unanswered questions are allowed, but at least
        one question must be answered."""
        if not self.is_bound:
            return False
        if self._validated:
            return not self.errors
        self._validated = True
        for question in self.questions:
            try:
                question.value = question.spec.clean(question.raw)
            except ValidationError as exc:
                question.error = " ".join(exc.messages)
                question.value = None
            if len(question.rationale) > RATIONALE_MAX_LENGTH:
                question.rationale_error = (
                    f"The comment is {len(question.rationale):,} characters long; "
                    f"the limit is {RATIONALE_MAX_LENGTH:,}."
                )
            elif question.rationale and question.value is None and not question.error:
                question.rationale_error = "Answer the question to go with this comment."
        if self.require:
            for question in self.open_required:
                question.error = "Answer this question before you submit (or skip the item)."
                question.missing = True
        if not self.errors and not any(q.is_answered for q in self.questions):
            self.non_field_errors.append("Answer at least one question, or skip this item.")
        elif self.require and self.open_required:
            numbers = ", ".join(str(q.number) for q in self.open_required)
            count = len(self.open_required)
            self.non_field_errors.insert(
                0,
                f"{count} required question{'s are' if count != 1 else ' is'} still open "
                f"({numbers}): answer {'them' if count != 1 else 'it'}, or skip the item.",
            )
        return not self.errors

    @property
    def open_required(self) -> list[Question]:
        """Required questions without an answer (after `is_valid()`), in reading order."""
        return [
            q
            for q in self.questions
            if q.required and q.value is None and (not q.error or q.missing)
        ]

    @property
    def open_count(self) -> int:
        """Questions shown as open (nothing given yet), before checking."""
        return sum(1 for q in self.questions if not q.has_input)

    @property
    def errors(self) -> list[str]:
        errors = list(self.non_field_errors)
        for question in self.questions:
            if question.error and not question.missing:
                errors.append(f"{question.schema.title}: {question.error}")
            if question.rationale_error:
                errors.append(f"{question.schema.title}: {question.rationale_error}")
        return errors

    @property
    def answers(self) -> list[Question]:
        """The answered questions (after `is_valid()`)."""
        return [q for q in self.questions if q.is_answered]


def _getlist(data: Mapping[str, Any], name: str) -> list[str]:
    if hasattr(data, "getlist"):
        values = data.getlist(name)
    else:
        value = data.get(name)
        values = value if isinstance(value, list) else ([] if value is None else [value])
    return [str(v) for v in values]
