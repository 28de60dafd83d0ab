from django.core.management.base import BaseCommand, CommandError

from shoal.core.errors import ShoalError
from shoal.schedules import services
from shoal.schedules.models import ScheduledJob


class Command(BaseCommand):
    help = "List scheduled jobs, or run one now: 'shoal jobs list', 'shoal jobs run NAME'."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="list the jobs with schedule and last status")
        run = sub.add_parser("run", help="run a job now in this process and print its result")
        run.add_argument("name")
        run.add_argument("--queue", action="store_true", help="queue it for the worker instead")

    def handle(self, *args, action, **options):
        services.sync_registry()
        if action == "list":
            rows = ScheduledJob.objects.order_by("name")
            self.stdout.write(f"{'NAME':40} {'CRON':15} {'ENABLED':8} {'LAST STATUS':12} NEXT RUN")
            for job in rows:
                self.stdout.write(f"{job.name:40} {job.cron:15} {'yes' if job.enabled else 'no':8} "
                                  f"{job.last_status or '-':12} {job.next_run_at or '-'}")
            return
        try:
            job = services.job_get(options["name"])
            if options.get("queue"):
                run = services.run_now(job=job, trigger="cli")
                self.stdout.write(f"Queued run {run.pk} of {job.name}.")
                return
            self.stdout.write(f"Running {job.name}…")
            run = services.run_inline(job=job)
        except ShoalError as exc:
            raise CommandError(exc.message)
        if run.status == "failed":
            raise CommandError(f"{job.name} failed after {run.duration_ms} ms:\n{run.error}")
        self.stdout.write(self.style.SUCCESS(f"{job.name} succeeded in {run.duration_ms} ms: {run.result}"))
