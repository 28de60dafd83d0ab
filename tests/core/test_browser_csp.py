"""Real browser under the Content-Security-Policy: the main pages load without a CSP violation,
Alpine-driven controls still work (account menu, filters), the account menu leads to the password
change, and the 404 page sits in the layout. Screenshots at 1440 wide go to SHOAL_DATA_DIR."""

import os

import pytest

from shoal.customers import services as customer_services
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_DATA_DIR", "/tmp")


def _session(browser, live_server, username, locale):
    context = browser.new_context(locale=locale, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text
            or msg.type == "error" and "Refused" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    browser_login(page, live_server.url, username)
    return page, problems


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_main_pages_work_under_the_csp(live_server, browser, roles, language):
    boss = make_user(f"csp_{language}", roles["admin"], masking_policy="none", language=language)
    customer = customer_services.customer_create(actor=None, data={"name": "CSP Customer",
                                                                    "mobile": "13800138001"})
    page, problems = _session(browser, live_server, boss.username, "zh-CN" if language == "zh-hans" else "en-US")
    zh = language == "zh-hans"

    pages = ["/", "/customers/customer/", f"/customers/customer/{customer.pk}/detail/", "/query/",
             "/system/parameters/", "/accounts/user/", f"/accounts/user/{boss.pk}/change/",
             f"/accounts/user/{boss.pk}/reset-password/", "/system/my-tokens/", "/password_change/",
             "/core/operationlog/", "/no/such/page/"]
    for path in pages:
        response = page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert response.status == (404 if path.startswith("/no/") else 200), path
        name = path.strip("/").replace("/", "-") or "workbench"
        page.screenshot(path=os.path.join(SHOTS, f"sys-{language}-{name}.png"), full_page=False)
    assert not problems, problems

    # the 404 page: in the layout, translated, a way back to the workbench
    page.goto(live_server.url + "/no/such/page/")
    assert page.locator("#error-page").is_visible()
    assert ("页面不存在" if zh else "Page not found") in page.inner_text("#error-page")
    page.click("#error-home")
    page.wait_for_url(live_server.url + "/")

    # Alpine works: the account menu opens and leads to the password change
    change = page.locator("a[href='/password_change/']")
    assert not change.is_visible()
    page.click("text=" + boss.get_full_name() if boss.get_full_name() else f"text={boss.username}")
    change.wait_for(state="visible")
    assert change.inner_text().strip() == ("修改密码" if zh else "Change password")
    change.click()
    page.wait_for_url(live_server.url + "/password_change/")

    # the filter panel of the customer list opens (Alpine) and its controls are translated
    page.goto(live_server.url + "/customers/customer/")
    page.click("text=" + ("筛选" if zh else "Filters"))
    page.wait_for_selector("text=" + ("应用筛选" if zh else "Apply Filters"))
    page.screenshot(path=os.path.join(SHOTS, f"sys-{language}-filters.png"))
    assert not problems, problems
