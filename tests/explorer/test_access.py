"""Who sees what in the trace explorer: the permission matrix of every explorer URL.

Cast (see `world`): a curator; `assigned`, a labeler of the active session that holds the trace;
`reviewer`, a reviewer of that session; `elsewhere`, a labeler of another active session of the
same experiment; `draft` and `closed`, labelers of a draft and a closed session holding the
trace; `outsider`, signed in and assigned to nothing; and anonymous visitors.
"""

from dataclasses import dataclass

import pytest
from django.urls import reverse

from explorer import access
from labeling.models import LabelingSession
from tests.conftest import make_user
from tests.factories import human, make_chat_trace, make_experiment, make_feedback, make_session
from traces.models import Assessment, Experiment, Trace

pytestmark = pytest.mark.django_db

ROOT = "a0000000000000a1"
HTMX = {"HX-Request": "true"}

SEES_TRACE = {"curator", "assigned", "reviewer"}
SEES_EXPERIMENT = SEES_TRACE | {"elsewhere"}
ROLES = ["curator", "assigned", "reviewer", "elsewhere", "draft", "closed", "outsider"]


@dataclass
class World:
    experiment: Experiment
    trace: Trace
    other_trace: Trace
    users: dict
    session: LabelingSession
    labels: dict  # role -> a label on `trace` made by that user (HUMAN, their login)


@pytest.fixture
def world() -> World:
    experiment = make_experiment("support-bot")
    trace = make_chat_trace(experiment)
    other_trace = make_chat_trace(experiment)
    users = {role: make_user(role, staff=role == "curator", labeler=True) for role in ROLES}
    session = make_session(
        experiment, traces=[trace], labelers=[users["assigned"]], status="active"
    )
    session.reviewers.add(users["reviewer"])
    make_session(experiment, traces=[other_trace], labelers=[users["elsewhere"]], status="active")
    make_session(experiment, traces=[trace], labelers=[users["draft"]], status="draft")
    make_session(experiment, traces=[trace], labelers=[users["closed"]], status="closed")
    labels = {
        role: make_feedback(trace, name=f"note_{role}", value="x", source=human(user))
        for role, user in users.items()
    }
    return World(experiment, trace, other_trace, users, session, labels)


def signed_in(client, world: World, role: str):
    client.force_login(world.users[role])
    return client


def label_url(view: str, label: Assessment) -> str:
    return reverse(f"explorer:label_{view}", args=[label.trace.trace_id, label.assessment_id])


# --- experiments and trace lists -----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_experiments_page_lists_what_the_user_may_see(client, world, role):
    response = signed_in(client, world, role).get(reverse("explorer:experiments"))
    assert response.status_code == 200
    names = [e.name for e in response.context["experiments"]]
    assert names == (["support-bot"] if role in SEES_EXPERIMENT else [])
    if role not in SEES_EXPERIMENT:
        assert "assigned to" in response.content.decode()  # the empty state says why


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_trace_list_and_count(client, world, role, headers):
    client = signed_in(client, world, role)
    list_url = reverse("explorer:trace_list", args=[world.experiment.pk])
    count_url = reverse("explorer:trace_count", args=[world.experiment.pk])
    response = client.get(list_url, headers=headers)
    count = client.get(count_url, headers=headers)
    if role not in SEES_EXPERIMENT:
        assert (response.status_code, count.status_code) == (404, 404)
        return
    assert (response.status_code, count.status_code) == (200, 200)
    shown = {row.trace_id for row in response.context["rows"]}
    if role == "curator":
        assert shown == {world.trace.trace_id, world.other_trace.trace_id}
        assert count.context["count"] == 2
    elif role == "elsewhere":
        assert shown == {world.other_trace.trace_id}
        assert count.context["count"] == 1
    else:
        assert shown == {world.trace.trace_id}
        assert count.context["count"] == 1


def test_unknown_experiment_is_404_for_everyone(client, world):
    for role in ROLES:
        url = reverse("explorer:trace_list", args=[999_999])
        assert signed_in(client, world, role).get(url).status_code == 404


# --- the trace and its labels --------------------------------------------------------------------

