"""The quality score moves from a column of the customers to a narrow table of its own (CustomerQuality; no row: 0):
on PostgreSQL an update of a customers row writes all of its indexes, so a first tag refresh's million score
writes took minutes. The scores that are not 0 are copied over."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0015_timeline_actor_partial"),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerQuality",
            fields=[
                ("customer", models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE,
                                                  primary_key=True, related_name="quality", serialize=False,
                                                  to="customers.customer", verbose_name="customer")),
                ("score", models.IntegerField(default=0, verbose_name="quality score")),
            ],
            options={"verbose_name": "quality score", "verbose_name_plural": "quality scores"},
        ),
        migrations.RunSQL(
            "INSERT INTO customers_customerquality (customer_id, score) "
            "SELECT id, quality_score FROM customers_customer WHERE quality_score <> 0",
            "UPDATE customers_customer SET quality_score = q.score FROM customers_customerquality q "
            "WHERE q.customer_id = customers_customer.id",
        ),
        migrations.RemoveIndex(model_name="customer", name="customer_quality_idx"),
        # the column dropped in place, both ways (Django's SQLite schema editor would rebuild the customers table
        # for the way back: minutes at a million, and the indexes made outside the model lost)
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField(model_name="customer", name="quality_score")],
            database_operations=[migrations.RunSQL(
                "ALTER TABLE customers_customer DROP COLUMN quality_score",
                "ALTER TABLE customers_customer ADD COLUMN quality_score integer NOT NULL DEFAULT 0",
            )],
        ),
    ]
