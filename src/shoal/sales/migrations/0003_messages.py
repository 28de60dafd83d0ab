"""In-site messages (站内通知): the message, its attachments, its deliveries (a notification's FK to it); the
partial index the overdue notices read (open tasks not yet noticed)."""

import django.db.models.deletion
import django.utils.timezone
import shoal.sales.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('customers', '0012_timeline_one_customer_index'),
        ('sales', '0002_tasks'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Message',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=200, verbose_name='subject')),
                ('body', models.TextField(blank=True, verbose_name='content')),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('scheduled', 'Scheduled'), ('sent', 'Sent')], default='draft', max_length=16, verbose_name='status')),
                ('send_at', models.DateTimeField(blank=True, null=True, verbose_name='send at')),
                ('recipient_count', models.PositiveIntegerField(default=0, verbose_name='recipients')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='updated at')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
            ],
            options={
                'verbose_name': 'in-site message',
                'verbose_name_plural': 'in-site messages',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='MessageAttachment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('file', models.FileField(max_length=255, storage=shoal.sales.models._attachment_storage, upload_to=shoal.sales.models.message_attachment_path, verbose_name='file')),
                ('original_name', models.CharField(max_length=255, verbose_name='file name')),
                ('size', models.BigIntegerField(default=0, verbose_name='size (bytes)')),
                ('content_type', models.CharField(blank=True, max_length=100, verbose_name='content type')),
                ('uploaded_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='uploaded at')),
            ],
            options={
                'verbose_name': 'message attachment',
                'verbose_name_plural': 'message attachments',
                'ordering': ['id'],
            },
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(condition=models.Q(('overdue_notified_at__isnull', True), ('progress__in', ['not_started', 'in_progress'])), fields=['due_at'], name='task_overdue_idx'),
        ),
        migrations.AddField(
            model_name='message',
            name='departments',
            field=models.ManyToManyField(blank=True, related_name='+', to='accounts.department', verbose_name='recipient departments'),
        ),
        migrations.AddField(
            model_name='message',
            name='roles',
            field=models.ManyToManyField(blank=True, related_name='+', to='accounts.role', verbose_name='recipient roles'),
        ),
        migrations.AddField(
            model_name='message',
            name='sender',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='sender'),
        ),
        migrations.AddField(
            model_name='message',
            name='users',
            field=models.ManyToManyField(blank=True, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='recipient users'),
        ),
        migrations.AddField(
            model_name='notification',
            name='message',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='sales.message', verbose_name='in-site message'),
        ),
        migrations.AddField(
            model_name='messageattachment',
            name='message',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='sales.message', verbose_name='in-site message'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(fields=['status', 'send_at'], name='message_status_idx'),
        ),
    ]
