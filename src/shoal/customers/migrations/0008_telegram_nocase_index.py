"""Keyword search for a Telegram username (``@name``) compares ``telegram`` case-insensitively
(Django's ``iexact``): ``"telegram" LIKE 'name' ESCAPE '\\'`` on SQLite, ``UPPER("telegram") = UPPER('name')``
on PostgreSQL. The plain btree ``customer_telegram_idx`` served neither (SQLite scanned a million rows:
3.4-3.9 s at 1M). SQLite's LIKE can use an index in ``COLLATE NOCASE``; PostgreSQL has
``customer_telegram_upper_idx`` (0004). The NOCASE index is outside the model (PostgreSQL has no such
collation); ``customers.indexes.ensure_search_indexes`` re-creates it after any migration (a SQLite table
rebuild drops it).
"""

from django.db import migrations

SQLITE_NOCASE = ('CREATE INDEX IF NOT EXISTS "customer_telegram_nocase_idx" '
                 'ON "customers_customer" ("telegram" COLLATE NOCASE)')


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_NOCASE)


def backwards(apps, schema_editor):
    schema_editor.execute('DROP INDEX IF EXISTS "customer_telegram_nocase_idx"')


class Migration(migrations.Migration):
    dependencies = [("customers", "0007_identity_unique_indexes")]
    operations = [
        migrations.RemoveIndex(model_name="customer", name="customer_telegram_idx"),
        migrations.RunPython(forwards, backwards),
    ]
