from django_tasks import task


@task()
def deliver(call_id: int) -> str:
    """Worker entry point of a webhook retry: attempt the call if it is due and unclaimed (idempotent)."""
    from .webhooks import attempt

    call = attempt(call_id)
    return "skipped" if call is None else call.status
