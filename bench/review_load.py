"""Load test of the review app: N simulated labelers doing claim → submit & next.

By default it starts gunicorn itself on the database of DATABASE_URL (PostgreSQL for figures
worth reporting) and stops it afterwards:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/review_bench \\
        .venv/bin/python bench/review_load.py --workers 4 --labelers 50 --think 1 --duration 60

or point it at a running server that uses the same database with --url (it creates the
labelers, a session of items and signed-in browser sessions in that database first).

Each labeler is a thread with its own HTTP connection. It claims its first item (POST
/review/<session>/next/), opens the item page, then loops: think for a moment (--think seconds,
±50 %), submit its answers the way the page does (one HTMX POST that stores the answers and
returns the next item), until the time is up or nothing is left. It prints the settings, then
throughput and latency percentiles per kind of request, the CPU time the server processes used
per request (when it started them; Linux), and the server-side figures a curator would check
afterwards (items complete, labels stored, no item over-labeled).

Options: --labelers N (50), --items M (5000), --labels-per-item K (1), --duration S (60),
--think S (1.0; 0 = as fast as possible), --workers W (4), --threads T (1: gunicorn's sync
workers, as in the README; more makes them gthread workers), --port P (a free one), --url (use
a running server instead).
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import secrets
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    # The bench signs its labelers' browser sessions with the key the server it starts uses.
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    import django

    django.setup()


# --- the campaign (created through the ORM, in the server's database) ---------------------------


@dataclass
class Question:
    field: str
    choices: list[str]


@dataclass
class Campaign:
    session_id: int
    questions: list[Question]
    cookies: dict[str, str]  # username → Cookie header value
    csrf_token: str

    def answers(self, rng: random.Random) -> dict[str, str]:
        return {q.field: rng.choice(q.choices) for q in self.questions}


def create_campaign(
    *, labelers: int, items: int, labels_per_item: int = 1, prefix: str = "bench"
) -> Campaign:
    """Labelers, an active session of `items` traces (a chat root span and a retriever each),
    three questions, and a signed-in browser session per labeler (in whatever session engine
    the settings name, so the bench works whichever the server uses)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.utils import timezone

    from labeling.models import Item, LabelingSchema, LabelingSession, SessionSchema
    from traces.models import Experiment, Span, Trace

    run = f"{prefix}-{int(time.time() * 1000)}-{secrets.token_hex(3)}"
    with transaction.atomic():
        experiment = Experiment.objects.create(name=run)
        schemas = [
            LabelingSchema.objects.create(
                experiment=experiment,
                name="correct",
                title="Is the answer correct?",
                input_type="pass_fail",
                enable_comment=True,
            ),
            LabelingSchema.objects.create(
                experiment=experiment,
                name="tone",
                title="Tone?",
                input_type="categorical",
                input_config={"options": ["friendly", "neutral", "curt"]},
            ),
            LabelingSchema.objects.create(
                experiment=experiment,
                name="helpfulness",
                title="Helpfulness (1-5)?",
                input_type="numeric",
                input_config={"min_value": 1, "max_value": 5},
            ),
        ]
        session = LabelingSession.objects.create(
            experiment=experiment,
            name=run,
            status="active",
            labels_per_item=labels_per_item,
            instructions="Judge the answer against the retrieved documents.",
        )
        SessionSchema.objects.bulk_create(
            SessionSchema(session=session, schema=schema, position=i)
            for i, schema in enumerate(schemas)
        )
        password = make_password(None)  # unusable: these users only sign in through the bench
        users = User.objects.bulk_create(
            User(username=f"{run}-labeler-{i}", password=password) for i in range(labelers)
        )
        users = list(User.objects.filter(username__startswith=f"{run}-labeler-"))
        session.labelers.add(*users)
        now = timezone.now()
        traces = Trace.objects.bulk_create(
            Trace(
                experiment=experiment,
                trace_id=f"tr-{secrets.token_hex(16)}",
                request_time=now,
                execution_duration=900 + i % 400,
                request_preview=f'{{"question": "Question number {i}?"}}',
                response_preview='"An answer."',
            )
            for i in range(items)
        )
        base = 1_700_000_000_000_000_000
        spans = []
        for i, trace in enumerate(traces):
            question = f"How do I do thing number {i} with the product?"
            spans.append(
                Span(
                    trace=trace,
                    span_id="0000000000000001",
                    name="support_agent",
                    span_type="AGENT",
                    start_time_ns=base,
                    end_time_ns=base + 900_000_000,
                    status_code="OK",
                    inputs={
                        "messages": [
                            {"role": "system", "content": "You are a helpful support agent."},
                            {"role": "user", "content": question},
                        ]
                    },
                    outputs={
                        "choices": [
                            {
                                "message": {
                                    "role": "assistant",
                                    "content": "Open Settings, then Account, and follow the "
                                    "steps shown there. " * 4,
                                }
                            }
                        ]
                    },
                )
            )
            spans.append(
                Span(
                    trace=trace,
                    span_id="0000000000000002",
                    parent_id="0000000000000001",
                    name="search_docs",
                    span_type="RETRIEVER",
                    start_time_ns=base + 1000,
                    end_time_ns=base + 200_000_000,
                    status_code="OK",
                    inputs={"query": question},
                    outputs=[
                        {"page_content": f"Document {d} about the product. " * 8, "metadata": {}}
                        for d in range(3)
                    ],
                )
            )
        Span.objects.bulk_create(spans, batch_size=1000)
        Item.objects.bulk_create(
            (Item(session=session, trace=trace, position=i) for i, trace in enumerate(traces)),
            batch_size=1000,
        )

        csrf_token = "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(32)
        )
        session_store = import_module(settings.SESSION_ENGINE).SessionStore
        cookies = {}
        for user in users:
            store = session_store()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            # Every backend creates a new session on its first save (the database, cache and
            # file ones store it under a new key; with signed cookies the key is the data).
            store.save()
            cookies[user.username] = (
                f"{settings.SESSION_COOKIE_NAME}={store.session_key}; "
                f"{settings.CSRF_COOKIE_NAME}={csrf_token}"
            )

    questions = [
        Question(field=f"q-{schemas[0].pk}", choices=["true", "false"]),
        Question(field=f"q-{schemas[1].pk}", choices=["friendly", "neutral", "curt"]),
        Question(field=f"q-{schemas[2].pk}", choices=["1", "2", "3", "4", "5"]),
    ]
    return Campaign(
        session_id=session.pk, questions=questions, cookies=cookies, csrf_token=csrf_token
    )


