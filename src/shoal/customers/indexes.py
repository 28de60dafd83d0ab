"""Expression indexes on ``Customer.attributes`` for the custom fields shown in filters.

A custom field marked *show in filter* gets an index on exactly the expression the segments
compiler's lookups put in the SQL (checked with ``print(queryset.query)``), so equality and range
filters on it can use the index at a million customers:

PostgreSQL (Django's KeyTransform / KeyTextTransform on jsonb):
- integer, decimal, money, boolean, enum, phone, email: btree on ``("attributes" -> 'key')``
  (jsonb; the compiler compares ``attributes -> 'key' = '"pro"'::jsonb``, ``>= '1000'::jsonb``);
- date, datetime: btree on ``("attributes" ->> 'key')`` (ISO text, compared as text);
- text, url: btree on ``UPPER(("attributes" ->> 'key')::text)`` (case-insensitive ``iexact``);
- multi-enum: GIN on ``("attributes" -> 'key')`` (``@>`` has-item);
- long text: none (values up to 20,000 characters do not fit a btree entry).

SQLite: an index on Django's SQLite form of the key,
``CASE WHEN JSON_TYPE(attributes, '$."key"') IN ('null','true','false') THEN JSON_TYPE(…)
ELSE JSON_EXTRACT(…) END``, for the types compared with ``=``/``<``/``>`` (not text, whose
``LIKE`` cannot use an expression index, nor multi-enum). NOTE: SQLite matches an expression index
only when the query spells the JSON path as a literal; Django 5.2 binds the path as a parameter,
so the planner uses these indexes only for queries that inline the (validated) key, see
:func:`key_expression_sql`.

Index names derive from the key (``cust_attr_<kind>_<key>``); statements use IF NOT EXISTS /
IF EXISTS. In autocommit mode PostgreSQL builds them CONCURRENTLY (no write lock on customers);
inside a transaction they are built in it (and vanish with a rollback).
"""

from __future__ import annotations

import hashlib
import logging

from django.db import connection

from .models import Customer, CustomField, FieldType
from .standard import KEY_RE

log = logging.getLogger(__name__)

_KEY_RE = KEY_RE  # the keys custom fields may have
PREFIX = "cust_attr_"
JSONB, TEXT, UPPER, GIN, SQLITE = "j", "t", "u", "g", "x"
KINDS = (JSONB, TEXT, UPPER, GIN, SQLITE)

PG_KIND = {
    FieldType.INTEGER: JSONB, FieldType.DECIMAL: JSONB, FieldType.MONEY: JSONB, FieldType.BOOLEAN: JSONB,
    FieldType.ENUM: JSONB, FieldType.PHONE: JSONB, FieldType.EMAIL: JSONB,
    FieldType.DATE: TEXT, FieldType.DATETIME: TEXT,
    FieldType.TEXT: UPPER, FieldType.URL: UPPER,
    FieldType.MULTI_ENUM: GIN,
}
SQLITE_TYPES = {FieldType.INTEGER, FieldType.DECIMAL, FieldType.MONEY, FieldType.BOOLEAN, FieldType.ENUM,
                FieldType.PHONE, FieldType.EMAIL, FieldType.DATE, FieldType.DATETIME}


def _check_key(key: str) -> str:
    if not _KEY_RE.match(key or ""):
        raise ValueError(f"not a custom field key: {key!r}")
    return key


def index_name(key: str, kind: str) -> str:
    """The index name for ``key`` (at most 63 characters, PostgreSQL's limit)."""
    _check_key(key)
    name = f"{PREFIX}{kind}_{key}"
    if len(name) > 63:
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        name = f"{PREFIX}{kind}_{key[:63 - len(PREFIX) - 2 - 9]}_{digest}"
    return name


def key_expression_sql(key: str, vendor: str | None = None) -> str:
    """The SQL of Django's KeyTransform of ``attributes -> key`` with the path inlined (the indexed form)."""
    _check_key(key)
    if (vendor or connection.vendor) == "sqlite":
        from .jsonkeys import sqlite_key_sql

        return sqlite_key_sql('"attributes"', key)
    return f"(\"attributes\" -> '{key}')"


def wanted_index(definition: CustomField, vendor: str | None = None) -> tuple[str, str] | None:
    """(name, CREATE INDEX statement without CONCURRENTLY) for ``definition``, or None."""
    vendor = vendor or connection.vendor
    if not (definition.show_in_filter and definition.enabled):
        return None
    key, table = _check_key(definition.key), Customer._meta.db_table
    if vendor == "sqlite":
        if definition.type not in SQLITE_TYPES:
            return None
        name = index_name(key, SQLITE)
        return name, f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({key_expression_sql(key, vendor)})'
    if vendor != "postgresql":
        return None
    kind = PG_KIND.get(definition.type)
    if kind is None:
        return None
    name = index_name(key, kind)
    expr = {JSONB: f"((\"attributes\" -> '{key}'))", TEXT: f"((\"attributes\" ->> '{key}'))",
            UPPER: f"(UPPER((\"attributes\" ->> '{key}')::text))", GIN: f"((\"attributes\" -> '{key}'))"}[kind]
    using = " USING gin" if kind == GIN else ""
    return name, f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}"{using} {expr}'


