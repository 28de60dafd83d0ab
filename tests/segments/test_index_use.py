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
