"""The assessment services follow MLflow's rules (docs/architecture.md, "Domain model").

Each test names the rule it pins; every one fails if that rule is removed from traces/services.py.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import make_expectation, make_feedback, make_span, make_trace
from traces import services
from traces.models import Assessment, AssessmentKind, SourceType
from traces.services import (
    STACK_TRACE_MAX_LENGTH,
    STACK_TRACE_TRUNCATION_PREFIX,
    AssessmentError,
    AssessmentNotFound,
    Expectation,
    ExpectationValue,
    Feedback,
    FeedbackValue,
    Source,
)

pytestmark = pytest.mark.django_db

ROOT_SPAN = "0000000000000001"
CHILD_SPAN = "0000000000000002"


@pytest.fixture
def trace():
    return make_trace(spans=3)


def messages(excinfo: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(excinfo.value.messages)


# --- defaults ------------------------------------------------------------------------------------


def test_feedback_defaults_name_feedback_source_code_and_source_id_default(trace):
    row = services.log_assessment(trace_id=trace.trace_id, assessment=services.Feedback(value=True))

    row.refresh_from_db()
    assert row.name == "feedback"
    assert row.kind == AssessmentKind.FEEDBACK
    assert row.source_type == SourceType.CODE
    assert row.source_id == "default"
    assert row.valid is True
    assert row.span_id is None
    assert row.assessment_id.startswith("a-") and len(row.assessment_id) == 34
    assert row.experiment_id == trace.experiment_id
    assert row.create_time == row.last_update_time


def test_expectation_defaults_source_human_and_source_id_default(trace):
    row = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Expectation(name="expected_answer", value="Paris"),
    )

    row.refresh_from_db()
    assert row.kind == AssessmentKind.EXPECTATION
    assert row.source_type == SourceType.HUMAN
    assert row.source_id == "default"


def test_log_assessment_applies_the_same_defaults(trace):
    feedback = services.log_assessment(trace_id=trace.trace_id, assessment=Feedback(value=1))
    expectation = services.log_assessment(
        trace_id=trace.trace_id, assessment=Expectation(name="facts", value=["a"])
    )

    assert (feedback.name, feedback.source_type, feedback.source_id) == (
        "feedback",
        SourceType.CODE,
        "default",
    )
    assert (expectation.source_type, expectation.source_id) == (SourceType.HUMAN, "default")


def test_given_source_is_kept_and_empty_source_id_becomes_default(trace):
    judged = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Feedback(
            name="relevance",
            value=4,
            source=Source(source_type="LLM_JUDGE", source_id="gpt-4o-judge"),
        ),
    )
    anonymous = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Feedback(value=1, source=Source(source_type="human", source_id="")),
    )

    assert (judged.source_type, judged.source_id) == ("LLM_JUDGE", "gpt-4o-judge")
    assert (anonymous.source_type, anonymous.source_id) == ("HUMAN", "default")


def test_unknown_source_type_is_refused_with_the_allowed_ones():
    with pytest.raises(ValidationError) as excinfo:
        Source(source_type="ROBOT")

    assert "Unknown source type 'ROBOT'" in messages(excinfo)
    assert "HUMAN, LLM_JUDGE, CODE" in messages(excinfo)


def test_source_id_longer_than_250_characters_is_refused():
    Source(source_type="HUMAN", source_id="x" * 250)
    with pytest.raises(ValidationError) as excinfo:
        Source(source_type="HUMAN", source_id="x" * 251)

    assert "251 characters" in messages(excinfo)


# --- feedback values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        0.75,
        3,
        0,
        -2,
        True,
        False,
        "relevant",
        "",
        "日本語 ✓",
        [1, 2.5, "a", True],
        [],
        {"score": 4, "label": "good", "ok": True, "weight": 0.5},
        {},
    ],
    ids=repr,
)
def test_feedback_accepts_numbers_booleans_text_and_flat_lists_and_dicts(trace, value):
    row = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(name="quality", value=value)
    )

    row.refresh_from_db()
    assert row.value == value
    assert type(row.value) is type(value)
    assert row.error_code == ""


def test_feedback_tuple_is_stored_as_a_list(trace):
    row = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(value=("a", "b"))
    )

    row.refresh_from_db()
    assert row.value == ["a", "b"]


def test_feedback_zero_and_false_are_values_not_missing(trace):
    """0 and False are falsy, but they are values: no error is asked for."""
    zero = services.log_assessment(trace_id=trace.trace_id, assessment=services.Feedback(value=0))
    false = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(value=False)
    )

    zero.refresh_from_db()
    false.refresh_from_db()
    assert zero.value == 0 and zero.value is not False
    assert false.value is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[1, 2]], "A feedback list may hold only numbers, booleans and strings; it holds a list."),
        (
            [{"a": 1}],
            "A feedback list may hold only numbers, booleans and strings; it holds a dict.",
        ),
        (
            {"scores": [1, 2]},
            "A feedback dictionary may hold only numbers, booleans and strings; "
            "'scores' holds a list.",
        ),
        (
            {"nested": {"a": 1}},
            "A feedback dictionary may hold only numbers, booleans and strings; "
            "'nested' holds a dict.",
        ),
        ({"none": None}, "'none' holds a NoneType"),
        ({1: "a"}, "A feedback dictionary needs text keys."),
        (math.nan, "the number nan (not finite)"),
        (math.inf, "the number inf (not finite)"),
        (-math.inf, "the number -inf (not finite)"),
        ([1.0, math.nan], "it holds the number nan (not finite)"),
        ({"score": math.nan}, "'score' holds the number nan (not finite)"),
        (object(), "got a object"),
        ({"a", "b"}, "got a set"),
        (b"bytes", "got a bytes"),
        (Decimal("1.5"), "got a Decimal"),
        (datetime(2025, 1, 1, tzinfo=UTC), "got a datetime"),
    ],
    ids=repr,
)
def test_feedback_refuses_other_values_with_a_clear_message(trace, value, message):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(name="quality", value=value)
        )

    assert message in messages(excinfo)
    assert excinfo.value.code == "value_type"
    assert not Assessment.objects.exists()


def test_feedback_needs_a_value_or_an_error(trace):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(name="quality")
        )

    assert messages(excinfo) == "A feedback needs a value or an error."
    assert not Assessment.objects.exists()


def test_feedback_may_carry_a_value_and_an_error(trace):
    row = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Feedback(value=2, error=AssessmentError(error_code="PARTIAL")),
    )

    row.refresh_from_db()
    assert (row.value, row.error_code) == (2, "PARTIAL")


# --- errors --------------------------------------------------------------------------------------


def test_feedback_error_from_an_exception(trace):
    try:
        raise TimeoutError("The judge did not answer within 30 s.")
    except TimeoutError as exc:
        row = services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(name="groundedness", error=exc)
        )

    row.refresh_from_db()
    assert row.value is None
    assert row.has_error
    assert row.error_code == "TimeoutError"
    assert row.error_message == "The judge did not answer within 30 s."
    assert row.stack_trace.startswith("Traceback (most recent call last):")
    assert row.stack_trace.rstrip().endswith("TimeoutError: The judge did not answer within 30 s.")


def test_feedback_error_from_an_assessment_error(trace):
    row = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Feedback(
            name="faithfulness",
            source=Source(source_type=SourceType.LLM_JUDGE),
            error=AssessmentError(
                error_code="RATE_LIMIT_EXCEEDED",
                error_message="Rate limit for the judge exceeded.",
                stack_trace="...",
            ),
        ),
    )

    row.refresh_from_db()
    assert (row.error_code, row.error_message, row.stack_trace) == (
        "RATE_LIMIT_EXCEEDED",
        "Rate limit for the judge exceeded.",
        "...",
    )
    assert row.value is None


@pytest.mark.parametrize("code", ["", "   "])
def test_an_error_needs_an_error_code(trace, code):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id,
            assessment=services.Feedback(error=AssessmentError(error_code=code)),
        )

    assert messages(excinfo) == "An error needs an error code."
    assert not Assessment.objects.exists()


def test_error_code_longer_than_250_characters_is_refused(trace):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id,
            assessment=services.Feedback(error=AssessmentError(error_code="E" * 251)),
        )

    assert "251 characters" in messages(excinfo)


def test_error_of_another_type_is_refused(trace):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(error="it broke")
        )  # type: ignore[arg-type]

    assert "The error must be an exception or an AssessmentError." in messages(excinfo)


def test_long_stack_trace_is_truncated_to_1000_characters_keeping_the_tail(trace):
    frames = "".join(f'  File "judge.py", line {n}, in step_{n}\n' for n in range(200))
    stack = "Traceback (most recent call last):\n" + frames + "ValueError: innermost problem"
    assert len(stack) > STACK_TRACE_MAX_LENGTH

    row = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Feedback(
            error=AssessmentError(error_code="ValueError", stack_trace=stack)
        ),
    )

    row.refresh_from_db()
    assert len(row.stack_trace) == STACK_TRACE_MAX_LENGTH
    assert row.stack_trace.startswith(STACK_TRACE_TRUNCATION_PREFIX)
    kept = STACK_TRACE_MAX_LENGTH - len(STACK_TRACE_TRUNCATION_PREFIX)
    assert row.stack_trace[len(STACK_TRACE_TRUNCATION_PREFIX) :] == stack[-kept:]
    assert row.stack_trace.endswith("ValueError: innermost problem")
    assert "Traceback (most recent call last)" not in row.stack_trace
    assert "step_0\n" not in row.stack_trace


def test_stack_trace_of_exactly_1000_characters_is_kept_whole(trace):
    stack = "x" * (STACK_TRACE_MAX_LENGTH - 1) + "!"

    row = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Feedback(error=AssessmentError(error_code="E", stack_trace=stack)),
    )

    row.refresh_from_db()
    assert row.stack_trace == stack


def test_deep_exception_keeps_its_innermost_frames(trace):
    # Forty distinct frames (Python folds repeated identical frames into one line).
    source = "".join(f"def step_{n}():\n    step_{n + 1}()\n" for n in range(40))
    source += "def step_40():\n    raise RecursionError('bottom of the dive')\n"
    namespace: dict = {}
    exec(compile(source, "pipeline.py", "exec"), namespace)

    try:
        namespace["step_0"]()
    except RecursionError as exc:
        row = services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(error=exc)
        )

    assert len(row.stack_trace) == STACK_TRACE_MAX_LENGTH
    assert row.stack_trace.rstrip().endswith("RecursionError: bottom of the dive")
    assert row.error_message == "bottom of the dive"
    assert "in step_40" in row.stack_trace
    assert "in step_0\n" not in row.stack_trace


# --- expectations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "The capital of France is Paris.",
        42,
        0,
        False,
        "",
        ["Paris is the capital", "It lies on the Seine"],
        {"answer": "Paris", "facts": ["capital", {"river": "Seine"}], "score": None},
        [{"doc_uri": "https://docs.example.com/a", "relevant": True}, [1, [2, [3]]]],
        {},
        [],
    ],
    ids=repr,
)
def test_expectation_accepts_any_json_value(trace, value):
    row = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Expectation(name="expected", value=value)
    )

    row.refresh_from_db()
    assert row.value == value
    assert type(row.value) is type(value)


def test_expectation_needs_a_value(trace):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id,
            assessment=services.Expectation(name="expected_answer", value=None),
        )

    assert messages(excinfo) == "An expectation needs a value."
    assert not Assessment.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"score": math.nan}, "cannot be stored as JSON"),
        ([math.inf], "cannot be stored as JSON"),
        (object(), "cannot be stored as JSON"),
        ({"when": datetime(2025, 1, 1, tzinfo=UTC)}, "cannot be stored as JSON"),
    ],
    ids=repr,
)
def test_expectation_refuses_values_that_are_not_json(trace, value, message):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Expectation(name="expected", value=value)
        )

    assert message in messages(excinfo)
    assert not Assessment.objects.exists()


def test_value_larger_than_the_limit_is_refused(trace, settings):
    huge = "x" * (services.VALUE_MAX_BYTES + 10)

    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Expectation(name="expected", value=huge)
        )

    assert excinfo.value.code == "value_size"
    assert "the limit is 1,048,576" in messages(excinfo)


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "\n\t"], ids=repr)
def test_empty_or_blank_names_are_refused(trace, name):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(name=name, value=1)
        )
    assert messages(excinfo) == "A name is required."

    with pytest.raises(ValidationError):
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Expectation(name=name, value=1)
        )
    assert not Assessment.objects.exists()


def test_names_of_1_and_250_characters_are_accepted_and_251_refused(trace):
    short = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(name="a", value=1)
    )
    longest = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(name="n" * 250, value=1)
    )

    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(name="n" * 251, value=1)
        )
    with pytest.raises(ValidationError):
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Expectation(name="n" * 251, value=1)
        )

    assert (short.name, len(longest.name)) == ("a", 250)
    assert messages(excinfo) == "The name is 251 characters long; the limit is 250."
    assert Assessment.objects.count() == 2


def test_names_are_trimmed(trace):
    row = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(name="  relevance \n", value=1)
    )

    assert row.name == "relevance"


def test_name_must_be_text(trace):
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(name=5, value=1)
        )  # type: ignore[arg-type]

    assert messages(excinfo) == "The name must be text."


# --- spans and traces ----------------------------------------------------------------------------


def test_assessment_on_a_span_of_the_trace(trace):
    feedback = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Feedback(name="retrieval_relevance", value=True, span_id=CHILD_SPAN),
    )
    expectation = services.log_assessment(
        trace_id=trace.trace_id,
        assessment=services.Expectation(name="expected_docs", value=["a"], span_id=ROOT_SPAN),
    )

    assert feedback.span_id == CHILD_SPAN
    assert expectation.span_id == ROOT_SPAN
    assert list(Assessment.objects.on_span(CHILD_SPAN)) == [feedback]
    assert list(Assessment.objects.on_span(None)) == []


def test_span_of_another_trace_is_refused(trace):
    other = make_trace(spans=1)
    make_span(other, span_id="00000000000000ff", name="elsewhere")

    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id,
            assessment=services.Feedback(name="relevance", value=1, span_id="00000000000000ff"),
        )

    assert messages(excinfo) == f"Trace {trace.trace_id} has no span '00000000000000ff'."
    assert excinfo.value.code == "span_id"
    assert not Assessment.objects.exists()


@pytest.mark.parametrize("span_id", ["0000000000000009", "not-a-span", 2])
def test_unknown_span_is_refused(trace, span_id):
    with pytest.raises(ValidationError):
        services.log_assessment(
            trace_id=trace.trace_id,
            assessment=services.Expectation(name="expected", value="x", span_id=span_id),
        )

    assert not Assessment.objects.exists()


def test_empty_span_id_means_the_trace(trace):
    row = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(value=1, span_id="")
    )

    assert row.span_id is None


def test_unknown_trace_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(trace_id="tr-does-not-exist", assessment=services.Feedback(value=1))

    assert messages(excinfo) == "No trace has the id 'tr-does-not-exist'."
    assert excinfo.value.code == "trace_not_found"


def test_metadata_must_be_a_dictionary_with_text_keys(trace):
    for metadata in (["a"], {1: "a"}, "text"):
        with pytest.raises(ValidationError) as excinfo:
            services.log_assessment(
                trace_id=trace.trace_id, assessment=services.Feedback(value=1, metadata=metadata)
            )
        assert messages(excinfo) == "Metadata must be a dictionary with text keys."
    with pytest.raises(ValidationError):
        services.log_assessment(
            trace_id=trace.trace_id, assessment=services.Feedback(value=1, metadata={"x": math.nan})
        )

    row = services.log_assessment(
        trace_id=trace.trace_id, assessment=services.Feedback(value=1, metadata={"run": {"id": 7}})
    )
    row.refresh_from_db()
    assert row.metadata == {"run": {"id": 7}}
    assert Assessment.objects.count() == 1


# --- reads ---------------------------------------------------------------------------------------


def test_get_assessment_returns_it(trace):
    row = make_feedback(trace)

    found = services.get_assessment(trace_id=trace.trace_id, assessment_id=row.assessment_id)

    assert found == row
    assert found.trace == trace


def test_get_of_an_unknown_id_raises_not_found(trace):
    with pytest.raises(AssessmentNotFound) as excinfo:
        services.get_assessment(trace_id=trace.trace_id, assessment_id="a-missing")

    assert isinstance(excinfo.value, ValidationError)
    assert messages(excinfo) == f"Trace '{trace.trace_id}' has no assessment 'a-missing'."
    assert excinfo.value.code == "assessment_not_found"


def test_get_through_another_trace_raises_not_found(trace):
    row = make_feedback(trace)
    other = make_trace()

    with pytest.raises(AssessmentNotFound):
        services.get_assessment(trace_id=other.trace_id, assessment_id=row.assessment_id)


# --- update in place -----------------------------------------------------------------------------


def log_in_the_past(trace, assessment) -> Assessment:
    past = timezone.now() - timedelta(days=3)
    assessment = type(assessment)(
        **{**assessment.__dict__, "create_time": past, "last_update_time": past}
    )
    return services.log_assessment(trace_id=trace.trace_id, assessment=assessment)


def test_update_changes_in_place_merges_metadata_and_moves_last_update_time(trace):
    row = log_in_the_past(
        trace,
        Feedback(name="relevance", value=2, rationale="weak", metadata={"a": 1, "b": 2}),
    )
    created = row.create_time

    updated = services.update_assessment(
        trace_id=trace.trace_id,
        assessment_id=row.assessment_id,
        feedback=FeedbackValue(value=5),
        rationale="Answers the question fully.",
        metadata={"b": 3, "c": 4},
    )

    updated.refresh_from_db()
    assert updated.pk == row.pk and updated.assessment_id == row.assessment_id
    assert Assessment.objects.count() == 1
    assert updated.value == 5
    assert updated.rationale == "Answers the question fully."
    assert updated.metadata == {"a": 1, "b": 3, "c": 4}
    assert updated.create_time == created
    assert updated.last_update_time > created
    assert updated.valid


def test_update_keeps_what_is_not_given(trace):
    row = make_feedback(trace, name="relevance", value=3, rationale="ok", metadata={"k": "v"})

    updated = services.update_assessment(
        trace_id=trace.trace_id, assessment_id=row.assessment_id, name="relevance_v2"
    )

    updated.refresh_from_db()
    assert (updated.name, updated.value, updated.rationale, updated.metadata) == (
        "relevance_v2",
        3,
        "ok",
        {"k": "v"},
    )


def test_update_of_an_expectation_value(trace):
    row = log_in_the_past(trace, Expectation(name="expected_facts", value=["a"]))

    updated = services.update_assessment(
        trace_id=trace.trace_id,
        assessment_id=row.assessment_id,
        expectation=ExpectationValue(value={"facts": ["a", "b"]}),
    )

    updated.refresh_from_db()
    assert updated.value == {"facts": ["a", "b"]}
    assert updated.last_update_time > updated.create_time


def test_update_cannot_turn_a_feedback_into_an_expectation(trace):
    row = make_feedback(trace, value=1)

    with pytest.raises(ValidationError) as excinfo:
        services.update_assessment(
            trace_id=trace.trace_id,
            assessment_id=row.assessment_id,
            expectation=ExpectationValue(value="x"),
        )

    assert "it cannot be changed into an expectation" in messages(excinfo)
    row.refresh_from_db()
    assert (row.kind, row.value) == (AssessmentKind.FEEDBACK, 1)


def test_update_cannot_turn_an_expectation_into_a_feedback(trace):
    row = make_expectation(trace, value="Paris")

    with pytest.raises(ValidationError) as excinfo:
        services.update_assessment(
            trace_id=trace.trace_id,
            assessment_id=row.assessment_id,
            feedback=FeedbackValue(value=True),
        )

    assert "it cannot be changed into a feedback" in messages(excinfo)
    row.refresh_from_db()
    assert (row.kind, row.value) == (AssessmentKind.EXPECTATION, "Paris")


def test_update_refuses_both_kinds_of_value_at_once(trace):
    row = make_feedback(trace, value=1)

    with pytest.raises(ValidationError, match="not both"):
        services.update_assessment(
            trace_id=trace.trace_id,
            assessment_id=row.assessment_id,
            feedback=FeedbackValue(value=2),
            expectation=ExpectationValue(value=2),
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feedback": FeedbackValue(value=[[1]])}, "it holds a list"),
        ({"feedback": FeedbackValue(value=math.nan)}, "not finite"),
        ({"feedback": FeedbackValue()}, "A feedback needs a value or an error."),
        ({"name": ""}, "A name is required."),
        ({"name": "x" * 251}, "the limit is 250"),
        ({"metadata": ["x"]}, "Metadata must be a dictionary"),
    ],
    ids=["nested-list", "nan", "no-value", "empty-name", "long-name", "metadata"],
)
def test_update_validates_like_log_and_writes_nothing_on_error(trace, change, message):
    row = make_feedback(trace, name="relevance", value=3, metadata={"k": "v"})

    with pytest.raises(ValidationError) as excinfo:
        services.update_assessment(
            trace_id=trace.trace_id, assessment_id=row.assessment_id, **change
        )

    assert message in messages(excinfo)
    fresh = Assessment.objects.get(pk=row.pk)
    assert (fresh.name, fresh.value, fresh.metadata, fresh.last_update_time) == (
        "relevance",
        3,
        {"k": "v"},
        row.last_update_time,
    )


def test_update_of_an_expectation_needs_a_value(trace):
    row = make_expectation(trace, value="Paris")

    with pytest.raises(ValidationError, match=r"An expectation needs a value\."):
        services.update_assessment(
            trace_id=trace.trace_id,
            assessment_id=row.assessment_id,
            expectation=ExpectationValue(value=None),
        )


def test_update_replaces_a_value_by_an_error_and_back(trace):
    row = make_feedback(trace, value=4)

    errored = services.update_assessment(
        trace_id=trace.trace_id,
        assessment_id=row.assessment_id,
        feedback=FeedbackValue(error=AssessmentError(error_code="TIMEOUT", error_message="slow")),
    )
    errored.refresh_from_db()
    assert (errored.value, errored.error_code, errored.error_message) == (None, "TIMEOUT", "slow")

    fixed = services.update_assessment(
        trace_id=trace.trace_id, assessment_id=row.assessment_id, feedback=FeedbackValue(value=5)
    )
    fixed.refresh_from_db()
    assert (fixed.value, fixed.error_code, fixed.error_message) == (5, "", "")


def test_update_of_an_unknown_assessment_raises_not_found(trace):
    with pytest.raises(AssessmentNotFound):
        services.update_assessment(
            trace_id=trace.trace_id, assessment_id="a-missing", rationale="x"
        )


# --- override ------------------------------------------------------------------------------------


def test_override_creates_a_new_assessment_and_invalidates_the_old(trace):
    old = make_feedback(
        trace,
        name="relevance",
        value=2,
        span_id=CHILD_SPAN,
        source=Source(source_type="LLM_JUDGE", source_id="judge"),
    )

    new = services.override_assessment(
        trace_id=trace.trace_id,
        assessment_id=old.assessment_id,
        value=5,
        rationale="The judge missed the second paragraph.",
        source=Source(source_type="HUMAN", source_id="alice"),
    )

    old.refresh_from_db()
    new.refresh_from_db()
    assert new.pk != old.pk and new.assessment_id != old.assessment_id
    assert new.overrides == old
    assert (new.name, new.span_id, new.kind) == ("relevance", CHILD_SPAN, AssessmentKind.FEEDBACK)
    assert (new.value, new.source_type, new.source_id) == (5, "HUMAN", "alice")
    assert new.valid is True
    assert old.valid is False
    assert (old.value, old.source_id) == (2, "judge")
    assert list(Assessment.objects.valid()) == [new]
    assert Assessment.objects.count() == 2


def test_override_value_is_validated_and_nothing_changes_on_error(trace):
    old = make_feedback(trace, value=1)

    with pytest.raises(ValidationError, match="it holds a list"):
        services.override_assessment(
            trace_id=trace.trace_id, assessment_id=old.assessment_id, value=[[1]]
        )

    old.refresh_from_db()
    assert old.valid
    assert Assessment.objects.count() == 1


def test_override_assessment_replaces_an_expectation_with_an_expectation(trace):
    old = make_expectation(trace, name="expected_facts", value=["a"])

    new = services.override_assessment(
        trace_id=trace.trace_id,
        assessment_id=old.assessment_id,
        value=["a", "b"],
        source=Source(source_type="HUMAN", source_id="bob"),
    )

    old.refresh_from_db()
    assert new.kind == AssessmentKind.EXPECTATION
    assert (new.overrides, new.value, new.name) == (old, ["a", "b"], "expected_facts")
    assert not old.valid


def test_an_expectation_cannot_override_a_feedback(trace):
    feedback = make_feedback(trace, name="answer")

    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id,
            assessment=Expectation(name="answer", value="x", overrides=feedback.assessment_id),
        )

    assert messages(excinfo) == "An expectation cannot override a feedback."
    feedback.refresh_from_db()
    assert feedback.valid
    assert Assessment.objects.count() == 1


def test_a_feedback_cannot_override_an_expectation(trace):
    expectation = make_expectation(trace, name="answer")

    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id,
            assessment=Feedback(name="answer", value=1, overrides=expectation.assessment_id),
        )

    assert messages(excinfo) == "A feedback cannot override an expectation."
    expectation.refresh_from_db()
    assert expectation.valid


def test_override_of_an_unknown_or_foreign_assessment_is_refused(trace):
    other = make_trace()
    foreign = make_feedback(other)

    with pytest.raises(AssessmentNotFound):
        services.override_assessment(trace_id=trace.trace_id, assessment_id="a-missing", value=1)
    with pytest.raises(ValidationError) as excinfo:
        services.log_assessment(
            trace_id=trace.trace_id,
            assessment=Feedback(value=1, overrides=foreign.assessment_id),
        )

    assert f"has no assessment '{foreign.assessment_id}' to override" in messages(excinfo)
    foreign.refresh_from_db()
    assert foreign.valid
    assert Assessment.objects.count() == 1


def override_chain(trace, length: int = 3) -> list[Assessment]:
    chain = [make_feedback(trace, name="relevance", value=1)]
    for value in range(2, length + 1):
        chain.append(
            services.override_assessment(
                trace_id=trace.trace_id, assessment_id=chain[-1].assessment_id, value=value
            )
        )
    for row in chain:
        row.refresh_from_db()
    return chain


def test_override_chains(trace):
    first, second, third = override_chain(trace)

    assert (first.valid, second.valid, third.valid) == (False, False, True)
    assert third.overrides == second and second.overrides == first and first.overrides is None
    assert services.assessment_history(third) == [third, second, first]
    assert services.assessment_history(second) == [second, first]
    assert list(Assessment.objects.valid().values_list("value", flat=True)) == [3]


def test_overriding_a_replaced_assessment_is_refused(trace):
    """Chains stay linear: exactly one valid assessment per chain (two tabs editing one label)."""
    first, _second, third = override_chain(trace)

    with pytest.raises(ValidationError) as info:
        services.override_assessment(
            trace_id=trace.trace_id, assessment_id=first.assessment_id, value=9
        )

    assert info.value.code == "overrides_stale"
    assert "already replaced" in info.value.messages[0]
    assert list(Assessment.objects.valid()) == [third]


# --- delete --------------------------------------------------------------------------------------


def test_delete_removes_the_assessment(trace):
    row = make_feedback(trace)

    services.delete_assessment(trace_id=trace.trace_id, assessment_id=row.assessment_id)

    assert not Assessment.objects.exists()


def test_deleting_an_override_restores_the_one_it_replaced(trace):
    old = make_feedback(trace, value=0.5)
    new = services.override_assessment(
        trace_id=trace.trace_id, assessment_id=old.assessment_id, value=0.9
    )

    services.delete_assessment(trace_id=trace.trace_id, assessment_id=new.assessment_id)

    old.refresh_from_db()
    assert old.valid
    assert list(Assessment.objects.all()) == [old]


def test_deleting_the_head_of_a_chain_restores_only_the_previous_link(trace):
    first, second, third = override_chain(trace)

    services.delete_assessment(trace_id=trace.trace_id, assessment_id=third.assessment_id)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.valid, second.valid) == (False, True)
    assert services.assessment_history(second) == [second, first]


def test_deleting_a_middle_link_keeps_the_chain_whole(trace):
    first, second, third = override_chain(trace)

    services.delete_assessment(trace_id=trace.trace_id, assessment_id=second.assessment_id)

    first.refresh_from_db()
    third.refresh_from_db()
    assert third.overrides == first
    assert (first.valid, third.valid) == (False, True)
    assert services.assessment_history(third) == [third, first]


def test_deleting_the_first_link_leaves_the_rest(trace):
    first, second, third = override_chain(trace)

    services.delete_assessment(trace_id=trace.trace_id, assessment_id=first.assessment_id)

    second.refresh_from_db()
    third.refresh_from_db()
    assert second.overrides is None and not second.valid
    assert third.valid and services.assessment_history(third) == [third, second]


def test_deleting_a_missing_assessment_is_a_no_op(trace):
    row = make_feedback(trace)

    assert services.delete_assessment(trace_id=trace.trace_id, assessment_id="a-missing") is None
    services.delete_assessment(trace_id="tr-missing", assessment_id=row.assessment_id)
    services.delete_assessment(trace_id=trace.trace_id, assessment_id=row.assessment_id)
    services.delete_assessment(trace_id=trace.trace_id, assessment_id=row.assessment_id)

    assert not Assessment.objects.exists()


def test_delete_through_another_trace_does_nothing(trace):
    row = make_feedback(trace)
    other = make_trace()

    services.delete_assessment(trace_id=other.trace_id, assessment_id=row.assessment_id)

    assert Assessment.objects.filter(pk=row.pk).exists()


# --- bulk builder --------------------------------------------------------------------------------


def test_build_assessment_validates_without_saving(trace):
    row = services.build_assessment(
        trace=trace,
        assessment=Feedback(
            name="relevance",
            value=4,
            assessment_id="a-" + "1" * 32,
            source=Source(source_type="LLM_JUDGE", source_id="judge"),
        ),
    )

    assert row.pk is None and not Assessment.objects.exists()
    assert (row.assessment_id, row.experiment_id, row.kind) == (
        "a-" + "1" * 32,
        trace.experiment_id,
        AssessmentKind.FEEDBACK,
    )
    with pytest.raises(ValidationError):
        services.build_assessment(trace=trace, assessment=Feedback(value=[[1]]))
    with pytest.raises(ValidationError):
        services.build_assessment(trace=trace, assessment=Expectation(name="x"))
