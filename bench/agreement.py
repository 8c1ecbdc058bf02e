"""Benchmark of the agreement figures and the per-labeler statistics on a large campaign.

Builds, in a throwaway test database, a session of N items (default 10,000) each labeled by 3
of 4 labelers on four questions (pass/fail, categorical, numeric 1-5, free text), with an LLM
judge on the pass/fail question, then times `session_agreement`, `labeler_statistics` and the
campaign pages (median of several runs), and prints the figures.

    .venv/bin/python bench/agreement.py                   # SQLite, 10,000 items
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agree_bench .venv/bin/python bench/agreement.py
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
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

QUESTIONS = (
    ("correct", "pass_fail", {}),
    ("tone", "categorical", {"options": ["warm", "neutral", "curt"]}),
    ("score", "numeric", {"min_value": 1, "max_value": 5}),
    ("note", "text", {}),
)


def answer(rng: random.Random, name: str, truth: int):
    """A labeler's answer: right most of the time, with the kind of noise each question has."""
    if name == "correct":
        return bool(truth % 2) if rng.random() < 0.85 else not bool(truth % 2)
    if name == "tone":
        return ["warm", "neutral", "curt"][truth % 3 if rng.random() < 0.75 else rng.randrange(3)]
    if name == "score":
        return min(5, max(1, 1 + truth % 5 + rng.choice([0, 0, 0, 1, -1])))
    return f"note {truth % 50}" if rng.random() < 0.6 else f"free text {rng.randrange(10**6)}"


def build(items: int) -> dict:
    from labeling import services
    from labeling.inputs import parse_input
    from labeling.models import Answer, Assignment, Item, LabelingSession, SessionSchema
    from traces.models import Assessment, Experiment, Trace

    rng = random.Random(1)
    now = timezone.now()
    experiment = Experiment.objects.create(name="bench-agreement")
    Trace.objects.bulk_create(
        (
            Trace(experiment=experiment, trace_id=f"tr-{i:032x}", request_time=now)
            for i in range(items)
        ),
        batch_size=5000,
    )
    traces = list(Trace.objects.filter(experiment=experiment).values_list("pk", flat=True))
    people = [User.objects.create(username=f"labeler{i}") for i in range(4)]
    schemas = [
        services.create_schema(
            experiment=experiment,
            fields=services.SchemaFields(
                name=name, kind="feedback", title=f"{name}?", instruction="",
                enable_comment=False, target_span_type="", spec=parse_input(kind, config),
            ),
        )
        for name, kind, config in QUESTIONS
    ]  # fmt: skip
    session = LabelingSession.objects.create(
        experiment=experiment, name="Big campaign", labels_per_item=3, status="active"
    )
    for position, schema in enumerate(schemas):
        SessionSchema.objects.create(session=session, schema=schema, position=position)
    session.labelers.set(people)
    Item.objects.bulk_create(
        (Item(session=session, trace_id=pk, position=i) for i, pk in enumerate(traces)),
        batch_size=5000,
    )
    assignments = []
    for index, item_pk in enumerate(session.items.order_by("pk").values_list("pk", flat=True)):
        for labeler in rng.sample(people, 3):
            claimed = now - timedelta(days=7) + timedelta(seconds=index * 50)
            assignments.append(
                Assignment(
                    item_id=item_pk, labeler=labeler, state="submitted", claimed_at=claimed,
                    submitted_at=claimed + timedelta(seconds=rng.randint(20, 300)),
                )
            )  # fmt: skip
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    rows = Assignment.objects.filter(item__session=session).values_list(
        "pk", "item__trace_id", "labeler__username"
    )
    assessments, links = [], []
    for assignment_pk, trace_pk, username in rows:
        for schema in schemas:
            assessment = Assessment(
                trace_id=trace_pk, experiment=experiment, kind="feedback", name=schema.name,
                source_type="HUMAN", source_id=username,
                value=answer(rng, schema.name, trace_pk),
            )  # fmt: skip
            assessments.append(assessment)
            links.append((assignment_pk, schema, assessment))
    Assessment.objects.bulk_create(assessments, batch_size=5000)
    Answer.objects.bulk_create(
        (
            Answer(assignment_id=a, schema=s, schema_version=s.version, assessment=x)
            for a, s, x in links
        ),
        batch_size=5000,
    )
    Assessment.objects.bulk_create(
        (
            Assessment(
                trace_id=pk, experiment=experiment, kind="feedback", name="correct",
                source_type="LLM_JUDGE", source_id="judge", value=answer(rng, "correct", pk),
            )
            for pk in traces
        ),
        batch_size=5000,
    )  # fmt: skip
    services.refresh_item_states(session=session)
    curator = User.objects.create(username="bench-curator", is_staff=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"session": session, "curator": curator, "answers": len(links)}


def timed(call, runs: int, *, cold: bool = True) -> tuple[float, int]:
    """(median ms, queries of the last run); `cold` empties the cache before each run."""
    from django.core.cache import cache

    samples = []
    for _ in range(runs):
        if cold:
            cache.clear()
        reset_queries()
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), len(connection.queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    setup_test_environment()
    settings.DEBUG = True  # count queries
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from labeling.campaign.agreement import session_agreement
        from labeling.campaign.labelers import labeler_statistics

        started = time.perf_counter()
        world = build(args.items)
        session = world["session"]
        print(
            f"database: {connection.vendor}; built {args.items:,} items x 3 labelers, "
            f"{world['answers']:,} answers in {time.perf_counter() - started:.1f} s\n"
        )
        results = session_agreement(session)
        for result in results:
            print(
                f"{result.question.name:8} n={result.alpha.n:6,}  "
                f"percent={result.percent.value:.3f}  alpha={result.alpha.value:.3f} "
                f"({result.alpha.reading}); kappa pairs={result.kappa.pairs}"
                + "".join(
                    f"; {judge.label}: alpha={judge.alpha.value:.3f} n={judge.alpha.n:,}"
                    for judge in result.judges
                )
            )
        print(f"\n{'computation':42} {'median ms':>10} {'queries':>8}")
        median, queries = timed(lambda: session_agreement(session), args.runs)
        print(f"{'session_agreement':42} {median:10.1f} {queries:8d}")
        median, queries = timed(lambda: session_agreement(session), args.runs, cold=False)
        print(f"{'session_agreement, cached':42} {median:10.1f} {queries:8d}")
        median, queries = timed(lambda: labeler_statistics(session), args.runs)
        print(f"{'labeler_statistics':42} {median:10.1f} {queries:8d}")

        client = Client()
        client.force_login(world["curator"])
        agreement = reverse("campaign:agreement", args=[session.pk])
        pages = [
            ("agreement page", agreement, {}, True),
            ("agreement page, cached", agreement, {}, False),
            ("dashboard summary (htmx), cached", agreement, {"HX-Request": "true"}, False),
            ("labelers page", reverse("campaign:labelers", args=[session.pk]), {}, True),
            ("session dashboard", reverse("console:session_detail", args=[session.pk]), {}, True),
        ]
        for name, url, headers, cold in pages:

            def get(url=url, headers=headers):
                assert client.get(url, headers=headers).status_code == 200

            median, queries = timed(get, args.runs, cold=cold)
            print(f"{name:42} {median:10.1f} {queries:8d}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
