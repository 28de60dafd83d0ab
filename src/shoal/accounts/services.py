"""Writes for departments, users, roles, applications and tokens. Each logs the operation."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core import parameters
from shoal.core.actors import is_system
from shoal.core.errors import Conflict, NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.permissions import validate_codes
from shoal.core.services import model_update

from .models import ApiToken, Application, DataScope, Department, MaskingPolicy, Role, User

USER_FIELDS = ("name", "gender", "mobile", "email", "masking_policy", "language")


# -- departments --------------------------------------------------------------------------------
def _check_parent(dept: Department | None, parent_id: int | None) -> Department | None:
    if parent_id is None:
        return None
    parent = Department.objects.filter(pk=parent_id).first()
    if parent is None:
        raise ShoalError("invalid_parent", gettext("Parent department does not exist"), {"parent": parent_id})
    if dept is not None and dept.pk and parent.pk in dept.descendant_ids():
        raise ShoalError("invalid_parent", gettext("A department cannot be moved under itself or its children"),
                         {"parent": parent_id})
    return parent


def department_create(*, actor, name: str, parent_id: int | None = None, enabled: bool = True,
                      order: int = 0) -> Department:
    name = (name or "").strip()
    if not name:
        raise ShoalError("invalid", gettext("Department name is required"), {"field": "name"})
    parent = _check_parent(None, parent_id)
    if Department.objects.filter(parent=parent, name=name).exists():
        raise Conflict("duplicate", gettext("A department with this name already exists here"), {"field": "name"})
    dept = Department.objects.create(name=name, parent=parent, enabled=enabled, order=order)
    log_operation(actor=actor, action="department.create", obj=dept)
    return dept


def department_update(*, actor, dept: Department, data: dict) -> Department:
    values = {key: data[key] for key in ("enabled", "order") if key in data and data[key] is not None}
    if "parent_id" in data:
        values["parent"] = _check_parent(dept, data["parent_id"])
    if "name" in data:
        values["name"] = (data["name"] or "").strip()
        if not values["name"]:
            raise ShoalError("invalid", gettext("Department name is required"), {"field": "name"})
    parent, name = values.get("parent", dept.parent), values.get("name", dept.name)
    if Department.objects.filter(parent=parent, name=name).exclude(pk=dept.pk).exists():
        raise Conflict("duplicate", gettext("A department with this name already exists here"), {"field": "name"})
    model_update(instance=dept, fields=("parent", "name", "enabled", "order"), data=values)
    log_operation(actor=actor, action="department.update", obj=dept, detail={"fields": sorted(data)})
    return dept


def department_delete(*, actor, dept: Department) -> None:
    if dept.children.exists():
        raise Conflict("in_use", gettext("Delete or move the sub-departments first"), {"id": dept.pk})
    if dept.users.exists():
        raise Conflict("in_use", gettext("The department still has users"), {"id": dept.pk})
    log_operation(actor=actor, action="department.delete", obj=dept)
    dept.delete()


# -- roles --------------------------------------------------------------------------------------
def role_create(*, actor, name: str, code: str, permissions: Iterable[str] = (), data_scope: str = DataScope.OWN,
                description: str = "") -> Role:
    if data_scope not in DataScope.values:
        raise ShoalError("invalid", gettext("Unknown data scope"), {"field": "data_scope", "choices": DataScope.values})
    if not (name or "").strip() or not (code or "").strip():
        raise ShoalError("invalid", gettext("Role name and code are required"), {"fields": ["name", "code"]})
    try:
        with transaction.atomic():
            role = Role.objects.create(name=name.strip(), code=code.strip(), permissions=validate_codes(permissions),
                                       data_scope=data_scope, description=description)
    except IntegrityError:
        raise Conflict("duplicate", gettext("A role with this name or code already exists"), {"fields": ["name", "code"]})
    log_operation(actor=actor, action="role.create", obj=role)
    return role


def role_update(*, actor, role: Role, data: dict) -> Role:
    values = {key: data[key].strip() for key in ("name", "code", "description") if data.get(key) is not None}
    if "permissions" in data and data["permissions"] is not None:
        values["permissions"] = validate_codes(data["permissions"])
    if data.get("data_scope") is not None:
        if data["data_scope"] not in DataScope.values:
            raise ShoalError("invalid", gettext("Unknown data scope"), {"field": "data_scope", "choices": DataScope.values})
        values["data_scope"] = data["data_scope"]
    try:
        with transaction.atomic():
            model_update(instance=role, fields=("name", "code", "description", "permissions", "data_scope"),
                         data=values)
    except IntegrityError:
        raise Conflict("duplicate", gettext("A role with this name or code already exists"), {"fields": ["name", "code"]})
    log_operation(actor=actor, action="role.update", obj=role, detail={"fields": sorted(data)})
    return role


def role_delete(*, actor, role: Role) -> None:
    log_operation(actor=actor, action="role.delete", obj=role)
    role.delete()


# -- users --------------------------------------------------------------------------------------
def _set_relations(user: User, department_ids, role_ids) -> None:
    if department_ids is not None:
        found = list(Department.objects.filter(pk__in=department_ids))
        if len(found) != len(set(department_ids)):
            raise ShoalError("invalid", gettext("Unknown department"), {"field": "department_ids"})
        user.departments.set(found)
    if role_ids is not None:
        found = list(Role.objects.filter(pk__in=role_ids))
        if len(found) != len(set(role_ids)):
            raise ShoalError("invalid", gettext("Unknown role"), {"field": "role_ids"})
        user.roles.set(found)


def _validate_user_fields(data: dict) -> None:
    if data.get("masking_policy") is not None and data["masking_policy"] not in MaskingPolicy.values:
        raise ShoalError("invalid", gettext("Unknown masking policy"),
                         {"field": "masking_policy", "choices": MaskingPolicy.values})
    if data.get("gender") not in (None, "", "male", "female"):
        raise ShoalError("invalid", gettext("Gender must be male, female or empty"), {"field": "gender"})


@transaction.atomic
def user_create(*, actor, username: str, password: str | None = None, department_ids=None, role_ids=None,
                is_active: bool = True, is_superuser: bool = False, must_change_password: bool | None = None,
                **fields) -> User:
    username = (username or "").strip()
    if not username:
        raise ShoalError("invalid", gettext("Account is required"), {"field": "username"})
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("duplicate", gettext("This account already exists"), {"field": "username"})
    _validate_user_fields(fields)
    initial = password is None
    user = User(username=username, is_active=is_active, is_superuser=is_superuser, is_staff=True,
                **{k: v for k, v in fields.items() if k in USER_FIELDS and v is not None})
    user.set_password(parameters.get("SYS_USER_DEFAULT_PASSWORD") if initial else password)
    user.must_change_password = initial if must_change_password is None else must_change_password
    user.save()
    _set_relations(user, department_ids, role_ids)
    log_operation(actor=actor, action="user.create", obj=user)
    return user


def _end_sessions(user_ids: set[int]) -> None:
    """Delete the sessions of these users (database sessions: decoded, as Django stores them)."""
    if not user_ids:
        return
    wanted = {str(i) for i in user_ids}
    stale = [s.pk for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
             if s.get_decoded().get("_auth_user_id") in wanted]
    Session.objects.filter(pk__in=stale).delete()


@transaction.atomic
def user_update(*, actor, user: User, data: dict) -> User:
    _validate_user_fields(data)
    values = {key: data[key] for key in USER_FIELDS if key in data and data[key] is not None}
    if data.get("username"):
        values["username"] = username = data["username"].strip()
        if User.objects.filter(username__iexact=username).exclude(pk=user.pk).exists():
            raise Conflict("duplicate", gettext("This account already exists"), {"field": "username"})
    disabling = data.get("is_active") is False and user.is_active
    if data.get("is_active") is not None:
        if not is_system(actor) and actor.pk == user.pk and data["is_active"] is False:
            raise ShoalError("invalid", gettext("You cannot disable yourself"), {"field": "is_active"})
        values["is_active"] = data["is_active"]
    model_update(instance=user, fields=(*USER_FIELDS, "username", "is_active"), data=values)
    _set_relations(user, data.get("department_ids"), data.get("role_ids"))
    if disabling:
        _end_sessions({user.pk})
    log_operation(actor=actor, action="user.update", obj=user, detail={"fields": sorted(data)})
    return user


def users_set_active(*, actor, user_ids: Iterable[int], active: bool) -> int:
    ids = set(user_ids)
    if not active and not is_system(actor):
        ids.discard(actor.pk)
    count = User.objects.filter(pk__in=ids).update(is_active=active)
    if not active:
        _end_sessions(ids)
    log_operation(actor=actor, action="user.enable" if active else "user.disable", object_type="user",
                  object_id=",".join(map(str, sorted(ids)))[:64], detail={"ids": sorted(ids)})
    return count


def users_reset_password(*, actor, user_ids: Iterable[int]) -> int:
    """Batch reset to the initial password; each user must change it at next login."""
    initial = parameters.get("SYS_USER_DEFAULT_PASSWORD")
    users = list(User.objects.filter(pk__in=set(user_ids)))
    for user in users:
        user.set_password(initial)
        user.must_change_password = True
    User.objects.bulk_update(users, ["password", "must_change_password"])
    _end_sessions({u.pk for u in users})
    ApiToken.objects.filter(user__in=users).delete()
    log_operation(actor=actor, action="user.reset_password", object_type="user",
                  detail={"ids": sorted(u.pk for u in users)})
    return len(users)


@transaction.atomic
def user_reset_password(*, actor, user: User, password: str | None = None) -> User:
    """Reset one user's password: to the initial password (parameter SYS_USER_DEFAULT_PASSWORD) when
    ``password`` is None, else to ``password`` (checked by the password validators). The user must
    change it at next login; their sessions end and their API tokens are revoked."""
    from django.contrib.auth import password_validation
    from django.core.exceptions import ValidationError

    initial = password is None
    if initial:
        password = parameters.get("SYS_USER_DEFAULT_PASSWORD")
    else:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise ShoalError("invalid", " ".join(exc.messages), {"field": "password"})
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    _end_sessions({user.pk})
    revoked = ApiToken.objects.filter(user=user).delete()[0]
    log_operation(actor=actor, action="user.reset_password", obj=user,
                  detail={"initial": initial, "tokens_revoked": revoked})
    return user


def user_delete(*, actor, user: User) -> None:
    if not is_system(actor) and actor.pk == user.pk:
        raise ShoalError("invalid", gettext("You cannot delete yourself"))
    log_operation(actor=actor, action="user.delete", obj=user)
    user.delete()


def user_get(*, username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NotFound(gettext("No user %(username)s") % {"username": username})
    return user


# -- applications and tokens -------------------------------------------------------------------
APPLICATION_FIELDS = ("name", "description", "enabled", "ip_allow_list", "publishable_event_types",
                      "publishable_origins")
MAX_NETWORKS = 200
MAX_ORIGINS = 50


def clean_ip_allow_list(value) -> str:
    """The allow list as stored: one CIDR per line, each checked (a bare address is a /32 or /128)."""
    import ipaddress

    from .models import split_networks

    if value is None:
        return ""
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ShoalError("invalid", gettext("The IP allow list must be text"), {"field": "ip_allow_list"})
    parts = split_networks(value)
    if len(parts) > MAX_NETWORKS:
        raise ShoalError("invalid", gettext("At most %(limit)s networks in the IP allow list") % {"limit": MAX_NETWORKS},
                         {"field": "ip_allow_list"})
    cleaned = []
    for part in parts:
        try:
            cleaned.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ShoalError("invalid", gettext("%(value)s is not an IP address or network (CIDR)") % {"value": part[:60]},
                             {"field": "ip_allow_list", "value": part[:60]})
    return "\n".join(dict.fromkeys(cleaned))


def clean_origins(value) -> list[str]:
    """Web origins (``https://shop.example.com[:port]``) the publishable key may send from."""
    from urllib.parse import urlsplit

    from .models import normalise_origin

    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in value.replace(",", "\n").splitlines()]
    if not isinstance(value, list):
        raise ShoalError("invalid", gettext("Origins must be a list"), {"field": "publishable_origins"})
    origins = []
    for raw in value:
        text = normalise_origin(str(raw))
        if not text:
            continue
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment \
                or parts.username or parts.password:
            raise ShoalError("invalid", gettext("%(value)s is not a web origin such as https://shop.example.com")
                             % {"value": str(raw)[:80]}, {"field": "publishable_origins", "value": str(raw)[:80]})
        origins.append(text)
    if len(origins) > MAX_ORIGINS:
        raise ShoalError("invalid", gettext("At most %(limit)s origins") % {"limit": MAX_ORIGINS},
                         {"field": "publishable_origins"})
    return list(dict.fromkeys(origins))


