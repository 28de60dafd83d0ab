"""The event registry: typed fields, copy one or many, batch enable/disable, the built-in types, and the
warning that names the strategies using a type before it is changed or deleted (through the hook the
automation app fills; a fake user of types is registered here)."""

import json

import pytest
from django.utils import translation

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.core.models import OperationLog
from shoal.events.builtins import BUILTINS
from shoal.events.hooks import register_event_type_users, unregister_event_type_users
from shoal.events.models import EventStat, EventType
from shoal.events.services import types
from shoal.events.services.processing import process_pending

from .conftest import event, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def strategies():
    """A fake automation app: strategy names per event type code."""
    uses = {}

    def users(event_type):
        return uses.get(event_type.code, [])

    register_event_type_users(users)
    yield uses
    unregister_event_type_users(users)


def test_a_type_keeps_its_typed_fields(purchase):
    stored = EventType.objects.get(code="purchase")
    assert [f["type"] for f in stored.fields] == ["number", "text", "boolean", "date", "datetime", "object", "list"]
    assert stored.fields[0] == {"key": "amount", "type": "number", "label": "金额", "required": True, "remarks": ""}


@pytest.mark.parametrize("fields, words", [
    ([{"key": "1bad"}], "the key must start"),
    ([{"key": "a"}, {"key": "a"}], "appears twice"),
    ([{"key": "a", "type": "money"}], "unknown type"),
    ([{"key": "a", "required": "yes"}], "not valid"),
    ("amount", "must be a list"),
])
def test_bad_fields_are_refused(fields, words):
    with translation.override("en"), pytest.raises(ShoalError) as caught:
        types.event_type_create(actor=SYSTEM, data={"name": "x", "code": "x", "fields": fields})
    assert words in caught.value.message


def test_codes_are_unique_and_well_formed(purchase):
    with pytest.raises(ShoalError) as caught:
        types.event_type_create(actor=SYSTEM, data={"name": "again", "code": "purchase"})
    assert caught.value.status == 409
    with pytest.raises(ShoalError):
        types.event_type_create(actor=SYSTEM, data={"name": "bad", "code": "has space"})


def test_copy_one_with_a_new_name_and_code(purchase):
    [copy] = types.event_types_copy(actor=SYSTEM, ids=[purchase.pk], name="购买 2", code="purchase2")
    assert (copy.name, copy.code, copy.fields, copy.create_customers) == ("购买 2", "purchase2", purchase.fields, True)


def test_copy_many_names_the_copies(purchase, login):
    copies = types.event_types_copy(actor=SYSTEM, ids=[purchase.pk, login.pk])
    assert [c.code for c in copies] == ["purchase_copy", "login_copy"]
    again = types.event_types_copy(actor=SYSTEM, ids=[purchase.pk])
    assert again[0].code == "purchase_copy2"
    assert copies[0].name == "购买（副本）"


def test_batch_enable_and_disable(purchase, login):
    assert types.event_types_set_enabled(actor=SYSTEM, ids=[purchase.pk, login.pk], enabled=False) == 2
    assert not EventType.objects.filter(enabled=True).exists()
    assert types.event_types_set_enabled(actor=SYSTEM, ids=[purchase.pk, login.pk], enabled=False) == 0
    assert types.event_types_set_enabled(actor=SYSTEM, ids=[login.pk], enabled=True) == 1
    assert OperationLog.objects.filter(action="event_type.disable").exists()


def test_import_builtins_creates_the_missing_ones_once():
    first = types.event_types_import_builtins(actor=SYSTEM)
    assert first["created"] == [b["code"] for b in BUILTINS]
    assert set(first["created"]) == {"product_maturity", "password_changed", "birthday", "tag_added", "transaction",
                                     "registration"}
    assert types.event_types_import_builtins(actor=SYSTEM)["created"] == []
    maturity = EventType.objects.get(code="product_maturity")
    assert maturity.name == "理财产品到期" and maturity.builtin == "product_maturity"  # the tests speak zh-hans
    assert {f["key"] for f in maturity.fields if f["required"]} == {"product_code", "maturity_date"}


