"""Real HTTP against a live server (pytest-django ``live_server``): what integrators and browsers see.

Django's test client skips CSRF and never crosses a socket; these fixtures do neither."""

import httpx
import pytest

from shoal.accounts.models import ApiToken


@pytest.fixture
def http(live_server, transactional_db):
    """An httpx client bound to the live server (no cookies shared between tests)."""
    with httpx.Client(base_url=live_server.url, timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture
def raw_token():
    """A new personal API token of ``user`` (the raw value for ``Authorization: Bearer``)."""

    def issue(user):
        return ApiToken.issue(user)[1]

    return issue


@pytest.fixture
def session_http(live_server, transactional_db):
    """Log ``user`` in through the real login form; returns an httpx client carrying the session
    cookie and a ``csrf`` attribute holding the CSRF token for ``X-CSRFToken``."""
    clients = []

    def login(username, password="secret-pass-1"):
        client = httpx.Client(base_url=live_server.url, timeout=30, follow_redirects=False)
        clients.append(client)
        page = client.get("/login/")
        token = client.cookies.get("csrftoken")
        resp = client.post("/login/", data={"username": username, "password": password,
                                             "csrfmiddlewaretoken": token},
                           headers={"Referer": live_server.url + "/login/"})
        assert resp.status_code == 302, (page.status_code, resp.status_code, resp.text[:300])
        client.csrf = client.cookies.get("csrftoken")
        return client

    yield login
    for c in clients:
        c.close()
