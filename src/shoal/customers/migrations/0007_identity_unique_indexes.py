"""Identity values (mobile, email, ent_user_id) stay unique, now through partial unique indexes
(``… WHERE col IS NOT NULL``) instead of ``unique=True``:

- SQLite cannot drop the index of a column declared UNIQUE, so a bulk load (``shoal demo``) had to
  keep two random-order unique indexes up to date row by row (~10 µs a row, 10 s at a million);
  a named unique index is dropped and rebuilt after the rows like the other indexes;
- PostgreSQL adds a ``varchar_pattern_ops`` twin for every unique varchar; no query uses them
  (``starts_with`` compares ``UPPER(col)``), and each costs every insert;
- NULLs (customers without that identity) no longer take index entries.

SQLite: one table rebuild (Django's ``_remake_table``; the expression indexes of filter fields, which
are not in the model, are re-created from their saved SQL). PostgreSQL: the unique constraints and
their pattern twins are dropped, the partial unique indexes created.
"""

from django.db import migrations, models

TABLE = "customers_customer"
COLUMNS = ("mobile", "email", "ent_user_id")
WANTED = {f"customer_{c}_uniq" for c in COLUMNS}

STATE = [
    migrations.AlterField(
        model_name="customer", name="email",
        field=models.CharField(blank=True, max_length=254, null=True, verbose_name="email"),
    ),
    migrations.AlterField(
        model_name="customer", name="ent_user_id",
        field=models.CharField(blank=True, help_text="The customer's id in the business system.", max_length=128,
                               null=True, verbose_name="external id"),
    ),
    migrations.AlterField(
        model_name="customer", name="mobile",
        field=models.CharField(blank=True, help_text="Stored in E.164 form, e.g. +8613800138000.", max_length=32,
                               null=True, verbose_name="mobile"),
    ),
    migrations.AddConstraint(
        model_name="customer",
        constraint=models.UniqueConstraint(condition=models.Q(("mobile__isnull", False)), fields=("mobile",),
                                           name="customer_mobile_uniq",
                                           violation_error_message="A customer with this mobile already exists."),
    ),
    migrations.AddConstraint(
        model_name="customer",
        constraint=models.UniqueConstraint(condition=models.Q(("email__isnull", False)), fields=("email",),
                                           name="customer_email_uniq",
                                           violation_error_message="A customer with this email already exists."),
    ),
    migrations.AddConstraint(
        model_name="customer",
        constraint=models.UniqueConstraint(condition=models.Q(("ent_user_id__isnull", False)),
                                           fields=("ent_user_id",), name="customer_ent_user_id_uniq",
                                           violation_error_message="A customer with this external id already exists."),
    ),
]


def _sqlite_indexes(cursor) -> dict[str, str]:
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                   [TABLE])
    return dict(cursor.fetchall())


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    model = apps.get_model("customers", "Customer")  # the state after STATE: no unique=True, three constraints
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            saved = _sqlite_indexes(cursor)
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [TABLE])
            row = cursor.fetchone()
        schema_editor._remake_table(model)  # the table again, without the column UNIQUEs; model indexes rebuilt
        with connection.cursor() as cursor:
            if row is not None:  # the copy restarts AUTOINCREMENT at MAX(id): ids of deleted customers stay used
                cursor.execute("UPDATE sqlite_sequence SET seq = MAX(seq, %s) WHERE name = %s", [row[0], TABLE])
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) SELECT %s, %s WHERE NOT EXISTS "
                               "(SELECT 1 FROM sqlite_sequence WHERE name = %s)", [TABLE, row[0], TABLE])
            present = _sqlite_indexes(cursor)
            for name, sql in saved.items():
                # indexes made outside the model (filter fields, customers/indexes.py); not the unique
                # indexes a reversal of this migration left
                if name not in present and name not in {f"{TABLE}_{c}_key" for c in COLUMNS}:
                    cursor.execute(sql)
        return
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    for name, info in constraints.items():
        if name in WANTED or info.get("primary_key") or not info["columns"] or info["columns"][0] not in COLUMNS \
                or len(info["columns"]) != 1:
            continue
        if info["unique"] and not info.get("index"):  # a UNIQUE constraint
            schema_editor.execute(f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{name}"')
        elif info["unique"] or name.endswith("_like"):  # a unique index, or the pattern-ops twin
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    for constraint in model._meta.constraints:
        if constraint.name in WANTED and constraint.name not in constraints:
            schema_editor.add_constraint(model, constraint)


def backwards(apps, schema_editor):
    """Back to uniqueness over the whole column. PostgreSQL: the UNIQUE constraints and pattern-ops indexes of
    ``unique=True`` again. SQLite: unique indexes (a column UNIQUE would need another table rebuild; the rule
    is the same, and the next rebuild of the table writes the columns as the model says)."""
    for column in COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "customer_{column}_uniq"')
    if schema_editor.connection.vendor != "postgresql":
        for column in COLUMNS:
            schema_editor.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "{TABLE}_{column}_key" ON "{TABLE}" ("{column}")')
        return
    model = apps.get_model("customers", "Customer")
    for column in COLUMNS:
        schema_editor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{TABLE}_{column}_key" UNIQUE ("{column}")')
        field = model._meta.get_field(column).clone()
        field.set_attributes_from_name(column)
        field.model = model
        field._unique = True
        like = schema_editor._create_like_index_sql(model, field)
        if like is not None:
            schema_editor.execute(like)


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_drop_unused_indexes")]
    operations = [
        migrations.SeparateDatabaseAndState(state_operations=STATE, database_operations=[]),
        migrations.RunPython(forwards, backwards),
    ]
