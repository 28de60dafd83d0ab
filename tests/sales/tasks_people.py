"""The task center's people: an owner and a colleague (salespeople of one department), their department
manager, a group admin, an outsider (a salesperson of another department), and customers in their scopes."""

from shoal.accounts.models import DataScope, Department, Role
from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from tests.conftest import make_user


def make_team(roles) -> dict:
    """Each test module's ``team`` fixture: ``return make_team(roles)``."""
    sales = Department.objects.create(name="Sales")
    east = Department.objects.create(name="East", parent=sales)
    other = Department.objects.create(name="Other")
    lead_role = Role.objects.create(name="Group lead", code="group_lead", data_scope=DataScope.GROUPS,
                                    permissions=roles["manager"].permissions)
    people = {
        "owner": make_user("t_owner", roles["salesperson"], name="Owner", department_ids=[east.pk]),
        "colleague": make_user("t_colleague", roles["salesperson"], name="Colleague", department_ids=[east.pk]),
        "manager": make_user("t_manager", roles["manager"], name="Manager", department_ids=[sales.pk]),
        "lead": make_user("t_lead", lead_role, name="Lead"),
        "outsider": make_user("t_outsider", roles["salesperson"], name="Outsider", department_ids=[other.pk]),
        "grouped": make_user("t_grouped", roles["salesperson"], name="Grouped", department_ids=[other.pk]),
        "admin": make_user("t_admin", roles["admin"], name="Admin"),
    }
    group = CustomerGroup.objects.create(name="Task group")
    group.admins.add(people["lead"])
    group.salespeople.add(people["owner"], people["grouped"])
    mine = customer_services.customer_create(actor=None, data={"name": "Zhang San", "mobile": "13800138000"})
    theirs = customer_services.customer_create(actor=None, data={"name": "Li Si", "mobile": "13900139000"})
    CustomerGroupMembership.objects.create(customer=mine, group=group, salesperson=people["owner"])
    CustomerGroupMembership.objects.create(customer=theirs, group=group, salesperson=people["outsider"])
    return {**people, "group": group, "mine": mine, "theirs": theirs, "east": east}
