"""Default roles and demo organisation (departments, users)."""

from __future__ import annotations

from shoal.core.permissions import MENUS, all_permission_codes

from .models import DataScope, Department, Role, User


def default_roles() -> dict[str, dict]:
    customer_all = [c for c in all_permission_codes() if c.startswith("customers.")]
    # pools and sales work. Manager: all of it, but groups and group rules only viewed and edited (an admin
    # creates and deletes them); salesperson: the seas (view, claim, return) and follow-ups
    pools_all = [c for c in all_permission_codes() if c.startswith(("pools.", "sales."))
                 and not (c.startswith(("pools.groups.", "pools.group_rules.")) and c.endswith((".create", ".delete")))]
    sales_ops = [c for c in ("pools.seas.view", "pools.seas.claim", "pools.seas.return", "sales.follow_ups.view",
                             "sales.follow_ups.create") if c in all_permission_codes()]
    sales_ops += [c for c in all_permission_codes() if c.startswith("sales.tasks.")]  # tasks: the task center
    return {
        "admin": {"name": "管理员", "data_scope": DataScope.ALL, "permissions": sorted(all_permission_codes())},
        "manager": {"name": "部门经理", "data_scope": DataScope.DEPARTMENTS,
                    "permissions": sorted(customer_all + pools_all + ["system.users.view", "system.departments.view",
                                                          "system.operation_log.view"])},
        "salesperson": {"name": "业务员", "data_scope": DataScope.OWN,
                        "permissions": sorted([f"customers.customers.{a}" for a in ("view", "create", "edit", "tag")
                                               if f"customers.customers.{a}" in all_permission_codes()]
                                              + sales_ops)},
    }


def ensure_default_roles() -> dict[str, Role]:
    roles = {}
    for code, spec in default_roles().items():
        role, created = Role.objects.get_or_create(code=code, defaults=spec)
        roles[code] = role
    return roles


KNOWN_CODES = "_internal.permission_codes"  # a ParameterValue row, not a registered (user-visible) parameter


def grant_new_default_permissions(**_signal) -> int:
    """After an upgrade: the built-in roles get the permissions that appeared since the last migrate and that
    their defaults include (a new page for salespeople reaches the existing 业务员 role). Codes known before are
    left as the admin set them: a permission taken away stays away. The first time (no record), the known codes
    are those some role already holds (the 管理员 role got every code there was). Returns how many grants."""
    from django.db import transaction

    from shoal.core.models import ParameterValue

    codes = set(all_permission_codes())
    with transaction.atomic():
        row = ParameterValue.objects.select_for_update().filter(code=KNOWN_CODES).first()
        roles = list(Role.objects.filter(code__in=list(default_roles())))
        if row is not None:
            known = set(row.value or [])
        else:
            known = {c for role in Role.objects.all() for c in (role.permissions or [])}
        new = codes - known
        granted = 0
        if new and roles:
            specs = default_roles()
            for role in roles:
                add = sorted((new & set(specs[role.code]["permissions"])) - set(role.permissions or []))
                if add:
                    role.permissions = sorted({*(role.permissions or []), *add})
                    role.save(update_fields=["permissions"])
                    granted += len(add)
        ParameterValue.objects.update_or_create(code=KNOWN_CODES, defaults={"value": sorted(codes | known)})
    return granted


def load(*, seed: int = 1) -> dict[str, int]:
    from shoal.core.actors import SYSTEM

    from . import services

    roles = ensure_default_roles()
    tree = {"销售部": ["销售一组", "销售二组"], "运营部": ["运营一组"], "VIP客户部": []}
    depts = {}
    for top, children in tree.items():
        parent, _ = Department.objects.get_or_create(name=top, parent=None)
        depts[top] = parent
        for i, child in enumerate(children):
            depts[child], _ = Department.objects.get_or_create(name=child, parent=parent, defaults={"order": i})
    people = [
        ("manager01", "王经理", "male", "销售部", "manager"),
        ("sales01", "李小丹", "female", "销售一组", "salesperson"),
        ("sales02", "张伟", "male", "销售一组", "salesperson"),
        ("sales03", "刘洋", "male", "销售二组", "salesperson"),
        ("ops01", "陈静", "female", "运营一组", "manager"),
    ]
    created = 0
    for i, (username, name, gender, dept, role) in enumerate(people):
        if User.objects.filter(username=username).exists():
            continue
        services.user_create(actor=SYSTEM, username=username, name=name, gender=gender,
                             mobile=f"1380013{seed % 10}{i:03d}", email=f"{username}@example.com",
                             department_ids=[depts[dept].pk], role_ids=[roles[role].pk],
                             masking_policy="except_private")
        created += 1
    return {"departments": Department.objects.count(), "roles": Role.objects.count(), "users created": created,
            "menus": len(MENUS)}
