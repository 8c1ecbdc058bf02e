"""The unmodified MLflow SDK's labeling APIs (`mlflow.genai.label_schemas`, `review_queues`,
`datasets`) against a live test server: `bench.mlflow_labeling_sdk.run`, the script that also
runs against MLflow's own server, then what the console and the review app see of it.

`tests/fixtures/mlflow_labeling_sdk_steps.json` is what the same script saw on MLflow 3.17.2's
own server (`mlflow server` on PostgreSQL); this server must see the same, but for the one
difference written down in `KNOWN_DIFFERENCES`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from bench.mlflow_labeling_sdk import run
from labeling.models import Assignment, AssignmentState, ItemState, LabelingSession
from tests.factories import make_api_token
from tests.traces.test_api_clients import mlflow_sdk  # noqa: F401  (the fixture)
from traces.models import DatasetRecord, EvaluationDataset

pytestmark = pytest.mark.django_db(transaction=True)

MLFLOW_STEPS = Path(__file__).parent.parent / "fixtures" / "mlflow_labeling_sdk_steps.json"


def known_differences(steps: dict) -> dict:
    """MLflow's server seeds every experiment with a protected default schema named "Feedback"
    (`is_default`); the Review App does not: an experiment's schemas are the curators'."""
    steps = json.loads(json.dumps(steps, default=str))
    steps["schemas.list"]["all"].remove("Feedback")
    return steps


def test_the_sdk_sees_what_it_sees_on_mlflows_own_server(mlflow_sdk, labeler, other_labeler):  # noqa: F811
    result = run(users=["labeler", "other_labeler"])
    ours = json.loads(json.dumps(result.steps, default=str))
    assert ours == known_differences(json.loads(MLFLOW_STEPS.read_text()))


def test_the_console_and_the_review_app_see_what_the_sdk_made(
    mlflow_sdk,  # noqa: F811
    client,
    curator,
    labeler,
    other_labeler,
):
    result = run(users=["labeler", "other_labeler"])
    session = LabelingSession.objects.get(pk=int(result.queue_id))
    assert session.name == "march review (v2)"
    assert session.status == "active"
    assert [s.name for s in session.schemas.order_by("sessionschema__position")] == [
        "correct",
        "expected_answer",
        "tone",
    ]
    assert set(session.labelers.values_list("username", flat=True)) == {"labeler", "other_labeler"}
    t1, t2, _removed = result.trace_ids
    states = dict(session.items.values_list("trace__trace_id", "state"))
    assert states == {t1: ItemState.COMPLETE, t2: ItemState.PENDING}  # t3 was removed
    done = Assignment.objects.get(item__session=session, item__trace__trace_id=t1)
    assert (done.labeler, done.state) == (labeler, AssignmentState.SUBMITTED)

    # The console lists the SDK's schemas and its queue.
    client.force_login(curator)
    schemas = client.get(reverse("console:schema_list", args=[int(result.experiment_id)]))
    assert schemas.status_code == 200
    listed = [row.name for row in schemas.context["schemas"]]
    assert sorted(listed) == ["correct", "expected_answer", "score", "tone", "topics"]
    detail = client.get(reverse("console:session_detail", args=[session.pk]))
    assert detail.status_code == 200 and "march review (v2)" in detail.content.decode()

    # The labelers find it in the review app: the custom queue and their own user queue.
    client.force_login(labeler)
    home = client.get(reverse("review:home")).content.decode()
    assert "march review (v2)" in home
    assert LabelingSession.objects.filter(name="labeler", queue_type="user").exists()

    # The dataset the SDK filled is stored here, keyed by inputs (3 records, not 4).
    dataset = EvaluationDataset.objects.get(dataset_id=result.dataset_id)
    assert DatasetRecord.objects.filter(dataset=dataset).count() == 3
    assert dataset.tags == {"stage": "review", "mlflow.user": dataset.tags["mlflow.user"]}


def test_a_console_schema_reads_back_through_the_sdk(mlflow_sdk, curator):  # noqa: F811
    from mlflow.genai import label_schemas

    from tests.factories import make_experiment, make_schema

    experiment = make_experiment("console schemas")
    made = {
        "correct": make_schema(experiment, "correct", "pass_fail"),
        "tone": make_schema(
            experiment, "tone", "categorical", {"options": ["a", "b"]}, instruction="Pick."
        ),
        "tags": make_schema(experiment, "tags", "categorical_list", {"options": ["x", "y"]}),
        "score": make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5}),
        "answer": make_schema(
            experiment, "answer", "text", {"max_length": 200}, kind="expectation"
        ),
        "facts": make_schema(
            experiment, "facts", "text_list", {"max_length_each": 80, "max_count": 5}
        ),
    }
    listed = label_schemas.list_label_schemas(str(experiment.pk))
    by_name = {schema.name: schema for schema in listed}
    assert set(by_name) == set(made)
    assert by_name["correct"].input.positive_label == "Pass"
    assert by_name["tone"].instruction == "Pick."
    assert by_name["tags"].input.multi_select is True
    assert by_name["tags"].input.options == ["x", "y"]
    assert (by_name["score"].input.min_value, by_name["score"].input.max_value) == (1, 5)
    assert str(by_name["answer"].type) == "expectation"
    assert by_name["answer"].input.max_length == 200
    # A text list has no place in MLflow's wire format: the SDK reads it as text (each entry's
    # limit); the exact input is the extra field `text_list`.
    assert type(by_name["facts"].input).__name__ == "InputText"
    assert by_name["facts"].input.max_length == 80
    assert by_name["facts"].schema_id == str(made["facts"].pk)


def test_sync_a_session_into_a_dataset_that_mlflow_evaluate_runs(
    mlflow_sdk,  # noqa: F811
    live_server,
    curator,
    campaign,
    tmp_path,
    monkeypatch,
):
    import requests
    from mlflow.genai import datasets
    from mlflow.genai.scorers import scorer

    from labeling.campaign import adjudication

    adjudication.settle_cell(
        item=campaign.items[0],
        schema=campaign.answer,
        value="Paris",
        adjudicator=campaign.users["curator"],
    )
    token = make_api_token(curator, name="sync")
    url = f"{live_server.url}/api/3.0/mlflow/review-queues/sync-dataset"
    body = {"queue_id": str(campaign.session.pk), "dataset_name": "capitals-ground-truth"}
    first = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert first.status_code == 200, first.text
    assert (first.json()["inserted_count"], first.json()["updated_count"]) == (3, 0)

    # Re-sync after a changed final answer: the records are updated, not duplicated.
    adjudication.settle_cell(
        item=campaign.items[0],
        schema=campaign.answer,
        value="Paris, France",
        adjudicator=campaign.users["curator"],
    )
    again = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert (again.json()["inserted_count"], again.json()["updated_count"]) == (0, 3)

    dataset = datasets.get_dataset(name="capitals-ground-truth")
    frame = dataset.to_df()
    assert len(frame) == 3
    expectations = {row["inputs"]["question"]: row["expectations"] for _, row in frame.iterrows()}
    assert expectations == {
        "Q0": {"answer": "Paris, France"},
        "Q1": {"answer": "Rome"},
        "Q2": {"answer": "Bern"},
    }
    sources = {row["source"].source_type.value for _, row in frame.iterrows()}
    assert sources == {"TRACE"}
    assert {row["source"].source_data["trace_id"] for _, row in frame.iterrows()} == {
        item.trace.trace_id for item in campaign.items
    }

    # mlflow.genai.evaluate takes the dataset as the SDK read it back. (It logs a run, which
    # this server does not keep: the evaluation itself runs against a local file store, whose
    # space-separated metric lines are why the dataset's name has no spaces.)
    @scorer
    def has_expectations(outputs, expectations) -> bool:
        return bool(expectations) and outputs == "an answer"

    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri(f"file://{tmp_path}/mlruns")
    try:
        evaluation = mlflow.genai.evaluate(
            data=frame, predict_fn=lambda question: "an answer", scorers=[has_expectations]
        )
    finally:
        mlflow.set_tracking_uri(live_server.url)
    assert evaluation.metrics["has_expectations/mean"] == 1.0
