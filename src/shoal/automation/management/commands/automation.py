"""``shoal automation prune``: remove the processor calls (with their webhook attempts) and the SMS and email
log entries older than AUTOMATION_LOG_RETENTION_DAYS now, as the daily ``automation.prune`` job does. The last
line on stdout is one JSON object (how many of each went)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Automation: 'shoal automation prune' applies the retention of the processor calls and SMS and email logs."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("prune", help="remove processor calls and SMS and email logs older than "
                                     "AUTOMATION_LOG_RETENTION_DAYS")

    def handle(self, *args, action, **options):
        from shoal.automation.retention import prune_logs

        self.stdout.write(json.dumps(prune_logs(), ensure_ascii=False))

