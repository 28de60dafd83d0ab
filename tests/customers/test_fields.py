"""Custom fields: validation of every type, key clash, type change and enum guards."""

import pytest

from shoal.core.errors import ShoalError
from shoal.customers import services
from shoal.customers.models import Customer, CustomField, EnumItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans():
    return services.enum_group_create(actor=None, code="plan", name="Plan", items=[
        {"code": "free", "label": "免费版"}, {"code": "pro", "label": "专业版"}, {"code": "vip", "label": "VIP"}])


def field(key, type_, **kw):
    return services.custom_field_create(actor=None, key=key, label=key.title(), type=type_, **kw)


# (type, accepted input → stored value, rejected inputs)
CASES = [
    ("text", [("hello", "hello"), (42, "42")], [True, {"a": 1}, "x" * 256]),
    ("long_text", [("line1\nline2", "line1\nline2")], [["a"], False]),
    ("integer", [(5, 5), ("-12", -12), (3.0, 3)], ["abc", 2.5, True, "1.5"]),
    ("decimal", [("2.5", 2.5), (3, 3), ("1,000.25", 1000.25)], ["abc", True, "nan", [1]]),
    ("money", [("19.999", 20), ("12.345", 12.35), (7, 7)], ["ten", False, "inf"]),
    ("date", [("2024-02-29", "2024-02-29")], ["2023-02-29", "yesterday", 20240101, True]),
    ("datetime", [("2024-05-01T08:30:00+08:00", "2024-05-01T00:30:00Z")], ["2024-13-01T00:00", "soon", 5]),
    ("boolean", [(True, True), ("false", False), (1, True), ("是", True)], ["maybe", 2, [True]]),
    ("enum", [("pro", "pro"), ("专业版", "pro")], ["gold", 3, True]),
    ("multi_enum", [(["free", "vip"], ["free", "vip"]), ("free,pro", ["free", "pro"])], [["gold"], 5, {"a": 1}]),
    ("phone", [("+86 138 0013 8000", "+8613800138000")], ["hello", True, "12"]),
    ("email", [(" A@B.com ", "a@b.com")], ["not-an-email", 7]),
    ("url", [("https://example.com/x", "https://example.com/x")], ["example.com", "ftp://x.org", 1]),
]


@pytest.mark.parametrize("type_,good,bad", CASES, ids=[c[0] for c in CASES])
def test_every_field_type_accepts_its_values_and_refuses_others_naming_field_and_type(plans, new_customer,
                                                                                         type_, good, bad):
    kw = {"enum_group_id": plans.pk} if "enum" in type_ else {}
    field("extra_" + type_, type_, **kw)
    customer = new_customer(name="T")
    for raw, stored in good:
        services.customer_update(actor=None, customer=customer, data={"attributes": {"extra_" + type_: raw}})
        customer.refresh_from_db()
        assert customer.attributes["extra_" + type_] == stored
    before = Customer.objects.get(pk=customer.pk).attributes
    for raw in bad:
        with pytest.raises(ShoalError) as exc:
            services.customer_update(actor=None, customer=customer, data={"attributes": {"extra_" + type_: raw}})
        assert exc.value.status == 400
        assert exc.value.detail["field"] == "extra_" + type_
        assert exc.value.detail["expected"] == type_
        assert Customer.objects.get(pk=customer.pk).attributes == before


def test_wrong_type_through_the_api_answers_400_naming_field_and_type(client, personas, bearer):
    field("extra_integer_1", "integer")
    response = client.post("/api/v1/customers/identify", data={"mobile": "13800138000",
                                                               "attributes": {"extra_integer_1": "many"}},
                           content_type="application/json", **bearer(personas["admin"]))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["detail"] == {"field": "extra_integer_1", "expected": "integer"}
    assert "extra_integer_1" in error["message"]
    assert Customer.objects.count() == 0


def test_unknown_or_disabled_custom_field_is_refused(new_customer):
    field("plan_note", "text", enabled=False)
    customer = new_customer()
    for key in ("nope", "plan_note"):
        with pytest.raises(ShoalError) as exc:
            services.customer_update(actor=None, customer=customer, data={"attributes": {key: "x"}})
        assert exc.value.code == "unknown_field" and exc.value.detail["field"] == key


def test_required_and_default_apply_on_create(new_customer):
    field("tier", "text", required=True)
    field("score", "integer", default="10")
    with pytest.raises(ShoalError) as exc:
        new_customer(name="No tier")
    assert exc.value.code == "required" and exc.value.detail["field"] == "tier"
    customer = services.customer_create(actor=None, data={"mobile": "13800138000", "attributes": {"tier": "A"}})
    assert customer.attributes == {"tier": "A", "score": 10}
    with pytest.raises(ShoalError):
        services.customer_update(actor=None, customer=customer, data={"attributes": {"tier": ""}})


