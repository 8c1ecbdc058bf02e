"""Migrations carry the data across the restructure that moved API tokens from `reviewapp` to
`accounts` (reviewapp 0002 renames the table, accounts 0001 takes up the model and moves its
content type).

The database is migrated back to the state before the restructure (the leaf migrations of commit
b30d06e, named below; Django's own apps stay as they are), rows are written through the
historical models of that state, and the database is migrated forward to whatever the latest
migrations are, where the current models must read every row back. Each test leaves the database
at the latest migrations, so the tests after it see the schema they expect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps as current_apps
from django.apps.registry import Apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import authenticate_api_token, create_api_token, hash_token
from labeling.models import (
    Adjudication,
    Answer,
    Assignment,
    Item,
    LabelingSchema,
    LabelingSession,
)
from traces.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)

# The leaf migrations of the project's apps before the restructure (commit b30d06e).
BEFORE_RESTRUCTURE = [
    ("reviewapp", "0001_initial"),
    ("traces", "0002_explorer_indexes"),
    ("labeling", "0003_adjudication"),
]
# Django's apps are left at their latest migrations in the "before" state.
DJANGO_APPS = {"contenttypes", "auth", "sessions", "admin"}

RAW_TOKEN = "rva_known-token-for-the-migration-test-0123456789abcdefghi"
REVOKED_TOKEN = "rva_revoked-token-for-the-migration-test-0123456789abcdef"


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def before_restructure() -> list[tuple[str, str]]:
    django_leaves = [node for node in latest() if node[0] in DJANGO_APPS]
    return BEFORE_RESTRUCTURE + django_leaves


def migrate(targets: list[tuple[str, str]]) -> Apps:
    """Migrate the test database to `targets`; the historical apps of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture
def back_to_latest(transactional_db) -> Iterator[None]:
    """Whatever happens in the test, the database ends at the latest migrations."""
    yield
    migrate(latest())


def table_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def rows(apps: Apps, label: str, pks: list[int], fields: list[str]) -> dict[int, dict[str, Any]]:
    """The rows `pks` of model `label` as stored, read through `apps`."""
    model = apps.get_model(label)
    return {row["pk"]: row for row in model.objects.filter(pk__in=pks).values("pk", *fields)}


def concrete_fields(apps: Apps, label: str) -> list[str]:
    return [field.attname for field in apps.get_model(label)._meta.concrete_fields]


