"""The sales services, by topic: follow-ups, tasks, notifications (messages, reminders, the workbench boards add
their own modules). Keyword-only, with an explicit ``actor``."""

from .follow_ups import (
    FOLLOW_UP_CREATE,
    FOLLOW_UP_VIEW,
    SUMMARY_MAX,
    follow_up_create,
    follow_up_dict,
    follow_up_list,
)
from .notifications import notification_list, notification_read, notify
from .tasks import open_task_counts, task_list

__all__ = ["FOLLOW_UP_CREATE", "FOLLOW_UP_VIEW", "SUMMARY_MAX", "follow_up_create", "follow_up_dict",
           "follow_up_list", "notification_list", "notification_read", "notify", "open_task_counts", "task_list"]
