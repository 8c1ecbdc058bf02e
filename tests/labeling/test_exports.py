"""Exports: results CSV and JSONL, the evaluation dataset, the exports page."""

import csv
import io
import json

import pytest
from django.urls import reverse

from labeling.campaign import adjudication, exports
from tests.factories import make_review_session, make_schema

pytestmark = pytest.mark.django_db


def _get(client, campaign, name):
    client.force_login(campaign.users["curator"])
    response = client.get(reverse(f"campaign:{name}", args=[campaign.session.pk]))
    assert response.status_code == 200
    assert response.streaming
    return response, b"".join(response.streaming_content).decode()


def test_csv_has_one_row_per_item_and_question_with_a_column_pair_per_labeler(client, campaign):
    adjudication.settle_cell(
        item=campaign.items[0],
        schema=campaign.correct,
        value=True,
        adjudicator=campaign.users["curator"],
    )
    response, body = _get(client, campaign, "export_csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == ('attachment; filename="march-review-qa-results.csv"')
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 6  # 3 items x 2 questions
    assert list(rows[0]) == [
        "trace_id", "item_position", "question", "span_id",
        "labeler value", "labeler rationale", "other_labeler value", "other_labeler rationale",
        "third value", "third rationale", "final_value", "adjudicated", "adjudicator",
    ]  # fmt: skip
    first = rows[0]
    assert first["trace_id"] == campaign.items[0].trace.trace_id
    assert (first["item_position"], first["question"]) == ("0", "correct")
    assert (first["labeler value"], first["other_labeler value"]) == ("true", "false")
    assert first["other_labeler rationale"] == "other_labeler thinks so"
    assert (first["final_value"], first["adjudicated"], first["adjudicator"]) == (
        "true",
        "true",
        "curator",
    )
    answer_row = rows[1]
    assert answer_row["labeler value"] == "Paris"  # text as it is
    assert (answer_row["final_value"], answer_row["adjudicated"]) == ("", "false")  # unsettled
    assert rows[3]["final_value"] == "Rome"  # unanimous (first labeler's spelling)
    single = rows[4]
    assert (single["labeler value"], single["third value"], single["final_value"]) == (
        "false",
        "",
        "false",
    )


def test_csv_encodes_lists_as_json(curator, labeler, other_labeler):
    from tests.factories import make_answer, make_assignment

    session = make_review_session(
        items=1, schemas=None, labelers=[labeler, other_labeler], name="lists"
    )
    topics = make_schema(session.experiment, "topics", "categorical_list", {"options": ["a", "b"]})
    session.sessionschema_set.all().delete()
    session.sessionschema_set.create(schema=topics, position=0)
    item = session.items.get()
    make_answer(make_assignment(item, labeler), topics, ["a", "b"])
    rows = list(csv.DictReader(io.StringIO("".join(exports.results_csv(session)))))
    assert json.loads(rows[0]["labeler value"]) == ["a", "b"]
    assert rows[0]["other_labeler value"] == ""


def test_jsonl_lists_each_labelers_answer(client, campaign):
    response, body = _get(client, campaign, "export_jsonl")
    assert response["Content-Disposition"].endswith('filename="march-review-qa-results.jsonl"')
    records = [json.loads(line) for line in body.splitlines()]
    assert len(records) == 6
    first = records[0]
    assert first["answers"] == [
        {"labeler": "labeler", "value": True, "rationale": "labeler thinks so"},
        {"labeler": "other_labeler", "value": False, "rationale": "other_labeler thinks so"},
        {"labeler": "third", "value": True, "rationale": "third thinks so"},
    ]
    assert first["final_value"] is None
    assert first["adjudicated"] is False
    assert first["adjudicator"] is None
    assert records[3]["final_value"] == "Rome" and records[3]["kind"] == "expectation"


def test_eval_dataset_holds_final_expectations_with_root_inputs(client, campaign):
    adjudication.settle_cell(
        item=campaign.items[0],
        schema=campaign.answer,
        value="Paris",
        adjudicator=campaign.users["curator"],
    )
    response, body = _get(client, campaign, "eval_dataset")
    assert response["Content-Disposition"].endswith('filename="march-review-qa-eval-dataset.jsonl"')
    records = [json.loads(line) for line in body.splitlines()]
    # Feedback ("correct") is left out; item 1 is unanimous; item 2 had one label.
    assert records == [
        {"inputs": {"question": "Q0"}, "expectations": {"answer": "Paris"}},
        {"inputs": {"question": "Q1"}, "expectations": {"answer": "Rome"}},
        {"inputs": {"question": "Q2"}, "expectations": {"answer": "Bern"}},
    ]


def test_eval_dataset_skips_unsettled_items_and_traces_without_inputs(campaign):
    from traces.models import Span

    Span.objects.filter(trace=campaign.items[2].trace).update(inputs=None)
    records = list(exports.eval_dataset_records(campaign.session))
    assert [r["inputs"] for r in records] == [{"question": "Q1"}]  # item 0 is unsettled


def test_eval_dataset_wraps_inputs_that_are_not_objects(campaign):
    from traces.models import Span

    Span.objects.filter(trace=campaign.items[1].trace).update(inputs="just text")
    records = list(exports.eval_dataset_records(campaign.session))
    assert records[0]["inputs"] == {"input": "just text"}


def test_exported_eval_dataset_passes_mlflow_genai_evaluate_input_validation(client, campaign):
    """`mlflow.genai.evaluate(data=…)` turns its data into a DataFrame through
    `_convert_to_eval_set`; the exported records must go through it as they are."""
    from mlflow.genai.evaluation import utils as evaluation_utils

    adjudication.settle_cell(
        item=campaign.items[0],
        schema=campaign.answer,
        value="Paris",
        adjudicator=campaign.users["curator"],
    )
    _, body = _get(client, campaign, "eval_dataset")
    data = [json.loads(line) for line in body.splitlines()]
    frame = evaluation_utils._convert_to_eval_set(data)
    assert len(frame) == 3
    assert list(frame["inputs"]) == [{"question": f"Q{n}"} for n in range(3)]
    assert list(frame["expectations"]) == [{"answer": v} for v in ("Paris", "Rome", "Bern")]


def test_exports_stream_in_batches(campaign, django_assert_max_num_queries, monkeypatch):
    """Each batch of items costs a fixed number of queries; the whole session is never read
    in one go."""
    real = exports.iter_cells
    monkeypatch.setattr(
        exports, "iter_cells", lambda session, **kw: real(session, batch_size=1, **kw)
    )
    lines = exports.results_jsonl(campaign.session)
    with django_assert_max_num_queries(6):
        next(lines)  # questions + first batch (items, answers, finals)


def test_exports_page_shows_counts_and_links(client, campaign):
    client.force_login(campaign.users["reviewer"])
    response = client.get(reverse("campaign:exports", args=[campaign.session.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>6</strong> rows" in html
    assert "<strong>2</strong> records" in html  # items 1 and 2 (item 0 unsettled)
    for name in ("export_csv", "export_jsonl", "eval_dataset"):
        assert reverse(f"campaign:{name}", args=[campaign.session.pk]) in html


def test_session_without_expectation_questions_exports_an_empty_dataset(client, curator):
    session = make_review_session(items=2, name="only feedback")
    client.force_login(curator)
    response = client.get(reverse("campaign:eval_dataset", args=[session.pk]))
    assert b"".join(response.streaming_content) == b""
    page = client.get(reverse("campaign:exports", args=[session.pk])).content.decode()
    assert "asks no expectation question" in page


def test_filename_falls_back_when_the_name_has_no_letters(curator):
    session = make_review_session(items=0, name="???")
    assert exports.export_filename(session, "results.csv") == f"session-{session.pk}-results.csv"


def test_row_count_matches_the_file_with_span_questions(labeler, other_labeler, curator):
    from labeling.models import Answer
    from tests.factories import make_assignment, make_span
    from traces import services

    session = make_review_session(items=2, labelers=[labeler, other_labeler], name="spans")
    relevant = make_schema(
        session.experiment, "relevant", "pass_fail", target_span_type="RETRIEVER"
    )
    session.sessionschema_set.create(schema=relevant, position=5)
    item = session.items.order_by("position").first()
    for number, user in enumerate((labeler, other_labeler)):
        assignment = make_assignment(item, user)
        for span_number in range(2):
            span_id = f"{span_number + 1:016x}"
            if number == 0:
                make_span(item.trace, span_id=span_id, span_type="RETRIEVER")
            assessment = services.log_assessment(
                trace_id=item.trace.trace_id,
                assessment=services.Feedback(
                    name="relevant",
                    value=True,
                    span_id=span_id,
                    source=services.Source("HUMAN", user.username),
                ),
            )
            Answer.objects.create(
                assignment=assignment, schema=relevant, schema_version=1, span_id=span_id,
                assessment=assessment,
            )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO("".join(exports.results_csv(session)))))
    # 2 items x "correct", item 0 x 2 spans, item 1 x one empty "relevant" row.
    assert len(rows) == 5
    assert {row["span_id"] for row in rows if row["question"] == "relevant"} == {
        "0000000000000001", "0000000000000002", "",
    }  # fmt: skip
    assert exports.export_counts(session).result_rows == 5


def test_csv_neutralises_spreadsheet_formulas(curator, labeler, other_labeler):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers stay."""
    from tests.factories import make_answer, make_assignment

    session = make_review_session(
        items=1, schemas=None, labelers=[labeler, other_labeler], name="formulas"
    )
    note = make_schema(session.experiment, "note", "text")
    score = make_schema(session.experiment, "score", "numeric", {"min_value": -5})
    session.sessionschema_set.all().delete()
    session.sessionschema_set.create(schema=note, position=0)
    session.sessionschema_set.create(schema=score, position=1)
    item = session.items.get()
    assignment = make_assignment(item, labeler)
    make_answer(assignment, note, '=HYPERLINK("http://evil.example","x")')
    make_answer(assignment, score, -3)
    rows = list(csv.DictReader(io.StringIO("".join(exports.results_csv(session)))))
    by_question = {row["question"]: row for row in rows}
    assert by_question["note"]["labeler value"] == '\'=HYPERLINK("http://evil.example","x")'
    assert by_question["score"]["labeler value"] == "-3"
