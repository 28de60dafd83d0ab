"""PostgreSQL indexes for the expressions Django generates for keyword search and case-insensitive
standard-field filters (measured at 1M customers, docs/benchmarks.md):

- keyword search (``customer_search_q``) ORs ``UPPER(name) LIKE '%q%'`` with exact identity matches
  and ``UPPER(telegram) = UPPER(q)``: a trigram GIN index on ``UPPER(name)`` and a btree on
  ``UPPER(telegram)`` let PostgreSQL answer it with a BitmapOr (2.3 s → 3 ms);
- the condition compiler compares standard text fields case-insensitively (``UPPER(col) = UPPER(v)``):
  indexes on ``UPPER(source)`` and ``UPPER(city)`` (selective 3-leaf tree list page 377 → 106 ms);
- segment lists sort ``created_at DESC NULLS LAST, id DESC``, which ``customer_created_idx``
  (``created_at DESC`` = NULLS FIRST) cannot give: PostgreSQL sorted the whole match set (3-leaf
  tree, page 1: 3.9 s → 0.7 ms; page 1000: 225 ms). SQLite uses ``customer_created_idx`` for it.

SQLite gets none: its planner cannot use an index for ``LIKE '%q%'`` in an OR, and a NOCASE index
on city made the newest-first list page slower (15 → 594 ms) by replacing the created-time scan.
pg_trgm is a trusted extension (PostgreSQL ≥ 13); where it cannot be created, the trigram index is
skipped and search stays a scan.
"""

from django.db import DatabaseError, migrations, transaction

TABLE = "customers_customer"
PLAIN = {
    "customer_telegram_upper_idx": 'UPPER("telegram"::text)',
    "customer_source_upper_idx": 'UPPER("source"::text)',
    "customer_city_upper_idx": 'UPPER("city"::text)',
}
NEWEST_NULLS_LAST = "customer_created_nl_idx"
TRIGRAM = "customer_name_trgm_idx"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expr in PLAIN.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{TABLE}" (({expr}))')
    schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{NEWEST_NULLS_LAST}" ON "{TABLE}" '
                          f'("created_at" DESC NULLS LAST, "id" DESC)')
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{TRIGRAM}" ON "{TABLE}" '
                                  f'USING gin (UPPER("name"::text) gin_trgm_ops)')
    except DatabaseError:
        pass  # no pg_trgm here: keyword search by name stays a sequential scan


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*PLAIN, NEWEST_NULLS_LAST, TRIGRAM]:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_detail_page")]
    operations = [migrations.RunPython(forwards, backwards)]
