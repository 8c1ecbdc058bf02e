"""A session's final expectations synced into a named MLflow evaluation dataset
(`traces.models.EvaluationDataset`), from the exports page or from code
(`POST /api/3.0/mlflow/review-queues/sync-dataset`, `labeling.campaign.api`).

The records are the evaluation-dataset export's (`exports.eval_dataset_records`: the final
answer of each trace-level expectation question, adjudicated, else unanimous, else the only
one), with the trace as the record's `source`. Records are keyed by the trace's inputs, so a
second sync updates the records it made (changed answers replace the old expectations) rather
than adding copies. The dataset is found by name, or made (linked to the session's
experiment) when there is none; a name that several datasets share is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.campaign.exports import eval_dataset_records
from labeling.models import LabelingSession
from traces import datasets
from traces.models import EvaluationDataset
from traces.services import validate_name

BATCH_SIZE = 1000
SESSION_TAG = "reviewapp.labeling_session_id"


@dataclass(frozen=True)
class SyncResult:
    dataset: EvaluationDataset
    created: bool
    inserted: int
    updated: int

    def message(self) -> str:
        made = "Created" if self.created else "Updated"
        return (
            f"{made} evaluation dataset “{self.dataset.name}”: {self.inserted:,} record"
            f"{'s' if self.inserted != 1 else ''} added, {self.updated:,} updated."
        )


def _dataset_named(name: str) -> EvaluationDataset | None:
    found = list(EvaluationDataset.objects.filter(name=name).order_by("created_time", "id")[:2])
    if len(found) > 1:
        raise ValidationError(
            f"Several evaluation datasets are named “{name}”; rename one, or sync into another "
            "name.",
            code="ambiguous",
        )
    return found[0] if found else None


@transaction.atomic
def sync_session_to_dataset(
    *, session: LabelingSession, dataset_name: str, user: str = ""
) -> SyncResult:
    """Upsert the session's evaluation records into the dataset named `dataset_name`; all or
    nothing."""
    name = validate_name(dataset_name)
    dataset = _dataset_named(name)
    created = dataset is None
    if dataset is None:
        dataset = datasets.create_dataset(
            name=name,
            tags={SESSION_TAG: str(session.pk)},
            experiment_ids=[session.experiment_id],
            created_by=user,
        )
    else:
        dataset.experiments.add(session.experiment_id)
    inserted = updated = 0
    records = (
        datasets.parse_record(record, index)
        for index, record in enumerate(eval_dataset_records(session, with_source=True))
    )
    while batch := list(islice(records, BATCH_SIZE)):
        result = datasets.upsert_records(dataset_id=dataset.dataset_id, records=batch, user=user)
        inserted += result.inserted
        updated += result.updated
    dataset.refresh_from_db()
    return SyncResult(dataset=dataset, created=created, inserted=inserted, updated=updated)
