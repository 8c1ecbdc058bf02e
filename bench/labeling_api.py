"""Benchmark of MLflow's labeling APIs on a 10,000-item session: `list_review_queue_items`
(paging through every item) and the evaluation dataset (syncing the session into it, then
loading its records as `EvaluationDataset.to_df` does), in items or records per second.

Builds, in a throwaway test database, a session of N items (default 10,000), each trace with a
root span's inputs, half of them submitted by one labeler with an answer to an expectation
question (so half have a final expectation), a quarter skipped; then times, through Django's
test client with an API token (in process: no network, no server processes; median of --runs):

1. `GET review-queues/items/list`, every page of --page items (SDK default 100; also 1,000);
2. the sync of the session into a named dataset (`labeling.campaign.dataset_sync`), first and
   again (the second updates every record);
3. `GET datasets/{id}/records`, every page of 1,000 (what `to_df()` reads), of the synced
   dataset and of one with a record per item (N records, sent 1,000 a request as
   `merge_records` sends them, which is timed too).

    .venv/bin/python bench/labeling_api.py                       # SQLite, 10,000 items
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/labeling_api_bench \\
        .venv/bin/python bench/labeling_api.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("STATIC_MANIFEST", "0")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

API = "/api/3.0/mlflow"


def build(items: int) -> dict:
    from labeling import services
    from labeling.inputs import parse_input
    from labeling.models import Answer, Assignment, Item, LabelingSession, SessionSchema
    from traces.models import Assessment, Experiment, Span, Trace

    now = timezone.now()
    experiment = Experiment.objects.create(name="bench-labeling-api")
    Trace.objects.bulk_create(
        (
            Trace(experiment=experiment, trace_id=f"tr-{i:032x}", request_time=now)
            for i in range(items)
        ),
        batch_size=5000,
    )
    traces = list(Trace.objects.filter(experiment=experiment).order_by("pk").values_list("pk"))
    Span.objects.bulk_create(
        (
            Span(
                trace_id=pk, span_id=f"{index + 1:016x}", name="app", span_type="CHAIN",
                start_time_ns=1, end_time_ns=2, inputs={"question": f"Question {index}?"},
            )
            for index, (pk,) in enumerate(traces)
        ),
        batch_size=5000,
    )  # fmt: skip
    labeler = User.objects.create(username="labeler")
    other = User.objects.create(username="other")
    curator = User.objects.create(username="curator", is_staff=True)
    schema = services.create_schema(
        experiment=experiment,
        fields=services.SchemaFields(
            name="expected_answer", kind="expectation", title="Expected answer?",
            instruction="", enable_comment=False, target_span_type="",
            spec=parse_input("text", {}),
        ),
    )  # fmt: skip
    session = LabelingSession.objects.create(
        experiment=experiment, name="Big queue", labels_per_item=1, status="active"
    )
    SessionSchema.objects.create(session=session, schema=schema, position=0)
    session.labelers.set([labeler, other])
    Item.objects.bulk_create(
        (Item(session=session, trace_id=pk, position=i) for i, (pk,) in enumerate(traces)),
        batch_size=5000,
    )
    item_rows = list(session.items.order_by("position").values_list("pk", "trace_id"))
    assignments, answered = [], []
    for index, (item_pk, trace_pk) in enumerate(item_rows):
        claimed = now - timedelta(days=3) + timedelta(seconds=index)
        if index % 2 == 0:
            assignments.append(
                Assignment(
                    item_id=item_pk, labeler=labeler, state="submitted", claimed_at=claimed,
                    submitted_at=claimed + timedelta(seconds=30),
                )
            )  # fmt: skip
            answered.append(trace_pk)
        elif index % 4 == 1:
            assignments.append(
                Assignment(item_id=item_pk, labeler=other, state="skipped", claimed_at=claimed)
            )
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    by_trace = dict(
        Assignment.objects.filter(item__session=session, state="submitted").values_list(
            "item__trace_id", "pk"
        )
    )
    assessments = [
        Assessment(
            trace_id=trace_pk, experiment=experiment, kind="expectation",
            name="expected_answer", source_type="HUMAN", source_id="labeler",
            value=f"Answer {trace_pk}",
        )
        for trace_pk in answered
    ]  # fmt: skip
    Assessment.objects.bulk_create(assessments, batch_size=5000)
    Answer.objects.bulk_create(
        (
            Answer(
                assignment_id=by_trace[a.trace_id], schema=schema, schema_version=1, assessment=a
            )
            for a in assessments
        ),
        batch_size=5000,
    )
    services.refresh_item_states(session=session)
    return {"session": session, "curator": curator}


def _median_run(runs: int, action) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        count = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from accounts.services import create_api_token
        from labeling.campaign.dataset_sync import sync_session_to_dataset

        started = time.perf_counter()
        world = build(args.items)
        session = world["session"]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh tables: the statistics autovacuum would gather
        print(
            f"{connection.vendor}: built a session of {args.items:,} items in "
            f"{time.perf_counter() - started:.1f}s"
        )
        client = Client()
        token = create_api_token(user=world["curator"], name="bench")[1]
        headers = {"Authorization": f"Bearer {token}"}

        def list_items(page: int) -> int:
            seen, page_token = 0, ""
            while True:
                response = client.get(
                    f"{API}/review-queues/items/list",
                    {"queue_id": session.pk, "max_results": page, "page_token": page_token},
                    headers=headers,
                )
                body = response.json()
                seen += len(body["items"])
                page_token = body.get("next_page_token")
                if not page_token:
                    return seen

        # The first request of a process imports and builds what every later one reuses.
        client.get(f"{API}/review-queues/get", {"queue_id": session.pk}, headers=headers)
        for page in (100, 1000):
            seconds, seen = _median_run(args.runs, lambda page=page: list_items(page))
            print(
                f"list_review_queue_items, pages of {page:>5,}: {seen:,} items in "
                f"{seconds:.2f}s = {seen / seconds:,.0f} items/s "
                f"({seconds / -(-seen // page) * 1000:.1f} ms per page)"
            )

        started = time.perf_counter()
        first = sync_session_to_dataset(session=session, dataset_name="bench golden")
        sync_seconds = time.perf_counter() - started
        started = time.perf_counter()
        second = sync_session_to_dataset(session=session, dataset_name="bench golden")
        resync_seconds = time.perf_counter() - started
        print(
            f"dataset sync: {first.inserted:,} records inserted in {sync_seconds:.2f}s = "
            f"{first.inserted / sync_seconds:,.0f} records/s; re-sync "
            f"{second.updated:,} updated in {resync_seconds:.2f}s = "
            f"{second.updated / resync_seconds:,.0f} records/s"
        )

        def load_records(dataset_id: str) -> int:
            seen, page_token = 0, ""
            while True:
                response = client.get(
                    f"{API}/datasets/{dataset_id}/records",
                    {"max_results": 1000, "page_token": page_token},
                    headers=headers,
                )
                body = response.json()
                seen += len(json.loads(body["records"]))
                page_token = body.get("next_page_token")
                if not page_token:
                    return seen

        seconds, seen = _median_run(args.runs, lambda: load_records(first.dataset.dataset_id))
        print(
            f"dataset load of the synced dataset (GetDatasetRecords, pages of 1,000): {seen:,} "
            f"records in {seconds:.2f}s = {seen / seconds:,.0f} records/s"
        )

        # One record per item of the session, sent as `merge_records` sends them.
        created = client.post(
            f"{API}/datasets/create",
            {"name": "bench merged", "experiment_ids": [str(session.experiment_id)]},
            content_type="application/json",
            headers=headers,
        ).json()["dataset"]
        rows = [
            {"inputs": {"question": f"Question {n}?"}, "expectations": {"answer": f"A{n}"}}
            for n in range(args.items)
        ]
        started = time.perf_counter()
        for start in range(0, len(rows), 1000):
            client.post(
                f"{API}/datasets/{created['dataset_id']}/records",
                {"records": json.dumps(rows[start : start + 1000])},
                content_type="application/json",
                headers=headers,
            )
        seconds = time.perf_counter() - started
        print(
            f"merge_records (UpsertDatasetRecords, 1,000 a request): {len(rows):,} records in "
            f"{seconds:.2f}s = {len(rows) / seconds:,.0f} records/s"
        )
        seconds, seen = _median_run(args.runs, lambda: load_records(created["dataset_id"]))
        print(
            f"dataset load, {seen:,} records (to_df's GetDatasetRecords, pages of 1,000): "
            f"{seconds:.2f}s = {seen / seconds:,.0f} records/s"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
