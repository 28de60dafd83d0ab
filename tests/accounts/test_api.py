"""Accounts API: users in several departments and roles, application keys."""

import json

import pytest

from shoal.accounts import services
from shoal.accounts.models import Application


@pytest.mark.django_db
def test_user_in_several_departments_and_roles(client, personas, bearer, roles):
    d1 = services.department_create(actor=None, name="D1")
    d2 = services.department_create(actor=None, name="D2")
    response = client.post("/api/v1/users", data=json.dumps({
        "username": "multi2", "name": "多部门", "department_ids": [d1.pk, d2.pk],
        "role_ids": [roles["manager"].pk, roles["salesperson"].pk], "masking_policy": "except_groups"}),
        content_type="application/json", **bearer(personas["admin"]))
    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted(body["department_ids"]) == sorted([d1.pk, d2.pk])
    assert body["must_change_password"] is True and body["masking_policy"] == "except_groups"
    # the account is unique, whatever the case
    again = client.post("/api/v1/users", data=json.dumps({"username": "MULTI2"}),
                        content_type="application/json", **bearer(personas["admin"]))
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"


@pytest.mark.django_db
def test_application_key_is_shown_once_and_stored_hashed(client, personas, bearer):
    response = client.post("/api/v1/applications", data=json.dumps({"name": "ERP"}),
                           content_type="application/json", **bearer(personas["admin"]))
    key = response.json()["key"]
    app = Application.objects.get(name="ERP")
    assert key not in (app.key_hash, app.key_prefix) and app.key_hash != key
    listed = client.get("/api/v1/applications", **bearer(personas["admin"])).content.decode()
    assert key not in listed
    assert client.get("/api/v1/application", HTTP_X_APP_KEY=key).status_code == 200
    # a disabled application's key stops working
    client.patch(f"/api/v1/applications/{app.pk}", data=json.dumps({"enabled": False}),
                 content_type="application/json", **bearer(personas["admin"]))
    assert client.get("/api/v1/application", HTTP_X_APP_KEY=key).status_code == 401
