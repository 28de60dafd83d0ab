"""After an upgrade, the built-in roles get the permissions that appeared since (and only those)."""

import pytest

from shoal.accounts.demo import (
    KNOWN_CODES,
    default_roles,
    ensure_default_roles,
    grant_new_default_permissions,
)
from shoal.core.models import ParameterValue
from shoal.core.permissions import all_permission_codes

pytestmark = pytest.mark.django_db


def _pretend_code_is_new(code: str, roles) -> None:
    """The state before an upgrade that brought ``code``: no role holds it, it is not known."""
    for role in roles.values():
        role.permissions = [c for c in role.permissions if c != code]
        role.save(update_fields=["permissions"])
    ParameterValue.objects.update_or_create(code=KNOWN_CODES,
                                            defaults={"value": sorted(all_permission_codes() - {code})})


def test_a_new_permission_reaches_the_built_in_roles_whose_defaults_include_it():
    roles = ensure_default_roles()
    code = "sales.follow_ups.create"
    assert code in default_roles()["salesperson"]["permissions"]
    _pretend_code_is_new(code, roles)
    assert grant_new_default_permissions() >= 2  # salesperson, manager, admin
    for name in ("salesperson", "manager", "admin"):
        roles[name].refresh_from_db()
        assert code in roles[name].permissions, name
    assert grant_new_default_permissions() == 0  # known now: a second migrate grants nothing


def test_a_permission_the_admin_took_away_stays_away():
    roles = ensure_default_roles()
    grant_new_default_permissions()  # every code known
    sales = roles["salesperson"]
    sales.permissions = [c for c in sales.permissions if c != "sales.follow_ups.create"]
    sales.save(update_fields=["permissions"])
    assert grant_new_default_permissions() == 0
    sales.refresh_from_db()
    assert "sales.follow_ups.create" not in sales.permissions


def test_a_new_code_outside_a_roles_defaults_is_not_granted():
    roles = ensure_default_roles()
    code = "system.users.create"
    assert code not in default_roles()["salesperson"]["permissions"]
    _pretend_code_is_new(code, roles)
    grant_new_default_permissions()
    roles["salesperson"].refresh_from_db()
    roles["admin"].refresh_from_db()
    assert code not in roles["salesperson"].permissions and code in roles["admin"].permissions


def test_first_run_after_the_feature_takes_the_codes_roles_hold_as_known():
    roles = ensure_default_roles()
    ParameterValue.objects.filter(code=KNOWN_CODES).delete()
    code = "sales.follow_ups.create"
    for role in roles.values():
        role.permissions = [c for c in role.permissions if c != code]
        role.save(update_fields=["permissions"])
    grant_new_default_permissions()
    roles["salesperson"].refresh_from_db()
    assert code in roles["salesperson"].permissions
