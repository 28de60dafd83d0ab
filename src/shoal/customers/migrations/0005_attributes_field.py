# The field class changes only how key lookups are written in SQL (see customers/jsonkeys.py);
# the column is the same, so the database is left alone (no table rebuild on SQLite).

from django.db import migrations

import shoal.customers.models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0004_search_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='customer',
                    name='attributes',
                    field=shoal.customers.models.AttributesField(blank=True, default=dict,
                                                                 verbose_name='custom fields'),
                ),
            ],
            database_operations=[],
        ),
    ]
