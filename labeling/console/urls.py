"""Curator console (/console/): labeling schemas, sessions, adding traces, people."""

from django.urls import path

from labeling.console import views

app_name = "console"

urlpatterns = [
    path("", views.index, name="index"),
    # Schemas, per experiment
    path("schemas/", views.schemas, name="schemas"),
    path("experiments/<int:experiment_pk>/schemas/", views.schema_list, name="schema_list"),
    path("experiments/<int:experiment_pk>/schemas/new/", views.schema_create, name="schema_create"),
    path(
        "experiments/<int:experiment_pk>/schemas/<int:pk>/",
        views.schema_detail,
        name="schema_detail",
    ),
    path(
        "experiments/<int:experiment_pk>/schemas/<int:pk>/edit/",
        views.schema_edit,
        name="schema_edit",
    ),
    path(
        "experiments/<int:experiment_pk>/schemas/<int:pk>/archive/",
        views.schema_archive,
        name="schema_archive",
    ),
    path(
        "experiments/<int:experiment_pk>/schemas/<int:pk>/delete/",
        views.schema_delete,
        name="schema_delete",
    ),
    # Sessions
    path("sessions/new/", views.session_new, name="session_new"),
    path(
        "experiments/<int:experiment_pk>/sessions/new/",
        views.session_create,
        name="session_create",
    ),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="session_edit"),
    path("sessions/<int:pk>/add-traces/", views.session_add_traces, name="session_add_traces"),
    path("sessions/<int:pk>/items/<int:item_pk>/remove/", views.item_remove, name="item_remove"),
    # "Add to session…" from a trace list: choose or create the session there.
    path(
        "experiments/<int:experiment_pk>/add-to-session/",
        views.add_to_session,
        name="add_to_session",
    ),
    # People
    path("people/", views.people, name="people"),
    path("people/new/", views.person_create, name="person_create"),
    path("people/<int:user_pk>/password/", views.person_password, name="person_password"),
    path("people/<int:user_pk>/active/", views.person_active, name="person_active"),
]
