"""Every way in, over real HTTP against a live server: what integrators and browsers actually send.

Django's test client skips CSRF and never crosses a socket; a token write that a real client could not
make once passed 700 such tests. Here nothing is skipped: the CSRF middleware and ninja's checks run."""

import pytest

from shoal.accounts import services as account_services
from shoal.accounts.models import Application
from shoal.customers.models import Customer
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin(roles):
    return make_user("h_admin", roles["admin"])


@pytest.fixture
def app_key(admin):
    _, raw = account_services.application_create(actor=admin, name="ERP")
    return raw


def _identify(client, headers, mobile="13800138000", **extra):
    return client.post("/api/v1/customers/identify", json={"mobile": mobile, "name": "王芳", **extra},
                       headers=headers)


def _error_code(resp):
    return resp.json()["error"]["code"]


# -- personal token -------------------------------------------------------------------------------
def test_token_reads_and_writes_every_method(http, admin, raw_token):
    headers = {"Authorization": f"Bearer {raw_token(admin)}"}
    assert http.get("/api/v1/me", headers=headers).json()["username"] == "h_admin"

    created = http.post("/api/v1/departments", json={"name": "华东区"}, headers=headers)
    assert created.status_code == 201, created.text
    dept_id = created.json()["id"]
    patched = http.patch(f"/api/v1/departments/{dept_id}", json={"name": "华东大区"}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "华东大区"
    deleted = http.delete(f"/api/v1/departments/{dept_id}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert http.get(f"/api/v1/departments/{dept_id}", headers=headers).status_code == 404


def test_token_business_flows_identify_batch_search_preview(http, admin, raw_token):
    headers = {"Authorization": f"Bearer {raw_token(admin)}"}
    one = _identify(http, headers, mobile="13800138001")
    assert one.status_code == 200, one.text
    assert one.json()["created"] is True

    batch = http.post("/api/v1/customers/identify/batch", headers=headers, json={"customers": [
        {"mobile": "13800138002", "name": "李雷"}, {"email": "hanmeimei@example.com", "name": "韩梅梅"}]})
    assert batch.status_code == 200, batch.text
    assert [r["created"] for r in batch.json()["results"]] == [True, True]

    search = http.post("/api/v1/customers/search", headers=headers,
                       json={"query": {"field": "name", "op": "eq", "value": "李雷"}})
    assert search.status_code == 200, search.text
    assert search.json()["total"] == 1

    preview = http.post("/api/v1/segments/preview", headers=headers,
                        json={"query": {"field": "mobile", "op": "is_not_empty"}})
    assert preview.status_code == 200, preview.text
    assert preview.json()["count"] == 2


def test_token_write_works_beside_a_stale_session_cookie(http, admin, raw_token):
    """A client that once logged in (cookie jar) and now sends a token is judged by the token."""
    http.cookies.set("sessionid", "stale-or-foreign")
    http.cookies.set("csrftoken", "x" * 32)
    resp = _identify(http, {"Authorization": f"Bearer {raw_token(admin)}"})
    assert resp.status_code == 200, resp.text


def test_wrong_token_is_401_even_with_a_logged_in_session(session_http, admin):
    """Explicit credentials win: a bad token never falls back to the browser session."""
    client = session_http("h_admin")
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer sht_not-a-token"})
    assert resp.status_code == 401
    assert _error_code(resp) == "unauthorized"


def test_token_refused_while_password_change_is_pending(http, roles, raw_token):
    """A user who has not yet replaced the initial password cannot use a token either."""
    newcomer = make_user("h_newcomer", roles["admin"], must_change_password=True)
    token = raw_token(newcomer)
    for resp in (http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}),
                 _identify(http, {"Authorization": f"Bearer {token}"})):
        assert resp.status_code == 403, resp.text
        assert _error_code(resp) == "password_change_required"
    assert not Customer.objects.exists()


def test_batch_password_reset_ends_old_tokens(http, admin, raw_token):
    token = raw_token(admin)
    assert http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    account_services.users_reset_password(actor=None, user_ids=[admin.pk])
    for resp in (http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}),
                 _identify(http, {"Authorization": f"Bearer {token}"})):
        assert resp.status_code == 401 and _error_code(resp) == "unauthorized", resp.text
    assert not Customer.objects.exists()


def test_token_refused_once_user_is_disabled(http, admin, raw_token):
    token = raw_token(admin)
    assert http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    account_services.users_set_active(actor=None, user_ids=[admin.pk], active=False)
    for resp in (http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}),
                 _identify(http, {"Authorization": f"Bearer {token}"})):
        assert resp.status_code == 401, resp.text
    assert not Customer.objects.exists()


# -- application key ------------------------------------------------------------------------------
def test_app_key_reads_and_writes(http, app_key):
    headers = {"X-App-Key": app_key}
    who = http.get("/api/v1/application", headers=headers)
    assert who.status_code == 200 and who.json()["name"] == "ERP"
    one = _identify(http, headers)
    assert one.status_code == 200, one.text
    batch = http.post("/api/v1/customers/identify/batch", headers=headers,
                      json={"customers": [{"mobile": "13800138000", "city": "杭州"}]})
    assert batch.status_code == 200, batch.text
    assert batch.json()["results"][0]["created"] is False
    assert batch.json()["results"][0]["changed"] == ["city"]
    assert Customer.objects.get().city == "杭州"


def test_app_key_write_works_beside_a_stale_session_cookie(http, app_key):
    http.cookies.set("sessionid", "stale-or-foreign")
    assert _identify(http, {"X-App-Key": app_key}).status_code == 200


def test_app_key_cannot_use_user_endpoints(http, app_key):
    resp = http.post("/api/v1/departments", json={"name": "X"}, headers={"X-App-Key": app_key})
    assert resp.status_code == 401
    assert _error_code(resp) == "unauthorized"


def test_disabled_application_is_refused(http, app_key, admin):
    app = Application.objects.get(name="ERP")
    account_services.application_update(actor=admin, app=app, data={"enabled": False})
    resp = _identify(http, {"X-App-Key": app_key})
    assert resp.status_code == 401
    assert not Customer.objects.exists()


def test_no_credentials_is_401_for_reads_and_writes(http):
    assert http.get("/api/v1/customers").status_code == 401
    resp = _identify(http, {})
    assert resp.status_code == 401
    assert _error_code(resp) == "unauthorized"


# -- browser session ------------------------------------------------------------------------------
def test_session_reads_without_csrf_but_writes_only_with_it(session_http, admin):
    client = session_http("h_admin")
    assert client.get("/api/v1/me").json()["username"] == "h_admin"

    refused = _identify(client, {})
    assert refused.status_code == 403, refused.text
    assert "CSRF" in refused.json()["error"]["message"]
    assert not Customer.objects.exists()

    accepted = _identify(client, {"X-CSRFToken": client.csrf})
    assert accepted.status_code == 200, accepted.text
    patched = client.patch(f"/api/v1/customers/{accepted.json()['id']}", json={"city": "上海"},
                           headers={"X-CSRFToken": client.csrf})
    assert patched.status_code == 200, patched.text
    assert Customer.objects.get().city == "上海"


def test_session_with_pending_password_change_cannot_call_the_api(session_http, roles):
    make_user("h_new", roles["admin"], must_change_password=True)
    client = session_http("h_new")
    resp = client.get("/api/v1/me")
    assert resp.status_code == 403
    assert _error_code(resp) == "password_change_required"
