"""`manage.py seed_demo [--if-empty] [--seed N] [--reset]`: demo experiments and logins."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from traces.demo import demo_experiment_names, ensure_demo_users, seed_experiments
from traces.demo.builder import DEFAULT_SEED
from traces.models import Experiment


class Command(BaseCommand):
    help = (
        "Create realistic demo experiments (a docs QA bot, a travel-booking agent, support "
        "chats) with judged traces, plus the demo logins, and print the logins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load the demo experiments only when the database has no experiment at all.",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=f"Random seed; the same seed gives the same data (default {DEFAULT_SEED}).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo experiments (and everything in them) and create them again.",
        )

    def handle(self, *args, if_empty: bool, seed: int, reset: bool, **options) -> None:
        started = time.monotonic()
        if if_empty and Experiment.objects.exists():
            self.stdout.write(
                "The database already has experiments: demo data not loaded "
                "(run `manage.py seed_demo` to add the demo experiments)."
            )
        else:
            if reset:
                from labeling.demo import delete_campaign

                delete_campaign()
            for stats in seed_experiments(seed=seed, reset=reset):
                if stats.skipped:
                    self.stdout.write(
                        f"  {stats.experiment}: already there, left as it is "
                        "(--reset to recreate it)"
                    )
                else:
                    self.stdout.write(
                        f"  {stats.experiment}: {stats.traces} traces, {stats.spans} spans, "
                        f"{stats.assessments} assessments"
                    )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data ready ({', '.join(demo_experiment_names())}) "
                    f"in {time.monotonic() - started:.1f} s."
                )
            )
        logins = ensure_demo_users()
        # The labeling campaign needs the demo experiments and labelers; it lives with the
        # labeling app, which builds on traces (not the other way round).
        from labeling.demo import seed_campaign

        campaign = seed_campaign(seed=seed)
        if campaign is not None:
            self.stdout.write(
                f"  Labeling campaign: {campaign.name!r}, {campaign.items.count()} items, "
                f"{campaign.labels_per_item} labels per item"
            )
        width = max(len(login.username) for login in logins)
        pwidth = max(len(login.password) for login in logins)
        self.stdout.write("\nDemo logins:")
        self.stdout.write(f"  {'user'.ljust(width)}  {'password'.ljust(pwidth)}  role")
        for login in logins:
            self.stdout.write(
                f"  {login.username.ljust(width)}  {login.password.ljust(pwidth)}  {login.role}"
            )
