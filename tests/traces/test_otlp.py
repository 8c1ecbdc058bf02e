"""OTLP parsing and span mapping (`traces.otlp`) and incremental span ingest
(`traces.ingest.incremental`: `ingest_spans`, `upsert_trace_info`)."""

import gzip
import json
import zlib

import pytest
from django.core.exceptions import ValidationError
from google.protobuf import json_format

from tests.factories import BASE_NS, make_experiment, make_trace, otlp_request, otlp_span
from traces import otlp
from traces.ingest.incremental import METADATA_INFO_FINALIZED, ingest_spans, upsert_trace_info
from traces.ingest.records import SpanBatch, TraceRecord
from traces.models import Span, Trace, TraceState
from traces.services import Feedback, Source

TRACE = bytes.fromhex("0123456789abcdef0123456789abcdef")
TRACE_ID = "tr-0123456789abcdef0123456789abcdef"


def batches(*spans, resource=None):
    return otlp.span_batches(otlp_request(*spans, resource=resource))


def one_span(**kwargs):
    [batch] = batches(otlp_span(trace_id=TRACE, **kwargs))
    [span] = batch.spans
    return batch, span


# --- bodies ---------------------------------------------------------------------------------------


def test_decode_body_passes_plain_bodies_and_decompresses_gzip_and_deflate():
    data = b"x" * 1000
    assert otlp.decode_body(data, content_encoding="", max_bytes=1000) == data
    assert otlp.decode_body(gzip.compress(data), content_encoding="gzip", max_bytes=1000) == data
    assert otlp.decode_body(zlib.compress(data), content_encoding="deflate", max_bytes=10**4) == (
        data
    )


def test_decode_body_stops_a_gzip_bomb_at_the_limit():
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(otlp.OtlpError) as caught:
        otlp.decode_body(bomb, content_encoding="gzip", max_bytes=1_000_000)
    assert caught.value.status == 413
    assert "decompressed body is larger than 1,000,000 bytes" in caught.value.message


def test_decode_body_refuses_large_plain_bodies_corrupt_and_truncated_gzip_and_other_codings():
    with pytest.raises(otlp.OtlpError) as caught:
        otlp.decode_body(b"x" * 11, content_encoding="identity", max_bytes=10)
    assert caught.value.status == 413
    with pytest.raises(otlp.OtlpError) as caught:
        otlp.decode_body(b"not gzip", content_encoding="gzip", max_bytes=10)
    assert caught.value.status == 400 and "cannot be decompressed" in caught.value.message
    with pytest.raises(otlp.OtlpError) as caught:
        otlp.decode_body(gzip.compress(b"x" * 100)[:-12], content_encoding="gzip", max_bytes=1000)
    assert caught.value.status == 400 and "truncated" in caught.value.message
    with pytest.raises(otlp.OtlpError) as caught:
        otlp.decode_body(b"x", content_encoding="br", max_bytes=10)
    assert caught.value.status == 415


def test_parse_request_reads_protobuf_and_refuses_garbage():
    request = otlp_request(otlp_span(trace_id=TRACE, name="root"))
    parsed = otlp.parse_request(request.SerializeToString(), "application/x-protobuf")
    assert parsed == request
    with pytest.raises(otlp.OtlpError) as caught:
        otlp.parse_request(b"\xff\xff\xff garbage", "application/x-protobuf")
    assert caught.value.status == 400 and "not a valid OTLP protobuf" in caught.value.message


