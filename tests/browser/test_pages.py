"""Every page kind at 1400 px and at 390 px (issue 15, findings 6 and 7): no sideways scrolling,
and axe-core (vendored in tests/browser/vendor) finds no WCAG 2.1 AA violation.

The pages are those of the demo data (`seed_demo`), seen by a curator, a labeler and a
reviewer. A violation or an overflow anywhere fails the test, with the list of what and where.
"""

from pathlib import Path

import pytest
from django.core.management import call_command

from labeling.models import Item, LabelingSchema, LabelingSession
from tests.factories import make_schema
from traces.models import Experiment

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# WCAG 2.1 A and AA, and axe's best practices (a level-one heading, unique landmarks, …).
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  return result.violations.map(v => v.id + ' (' + v.nodes.length + '): '
    + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""
# What sticks out of the window, outside a box that scrolls on its own.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  return Array.from(document.querySelectorAll('body *')).filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && !el.closest('.table-scroll');
  }).slice(0, 5).map(el => el.tagName.toLowerCase() + '.' + el.className + ' → '
    + Math.round(el.getBoundingClientRect().right) + ' px');
}"""


def check(page, problems: dict, url: str) -> None:
    if url:
        response = page.goto(url)
        assert response is not None and response.status < 500, url
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(RUN_AXE, WCAG) + page.evaluate(OVERFLOW)
    if found:
        problems[url or page.url] = found


def sign_in(browser, live_server, width: int, username: str):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"{username}-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return context, page


def pages_of_every_kind(browser, live_server, width: int) -> dict:
    call_command("seed_demo", verbosity=0)
    experiment = Experiment.objects.get(name="Payments docs assistant")
    session = LabelingSession.objects.get()
    trace = Item.objects.filter(session=session).order_by("position").first().trace
    schema = LabelingSchema.objects.filter(experiment=experiment).order_by("pk").first()
    # A schema nobody answered yet: its page has the Delete button (it was red on red).
    fresh = make_schema(experiment, "fresh_question", "pass_fail")
    problems: dict = {}

    context, page = sign_in(browser, live_server, width, "curator")
    for url in [
        "/",
        "/experiments/",
        f"/experiments/{experiment.pk}/",
        f"/traces/{trace.trace_id}/",
        "/console/",
        "/console/schemas/",
        f"/console/experiments/{experiment.pk}/schemas/",
        f"/console/experiments/{experiment.pk}/schemas/new/",
        f"/console/experiments/{experiment.pk}/schemas/{schema.pk}/",
        f"/console/experiments/{experiment.pk}/schemas/{schema.pk}/edit/",
        f"/console/experiments/{experiment.pk}/schemas/{fresh.pk}/",
        f"/console/sessions/{session.pk}/",
        f"/console/sessions/{session.pk}/edit/",
        f"/console/experiments/{experiment.pk}/sessions/new/",
        f"/console/sessions/{session.pk}/add-traces/",
        "/console/people/",
        "/console/people/new/",
        "/console/import/",
        f"/campaigns/{session.pk}/agreement/",
        f"/campaigns/{session.pk}/disagreements/",
        f"/campaigns/{session.pk}/labelers/",
        f"/campaigns/{session.pk}/exports/",
        f"/campaigns/{session.pk}/accept-unanimous/",
        "/accounts/profile/",
        "/no-such-page/",
    ]:
        check(page, problems, url)
    # The span tree of a trace, a span picked.
    page.goto(f"/traces/{trace.trace_id}/")
    page.locator("a.sp").nth(1).click()
    page.wait_for_timeout(300)
    check(page, problems, "")
    context.close()

    context, page = sign_in(browser, live_server, width, "alice")
    for url in ["/", "/review/", f"/review/{session.pk}/", f"/experiments/{experiment.pk}/"]:
        check(page, problems, url)
    page.goto(f"/review/{session.pk}/")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_selector("[data-review-item][data-ready]")
    check(page, problems, "")
    page.get_by_role("link", name="Full span tree ↗").click()
    check(page, problems, page.url.replace(live_server.url, "").replace("/spans/", "/spans/"))
    check(page, problems, f"/review/{session.pk}/done/")
    check(page, problems, "/console/")  # 403
    context.close()
    return problems


@pytest.mark.parametrize("width", [1400, 390])
def test_every_page_kind_is_accessible_and_fits_the_window(browser, live_server, width):
    problems = pages_of_every_kind(browser, live_server, width)
    assert problems == {}


def test_the_check_fails_when_a_violation_is_introduced(browser, live_server):
    """The check itself: an image without alt text, and a box wider than the window."""
    call_command("seed_demo", verbosity=0)
    context, page = sign_in(browser, live_server, 390, "alice")
    page.evaluate(
        """() => {
      const img = document.createElement('img'); img.src = '/static/img/favicon.svg';
      document.querySelector('main').append(img);
      const wide = document.createElement('div'); wide.className = 'too-wide';
      wide.textContent = 'x'; wide.setAttribute('hidden', '');
      wide.removeAttribute('hidden');
      wide.animate([{width: '900px'}, {width: '900px'}], {duration: 100000, fill: 'forwards'});
      document.querySelector('main').append(wide);
    }"""
    )
    problems: dict = {}
    check(page, problems, "")
    context.close()
    found = " ".join(next(iter(problems.values())))
    assert "image-alt" in found
    assert "too-wide" in found