@pytest.mark.parametrize("key", ["mobile", "email", "name", "status", "attributes", "id", "ent_user_id"])
def test_a_key_that_clashes_with_a_standard_field_is_refused(key):
    with pytest.raises(ShoalError) as exc:
        field(key, "text")
    assert exc.value.code == "key_clash"
    assert not CustomField.objects.filter(key=key).exists()


@pytest.mark.parametrize("key", ["Bad", "1abc", "with-dash", "x" * 64, "中文"])
def test_a_malformed_key_is_refused(key):
    with pytest.raises(ShoalError):
        field(key, "text")


def test_key_is_generated_when_not_given():
    one = services.custom_field_create(actor=None, label="Note", type="text")
    two = services.custom_field_create(actor=None, label="Note 2", type="text")
    assert (one.key, two.key) == ("extra_text_1", "extra_text_2")


def test_key_cannot_change():
    definition = field("files", "integer")
    with pytest.raises(ShoalError) as exc:
        services.custom_field_update(actor=None, definition=definition, data={"key": "files2"})
    assert exc.value.code == "key_immutable"


def test_type_change_is_refused_when_a_value_does_not_convert_and_names_the_customers(new_customer):
    definition = field("assets", "text")
    ok = new_customer(attributes={"assets": "12"})
    bad = new_customer(attributes={"assets": "lots"})
    with pytest.raises(ShoalError) as exc:
        services.custom_field_update(actor=None, definition=definition, data={"type": "integer"})
    assert exc.value.code == "type_change_refused"
    assert exc.value.detail["failing_customer_ids"] == [bad.pk]
    assert CustomField.objects.get(pk=definition.pk).type == "text"
    assert Customer.objects.get(pk=ok.pk).attributes["assets"] == "12"


def test_type_change_converts_every_value_when_all_convert(new_customer):
    definition = field("assets", "text")
    a = new_customer(attributes={"assets": "12"})
    b = new_customer(attributes={"assets": "7"})
    services.custom_field_update(actor=None, definition=definition, data={"type": "integer"})
    assert Customer.objects.get(pk=a.pk).attributes["assets"] == 12
    assert Customer.objects.get(pk=b.pk).attributes["assets"] == 7
    services.custom_field_update(actor=None, definition=definition, data={"type": "text"})
    assert Customer.objects.get(pk=a.pk).attributes["assets"] == "12"


def test_deleting_an_enum_item_in_use_is_refused(plans, new_customer):
    field("plan", "enum", enum_group_id=plans.pk)
    field("addons", "multi_enum", enum_group_id=plans.pk)
    customer = new_customer(attributes={"plan": "pro", "addons": ["vip"]})
    for code in ("pro", "vip"):
        item = EnumItem.objects.get(group=plans, code=code)
        with pytest.raises(ShoalError) as exc:
            services.enum_item_delete(actor=None, item=item)
        assert exc.value.code == "in_use" and exc.value.detail["customer_ids"] == [customer.pk]
        assert EnumItem.objects.filter(pk=item.pk).exists()
    free = EnumItem.objects.get(group=plans, code="free")
    services.enum_item_delete(actor=None, item=free)
    assert not EnumItem.objects.filter(pk=free.pk).exists()


def test_changing_the_code_of_an_item_in_use_is_refused_but_label_may_change(plans, new_customer):
    field("plan", "enum", enum_group_id=plans.pk)
    new_customer(attributes={"plan": "pro"})
    item = EnumItem.objects.get(group=plans, code="pro")
    with pytest.raises(ShoalError):
        services.enum_item_update(actor=None, item=item, data={"code": "professional"})
    services.enum_item_update(actor=None, item=item, data={"label": "Pro+"})
    assert EnumItem.objects.get(pk=item.pk).label == "Pro+"


def test_standard_source_uses_its_enum(new_customer):
    assert new_customer(source="API").source == "api"
    assert new_customer(source="ads").source == "ads"
    with pytest.raises(ShoalError) as exc:
        new_customer(source="carrier pigeon")
    assert exc.value.detail["field"] == "source"
    with pytest.raises(ShoalError):
        services.enum_item_delete(actor=None, item=EnumItem.objects.get(group__code="customer_source", code="api"))


def test_deleting_a_field_removes_its_values(new_customer):
    definition = field("wechat_nick", "text")
    customer = new_customer(attributes={"wechat_nick": "fish"})
    services.custom_field_delete(actor=None, definition=definition)
    assert Customer.objects.get(pk=customer.pk).attributes == {}


def test_an_enum_field_needs_a_group_and_a_default_must_fit_the_type(plans):
    with pytest.raises(ShoalError):
        field("plan", "enum")
    with pytest.raises(ShoalError) as exc:
        field("count", "integer", default="many")
    assert exc.value.detail["field"] == "default"
