import json

import pytest
from django.db import connection

from shoal.core.errors import ShoalError
from shoal.customers import services as customer_services
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership, CustomField
from shoal.segments.catalog import field_catalog
from shoal.segments.models import SavedQuery
from shoal.segments.rows import rows_to_tree
from shoal.segments.selectors import segment_queryset
from shoal.segments.sql import guarded, parse_sql
from shoal.segments.tree import parse
from tests.conftest import make_user


def post(client, path, body, headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def shop(db):
    CustomField.objects.create(key="assets", label="资产", type="money", show_in_filter=True)
    CustomField.objects.create(key="plan", label="套餐", type="text", show_in_filter=True)
    people = []
    for i, (city, assets, plan) in enumerate([("深圳", 150000, "pro"), ("广州", 400000, "free"),
                                              ("北京", 200000, "pro"), ("深圳", 50, "ent"), ("上海", None, "")]):
        attrs = {"plan": plan} if plan else {}
        if assets is not None:
            attrs["assets"] = assets
        people.append(customer_services.customer_create(actor=None, data={
            "name": f"客户{i}", "mobile": f"1380013800{i}", "city": city, "attributes": attrs}))
    return people


# -- condition tree validation -------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("tree, path", [
    ({"all": []}, "$.all"),
    ({"any": [{"field": "nope", "op": "eq", "value": 1}]}, "$.any[0]"),
    ({"all": [{"field": "name", "op": "eq", "value": "x"}, {"field": "name", "op": "gt", "value": "x"}]}, "$.all[1]"),
    ({"not": {"field": "birthday", "op": "eq", "value": "yesterday"}}, "$.not"),
    ({"field": "name", "op": "in", "value": "x"}, "$"),
    ({"field": "created_at", "op": "between", "value": ["2024-01-01"]}, "$"),
    ({"field": "name", "op": "is_empty", "value": "x"}, "$"),
    ({"foo": []}, "$"),
    ({"all": [{"any": [{"not": {"field": "name", "op": "eq", "value": 5}}]}]}, "$.all[0].any[0].not"),
])
def test_bad_trees_name_the_bad_node(tree, path):
    with pytest.raises(ShoalError) as exc:
        parse(tree, field_catalog())
    assert exc.value.status == 400 and exc.value.detail["path"] == path


@pytest.mark.django_db
def test_nesting_deeper_than_ten_levels_is_refused():
    tree = {"field": "name", "op": "eq", "value": "x"}
    for _ in range(10):
        tree = {"not": tree}
    with pytest.raises(ShoalError) as exc:
        parse(tree, field_catalog())
    assert "10" in exc.value.message


# -- UI rows ---------------------------------------------------------------------------------------
def test_rows_and_binds_tighter_than_or():
    a, b, c = ({"field": f, "op": "is_empty"} for f in "abc")
    rows = [{**a, "logic": "or"}, {**b, "logic": "and"}, c]
    assert rows_to_tree(rows) == {"any": [a, {"all": [b, c]}]}
    rows = [{**a, "lparen": "(", "logic": "or"}, {**b, "rparen": ")", "logic": "and"}, c]
    assert rows_to_tree(rows) == {"all": [{"any": [a, b]}, c]}


@pytest.mark.parametrize("rows, row", [
    ([{"field": "a", "op": "is_empty", "lparen": "(", "logic": "and"}, {"field": "b", "op": "is_empty"}], 1),
    ([{"field": "a", "op": "is_empty", "logic": "and"}, {"field": "b", "op": "is_empty", "rparen": ")"}], 2),
])
def test_unbalanced_parentheses_name_the_row(rows, row):
    with pytest.raises(ShoalError) as exc:
        rows_to_tree(rows)
    assert exc.value.detail["row"] == row


# -- custom SQL ----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_custom_sql_example_from_the_manual(shop):
    qs = segment_queryset(actor=None, sql="assets > 100000 AND assets <= 500000 AND city IN ('深圳','广州')")
    with guarded():
        assert {c.name for c in qs} == {"客户0", "客户1"}


@pytest.mark.django_db
def test_custom_sql_functions_and_null_checks(shop):
    with guarded():
        names = {c.name for c in segment_queryset(actor=None, sql="lower(plan) = 'pro' AND length(city) = 2")}
        assert names == {"客户0", "客户2"}
        assert {c.name for c in segment_queryset(actor=None, sql="assets IS NULL")} == {"客户4"}
        assert segment_queryset(actor=None, sql="coalesce(assets, 0) >= 0 AND NOT (city LIKE '深%')").count() == 3


HOSTILE = [
    "1=1; DROP TABLE customers_customer",
    "city = 'x'; DELETE FROM customers_customer",
    "1=1 UNION SELECT password FROM accounts_user",
    "id IN (SELECT id FROM accounts_user)",
    "EXISTS (SELECT 1 FROM accounts_user)",
    "pg_sleep(10) IS NULL",
    "load_extension('/tmp/evil.so') IS NULL",
    "ATTACH DATABASE '/tmp/x.db' AS x",
    "city = 'a' /* ; DELETE FROM customers_customer */",
    "city = 'a' -- ; DROP TABLE x",
    "WITH x AS (DELETE FROM customers_customer RETURNING id) SELECT 1",
    "accounts_user.password = 'x'",
    "(SELECT count(*) FROM customers_customer) > 0",
    "randomblob(1000000000) IS NULL",
    "city = 'a' OR 1 = (SELECT 1)",
    "name = current_user",
    "UPDATE customers_customer SET name = 'x'",
    "PRAGMA writable_schema = 1",
    "city",
    "",
]


