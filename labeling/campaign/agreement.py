"""How much a session's labelers agree, per question: percent agreement, Krippendorff's alpha,
Cohen's kappa per labeler pair, and human consensus against LLM-judge or code feedback.

The statistics are pure functions of answer values; `question_agreements` folds them over a
session's cells (`labeling.results`, in batches): the reference computation, which the tests
hold the kept counts to. The pages use `session_agreement`, which computes the same figures
from the counts `labeling.tallies` keeps as answers arrive (a few rows per question and labeler
pair), and the judges' figures from the judges' labels and the kept cells they judge.

Every figure carries the number of items it rests on and, when it cannot be computed, why
(too few items, or no variation at all, where alpha and kappa are undefined: 0/0).

Values are compared through `SessionQuestion.key`: pass/fail and categorical answers as they
are, multi-select and lists as sets, text case- and space-insensitively, numbers as floats.
Alpha is nominal over those keys, except for numeric questions (interval). Kappa counts exact
matches on every level (for numeric questions, equal numbers).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import binary_distance

from labeling.models import CellTally
from labeling.results import Cell, SessionQuestion, session_questions
from labeling.tallies import cell_of, read_counts

Metric = Literal["nominal", "interval"]

NOT_ENOUGH_ITEMS = "not enough data: fewer than 2 items with 2 or more labels"
NO_VARIATION = "undefined: every label is the same value, so there is no variation to measure"

# The library's work grows with the square of the distinct values (and it refuses more than
# 10,000); past this many the same alpha comes from its closed form (free text, many numbers).
LIBRARY_MAX_VALUES = 1_000


# --- figures -------------------------------------------------------------------------------------

# A coefficient over fewer items than this is shown with a warning: with a handful of items,
# one label more or less swings it from "slight" to "substantial".
FEW_ITEMS = 10

# Landis & Koch (1977), the usual words for kappa-like coefficients: below 0 poor, up to 0.20
# slight, 0.40 fair, 0.60 moderate, 0.80 substantial, above almost perfect.
READINGS = [
    (0.2, "slight agreement", "slight"),
    (0.4, "fair agreement", "fair"),
    (0.6, "moderate agreement", "moderate"),
    (0.8, "substantial agreement", "substantial"),
    (float("inf"), "almost perfect agreement", "almost-perfect"),
]


@dataclass(frozen=True)
class Figure:
    """One statistic: its value (None when it cannot be computed, with `why`) and the number
    of items (or item pairs) it rests on."""

    value: float | None
    n: int
    why: str = ""

    @property
    def reading(self) -> str:
        """Plain words for a chance-corrected coefficient (alpha, kappa); a figure over fewer
        than `FEW_ITEMS` items says it is too few to rely on."""
        if self.value is None:
            return self.why.split(":")[0] if self.why else "not enough data"
        words = self._band()[0]
        if self.n < FEW_ITEMS:
            words += f" (only {self.n} item{'s' if self.n != 1 else ''}: too few to rely on)"
        return words

    @property
    def strength(self) -> str:
        """A CSS-friendly name of the reading's band ("none" when undefined)."""
        return "none" if self.value is None else self._band()[1]

    def _band(self) -> tuple[str, str]:
        assert self.value is not None
        if self.value < 0:
            return "poor agreement", "poor"
        # Rounded as shown, so a figure printed as 0.20 reads "slight", not "fair".
        value = round(self.value, 2)
        if value == 0:
            return "no better than chance", "slight"
        return next((words, band) for bound, words, band in READINGS if value <= bound)


def _none(n: int, why: str) -> Figure:
    return Figure(value=None, n=n, why=why)


# --- statistics ----------------------------------------------------------------------------------


