"""Evaluation datasets (`mlflow.genai.datasets`): their writes and the search filter.

A dataset is named records of `inputs` (the keyword arguments `mlflow.genai.evaluate` calls
the app with), `expectations` (ground truth), `outputs`, `tags` and a `source`. Records are
keyed by their inputs: upserting inputs already there merges the new expectations and tags into
that record (as MLflow's server does), so syncing a labeling session again updates its records
rather than adding copies. Every write is atomic; bad input raises `ValidationError` and writes
nothing. The REST endpoints are `traces.dataset_api`'s.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from traces.models import DatasetRecord, EvaluationDataset, Experiment
from traces.services import validate_name

BATCH_SIZE = 1000
TAG_MAX_LENGTH = 5000
NAME_MAX_TAG_KEY = 250


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, code="invalid")


def input_hash(inputs: dict[str, Any]) -> str:
    """What keys a record: the SHA-256 of its inputs as sorted JSON (MLflow's `input_hash`)."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _field_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "unknown"


def _merged_schema(schema: dict[str, Any] | None, records: Sequence[RecordInput]) -> dict:
    """The dataset's field types with those of `records` added (MLflow's `schema`)."""
    schema = schema or {"inputs": {}, "outputs": {}, "expectations": {}, "version": "1.0"}
    for record in records:
        for key, value in record.inputs.items():
            schema["inputs"].setdefault(key, _field_type(value))
        for key, value in (record.expectations or {}).items():
            schema["expectations"].setdefault(key, _field_type(value))
        if isinstance(record.outputs, dict):
            for key, value in record.outputs.items():
                schema["outputs"].setdefault(key, _field_type(value))
        elif record.outputs is not None and not schema["outputs"]:
            schema["outputs"] = _field_type(record.outputs)
    return schema


def _digest(name: str, moment) -> str:
    return hashlib.sha256(f"{name}:{int(moment.timestamp() * 1000)}".encode()).hexdigest()[:8]


def check_tags(tags: Any) -> dict[str, str]:
    """Dataset tags: a string-to-string object (MLflow stores them as text)."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise _invalid("tags should be an object of string keys and values.")
    clean: dict[str, str] = {}
    for key, value in tags.items():
        if not key or len(key) > NAME_MAX_TAG_KEY:
            raise _invalid(f"Tag keys should be 1 to {NAME_MAX_TAG_KEY} characters long.")
        text = value if isinstance(value, str) else json.dumps(value)
        if len(text) > TAG_MAX_LENGTH:
            raise _invalid(f"The value of tag {key!r} is longer than {TAG_MAX_LENGTH} characters.")
        clean[key] = text
    return clean


def _experiments(experiment_ids: Sequence[Any]) -> list[Experiment]:
    ids = []
    for value in experiment_ids:
        if not isinstance(value, str | int) or not str(value).strip().isdigit():
            raise _invalid(f"Experiment id {value!r:.80} is not valid: ids are numbers.")
        ids.append(int(value))
    found = list(Experiment.objects.filter(pk__in=ids))
    missing = sorted(set(ids) - {experiment.pk for experiment in found})
    if missing:
        raise ValidationError(
            f"No experiment with id {', '.join(map(str, missing))} exists.",
            code="experiment_not_found",
        )
    return found


@transaction.atomic
def create_dataset(
    *,
    name: str,
    tags: dict[str, str] | None = None,
    experiment_ids: Sequence[Any] = (),
    created_by: str = "",
) -> EvaluationDataset:
    """A new, empty dataset linked to these experiments (names need not be unique, as in
    MLflow; `mlflow.genai.datasets.get_dataset(name=…)` refuses an ambiguous name)."""
    experiments = _experiments(experiment_ids)
    now = timezone.now()
    dataset = EvaluationDataset.objects.create(
        name=validate_name(name),
        tags=check_tags(tags),
        created_by=created_by,
        last_updated_by=created_by,
        created_time=now,
        last_update_time=now,
        digest=_digest(name, now),
    )
    dataset.experiments.set(experiments)
    return dataset


def dataset_for_update(dataset_id: str) -> EvaluationDataset:
    dataset = EvaluationDataset.objects.select_for_update().filter(dataset_id=dataset_id).first()
    if dataset is None:
        raise ValidationError(
            f"Dataset with id {dataset_id!r:.80} not found.", code="dataset_not_found"
        )
    return dataset


@transaction.atomic
def set_dataset_tags(*, dataset_id: str, tags: Any) -> EvaluationDataset:
    """Merge `tags` into the dataset's (a null value deletes that tag, as in MLflow)."""
    dataset = dataset_for_update(dataset_id)
    if not isinstance(tags, dict):
        raise _invalid("tags should be an object of string keys and values.")
    removed = {key for key, value in tags.items() if value is None}
    dataset.tags = {
        **{key: value for key, value in dataset.tags.items() if key not in removed},
        **check_tags({key: value for key, value in tags.items() if value is not None}),
    }
    dataset.last_update_time = timezone.now()
    dataset.save(update_fields=["tags", "last_update_time"])
    return dataset


@transaction.atomic
def delete_dataset_tag(*, dataset_id: str, key: str) -> None:
    dataset = dataset_for_update(dataset_id)
    if key in dataset.tags:
        del dataset.tags[key]
        dataset.save(update_fields=["tags"])


@transaction.atomic
def link_experiments(*, dataset_id: str, experiment_ids: Sequence[Any], add: bool) -> None:
    dataset = dataset_for_update(dataset_id)
    experiments = _experiments(experiment_ids)
    if add:
        dataset.experiments.add(*experiments)
    else:
        dataset.experiments.remove(*experiments)


@dataclass(frozen=True)
class RecordInput:
    """One record to upsert, already checked (`parse_record`)."""

    inputs: dict[str, Any]
    expectations: dict[str, Any] | None = None
    outputs: Any = None
    has_outputs: bool = False
    tags: dict[str, str] | None = None
    source: dict[str, Any] | None = None


def parse_record(data: Any, index: int = 0) -> RecordInput:
    where = f"Record {index + 1}"
    if not isinstance(data, dict):
        raise _invalid(f"{where} should be an object with inputs.")
    inputs = data.get("inputs")
    if not isinstance(inputs, dict) or not inputs:
        raise _invalid(f"{where} needs inputs: a non-empty object.")
    expectations = data.get("expectations")
    if expectations is not None and not isinstance(expectations, dict):
        raise _invalid(f"{where}: expectations should be an object of name to value.")
    source = data.get("source")
    if source is not None and not isinstance(source, dict):
        raise _invalid(f"{where}: source should be an object.")
    tags = data.get("tags")
    return RecordInput(
        inputs=inputs,
        expectations=expectations,
        outputs=data.get("outputs"),
        has_outputs="outputs" in data,
        tags=check_tags(tags) if tags is not None else None,
        source=source,
    )


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int


_MERGED_FIELDS = ["outputs", "expectations", "tags", "source"]
# bulk_update writes one CASE per field per row: smaller batches keep each statement quick.
UPDATE_BATCH_SIZE = 250


@transaction.atomic
def upsert_records(
    *, dataset_id: str, records: Sequence[RecordInput], user: str = ""
) -> UpsertResult:
    """Insert records whose inputs are new to the dataset; merge the others into the record
    with the same inputs (expectations and tags key by key; outputs replaced when given), as
    MLflow does. Repeated inputs within one call merge in order. `updated` counts the records
    matched by inputs; only those whose content changed are written. A fixed number of
    statements per batch."""
    dataset = dataset_for_update(dataset_id)
    now = timezone.now()
    by_hash: dict[str, DatasetRecord] = {}
    hashes = list(dict.fromkeys(input_hash(record.inputs) for record in records))
    for start in range(0, len(hashes), BATCH_SIZE):
        for row in DatasetRecord.objects.filter(
            dataset=dataset, input_hash__in=hashes[start : start + BATCH_SIZE]
        ):
            by_hash[row.input_hash] = row
    before = {key: [getattr(row, name) for name in _MERGED_FIELDS] for key, row in by_hash.items()}
    for record in records:
        key = input_hash(record.inputs)
        user_tag = (record.tags or {}).get("mlflow.user", user)
        row = by_hash.get(key)
        if row is None:
            row = by_hash[key] = DatasetRecord(
                dataset=dataset,
                input_hash=key,
                inputs=record.inputs,
                created_by=user_tag,
                created_time=now,
            )
        if record.has_outputs:
            row.outputs = record.outputs
        if record.expectations:
            row.expectations = {**(row.expectations or {}), **record.expectations}
        if record.tags:
            row.tags = {**(row.tags or {}), **record.tags}
        if record.source is not None and row.source is None:
            row.source = record.source
        row.last_updated_by = user_tag
        row.last_update_time = now
    new = [row for key, row in by_hash.items() if key not in before]
    changed = [
        row
        for key, row in by_hash.items()
        if key in before and before[key] != [getattr(row, name) for name in _MERGED_FIELDS]
    ]
    DatasetRecord.objects.bulk_create(new, batch_size=BATCH_SIZE)
    DatasetRecord.objects.bulk_update(
        changed,
        [*_MERGED_FIELDS, "last_updated_by", "last_update_time"],
        batch_size=UPDATE_BATCH_SIZE,
    )
    dataset.schema = _merged_schema(dataset.schema, records)
    dataset.profile = {"num_records": DatasetRecord.objects.filter(dataset=dataset).count()}
    dataset.last_update_time = now
    dataset.last_updated_by = user or dataset.last_updated_by
    dataset.digest = _digest(dataset.name, now)
    dataset.save(
        update_fields=["schema", "profile", "last_update_time", "last_updated_by", "digest"]
    )
    updated = sum(1 for record in records if input_hash(record.inputs) in before)
    return UpsertResult(inserted=len(records) - updated, updated=updated)


@transaction.atomic
def delete_records(*, dataset_id: str, record_ids: Sequence[str]) -> int:
    dataset = dataset_for_update(dataset_id)
    deleted, _ = DatasetRecord.objects.filter(dataset=dataset, record_id__in=record_ids).delete()
    dataset.profile = {"num_records": DatasetRecord.objects.filter(dataset=dataset).count()}
    dataset.last_update_time = timezone.now()
    dataset.save(update_fields=["profile", "last_update_time"])
    return deleted


@transaction.atomic
def delete_dataset(*, dataset_id: str) -> None:
    """Delete a dataset and its records; deleting one that is not there does nothing."""
    EvaluationDataset.objects.filter(dataset_id=dataset_id).delete()


# --- search ---------------------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"""\s*(?P<field>name|created_by|last_updated_by|tags\.(?:`[^`]+`|[\w.\-]+))\s*
    (?P<op>=|!=|LIKE|ILIKE)\s*
    (?P<value>"(?:[^"]|"")*"|'(?:[^']|'')*')\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_TIME_CLAUSE = re.compile(
    r"\s*(?P<field>created_time|last_update_time)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>\d{1,16})\s*",
    re.IGNORECASE,
)
_TIME_LOOKUPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "exact", "!=": "exact"}
_ORDER = re.compile(
    r"^\s*(name|created_time|last_update_time|dataset_id)(?:\s+(ASC|DESC))?\s*$", re.IGNORECASE
)
_ORDER_FIELDS = {"dataset_id": "dataset_id"}


