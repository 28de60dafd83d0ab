import pytest
from django.utils import timezone

from shoal.core import parameters
from shoal.customers import services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from tests.conftest import make_user


@pytest.fixture
def new_customer(db):
    """Create a customer through the service (actor: system)."""
    counter = {"n": 0}

    def make(**data):
        counter["n"] += 1
        if not any(data.get(k) for k in ("mobile", "email", "ent_user_id")):
            data["ent_user_id"] = f"ext-{counter['n']}"
        return services.customer_create(actor=None, data=data)

    return make


def assign(customer, group, salesperson=None):
    return CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=salesperson,
                                                  assigned_at=timezone.now() if salesperson else None)


@pytest.fixture
def world(personas, new_customer):
    """A group run by the manager with two salespeople (its public sea hidden from them); a private customer
    each, one in the group's public sea, one in the company public sea."""
    other_sales = make_user("p_sales2", personas["salesperson"].roles.first())
    # its public sea hidden from its salespeople, so a salesperson sees only their own customers here
    # (test_scope_pools.py covers a visible group public sea)
    group = CustomerGroup.objects.create(name="Group A", public_sea_visible=False)
    group.admins.add(personas["manager"])
    group.salespeople.add(personas["salesperson"], other_sales)
    mine = new_customer(name="Mine", mobile="13800138000", email="mine@example.com")
    theirs = new_customer(name="Theirs", mobile="13900139000", email="theirs@example.com")
    group_pool = new_customer(name="Group pool", mobile="13700137000")
    company_pool = new_customer(name="Company pool", mobile="13600136000")
    assign(mine, group, personas["salesperson"])
    assign(theirs, group, other_sales)
    assign(group_pool, group)
    return {"group": group, "other_sales": other_sales, "mine": mine, "theirs": theirs,
            "group_pool": group_pool, "company_pool": company_pool, **personas}


@pytest.fixture
def masking_on(db):
    parameters.set_value("MASKING_ENABLED", True)


@pytest.fixture
def masking_off(db):
    parameters.set_value("MASKING_ENABLED", False)