def percent_agreement(units: Iterable[Sequence[Hashable]]) -> Figure:
    """Pairwise percent agreement: for each item with 2 or more labels, the share of labeler
    pairs that gave equal answers; averaged over those items (so an item counts once, however
    many labelers it had)."""
    shares = []
    for values in units:
        if len(values) < 2:
            continue
        pairs = agreeing = 0
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                pairs += 1
                agreeing += values[i] == values[j]
        shares.append(agreeing / pairs)
    if len(shares) < 2:
        return _none(len(shares), NOT_ENOUGH_ITEMS)
    return Figure(value=sum(shares) / len(shares), n=len(shares))


def krippendorff_alpha(units: Iterable[Sequence[Any]], metric: Metric = "nominal") -> Figure:
    """Krippendorff's alpha over `units` (each item's labels; missing labels simply absent).

    Nominal: values are any hashable keys. Interval: values are numbers. Items with fewer than
    two labels carry no information about agreement and are left out, as in Krippendorff's own
    computation; `n` counts the items that remain.
    """
    pairable = [list(values) for values in units if len(values) >= 2]
    if len(pairable) < 2:
        return _none(len(pairable), NOT_ENOUGH_ITEMS)
    domain = sorted({value for values in pairable for value in values}, key=_sort_key)
    if len(domain) < 2:
        return _none(len(pairable), NO_VARIATION)
    index = {value: position for position, value in enumerate(domain)}
    split, unanimous = _merge_unanimous(pairable, index)
    if len(domain) > LIBRARY_MAX_VALUES:
        value = _alpha_closed_form(pairable, metric)
    else:
        task = AnnotationTask(
            distance=_squared_difference if metric == "interval" else binary_distance
        )
        task.load_array(_triples(split, unanimous, domain if metric == "interval" else None))
        value = task.alpha()
    return Figure(value=float(value), n=len(pairable))


def _squared_difference(a: float, b: float) -> float:
    """Krippendorff's interval metric."""
    return (a - b) ** 2


def _triples(
    split: list[list[int]], unanimous: Counter[int], domain: Sequence[Any] | None
) -> list[tuple[int, tuple[str, int], Any]]:
    """(coder, item, value) triples for the library: value indices (nominal) or the values
    themselves (`domain` given: interval). Coders are numbered within each item; alpha does
    not depend on who gave which label, only on the labels of each item."""
    label = (lambda column: column) if domain is None else (lambda column: domain[column])
    triples = [
        (coder, ("item", row), label(column))
        for row, columns in enumerate(split)
        for coder, column in enumerate(columns)
    ]
    triples += [
        (coder, ("unanimous", column), label(column))
        for column, count in unanimous.items()
        for coder in range(count)
    ]
    return triples


def _sort_key(value: Any) -> tuple[str, Any]:
    # Keys of one question may mix types (a judge answering "yes" to a pass/fail question).
    if isinstance(value, (int, float, str)):
        return (type(value).__name__, value)
    return ("~", repr(value))


def _merge_unanimous(
    pairable: list[list[Any]], index: Mapping[Any, int]
) -> tuple[list[list[int]], Counter[int]]:
    """Items as value indices, with the items whose labels all agree merged, per value, into
    one pseudo-item holding all their labels (returned as value index -> label count).

    This is exact: an item where m labels share value v adds m to the coincidence o[v, v] and
    nothing elsewhere, and so does one item of m1 + m2 such labels in place of two. It keeps
    the library's work small: most items are unanimous.
    """
    unanimous: Counter[int] = Counter()
    split: list[list[int]] = []
    for values in pairable:
        columns = [index[value] for value in values]
        if all(column == columns[0] for column in columns):
            unanimous[columns[0]] += len(columns)
        else:
            split.append(columns)
    return split, unanimous


