"""Customer pages: list (scope, search, paging, batch actions), create/edit with custom fields,
field/enum/company pages."""

import re

import pytest
from django.urls import reverse

from shoal.customers import services
from shoal.customers.models import Customer, CustomField, EnumItem, TimelineEntry

pytestmark = pytest.mark.django_db
LIST = "/customers/customer/"


def _cell(html, row_text, column):
    """The text of ``column``'s cell in the list row that shows ``row_text``."""
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{re.escape(row_text)}(?:(?!</tr>).)*</tr>", html, re.S).group(0)
    cell = re.search(rf'<td class="field-{column}[ "][^>]*>(.*?)</td>', row, re.S).group(1)
    return re.sub(r"<[^>]+>", "", cell).strip()


def test_list_shows_custom_columns_and_searches(client, personas, new_customer, masking_off):
    services.custom_field_create(actor=None, key="plan_name", label="Plan column", type="text", show_in_list=True)
    new_customer(name="Alpha", mobile="13800138000", attributes={"plan_name": "gold"})
    new_customer(name="Beta", telegram="@beta_tg")
    client.force_login(personas["admin"])
    html = client.get(LIST).content.decode()
    assert "Plan column" in html and "gold" in html and "Alpha" in html and "Beta" in html
    html = client.get(LIST, {"q": "+86 138-0013-8000"}).content.decode()
    assert "Alpha" in html and "Beta" not in html
    html = client.get(LIST, {"q": "beta_tg"}).content.decode()
    assert "Beta" in html and "Alpha" not in html
    assert client.get(LIST, {"status__exact": "banned"}).status_code == 200


def test_page_size_choice_is_remembered(client, personas, new_customer):
    for i in range(25):
        new_customer(name=f"C{i:02d}")
    client.force_login(personas["admin"])
    html = client.get(LIST).content.decode()
    assert "C24" in html and "C04" not in html  # 20 a page, newest first
    response = client.get(LIST, {"per_page": 50})
    assert response.status_code == 302
    html = client.get(LIST).content.decode()
    assert "C00" in html and "C24" in html


def test_batch_ban_enable_and_delete_actions(client, personas, new_customer):
    a, b = new_customer(name="A"), new_customer(name="B")
    client.force_login(personas["admin"])
    client.post(LIST, {"action": "ban_customers", "_selected_action": [a.pk, b.pk]})
    assert set(Customer.objects.values_list("status", flat=True)) == {"banned"}
    client.post(LIST, {"action": "enable_customers", "_selected_action": [a.pk]})
    assert Customer.objects.get(pk=a.pk).status == "active"
    confirm = client.post(LIST, {"action": "delete_selected", "_selected_action": [a.pk]})
    assert confirm.status_code == 200 and Customer.objects.filter(pk=a.pk).exists()  # asks first
    client.post(LIST, {"action": "delete_selected", "_selected_action": [a.pk], "post": "yes"})
    assert not Customer.objects.filter(pk=a.pk).exists() and Customer.objects.filter(pk=b.pk).exists()


def test_salesperson_cannot_ban_someone_elses_customer(client, world):
    client.force_login(world["salesperson"])
    client.post(LIST, {"action": "ban_customers", "_selected_action": [world["theirs"].pk]})
    assert Customer.objects.get(pk=world["theirs"].pk).status == "active"


