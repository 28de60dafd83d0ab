"""The processor API over real HTTP with a Bearer token: the exact shapes integrators rely on."""

import pytest

from shoal.automation.models import Processor
from tests.conftest import make_user

BUILTINS = ["add_tag", "remove_tag", "group", "assign", "sms", "email", "task", "notify"]


@pytest.fixture
def admin(transactional_db, roles):
    return make_user("proc_admin", roles["admin"])


def test_processors_are_listed_created_changed_and_deleted(http, admin, raw_token):
    auth = {"Authorization": f"Bearer {raw_token(admin)}"}
    listed = http.get("/api/v1/processors", headers=auth)
    assert listed.status_code == 200
    rows = listed.json()
    assert [r["code"] for r in rows if r["builtin"]] == BUILTINS and all(r["id"] is None for r in rows)
    assert rows[0]["params_schema"]["properties"]["tag_id"]["type"] == "integer"

    body = {"name": "外部发邮件系统", "url": "https://mail.example.com/send", "method": "POST",
            "params": {"k": "${customer.id}"}, "body": {"to": "${email}"}, "headers": {"X-Key": "1"}, "timeout": 10}
    created = http.post("/api/v1/processors", json=body, headers=auth)
    assert created.status_code == 201, created.text
    out = created.json()
    assert set(out) == {"id", "code", "secret"} and out["secret"].startswith("whsec_") and out["code"].startswith("http_")
    assert Processor.objects.get(pk=out["id"]).secret == out["secret"]

    listed = http.get("/api/v1/processors", headers=auth).json()
    mine = next(r for r in listed if r["id"] == out["id"])
    assert mine["name"] == "外部发邮件系统" and mine["body"] == {"to": "${email}"} and mine["builtin"] is False
    assert out["secret"] not in http.get("/api/v1/processors", headers=auth).text
    assert out["secret"] not in http.get(f"/api/v1/processors/{out['id']}", headers=auth).text

    patched = http.patch(f"/api/v1/processors/{out['id']}", json={"method": "GET", "body": None, "timeout": 3},
                         headers=auth)
    assert patched.status_code == 200 and patched.json()["method"] == "GET" and patched.json()["body"] is None
    renewed = http.post(f"/api/v1/processors/{out['id']}/secret", headers=auth).json()["secret"]
    assert renewed.startswith("whsec_") and renewed != out["secret"]

    named = http.post("/api/v1/processors", json={**body, "code": "mail_out"}, headers=auth)
    assert named.status_code == 201 and named.json()["code"] == "mail_out"
    duplicate = http.post("/api/v1/processors", json={**body, "code": "mail_out"}, headers=auth)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "duplicate"

    assert http.delete(f"/api/v1/processors/{out['id']}", headers=auth).status_code == 204
    assert http.get(f"/api/v1/processors/{out['id']}", headers=auth).status_code == 404


@pytest.mark.parametrize("body, code", [
    ({"name": "x", "url": "http://127.0.0.1:8000/"}, "outbound_blocked"),
    ({"name": "x", "url": "http://[::ffff:10.0.0.1]/"}, "outbound_blocked"),
    ({"name": "x", "url": "ftp://example.com/"}, "invalid_url"),
    ({"name": "x", "url": "https://example.com/", "method": "TRACE"}, "validation_error"),
    ({"name": "x", "url": "https://example.com/", "timeout": 0}, "validation_error"),
    ({"name": "x", "url": "https://example.com/", "headers": {"webhook-id": "forged"}}, "invalid"),
    ({"name": "x", "url": "https://example.com/", "code": "add_tag"}, "duplicate"),
    ({"name": "x", "url": "https://example.com/", "secret": "whsec_mine"}, "validation_error"),
])
def test_bad_processors_are_refused_with_the_error_shape(http, admin, raw_token, body, code):
    response = http.post("/api/v1/processors", json=body, headers={"Authorization": f"Bearer {raw_token(admin)}"})
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == code


def test_a_salesperson_may_not_register_processors(http, roles, raw_token):
    seller = make_user("proc_seller", roles["salesperson"])
    response = http.post("/api/v1/processors", json={"name": "x", "url": "https://example.com/"},
                         headers={"Authorization": f"Bearer {raw_token(seller)}"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert not Processor.objects.exists()


def test_message_templates_over_http(http, admin, raw_token):
    auth = {"Authorization": f"Bearer {raw_token(admin)}"}
    created = http.post("/api/v1/message-templates", headers=auth, json={
        "channel": "sms", "name": "验证码", "code": "0001", "content": "验证码${code}"})
    assert created.status_code == 201 and created.json()["code"] == "0001"
    no_subject = http.post("/api/v1/message-templates", headers=auth, json={
        "channel": "email", "name": "信", "code": "e1", "content": "x"})
    assert no_subject.status_code == 400
    assert [t["code"] for t in http.get("/api/v1/message-templates?channel=sms", headers=auth).json()] == ["0001"]
    tid = created.json()["id"]
    assert http.patch(f"/api/v1/message-templates/{tid}", headers=auth, json={"enabled": False}).json()["enabled"] is False
    assert http.delete(f"/api/v1/message-templates/{tid}", headers=auth).status_code == 204