# (name, method, url builder, data, headers, status when visible)
TRACE_REQUESTS = [
    (
        "trace page",
        "get",
        lambda w, own: reverse("explorer:trace", args=[w.trace.trace_id]),
        None,
        {},
        200,
    ),
    (
        "span panel (htmx)",
        "get",
        lambda w, own: (
            reverse("explorer:trace", args=[w.trace.trace_id]) + "?span=a0000000000000a2"
        ),
        None,
        HTMX,
        200,
    ),
    (
        "create (htmx)",
        "post",
        lambda w, own: reverse("explorer:label_create", args=[w.trace.trace_id]),
        {"span": ROOT, "kind": "feedback", "name": "quality", "data_type": "string", "value": "ok"},
        HTMX,
        200,
    ),
    (
        "create (plain)",
        "post",
        lambda w, own: reverse("explorer:label_create", args=[w.trace.trace_id]),
        {"span": ROOT, "kind": "feedback", "name": "quality", "data_type": "string", "value": "ok"},
        {},
        302,
    ),
    ("edit form", "get", lambda w, own: label_url("edit", own), None, {}, 200),
    ("edit form (htmx)", "get", lambda w, own: label_url("edit", own), None, HTMX, 200),
    (
        "edit (htmx)",
        "post",
        lambda w, own: label_url("edit", own),
        {"data_type": "string", "value": "changed"},
        HTMX,
        200,
    ),
    (
        "edit (plain)",
        "post",
        lambda w, own: label_url("edit", own),
        {"data_type": "string", "value": "changed"},
        {},
        302,
    ),
    ("delete form", "get", lambda w, own: label_url("delete", own), None, {}, 200),
    ("delete form (htmx)", "get", lambda w, own: label_url("delete", own), None, HTMX, 200),
    ("delete (htmx)", "post", lambda w, own: label_url("delete", own), {}, HTMX, 200),
    ("delete (plain)", "post", lambda w, own: label_url("delete", own), {}, {}, 302),
    ("history", "get", lambda w, own: label_url("history", own), None, {}, 200),
    ("history (htmx)", "get", lambda w, own: label_url("history", own), None, HTMX, 200),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "build", "data", "headers", "ok"),
    [request[1:] for request in TRACE_REQUESTS],
    ids=[request[0] for request in TRACE_REQUESTS],
)
def test_trace_urls(client, world, role, method, build, data, headers, ok):
    """Each user acts on a label they made themselves, so a refusal is about the trace."""
    client = signed_in(client, world, role)
    own = world.labels[role]
    before = list(Assessment.objects.order_by("pk").values_list("pk", "valid"))
    response = getattr(client, method)(build(world, own), data, headers=headers)
    if role in SEES_TRACE:
        assert response.status_code == ok
    else:
        assert response.status_code == 404
        assert list(Assessment.objects.order_by("pk").values_list("pk", "valid")) == before