def test_create_a_customer_with_a_custom_field_on_the_page(client, personas, masking_off):
    group = services.enum_group_create(actor=None, code="plan", name="Plan",
                                       items=[{"code": "free", "label": "Free"}, {"code": "pro", "label": "Pro"}])
    services.custom_field_create(actor=None, key="plan", label="Plan", type="enum", enum_group_id=group.pk,
                                 show_in_list=True)
    services.custom_field_create(actor=None, key="assets", label="Assets", type="money")
    client.force_login(personas["admin"])
    form = {"name": "Page customer", "mobile": "138 0013 8000", "status": "active", "gender": "",
            "cf_plan": "pro", "cf_assets": "12.5",
            "contacts-TOTAL_FORMS": "0", "contacts-INITIAL_FORMS": "0",
            "timeline-TOTAL_FORMS": "0", "timeline-INITIAL_FORMS": "0"}
    response = client.post(reverse("admin:customers_customer_add"), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    customer = Customer.objects.get(name="Page customer")
    assert customer.mobile == "+8613800138000" and customer.attributes == {"plan": "pro", "assets": 12.5}
    assert TimelineEntry.objects.filter(customer=customer, kind="created").exists()
    assert _cell(client.get(LIST).content.decode(), "Page customer", "cf_plan") == "Pro"  # the label, not the code
    html = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content.decode()
    assert "Assets" in html and "12.5" in html
    # a wrong value is shown on the form, nothing saved
    form.update(name="Second", mobile="13900139000", cf_assets="lots")
    response = client.post(reverse("admin:customers_customer_add"), form)
    assert response.status_code == 200 and not Customer.objects.filter(name="Second").exists()
    # a duplicate mobile in another spelling is refused on the form
    form.update(cf_assets="1", mobile="+86 138-0013-8000")
    response = client.post(reverse("admin:customers_customer_add"), form)
    assert response.status_code == 200 and not Customer.objects.filter(name="Second").exists()


def test_edit_on_the_page_writes_timeline(client, personas, new_customer, masking_off):
    customer = new_customer(name="Old name", mobile="13800138000")
    client.force_login(personas["admin"])
    form = {"name": "New name", "mobile": "+8613800138000", "status": "active", "gender": "",
            "contacts-TOTAL_FORMS": "0", "contacts-INITIAL_FORMS": "0",
            "timeline-TOTAL_FORMS": "0", "timeline-INITIAL_FORMS": "0"}
    response = client.post(reverse("admin:customers_customer_change", args=[customer.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = TimelineEntry.objects.get(customer=customer, kind="changed")
    assert (entry.field, entry.old, entry.new, entry.actor) == ("name", "Old name", "New name", personas["admin"])


def test_field_page_refuses_clash_and_bad_type_change(client, personas, new_customer):
    client.force_login(personas["admin"])
    add = reverse("admin:customers_customfield_add")
    base = {"label": "L", "type": "text", "order": 0, "enabled": "on", "default": "null"}
    response = client.post(add, {**base, "key": "mobile"})
    assert response.status_code == 200 and not CustomField.objects.exists()
    assert client.post(add, {**base, "key": "assets"}).status_code == 302
    definition = CustomField.objects.get(key="assets")
    bad = new_customer(attributes={"assets": "lots"})
    response = client.post(reverse("admin:customers_customfield_change", args=[definition.pk]),
                           {**base, "type": "integer"})
    assert response.status_code == 200 and str(bad.pk) in response.content.decode()
    assert CustomField.objects.get(pk=definition.pk).type == "text"


def test_enum_page_refuses_deleting_an_item_in_use(client, personas, new_customer):
    group = services.enum_group_create(actor=None, code="plan", name="Plan", items=[{"code": "pro", "label": "Pro"}])
    services.custom_field_create(actor=None, key="plan", label="Plan", type="enum", enum_group_id=group.pk)
    new_customer(attributes={"plan": "pro"})
    item = EnumItem.objects.get(group=group)
    client.force_login(personas["admin"])
    response = client.post(reverse("admin:customers_enumgroup_change", args=[group.pk]), {
        "code": "plan", "name": "Plan", "description": "",
        "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "1", "items-0-id": item.pk, "items-0-group": group.pk,
        "items-0-code": "pro", "items-0-label": "Pro", "items-0-order": "0", "items-0-enabled": "on",
        "items-0-DELETE": "on"})
    assert response.status_code == 200
    assert EnumItem.objects.filter(pk=item.pk).exists()


def test_company_page_lists_only_customers_in_scope(client, world):
    company = services.company_create(actor=None, data={"name": "ACME"})
    Customer.objects.filter(pk__in=[world["mine"].pk, world["theirs"].pk]).update(company=company)
    client.force_login(world["manager"])
    html = client.get(reverse("admin:customers_company_change", args=[company.pk])).content.decode()
    assert "Mine" in html and "Theirs" in html
    world["group"].admins.remove(world["manager"])
    html = client.get(reverse("admin:customers_company_change", args=[company.pk])).content.decode()
    assert ">Mine<" not in html and ">Theirs<" not in html
