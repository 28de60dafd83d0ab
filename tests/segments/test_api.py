"""The segments API: search (sort, pages, scope and masking), preview, validate, permission."""

import pytest

from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from tests.conftest import make_user
from tests.segments.conftest import post


@pytest.mark.django_db
def test_search_with_tree_sort_and_pages(client, shop, personas, bearer):
    headers = bearer(personas["admin"])
    body = {"query": {"any": [{"field": "city", "op": "eq", "value": "深圳"},
                              {"field": "assets", "op": "gte", "value": 200000}]},
            "sort": [{"field": "assets", "dir": "desc"}], "page": 1, "page_size": 2}
    response = post(client, "/api/v1/customers/search", body, headers)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["total"] == 4 and len(data["items"]) == 2
    assert [i["name"] for i in data["items"]] == ["客户1", "客户2"]
    data = post(client, "/api/v1/customers/search", {**body, "page": 2}, headers).json()
    assert [i["name"] for i in data["items"]] == ["客户0", "客户3"]


@pytest.mark.django_db
def test_search_applies_data_scope_and_masking(client, shop, personas, bearer):
    salesperson = personas["salesperson"]
    group = CustomerGroup.objects.create(name="G")
    CustomerGroupMembership.objects.create(customer=shop[0], group=group, salesperson=salesperson)
    data = post(client, "/api/v1/customers/search", {"query": {"field": "city", "op": "eq", "value": "深圳"}},
                bearer(salesperson)).json()
    assert data["total"] == 1
    assert data["items"][0]["mobile"] != shop[0].mobile and "****" in data["items"][0]["mobile"]


@pytest.mark.django_db
def test_preview_counts_and_samples(client, shop, personas, bearer):
    data = post(client, "/api/v1/segments/preview", {"sql": "assets > 1000"}, bearer(personas["admin"])).json()
    assert data["count"] == 3 and len(data["sample"]) == 3
    bad = post(client, "/api/v1/segments/preview", {"query": {"field": "assets", "op": "contains", "value": "1"}},
               bearer(personas["admin"]))
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["path"] == "$"


@pytest.mark.django_db
def test_validate_answers_ok(client, shop, personas, bearer):
    response = post(client, "/api/v1/segments/validate", {"query": {"field": "plan", "op": "is_empty"}},
                    bearer(personas["admin"]))
    assert response.json() == {"ok": True}


@pytest.mark.django_db
def test_outsider_without_view_permission_cannot_search(client, shop, personas, bearer):
    nobody = make_user("nobody2")
    assert post(client, "/api/v1/customers/search", {}, bearer(nobody)).status_code == 403
