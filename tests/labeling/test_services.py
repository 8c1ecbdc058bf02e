"""labeling.services: sessions, adding and removing items, item states, labeler accounts."""

import random
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from labeling import services, session_items
from labeling.models import ItemState, SessionSchema
from tests.factories import (
    make_answer,
    make_assignment,
    make_experiment,
    make_schema,
    make_session,
    make_trace,
)
from traces.models import Trace


@pytest.fixture
def experiment(db):
    return make_experiment("support-bot")


def session_fields(**overrides):
    fields = {
        "name": "Week 1",
        "instructions": "",
        "labels_per_item": 1,
        "reservation_minutes": 30,
        "blind": False,
        "status": "draft",
        "schemas": [],
        "labelers": [],
    }
    fields.update(overrides)
    return services.SessionFields(**fields)


def positions(session):
    return list(session.items.order_by("position").values_list("trace__trace_id", flat=True))


# --- sessions ------------------------------------------------------------------------------------


def test_create_session_keeps_the_order_of_questions(experiment, labeler, curator):
    a, b, c = (make_schema(experiment, name) for name in "abc")
    session = services.create_session(
        experiment=experiment,
        fields=session_fields(schemas=[c, a, b], labelers=[labeler]),
        user=curator,
    )
    ordered = SessionSchema.objects.filter(session=session).order_by("position")
    assert [row.schema.name for row in ordered] == ["c", "a", "b"]
    assert list(session.labelers.all()) == [labeler]
    assert session.created_by == curator


def test_update_session_reorders_adds_and_removes_questions(experiment):
    a, b, c = (make_schema(experiment, name) for name in "abc")
    session = services.create_session(experiment=experiment, fields=session_fields(schemas=[a, b]))
    services.update_session(session=session, fields=session_fields(schemas=[c, a]))
    ordered = SessionSchema.objects.filter(session=session).order_by("position")
    assert [(row.schema.name, row.position) for row in ordered] == [("c", 1), ("a", 2)]


def test_session_questions_must_belong_to_its_experiment(experiment):
    foreign = make_schema(make_experiment(), "foreign")
    with pytest.raises(ValidationError) as info:
        services.create_session(experiment=experiment, fields=session_fields(schemas=[foreign]))
    assert info.value.code == "schemas"


@pytest.mark.parametrize("overlap", [0, 11])
def test_labels_per_item_range(experiment, overlap):
    with pytest.raises(ValidationError):
        services.create_session(
            experiment=experiment, fields=session_fields(labels_per_item=overlap)
        )


def test_changing_labels_per_item_rederives_item_states(experiment, labeler, other_labeler):
    traces = [make_trace(experiment) for _ in range(3)]
    session = make_session(experiment, traces=traces, labels_per_item=2)
    one, two, three = session.items.order_by("position")
    make_assignment(one, labeler)
    make_assignment(one, other_labeler)
    make_assignment(two, labeler)
    services.refresh_item_states(session=session)
    states = dict(session.items.values_list("pk", "state"))
    assert states == {one.pk: "complete", two.pk: "in_progress", three.pk: "pending"}
    services.update_session(session=session, fields=session_fields(labels_per_item=1))
    states = dict(session.items.values_list("pk", "state"))
    assert states == {one.pk: "complete", two.pk: "complete", three.pk: "pending"}


def test_item_states(experiment, labeler, other_labeler):
    traces = [make_trace(experiment) for _ in range(5)]
    session = make_session(experiment, traces=traces, labels_per_item=1)
    items = list(session.items.order_by("position"))
    make_assignment(items[0], labeler)  # submitted
    make_assignment(items[1], labeler, "claimed")  # live reservation
    make_assignment(
        items[2], labeler, "claimed", lease_expires_at=timezone.now() - timedelta(minutes=1)
    )  # expired: frees the slot
    make_assignment(items[3], labeler, "skipped")
    services.refresh_item_states(session=session)
    assert [item.state for item in session.items.order_by("position")] == [
        ItemState.COMPLETE,
        ItemState.IN_PROGRESS,
        ItemState.PENDING,
        ItemState.SKIPPED,
        ItemState.PENDING,
    ]


# --- adding traces -------------------------------------------------------------------------------


