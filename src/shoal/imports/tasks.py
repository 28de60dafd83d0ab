from django_tasks import task


@task()
def run_import(run_id: int) -> str:
    """Worker entry point: claim the import and run it (a second delivery finds it claimed and stops)."""
    from .services import import_execute

    run = import_execute(run_id)
    return "skipped" if run is None else run.status
