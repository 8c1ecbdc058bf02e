"""`manage.py recount_results [--session ID …]`: count the results' tallies of sessions again
from their answers (`labeling.tallies.rebuild_session`).

The app keeps them as answers change; this is for data changed behind its back (rows deleted in
bulk from a database shell, a trace or an account deleted with its labels, a restore).
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from labeling.models import Answer, LabelingSession
from labeling.tallies import rebuild_session


class Command(BaseCommand):
    help = "Count the results' tallies (agreement, disagreements) of sessions again."

    def add_arguments(self, parser):
        parser.add_argument("--session", type=int, action="append", help="a session id")

    def handle(self, *args, session=None, **options):
        sessions = LabelingSession.objects.order_by("pk")
        if session:
            sessions = sessions.filter(pk__in=session)
        else:
            answered = Answer.objects.values("assignment__item__session_id")
            sessions = sessions.filter(pk__in=answered)
        for found in sessions:
            with transaction.atomic():
                locked = LabelingSession.objects.select_for_update().get(pk=found.pk)
                rebuild_session(locked)
            self.stdout.write(f"Counted session {found.pk} ({found.name}).")
