"""Benchmark of the curator console on a large campaign.

Builds, in a throwaway test database, an experiment of N traces (default 100,000), a session of
20,000 items with 20 labelers and ~30,000 assignments, then prints the server time (median of
several runs) and query count of the console pages, and the time of the bulk "add traces" paths.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/console .venv/bin/python bench/console.py
    .venv/bin/python bench/console.py --traces 20000      # SQLite, smaller
"""

from __future__ import annotations

import argparse
import os
import random
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

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402


def build(traces: int, items: int, labelers: int) -> dict:
    from labeling import services
    from labeling.inputs import parse_input
    from labeling.models import Assignment, Item, LabelingSession, SessionSchema
    from traces.models import Assessment, Experiment, Trace

    rng = random.Random(1)
    now = timezone.now()
    experiment = Experiment.objects.create(name="bench-console")
    questions = ["reset my password", "export to CSV", "card declined", "refund policy"]
    Trace.objects.bulk_create(
        (
            Trace(
                experiment=experiment,
                trace_id=f"tr-{index:032x}",
                request_time=now - timedelta(seconds=index * 7),
                state="ERROR" if index % 10 == 0 else "OK",
                request_preview=f'{{"question": "How do I {rng.choice(questions)}? #{index}"}}',
                response_preview='"Go to Settings and follow the steps."',
                execution_duration=rng.randint(200, 5000),
            )
            for index in range(traces)
        ),
        batch_size=5000,
    )
    trace_pks = list(Trace.objects.filter(experiment=experiment).values_list("pk", flat=True))
    Assessment.objects.bulk_create(
        (
            Assessment(
                trace_id=pk, experiment=experiment, kind="feedback", name="correct",
                source_type="LLM_JUDGE", source_id="judge", value=bool(pk % 2),
            )
            for pk in trace_pks[::5]
        ),
        batch_size=5000,
    )  # fmt: skip
    group, _ = Group.objects.get_or_create(name="labelers")
    people = []
    for index in range(labelers):
        user = User.objects.create(username=f"labeler{index:02d}")
        user.groups.add(group)
        people.append(user)
    schemas = [
        services.create_schema(
            experiment=experiment,
            fields=services.SchemaFields(
                name=name, kind="feedback", title=f"{name}?", instruction="",
                enable_comment=False, target_span_type="", spec=parse_input(kind, config),
            ),
        )
        for name, kind, config in (
            ("correct", "pass_fail", {}),
            ("tone", "categorical", {"options": ["warm", "neutral", "curt"]}),
            ("score", "numeric", {"min_value": 1, "max_value": 5}),
        )
    ]  # fmt: skip
    session = LabelingSession.objects.create(
        experiment=experiment, name="Big campaign", labels_per_item=2, status="active"
    )
    for position, schema in enumerate(schemas, start=1):
        SessionSchema.objects.create(session=session, schema=schema, position=position)
    session.labelers.set(people)
    Item.objects.bulk_create(
        (
            Item(session=session, trace_id=pk, position=i)
            for i, pk in enumerate(trace_pks[:items], 1)
        ),
        batch_size=5000,
    )
    assignments = []
    for index, item_pk in enumerate(
        Item.objects.filter(session=session).values_list("pk", flat=True)
    ):
        if index > items * 0.75:
            break
        for labeler in rng.sample(people, 2 if index % 3 else 1):
            claimed = now - timedelta(minutes=rng.randint(1, 5000))
            state = "submitted" if index % 17 else rng.choice(["skipped", "claimed"])
            assignments.append(
                Assignment(
                    item_id=item_pk, labeler=labeler, state=state, claimed_at=claimed,
                    submitted_at=claimed + timedelta(seconds=rng.randint(20, 400))
                    if state == "submitted" else None,
                    lease_expires_at=now + timedelta(minutes=10) if state == "claimed" else None,
                    last_active_at=claimed, flagged=index % 500 == 0,
                    flag_reason="Unclear question" if index % 500 == 0 else "",
                )
            )  # fmt: skip
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    services.refresh_item_states(session=session)
    curator = User.objects.create(username="bench-curator", is_staff=True)
    with connection.cursor() as cursor:  # a live database has statistics; give them to this one
        cursor.execute("ANALYZE")
    return {"experiment": experiment, "session": session, "curator": curator,
            "assignments": len(assignments)}  # fmt: skip