def _alpha_closed_form(pairable: list[list[Any]], metric: Metric) -> float:
    """Alpha = 1 - Do / De from sums over labels, for domains too large for a dense matrix.

    Nominal: Do = sum over items of (m^2 - sum of squared value counts) / (m - 1), over n;
    De = (n^2 - sum of squared value totals) / (n (n - 1)). Interval: the same with squared
    differences, via sum(x) and sum(x^2). Cross-checked against the library in the tests.
    """
    n = sum(len(values) for values in pairable)
    if metric == "interval":
        observed = 0.0
        for values in pairable:
            m = len(values)
            observed += (2 * m * sum(x * x for x in values) - 2 * sum(values) ** 2) / (m - 1)
        total = sum(x for values in pairable for x in values)
        squares = sum(x * x for values in pairable for x in values)
        expected = (2 * n * squares - 2 * total**2) / (n - 1)
    else:
        observed = 0.0
        totals: Counter[Any] = Counter()
        for values in pairable:
            counts = Counter(values)
            totals.update(counts)
            m = len(values)
            observed += (m * m - sum(c * c for c in counts.values())) / (m - 1)
        expected = (n * n - sum(c * c for c in totals.values())) / (n - 1)
    return 1.0 - observed / expected


def cohen_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> Figure:
    """Cohen's kappa of two raters over the items both rated: (po - pe) / (1 - pe), with po the
    share of equal answers and pe the agreement expected from each rater's own answer mix."""
    n = len(pairs)
    if n < 2:
        return _none(n, "not enough data: fewer than 2 items labeled by both")
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[key] * second.get(key, 0) for key in first) / (n * n)
    if expected >= 1.0:
        return _none(n, "undefined: both gave one and the same answer on every item")
    return Figure(value=(observed - expected) / (1 - expected), n=n)


# --- per question --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KappaMatrix:
    """Cohen's kappa for every pair of labelers; `rows[i][j]` is None on the diagonal."""

    labelers: list[str]
    rows: list[list[Figure | None]]

    @property
    def named_rows(self) -> list[tuple[str, list[Figure | None]]]:
        return list(zip(self.labelers, self.rows, strict=True))

    @property
    def pairs(self) -> int:
        return sum(1 for row in self.rows for figure in row if figure and figure.n) // 2


@dataclass(frozen=True)
class Confusion:
    """Human consensus (rows) against a judge (columns), counts of items."""

    labels: list[str]
    counts: list[list[int]]

    @property
    def rows(self) -> list[tuple[str, list[int], int]]:
        return [(label, row, sum(row)) for label, row in zip(self.labels, self.counts, strict=True)]

    @property
    def column_totals(self) -> list[int]:
        return [sum(column) for column in zip(*self.counts, strict=True)]

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.counts)


@dataclass(frozen=True)
class JudgeAgreement:
    """Human consensus against one LLM judge or code check of the same name."""

    source_type: str
    source_id: str
    percent: Figure
    alpha: Figure
    kappa: Figure
    confusion: Confusion | None

    @property
    def label(self) -> str:
        kind = {"LLM_JUDGE": "LLM judge", "CODE": "Code"}.get(self.source_type, self.source_type)
        return f"{kind} · {self.source_id}"


@dataclass(frozen=True)
class QuestionAgreement:
    question: SessionQuestion
    labeled: int  # items (cells) with at least one label
    percent: Figure
    alpha: Figure
    kappa: KappaMatrix
    judges: list[JudgeAgreement] = field(default_factory=list)

    @property
    def metric(self) -> Metric:
        return metric_for(self.question)


def metric_for(question: SessionQuestion) -> Metric:
    return "interval" if question.level == "interval" else "nominal"


def human_consensus(cell: Cell) -> Any:
    """The humans' answer to hold a judge against: the adjudicated one; else the strict
    majority's (a single labeler's answer counts); for numbers without a majority, the median;
    else None (the humans are split, so there is nothing to compare)."""
    if cell.final is not None:
        return cell.final.value
    answers = [answer.value for answer in cell.answers if answer.value is not None]
    if not answers:
        return None
    keys = [cell.question.key(value) for value in answers]
    key, count = Counter(keys).most_common(1)[0]
    if count * 2 > len(keys):
        return answers[keys.index(key)]
    if cell.question.level == "interval" and all(isinstance(k, float) for k in keys):
        return statistics.median(keys)
    return None


