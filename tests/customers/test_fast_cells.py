"""core.admin_lists.fast_cells draws the same list cells as unfold's items_for_result, byte for byte: every
column kind of the customer list (links, masked values, enums, local dates, booleans, numbers, tags, custom
fields of every type) and a generic admin's (model fields, callables, booleans, dates, empty values)."""

import datetime

import pytest
from django.contrib.admin.views.main import ChangeList
from django.test import RequestFactory
from unfold.templatetags import unfold_list

from shoal.core import admin_lists
from shoal.customers import columns, services
from shoal.customers.models import Customer, CustomField, EnumGroup, EnumItem, FieldType
from tests.customers.conftest import assign


def _both(cl):
    """Each row's cells from fast_cells and from unfold's own function."""
    fast = [[str(c) for c in admin_lists.fast_cells(cl, r, None)] for r in cl.result_list]
    slow = [[str(c) for c in admin_lists._original_items_for_result(cl, r, None)] for r in cl.result_list]
    return fast, slow


@pytest.fixture
def every_kind(world, masking_on):
    group = EnumGroup.objects.create(code="plan", name="plan")
    EnumItem.objects.create(group=group, code="pro", label="Pro <b>")
    kinds = {FieldType.TEXT: "a <tag> & \"q\"", FieldType.LONG_TEXT: "long", FieldType.INTEGER: 1234567,
             FieldType.DECIMAL: "1234.5", FieldType.MONEY: "919007.5", FieldType.DATE: "2026-12-01",
             FieldType.DATETIME: "2026-12-01T06:54:34+00:00", FieldType.BOOLEAN: True, FieldType.ENUM: "pro",
             FieldType.MULTI_ENUM: ["pro"], FieldType.PHONE: "+8613900001111", FieldType.EMAIL: "a@b.example",
             FieldType.URL: "https://example.com/?a=1&b=2"}
    attrs = {}
    for kind, value in kinds.items():
        CustomField.objects.create(key=f"k_{kind}", label=f"L {kind}", type=kind, show_in_list=True,
                                   enum_group=group if "enum" in kind else None)
        attrs[f"k_{kind}"] = value
    made = [services.customer_create(actor=None, data={"name": "Full <x>", "mobile": "13700137001",
                                                       "email": "full@example.com", "attributes": attrs}),
            services.customer_create(actor=None, data={"ent_user_id": "empty-one"})]
    for c in made:
        assign(c, world["group"], world["salesperson"])
    Customer.objects.filter(pk=made[1].pk).update(name="")
    return world


def test_customer_list_cells_are_unfolds(every_kind):
    from shoal.core.site import site

    user = every_kind["salesperson"]
    codes = [c["code"] for c in columns.available()]
    columns.save_user_columns(user, codes)  # every column, standard, custom and other apps'
    request = RequestFactory().get("/customers/customer/")
    request.user = user
    request.session = {}
    model_admin = site._registry[Customer]
    cl = model_admin.get_changelist_instance(request)
    assert len(cl.list_display) >= len(codes) and len(cl.result_list) >= 3
    fast, slow = _both(cl)
    assert fast == slow
    html = "".join(fast[0] + fast[1])
    assert "139****1111" in html and "13900001111" not in html  # masked custom phone


def test_customer_list_page_html_unchanged(client, every_kind, monkeypatch):
    client.force_login(every_kind["salesperson"])
    columns.save_user_columns(every_kind["salesperson"], [c["code"] for c in columns.available()])
    fast = client.get("/customers/customer/").content
    monkeypatch.setattr(unfold_list, "items_for_result", admin_lists._original_items_for_result)
    slow = client.get("/customers/customer/").content
    strip = __import__("re").compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub(b"", fast) == strip.sub(b"", slow)


def test_generic_admin_cells_are_unfolds(db, personas):
    """Model fields (dates, booleans, foreign keys, choices), admin callables (boolean, a date value, a label),
    an empty value and a missing attribute."""
    from shoal.accounts.models import User
    from shoal.core.admin_mixins import ShoalModelAdmin
    from shoal.core.site import site

    class Admin(ShoalModelAdmin):
        list_display = ("action_checkbox", "id", "username", "is_active", "last_login", "date_joined", "flag",
                        "when", "nothing", "get_full_name")
        list_display_links = None

        def flag(self, obj):
            return obj.is_staff
        flag.boolean = True

        def when(self, obj):
            return datetime.date(2026, 12, 3)

        def nothing(self, obj):
            return None
        nothing.empty_value_display = "(none)"

    User.objects.filter(pk=personas["admin"].pk).update(last_login=datetime.datetime(2026, 12, 1, 6, 0,
                                                                                     tzinfo=datetime.UTC))
    model_admin = Admin(User, site)
    request = RequestFactory().get("/accounts/user/")
    request.user = personas["admin"]
    request.session = {}
    cl = ChangeList(request, User, model_admin.list_display, None, (), None, (), None, model_admin.list_per_page,
                    model_admin.list_max_show_all, (), model_admin, None, "")
    fast, slow = _both(cl)
    for a, b in zip(fast, slow, strict=True):
        for x, y in zip(a, b, strict=True):
            assert x == y
    assert len(fast) >= 4


def test_lists_with_links_keep_unfolds_cells(db, personas):
    from shoal.accounts.models import User
    from shoal.core.admin_mixins import ShoalModelAdmin
    from shoal.core.site import site

    model_admin = ShoalModelAdmin(User, site)
    request = RequestFactory().get("/accounts/user/")
    request.user = personas["admin"]
    cl = ChangeList(request, User, ("username", "is_active"), ("username",), (), None, (), None, 100, 200, (),
                    model_admin, None, "")
    assert admin_lists._plan(cl) is None
    fast, slow = _both(cl)
    assert fast == slow