def timed(client: Client, url: str, runs: int, **headers) -> tuple[float, float, float, int, str]:
    """(median ms, max ms, median ms in SQL, queries, slowest query) of GET url."""
    client.get(url, headers=headers)  # warm up
    samples, sql_samples = [], []
    queries: list[dict] = []
    for _ in range(runs):
        reset_queries()
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        queries = list(connection.queries)
        sql_samples.append(sum(float(q["time"]) for q in queries) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    slowest = max(queries, key=lambda q: float(q["time"]))
    return (
        statistics.median(samples),
        max(samples),
        statistics.median(sql_samples),
        len(queries),
        f"{float(slowest['time']) * 1000:.0f} ms: {slowest['sql'][:160]}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--labelers", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--slowest", action="store_true", help="show each page's slowest query")
    args = parser.parse_args()

    setup_test_environment()
    settings.DEBUG = True  # count queries
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        world = build(args.traces, min(args.items, args.traces), args.labelers)
        print(
            f"database: {connection.vendor}; built {args.traces:,} traces, "
            f"{min(args.items, args.traces):,} items, {world['assignments']:,} assignments, "
            f"{args.labelers} labelers in {time.perf_counter() - started:.1f} s"
        )
        client = Client()
        client.force_login(world["curator"])
        session, experiment = world["session"], world["experiment"]
        detail = reverse("console:session_detail", args=[session.pk])
        add = reverse("console:session_add_traces", args=[session.pk])
        pages = [
            ("sessions list", reverse("console:index"), {}),
            ("session dashboard", detail, {}),
            ("dashboard refresh (htmx)", detail, {"HX-Request": "true"}),
            ("dashboard, pending, page 40", detail + "?state=pending&page=40", {}),
            ("add traces, no filter", add, {}),
            (
                "add traces, state=ERROR, lacks correct",
                add + "?state=ERROR&presence=lacks&label=correct",
                {},
            ),
            ("add traces, search", add + "?q=refund", {}),
            ("schemas of the experiment", reverse("console:schema_list", args=[experiment.pk]), {}),
            ("people", reverse("console:people"), {}),
        ]
        print(f"\n{'page':42} {'median ms':>10} {'max ms':>8} {'SQL ms':>8} {'queries':>8}")
        for name, url, headers in pages:
            median, worst, sql, queries, slowest = timed(client, url, args.runs, **headers)
            print(f"{name:42} {median:10.1f} {worst:8.1f} {sql:8.1f} {queries:8d}")
            if args.slowest:
                print(f"    slowest query {slowest}")

        from labeling import session_items
        from labeling.models import LabelingSession
        from traces.models import Trace

        print(f"\n{'bulk write':42} {'ms':>10} {'added':>8}")
        target = LabelingSession.objects.create(experiment=experiment, name="bench target")
        matching = Trace.objects.filter(experiment=experiment, state="OK")
        for label, call in (
            ("add all matching (state=OK)", lambda: session_items.add_matching_traces(
                session=target, traces=matching)),
            ("same again (all duplicates)", lambda: session_items.add_matching_traces(
                session=target, traces=matching)),
            ("random sample of 1,000 (state=ERROR)", lambda: session_items.add_trace_sample(
                session=target, traces=Trace.objects.filter(state="ERROR"), size=1000)),
        ):  # fmt: skip
            start = time.perf_counter()
            result = call()
            print(f"{label:42} {(time.perf_counter() - start) * 1000:10.1f} {result.added:8,}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