def campaign_results(session_id: int) -> dict[str, int]:
    """What the database holds after a run: items by how many people submitted them."""
    from django.db.models import Count, Q

    from labeling.models import Answer, Assignment, Item, LabelingSession

    session = LabelingSession.objects.get(pk=session_id)
    per_item = Item.objects.filter(session=session).annotate(
        n=Count("assignments", filter=Q(assignments__state="submitted"))
    )
    histogram: dict[int, int] = defaultdict(int)
    for item in per_item:
        histogram[item.n] += 1
    return {
        "items": per_item.count(),
        "complete": Item.objects.filter(session=session, state="complete").count(),
        "submitted": Assignment.objects.filter(item__session=session, state="submitted").count(),
        "answers": Answer.objects.filter(assignment__item__session=session).count(),
        "over_labeled": sum(n for k, n in histogram.items() if k > session.labels_per_item),
        "max_labels_on_an_item": max(histogram, default=0),
    }


# --- a labeler over HTTP ------------------------------------------------------------------------


@dataclass
class Timings:
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.samples[kind].append(seconds)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1


class HttpLabeler:
    """One labeler's browser: a cookie, a connection, and the review app's requests."""

    def __init__(self, base_url: str, cookie: str, csrf_token: str, session_id: int) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.headers = {"Cookie": cookie, "X-CSRFToken": csrf_token}
        self.session_id = session_id

    def request(
        self, method: str, path: str, data: dict[str, str] | None = None, htmx: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        headers = dict(self.headers)
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if htmx:
            headers["HX-Request"] = "true"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                content = response.read()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, content
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed a kept-alive connection: reconnect once.
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def claim(self) -> str | None:
        """POST next: the URL of the item reserved for us, or None when nothing is left."""
        status, headers, _ = self.request("POST", f"/review/{self.session_id}/next/", {})
        if status != 302:
            raise RuntimeError(f"claim answered {status}")
        location = urllib.parse.urlsplit(headers["location"]).path
        if "/items/" in location:
            return location
        if "/done/" not in location:
            raise RuntimeError(f"claim went to {location}")
        return None

    def open_item(self, path: str) -> None:
        status, _, _ = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"item page answered {status}")

    def submit_and_next(self, path: str, answers: dict[str, str], htmx: bool = True) -> str | None:
        """Submit & next as the page does it; returns the next item's URL (None when done)."""
        status, headers, body = self.request("POST", path + "submit/", answers, htmx=htmx)
        if htmx:
            if status != 200 or "hx-push-url" not in headers:
                raise RuntimeError(f"submit answered {status}: {body[:300]!r}")
            nxt = headers["hx-push-url"]
        else:
            if status != 302:
                raise RuntimeError(f"submit answered {status}: {body[:300]!r}")
            nxt = urllib.parse.urlsplit(headers["location"]).path
        return nxt if "/items/" in nxt else None

    def close(self) -> None:
        self.connection.close()