def _like(pattern: str) -> str:
    return "^" + re.escape(pattern).replace("%", ".*").replace("_", ".") + "$"


def filter_datasets(datasets: QuerySet[EvaluationDataset], filter_string: str | None) -> QuerySet:
    """Apply MLflow's dataset filter: clauses on `name`, `created_by`, `last_updated_by` or
    `tags.<key>` with =, !=, LIKE or ILIKE and a quoted value, or on `created_time` /
    `last_update_time` compared with milliseconds, joined by AND."""
    if not filter_string or not filter_string.strip():
        return datasets
    for part in re.split(r"\s+AND\s+", filter_string.strip(), flags=re.IGNORECASE):
        timed = _TIME_CLAUSE.fullmatch(part)
        if timed is not None:
            moment = datetime.fromtimestamp(int(timed["value"]) / 1000, tz=UTC)
            q = Q(**{f"{timed['field'].lower()}__{_TIME_LOOKUPS[timed['op']]}": moment})
            datasets = datasets.exclude(q) if timed["op"] == "!=" else datasets.filter(q)
            continue
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise _invalid(
                f"Cannot read the filter {part!r:.120}: use name, created_by, last_updated_by or "
                "tags.<key> with =, !=, LIKE or ILIKE and a quoted value, or created_time / "
                "last_update_time compared with milliseconds, joined by AND."
            )
        field, op, raw = match["field"], match["op"].upper(), match["value"]
        quote = raw[0]
        value = raw[1:-1].replace(quote * 2, quote)
        if field.lower().startswith("tags."):
            lookup = "tags__" + field[5:].strip("`")
        else:
            lookup = field.lower()
        if op in ("=", "!="):
            q = Q(**{lookup: value})
        elif op == "LIKE":
            q = Q(**{f"{lookup}__regex": _like(value)})
        else:
            q = Q(**{f"{lookup}__iregex": _like(value)})
        datasets = datasets.exclude(q) if op == "!=" else datasets.filter(q)
    return datasets


def order_datasets(datasets: QuerySet[EvaluationDataset], order_by: Sequence[str]) -> QuerySet:
    fields = []
    for clause in order_by:
        match = _ORDER.match(clause) if isinstance(clause, str) else None
        if match is None:
            raise _invalid(
                f"Cannot order by {clause!r:.80}: use name, created_time, last_update_time or "
                "dataset_id, optionally followed by ASC or DESC."
            )
        field = match[1].lower()
        fields.append(("-" if (match[2] or "ASC").upper() == "DESC" else "") + field)
    return datasets.order_by(*fields, "-created_time", "-id")
