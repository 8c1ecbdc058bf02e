"""Import of MLflow trace JSON: `traces.mlflow_json`, `traces.ingest`, `manage.py import_traces`.

The fixtures under tests/fixtures/mlflow/ were written by the real MLflow SDK
(tests/fixtures/make_mlflow_traces.py); what a trace should look like once imported is read back
from the same files with MLflow's own parser (`mlflow.entities.Trace.from_json`), so the tests
check our reading of the format against the SDK's.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from mlflow.entities import Trace as MlflowTrace

from tests.factories import (
    make_experiment,
    make_feedback,
    make_trace,
    mlflow_feedback_json,
    mlflow_span_id,
    mlflow_trace_json,
)
from traces.ingest import bulk, records
from traces.ingest.bulk import ingest_traces
from traces.ingest.records import SpanRecord, TraceRecord
from traces.mlflow_json import (
    TraceFileError,
    import_trace_file,
    parse_duration_ms,
    parse_timestamp,
    read_trace_file,
    span_id_to_hex,
)
from traces.models import (
    PREVIEW_MAX_LENGTH,
    Assessment,
    Experiment,
    LifecycleStage,
    Span,
    Trace,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mlflow"
RAG = FIXTURES / "rag_trace.json"
LIST = FIXTURES / "traces_list.json"
JSONL = FIXTURES / "traces.jsonl"
ALL_FIXTURES = (RAG, LIST, JSONL)

pytestmark = pytest.mark.django_db


def sdk_traces(path: Path) -> list[MlflowTrace]:
    """The traces of a fixture file as MLflow's own parser reads them."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [MlflowTrace.from_json(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    documents = data if isinstance(data, list) else [data]
    return [MlflowTrace.from_dict(document) for document in documents]


def import_file(path: Path, experiment: Experiment | None = None):
    experiment = experiment or make_experiment()
    return import_trace_file(experiment=experiment, data=path.read_bytes(), name=path.name)


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_traces", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- what a trace written by the SDK becomes ------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_span_is_imported_as_the_sdk_reads_it(path):
    result = import_file(path)
    assert result.ok, result.error

    for expected in sdk_traces(path):
        trace = Trace.objects.get(trace_id=expected.info.trace_id)
        rows = {span.span_id: span for span in trace.spans.all()}
        assert set(rows) == {span.span_id for span in expected.data.spans}
        for span in expected.data.spans:
            row = rows[span.span_id]
            assert row.parent_id == span.parent_id
            assert row.name == span.name
            assert row.span_type == span.span_type
            assert row.start_time_ns == span.start_time_ns
            assert row.end_time_ns == span.end_time_ns
            assert row.status_code == span.status.status_code.value
            assert row.status_message == span.status.description
            assert row.inputs == span.inputs
            assert row.outputs == span.outputs
            assert [(e["name"], e["time_unix_nano"], e["attributes"]) for e in row.events] == [
                (e.name, e.timestamp, e.attributes) for e in span.events
            ]
            for key, value in span.attributes.items():
                if key not in {"mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType"}:
                    assert row.attributes[key] == value
        info = expected.info
        assert trace.request_time == datetime.fromtimestamp(info.request_time / 1000, tz=UTC)
        assert trace.execution_duration == info.execution_duration
        assert trace.state == info.state.value
        assert trace.trace_metadata == info.trace_metadata
        assert trace.tags == info.tags
        assert trace.request_preview == (info.request_preview or "")
        assert trace.response_preview == (info.response_preview or "")


def test_span_ids_are_hex_and_parent_links_form_the_tree():
    import_file(RAG)
    spans = {s.name: s for s in Span.objects.all()}
    root = spans["answer_question"]
    assert root.parent_id is None
    assert len(root.span_id) == 16
    int(root.span_id, 16)
    for child in ("retrieve", "lookup_release_notes", "chat_completion"):
        assert spans[child].parent_id == root.span_id
    assert spans["retrieve"].span_type == "RETRIEVER"
    assert spans["chat_completion"].span_type == "CHAT_MODEL"
    assert all(s.start_time_ns >= root.start_time_ns for s in spans.values())
    assert all(s.end_time_ns <= root.end_time_ns for s in spans.values())


