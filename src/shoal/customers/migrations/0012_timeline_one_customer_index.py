"""The timeline's single-column customer index goes: ``timeline_customer_idx`` (customer, -created_at) serves every
read and the cascade by customer, and each index costs every timeline write (imports, pool runs write 100,000s).

Dropped in place (an AlterField would make SQLite rebuild the whole table)."""

import django.db.models.deletion
from django.db import migrations, models


def _single_customer_indexes(schema_editor, table):
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [name for name, info in constraints.items()
            if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == ["customer_id"]]


def drop(apps, schema_editor):
    table = apps.get_model("customers", "TimelineEntry")._meta.db_table
    for name in _single_customer_indexes(schema_editor, table):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create(apps, schema_editor):
    table = apps.get_model("customers", "TimelineEntry")._meta.db_table
    if not _single_customer_indexes(schema_editor, table):
        name = schema_editor._create_index_name(table, ["customer_id"])
        schema_editor.execute(f"CREATE INDEX {schema_editor.quote_name(name)} ON {schema_editor.quote_name(table)} "
                              f"({schema_editor.quote_name('customer_id')})")


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0011_scope_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AlterField(
                model_name='timelineentry',
                name='customer',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                        related_name='timeline', to='customers.customer'),
            )],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]
