"""A session's results as data: CSV and JSONL (one row per item and question) and an evaluation
dataset for `mlflow.genai.evaluate` (JSONL records ``{"inputs": …, "expectations": …}``).

Each export is a generator of text lines over `results.iter_cells`, which reads the session a
batch of items at a time: a view streams it (`StreamingHttpResponse`) and no export ever holds
a whole session in memory.

Values: the results files carry each labeler's answer as given and the *final* value, which is
the adjudicated answer, else the labelers' unanimous answer, else the only answer when one
person labeled the item, else empty (`Cell.final_value`). In CSV, text stays as it is and every
other value is JSON (``true``, ``3.5``, ``["a", "b"]``), so lists and dicts survive a round trip.

The evaluation dataset holds ground truth only: the final answers of the session's
*expectation* questions asked about the whole trace. Feedback questions are judgements of the
application's output (was it correct?), not the expected output, so they are left out, and so
are span questions (an expectation of `mlflow.genai.evaluate` is about the whole request).
Items with no final expectation, or whose trace has no root span inputs to replay, are skipped.
`inputs` are the root span's inputs (the keyword arguments `predict_fn` is called with);
inputs that are not an object are wrapped as ``{"input": …}``, since MLflow needs a dict.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Q
from django.utils.text import slugify

from labeling.models import Adjudication, Answer, Assignment, AssignmentState, LabelingSession
from labeling.results import Cell, SessionQuestion, iter_cells, session_questions
from traces.models import AssessmentKind, Span

EVAL_BATCH_SIZE = 500


def export_filename(session: LabelingSession, suffix: str) -> str:
    """`<session name slug>-<suffix>`, e.g. ``march-review-results.csv``."""
    return f"{slugify(session.name) or f'session-{session.pk}'}-{suffix}"


def session_labelers(session: LabelingSession) -> list[str]:
    """Logins of everyone assigned to the session or who submitted in it (unassigned since),
    sorted: one column pair each in the CSV."""
    submitted = Assignment.objects.filter(
        item__session=session, state=AssignmentState.SUBMITTED
    ).values("labeler_id")
    return list(
        get_user_model()
        .objects.filter(Q(pk__in=session.labelers.values("pk")) | Q(pk__in=submitted))
        .order_by("username")
        .values_list("username", flat=True)
    )


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection): such text
# gets a leading apostrophe, which spreadsheets hide and read as "this is text".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str) -> str:
    """Free text (answers, rationales, logins) made safe to open in a spreadsheet."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_value(value: Any) -> str:
    """Text as is (made formula-safe); numbers, booleans, lists and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    return json.dumps(value, ensure_ascii=False)


class _Echo:
    """A file-like object whose write returns the text, for csv.writer over a stream."""

    def write(self, value: str) -> str:
        return value


def results_csv(session: LabelingSession) -> Iterator[str]:
    labelers = session_labelers(session)
    writer = csv.writer(_Echo())
    header = ["trace_id", "item_position", "question", "span_id"]
    for login in labelers:
        header += [csv_text(f"{login} value"), csv_text(f"{login} rationale")]
    header += ["final_value", "adjudicated", "adjudicator"]
    yield writer.writerow(header)
    for cell in iter_cells(session):
        by_labeler = {answer.username: answer for answer in cell.answers}
        # Trace ids, question names and span ids come from clients and curators: text too.
        row: list[Any] = [
            csv_text(cell.trace_id),
            cell.item_position,
            csv_text(cell.question.name),
            csv_text(cell.span_id or ""),
        ]
        for login in labelers:
            answer = by_labeler.get(login)
            row += [csv_value(answer.value), csv_text(answer.rationale)] if answer else ["", ""]
        row += [
            csv_value(cell.final_value),
            "true" if cell.is_adjudicated else "false",
            csv_text(cell.final.adjudicator) if cell.final else "",
        ]
        yield writer.writerow(row)


def _jsonl(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def result_record(cell: Cell) -> dict[str, Any]:
    return {
        "trace_id": cell.trace_id,
        "item_position": cell.item_position,
        "question": cell.question.name,
        "kind": cell.question.schema.kind,
        "span_id": cell.span_id,
        "answers": [
            {"labeler": answer.username, "value": answer.value, "rationale": answer.rationale}
            for answer in cell.answers
        ],
        "final_value": cell.final_value,
        "adjudicated": cell.is_adjudicated,
        "adjudicator": cell.final.adjudicator if cell.final else None,
        "adjudication_rationale": cell.final.rationale if cell.final else None,
    }


def results_jsonl(session: LabelingSession) -> Iterator[str]:
    for cell in iter_cells(session):
        yield _jsonl(result_record(cell))


def expectation_questions(session: LabelingSession) -> list[SessionQuestion]:
    """The questions whose final answers become expectations (trace-level expectation ones)."""
    return [
        question
        for question in session_questions(session)
        if question.schema.kind == AssessmentKind.EXPECTATION
        and not question.schema.target_span_type
    ]


@dataclass(frozen=True)
class _Pending:
    trace_pk: int
    trace_id: str
    expectations: dict[str, Any]


def _root_inputs(trace_pks: Iterable[int]) -> dict[int, Any]:
    """The inputs of each trace's root span (the earliest when there are several); one query."""
    rows = (
        Span.objects.filter(trace_id__in=list(trace_pks))
        .filter(Q(parent_id__isnull=True) | Q(parent_id=""))
        .order_by("trace_id", "start_time_ns", "pk")
        .values_list("trace_id", "inputs")
    )
    inputs: dict[int, Any] = {}
    for trace_pk, value in rows:
        inputs.setdefault(trace_pk, value)
    return inputs


