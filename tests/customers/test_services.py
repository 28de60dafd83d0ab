"""Customer services: timeline, identify (upsert, conflict), batch, merge, ban/enable, delete."""

import pytest

from shoal.core.errors import ShoalError
from shoal.core.models import OperationLog
from shoal.customers import services
from shoal.customers.models import (
    Contact,
    Customer,
    CustomerGroup,
    CustomerGroupMembership,
    TimelineEntry,
)

from .conftest import assign

pytestmark = pytest.mark.django_db


def test_create_writes_a_created_timeline_entry_and_an_operation(personas):
    customer = services.customer_create(actor=personas["admin"], data={"name": "Zhang", "mobile": "13800138000"})
    entry = TimelineEntry.objects.get(customer=customer)
    assert (entry.kind, entry.actor, entry.actor_name) == ("created", personas["admin"], "p_admin")
    assert OperationLog.objects.filter(action="customer.create", object_id=str(customer.pk)).exists()


def test_update_writes_one_timeline_entry_per_changed_field_old_to_new(personas, new_customer):
    services.custom_field_create(actor=None, key="plan_name", label="Plan", type="text")
    customer = new_customer(name="Zhang", city="Beijing", mobile="13800138000")
    changed = services.customer_update(actor=personas["admin"], customer=customer,
                                       data={"name": "Zhang San", "city": "Beijing", "mobile": "+86 139 0013 9000",
                                             "attributes": {"plan_name": "gold"}})
    assert sorted(changed) == ["mobile", "name", "plan_name"]
    entries = {e.field: (e.old, e.new) for e in TimelineEntry.objects.filter(customer=customer, kind="changed")}
    assert entries == {"name": ("Zhang", "Zhang San"), "mobile": ("+8613800138000", "+8613900139000"),
                       "plan_name": (None, "gold")}
    assert services.customer_update(actor=None, customer=customer, data={"name": "Zhang San"}) == []
    assert TimelineEntry.objects.filter(customer=customer, kind="changed").count() == 3


def test_update_cannot_remove_the_last_identity_value(new_customer):
    customer = new_customer(mobile="13800138000")
    with pytest.raises(ShoalError) as exc:
        services.customer_update(actor=None, customer=customer, data={"mobile": None})
    assert exc.value.code == "identity_required"
    assert Customer.objects.get(pk=customer.pk).mobile == "+8613800138000"


def test_identify_creates_then_updates_and_reports_changes():
    first = services.customer_identify(actor=None, data={"ent_user_id": "u1", "name": "A"})
    again = services.customer_identify(actor=None, data={"ent_user_id": "u1", "name": "B", "city": "Shanghai"})
    same = services.customer_identify(actor=None, data={"ent_user_id": "u1", "name": "B"})
    assert first.created and not again.created and again.customer.pk == first.customer.pk
    assert sorted(again.changed) == ["city", "name"]
    assert same.changed == []


def test_identify_conflict_names_both_customers_and_changes_nothing(new_customer):
    a = new_customer(name="A", mobile="13800138000")
    b = new_customer(name="B", email="b@example.com")
    timeline_before = TimelineEntry.objects.count()
    with pytest.raises(ShoalError) as exc:
        services.customer_identify(actor=None, data={"mobile": "138 0013 8000", "email": "B@example.com",
                                                     "name": "Merged?"})
    assert exc.value.status == 409 and exc.value.code == "identity_conflict"
    assert exc.value.detail["customer_ids"] == sorted([a.pk, b.pk])
    assert exc.value.detail["fields"] == {"mobile": a.pk, "email": b.pk}
    assert {c.name for c in Customer.objects.all()} == {"A", "B"}
    assert Customer.objects.get(pk=a.pk).email is None
    assert TimelineEntry.objects.count() == timeline_before


