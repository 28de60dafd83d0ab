"""The sales app's scheduled job (registered in ``registry.py``): every minute, the task reminders that are due,
the overdue notices and the scheduled in-site messages. Each part claims its rows in the database, so a run
that overlaps another, or two workers at once, send nothing twice."""

from __future__ import annotations


def reminders_job() -> dict:
    from .services.messages import send_scheduled_messages
    from .services.reminders import send_due_reminders, send_overdue_notices

    return {"reminders": send_due_reminders(), "overdue": send_overdue_notices(),
            "messages": send_scheduled_messages()}
