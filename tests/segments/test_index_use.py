"""The condition compiler's SQL for a custom field shown in filters is the expression its index is on."""

import pytest
from django.db import connection

from shoal.customers import services
from shoal.customers.models import Customer
from shoal.segments.selectors import condition_q


@pytest.mark.django_db
@pytest.mark.parametrize("tree", [
    {"field": "assets", "op": "gte", "value": 1000},
    {"field": "assets", "op": "between", "value": [10, 20]},
    {"field": "assets", "op": "eq", "value": 5},
])
def test_filter_on_an_indexed_custom_field_uses_its_index(tree):
    services.custom_field_create(actor=None, key="assets", label="资产", type="money", show_in_filter=True)
    for i in range(50):
        services.customer_create(actor=None, data={"ent_user_id": f"c{i}", "attributes": {"assets": i * 100}})
    qs = Customer.objects.filter(condition_q(query=tree)).order_by()
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "USING INDEX cust_attr_x_assets" in plan, plan
        else:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "cust_attr_j_assets" in plan, plan


@pytest.mark.django_db
@pytest.mark.parametrize("keyword", ["@Some_Handle", "13800138000", "c7@example.com", "42"])
def test_keyword_search_for_a_handle_mobile_or_id_is_answered_from_indexes(keyword):
    """``@name`` compares telegram case-insensitively: SQLite through the NOCASE index (migration 0008),
    PostgreSQL through UPPER(telegram); no full scan of the customers."""
    from shoal.customers.selectors import customer_list

    for i in range(50):
        services.customer_create(actor=None, data={"ent_user_id": f"c{i}", "telegram": f"user{i}"})
    qs = customer_list(actor=None, q=keyword).order_by()
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = [row[3] for row in cursor.fetchall()]
            assert not any(step.startswith("SCAN customers_customer") for step in plan), plan
            if keyword.startswith("@"):
                assert any("customer_telegram_nocase_idx" in step for step in plan), plan
        else:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on customers_customer" not in plan, plan
            if keyword.startswith("@"):
                assert "customer_telegram_upper_idx" in plan, plan
    assert customer_list(actor=None, q="@USER7").get().ent_user_id == "c7"