def test_add_by_id_ignores_duplicates_and_keeps_the_order(experiment):
    traces = [make_trace(experiment) for _ in range(4)]
    session = make_session(experiment, traces=traces[:1])
    ids = [traces[2].trace_id, traces[0].trace_id, traces[1].trace_id, traces[2].trace_id]
    result = session_items.add_traces_by_id(session=session, trace_ids=ids)
    assert (result.added, result.already_there, result.matched) == (2, 1, 3)
    assert positions(session) == [traces[0].trace_id, traces[2].trace_id, traces[1].trace_id]
    assert result.message(session) == f"Added 2 traces to “{session.name}”. 1 was already there."


def test_add_by_id_refuses_traces_of_another_experiment(experiment):
    session = make_session(experiment)
    mine = make_trace(experiment)
    foreign = make_trace(make_experiment())
    with pytest.raises(ValidationError) as info:
        session_items.add_traces_by_id(
            session=session, trace_ids=[mine.trace_id, foreign.trace_id, "tr-nope"]
        )
    assert info.value.code == "unknown_traces"
    assert "2 of the selected traces are not in experiment" in info.value.messages[0]
    assert not session.items.exists()  # nothing, not even the valid one


def test_add_by_id_needs_a_selection_and_bounds_it(experiment):
    session = make_session(experiment)
    with pytest.raises(ValidationError) as info:
        session_items.add_traces_by_id(session=session, trace_ids=[])
    assert info.value.code == "no_traces"
    many = [f"tr-{i:032x}" for i in range(session_items.MAX_SELECTED_TRACES + 1)]
    with pytest.raises(ValidationError) as info:
        session_items.add_traces_by_id(session=session, trace_ids=many)
    assert info.value.code == "too_many"


def test_add_matching_counts_and_deduplicates(experiment):
    ok = [make_trace(experiment, state="OK") for _ in range(6)]
    errors = [make_trace(experiment, state="ERROR") for _ in range(3)]
    make_trace(make_experiment(), state="OK")  # another experiment: never added
    session = make_session(experiment, traces=[ok[0], errors[0]])
    matching = Trace.objects.filter(state="OK")
    result = session_items.add_matching_traces(session=session, traces=matching)
    assert (result.added, result.already_there, result.matched) == (5, 1, 6)
    assert session.items.count() == 7
    # Appended after the items already there, newest trace first.
    newest_first = sorted(ok[1:], key=lambda t: t.request_time, reverse=True)
    assert positions(session) == [ok[0].trace_id, errors[0].trace_id] + [
        t.trace_id for t in newest_first
    ]
    again = session_items.add_matching_traces(session=session, traces=matching)
    assert (again.added, again.already_there, again.matched) == (0, 6, 6)
    assert session.items.count() == 7
    assert len(set(session.items.values_list("position", flat=True))) == 7


def test_random_sample(experiment):
    traces = [make_trace(experiment) for _ in range(20)]
    session = make_session(experiment, traces=traces[:5])
    result = session_items.add_trace_sample(
        session=session, traces=Trace.objects.all(), size=8, rng=random.Random(7)
    )
    assert (result.added, result.already_there, result.matched) == (8, 5, 20)
    # Issue 15: the traces already there were never candidates; the message says so.
    assert result.message(session) == (
        f"Added 8 traces, drawn at random from the 15 matching traces not yet in “{session.name}”."
    )
    added = set(session.items.values_list("trace_id", flat=True)) - {t.pk for t in traces[:5]}
    assert len(added) == 8
    # Same seed, same draw: the sample is random, not "the first K".
    other = make_session(experiment, traces=traces[:5])
    session_items.add_trace_sample(
        session=other, traces=Trace.objects.all(), size=8, rng=random.Random(7)
    )
    assert set(other.items.values_list("trace_id", flat=True)) - {t.pk for t in traces[:5]} == added
    # Different seeds, different draws.
    draws = []
    for seed in (1, 2):
        fresh = make_session(experiment)
        session_items.add_trace_sample(
            session=fresh, traces=Trace.objects.all(), size=8, rng=random.Random(seed)
        )
        draws.append(set(fresh.items.values_list("trace_id", flat=True)))
    assert draws[0] != draws[1]


