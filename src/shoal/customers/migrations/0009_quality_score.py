"""The quality score (sum of the customer's tag scores) and the indexes the tags app reads by.

SQLite: the column is added with ALTER TABLE ADD COLUMN (Django would copy the whole table for a column
with a default, and a copy restarts AUTOINCREMENT); PostgreSQL 11+ adds it without rewriting either."""

from django.db import migrations, models

TABLE = "customers_customer"


def add_column(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"ALTER TABLE {TABLE} ADD COLUMN quality_score integer NOT NULL DEFAULT 0")
    else:
        field = models.IntegerField(default=0)
        field.set_attributes_from_name("quality_score")
        schema_editor.add_field(apps.get_model("customers", "Customer"), field)


def drop_column(apps, schema_editor):
    schema_editor.execute(f"ALTER TABLE {TABLE} DROP COLUMN quality_score")


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0008_telegram_nocase_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField(
                model_name='customer',
                name='quality_score',
                field=models.IntegerField(default=0, verbose_name='quality score'),
            )],
            database_operations=[migrations.RunPython(add_column, drop_column)],
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['-quality_score', 'id'], name='customer_quality_idx'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['updated_at'], name='customer_updated_idx'),
        ),
    ]
