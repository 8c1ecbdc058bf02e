"""Screenshots for the README: the trace list, a trace, a review item, a session dashboard.

    .venv/bin/python bench/screenshots.py [--out docs/screenshots] [--width 1440] [--keep]

Seeds a small deterministic dataset into a throwaway SQLite database, runs the development
server on a free port, signs in with Playwright (Debian's /usr/bin/chromium) and saves
trace-list.png, trace.png, review.png and dashboard.png, at the desktop width and at 390 px
(the `-phone.png` ones). Needs the test extra (Playwright).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "screenshots-only-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed() -> tuple[int, str]:
    """Demo data: 36 support-agent traces with judge, code and human labels."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from bench.sample import QUESTIONS, insert_trace, support_trace_spans
    from traces import services
    from traces.models import Experiment

    call_command("migrate", verbosity=0)
    User.objects.create_user("maria", password=PASSWORD, first_name="Maria")
    User.objects.create_user("curator", password=PASSWORD, is_staff=True)
    rng = random.Random(7)
    experiment = Experiment.objects.create(
        name="support-bot",
        description="Customer-support agent of Northwind Outdoor: retrieval over the help "
        "centre, order lookups, answers in chat.",
    )
    Experiment.objects.create(name="returns-classifier", description="Routes return requests.")
    now = timezone.now().replace(second=0, microsecond=0)
    judge = services.Source("LLM_JUDGE", "gpt-4o-judge")
    human = services.Source("HUMAN", "maria")
    code = services.Source("CODE", "length_check")
    featured = ""
    for index in range(36):
        question, topic = QUESTIONS[index % len(QUESTIONS)]
        state = "ERROR" if index % 11 == 7 else "OK"
        trace = insert_trace(
            experiment,
            support_trace_spans(question, topic, rng),
            request_time=now - timedelta(minutes=23 * index + rng.randint(0, 9)),
            base_ns=1_715_000_000_000_000_000 + index * 10**12,
            state=state,
            total_tokens=rng.randint(600, 2400),
            tags={"env": "prod" if index % 4 else "staging"},
        )
        if index == 0:
            featured = trace.trace_id
        if index % 6 != 5:
            services.log_assessment(
                trace_id=trace.trace_id,
                assessment=services.Feedback(
                    name="correctness",
                    value=index % 5 != 3,
                    source=judge,
                    rationale="The answer agrees with the retrieved policy.",
                ),
            )
        if index % 3 == 0:
            services.log_assessment(
                trace_id=trace.trace_id,
                assessment=services.Feedback(
                    name="relevance", value=round(0.55 + rng.random() * 0.45, 2), source=code
                ),
            )
        if index % 4 == 0:
            services.log_assessment(
                trace_id=trace.trace_id,
                assessment=services.Feedback(
                    name="tone",
                    value=["friendly", "too formal", "friendly", "curt"][index % 4 // 1 % 4],
                    source=human,
                ),
            )
        if index % 5 == 0:
            services.log_assessment(
                trace_id=trace.trace_id,
                assessment=services.Expectation(
                    name="expected_facts",
                    value={"must_mention": ["30-day window", "store credit"], "escalate": False},
                    source=human,
                ),
            )
        if index % 7 == 0:
            services.log_assessment(
                trace_id=trace.trace_id,
                assessment=services.Expectation(
                    name="expected_answer",
                    value="Orders ship within 2 business days; the tracking link has the latest "
                    "scan.",
                    source=human,
                ),
            )
    # The featured trace: a span-level label with history, as a labeler would leave it.
    first = services.log_assessment(
        trace_id=featured,
        assessment=services.Feedback(
            name="retrieval_relevant",
            value=False,
            span_id=f"{3:016x}",
            source=human,
            rationale="The delay policy is missing from the results.",
        ),
    )
    services.override_assessment(
        trace_id=featured,
        assessment_id=first.assessment_id,
        value=True,
        source=human,
        rationale="Second document covers delays; good enough.",
    )
    services.log_assessment(
        trace_id=featured,
        assessment=services.Expectation(
            name="expected_documents",
            span_id=f"{3:016x}",
            value=["kb/shipping/tracking.md", "kb/shipping/delays.md"],
            source=human,
        ),
    )
    # Labelers see the traces of the active sessions they are assigned to: maria's queue.
    from labeling import services as labeling_services
    from labeling.inputs import parse_input
    from labeling.models import Item, LabelingSession, SessionSchema

    def schema(name, title, input_type, config, **fields):
        return labeling_services.create_schema(
            experiment=experiment,
            fields=labeling_services.SchemaFields(
                name=name,
                kind=fields.get("kind", "feedback"),
                title=title,
                instruction=fields.get("instruction", ""),
                enable_comment=fields.get("enable_comment", False),
                target_span_type="",
                spec=parse_input(input_type, config),
            ),
        )

    questions = [
        schema(
            "resolved",
            "Did the answer resolve the customer's question?",
            "pass_fail",
            {"positive_label": "Resolved", "negative_label": "Not resolved"},
            enable_comment=True,
        ),
        schema(
            "problems",
            "Which problems do you see?",
            "categorical",
            {"options": ["Wrong policy", "Missing step", "Tone", "Should escalate"], "multi": True},
        ),
        schema("helpfulness", "How helpful is it?", "numeric", {"min_value": 1, "max_value": 5}),
    ]
    session = LabelingSession.objects.create(
        experiment=experiment,
        name="Support answers, week 12",
        status="active",
        labels_per_item=2,
        instructions="Judge the answer **against the help-centre articles** the agent retrieved, "
        "not against what you would have said.",
    )
    for position, question in enumerate(questions):
        SessionSchema.objects.create(session=session, schema=question, position=position)
    session.labelers.add(User.objects.get(username="maria"))
    Item.objects.bulk_create(
        Item(session=session, trace=trace, position=position)
        for position, trace in enumerate(experiment.traces.order_by("request_time"))
    )
    return experiment.pk, featured


def shoot(browser, base, out, experiment_id, trace_id, width, height, suffix) -> None:
    """The four screenshots at one window size (`suffix` goes into the file names)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)

    page.goto(f"{base}/experiments/{experiment_id}/")
    page.wait_for_load_state("networkidle")  # the total loads after the rows
    page.screenshot(path=str(out / f"trace-list{suffix}.png"))

    page.goto(f"{base}/traces/{trace_id}/?span={3:016x}")
    page.screenshot(path=str(out / f"trace{suffix}.png"))

    # The review app: maria starts her queue.
    page.goto(f"{base}/review/")
    page.get_by_role("button", name=re.compile(r"^(Start|Continue)")).first.click()
    page.wait_for_url("**/items/**")
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, 0)")  # the page scrolls to the first question
    page.screenshot(path=str(out / f"review{suffix}.png"))

    # The curator's dashboard of that session.
    curator = browser.new_page(viewport={"width": width, "height": height})
    curator.goto(f"{base}/accounts/login/")
    curator.get_by_label("Username").fill("curator")
    curator.get_by_label("Password").fill(PASSWORD)
    curator.get_by_role("button", name="Sign in").click()
    curator.wait_for_url(lambda url: "/accounts/login/" not in url)
    curator.goto(f"{base}/console/")
    curator.get_by_role("link", name="Support answers, week 12").first.click()
    curator.wait_for_load_state("networkidle")
    curator.screenshot(path=str(out / f"dashboard{suffix}.png"))


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"The server did not answer at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=860)
    parser.add_argument("--phone-width", type=int, default=390)
    parser.add_argument("--phone-height", type=int, default=844)
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="reviewapp-shots-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    experiment_id, trace_id = seed()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        wait_for(f"{base}/healthz")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for width, height, suffix in (
                (args.width, args.height, ""),
                (args.phone_width, args.phone_height, "-phone"),
            ):
                shoot(browser, base, out, experiment_id, trace_id, width, height, suffix)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    names = [
        f"{name}{suffix}.png"
        for suffix in ("", "-phone")
        for name in ("trace-list", "trace", "review", "dashboard")
    ]
    print("Saved " + ", ".join(str(out / name) for name in names))


if __name__ == "__main__":
    main()