@pytest.mark.parametrize(
    ("method", "build", "data", "headers"),
    [request[1:5] for request in TRACE_REQUESTS],
    ids=[request[0] for request in TRACE_REQUESTS],
)
def test_trace_urls_send_anonymous_visitors_to_login(client, world, method, build, data, headers):
    response = getattr(client, method)(
        build(world, world.labels["assigned"]), data, headers=headers
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_ids_are_404_for_a_labeler_who_sees_the_trace(client, world):
    client = signed_in(client, world, "assigned")
    trace_id = world.trace.trace_id
    assert client.get(reverse("explorer:trace", args=["tr-nope"])).status_code == 404
    for view in ("edit", "delete", "history"):
        url = reverse(f"explorer:label_{view}", args=[trace_id, "a-nope"])
        assert client.get(url).status_code == 404
    # A label of another trace, asked for through this one.
    elsewhere = make_feedback(world.other_trace, source=human(world.users["assigned"]))
    url = reverse("explorer:label_history", args=[trace_id, elsewhere.assessment_id])
    assert client.get(url).status_code == 404


def test_a_labeler_still_changes_only_their_own_labels(client, world):
    client = signed_in(client, world, "assigned")
    theirs = world.labels["reviewer"]
    assert client.get(label_url("edit", theirs)).status_code == 403
    assert client.post(label_url("delete", theirs)).status_code == 403
    assert client.get(label_url("history", theirs)).status_code == 200  # reading is fine
    assert Assessment.objects.get(pk=theirs.pk).valid


def test_closing_the_session_closes_the_trace(client, world):
    client = signed_in(client, world, "assigned")
    url = reverse("explorer:trace", args=[world.trace.trace_id])
    assert client.get(url).status_code == 200
    LabelingSession.objects.filter(pk=world.session.pk).update(status="closed")
    assert client.get(url).status_code == 404
    LabelingSession.objects.filter(pk=world.session.pk).update(status="active")
    world.session.labelers.remove(world.users["assigned"])
    assert client.get(url).status_code == 404


def test_label_names_come_only_from_traces_the_labeler_may_see(client, world):
    make_feedback(world.other_trace, name="secret_metric", value=1)
    make_feedback(world.trace, name="visible_metric", value=1)
    client = signed_in(client, world, "assigned")
    page = client.get(reverse("explorer:trace", args=[world.trace.trace_id]))
    assert "visible_metric" in page.context["label_names"]
    assert "secret_metric" not in page.context["label_names"]
    listing = client.get(reverse("explorer:trace_list", args=[world.experiment.pk]))
    columns = [c.name for c in listing.context["columns"]]
    assert "visible_metric" in columns and "secret_metric" not in columns
    assert "secret_metric" not in listing.content.decode()
    # Curators see every name.
    curator = signed_in(client, world, "curator")
    listing = curator.get(reverse("explorer:trace_list", args=[world.experiment.pk]))
    assert "secret_metric" in [c.name for c in listing.context["columns"]]


def test_experiments_page_counts_only_what_a_labeler_sees(client, world):
    make_feedback(world.other_trace, name="judge", value=True)  # labels `other_trace` only
    assigned = signed_in(client, world, "assigned").get(reverse("explorer:experiments"))
    (row,) = assigned.context["experiments"]
    assert (row.trace_count, row.labeled_count) == (1, 1)  # `trace` has the users' notes
    elsewhere = signed_in(client, world, "elsewhere").get(reverse("explorer:experiments"))
    (row,) = elsewhere.context["experiments"]
    assert (row.trace_count, row.labeled_count) == (1, 1)
    curator = signed_in(client, world, "curator").get(reverse("explorer:experiments"))
    (row,) = curator.context["experiments"]
    assert (row.trace_count, row.labeled_count) == (2, 2)


def test_a_trace_in_two_sessions_is_visible_while_either_is_active(client, world):
    other_user = world.users["elsewhere"]
    make_session(world.experiment, traces=[world.trace], labelers=[other_user], status="active")
    response = signed_in(client, world, "elsewhere").get(
        reverse("explorer:trace_list", args=[world.experiment.pk])
    )
    assert {row.trace_id for row in response.context["rows"]} == {
        world.trace.trace_id,
        world.other_trace.trace_id,
    }


def test_deleted_experiments_stay_hidden_from_everyone(client, world):
    Experiment.objects.filter(pk=world.experiment.pk).update(lifecycle_stage="deleted")
    for role in ("curator", "assigned"):
        client = signed_in(client, world, role)
        assert client.get(reverse("explorer:trace", args=[world.trace.trace_id])).status_code == 404
        url = reverse("explorer:trace_list", args=[world.experiment.pk])
        assert client.get(url).status_code == 404


def test_access_helpers_for_anonymous_users(world):
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    assert not access.visible_experiments(anonymous).exists()
    assert not access.visible_traces(anonymous).exists()
    assert not access.visible_labels(anonymous).exists()
    assert not access.can_change_assessment(anonymous, world.labels["assigned"])


def test_visible_querysets_match_the_matrix(world):
    for role, user in world.users.items():
        traces = set(access.visible_traces(user).values_list("trace_id", flat=True))
        expected = set()
        if role in SEES_TRACE:
            expected.add(world.trace.trace_id)
        if role in {"curator", "elsewhere"}:
            expected.add(world.other_trace.trace_id)
        assert traces == expected, role
        labels = set(access.visible_labels(user).values_list("pk", flat=True))
        assert labels == ({a.pk for a in world.labels.values()} if role in SEES_TRACE else set())


@pytest.mark.parametrize("role", ["curator", "assigned", "reviewer"])
def test_query_counts_are_the_same_for_every_role(client, world, role, django_assert_num_queries):
    """The narrowing for labelers lives inside the queries a curator runs too: no extra ones.
    Trace page: user, trace, labels, span tree, selected span, label names. List:
    user, experiment, label columns, page keys, page rows, page labels."""
    client = signed_in(client, world, role)
    trace_url = reverse("explorer:trace", args=[world.trace.trace_id])
    with django_assert_num_queries(6):
        client.get(trace_url)
    with django_assert_num_queries(6):
        client.get(trace_url + "?span=a0000000000000a2", headers=HTMX)
    with django_assert_num_queries(6):
        client.get(reverse("explorer:trace_list", args=[world.experiment.pk]))
    with django_assert_num_queries(4):
        client.get(reverse("explorer:trace_count", args=[world.experiment.pk]))
    with django_assert_num_queries(2):
        client.get(reverse("explorer:experiments"))
    # history: user, trace, label, its chain
    with django_assert_num_queries(4):
        client.get(label_url("history", world.labels[role]))
