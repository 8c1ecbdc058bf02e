"""A demo labeling campaign for `manage.py seed_demo`: three labelers on the payments docs
assistant's answers, so the agreement and labeler pages have something to show, and more
traces waiting in the same queue, so the demo labelers have work when they sign in.

Labels go through the review app's own services (`claim_next_item`, `submit_answers`), so the
demo data is shaped exactly like real work: assignments, answers as HUMAN assessments, item
states. The labelers mostly follow the LLM judge, each with their own habits, so agreement is
substantial but not perfect and the judge comparison is meaningful.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.http import QueryDict

from labeling import services, session_items
from labeling.forms import AnswerSheet
from labeling.inputs import parse_input
from labeling.models import LabelingSchema, LabelingSession
from labeling.queue import claim_next_item, submit_answers
from traces.demo import docs_qa
from traces.demo.builder import DEMO_BASE_TIME
from traces.models import Assessment, Experiment, SourceType

SESSION_NAME = "Docs answers review (demo)"
ITEMS = 24
# More traces in the queue that nobody has labeled yet, so the demo labelers have work waiting.
WAITING_ITEMS = 16
LABELERS = ("alice", "bob", "carol")
# How often each labeler departs from the judge's verdict, and how many items they get to.
HABITS = {"alice": (0.04, ITEMS), "bob": (0.08, ITEMS), "carol": (0.14, 20)}
QUESTIONS = (
    ("groundedness", "pass_fail", {}, "Is every claim in the answer backed by the docs?"),
    ("relevance", "numeric", {"min_value": 1, "max_value": 5}, "How relevant is the answer (1-5)?"),
    (
        "answer_quality",
        "categorical",
        {"options": ["complete", "partial", "wrong"]},
        "How complete is the answer?",
    ),
)


def _schema(experiment: Experiment, name: str, kind: str, config: dict, title: str):
    existing = LabelingSchema.objects.filter(experiment=experiment, name=name).first()
    if existing is not None:
        return existing
    return services.create_schema(
        experiment=experiment,
        fields=services.SchemaFields(
            name=name,
            kind="feedback",
            title=title,
            instruction="",
            enable_comment=True,
            target_span_type="",
            spec=parse_input(kind, config),
        ),
    )


def _answers(rng: random.Random, judged: dict, slip: float) -> dict[str, str]:
    """One labeler's answers to an item, from the judge's verdicts and the labeler's slips;
    where the judge was wrong (`judge_wrong`), every labeler sees the truth."""
    grounded = judged.get("groundedness", True) != judged.get("judge_wrong", False)
    if rng.random() < slip:
        grounded = not grounded
    relevance = int(judged.get("relevance", 4))
    if rng.random() < slip * 2:
        relevance = min(5, max(1, relevance + rng.choice([-1, 1])))
    quality = "complete" if grounded and relevance >= 4 else "partial" if grounded else "wrong"
    if rng.random() < slip:
        quality = rng.choice(["complete", "partial", "wrong"])
    return {
        "groundedness": "true" if grounded else "false",
        "relevance": str(relevance),
        "answer_quality": quality,
    }


@transaction.atomic
def delete_campaign() -> None:
    """Remove the demo campaign and its questions, so `seed_demo --reset` can delete and
    recreate the demo experiment (questions protect their experiment from deletion)."""
    experiment = Experiment.objects.filter(name=docs_qa.NAME).first()
    if experiment is None:
        return
    LabelingSession.objects.filter(experiment=experiment, name=SESSION_NAME).delete()
    names = [name for name, *_ in QUESTIONS]
    LabelingSchema.objects.filter(experiment=experiment, name__in=names, sessions=None).delete()


@transaction.atomic
def seed_campaign(*, seed: int) -> LabelingSession | None:
    """Create the demo campaign unless it exists (or its experiment or labelers are missing)."""
    experiment = Experiment.objects.filter(name=docs_qa.NAME).first()
    people = {user.username: user for user in User.objects.filter(username__in=LABELERS)}
    if experiment is None or len(people) < len(LABELERS):
        return None
    existing = LabelingSession.objects.filter(experiment=experiment, name=SESSION_NAME).first()
    if existing is not None:
        return existing
    rng = random.Random(f"{seed}/campaign")
    schemas = [_schema(experiment, *question) for question in QUESTIONS]
    session = services.create_session(
        experiment=experiment,
        fields=services.SessionFields(
            name=SESSION_NAME,
            instructions="Read the question, the retrieved passages and the answer. "
            "Judge the **answer**, not the question.",
            labels_per_item=3,
            reservation_minutes=30,
            blind=True,
            status="active",
            schemas=schemas,
            labelers=[people[name] for name in LABELERS],
        ),
    )
    judged_traces = (
        Assessment.objects.filter(
            experiment=experiment, name="groundedness", source_type=SourceType.LLM_JUDGE
        )
        .filter(value__isnull=False)
        .order_by("trace__request_time")
        .values_list("trace__trace_id", flat=True)
        .distinct()
    )
    session_items.add_traces_by_id(session=session, trace_ids=list(judged_traces[:ITEMS]))
    verdicts: dict[str, dict] = {}
    for trace_id, name, value in Assessment.objects.filter(
        trace__trace_id__in=list(judged_traces[:ITEMS]),
        name__in=["groundedness", "relevance"],
        source_type=SourceType.LLM_JUDGE,
        valid=True,
    ).values_list("trace__trace_id", "name", "value"):
        verdicts.setdefault(trace_id, {})[name] = value
    for trace_id in sorted(verdicts):
        verdicts[trace_id]["judge_wrong"] = rng.random() < 0.15
    # Three working days; each labeler claims and submits in turn, at their own pace.
    for name in LABELERS:
        slip, quota = HABITS[name]
        now = DEMO_BASE_TIME + timedelta(hours=rng.randint(0, 5))
        for _ in range(quota):
            assignment = claim_next_item(session=session, labeler=people[name], now=now)
            if assignment is None:
                break
            answers = _answers(rng, verdicts.get(assignment.item.trace.trace_id, {}), slip)
            data = QueryDict(mutable=True)
            for schema in schemas:
                data[f"q-{schema.pk}"] = answers[schema.name]
            now += timedelta(seconds=rng.randint(40, 240))
            submit_answers(assignment=assignment, sheet=AnswerSheet(schemas, data=data), now=now)
            now += timedelta(minutes=rng.randint(2, 50))
            if now.hour >= 17:  # the working day is over
                now = now.replace(hour=9) + timedelta(days=1, minutes=rng.randint(0, 90))
    waiting = (
        experiment.traces.exclude(trace_id__in=list(judged_traces[:ITEMS]))
        .order_by("request_time", "pk")
        .values_list("trace_id", flat=True)[:WAITING_ITEMS]
    )
    session_items.add_traces_by_id(session=session, trace_ids=list(waiting))
    return session
