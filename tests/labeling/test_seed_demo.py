"""`manage.py seed_demo`: realistic, deterministic demo experiments and the demo logins."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from tests.factories import make_experiment
from traces.demo import EXPERIMENTS, docs_qa, seed_experiment, support_chat, travel_agent
from traces.demo.builder import DEMO_BASE_TIME, DEMO_DAYS, TOKEN_USAGE_ATTRIBUTE
from traces.models import (
    PREVIEW_MAX_LENGTH,
    Assessment,
    Experiment,
    Span,
    SpanStatusCode,
    SpanType,
    Trace,
    TraceState,
)

pytestmark = pytest.mark.django_db

DEMO_NAMES = {"Payments docs assistant", "Travel booking agent", "Mobile support chat"}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed_demo(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, list]:
    return {
        "experiments": list(
            Experiment.objects.order_by("name").values_list(
                "name", "description", "tags", "creation_time"
            )
        ),
        "traces": list(
            Trace.objects.order_by("trace_id").values_list(
                "trace_id",
                "experiment__name",
                "request_time",
                "execution_duration",
                "state",
                "request_preview",
                "response_preview",
                "client_request_id",
                "trace_metadata",
                "tags",
                "total_tokens",
            )
        ),
        "spans": list(
            Span.objects.order_by("trace__trace_id", "span_id").values_list(
                "trace__trace_id",
                "span_id",
                "parent_id",
                "name",
                "span_type",
                "start_time_ns",
                "end_time_ns",
                "status_code",
                "inputs",
                "outputs",
                "attributes",
                "events",
            )
        ),
        # The demo campaign's answers go through the review app's services, which give them
        # fresh ids: compared by content in the campaign's own test.
        "assessments": list(
            Assessment.objects.filter(labeling_answer=None)
            .order_by("assessment_id")
            .values_list(
                "assessment_id",
                "trace__trace_id",
                "span_id",
                "kind",
                "name",
                "source_type",
                "source_id",
                "value",
                "error_code",
                "rationale",
                "metadata",
                "create_time",
            )
        ),
    }


def test_two_runs_give_the_same_data():
    seed_demo()
    first = snapshot()

    output = seed_demo("--reset")

    assert snapshot() == first
    assert "Payments docs assistant: 150 traces" in output
    assert Experiment.objects.count() == 3


def test_another_seed_gives_other_data():
    module = support_chat
    seed_experiment(module, seed=1)
    first = set(Trace.objects.values_list("trace_id", flat=True))
    Experiment.objects.all().delete()

    seed_experiment(module, seed=2)

    assert first.isdisjoint(Trace.objects.values_list("trace_id", flat=True))


def test_demo_content_is_realistic_and_consistent():
    output = seed_demo()

    experiments = {e.name: e for e in Experiment.objects.all()}
    assert set(experiments) == DEMO_NAMES
    assert all(e.description and e.tags["demo"] == "true" for e in experiments.values())
    assert 250 <= Trace.objects.count() <= 500
    for name, experiment in experiments.items():
        assert experiment.traces.count() >= 60, name
        assert experiment.traces.filter(state=TraceState.ERROR).exists(), name
        assert experiment.assessments.filter(source_type="LLM_JUDGE").exclude(rationale="").exists()
        assert experiment.assessments.filter(source_type="CODE").exists()
        assert experiment.assessments.filter(source_type="HUMAN", kind="expectation").exists()
        assert f"{name}: {experiment.traces.count()} traces" in output

    spans_by_trace: dict[int, list[Span]] = {}
    for span in Span.objects.all():
        spans_by_trace.setdefault(span.trace_id, []).append(span)
    start_ns, end_ns = (
        int((DEMO_BASE_TIME.timestamp() - DEMO_DAYS * 86400 - 86400) * 1e9),
        int(DEMO_BASE_TIME.timestamp() * 1e9),
    )
    for trace in Trace.objects.all():
        spans = {s.span_id: s for s in spans_by_trace[trace.pk]}
        roots = [s for s in spans.values() if s.parent_id is None]
        assert len(roots) == 1
        root = roots[0]
        # Children sit inside their parents; times fall in the demo window.
        for span in spans.values():
            assert start_ns < span.start_time_ns <= span.end_time_ns < end_ns
            if span.parent_id:
                parent = spans[span.parent_id]
                assert parent.start_time_ns <= span.start_time_ns
                assert span.end_time_ns <= parent.end_time_ns
        assert trace.execution_duration == (root.end_time_ns - root.start_time_ns) // 1_000_000
        assert abs(trace.request_time.timestamp() * 1e9 - root.start_time_ns) < 1_000
        # Previews: the root's payload as JSON, truncated.
        assert (
            trace.request_preview
            == json.dumps(root.inputs, ensure_ascii=False)[:PREVIEW_MAX_LENGTH]
        )
        expected = "" if root.outputs is None else json.dumps(root.outputs, ensure_ascii=False)
        assert trace.response_preview == expected[:PREVIEW_MAX_LENGTH]
        # State follows the root span; errors carry an exception event.
        assert (trace.state == TraceState.ERROR) == (root.status_code == SpanStatusCode.ERROR)
        for span in spans.values():
            if span.status_code == SpanStatusCode.ERROR:
                (event,) = span.events
                assert event["name"] == "exception"
                assert event["attributes"]["exception.stacktrace"].startswith("Traceback")
                assert span.status_message.startswith(event["attributes"]["exception.type"])
        # Token totals add up the model spans' usage.
        usages = [
            s.attributes[TOKEN_USAGE_ATTRIBUTE]
            for s in spans.values()
            if TOKEN_USAGE_ATTRIBUTE in s.attributes
        ]
        if usages:
            assert trace.input_tokens == sum(u["input_tokens"] for u in usages)
            assert trace.output_tokens == sum(u["output_tokens"] for u in usages)
            assert trace.total_tokens == trace.input_tokens + trace.output_tokens
            assert json.loads(trace.trace_metadata["mlflow.trace.tokenUsage"])["total_tokens"] == (
                trace.total_tokens
            )

    # Span-level assessments name a span of their own trace.
    for assessment in Assessment.objects.exclude(span_id=None).select_related("trace"):
        assert assessment.span_id in {s.span_id for s in spans_by_trace[assessment.trace_id]}
    assert Assessment.objects.exclude(span_id=None).exists()


def test_rag_traces_have_documents_and_openai_chat_messages():
    seed_experiment(docs_qa)
    traces = Trace.objects.filter(experiment__name="Payments docs assistant")

    retriever = Span.objects.filter(trace__in=traces, span_type=SpanType.RETRIEVER).first()
    document = retriever.outputs[0]
    assert set(document) == {"page_content", "metadata", "id"}
    assert document["metadata"]["doc_uri"].startswith("https://docs.lumenpay.dev/")
    chat = Span.objects.filter(
        trace__in=traces, span_type=SpanType.CHAT_MODEL, status_code=SpanStatusCode.OK
    ).first()
    assert [m["role"] for m in chat.inputs["messages"]] == ["system", "user"]
    assert chat.outputs["choices"][0]["message"]["role"] == "assistant"
    assert chat.attributes[TOKEN_USAGE_ATTRIBUTE]["total_tokens"] > 0
    relevance = Assessment.objects.filter(trace__in=traces, name="relevance")
    assert set(relevance.values_list("value", flat=True)) <= {1, 2, 3, 4, 5}
    assert set(
        Assessment.objects.filter(trace__in=traces, name="groundedness")
        .filter(value__isnull=False)
        .values_list("value", flat=True)
    ) == {True, False}
    answer = Assessment.objects.filter(trace__in=traces, name="expected_answer").first()
    facts = Assessment.objects.filter(trace__in=traces, name="expected_facts").first()
    assert isinstance(answer.value, str) and len(answer.value) > 40
    assert isinstance(facts.value, list) and all(isinstance(f, str) for f in facts.value)
    assert (answer.source_type, answer.source_id) == ("HUMAN", "curator")


def test_agent_traces_call_tools_and_some_tool_calls_fail():
    seed_experiment(travel_agent)
    traces = Trace.objects.filter(experiment__name="Travel booking agent")

    assert set(
        Span.objects.filter(trace__in=traces, parent_id=None).values_list("span_type", flat=True)
    ) == {SpanType.AGENT}
    tools = Span.objects.filter(trace__in=traces, span_type=SpanType.TOOL)
    assert tools.values("name").distinct().count() >= 6
    failed = tools.filter(status_code=SpanStatusCode.ERROR)
    assert failed.exists()
    # Some failures are recovered from (the trace is OK), some fail the trace.
    assert failed.filter(trace__state=TraceState.OK).exists()
    assert failed.filter(trace__state=TraceState.ERROR).exists()
    per_trace = {
        trace.pk: trace.spans.filter(span_type=SpanType.TOOL).count()
        for trace in traces.filter(state=TraceState.OK)[:20]
    }
    assert max(per_trace.values()) >= 3
    assert Span.objects.filter(trace__in=traces, span_type=SpanType.LLM).exists()


def test_support_chats_are_multi_turn_conversations():
    seed_experiment(support_chat)
    traces = Trace.objects.filter(experiment__name="Mobile support chat")

    sessions: dict[str, list[Trace]] = {}
    for trace in traces.order_by("request_time"):
        sessions.setdefault(trace.trace_metadata["mlflow.trace.session"], []).append(trace)
    assert len(sessions) >= 20
    longest = max(sessions.values(), key=len)
    assert len(longest) >= 3
    history = [
        json.loads(t.request_preview)["messages"] for t in longest if len(t.request_preview) < 900
    ]
    assert [len(messages) for messages in history] == sorted(len(m) for m in history)
    last = Span.objects.get(trace=longest[-1], parent_id=None)
    assert len(last.inputs["messages"]) == 2 * len(longest) - 1
    assert Assessment.objects.filter(trace__in=traces, name="safety", value=False).exists()


def test_if_empty_skips_the_data_but_prints_the_logins():
    make_experiment("my own app")

    output = seed_demo("--if-empty")

    assert "demo data not loaded" in output
    assert list(Experiment.objects.values_list("name", flat=True)) == ["my own app"]
    assert "curator  curator-demo" in output
    assert "alice    alice-demo" in output


def test_a_second_run_leaves_existing_demo_experiments_alone():
    seed_demo()
    ids = set(Trace.objects.values_list("pk", flat=True))

    output = seed_demo()

    assert set(Trace.objects.values_list("pk", flat=True)) == ids
    assert output.count("already there, left as it is") == len(EXPERIMENTS)


def test_logins_are_created_once_and_printed():
    output = seed_demo("--if-empty")
    seed_demo("--if-empty")

    curator = User.objects.get(username="curator")
    alice = User.objects.get(username="alice")
    bob = User.objects.get(username="bob")
    assert curator.is_staff and not curator.is_superuser
    assert curator.check_password("curator-demo")
    assert not alice.is_staff and alice.groups.filter(name="labelers").exists()
    assert bob.check_password("bob-demo") and bob.groups.filter(name="labelers").exists()
    assert User.objects.count() == 4  # curator, alice, bob, carol
    assert "Demo logins:" in output
    assert "user     password      role" in output
    assert "curator  curator-demo  curator (staff)" in output
    assert "bob      bob-demo      labeler" in output


def test_a_changed_password_is_not_printed():
    seed_demo("--if-empty")
    alice = User.objects.get(username="alice")
    alice.set_password("something private")
    alice.save()

    output = seed_demo("--if-empty")

    assert "alice-demo" not in output
    assert "(changed since the demo created it)" in output


def test_demo_labeling_campaign_has_three_labelers_who_mostly_agree():
    from labeling.campaign.agreement import session_agreement
    from labeling.models import LabelingSession

    output = seed_demo()
    session = LabelingSession.objects.get(name="Docs answers review (demo)")
    assert "Labeling campaign: 'Docs answers review (demo)', 40 items" in output
    assert session.labels_per_item == 3
    # 24 labeled by all three (carol: 20), 16 waiting for the demo labelers.
    assert session.items.filter(state="pending").count() == 16
    assert sorted(session.labelers.values_list("username", flat=True)) == [
        "alice",
        "bob",
        "carol",
    ]
    results = {result.question.name: result for result in session_agreement(session)}
    assert set(results) == {"groundedness", "relevance", "answer_quality"}
    for result in results.values():
        assert result.alpha.n == 24
        assert 0.3 < result.alpha.value < 1  # some disagreement, far from chance
    (judge,) = results["groundedness"].judges
    assert judge.percent.n == 24 and judge.percent.value < 1
    seed_demo()  # a second run leaves the campaign alone
    assert LabelingSession.objects.filter(name="Docs answers review (demo)").count() == 1

    def answers():
        return sorted(
            Assessment.objects.exclude(labeling_answer=None).values_list(
                "trace__trace_id", "name", "source_id", "value"
            ),
            key=repr,
        )

    first = answers()
    seed_demo("--reset")  # the same campaign again
    assert answers() == first