@pytest.mark.django_db
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_sql_is_refused_and_nothing_changes(client, shop, personas, bearer, text):
    before = list(Customer.objects.order_by("pk").values_list("pk", "name", "city"))
    response = post(client, "/api/v1/segments/validate", {"sql": text}, bearer(personas["admin"]))
    assert response.status_code == 400, (text, response.content)
    assert response.json()["error"]["code"] == ("invalid_condition" if not text else "invalid_sql")
    if text:  # an empty rule is no rule for search; validate (above) refuses it
        response = post(client, "/api/v1/customers/search", {"sql": text}, bearer(personas["admin"]))
        assert response.status_code == 400
    assert list(Customer.objects.order_by("pk").values_list("pk", "name", "city")) == before


@pytest.mark.django_db
def test_refusal_names_the_offending_fragment():
    with pytest.raises(ShoalError) as exc:
        parse_sql("city = 'a' AND pg_sleep(5) IS NULL", field_catalog())
    assert "PG_SLEEP" in exc.value.detail["fragment"].upper()


@pytest.mark.django_db
def test_guarded_execution_is_read_only():
    with pytest.raises(ShoalError):
        with guarded():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM customers_customer")


@pytest.mark.django_db(transaction=True)
def test_guarded_execution_stops_long_queries():
    slow = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
            "SELECT count(*) FROM n")
    with pytest.raises(ShoalError) as exc:
        with guarded(seconds=0.3):
            with connection.cursor() as cursor:
                cursor.execute(slow)
    assert exc.value.code == "query_timeout"


# -- API -----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_search_with_tree_sort_and_pages(client, shop, personas, bearer):
    headers = bearer(personas["admin"])
    body = {"query": {"any": [{"field": "city", "op": "eq", "value": "深圳"},
                              {"field": "assets", "op": "gte", "value": 200000}]},
            "sort": [{"field": "assets", "dir": "desc"}], "page": 1, "page_size": 2}
    response = post(client, "/api/v1/customers/search", body, headers)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["total"] == 4 and len(data["items"]) == 2
    assert [i["name"] for i in data["items"]] == ["客户1", "客户2"]
    data = post(client, "/api/v1/customers/search", {**body, "page": 2}, headers).json()
    assert [i["name"] for i in data["items"]] == ["客户0", "客户3"]


@pytest.mark.django_db
def test_search_applies_data_scope_and_masking(client, shop, personas, bearer):
    salesperson = personas["salesperson"]
    group = CustomerGroup.objects.create(name="G")
    CustomerGroupMembership.objects.create(customer=shop[0], group=group, salesperson=salesperson)
    data = post(client, "/api/v1/customers/search", {"query": {"field": "city", "op": "eq", "value": "深圳"}},
                bearer(salesperson)).json()
    assert data["total"] == 1
    assert data["items"][0]["mobile"] != shop[0].mobile and "****" in data["items"][0]["mobile"]


@pytest.mark.django_db
def test_preview_counts_and_samples(client, shop, personas, bearer):
    data = post(client, "/api/v1/segments/preview", {"sql": "assets > 1000"}, bearer(personas["admin"])).json()
    assert data["count"] == 3 and len(data["sample"]) == 3
    bad = post(client, "/api/v1/segments/preview", {"query": {"field": "assets", "op": "contains", "value": "1"}},
               bearer(personas["admin"]))
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["path"] == "$"


@pytest.mark.django_db
def test_validate_answers_ok(client, shop, personas, bearer):
    response = post(client, "/api/v1/segments/validate", {"query": {"field": "plan", "op": "is_empty"}},
                    bearer(personas["admin"]))
    assert response.json() == {"ok": True}


@pytest.mark.django_db
def test_saved_queries_personal_and_shared(client, shop, personas, bearer):
    alice, bob = personas["manager"], personas["salesperson"]
    mine = post(client, "/api/v1/saved-queries", {"name": "深圳客户", "query": {"field": "city", "op": "eq",
                                                                                 "value": "深圳"}}, bearer(alice))
    assert mine.status_code == 201, mine.content
    shared = post(client, "/api/v1/saved-queries", {"name": "大客户", "sql": "assets > 100000", "shared": True},
                  bearer(alice)).json()
    names_for_bob = {q["name"] for q in client.get("/api/v1/saved-queries", **bearer(bob)).json()}
    assert names_for_bob == {"大客户"}
    assert client.get(f"/api/v1/saved-queries/{mine.json()['id']}", **bearer(bob)).status_code == 404
    assert client.delete(f"/api/v1/saved-queries/{shared['id']}", **bearer(bob)).status_code == 403
    bad = post(client, "/api/v1/saved-queries", {"name": "坏的", "sql": "1; DROP TABLE x"}, bearer(alice))
    assert bad.status_code == 400 and not SavedQuery.objects.filter(name="坏的").exists()
    dup = post(client, "/api/v1/saved-queries", {"name": "大客户", "sql": "assets > 1"}, bearer(alice))
    assert dup.status_code == 409
    assert client.delete(f"/api/v1/saved-queries/{shared['id']}", **bearer(alice)).status_code == 204


@pytest.mark.django_db
def test_outsider_without_view_permission_cannot_search(client, shop, personas, bearer):
    nobody = make_user("nobody2")
    assert post(client, "/api/v1/customers/search", {}, bearer(nobody)).status_code == 403
