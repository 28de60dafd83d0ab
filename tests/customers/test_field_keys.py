"""Custom field keys named like Django lookups (issue 8 §4): refused when a field is created, and the
condition compiler reads an existing such key as a key (both databases)."""

import json

import pytest
from django.urls import reverse

from shoal.core.errors import ShoalError
from shoal.customers import services
from shoal.customers.cleaning import lookup_names
from shoal.customers.models import Company, CustomField

pytestmark = pytest.mark.django_db
NAMES = ["gt", "isnull", "exact", "in", "contains", "regex", "iregex", "startswith", "has_key", "year", "range"]


@pytest.mark.parametrize("key", NAMES)
def test_lookup_names_are_refused_as_keys(key):
    with pytest.raises(ShoalError) as exc:
        services.custom_field_create(actor=None, key=key, label=key, type="text")
    assert exc.value.code == "key_clash" and exc.value.detail["key"] == key
    assert not CustomField.objects.filter(key=key).exists()


def test_every_registered_lookup_name_is_refused():
    for key in sorted(lookup_names()):
        if not key.replace("_", "").isalnum() or not key[0].isalpha():
            continue
        with pytest.raises(ShoalError):
            services.custom_field_create(actor=None, key=key, label=key, type="text")


def test_lookup_names_are_refused_over_the_api(client, personas, bearer):
    resp = client.post("/api/v1/fields", data=json.dumps({"key": "isnull", "label": "x", "type": "text"}),
                       content_type="application/json", **bearer(personas["admin"]))
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "key_clash"
    resp = client.post("/api/v1/fields", data=json.dumps({"key": "isnull_flag", "label": "x", "type": "text"}),
                       content_type="application/json", **bearer(personas["admin"]))
    assert resp.status_code == 201


@pytest.mark.parametrize("key, kind, value, other, op", [
    ("gt", "integer", 7, 3, "eq"),
    ("isnull", "boolean", True, False, "eq"),
    ("exact", "text", "Gold", "silver", "eq"),
    ("in", "enum", "a", "b", "eq"),
    ("contains", "text", "Gold", "silver", "in"),
    ("regex", "integer", 7, 3, "in"),
    ("startswith", "enum", "a", "b", "in"),
    ("lt", "integer", 7, 3, "gte"),
])
def test_existing_lookup_named_keys_match_by_key(client, personas, bearer, key, kind, value, other, op):
    """A key made before the check (written directly) still filters correctly."""
    group = None
    if kind == "enum":
        group = services.enum_group_create(actor=None, code=f"g_{key}", name=key,
                                           items=[{"code": "a", "label": "a"}, {"code": "b", "label": "b"}])
    CustomField.objects.create(key=key, label=key, type=kind, enum_group=group, show_in_filter=True)
    services.customer_create(actor=None, data={"name": "hit", "ent_user_id": "h", "attributes": {key: value}})
    services.customer_create(actor=None, data={"name": "miss", "ent_user_id": "m", "attributes": {key: other}})
    services.customer_create(actor=None, data={"name": "none", "ent_user_id": "n"})
    condition = {"field": key, "op": op, "value": [value] if op == "in" else value}
    resp = client.post("/api/v1/segments/preview", data=json.dumps({"query": condition}),
                       content_type="application/json", **bearer(personas["admin"]))
    assert resp.status_code == 200, resp.content
    assert [c["name"] for c in resp.json()["sample"]] == ["hit"]
    resp = client.post("/api/v1/customers/search", content_type="application/json", **bearer(personas["admin"]),
                       data=json.dumps({"query": {"field": key, "op": "is_not_empty"}, "sort": [{"field": key}]}))
    assert resp.status_code == 200 and resp.json()["total"] == 2


# -- a ShoalError in an admin form is a form error, not a 500 ---------------------------------------------
def test_company_with_a_bad_email_is_a_form_error(client, personas):
    client.force_login(personas["admin"])
    url = reverse("admin:customers_company_add")
    client.get(url)
    resp = client.post(url, {"name": "ACME", "email": "not-an-email", "_save": "1"})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "ACME" in html and "errorlist" in html
    assert not Company.objects.exists()
    company = services.company_create(actor=None, data={"name": "Beta"})
    url = reverse("admin:customers_company_change", args=[company.pk])
    resp = client.post(url, {"name": "Beta 2", "email": "not-an-email", "_save": "1"})
    assert resp.status_code == 200 and "errorlist" in resp.content.decode()
    company.refresh_from_db()
    assert company.name == "Beta" and company.email == ""
    resp = client.post(url, {"name": "Beta 2", "email": "b@example.com", "_save": "1"})
    assert resp.status_code == 302
    company.refresh_from_db()
    assert company.name == "Beta 2" and company.email == "b@example.com"