def test_changing_a_type_that_strategies_use_warns_and_names_them(purchase, strategies):
    strategies["purchase"] = ["新客首单送券", "大额订单通知"]
    with pytest.raises(ShoalError) as caught:
        types.event_type_update(actor=SYSTEM, event_type=purchase, data={"fields": []})
    assert caught.value.code == "event_type_in_use" and caught.value.status == 409
    assert caught.value.detail["strategies"] == ["新客首单送券", "大额订单通知"]
    assert "新客首单送券" in caught.value.message
    # harmless changes go through; a confirmed change too
    types.event_type_update(actor=SYSTEM, event_type=purchase, data={"remarks": "备注", "name": "购买商品"})
    types.event_type_update(actor=SYSTEM, event_type=purchase, data={"fields": []}, force=True)
    assert EventType.objects.get(pk=purchase.pk).fields == []


def test_disabling_or_deleting_a_used_type_warns(purchase, login, strategies):
    strategies["purchase"] = ["S1"]
    with pytest.raises(ShoalError) as caught:
        types.event_types_set_enabled(actor=SYSTEM, ids=[purchase.pk, login.pk], enabled=False)
    assert caught.value.detail["by_event"] == {"purchase": ["S1"]}
    assert EventType.objects.filter(enabled=True).count() == 2  # nothing changed
    with pytest.raises(ShoalError):
        types.event_type_delete(actor=SYSTEM, event_type=purchase)
    types.event_type_delete(actor=SYSTEM, event_type=login)  # unused: no warning
    types.event_type_delete(actor=SYSTEM, event_type=purchase, force=True)
    assert not EventType.objects.exists()


def test_deleting_a_type_drops_its_statistics_and_keeps_its_history(app, purchase):
    send(app, event(1))
    process_pending()
    types.event_type_delete(actor=SYSTEM, event_type=purchase)
    assert not EventStat.objects.exists()
    from shoal.events.models import Event

    assert Event.objects.get().event_code == "purchase"


# -- the API ----------------------------------------------------------------------------------------------
def test_the_registry_api(client, personas, bearer, strategies):
    admin = bearer(personas["admin"])
    body = {"code": "order_paid", "name": "订单支付", "fields": [{"key": "amount", "type": "number", "required": True,
                                                                 "label": "金额"}]}
    created = client.post("/api/v1/event-types", json.dumps(body), content_type="application/json", **admin)
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["code"], data["enabled"], data["create_customers"]) == ("order_paid", True, True)
    assert data["fields"] == [{"key": "amount", "type": "number", "required": True, "label": "金额", "remarks": ""}]
    type_id = data["id"]
    strategies["order_paid"] = ["支付后发短信"]
    patch = client.patch(f"/api/v1/event-types/{type_id}", json.dumps({"enabled": False}),
                         content_type="application/json", **admin)
    assert patch.status_code == 409 and patch.json()["error"]["detail"]["strategies"] == ["支付后发短信"]
    patch = client.patch(f"/api/v1/event-types/{type_id}?force=true", json.dumps({"enabled": False}),
                         content_type="application/json", **admin)
    assert patch.status_code == 200 and patch.json()["enabled"] is False
    assert client.delete(f"/api/v1/event-types/{type_id}", **admin).status_code == 409
    assert client.delete(f"/api/v1/event-types/{type_id}?force=true", **admin).status_code == 204
    bad = client.post("/api/v1/event-types", json.dumps({**body, "fields": [{"key": "x", "type": "money"}]}),
                      content_type="application/json", **admin)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    builtins = client.post("/api/v1/event-types/import-builtins", **admin)
    assert len(builtins.json()["created"]) == 6
    listed = client.get("/api/v1/event-types?q=birthday", **admin).json()
    assert [t["code"] for t in listed] == ["birthday"]


def test_fields_sent_with_only_a_key_take_the_defaults(client, personas, bearer):
    admin = bearer(personas["admin"])
    created = client.post("/api/v1/event-types", json.dumps({"code": "bare", "name": "Bare", "fields": [{"key": "x"}]}),
                          content_type="application/json", **admin)
    assert created.status_code == 201, created.content
    assert created.json()["fields"] == [{"key": "x", "type": "text", "required": False, "label": "", "remarks": ""}]
    patched = client.patch(f"/api/v1/event-types/{created.json()['id']}", json.dumps({"fields": [{"key": "y"}]}),
                           content_type="application/json", **admin)
    assert patched.status_code == 200 and patched.json()["fields"][0]["key"] == "y"
