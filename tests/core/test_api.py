"""The API's frame (core.api, core.errors, core.auth): health check, OpenAPI, the error shape, tokens and
sessions."""

import json

import pytest

from shoal.accounts.models import Department


@pytest.mark.django_db
def test_healthz_reports_database_and_version(client):
    from django.db import connection

    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"] == ("postgresql" if connection.vendor == "postgresql" else "sqlite")
    assert body["version"]


@pytest.mark.django_db
def test_openapi_and_docs_are_served(client):
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/users" in schema["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content  # served from our static files


@pytest.mark.django_db
def test_unauthenticated_api_call_has_the_error_shape(client):
    body = client.get("/api/v1/users").json()
    assert body["error"]["code"] == "unauthorized"
    assert set(body["error"]) == {"code", "message", "detail"}


@pytest.mark.django_db
def test_bad_token_is_refused(client):
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    "not json at all", "[]", '{"name": 5}', '{"name": ""}', '{"name": "x", "parent_id": "abc"}',
    '{"name": "x", "parent_id": 999999}', '{"name": "x", "order": -1}',
])
def test_bad_input_gets_a_4xx_with_a_reason_never_a_500(client, personas, bearer, body):
    response = client.post("/api/v1/departments", data=body, content_type="application/json",
                           **bearer(personas["admin"]))
    assert 400 <= response.status_code < 500, response.content
    error = response.json()["error"]
    assert error["code"] and error["message"]


@pytest.mark.django_db
def test_unknown_url_and_wrong_method_keep_the_error_shape(client, personas, bearer):
    response = client.get("/api/v1/nope", **bearer(personas["admin"]))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.put("/api/v1/departments", **bearer(personas["admin"]))
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_validation_error_names_the_field(client, personas, bearer):
    response = client.post("/api/v1/roles", data=json.dumps({"name": "x", "code": "bad code!"}),
                           content_type="application/json", **bearer(personas["admin"]))
    assert response.status_code == 400
    fields = [e["field"] for e in response.json()["error"]["detail"]["errors"]]
    assert "code" in fields


@pytest.mark.django_db
def test_session_auth_works_for_the_api_with_csrf_on_writes(personas):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["admin"])
    assert client.get("/api/v1/me").json()["username"] == "p_admin"
    response = client.post("/api/v1/departments", data=json.dumps({"name": "X"}), content_type="application/json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"  # no CSRF token
    assert not Department.objects.filter(name="X").exists()