def work_queue(
    labeler: HttpLabeler,
    campaign: Campaign,
    *,
    timings: Timings,
    deadline: float,
    think: float = 0.0,
    rng: random.Random | None = None,
    htmx: bool = True,
) -> int:
    """Claim → (open) → submit & next until the deadline or until nothing is left.
    Returns how many items this labeler submitted."""
    rng = rng or random.Random()
    done = 0
    started = time.perf_counter()
    try:
        path = labeler.claim()
    except Exception:
        timings.error("claim")
        raise
    timings.add("claim (POST next)", time.perf_counter() - started)
    if path is None:
        return 0
    started = time.perf_counter()
    labeler.open_item(path)
    timings.add("item page (GET)", time.perf_counter() - started)
    while path is not None and time.monotonic() < deadline:
        if think:
            time.sleep(think * rng.uniform(0.5, 1.5))
        started = time.perf_counter()
        try:
            path = labeler.submit_and_next(path, campaign.answers(rng), htmx=htmx)
        except Exception:
            timings.error("submit & next")
            raise
        timings.add("submit & next (POST)", time.perf_counter() - started)
        done += 1
    return done


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(*, workers: int, threads: int, port: int) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:`port` with the environment's database, DEBUG off."""
    env = {
        **os.environ,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
        "PYTHONWARNINGS": "ignore:No directory at",
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "reviewapp.wsgi",
        f"--workers={workers}",
        f"--threads={threads}",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        "--timeout=120",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by `pid` and its children; None off Linux."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        pids, total = [pid], 0.0
        while pids:
            current = pids.pop()
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pids.extend(int(child) for child in children.read().split())
        return total
    except (OSError, ValueError, IndexError):
        return None


def settle(pid: int, timeout: float = 15.0) -> float | None:
    """Wait until the server's workers are done starting (their CPU time stops growing), so
    the CPU time per request leaves their start-up out; returns the CPU time so far."""
    deadline = time.monotonic() + timeout
    used = process_tree_cpu(pid)
    while used is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        now = process_tree_cpu(pid)
        if now is None or now - used < 0.02:
            return now
        used = now
    return used


def loadavg() -> str:
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "?"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="a running server (default: start gunicorn)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (0: a free one)")
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--labels-per-item", type=int, default=1)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=1.0)
    args = parser.parse_args(argv)

    setup_django()
    from django.db import connection

    print(f"Creating {args.labelers} labelers and a session of {args.items} items …", flush=True)
    campaign = create_campaign(
        labelers=args.labelers, items=args.items, labels_per_item=args.labels_per_item
    )
    database = f"{connection.vendor} {connection.settings_dict['NAME']}"
    connection.close()

    server = None
    if args.url:
        url, server_desc = args.url, f"running server at {args.url}"
    else:
        port = args.port or free_port()
        server = start_gunicorn(workers=args.workers, threads=args.threads, port=port)
        url = f"http://127.0.0.1:{port}"
        kind = "sync" if args.threads == 1 else f"gthread, {args.threads} threads each"
        server_desc = f"gunicorn, {args.workers} workers ({kind}), DEBUG off"
    print(
        f"Settings: {server_desc}; database {database}; session {campaign.session_id}: "
        f"{args.items} items, {args.labels_per_item} label(s) per item; {args.labelers} "
        f"labelers for {args.duration:g} s, think time {args.think:g} s (±50 %); "
        f"{os.cpu_count()} CPUs ({platform.python_implementation()} "
        f"{platform.python_version()}), load average {loadavg()}",
        flush=True,
    )

    timings = Timings()
    counts: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int, cookie: str) -> None:
        labeler = HttpLabeler(url, cookie, campaign.csrf_token, campaign.session_id)
        try:
            n = work_queue(
                labeler,
                campaign,
                timings=timings,
                deadline=deadline,
                think=args.think,
                rng=random.Random(index),
            )
            with lock:
                counts.append(n)
        except BaseException as exc:
            with lock:
                failures.append(exc)
        finally:
            labeler.close()

    try:
        server_cpu_before = None
        if server is not None:
            server_cpu_before = settle(server.pid)
        deadline = time.monotonic() + args.duration
        started = time.monotonic()
        threads = [
            threading.Thread(target=run, args=(i, cookie))
            for i, cookie in enumerate(campaign.cookies.values())
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        server_cpu_after = process_tree_cpu(server.pid) if server else None
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    print()
    columns = ("count", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
    print(f"{'request':<22} " + " ".join(f"{c:>8}" for c in columns))
    for kind, values in timings.samples.items():
        print(
            f"{kind:<22} {len(values):>7} {len(values) / elapsed:>8.1f} "
            f"{percentile(values, 50) * 1000:>8.1f} {percentile(values, 95) * 1000:>8.1f} "
            f"{percentile(values, 99) * 1000:>8.1f} {max(values) * 1000:>8.1f}"
        )
    total = sum(len(v) for v in timings.samples.values())
    print(
        f"\nall requests: {total} in {elapsed:.1f} s = {total / elapsed:.1f} req/s; "
        f"items submitted: {sum(counts)}; errors: {dict(timings.errors) or 0}; "
        f"load average now {loadavg()}"
    )
    if server_cpu_before is not None and server_cpu_after is not None and total:
        used = server_cpu_after - server_cpu_before
        print(
            f"server CPU (gunicorn processes): {used:.1f} s = {used / total * 1000:.1f} ms per "
            f"request, {used / elapsed:.2f} of {os.cpu_count()} CPUs"
        )
    if failures:
        print(f"first failure: {failures[0]!r}")
    results = campaign_results(campaign.session_id)
    print(f"database: {results}")
    return 1 if failures or results["over_labeled"] else 0


if __name__ == "__main__":
    sys.exit(main())
