"""Session writes are CSRF-checked on pages and on the API; token writes are not asked for it."""

from django.test import Client

from shoal.accounts.models import Department


def test_page_write_without_csrf_token_is_refused_and_changes_nothing(superuser):
    raw = Client(enforce_csrf_checks=True)
    raw.force_login(superuser)
    resp = raw.post("/accounts/department/add/", {"name": "无令牌部门", "order": 0})
    assert resp.status_code == 403
    assert not Department.objects.filter(name="无令牌部门").exists()


def test_page_write_with_the_csrf_token_goes_through(client, superuser):
    client.force_login(superuser)
    resp = client.post("/accounts/department/add/", {"name": "有令牌部门", "order": 0})
    assert resp.status_code == 302, resp.content[:500]
    assert Department.objects.filter(name="有令牌部门").exists()


def test_api_session_write_without_csrf_token_is_refused(superuser):
    raw = Client(enforce_csrf_checks=True)
    raw.force_login(superuser)
    resp = raw.post("/api/v1/departments", {"name": "X"}, content_type="application/json")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "permission_denied"
    assert not Department.objects.filter(name="X").exists()


def test_api_token_write_needs_no_csrf_token(superuser, bearer):
    raw = Client(enforce_csrf_checks=True)
    resp = raw.post("/api/v1/departments", {"name": "Y"}, content_type="application/json", **bearer(superuser))
    assert resp.status_code == 201, resp.content
