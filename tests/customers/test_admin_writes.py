"""Writes made on the admin pages go through the services: contacts, enum items, detail tabs, the
"show in edit form" flag, token revoke; each leaves its operation-log entry."""

import pytest
from django.urls import reverse

from shoal.accounts.models import ApiToken
from shoal.core.models import OperationLog
from shoal.customers import services
from shoal.customers.models import Contact, CustomField, DetailTab, EnumItem

pytestmark = pytest.mark.django_db

NO_INLINES = {"timeline-TOTAL_FORMS": "0", "timeline-INITIAL_FORMS": "0"}


def test_contacts_of_the_customer_page_are_written_and_logged(client, personas, new_customer, masking_off):
    customer = new_customer(name="Has contacts", mobile="13800138000")
    client.force_login(personas["admin"])
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    base = {"name": "Has contacts", "mobile": "+8613800138000", "status": "active", "gender": "", **NO_INLINES}
    response = client.post(url, {**base, "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "0",
                                 "contacts-0-name": "Wife", "contacts-0-relation": "spouse",
                                 "contacts-0-phone": "13900139000"})
    assert response.status_code == 302, response.content.decode()[:2000]
    contact = Contact.objects.get(customer=customer)
    assert (contact.name, contact.relation, contact.phone) == ("Wife", "spouse", "13900139000")
    response = client.post(url, {**base, "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "1",
                                 "contacts-0-id": contact.pk, "contacts-0-customer": customer.pk,
                                 "contacts-0-name": "Wife", "contacts-0-relation": "partner",
                                 "contacts-0-phone": "13900139000"})
    assert response.status_code == 302
    assert Contact.objects.get(pk=contact.pk).relation == "partner"
    response = client.post(url, {**base, "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "1",
                                 "contacts-0-id": contact.pk, "contacts-0-customer": customer.pk,
                                 "contacts-0-name": "Wife", "contacts-0-relation": "partner",
                                 "contacts-0-phone": "13900139000", "contacts-0-DELETE": "on"})
    assert response.status_code == 302
    assert not Contact.objects.filter(customer=customer).exists()
    logged = [e.detail.get("contact") for e in OperationLog.objects.filter(
        action="customer.update", object_id=str(customer.pk), actor=personas["admin"]).order_by("id")]
    assert logged == ["create", "update", "delete"]


def test_enum_items_of_the_enum_page_are_written_and_logged(client, personas):
    group = services.enum_group_create(actor=None, code="plan", name="Plan", items=[{"code": "free", "label": "Free"}])
    item = EnumItem.objects.get(group=group)
    client.force_login(personas["admin"])
    response = client.post(reverse("admin:customers_enumgroup_change", args=[group.pk]), {
        "code": "plan", "name": "Plan", "description": "",
        "items-TOTAL_FORMS": "2", "items-INITIAL_FORMS": "1",
        "items-0-id": item.pk, "items-0-group": group.pk, "items-0-code": "free", "items-0-label": "Gratis",
        "items-0-order": "0", "items-0-enabled": "on",
        "items-1-group": group.pk, "items-1-code": "pro", "items-1-label": "Pro", "items-1-order": "1",
        "items-1-enabled": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert dict(EnumItem.objects.filter(group=group).values_list("code", "label")) == {"free": "Gratis", "pro": "Pro"}
    actions = set(OperationLog.objects.filter(actor=personas["admin"]).values_list("action", flat=True))
    assert {"enum.item.update", "enum.item.create"} <= actions


def test_show_in_form_and_detail_tabs_are_written_by_services(client, personas):
    definition = services.custom_field_create(actor=None, key="memo", label="Memo", type="text")
    assert definition.show_in_form is True
    client.force_login(personas["admin"])
    response = client.post(reverse("admin:customers_customfield_change", args=[definition.pk]), {
        "key": "memo", "label": "Memo", "type": "text", "enum_group": "", "default": "", "order": "0",
        "enabled": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CustomField.objects.get(pk=definition.pk).show_in_form is False
    entry = OperationLog.objects.filter(action="custom_field.update").latest("id")
    assert "show_in_form" in entry.detail["fields"]

    response = client.post(reverse("admin:customers_detailtab_add"),
                           {"name": "Orders", "url": "https://shop.example.com/o/${id}", "order": 1, "enabled": "on"})
    assert response.status_code == 302
    tab = DetailTab.objects.get()
    response = client.post(reverse("admin:customers_detailtab_change", args=[tab.pk]),
                           {"name": "Orders", "url": "https://shop.example.com/orders/${id}", "order": 2})
    assert response.status_code == 302
    tab.refresh_from_db()
    assert (tab.url, tab.order, tab.enabled) == ("https://shop.example.com/orders/${id}", 2, False)
    entry = OperationLog.objects.filter(action="detail_tab.update").latest("id")
    assert entry.detail == {"url": tab.url, "order": 2, "enabled": False} and entry.actor == personas["admin"]


def test_revoking_a_token_is_logged(client, personas):
    user = personas["salesperson"]
    token, _raw = ApiToken.issue(user, "script")
    client.force_login(user)
    client.post(reverse("admin:my_tokens"), {"revoke": "not-a-number"})
    assert ApiToken.objects.filter(pk=token.pk).exists()
    client.post(reverse("admin:my_tokens"), {"revoke": token.pk})
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    entry = OperationLog.objects.get(action="token.revoke")
    assert entry.actor == user and entry.detail == {"prefix": token.key_prefix}
