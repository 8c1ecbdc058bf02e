import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_and_out(page, login, curator):
    login(curator)
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welcome")
    page.keyboard.press("Tab")  # skip link first: keyboard users can jump to content
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def test_wrong_password_shows_error(page, curator):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()