def create_rows_before_restructure(apps: Apps) -> dict[str, list[int]]:
    """A curator with an API token (and a revoked one), an admin log entry about the token, an
    experiment with a trace and a judge's assessment, and a labeling campaign: a schema, a
    session with two labelers, two items, assignments (one submitted with its answer), and an
    adjudication. Written through the historical models; returns the pks by model label."""
    user_model = apps.get_model("auth", "User")
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    content_type_model = apps.get_model("contenttypes", "ContentType")
    log_entry_model = apps.get_model("admin", "LogEntry")
    token_model = apps.get_model("reviewapp", "ApiToken")
    experiment_model = apps.get_model("traces", "Experiment")
    trace_model = apps.get_model("traces", "Trace")
    span_model = apps.get_model("traces", "Span")
    assessment_model = apps.get_model("traces", "Assessment")
    schema_model = apps.get_model("labeling", "LabelingSchema")
    session_model = apps.get_model("labeling", "LabelingSession")
    session_schema_model = apps.get_model("labeling", "SessionSchema")
    item_model = apps.get_model("labeling", "Item")
    assignment_model = apps.get_model("labeling", "Assignment")
    answer_model = apps.get_model("labeling", "Answer")
    adjudication_model = apps.get_model("labeling", "Adjudication")
    now = timezone.now().replace(microsecond=123456)

    curator = user_model.objects.create(
        username="curator", email="curator@example.com", is_staff=True, password=make_password("x")
    )
    labelers_group, _ = group_model.objects.get_or_create(name="labelers")
    labelers = [
        user_model.objects.create(username=name, password=make_password("x"))
        for name in ("labeler", "other_labeler")
    ]
    for labeler in labelers:
        labeler.groups.add(labelers_group)

    token = token_model.objects.create(
        user=curator,
        name="CI exporter",
        token_hash=hash_token(RAW_TOKEN),
        hint=RAW_TOKEN[:10],
        created_at=now - timedelta(days=3),
        last_used_at=now - timedelta(days=1),
    )
    revoked = token_model.objects.create(
        user=curator,
        name="old laptop",
        token_hash=hash_token(REVOKED_TOKEN),
        hint=REVOKED_TOKEN[:10],
        created_at=now - timedelta(days=30),
        revoked_at=now - timedelta(days=2),
    )
    token_type, _ = content_type_model.objects.get_or_create(
        app_label="reviewapp", model="apitoken"
    )
    view_tokens, _ = permission_model.objects.get_or_create(
        content_type=token_type, codename="view_apitoken", defaults={"name": "Can view API token"}
    )
    curator.user_permissions.add(view_tokens)
    log_entry = log_entry_model.objects.create(
        action_time=now,
        user=curator,
        content_type=token_type,
        object_id=str(token.pk),
        object_repr="CI exporter (rva_known-…)",
        action_flag=CHANGE,
        change_message="[]",
    )

    experiment = experiment_model.objects.create(
        name="support-bot", description="Support answers", tags={"team": "docs"}
    )
    traces = [
        trace_model.objects.create(
            trace_id=f"tr-migration-{i}",
            experiment=experiment,
            request_time=now - timedelta(minutes=i),
            execution_duration=1200 + i,
            request_preview='{"question": "What is MLflow?"}',
            response_preview='"An open-source platform."',
            tags={"i": str(i)},
        )
        for i in range(2)
    ]
    span_model.objects.create(
        trace=traces[0],
        span_id="0000000000000001",
        name="app",
        span_type="CHAIN",
        start_time_ns=1_700_000_000_000_000_000,
        end_time_ns=1_700_000_001_200_000_000,
        inputs={"question": "What is MLflow?"},
        outputs="An open-source platform.",
    )
    judge = assessment_model.objects.create(
        assessment_id="a-judge",
        trace=traces[0],
        experiment=experiment,
        kind="feedback",
        name="correct",
        source_type="LLM_JUDGE",
        source_id="gpt-judge",
        value=True,
        rationale="Matches the docs.",
    )
    labels = [
        assessment_model.objects.create(
            assessment_id=f"a-{labeler.username}",
            trace=traces[0],
            experiment=experiment,
            kind="feedback",
            name="correct",
            source_type="HUMAN",
            source_id=labeler.username,
            value=value,
            rationale=f"{labeler.username}'s reason",
        )
        for labeler, value in zip(labelers, [True, False], strict=True)
    ]
    final = assessment_model.objects.create(
        assessment_id="a-final",
        trace=traces[0],
        experiment=experiment,
        kind="feedback",
        name="correct",
        source_type="HUMAN",
        source_id=curator.username,
        value=True,
        metadata={"adjudicated": True, "settles": [label.assessment_id for label in labels]},
    )

    schema = schema_model.objects.create(
        experiment=experiment,
        name="correct",
        title="Is the answer correct?",
        instruction="Check it against the **docs**.",
        enable_comment=True,
        input_type="pass_fail",
        input_config={},
        created_by=curator,
    )
    session = session_model.objects.create(
        experiment=experiment,
        name="Week 12",
        instructions="Be strict.",
        labels_per_item=2,
        reservation_minutes=45,
        blind=True,
        status="active",
        created_by=curator,
    )
    session_schema = session_schema_model.objects.create(session=session, schema=schema, position=0)
    session.labelers.add(*labelers)
    session.reviewers.add(curator)
    items = [
        item_model.objects.create(
            session=session,
            trace=trace,
            position=i,
            state="complete" if i == 0 else "in_progress",
            adjudicated_by=curator if i == 0 else None,
            adjudicated_at=now if i == 0 else None,
        )
        for i, trace in enumerate(traces)
    ]
    assignments = [
        assignment_model.objects.create(
            item=items[0],
            labeler=labeler,
            state="submitted",
            claimed_at=now - timedelta(minutes=10),
            lease_expires_at=now + timedelta(minutes=35),
            submitted_at=now - timedelta(minutes=8),
            flagged=labeler.username == "other_labeler",
            flag_reason="The answer is cut off." if labeler.username == "other_labeler" else "",
        )
        for labeler in labelers
    ]
    assignments.append(
        assignment_model.objects.create(
            item=items[1],
            labeler=labelers[0],
            state="claimed",
            claimed_at=now - timedelta(minutes=1),
            lease_expires_at=now + timedelta(minutes=44),
        )
    )
    answers = [
        answer_model.objects.create(
            assignment=assignment, schema=schema, schema_version=1, assessment=label
        )
        for assignment, label in zip(assignments[:2], labels, strict=True)
    ]
    adjudication = adjudication_model.objects.create(
        item=items[0],
        schema=schema,
        assessment=final,
        adjudicator=curator,
        settles=[label.pk for label in labels],
        accepted_consensus=False,
    )
    return {
        "auth.User": [curator.pk, *(labeler.pk for labeler in labelers)],
        "reviewapp.ApiToken": [token.pk, revoked.pk],
        "admin.LogEntry": [log_entry.pk],
        "traces.Experiment": [experiment.pk],
        "traces.Trace": [trace.pk for trace in traces],
        "traces.Assessment": [judge.pk, *(label.pk for label in labels), final.pk],
        "labeling.LabelingSchema": [schema.pk],
        "labeling.LabelingSession": [session.pk],
        "labeling.SessionSchema": [session_schema.pk],
        "labeling.Item": [item.pk for item in items],
        "labeling.Assignment": [assignment.pk for assignment in assignments],
        "labeling.Answer": [answer.pk for answer in answers],
        "labeling.Adjudication": [adjudication.pk],
    }


