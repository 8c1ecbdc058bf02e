"""Benchmark of the disagreements view, adjudication and exports on a large campaign.

Builds, in a throwaway test database, a session of N items (default 10,000) with 3 labelers
answering 3 questions each (pass/fail, categorical, a text expectation; about a third of the
cells disagree), every trace with a root span. Then prints the server time (median of several
runs) and query count of the disagreements pages, one settle, the exports page, each streamed
export (time, bytes, peak Python memory while streaming) and the bulk accept.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/adjud_bench \\
        .venv/bin/python bench/adjudication.py
    .venv/bin/python bench/adjudication.py --items 2000      # SQLite, smaller
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("STATIC_MANIFEST", "0")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

LABELERS = 3


def build(items: int) -> dict:
    from labeling import services
    from labeling.inputs import parse_input
    from labeling.models import Answer, Assignment, Item, LabelingSession, SessionSchema
    from traces.models import Assessment, Experiment, Span, Trace

    rng = random.Random(1)
    now = timezone.now()
    experiment = Experiment.objects.create(name="bench-adjudication")
    Trace.objects.bulk_create(
        (
            Trace(experiment=experiment, trace_id=f"tr-{index:032x}", request_time=now)
            for index in range(items)
        ),
        batch_size=5000,
    )
    traces = list(Trace.objects.filter(experiment=experiment).values_list("pk", "trace_id"))
    Span.objects.bulk_create(
        (
            Span(
                trace_id=pk, span_id=f"{pk:016x}", name="app", span_type="CHAIN",
                start_time_ns=0, end_time_ns=1000,
                inputs={"question": f"What is the capital of country {pk}?"},
            )
            for pk, _ in traces
        ),
        batch_size=5000,
    )  # fmt: skip
    schemas = [
        services.create_schema(
            experiment=experiment,
            fields=services.SchemaFields(
                name=name, kind=kind, title=f"{name}?", instruction="",
                enable_comment=True, target_span_type="", spec=parse_input(input_type, config),
            ),
        )
        for name, kind, input_type, config in (
            ("correct", "feedback", "pass_fail", {}),
            ("tone", "feedback", "categorical", {"options": ["warm", "neutral", "curt"]}),
            ("expected_answer", "expectation", "text", {}),
        )
    ]  # fmt: skip
    people = [User.objects.create(username=f"labeler{i}") for i in range(LABELERS)]
    session = LabelingSession.objects.create(
        experiment=experiment, name="Big campaign", labels_per_item=LABELERS, status="active"
    )
    for position, schema in enumerate(schemas, start=1):
        SessionSchema.objects.create(session=session, schema=schema, position=position)
    session.labelers.set(people)
    Item.objects.bulk_create(
        (Item(session=session, trace_id=pk, position=i, state="complete")
         for i, (pk, _) in enumerate(traces)),
        batch_size=5000,
    )  # fmt: skip
    item_rows = list(Item.objects.filter(session=session).values_list("pk", "trace_id"))
    Assignment.objects.bulk_create(
        (
            Assignment(item_id=item, labeler=user, state="submitted", claimed_at=now,
                       submitted_at=now)
            for item, _ in item_rows
            for user in people
        ),
        batch_size=5000,
    )  # fmt: skip
    assignment_ids = {
        (item, labeler): pk
        for pk, item, labeler in Assignment.objects.filter(item__session=session).values_list(
            "pk", "item_id", "labeler_id"
        )
    }

    def value(schema_name: str, agree: bool, base: int, who: int):
        pick = base if agree else base + who
        if schema_name == "correct":
            return pick % 2 == 0
        if schema_name == "tone":
            return ["warm", "neutral", "curt"][pick % 3]
        return f"City {pick % 7}"

    assessments, links = [], []
    for item, trace_pk in item_rows:
        for schema in schemas:
            agree = rng.random() > 0.35
            base = rng.randint(0, 20)
            for who, user in enumerate(people):
                row = Assessment(
                    trace_id=trace_pk, experiment=experiment, kind=schema.kind, name=schema.name,
                    source_type="HUMAN", source_id=user.username,
                    value=value(schema.name, agree, base, who),
                    rationale="Because the source says so." if who == 1 else "",
                )  # fmt: skip
                assessments.append(row)
                links.append((assignment_ids[(item, user.pk)], schema))
    Assessment.objects.bulk_create(assessments, batch_size=5000)
    Answer.objects.bulk_create(
        (
            Answer(assignment_id=assignment, schema=schema, schema_version=1, assessment=row)
            for (assignment, schema), row in zip(links, assessments, strict=True)
        ),
        batch_size=5000,
    )
    curator = User.objects.create(username="bench-curator", is_staff=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"session": session, "curator": curator, "answers": len(assessments)}


def timed(client: Client, url: str, runs: int, **headers) -> tuple[float, float, int]:
    """(median ms, median SQL ms, queries) of GET url."""
    client.get(url, headers=headers)
    samples, sql = [], []
    queries = 0
    for _ in range(runs):
        reset_queries()
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        if response.streaming:
            b"".join(response.streaming_content)
        samples.append((time.perf_counter() - start) * 1000)
        sql.append(sum(float(q["time"]) for q in connection.queries) * 1000)
        queries = len(connection.queries)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples), statistics.median(sql), queries


def stream(client: Client, url: str) -> tuple[float, int, float, int]:
    """(ms, bytes, peak MiB of Python allocations, queries) of consuming one streamed export.
    Timed in a plain run; the memory peak comes from a second run under tracemalloc (which
    slows Python down several times)."""
    reset_queries()
    start = time.perf_counter()
    size = sum(len(chunk) for chunk in client.get(url).streaming_content)
    elapsed = (time.perf_counter() - start) * 1000
    queries = len(connection.queries)
    tracemalloc.start()
    for _ in client.get(url).streaming_content:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, size, peak / 2**20, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    setup_test_environment()
    settings.DEBUG = True  # count queries
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        world = build(args.items)
        session = world["session"]
        print(
            f"database: {connection.vendor}; built {args.items:,} items x {LABELERS} labelers x "
            f"3 questions ({world['answers']:,} answers) in {time.perf_counter() - started:.1f} s"
        )
        client = Client()
        client.force_login(world["curator"])
        disagreements = reverse("campaign:disagreements", args=[session.pk])
        correct = session.schemas.get(name="correct")
        pages = [
            ("disagreements, page 1", disagreements, {}),
            ("disagreements, page 50", disagreements + "?page=50", {}),
            ("disagreements, one question (htmx)", f"{disagreements}?question={correct.pk}",
             {"HX-Request": "true"}),
            ("disagreements, settled too", disagreements + "?settled=1", {}),
            ("exports page (counts)", reverse("campaign:exports", args=[session.pk]), {}),
        ]  # fmt: skip
        from django.core.cache import cache

        cache.clear()
        reset_queries()
        start = time.perf_counter()
        client.get(disagreements)
        print(
            f"\ndisagreements, first load (scans the session): "
            f"{(time.perf_counter() - start) * 1000:.1f} ms, {len(connection.queries)} queries"
        )
        print(f"\n{'page (overview cached)':42} {'median ms':>10} {'SQL ms':>8} {'queries':>8}")
        for name, url, headers in pages:
            median, sql, queries = timed(client, url, args.runs, **headers)
            print(f"{name:42} {median:10.1f} {sql:8.1f} {queries:8d}")

        from labeling.campaign import adjudication
        from labeling.models import Item
        from labeling.results import load_cells

        overview = adjudication.overview(session)
        entry = overview.disagreements[0]
        item = Item.objects.get(pk=entry.item_id)
        cell = next(
            c
            for c in load_cells(session, item_ids=[item.pk])
            if c.question.schema.pk == entry.schema_id
        )
        reset_queries()
        start = time.perf_counter()
        response = client.post(
            reverse("campaign:settle", args=[session.pk, item.pk]),
            {"question": entry.schema_id, "pick": cell.answers[0].assessment_id},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200 and b"Settled:" in response.content
        print(
            f"{'settle one cell (htmx POST)':42} {(time.perf_counter() - start) * 1000:10.1f} "
            f"{'':8} {len(connection.queries):8d}"
        )
        print(
            f"\n{overview.unsettled:,} cells to settle; "
            f"{overview.unanimous.items:,} unanimous items"
        )

        print(
            f"\n{'export (streamed)':42} {'ms':>10} {'MiB out':>8} {'peak MiB':>9} {'queries':>8}"
        )
        for name, url_name in (
            ("results CSV", "export_csv"),
            ("results JSONL", "export_jsonl"),
            ("evaluation dataset JSONL", "eval_dataset"),
        ):
            ms, size, peak, queries = stream(
                client, reverse(f"campaign:{url_name}", args=[session.pk])
            )
            print(f"{name:42} {ms:10.1f} {size / 2**20:8.2f} {peak:9.1f} {queries:8d}")

        start = time.perf_counter()
        result = adjudication.accept_unanimous(session=session, adjudicator=world["curator"])
        print(
            f"\n{'bulk accept unanimous':42} {(time.perf_counter() - start) * 1000:10.1f} ms: "
            f"{result.items:,} items, {result.answers:,} answers"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
