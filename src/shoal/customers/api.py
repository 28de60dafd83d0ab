"""Customer, custom field, enum and company endpoints. Customer reads go through the scoped
selector; customer output goes through ``masking.mask_customer``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Path, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from shoal.accounts.models import User
from shoal.core import request_memo
from shoal.core.auth import ANY_AUTH, calling_user, require
from shoal.core.pagination import MAX_PAGE, Pages
from shoal.core.schemas import BIG, DbId, DbInt

from . import extensions, masking, selectors, services
from .models import Company, CustomerStatus, CustomField, EnumGroup, EnumItem, FieldType

router = Router(tags=["customers"])


# -- schemas -------------------------------------------------------------------------------------
class CustomerIn(Schema):
    """Standard fields by name and custom fields in ``attributes``; all optional."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    mobile: str | int | None = None
    phone: str | None = None
    email: str | None = None
    ent_user_id: str | int | None = None
    gender: str | None = None
    birthday: str | None = Field(None, description="YYYY-MM-DD")
    city: str | None = None
    qq: str | int | None = None
    wechat: str | None = None
    telegram: str | None = None
    avatar_url: str | None = None
    source: str | None = None
    customer_type: str | None = None
    lifecycle_stage: str | None = None
    status: CustomerStatus | None = None
    notes: str | None = None
    company_id: DbId | None = None
    registered_at: str | None = Field(None, description="ISO 8601 date and time")
    invited_by: DbId | None = Field(None, description="the inviting customer's id (not the customer itself)")
    attributes: dict[str, Any] | None = None


class IdentifyOut(Schema):
    id: int
    created: bool
    changed: list[str]


class IdentifyBatchIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    customers: list[dict[str, Any]] = Field(min_length=1, max_length=services.BATCH_LIMIT)


class IdentifyBatchOut(Schema):
    results: list[dict[str, Any]]


class TagBrief(Schema):
    id: int
    name: str
    kind: str


class GroupBrief(Schema):
    group_id: int
    group: str
    salesperson_id: int | None
    salesperson: str | None
    assigned_at: datetime | None


class CustomerOut(Schema):
    id: int
    name: str
    mobile: str | None
    phone: str
    email: str | None
    ent_user_id: str | None
    gender: str
    birthday: date | None
    city: str
    qq: str
    wechat: str
    telegram: str
    avatar_url: str
    source: str
    customer_type: str
    lifecycle_stage: str
    status: str
    notes: str
    created_at: datetime
    updated_at: datetime
    registered_at: datetime | None
    company_id: int | None
    in_recycle_bin: bool
    attributes: dict[str, Any]
    masked: bool = False
    quality_score: int = 0
    tags: list[TagBrief] = Field(default_factory=list, description="the customer's tags the caller may see")
    groups: list[GroupBrief] = Field(default_factory=list, description="the customer's groups and salespeople")
    invited_by: int | None = Field(None, description="the inviting customer's id")
    last_follow_up_at: datetime | None = None


class CustomerDetailOut(CustomerOut):
    company: dict[str, Any] | None
    contacts: list[dict[str, Any]]
    groups: list[dict[str, Any]]


class CustomerPage(Schema):
    items: list[CustomerOut]
    count: int
    page: int
    page_size: int


class ListFilters(Schema):
    q: str = ""
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=100)
    status: CustomerStatus | None = None
    source: str | None = None
    created_from: date | None = None
    created_to: date | None = None


class TimelineOut(Schema):
    id: int
    kind: str
    field: str
    old: Any
    new: Any
    actor_id: int | None
    actor_name: str
    created_at: datetime
    detail: dict[str, Any]


class StatusIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    ids: list[DbId] = Field(min_length=1, max_length=1000)
    status: CustomerStatus


class CustomerCountOut(Schema):
    count: int


class CustomFieldOut(Schema):
    id: int
    key: str
    label: str
    type: FieldType
    required: bool
    default: Any
    enum_group_id: int | None
    show_in_filter: bool
    show_in_list: bool
    show_in_form: bool
    order: int
    enabled: bool


class FieldIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    key: str | None = Field(None, max_length=63, description="Generated like extra_text_3 when omitted")
    label: str = Field(min_length=1, max_length=100)
    type: FieldType
    required: bool = False
    default: Any = None
    enum_group_id: DbId | None = None
    show_in_filter: bool = False
    show_in_list: bool = False
    show_in_form: bool = True
    order: DbInt = 0
    enabled: bool = True


class FieldPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    key: str | None = None
    label: str | None = Field(None, min_length=1, max_length=100)
    type: FieldType | None = None
    required: bool | None = None
    default: Any = None
    enum_group_id: DbId | None = None
    show_in_filter: bool | None = None
    show_in_list: bool | None = None
    show_in_form: bool | None = None
    order: DbInt | None = None
    enabled: bool | None = None


class ItemOut(Schema):
    id: int
    code: str
    label: str
    order: int
    enabled: bool


class ItemIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    code: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=100)
    order: DbInt = 0
    enabled: bool = True


class ItemPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    code: str | None = Field(None, min_length=1, max_length=64)
    label: str | None = Field(None, min_length=1, max_length=100)
    order: DbInt | None = None
    enabled: bool | None = None


class EnumOut(Schema):
    id: int
    code: str
    name: str
    description: str
    items: list[ItemOut]

    @staticmethod
    def resolve_items(obj):
        return list(obj.items.all())


class EnumIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    code: str = Field(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=255)
    items: list[ItemIn] = []


class EnumPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    code: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=255)


class CompanyOut(Schema):
    id: int
    name: str
    phone: str
    email: str
    website: str
    country: str
    province: str
    city: str
    address: str
    created_at: datetime


class CompanyIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str = Field(min_length=1, max_length=200)
    phone: str = ""
    email: str = ""
    website: str = ""
    country: str = ""
    province: str = ""
    city: str = ""
    address: str = ""


class CompanyPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str | None = Field(None, min_length=1, max_length=200)
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    country: str | None = None
    province: str | None = None
    city: str | None = None
    address: str | None = None


# -- helpers -----------------------------------------------------------------------------------
def _require_customer_writer(request) -> None:
    """Users need create and edit; an enabled application (X-App-Key) may identify."""
    if isinstance(request.auth, User):
        require(request, "customers.customers.create")
        require(request, "customers.customers.edit")




def _detail(request, customer) -> dict:
    customer = selectors.customer_get(actor=request.auth, pk=customer.pk)
    data = masking.mask_customer(selectors.customer_detail_dict(customer), viewer=request.auth,
                                 customer=customer, context="detail")
    return extensions.extend_outputs([data], viewer=request.auth)[0]


# -- customers -----------------------------------------------------------------------------------
@router.post("/customers/identify", response=IdentifyOut, auth=ANY_AUTH,
             summary="Create or update a customer found by its identity fields (mobile, email, ent_user_id)")
def identify_customer(request, payload: CustomerIn):
    _require_customer_writer(request)
    result = services.customer_identify(actor=request.auth, data=payload.dict(exclude_unset=True))
    return {"id": result.customer.pk, "created": result.created, "changed": result.changed}


@router.post("/customers/identify/batch", response=IdentifyBatchOut, auth=ANY_AUTH,
             summary="Identify up to 1000 customers; a result per item")
def identify_customers_batch(request, payload: IdentifyBatchIn):
    _require_customer_writer(request)
    return {"results": services.customer_identify_batch(actor=request.auth, items=payload.customers)}


@router.get("/customers", response=CustomerPage, summary="Customers in the caller's data scope (masked)")
def list_customers(request, filters: Query[ListFilters]):
    require(request, "customers.customers.view")
    with request_memo.active():  # the scope, the parameters and the sensitive fields read once
        return _list_customers(calling_user(request), filters)


