"""Filters and sorts given in the customer list's URL follow the masking rule of conditions:
on a field masked for the user only exact values (``exact``, ``in``, ``isnull``); ``__regex`` /
``__iregex`` never, for any field and any user. A refused filter never reaches the database:
the list is shown without it, with a message saying why (never a 500)."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shoal.core import parameters
from shoal.core.site import site
from shoal.customers import services
from shoal.customers.models import Customer, CustomField
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
LIST = "/customers/customer/"


@pytest.fixture
def people(roles):
    parameters.set_value("MASKING_ENABLED", True)
    CustomField.objects.create(key="backup_phone", label="Backup phone", type="phone", show_in_list=True)
    CustomField.objects.create(key="plan", label="Plan", type="text", show_in_list=True)
    target = services.customer_create(actor=None, data={
        "name": "Target", "mobile": "13812345678", "email": "secret@example.com", "notes": "aaaa",
        "attributes": {"backup_phone": "13712345678", "plan": "pro"}})
    other = services.customer_create(actor=None, data={"name": "Other", "mobile": "13900000001",
                                                       "attributes": {"plan": "free"}})
    return {"masked": make_user("masked_admin", roles["admin"], masking_policy="mask_all", language="en"),
            "clear": make_user("clear_admin", roles["admin"], masking_policy="none", language="en"),
            "target": target, "other": other}


def _customer_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "customers_customer" in q["sql"]]


def _refused(client, params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, params)
    assert response.status_code == 302, (params, response.status_code)
    assert not _customer_queries(queries), params  # the filter never ran
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    return response, shown


@pytest.mark.parametrize("params, field", [
    ({"mobile__startswith": "+86138"}, "mobile"),
    ({"mobile__contains": "1234"}, "mobile"),
    ({"mobile__gt": "+86138"}, "mobile"),
    ({"mobile__range": "+86130,+86139"}, "mobile"),
    ({"email__contains": "example"}, "email"),
    ({"email__iendswith": ".com"}, "email"),
    ({"email__lower__startswith": "s"}, "email"),
    ({"phone__startswith": "0"}, "phone"),
    ({"attributes__backup_phone__contains": "137"}, "Backup phone"),
    ({"attributes__backup_phone__startswith": "+86137"}, "Backup phone"),
    ({"attributes__icontains": "1371"}, "custom fields"),
])
def test_partial_filters_on_masked_fields_are_refused_with_a_message(client, people, params, field):
    client.force_login(people["masked"])
    response, shown = _refused(client, {**params, "status__exact": "active"})
    assert response["Location"] == LIST + "?status__exact=active"  # the other filters are kept
    assert len(shown) == 1 and field in shown[0] and "masked" in shown[0]
    page = client.get(response["Location"])
    assert page.status_code == 200 and field in page.content.decode()


def test_refusal_messages_name_the_field_as_the_user_reads_it(client, people):
    people["masked"].language = "zh-hans"
    people["masked"].save()
    client.force_login(people["masked"])
    for params, label in [({"mobile__startswith": "+86138"}, "手机号"),
                          ({"attributes__backup_phone__contains": "137"}, "Backup phone")]:
        _response, shown = _refused(client, params)
        assert shown[-1].startswith(label), shown
        assert "mobile" not in shown[-1] and "attributes" not in shown[-1]


@pytest.mark.parametrize("params", [
    {"mobile": "+8613812345678"}, {"mobile__exact": "+8613812345678"},
    {"mobile__in": "+8613812345678,+8613000000000"}, {"email": "secret@example.com"},
    {"attributes__backup_phone": "+8613712345678"},
])
def test_exact_filters_on_masked_fields_still_work(client, people, params):
    client.force_login(people["masked"])
    response = client.get(LIST, params)
    assert response.status_code == 200, params
    html = response.content.decode()
    assert "Target" in html and "Other" not in html
    response = client.get(LIST, {"mobile__isnull": "False"})
    assert response.status_code == 200 and "Target" in response.content.decode()


def test_a_no_masking_user_may_filter_masked_fields_partially(client, people):
    client.force_login(people["clear"])
    html = client.get(LIST, {"mobile__startswith": "+86138"}).content.decode()
    assert "Target" in html and "Other" not in html


@pytest.mark.parametrize("who", ["masked", "clear", "root"])
@pytest.mark.parametrize("params", [{"notes__regex": "(a+)+b"}, {"name__iregex": "^T"}, {"mobile__regex": "^\\+86"},
                                    {"attributes__plan__regex": "p.*"}])
def test_regex_filters_are_never_accepted_from_the_url(client, people, who, params):
    user = make_user("root", is_superuser=True, masking_policy="none", language="en") if who == "root" \
        else people[who]
    client.force_login(user)
    response, shown = _refused(client, params)
    assert response["Location"] == LIST
    assert len(shown) == 1 and "regular expression" in shown[0]


def test_lookup_allowed_refuses_too(people, rf):
    admin = site._registry[Customer]
    request = rf.get(LIST)
    request.user = people["masked"]
    assert not admin.lookup_allowed("mobile__startswith", "1", request)
    assert not admin.lookup_allowed("notes__regex", "a", request)
    assert admin.lookup_allowed("mobile__in", "1", request) and admin.lookup_allowed("name__icontains", "a", request)
    request.user = people["clear"]
    assert admin.lookup_allowed("mobile__startswith", "1", request)
    assert not admin.lookup_allowed("notes__iregex", "a", request)


def test_json_key_contains_is_a_filter_or_a_clean_refusal(client, people):
    client.force_login(people["clear"])
    response = client.get(LIST, {"attributes__plan__contains": "pro"})
    if connection.features.supports_json_field_contains:  # PostgreSQL: a JSON containment filter
        html = response.content.decode()
        assert response.status_code == 200 and "Target" in html and "Other" not in html
    else:  # SQLite cannot: refused with a message instead of a 500
        assert response.status_code == 302 and response["Location"] == LIST
        assert [str(m) for m in get_messages(response.wsgi_request)] == ["This filter is not supported by the database."]
    assert client.get(LIST, {"attributes__plan__icontains": "PR"}).status_code == 200


def test_sorting_by_a_masked_column_is_refused(client, people, monkeypatch):
    admin = site._registry[Customer]
    monkeypatch.setattr(admin, "get_list_display", lambda request: ["id_link", "name_link", "mobile"])
    client.force_login(people["masked"])
    response, shown = _refused(client, {"o": "3"})  # 0: the action checkbox
    assert len(shown) == 1 and "mobile" in shown[0]
    assert client.get(LIST, {"o": "2"}).status_code == 200  # by name: fine
    client.force_login(people["clear"])
    html = client.get(LIST, {"o": "-3"}).content.decode()
    assert html.index("Other") < html.index("Target")  # +86139… before +86138…


@pytest.mark.parametrize("url, params", [("/accounts/user/", {"username__regex": "(a+)+b"}),
                                         ("/core/operationlog/", {"object_repr__iregex": "(a+)+b"}),
                                         ("/customers/company/", {"name__regex": "x"})])
def test_every_shoal_admin_list_refuses_regex_filters(client, people, url, params):
    client.force_login(make_user("root", is_superuser=True, masking_policy="none", language="en"))
    assert client.get(url).status_code == 200
    response = client.get(url, params)
    assert response.status_code == 302 and response["Location"] == url
    assert ["regular expression" in str(m) for m in get_messages(response.wsgi_request)] == [True]


def test_filters_through_relations_are_refused_with_a_message_not_a_bare_400(client, people):
    client.force_login(people["clear"])
    response, shown = _refused(client, {"contacts__phone__startswith": "1", "status__exact": "active"})
    assert response["Location"] == LIST + "?status__exact=active"
    assert shown == ["Filtering by contacts__phone__startswith is not allowed."]
