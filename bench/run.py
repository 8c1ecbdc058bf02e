"""Server time of the trace explorer's pages on the benchmark data (see bench/generate.py).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/explorer_bench \\
        .venv/bin/python -m bench.run [--runs 15]

Requests go through the whole Django stack in-process (middleware, sessions, views, templates)
with the test client, signed in as a labeler; DEBUG is off as in production. Prints the median,
p95 and fastest time of each page over --runs runs (after two warm-up runs), its query count
and size. Targets: list pages under 150 ms, the 5,000-span trace page under 500 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.generate import BIG_TRACE_ID, EXPERIMENT, setup_django

TARGETS_MS = {"list": 150, "trace": 500}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
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
    user, _ = User.objects.get_or_create(username="bench-labeler")
    client = Client()
    client.force_login(user)
    trace_count = experiment.traces.count()
    deep_page = max(1, trace_count // 50 - 10)
    span = (
        Span.objects.filter(trace__trace_id=BIG_TRACE_ID, span_type="RETRIEVER")
        .order_by("start_time_ns")
        .values_list("span_id", flat=True)[1000:1001]
    )
    span_id = span[0] if span else ""
    base = f"/experiments/{experiment.pk}/"
    cases = [
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
        f"{connection.vendor}, {trace_count:,} traces in {EXPERIMENT}; {args.runs} runs each; "
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
        ok = median < TARGETS_MS[group]
        failed |= not ok
        print(
            f"{label:<44} {median:>6.1f}ms {p95:>6.1f}ms {times[0]:>6.1f}ms "
            f"{len(queries):>8} {len(response.content) / 1024:>6.0f}  "
            f"{'ok' if ok else 'SLOW'} (< {TARGETS_MS[group]} ms)"
        )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
