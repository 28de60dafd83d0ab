from django_tasks import task

from .execution import execute_run


@task()
def run_job(run_id: int) -> str:
    """Worker entry point: re-fetch the run and execute it (idempotent)."""
    run = execute_run(run_id)
    return "skipped" if run is None else run.status
