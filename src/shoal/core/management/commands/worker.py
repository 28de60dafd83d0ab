from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a background task worker (django-tasks-db). Several may run, on several hosts."

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--queue", default="*", help="Queue names, comma separated ('*' for all).")

    def handle(self, *args, batch, interval, queue, **options):
        call_command("db_worker", queue_name=queue, interval=interval, batch=batch, reload=False,
                     startup_delay=not batch, verbosity=options.get("verbosity", 1))
