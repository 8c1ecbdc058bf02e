"""A review queue made with MLflow's SDK is worked in the review app; the SDK reads the
labeler's submit back as `complete` (with `completed_by`) and their skip as `declined`."""

import pytest

from labeling.models import LabelingSession
from tests.factories import make_trace
from tests.traces.test_api_clients import mlflow_sdk  # noqa: F401  (the fixture)
from traces.models import Experiment

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_submit_in_the_review_app_completes_the_item_for_the_sdk(
    mlflow_sdk,  # noqa: F811
    page,
    login,
    labeler,
):
    from mlflow.genai import label_schemas, review_queues
    from mlflow.genai.label_schemas import InputPassFail

    experiment = Experiment.objects.get(pk=mlflow_sdk.set_experiment("sdk queue").experiment_id)
    traces = [make_trace(experiment, spans=1) for _ in range(3)]
    schema = label_schemas.create_label_schema(
        "correct", type="feedback", input=InputPassFail(positive_label="Yes", negative_label="No")
    )
    queue = review_queues.create_review_queue(
        "from code", queue_type="custom", users=["labeler"], schema_ids=[schema.schema_id]
    )
    review_queues.add_items_to_review_queue(queue.queue_id, item_ids=[t.trace_id for t in traces])
    session = LabelingSession.objects.get(pk=int(queue.queue_id))

    login(labeler)
    page.goto("/review/")
    assert page.get_by_text("from code").first.is_visible()
    page.goto(f"/review/{session.pk}/")
    page.wait_for_function("document.activeElement?.textContent.includes('Start')")
    page.keyboard.press("Enter")
    first = session.items.get(position=1)
    page.wait_for_selector(f'[data-review-item][data-item-id="{first.pk}"][data-ready]')
    page.keyboard.press("1")  # Yes
    page.keyboard.press("Control+Enter")
    second = session.items.get(position=2)
    page.wait_for_selector(f'[data-review-item][data-item-id="{second.pk}"][data-ready]')
    page.keyboard.press("s")
    page.keyboard.type("Cannot judge this one")
    page.keyboard.press("Enter")
    third = session.items.get(position=3)
    page.wait_for_selector(f'[data-review-item][data-item-id="{third.pk}"][data-ready]')

    items = {item.item_id: item for item in review_queues.list_review_queue_items(queue.queue_id)}
    done, skipped, open_ = (items[t.trace_id] for t in traces)
    assert (str(done.status), done.completed_by) == ("complete", "labeler")
    assert done.completed_time_ms is not None
    assert (str(skipped.status), skipped.completed_by) == ("declined", "labeler")
    assert (str(open_.status), open_.completed_by) == ("pending", None)
    complete = review_queues.list_review_queue_items(queue.queue_id, status="complete")
    assert [item.item_id for item in complete] == [traces[0].trace_id]
    # The label itself is an ordinary assessment on the trace, as the SDK reads it.
    trace = mlflow_sdk.get_trace(traces[0].trace_id)
    assert [(a.name, a.value, a.source.source_id) for a in trace.info.assessments] == [
        ("correct", True, "labeler")
    ]
