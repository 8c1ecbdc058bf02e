"""MLflow's label-schema and review-queue endpoints (`labeling.api.schemas`, `queues`) request
by request: what they write, every bad input (exact status and error code, nothing written),
who may call them, and the fixed query count of each list. The SDK drives them in
test_mlflow_labeling_sdk.py."""

from __future__ import annotations

import pytest

from labeling.models import Assignment, AssignmentState, Item, LabelingSchema, LabelingSession
from tests.factories import (
    Api,
    make_answer,
    make_api_token,
    make_assignment,
    make_experiment,
    make_review_session,
    make_schema,
    make_trace,
)


def mlflow(path):
    return f"/api/3.0/mlflow/{path}"


def error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error_code"] == code, body
    assert body["message"]
    return body["message"]


@pytest.fixture
def experiment(db):
    return make_experiment("support bot")


PASS_FAIL = {"pass_fail": {"positive_label": "Yes", "negative_label": "No"}}


def create_schema(api, experiment, name="correct", **fields):
    body = {
        "experiment_id": str(experiment.pk),
        "name": name,
        "type": "FEEDBACK",
        "input": PASS_FAIL,
        **fields,
    }
    return api.post(mlflow("label-schemas/create"), body)


def warm_up(api):
    """A first request: the token's last-used time is written once a minute, not per request,
    so the pinned counts below are of the requests after it."""
    api.get(mlflow("review-queues/list"))


# --- who may call ---------------------------------------------------------------------------------

