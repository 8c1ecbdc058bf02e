"""Pages of the trace store itself: uploading trace files (mounted at /console/import/)."""

from django.urls import path

from traces import import_views

urlpatterns = [
    path("", import_views.import_traces, name="trace-import"),
]
