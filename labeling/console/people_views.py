"""Curator console: labeler accounts (/console/people/…).

The list of labelers (with their sessions and how much they labeled) and of curators, creating
a labeler, setting a labeler's password, deactivating and reactivating one. Curators manage
labelers only, never staff or superusers (`labeling.console.views.get_labeler_for_curator`).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services as accounts_services
from accounts.access import curator_required
from accounts.types import HtmxHttpRequest
from labeling.console.forms import LabelerCreateForm, LabelerPasswordForm
from labeling.console.views import _page, _query_without, get_labeler_for_curator
from labeling.models import Assignment, LabelingSession

PEOPLE_PER_PAGE = 100


@require_GET
@curator_required
def people(request: HtmxHttpRequest) -> HttpResponse:
    """Labeler accounts with their sessions."""
    labelers = (
        User.objects.filter(groups__name=accounts_services.LABELERS_GROUP, is_staff=False)
        .prefetch_related(
            Prefetch(
                "labeling_sessions",
                queryset=LabelingSession.objects.only("pk", "name", "status").order_by(
                    "-created_at"
                ),
            )
        )
        .order_by("username")
    )
    curators = User.objects.filter(is_staff=True, is_active=True).order_by("username")
    page = _page(request, labelers, PEOPLE_PER_PAGE)
    people_on_page = list(page.object_list)
    done = Assignment.objects.filter(labeler__in=people_on_page).done_by_labeler()
    for person in people_on_page:
        person.n_done = done.get(person.pk, 0)
    page.object_list = people_on_page
    context = {
        "page": page,
        "curators": list(curators.only("pk", "username", "first_name", "last_name")),
        "page_query": _query_without(request, "page"),
    }
    return render(request, "labeling/console/people.html", context)


@require_http_methods(["GET", "POST"])
@curator_required
def person_create(request: HtmxHttpRequest) -> HttpResponse:
    form = LabelerCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = accounts_services.create_labeler(
            username=data["username"],
            password=data["password1"],
            email=data.get("email", ""),
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
        )
        messages.success(
            request,
            f"Labeler “{user.username}” created. Give them their password; they can sign in now.",
        )
        return redirect("console:people")
    return render(request, "labeling/console/person_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@curator_required
def person_password(request: HtmxHttpRequest, user_pk: int) -> HttpResponse:
    person = get_labeler_for_curator(request, user_pk)
    form = LabelerPasswordForm(person, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(
            request,
            f"New password set for “{person.username}”. Their other signed-in sessions ended.",
        )
        return redirect("console:people")
    return render(
        request, "labeling/console/person_password.html", {"form": form, "person": person}
    )


@require_POST
@curator_required
def person_active(request: HtmxHttpRequest, user_pk: int) -> HttpResponse:
    person = get_labeler_for_curator(request, user_pk)
    active = request.POST.get("active") == "1"
    accounts_services.set_labeler_active(user=person, active=active)
    if active:
        messages.success(request, f"“{person.username}” can sign in again.")
    else:
        messages.success(
            request, f"“{person.username}” deactivated: they cannot sign in; their labels stay."
        )
    return redirect("console:people")
