from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from shoal.core.auth import calling_user, require
from shoal.core.pagination import Pages
from shoal.core.permissions import permission_tree
from shoal.core.schemas import BIG, INT, DbId

from . import services
from .models import Application, DataScope, Department, MaskingPolicy, Role, User

router = Router(tags=["accounts"])


# -- schemas -------------------------------------------------------------------------------------
class DepartmentOut(Schema):
    id: int
    name: str
    parent_id: int | None
    enabled: bool
    order: int


class DepartmentIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str = Field(min_length=1, max_length=100)
    parent_id: DbId | None = None
    enabled: bool = True
    order: int = Field(0, ge=0, le=INT)


class DepartmentPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str | None = Field(None, min_length=1, max_length=100)
    parent_id: DbId | None = None
    enabled: bool | None = None
    order: int | None = Field(None, ge=0, le=INT)


class RoleOut(Schema):
    id: int
    name: str
    code: str
    description: str
    permissions: list[str]
    data_scope: DataScope


class RoleIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str = Field(min_length=1, max_length=100)
    code: str = Field(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")
    description: str = ""
    permissions: list[str] = []
    data_scope: DataScope = DataScope.OWN


class RolePatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str | None = Field(None, min_length=1, max_length=100)
    code: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")
    description: str | None = None
    permissions: list[str] | None = None
    data_scope: DataScope | None = None


class UserOut(Schema):
    id: int
    username: str
    name: str
    gender: str
    mobile: str
    email: str
    is_active: bool
    must_change_password: bool
    masking_policy: MaskingPolicy
    department_ids: list[int]
    role_ids: list[int]
    last_login: datetime | None

    @staticmethod
    def resolve_department_ids(obj):
        return [d.pk for d in obj.departments.all()]

    @staticmethod
    def resolve_role_ids(obj):
        return [r.pk for r in obj.roles.all()]


class UserIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    username: str = Field(min_length=1, max_length=150)
    name: str = Field("", max_length=100)
    gender: str = Field("", pattern=r"^(male|female|)$")
    mobile: str = Field("", max_length=32)
    email: str = Field("", max_length=254)
    is_active: bool = True
    masking_policy: MaskingPolicy = MaskingPolicy.MASK_ALL
    department_ids: list[DbId] = []
    role_ids: list[DbId] = []


class UserPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    username: str | None = Field(None, min_length=1, max_length=150)
    name: str | None = Field(None, max_length=100)
    gender: str | None = Field(None, pattern=r"^(male|female|)$")
    mobile: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)
    is_active: bool | None = None
    masking_policy: MaskingPolicy | None = None
    department_ids: list[DbId] | None = None
    role_ids: list[DbId] | None = None


class IdsIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    ids: list[DbId] = Field(min_length=1, max_length=1000)


class UserCountOut(Schema):
    count: int


class ApplicationOut(Schema):
    id: int
    name: str
    description: str
    enabled: bool
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    ip_allow_list: list[str]
    publishable_key: str | None
    publishable_event_types: list[str]
    publishable_origins: list[str]

    @staticmethod
    def resolve_ip_allow_list(obj) -> list[str]:
        from .models import split_networks

        value = obj.get("ip_allow_list") if isinstance(obj, dict) else obj.ip_allow_list
        return value if isinstance(value, list) else split_networks(value)


class ApplicationCreated(ApplicationOut):
    key: str


class ApplicationIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=255)
    enabled: bool = True
    ip_allow_list: list[Annotated[str, Field(max_length=64)]] = Field([], max_length=200,
                                                                       description="CIDRs; empty: any address")
    publishable_event_types: list[Annotated[str, Field(max_length=64)]] = Field([], max_length=500)
    publishable_origins: list[Annotated[str, Field(max_length=200)]] = Field([], max_length=50)


class ApplicationPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=255)
    enabled: bool | None = None
    ip_allow_list: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=200)
    publishable_event_types: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=500)
    publishable_origins: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=50)


class PublishableKeyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


class PublishableKeyOut(Schema):
    publishable_key: str | None


class KeyOut(Schema):
    key: str


class MeOut(Schema):
    id: int
    username: str
    name: str
    permissions: list[str]
    data_scope: str
    masking_policy: str


# -- me ------------------------------------------------------------------------------------------
@router.get("/me", response=MeOut, summary="The calling user and their effective permissions")
def me(request):
    calling_user(request)
    user = request.auth
    return {"id": user.pk, "username": user.username, "name": user.name,
            "permissions": sorted(user.shoal_permissions()), "data_scope": user.data_scope(),
            "masking_policy": user.masking_policy}




# -- departments -----------------------------------------------------------------------------
@router.get("/departments", response=list[DepartmentOut])
def list_departments(request):
    require(request, "system.departments.view")
    return Department.objects.all()


@router.post("/departments", response={201: DepartmentOut})
def create_department(request, payload: DepartmentIn):
    require(request, "system.departments.create")
    return 201, services.department_create(actor=request.auth, **payload.dict())


@router.get("/departments/{dept_id}", response=DepartmentOut)
def get_department(request, dept_id: DbId):
    require(request, "system.departments.view")
    return get_object_or_404(Department, pk=dept_id)


@router.patch("/departments/{dept_id}", response=DepartmentOut)
def update_department(request, dept_id: DbId, payload: DepartmentPatch):
    require(request, "system.departments.edit")
    dept = get_object_or_404(Department, pk=dept_id)
    return services.department_update(actor=request.auth, dept=dept, data=payload.dict(exclude_unset=True))


@router.delete("/departments/{dept_id}", response={204: None})
def delete_department(request, dept_id: DbId):
    require(request, "system.departments.delete")
    services.department_delete(actor=request.auth, dept=get_object_or_404(Department, pk=dept_id))
    return 204, None


