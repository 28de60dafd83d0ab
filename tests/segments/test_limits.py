"""Denial of service and 500s in conditions (issue 8 §3/§4): size limits checked before any work,
deep custom SQL refused, 1,000-value ``in`` lists on both databases, out-of-range values refused."""

import json
import time

import pytest

from shoal.customers import services as customer_services
from shoal.customers.models import CustomField
from shoal.segments.tree import MAX_NODES, MAX_VALUES

PREVIEW = "/api/v1/segments/preview"


@pytest.fixture
def admin_headers(personas, bearer):
    return bearer(personas["admin"])


@pytest.fixture
def shop(db):
    CustomField.objects.create(key="assets", label="资产", type="money", show_in_filter=True)
    CustomField.objects.create(key="plan", label="套餐", type="text", show_in_filter=True)
    CustomField.objects.create(key="seen", label="最近访问", type="datetime", show_in_filter=True)
    target = customer_services.customer_create(actor=None, data={
        "name": "Target", "mobile": "13800138999", "email": "t@example.com", "attributes": {"assets": 999, "plan": "v999"}})
    other = customer_services.customer_create(actor=None, data={
        "name": "Other", "mobile": "13800138000", "attributes": {"assets": 5000, "plan": "none"}})
    return {"target": target, "other": other}


def post(client, path, body, headers):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data=raw, content_type="application/json", **headers)


def leaf(i=0):
    return {"field": "name", "op": "eq", "value": f"n{i}"}


# -- tree size limits, before any work -------------------------------------------------------------
@pytest.mark.django_db
def test_more_nodes_than_the_limit_are_refused_before_validation(client, admin_headers):
    # every leaf names an unknown field: the size error comes first, so no leaf was looked at
    tree = {"any": [{"field": "nope", "op": "eq", "value": i} for i in range(MAX_NODES)]}
    resp = post(client, PREVIEW, {"query": tree}, admin_headers)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_condition" and error["detail"]["limit"] == MAX_NODES


@pytest.mark.django_db
def test_more_list_values_than_the_limit_are_refused_before_validation(client, admin_headers):
    lists = [{"field": "nope", "op": "in", "value": list(range(1000))} for _ in range(MAX_VALUES // 1000 + 1)]
    started = time.monotonic()
    resp = post(client, "/api/v1/segments/validate", {"query": {"any": lists}}, admin_headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["detail"]["limit"] == MAX_VALUES
    assert time.monotonic() - started < 2


@pytest.mark.django_db
def test_a_tree_at_the_limits_is_accepted(client, admin_headers, shop):
    nodes = [leaf(i) for i in range(MAX_NODES - 1)]  # + the group: exactly MAX_NODES
    assert post(client, "/api/v1/segments/validate", {"query": {"any": nodes}}, admin_headers).status_code == 200
    values = {"any": [{"field": "plan", "op": "in", "value": [f"v{i}" for i in range(j, j + 1000)]}
                      for j in range(0, MAX_VALUES, 1000)]}
    resp = post(client, PREVIEW, {"query": values}, admin_headers)
    assert resp.status_code == 200 and resp.json()["count"] == 1


# -- in lists of 1,000 values (SQLite: expression depth) ---------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("field, values", [
    ("name", [f"n{i}" for i in range(999)] + ["target"]),  # case-insensitive text column
    ("mobile", [f"1380013{i:04d}" for i in range(999)] + ["13800138999"]),  # normalised column
    ("email", [f"x{i}@example.com" for i in range(999)] + ["T@example.com"]),
    ("assets", list(range(1000, 1999)) + [999]),  # custom number
    ("plan", [f"w{i}" for i in range(999)] + ["v999"]),  # custom text
    ("id", None),
])
def test_in_lists_of_a_thousand_values_work(client, admin_headers, shop, field, values):
    if values is None:
        values = list(range(10**6, 10**6 + 999)) + [shop["target"].pk]
    assert len(values) == 1000
    resp = post(client, PREVIEW, {"query": {"field": field, "op": "in", "value": values}}, admin_headers)
    assert resp.status_code == 200, resp.content
    assert [c["id"] for c in resp.json()["sample"]] == [shop["target"].pk]
    resp = post(client, PREVIEW, {"query": {"field": field, "op": "not_in", "value": values}}, admin_headers)
    assert resp.status_code == 200 and shop["target"].pk not in [c["id"] for c in resp.json()["sample"]]
    assert shop["other"].pk in [c["id"] for c in resp.json()["sample"]]


# -- custom SQL nesting ------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("sql", [
    "(" * 60 + "name = 'a'" + ")" * 60,
    "NOT " * 100 + "name = 'a'",
    "(NOT " * 15 + "name = 'a'" + ")" * 15,
    "assets = " + "abs(" * 30 + "1" + ")" * 30,
    "(" * 500 + "name = 'a'" + ")" * 500,
])
def test_deeply_nested_sql_is_a_400(client, admin_headers, shop, sql):
    for path in (PREVIEW, "/api/v1/segments/validate"):
        resp = post(client, path, {"sql": sql}, admin_headers)
        assert resp.status_code == 400, resp.content
        assert resp.json()["error"]["code"] == "invalid_sql"


