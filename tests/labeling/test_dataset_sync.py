"""Syncing a session's final expectations into a named evaluation dataset
(`labeling.campaign.dataset_sync`): from the exports page and from code
(POST review-queues/sync-dataset); a re-sync updates the records instead of adding copies."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labeling.campaign import adjudication
from labeling.campaign.dataset_sync import sync_session_to_dataset
from tests.factories import Api, make_api_token
from traces.models import DatasetRecord, EvaluationDataset


def settle(campaign, value):
    adjudication.settle_cell(
        item=campaign.items[0],
        schema=campaign.answer,
        value=value,
        adjudicator=campaign.users["curator"],
    )


def values(dataset):
    rows = DatasetRecord.objects.filter(dataset=dataset).order_by("id")
    return [(row.inputs["question"], row.expectations) for row in rows]


def test_sync_creates_then_updates_the_dataset(campaign):
    first = sync_session_to_dataset(session=campaign.session, dataset_name="golden")
    assert (first.created, first.inserted, first.updated) == (True, 2, 0)  # item 0 is unsettled
    dataset = first.dataset
    assert list(dataset.experiments.all()) == [campaign.session.experiment]
    assert dataset.tags == {"reviewapp.labeling_session_id": str(campaign.session.pk)}
    settle(campaign, "Paris")
    second = sync_session_to_dataset(session=campaign.session, dataset_name="golden")
    assert (second.created, second.inserted, second.updated) == (False, 1, 2)
    settle(campaign, "Paris, France")
    third = sync_session_to_dataset(session=campaign.session, dataset_name="golden")
    assert (third.inserted, third.updated) == (0, 3)
    assert values(dataset) == [
        ("Q1", {"answer": "Rome"}),
        ("Q2", {"answer": "Bern"}),
        ("Q0", {"answer": "Paris, France"}),
    ]
    sources = DatasetRecord.objects.filter(dataset=dataset).values_list("source", flat=True)
    assert {source["source_data"]["trace_id"] for source in sources} == {
        item.trace.trace_id for item in campaign.items
    }
    assert EvaluationDataset.objects.count() == 1


def test_the_exports_page_syncs_for_curators(client, campaign):
    curator = campaign.users["curator"]
    client.force_login(curator)
    page = client.get(reverse("campaign:exports", args=[campaign.session.pk])).content.decode()
    assert "data-sync-dataset" in page
    response = client.post(
        reverse("campaign:sync_dataset", args=[campaign.session.pk]),
        {"dataset_name": "march golden"},
        follow=True,
    )
    assert "Created evaluation dataset “march golden”: 2 records added, 0 updated." in (
        response.content.decode()
    )
    again = client.post(
        reverse("campaign:sync_dataset", args=[campaign.session.pk]),
        {"dataset_name": "march golden"},
        follow=True,
    )
    assert "0 records added, 2 updated" in again.content.decode()
    bad = client.post(
        reverse("campaign:sync_dataset", args=[campaign.session.pk]),
        {"dataset_name": "   "},
        follow=True,
    )
    assert "A name is required." in bad.content.decode()
    assert EvaluationDataset.objects.count() == 1


def test_reviewers_may_export_but_not_sync(client, campaign):
    client.force_login(campaign.users["reviewer"])
    page = client.get(reverse("campaign:exports", args=[campaign.session.pk]))
    assert page.status_code == 200 and "data-sync-dataset" not in page.content.decode()
    response = client.post(
        reverse("campaign:sync_dataset", args=[campaign.session.pk]), {"dataset_name": "x"}
    )
    assert response.status_code == 404
    client.force_login(campaign.users["outsider"])
    response = client.post(
        reverse("campaign:sync_dataset", args=[campaign.session.pk]), {"dataset_name": "x"}
    )
    assert response.status_code == 404  # the campaign pages' rule: non-leads get 404
    assert not EvaluationDataset.objects.exists()


def test_an_ambiguous_name_is_refused(campaign):
    from traces import datasets

    datasets.create_dataset(name="twice")
    datasets.create_dataset(name="twice")
    with pytest.raises(Exception, match="Several evaluation datasets"):
        sync_session_to_dataset(session=campaign.session, dataset_name="twice")
    assert not DatasetRecord.objects.exists()


def test_sync_from_code(client, campaign):
    api = Api(client, make_api_token(campaign.users["curator"]))
    path = "/api/3.0/mlflow/review-queues/sync-dataset"
    body = {"queue_id": str(campaign.session.pk), "dataset_name": "from code"}
    response = api.post(path, body).json()
    assert (response["created"], response["inserted_count"]) == (True, 2)
    assert response["dataset"]["name"] == "from code"
    for bad, status, code in (
        ({"queue_id": "424242"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"queue_id": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"dataset_name": ""}, 400, "INVALID_PARAMETER_VALUE"),
        ({"dataset_name": 5}, 400, "INVALID_PARAMETER_VALUE"),
    ):
        answer = api.post(path, {**body, **bad})
        assert answer.status_code == status and answer.json()["error_code"] == code
    assert EvaluationDataset.objects.count() == 1
