from django.core.management.base import BaseCommand, CommandError

from shoal.accounts import services
from shoal.accounts.models import User
from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError


class Command(BaseCommand):
    help = "Create an administrator (superuser) non-interactively."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--if-missing", action="store_true",
                            help="Do nothing (exit 0) when the account already exists.")

    def handle(self, *args, username, password, name, email, if_missing, **options):
        if User.objects.filter(username__iexact=username).exists():
            if if_missing:
                self.stdout.write(f"Administrator {username} already exists.")
                return
            raise CommandError(f"The account {username} already exists.")
        if len(password) < 6:
            raise CommandError("The password needs at least 6 characters.")
        try:
            services.user_create(actor=SYSTEM, username=username, password=password, is_superuser=True,
                                 must_change_password=False, name=name or username, email=email,
                                 masking_policy="none")
        except ShoalError as exc:
            raise CommandError(exc.message)
        self.stdout.write(self.style.SUCCESS(f"Administrator {username} created."))
