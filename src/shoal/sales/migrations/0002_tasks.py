"""The follow-up task becomes the task of the task center (任务中心): normal or follow-up, with an owner and a
creator, priority, progress, reminder and details. Follow-ups get maturity, invitation type and call time."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def statuses_to_progress(apps, schema_editor):
    Task = apps.get_model("sales", "Task")
    Task.objects.filter(progress="open").update(progress="not_started")
    Task.objects.update(type="follow_up")


def progress_to_statuses(apps, schema_editor):
    Task = apps.get_model("sales", "Task")
    Task.objects.filter(progress__in=["not_started", "in_progress"]).update(progress="open")
    Task.objects.filter(progress="cancelled").update(progress="done")


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0012_timeline_one_customer_index"),
        ("sales", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="followuptask", name="task_sales_idx"),
        migrations.RemoveIndex(model_name="followuptask", name="task_customer_idx"),
        migrations.RenameModel(old_name="FollowUpTask", new_name="Task"),
        migrations.RenameField(model_name="task", old_name="salesperson", new_name="owner"),
        migrations.RenameField(model_name="task", old_name="title", new_name="name"),
        migrations.RenameField(model_name="task", old_name="status", new_name="progress"),
        migrations.AlterField(
            model_name="task", name="progress",
            field=models.CharField(choices=[("not_started", "Not started"), ("in_progress", "In progress"),
                                            ("done", "Done"), ("cancelled", "Cancelled")],
                                   default="not_started", max_length=16, verbose_name="progress")),
        migrations.AlterField(
            model_name="task", name="owner",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="tasks",
                                    to=settings.AUTH_USER_MODEL, verbose_name="owner")),
        migrations.AlterField(
            model_name="task", name="name",
            field=models.CharField(blank=True, max_length=200, verbose_name="name")),
        migrations.AlterField(
            model_name="task", name="customer",
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="+", to="customers.customer", verbose_name="customer")),
        migrations.AlterField(
            model_name="task", name="due_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="deadline")),
        migrations.AddField(
            model_name="task", name="type",
            field=models.CharField(choices=[("normal", "Normal task"), ("follow_up", "Follow-up task")],
                                   default="normal", max_length=16, verbose_name="type")),
        migrations.AddField(
            model_name="task", name="creator",
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="creator")),
        migrations.AddField(
            model_name="task", name="priority",
            field=models.PositiveSmallIntegerField(choices=[(1, "Low"), (2, "Medium"), (3, "High"), (4, "Urgent")],
                                                   default=2, verbose_name="priority")),
        migrations.AddField(model_name="task", name="remind_at",
                            field=models.DateTimeField(blank=True, null=True, verbose_name="reminder time")),
        migrations.AddField(model_name="task", name="reminded_at",
                            field=models.DateTimeField(blank=True, null=True, verbose_name="reminded at")),
        migrations.AddField(model_name="task", name="overdue_notified_at",
                            field=models.DateTimeField(blank=True, null=True, verbose_name="overdue notice sent at")),
        migrations.AddField(model_name="task", name="details",
                            field=models.TextField(blank=True, verbose_name="details")),
        migrations.AddField(model_name="task", name="updated_at",
                            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated at")),
        migrations.RunPython(statuses_to_progress, progress_to_statuses),
        migrations.AlterModelOptions(
            name="task",
            options={"ordering": ["due_at", "id"], "verbose_name": "task", "verbose_name_plural": "tasks"}),
        migrations.AddIndex(model_name="task",
                            index=models.Index(fields=["owner", "progress", "due_at"], name="task_owner_idx")),
        migrations.AddIndex(model_name="task",
                            index=models.Index(fields=["creator", "progress", "due_at"], name="task_creator_idx")),
        migrations.AddIndex(model_name="task",
                            index=models.Index(fields=["customer", "progress"], name="task_customer_idx")),
        migrations.AddIndex(model_name="task",
                            index=models.Index(condition=models.Q(("reminded_at__isnull", True)), fields=["remind_at"],
                                               name="task_remind_idx")),
        migrations.AddField(model_name="followup", name="maturity",
                            field=models.CharField(blank=True, max_length=32, verbose_name="maturity")),
        migrations.AddField(model_name="followup", name="invitation_type",
                            field=models.CharField(blank=True, max_length=32, verbose_name="invitation type")),
        migrations.AddField(model_name="followup", name="call_seconds",
                            field=models.PositiveIntegerField(blank=True, null=True,
                                                              verbose_name="call duration (seconds)")),
    ]