def _eval_records(pending: Sequence[_Pending], *, with_source: bool) -> Iterator[dict[str, Any]]:
    inputs = _root_inputs(p.trace_pk for p in pending)
    for record in pending:
        value = inputs.get(record.trace_pk)
        if value is None:
            continue
        if not isinstance(value, dict):
            value = {"input": value}
        row = {"inputs": value, "expectations": record.expectations}
        if with_source:
            row["source"] = {"source_type": "TRACE", "source_data": {"trace_id": record.trace_id}}
        yield row


def eval_dataset_records(
    session: LabelingSession, *, with_source: bool = False
) -> Iterator[dict[str, Any]]:
    """`{"inputs": …, "expectations": {name: final value}}` per item, in queue order (with
    `with_source`, also MLflow's record `source`: the trace it came from)."""
    questions = expectation_questions(session)
    if not questions:
        return
    pending: list[_Pending] = []
    for _, group in groupby(iter_cells(session, questions=questions), key=attrgetter("item_id")):
        cells = list(group)
        expectations = {
            cell.question.name: cell.final_value for cell in cells if cell.final_value is not None
        }
        if expectations:
            pending.append(
                _Pending(
                    trace_pk=cells[0].trace_pk,
                    trace_id=cells[0].trace_id,
                    expectations=expectations,
                )
            )
        if len(pending) >= EVAL_BATCH_SIZE:
            yield from _eval_records(pending, with_source=with_source)
            pending = []
    yield from _eval_records(pending, with_source=with_source)


def eval_dataset_jsonl(session: LabelingSession) -> Iterator[str]:
    for record in eval_dataset_records(session):
        yield _jsonl(record)


@dataclass(frozen=True)
class ExportCounts:
    result_rows: int
    eval_records: int
    labelers: int
    expectation_questions: list[str]


def _result_rows(session: LabelingSession, questions: Sequence[SessionQuestion]) -> int:
    """How many rows the results files have, without reading the answers: one per item and
    trace-level question; for span questions one per item and span answered or settled, or one
    when none was (the shape of `iter_cells`)."""
    items = session.items.count()
    span_schemas = [q.schema.pk for q in questions if q.schema.target_span_type]
    extra = 0
    if span_schemas:
        spans: dict[tuple[int, int], set[str]] = {}
        answered = Answer.objects.filter(
            assignment__item__session=session,
            assignment__state=AssignmentState.SUBMITTED,
            schema_id__in=span_schemas,
        ).values_list("assignment__item_id", "schema_id", "span_id")
        settled = Adjudication.objects.filter(
            item__session=session, schema_id__in=span_schemas
        ).values_list("item_id", "schema_id", "span_id")
        for item_id, schema_id, span_id in [*answered.distinct(), *settled]:
            spans.setdefault((item_id, schema_id), set()).add(span_id)
        extra = sum(len(found) - 1 for found in spans.values())
    return items * len(questions) + extra


def export_counts(session: LabelingSession) -> ExportCounts:
    """Row counts for the exports page. The evaluation dataset's count needs the expectation
    answers compared (one batched pass over those questions only), so it is cached under the
    session's answers fingerprint, like the disagreements overview."""
    from labeling.campaign.adjudication import answers_fingerprint

    questions = session_questions(session)
    key = f"export-eval-records:{answers_fingerprint(session)}"
    eval_records = cache.get(key)
    if eval_records is None:
        eval_records = sum(1 for _ in eval_dataset_records(session))
        cache.set(key, eval_records, 15 * 60)
    return ExportCounts(
        result_rows=_result_rows(session, questions),
        eval_records=eval_records,
        labelers=len(session_labelers(session)),
        expectation_questions=[q.name for q in expectation_questions(session)],
    )
