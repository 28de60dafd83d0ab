"""The advanced query page's server side (issue 8 §5): operators by use, saved queries keep their
rows (parentheses as written), the page knows the time zone and the enum labels."""

import json
import re

import pytest

from shoal.customers.models import CustomField
from shoal.segments.models import SavedQuery
from shoal.segments.rows import rows_to_tree
from tests.segments.conftest import post

ROWS = [{"lparen": "(", "field": "city", "op": "eq", "value": "深圳", "rparen": "", "logic": "and"},
        {"lparen": "", "field": "assets", "op": "gt", "value": 1000, "rparen": ")", "logic": "or"},
        {"lparen": "", "field": "city", "op": "eq", "value": "北京", "rparen": "", "logic": "and"}]


@pytest.fixture
def assets(db):
    return CustomField.objects.create(key="assets", label="资产", type="money", show_in_filter=True)


@pytest.mark.django_db
def test_operators_are_offered_by_use_equals_first(client, personas, bearer, assets):
    fields = {f["key"]: f for f in client.get("/api/v1/segments/fields", **bearer(personas["admin"])).json()}
    assert fields["city"]["operators"] == ["eq", "ne", "in", "not_in", "contains", "not_contains", "starts_with",
                                           "ends_with", "is_empty", "is_not_empty"]
    assert fields["assets"]["operators"][:6] == ["eq", "ne", "in", "not_in", "gt", "gte"]
    assert fields["created_at"]["operators"][0] == "eq"


@pytest.mark.django_db
def test_a_saved_query_keeps_its_rows_and_its_query_is_made_from_them(client, personas, bearer, assets):
    admin = bearer(personas["admin"])
    response = post(client, "/api/v1/saved-queries", {"name": "括号", "rows": ROWS}, admin)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["rows"] == ROWS and body["query"] == rows_to_tree(ROWS)
    assert client.get(f"/api/v1/saved-queries/{body['id']}", **admin).json()["rows"] == ROWS

    # rows and a query that disagree, or rows that do not parse: refused, nothing saved
    other = {"field": "city", "op": "eq", "value": "上海"}
    bad = post(client, "/api/v1/saved-queries", {"name": "乱", "rows": ROWS, "query": other}, admin)
    assert bad.status_code == 400 and set(bad.json()["error"]) == {"code", "message", "detail"}
    unbalanced = post(client, "/api/v1/saved-queries", {"name": "乱", "rows": ROWS[:1]}, admin)
    assert unbalanced.status_code == 400 and not SavedQuery.objects.filter(name="乱").exists()

    # a new query without rows: the old rows no longer describe it
    patched = client.patch(f"/api/v1/saved-queries/{body['id']}", data=json.dumps({"query": other}),
                           content_type="application/json", **admin).json()
    assert patched["rows"] is None and patched["query"] == other


@pytest.mark.django_db
def test_the_query_page_knows_the_time_zone_and_enum_labels(client, personas, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    client.force_login(personas["admin"])
    html = client.get("/query/").content.decode()
    labels = json.loads(re.search(r'<script id="query-labels" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))
    assert labels["timeZone"] == "Asia/Shanghai"
    assert labels["enums"]["source"]["ads"] == "广告投放" and labels["enums"]["status"]["active"]
