"""labeling.tallies: the results kept as answers arrive equal a full pass over the answers.

The property test runs random sequences of submits (and submits again), edits (overrides),
in-place updates, deletions, adjudications and bulk accepts through the services that write
them, and after each sequence compares every kept figure with the figures folded from every
answer (`question_agreements` over `iter_cells`, the reference computation). It runs on both
databases; its budget is fixed (`max_examples`), so CI time stays bounded.
"""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from itertools import groupby
from operator import attrgetter

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling import queue, session_items, tallies
from labeling import services as labeling_services
from labeling.campaign import adjudication
from labeling.campaign.agreement import (
    load_judge_values,
    question_agreements,
    session_agreement,
)
from labeling.campaign.labelers import _agreement
from labeling.forms import AnswerSheet
from labeling.models import Answer, Assignment, CellTally, Item, Tally
from labeling.progress import labeler_figures
from labeling.results import iter_cells, session_questions
from tests.conftest import make_user
from tests.factories import make_experiment, make_review_session, make_schema
from traces import services as trace_services

pytestmark = pytest.mark.django_db

LABELERS = 3
ITEMS = 2

# Raw form values per question (the review app's answer sheet).
RAW = {
    "correct": ["true", "false"],
    "tone": ["warm", "neutral", "curt"],
    "score": ["1", "2", "3", "5"],
    "answer": ["Paris", "paris ", "Lyon"],
    "tags": [["a"], ["b"], ["a", "b"]],
}
# Values for edits (overrides, updates) and final answers, as the services take them.
VALUES = {
    "correct": [True, False],
    "tone": ["warm", "neutral", "curt"],
    "score": [1, 2, 3.0, 5],
    "answer": ["Paris", "PARIS", "Lyon"],
    "tags": [["a"], ["b"], ["b", "a"]],
}

submit = st.tuples(
    st.just("submit"),
    st.integers(0, LABELERS - 1),
    st.integers(0, ITEMS - 1),
    st.dictionaries(st.sampled_from(sorted(RAW)), st.integers(0, 3), min_size=1),
)
operation = st.one_of(
    submit,
    st.tuples(st.just("edit"), st.integers(0, 50), st.integers(0, 3)),
    st.tuples(st.just("update"), st.integers(0, 50), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(
        st.just("settle"),
        st.integers(0, ITEMS - 1),
        st.sampled_from(sorted(RAW)),
        st.integers(0, 3),
    ),
    st.tuples(st.just("accept")),
    # The labelers page's kept figures: skips, and item statuses set through the API.
    st.tuples(st.just("skip"), st.integers(0, LABELERS - 1), st.integers(0, ITEMS - 1)),
    st.tuples(
        st.just("status"),
        st.integers(0, LABELERS - 1),
        st.integers(0, ITEMS - 1),
        st.sampled_from(["complete", "declined", "pending"]),
    ),
)


def _build():
    experiment = make_experiment()
    schemas = [
        make_schema(experiment, "correct", "pass_fail"),
        make_schema(experiment, "tone", "categorical", {"options": ["warm", "neutral", "curt"]}),
        make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5}),
        make_schema(experiment, "answer", "text", kind="expectation"),
        make_schema(experiment, "tags", "categorical", {"options": ["a", "b"], "multi": True}),
    ]
    people = [make_user(f"prop{i}", labeler=True) for i in range(LABELERS)]
    curator = make_user("prop-curator", staff=True)
    session = make_review_session(
        experiment=experiment,
        items=ITEMS,
        schemas=schemas,
        labels_per_item=LABELERS,
        labelers=people,
    )
    items = list(session.items.order_by("position").select_related("trace", "session"))
    return session, {s.name: s for s in schemas}, people, curator, items


def _pick(values, index):
    return values[index % len(values)]


def _submit(session, schemas, person, item, chosen):
    assignment = Assignment.objects.filter(item=item, labeler=person).first()
    if assignment is None:
        assignment = Assignment.objects.create(
            item=item, labeler=person, state="claimed", lease_expires_at=None
        )
        labeling_services.recount_item_slots(items=Item.objects.filter(pk=item.pk))
    assignment = Assignment.objects.select_related("item__session", "item__trace", "labeler").get(
        pk=assignment.pk
    )
    data = {}
    for name, index in chosen.items():
        raw = _pick(RAW[name], index)
        data[f"q-{schemas[name].pk}"] = raw
    ordered = [q.schema for q in session_questions(session)]
    sheet = AnswerSheet(ordered, data=_QueryDict(data))
    queue.submit_answers(assignment=assignment, sheet=sheet)


class _QueryDict(dict):
    def getlist(self, key):
        value = self.get(key)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