JudgeValues = Mapping[tuple[int, str, str], Mapping[tuple[str, str], Any]]


class _Tally:
    """What one question accumulates while cells stream past."""

    def __init__(self, question: SessionQuestion) -> None:
        self.question = question
        self.metric = metric_for(question)
        self.labeled = 0
        self.units: list[list[Any]] = []
        self.pairs: dict[tuple[int, int], list[tuple[Any, Any]]] = defaultdict(list)
        self.names: dict[int, str] = {}
        self.judged: dict[tuple[str, str], list[tuple[Any, Any]]] = defaultdict(list)
        self.display: dict[Any, str] = {}

    def add(self, cell: Cell, judges: Mapping[tuple[str, str], Any]) -> None:
        keyed = []
        for answer in cell.answers:
            key = self._key(answer.value)
            if key is None:
                continue
            keyed.append((answer.labeler_id, key))
            self.names[answer.labeler_id] = answer.username
            if key not in self.display:
                self.display[key] = self._show(answer.value)
        if keyed:
            self.labeled += 1
        if len(keyed) >= 2:
            self.units.append([key for _, key in keyed])
            ordered = sorted(keyed, key=lambda pair: pair[0])
            for i in range(len(ordered)):
                for j in range(i + 1, len(ordered)):
                    (a, key_a), (b, key_b) = ordered[i], ordered[j]
                    self.pairs[(a, b)].append((key_a, key_b))
        if judges:
            self.add_judged(cell, judges)

    def add_judged(self, cell: Cell, judges: Mapping[tuple[str, str], Any]) -> None:
        """The judges' values on `cell` against the humans' consensus."""
        consensus = human_consensus(cell)
        human_key = self._key(consensus)
        if human_key is not None:
            if human_key not in self.display:
                self.display[human_key] = self._show(consensus)
            for source, value in judges.items():
                judge_key = self._key(value)
                if judge_key is not None:
                    if judge_key not in self.display:
                        self.display[judge_key] = self._show(value)
                    self.judged[source].append((human_key, judge_key))

    def judge_results(self) -> list[JudgeAgreement]:
        return [self._judge(source, pairs) for source, pairs in sorted(self.judged.items())]

    def _key(self, value: Any) -> Any:
        key = self.question.key(value)
        if self.metric == "interval" and not isinstance(key, float):
            return None  # a number question can only be measured on numbers
        return key

    def _show(self, value: Any) -> str:
        """The value as the question's labels name it; a judge's value that the question
        would not accept (a "yes" for a pass/fail question) as it is, so it is not shown as
        something it is not."""
        try:
            self.question.spec.check_value(value)
        except ValidationError:
            return str(value)
        return self.question.display(value)

    def result(self) -> QuestionAgreement:
        ids = sorted(self.names, key=lambda pk: (self.names[pk], pk))
        rows: list[list[Figure | None]] = []
        for a in ids:
            row: list[Figure | None] = []
            for b in ids:
                if a == b:
                    row.append(None)
                    continue
                pairs = self.pairs.get((a, b)) or [(y, x) for x, y in self.pairs.get((b, a), [])]
                row.append(cohen_kappa(pairs))
            rows.append(row)
        return QuestionAgreement(
            question=self.question,
            labeled=self.labeled,
            percent=percent_agreement(self.units),
            alpha=krippendorff_alpha(self.units, self.metric),
            kappa=KappaMatrix(labelers=[self.names[pk] for pk in ids], rows=rows),
            judges=self.judge_results(),
        )

    def _judge(self, source: tuple[str, str], pairs: list[tuple[Any, Any]]) -> JudgeAgreement:
        confusion = None
        if self.question.level == "nominal":
            keys = sorted({key for pair in pairs for key in pair}, key=_sort_key)
            position = {key: i for i, key in enumerate(keys)}
            counts = [[0] * len(keys) for _ in keys]
            for human, judge in pairs:
                counts[position[human]][position[judge]] += 1
            confusion = Confusion(labels=[self.display[key] for key in keys], counts=counts)
        units = [list(pair) for pair in pairs]
        return JudgeAgreement(
            source_type=source[0],
            source_id=source[1],
            percent=percent_agreement(units),
            alpha=krippendorff_alpha(units, self.metric),
            kappa=cohen_kappa(pairs),
            confusion=confusion,
        )


