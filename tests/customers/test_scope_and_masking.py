"""Data scope (a customer outside it is 404) and the five masking policies on list, detail and API."""

import pytest

from shoal.accounts.models import Department, Role
from shoal.core import parameters
from shoal.customers import masking, selectors, services
from shoal.customers.models import Contact, CustomerGroup
from tests.conftest import make_user

from .conftest import assign

pytestmark = pytest.mark.django_db


def visible(user):
    return set(selectors.customer_queryset(actor=user).values_list("name", flat=True))


# -- masking formats ------------------------------------------------------------------------------
def test_phone_and_email_mask_formats(db):
    assert masking.mask_phone("+8613800138000") == "138****8000"
    assert masking.mask_phone("13800138000") == "138****8000"
    assert masking.mask_phone("+16502530000").endswith("0000") and "****" in masking.mask_phone("+16502530000")
    assert masking.mask_email("zhang@example.com") == "z***@example.com"
    assert masking.mask_phone("") == "" and masking.mask_email(None) is None


# -- data scope ------------------------------------------------------------------------------------
def test_own_scope_sees_only_own_private_customers(world):
    assert visible(world["salesperson"]) == {"Mine"}


def test_all_scope_sees_everyone(world):
    assert visible(world["admin"]) == {"Mine", "Theirs", "Group pool", "Company pool"}


def test_group_scope_sees_the_groups_it_administers(world, roles):
    role = Role.objects.create(name="Group lead", code="lead", data_scope="groups",
                               permissions=["customers.customers.view"])
    lead = make_user("lead", role)
    assert visible(lead) == set()
    world["group"].admins.add(lead)
    assert visible(lead) == {"Mine", "Theirs", "Group pool"}


def test_department_scope_includes_sub_departments(world, new_customer):
    top = Department.objects.create(name="Sales")
    sub = Department.objects.create(name="Sales 1", parent=top)
    other = Department.objects.create(name="Ops")
    manager = world["manager"]
    world["group"].admins.remove(manager)
    manager.departments.add(top)
    world["salesperson"].departments.add(sub)
    world["other_sales"].departments.add(other)
    assert visible(manager) == {"Mine"}


def test_salesperson_cannot_read_another_salespersons_customer_but_group_admin_can(world, client, bearer):
    url = f"/api/v1/customers/{world['theirs'].pk}"
    response = client.get(url, **bearer(world["salesperson"]))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.patch(url, data={"name": "x"}, content_type="application/json",
                        **bearer(world["salesperson"])).status_code == 404
    assert client.delete(url, **bearer(world["salesperson"])).status_code == 403  # salespeople may not delete
    response = client.get(url, **bearer(world["manager"]))  # admin of the group
    assert response.status_code == 200 and response.json()["name"] == "Theirs"


def test_out_of_scope_customer_is_404_on_the_page_too(world, client):
    client.force_login(world["salesperson"])
    for page in ("change", "history", "detail"):
        response = client.get(f"/customers/customer/{world['theirs'].pk}/{page}/")
        assert response.status_code == 404, (page, response.status_code)
        assert b'data-status="404"' in response.content and b"Theirs" not in response.content
    assert client.get(f"/customers/customer/{world['mine'].pk}/change/").status_code == 200


def test_list_returns_only_scoped_customers(world, client, bearer):
    names = {c["name"] for c in client.get("/api/v1/customers", **bearer(world["salesperson"])).json()["items"]}
    assert names == {"Mine"}


# -- masking policies --------------------------------------------------------------------------------
def set_policy(user, policy):
    user.masking_policy = policy
    user.save(update_fields=["masking_policy"])


def detail(client, bearer, user, customer):
    response = client.get(f"/api/v1/customers/{customer.pk}", **bearer(user))
    assert response.status_code == 200, response.content
    return response.json()


# (policy, viewer, customer, revealed on detail?)
POLICY_CASES = [
    ("mask_all", "salesperson", "mine", False),
    ("none", "salesperson", "mine", True),
    ("except_private", "salesperson", "mine", True),
    ("except_assigned", "salesperson", "mine", True),
    ("except_groups", "salesperson", "mine", True),
    ("mask_all", "manager", "group_pool", False),
    ("except_private", "manager", "group_pool", False),
    ("except_assigned", "manager", "theirs", False),
    ("except_groups", "manager", "group_pool", True),
    ("except_groups", "manager", "theirs", True),
    ("none", "manager", "theirs", True),
    ("except_groups", "admin", "company_pool", False),
    ("none", "admin", "company_pool", True),
]


@pytest.mark.parametrize("policy,viewer,target,revealed", POLICY_CASES,
                         ids=[f"{p}-{v}-{t}" for p, v, t, _ in POLICY_CASES])
def test_each_policy_on_detail_and_list(world, client, bearer, masking_on, policy, viewer, target, revealed):
    user, customer = world[viewer], world[target]
    set_policy(user, policy)
    data = detail(client, bearer, user, customer)
    plain = customer.mobile
    if revealed:
        assert data["mobile"] == plain and not data["masked"]
    else:
        assert data["mobile"] == plain[3:6] + "****" + plain[-4:] and data["masked"]
    rows = client.get("/api/v1/customers", {"page_size": 100}, **bearer(user)).json()["items"]
    row = next(r for r in rows if r["id"] == customer.pk)
    assert row["masked"] and "****" in row["mobile"]  # lists always mask
    shown = masking.mask_customer(selectors.customer_dict(customer), viewer=user, customer=customer,
                                  context="detail")
    assert (shown["mobile"] == plain) is revealed


