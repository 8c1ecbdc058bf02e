"""Console: labeling sessions (list, create, edit) and the session dashboard."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from labeling import services
from labeling.models import LabelingSession, SessionSchema
from labeling.progress import labeler_figures
from tests.conftest import make_user
from tests.factories import (
    make_assignment,
    make_experiment,
    make_schema,
    make_session,
    make_trace,
)


@pytest.fixture
def experiment(db):
    return make_experiment("support-bot")


@pytest.fixture
def schemas(experiment):
    return [make_schema(experiment, name) for name in ("correct", "tone", "score")]


def form_data(schemas=(), labelers=(), **overrides):
    data = {
        "name": "Week 1",
        "instructions": "Read it **all**.",
        "labels_per_item": "1",
        "reservation_minutes": "30",
        "status": "draft",
        "labelers": [str(user.pk) for user in labelers],
    }
    for position, schema in enumerate(schemas, start=1):
        data[f"schemas-{schema.pk}"] = "1"
        data[f"schemas-{schema.pk}-position"] = str(position)
    data.update(overrides)
    return data


def create_url(experiment):
    return reverse("console:session_create", args=[experiment.pk])


# --- creating ------------------------------------------------------------------------------------


def test_create_session(curator_client, experiment, schemas, labeler, other_labeler, curator):
    data = form_data(
        schemas=[schemas[2], schemas[0]],
        labelers=[labeler, other_labeler],
        status="active",
        labels_per_item="2",
        reservation_minutes="15",
        blind="on",
    )
    response = curator_client.post(create_url(experiment), data)
    session = LabelingSession.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("console:session_detail", args=[session.pk])
    assert (session.name, session.status, session.labels_per_item) == ("Week 1", "active", 2)
    assert (session.reservation_minutes, session.blind) == (15, True)
    assert session.created_by == curator
    ordered = SessionSchema.objects.filter(session=session).order_by("position")
    assert [row.schema.name for row in ordered] == ["score", "correct"]
    assert set(session.labelers.all()) == {labeler, other_labeler}
    # Labelers see it while it is active and they are assigned.
    assert list(LabelingSession.objects.for_labeler(labeler)) == [session]


def test_positions_order_the_questions(curator_client, experiment, schemas):
    correct, tone, score = schemas
    data = form_data()
    data.update({
        f"schemas-{correct.pk}": "1", f"schemas-{correct.pk}-position": "3",
        f"schemas-{tone.pk}": "1", f"schemas-{tone.pk}-position": "1",
        f"schemas-{score.pk}": "1", f"schemas-{score.pk}-position": "",  # unnumbered: last
    })  # fmt: skip
    curator_client.post(create_url(experiment), data)
    ordered = SessionSchema.objects.order_by("position")
    assert [row.schema.name for row in ordered] == ["tone", "correct", "score"]


def test_unticked_questions_are_not_asked(curator_client, experiment, schemas):
    data = form_data(schemas=schemas)
    data.pop(f"schemas-{schemas[1].pk}")
    curator_client.post(create_url(experiment), data)
    assert [row.schema.name for row in SessionSchema.objects.order_by("position")] == [
        "correct",
        "score",
    ]


SESSION_RULES = [
    ({"name": ""}, "name", "This field is required."),
    ({"name": "x" * 251}, "name", "Ensure this value has at most 250 characters (it has 251)."),
    ({"labels_per_item": "0"}, "labels_per_item", "Labels per item must be between 1 and 10."),
    ({"labels_per_item": "11"}, "labels_per_item", "Labels per item must be between 1 and 10."),
    ({"labels_per_item": "two"}, "labels_per_item", "Enter a whole number."),
    ({"reservation_minutes": "0"}, "reservation_minutes",
     "The reservation must last at least a minute."),
    ({"reservation_minutes": "1441"}, "reservation_minutes",
     "The reservation may last at most 1,440 minutes (a day)."),
    ({"status": "paused"}, "status", "Select a valid choice."),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "field", "message"), SESSION_RULES)
def test_each_session_rule(curator_client, experiment, schemas, overrides, field, message):
    response = curator_client.post(create_url(experiment), form_data(schemas, **overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(error.startswith(message) for error in errors), errors
    assert f'id="id_{field}_error"'.encode() in response.content
    assert not LabelingSession.objects.exists()


def test_active_session_needs_questions_and_labelers(curator_client, experiment):
    response = curator_client.post(create_url(experiment), form_data(status="active"))
    errors = response.context["form"].errors
    assert errors["schemas"] == ["An active session needs at least one question."]
    assert errors["labelers"] == ["An active session needs at least one labeler."]
    assert b"An active session needs at least one question." in response.content
    # A draft may be empty.
    assert curator_client.post(create_url(experiment), form_data()).status_code == 302


def test_active_session_needs_enough_labelers_for_its_overlap(
    curator_client, experiment, schemas, labeler
):
    data = form_data(schemas, [labeler], status="active", labels_per_item="2")
    response = curator_client.post(create_url(experiment), data)
    assert "only 1 is assigned" in response.context["form"].errors["labels_per_item"][0]


def test_bad_position_is_refused(curator_client, experiment, schemas):
    data = form_data(schemas)
    data[f"schemas-{schemas[0].pk}-position"] = "first"
    response = curator_client.post(create_url(experiment), data)
    assert "must be a whole number from 1 to 999" in response.context["form"].errors["schemas"][0]


def test_schemas_of_other_experiments_cannot_be_posted(curator_client, experiment, schemas):
    foreign = make_schema(make_experiment(), "foreign")
    data = form_data(schemas[:1])
    data[f"schemas-{foreign.pk}"] = "1"
    curator_client.post(create_url(experiment), data)
    assert [row.schema_id for row in SessionSchema.objects.all()] == [schemas[0].pk]


def test_only_labelers_can_be_assigned(curator_client, experiment, outsider, curator):
    data = form_data(labelers=[outsider])
    response = curator_client.post(create_url(experiment), data)
    assert "labelers" in response.context["form"].errors
    assert not LabelingSession.objects.exists()


def test_archived_schemas_are_offered_only_to_sessions_that_ask_them(
    curator_client, experiment, schemas
):
    services.set_schema_archived(schema=schemas[1], archived=True)
    page = curator_client.get(create_url(experiment))
    offered = page.context["form"].fields["schemas"].schemas
    assert schemas[1] not in offered
    session = make_session(experiment, schemas=[schemas[1]])
    page = curator_client.get(reverse("console:session_edit", args=[session.pk]))
    assert schemas[1] in page.context["form"].fields["schemas"].schemas


def test_new_session_picks_the_experiment(curator_client, experiment):
    url = reverse("console:session_new")
    # One experiment: straight to its form.
    assert curator_client.get(url)["Location"] == create_url(experiment)
    other = make_experiment("other")
    assert curator_client.get(url).status_code == 200
    response = curator_client.get(url, {"experiment": other.pk})
    assert response["Location"] == create_url(other)
    assert curator_client.get(url, {"experiment": "999"}).status_code == 200


# --- editing -------------------------------------------------------------------------------------


def test_edit_session(curator_client, experiment, schemas, labeler, other_labeler):
    session = make_session(experiment, schemas=schemas, labelers=[labeler], name="Old")
    data = form_data([schemas[1]], [other_labeler], name="New", status="closed")
    response = curator_client.post(reverse("console:session_edit", args=[session.pk]), data)
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.name, session.status) == ("New", "closed")
    assert list(session.labelers.all()) == [other_labeler]
    assert [row.schema for row in SessionSchema.objects.filter(session=session)] == [schemas[1]]
    assert not LabelingSession.objects.for_labeler(other_labeler).exists()  # closed


def test_rejected_edit_does_not_show_in_the_header(curator_client, experiment):
    session = make_session(experiment, name="Keep me")
    url = reverse("console:session_edit", args=[session.pk])
    response = curator_client.post(url, form_data(name="Changed", labels_per_item="0"))
    assert response.context["session"].name == "Keep me"
    session.refresh_from_db()
    assert session.name == "Keep me"


def test_edit_form_shows_current_values(curator_client, experiment, schemas, labeler):
    session = make_session(experiment, schemas=[schemas[2], schemas[0]], labelers=[labeler])
    page = curator_client.get(reverse("console:session_edit", args=[session.pk]))
    html = page.content.decode()
    assert (
        f'name="schemas-{schemas[2].pk}-position" id="schemas-{schemas[2].pk}-position" value="1"'
        in html
    )
    assert (
        f'name="schemas-{schemas[0].pk}-position" id="schemas-{schemas[0].pk}-position" value="2"'
        in html
    )
    assert (
        html.index(schemas[2].title) < html.index(schemas[0].title) < html.index(schemas[1].title)
    )


# --- list ----------------------------------------------------------------------------------------


def test_session_list_with_progress(curator_client, experiment, labeler, django_assert_num_queries):
    for index in range(4):
        traces = [make_trace(experiment) for _ in range(3)]
        session = make_session(experiment, traces=traces, labelers=[labeler], name=f"S{index}")
        make_assignment(session.items.first(), labeler)
        services.refresh_item_states(session=session)
    # user, experiments, count, page, item counts by state, labeler counts
    with django_assert_num_queries(6):
        response = curator_client.get(reverse("console:index"))
    rows = list(response.context["page"])
    assert len(rows) == 4
    assert all(row.progress.total == 3 and row.progress.complete == 1 for row in rows)
    assert all(row.n_labelers == 1 for row in rows)


def test_session_list_filters(curator_client, experiment):
    make_session(experiment, name="Draft one", status="draft")
    make_session(experiment, name="Live one", status="active")
    make_session(make_experiment("other"), name="Elsewhere", status="active")
    url = reverse("console:index")
    names = lambda r: [s.name for s in r.context["page"]]  # noqa: E731
    assert names(curator_client.get(url, {"status": "active"})) == ["Elsewhere", "Live one"]
    assert names(curator_client.get(url, {"experiment": experiment.pk})) == [
        "Live one",
        "Draft one",
    ]
    assert len(names(curator_client.get(url, {"status": "bogus", "experiment": "x"}))) == 3
    partial = curator_client.get(url, {"status": "draft"}, headers={"HX-Request": "true"})
    assert b'id="session-list"' in partial.content and b"<html" not in partial.content


# --- dashboard -----------------------------------------------------------------------------------


@pytest.fixture
def busy_session(experiment, labeler, other_labeler):
    """Ten items: labeler did 4 (60, 90, 120, 600 s) and skipped 1, other_labeler did 2 and
    holds one reservation; one item is flagged."""
    schema = make_schema(experiment, "correct")
    traces = [make_trace(experiment) for _ in range(10)]
    session = make_session(
        experiment, schemas=[schema], labelers=[labeler, other_labeler], traces=traces,
        labels_per_item=1, status="active",
    )  # fmt: skip
    items = list(session.items.order_by("position"))
    for item, seconds in zip(items[:4], (60, 90, 120, 600), strict=True):
        make_assignment(item, labeler, seconds=seconds)
    make_assignment(items[4], labeler, "skipped", flagged=True, flag_reason="Not English")
    make_assignment(items[5], other_labeler, seconds=30)
    make_assignment(items[6], other_labeler, seconds=50)
    make_assignment(items[7], other_labeler, "claimed")
    services.refresh_item_states(session=session)
    return session


def test_dashboard_figures(curator_client, busy_session, labeler, other_labeler):
    response = curator_client.get(reverse("console:session_detail", args=[busy_session.pk]))
    progress = response.context["progress"]
    assert (progress.complete, progress.in_progress, progress.skipped, progress.pending) == (
        6, 1, 1, 2,
    )  # fmt: skip
    rows = {row.user.username: row for row in response.context["labelers"]}
    mine = rows["labeler"]
    assert (mine.assigned, mine.done, mine.skipped, mine.reserved, mine.flagged) == (5, 4, 1, 0, 1)
    assert mine.median_seconds == pytest.approx(105)
    theirs = rows["other_labeler"]
    assert (theirs.assigned, theirs.done, theirs.reserved) == (3, 2, 1)
    assert theirs.median_seconds == pytest.approx(40)
    html = response.content.decode()
    assert "1 min 45 s" in html
    assert "Not English" in html  # the flag reason
    assert [a.flag_reason for a in response.context["flagged"]] == ["Not English"]


@pytest.mark.postgres
def test_dashboard_median_on_postgres(busy_session, labeler):
    rows = {row.user.username: row for row in labeler_figures(busy_session)}
    assert rows["labeler"].median_seconds == pytest.approx(105)


def test_dashboard_lists_unassigned_workers_and_idle_labelers(
    curator_client, busy_session, labeler, other_labeler, experiment
):
    idle = make_user("idle", labeler=True)
    busy_session.labelers.set([other_labeler, idle])
    response = curator_client.get(reverse("console:session_detail", args=[busy_session.pk]))
    rows = {row.user.username: row for row in response.context["labelers"]}
    assert set(rows) == {"labeler", "other_labeler", "idle"}
    assert not rows["labeler"].is_assigned
    assert (rows["idle"].done, rows["idle"].median_seconds, rows["idle"].last_active) == (
        0, None, None,
    )  # fmt: skip


def test_dashboard_query_count_is_fixed(
    curator_client, busy_session, labeler, experiment, django_assert_num_queries
):
    url = reverse("console:session_detail", args=[busy_session.pk])
    # user, session, items page (count, rows, traces, assignments), flagged, state
    # counts, labeler figures (kept counts, open and flagged assignments, users), questions
    with django_assert_num_queries(12):
        curator_client.get(url)
    more = [make_user(f"extra{i}", labeler=True) for i in range(3)]
    busy_session.labelers.add(*more)
    for index, trace in enumerate([make_trace(experiment) for _ in range(6)]):
        item = busy_session.items.create(trace=trace, position=100 + index)
        make_assignment(item, more[index % 3], seconds=20 + index)
    with django_assert_num_queries(12):
        response = curator_client.get(url)
    assert len(response.context["labelers"]) == 5
    # The refreshing partial needs fewer (no questions list).
    with django_assert_num_queries(11):
        partial = curator_client.get(url, headers={"HX-Request": "true"})
    assert b'id="dashboard-live"' in partial.content
    assert b"<html" not in partial.content


def test_dashboard_polls_while_open(curator_client, busy_session):
    html = curator_client.get(
        reverse("console:session_detail", args=[busy_session.pk])
    ).content.decode()
    # static/js/console.js sends "poll-due" every 5 s while the page is visible (no hx-trigger
    # filter: those need eval, which the Content-Security-Policy forbids).
    assert 'hx-trigger="poll-due" data-poll-seconds="5"' in html


def test_dashboard_item_list_filters_by_state(curator_client, busy_session):
    url = reverse("console:session_detail", args=[busy_session.pk])
    response = curator_client.get(url, {"state": "pending"})
    assert [item.state for item in response.context["items"]] == ["pending", "pending"]
    response = curator_client.get(url, {"state": "nonsense"})
    assert len(response.context["items"]) == 10


def test_dashboard_of_empty_session(curator_client, experiment):
    session = make_session(experiment)
    response = curator_client.get(reverse("console:session_detail", args=[session.pk]))
    assert b"No traces in this session yet." in response.content
    assert b"No labelers assigned." in response.content


def test_last_active_is_shown(curator_client, busy_session, labeler):
    busy_session.items.first().assignments.update(
        last_active_at=timezone.now() - timedelta(hours=3)
    )
    response = curator_client.get(reverse("console:session_detail", args=[busy_session.pk]))
    rows = {row.user.username: row for row in response.context["labelers"]}
    assert rows["labeler"].last_active > timezone.now() - timedelta(minutes=5)


# --- removing items ------------------------------------------------------------------------------


def test_remove_item_from_the_dashboard(curator_client, busy_session):
    pending = busy_session.items.filter(state="pending").first()
    url = reverse("console:item_remove", args=[busy_session.pk, pending.pk])
    response = curator_client.post(url, {"back": "?state=pending"})
    assert response["Location"] == (
        reverse("console:session_detail", args=[busy_session.pk]) + "?state=pending"
    )
    assert not busy_session.items.filter(pk=pending.pk).exists()


def test_remove_labeled_item_is_refused_with_a_message(curator_client, busy_session):
    done = busy_session.items.filter(state="complete").first()
    url = reverse("console:item_remove", args=[busy_session.pk, done.pk])
    response = curator_client.post(url, follow=True)
    assert "This item has been labeled, so it stays" in response.content.decode()
    assert busy_session.items.filter(pk=done.pk).exists()


def test_remove_button_only_on_removable_items(curator_client, busy_session):
    response = curator_client.get(reverse("console:session_detail", args=[busy_session.pk]))
    removable = {item.position for item in response.context["items"] if item.removable}
    # pending (9, 10), skipped (5); not the done ones nor the reserved one (8)
    assert removable == {5, 9, 10}


@pytest.mark.parametrize(
    ("back", "query"),
    [
        ("https://evil.example/", ""),
        ("?state=x\r\nSet-Cookie: a=b", "?state=x%0D%0ASet-Cookie%3A+a%3Db"),
    ],
)
def test_remove_redirect_stays_on_the_dashboard(curator_client, busy_session, back, query):
    pending = busy_session.items.filter(state="pending").first()
    url = reverse("console:item_remove", args=[busy_session.pk, pending.pk])
    response = curator_client.post(url, {"back": back})
    assert response.status_code == 302
    dashboard = reverse("console:session_detail", args=[busy_session.pk])
    assert response["Location"] == dashboard + query


def test_reviewers_are_chosen_in_the_session_form(
    curator_client, experiment, schemas, labeler, outsider, curator
):
    session = make_session(experiment, schemas=schemas, labelers=[labeler], name="Reviewed")
    url = reverse("console:session_edit", args=[session.pk])
    page = curator_client.get(url).content.decode()
    assert 'name="reviewers"' in page
    assert f'value="{curator.pk}"' not in page.split('id="section-reviewers"')[1]  # staff lead
    data = form_data(schemas, [labeler], name="Reviewed", reviewers=[str(outsider.pk)])
    assert curator_client.post(url, data).status_code == 302
    assert list(session.reviewers.all()) == [outsider]
    assert curator_client.get(url).context["form"].initial["reviewers"] == [outsider.pk]
    # Unticking every box removes them.
    assert (
        curator_client.post(url, form_data(schemas, [labeler], name="Reviewed")).status_code == 302
    )
    assert not session.reviewers.exists()
