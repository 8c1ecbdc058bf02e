"""A campaign's results (/campaigns/<session>/…): agreement, disagreements and adjudication,
per-labeler statistics, exports. For curators and the session's reviewers
(`labeling.campaign_access`)."""

from django.urls import path

from labeling import adjudication_views, agreement_views, export_views

app_name = "campaign"

urlpatterns: list = [
    path("<int:pk>/agreement/", agreement_views.agreement, name="agreement"),
    path("<int:pk>/disagreements/", adjudication_views.disagreements, name="disagreements"),
    path(
        "<int:pk>/disagreements/summary/",
        adjudication_views.disagreement_summary,
        name="disagreement_summary",
    ),
    path("<int:pk>/items/<int:item_pk>/settle/", adjudication_views.settle, name="settle"),
    path(
        "<int:pk>/accept-unanimous/", adjudication_views.accept_unanimous, name="accept_unanimous"
    ),
    path("<int:pk>/exports/", export_views.exports_page, name="exports"),
    path("<int:pk>/export.csv", export_views.export_csv, name="export_csv"),
    path("<int:pk>/export.jsonl", export_views.export_jsonl, name="export_jsonl"),
    path("<int:pk>/eval-dataset.jsonl", export_views.eval_dataset, name="eval_dataset"),
    path("<int:pk>/labelers/", agreement_views.labelers, name="labelers"),
]
