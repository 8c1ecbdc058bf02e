"""A campaign's results (/campaigns/<session>/…): agreement, disagreements and adjudication,
per-labeler statistics, exports. For curators and the session's reviewers
(`labeling.campaign_access`)."""

from django.urls import path

from labeling import agreement_views

app_name = "campaign"

urlpatterns: list = [
    path("<int:pk>/agreement/", agreement_views.agreement, name="agreement"),
    path("<int:pk>/labelers/", agreement_views.labelers, name="labelers"),
]
