# ruff: noqa: F811  (the live-server fixtures of tests/http, imported, are the tests' parameters)
"""Customer export over real HTTP (a live server): the API with a bearer token and with a browser session, the
export page and the customer list's batch action; the error shapes (400, 403, 404)."""

import csv
import io
import json
import re
from urllib.parse import quote

import pytest
from django.utils import timezone
from python_calamine import CalamineWorkbook

from shoal.accounts.models import Role
from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.core.models import OperationLog
from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from tests.conftest import make_user
from tests.http.conftest import http, raw_token, session_http  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


@pytest.fixture
def people(roles):
    parameters.set_value("MASKING_ENABLED", False)
    admin = make_user("exp_admin", roles["admin"])
    seller_role = Role.objects.create(name="导出业务员", code="sales_export", data_scope="own",
                                      permissions=[*roles["salesperson"].permissions, "customers.customers.export"])
    seller = make_user("exp_seller", seller_role)
    plain = make_user("exp_plain", roles["salesperson"])  # no export permission
    group = CustomerGroup.objects.create(name="组A")
    made = []
    for i, (name, city) in enumerate([("深圳一", "深圳"), ("深圳二", "深圳"), ("广州一", "广州")]):
        made.append(customer_services.customer_create(actor=SYSTEM, data={"name": name, "city": city,
                                                                          "mobile": f"1380013800{i}"}))
    CustomerGroupMembership.objects.create(customer=made[0], group=group, salesperson=seller,
                                           assigned_at=timezone.now())
    return {"admin": admin, "seller": seller, "plain": plain, "customers": made}


def bearer(raw_token, user):
    return {"Authorization": f"Bearer {raw_token(user)}"}


