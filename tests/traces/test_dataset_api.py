"""MLflow's evaluation-dataset endpoints (`traces.dataset_api`, `traces.datasets`) request by
request: records keyed by inputs, tags, experiment links, search, every bad input with its
status and error code (and nothing written), and pinned query counts. The SDK drives them in
tests/labeling/test_mlflow_labeling_sdk.py."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_experiment
from traces.models import DatasetRecord, EvaluationDataset


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


def create(api, experiment, name="golden", **fields):
    body = {"name": name, "experiment_ids": [str(experiment.pk)], "tags": '{"team": "docs"}'}
    response = api.post(mlflow("datasets/create"), {**body, **fields})
    return response


def upsert(api, dataset_id, records):
    return api.post(mlflow(f"datasets/{dataset_id}/records"), {"records": json.dumps(records)})


def records(api, dataset_id, **params):
    response = api.get(mlflow(f"datasets/{dataset_id}/records"), params)
    assert response.status_code == 200, response.content
    body = response.json()
    return json.loads(body["records"]), body.get("next_page_token")


def test_create_upsert_and_read_records(api, experiment, curator):
    dataset = create(api, experiment).json()["dataset"]
    assert dataset["dataset_id"].startswith("d-")
    assert json.loads(dataset["tags"]) == {"team": "docs"}
    assert dataset["experiment_ids"] == [str(experiment.pk)]
    assert dataset["created_by"] == "curator"
    first = upsert(
        api,
        dataset["dataset_id"],
        [
            {"inputs": {"q": "a"}, "expectations": {"answer": "A"}},
            {"inputs": {"q": "b"}, "expectations": {"answer": "B"}, "tags": {"k": "v"}},
        ],
    )
    assert first.json() == {"inserted_count": 2, "updated_count": 0}
    second = upsert(
        api,
        dataset["dataset_id"],
        [
            {"inputs": {"q": "a"}, "expectations": {"facts": ["x"]}},
            {"inputs": {"q": "c"}, "outputs": "C!"},
        ],
    )
    assert second.json() == {"inserted_count": 1, "updated_count": 1}
    rows, token = records(api, dataset["dataset_id"])
    assert token is None
    assert [(r["inputs"], r["expectations"]) for r in rows] == [
        ({"q": "a"}, {"answer": "A", "facts": ["x"]}),
        ({"q": "b"}, {"answer": "B"}),
        ({"q": "c"}, None),
    ]
    assert rows[2]["outputs"] == "C!" and rows[1]["tags"] == {"k": "v"}
    assert all(r["dataset_record_id"].startswith("dr-") for r in rows)
    got = api.get(mlflow(f"datasets/{dataset['dataset_id']}")).json()["dataset"]
    assert json.loads(got["profile"]) == {"num_records": 3}
    assert json.loads(got["schema"])["expectations"] == {"answer": "string", "facts": "array"}


def test_records_page_at_a_fixed_query_count(api, experiment, django_assert_num_queries):
    dataset_id = create(api, experiment).json()["dataset"]["dataset_id"]
    upsert(api, dataset_id, [{"inputs": {"n": n}} for n in range(25)])
    seen, token = [], ""
    while True:
        with django_assert_num_queries(3):  # token, dataset exists, records
            rows, token = records(api, dataset_id, max_results=10, page_token=token or "")
        seen += [row["inputs"]["n"] for row in rows]
        if not token:
            break
    assert seen == list(range(25))
    for bad in ({"max_results": 0}, {"max_results": 1001}, {"page_token": "x"}):
        error(
            api.get(mlflow(f"datasets/{dataset_id}/records"), bad), 400, "INVALID_PARAMETER_VALUE"
        )
    error(api.get(mlflow("datasets/d-nope/records")), 404, "RESOURCE_DOES_NOT_EXIST")


def test_upsert_is_all_or_nothing(api, experiment):
    dataset_id = create(api, experiment).json()["dataset"]["dataset_id"]
    path = mlflow(f"datasets/{dataset_id}/records")
    for body in (
        {"records": json.dumps([{"inputs": {"q": "ok"}}, {"inputs": {}}])},
        {"records": json.dumps([{"inputs": {"q": "ok"}}, {"expectations": {"a": 1}}])},
        {"records": json.dumps([{"inputs": {"q": "ok"}, "expectations": ["a"]}])},
        {"records": json.dumps([{"inputs": {"q": "ok"}, "source": "trace"}])},
        {"records": json.dumps([{"inputs": {"q": "ok"}, "tags": ["t"]}])},
        {"records": json.dumps({"inputs": {"q": "ok"}})},
        {"records": json.dumps([])},
        {"records": "not json"},
        {},
    ):
        error(api.post(path, body), 400, "INVALID_PARAMETER_VALUE")
    error(upsert(api, "d-nope", [{"inputs": {"q": "x"}}]), 404, "RESOURCE_DOES_NOT_EXIST")
    assert not DatasetRecord.objects.exists()


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"name": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": ""}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": 3}, 400, "INVALID_PARAMETER_VALUE"),
        ({"tags": "{not json"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"tags": '["a"]'}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_ids": ["999999"]}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"experiment_ids": ["abc"]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_ids": "1"}, 400, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_bad_dataset_input_writes_nothing(api, experiment, fields, status, code):
    error(create(api, experiment, **fields), status, code)
    assert not EvaluationDataset.objects.exists()


def test_a_10_mb_body_is_413(api, experiment):
    dataset_id = create(api, experiment).json()["dataset"]["dataset_id"]
    big = [{"inputs": {"q": "x" * (11 * 1024**2)}}]
    error(upsert(api, dataset_id, big), 413, "REQUEST_LIMIT_EXCEEDED")
    assert not DatasetRecord.objects.exists()


def test_records_nested_too_deep_are_refused_with_nothing_written(api, experiment):
    # The records come as JSON text inside the body: the body's own depth limit does not see
    # their nesting, so the text is parsed with the same limit (it was a RecursionError: 500).
    dataset_id = create(api, experiment).json()["dataset"]["dataset_id"]
    for depth in (150, 100_000):
        deep = '{"inputs": {"q": ' + "[" * depth + "]" * depth + "}}"
        response = api.post(mlflow(f"datasets/{dataset_id}/records"), {"records": f"[{deep}]"})
        error(response, 400, "INVALID_PARAMETER_VALUE")
        assert "more than 100 levels deep" in response.json()["message"]
    assert not DatasetRecord.objects.exists()


def test_nul_characters_in_records_text_are_replaced(api, experiment):
    dataset_id = create(api, experiment).json()["dataset"]["dataset_id"]
    text = json.dumps([{"inputs": {"q": "a\x00b"}, "expectations": {"answer": "c"}}])
    assert upsert(api, dataset_id, json.loads(text)).status_code == 200
    assert DatasetRecord.objects.get().inputs == {"q": "a\ufffdb"}


def test_tags_links_and_delete(api, experiment):
    dataset_id = create(api, experiment).json()["dataset"]["dataset_id"]
    tags = mlflow(f"datasets/{dataset_id}/tags")
    assert api.patch(tags, {"tags": '{"stage": "review"}'}).status_code == 200
    assert api.delete(mlflow(f"datasets/{dataset_id}/tags/team")).status_code == 200
    assert EvaluationDataset.objects.get().tags == {"stage": "review"}
    error(api.patch(tags, {"tags": "[1]"}), 400, "INVALID_PARAMETER_VALUE")
    error(api.patch(mlflow("datasets/d-nope/tags"), {"tags": "{}"}), 404, "RESOURCE_DOES_NOT_EXIST")
    other = make_experiment("other")
    add = api.post(
        mlflow(f"datasets/{dataset_id}/add-experiments"), {"experiment_ids": [str(other.pk)]}
    )
    assert add.json()["dataset"]["experiment_ids"] == sorted([str(experiment.pk), str(other.pk)])
    ids = api.get(mlflow(f"datasets/{dataset_id}/experiment-ids")).json()["experiment_ids"]
    assert len(ids) == 2
    error(
        api.post(mlflow(f"datasets/{dataset_id}/add-experiments"), {"experiment_ids": ["99999"]}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    removed = api.post(
        mlflow(f"datasets/{dataset_id}/remove-experiments"), {"experiment_ids": [str(other.pk)]}
    )
    assert removed.json()["dataset"]["experiment_ids"] == [str(experiment.pk)]
    upsert(api, dataset_id, [{"inputs": {"q": "a"}}])
    assert api.delete(mlflow(f"datasets/{dataset_id}")).status_code == 200
    assert not EvaluationDataset.objects.exists() and not DatasetRecord.objects.exists()
    assert api.delete(mlflow(f"datasets/{dataset_id}")).status_code == 200  # a no-op
    error(api.get(mlflow(f"datasets/{dataset_id}")), 404, "RESOURCE_DOES_NOT_EXIST")


def test_search_filters_orders_and_pages(api, experiment, django_assert_num_queries):
    other = make_experiment("other")
    for name in ("alpha", "beta", "gamma"):
        create(
            api,
            experiment,
            name=name,
            tags=json.dumps({"env": "prod" if name != "beta" else "dev"}),
        )
    create(api, other, name="delta")
    path = mlflow("datasets/search")

    def names(**body):
        response = api.post(path, body)
        assert response.status_code == 200, response.content
        return [d["name"] for d in response.json()["datasets"]], response.json()

    assert names(filter_string="name = 'beta'")[0] == ["beta"]
    assert names(filter_string="name LIKE '%a'", order_by=["name ASC"])[0] == [
        "alpha",
        "beta",
        "delta",
        "gamma",
    ]
    assert names(filter_string="tags.env = 'prod' AND name != 'gamma'")[0] == ["alpha"]
    assert names(filter_string="created_time >= 0", experiment_ids=[str(other.pk)])[0] == ["delta"]
    with django_assert_num_queries(3):  # token, datasets, their experiments
        first, body = names(max_results=2, order_by=["name DESC"])
    rest, _ = names(max_results=2, order_by=["name DESC"], page_token=body["next_page_token"])
    assert first + rest == ["gamma", "delta", "beta", "alpha"]
    for bad in (
        {"filter_string": "name = beta"},
        {"filter_string": "size > 3"},
        {"order_by": ["size"]},
        {"order_by": "name SIDEWAYS"},
        {"max_results": 0},
        {"experiment_ids": ["x"]},
    ):
        error(api.post(path, bad), 400, "INVALID_PARAMETER_VALUE")