def test_retriever_documents_and_chat_messages_are_json():
    import_file(RAG)
    retriever = Span.objects.get(name="retrieve")
    assert [d["id"] for d in retriever.outputs] == [
        "doc-tracing-3",
        "doc-assessments-1",
        "doc-experiments-7",
    ]
    assert retriever.outputs[2]["page_content"] == "トレースは実験に保存されます。🚀"
    chat = Span.objects.get(name="chat_completion")
    assert [m["role"] for m in chat.inputs["messages"]] == ["system", "user"]
    assert chat.outputs["choices"][0]["message"]["role"] == "assistant"
    assert chat.attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": 412,
        "output_tokens": 57,
        "total_tokens": 469,
    }
    assert chat.attributes["llm.model"] == "gpt-4o-mini"
    # Type, inputs and outputs live in their own columns, not twice.
    assert "mlflow.spanInputs" not in chat.attributes
    assert "mlflow.spanType" not in chat.attributes


def test_error_span_keeps_status_message_and_exception_event():
    import_file(RAG)
    tool = Span.objects.get(name="lookup_release_notes")
    assert tool.status_code == "ERROR"
    assert tool.status_message.startswith("TimeoutError: release-notes service did not answer")
    [event] = tool.events
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "TimeoutError"
    assert "Traceback" in event["attributes"]["exception.stacktrace"]
    # The error was caught higher up: the trace itself is OK.
    assert tool.trace.state == "OK"


def test_a_failing_root_span_makes_an_error_trace():
    import_file(LIST)
    trace = Trace.objects.get(spans__name="broken_pipeline")
    assert trace.state == "ERROR"
    root = trace.spans.get(parent_id=None)
    assert root.status_code == "ERROR"
    assert root.status_message == "ValueError: no route for ticket 'TCK-42'"


def test_token_usage_comes_from_the_trace_metadata():
    import_file(RAG)
    trace = Trace.objects.get()
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (412, 57, 469)


def test_unicode_and_large_output_arrive_intact():
    import_file(RAG)
    import_file(LIST)
    root = Span.objects.get(name="answer_question")
    assert root.inputs == {"question": "Qu'est-ce que MLflow Tracing ? Et les « assessments » 🤔"}
    assert "日本語でも大丈夫です ✅" in root.outputs

    expected = next(
        span.outputs
        for t in sdk_traces(LIST)
        for span in t.data.spans
        if span.name == "load_report"
    )
    large = Span.objects.get(name="load_report")
    assert len(expected) == 150_000
    assert len(json.dumps(large.outputs, ensure_ascii=False).encode()) > 100_000
    assert large.outputs == expected
    assert "データ行" in large.outputs


# --- assessments ----------------------------------------------------------------------------------


def test_assessments_keep_ids_times_valid_flags_and_overrides():
    import_file(RAG)
    [expected_trace] = sdk_traces(RAG)
    rows = {a.assessment_id: a for a in Assessment.objects.all()}
    assert set(rows) == {a.assessment_id for a in expected_trace.info.assessments}
    for expected in expected_trace.info.assessments:
        row = rows[expected.assessment_id]
        assert row.name == expected.name
        assert row.source_type == expected.source.source_type
        assert row.source_id == expected.source.source_id
        assert row.create_time == datetime.fromtimestamp(expected.create_time_ms / 1000, tz=UTC)
        assert row.last_update_time == datetime.fromtimestamp(
            expected.last_update_time_ms / 1000, tz=UTC
        )
        assert row.span_id == expected.span_id
        assert row.rationale == (expected.rationale or "")
        assert row.trace.trace_id == expected_trace.info.trace_id
        assert row.experiment_id == row.trace.experiment_id

    old, new = (
        rows[a.assessment_id]
        for a in sorted(
            (a for a in expected_trace.info.assessments if a.name == "correctness"),
            key=lambda a: a.create_time_ms,
        )
    )
    assert (old.value, old.valid, old.source_type) == (False, False, "LLM_JUDGE")
    assert (new.value, new.valid, new.source_type) == (True, True, "HUMAN")
    assert new.overrides == old
    assert new.metadata == {"session": "review-1"}
    assert list(Assessment.objects.valid().filter(name="correctness")) == [new]


def test_span_level_feedback_and_error_feedback():
    import_file(RAG)
    relevance = Assessment.objects.get(name="retrieval_relevance")
    assert relevance.span_id == Span.objects.get(name="retrieve").span_id
    assert relevance.value == {"doc-tracing-3": 1, "doc-assessments-1": 1, "doc-experiments-7": 0}
    failed = Assessment.objects.get(name="groundedness")
    assert failed.value is None
    assert failed.error_code == "RATE_LIMIT_EXCEEDED"
    assert failed.error_message == "The judge model was rate limited."
    assert failed.stack_trace.endswith("RateLimitError: 429")