def test_parse_request_reads_otlp_json_with_hex_ids_and_numeric_enums():
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "x"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0123456789abcdef0123456789abcdef",
                                "spanId": "00000000000000aa",
                                "parentSpanId": "",
                                "name": "root",
                                "kind": 1,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": 1700000000500000000,
                                "status": {"code": 2, "message": "boom"},
                                "someFutureField": True,
                            }
                        ]
                    }
                ],
            }
        ]
    }
    parsed = otlp.parse_request(json.dumps(document).encode(), "application/json; charset=utf-8")
    span = parsed.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == TRACE and span.span_id == bytes.fromhex("00000000000000aa")
    assert span.status.code == 2 and span.end_time_unix_nano == 1700000000500000000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "should be an OTLP JSON object"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "is not hex"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "abcd"}]}]}]}',
            "should be 16 hex digits",
        ),
        (b'{"resourceSpans": "many"}', "not a valid OTLP JSON request"),
    ],
)
def test_parse_request_refuses_malformed_json(body, message):
    with pytest.raises(otlp.OtlpError) as caught:
        otlp.parse_request(body, "application/json")
    assert caught.value.status == 400
    assert message in caught.value.message


def test_parse_request_refuses_other_content_types():
    with pytest.raises(otlp.OtlpError) as caught:
        otlp.parse_request(b"{}", "text/plain")
    assert caught.value.status == 415


def test_response_body_matches_the_request_format():
    assert otlp.response_body("application/x-protobuf") == b""
    assert json.loads(otlp.response_body("application/json")) == {}
    partial = json.loads(otlp.response_body("application/json", rejected_spans=2, error="x"))
    assert partial == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "x"}}


# --- span mapping ---------------------------------------------------------------------------------


def test_mlflow_attributes_as_the_sdk_sends_them_raw_and_json_encoded():
    _, raw = one_span(
        attributes={
            "mlflow.spanType": "RETRIEVER",
            "mlflow.spanInputs": {"query": "q"},
            "mlflow.spanOutputs": [{"page_content": "doc"}],
            "mlflow.spanFunctionName": "retrieve",
        }
    )
    _, encoded = one_span(
        attributes={
            "mlflow.spanType": '"RETRIEVER"',
            "mlflow.spanInputs": '{"query": "q"}',
            "mlflow.spanOutputs": '[{"page_content": "doc"}]',
            "mlflow.spanFunctionName": '"retrieve"',
        }
    )
    for span in (raw, encoded):
        assert span.span_type == "RETRIEVER"
        assert span.inputs == {"query": "q"}
        assert span.outputs == [{"page_content": "doc"}]
        assert span.attributes == {"mlflow.spanFunctionName": "retrieve"}


def test_ids_times_status_and_events():
    batch, span = one_span(
        span_id=0xAB,
        parent_id=0xCD,
        name="step",
        start=5,
        end=900,
        status_code=2,
        events=[("exception", {"exception.message": "boom"})],
    )
    assert batch.trace_id == TRACE_ID
    assert span.span_id == "00000000000000ab" and span.parent_id == "00000000000000cd"
    assert (span.start_time_ns, span.end_time_ns) == (BASE_NS + 5, BASE_NS + 900)
    assert span.status_code == "ERROR"
    assert span.events[0].name == "exception"
    assert span.events[0].attributes == {"exception.message": "boom"}


def test_mlflow_trace_request_id_names_the_trace():
    batch, _ = one_span(attributes={"mlflow.traceRequestId": '"tr-custom"'})
    assert batch.trace_id == "tr-custom"


def test_genai_semantic_conventions():
    _, span = one_span(
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
            ),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": []}]),
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 3,
        }
    )
    assert span.span_type == "CHAT_MODEL"
    assert span.inputs == [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert span.outputs == [{"role": "assistant", "parts": []}]
    assert span.attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": 12,
        "output_tokens": 3,
        "total_tokens": 15,
    }
    assert span.attributes["gen_ai.usage.input_tokens"] == 12  # originals are kept


