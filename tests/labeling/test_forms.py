import pytest
from django.http import QueryDict
from django.template.loader import render_to_string

from labeling.forms import AnswerSheet
from labeling.models import LabelingSchema
from tests.factories import make_experiment, make_span, make_trace


def make_schema(experiment, name, input_type, config=None, **fields) -> LabelingSchema:
    return LabelingSchema.objects.create(
        experiment=experiment,
        name=name,
        title=fields.pop("title", name.replace("_", " ").capitalize() + "?"),
        input_type=input_type,
        input_config=config or {},
        **fields,
    )


@pytest.fixture
def schemas(db):
    experiment = make_experiment()
    return [
        make_schema(experiment, "correct", "pass_fail", enable_comment=True),
        make_schema(experiment, "tone", "categorical", {"options": ["formal", "casual"]}),
        make_schema(experiment, "score", "numeric", {"min_value": 1, "max_value": 5}),
        make_schema(experiment, "facts", "text_list", {"max_count": 2}, kind="expectation"),
    ]


def test_valid_answers_become_values(schemas):
    correct, tone, _score, facts = schemas
    data = QueryDict(mutable=True)
    data.setlist(f"q-{correct.pk}", ["true"])
    data[f"q-{correct.pk}-rationale"] = "Cites the docs."
    data.setlist(f"q-{tone.pk}", ["casual"])
    data.setlist(f"q-{facts.pk}", ["Paris", "", "France"])
    sheet = AnswerSheet(schemas, data=data)
    assert sheet.is_valid(), sheet.errors
    values = {q.schema.name: (q.value, q.rationale) for q in sheet.answers}
    assert values == {
        "correct": (True, "Cites the docs."),
        "tone": ("casual", ""),
        "facts": (["Paris", "France"], ""),
    }


def test_invalid_answer_keeps_the_others(schemas):
    correct, _tone, score, _facts = schemas
    data = QueryDict(mutable=True)
    data.setlist(f"q-{correct.pk}", ["true"])
    data.setlist(f"q-{score.pk}", ["9"])
    sheet = AnswerSheet(schemas, data=data)
    assert not sheet.is_valid()
    by_name = {q.schema.name: q for q in sheet.questions}
    assert by_name["score"].error == "The answer must be at most 5."
    assert by_name["correct"].raw == ["true"]
    html = render_to_string("components/_question.html", {"question": by_name["score"]})
    assert 'aria-invalid="true"' in html
    assert 'value="9"' in html


def test_empty_sheet_is_refused(schemas):
    sheet = AnswerSheet(schemas, data=QueryDict())
    assert not sheet.is_valid()
    assert sheet.errors == ["Answer at least one question, or skip this item."]


def test_comment_without_answer_is_refused(schemas):
    correct = schemas[0]
    data = QueryDict(mutable=True)
    data[f"q-{correct.pk}-rationale"] = "A comment"
    data.setlist(f"q-{schemas[1].pk}", ["formal"])
    sheet = AnswerSheet(schemas, data=data)
    assert not sheet.is_valid()
    assert sheet.questions[0].rationale_error


def test_span_targeted_question_is_asked_per_span(db):
    experiment = make_experiment()
    trace = make_trace(experiment)
    spans = [
        make_span(trace, span_id="a" * 16, span_type="RETRIEVER", name="search docs"),
        make_span(trace, span_id="b" * 16, span_type="RETRIEVER", name="search faq"),
        make_span(trace, span_id="c" * 16, span_type="CHAT_MODEL"),
    ]
    relevant = make_schema(experiment, "relevant", "pass_fail", target_span_type="RETRIEVER")
    unused = make_schema(experiment, "tool_ok", "pass_fail", target_span_type="TOOL")
    sheet = AnswerSheet([relevant, unused], spans=spans)
    assert [q.field_name for q in sheet.questions] == [
        f"q-{relevant.pk}-{'a' * 16}",
        f"q-{relevant.pk}-{'b' * 16}",
    ]
    assert [q.number for q in sheet.questions] == [1, 2]


def test_initial_answers_prefill(schemas):
    correct, _tone, _score, facts = schemas
    sheet = AnswerSheet(
        schemas,
        initial={(correct.pk, ""): (False, "Wrong city"), (facts.pk, ""): (["a", "b"], "")},
    )
    by_name = {q.schema.name: q for q in sheet.questions}
    assert by_name["correct"].raw == ["false"]
    assert by_name["correct"].rationale == "Wrong city"
    assert by_name["facts"].text_rows == ["a", "b"]  # at max_count: no empty row


@pytest.mark.parametrize(
    ("input_type", "config", "expected"),
    [
        ("pass_fail", {"positive_label": "Yes", "negative_label": "No"}, 'type="radio"'),
        ("categorical", {"options": ["x", "y"]}, 'data-option-key="2"'),
        ("categorical", {"options": ["x", "y"], "multi": True}, 'type="checkbox"'),
        ("categorical_list", {"options": ["x"]}, 'type="checkbox"'),
        ("numeric", {"min_value": 0, "max_value": 10, "step": 0.5}, 'step="0.5"'),
        ("text", {"max_length": 200}, 'maxlength="200"'),
        ("text_list", {"max_count": 3, "max_length_each": 20}, 'data-max-count="3"'),
    ],
)
def test_each_input_kind_renders(db, input_type, config, expected):
    schema = make_schema(
        make_experiment(),
        "q",
        input_type,
        config,
        title="<b>Is it right?</b>",
        instruction="Read **carefully**. <script>alert(1)</script>",
    )
    question = AnswerSheet([schema]).questions[0]
    html = render_to_string("components/_question.html", {"question": question})
    assert expected in html
    assert "&lt;b&gt;Is it right?&lt;/b&gt;" in html
    assert "<strong>carefully</strong>" in html
    assert "<script>alert(1)" not in html
