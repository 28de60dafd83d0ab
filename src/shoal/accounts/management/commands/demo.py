from django.core.management.base import BaseCommand
from django.db import transaction

from shoal.accounts import demo


class Command(BaseCommand):
    help = "Load demo data: departments, roles and users (customers come with the customer module)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)

    @transaction.atomic
    def handle(self, *args, seed, **options):
        summary = demo.load(seed=seed)
        self.stdout.write(self.style.SUCCESS("Demo data loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items())))