ENDPOINTS = [
    ("post", "label-schemas/create"),
    ("get", "label-schemas/list"),
    ("patch", "label-schemas/update"),
    ("delete", "label-schemas/delete"),
    ("post", "review-queues/create"),
    ("get", "review-queues/list"),
    ("get", "review-queues/items/list"),
    ("post", "review-queues/items/set-status"),
    ("post", "review-queues/sync-dataset"),
    ("post", "datasets/create"),
    ("post", "datasets/search"),
    ("get", "datasets/d-1/records"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_token_is_401(client, db, method, path):
    error(getattr(client, method)(mlflow(path)), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_labelers_token_is_403(client, labeler, method, path):
    api = Api(client, make_api_token(labeler))
    response = api.get(mlflow(path)) if method == "get" else api.send(method, mlflow(path), {})
    assert "only curators" in error(response, 403, "PERMISSION_DENIED")


# --- label schemas --------------------------------------------------------------------------------


def test_create_and_read_a_schema_of_each_input(api, experiment, curator):
    inputs = {
        "correct": PASS_FAIL,
        "tone": {"categorical": {"options": ["formal", "casual"]}},
        "topics": {"categorical": {"options": ["db", "web"], "multi_select": True}},
        "tags": {"categorical_list": {"options": ["x", "y"]}},
        "score": {"numeric": {"min_value": 1.0, "max_value": 5.0}},
        "answer": {"text": {"max_length": 200}},
        "facts": {"text_list": {"max_length_each": 80, "max_count": 3}},
    }
    for name, value in inputs.items():
        response = create_schema(api, experiment, name, input=value, enable_comment=True)
        assert response.status_code == 200, response.content
    rows = {schema.name: schema for schema in LabelingSchema.objects.filter(experiment=experiment)}
    assert {name: row.input_type for name, row in rows.items()} == {
        "correct": "pass_fail",
        "tone": "categorical",
        "topics": "categorical",
        "tags": "categorical_list",
        "score": "numeric",
        "answer": "text",
        "facts": "text_list",
    }
    assert rows["topics"].input_config["multi"] is True
    assert rows["score"].input_config["min_value"] == 1
    assert rows["correct"].title == "correct" and rows["correct"].enable_comment
    assert rows["correct"].created_by == curator
    # Reading back: MLflow's four variants, plus the exact one for a list kind.
    got = api.get(mlflow("label-schemas/get"), {"schema_id": rows["facts"].pk}).json()
    assert got["label_schema"]["input"] == {
        "text": {"max_length": 80},
        "text_list": {"max_length_each": 80, "max_count": 3},
    }
    assert got["label_schema"]["type"] == "FEEDBACK"
    assert got["label_schema"]["created_by"] == "curator"
    tags = api.get(mlflow("label-schemas/get"), {"schema_id": rows["tags"].pk}).json()
    assert tags["label_schema"]["input"] == {
        "categorical": {"options": ["x", "y"], "multi_select": True},
        "categorical_list": {"options": ["x", "y"]},
    }
    # A read-back input is accepted as it is (the exact variant wins).
    again = create_schema(api, experiment, "facts 2", input=got["label_schema"]["input"])
    assert again.json()["label_schema"]["input"]["text_list"]["max_count"] == 3


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"experiment_id": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": "999999"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"experiment_id": "not a number"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"name": 12}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": ""}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": "x" * 300}, 400, "INVALID_PARAMETER_VALUE"),
        ({"type": "RATING"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"type": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"type": True}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {}}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": "pass_fail"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {**PASS_FAIL, "text": {}}}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {"slider": {}}}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {"categorical": {"options": "a,b"}}}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {"categorical": {"options": []}}}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {"categorical": {"options": ["a", "A"]}}}, 400, "INVALID_PARAMETER_VALUE"),
        (
            {"input": {"categorical": {"options": ["a"], "multi_select": "yes"}}},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ({"input": {"numeric": {"min_value": 5, "max_value": 1}}}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {"numeric": {"min_value": "low"}}}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {"text": {"max_length": -3}}}, 400, "INVALID_PARAMETER_VALUE"),
        ({"input": {"text": {"max_chars": 3}}}, 400, "INVALID_PARAMETER_VALUE"),
        (
            {"input": {"pass_fail": {"positive_label": "Ok", "negative_label": "ok"}}},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ({"enable_comment": "yes"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"instruction": ["a"]}, 400, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_bad_schema_input_is_a_4xx_and_writes_nothing(api, experiment, fields, status, code):
    error(create_schema(api, experiment, **fields), status, code)
    assert not LabelingSchema.objects.exists()


def test_names_are_unique_per_experiment(api, experiment):
    assert create_schema(api, experiment).status_code == 200
    error(create_schema(api, experiment), 400, "RESOURCE_ALREADY_EXISTS")
    assert create_schema(api, make_experiment("other")).status_code == 200
    assert LabelingSchema.objects.count() == 2


def test_get_by_name_and_unknown_ids(api, experiment):
    schema = make_schema(experiment, "correct")
    found = api.get(
        mlflow("label-schemas/get-by-name"), {"experiment_id": experiment.pk, "name": "correct"}
    )
    assert found.json()["label_schema"]["schema_id"] == str(schema.pk)
    error(
        api.get(
            mlflow("label-schemas/get-by-name"), {"experiment_id": experiment.pk, "name": "nope"}
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        api.get(mlflow("label-schemas/get"), {"schema_id": "9999"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(api.get(mlflow("label-schemas/get"), {}), 400, "INVALID_PARAMETER_VALUE")


def test_list_pages_at_a_fixed_query_count(api, experiment, django_assert_num_queries):
    for number in range(7):
        make_schema(experiment, f"q{number}")
    params = {"experiment_id": experiment.pk, "max_results": 3}
    names = []
    token = None
    warm_up(api)
    for _ in range(3):
        # token, experiment, schemas (with their creators)
        with django_assert_num_queries(3):
            page = api.get(mlflow("label-schemas/list"), {**params, "page_token": token or ""})
        body = page.json()
        names += [schema["name"] for schema in body["label_schemas"]]
        token = body.get("next_page_token")
    assert names == [f"q{number}" for number in range(7)]
    assert token is None
    for bad in ({"max_results": 0}, {"max_results": 5000}, {"max_results": "many"}):
        error(
            api.get(mlflow("label-schemas/list"), {**params, **bad}), 400, "INVALID_PARAMETER_VALUE"
        )
    error(
        api.get(mlflow("label-schemas/list"), {**params, "page_token": "garbage"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_an_answered_schema_keeps_its_kind_and_an_edit_makes_a_version(api, labeler):
    session = make_review_session(labelers=[labeler])
    schema = session.schemas.get()
    make_answer(make_assignment(session.items.first(), labeler), schema, True)
    update = mlflow("label-schemas/update")
    message = error(
        api.patch(update, {"schema_id": str(schema.pk), "input": {"text": {}}}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "input kind cannot change" in message
    error(
        api.patch(update, {"schema_id": str(schema.pk), "type": "EXPECTATION"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    schema.refresh_from_db()
    assert (schema.input_type, schema.version) == ("pass_fail", 1)
    changed = api.patch(update, {"schema_id": str(schema.pk), "instruction": "Be strict."})
    assert changed.json()["label_schema"]["version"] == 2
    assert changed.json()["label_schema"]["instruction"] == "Be strict."
    error(api.patch(update, {"schema_id": "424242"}), 404, "RESOURCE_DOES_NOT_EXIST")
    # Deleting it is refused too (it has answers); it stays.
    message = error(
        api.delete(mlflow("label-schemas/delete"), {"schema_id": str(schema.pk)}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "has answers" in message
    assert LabelingSchema.objects.filter(pk=schema.pk).exists()


def test_rename_to_a_taken_name(api, experiment):
    make_schema(experiment, "a")
    b = make_schema(experiment, "b")
    error(
        api.patch(mlflow("label-schemas/update"), {"schema_id": str(b.pk), "name": "a"}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )


def test_a_10_mb_body_is_413(api, experiment):
    body = {"experiment_id": str(experiment.pk), "name": "x", "instruction": "x" * (11 * 1024**2)}
    error(api.post(mlflow("label-schemas/create"), body), 413, "REQUEST_LIMIT_EXCEEDED")
    error(api.post(mlflow("review-queues/create"), body), 413, "REQUEST_LIMIT_EXCEEDED")
    assert not LabelingSchema.objects.exists() and not LabelingSession.objects.exists()


def test_wrong_method_and_bad_json(api):
    error(api.get(mlflow("label-schemas/create")), 405, "BAD_REQUEST")
    error(api.post(mlflow("label-schemas/create"), "{nope"), 400, "INVALID_PARAMETER_VALUE")


# --- review queues --------------------------------------------------------------------------------


@pytest.fixture
def schema(experiment):
    return make_schema(experiment, "correct")


def create_queue(api, experiment, name="march", **fields):
    body = {"experiment_id": str(experiment.pk), "name": name, "queue_type": "CUSTOM", **fields}
    return api.post(mlflow("review-queues/create"), body)


def test_create_a_queue_and_its_items(api, experiment, schema, labeler, other_labeler):
    response = create_queue(
        api, experiment, users=["Labeler", "other_labeler"], schema_ids=[str(schema.pk)]
    )
    assert response.status_code == 200, response.content
    queue = response.json()["review_queue"]
    session = LabelingSession.objects.get(pk=int(queue["queue_id"]))
    assert (session.status, session.queue_type, session.labels_per_item) == ("active", "custom", 1)
    assert queue["users"] == ["labeler", "other_labeler"]
    assert queue["schema_ids"] == [str(schema.pk)]
    assert queue["labels_per_item"] == 1 and queue["blind"] is False
    traces = [make_trace(experiment) for _ in range(3)]
    added = api.post(
        mlflow("review-queues/items/add"),
        {"queue_id": queue["queue_id"], "item_ids": [t.trace_id for t in traces]},
    )
    assert [item["item_id"] for item in added.json()["items"]] == [t.trace_id for t in traces]
    assert {item["status"] for item in added.json()["items"]} == {"PENDING"}
    # Adding again is idempotent.
    again = api.post(
        mlflow("review-queues/items/add"),
        {"queue_id": queue["queue_id"], "item_ids": [traces[0].trace_id]},
    )
    assert again.status_code == 200 and session.items.count() == 3


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"users": ["nobody"]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"users": ["labeler", "nobody"]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"users": "labeler"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"users": [""]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"schema_ids": ["999999"]}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"schema_ids": [7]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"queue_type": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"queue_type": "TEAM"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": "Default"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": ""}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": ["a"]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": "999999"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"queue_type": "USER", "name": "nobody"}, 400, "INVALID_PARAMETER_VALUE"),
        (
            {"queue_type": "USER", "name": "labeler", "users": ["other_labeler"]},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            {"queue_type": "USER", "name": "labeler", "schema_ids": ["1"]},
            400,
            "INVALID_PARAMETER_VALUE",
        ),
    ],
)
def test_bad_queue_input_is_a_4xx_and_writes_nothing(
    api, experiment, labeler, other_labeler, fields, status, code
):
    error(create_queue(api, experiment, **fields), status, code)
    assert not LabelingSession.objects.exists()


def test_another_experiments_schema_is_refused(api, experiment, labeler):
    foreign = make_schema(make_experiment("elsewhere"), "correct")
    message = error(
        create_queue(api, experiment, schema_ids=[str(foreign.pk)]), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "another experiment" in message
    assert not LabelingSession.objects.exists()
    queue = create_queue(api, experiment).json()["review_queue"]
    body = {
        "queue_id": queue["queue_id"],
        "update_schema_ids": True,
        "schema_ids": [str(foreign.pk)],
    }
    error(api.post(mlflow("review-queues/update"), body), 400, "INVALID_PARAMETER_VALUE")
    assert not LabelingSession.objects.get().schemas.exists()


def test_names_of_queues_are_unique_per_experiment(api, experiment):
    assert create_queue(api, experiment).status_code == 200
    error(create_queue(api, experiment), 400, "RESOURCE_ALREADY_EXISTS")
    other = create_queue(api, experiment, name="april").json()["review_queue"]
    error(
        api.post(mlflow("review-queues/update"), {"queue_id": other["queue_id"], "name": "march"}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    assert LabelingSession.objects.count() == 2


def test_user_queues(api, experiment, schema, labeler):
    made = api.post(
        mlflow("review-queues/get-or-create-user"),
        {"experiment_id": str(experiment.pk), "user": "LABELER"},
    ).json()["review_queue"]
    assert (made["name"], made["queue_type"], made["users"]) == ("labeler", "USER", ["labeler"])
    assert made["schema_ids"] == [str(schema.pk)]  # all of the experiment's schemas
    again = api.post(
        mlflow("review-queues/get-or-create-user"),
        {"experiment_id": str(experiment.pk), "user": "labeler"},
    ).json()["review_queue"]
    assert again["queue_id"] == made["queue_id"]
    assert LabelingSession.objects.count() == 1
    error(
        api.post(
            mlflow("review-queues/get-or-create-user"),
            {"experiment_id": str(experiment.pk), "user": "ghost"},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    error(
        api.post(mlflow("review-queues/update"), {"queue_id": made["queue_id"], "name": "x"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_adding_unknown_or_foreign_traces_adds_nothing(api, experiment):
    queue = create_queue(api, experiment).json()["review_queue"]
    mine = make_trace(experiment)
    foreign = make_trace(make_experiment("elsewhere"))
    add = mlflow("review-queues/items/add")
    for ids in ([mine.trace_id, foreign.trace_id], [mine.trace_id, "tr-unknown"]):
        error(
            api.post(add, {"queue_id": queue["queue_id"], "item_ids": ids}),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        )
    for bad in (
        {"item_ids": []},
        {"item_ids": "tr-1"},
        {"item_ids": [1]},
        {"item_type": "SPAN", "item_ids": [mine.trace_id]},
    ):
        error(api.post(add, {"queue_id": queue["queue_id"], **bad}), 400, "INVALID_PARAMETER_VALUE")
    error(
        api.post(add, {"queue_id": "99999", "item_ids": [mine.trace_id]}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert not Item.objects.exists()


@pytest.fixture
def worked(api, labeler, other_labeler):
    """A queue (made in the console) of 4 items: 0 submitted by labeler (with an answer),
    1 skipped by other_labeler, 2 reserved by labeler, 3 untouched."""
    session = make_review_session(items=4, labelers=[labeler, other_labeler])
    items = list(session.items.order_by("position"))
    done = make_assignment(items[0], labeler)
    make_answer(done, session.schemas.get(), True)
    make_assignment(items[1], other_labeler, state=AssignmentState.SKIPPED)
    make_assignment(items[2], labeler, state=AssignmentState.CLAIMED)
    from labeling.services import refresh_item_states

    refresh_item_states(session=session)
    return session, items


def test_list_items_reads_the_review_apps_states(api, worked, django_assert_num_queries):
    session, items = worked
    path = mlflow("review-queues/items/list")
    warm_up(api)
    with django_assert_num_queries(4):  # token, session, items, their submissions and skips
        listed = api.get(path, {"queue_id": session.pk}).json()["items"]
    by_trace = {item["item_id"]: item for item in listed}
    first, second, third, fourth = (by_trace[item.trace.trace_id] for item in items)
    assert (first["status"], first["completed_by"]) == ("COMPLETE", "labeler")
    assert first["completed_time_ms"] == first["last_update_time_ms"]
    assert (second["status"], second["completed_by"]) == ("DECLINED", "other_labeler")
    assert (third["status"], third["state"], "completed_by" in third) == (
        "PENDING",
        "in_progress",
        False,
    )
    assert fourth["status"] == "PENDING"
    # Newest first, as MLflow lists them; the status filter; paging.
    assert [item["item_id"] for item in listed] == [i.trace.trace_id for i in reversed(items)]
    for status, expected in (
        ("COMPLETE", [items[0]]),
        ("declined", [items[1]]),
        ("PENDING", [items[3], items[2]]),
    ):
        with django_assert_num_queries(4):
            got = api.get(path, {"queue_id": session.pk, "status": status}).json()["items"]
        assert [item["item_id"] for item in got] == [i.trace.trace_id for i in expected]
    page = api.get(path, {"queue_id": session.pk, "max_results": 3}).json()
    rest = api.get(path, {"queue_id": session.pk, "page_token": page["next_page_token"]}).json()
    assert len(page["items"]) == 3 and len(rest["items"]) == 1 and "next_page_token" not in rest
    error(api.get(path, {"queue_id": session.pk, "status": "DONE"}), 400, "INVALID_PARAMETER_VALUE")
    error(api.get(path, {"queue_id": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.get(path, {}), 400, "INVALID_PARAMETER_VALUE")


def test_list_items_at_a_fixed_query_count_whatever_the_size(
    api, labeler, django_assert_num_queries
):
    session = make_review_session(items=40, labelers=[labeler])
    for item in session.items.all()[:10]:
        make_assignment(item, labeler)
    warm_up(api)
    with django_assert_num_queries(4):
        listed = api.get(mlflow("review-queues/items/list"), {"queue_id": session.pk}).json()
    assert len(listed["items"]) == 40


def test_set_status_records_a_submission_or_a_skip(api, worked, labeler, other_labeler):
    session, items = worked
    path = mlflow("review-queues/items/set-status")
    untouched = items[3].trace.trace_id
    body = {"queue_id": str(session.pk), "item_id": untouched}
    done = api.post(path, {**body, "status": "COMPLETE", "completed_by": "other_labeler"})
    assert (done.json()["item"]["status"], done.json()["item"]["completed_by"]) == (
        "COMPLETE",
        "other_labeler",
    )
    assignment = Assignment.objects.get(item=items[3])
    assert (assignment.labeler, assignment.state) == (other_labeler, AssignmentState.SUBMITTED)
    reopened = api.post(path, {**body, "status": "PENDING"})
    assert reopened.json()["item"]["status"] == "PENDING"
    assert Assignment.objects.get(item=items[3]).state == AssignmentState.RELEASED
    declined = api.post(path, {**body, "status": "DECLINED"})  # by the token's user
    assert declined.json()["item"]["completed_by"] == "curator"
    # The labeled item: cannot be reopened, nor declined by its labeler; nothing changes.
    labeled = {"queue_id": str(session.pk), "item_id": items[0].trace.trace_id}
    assert "cannot be reopened" in error(
        api.post(path, {**labeled, "status": "PENDING"}), 400, "INVALID_PARAMETER_VALUE"
    )
    error(
        api.post(path, {**labeled, "status": "DECLINED", "completed_by": "labeler"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert Item.objects.get(pk=items[0].pk).state == "complete"
    for bad, status, code in (
        ({"status": "DONE"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"status": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"status": "COMPLETE", "completed_by": "ghost"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"status": "COMPLETE", "item_id": "tr-nope"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"status": "COMPLETE", "queue_id": "424242"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ):
        error(api.post(path, {**body, **bad}), status, code)
    assert not Assignment.objects.filter(item=items[3], state=AssignmentState.SUBMITTED).exists()


def test_remove_and_delete_keep_labels(api, worked):
    session, items = worked
    remove = mlflow("review-queues/items/remove")
    body = {"queue_id": str(session.pk)}
    error(
        api.post(remove, {**body, "item_ids": [items[0].trace.trace_id, items[3].trace.trace_id]}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert session.items.count() == 4
    assert (
        api.post(
            remove, {**body, "item_ids": [items[3].trace.trace_id, "tr-elsewhere"]}
        ).status_code
        == 200
    )
    assert session.items.count() == 3
    assert "has submitted labels" in error(
        api.post(mlflow("review-queues/delete"), body), 400, "INVALID_PARAMETER_VALUE"
    )
    assert LabelingSession.objects.filter(pk=session.pk).exists()
    assert api.post(mlflow("review-queues/delete"), {"queue_id": "424242"}).status_code == 200


def test_list_queues_at_a_fixed_query_count(
    api, experiment, labeler, other_labeler, django_assert_num_queries
):
    schema = make_schema(experiment, "correct")
    for number in range(6):
        make_review_session(
            experiment=experiment,
            items=1,
            schemas=[schema],
            labelers=[labeler, other_labeler],
            name=f"s{number}",
        )
    path = mlflow("review-queues/list")
    warm_up(api)
    # token, experiment, sessions (with creators), labelers, questions
    with django_assert_num_queries(5):
        page = api.get(path, {"experiment_id": experiment.pk, "max_results": 4}).json()
    with django_assert_num_queries(5):
        rest = api.get(
            path, {"experiment_id": experiment.pk, "page_token": page["next_page_token"]}
        ).json()
    names = [queue["name"] for queue in page["review_queues"] + rest["review_queues"]]
    assert names == [f"s{number}" for number in reversed(range(6))]
    assert page["review_queues"][0]["users"] == ["labeler", "other_labeler"]
    mine = api.get(path, {"experiment_id": experiment.pk, "user": "LABELER"}).json()
    assert len(mine["review_queues"]) == 6
    error(
        api.get(path, {"experiment_id": experiment.pk, "max_results": 0}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    error(api.get(path, {}), 400, "INVALID_PARAMETER_VALUE")


def test_console_settings_show_read_only_and_survive_api_updates(api, experiment, labeler):
    queue = create_queue(api, experiment, users=["labeler"]).json()["review_queue"]
    LabelingSession.objects.filter(pk=int(queue["queue_id"])).update(
        labels_per_item=3, reservation_minutes=45, blind=True
    )
    got = api.get(mlflow("review-queues/get"), {"queue_id": queue["queue_id"]}).json()
    shown = got["review_queue"]
    assert (shown["labels_per_item"], shown["reservation_minutes"], shown["blind"]) == (3, 45, True)
    renamed = api.post(
        mlflow("review-queues/update"),
        {"queue_id": queue["queue_id"], "name": "renamed", "update_users": True, "users": []},
    ).json()["review_queue"]
    assert (renamed["name"], renamed["users"]) == ("renamed", [])
    session = LabelingSession.objects.get(pk=int(queue["queue_id"]))
    assert (session.labels_per_item, session.reservation_minutes, session.blind) == (3, 45, True)
    # Fields the SDK may send are not a way to change them.
    api.post(mlflow("review-queues/update"), {"queue_id": queue["queue_id"], "labels_per_item": 1})
    session.refresh_from_db()
    assert session.labels_per_item == 3


def test_an_update_with_a_bad_field_changes_nothing(api, experiment, schema, labeler):
    queue = create_queue(api, experiment, users=["labeler"]).json()["review_queue"]
    body = {
        "queue_id": queue["queue_id"],
        "name": "renamed",
        "update_users": True,
        "users": ["labeler", "ghost"],
    }
    error(api.post(mlflow("review-queues/update"), body), 400, "INVALID_PARAMETER_VALUE")
    body = {"queue_id": queue["queue_id"], "name": "renamed", "new_owner": "ghost"}
    error(api.post(mlflow("review-queues/update"), body), 400, "INVALID_PARAMETER_VALUE")
    session = LabelingSession.objects.get(pk=int(queue["queue_id"]))
    assert session.name == "march"
    assert list(session.labelers.values_list("username", flat=True)) == ["labeler"]