def question_agreements(
    cells: Iterable[Cell],
    questions: Sequence[SessionQuestion],
    judge_values: JudgeValues | None = None,
) -> list[QuestionAgreement]:
    """Fold the cells (any order, any number of batches) into one result per question.

    `judge_values` maps (trace pk, question name, span id) to {(source type, source id):
    value} for the judges' feedback on that trace (`load_judge_values`).
    """
    tallies = {question.schema.pk: _Tally(question) for question in questions}
    judge_values = judge_values or {}
    for cell in cells:
        tally = tallies.get(cell.question.schema.pk)
        if tally is not None:
            key = (cell.trace_pk, cell.question.name, cell.span_id)
            tally.add(cell, judge_values.get(key, {}))
    return [tallies[question.schema.pk].result() for question in questions]


# --- loading -------------------------------------------------------------------------------------


def _judge_feedback(session, questions: Sequence[SessionQuestion]):
    """Valid LLM_JUDGE and CODE feedback named like the session's questions, on its traces."""
    from labeling.models import Item
    from traces.models import Assessment, AssessmentKind, SourceType

    return Assessment.objects.filter(
        experiment_id=session.experiment_id,
        trace_id__in=Item.objects.filter(session=session).values("trace_id"),
        name__in=[question.name for question in questions],
        kind=AssessmentKind.FEEDBACK,
        source_type__in=[SourceType.LLM_JUDGE, SourceType.CODE],
        valid=True,
        value__isnull=False,
    )


def load_judge_values(session, questions: Sequence[SessionQuestion]) -> JudgeValues:
    """The judges' feedback on the session's traces: the latest per (trace, name, span,
    source). One query."""
    rows = (
        _judge_feedback(session, questions)
        .order_by("create_time", "pk")
        .values_list("trace_id", "name", "span_id", "source_type", "source_id", "value")
    )
    values: dict[tuple[int, str, str], dict[tuple[str, str], Any]] = defaultdict(dict)
    for trace_pk, name, span_id, source_type, source_id, value in rows:
        values[(trace_pk, name, span_id or "")][(source_type, source_id)] = value
    return values


def _judges(session, questions: Sequence[SessionQuestion]) -> dict[int, _Tally]:
    """Human consensus against the judges, per question: the judges' feedback on the session's
    traces (one query) against the kept cells of those traces (one more, only if there are
    any). The work grows with the judges' labels, not with the answers."""
    judge_values = load_judge_values(session, questions)
    tallies: dict[int, _Tally] = {}
    if not judge_values:
        return tallies
    by_name = {question.name: question for question in questions}
    by_pk = {question.schema.pk: question for question in questions}
    rows = CellTally.objects.filter(
        session=session,
        item__trace_id__in={trace_pk for trace_pk, _, _ in judge_values},
        schema__in=[question.schema.pk for question in questions],
    ).annotate(trace_pk=F("item__trace_id"))
    found = {(row.trace_pk, row.schema_id, row.span_id): row for row in rows}
    for (trace_pk, name, span_id), judges in judge_values.items():
        question = by_name.get(name)
        if question is None:
            continue
        row = found.get((trace_pk, question.schema.pk, span_id))
        if row is None:
            continue
        tally = tallies.setdefault(question.schema.pk, _Tally(by_pk[question.schema.pk]))
        tally.add_judged(cell_of(row, question), judges)
    return tallies