# -- roles ---------------------------------------------------------------------------------------
@router.get("/roles", response=list[RoleOut])
def list_roles(request):
    require(request, "system.roles.view")
    return Role.objects.all()


@router.get("/permissions", summary="Every menu and action that a role can grant")
def list_permissions(request):
    require(request, "system.roles.view")
    return {"sections": permission_tree()}


@router.post("/roles", response={201: RoleOut})
def create_role(request, payload: RoleIn):
    require(request, "system.roles.create")
    return 201, services.role_create(actor=request.auth, **payload.dict())


@router.get("/roles/{role_id}", response=RoleOut)
def get_role(request, role_id: DbId):
    require(request, "system.roles.view")
    return get_object_or_404(Role, pk=role_id)


@router.patch("/roles/{role_id}", response=RoleOut)
def update_role(request, role_id: DbId, payload: RolePatch):
    require(request, "system.roles.edit")
    role = get_object_or_404(Role, pk=role_id)
    return services.role_update(actor=request.auth, role=role, data=payload.dict(exclude_unset=True))


@router.delete("/roles/{role_id}", response={204: None})
def delete_role(request, role_id: DbId):
    require(request, "system.roles.delete")
    services.role_delete(actor=request.auth, role=get_object_or_404(Role, pk=role_id))
    return 204, None


# -- users ---------------------------------------------------------------------------------------
@router.get("/users", response=list[UserOut])
@paginate(Pages, page_size=20)
def list_users(request, q: str = "", is_active: bool | None = None,
               department_id: int | None = Query(None, ge=-BIG - 1, le=BIG)):  # noqa: B008 (@paginate hides DbId)
    require(request, "system.users.view")
    qs = User.objects.prefetch_related("departments", "roles").order_by("id")
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(username__icontains=q) | Q(name__icontains=q) | Q(mobile__icontains=q)
                       | Q(email__icontains=q))
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    if department_id is not None:
        dept = get_object_or_404(Department, pk=department_id)
        qs = qs.filter(departments__in=dept.descendant_ids()).distinct()
    return qs


@router.post("/users/reset-password", response=UserCountOut, summary="Batch reset to the initial password")
def reset_passwords(request, payload: IdsIn):
    require(request, "system.users.reset_password")
    return {"count": services.users_reset_password(actor=request.auth, user_ids=payload.ids)}


@router.post("/users", response={201: UserOut}, summary="Create a user with the initial password")
def create_user(request, payload: UserIn):
    require(request, "system.users.create")
    return 201, services.user_create(actor=request.auth, **payload.dict())


@router.get("/users/{user_id}", response=UserOut)
def get_user(request, user_id: DbId):
    require(request, "system.users.view")
    return get_object_or_404(User, pk=user_id)


@router.get("/users/{user_id}/permissions", summary="Menu permission preview of a user")
def get_user_permissions(request, user_id: DbId):
    require(request, "system.users.view")
    target = get_object_or_404(User, pk=user_id)
    return {"permissions": sorted(target.shoal_permissions()), "data_scope": target.data_scope(),
            "sections": permission_tree(set(target.shoal_permissions()))}


@router.patch("/users/{user_id}", response=UserOut)
def update_user(request, user_id: DbId, payload: UserPatch):
    require(request, "system.users.edit")
    user = get_object_or_404(User, pk=user_id)
    return services.user_update(actor=request.auth, user=user, data=payload.dict(exclude_unset=True))


@router.delete("/users/{user_id}", response={204: None})
def delete_user(request, user_id: DbId):
    require(request, "system.users.delete")
    services.user_delete(actor=request.auth, user=get_object_or_404(User, pk=user_id))
    return 204, None


# -- applications ----------------------------------------------------------------------------
@router.get("/applications", response=list[ApplicationOut])
def list_applications(request):
    require(request, "system.applications.view")
    return Application.objects.all()


@router.post("/applications", response={201: ApplicationCreated},
             summary="Create an application; its key is in this answer only")
def create_application(request, payload: ApplicationIn):
    require(request, "system.applications.create")
    app, raw = services.application_create(actor=request.auth, **payload.dict())
    return 201, {**ApplicationOut.from_orm(app).dict(), "key": raw}


@router.get("/applications/{app_id}", response=ApplicationOut)
def get_application(request, app_id: DbId):
    require(request, "system.applications.view")
    return get_object_or_404(Application, pk=app_id)


@router.patch("/applications/{app_id}", response=ApplicationOut)
def update_application(request, app_id: DbId, payload: ApplicationPatch):
    require(request, "system.applications.edit")
    app = get_object_or_404(Application, pk=app_id)
    return services.application_update(actor=request.auth, app=app, data=payload.dict(exclude_unset=True))


@router.post("/applications/{app_id}/rotate-key", response=KeyOut)
def rotate_application_key(request, app_id: DbId):
    require(request, "system.applications.edit")
    app = get_object_or_404(Application, pk=app_id)
    return {"key": services.application_rotate_key(actor=request.auth, app=app)}


@router.post("/applications/{app_id}/publishable-key", response=PublishableKeyOut,
             summary="Issue a new publishable (page-side, write-only) key, or withdraw it with enabled=false")
def publishable_application_key(request, app_id: DbId, payload: PublishableKeyIn):
    require(request, "system.applications.edit")
    app = get_object_or_404(Application, pk=app_id)
    return {"publishable_key": services.application_publishable_key(actor=request.auth, app=app,
                                                                     enabled=payload.enabled)}


@router.delete("/applications/{app_id}", response={204: None})
def delete_application(request, app_id: DbId):
    require(request, "system.applications.delete")
    services.application_delete(actor=request.auth, app=get_object_or_404(Application, pk=app_id))
    return 204, None