def _answers():
    return list(Answer.objects.select_related("assessment", "schema").order_by("pk"))


def _run(operation, session, schemas, people, curator, items):
    kind = operation[0]
    if kind == "submit":
        _, who, which, chosen = operation
        _submit(session, schemas, people[who], items[which], chosen)
        return
    if kind in ("edit", "update", "delete"):
        answers = _answers()
        if not answers:
            return
        answer = answers[operation[1] % len(answers)]
        trace_id = answer.assessment.trace.trace_id
        assessment_id = answer.assessment.assessment_id
        if kind == "delete":
            labeling_services.delete_assessment(trace_id=trace_id, assessment_id=assessment_id)
            return
        value = _pick(VALUES[answer.schema.name], operation[2])
        if kind == "edit":
            labeling_services.override_assessment(
                trace_id=trace_id,
                assessment_id=assessment_id,
                value=value,
                source=trace_services.Source("HUMAN", answer.assessment.source_id),
            )
        elif answer.assessment.kind == "expectation":
            labeling_services.update_assessment(
                trace_id=trace_id,
                assessment_id=assessment_id,
                expectation=trace_services.ExpectationValue(value=value),
            )
        else:
            labeling_services.update_assessment(
                trace_id=trace_id,
                assessment_id=assessment_id,
                feedback=trace_services.FeedbackValue(value=value),
            )
        return
    if kind == "skip":
        _, who, which = operation
        assignment = Assignment.objects.filter(item=items[which], labeler=people[who]).first()
        if assignment is not None and assignment.state != "submitted":
            queue.skip_item(assignment=assignment)
        return
    if kind == "status":
        _, who, which, status = operation
        with contextlib.suppress(ValidationError):  # refused (labels stay): nothing changed
            session_items.set_item_status(item=items[which], labeler=people[who], status=status)
        return
    if kind == "settle":
        _, which, name, index = operation
        adjudication.settle_cell(
            item=items[which],
            schema=schemas[name],
            value=_pick(VALUES[name], index),
            adjudicator=curator,
        )
        return
    adjudication.accept_unanimous(session=session, adjudicator=curator)


def _figures(results):
    def figure(f):
        return (None if f.value is None else pytest.approx(f.value, abs=1e-9), f.n, f.why)

    return [
        (
            r.question.schema.pk,
            r.labeled,
            figure(r.percent),
            figure(r.alpha),
            r.kappa.labelers,
            [[None if f is None else figure(f) for f in row] for row in r.kappa.rows],
        )
        for r in results
    ]


def _full_labelers(session):
    """The labelers page's agreement folded over every cell (the reference)."""
    others = defaultdict(lambda: [0, 0])
    finals = defaultdict(lambda: [0, 0])
    compared = defaultdict(set)
    for cell in iter_cells(session):
        keyed = [(a.labeler_id, cell.question.key(a.value)) for a in cell.answers]
        keyed = [(labeler, key) for labeler, key in keyed if key is not None]
        for labeler, key in keyed:
            for other, other_key in keyed:
                if other != labeler:
                    others[labeler][0] += key == other_key
                    others[labeler][1] += 1
                    compared[labeler].add(cell.item_id)
            if cell.final is not None and not cell.final.accepted_consensus:
                finals[labeler][0] += key == cell.question.key(cell.final.value)
                finals[labeler][1] += 1
    return (
        {k: v for k, v in others.items() if v != [0, 0]},
        {k: v for k, v in finals.items() if v != [0, 0]},
        {k: len(v) for k, v in compared.items()},
    )


