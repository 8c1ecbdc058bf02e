"""A campaign's results (/campaigns/<session>/…): agreement, disagreements and adjudication,
per-labeler statistics, exports. For curators and the session's reviewers
(`labeling.campaign_access`)."""

from django.urls import path  # noqa: F401  (the helpers add their views here)

app_name = "campaign"

urlpatterns: list = []
