"""Custom SQL (segments.sql): the manual's examples work, hostile SQL is refused and changes nothing,
execution is read-only and time-limited."""

import pytest
from django.db import connection

from shoal.core.errors import ShoalError
from shoal.customers.models import Customer
from shoal.segments.catalog import field_catalog
from shoal.segments.selectors import segment_queryset
from shoal.segments.sql import guarded, parse_sql
from tests.segments.conftest import post


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
