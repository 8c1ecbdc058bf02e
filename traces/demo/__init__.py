"""Demo data for `manage.py seed_demo`: realistic experiments and the demo logins.

Each demo experiment is a module with NAME, DESCRIPTION, TAGS and `seed(demo)`; add one to
`EXPERIMENTS` to extend the demo. Everything derives from a seeded `random.Random` per
experiment and a fixed base date, so two runs with the same seed give the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType

from django.contrib.auth.models import Group, User
from django.db import transaction

from accounts.services import LABELERS_GROUP
from traces.demo import docs_qa, support_chat, travel_agent
from traces.demo.builder import DEFAULT_SEED, DEMO_BASE_TIME, DemoExperiment, DemoStats
from traces.models import Experiment

EXPERIMENTS: list[ModuleType] = [docs_qa, travel_agent, support_chat]


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    staff: bool = False
    labeler: bool = False


DEMO_USERS = [
    DemoUser(
        "curator", "curator-demo", "curator (staff): builds sessions in the console", staff=True
    ),
    DemoUser("alice", "alice-demo", "labeler", labeler=True),
    DemoUser("bob", "bob-demo", "labeler", labeler=True),
    DemoUser("carol", "carol-demo", "labeler", labeler=True),
]


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    role: str


def demo_experiment_names() -> list[str]:
    return [module.NAME for module in EXPERIMENTS]


def seed_experiment(module: ModuleType, *, seed: int = DEFAULT_SEED) -> DemoStats:
    """Create one demo experiment with its traces, spans and assessments (one transaction)."""
    rng = random.Random(f"{seed}/{module.NAME}")
    with transaction.atomic():
        experiment = Experiment.objects.create(
            name=module.NAME,
            description=module.DESCRIPTION,
            tags={**module.TAGS, "demo": "true"},
            creation_time=DEMO_BASE_TIME - timedelta(days=35),
            last_update_time=DEMO_BASE_TIME,
        )
        demo = DemoExperiment(experiment, rng)
        module.seed(demo)
        return demo.save()


def seed_experiments(*, seed: int = DEFAULT_SEED, reset: bool = False) -> list[DemoStats]:
    """Create the demo experiments that do not exist yet (all of them again with `reset`)."""
    stats = []
    for module in EXPERIMENTS:
        existing = Experiment.objects.filter(name=module.NAME)
        if existing.exists():
            if not reset:
                stats.append(DemoStats(experiment=module.NAME, skipped=True))
                continue
            existing.delete()
        stats.append(seed_experiment(module, seed=seed))
    return stats


def ensure_demo_users() -> list[Login]:
    """Create the demo users that are missing; leave existing accounts as they are.

    Returns the logins to print: the demo password, or a note when an existing account's
    password is no longer the demo one.
    """
    logins = []
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = User.objects.create_user(
                username=spec.username,
                email=f"{spec.username}@example.com",
                password=spec.password,
                is_staff=spec.staff,
            )
            if spec.labeler:
                group, _ = Group.objects.get_or_create(name=LABELERS_GROUP)
                user.groups.add(group)
            password = spec.password
        elif user.check_password(spec.password):
            password = spec.password
        else:
            password = "(changed since the demo created it)"
        logins.append(Login(spec.username, password, role_of(user, spec)))
    return logins


def role_of(user: User, spec: DemoUser) -> str:
    if user.is_staff == spec.staff and (
        not spec.labeler or user.groups.filter(name=LABELERS_GROUP).exists()
    ):
        return spec.role
    if user.is_superuser:
        return "superuser"
    if user.is_staff:
        return "staff"
    return "labeler" if user.groups.filter(name=LABELERS_GROUP).exists() else "user"
