"""Benchmark: the HTTP API under load: OTLP ingest (spans/s) and assessment creation over the
MLflow REST path (requests/s), against a real server.

    .venv/bin/python bench/api_bench.py          # PostgreSQL api_bench, gunicorn with 4 workers
    .venv/bin/python bench/api_bench.py --url http://127.0.0.1:8000 --token rva_…  # a running one

By default the script prepares the database in DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/api_bench: created when missing, migrated), a curator and an
API token, starts gunicorn (WORKERS workers on 127.0.0.1:PORT), runs both benchmarks, stops the
server and deletes the benchmark's experiment. Requests are built before the clock starts.

1. OTLP: REQUESTS protobuf ExportTraceServiceRequests of SPANS_PER_REQUEST spans each (traces
   of SPANS_PER_TRACE spans with MLflow and GenAI attributes, a few hundred bytes of inputs and
   outputs per span) posted to /v1/traces by CLIENTS threads.
2. Assessments: ASSESSMENTS POST /api/3.0/mlflow/traces/{id}/assessments (feedback with a
   rationale, as `mlflow.log_feedback` sends it) spread over the ingested traces, by CLIENTS
   threads.

Traffic goes to the loopback interface only; every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/api_bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start gunicorn)")
    parser.add_argument("--token", help="API token for --url")
    parser.add_argument("--experiment-id", help="experiment for --url (default: create one)")
    parser.add_argument("--port", type=int, default=8207)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--requests", type=int, default=200, help="OTLP requests")
    parser.add_argument("--spans-per-request", type=int, default=200)
    parser.add_argument("--spans-per-trace", type=int, default=20)
    parser.add_argument("--assessments", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=300, help="per benchmark")
    return parser.parse_args()


# --- server ---------------------------------------------------------------------------------------


def prepare_database(url: str) -> tuple[str, str]:
    """Migrate, and return (API token, experiment id)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    if url.startswith(("postgres://", "postgresql://")):
        from bench.import_bench import create_postgres_database

        create_postgres_database(url)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from accounts.services import create_api_token
    from traces.models import Experiment

    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="api-bench", defaults={"is_staff": True})
    _, token = create_api_token(user=user, name="api benchmark")
    experiment = Experiment.objects.create(name=f"api bench {uuid.uuid4().hex[:8]}")
    return token, str(experiment.pk)


def delete_experiment(experiment_id: str) -> None:
    from traces.models import Experiment

    Experiment.objects.filter(pk=int(experiment_id)).delete()


def start_gunicorn(args: argparse.Namespace, database_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
        "PYTHONWARNINGS": "ignore:No directory at",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "reviewapp.wsgi",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


# --- load -----------------------------------------------------------------------------------------


def loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"Refusing {url}: this benchmark only sends traffic to loopback.")
    return parts.hostname, parts.port or 80


def run_load(
    host: str,
    port: int,
    jobs: list[tuple[str, str, bytes, dict[str, str]]],
    *,
    clients: int,
    max_seconds: float,
) -> tuple[float, list[float], int]:
    """Send `jobs` (method, path, body, headers) from `clients` keep-alive connections.
    Returns (elapsed seconds, latencies, failures)."""
    lock = threading.Lock()
    queue = list(reversed(jobs))
    latencies: list[float] = []
    failures = [0]
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=120)
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    return
                method, path, body, headers = queue.pop()
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    failures[0] += 1
                    if failures[0] <= 3:
                        print(f"  {response.status}: {payload[:200]!r}", file=sys.stderr)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, failures[0]