def _list_customers(user, filters: ListFilters) -> dict:
    qs = selectors.customer_list(actor=user, q=filters.q, status=filters.status, source=filters.source,
                                 created_from=filters.created_from, created_to=filters.created_to)
    plain = not (filters.q.strip() or filters.status or filters.source or filters.created_from or filters.created_to)
    scope = selectors.membership_scope(actor=user) if plain else None
    count = selectors.customer_count(actor=user, qs=qs, plain=plain, scope=scope)
    rows = selectors.customer_page_rows(actor=user, qs=qs.select_related(None), total=count, plain=plain,
                                        scope=scope, offset=(filters.page - 1) * filters.page_size,
                                        limit=filters.page_size)
    items = extensions.list_outputs(rows, viewer=user)
    return {"items": items, "count": count, "page": filters.page, "page_size": filters.page_size}


@router.post("/customers", response={201: CustomerDetailOut}, summary="Create a customer")
def create_customer(request, payload: CustomerIn):
    require(request, "customers.customers.create")
    customer = services.customer_create(actor=request.auth, data=payload.dict(exclude_unset=True))
    data = masking.mask_customer(selectors.customer_detail_dict(customer), viewer=request.auth,
                                 customer=customer, context="detail")
    return 201, extensions.extend_outputs([data], viewer=request.auth)[0]


@router.post("/customers/status", response=CustomerCountOut, summary="Ban or enable customers (data kept)")
def set_customers_status(request, payload: StatusIn):
    require(request, "customers.customers.edit")
    ids = list(selectors.customer_queryset(actor=request.auth).filter(pk__in=payload.ids)
               .values_list("pk", flat=True))
    return {"count": services.customers_set_status(actor=request.auth, customer_ids=ids, status=payload.status)}


@router.get("/customers/{customer_id}", response=CustomerDetailOut)
def get_customer(request, customer_id: DbId):
    require(request, "customers.customers.view")
    return _detail(request, selectors.customer_get(actor=request.auth, pk=customer_id))


@router.patch("/customers/{customer_id}", response=CustomerDetailOut)
def update_customer(request, customer_id: DbId, payload: CustomerIn):
    require(request, "customers.customers.edit")
    customer = selectors.customer_get(actor=request.auth, pk=customer_id)
    services.customer_update(actor=request.auth, customer=customer, data=payload.dict(exclude_unset=True))
    return _detail(request, customer)


@router.delete("/customers/{customer_id}", response={204: None}, summary="Delete a customer (irreversible)")
def delete_customer(request, customer_id: DbId):
    require(request, "customers.customers.delete")
    services.customer_delete(actor=request.auth, customer=selectors.customer_get(actor=request.auth, pk=customer_id))
    return 204, None


@router.get("/customers/{customer_id}/timeline", response=list[TimelineOut], summary="A customer's timeline")
@paginate(Pages, page_size=50)
def customer_timeline(request, customer_id: int = Path(..., ge=-BIG - 1, le=BIG)):  # noqa: B008 (@paginate hides DbId)
    require(request, "customers.customers.view")
    customer = selectors.customer_get(actor=request.auth, pk=customer_id)
    mask = masking.should_mask(viewer=request.auth, customer=customer, context="detail")
    return extensions.customer_timeline(viewer=request.auth, customer=customer, mask=mask)


# -- custom fields -------------------------------------------------------------------------------
@router.get("/fields", response=list[CustomFieldOut], summary="Custom field definitions")
def list_fields(request):
    require(request, "system.fields.view")
    return CustomField.objects.all()


@router.post("/fields", response={201: CustomFieldOut})
def create_field(request, payload: FieldIn):
    require(request, "system.fields.create")
    return 201, services.custom_field_create(actor=request.auth, **payload.dict())


@router.get("/fields/{field_id}", response=CustomFieldOut)
def get_field(request, field_id: DbId):
    require(request, "system.fields.view")
    return selectors.get_or_404(CustomField, field_id)


@router.patch("/fields/{field_id}", response=CustomFieldOut,
              summary="Edit a field; a type change converts every stored value or is refused")
def update_field(request, field_id: DbId, payload: FieldPatch):
    require(request, "system.fields.edit")
    definition = selectors.get_or_404(CustomField, field_id)
    return services.custom_field_update(actor=request.auth, definition=definition,
                                        data=payload.dict(exclude_unset=True))


