"""Filter indexes: a custom field shown in filters has an expression index on its attributes key."""

import pytest
from django.db import connection

from shoal.customers import indexes, services
from shoal.customers.models import Customer, EnumGroup, EnumItem
from shoal.segments.selectors import segment_queryset

pytestmark = pytest.mark.django_db


def _field(key="assets", type="money", **attrs):
    return services.custom_field_create(actor=None, key=key, label=key, type=type, **attrs)


def test_index_exists_after_enabling_show_in_filter_and_is_gone_after_disabling():
    definition = _field(show_in_filter=False)
    assert indexes.existing_indexes("assets") == set()
    services.custom_field_update(actor=None, definition=definition, data={"show_in_filter": True})
    assert len(indexes.existing_indexes("assets")) == 1
    services.custom_field_update(actor=None, definition=definition, data={"show_in_filter": False})
    assert indexes.existing_indexes("assets") == set()


def test_field_created_for_filters_gets_its_index_and_loses_it_when_deleted():
    definition = _field(key="files", type="integer", show_in_filter=True)
    assert indexes.existing_indexes("files") == {indexes.wanted_index(definition)[0]}
    services.custom_field_delete(actor=None, definition=definition)
    assert indexes.existing_indexes("files") == set()


def test_disabling_a_field_drops_its_index():
    definition = _field(key="vip", type="boolean", show_in_filter=True)
    services.custom_field_update(actor=None, definition=definition, data={"enabled": False})
    assert indexes.existing_indexes("vip") == set()


def test_changing_the_type_replaces_the_index():
    definition = _field(key="score", type="integer", show_in_filter=True)
    before = indexes.existing_indexes("score")
    services.custom_field_update(actor=None, definition=definition, data={"type": "date"})
    after = indexes.existing_indexes("score")
    assert len(after) == 1
    if connection.vendor == "postgresql":  # jsonb expression for numbers, text for dates
        assert after != before


def test_index_names_stay_within_postgresql_limits():
    name = indexes.index_name("k" * 63, indexes.JSONB)
    assert len(name) <= 63 and name != indexes.index_name("k" * 62 + "x", indexes.JSONB)
    with pytest.raises(ValueError):
        indexes.index_name("bad key'); drop table x; --", indexes.JSONB)


def _plan(sql, params=()):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row) for row in cursor.fetchall())


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize("query", [
    {"field": "plan", "op": "eq", "value": "pro"},
    {"field": "assets", "op": "between", "value": [1000, 5000]},
    {"field": "last_login", "op": "gte", "value": "2025-01-01T00:00:00Z"},
    {"field": "nickname", "op": "eq", "value": "Ab"},
])
def test_postgresql_filters_of_the_segments_compiler_can_use_the_index(query):
    group = EnumGroup.objects.create(code="plan", name="plan")
    EnumItem.objects.create(group=group, code="pro", label="Pro")
    _field(key="plan", type="enum", enum_group_id=group.pk, show_in_filter=True)
    _field(key="assets", type="money", show_in_filter=True)
    _field(key="last_login", type="datetime", show_in_filter=True)
    _field(key="nickname", type="text", show_in_filter=True)
    sql, params = segment_queryset(actor=None, query=query).order_by().values("pk").query.sql_with_params()
    plan = _plan(sql, params)
    assert indexes.PREFIX in plan and f"_{query['field']}" in plan, plan


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_sqlite_index_matches_djangos_key_expression_with_the_path_inlined():
    _field(key="assets", type="money", show_in_filter=True)
    Customer.objects.create(mobile="+8613800138000", attributes={"assets": 10})
    expr = indexes.key_expression_sql("assets")
    plan = _plan(f'SELECT id FROM customers_customer WHERE {expr} >= 5')
    assert indexes.index_name("assets", indexes.SQLITE) in plan
