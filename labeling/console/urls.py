"""Curator console (/console/): labeling schemas, sessions, adding traces, people."""

from django.urls import path

from labeling.console import (
    add_traces_views,
    people_views,
    schema_views,
    session_views,
    views,
)

app_name = "console"

urlpatterns = [
    path("", views.index, name="index"),
    # Schemas, per experiment
    path("schemas/", schema_views.schemas, name="schemas"),
    path("experiments/<int:experiment_pk>/schemas/", schema_views.schema_list, name="schema_list"),
    path(
        "experiments/<int:experiment_pk>/schemas/new/",
        schema_views.schema_create,
        name="schema_create",
    ),
    path(
        "experiments/<int:experiment_pk>/schemas/<int:pk>/",
        schema_views.schema_detail,
        name="schema_detail",
    ),
    path(
        "experiments/<int:experiment_pk>/schemas/<int:pk>/edit/",
        schema_views.schema_edit,
        name="schema_edit",
    ),
    path(
        "experiments/<int:experiment_pk>/schemas/<int:pk>/archive/",
        schema_views.schema_archive,
        name="schema_archive",
    ),
    path(
        "experiments/<int:experiment_pk>/schemas/<int:pk>/delete/",
        schema_views.schema_delete,
        name="schema_delete",
    ),
    # Sessions
    path("sessions/new/", session_views.session_new, name="session_new"),
    path(
        "experiments/<int:experiment_pk>/sessions/new/",
        session_views.session_create,
        name="session_create",
    ),
    path("sessions/<int:pk>/", session_views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/edit/", session_views.session_edit, name="session_edit"),
    path(
        "sessions/<int:pk>/add-traces/",
        add_traces_views.session_add_traces,
        name="session_add_traces",
    ),
    path(
        "sessions/<int:pk>/items/<int:item_pk>/remove/",
        session_views.item_remove,
        name="item_remove",
    ),
    # "Add to session…" from a trace list: choose or create the session there.
    path(
        "experiments/<int:experiment_pk>/add-to-session/",
        add_traces_views.add_to_session,
        name="add_to_session",
    ),
    # People
    path("people/", people_views.people, name="people"),
    path("people/new/", people_views.person_create, name="person_create"),
    path("people/<int:user_pk>/password/", people_views.person_password, name="person_password"),
    path("people/<int:user_pk>/active/", people_views.person_active, name="person_active"),
]
