from django.core.management.base import BaseCommand, CommandError

from shoal.accounts import services
from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError


class Command(BaseCommand):
    help = "Issue a new personal API token for a user and print it (use it as 'Authorization: Bearer <token>')."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="account (username)")
        parser.add_argument("--name", default="cli", help="a label for the token")

    def handle(self, *args, user, name, **options):
        try:
            target = services.user_get(username=user)
            raw = services.token_issue(actor=SYSTEM, user=target, name=name)
        except ShoalError as exc:
            raise CommandError(exc.message)
        self.stdout.write(raw)
