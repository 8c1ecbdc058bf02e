"""traces.rendering: span payloads parsed for people (pure functions, no database)."""

import json

from traces import rendering
from traces.rendering import (
    Conversation,
    Documents,
    Fields,
    Json,
    Text,
    ToolInvocation,
    describe_value,
    parse_payload,
    preview_text,
    span_io,
)
from traces.rendering.chat import URL_MAX_CHARS
from traces.rendering.values import PRETTY_MAX_CHARS


def roles(block):
    assert isinstance(block, Conversation), block
    return [m.role for m in block.messages]


def texts(message):
    return [p.text for p in message.parts if p.text]


# --- OpenAI ---------------------------------------------------------------------------------------


def test_openai_request_is_a_conversation_with_settings_apart():
    block = parse_payload(
        {
            "model": "gpt-4o",
            "temperature": 0,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            ],
        }
    )
    assert roles(block) == ["system", "user"]
    assert texts(block.messages[1]) == ["Hi"]
    assert isinstance(block.params, Fields)
    assert {f.key for f in block.params.fields} == {"model", "temperature"}


def test_openai_tool_call_and_result_are_linked():
    block = parse_payload(
        [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_9", "content": "4°C, rain"},
        ]
    )
    assistant, tool = block.messages[1], block.messages[2]
    (call,) = assistant.tool_calls
    assert (call.name, call.arguments, call.id) == ("get_weather", {"city": "Oslo"}, "call_9")
    assert isinstance(call.arguments_block, Fields)
    assert tool.role_label == "Tool result"
    assert tool.tool_name == "get_weather"
    assert texts(tool) == ["4°C, rain"]


def test_openai_completion_output():
    block = parse_payload(
        {
            "id": "x",
            "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}}],
            "usage": {"total_tokens": 9},
        }
    )
    assert roles(block) == ["assistant"]
    assert texts(block.messages[0]) == ["Hello!"]
    assert block.params is not None


def test_unparseable_tool_arguments_stay_text():
    block = parse_payload(
        {
            "role": "assistant",
            "tool_calls": [{"function": {"name": "f", "arguments": "{not json"}}],
        }
    )
    assert block.messages[0].tool_calls[0].arguments == "{not json"


def test_openai_responses_api_items():
    block = parse_payload(
        {
            "output": [
                {
                    "type": "function_call",
                    "name": "search",
                    "arguments": '{"q": "x"}',
                    "call_id": "c",
                },
                {"type": "function_call_output", "call_id": "c", "output": "found"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Done"}],
                },
            ]
        }
    )
    assert roles(block) == ["assistant", "tool", "assistant"]
    assert block.messages[1].tool_name == "search"
    assert texts(block.messages[2]) == ["Done"]


# --- Anthropic ------------------------------------------------------------------------------------


def test_anthropic_request_with_system_tool_use_and_result():
    block = parse_payload(
        {
            "model": "claude-sonnet",
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"c": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "sunny"}],
                },
            ],
        }
    )
    assert roles(block) == ["system", "user", "assistant", "tool"]
    assert texts(block.messages[0]) == ["You are terse."]
    assert block.messages[2].tool_calls[0].arguments == {"c": 1}
    assert block.messages[3].tool_name == "weather"
    assert texts(block.messages[3]) == ["sunny"]


def test_anthropic_response_message():
    block = parse_payload(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude",
            "content": [{"type": "text", "text": "Hi there"}],
            "stop_reason": "end_turn",
        }
    )
    assert roles(block) == ["assistant"]
    assert texts(block.messages[0]) == ["Hi there"]


def test_images_are_shown_as_references_not_loaded():
    block = parse_payload(
        [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + "A" * 500},
                    },
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png"}},
                ],
            }
        ]
    )
    parts = block.messages[0].parts
    assert [p.kind for p in parts] == ["image", "image"]
    assert len(parts[0].ref) <= URL_MAX_CHARS


# --- LangChain ------------------------------------------------------------------------------------


def test_langchain_message_dicts_in_a_batch():
    block = parse_payload(
        {
            "messages": [
                [
                    {"type": "system", "content": "sys"},
                    {"type": "human", "content": "hi"},
                    {
                        "type": "ai",
                        "content": "",
                        "tool_calls": [{"name": "lookup", "args": {"id": 3}, "id": "t1"}],
                    },
                    {"type": "tool", "content": "ok", "tool_call_id": "t1", "name": "lookup"},
                ]
            ]
        }
    )
    assert roles(block) == ["system", "user", "assistant", "tool"]
    assert block.messages[2].tool_calls[0].arguments == {"id": 3}
    assert block.messages[3].tool_name == "lookup"


def test_langchain_serialised_messages():
    block = parse_payload(
        [
            {
                "lc": 1,
                "type": "constructor",
                "id": ["langchain", "schema", "messages", "HumanMessage"],
                "kwargs": {"content": "Question?"},
            },
            {
                "lc": 1,
                "type": "constructor",
                "id": ["langchain_core", "messages", "AIMessageChunk"],
                "kwargs": {"content": "Answer."},
            },
        ]
    )
    assert roles(block) == ["user", "assistant"]


def test_langchain_llm_result_generations():
    block = parse_payload(
        {
            "generations": [
                [{"text": "plain", "message": {"type": "ai", "content": "from message"}}],
            ],
            "llm_output": {"model": "m"},
        }
    )
    assert texts(block.messages[0]) == ["from message"]
    only_text = parse_payload({"generations": [[{"text": "just text"}]]})
    assert texts(only_text.messages[0]) == ["just text"]


