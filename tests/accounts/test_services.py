"""Accounts services: roles and permissions, the department tree, the operation log."""

import pytest

from shoal.accounts import services
from shoal.accounts.models import Department, Role, User
from shoal.core.errors import ShoalError
from shoal.core.models import OperationLog
from tests.conftest import make_user


@pytest.mark.django_db
def test_user_permissions_are_the_union_of_roles():
    r1 = Role.objects.create(name="r1", code="r1", permissions=["system.users.view"])
    r2 = Role.objects.create(name="r2", code="r2", permissions=["system.roles.view"], data_scope="departments")
    user = make_user("multi")
    user.roles.set([r1, r2])
    user = User.objects.get(pk=user.pk)
    assert user.shoal_permissions() == {"system.users.view", "system.roles.view"}
    assert user.data_scope() == "departments"


@pytest.mark.django_db
def test_role_with_unknown_permission_is_refused():
    with pytest.raises(ShoalError) as exc:
        services.role_create(actor=None, name="bad", code="bad", permissions=["no.such.thing"])
    assert exc.value.detail == {"codes": ["no.such.thing"]}
    assert not Role.objects.filter(code="bad").exists()


@pytest.mark.django_db
def test_department_tree_and_guards():
    top = services.department_create(actor=None, name="销售部")
    child = services.department_create(actor=None, name="销售一组", parent_id=top.pk)
    grandchild = services.department_create(actor=None, name="小队", parent_id=child.pk)
    assert str(grandchild) == "销售部 / 销售一组 / 小队"
    assert top.descendant_ids() == {top.pk, child.pk, grandchild.pk}
    with pytest.raises(ShoalError):  # no cycles
        services.department_update(actor=None, dept=top, data={"parent_id": grandchild.pk})
    with pytest.raises(ShoalError):  # children first
        services.department_delete(actor=None, dept=top)
    assert Department.objects.count() == 3


@pytest.mark.django_db
def test_operation_log_records_who_did_what(superuser):
    user = services.user_create(actor=superuser, username="logged-op")
    services.user_update(actor=superuser, user=user, data={"name": "Changed"})
    actions = list(OperationLog.objects.filter(object_id=str(user.pk)).values_list("action", "actor_name"))
    assert ("user.create", "root") in actions and ("user.update", "root") in actions