def test_identify_by_a_user_does_not_touch_a_customer_outside_their_scope(world):
    with pytest.raises(ShoalError) as exc:
        services.customer_identify(actor=world["salesperson"], data={"mobile": "13900139000", "name": "Stolen"})
    assert exc.value.code == "identity_out_of_scope"
    assert "customer_ids" not in exc.value.detail
    assert Customer.objects.get(pk=world["theirs"].pk).name == "Theirs"


def test_batch_goes_on_after_a_bad_item():
    results = services.customer_identify_batch(actor=None, items=[
        {"mobile": "13800138000", "name": "Good 1"},
        {"mobile": "not a phone", "name": "Bad"},
        {"name": "No identity"},
        {"email": "good2@example.com"},
        {"mobile": "13800138000", "name": "Good 1 again"},
    ])
    assert results[0]["created"] is True
    assert results[1]["error"]["code"] == "invalid_phone" and results[1]["error"]["detail"]["field"] == "mobile"
    assert results[2]["error"]["code"] == "identity_required"
    assert results[3]["created"] is True
    assert results[4] == {"id": results[0]["id"], "created": False, "changed": ["name"]}
    assert Customer.objects.count() == 2


def test_batch_over_1000_is_refused():
    with pytest.raises(ShoalError) as exc:
        services.customer_identify_batch(actor=None, items=[{"ent_user_id": str(i)} for i in range(1001)])
    assert exc.value.code == "too_many"


def test_merge_keeps_one_fills_gaps_moves_relations_and_records_it(personas, new_customer):
    services.custom_field_create(actor=None, key="plan_name", label="Plan", type="text")
    keep = new_customer(name="Keep", mobile="13800138000", attributes={"plan_name": "gold"})
    other = new_customer(name="Other", email="other@example.com", city="Xi'an", attributes={"plan_name": "free"})
    group = CustomerGroup.objects.create(name="G")
    assign(other, group, personas["salesperson"])
    Contact.objects.create(customer=other, name="Wife", phone="13700137000")
    merged = services.customer_merge(actor=personas["admin"], keep=keep, other=other)
    assert not Customer.objects.filter(pk=other.pk).exists()
    assert (merged.name, merged.mobile, merged.email, merged.city) == ("Keep", "+8613800138000",
                                                                       "other@example.com", "Xi'an")
    assert merged.attributes == {"plan_name": "gold"}
    assert CustomerGroupMembership.objects.get(customer=merged).salesperson == personas["salesperson"]
    assert Contact.objects.get().customer_id == merged.pk
    assert TimelineEntry.objects.filter(customer=merged, kind="created").count() == 2
    entry = TimelineEntry.objects.get(customer=merged, kind="merged")
    assert entry.detail["merged_id"] == other.pk and "email" in entry.detail["fields"]


def test_ban_and_enable_keep_data_and_write_timeline(personas, new_customer):
    a, b = new_customer(name="A"), new_customer(name="B")
    assert services.customers_set_status(actor=personas["admin"], customer_ids=[a.pk, b.pk], status="banned") == 2
    assert services.customers_set_status(actor=personas["admin"], customer_ids=[a.pk, b.pk], status="banned") == 0
    assert set(Customer.objects.values_list("status", flat=True)) == {"banned"}
    assert services.customers_set_status(actor=personas["admin"], customer_ids=[a.pk], status="active") == 1
    entries = list(TimelineEntry.objects.filter(customer=a, kind="status").order_by("id").values_list("old", "new"))
    assert entries == [("active", "banned"), ("banned", "active")]


def test_delete_removes_the_customer_and_its_related_rows(personas, new_customer):
    customer = new_customer(name="Gone")
    Contact.objects.create(customer=customer, name="C")
    assign(customer, CustomerGroup.objects.create(name="G"))
    services.customer_delete(actor=personas["admin"], customer=customer)
    assert not Customer.objects.exists()
    assert not Contact.objects.exists() and not TimelineEntry.objects.exists()
    assert not CustomerGroupMembership.objects.exists()
    assert OperationLog.objects.filter(action="customer.delete").exists()
