"""The unmodified MLflow SDK's labeling APIs (`mlflow.genai.label_schemas`, `review_queues`,
`datasets`) against a live test server: `bench.mlflow_labeling_sdk.run`, the script that also
runs against MLflow's own server, then what the console and the review app see of it."""

from __future__ import annotations

import json

import pytest

from bench.mlflow_labeling_sdk import run
from tests.traces.test_api_clients import mlflow_sdk  # noqa: F401  (the fixture)


@pytest.mark.django_db(transaction=True)
def test_the_sdk_labeling_calls(mlflow_sdk, labeler, other_labeler):  # noqa: F811
    result = run(users=["labeler", "other_labeler"])
    print(json.dumps(result.steps, indent=1, default=str))
    assert 0