# --- documents, tools, fields, JSON ---------------------------------------------------------


def test_retrieved_documents_become_cards():
    block = parse_payload(
        [
            {
                "page_content": "Doc one",
                "metadata": {"doc_uri": "kb/a.md", "chunk_id": "c1", "score": 0.8, "lang": "en"},
            },
            {"page_content": "Doc two", "metadata": {}, "id": "d2"},
        ]
    )
    assert isinstance(block, Documents)
    first, second = block.documents
    assert (first.content, first.source, first.id, first.score) == ("Doc one", "kb/a.md", "c1", 0.8)
    assert first.metadata_items == [("chunk_id", "c1"), ("lang", "en")]
    assert second.id == "d2"


def test_retriever_spans_accept_plain_texts_and_wrapped_lists():
    assert parse_payload(["a", "b"]) == Json(["a", "b"])
    block = parse_payload({"documents": ["a", "b"]}, span_type="RETRIEVER")
    assert [d.content for d in block.documents] == ["a", "b"]


def test_tool_span_reads_as_a_call():
    io = span_io(inputs={"city": "Oslo"}, outputs="4°C", span_type="TOOL", name="get_weather")
    (section,) = io.sections
    assert section.title == "Tool call"
    assert isinstance(section.block, ToolInvocation)
    assert section.block.name == "get_weather"
    assert isinstance(section.block.arguments, Fields)
    assert section.block.result == Text("4°C")
    assert section.shows_raw


def test_other_spans_have_inputs_and_outputs():
    io = span_io(inputs=None, outputs={"a": {"nested": True}}, span_type="CHAIN")
    inputs, outputs = io.sections
    assert inputs.block is None and "No inputs" in inputs.empty_text
    assert isinstance(outputs.block, Json)
    assert outputs.block.summary == "1 key"
    assert not outputs.shows_raw


def test_small_flat_dicts_are_fields_and_lists_show_compactly():
    block = parse_payload({"question": "Why?", "k": 3, "tags": ["a", "b"], "none": None})
    assert isinstance(block, Fields)
    by_key = {f.key: f for f in block.fields}
    assert by_key["tags"].text == '["a", "b"]'
    assert by_key["none"].is_empty
    assert by_key["k"].text == "3"


def test_json_encoded_strings_are_parsed():
    assert isinstance(parse_payload(json.dumps([{"role": "user", "content": "x"}])), Conversation)
    assert parse_payload("[not json") == Text("[not json")
    assert parse_payload("plain answer") == Text("plain answer")
    assert parse_payload(42) == Text("42")
    assert parse_payload(None) is None
    assert parse_payload({}) is None


def test_huge_json_is_shortened():
    block = parse_payload({"blob": ["x" * 1000] * 200})
    assert isinstance(block, Json)
    assert block.truncated
    assert len(block.pretty) == PRETTY_MAX_CHARS


def test_messages_with_an_unknown_item_fall_back_to_json():
    value = [{"role": "user", "content": "x"}, {"something": "else"}]
    assert isinstance(parse_payload(value), Json)


# --- previews and values ------------------------------------------------------------------


def test_preview_text_reads_the_question_or_answer():
    chat = json.dumps(
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "Q?"}]}
    )
    assert preview_text(chat) == "Q?"
    reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": "A."}}]})
    assert preview_text(reply) == "A."
    assert preview_text(json.dumps({"question": "What?"})) == "What?"
    assert preview_text(json.dumps("text")) == "text"
    assert preview_text('{"cut": "short') == '{"cut": "short'
    assert preview_text("") == ""


def test_describe_value():
    assert describe_value(True).kind == "true"
    assert describe_value(False).short == "false"
    assert describe_value(0.123456789).short == "0.123457"
    assert describe_value(12345).short == "12,345"
    long = describe_value("word " * 30)
    assert long.kind == "text" and long.short.endswith("…") and len(long.short) <= 40
    assert describe_value({"a": [1]}).short == "JSON"
    assert (
        describe_value(None, error_code="TIMEOUT", error_message="judge").full == "TIMEOUT: judge"
    )


def test_attributes_and_events():
    attributes = {"b": {"x": 1}, "a": "text", "mlflow.spanInputs": "{}", "n": 3}
    assert rendering.attribute_items(attributes, hidden=frozenset({"mlflow.spanInputs"})) == [
        ("a", "text"),
        ("b", '{"x": 1}'),
        ("n", "3"),
    ]
    assert rendering.attribute_items(None) == []
    events = rendering.parse_events(
        [
            {"name": "exception", "timestamp": 1_500, "attributes": {"exception.type": "KeyError"}},
            {"name": "retry", "time_unix_nano": "2000"},
            {"name": "odd", "timestamp": "soon"},
            "not a dict",
        ],
        start_ns=1_000,
    )
    assert [(e.name, e.offset_ns) for e in events] == [
        ("exception", 500),
        ("retry", 1000),
        ("odd", None),
        ("event", None),
    ]
    assert events[0].is_exception and events[0].attributes == (("exception.type", "KeyError"),)
    assert rendering.parse_events({"not": "a list"}, start_ns=0) == []


def test_json_tool_results_read_as_data():
    block = parse_payload(
        [
            {"role": "tool", "tool_call_id": "c", "content": '{"status": "shipped", "eta": "Fri"}'},
            {"role": "tool", "tool_call_id": "d", "content": "plain words"},
        ]
    )
    assert isinstance(block.messages[0].parts[0].json_block, Fields)
    assert block.messages[1].parts[0].json_block is None
