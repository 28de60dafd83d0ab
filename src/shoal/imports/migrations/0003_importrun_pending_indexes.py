from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('imports', '0002_worker_claim_progress'),
    ]

    operations = [
        migrations.AddField(
            model_name='importrun',
            name='pending_indexes',
            field=models.JSONField(blank=True, default=list),
        ),
    ]