def test_random_sample_takes_what_is_left(experiment):
    traces = [make_trace(experiment) for _ in range(4)]
    session = make_session(experiment, traces=traces[:3])
    result = session_items.add_trace_sample(session=session, traces=Trace.objects.all(), size=10)
    assert (result.added, result.already_there, result.matched) == (1, 3, 4)


@pytest.mark.parametrize("size", [0, session_items.MAX_SAMPLE_SIZE + 1])
def test_random_sample_size_bounds(experiment, size):
    with pytest.raises(ValidationError):
        session_items.add_trace_sample(
            session=make_session(experiment), traces=Trace.objects.all(), size=size
        )


# --- removing items ------------------------------------------------------------------------------


def test_remove_unlabeled_items(experiment, labeler):
    traces = [make_trace(experiment) for _ in range(3)]
    session = make_session(experiment, traces=traces)
    first, second, _ = session.items.order_by("position")
    make_assignment(second, labeler, "skipped")  # skipping is not labeling
    assert session_items.remove_items(session=session, item_ids=[first.pk, second.pk]) == 2
    assert session.items.count() == 1


def test_remove_refused_once_labeled(experiment, labeler):
    schema = make_schema(experiment, "correct")
    session = make_session(experiment, schemas=[schema], traces=[make_trace(experiment)])
    item = session.items.get()
    make_answer(make_assignment(item, labeler), schema)
    with pytest.raises(ValidationError) as info:
        session_items.remove_items(session=session, item_ids=[item.pk])
    assert info.value.code == "labeled"
    assert session.items.count() == 1


def test_remove_refused_while_reserved(experiment, labeler):
    session = make_session(experiment, traces=[make_trace(experiment)])
    item = session.items.get()
    make_assignment(item, labeler, "claimed")
    with pytest.raises(ValidationError) as info:
        session_items.remove_items(session=session, item_ids=[item.pk])
    assert info.value.code == "reserved"


def test_remove_refuses_items_of_other_sessions(experiment):
    session = make_session(experiment, traces=[make_trace(experiment)])
    other = make_session(experiment, traces=[make_trace(experiment)])
    with pytest.raises(ValidationError):
        session_items.remove_items(session=session, item_ids=[other.items.get().pk])
    assert other.items.exists()


# --- dashboard figures ---------------------------------------------------------------------------


def test_median_seconds_by_labeler_come_from_the_kept_durations(experiment, labeler, other_labeler):
    from labeling.progress import labeler_figures

    session = make_session(experiment, traces=[make_trace(experiment) for _ in range(6)])
    items = list(session.items.order_by("position"))
    for item, seconds in zip(items[:3], (10, 70, 30), strict=True):
        make_assignment(item, labeler, seconds=seconds)
    make_assignment(items[3], other_labeler, seconds=12)
    make_assignment(items[5], other_labeler, seconds=13.2)  # kept to the second: 13
    make_assignment(items[4], other_labeler, "skipped")  # not a submission: not counted
    make_assignment(items[0], other_labeler, "claimed")
    rows = {row.user.pk: row for row in labeler_figures(session)}
    assert rows[labeler.pk].median_seconds == 30
    assert rows[other_labeler.pk].median_seconds == 12.5  # the mean of the middle two
    assert (rows[other_labeler.pk].done, rows[other_labeler.pk].skipped) == (2, 1)
    assert rows[other_labeler.pk].assigned == 4  # and the reservation


def test_median_of_counted_values():
    from labeling.progress import _median

    assert _median({}) is None
    assert _median({5.0: 1}) == 5
    assert _median({1.0: 2, 9.0: 1}) == 1
    assert _median({1.0: 1, 3.0: 1, 9.0: 2}) == 6
    assert _median({1.0: 3, 3.0: 3}) == 2


def test_suggestions_are_never_on_in_blind_mode(experiment):
    """Issue 15: judges' suggestions pre-fill questions, which blind mode forbids."""
    session = services.create_session(
        experiment=experiment, fields=session_fields(suggestions=True)
    )
    assert session.suggestions is True
    blind = services.create_session(
        experiment=experiment, fields=session_fields(name="Blind", suggestions=True, blind=True)
    )
    assert blind.suggestions is False
