"""The Content-Security-Policy breaks nothing: Chromium reports no violation on the pages of
every role (the explorer with its HTMX swaps, the review app, the console, campaign pages and
the Django admin), and htmx still swaps (issue 14)."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.factories import (
    assign_traces,
    make_answer,
    make_assignment,
    make_chat_trace,
    make_review_session,
)
from traces.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)


def watch_violations(page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    return found


def test_no_page_violates_the_policy(page, login, curator, labeler):
    violations = watch_violations(page)
    trace = make_chat_trace()
    assign_traces(labeler, trace)
    session = make_review_session(items=2, labelers=[labeler], spans=2)
    make_answer(make_assignment(session.items.first(), labeler), session.schemas.get())
    admin = User.objects.create_superuser("admin", "admin@example.com", PASSWORD)

    login(labeler)
    page.goto(f"/traces/{trace.trace_id}/")
    # An HTMX swap: selecting a span replaces the panel in place.
    page.locator(".span-tree a.sp", has_text="retrieve_docs").click()
    expect(page.locator("#span-title")).to_have_text("retrieve_docs")
    page.goto(f"/experiments/{trace.experiment_id}/")
    page.goto("/review/")
    page.goto(f"/review/{session.pk}/")
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()

    login(curator)
    for path in (
        "/console/",
        f"/console/sessions/{session.pk}/",
        "/experiments/",
        f"/campaigns/{session.pk}/agreement/",
        f"/campaigns/{session.pk}/exports/",
    ):
        response = page.goto(path)
        assert response.status < 400, path
    # The session dashboard still refreshes itself (console.js, every 5 s).
    dashboard = f"/console/sessions/{session.pk}/"
    page.goto(dashboard)
    with page.expect_request(
        lambda request: request.url.endswith(dashboard) and request.headers.get("hx-request"),
        timeout=9_000,
    ):
        pass
    page.get_by_role("button", name="Sign out").click()

    login(admin)
    label = Assessment.objects.first()
    for path in (
        "/admin/",
        "/admin/traces/assessment/",
        f"/admin/traces/assessment/{label.pk}/change/",
        f"/admin/traces/trace/{trace.pk}/change/",
        "/admin/axes/accessattempt/",
        "/admin/auth/user/add/",
    ):
        response = page.goto(path)
        assert response.status == 200, path
    assert violations == []
