"""Benchmark of the disagreements view, adjudication and exports on a large campaign.

Builds, in a throwaway test database, a session of N items (default 10,000) with 3 labelers
answering 3 questions each (pass/fail, categorical, a text expectation; about a third of the
cells disagree), every trace with a root span, and counts the results' tallies for it (as the
migration does for existing data). Then prints the server time (median of several runs) and
query count of the disagreements pages, one settle, the exports page, each streamed export
(time, bytes, peak Python memory while streaming) and the bulk accept.

On PostgreSQL it first serves the campaign from two gunicorn processes (one worker each) and,
`--rounds` times, changes one answer through the review app and then loads the disagreements
page, the agreement page, the labelers page and the session dashboard from each process; it
prints the median, p95 and worst of each page (every process's first request included).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/adjud_bench \\
        .venv/bin/python bench/adjudication.py --items 100000
    .venv/bin/python bench/adjudication.py --items 2000      # SQLite, smaller, not served
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
os.environ.setdefault("SECURE_COOKIES", "0")  # plain HTTP: no redirect to HTTPS

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


def existing(items: int) -> dict | None:
    """The campaign of an earlier `--keep` run of the same size, if the database holds one."""
    from labeling.models import Answer, LabelingSession

    session = LabelingSession.objects.filter(name="Big campaign").first()
    if session is None or session.items.count() != items:
        return None
    return {
        "session": session,
        "curator": User.objects.get(username="bench-curator"),
        "answers": Answer.objects.filter(assignment__item__session=session).count(),
        "kept": True,
    }


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


def cookie_for(user) -> str:
    """A signed-in browser session of `user` (and a CSRF cookie), as a Cookie header."""
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return (
        f"{settings.SESSION_COOKIE_NAME}={store.session_key}; "
        f"{settings.CSRF_COOKIE_NAME}={CSRF_TOKEN}"
    )


CSRF_TOKEN = "b" * 32
SERVED_PAGES = ("disagreements", "agreement", "labelers", "dashboard")


def served(world: dict, rounds: int, first_port: int) -> None:
    """Two gunicorn processes on the bench database: after each changed answer (a labeler
    submits an item again, through the review app), every page from each process."""
    import http.client
    import urllib.parse

    from bench.review_load import start_gunicorn
    from labeling.models import Assignment

    session = world["session"]
    params = connection.settings_dict
    os.environ["DATABASE_URL"] = (
        f"postgres://{params['USER']}@{params['HOST'] or '127.0.0.1'}:"
        f"{params['PORT'] or 5432}/{params['NAME']}"
    )
    labeler = session.labelers.order_by("username").first()
    mine = list(
        Assignment.objects.filter(item__session=session, labeler=labeler)
        .order_by("item__position")
        .values_list("item_id", flat=True)[:rounds]
    )
    schemas = {s.name: s.pk for s in session.schemas.all()}
    lead, worker = cookie_for(world["curator"]), cookie_for(labeler)
    urls = {
        "disagreements": reverse("campaign:disagreements", args=[session.pk]),
        "agreement": reverse("campaign:agreement", args=[session.pk]),
        "labelers": reverse("campaign:labelers", args=[session.pk]),
        "dashboard": reverse("console:session_detail", args=[session.pk]),
    }
    ports = [first_port, first_port + 1]
    servers = [start_gunicorn(workers=1, threads=1, port=port) for port in ports]
    samples: dict[str, list[float]] = {name: [] for name in (*SERVED_PAGES, "submit")}
    firsts: dict[str, list[float]] = {name: [] for name in SERVED_PAGES}
    try:
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=120) for port in ports]

        def get(conn, path: str, cookie: str, method: str = "GET", body: dict | None = None):
            headers = {"Cookie": cookie, "X-CSRFToken": CSRF_TOKEN}
            data = None
            if body is not None:
                data = urllib.parse.urlencode(body, doseq=True)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            start = time.perf_counter()
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status in (200, 302), (path, response.status)
            return elapsed

        for index, item_id in enumerate(mine):
            answer = {
                f"q-{schemas['correct']}": "true" if index % 2 else "false",
                f"q-{schemas['tone']}": ["warm", "neutral", "curt"][index % 3],
                f"q-{schemas['expected_answer']}": f"City {index % 5}",
            }
            path = reverse("review:submit", args=[session.pk, item_id])
            samples["submit"].append(get(conns[index % 2], path, worker, "POST", answer))
            for conn in conns:
                for name in SERVED_PAGES:
                    elapsed = get(conn, urls[name], lead)
                    samples[name].append(elapsed)
                    if index == 0:
                        firsts[name].append(elapsed)
        for conn in conns:
            conn.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=15)

    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    print(
        f"\nserved by 2 gunicorn processes, {rounds} rounds of one changed answer then every "
        f"page from each process (first requests included)"
    )
    print(f"{'page':28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'first ms':>16}")
    for name, values in samples.items():
        first = " / ".join(f"{v:.0f}" for v in firsts.get(name, []))
        print(
            f"{name:28} {statistics.median(values):10.1f} {p95(values):8.1f} "
            f"{max(values):8.1f} {first:>16}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20, help="served rounds (PostgreSQL)")
    parser.add_argument("--port", type=int, default=8116, help="first of two server ports")
    parser.add_argument("--no-exports", action="store_true", help="skip the streamed exports")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database afterwards, and use it as it is when it holds the campaign",
    )
    args = parser.parse_args()

    setup_test_environment()
    settings.DEBUG = True  # count queries
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep)
    try:
        started = time.perf_counter()
        world = existing(args.items) if args.keep else None
        world = world or build(args.items)
        session = world["session"]
        print(
            f"database: {connection.vendor}; built {args.items:,} items x {LABELERS} labelers x "
            f"3 questions ({world['answers']:,} answers) in {time.perf_counter() - started:.1f} s"
        )
        from labeling.tallies import rebuild_session

        started = time.perf_counter()
        rebuild_session(session)  # also on a kept database: the counting code may have changed
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"results' tallies counted in {time.perf_counter() - started:.1f} s")
        if connection.vendor == "postgresql" and args.rounds:
            served(world, args.rounds, args.port)
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
            ("agreement", reverse("campaign:agreement", args=[session.pk]), {}),
            ("labelers", reverse("campaign:labelers", args=[session.pk]), {}),
            ("session dashboard", reverse("console:session_detail", args=[session.pk]), {}),
            ("session dashboard (htmx poll)",
             reverse("console:session_detail", args=[session.pk]), {"HX-Request": "true"}),
        ]  # fmt: skip
        print(f"\n{'page (test client)':42} {'median ms':>10} {'SQL ms':>8} {'queries':>8}")
        for name, url, headers in pages:
            median, sql, queries = timed(client, url, args.runs, **headers)
            print(f"{name:42} {median:10.1f} {sql:8.1f} {queries:8d}")

        from labeling.campaign import adjudication
        from labeling.models import Item
        from labeling.results import load_cells

        overview = adjudication.overview(session)
        item_id, schema_id, _ = adjudication.disagreement_cells(session)[0]
        item = Item.objects.get(pk=item_id)
        cell = next(
            c for c in load_cells(session, item_ids=[item.pk]) if c.question.schema.pk == schema_id
        )
        reset_queries()
        start = time.perf_counter()
        response = client.post(
            reverse("campaign:settle", args=[session.pk, item.pk]),
            {"question": schema_id, "pick": cell.answers[0].assessment_id},
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
            ()
            if args.no_exports
            else (
                ("results CSV", "export_csv"),
                ("results JSONL", "export_jsonl"),
                ("evaluation dataset JSONL", "eval_dataset"),
            )
        ):
            ms, size, peak, queries = stream(
                client, reverse(f"campaign:{url_name}", args=[session.pk])
            )
            print(f"{name:42} {ms:10.1f} {size / 2**20:8.2f} {peak:9.1f} {queries:8d}")

        # Bulk accept as the app runs it: a background job (here its task is called in this
        # process, as the worker would), committing and reporting progress batch by batch.
        from labeling.campaign import jobs
        from labeling.models import Job

        job = Job.objects.create(
            kind=jobs.ACCEPT_UNANIMOUS, session=session, created_by=world["curator"],
            total=adjudication.count_unanimous(session).items,
        )  # fmt: skip
        start = time.perf_counter()
        result = jobs.accept_unanimous_task.call(job.pk)
        job.refresh_from_db()
        elapsed = (time.perf_counter() - start) * 1000
        print(
            f"\n{'bulk accept unanimous (job)':42} {elapsed:10.1f} ms: "
            f"{result['items']:,} items, {result['answers']:,} answers, "
            f"{-(-job.total // jobs.BATCH_SIZE)} progress steps, job {job.state} "
            f"({job.done:,} of {job.total:,})"
        )
    finally:
        if args.keep:
            connection.close()
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