def test_genai_tool_call_and_legacy_prompt_attributes():
    _, tool = one_span(
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.call.arguments": '{"city": "Paris"}',
            "gen_ai.tool.call.result": '{"temp": 21}',
        }
    )
    assert (tool.span_type, tool.inputs, tool.outputs) == ("TOOL", {"city": "Paris"}, {"temp": 21})
    _, legacy = one_span(
        attributes={
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Hi",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Hello",
            "gen_ai.usage.prompt_tokens": 7,
            "gen_ai.usage.completion_tokens": 2,
            "llm.usage.total_tokens": 9,
        }
    )
    assert legacy.inputs == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert legacy.outputs == [{"role": "assistant", "content": "Hello"}]
    assert legacy.attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": 7,
        "output_tokens": 2,
        "total_tokens": 9,
    }


def test_genai_prompt_and_completion_in_events():
    _, span = one_span(
        events=[
            ("gen_ai.content.prompt", {"gen_ai.prompt": '[{"role": "user", "content": "q"}]'}),
            ("gen_ai.content.completion", {"gen_ai.completion": "answer"}),
        ]
    )
    assert span.inputs == [{"role": "user", "content": "q"}]
    assert span.outputs == "answer"
    _, messages = one_span(
        events=[
            ("gen_ai.system.message", {"content": "Be brief."}),
            ("gen_ai.user.message", {"content": "Hi"}),
            ("gen_ai.choice", {"content": "Hello"}),
        ]
    )
    assert messages.inputs == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert messages.outputs == [{"role": "assistant", "content": "Hello"}]


def test_openinference_attributes():
    _, span = one_span(
        attributes={
            "openinference.span.kind": "RETRIEVER",
            "input.value": '{"query": "what is mlflow"}',
            "input.mime_type": "application/json",
            "output.value": "plain text answer",
        }
    )
    assert (span.span_type, span.inputs, span.outputs) == (
        "RETRIEVER",
        {"query": "what is mlflow"},
        "plain text answer",
    )
    _, llm = one_span(
        attributes={
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "Hi",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "search",
            "llm.token_count.prompt": 10,
            "llm.token_count.completion": 4,
            "llm.token_count.total": 14,
        }
    )
    assert llm.span_type == "LLM"
    assert llm.inputs == [{"role": "user", "content": "Hi"}]
    assert llm.outputs == [
        {"role": "assistant", "tool_calls": [{"tool_call": {"function": {"name": "search"}}}]}
    ]
    assert llm.attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": 10,
        "output_tokens": 4,
        "total_tokens": 14,
    }


def test_mlflow_attributes_win_over_the_conventions():
    _, span = one_span(
        attributes={
            "mlflow.spanType": "AGENT",
            "mlflow.spanInputs": {"mine": 1},
            "mlflow.chat.tokenUsage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
            "gen_ai.operation.name": "chat",
            "input.value": "theirs",
            "gen_ai.usage.input_tokens": 99,
        }
    )
    assert span.span_type == "AGENT" and span.inputs == {"mine": 1}
    assert span.attributes["mlflow.chat.tokenUsage"]["input_tokens"] == 1


def test_values_postgresql_cannot_store_are_made_safe():
    _, span = one_span(
        name="a\x00b", attributes={"text": "x\x00y", "nan": float("nan"), "blob": b"\x01"}
    )
    assert span.name == "a\ufffdb"
    assert span.attributes == {"text": "x\ufffdy", "nan": "nan", "blob": "AQ=="}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trace_id": b"\x00" * 16}, "the trace id should be 16 bytes"),
        ({"trace_id": b"\x01" * 8}, "the trace id should be 16 bytes"),
        ({"span_id": 0}, "the span id should be 8 bytes"),
    ],
)
def test_invalid_ids_are_refused(changes, message):
    with pytest.raises(otlp.OtlpError) as caught:
        batches(otlp_span(**changes))
    assert message in caught.value.message


def test_a_span_without_start_time_is_refused():
    span = otlp_span(trace_id=TRACE)
    span.start_time_unix_nano = 0
    with pytest.raises(otlp.OtlpError, match="has no start time"):
        batches(span)


