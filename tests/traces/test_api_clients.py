"""Real clients against a live test server: the OpenTelemetry SDK with its OTLP/HTTP exporter,
and the unmodified MLflow SDK (`mlflow-tracing`, which talks to a tracking server over REST)
with MLFLOW_TRACKING_URI pointing at the app and MLFLOW_TRACKING_TOKEN set.

The SDKs run in the test process. MLflow keeps global state (tracer provider, active
experiment, cached server version): the `mlflow_sdk` fixture resets it around each test, and
turns async trace logging off so each export has finished when the traced call returns.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.factories import assign_traces, make_api_token, make_experiment
from traces.models import Assessment, Span, Trace, TraceState


def _reset_mlflow() -> None:
    import mlflow
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.tracing.provider import reset as reset_tracing
    from mlflow.tracking import fluent

    reset_tracing()
    fluent._active_experiment_id = None
    RestStore._get_server_version.cache_clear()
    mlflow.tracing.enable()


@pytest.fixture
def mlflow_sdk(live_server, curator, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", make_api_token(curator, name="mlflow sdk"))
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    import mlflow
    from mlflow.utils import request_utils

    # The SDK keeps HTTP sessions open (keep-alive); each holds a live-server thread, and with it
    # a database connection, open. Close them after the test so the test database can go.
    sessions = []
    cached = request_utils._cached_get_request_session

    def recording(*args, **kwargs):
        session = cached(*args, **kwargs)
        sessions.append(session)
        return session

    monkeypatch.setattr(request_utils, "_cached_get_request_session", recording)
    _reset_mlflow()
    yield mlflow
    _reset_mlflow()
    for session in sessions:
        session.close()
    cached.cache_clear()


# --- MLflow SDK -----------------------------------------------------------------------------------


def _traced_app(mlflow):
    from mlflow.entities import SpanType

    @mlflow.trace(span_type=SpanType.RETRIEVER)
    def retrieve(question: str) -> list[dict]:
        return [{"page_content": f"MLflow is a platform ({question})", "id": "doc-1"}]

    @mlflow.trace(span_type=SpanType.CHAT_MODEL)
    def chat(messages: list[dict]) -> dict:
        span = mlflow.get_current_active_span()
        span.set_attribute(
            "mlflow.chat.tokenUsage", {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
        )
        return {"choices": [{"message": {"role": "assistant", "content": "An MLOps platform."}}]}

    @mlflow.trace(name="answer", span_type=SpanType.CHAIN)
    def answer(question: str) -> str:
        docs = retrieve(question)
        reply = chat([{"role": "user", "content": question}, {"role": "system", "content": docs}])
        return reply["choices"][0]["message"]["content"]

    return answer


def test_the_mlflow_sdk_end_to_end(mlflow_sdk, client):
    mlflow = mlflow_sdk
    from mlflow.entities import AssessmentSource, AssessmentSourceType, Feedback

    experiment = mlflow.set_experiment("docs assistant")
    assert mlflow.set_experiment("docs assistant").experiment_id == experiment.experiment_id
    assert Trace.objects.count() == 0

    # Tracing a function sends its spans (OTLP) and its info (StartTraceV3) to the app.
    answer = _traced_app(mlflow)
    assert answer("What is MLflow?") == "An MLOps platform."
    trace_id = mlflow.get_last_active_trace_id()
    trace = Trace.objects.get(trace_id=trace_id)
    assert str(trace.experiment_id) == experiment.experiment_id
    assert trace.state == TraceState.OK
    assert trace.tags["mlflow.traceName"] == "answer"
    assert trace.request_preview == '{"question": "What is MLflow?"}'
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (11, 4, 15)
    spans = {span.name: span for span in trace.spans.all()}
    assert {name: span.span_type for name, span in spans.items()} == {
        "answer": "CHAIN",
        "retrieve": "RETRIEVER",
        "chat": "CHAT_MODEL",
    }
    assert spans["retrieve"].inputs == {"question": "What is MLflow?"}
    assert spans["retrieve"].outputs[0]["id"] == "doc-1"
    assert spans["chat"].parent_id == spans["answer"].span_id

    # Labels through the SDK.
    human = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="ann@example.com")
    feedback = mlflow.log_feedback(
        trace_id=trace_id, name="correct", value=False, rationale="Too vague.", source=human
    )
    expectation = mlflow.log_expectation(
        trace_id=trace_id,
        name="expected_facts",
        value={"facts": ["open source", "tracking"], "count": 2},
        source=human,
    )
    listed = mlflow.log_expectation(trace_id=trace_id, name="expected_docs", value=["doc-1"])
    span_feedback = mlflow.log_feedback(
        trace_id=trace_id,
        name="relevant",
        value=0.75,
        span_id=spans["retrieve"].span_id,
        source=AssessmentSource(source_type="LLM_JUDGE", source_id="judge-v1"),
    )
    assert feedback.assessment_id.startswith("a-")

    fetched = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert (fetched.name, fetched.value, fetched.rationale) == ("correct", False, "Too vague.")
    assert fetched.source.source_id == "ann@example.com"
    assert mlflow.get_assessment(trace_id, expectation.assessment_id).value == {
        "facts": ["open source", "tracking"],
        "count": 2,
    }
    assert mlflow.get_assessment(trace_id, listed.assessment_id).value == ["doc-1"]

    updated = mlflow.update_assessment(
        trace_id=trace_id,
        assessment_id=feedback.assessment_id,
        assessment=Feedback(name="correct", value=False, rationale="Vague, misses tracking."),
    )
    assert updated.rationale == "Vague, misses tracking."

    override = mlflow.override_feedback(
        trace_id=trace_id,
        assessment_id=feedback.assessment_id,
        value=True,
        rationale="On reflection it is right.",
        source=human,
    )
    assert override.overrides == feedback.assessment_id
    assert Assessment.objects.get(assessment_id=feedback.assessment_id).valid is False

    # get_trace: spans and every assessment, history included.
    read = mlflow.get_trace(trace_id)
    assert read.info.trace_id == trace_id and read.info.state.value == "OK"
    assert [span.name for span in read.data.spans] == ["answer", "retrieve", "chat"]
    assert read.data.spans[1].span_type == "RETRIEVER"
    assert read.data.spans[1].inputs == {"question": "What is MLflow?"}
    assert read.data.spans[2].parent_id == read.data.spans[0].span_id
    assert read.info.token_usage["total_tokens"] == 15
    by_id = {a.assessment_id: a for a in read.info.assessments}
    assert by_id[feedback.assessment_id].valid is False
    assert by_id[override.assessment_id].value is True
    assert by_id[span_feedback.assessment_id].span_id == spans["retrieve"].span_id
    assert by_id[span_feedback.assessment_id].value == 0.75
    assert by_id[expectation.assessment_id].value["facts"] == ["open source", "tracking"]

    # search_traces: by experiment, filtered on feedback, ordered by time.
    other = answer("And tracing?")
    assert other == "An MLOps platform."
    second_id = mlflow.get_last_active_trace_id()
    mlflow.log_feedback(trace_id=second_id, name="correct", value=True, source=human)
    found = mlflow.search_traces(
        locations=[experiment.experiment_id],
        filter_string="feedback.correct = 'true'",
        order_by=["timestamp_ms ASC"],
        return_type="list",
    )
    assert [t.info.trace_id for t in found] == [trace_id, second_id]
    assert [span.name for span in found[0].data.spans] == ["answer", "retrieve", "chat"]
    newest_first = mlflow.search_traces(
        locations=[experiment.experiment_id], order_by=["timestamp_ms DESC"], return_type="list"
    )
    assert [t.info.trace_id for t in newest_first] == [second_id, trace_id]
    assert (
        mlflow.search_traces(
            locations=[experiment.experiment_id],
            filter_string="feedback.correct = 'false'",
            return_type="list",
        )
        == []
    )
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="OR is not supported"):
        mlflow.search_traces(
            locations=[experiment.experiment_id],
            filter_string="feedback.correct = 'true' OR feedback.correct = 'false'",
            return_type="list",
        )

    # delete_assessment: deleting the override restores the label it replaced.
    mlflow.delete_assessment(trace_id=trace_id, assessment_id=override.assessment_id)
    restored = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert restored.valid is True and restored.value is False

    # The labels made through the SDK show in the trace explorer: on the trace page and as
    # columns of the experiment's trace list.
    curator = User.objects.create_user("lead", password="pw", is_staff=True)
    client.force_login(curator)
    page = client.get(f"/traces/{trace_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "expected_facts" in html and "correct" in html
    listing = client.get(f"/experiments/{experiment.experiment_id}/").content.decode()
    assert trace_id in listing
    assert "expected_facts" in listing and "correct" in listing


def test_labels_made_in_the_ui_show_in_mlflow_get_trace(mlflow_sdk, client, curator):
    mlflow = mlflow_sdk
    mlflow.set_experiment("ui labels")
    answer = _traced_app(mlflow)
    answer("hello")
    trace_id = mlflow.get_last_active_trace_id()

    # A labeler of the trace and a curator label it through the explorer's forms.
    labeler = User.objects.create_user("maria", password="pw")
    assign_traces(labeler, Trace.objects.get(trace_id=trace_id))
    client.force_login(labeler)
    created = client.post(
        f"/traces/{trace_id}/labels/",
        {
            "kind": "feedback",
            "name": "helpful",
            "data_type": "string",
            "value": "no",
            "rationale": "Misses the point.",
        },
    )
    assert created.status_code in (200, 302)
    first = Assessment.objects.get(name="helpful")
    client.force_login(curator)
    edited = client.post(
        f"/traces/{trace_id}/labels/{first.assessment_id}/edit/",
        {"data_type": "string", "value": "yes", "rationale": "It answers it."},
    )
    assert edited.status_code in (200, 302)
    client.post(
        f"/traces/{trace_id}/labels/",
        {
            "kind": "expectation",
            "name": "ideal_answer",
            "data_type": "json",
            "value": '{"text": "Hi!"}',
        },
    )

    read = mlflow.get_trace(trace_id)
    current = {a.name: a for a in read.info.assessments if a.valid is not False}
    assert current["helpful"].value == "yes"
    assert current["helpful"].source.source_type == "HUMAN"
    assert current["helpful"].source.source_id == curator.username
    assert current["helpful"].rationale == "It answers it."
    assert current["ideal_answer"].value == {"text": "Hi!"}
    assert current["ideal_answer"].source.source_id == curator.username
    history = [a for a in read.info.assessments if a.name == "helpful"]
    assert len(history) == 2
    (old,) = [a for a in history if a.valid is False]
    assert old.value == "no" and old.source.source_id == "maria"


def test_the_mlflow_sdk_is_refused_without_a_valid_token(mlflow_sdk, monkeypatch):
    mlflow = mlflow_sdk
    from mlflow.exceptions import MlflowException

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "rva_wrong")
    with pytest.raises(MlflowException) as caught:
        mlflow.set_experiment("nope")
    assert caught.value.error_code == "UNAUTHENTICATED"


def test_mlflow_get_trace_of_an_unknown_trace(mlflow_sdk):
    assert mlflow_sdk.get_trace("tr-" + "0" * 32) is None


# --- OpenTelemetry SDK ----------------------------------------------------------------------------


def _otel_provider(live_server, token, experiment, *, batch=False, compression=None):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"Authorization": f"Bearer {token}", "x-mlflow-experiment-id": str(experiment.pk)},
        compression=compression or Compression.NoCompression,
        timeout=10,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    return provider


def _genai_agent(tracer):
    from opentelemetry.trace import Status, StatusCode

    with tracer.start_as_current_span("invoke_agent weather") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("input.value", '{"question": "Weather in Paris?"}')
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute(
                "gen_ai.input.messages",
                '[{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]',
            )
            chat.set_attribute("gen_ai.usage.input_tokens", 30)
            chat.set_attribute("gen_ai.usage.output_tokens", 7)
        with tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.call.arguments", '{"city": "Paris"}')
            tool.set_attribute("gen_ai.tool.call.result", '{"celsius": 21}')
        root.set_attribute("output.value", "21°C and sunny")
        root.set_status(Status(StatusCode.OK))
    return format(root.get_span_context().trace_id, "032x")


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_the_opentelemetry_sdk_span_by_span(live_server, curator, compressed):
    from opentelemetry.exporter.otlp.proto.http import Compression

    experiment = make_experiment("otel")
    provider = _otel_provider(
        live_server,
        make_api_token(curator),
        experiment,
        compression=Compression.Gzip if compressed else None,
    )
    otel_trace_id = _genai_agent(provider.get_tracer("test"))
    provider.shutdown()

    trace = Trace.objects.get(trace_id=f"tr-{otel_trace_id}")
    assert trace.experiment == experiment
    assert trace.state == TraceState.OK
    assert trace.request_preview == '{"question": "Weather in Paris?"}'
    assert trace.response_preview == '"21°C and sunny"'
    assert trace.tags["service.name"] == "weather-agent"
    assert trace.tags["mlflow.traceName"] == "invoke_agent weather"
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (30, 7, 37)
    types = dict(trace.spans.values_list("name", "span_type"))
    assert types == {
        "invoke_agent weather": "AGENT",
        "chat gpt-4o": "CHAT_MODEL",
        "execute_tool get_weather": "TOOL",
    }
    tool = Span.objects.get(name="execute_tool get_weather")
    assert (tool.inputs, tool.outputs) == ({"city": "Paris"}, {"celsius": 21})


def test_the_opentelemetry_sdk_in_batches(live_server, curator):
    experiment = make_experiment("otel batch")
    provider = _otel_provider(live_server, make_api_token(curator), experiment, batch=True)
    tracer = provider.get_tracer("test")
    ids = [_genai_agent(tracer) for _ in range(5)]
    provider.force_flush()
    provider.shutdown()
    assert set(Trace.objects.values_list("trace_id", flat=True)) == {f"tr-{i}" for i in ids}
    assert Span.objects.count() == 15


def test_the_opentelemetry_sdk_with_a_wrong_token_stores_nothing(live_server, curator):
    experiment = make_experiment("otel refused")
    provider = _otel_provider(live_server, "rva_wrong", experiment)
    _genai_agent(provider.get_tracer("test"))
    provider.shutdown()
    assert not Trace.objects.exists()


def test_feedback_logged_inside_a_trace_travels_with_its_info(mlflow_sdk):
    mlflow = mlflow_sdk
    mlflow.set_experiment("inline feedback")

    @mlflow.trace
    def guarded(text: str) -> str:
        mlflow.log_feedback(
            trace_id=mlflow.get_active_trace_id(), name="pii_free", value=True, rationale="ok"
        )
        return text.upper()

    assert guarded("hi") == "HI"
    trace_id = mlflow.get_last_active_trace_id()
    stored = Assessment.objects.get(trace__trace_id=trace_id)
    assert (stored.name, stored.value, stored.source_type) == ("pii_free", True, "CODE")
    assert mlflow.get_trace(trace_id).info.assessments[0].name == "pii_free"