def clean_event_codes(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(",", "\n").splitlines()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ShoalError("invalid", gettext("Event types must be a list of codes"), {"field": "publishable_event_types"})
    codes = [v.strip() for v in value if v.strip()]
    if any(len(c) > 64 for c in codes) or len(codes) > 500:
        raise ShoalError("invalid", gettext("Event types must be a list of codes"), {"field": "publishable_event_types"})
    return list(dict.fromkeys(codes))


def _application_values(data: dict) -> dict:
    values = {key: data[key] for key in ("description", "enabled") if data.get(key) is not None}
    if "ip_allow_list" in data:
        values["ip_allow_list"] = clean_ip_allow_list(data["ip_allow_list"])
    if "publishable_origins" in data:
        values["publishable_origins"] = clean_origins(data["publishable_origins"])
    if "publishable_event_types" in data:
        values["publishable_event_types"] = clean_event_codes(data["publishable_event_types"])
    return values


def application_create(*, actor, name: str, description: str = "", enabled: bool = True,
                       **extra) -> tuple[Application, str]:
    name = (name or "").strip()
    if not name:
        raise ShoalError("invalid", gettext("Application name is required"), {"field": "name"})
    if Application.objects.filter(name=name).exists():
        raise Conflict("duplicate", gettext("An application with this name already exists"), {"field": "name"})
    values = _application_values({key: extra[key] for key in APPLICATION_FIELDS if key in extra})
    app = Application(name=name, description=description, enabled=enabled, created_by=None if is_system(actor) else actor,
                      **values)
    raw = app.set_new_key()
    app.save()
    log_operation(actor=actor, action="application.create", obj=app)
    return app, raw


def application_update(*, actor, app: Application, data: dict) -> Application:
    values = _application_values(data)
    if data.get("name") is not None:
        values["name"] = name = data["name"].strip()
        if not name:
            raise ShoalError("invalid", gettext("Application name is required"), {"field": "name"})
        if Application.objects.filter(name=name).exclude(pk=app.pk).exists():
            raise Conflict("duplicate", gettext("An application with this name already exists"), {"field": "name"})
    model_update(instance=app, fields=APPLICATION_FIELDS, data=values)
    log_operation(actor=actor, action="application.update", obj=app, detail={"fields": sorted(data)})
    return app


def application_rotate_key(*, actor, app: Application) -> str:
    raw = app.set_new_key()
    app.save(update_fields=["key_prefix", "key_hash"])
    log_operation(actor=actor, action="application.rotate_key", obj=app)
    return raw


def application_publishable_key(*, actor, app: Application, enabled: bool = True) -> str | None:
    """Issue a new publishable (page-side, write-only) key for ``app``, or withdraw it (``enabled`` False)."""
    key = app.set_new_publishable_key() if enabled else None
    app.publishable_key = key
    app.save(update_fields=["publishable_key"])
    log_operation(actor=actor, action="application.publishable_key", obj=app, detail={"enabled": enabled})
    return key


def application_delete(*, actor, app: Application) -> None:
    log_operation(actor=actor, action="application.delete", obj=app)
    app.delete()


def token_issue(*, actor, user: User, name: str = "") -> str:
    if not user.is_active:
        raise ShoalError("invalid", gettext("The user is disabled"), {"user": user.username})
    token, raw = ApiToken.issue(user, name)
    log_operation(actor=actor, action="token.issue", obj=user, detail={"prefix": token.key_prefix})
    return raw


def token_revoke(*, actor, user: User, token_id) -> bool:
    """Revoke one of ``user``'s API tokens; False when ``user`` has no such token."""
    try:
        token = ApiToken.objects.filter(user=user, pk=int(token_id)).first()
    except (TypeError, ValueError):
        return False
    if token is None:
        return False
    token.delete()
    log_operation(actor=actor, action="token.revoke", obj=user, detail={"prefix": token.key_prefix})
    return True