def _full_overview(session):
    adjudicated = set(
        Item.objects.filter(session=session, adjudicated_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
    entries = []
    unanimous_items = unanimous_answers = 0
    for item_id, group in groupby(iter_cells(session), key=attrgetter("item_id")):
        answered = [cell for cell in group if cell.answers]
        for cell in answered:
            if len(cell.answers) >= 2 and not cell.is_unanimous:
                entries.append(
                    (
                        cell.is_adjudicated,
                        -cell.disagreement,
                        cell.item_position,
                        item_id,
                        cell.question.schema.pk,
                        cell.span_id,
                    )
                )
        pending = [] if item_id in adjudicated else tallies.unanimous_pending(answered)
        if pending:
            unanimous_items += 1
            unanimous_answers += len(pending)
    entries.sort()
    return entries, (unanimous_items, unanimous_answers)


def _kept_rows(session):
    return {
        (r.question, r.kind, r.a, r.b, r.key): (
            pytest.approx(r.n, abs=1e-9),
            pytest.approx(r.n2, abs=1e-9),
        )
        for r in Tally.objects.filter(session=session)
        if abs(r.n) > 1e-9 or abs(r.n2) > 1e-9
    }


def check_against_full_pass(session):
    questions = session_questions(session)
    full = question_agreements(
        iter_cells(session, questions=questions), questions, load_judge_values(session, questions)
    )
    assert _figures(session_agreement(session)) == _figures(full)

    others, finals, compared = _agreement(session)
    assert (
        {k: v for k, v in others.items() if v != [0, 0]},
        {k: v for k, v in finals.items() if v != [0, 0]},
        {k: v for k, v in compared.items() if v},
    ) == _full_labelers(session)

    entries, unanimous = _full_overview(session)
    kept = adjudication.overview(session)
    assert (kept.unsettled, kept.settled) == (
        sum(not e[0] for e in entries),
        sum(e[0] for e in entries),
    )
    assert (kept.unanimous.items, kept.unanimous.answers) == unanimous
    listed = list(
        CellTally.objects.filter(session=session, needs_settling=True)
        .order_by("settled", "-disagreement", "item_position", "item_id", "schema_id", "span_id")
        .values_list("settled", "disagreement", "item_position", "item_id", "schema_id", "span_id")
    )
    assert [(s, pytest.approx(-d), *rest) for s, d, *rest in listed] == entries
    everything = adjudication.disagreement_cells(session, settled=True)
    assert everything.count() == len(entries)
    assert list(everything[: len(entries)]) == [tuple(e[3:]) for e in entries]
    assert adjudication.disagreement_cells(session).count() == kept.unsettled

    # The labelers' figures, against a pass over the assignments.
    figures = {row.user.pk: row for row in labeler_figures(session)}
    for person in session.labelers.all():
        mine = Assignment.objects.filter(item__session=session, labeler=person)
        row = figures[person.pk]
        durations = sorted(
            round((a.submitted_at - a.claimed_at).total_seconds())
            for a in mine.filter(state="submitted")
        )
        middle = durations[(len(durations) - 1) // 2 : len(durations) // 2 + 1]
        assert (row.done, row.skipped, row.assigned) == (
            mine.filter(state="submitted").count(),
            mine.filter(state="skipped").count(),
            mine.exclude(state="released").count(),
        )
        assert row.median_seconds == (sum(middle) / len(middle) if middle else None)

    # Counting again from nothing gives the same rows.
    before = _kept_rows(session)
    tallies.rebuild_session(session)
    assert _kept_rows(session) == before


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
# Each step is a submit and one more write of any kind: submits are most of what happens.
@given(st.lists(st.tuples(submit, operation), min_size=2, max_size=12))
def test_kept_results_equal_a_full_pass_over_the_answers(steps):
    with transaction.atomic():
        world = _build()
        for step in steps:
            for op in step:
                _run(op, *world)
        check_against_full_pass(world[0])
        transaction.set_rollback(True)


def test_a_known_sequence(labeler, other_labeler):
    """One sequence spelled out, so a failure of the property test has a readable neighbour."""
    session, schemas, people, curator, items = _build()
    _submit(session, schemas, people[0], items[0], {"correct": 0, "score": 0, "answer": 0})
    _submit(session, schemas, people[1], items[0], {"correct": 1, "score": 3, "answer": 1})
    _submit(session, schemas, people[2], items[0], {"correct": 0, "score": 0, "answer": 2})
    _submit(session, schemas, people[0], items[1], {"correct": 0, "tone": 1})
    _submit(session, schemas, people[1], items[1], {"correct": 0, "tone": 1})
    check_against_full_pass(session)
    assert adjudication.overview(session).unanimous.items == 1
    answer = Answer.objects.filter(assignment__item=items[0], schema=schemas["correct"]).first()
    labeling_services.override_assessment(
        trace_id=items[0].trace.trace_id,
        assessment_id=answer.assessment.assessment_id,
        value=True,
        source=trace_services.Source("HUMAN", answer.assessment.source_id),
    )
    adjudication.settle_cell(item=items[0], schema=schemas["score"], value=4, adjudicator=curator)
    check_against_full_pass(session)
    adjudication.accept_unanimous(session=session, adjudicator=curator)
    assert adjudication.overview(session).unanimous.items == 0
    check_against_full_pass(session)


def test_recount_results_repairs_tallies_changed_behind_the_apps_back(labeler):
    from django.core.management import call_command

    session, schemas, people, _, items = _build()
    _submit(session, schemas, people[0], items[0], {"correct": 0})
    _submit(session, schemas, people[1], items[0], {"correct": 1})
    before = _kept_rows(session)
    Tally.objects.filter(session=session).delete()  # as a database shell might
    call_command("recount_results", session=[session.pk], stdout=io.StringIO())
    assert _kept_rows(session) == before
    check_against_full_pass(session)
