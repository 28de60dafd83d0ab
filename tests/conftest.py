import os

import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from shoal.accounts import services
from shoal.accounts.demo import ensure_default_roles
from shoal.accounts.models import ApiToken

PERSONAS = ["admin", "manager", "salesperson", "norole"]


class CsrfClient(Client):
    """Django's test client with CSRF enforced, as in production.

    It sends the CSRF token on unsafe requests the way Shoal's pages do (the ``csrftoken`` cookie
    echoed in ``X-CSRFToken``), so a view that loses its CSRF protection or a write that needs the
    token from somewhere else still fails here. Requests that carry a bearer token or an app key get
    no CSRF token: those must work without one. For a write without the token, use
    ``Client(enforce_csrf_checks=True)``."""

    UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, enforce_csrf_checks=True, **kwargs)

    def request(self, **request):
        explicit = "HTTP_AUTHORIZATION" in request or "HTTP_X_APP_KEY" in request
        if request.get("REQUEST_METHOD") in self.UNSAFE and not explicit:
            morsel = self.cookies.get(settings.CSRF_COOKIE_NAME)
            if morsel is None or not morsel.value:
                self.cookies[settings.CSRF_COOKIE_NAME] = _get_new_csrf_string()
                morsel = self.cookies[settings.CSRF_COOKIE_NAME]
            request.setdefault("HTTP_X_CSRFTOKEN", morsel.value)
        return super().request(**request)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (what one test's database put there means nothing to the next)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def client():
    """The test client, CSRF enforced (see ``CsrfClient``)."""
    return CsrfClient()


@pytest.fixture
def roles(db):
    return ensure_default_roles()


def make_user(username, role=None, roles=None, **kw):
    role_ids = [role.pk] if role is not None else []
    kw.setdefault("must_change_password", False)
    kw.setdefault("password", "secret-pass-1")
    return services.user_create(actor=None, username=username, role_ids=role_ids, **kw)


@pytest.fixture
def personas(roles):
    """admin, manager, salesperson (by role) and a user with no role."""
    return {
        "admin": make_user("p_admin", roles["admin"]),
        "manager": make_user("p_manager", roles["manager"]),
        "salesperson": make_user("p_sales", roles["salesperson"]),
        "norole": make_user("p_norole"),
    }


@pytest.fixture
def bearer():
    def header(user):
        _, raw = ApiToken.issue(user)
        return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    return header


@pytest.fixture
def superuser(db):
    return make_user("root", is_superuser=True)


# -- real browser (Playwright driving Debian's Chromium, headless) -----------------------------------
CHROMIUM = os.environ.get("SHOAL_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]


@pytest.fixture
def browser():
    """A headless Chromium; tests marked ``browser`` open their own contexts on it."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def browser_login(page, base_url: str, username: str, password: str = "secret-pass-1") -> None:
    """Log ``username`` in through the real login form and wait for the workbench."""
    page.goto(base_url + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base_url + "/")


@pytest.fixture
def browser_page(browser):
    """A page in a fresh zh-CN context of ``browser``."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
