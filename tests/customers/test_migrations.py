"""Migration 0007 (identity uniqueness through partial unique indexes), there and back on a database with
customers, a deleted customer and a filter field's expression index."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from shoal.core.errors import ShoalError
from shoal.customers import services
from shoal.customers.models import Customer

BEFORE = ("customers", "0006_drop_unused_indexes")


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Customer._meta.db_table)
    return set(constraints)


def _migrate(target=None):
    """To ``target``, or forwards to every app's latest (apps that depend on customers were rolled back too)."""
    from shoal.customers.indexes import ensure_search_indexes

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    state = executor.migrate([target] if target else executor.loader.graph.leaf_nodes())
    ensure_search_indexes(using=connection.alias, apps=state.apps)  # what ``migrate`` does after (post_migrate)


@pytest.mark.django_db(transaction=True)
def test_identity_index_migration_there_and_back_keeps_rows_ids_and_filter_indexes():
    services.custom_field_create(actor=None, key="score", label="Score", type="integer", show_in_filter=True)
    kept = [services.customer_create(actor=None, data={"mobile": f"1380013800{i}", "email": f"c{i}@example.com"})
            for i in range(3)]
    gone = services.customer_create(actor=None, data={"mobile": "13800138009"})
    services.customer_delete(actor=None, customer=gone)
    after = _indexes()
    assert {"customer_mobile_uniq", "customer_email_uniq", "customer_ent_user_id_uniq"} <= after
    assert any(name.startswith("cust_attr_") for name in after)
    try:
        _migrate(BEFORE)
        assert not any(name.endswith("_uniq") for name in _indexes())
        with pytest.raises(ShoalError):  # still unique on the way back
            services.customer_create(actor=None, data={"mobile": "13800138000"})
        _migrate()
    finally:
        _migrate()
    assert _indexes() == after  # the filter field's index survived SQLite's table rebuild
    assert list(Customer.objects.order_by("pk").values_list("pk", flat=True)) == [c.pk for c in kept]
    with pytest.raises(ShoalError):
        services.customer_create(actor=None, data={"email": "C1@example.com"})
    assert services.customer_create(actor=None, data={"mobile": "13900139000"}).pk > gone.pk  # no id reused


@pytest.mark.django_db(transaction=True)
def test_migrate_puts_back_the_indexes_made_outside_the_model():
    """A SQLite table rebuild drops indexes the model does not know (search, filter fields): after any
    migrate they are there again."""
    from django.core.management import call_command

    services.custom_field_create(actor=None, key="score", label="Score", type="integer", show_in_filter=True)
    before = _indexes()
    lost = [name for name in before if name.startswith("cust_attr_") and name.endswith("_score")
            or name == "customer_telegram_nocase_idx"]
    assert len(lost) == (2 if connection.vendor == "sqlite" else 1)
    with connection.cursor() as cursor:
        for name in lost:
            cursor.execute(f'DROP INDEX "{name}"')
    assert not set(lost) & _indexes()
    call_command("migrate", verbosity=0)
    assert _indexes() == before


@pytest.mark.django_db(transaction=True)
def test_migrating_back_before_0008_leaves_its_index_out():
    from django.core.management import call_command

    try:
        call_command("migrate", "customers", "0007_identity_unique_indexes", verbosity=0)
        names = _indexes()
        assert "customer_telegram_nocase_idx" not in names and "customer_telegram_idx" in names
    finally:
        call_command("migrate", verbosity=0)
    names = _indexes()
    assert "customer_telegram_idx" not in names
    assert ("customer_telegram_nocase_idx" in names) is (connection.vendor == "sqlite")