@pytest.mark.django_db
def test_sql_nested_up_to_the_limit_runs(client, admin_headers, shop):
    sql = "(" * 10 + "NOT " * 9 + "name = 'nobody'" + ")" * 10  # 19 levels: odd NOTs, so everyone
    resp = post(client, PREVIEW, {"sql": sql}, admin_headers)
    assert resp.status_code == 200 and resp.json()["count"] == 2


# -- values out of range: 4xx, never 500 ---------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"sql": "created_at > days_ago(1e400)"},
    {"sql": "created_at > days_ago(400000)"},
    {"sql": "created_at > days_ago(2.5)"},
    '{"query": {"field": "assets", "op": "gt", "value": 1e400}}',
    '{"query": {"field": "assets", "op": "gt", "value": NaN}}',
    '{"query": {"field": "assets", "op": "in", "value": [1, Infinity]}}',
    '{"query": {"field": "id", "op": "eq", "value": 9223372036854775808}}',
    '{"query": {"field": "id", "op": "between", "value": [-1e20, 1]}}',
    {"query": {"field": "created_at", "op": "gt", "value": "9999-12-31T23:59:59-14:00"}},
    {"query": {"field": "created_at", "op": "lt", "value": "0001-01-01T00:00:00+14:00"}},
    {"query": {"field": "seen", "op": "gt", "value": "9999-12-31T23:59:59-14:00"}},
    {"query": {"field": "seen", "op": "between", "value": ["0001-01-01T00:00:00+14:00", "2020-01-01"]}},
    {"query": {"field": "registered_at", "op": "eq", "value": "0001-01-01T00:00:00"}},
])
def test_out_of_range_values_are_a_400(client, admin_headers, shop, body):
    for path in ("/api/v1/segments/validate", PREVIEW):
        resp = post(client, path, body, admin_headers)
        assert resp.status_code == 400, (path, resp.content)
        assert resp.json()["error"]["code"] in ("invalid_condition", "invalid_sql")


@pytest.mark.django_db
@pytest.mark.parametrize("sql", [
    "assets > 1e400", "assets < -1e400", "assets = 'NaN'", "assets > 'Infinity'",
    "created_at > '9999-12-31T23:59:59-14:00'", "created_at < '0001-01-01T00:00:00+14:00'",
    "seen > '9999-12-31T23:59:59-14:00'", "id = 9223372036854775808", "id > 1e20",
])
def test_extreme_literals_in_custom_sql_are_never_a_500(client, admin_headers, shop, sql):
    resp = post(client, PREVIEW, {"sql": sql}, admin_headers)
    assert resp.status_code < 500, resp.content
    if resp.status_code >= 400:
        assert set(resp.json()["error"]) == {"code", "message", "detail"}


# -- UI rows --------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("rows", [
    [{"lparen": "(", "field": "name", "op": "eq", "value": "x", "logic": "and"} for _ in range(198)]
    + [{"field": "name", "op": "eq", "value": "x", "rparen": ")" * 198}],
    [{"lparen": "(" * 199, "field": "name", "op": "eq", "value": "x", "rparen": ")" * 199}],
    [{"lparen": 10**6, "field": "name", "op": "eq", "value": "x", "rparen": 10**6}],
])
def test_deeply_nested_rows_are_a_400(client, admin_headers, rows):
    resp = post(client, "/api/v1/segments/from-rows", {"rows": rows}, admin_headers)
    assert resp.status_code == 400, resp.content
    assert resp.json()["error"]["code"] == "invalid_rows"