def test_resource_attributes_become_tags_and_spans_group_by_trace():
    other = bytes.fromhex("ff" * 16)
    found = batches(
        otlp_span(trace_id=TRACE, span_id=1),
        otlp_span(trace_id=other, span_id=2),
        otlp_span(trace_id=TRACE, span_id=3, parent_id=1),
        resource={"service.name": "bot", "telemetry.sdk.name": "x", "mlflow.x": "y", "n": 3},
    )
    assert [(b.trace_id, len(b.spans)) for b in found] == [(TRACE_ID, 2), ("tr-" + "ff" * 16, 1)]
    assert found[0].tags == {"service.name": "bot", "n": "3"}


def test_protobuf_json_round_trip_of_a_request_reads_the_same():
    request = otlp_request(otlp_span(trace_id=TRACE, attributes={"k": "v"}))
    document = json_format.MessageToDict(request)
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["traceId"] = TRACE.hex()  # OTLP JSON writes hex, json_format base64
    span["spanId"] = (1).to_bytes(8, "big").hex()
    assert otlp.parse_request(json.dumps(document).encode(), "application/json") == request


# --- incremental ingest ---------------------------------------------------------------------------


def span_batch(*spans, trace_id=TRACE_ID, tags=None):
    return SpanBatch(trace_id=trace_id, spans=list(spans), tags=tags or {})


def record(span_id, parent=None, start=0, end=1_000_000, **attributes):
    span = otlp_span(
        trace_id=TRACE,
        span_id=span_id,
        parent_id=parent,
        start=start,
        end=end,
        attributes=attributes or None,
        name=f"s{span_id}",
    )
    return otlp.span_record(span, "test")[1]


USAGE = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}


@pytest.mark.django_db
def test_spans_of_a_trace_arrive_in_several_requests_and_the_root_completes_it():
    experiment = make_experiment()
    first = ingest_spans(
        experiment=experiment,
        batches=[span_batch(record(2, parent=1, start=100, **{"mlflow.chat.tokenUsage": USAGE}))],
    )
    assert first.traces_created == [TRACE_ID] and first.spans == 1
    trace = Trace.objects.get(trace_id=TRACE_ID)
    assert trace.state == TraceState.IN_PROGRESS
    assert (trace.request_preview, trace.execution_duration) == ("", None)
    assert trace.total_tokens == 15

    root = record(
        1, start=0, end=2_500_000, **{"mlflow.spanInputs": {"q": "hi"}, "mlflow.spanOutputs": "yo"}
    )
    second = ingest_spans(
        experiment=experiment,
        batches=[span_batch(root, record(3, parent=1, **{"mlflow.chat.tokenUsage": USAGE}))],
    )
    assert second.traces_updated == [TRACE_ID] and second.spans == 2
    trace.refresh_from_db()
    assert trace.state == TraceState.OK
    assert trace.execution_duration == 2
    assert (trace.request_preview, trace.response_preview) == ('{"q": "hi"}', '"yo"')
    assert trace.tags["mlflow.traceName"] == "s1"
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (20, 10, 30)
    assert trace.request_time.timestamp() == pytest.approx(BASE_NS / 1e9)


@pytest.mark.django_db
def test_a_retried_batch_duplicates_nothing(django_assert_max_num_queries):
    experiment = make_experiment()
    spans = [record(1), record(2, parent=1), record(3, parent=1)]
    ingest_spans(experiment=experiment, batches=[span_batch(*spans)])
    with django_assert_max_num_queries(6):
        again = ingest_spans(experiment=experiment, batches=[span_batch(*spans)])
    assert again.spans == 0 and again.duplicates == 3
    assert again.traces_created == again.traces_updated == []
    assert Span.objects.count() == 3 and Trace.objects.count() == 1


