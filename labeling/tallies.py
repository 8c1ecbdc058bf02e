"""A session's results kept as answers arrive, so that its campaign pages never read every answer.

Two tables, written in the transaction that changes an answer or a final answer (by
`labeling.services`, `labeling.queue` and `labeling.campaign.adjudication`; no signals):

- `CellTally`: one row per cell (a question of an item, and a span) with its answers' values,
  its final answer and what the disagreements list sorts and filters on.
- `Tally`: running sums per question, labeler, labeler pair and answer value, changed only by
  adding a difference (one upsert that adds, `_add`), so that submits on different items never
  wait for each other's counts, nor overwrite them.

When an item's cells change, its old cells' contribution is taken away and the new cells'
added: the counts are always those a full pass over the answers would give (the property test
in tests/labeling/test_tallies.py checks it against `labeling.campaign.agreement`'s fold).

The kinds of `Tally` rows, per question (`question` = the schema's pk), over *keyed* answers
(those agreement measures: not empty; on numeric questions, numbers):

    lab   cells with a keyed answer              lbl   (a) keyed answers of labeler a
    pan   cells with two or more (units)         pas   sum over units of their agreeing share
    n     keyed answers in units                 do    Krippendorff's observed disagreement sum
    sx    sum of values in units (interval)      sxx   sum of their squares (interval)
    v     (key) answers of one value in units    sq    sum over values of v squared
    dom   values with v > 0
    pn    (a, b) units both labelers answered    pag   (a, b) of those where they agree
    m     (a, b, key) n: a's answers of this value in those units, n2: b's
    pfs   (a, b) sum over values of m.n * m.n2 (kappa's chance agreement)
    dun   cells that need settling, unsettled    dst   … and settled

and for the session as a whole (`question` = 0), over answers that are not empty:

    om/ot (a) matches / comparisons of a's answers with other labelers' on the same cell
    fm/ft (a) matches / comparisons with the final answer (accepted unanimous ones left out)
    oi    (a) items where a was compared with someone
    ui/ua items (and their cells) that bulk accept would settle (`Item.consensus_cells`)
    dn/sk (a) items a submitted / skipped (`labeler_counts`)
    du    (a, key) a's submitted items that took `key` seconds (claim to submit), to the
          second below an hour, to the minute below a day, to the hour beyond
    hr    (a, key) a's submissions in the hour starting `key` hours after the epoch (UTC)

`sq`, `dom` and `pfs` follow from the `v` and `m` rows: the upsert returns those rows' new
values, and the difference of their squares (products) is added in a second upsert. Reading a
question's figures is then a few rows, whatever the number of answers.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet

from labeling.models import (
    Assignment,
    AssignmentState,
    CellTally,
    Item,
    LabelingSession,
    Tally,
)
from labeling.results import (
    Cell,
    FinalAnswer,
    LabelerAnswer,
    SessionQuestion,
    iter_cells,
    load_cells,
    session_questions,
)

# (question, kind, a, b, key, column): column 0 is `n`, 1 is `n2`.
Slot = tuple[int, str, int, int, str, int]
Counts = dict[Slot, float]
UPSERT_CHUNK = 400


def value_key(key: Any) -> str:
    """A short stable name of a comparison key (`SessionQuestion.key`), for `Tally.key`."""
    if isinstance(key, frozenset):
        plain: Any = sorted(key)
    elif isinstance(key, float) and key == 0:
        plain = 0.0  # -0.0 == 0.0
    else:
        plain = key
    text = json.dumps(plain, sort_keys=True, default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _agreement_key(question: SessionQuestion, value: Any) -> Any:
    """The key agreement measures (`labeling.campaign.agreement`): None for an empty answer,
    and on numeric questions for anything but a number."""
    key = question.key(value)
    if question.level == "interval" and not isinstance(key, float):
        return None
    return key


def _add_to(counts: Counts, slot: Slot, amount: float) -> None:
    if amount:
        counts[slot] = counts.get(slot, 0.0) + amount


def cell_counts(question: SessionQuestion, cell: Cell, counts: Counts) -> set[int]:
    """Add `cell`'s contribution to `counts`; returns the labelers compared with someone."""
    q = question.schema.pk
    keyed = []
    for answer in cell.answers:
        key = _agreement_key(question, answer.value)
        if key is not None:
            keyed.append((answer.labeler_id, key))
    if keyed:
        _add_to(counts, (q, "lab", 0, 0, "", 0), 1)
        for labeler, _ in keyed:
            _add_to(counts, (q, "lbl", labeler, 0, "", 0), 1)
    if len(keyed) >= 2:
        keys = [key for _, key in keyed]
        m = len(keys)
        agreeing = sum(keys[i] == keys[j] for i in range(m) for j in range(i + 1, m))
        _add_to(counts, (q, "pan", 0, 0, "", 0), 1)
        _add_to(counts, (q, "pas", 0, 0, "", 0), agreeing / (m * (m - 1) / 2))
        _add_to(counts, (q, "n", 0, 0, "", 0), m)
        if question.level == "interval":
            total, squares = sum(keys), sum(x * x for x in keys)
            _add_to(counts, (q, "do", 0, 0, "", 0), (2 * m * squares - 2 * total**2) / (m - 1))
            _add_to(counts, (q, "sx", 0, 0, "", 0), total)
            _add_to(counts, (q, "sxx", 0, 0, "", 0), squares)
        else:
            same: dict[Any, int] = defaultdict(int)
            for key in keys:
                same[key] += 1
            observed = (m * m - sum(c * c for c in same.values())) / (m - 1)
            _add_to(counts, (q, "do", 0, 0, "", 0), observed)
        for key in keys:
            _add_to(counts, (q, "v", 0, 0, value_key(key), 0), 1)
        ordered = sorted(keyed, key=lambda pair: pair[0])
        for i in range(m):
            for j in range(i + 1, m):
                (a, key_a), (b, key_b) = ordered[i], ordered[j]
                _add_to(counts, (q, "pn", a, b, "", 0), 1)
                _add_to(counts, (q, "pag", a, b, "", 0), key_a == key_b)
                _add_to(counts, (q, "m", a, b, value_key(key_a), 0), 1)
                _add_to(counts, (q, "m", a, b, value_key(key_b), 1), 1)
    # The disagreements list's counts: cells with two answers or more that differ.
    if len(cell.answers) >= 2 and not cell.is_unanimous:
        _add_to(counts, (q, "dst" if cell.final is not None else "dun", 0, 0, "", 0), 1)
    # Per labeler (the labelers page): every answer that is not empty.
    answered = [(a.labeler_id, question.key(a.value)) for a in cell.answers]
    answered = [(labeler, key) for labeler, key in answered if key is not None]
    final = cell.final
    final_key = question.key(final.value) if final and not final.accepted_consensus else None
    for labeler, key in answered:
        for other, other_key in answered:
            if other != labeler:
                _add_to(counts, (0, "om", labeler, 0, "", 0), key == other_key)
                _add_to(counts, (0, "ot", labeler, 0, "", 0), 1)
        if final is not None and not final.accepted_consensus:
            _add_to(counts, (0, "fm", labeler, 0, "", 0), key == final_key)
            _add_to(counts, (0, "ft", labeler, 0, "", 0), 1)
    return {labeler for labeler, _ in answered} if len(answered) >= 2 else set()