def test_expectations_with_object_and_string_values():
    import_file(RAG)
    facts = Assessment.objects.get(name="expected_facts")
    assert facts.is_expectation
    assert facts.value == {
        "facts": ["records inputs and outputs", "assessments store reviews"],
        "must_cite": True,
        "langues": ["fr", "ja"],
    }
    assert facts.valid  # expectations carry no `valid` in the file: valid unless overridden
    assert Assessment.objects.get(name="expected_response").value.startswith("MLflow Tracing")


def test_missing_valid_flag_is_derived_from_the_overrides_chain():
    first = mlflow_feedback_json(value=1)
    second = mlflow_feedback_json(value=2, overrides=first["assessment_id"])
    third = mlflow_feedback_json(value=3, overrides=second["assessment_id"])
    for item in (first, second, third):
        del item["valid"]
    document = mlflow_trace_json(assessments=[first, second, third])
    result = import_trace_file(
        experiment=make_experiment(), data=json.dumps(document), name="chain.json"
    )
    assert result.ok, result.error
    rows = {a.value: a for a in Assessment.objects.all()}
    assert [rows[v].valid for v in (1, 2, 3)] == [False, False, True]
    assert rows[3].overrides == rows[2] and rows[2].overrides == rows[1]


def test_an_override_of_an_assessment_not_in_the_trace_imports_with_a_warning():
    orphan = mlflow_feedback_json(overrides="a-" + "0" * 32)
    document = mlflow_trace_json(assessments=[orphan])
    result = import_trace_file(
        experiment=make_experiment(), data=json.dumps(document), name="orphan.json"
    )
    assert result.ok
    assert "not in the trace" in result.warnings[0]
    assert Assessment.objects.get().overrides is None


# --- idempotence ----------------------------------------------------------------------------------


def test_importing_twice_does_not_duplicate():
    experiment = make_experiment()
    first = import_file(RAG, experiment)
    second = import_file(RAG, experiment)
    assert len(first.imported) == 1 and first.already_present == []
    assert second.imported == [] and second.already_present == first.imported
    assert Trace.objects.count() == 1
    assert Span.objects.count() == 4
    assert Assessment.objects.count() == 6


def test_a_trace_already_in_another_experiment_is_reported_not_moved():
    import_file(RAG, make_experiment("first"))
    result = import_file(RAG, make_experiment("second"))
    assert result.already_present and not result.imported
    assert Trace.objects.get().experiment.name == "first"


def test_the_same_trace_twice_in_one_file_is_imported_once():
    document = mlflow_trace_json()
    result = import_trace_file(
        experiment=make_experiment(), data=json.dumps([document, document]), name="dup.json"
    )
    assert result.imported == [document["info"]["trace_id"]]
    assert result.already_present == [document["info"]["trace_id"]]
    assert Trace.objects.count() == 1


# --- input shapes ---------------------------------------------------------------------------------


def test_single_trace_file():
    _, _ = run_command(str(RAG), "--experiment", "rag")
    assert Trace.objects.filter(experiment__name="rag").count() == 1


def test_list_file():
    run_command(str(LIST), "--experiment", "lists")
    assert Trace.objects.filter(experiment__name="lists").count() == 2


def test_jsonl_file():
    run_command(str(JSONL), "--experiment", "chats")
    assert Trace.objects.filter(experiment__name="chats").count() == 3


def test_jsonl_content_is_recognised_whatever_the_file_name():
    lines = "\n".join(json.dumps(mlflow_trace_json()) for _ in range(2))
    assert len(read_trace_file(lines, name="traces.json")) == 2
    assert len(read_trace_file(lines.encode(), name="upload")) == 2


def test_jsonl_lines_end_only_at_newlines():
    document = mlflow_trace_json(spans=1)
    document["info"]["tags"]["note"] = "one\u2028two\u0085three\rfour"
    content = json.dumps(document, ensure_ascii=False) + "\r\n" + json.dumps(mlflow_trace_json())
    [first, _] = read_trace_file(content, name="raw.jsonl")
    assert first.tags["note"] == "one\u2028two\u0085three\rfour"


