"""MLflow's review-queue REST endpoints (`mlflow.genai.review_queues`), under
/api/3.0/mlflow/review-queues/.

A review queue is one of our labeling sessions: its `queue_id` is the session's id, its `users`
the session's labelers (accounts of the app: an unknown user is INVALID_PARAMETER_VALUE, never
dropped), its `schema_ids` the session's questions, its items the session's traces. Queues made
through the API are active at once, so their labelers find them in the review app.

An item's status is read from the session's item: *complete* once it has its labels
(`completed_by` is the last labeler who submitted), *declined* when it was skipped and nothing
else is going on, *pending* otherwise (our *in progress* too, shown as the extra `state`).
`set_review_queue_item_status` records the labeler's submission or skip without answers
(`labeling.session_items.set_item_status`).

Beyond MLflow: labels per item, reservation length, blind mode and status are set in the
console and shown read-only as extra fields (`labels_per_item`, `reservation_minutes`,
`blind`, `status`; the SDK ignores them). MLflow caps a queue at 10 users; we do not.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.http import JsonResponse

from accounts.api_auth import ApiRequest
from labeling import services, session_items
from labeling.api.common import experiment_by_id, pk_of, session_by_id, users_by_login
from labeling.models import (
    Assignment,
    AssignmentState,
    Item,
    ItemState,
    LabelingSchema,
    LabelingSession,
    QueueType,
    SessionSchema,
    SessionStatus,
)
from traces.api_views import (
    api_endpoint,
    int_param,
    ok,
    page_offset,
    page_token,
    request_params,
    string_param,
)
from traces.mlflow_api import ApiError, invalid, millis, not_found
from traces.models import Experiment

MAX_RESULTS = 1000
DEFAULT_ITEMS = 100
RESERVED_NAME = "default"

_QUEUE_TYPES = {"USER": QueueType.USER, "CUSTOM": QueueType.CUSTOM, 1: QueueType.USER}
_QUEUE_TYPES[2] = QueueType.CUSTOM
_STATUSES = {
    "PENDING": session_items.STATUS_PENDING,
    "COMPLETE": session_items.STATUS_COMPLETE,
    "DECLINED": session_items.STATUS_DECLINED,
    1: session_items.STATUS_PENDING,
    2: session_items.STATUS_COMPLETE,
    3: session_items.STATUS_DECLINED,
}
# Which of our item states each MLflow status stands for.
_STATES = {
    session_items.STATUS_PENDING: [ItemState.PENDING, ItemState.IN_PROGRESS],
    session_items.STATUS_COMPLETE: [ItemState.COMPLETE],
    session_items.STATUS_DECLINED: [ItemState.SKIPPED],
}
_STATUS_OF_STATE = {
    ItemState.PENDING: "PENDING",
    ItemState.IN_PROGRESS: "PENDING",
    ItemState.COMPLETE: "COMPLETE",
    ItemState.SKIPPED: "DECLINED",
}


def _enum(value: Any, choices: dict[Any, str], what: str, names: str) -> str:
    key = value.upper() if isinstance(value, str) else value
    if isinstance(key, bool) or key not in choices:
        raise invalid(f"`{what}` must be one of {names}; got {value!r:.40}.")
    return choices[key]


def _queue_type(value: Any) -> str:
    return _enum(value, _QUEUE_TYPES, "queue_type", "USER or CUSTOM")


def _status(value: Any) -> str:
    return _enum(value, _STATUSES, "status", "PENDING, COMPLETE, or DECLINED")


def _strings(data: dict[str, Any], name: str) -> list[str]:
    values = data.get(name)
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise invalid(f"`{name}` should be a list of strings.")
    return [value.strip() for value in values]


# --- out ------------------------------------------------------------------------------------------


def with_people(sessions: QuerySet[LabelingSession]) -> QuerySet[LabelingSession]:
    """What `queue_json` reads, in three queries whatever the number of sessions."""
    return sessions.select_related("created_by").prefetch_related(
        Prefetch("labelers", queryset=User.objects.order_by("username")),
        Prefetch("sessionschema_set", queryset=SessionSchema.objects.order_by("position", "id")),
    )


def queue_json(session: LabelingSession) -> dict[str, Any]:
    data: dict[str, Any] = {
        "queue_id": str(session.pk),
        "experiment_id": str(session.experiment_id),
        "name": session.name,
        "queue_type": "USER" if session.queue_type == QueueType.USER else "CUSTOM",
        "creation_time_ms": millis(session.created_at),
        "last_update_time_ms": millis(session.updated_at),
        "users": [user.get_username() for user in session.labelers.all()],
        "schema_ids": [str(row.schema_id) for row in session.sessionschema_set.all()],
        # Ours, set in the console (the SDK ignores them):
        "labels_per_item": session.labels_per_item,
        "reservation_minutes": session.reservation_minutes,
        "blind": session.blind,
        "status": session.status,
    }
    if session.created_by_id is not None:
        data["created_by"] = session.created_by.get_username()
    return data


def _queue(session: LabelingSession) -> dict[str, Any]:
    return queue_json(with_people(LabelingSession.objects.filter(pk=session.pk)).get())


def items_for_api(items: QuerySet[Item]) -> QuerySet[Item]:
    """Items with their trace id, newest first (MLflow's order)."""
    return items.annotate(api_trace_id=F("trace__trace_id")).order_by("-position", "-id")


def with_done_by(items: list[Item]) -> list[Item]:
    """Set who last submitted and who last skipped each item, and when (`api_submitted_by`,
    `api_submitted_at`, `api_skipped_by`, `api_skipped_at`), in one query for all of them: a
    plain query, which costs less to build than four correlated subqueries per item."""
    done = (
        Assignment.objects.filter(
            item__in=[item.pk for item in items],
            state__in=[AssignmentState.SUBMITTED, AssignmentState.SKIPPED],
        )
        .order_by()
        .values_list("item_id", "state", "labeler__username", "submitted_at", "last_active_at")
    )
    latest: dict[tuple[int, str], tuple[Any, str]] = {}
    for item_id, state, login, submitted_at, active_at in done:
        moment = submitted_at if state == AssignmentState.SUBMITTED else active_at
        key = (item_id, state)
        if moment is not None and (key not in latest or moment > latest[key][0]):
            latest[key] = (moment, login)
    for item in items:
        item.api_submitted_at, item.api_submitted_by = latest.get(
            (item.pk, AssignmentState.SUBMITTED), (None, None)
        )
        item.api_skipped_at, item.api_skipped_by = latest.get(
            (item.pk, AssignmentState.SKIPPED), (None, None)
        )
    return items


def item_json(item: Item, session: LabelingSession) -> dict[str, Any]:
    status = _STATUS_OF_STATE[item.state]
    done_at = None
    data: dict[str, Any] = {
        "queue_id": str(session.pk),
        "item_type": "TRACE",
        "item_id": item.api_trace_id,
        "status": status,
        "creation_time_ms": millis(item.created_at),
        # Ours: the item's own state, and how many labels it has of how many it needs.
        "state": item.state,
        "labels": item.submissions,
        "labels_per_item": session.labels_per_item,
    }
    if status == "COMPLETE":
        data["completed_by"], done_at = item.api_submitted_by, item.api_submitted_at
    elif status == "DECLINED":
        data["completed_by"], done_at = item.api_skipped_by, item.api_skipped_at
    if done_at is not None:
        data["completed_time_ms"] = millis(done_at)
    data["last_update_time_ms"] = millis(done_at or item.created_at)
    return data


# --- helpers --------------------------------------------------------------------------------------


def _schemas(experiment: Experiment, schema_ids: Sequence[str]) -> list[LabelingSchema]:
    """The schemas with these ids, in order: each must be one of the experiment's."""
    ids = list(dict.fromkeys(schema_ids))
    if not all(value.isdigit() for value in ids):
        bad = next(value for value in ids if not value.isdigit())
        raise not_found(f"Label schema with id {bad!r:.80} not found.")
    found = {schema.pk: schema for schema in LabelingSchema.objects.filter(pk__in=map(int, ids))}
    missing = [value for value in ids if int(value) not in found]
    if missing:
        raise not_found(f"Label schema with id {missing[0]!r:.80} not found.")
    foreign = [value for value in ids if found[int(value)].experiment_id != experiment.pk]
    if foreign:
        raise invalid(
            f"Label schema {foreign[0]} belongs to another experiment; a queue can only ask "
            f"the schemas of its own experiment ({experiment.pk})."
        )
    return [found[int(value)] for value in ids]


def _check_name_free(experiment: Experiment, name: str, *, exclude: int | None = None) -> None:
    taken = LabelingSession.objects.filter(experiment=experiment, name=name).exclude(pk=exclude)
    if taken.exists():
        raise ApiError(
            "RESOURCE_ALREADY_EXISTS",
            f"Review queue {name!r:.260} already exists in experiment {experiment.pk}.",
        )


def _service(action: Any) -> Any:
    try:
        return action()
    except ValidationError as exc:
        raise invalid(" ".join(exc.messages)) from None


def _fields(session: LabelingSession, **changes: Any) -> services.SessionFields:
    current = {
        "name": session.name,
        "instructions": session.instructions,
        "labels_per_item": session.labels_per_item,
        "reservation_minutes": session.reservation_minutes,
        "blind": session.blind,
        "status": session.status,
        "schemas": [
            row.schema
            for row in SessionSchema.objects.filter(session=session)
            .select_related("schema")
            .order_by("position", "id")
        ],
        "labelers": list(session.labelers.all()),
    }
    return services.SessionFields(**{**current, **changes})


def _create(
    *,
    experiment: Experiment,
    name: str,
    queue_type: str,
    labelers: list[User],
    schemas: list[LabelingSchema],
    user: User,
) -> LabelingSession:
    _check_name_free(experiment, name)
    fields = services.SessionFields(
        name=name,
        instructions="",
        labels_per_item=1,
        reservation_minutes=30,
        blind=False,
        status=SessionStatus.ACTIVE,
        schemas=schemas,
        labelers=labelers,
    )
    session = _service(
        lambda: services.create_session(experiment=experiment, fields=fields, user=user)
    )
    if queue_type != QueueType.CUSTOM:
        LabelingSession.objects.filter(pk=session.pk).update(queue_type=queue_type)
    return session


def _user_queue_schemas(experiment: Experiment) -> list[LabelingSchema]:
    """A user queue asks all of the experiment's schemas (those not archived), as MLflow's
    does; they are set when the queue is made and may be changed in the console."""
    return list(
        LabelingSchema.objects.active().filter(experiment=experiment).order_by("created_at", "id")
    )


# --- views ----------------------------------------------------------------------------------------


@api_endpoint("POST")
def queue_create(request: ApiRequest) -> JsonResponse:
    data = request_params(request)
    experiment = experiment_by_id(string_param(data, "experiment_id"))
    name = (string_param(data, "name") or "").strip()
    queue_type = _queue_type(data.get("queue_type"))
    logins = _strings(data, "users")
    schema_ids = _strings(data, "schema_ids")
    with transaction.atomic():
        Experiment.objects.select_for_update().filter(pk=experiment.pk).first()
        if queue_type == QueueType.USER:
            (owner,) = users_by_login([name], what="name")
            labelers = users_by_login(logins) if logins else [owner]
            if labelers != [owner]:
                raise invalid(
                    "A user queue must have exactly one assigned user equal to its name; "
                    f"got name={name!r:.100} and users={logins!r:.200}."
                )
            if schema_ids:
                raise invalid(
                    "A user queue cannot have explicitly-attached schemas; it asks all of the "
                    "experiment's label schemas."
                )
            name, schemas = owner.get_username(), _user_queue_schemas(experiment)
        else:
            if not name:
                raise invalid("A review queue needs a name.")
            if name.lower() == RESERVED_NAME:
                raise invalid(f"`{name}` is a reserved queue name and cannot be used.")
            labelers = users_by_login(logins)
            schemas = _schemas(experiment, schema_ids)
        session = _create(
            experiment=experiment,
            name=name,
            queue_type=queue_type,
            labelers=labelers,
            schemas=schemas,
            user=request.user,
        )
    return ok({"review_queue": _queue(session)})


@api_endpoint("POST")
def queue_get_or_create_user(request: ApiRequest) -> JsonResponse:
    data = request_params(request)
    experiment = experiment_by_id(string_param(data, "experiment_id"))
    (owner,) = users_by_login([string_param(data, "user") or ""], what="user")
    with transaction.atomic():
        Experiment.objects.select_for_update().filter(pk=experiment.pk).first()
        session = LabelingSession.objects.filter(
            experiment=experiment, queue_type=QueueType.USER, name=owner.get_username()
        ).first()
        if session is None:
            session = _create(
                experiment=experiment,
                name=owner.get_username(),
                queue_type=QueueType.USER,
                labelers=[owner],
                schemas=_user_queue_schemas(experiment),
                user=request.user,
            )
    return ok({"review_queue": _queue(session)})


@api_endpoint("GET")
def queue_get(request: ApiRequest) -> JsonResponse:
    session = session_by_id(string_param(request_params(request), "queue_id"))
    return ok({"review_queue": _queue(session)})


@api_endpoint("GET")
def queue_get_by_name(request: ApiRequest) -> JsonResponse:
    data = request_params(request)
    experiment = experiment_by_id(string_param(data, "experiment_id"))
    name = string_param(data, "name")
    session = (
        with_people(LabelingSession.objects.filter(experiment=experiment, name=name))
        .order_by("created_at", "id")
        .first()
    )
    if session is None:
        raise not_found(f"Review queue {name!r:.260} not found in experiment {experiment.pk}.")
    return ok({"review_queue": queue_json(session)})


@api_endpoint("GET")
def queue_list(request: ApiRequest) -> JsonResponse:
    """ListReviewQueues: the experiment's sessions, newest first; optionally only those a user
    labels (`user`) or that hold a trace (`item_id`)."""
    data = request_params(request)
    experiment = experiment_by_id(string_param(data, "experiment_id"))
    max_results = int_param(data, "max_results", default=MAX_RESULTS, maximum=MAX_RESULTS)
    offset = page_offset(data.get("page_token"))
    sessions = LabelingSession.objects.filter(experiment=experiment)
    user = string_param(data, "user", required=False)
    if user is not None:
        sessions = sessions.filter(labelers__username__iexact=user.strip())
    item_id = string_param(data, "item_id", required=False)
    if item_id is not None:
        sessions = sessions.filter(items__trace__trace_id=item_id.strip())
    rows = list(
        with_people(sessions.distinct().order_by("-created_at", "-id"))[
            offset : offset + max_results + 1
        ]
    )
    response: dict[str, Any] = {"review_queues": [queue_json(row) for row in rows[:max_results]]}
    if len(rows) > max_results:
        response["next_page_token"] = page_token(offset + max_results)
    return ok(response)


@api_endpoint("POST")
def queue_update(request: ApiRequest) -> JsonResponse:
    """UpdateReviewQueue: rename, a new owner, the users (`update_users`), the questions
    (`update_schema_ids`); what is not given stays."""
    data = request_params(request)
    with transaction.atomic():
        session = session_by_id(string_param(data, "queue_id"), lock=True)
        changes: dict[str, Any] = {}
        is_user_queue = session.queue_type == QueueType.USER
        name = string_param(data, "name", required=False)
        if name is not None and name.strip() != session.name:
            if is_user_queue:
                raise invalid("A user queue is named after its user; it cannot be renamed.")
            name = name.strip()
            if name.lower() == RESERVED_NAME:
                raise invalid(f"`{name}` is a reserved queue name and cannot be used.")
            _check_name_free(session.experiment, name, exclude=session.pk)
            changes["name"] = name
        if data.get("update_users"):
            labelers = users_by_login(_strings(data, "users"))
            if is_user_queue and [u.pk for u in labelers] != [u.pk for u in session.labelers.all()]:
                raise invalid("A user queue's one user is the user it is named after.")
            changes["labelers"] = labelers
        if data.get("update_schema_ids"):
            changes["schemas"] = _schemas(session.experiment, _strings(data, "schema_ids"))
        owner = string_param(data, "new_owner", required=False)
        if changes:
            fields = _fields(session, **changes)
            session = _service(lambda: services.update_session(session=session, fields=fields))
        if owner is not None:
            (new_owner,) = users_by_login([owner], what="new_owner")
            LabelingSession.objects.filter(pk=session.pk).update(created_by=new_owner)
    return ok({"review_queue": _queue(session)})


@api_endpoint("POST")
def queue_delete(request: ApiRequest) -> JsonResponse:
    """DeleteReviewQueue; one that is not there is a no-op, as on MLflow's server. A session
    with submitted labels is refused: its labels belong to it (close it in the console)."""
    data = request_params(request)
    queue_id = string_param(data, "queue_id")
    with transaction.atomic():
        if not LabelingSession.objects.filter(pk=pk_of(queue_id)).exists():
            return ok()
        session = session_by_id(queue_id, lock=True)
        if Assignment.objects.filter(
            item__session=session, state=AssignmentState.SUBMITTED, answers__isnull=False
        ).exists():
            raise invalid(
                f"Review queue {session.pk} has submitted labels, so it stays; close it in "
                "the console instead."
            )
        session.delete()
    return ok()


def _item_ids(data: dict[str, Any]) -> list[str]:
    item_type = data.get("item_type")
    if item_type not in (None, "", "TRACE", 1, "REVIEW_ITEM_TYPE_UNSPECIFIED", 0):
        raise invalid(f"`item_type` must be TRACE; got {item_type!r:.40}.")
    item_ids = _strings(data, "item_ids")
    if not item_ids:
        raise invalid("`item_ids` must be a non-empty list of trace ids.")
    if any(not value for value in item_ids):
        raise invalid("`item_ids` has an empty trace id.")
    return list(dict.fromkeys(item_ids))


def _items_of(session: LabelingSession, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
    items = items_for_api(Item.objects.filter(session=session, trace__trace_id__in=list(trace_ids)))
    by_trace = {item.api_trace_id: item for item in with_done_by(list(items))}
    return [item_json(by_trace[t], session) for t in trace_ids if t in by_trace]


@api_endpoint("POST")
def items_add(request: ApiRequest) -> JsonResponse:
    """AddItemsToReviewQueue: the traces (of the queue's experiment; any other id is
    RESOURCE_DOES_NOT_EXIST and nothing is added) go to the end of the queue."""
    data = request_params(request)
    item_ids = _item_ids(data)
    with transaction.atomic():
        session = session_by_id(string_param(data, "queue_id"))
        try:
            session_items.add_traces_by_id(session=session, trace_ids=item_ids)
        except ValidationError as exc:
            codes = {error.code for error in exc.error_list}
            if "unknown_traces" in codes:
                raise not_found(" ".join(exc.messages)) from None
            raise invalid(" ".join(exc.messages)) from None
    return ok({"items": _items_of(session, item_ids)})


@api_endpoint("POST")
def items_remove(request: ApiRequest) -> JsonResponse:
    """RemoveItemsFromReviewQueue: ids not in the queue are ignored (as on MLflow's server);
    an item someone labeled, or is labeling now, is refused, and then nothing is removed."""
    data = request_params(request)
    item_ids = _item_ids(data)
    with transaction.atomic():
        session = session_by_id(string_param(data, "queue_id"))
        pks = list(
            Item.objects.filter(session=session, trace__trace_id__in=item_ids).values_list(
                "pk", flat=True
            )
        )
        if pks:
            _service(lambda: session_items.remove_items(session=session, item_ids=pks))
    return ok()


def _keyset_token(item: Item) -> str:
    return base64.urlsafe_b64encode(
        json.dumps({"before": [item.position, item.pk]}).encode()
    ).decode()


def _keyset(token: Any) -> Q:
    """The items after the page a token of `_keyset_token` ends with (newest first): a page
    costs the same wherever it is in a long queue."""
    if not token:
        return Q()
    try:
        position, pk = json.loads(base64.urlsafe_b64decode(str(token).encode()))["before"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise invalid("The page_token is not one this server gave out.") from None
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (position, pk)):
        raise invalid("The page_token is not one this server gave out.")
    # (position, id) < (p, i), written as a range on position (which the index on session,
    # position, id walks backwards, stopping after a page) less the rows at p from i on.
    return Q(position__lte=position) & ~Q(position=position, pk__gte=pk)


@api_endpoint("GET")
def items_list(request: ApiRequest) -> JsonResponse:
    """ListReviewQueueItems: the last added first (MLflow's order), optionally of one
    status, paginated by position (keyset); three queries."""
    data = request_params(request)
    session = session_by_id(string_param(data, "queue_id"))
    max_results = int_param(data, "max_results", default=DEFAULT_ITEMS, maximum=MAX_RESULTS)
    items = Item.objects.filter(session=session).filter(_keyset(data.get("page_token")))
    status = data.get("status")
    if status not in (None, "", "REVIEW_STATUS_UNSPECIFIED", "0"):
        wanted = _status(int(status) if status.isdigit() else status)
        items = items.filter(state__in=_STATES[wanted])
    rows = list(items_for_api(items)[: max_results + 1])
    page = with_done_by(rows[:max_results])
    response: dict[str, Any] = {"items": [item_json(row, session) for row in page]}
    if len(rows) > max_results:
        response["next_page_token"] = _keyset_token(rows[max_results - 1])
    return ok(response)


@api_endpoint("POST")
def items_set_status(request: ApiRequest) -> JsonResponse:
    """SetReviewQueueItemStatus: `completed_by` (default: the token's user) is the labeler
    whose submission (COMPLETE) or skip (DECLINED) is recorded; PENDING reopens the item."""
    data = request_params(request)
    status = _status(data.get("status"))
    item_id = (string_param(data, "item_id") or "").strip()
    completed_by = string_param(data, "completed_by", required=False)
    labeler = (
        users_by_login([completed_by], what="completed_by")[0]
        if completed_by and status != session_items.STATUS_PENDING
        else request.user
    )
    with transaction.atomic():
        session = session_by_id(string_param(data, "queue_id"))
        item = Item.objects.filter(session=session, trace__trace_id=item_id).first()
        if item is None:
            raise not_found(f"Item {item_id!r:.80} is not in review queue {session.pk}.")
        _service(lambda: session_items.set_item_status(item=item, labeler=labeler, status=status))
    return ok({"item": _items_of(session, [item_id])[0]})
