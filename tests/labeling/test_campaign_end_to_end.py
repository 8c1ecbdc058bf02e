"""A 3-labeler campaign end to end: three labelers work their queues through the review app,
the lead finds the disagreements, settles one by picking an answer and one with a new value,
accepts the unanimous items in bulk, and exports the results and the evaluation dataset."""

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import resolve, reverse

from labeling.models import Adjudication, Item
from tests.conftest import make_user
from tests.factories import make_experiment, make_review_session, make_schema, make_span
from traces.models import Assessment

pytestmark = pytest.mark.django_db

# What each labeler answers per item: (correct, rationale, expected answer).
ANSWERS = {
    "ann": [("true", "Looks right", "Paris"), ("true", "", "Rome"), ("false", "", "Bern")],
    "bob": [("false", "Wrong city", "Lyon"), ("true", "", "rome"), ("false", "", "Bern")],
    "cat": [("true", "", "Paris"), ("true", "", "Rome"), ("true", "Fine", "Bern")],
}


def _work_queue(client: Client, session, correct, answer, rows) -> None:
    for value, rationale, text in rows:
        response = client.post(reverse("review:next", args=[session.pk]))
        assert response.status_code == 302
        match = resolve(response["Location"])
        assert match.url_name == "item"
        item_pk = match.kwargs["item_pk"]
        response = client.post(
            reverse("review:submit", args=[session.pk, item_pk]),
            {
                f"q-{correct.pk}": value,
                f"q-{correct.pk}-rationale": rationale,
                f"q-{answer.pk}": text,
            },
        )
        assert response.status_code == 302, response.content.decode()[:500]


def test_three_labelers_through_adjudication_and_export(curator):
    experiment = make_experiment("capitals")
    correct = make_schema(experiment, "correct", "pass_fail", enable_comment=True)
    answer = make_schema(experiment, "expected_answer", "text", kind="expectation")
    labelers = [make_user(name, labeler=True) for name in ANSWERS]
    session = make_review_session(
        experiment=experiment,
        items=3,
        schemas=[correct, answer],
        labelers=labelers,
        labels_per_item=3,
        name="Capitals week 1",
    )
    items = list(session.items.select_related("trace").order_by("position"))
    for number, item in enumerate(items):
        make_span(item.trace, span_id=f"{number + 1:016x}", inputs={"city": f"C{number}"})

    # 1. Labelers work their queues through the review app.
    for user in labelers:
        client = Client()
        client.force_login(user)
        _work_queue(client, session, correct, answer, ANSWERS[user.username])
    assert set(Item.objects.values_list("state", flat=True)) == {"complete"}

    lead = Client()
    lead.force_login(curator)
    # 2. Disagreements: item 0 on both questions, item 2 on "correct"; item 1 agrees.
    page = lead.get(reverse("campaign:disagreements", args=[session.pk])).content.decode()
    assert page.count('class="settle-cell') == 3
    assert "Wrong city" in page and "Looks right" in page
    assert "<strong>1</strong> <span>unanimous item" in page

    # 3. Settle item 0 "correct" by picking bob's answer, "expected_answer" with a new value.
    bob_answer = Assessment.objects.get(
        trace=items[0].trace, name="correct", source_id="bob", valid=True
    )
    settle = reverse("campaign:settle", args=[session.pk, items[0].pk])
    response = lead.post(
        settle,
        {"question": correct.pk, "pick": bob_answer.assessment_id, "rationale": "Bob is right"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Settled:" in response.content.decode()
    response = lead.post(
        settle, {"question": answer.pk, f"q-{answer.pk}": "Lyon, France", "rationale": "Checked"}
    )
    assert response.status_code == 302
    items[0].refresh_from_db()
    assert items[0].adjudicated_by == curator  # both disagreements settled

    # 4. Bulk accept the unanimous item (item 1); item 2 still disagrees on "correct".
    assert lead.post(reverse("campaign:accept_unanimous", args=[session.pk])).status_code == 302
    adjudicated = Item.objects.filter(adjudicated_at__isnull=False).order_by("position")
    assert [item.position for item in adjudicated] == [0, 1]
    assert Adjudication.objects.filter(accepted_consensus=True).count() == 2
    final = Adjudication.objects.get(item=items[0], schema=correct).assessment
    assert final.metadata["settles"] == list(
        Assessment.objects.filter(trace=items[0].trace, name="correct", source_id__in=ANSWERS)
        .order_by("labeling_answer__assignment__submitted_at", "labeling_answer__assignment_id")
        .values_list("assessment_id", flat=True)
    )

    # 5. Exports.
    response = lead.get(reverse("campaign:export_csv", args=[session.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 6
    by_key = {(row["item_position"], row["question"]): row for row in rows}
    row = by_key[("0", "correct")]
    assert (row["ann value"], row["bob value"], row["cat value"]) == ("true", "false", "true")
    assert row["bob rationale"] == "Wrong city"
    assert (row["final_value"], row["adjudicated"], row["adjudicator"]) == (
        "false",
        "true",
        "curator",
    )
    row = by_key[("0", "expected_answer")]
    assert (row["final_value"], row["adjudicated"]) == ("Lyon, France", "true")
    row = by_key[("1", "expected_answer")]
    assert (row["final_value"], row["adjudicated"]) == ("Rome", "true")  # accepted consensus
    row = by_key[("2", "correct")]
    assert (row["final_value"], row["adjudicated"], row["adjudicator"]) == ("", "false", "")
    row = by_key[("2", "expected_answer")]
    assert (row["final_value"], row["adjudicated"]) == ("Bern", "false")  # unanimous

    response = lead.get(reverse("campaign:export_jsonl", args=[session.pk]))
    records = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert len(records) == 6
    first = records[0]
    assert first["question"] == "correct"
    assert [(a["labeler"], a["value"]) for a in first["answers"]] == [
        ("ann", True),
        ("bob", False),
        ("cat", True),
    ]
    assert (first["final_value"], first["adjudicated"]) == (False, True)
    assert first["adjudication_rationale"] == "Bob is right"

    response = lead.get(reverse("campaign:eval_dataset", args=[session.pk]))
    dataset = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert dataset == [
        {"inputs": {"city": "C0"}, "expectations": {"expected_answer": "Lyon, France"}},
        {"inputs": {"city": "C1"}, "expectations": {"expected_answer": "Rome"}},
        {"inputs": {"city": "C2"}, "expectations": {"expected_answer": "Bern"}},
    ]
    from mlflow.genai.evaluation.utils import _convert_to_eval_set

    assert len(_convert_to_eval_set(dataset)) == 3

    # Labelers still see none of it.
    client = Client()
    client.force_login(labelers[0])
    assert client.get(reverse("campaign:export_csv", args=[session.pk])).status_code == 404
