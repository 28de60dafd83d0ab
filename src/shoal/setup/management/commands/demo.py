import sys

from django.core.management.base import BaseCommand
from django.db import transaction

from shoal.accounts import demo
from shoal.core.actors import SYSTEM


class Command(BaseCommand):
    help = ("Load demo data: departments, roles and users; with --customers N also N demo customers "
            "(realistic zh_CN data, deterministic per --seed; appended after existing customers).")

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--customers", type=int, default=0, help="how many demo customers to add (default 0)")
        parser.add_argument("--exclusive", action="store_true",
                            help="nothing else uses the database during the load (no running server): SQLite "
                                 "writes a large load through a rollback journal, which is faster")

    def handle(self, *args, seed, customers=0, exclusive=False, **options):
        with transaction.atomic():
            summary = demo.load(seed=seed)
        self.stdout.write(self.style.SUCCESS("Demo data loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items())))
        if customers and customers > 0:
            from shoal.customers.demo import DROP_INDEXES_FROM, load_customers

            verbose = options.get("verbosity", 1) >= 1
            tty = sys.stderr.isatty()

            def progress(done, total, seconds):
                if not verbose:
                    return
                line = f"  customers: {done:,} / {total:,}  ({done / max(seconds, 1e-9):,.0f}/s)"
                if done == total and total >= DROP_INDEXES_FROM:
                    line += "  rebuilding indexes…"
                if tty:
                    self.stderr.write("\r" + line, ending="")
                    self.stderr.flush()
                elif done == total or done % 100_000 < 10_000:
                    self.stderr.write(line)

            result = load_customers(count=customers, seed=seed, progress=progress, exclusive=exclusive)
            if verbose and tty:
                self.stderr.write("")
            rate = result["customers"] / max(result["seconds"], 1e-9)
            self.stdout.write(self.style.SUCCESS(
                f"Demo customers loaded: {result['customers']:,} customers, {result['memberships']:,} group "
                f"memberships in {result['seconds']} s ({rate:,.0f}/s; rows {result['phases']['rows']} s, "
                f"index rebuild {result['phases']['indexes']} s)"))
            from shoal.events.services.types import event_types_import_builtins
            from shoal.pools.demo import ensure_demo_rules
            from shoal.tags.demo import ensure_demo_tags

            tags = ensure_demo_tags()  # before the pool rules: the assignment shares out by quality
            if tags:
                self.stdout.write(self.style.SUCCESS(
                    f"Demo tags created and refreshed: {tags['tags']} tags, {tags['taggings']:,} taggings"))
            events = event_types_import_builtins(actor=SYSTEM)
            if events["created"]:
                self.stdout.write(self.style.SUCCESS(f"Built-in event types: {', '.join(events['created'])}"))
            pools = ensure_demo_rules()
            if pools:
                self.stdout.write(self.style.SUCCESS(
                    f"Demo pool rules created and run: {pools['grouped']:,} customers grouped, "
                    f"{pools['assigned']:,} assigned"))