def existing_indexes(key: str | None = None) -> set[str]:
    """Names of the attribute indexes present (of ``key`` only, when given)."""
    table = Customer._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table])
        else:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s "
                           "AND schemaname = current_schema()", [table])
        names = {row[0] for row in cursor.fetchall() if row[0].startswith(PREFIX)}
    if key is not None:
        names &= {index_name(key, kind) for kind in KINDS}
    return names


def _execute(sql: str, *, concurrently: bool) -> None:
    with connection.cursor() as cursor:
        if concurrently:
            sql = sql.replace("CREATE INDEX ", "CREATE INDEX CONCURRENTLY ", 1).replace(
                "DROP INDEX ", "DROP INDEX CONCURRENTLY ", 1)
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # PostgreSQL refuses index DDL on a table with pending (deferred) FK checks in this
            # transaction: run them now, then defer again (Django's FKs are INITIALLY DEFERRED).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(sql)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute(sql)


def drop_index(key: str) -> list[str]:
    """Drop every attribute index of ``key``. Returns the names dropped."""
    names = sorted(existing_indexes(key))
    concurrently = connection.vendor == "postgresql" and not connection.in_atomic_block
    for name in names:
        _execute(f'DROP INDEX IF EXISTS "{name}"', concurrently=concurrently)
    return names


def sync_field_index(definition: CustomField, *, deleted: bool = False) -> str | None:
    """Create the index ``definition`` needs (show in filter, enabled) and drop any other index of its
    key (filter turned off, field disabled or deleted, type changed). Returns the wanted index name."""
    wanted = None if deleted else wanted_index(definition)
    for name in existing_indexes(definition.key) - ({wanted[0]} if wanted else set()):
        _execute(f'DROP INDEX IF EXISTS "{name}"',
                 concurrently=connection.vendor == "postgresql" and not connection.in_atomic_block)
    if wanted is None:
        return None
    name, sql = wanted
    if name in existing_indexes(definition.key):
        return name
    concurrently = connection.vendor == "postgresql" and not connection.in_atomic_block
    try:
        _execute(sql, concurrently=concurrently)
    except Exception:
        if concurrently:  # a failed concurrent build leaves an invalid index behind
            _execute(f'DROP INDEX IF EXISTS "{name}"', concurrently=True)
        raise
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the planner needs statistics on the new expression
            cursor.execute(f'ANALYZE "{Customer._meta.db_table}"')
    log.info("custom field %s: index %s", definition.key, name)
    return name


def sync_all() -> dict[str, str | None]:
    """Bring the indexes of every custom field in line with its definition; drop orphans."""
    out = {}
    for definition in CustomField.objects.all():
        out[definition.key] = sync_field_index(definition)
    keep = {index_name(k, kind) for k in out for kind in KINDS}
    for name in existing_indexes() - keep:
        _execute(f'DROP INDEX IF EXISTS "{name}"', concurrently=False)
    return out


# Indexes outside the model that keyword search needs (see migration 0008); SQLite loses them when a
# migration rebuilds the customers table, so they are ensured after every migrate.
SEARCH_INDEXES = {
    "sqlite": {"customer_telegram_nocase_idx":
               'CREATE INDEX IF NOT EXISTS "customer_telegram_nocase_idx" ON "customers_customer" '
               '("telegram" COLLATE NOCASE)'},
}


SEARCH_INDEXES_FROM = ("customers", "0008_telegram_nocase_index")


def ensure_search_indexes(**kwargs) -> None:
    """post_migrate: the search indexes of this database (IF NOT EXISTS) and the filter-field indexes, once
    the migration that made them is applied (not after a migrate back before it). Shoal uses one database
    (``default``); others are left alone."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    conn = connections[kwargs.get("using") or "default"]
    if conn.alias != connection.alias:
        return
    table = Customer._meta.db_table
    if table not in conn.introspection.table_names():
        return
    if SEARCH_INDEXES_FROM not in MigrationRecorder(conn).applied_migrations():
        return
    with conn.cursor() as cursor:
        for sql in SEARCH_INDEXES.get(conn.vendor, {}).values():
            cursor.execute(sql)
    apps = kwargs.get("apps")  # the models as migrated so far (a partial migrate may stop before the last)
    try:
        fields_model = apps.get_model("customers", "CustomField") if apps is not None else CustomField
    except LookupError:
        return
    if fields_model._meta.db_table not in conn.introspection.table_names():
        return
    for definition in fields_model.objects.using(conn.alias).all():
        try:
            wanted = wanted_index(definition, conn.vendor)
        except AttributeError:  # a state before the filter flags existed
            return
        if wanted and wanted[0] not in existing_indexes(definition.key):
            sync_field_index(definition)
