"""PostgreSQL: drop two indexes that no query uses any more, so writes (identify, import) maintain
fewer indexes:
- ``customer_created_nl_idx`` (created_at DESC NULLS LAST): segment lists sort a non-null column
  without NULLS LAST now, which ``customer_created_idx`` serves;
- ``customer_source_upper_idx`` (UPPER(source)): conditions compare ``source`` as an enum code
  (exact), which ``customer_source_idx`` serves.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("customer_created_nl_idx", "customer_source_upper_idx"):
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute('CREATE INDEX IF NOT EXISTS "customer_created_nl_idx" ON "customers_customer" '
                          '("created_at" DESC NULLS LAST, "id" DESC)')
    schema_editor.execute('CREATE INDEX IF NOT EXISTS "customer_source_upper_idx" ON "customers_customer" '
                          '((UPPER("source"::text)))')


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_attributes_field")]
    operations = [migrations.RunPython(forwards, backwards)]
