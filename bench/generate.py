"""Generate the benchmark data set: 100,000 traces with labels, and one trace of 5,000 spans.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/explorer_bench \\
        .venv/bin/python -m bench.generate [--traces 100000] [--spans 5000] [--reset]

Everything is bulk-inserted (batches of 5,000 in one transaction per batch) into the experiment
"bench-support-bot" of the database DATABASE_URL names (migrated first). Labels are sprinkled
as in a real project: an LLM judge on most traces, a code scorer on many, humans on a few (some
edited, so there is history), ground truth on fewer still. Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = "bench-support-bot"
BIG_TRACE_ID = "tr-bench-5000-spans"
BATCH = 5_000

PRODUCTS = [
    f"{adjective} {noun}"
    for adjective in (
        "Alpine",
        "Trail",
        "Summit",
        "Coastal",
        "Urban",
        "Glacier",
        "Canyon",
        "Forest",
        "Harbor",
        "Prairie",
        "Tundra",
        "Meadow",
        "Ridge",
        "Delta",
    )
    for noun in (
        "fleece",
        "jacket",
        "backpack",
        "tent",
        "boots",
        "gloves",
        "beanie",
        "sleeping bag",
        "headlamp",
        "trekking poles",
        "rain shell",
        "base layer",
        "water bottle",
        "stove",
    )
]
TEMPLATES = [
    "Where is my order {order}? I ordered the {product} last week.",
    "Is the {product} waterproof?",
    "Can I return the {product} I bought {days} days ago?",
    "What sizes does the {product} come in?",
    "I was charged twice for order {order}. Can you refund one?",
    "Do you ship the {product} to {country}?",
    "The zipper on my {product} broke after {days} days. Is that covered by the warranty?",
    "How do I change the delivery address of order {order}?",
]
COUNTRIES = ["Norway", "Japan", "Canada", "Chile", "Kenya", "Portugal", "Iceland", "Poland"]
ANSWERS = [
    "Your order {order} left our warehouse and is with the carrier; delivery is expected in 2 "
    "days.",
    "The {product} has a water-resistant membrane but is not fully waterproof.",
    "Our return window is 30 days; for the {product} I can offer store credit instead.",
    "The {product} comes in sizes XS to XXL; the size guide is on the product page.",
    "I see two charges for order {order}; I have refunded the second one.",
    "Yes, we ship the {product} to {country}; delivery takes 4 to 6 business days.",
    "Manufacturing defects on the {product} are covered for 2 years; I have opened a claim.",
    "I updated the delivery address of order {order}.",
]
TONES = ["friendly", "too formal", "curt", "friendly", "empathetic"]


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("STATIC_MANIFEST", "0")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def generate(total: int, span_count: int, *, reset: bool) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.sample import agent_trace_spans, insert_trace
    from traces import services
    from traces.models import Assessment, Experiment, Span, Trace

    call_command("migrate", verbosity=0)
    existing = Experiment.objects.filter(name=EXPERIMENT).first()
    if existing and not reset:
        print(
            f"{EXPERIMENT} exists already ({existing.traces.count():,} traces); "
            "use --reset to generate it again."
        )
        return
    if existing:
        print(f"Deleting the previous {EXPERIMENT} …")
        existing.delete()
    rng = random.Random(42)
    experiment = Experiment.objects.create(
        name=EXPERIMENT, description="Benchmark data: a support agent's production traces."
    )
    now = timezone.now().replace(microsecond=0)
    judge = services.Source("LLM_JUDGE", "gpt-4o-judge")
    scorer = services.Source("CODE", "relevance_scorer")
    humans = [services.Source("HUMAN", name) for name in ("maria", "jonas", "aiko", "sam")]
    started = time.monotonic()
    made = 0
    label_count = 0
    while made < total:
        size = min(BATCH, total - made)
        with transaction.atomic():
            traces = []
            for i in range(made, made + size):
                kind = rng.randrange(len(TEMPLATES))
                words = {
                    "order": f"A-{rng.randint(1000, 99999)}",
                    "product": rng.choice(PRODUCTS),
                    "days": rng.randint(3, 90),
                    "country": rng.choice(COUNTRIES),
                }
                question = TEMPLATES[kind].format(**words)
                answer = ANSWERS[kind].format(**words)
                roll = rng.random()
                state = "ERROR" if roll < 0.04 else "IN_PROGRESS" if roll < 0.05 else "OK"
                input_tokens = rng.randint(200, 3000)
                output_tokens = rng.randint(20, 600)
                traces.append(
                    Trace(
                        trace_id=f"tr-bench{i:028x}",
                        experiment=experiment,
                        request_time=now - timedelta(seconds=i * 77 + rng.randint(0, 60)),
                        execution_duration=None
                        if state == "IN_PROGRESS"
                        else rng.randint(300, 9000),
                        state=state,
                        request_preview=json.dumps(
                            {"messages": [{"role": "user", "content": question}]}
                        ),
                        response_preview=json.dumps(
                            {"choices": [{"message": {"role": "assistant", "content": answer}}]}
                        ),
                        input_tokens=input_tokens,
                        output_tokens=output_tokens,
                        total_tokens=input_tokens + output_tokens,
                        tags={
                            "env": "prod" if rng.random() < 0.9 else "staging",
                            "app_version": rng.choice(["2.3.0", "2.4.0", "2.4.1"]),
                        },
                    )
                )
            Trace.objects.bulk_create(traces, batch_size=1000)
            Span.objects.bulk_create(
                [
                    Span(
                        trace=trace,
                        span_id="0000000000000001",
                        name="support_agent",
                        span_type="AGENT",
                        start_time_ns=int(trace.request_time.timestamp() * 1e9),
                        end_time_ns=int(trace.request_time.timestamp() * 1e9)
                        + (trace.execution_duration or 0) * 1_000_000,
                        status_code="ERROR" if trace.state == "ERROR" else "OK",
                        inputs=json.loads(trace.request_preview),
                        outputs=json.loads(trace.response_preview),
                    )
                    for trace in traces
                ],
                batch_size=1000,
            )
            labels, edited = _labels(traces, rng, judge, scorer, humans, services)
            Assessment.objects.bulk_create(labels, batch_size=1000)
            # Edits: the new value overrides the old one, which stays as history.
            replacements = []
            for old in edited:
                new = services.build_assessment(
                    trace=old.trace,
                    assessment=services.Feedback(
                        name=old.name,
                        value=rng.choice(TONES),
                        source=services.Source("HUMAN", old.source_id),
                        create_time=old.create_time + timedelta(minutes=5),
                    ),
                )
                new.overrides = old
                replacements.append(new)
            Assessment.objects.bulk_create(replacements, batch_size=1000)
            label_count += len(labels) + len(replacements)
        made += size
        rate = made / (time.monotonic() - started)
        print(f"  {made:>7,} traces, {label_count:,} labels ({rate:,.0f} traces/s)", flush=True)

    big = insert_trace(
        experiment,
        agent_trace_spans(span_count, rng),
        request_time=now + timedelta(seconds=1),
        base_ns=int(now.timestamp() * 1e9),
        trace_id=BIG_TRACE_ID,
    )
    span_ids = list(big.spans.values_list("span_id", flat=True))
    for index, span_id in enumerate(rng.sample(span_ids, 40)):
        services.log_assessment(
            trace_id=big.trace_id,
            assessment=services.Feedback(
                name="step_correct",
                value=index % 4 != 0,
                span_id=span_id,
                source=humans[index % len(humans)],
            ),
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"Done in {time.monotonic() - started:,.0f} s: {EXPERIMENT} (id {experiment.pk}) has "
        f"{experiment.traces.count():,} traces and {label_count:,} labels; trace {BIG_TRACE_ID} "
        f"has {span_count:,} spans."
    )


def _labels(traces, rng, judge, scorer, humans, services):
    """The labels of one batch of traces, and the human ones that get edited afterwards."""
    labels, edited = [], []
    for trace in traces:
        created = trace.request_time + timedelta(minutes=rng.randint(1, 600))

        def add(model, source, edit=False, trace=trace, created=created, **fields):
            row = services.build_assessment(
                trace=trace, assessment=model(source=source, create_time=created, **fields)
            )
            if edit:
                row.valid = False
                edited.append(row)
            labels.append(row)

        if rng.random() < 0.6:
            add(
                services.Feedback,
                judge,
                name="correctness",
                value=rng.random() < 0.82,
                rationale="Compared with the knowledge base.",
            )
        if rng.random() < 0.4:
            add(services.Feedback, scorer, name="relevance", value=round(rng.random(), 3))
        if rng.random() < 0.05:
            add(
                services.Feedback,
                rng.choice(humans),
                name="tone",
                value=rng.choice(TONES),
                edit=rng.random() < 0.2,
            )
        if rng.random() < 0.03:
            add(services.Feedback, rng.choice(humans), name="helpfulness", value=rng.randint(1, 5))
        if rng.random() < 0.02:
            add(
                services.Expectation,
                rng.choice(humans),
                name="expected_answer",
                value="Orders ship within 2 business days.",
            )
        if rng.random() < 0.01:
            add(
                services.Expectation,
                rng.choice(humans),
                name="expected_facts",
                value={"must_mention": ["30-day window"], "escalate": False},
            )
    return labels, edited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--spans", type=int, default=5_000)
    parser.add_argument("--reset", action="store_true", help="delete and regenerate the data")
    args = parser.parse_args()
    setup_django()
    generate(args.traces, args.spans, reset=args.reset)


if __name__ == "__main__":
    main()