def test_folder_is_searched_recursively_for_json_and_jsonl(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(RAG, tmp_path / "rag.json")
    shutil.copy(LIST, tmp_path / "a" / "list.JSON")
    shutil.copy(JSONL, tmp_path / "a" / "b" / "chats.jsonl")
    (tmp_path / "a" / "notes.txt").write_text("not a trace")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "broken.json").write_text("{")
    out, _ = run_command(str(tmp_path), "--experiment", "folder")
    assert Trace.objects.filter(experiment__name="folder").count() == 6
    assert "Imported 6 traces (18 spans, 7 assessments)" in out
    assert "from 3 of 3 files" in out


def test_experiment_is_created_when_missing_and_reused_otherwise():
    out, _ = run_command(str(RAG), "--experiment", "New one")
    assert 'Created experiment "New one"' in out
    out, _ = run_command(str(JSONL), "--experiment", "New one")
    assert "Created" not in out
    assert Experiment.objects.get(name="New one").traces.count() == 4


def test_a_deleted_experiment_is_refused():
    make_experiment("gone", lifecycle_stage=LifecycleStage.DELETED)
    with pytest.raises(CommandError, match="deleted"):
        run_command(str(RAG), "--experiment", "gone")
    assert not Trace.objects.exists()


def test_importer_accepts_an_uploaded_file():
    upload = SimpleUploadedFile("traces.jsonl", JSONL.read_bytes(), "application/jsonl")
    result = import_trace_file(experiment=make_experiment(), data=upload, name=upload.name)
    assert result.ok and len(result.imported) == 3


