"""A campaign's results (/campaigns/<session>/…): agreement, disagreements and adjudication,
per-labeler statistics, exports. For curators and the session's reviewers
(`labeling.campaign.access`)."""

from django.urls import path

from labeling.campaign import views

app_name = "campaign"

urlpatterns: list = [
    path("<int:pk>/progress/", views.progress, name="progress"),
    path("<int:pk>/agreement/", views.agreement, name="agreement"),
    path("<int:pk>/disagreements/", views.disagreements, name="disagreements"),
    path(
        "<int:pk>/disagreements/summary/",
        views.disagreement_summary,
        name="disagreement_summary",
    ),
    path("<int:pk>/items/<int:item_pk>/settle/", views.settle, name="settle"),
    path("<int:pk>/accept-unanimous/", views.accept_unanimous, name="accept_unanimous"),
    path("<int:pk>/jobs/<int:job_pk>/", views.job, name="job"),
    path("<int:pk>/exports/", views.exports_page, name="exports"),
    path("<int:pk>/exports/sync-dataset", views.sync_dataset, name="sync_dataset"),
    path("<int:pk>/export.csv", views.export_csv, name="export_csv"),
    path("<int:pk>/export.jsonl", views.export_jsonl, name="export_jsonl"),
    path("<int:pk>/eval-dataset.jsonl", views.eval_dataset, name="eval_dataset"),
    path("<int:pk>/labelers/", views.labelers, name="labelers"),
]
