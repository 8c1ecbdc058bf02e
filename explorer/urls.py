from django.urls import path

from explorer import views

app_name = "explorer"

urlpatterns = [
    path("experiments/", views.experiment_list, name="experiments"),
    path("experiments/<int:experiment_id>/", views.trace_list, name="trace_list"),
    path("experiments/<int:experiment_id>/count/", views.trace_count, name="trace_count"),
    path("traces/<str:trace_id>/", views.trace_detail, name="trace"),
    path("traces/<str:trace_id>/labels/", views.label_create, name="label_create"),
    path(
        "traces/<str:trace_id>/labels/<str:assessment_id>/edit/",
        views.label_edit,
        name="label_edit",
    ),
    path(
        "traces/<str:trace_id>/labels/<str:assessment_id>/delete/",
        views.label_delete,
        name="label_delete",
    ),
    path(
        "traces/<str:trace_id>/labels/<str:assessment_id>/history/",
        views.label_history,
        name="label_history",
    ),
]
