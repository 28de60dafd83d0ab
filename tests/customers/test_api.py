"""The customer, field, enum and company endpoints."""

import json

import pytest

from shoal.accounts.models import Application
from shoal.customers.models import Company, Customer, CustomField, EnumGroup, TimelineEntry

pytestmark = pytest.mark.django_db


def post(client, url, body, headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def app_key(db):
    app = Application(name="ERP")
    raw = app.set_new_key()
    app.save()
    return {"HTTP_X_APP_KEY": raw}


def test_identify_with_an_application_key_creates_then_updates(client, app_key):
    body = {"ent_user_id": "erp-1", "name": "Zhang", "mobile": "138 0013 8000", "source": "API",
            "registered_at": "2024-01-02T03:04:05+08:00", "birthday": "1990-05-06"}
    first = post(client, "/api/v1/customers/identify", body, app_key)
    assert first.status_code == 200, first.content
    assert first.json()["created"] is True and first.json()["changed"] == []
    second = post(client, "/api/v1/customers/identify", {"mobile": "+8613800138000", "city": "Hangzhou"}, app_key)
    assert second.json() == {"id": first.json()["id"], "created": False, "changed": ["city"]}
    customer = Customer.objects.get()
    assert (customer.source, customer.birthday.isoformat()) == ("api", "1990-05-06")
    assert TimelineEntry.objects.filter(customer=customer, kind="changed").get().detail == {"application": "ERP"}


def test_an_application_key_may_identify_but_not_read(client, app_key):
    post(client, "/api/v1/customers/identify", {"ent_user_id": "x"}, app_key)
    assert client.get("/api/v1/customers", **app_key).status_code == 401
    assert client.get(f"/api/v1/customers/{Customer.objects.get().pk}", **app_key).status_code == 401


def test_a_disabled_application_is_refused(client, app_key):
    Application.objects.update(enabled=False)
    assert post(client, "/api/v1/customers/identify", {"ent_user_id": "x"}, app_key).status_code == 401


def test_identify_conflict_is_409_naming_both_ids(client, app_key):
    a = post(client, "/api/v1/customers/identify", {"mobile": "13800138000"}, app_key).json()["id"]
    b = post(client, "/api/v1/customers/identify", {"email": "b@example.com"}, app_key).json()["id"]
    response = post(client, "/api/v1/customers/identify", {"mobile": "13800138000", "email": "b@example.com"},
                    app_key)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "identity_conflict" and error["detail"]["customer_ids"] == sorted([a, b])


def test_identify_refuses_unknown_fields(client, app_key):
    response = post(client, "/api/v1/customers/identify", {"mobile": "13800138000", "shoe_size": 42}, app_key)
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_batch_identify_answers_per_item(client, app_key):
    response = post(client, "/api/v1/customers/identify/batch", {"customers": [
        {"mobile": "13800138000"}, {"mobile": "nope"}, {"email": "x@example.com", "gender": "robot"}]}, app_key)
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["created"] is True
    assert results[1]["error"]["detail"]["field"] == "mobile"
    assert results[2]["error"]["detail"]["field"] == "gender"
    too_many = post(client, "/api/v1/customers/identify/batch", {"customers": [{"ent_user_id": "1"}] * 1001},
                    app_key)
    assert too_many.status_code == 400


def test_list_pages_and_searches(client, personas, bearer):
    headers = bearer(personas["admin"])
    for i in range(25):
        post(client, "/api/v1/customers", {"name": f"Customer {i}", "ent_user_id": f"e{i}",
                                           "telegram": f"@tg{i}"}, headers)
    post(client, "/api/v1/customers", {"name": "Needle", "mobile": "13800138000", "email": "needle@example.com"},
         headers)
    page = client.get("/api/v1/customers", {"page": 2, "page_size": 20}, **headers).json()
    assert page["count"] == 26 and len(page["items"]) == 6 and page["page"] == 2
    assert page["items"][-1]["name"] == "Customer 0"  # newest first
    for q in ["Needle", "138 0013 8000", "NEEDLE@example.com", "@tg7", "e7"]:
        names = [c["name"] for c in client.get("/api/v1/customers", {"q": q}, **headers).json()["items"]]
        assert names in (["Needle"], ["Customer 7"]), (q, names)
    needle = Customer.objects.get(name="Needle")
    assert [c["id"] for c in client.get("/api/v1/customers", {"q": str(needle.pk)}, **headers).json()["items"]
            ][:1] == [needle.pk]
    assert client.get("/api/v1/customers", {"q": "138 0013"}, **headers).json()["count"] == 0  # no digit probing
    assert client.get("/api/v1/customers", {"page_size": 500}, **headers).status_code == 400


def test_patch_and_delete_a_customer(client, personas, bearer):
    headers = bearer(personas["admin"])
    cid = post(client, "/api/v1/customers", {"name": "A", "mobile": "13800138000"}, headers).json()["id"]
    response = client.patch(f"/api/v1/customers/{cid}", data={"name": "B", "status": "unpaid"},
                            content_type="application/json", **headers)
    assert response.status_code == 200 and response.json()["name"] == "B" and response.json()["status"] == "unpaid"
    bad = client.patch(f"/api/v1/customers/{cid}", data={"birthday": "someday"}, content_type="application/json",
                       **headers)
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "birthday"
    assert client.delete(f"/api/v1/customers/{cid}", **headers).status_code == 204
    assert client.get(f"/api/v1/customers/{cid}", **headers).status_code == 404


def test_batch_status(client, personas, bearer):
    headers = bearer(personas["admin"])
    ids = [post(client, "/api/v1/customers", {"ent_user_id": str(i)}, headers).json()["id"] for i in range(3)]
    response = post(client, "/api/v1/customers/status", {"ids": ids, "status": "banned"}, headers)
    assert response.json() == {"count": 3}
    assert set(Customer.objects.values_list("status", flat=True)) == {"banned"}


def test_fields_crud_and_clash(client, personas, bearer):
    headers = bearer(personas["admin"])
    response = post(client, "/api/v1/fields", {"label": "Plan", "type": "text", "show_in_list": True}, headers)
    assert response.status_code == 201 and response.json()["key"] == "extra_text_1"
    fid = response.json()["id"]
    clash = post(client, "/api/v1/fields", {"key": "mobile", "label": "M", "type": "text"}, headers)
    assert clash.status_code == 400 and clash.json()["error"]["code"] == "key_clash"
    assert client.patch(f"/api/v1/fields/{fid}", data={"label": "Plan name"}, content_type="application/json",
                        **headers).json()["label"] == "Plan name"
    assert [f["key"] for f in client.get("/api/v1/fields", **headers).json()] == ["extra_text_1"]
    assert client.delete(f"/api/v1/fields/{fid}", **headers).status_code == 204
    assert not CustomField.objects.exists()
    assert client.get("/api/v1/fields", **bearer(personas["manager"])).status_code == 403


def test_enums_crud_and_guard(client, personas, bearer):
    headers = bearer(personas["admin"])
    response = post(client, "/api/v1/enums", {"code": "plan", "name": "Plan", "items": [
        {"code": "free", "label": "Free"}, {"code": "pro", "label": "Pro"}]}, headers)
    assert response.status_code == 201, response.content
    group = response.json()
    assert [i["code"] for i in group["items"]] == ["free", "pro"]
    post(client, "/api/v1/fields", {"key": "plan", "label": "Plan", "type": "enum", "enum_group_id": group["id"]},
         headers)
    post(client, "/api/v1/customers", {"ent_user_id": "1", "attributes": {"plan": "pro"}}, headers)
    pro = group["items"][1]["id"]
    refused = client.delete(f"/api/v1/enums/{group['id']}/items/{pro}", **headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "in_use"
    added = post(client, f"/api/v1/enums/{group['id']}/items", {"code": "vip", "label": "VIP"}, headers)
    assert added.status_code == 201
    assert client.delete(f"/api/v1/enums/{group['id']}/items/{added.json()['id']}", **headers).status_code == 204
    assert client.delete(f"/api/v1/enums/{group['id']}", **headers).status_code == 409
    assert EnumGroup.objects.filter(code="plan").exists()


def test_companies_crud(client, personas, bearer):
    headers = bearer(personas["manager"])
    response = post(client, "/api/v1/companies", {"name": "ACME", "website": "https://acme.example",
                                                  "city": "Shenzhen"}, headers)
    assert response.status_code == 201
    cid = response.json()["id"]
    bad = client.patch(f"/api/v1/companies/{cid}", data={"website": "acme"}, content_type="application/json",
                       **headers)
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "website"
    assert client.get("/api/v1/companies", {"q": "acm"}, **headers).json()["count"] == 1
    assert client.delete(f"/api/v1/companies/{cid}", **headers).status_code == 204
    assert not Company.objects.exists()
    assert client.get("/api/v1/companies", **bearer(personas["salesperson"])).status_code == 403


def test_searching_for_a_lone_at_sign_does_not_match_every_customer_without_a_handle(admin_client):
    from shoal.customers import services as customer_services
    from shoal.customers.selectors import customer_list

    customer_services.customer_create(actor=None, data={"mobile": "13800138000"})
    customer_services.customer_create(actor=None, data={"mobile": "13900139000", "telegram": "bob"})
    assert customer_list(actor=None, q="@").count() == 0
    assert customer_list(actor=None, q="@BOB").get().telegram == "bob"