# Where each model of the "before" state lives now.
MOVED = {"reviewapp.ApiToken": "accounts.ApiToken"}


def test_rows_written_before_the_restructure_survive_it(back_to_latest):
    # Tokens written before the restructure hold the SHA-256 (hex) of the token, as now.
    assert hash_token(RAW_TOKEN) == hashlib.sha256(RAW_TOKEN.encode()).hexdigest()
    old_apps = migrate(before_restructure())
    assert "reviewapp_apitoken" in table_names()
    assert "accounts_apitoken" not in table_names()

    pks = create_rows_before_restructure(old_apps)
    before = {
        label: rows(old_apps, label, ids, concrete_fields(old_apps, label))
        for label, ids in pks.items()
    }

    migrate(latest())

    # Every row is there, with the values it had, read through the current models.
    for label, ids in pks.items():
        now_label = MOVED.get(label, label)
        shared = [
            name
            for name in concrete_fields(old_apps, label)
            if name in concrete_fields(current_apps, now_label)
        ]
        old = {
            pk: {name: row[name] for name in ["pk", *shared]} for pk, row in before[label].items()
        }
        assert rows(current_apps, now_label, ids, shared) == old, label

    # The token: its table, its user, and it still signs in; the revoked one does not.
    assert ApiToken._meta.db_table == "accounts_apitoken"
    assert "accounts_apitoken" in table_names()
    assert "reviewapp_apitoken" not in table_names()
    curator = User.objects.get(username="curator")
    token = authenticate_api_token(RAW_TOKEN)
    assert token is not None
    assert token.pk == pks["reviewapp.ApiToken"][0]
    assert token.user == curator
    assert token.name == "CI exporter"
    assert authenticate_api_token(REVOKED_TOKEN) is None
    assert list(curator.api_tokens.order_by("pk").values_list("pk", flat=True)) == sorted(
        pks["reviewapp.ApiToken"]
    )

    # The content type moved (same row), so permissions and the admin history follow the token.
    token_type = ContentType.objects.get_for_model(ApiToken)
    assert token_type.app_label == "accounts"
    assert not ContentType.objects.filter(app_label="reviewapp", model="apitoken").exists()
    assert curator.has_perm("accounts.view_apitoken")
    log_entry = LogEntry.objects.get(pk=pks["admin.LogEntry"][0])
    assert log_entry.content_type == token_type
    assert log_entry.get_edited_object() == token

    # New tokens are stored next to the old ones.
    new_token, raw = create_api_token(user=curator, name="after the move")
    assert new_token.pk not in pks["reviewapp.ApiToken"]
    assert authenticate_api_token(raw) == new_token

    # The labeling campaign, through the current models' relations.
    session = LabelingSession.objects.get(pk=pks["labeling.LabelingSession"][0])
    labelers = set(User.objects.filter(username__in=["labeler", "other_labeler"]))
    assert set(session.labelers.all()) == labelers
    assert list(session.reviewers.all()) == [curator]
    assert list(session.schemas.all()) == [LabelingSchema.objects.get(name="correct")]
    assert session.created_by == curator
    first, second = Item.objects.filter(session=session).order_by("position")
    assert [item.trace.trace_id for item in (first, second)] == ["tr-migration-0", "tr-migration-1"]
    assert first.adjudicated_by == curator
    submitted = Assignment.objects.filter(item=first, state="submitted")
    assert {assignment.labeler for assignment in submitted} == labelers
    assert Assignment.objects.get(item=second).state == "claimed"
    # The slot counters (labeling 0004) are counted from the assignments.
    assert (first.slots_held, first.submissions, first.lease_floor) == (2, 2, None)
    reserved = Assignment.objects.get(item=second)
    assert (second.slots_held, second.submissions) == (1, 0)
    assert second.lease_floor == reserved.lease_expires_at
    for answer in Answer.objects.filter(assignment__item=first).select_related("assessment"):
        assert answer.assessment.source_id == answer.assignment.labeler.username
        assert answer.assessment.trace == first.trace
        assert answer.assessment.labeling_answer == answer
    adjudication = Adjudication.objects.get(item=first)
    assert adjudication.assessment.assessment_id == "a-final"
    assert adjudication.adjudicator == curator
    assert sorted(adjudication.settles) == sorted(
        Answer.objects.filter(assignment__item=first).values_list("assessment_id", flat=True)
    )
    assert Assessment.objects.get(assessment_id="a-judge").source_type == "LLM_JUDGE"


def test_back_to_before_the_restructure_and_forward_again_keeps_the_token(back_to_latest, curator):
    token, raw = create_api_token(user=curator, name="exporter")

    old_apps = migrate(before_restructure())
    old_token_model = old_apps.get_model("reviewapp", "ApiToken")
    assert old_token_model._meta.db_table == "reviewapp_apitoken"
    assert "reviewapp_apitoken" in table_names()
    old_token = old_token_model.objects.get(pk=token.pk)
    assert old_token.token_hash == hash_token(raw)
    assert old_token.user_id == curator.pk
    content_types = old_apps.get_model("contenttypes", "ContentType").objects
    assert content_types.filter(app_label="reviewapp", model="apitoken").exists()
    assert not content_types.filter(app_label="accounts", model="apitoken").exists()

    migrate(latest())

    assert "reviewapp_apitoken" not in table_names()
    found = authenticate_api_token(raw)
    assert found == token
    assert found.user == curator
    assert found.name == "exporter"
    assert ContentType.objects.get_for_model(ApiToken).app_label == "accounts"
