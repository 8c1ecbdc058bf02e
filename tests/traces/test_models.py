"""The database itself refuses rows that break the trace store's rules.

The services validate first; these constraints are the last line for writes that bypass them
(bulk imports, the admin, a bug). Each test writes a bad row directly and expects IntegrityError.
"""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, transaction

from tests.factories import BASE_NS, make_experiment, make_feedback, make_span, make_trace
from traces.models import (
    Assessment,
    AssessmentKind,
    Experiment,
    SourceType,
    Span,
    Trace,
)

pytestmark = pytest.mark.django_db


def refused(create, *errors: type[Exception]) -> None:
    """`create()` fails inside its own savepoint, so the test's transaction stays usable."""
    with pytest.raises(errors or IntegrityError), transaction.atomic():
        create()


# --- experiments and traces ----------------------------------------------------------------------


def test_experiment_names_are_unique_and_not_empty():
    make_experiment("docs bot")

    refused(lambda: Experiment.objects.create(name="docs bot"))
    refused(lambda: Experiment.objects.create(name=""))
    assert Experiment.objects.count() == 1


def test_experiment_lifecycle_stage_is_in_the_enum():
    refused(lambda: Experiment.objects.create(name="x", lifecycle_stage="archived"))


def test_trace_ids_are_unique():
    trace = make_trace()

    refused(lambda: Trace.objects.create(experiment=trace.experiment, trace_id=trace.trace_id))


def test_trace_state_is_in_the_enum():
    experiment = make_experiment()

    refused(lambda: Trace.objects.create(experiment=experiment, state="FINISHED"))


def test_trace_duration_is_not_negative():
    experiment = make_experiment()

    refused(lambda: Trace.objects.create(experiment=experiment, execution_duration=-1))
    assert Trace.objects.create(experiment=experiment, execution_duration=0).pk
    assert Trace.objects.create(experiment=experiment, execution_duration=None).pk


# --- spans ---------------------------------------------------------------------------------------


def test_span_ids_are_unique_within_a_trace_but_not_across_traces():
    trace = make_trace(spans=1)
    other = make_trace(spans=1)

    refused(lambda: make_span(trace, span_id="0000000000000001"))
    assert Span.objects.filter(span_id="0000000000000001").count() == 2
    assert other.spans.count() == 1


def test_span_status_is_in_the_enum():
    trace = make_trace()

    refused(lambda: make_span(trace, span_id="a", status_code="FAILED"))


def test_span_does_not_end_before_it_starts():
    trace = make_trace()

    refused(lambda: make_span(trace, span_id="a", start=1000, end=999))
    assert make_span(trace, span_id="b", start=1000, end=1000).duration_ns == 0
    assert make_span(trace, span_id="c", start=1000, end=None).duration_ns is None


# --- assessments ---------------------------------------------------------------------------------


def assessment(trace: Trace, **fields) -> Assessment:
    defaults = {
        "trace": trace,
        "experiment": trace.experiment,
        "kind": AssessmentKind.FEEDBACK,
        "name": "relevance",
        "source_type": SourceType.CODE,
        "value": 1,
    }
    return Assessment.objects.create(**{**defaults, **fields})


def test_assessment_ids_are_unique():
    row = make_feedback(make_trace())

    refused(lambda: assessment(row.trace, assessment_id=row.assessment_id))


def test_assessment_kind_and_source_type_are_in_their_enums():
    trace = make_trace()

    refused(lambda: assessment(trace, kind="label"))
    refused(lambda: assessment(trace, source_type="ROBOT"))
    refused(lambda: assessment(trace, source_type="human"))
    assert not Assessment.objects.exists()


def test_assessment_name_is_1_to_250_characters():
    trace = make_trace()

    refused(lambda: assessment(trace, name=""))
    # SQLite checks the constraint; PostgreSQL's varchar(250) refuses first, with a DataError.
    refused(lambda: assessment(trace, name="n" * 251), IntegrityError, DataError)
    assert assessment(trace, name="n" * 250).pk


def test_feedback_needs_a_value_or_an_error():
    trace = make_trace()

    refused(lambda: assessment(trace, value=None))
    assert assessment(trace, value=None, error_code="TIMEOUT").pk
    assert assessment(trace, value=False).pk
    assert assessment(trace, value=0).pk


def test_expectation_needs_a_value_and_never_an_error():
    trace = make_trace()
    kind = AssessmentKind.EXPECTATION

    refused(lambda: assessment(trace, kind=kind, source_type=SourceType.HUMAN, value=None))
    refused(lambda: assessment(trace, kind=kind, error_code="TIMEOUT", value=None))
    refused(lambda: assessment(trace, kind=kind, error_code="TIMEOUT", value="Paris"))
    assert assessment(trace, kind=kind, value={"facts": ["a"]}).pk


def test_assessment_cannot_override_itself():
    row = make_feedback(make_trace())

    refused(lambda: Assessment.objects.filter(pk=row.pk).update(overrides=row.pk))


def test_deleting_an_overridden_assessment_leaves_the_override_without_a_link():
    first = make_feedback(make_trace())
    second = assessment(first.trace, overrides=first)

    first.delete()

    second.refresh_from_db()
    assert second.overrides is None


def test_deleting_a_trace_deletes_its_spans_and_assessments():
    trace = make_trace(spans=3)
    make_feedback(trace)

    trace.experiment.delete()

    assert not Trace.objects.exists()
    assert not Span.objects.exists()
    assert not Assessment.objects.exists()


def test_span_timing_helpers():
    trace = make_trace()
    span = make_span(trace, span_id="a", start=0, end=2_500_000)

    assert span.start_time_ns == BASE_NS
    assert span.duration_ms == 2.5
    assert span.is_root
