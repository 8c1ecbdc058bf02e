"""Server time of the trace explorer's pages on the benchmark data (see bench/generate.py).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/explorer_bench \\
        .venv/bin/python -m bench.run [--runs 15]

Requests go through the whole Django stack in-process (middleware, sessions, views, templates)
with the test client, signed in as a curator (who sees every trace); with `--as labeler`, as a
labeler assigned to an active labeling session holding --assigned traces of the experiment
(spread over its whole time range, the 5,000-span trace among them), who sees only those.
DEBUG is off as in production. Prints the median,
p95 and fastest time of each page over --runs runs (after two warm-up runs), its query count
and size. Targets: list pages under 150 ms, the 5,000-span trace page under 500 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.generate import BIG_TRACE_ID, EXPERIMENT, setup_django

TARGETS_MS = {"list": 150, "trace": 500, "count": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--as", dest="role", choices=["curator", "labeler"], default="curator")
    parser.add_argument(
        "--assigned",
        type=int,
        default=1000,
        help="with --as labeler: how many traces their labeling session holds",
    )
    args = parser.parse_args()
    os.environ["DEBUG"] = "0"
    setup_django()

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from traces.models import Experiment, Span

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    experiment = Experiment.objects.filter(name=EXPERIMENT).first()
    if experiment is None:
        raise SystemExit(f"No {EXPERIMENT!r} experiment: run `python -m bench.generate` first.")
    if args.role == "curator":
        user, _ = User.objects.get_or_create(username="bench-curator", defaults={"is_staff": True})
        trace_count = experiment.traces.count()
    else:
        user, _ = User.objects.get_or_create(username="bench-labeler")
        trace_count = assign_labeler(user, experiment, args.assigned)
    client = Client()
    client.force_login(user)
    deep_page = max(1, trace_count // 50 - 10)
    span = (
        Span.objects.filter(trace__trace_id=BIG_TRACE_ID, span_type="RETRIEVER")
        .order_by("start_time_ns")
        .values_list("span_id", flat=True)[1000:1001]
    )
    span_id = span[0] if span else ""
    base = f"/experiments/{experiment.pk}/"
    cases = [
        ("list", "experiments page", "/experiments/", {}),
        ("list", "list: first page", base, {}),
        (
            "list",
            "list: errors labelled correctness=false",
            base + "?state=ERROR&label=correctness&value=false",
            {},
        ),
        ("list", "list: search 'waterproof'", base + "?q=waterproof", {}),
        (
            "list",
            "list: lacks label 'tone', tag env=staging",
            base + "?presence=lacks&label=tone&tag=env%3Dstaging",
            {},
        ),
        ("list", "list: slowest first", base + "?sort=-duration", {}),
        ("list", f"list: deep page {deep_page:,}", base + f"?page={deep_page}", {}),
        ("list", "list: HTMX page 2 (partial)", base + "?page=2", {"HTTP_HX_REQUEST": "true"}),
        ("count", "count (after the rows): all traces", base + "count/", {}),
        (
            "count",
            "count: errors labelled correctness=false",
            base + "count/?state=ERROR&label=correctness&value=false",
            {},
        ),
        ("count", "count: search 'waterproof'", base + "count/?q=waterproof", {}),
        ("trace", "trace: 5,000 spans", f"/traces/{BIG_TRACE_ID}/", {}),
        (
            "trace",
            "trace: 5,000 spans, span selected",
            f"/traces/{BIG_TRACE_ID}/?span={span_id}",
            {},
        ),
        (
            "trace",
            "trace: select a span (HTMX partial)",
            f"/traces/{BIG_TRACE_ID}/?span={span_id}",
            {"HTTP_HX_REQUEST": "true"},
        ),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{connection.vendor}, {trace_count:,} traces in {EXPERIMENT} seen by the {args.role}; "
        f"{args.runs} runs each; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs\n"
    )
    print(f"{'page':<44} {'median':>8} {'p95':>8} {'min':>8} {'queries':>8} {'KB':>6}  target")
    failed = False
    for group, label, url, headers in cases:
        for _ in range(2):
            response = client.get(url, **headers)
            assert response.status_code == 200, (url, response.status_code)
        queries: list[str] = []

        def count(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(url, **headers)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get(url, **headers)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        median = statistics.median(times)
        target = TARGETS_MS[group]
        verdict = "" if target is None else f"{'ok' if median < target else 'SLOW'} (< {target} ms)"
        failed |= target is not None and median >= target
        print(
            f"{label:<44} {median:>6.1f}ms {p95:>6.1f}ms {times[0]:>6.1f}ms "
            f"{len(queries):>8} {len(response.content) / 1024:>6.0f}  {verdict}"
        )
    raise SystemExit(1 if failed else 0)


def assign_labeler(user, experiment, assigned: int) -> int:
    """An active session "bench: <user>" with `assigned` traces of the experiment (every k-th
    by time, and the big trace), `user` its labeler; returns how many traces they see."""
    from labeling.models import Item, LabelingSession
    from traces.models import Trace

    session, _ = LabelingSession.objects.get_or_create(
        experiment=experiment,
        name=f"bench: {user.get_username()}",
        defaults={"status": "active"},
    )
    session.labelers.add(user)
    if session.items.count() != assigned:
        session.items.all().delete()
        pks = list(
            Trace.objects.filter(experiment=experiment)
            .order_by("request_time")
            .values_list("pk", flat=True)
        )
        step = max(1, len(pks) // max(1, assigned - 1))
        chosen = pks[::step][: assigned - 1]
        chosen += list(Trace.objects.filter(trace_id=BIG_TRACE_ID).values_list("pk", flat=True))
        Item.objects.bulk_create(
            [Item(session=session, trace_id=pk, position=i) for i, pk in enumerate(chosen)],
            ignore_conflicts=True,
        )
    return session.items.count()


if __name__ == "__main__":
    main()