@pytest.mark.django_db
def test_queries_do_not_grow_with_spans(django_assert_max_num_queries):
    experiment = make_experiment()
    spans = [record(1, end=5_000_000)] + [record(n, parent=1) for n in range(2, 400)]
    with django_assert_max_num_queries(8):
        result = ingest_spans(experiment=experiment, batches=[span_batch(*spans)])
    assert result.spans == 399


@pytest.mark.django_db
def test_a_root_in_error_makes_an_error_trace():
    experiment = make_experiment()
    root = otlp.span_record(otlp_span(trace_id=TRACE, status_code=2), "t")[1]
    ingest_spans(experiment=experiment, batches=[span_batch(root)])
    assert Trace.objects.get().state == TraceState.ERROR


@pytest.mark.django_db
def test_a_bad_span_writes_nothing_of_the_request():
    experiment = make_experiment()
    good = record(1)
    bad = record(2, parent=1, start=5_000_000, end=1)
    with pytest.raises(ValidationError, match="ends before it starts"):
        ingest_spans(
            experiment=experiment,
            batches=[span_batch(good, trace_id="tr-a"), span_batch(bad, trace_id="tr-b")],
        )
    assert not Trace.objects.exists() and not Span.objects.exists()


@pytest.mark.django_db
def test_spans_of_a_trace_of_another_experiment_are_refused():
    trace = make_trace(make_experiment("first"), trace_id=TRACE_ID)
    with pytest.raises(ValidationError, match="belongs to experiment"):
        ingest_spans(experiment=make_experiment("second"), batches=[span_batch(record(9))])
    assert not trace.spans.exists()


@pytest.mark.django_db
def test_trace_info_sent_first_is_not_overwritten_by_spans_arriving_later():
    experiment = make_experiment()
    info = TraceRecord(
        trace_id=TRACE_ID,
        state="OK",
        execution_duration_ms=42,
        request_preview="the client's preview",
        trace_metadata={"mlflow.trace.tokenUsage": json.dumps(USAGE)},
        tags={"mlflow.traceName": "app"},
        assessments=[Feedback(name="ok", value=True, source=Source("HUMAN", "ann"))],
    )
    trace, created = upsert_trace_info(experiment=experiment, record=info)
    assert created and trace.trace_metadata[METADATA_INFO_FINALIZED] == "true"
    assert trace.total_tokens == 15 and trace.assessments.get().name == "ok"

    root = record(1, end=9_000_000_000, **{"mlflow.spanInputs": "other"})
    ingest_spans(experiment=experiment, batches=[span_batch(root)])
    trace.refresh_from_db()
    assert (trace.execution_duration, trace.request_preview) == (42, "the client's preview")
    assert trace.spans.count() == 1

    # The same info again (a retry) adds no second assessment.
    upsert_trace_info(experiment=experiment, record=info)
    assert trace.assessments.count() == 1


@pytest.mark.django_db
def test_trace_info_sent_after_the_spans_completes_the_trace():
    experiment = make_experiment()
    ingest_spans(experiment=experiment, batches=[span_batch(record(2, parent=1))])
    info = TraceRecord(
        trace_id=TRACE_ID,
        state="ERROR",
        execution_duration_ms=7,
        client_request_id="req-1",
        trace_metadata={"mlflow.user": "ann"},
        tags={"env": "prod"},
    )
    trace, created = upsert_trace_info(experiment=experiment, record=info)
    assert not created
    assert (trace.state, trace.execution_duration, trace.client_request_id) == ("ERROR", 7, "req-1")
    assert trace.trace_metadata == {"mlflow.user": "ann", METADATA_INFO_FINALIZED: "true"}
    assert trace.tags["env"] == "prod"
    assert Trace.objects.count() == 1


@pytest.mark.django_db
def test_trace_info_for_a_trace_of_another_experiment_is_refused():
    make_trace(make_experiment("first"), trace_id=TRACE_ID)
    with pytest.raises(ValidationError, match="belongs to experiment"):
        upsert_trace_info(experiment=make_experiment("second"), record=TraceRecord(TRACE_ID))
