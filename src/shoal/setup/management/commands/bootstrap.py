import os
import secrets

from django.core.management import call_command
from django.core.management.base import BaseCommand

from shoal.accounts import services
from shoal.accounts.models import User
from shoal.core.actors import SYSTEM
from shoal.setup import firstrun

DEMO_CUSTOMERS = 2_000  # demo customers loaded on an empty database


class Command(BaseCommand):
    help = "First-run set-up: create the admin when there is none, load demo data when the database is empty."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true")

    def handle(self, *args, no_demo, **options):
        empty = not User.objects.exists()
        generated = None
        if not User.objects.filter(is_superuser=True).exists():
            password = os.environ.get("SHOAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            services.user_create(actor=SYSTEM, username="admin", password=password, is_superuser=True,
                                 must_change_password=False, name="Administrator", masking_policy="none")
            if os.environ.get("SHOAL_ADMIN_PASSWORD"):
                self.stdout.write(self.style.SUCCESS("Created the administrator 'admin' (password from SHOAL_ADMIN_PASSWORD)."))
            else:
                generated = password
                firstrun.keep_password(password)
        if empty and not no_demo:
            call_command("demo", customers=DEMO_CUSTOMERS, stdout=self.stdout)
        if generated:  # last, not in the middle of the demo output
            self.stdout.write(self.style.WARNING(
                "\n  Created the administrator 'admin'; its generated password is shown when `shoal run`"
                " is up\n  (or read it once from SHOAL_DATA_DIR/initial_admin_password).\n"))