@router.delete("/fields/{field_id}", response={204: None}, summary="Delete a field and its stored values")
def delete_field(request, field_id: DbId):
    require(request, "system.fields.delete")
    services.custom_field_delete(actor=request.auth, definition=selectors.get_or_404(CustomField, field_id))
    return 204, None


# -- enums ---------------------------------------------------------------------------------------
@router.get("/enums", response=list[EnumOut])
def list_enums(request):
    require(request, "system.enums.view")
    return EnumGroup.objects.prefetch_related("items")


@router.post("/enums", response={201: EnumOut})
def create_enum(request, payload: EnumIn):
    require(request, "system.enums.create")
    data = payload.dict()
    return 201, services.enum_group_create(actor=request.auth, **data)


@router.get("/enums/{group_id}", response=EnumOut)
def get_enum(request, group_id: DbId):
    require(request, "system.enums.view")
    return selectors.get_or_404(EnumGroup, group_id)


@router.patch("/enums/{group_id}", response=EnumOut)
def update_enum(request, group_id: DbId, payload: EnumPatch):
    require(request, "system.enums.edit")
    group = selectors.get_or_404(EnumGroup, group_id)
    return services.enum_group_update(actor=request.auth, group=group, data=payload.dict(exclude_unset=True))


@router.delete("/enums/{group_id}", response={204: None})
def delete_enum(request, group_id: DbId):
    require(request, "system.enums.delete")
    services.enum_group_delete(actor=request.auth, group=selectors.get_or_404(EnumGroup, group_id))
    return 204, None


def _item(group_id: int, item_id: int) -> EnumItem:
    item = EnumItem.objects.select_related("group").filter(pk=item_id, group_id=group_id).first()
    if item is None:
        from shoal.core.errors import NotFound

        raise NotFound()
    return item


@router.post("/enums/{group_id}/items", response={201: ItemOut})
def create_enum_item(request, group_id: DbId, payload: ItemIn):
    require(request, "system.enums.edit")
    group = selectors.get_or_404(EnumGroup, group_id)
    return 201, services.enum_item_create(actor=request.auth, group=group, data=payload.dict())


@router.patch("/enums/{group_id}/items/{item_id}", response=ItemOut)
def update_enum_item(request, group_id: DbId, item_id: DbId, payload: ItemPatch):
    require(request, "system.enums.edit")
    return services.enum_item_update(actor=request.auth, item=_item(group_id, item_id),
                                     data=payload.dict(exclude_unset=True))


@router.delete("/enums/{group_id}/items/{item_id}", response={204: None},
               summary="Delete an enum item; refused while customers use it")
def delete_enum_item(request, group_id: DbId, item_id: DbId):
    require(request, "system.enums.edit")
    services.enum_item_delete(actor=request.auth, item=_item(group_id, item_id))
    return 204, None


# -- companies -----------------------------------------------------------------------------------
@router.get("/companies", response=list[CompanyOut])
@paginate(Pages, page_size=20)
def list_companies(request, q: str = ""):
    require(request, "customers.companies.view")
    qs = Company.objects.order_by("id")
    if q.strip():
        qs = qs.filter(name__icontains=q.strip())
    return qs


@router.post("/companies", response={201: CompanyOut})
def create_company(request, payload: CompanyIn):
    require(request, "customers.companies.create")
    return 201, services.company_create(actor=request.auth, data=payload.dict())


@router.get("/companies/{company_id}", response=CompanyOut)
def get_company(request, company_id: DbId):
    require(request, "customers.companies.view")
    return selectors.get_or_404(Company, company_id)


@router.patch("/companies/{company_id}", response=CompanyOut)
def update_company(request, company_id: DbId, payload: CompanyPatch):
    require(request, "customers.companies.edit")
    company = selectors.get_or_404(Company, company_id)
    return services.company_update(actor=request.auth, company=company, data=payload.dict(exclude_unset=True))


@router.delete("/companies/{company_id}", response={204: None})
def delete_company(request, company_id: DbId):
    require(request, "customers.companies.delete")
    services.company_delete(actor=request.auth, company=selectors.get_or_404(Company, company_id))
    return 204, None