def unanimous_pending(answered: Sequence[Cell]) -> list[Cell]:
    """The cells bulk accept settles on an item whose answered cells are `answered`: all of
    them when every one is unanimous (and not settled yet), else none."""
    if not answered or not all(cell.is_unanimous for cell in answered):
        return []
    return [cell for cell in answered if not cell.is_adjudicated]


def item_counts(cells: Iterable[tuple[SessionQuestion, Cell]]) -> Counts:
    """The contribution of one item's cells, but for bulk accept's (`consensus_of`)."""
    counts: Counts = {}
    compared: set[int] = set()
    for question, cell in cells:
        compared |= cell_counts(question, cell, counts)
    for labeler in compared:
        _add_to(counts, (0, "oi", labeler, 0, "", 0), 1)
    return counts


def consensus_of(cells: Iterable[Cell], *, adjudicated: bool) -> int:
    """`Item.consensus_cells`: how many of the item's cells bulk accept would settle."""
    return 0 if adjudicated else len(unanimous_pending([c for c in cells if c.answers]))


def duration_key(seconds: float) -> str:
    """The `du` bucket of a duration: whole seconds below an hour, minutes below a day, hours
    beyond (so a median under an hour is exact to the second, in a few hundred rows)."""
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return str(round(seconds))
    step = 60 if seconds < 86400 else 3600
    return str(int(seconds // step) * step)


def hour_key(moment: datetime) -> str:
    """The `hr` bucket of a submission: its UTC hour, as hours since the epoch."""
    return str(int(moment.timestamp() // 3600))


def labeler_counts(rows: Iterable[tuple[int, str, datetime | None, datetime | None]]) -> Counts:
    """The labelers page's kept figures of these assignments, given as (labeler id, state,
    claimed_at, submitted_at): items submitted and skipped, submissions by duration and hour."""
    counts: Counts = {}
    for labeler, state, claimed_at, submitted_at in rows:
        if state == AssignmentState.SKIPPED:
            _add_to(counts, (0, "sk", labeler, 0, "", 0), 1)
        elif state == AssignmentState.SUBMITTED:
            _add_to(counts, (0, "dn", labeler, 0, "", 0), 1)
            if submitted_at is not None and claimed_at is not None:
                seconds = (submitted_at - claimed_at).total_seconds()
                _add_to(counts, (0, "du", labeler, 0, duration_key(seconds), 0), 1)
                _add_to(counts, (0, "hr", labeler, 0, hour_key(submitted_at), 0), 1)
    return counts


def submitted_move(labeler_id: int, *, was: str, claimed_at: datetime, now: datetime) -> Counts:
    """The change of a labeler's kept figures when their assignment moves from `was` to
    submitted at `now`."""
    return _difference(
        labeler_counts([(labeler_id, AssignmentState.SUBMITTED, claimed_at, now)]),
        labeler_counts([(labeler_id, was, claimed_at, None)]),
    )


def _assignment_rows(assignments: QuerySet[Assignment]) -> QuerySet:
    return assignments.order_by().values_list("labeler_id", "state", "claimed_at", "submitted_at")


class LabelerMoves:
    """Keeps the per-labeler figures in step around a change of some assignments' states (a
    skip, an item status set through the API, items removed): count the assignments before,
    change them, and `done()` adds the difference, in the caller's transaction."""

    def __init__(self, session_id: int, assignments: QuerySet[Assignment]) -> None:
        self.session_id = session_id
        self.assignments = assignments
        self.before = labeler_counts(_assignment_rows(assignments))

    def done(self, after: QuerySet[Assignment] | None = None) -> None:
        rows = _assignment_rows(self.assignments if after is None else after)
        delta = _difference(labeler_counts(rows), self.before)
        delta = {slot: amount for slot, amount in delta.items() if amount}
        if delta:
            add_counts(self.session_id, delta, using=Assignment.objects.db)


# --- cells as stored -----------------------------------------------------------------------------


def _stored_answers(cell: Cell) -> list[list[Any]]:
    return [[answer.labeler_id, answer.value] for answer in cell.answers]


def _stored_final(cell: Cell) -> dict[str, Any] | None:
    final = cell.final
    return None if final is None else {"value": final.value, "accepted": final.accepted_consensus}


def cell_of(row: CellTally, question: SessionQuestion) -> Cell:
    """A `Cell` (values only: no names, rationales or ids) from its stored row."""
    final = None
    if row.final is not None:
        final = FinalAnswer(
            value=row.final["value"],
            rationale="",
            assessment_id="",
            adjudicator="",
            accepted_consensus=bool(row.final.get("accepted")),
            created_at=None,  # type: ignore[arg-type]
        )
    return Cell(
        item_id=row.item_id,
        item_position=row.item_position,
        trace_pk=0,
        trace_id="",
        question=question,
        span_id=row.span_id,
        answers=[
            LabelerAnswer(
                labeler_id=labeler,
                username="",
                value=value,
                rationale="",
                assessment_id="",
                schema_version=0,
                submitted_at=None,
            )
            for labeler, value in row.answers
        ],
        final=final,
    )


def _row_of(session_id: int, cell: Cell) -> CellTally:
    needs_settling = len(cell.answers) >= 2 and not cell.is_unanimous
    return CellTally(
        session_id=session_id,
        item_id=cell.item_id,
        schema_id=cell.question.schema.pk,
        span_id=cell.span_id,
        item_position=cell.item_position,
        answers=_stored_answers(cell),
        final=_stored_final(cell),
        answered=len(cell.answers),
        unanimous=cell.is_unanimous,
        needs_settling=needs_settling,
        settled=cell.final is not None,
        disagreement=cell.disagreement if needs_settling else 0.0,
    )


ROW_FIELDS = [
    "item_position",
    "answers",
    "final",
    "answered",
    "unanimous",
    "needs_settling",
    "settled",
    "disagreement",
]


def _changed_rows(
    session_id: int, old: Mapping[tuple, CellTally], new: Sequence[Cell]
) -> tuple[list[CellTally], list[int]]:
    """The cells that changed (to upsert) and the pks of those gone (no answer, no final)."""
    rows = [_row_of(session_id, cell) for cell in new if cell.answers or cell.final is not None]
    kept = {(row.schema_id, row.span_id) for row in rows}
    changed = [
        row
        for row in rows
        if (previous := old.get((row.schema_id, row.span_id))) is None
        or any(getattr(previous, name) != getattr(row, name) for name in ROW_FIELDS)
    ]
    return changed, [row.pk for key, row in old.items() if key not in kept]


# --- adding to the counts ------------------------------------------------------------------------


def _difference(new: Counts, old: Counts) -> Counts:
    delta = dict(new)
    for slot, amount in old.items():
        _add_to(delta, slot, -amount)
    return {slot: amount for slot, amount in delta.items() if amount}


def _upsert(
    session_id: int, rows: Mapping[tuple, list[float]], *, using: str
) -> dict[tuple, tuple[float, float]]:
    """Add each row's two amounts to its `Tally` (made when missing); returns the new values.

    Raw SQL: the ORM's upsert (`bulk_create(update_conflicts=True)`) can only set a column to
    the inserted value, not add to it (`n = tally.n + excluded.n`), nor return the rows it
    updated. Rows go in a fixed order, so two transactions lock them in the same order.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(Tally._meta.db_table)
    columns = ["session_id", "question", "kind", "a", "b", "key", "n", "n2"]
    unique = ", ".join(quote(c) for c in columns[:6])
    found: dict[tuple, tuple[float, float]] = {}
    ordered = sorted(rows.items())
    for start in range(0, len(ordered), UPSERT_CHUNK):
        chunk = ordered[start : start + UPSERT_CHUNK]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
        params: list[Any] = []
        for (question, kind, a, b, key), (n, n2) in chunk:
            params += [session_id, question, kind, a, b, key, n, n2]
        sql = (
            f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES {values} "
            f"ON CONFLICT ({unique}) DO UPDATE SET "
            f"{quote('n')} = {table}.{quote('n')} + excluded.{quote('n')}, "
            f"{quote('n2')} = {table}.{quote('n2')} + excluded.{quote('n2')} "
            f"RETURNING {', '.join(quote(c) for c in columns[1:])}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for question, kind, a, b, key, n, n2 in cursor.fetchall():
                found[(question, kind, a, b, key)] = (n, n2)
    return found


def add_counts(session_id: int, delta: Counts, *, using: str = "default") -> None:
    """Add `delta` to the session's tallies, and the derived sums (`sq`, `dom`, `pfs`)."""
    first: dict[tuple, list[float]] = {}
    scalars: dict[tuple, list[float]] = {}
    for (question, kind, a, b, key, column), amount in delta.items():
        target = first if kind in ("v", "m") else scalars
        target.setdefault((question, kind, a, b, key), [0.0, 0.0])[column] += amount
    if first:
        for (question, kind, a, b, key), (n, n2) in _upsert(session_id, first, using=using).items():
            d, d2 = first[(question, kind, a, b, key)]
            if kind == "v":
                old = n - d
                derived = [((question, "sq", 0, 0, ""), n * n - old * old)]
                derived.append(((question, "dom", 0, 0, ""), (n > 0.5) - (old > 0.5)))
            else:
                derived = [((question, "pfs", a, b, ""), n * n2 - (n - d) * (n2 - d2))]
            for slot, amount in derived:
                scalars.setdefault(slot, [0.0, 0.0])[0] += amount
    scalars = {slot: amounts for slot, amounts in scalars.items() if any(amounts)}
    if scalars:
        _upsert(session_id, scalars, using=using)


# --- keeping them as answers change --------------------------------------------------------------


def _old_rows(item_id: int) -> dict[tuple, CellTally]:
    return {(row.schema_id, row.span_id): row for row in CellTally.objects.filter(item_id=item_id)}


class _Changes:
    """What changing some items' cells writes, gathered and written at once: the cells to
    upsert and delete, and one difference of the counts."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.rows: list[CellTally] = []
        self.gone: list[int] = []
        self.delta: Counts = {}

    def item(
        self,
        item: Item,
        questions: Mapping[int, SessionQuestion],
        old: Mapping[tuple, CellTally],
        new: Sequence[Cell],
        *,
        adjudicated: bool,
    ) -> int:
        """One item's old stored cells and new cells; returns its new `consensus_cells`
        (written by the caller)."""
        before = [(questions[row.schema_id], cell_of(row, questions[row.schema_id]))
                  for row in old.values() if row.schema_id in questions]  # fmt: skip
        after = [(cell.question, cell) for cell in new]
        for slot, amount in _difference(item_counts(after), item_counts(before)).items():
            _add_to(self.delta, slot, amount)
        consensus = consensus_of(new, adjudicated=adjudicated)
        if consensus != item.consensus_cells:
            ui = (consensus > 0) - (item.consensus_cells > 0)
            _add_to(self.delta, (0, "ui", 0, 0, "", 0), ui)
            _add_to(self.delta, (0, "ua", 0, 0, "", 0), consensus - item.consensus_cells)
        rows, gone = _changed_rows(self.session_id, old, new)
        self.rows += rows
        self.gone += gone
        return consensus

    def write(self) -> None:
        if self.rows:
            CellTally.objects.bulk_create(
                self.rows,
                update_conflicts=True,
                unique_fields=["item", "schema", "span_id"],
                update_fields=ROW_FIELDS,
                batch_size=1000,
            )
        if self.gone:
            CellTally.objects.filter(pk__in=self.gone).delete()
        delta = {slot: amount for slot, amount in self.delta.items() if amount}
        if delta:
            add_counts(self.session_id, delta, using=Item.objects.db)


def record_submit(
    *,
    item: Item,
    labeler_id: int,
    values: Mapping[tuple[int, str], Any],
    questions: Sequence[SessionQuestion],
    labeler_delta: Counts | None = None,
) -> int:
    """A labeler submitted (or submitted again) these answers, keyed (schema pk, span id), on
    `item` (locked by the caller), whose cells are otherwise as stored; `labeler_delta` is the
    change of their kept figures (`labeler_counts`) when the item became submitted. Returns the
    item's new `consensus_cells` for the caller to write with the item's counters. Three
    statements."""
    by_pk = {question.schema.pk: question for question in questions}
    # Rows of questions the sheet does not ask here (span questions without such spans) stay.
    old = {key: row for key, row in _old_rows(item.pk).items() if row.schema_id in by_pk}
    cells = {key: cell_of(row, by_pk[row.schema_id]) for key, row in old.items()
             if row.schema_id in by_pk}  # fmt: skip
    for (schema_pk, span_id), value in values.items():
        question = by_pk.get(schema_pk)
        if question is None:
            continue
        cell = cells.get((schema_pk, span_id))
        if cell is None:
            cell = Cell(
                item_id=item.pk,
                item_position=item.position,
                trace_pk=0,
                trace_id="",
                question=question,
                span_id=span_id,
            )
            cells[(schema_pk, span_id)] = cell
        answer = LabelerAnswer(
            labeler_id=labeler_id, username="", value=value, rationale="", assessment_id="",
            schema_version=0, submitted_at=None,
        )  # fmt: skip
        mine = [i for i, a in enumerate(cell.answers) if a.labeler_id == labeler_id]
        if mine:
            cell.answers[mine[0]] = answer
        else:
            cell.answers.append(answer)
        cell.__dict__.pop("keys", None)
        cell.__dict__.pop("disagreement", None)
    changes = _Changes(item.session_id)
    consensus = changes.item(
        item, by_pk, old, list(cells.values()), adjudicated=item.is_adjudicated
    )
    for slot, amount in (labeler_delta or {}).items():
        _add_to(changes.delta, slot, amount)
    changes.write()
    return consensus


def refresh_items(*, session: LabelingSession, item_ids: Iterable[int]) -> None:
    """Read the cells of these items from their answers again and bring the tallies in step
    (after an edit, a deletion or an adjudication; inside the caller's transaction). Locks the
    items first, so writes to one item's cells follow one another."""
    ids = sorted(set(item_ids))
    if not ids:
        return
    items = list(
        Item.objects.select_for_update().filter(session=session, pk__in=ids).order_by("pk")
    )
    questions = session_questions(session)
    by_pk = {question.schema.pk: question for question in questions}
    cells: dict[int, list[Cell]] = defaultdict(list)
    for cell in load_cells(session, questions=questions, item_ids=ids):
        if cell.answers or cell.final is not None:
            cells[cell.item_id].append(cell)
    old: dict[int, dict[tuple, CellTally]] = defaultdict(dict)
    for row in CellTally.objects.filter(item_id__in=ids):
        old[row.item_id][(row.schema_id, row.span_id)] = row
    changes = _Changes(session.pk)
    changed = []
    for item in items:
        consensus = changes.item(
            item, by_pk, old[item.pk], cells[item.pk], adjudicated=item.is_adjudicated
        )
        if consensus != item.consensus_cells:
            item.consensus_cells = consensus
            changed.append(item)
    changes.write()
    if changed:
        Item.objects.bulk_update(changed, ["consensus_cells"])


def items_answering(assessment_pks: Iterable[int]) -> dict[int, set[int]]:
    """The items (by session) whose answers or final answers are these assessments."""
    from labeling.models import Adjudication, Answer

    pks = list(assessment_pks)
    found: dict[int, set[int]] = defaultdict(set)
    answers = Answer.objects.filter(assessment_id__in=pks).values_list(
        "assignment__item__session_id", "assignment__item_id"
    )
    finals = Adjudication.objects.filter(assessment_id__in=pks).values_list(
        "item__session_id", "item_id"
    )
    for session_id, item_id in [*answers, *finals]:
        found[session_id].add(item_id)
    return found


def rebuild_session(session: LabelingSession, *, using: str = "default") -> None:
    """Count a session's tallies again from its answers (after its questions changed, and to
    fill them for existing data): one pass over its cells in batches."""
    CellTally.objects.using(using).filter(session=session).delete()
    Tally.objects.using(using).filter(session=session).delete()
    questions = session_questions(session)
    adjudicated = set(
        Item.objects.using(using)
        .filter(session=session, adjudicated_at__isnull=False)
        .values_list("pk", flat=True)
    )
    totals: Counts = {}
    rows: list[CellTally] = []
    consensus: dict[int, int] = {}
    current: list[Cell] = []

    def finish() -> None:
        if not current:
            return
        item_id = current[0].item_id
        answered = [cell for cell in current if cell.answers or cell.final is not None]
        for slot, amount in item_counts((cell.question, cell) for cell in answered).items():
            _add_to(totals, slot, amount)
        pending = consensus_of(answered, adjudicated=item_id in adjudicated)
        consensus[item_id] = pending
        if pending:
            _add_to(totals, (0, "ui", 0, 0, "", 0), 1)
            _add_to(totals, (0, "ua", 0, 0, "", 0), pending)
        rows.extend(_row_of(session.pk, cell) for cell in answered)
        current.clear()
        if len(rows) >= 2000:
            CellTally.objects.using(using).bulk_create(rows, batch_size=1000)
            rows.clear()

    for cell in iter_cells(session, questions=questions):
        if current and current[0].item_id != cell.item_id:
            finish()
        current.append(cell)
    finish()
    CellTally.objects.using(using).bulk_create(rows, batch_size=1000)
    Item.objects.using(using).filter(session=session).exclude(consensus_cells=0).update(
        consensus_cells=0
    )
    by_count: dict[int, list[int]] = defaultdict(list)
    for item_id, pending in consensus.items():
        if pending:
            by_count[pending].append(item_id)
    for pending, ids in by_count.items():
        for start in range(0, len(ids), 1000):
            Item.objects.using(using).filter(pk__in=ids[start : start + 1000]).update(
                consensus_cells=pending
            )
    for slot, amount in _session_labeler_counts(session, using=using).items():
        _add_to(totals, slot, amount)
    add_counts(session.pk, totals, using=using)


LABELER_KINDS = ("dn", "sk", "du", "hr")


def _session_labeler_counts(session: LabelingSession, *, using: str) -> Counts:
    assignments = Assignment.objects.using(using).filter(
        item__session=session, state__in=[AssignmentState.SUBMITTED, AssignmentState.SKIPPED]
    )
    return labeler_counts(_assignment_rows(assignments).iterator(chunk_size=5000))


def rebuild_labelers(session: LabelingSession, *, using: str = "default") -> None:
    """Count a session's per-labeler figures (`labeler_counts`) again from its assignments."""
    Tally.objects.using(using).filter(session=session, kind__in=LABELER_KINDS).delete()
    counts = _session_labeler_counts(session, using=using)
    if counts:
        add_counts(session.pk, counts, using=using)


# --- reading -------------------------------------------------------------------------------------


def read_counts(
    session: LabelingSession, *, question: Q | None = None, kinds: Sequence[str]
) -> dict[tuple[int, str, int, int, str], tuple[float, float]]:
    """The session's tallies of these kinds, one query."""
    rows = Tally.objects.filter(session=session, kind__in=list(kinds))
    if question is not None:
        rows = rows.filter(question)
    return {
        (q, kind, a, b, key): (n, n2)
        for q, kind, a, b, key, n, n2 in rows.values_list(
            "question", "kind", "a", "b", "key", "n", "n2"
        )
    }