def test_csv_download_with_a_token(http, raw_token, people):
    response = http.get("/api/v1/exports", params={"fields": "id,name,mobile,city,groups,salespeople"},
                        headers=bearer(raw_token, people["admin"]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    match = re.fullmatch(r'attachment; filename="customers-(\d{8}-\d{4})\.csv"', disposition)
    assert match, disposition
    assert abs(int(match.group(1)[-4:]) - int(timezone.localtime().strftime("%H%M"))) in (0, 1, 59, 2359)
    assert response.headers["cache-control"] == "private, no-store"
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = csv_rows(response)
    assert [r[1] for r in rows[1:]] == ["深圳一", "深圳二", "广州一"]
    assert rows[1][2:] == ["13800138000", "深圳", "组A", "exp_seller"]
    entry = OperationLog.objects.get(action="customer.export")
    assert entry.actor == people["admin"] and entry.detail["rows"] == 3 and entry.detail["source"] == "api"


def test_query_saved_query_ids_and_keyword_narrow_the_file(http, raw_token, people):
    headers = bearer(raw_token, people["admin"])
    tree = json.dumps({"field": "city", "op": "eq", "value": "深圳"})
    response = http.get(f"/api/v1/exports?fields=name&query={quote(tree)}", headers=headers)
    assert response.status_code == 200 and csv_rows(response)[1:] == [["深圳一"], ["深圳二"]]
    ids = f"{people['customers'][2].pk},{people['customers'][0].pk}"
    response = http.get("/api/v1/exports", params={"fields": "name", "ids": ids}, headers=headers)
    assert csv_rows(response)[1:] == [["深圳一"], ["广州一"]]
    response = http.get("/api/v1/exports", params={"fields": "name", "keyword": "广州"}, headers=headers)
    assert csv_rows(response)[1:] == [["广州一"]]
    saved = http.post("/api/v1/saved-queries", headers=headers,
                      json={"name": "广州", "query": {"field": "city", "op": "eq", "value": "广州"}}).json()
    response = http.get("/api/v1/exports", params={"fields": "name", "saved_query": saved["id"]}, headers=headers)
    assert csv_rows(response)[1:] == [["广州一"]]


def test_a_salesperson_gets_only_their_customers(http, raw_token, people):
    response = http.get("/api/v1/exports", params={"fields": "name"}, headers=bearer(raw_token, people["seller"]))
    assert response.status_code == 200 and csv_rows(response)[1:] == [["深圳一"]]


def test_gb18030_and_xlsx(http, raw_token, people):
    headers = bearer(raw_token, people["admin"])
    response = http.get("/api/v1/exports", params={"fields": "name", "encoding": "gb18030"}, headers=headers)
    assert response.headers["content-type"] == "text/csv; charset=gb18030"
    assert response.content.decode("gb18030").splitlines()[1] == "深圳一"
    response = http.get("/api/v1/exports", params={"fields": "id,name", "format": "xlsx"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["content-disposition"].endswith('.xlsx"')
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    rows = book.get_sheet_by_name(book.sheet_names[0]).to_python()
    assert [r[1] for r in rows[1:]] == ["深圳一", "深圳二", "广州一"]


@pytest.mark.parametrize("params,code", [
    ({"fields": "name,nope"}, "invalid_fields"),
    ({"format": "pdf"}, "invalid_format"),
    ({"encoding": "latin-1"}, "invalid_encoding"),
    ({"query": "{not json"}, "invalid_query"),
    ({"query": "[1, 2]"}, "invalid_query"),
    ({"query": json.dumps({"field": "nope", "op": "eq", "value": 1})}, "invalid_condition"),
    ({"sql": "city = "}, None),
    ({"ids": "1,x"}, "invalid_ids"),
    ({"saved_query": "abc"}, "validation_error"),
])
def test_bad_input_is_a_400_in_the_error_shape(http, raw_token, people, params, code):
    response = http.get("/api/v1/exports", params=params, headers=bearer(raw_token, people["admin"]))
    assert response.status_code == 400, (params, response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["message"] and (code is None or error["code"] == code), error
    assert not OperationLog.objects.filter(action="customer.export").exists()


def test_unknown_saved_query_is_a_404(http, raw_token, people):
    response = http.get("/api/v1/exports", params={"saved_query": 999999}, headers=bearer(raw_token, people["admin"]))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_without_the_export_permission_it_is_a_403(http, raw_token, people):
    headers = bearer(raw_token, people["plain"])
    for path in ("/api/v1/exports", "/api/v1/exports/fields"):
        response = http.get(path, headers=headers)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "permission_denied"
    assert http.get("/api/v1/exports").status_code == 401  # nobody


def test_the_fields_endpoint_lists_keys_labels_and_groups(http, raw_token, people):
    customer_services.custom_field_create(actor=SYSTEM, key="plan", label="套餐", type="text")
    response = http.get("/api/v1/exports/fields", headers={**bearer(raw_token, people["admin"]),
                                                           "Accept-Language": "zh-hans"})
    assert response.status_code == 200
    fields = {f["key"]: f for f in response.json()}
    assert fields["name"]["group"] == "standard" and fields["plan"] == {
        "key": "plan", "label": "套餐", "group": "custom", "group_label": fields["plan"]["group_label"]}
    assert {"tags", "quality_score", "groups", "salespeople"} <= set(fields)


def test_a_browser_session_downloads_through_the_api_and_the_page(session_http, people, live_server):
    client = session_http("exp_admin")
    response = client.get("/api/v1/exports", params={"fields": "name"})  # GET: no CSRF token needed
    assert response.status_code == 200 and csv_rows(response)[1:] == [["深圳一"], ["深圳二"], ["广州一"]]
    # the export page: the form, then the file
    page = client.get("/imports/export/", params={"query": json.dumps({"field": "city", "op": "eq", "value": "深圳"})})
    assert page.status_code == 200 and 'id="export-form"' in page.text and 'name="fields"' in page.text
    assert re.search(r'id="export-count">\s*\S*.*2', page.text)
    response = client.post("/imports/export/", data={
        "csrfmiddlewaretoken": client.csrf, "query": json.dumps({"field": "city", "op": "eq", "value": "深圳"}),
        "fields": ["id", "name"], "format": "csv", "encoding": "utf-8", "download": "1"},
        headers={"Referer": live_server.url + "/imports/export/"})
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-disposition"].startswith("attachment;")
    assert [r[1] for r in csv_rows(response)[1:]] == ["深圳一", "深圳二"]
    # without the CSRF token the download is refused
    refused = client.post("/imports/export/", data={"fields": ["name"], "download": "1"},
                          headers={"Referer": live_server.url + "/imports/export/"})
    assert refused.status_code == 403
    # a bad query: a message on the page, not a 500
    page = client.get("/imports/export/", params={"query": "{oops"})
    assert page.status_code == 200 and 'id="export-download"' not in page.text


def test_the_list_action_exports_the_selection_or_every_filtered_customer(session_http, people, live_server):
    client = session_http("exp_admin")
    shenzhen = [c.pk for c in people["customers"][:2]]
    url = "/customers/customer/"
    headers = {"Referer": live_server.url + url}
    # the action first shows the form, with the selection carried along
    form = client.post(url, data={"csrfmiddlewaretoken": client.csrf, "action": "customers_export",
                                  "_selected_action": [str(shenzhen[0])]}, headers=headers)
    assert form.status_code == 200 and 'id="export-form"' in form.text
    assert f'name="_selected_action" value="{shenzhen[0]}"' in form.text
    response = client.post(url, data={"csrfmiddlewaretoken": client.csrf, "action": "customers_export",
                                      "_selected_action": [str(shenzhen[0])], "select_across": "0",
                                      "fields": ["id", "name"], "format": "xlsx", "download": "1"}, headers=headers)
    assert response.status_code == 200, response.text[:300]
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    assert [r[1] for r in book.get_sheet_by_name(book.sheet_names[0]).to_python()[1:]] == ["深圳一"]
    # "select all" with the list's search: every customer the search finds
    response = client.post(url + "?q=%E5%B9%BF%E5%B7%9E", data={
        "csrfmiddlewaretoken": client.csrf, "action": "customers_export", "_selected_action": [str(shenzhen[0])],
        "select_across": "1", "fields": ["name"], "format": "csv", "download": "1"}, headers=headers)
    assert response.status_code == 200 and csv_rows(response)[1:] == [["广州一"]]
    assert OperationLog.objects.filter(action="customer.export", detail__source="page").count() == 2


def test_the_list_offers_the_action_only_with_the_permission(session_http, people):
    assert 'value="customers_export"' in session_http("exp_admin").get("/customers/customer/").text
    assert 'value="customers_export"' not in session_http("exp_plain").get("/customers/customer/").text
    assert session_http("exp_plain").get("/imports/export/").status_code == 403