def test_private_customers_in_the_recycle_bin_are_not_private(world, masking_on):
    set_policy(world["salesperson"], "except_private")
    world["mine"].in_recycle_bin = True
    world["mine"].save()
    assert not masking.may_reveal(viewer=world["salesperson"], customer=world["mine"])
    set_policy(world["salesperson"], "except_assigned")
    assert masking.may_reveal(viewer=world["salesperson"], customer=world["mine"])


def test_masking_switched_off_reveals_everywhere(world, client, bearer, masking_off):
    user = world["salesperson"]
    set_policy(user, "mask_all")
    assert detail(client, bearer, user, world["mine"])["mobile"] == "+8613800138000"
    row = client.get("/api/v1/customers", **bearer(user)).json()["items"][0]
    assert row["mobile"] == "+8613800138000" and row["email"] == "mine@example.com"


def test_email_custom_phone_email_contacts_and_timeline_are_masked(world, client, bearer, masking_on):
    services.custom_field_create(actor=None, key="backup_phone", label="Backup", type="phone")
    services.custom_field_create(actor=None, key="work_email", label="Work", type="email")
    services.custom_field_create(actor=None, key="nickname", label="Nick", type="text")
    mine = world["mine"]
    services.customer_update(actor=None, customer=mine, data={
        "mobile": "13500135000", "attributes": {"backup_phone": "13911112222", "work_email": "w@corp.com",
                                                "nickname": "fish"}})
    Contact.objects.create(customer=mine, name="Wife", phone="13722223333", email="wife@example.com")
    user = world["salesperson"]
    data = detail(client, bearer, user, mine)
    assert data["email"] == "m***@example.com"
    assert data["attributes"] == {"backup_phone": "139****2222", "work_email": "w***@corp.com", "nickname": "fish"}
    assert data["contacts"][0]["phone"] == "137****3333" and data["contacts"][0]["email"] == "w***@example.com"
    timeline = client.get(f"/api/v1/customers/{mine.pk}/timeline", **bearer(user)).json()["items"]
    mobile_change = next(e for e in timeline if e["field"] == "mobile")
    assert (mobile_change["old"], mobile_change["new"]) == ("138****8000", "135****5000")
    set_policy(user, "none")
    data = detail(client, bearer, user, mine)
    assert data["attributes"]["backup_phone"] == "+8613911112222"
    timeline = client.get(f"/api/v1/customers/{mine.pk}/timeline", **bearer(user)).json()["items"]
    assert next(e for e in timeline if e["field"] == "mobile")["new"] == "+8613500135000"


def test_admin_list_page_masks_and_detail_page_follows_policy(world, client, masking_on):
    user = world["salesperson"]
    client.force_login(user)
    html = client.get("/customers/customer/").content.decode()
    assert "138****8000" in html and "13800138000" not in html and "Theirs" not in html
    html = client.get(f"/customers/customer/{world['mine'].pk}/change/").content.decode()
    assert "138****8000" in html and "+8613800138000" not in html
    set_policy(user, "except_private")
    html = client.get(f"/customers/customer/{world['mine'].pk}/change/").content.decode()
    assert "+8613800138000" in html


def test_a_second_group_widens_a_salespersons_scope_only_by_a_visible_public_sea(world):
    group = CustomerGroup.objects.create(name="B", public_sea_visible=False)
    assign(world["company_pool"], group)
    group.salespeople.add(world["salesperson"])
    assert visible(world["salesperson"]) == {"Mine"}
    group.public_sea_visible = True
    group.save(update_fields=["public_sea_visible"])
    assert visible(world["salesperson"]) == {"Mine", "Company pool"}  # issue 12: the group's public sea
    assert parameters.get("MASKING_ENABLED") is True


@pytest.mark.django_db
def test_customer_created_by_a_salesperson_lands_in_their_private_sea(personas):
    from shoal.customers import selectors
    from shoal.customers import services as customer_services
    from shoal.customers.models import CustomerGroup

    sales = personas["salesperson"]
    lonely = customer_services.customer_create(actor=sales, data={"name": "no group yet", "mobile": "13812340000"})
    assert not selectors.customer_queryset(actor=sales).filter(pk=lonely.pk).exists()  # company public sea
    group = CustomerGroup.objects.create(name="Team")
    group.salespeople.add(sales)
    mine = customer_services.customer_create(actor=sales, data={"name": "mine", "mobile": "13812340001"})
    membership = mine.memberships.get()
    assert membership.group == group and membership.salesperson == sales and membership.assigned_at
    assert selectors.customer_queryset(actor=sales).filter(pk=mine.pk).exists()
    assert mine.timeline.filter(kind="group").exists()
    # an administrator's new customer stays in the company public sea
    admin_made = customer_services.customer_create(actor=personas["admin"], data={"mobile": "13812340002"})
    assert not admin_made.memberships.exists()
