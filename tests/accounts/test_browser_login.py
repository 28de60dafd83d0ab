"""Real browser: Playwright driving Debian's Chromium (headless) against a live Shoal server."""

import os

import pytest

from shoal.accounts import services

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_login_change_initial_password_and_see_workbench(live_server, browser_page):
    services.user_create(actor=None, username="newcomer", name="新同事")
    page = browser_page
    page.goto(live_server.url + "/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password]", "123456")
    page.click("#login-form button[type=submit]")

    page.wait_for_selector("#forced-password-change")
    assert "/password_change/" in page.url
    page.fill("input[name=old_password]", "123456")
    page.fill("input[name=new_password1]", "Sh0al-new-pass")
    page.fill("input[name=new_password2]", "Sh0al-new-pass")
    page.click("button[type=submit]:has-text('修改密码'), button[type=submit]:has-text('Change password')")

    page.wait_for_selector("#workbench")
    assert "新同事" in page.inner_text("#workbench")
    page.screenshot(path=os.path.join(os.environ.get("SHOAL_DATA_DIR", "/tmp"), "workbench.png"), full_page=True)

    # the new password is the one that works now
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="newcomer")
    assert user.check_password("Sh0al-new-pass") and not user.must_change_password
