"""Drive MLflow's labeling APIs with the unmodified SDK against a tracking server: the Review
App or MLflow's own (`mlflow server`), so the two can be compared call by call.

    MLFLOW_TRACKING_URI=http://127.0.0.1:8000 MLFLOW_TRACKING_TOKEN=… \\
        python -m bench.mlflow_labeling_sdk --users labeler other_labeler > ours.json
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 \\
        python -m bench.mlflow_labeling_sdk --users labeler other_labeler > mlflow.json
    diff ours.json mlflow.json

Each step records what the SDK returned (ids and times left out, so runs compare) or the error
code it raised. The users must be accounts of the Review App (MLflow's server takes any name).
`tests/labeling/test_mlflow_labeling_sdk.py` runs `run()` against a live test server and checks
what the console and the review app see.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Run:
    """What a run made (ids, for the caller to look at) and saw (`steps`, comparable)."""

    experiment_id: str = ""
    trace_ids: list[str] = field(default_factory=list)
    schema_ids: dict[str, str] = field(default_factory=dict)
    queue_id: str = ""
    user_queue_id: str = ""
    dataset_id: str = ""
    steps: dict[str, Any] = field(default_factory=dict)


def _error_code(action: Any) -> str:
    from mlflow.exceptions import MlflowException

    try:
        action()
    except MlflowException as exc:
        return exc.error_code
    return "no error"


def _schema(schema: Any) -> dict[str, Any]:
    return {
        "name": schema.name,
        "type": str(schema.type),
        "input": type(schema.input).__name__,
        "input_fields": {k: v for k, v in vars(schema.input).items()},
        "instruction": schema.instruction,
        "enable_comment": schema.enable_comment,
    }


def _queue(queue: Any, schema_names: dict[str, str]) -> dict[str, Any]:
    return {
        "name": queue.name,
        "queue_type": str(queue.queue_type),
        "users": sorted(queue.users),
        # Sorted: MLflow's server returns them in no particular order (ours: question order).
        "schemas": sorted(schema_names.get(schema_id, "?") for schema_id in queue.schema_ids),
    }


def _items(items: Any, trace_names: dict[str, str]) -> list[tuple[str, str, str | None]]:
    # Sorted: both servers list newest-attached first, and items attached together tie.
    return sorted(
        (trace_names[item.item_id], str(item.status), item.completed_by) for item in items
    )


def _tags(tags: dict[str, Any] | None) -> dict[str, Any]:
    # The SDK adds the OS user as `mlflow.user`: left out, so runs on different machines compare.
    return {key: value for key, value in (tags or {}).items() if key != "mlflow.user"}


def _traced_app(mlflow: Any) -> Any:
    @mlflow.trace(name="answer")
    def answer(question: str) -> str:
        return f"About {question}: it depends."

    return answer


def run(*, users: list[str], experiment_name: str | None = None) -> Run:
    """Every labeling call of the SDK once (or more), in order; see the module docstring."""
    import mlflow
    from mlflow.genai import datasets, label_schemas, review_queues
    from mlflow.genai.label_schemas import (
        InputCategorical,
        InputNumeric,
        InputPassFail,
        InputText,
    )

    first, second = users[0], users[1]
    result = Run()
    steps = result.steps
    experiment = mlflow.set_experiment(experiment_name or f"labeling-sdk-{uuid.uuid4().hex[:8]}")
    result.experiment_id = experiment_id = experiment.experiment_id

    answer = _traced_app(mlflow)
    for question in ("MLflow", "Django", "PostgreSQL"):
        answer(question)
        result.trace_ids.append(mlflow.get_last_active_trace_id())
    trace_names = dict(zip(result.trace_ids, ("t1", "t2", "t3"), strict=True))

    # --- label schemas ---
    made = {
        "correct": label_schemas.create_label_schema(
            "correct",
            type="feedback",
            input=InputPassFail(positive_label="Correct", negative_label="Wrong"),
            instruction="Is the answer right?",
            enable_comment=True,
        ),
        "tone": label_schemas.create_label_schema(
            "tone", type="feedback", input=InputCategorical(options=["formal", "casual"])
        ),
        "topics": label_schemas.create_label_schema(
            "topics",
            type="feedback",
            input=InputCategorical(options=["db", "web", "ml"], multi_select=True),
        ),
        "score": label_schemas.create_label_schema(
            "score", type="feedback", input=InputNumeric(min_value=0, max_value=5)
        ),
        "expected_answer": label_schemas.create_label_schema(
            "expected_answer", type="expectation", input=InputText(max_length=500)
        ),
        "scratch": label_schemas.create_label_schema("scratch", type="feedback", input=InputText()),
    }
    result.schema_ids = {name: schema.schema_id for name, schema in made.items()}
    schema_names = {schema_id: name for name, schema_id in result.schema_ids.items()}
    steps["schemas.created"] = {name: _schema(schema) for name, schema in made.items()}
    steps["schemas.get_by_id"] = _schema(
        label_schemas.get_label_schema(schema_id=result.schema_ids["correct"])
    )
    steps["schemas.get_by_name"] = _schema(
        label_schemas.get_label_schema("tone", experiment_id=experiment_id)
    )
    page = label_schemas.list_label_schemas(experiment_id, max_results=4)
    rest = label_schemas.list_label_schemas(experiment_id, page_token=page.token)
    steps["schemas.list"] = {
        "first_page": len(page),
        "has_token": page.token is not None,
        "all": sorted(schema.name for schema in [*page, *rest]),
        "second_page_token": rest.token,
    }
    updated = label_schemas.update_label_schema(
        result.schema_ids["tone"],
        instruction="Pick the closest.",
        input=InputCategorical(options=["formal", "casual", "rude"]),
    )
    steps["schemas.update"] = _schema(updated)
    steps["schemas.duplicate_name"] = _error_code(
        lambda: label_schemas.create_label_schema("tone", type="feedback", input=InputText())
    )
    steps["schemas.bad_experiment"] = _error_code(
        lambda: label_schemas.get_label_schema("tone", experiment_id="987654321")
    )
    steps["schemas.unknown_id"] = _error_code(
        lambda: label_schemas.get_label_schema(schema_id="123456789")
    )
    label_schemas.delete_label_schema(schema_id=result.schema_ids["scratch"])
    steps["schemas.deleted_then_get"] = _error_code(
        lambda: label_schemas.get_label_schema(schema_id=result.schema_ids["scratch"])
    )
    steps["schemas.delete_again"] = _error_code(
        lambda: label_schemas.delete_label_schema(schema_id=result.schema_ids["scratch"])
    )

    # --- review queues ---
    questions = [result.schema_ids[name] for name in ("correct", "expected_answer")]
    queue = review_queues.create_review_queue(
        "march review", queue_type="custom", users=[first], schema_ids=questions
    )
    result.queue_id = queue.queue_id
    steps["queues.create"] = _queue(queue, schema_names)
    user_queue = review_queues.create_review_queue(first, queue_type="user")
    result.user_queue_id = user_queue.queue_id
    steps["queues.create_user"] = {**_queue(user_queue, schema_names), "schemas": None}
    again = review_queues.get_or_create_user_queue(user=first)
    steps["queues.get_or_create_user.same"] = again.queue_id == user_queue.queue_id
    other = review_queues.get_or_create_user_queue(user=second)
    steps["queues.get_or_create_user.new"] = {**_queue(other, schema_names), "schemas": None}
    steps["queues.get"] = _queue(review_queues.get_review_queue(queue.queue_id), schema_names)
    steps["queues.get_by_name"] = _queue(
        review_queues.get_review_queue(name="march review"), schema_names
    )
    listed = review_queues.list_review_queues()
    steps["queues.list"] = sorted(q.name for q in listed)
    steps["queues.list_for_user"] = sorted(q.name for q in review_queues.list_review_queues(
        user=second
    ))  # fmt: skip
    steps["queues.duplicate_name"] = _error_code(
        lambda: review_queues.create_review_queue("march review", queue_type="custom")
    )
    steps["queues.reserved_name"] = _error_code(
        lambda: review_queues.create_review_queue("default", queue_type="custom")
    )
    updated_queue = review_queues.update_review_queue(
        queue.queue_id,
        name="march review (v2)",
        users=[first, second],
        schema_ids=[*questions, result.schema_ids["tone"]],
    )
    steps["queues.update"] = _queue(updated_queue, schema_names)
    added = review_queues.add_items_to_review_queue(queue.queue_id, item_ids=result.trace_ids)
    steps["queues.items.add"] = _items(added, trace_names)
    steps["queues.items.add_unknown"] = _error_code(
        lambda: review_queues.add_items_to_review_queue(
            queue.queue_id, item_ids=["tr-00000000000000000000000000000000"]
        )
    )
    t1, t2, t3 = result.trace_ids
    done = review_queues.set_review_queue_item_status(
        queue.queue_id, item_id=t1, status="complete", completed_by=first
    )
    steps["queues.items.set_complete"] = _items([done], trace_names)
    declined = review_queues.set_review_queue_item_status(
        queue.queue_id, item_id=t2, status="declined", completed_by=second
    )
    steps["queues.items.set_declined"] = _items([declined], trace_names)
    steps["queues.items.list"] = _items(
        review_queues.list_review_queue_items(queue.queue_id), trace_names
    )
    steps["queues.items.list_by_status"] = {
        status: _items(
            review_queues.list_review_queue_items(queue.queue_id, status=status), trace_names
        )
        for status in ("pending", "complete", "declined")
    }
    first_page = review_queues.list_review_queue_items(queue.queue_id, max_results=2)
    second_page = review_queues.list_review_queue_items(
        queue.queue_id, max_results=2, page_token=first_page.token
    )
    steps["queues.items.paging"] = [
        len(first_page),
        len(second_page),
        sorted([*_items(first_page, trace_names), *_items(second_page, trace_names)]),
        second_page.token,
    ]
    reopened = review_queues.set_review_queue_item_status(
        queue.queue_id, item_id=t2, status="pending"
    )
    steps["queues.items.reopen"] = _items([reopened], trace_names)
    review_queues.remove_items_from_review_queue(queue.queue_id, item_ids=[t3])
    steps["queues.items.after_remove"] = _items(
        review_queues.list_review_queue_items(queue.queue_id), trace_names
    )
    review_queues.delete_review_queue(other.queue_id)
    steps["queues.deleted_then_get"] = _error_code(
        lambda: review_queues.get_review_queue(other.queue_id)
    )
    steps["queues.delete_again"] = _error_code(
        lambda: review_queues.delete_review_queue(other.queue_id)
    )

    # --- evaluation datasets ---
    dataset = datasets.create_dataset(
        name=f"ground truth {uuid.uuid4().hex[:6]}",
        experiment_id=experiment_id,
        tags={"team": "docs"},
    )
    result.dataset_id = dataset.dataset_id
    dataset.merge_records(
        [
            {"inputs": {"question": "MLflow"}, "expectations": {"expected_answer": "A platform"}},
            {"inputs": {"question": "Django"}, "expectations": {"expected_answer": "A framework"}},
        ]
    )
    dataset.merge_records(
        [
            {"inputs": {"question": "MLflow"}, "expectations": {"facts": ["open source"]}},
            {"inputs": {"question": "PostgreSQL"}, "expectations": {"expected_answer": "A DB"}},
        ]
    )
    loaded = datasets.get_dataset(dataset_id=dataset.dataset_id)
    frame = loaded.to_df()
    steps["datasets.records"] = sorted(
        (row["inputs"]["question"], json.dumps(row["expectations"], sort_keys=True))
        for _, row in frame.iterrows()
    )
    steps["datasets.get"] = {
        "name_matches": loaded.name == dataset.name,
        "tags": _tags(loaded.tags),
    }
    datasets.set_dataset_tags(dataset_id=dataset.dataset_id, tags={"stage": "review"})
    datasets.delete_dataset_tag(dataset_id=dataset.dataset_id, key="team")
    steps["datasets.tags"] = _tags(datasets.get_dataset(dataset_id=dataset.dataset_id).tags)
    found = datasets.search_datasets(filter_string=f"name = '{dataset.name}'")
    steps["datasets.search"] = [d.dataset_id == dataset.dataset_id for d in found]
    by_experiment = datasets.search_datasets(experiment_ids=[experiment_id])
    steps["datasets.search_by_experiment"] = [d.name == dataset.name for d in by_experiment]
    extra = mlflow.create_experiment(f"labeling-sdk-extra-{uuid.uuid4().hex[:8]}")
    linked = datasets.add_dataset_to_experiments(dataset.dataset_id, experiment_ids=[extra])
    steps["datasets.add_experiments"] = sorted(linked.experiment_ids) == sorted(
        [experiment_id, extra]
    )
    unlinked = datasets.remove_dataset_from_experiments(dataset.dataset_id, experiment_ids=[extra])
    steps["datasets.remove_experiments"] = list(unlinked.experiment_ids) == [experiment_id]
    scratch = datasets.create_dataset(name=f"scratch {uuid.uuid4().hex[:6]}")
    datasets.delete_dataset(dataset_id=scratch.dataset_id)
    steps["datasets.deleted_then_get"] = _error_code(
        lambda: datasets.get_dataset(dataset_id=scratch.dataset_id)
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", nargs=2, default=["labeler", "other_labeler"])
    parser.add_argument("--experiment", default=None)
    args = parser.parse_args()
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        sys.exit("Set MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_TOKEN for the Review App).")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    result = run(users=args.users, experiment_name=args.experiment)
    json.dump(result.steps, sys.stdout, indent=1, sort_keys=True, default=str)
    print()


if __name__ == "__main__":
    main()
