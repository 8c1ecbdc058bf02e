"""Who may see a campaign's results: curators, and the users made reviewers of that session.

Agreement figures, disagreements, adjudication and exports are the campaign lead's tools.
Labelers never see them for a session they label (not even their own figures compared with
others'), unless a curator also made them a reviewer of it.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.types import HtmxHttpRequest
from labeling.models import LabelingSession
from traces.models import LifecycleStage


def can_lead(user, session: LabelingSession) -> bool:
    """Curators lead every session; reviewers lead the sessions they were given."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_staff:
        return True
    return session.reviewers.filter(pk=user.pk).exists()


def get_session_for_lead(request: HtmxHttpRequest, pk: int) -> LabelingSession:
    """The session, for a curator or one of its reviewers; 404 for everyone else, and when it
    does not exist (or its experiment was deleted): which sessions exist does not leak."""
    session = get_object_or_404(
        LabelingSession.objects.select_related("experiment"),
        pk=pk,
        experiment__lifecycle_stage=LifecycleStage.ACTIVE,
    )
    if not can_lead(request.user, session):
        raise Http404("No such session.")
    return session