def _count(counts: Mapping, question: int, kind: str, a: int = 0, b: int = 0) -> float:
    return counts.get((question, kind, a, b, ""), (0.0, 0.0))[0]


def _kept_figures(
    question: SessionQuestion, counts: Mapping, names: Mapping[int, str], judges: _Tally | None
) -> QuestionAgreement:
    """One question's figures from its kept counts (`labeling.tallies`): a few numbers per
    question and labeler pair, whatever the number of answers."""
    q = question.schema.pk
    metric = metric_for(question)
    units = round(_count(counts, q, "pan"))
    if units < 2:
        percent = _none(units, NOT_ENOUGH_ITEMS)
        alpha = _none(units, NOT_ENOUGH_ITEMS)
    else:
        percent = Figure(value=_count(counts, q, "pas") / units, n=units)
        if round(_count(counts, q, "dom")) < 2:
            alpha = _none(units, NO_VARIATION)
        else:
            n = _count(counts, q, "n")
            if metric == "interval":
                total, squares = _count(counts, q, "sx"), _count(counts, q, "sxx")
                expected = (2 * n * squares - 2 * total**2) / (n - 1)
            else:
                expected = (n * n - _count(counts, q, "sq")) / (n - 1)
            alpha = Figure(value=1.0 - _count(counts, q, "do") / expected, n=units)
    ids = sorted(
        (labeler for (kq, kind, labeler, _, _), (n, _) in counts.items()
         if kq == q and kind == "lbl" and n > 0.5),
        key=lambda pk: (names.get(pk, ""), pk),
    )  # fmt: skip
    rows: list[list[Figure | None]] = []
    for a in ids:
        row: list[Figure | None] = []
        for b in ids:
            if a == b:
                row.append(None)
                continue
            low, high = min(a, b), max(a, b)
            n = round(_count(counts, q, "pn", low, high))
            row.append(
                kappa_from_counts(
                    n=n,
                    agree=_count(counts, q, "pag", low, high),
                    chance=_count(counts, q, "pfs", low, high),
                )
            )
        rows.append(row)
    return QuestionAgreement(
        question=question,
        labeled=round(_count(counts, q, "lab")),
        percent=percent,
        alpha=alpha,
        kappa=KappaMatrix(labelers=[names.get(pk, f"#{pk}") for pk in ids], rows=rows),
        judges=judges.judge_results() if judges is not None else [],
    )


def kappa_from_counts(*, n: int, agree: float, chance: float) -> Figure:
    """`cohen_kappa` from its counts: pairs, equal pairs, and the sum over values of the two
    raters' counts multiplied (chance agreement times n squared)."""
    if n < 2:
        return _none(n, "not enough data: fewer than 2 items labeled by both")
    expected = chance / (n * n)
    if expected >= 1.0:
        return _none(n, "undefined: both gave one and the same answer on every item")
    return Figure(value=(agree / n - expected) / (1 - expected), n=n)


KEPT_KINDS = ["lab", "lbl", "pan", "pas", "n", "do", "sx", "sxx", "sq", "dom", "pn", "pag", "pfs"]


def session_agreement(session) -> list[QuestionAgreement]:
    """Agreement figures for every question of the session, from the counts kept as answers
    arrive (`labeling.tallies`): a handful of queries whatever the session's size, and never
    stale, since the counts change in the transaction that changes an answer."""
    questions = session_questions(session)
    if not questions:
        return []
    counts = read_counts(
        session,
        question=Q(question__in=[question.schema.pk for question in questions]),
        kinds=KEPT_KINDS,
    )
    labeler_ids = {a for (_, kind, a, _, _) in counts if kind == "lbl"}
    names = dict(get_user_model().objects.filter(pk__in=labeler_ids).values_list("pk", "username"))
    judges = _judges(session, questions)
    return [
        _kept_figures(question, counts, names, judges.get(question.schema.pk))
        for question in questions
    ]