def test_mlflow_2_trace_json_is_read():
    document = {
        "info": {
            "request_id": "tr-0123456789abcdef0123456789abcdef",
            "experiment_id": "0",
            "timestamp_ms": 1717243200250,
            "execution_time_ms": 42,
            "status": "ERROR",
            "request_metadata": {"mlflow.traceInputs": '{"x": 1}'},
            "tags": {"mlflow.traceName": "predict"},
        },
        "data": {
            "spans": [
                {
                    "name": "predict",
                    "context": {"span_id": "0x00000000000000aa", "trace_id": "0x" + "1" * 32},
                    "parent_id": None,
                    "start_time": 1717243200250000000,
                    "end_time": 1717243200292000000,
                    "status_code": "ERROR",
                    "status_message": "boom",
                    "attributes": {
                        "mlflow.spanType": '"LLM"',
                        "mlflow.spanInputs": '{"x": 1}',
                        "mlflow.spanOutputs": "null",
                    },
                    "events": [
                        {"name": "exception", "timestamp": 1717243200291000000, "attributes": {}}
                    ],
                }
            ],
            "request": '{"x": 1}',
            "response": None,
        },
    }
    result = import_trace_file(
        experiment=make_experiment(), data=json.dumps(document), name="v2.json"
    )
    assert result.ok, result.error
    trace = Trace.objects.get()
    assert trace.trace_id == "tr-0123456789abcdef0123456789abcdef"
    assert trace.state == "ERROR"
    assert trace.execution_duration == 42
    assert trace.request_time == datetime(2024, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert trace.trace_metadata == {"mlflow.traceInputs": '{"x": 1}'}
    assert trace.request_preview == '{"x": 1}'
    span = trace.spans.get()
    assert (span.span_id, span.span_type, span.status_code) == ("00000000000000aa", "LLM", "ERROR")
    assert span.events[0]["time_unix_nano"] == 1717243200291000000


# --- bad files ------------------------------------------------------------------------------------


BAD_FILES = {
    "malformed.json": ('{"info": {', "not valid JSON"),
    "wrong_shape.json": ('{"traces": []}', 'expected a trace: an object with "info" and "data"'),
    "a_list_of_numbers.json": ("[1, 2]", "item 1 of the list"),
    "bad_line.jsonl": (
        json.dumps(mlflow_trace_json()) + "\n{oops\n",
        "line 2 is not valid JSON",
    ),
    "bad_span_id.json": (
        json.dumps(
            {
                **mlflow_trace_json(spans=1),
                "data": {
                    "spans": [{**mlflow_trace_json(spans=1)["data"]["spans"][0], "span_id": "??"}]
                },
            }
        ),
        "span_id '??' is neither base64 nor hex",
    ),
    "empty.json": ("  \n", "the file is empty"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_is_reported_with_its_problem(name):
    content, message = BAD_FILES[name]
    result = import_trace_file(experiment=make_experiment(), data=content, name=name)
    assert not result.ok
    assert message in result.error
    assert not Trace.objects.exists()


def invalid_assessment_file() -> tuple[str, str]:
    """A list whose first trace is fine and whose second has an invalid feedback."""
    good = mlflow_trace_json()
    bad = mlflow_trace_json(
        assessments=[mlflow_feedback_json(name="score", value=[{"nested": "dict"}])]
    )
    return json.dumps([good, bad]), bad["info"]["trace_id"]


def test_an_invalid_assessment_rolls_back_the_whole_file():
    content, bad_trace_id = invalid_assessment_file()
    result = import_trace_file(experiment=make_experiment(), data=content, name="bad.json")
    assert not result.ok
    assert bad_trace_id in result.error
    assert "A feedback list may hold only numbers, booleans and strings" in result.error
    assert not Trace.objects.exists()
    assert not Span.objects.exists()
    assert not Assessment.objects.exists()


def test_an_assessment_on_a_span_not_in_the_trace_is_refused():
    document = mlflow_trace_json(assessments=[mlflow_feedback_json(span_id="00000000000000ff")])
    result = import_trace_file(experiment=make_experiment(), data=json.dumps(document), name="x")
    assert "not a span of this trace" in result.error
    assert not Trace.objects.exists()


def test_an_assessment_id_already_taken_by_another_trace_is_refused():
    taken = make_feedback(make_trace())
    document = mlflow_trace_json(
        assessments=[mlflow_feedback_json(assessment_id=taken.assessment_id)]
    )
    result = import_trace_file(experiment=make_experiment(), data=json.dumps(document), name="x")
    assert f"The assessment id {taken.assessment_id} already exists" in result.error
    assert Trace.objects.count() == 1


def test_a_span_that_ends_before_it_starts_is_refused():
    document = mlflow_trace_json(spans=1)
    span = document["data"]["spans"][0]
    span["end_time_unix_nano"] = span["start_time_unix_nano"] - 1
    result = import_trace_file(experiment=make_experiment(), data=json.dumps(document), name="x")
    assert "ends before it starts" in result.error


def test_an_assessment_id_too_long_for_the_column_is_refused():
    document = mlflow_trace_json(assessments=[mlflow_feedback_json(assessment_id="a-" + "f" * 90)])
    result = import_trace_file(experiment=make_experiment(), data=json.dumps(document), name="x")
    assert "is not text of at most 64 characters" in result.error
    assert not Trace.objects.exists()


def test_a_database_error_is_reported_and_rolls_the_file_back(monkeypatch):
    def refuse(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(Span.objects, "bulk_create", refuse)
    result = import_trace_file(
        experiment=make_experiment(), data=json.dumps(mlflow_trace_json()), name="x"
    )
    assert result.error == (
        "the database refused the data: duplicate key value violates unique constraint"
    )
    assert not Trace.objects.exists()


def test_a_time_too_large_for_the_column_is_refused():
    document = mlflow_trace_json(spans=1)
    document["data"]["spans"][0]["end_time_unix_nano"] = 2**64
    result = import_trace_file(experiment=make_experiment(), data=json.dumps(document), name="x")
    assert "end time that is not a nanosecond timestamp" in result.error


def test_nan_is_refused_rather_than_stored():
    result = import_trace_file(
        experiment=make_experiment(), data='{"info": {"x": NaN}, "data": {}}', name="nan.json"
    )
    assert "NaN is not valid JSON" in result.error


def test_nul_characters_are_replaced_so_postgresql_can_store_them():
    document = mlflow_trace_json(spans=1)
    document["data"]["spans"][0]["attributes"]["mlflow.spanOutputs"] = json.dumps("a\u0000b")
    document["info"]["tags"]["note"] = "x\u0000y"
    result = import_trace_file(experiment=make_experiment(), data=json.dumps(document), name="x")
    assert result.ok, result.error
    assert Span.objects.get().outputs == "a\ufffdb"
    assert Trace.objects.get().tags["note"] == "x\ufffdy"


def test_cli_reports_a_bad_file_and_imports_the_others(tmp_path):
    shutil.copy(RAG, tmp_path / "1_rag.json")
    content, bad_trace_id = invalid_assessment_file()
    (tmp_path / "2_invalid_assessment.json").write_text(content)
    (tmp_path / "3_malformed.json").write_text('{"info": ')
    shutil.copy(JSONL, tmp_path / "4_chats.jsonl")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="2 files could not be imported") as raised:
        call_command(
            "import_traces", str(tmp_path), "--experiment", "mixed", stdout=out, stderr=err
        )
    assert "2_invalid_assessment.json" in str(raised.value)
    errors = err.getvalue()
    assert f"2_invalid_assessment.json: Trace {bad_trace_id}: assessment" in errors
    assert "3_malformed.json: this is not valid JSON" in errors
    assert "Imported 4 traces" in out.getvalue()
    assert "from 2 of 4 files" in out.getvalue()
    assert Trace.objects.count() == 4  # 1 + 3; nothing of the bad list's good first trace
    assert not Trace.objects.filter(trace_id=bad_trace_id).exists()


@pytest.fixture
def keep_test_connection(monkeypatch):
    """`run_from_argv` closes every connection when done, which would end the test's
    transaction on PostgreSQL."""
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


def test_cli_exit_status_is_non_zero_when_a_file_failed(tmp_path, capsys, keep_test_connection):
    (tmp_path / "bad.json").write_text("nope")
    shutil.copy(RAG, tmp_path / "good.json")
    utility = ManagementUtility(
        ["manage.py", "import_traces", str(tmp_path), "--experiment", "exit"]
    )
    with pytest.raises(SystemExit) as exit_info:
        utility.execute()
    assert exit_info.value.code == 1
    assert "bad.json" in capsys.readouterr().err
    assert Trace.objects.count() == 1


def test_cli_exit_status_is_zero_when_all_files_import(capsys, keep_test_connection):
    utility = ManagementUtility(["manage.py", "import_traces", str(RAG), "--experiment", "ok"])
    utility.execute()  # no SystemExit
    assert "Imported 1 trace (4 spans, 6 assessments)" in capsys.readouterr().out


def test_cli_verbosity_0_prints_only_problems(tmp_path):
    (tmp_path / "bad.json").write_text("[]")
    shutil.copy(RAG, tmp_path / "good.json")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_traces", str(tmp_path), "--experiment", "q", "-v", "0", stdout=out, stderr=err
        )
    assert out.getvalue() == ""
    assert "bad.json: the file holds no traces" in err.getvalue()


def test_cli_verbosity_2_lists_each_file():
    out, _ = run_command(str(FIXTURES), "--experiment", "v2", "-v", "2")
    assert "rag_trace.json: 1 imported, 0 already present" in out
    assert "traces.jsonl: 3 imported, 0 already present" in out


def test_cli_reports_a_folder_without_trace_files(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    err = StringIO()
    with pytest.raises(CommandError, match="1 file could not be imported"):
        call_command("import_traces", str(tmp_path), "--experiment", "empty", stderr=err)
    assert "the folder has no .json or .jsonl files" in err.getvalue()


def test_cli_reports_a_missing_path():
    with pytest.raises(CommandError, match="1 file could not be imported"):
        run_command("/no/such/file.json", str(RAG), "--experiment", "x")
    assert Trace.objects.count() == 1


# --- progress -------------------------------------------------------------------------------------


def test_cli_progress_on_stderr(tmp_path):
    for number in range(4):
        lines = [json.dumps(mlflow_trace_json(spans=2)) for _ in range(50)]
        (tmp_path / f"part{number}.jsonl").write_text("\n".join(lines))
    _, err = run_command(str(tmp_path), "--experiment", "progress", "--progress")
    lines = err.splitlines()
    assert lines[0].startswith("Importing [")
    assert "file 1/4" in lines[0]
    assert lines[-1].startswith("Importing [############################] 100%")
    assert "file 4/4" in lines[-1] and "200 traces" in lines[-1]
    assert len(lines) <= 11  # a line per tenth when not on a terminal


def test_cli_progress_is_off_without_a_terminal_unless_asked():
    _, err = run_command(str(RAG), "--experiment", "quiet")
    assert err == ""


def test_progress_bar_redraws_in_place_on_a_terminal():
    from traces.management.commands.import_traces import ProgressBar

    stream = StringIO()
    bar = ProgressBar(stream, total_files=2, interactive=True)
    bar.update(files_done=0, file_fraction=0.5, traces=10)  # too early: nothing drawn yet
    assert stream.getvalue() == ""
    bar.update(files_done=2, file_fraction=0.0, traces=20, final=True)
    bar.finish()
    assert stream.getvalue().startswith("\rImporting [")
    assert "100%" in stream.getvalue() and stream.getvalue().endswith("\n")


def test_progress_callback_reports_trace_counts_per_batch(monkeypatch):
    monkeypatch.setattr("traces.mlflow_json.IMPORT_CHUNK_SIZE", 2)
    calls = []
    content = "\n".join(json.dumps(mlflow_trace_json(spans=1)) for _ in range(5))
    import_trace_file(
        experiment=make_experiment(),
        data=content,
        name="x.jsonl",
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(2, 5), (4, 5), (5, 5)]


# --- bulk writes ----------------------------------------------------------------------------------


def count_queries(experiment: Experiment, documents: list[dict]) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = import_trace_file(
            experiment=experiment, data=json.dumps(documents), name="bulk.json"
        )
    assert result.ok, result.error
    return len(queries)


def test_query_count_does_not_grow_with_spans_or_assessments():
    experiment = make_experiment()
    small = count_queries(experiment, [mlflow_trace_json(spans=2)])
    large = count_queries(
        experiment,
        [
            mlflow_trace_json(
                spans=300, assessments=[mlflow_feedback_json(name=f"q{i}") for i in range(50)]
            )
        ],
    )
    # Two savepoints and their releases, the stored-trace lookup before parsing and the one in
    # ingest_traces, INSERT traces, INSERT spans; the large one adds the assessment id check
    # and one INSERT for all its assessments.
    assert small == 8
    assert large == small + 2


def test_query_count_grows_only_by_batches_not_by_traces():
    experiment = make_experiment()
    few = count_queries(experiment, [mlflow_trace_json(spans=20) for _ in range(2)])
    many = count_queries(experiment, [mlflow_trace_json(spans=20) for _ in range(150)])
    extra_span_batches = math.ceil(150 * 20 / bulk.SPAN_BATCH_SIZE) - 1
    assert many == few + extra_span_batches


def test_overrides_links_are_one_update():
    experiment = make_experiment()
    first = mlflow_feedback_json(valid=False)
    chain = [first, mlflow_feedback_json(overrides=first["assessment_id"])]
    plain = count_queries(experiment, [mlflow_trace_json(assessments=[mlflow_feedback_json()])])
    linked = count_queries(experiment, [mlflow_trace_json(assessments=chain)])
    assert linked == plain + 1


def test_importing_an_already_present_file_is_one_lookup():
    experiment = make_experiment()
    documents = [mlflow_trace_json(spans=5) for _ in range(20)]
    count_queries(experiment, documents)
    # the file's savepoint and its release, and the stored-trace lookup
    assert count_queries(experiment, documents) == 3


def test_traces_already_present_are_not_parsed_again():
    document = mlflow_trace_json()
    import_trace_file(experiment=make_experiment(), data=json.dumps(document), name="a.json")
    document["data"]["spans"] = "this would not parse"
    result = import_trace_file(
        experiment=make_experiment(), data=json.dumps(document), name="a.json"
    )
    assert result.ok and result.already_present == [document["info"]["trace_id"]]


# --- the SDK still writes what we read ------------------------------------------------------------


def test_fixtures_regenerated_with_the_installed_sdk_import(tmp_path):
    script = Path(__file__).resolve().parent.parent / "fixtures" / "make_mlflow_traces.py"
    completed = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    out, _ = run_command(str(tmp_path), "--experiment", "fresh")
    assert "Imported 6 traces (18 spans, 7 assessments)" in out
    overriding = Assessment.objects.get(name="correctness", valid=True)
    assert overriding.overrides.valid is False


# --- the ingestion core ---------------------------------------------------------------------------


def test_decode_attributes_reads_json_inside_strings_and_keeps_plain_strings():
    assert records.decode_attributes(
        {
            "mlflow.spanType": '"RETRIEVER"',
            "mlflow.spanInputs": '{"q": "é"}',
            "gen_ai.system": "openai",
            "count": 3,
            "nan": "NaN",
        }
    ) == {
        "mlflow.spanType": "RETRIEVER",
        "mlflow.spanInputs": {"q": "é"},
        "gen_ai.system": "openai",
        "count": 3,
        "nan": "NaN",
    }


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("STATUS_CODE_ERROR", "ERROR"),
        ("STATUS_CODE_OK", "OK"),
        ("STATUS_CODE_UNSET", "UNSET"),
        ("ERROR", "ERROR"),
        ("ok", "OK"),
        (2, "ERROR"),
        (0, "UNSET"),
        (None, "UNSET"),
    ],
)
def test_span_status_codes(code, expected):
    assert records.span_status_code(code) == expected


def test_unknown_status_code_is_a_validation_error():
    with pytest.raises(ValidationError, match="Unknown span status code"):
        records.span_status_code("MAYBE")


def test_trace_states_of_mlflow_3_and_2():
    assert records.trace_state("OK") == "OK"
    assert records.trace_state("TRACE_STATUS_UNSPECIFIED") == "STATE_UNSPECIFIED"
    with pytest.raises(ValidationError):
        records.trace_state("DONE")


def span(span_id: str, parent: str | None = None, usage: dict | None = None, **kw) -> SpanRecord:
    attributes = {records.ATTR_CHAT_USAGE: usage} if usage else {}
    return SpanRecord(
        span_id=span_id,
        parent_id=parent,
        name=span_id,
        start_time_ns=kw.pop("start", 0),
        attributes=attributes,
        **kw,
    )


def test_token_usage_from_spans_does_not_count_a_child_of_a_counted_span_twice():
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    spans = [
        span("a"),
        span("b", "a", usage),
        span("c", "b", usage),  # inside b, whose usage already includes it
        span("d", "a", {"input_tokens": 1, "output_tokens": 2}),
    ]
    assert records.token_usage_from_spans(spans) == records.TokenUsage(11, 7, 18)
    assert records.token_usage_from_spans([span("a")]) is None


def test_token_usage_from_metadata():
    metadata = {records.METADATA_TOKEN_USAGE: '{"input_tokens": 3, "output_tokens": 4}'}
    assert records.token_usage_from_metadata(metadata) == records.TokenUsage(3, 4, 7)
    assert records.token_usage_from_metadata({}) is None


def test_records_without_times_state_or_previews_get_them_from_the_root_span():
    experiment = make_experiment()
    record = TraceRecord(
        trace_id="tr-derived",
        spans=[
            SpanRecord.from_attributes(
                span_id="00000000000000b1",
                parent_id=None,
                name="root",
                start_time_ns=1_700_000_000_000_000_000,
                end_time_ns=1_700_000_000_250_000_000,
                attributes={
                    "mlflow.spanInputs": json.dumps({"q": "x" * 5000}),
                    "mlflow.spanOutputs": json.dumps("fine"),
                },
                status_code="STATUS_CODE_ERROR",
            ),
            span("00000000000000b2", "00000000000000b1", {"input_tokens": 2, "output_tokens": 1}),
        ],
    )
    result = ingest_traces(experiment=experiment, traces=[record])
    assert result.imported == ["tr-derived"] and result.spans == 2
    trace = Trace.objects.get()
    assert trace.request_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert trace.execution_duration == 250
    assert trace.state == "ERROR"
    assert len(trace.request_preview) == PREVIEW_MAX_LENGTH
    assert trace.request_preview.startswith('{"q": "xxx')
    assert trace.response_preview == '"fine"'
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (2, 1, 3)


def test_duplicate_span_ids_in_a_trace_are_refused():
    record = TraceRecord(
        trace_id="tr-dup", spans=[span("00000000000000c1"), span("00000000000000c1")]
    )
    with pytest.raises(ValidationError, match="two spans have the id 00000000000000c1"):
        ingest_traces(experiment=make_experiment(), traces=[record])
    assert not Trace.objects.exists()


def test_span_ids_from_base64_and_hex():
    assert span_id_to_hex(mlflow_span_id(0xAB), "id") == "00000000000000ab"
    assert span_id_to_hex("0x00000000000000AB", "id") == "00000000000000ab"
    assert span_id_to_hex("d05027622b6172f1", "id") == "d05027622b6172f1"
    with pytest.raises(TraceFileError, match="not an 8-byte span id"):
        span_id_to_hex("AAAA", "id")


def test_times_and_durations():
    assert parse_timestamp("2025-06-01T12:00:00.123456789Z", "t") == datetime(
        2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_timestamp(1748779200000, "t") == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert parse_duration_ms("0.123s", "d") == 123
    assert parse_duration_ms("12s", "d") == 12000
    assert parse_duration_ms(7, "d") == 7
    with pytest.raises(TraceFileError):
        parse_timestamp("yesterday", "t")