def otlp_jobs(args: argparse.Namespace, token: str, experiment_id: str) -> tuple[list, list[str]]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    rng = random.Random(7)
    base = time.time_ns()
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 4
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/x-protobuf",
        "x-mlflow-experiment-id": experiment_id,
    }
    jobs, trace_ids = [], []
    span_number = 0
    for _ in range(args.requests):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        attribute = resource_spans.resource.attributes.add()
        attribute.key, attribute.value.string_value = "service.name", "bench-app"
        spans = resource_spans.scope_spans.add().spans
        for _ in range(args.spans_per_request):
            index = span_number % args.spans_per_trace
            if index == 0:
                trace_bytes = rng.randbytes(16)
                trace_ids.append(f"tr-{trace_bytes.hex()}")
                root_id = rng.randbytes(8)
            span = spans.add()
            span.trace_id = trace_bytes
            span.span_id = root_id if index == 0 else rng.randbytes(8)
            if index:
                span.parent_span_id = root_id
            start = base + span_number * 1000
            span.name = "app" if index == 0 else f"step-{index}"
            span.start_time_unix_nano = start
            span.end_time_unix_nano = start + (10_000_000 if index == 0 else 500_000)
            span.status.code = 1
            for key, value in (
                ("mlflow.spanType", "CHAIN" if index == 0 else "CHAT_MODEL"),
                ("mlflow.spanInputs", json.dumps({"question": text[: rng.randint(80, 200)]})),
                ("mlflow.spanOutputs", json.dumps(text)),
                ("gen_ai.request.model", "gpt-4o-mini"),
            ):
                kv = span.attributes.add()
                kv.key, kv.value.string_value = key, value
            if index:
                for key, count in (
                    ("gen_ai.usage.input_tokens", 120),
                    ("gen_ai.usage.output_tokens", 40),
                ):
                    kv = span.attributes.add()
                    kv.key, kv.value.int_value = key, count
            span_number += 1
        jobs.append(("POST", "/v1/traces", request.SerializeToString(), headers))
    return jobs, trace_ids


def assessment_jobs(args: argparse.Namespace, token: str, trace_ids: list[str]) -> list:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    jobs = []
    for number in range(args.assessments):
        trace_id = trace_ids[number % len(trace_ids)]
        body = {
            "assessment": {
                "assessment_name": ("correctness", "helpfulness", "tone")[number % 3],
                "trace_id": trace_id,
                "source": {"source_type": "HUMAN", "source_id": f"expert-{number % 7}"},
                "feedback": {"value": number % 2 == 0},
                "rationale": "Checked against the reference answer.",
                "metadata": {"bench": "1"},
            }
        }
        path = f"/api/3.0/mlflow/traces/{trace_id}/assessments"
        jobs.append(("POST", path, json.dumps(body).encode(), headers))
    return jobs


def report(name: str, count: int, unit: str, elapsed: float, latencies: list[float], failures: int):
    done = len(latencies)
    ms = sorted(latency * 1000 for latency in latencies) or [0.0]
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(
        f"{name}: {count:,} {unit} in {elapsed:.1f} s = {count / elapsed:,.0f} {unit}/s "
        f"({done:,} requests, {done / elapsed:,.1f} requests/s, "
        f"latency p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, {failures} failed)"
    )


def main() -> None:
    args = parse_args()
    server = None
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE
    if args.url:
        if not args.token or not args.experiment_id:
            raise SystemExit("--url needs --token and --experiment-id")
        host, port = loopback(args.url)
        token, experiment_id = args.token, args.experiment_id
    else:
        token, experiment_id = prepare_database(database_url)
        server = start_gunicorn(args, database_url)
        host, port = "127.0.0.1", args.port
    try:
        print(
            f"Server: {args.url or f'gunicorn, {args.workers} workers'} on "
            f"{database_url.rsplit('@', 1)[-1] if not args.url else host}; "
            f"{args.clients} client threads; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
        )
        jobs, trace_ids = otlp_jobs(args, token, experiment_id)
        megabytes = sum(len(job[2]) for job in jobs) / 1e6
        print(
            f"OTLP: {len(jobs)} protobuf requests of {args.spans_per_request} spans "
            f"({len(trace_ids)} traces of {args.spans_per_trace} spans, {megabytes:.1f} MB)"
        )
        elapsed, latencies, failures = run_load(
            host, port, jobs, clients=args.clients, max_seconds=args.max_seconds
        )
        sent = len(latencies) * args.spans_per_request
        report("OTLP ingest", sent, "spans", elapsed, latencies, failures)

        jobs = assessment_jobs(args, token, trace_ids)
        elapsed, latencies, failures = run_load(
            host, port, jobs, clients=args.clients, max_seconds=args.max_seconds
        )
        report("Assessment create", len(latencies), "assessments", elapsed, latencies, failures)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            delete_experiment(experiment_id)


if __name__ == "__main__":
    main()
