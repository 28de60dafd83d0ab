"""A first full tag refresh again, on a world ``bench_tags`` built (its customers and 50 auto tags): the taggings,
their history and the quality scores are reset, then ``refresh(full=True)`` runs in this process and its result
with ``phases`` is printed as one JSON object, with the load average before and after and whether every quality
score equals the sum of the customer's tags' scores (``--no-check``: not checked).

    DATABASE_URL=… PYTHONPATH=src:. flock /tmp/bench.lock python -m bench.tags_first_pass [--runs N] [--no-check]

``--reset-only``: reset and stop (``bench.run tags`` then measures a first full refresh through the CLI again).
"""

from __future__ import annotations

import argparse
import json
import os
import time


def reset() -> float:
    """Empty taggings and history, scores back to 0 (the state before a first refresh); seconds it took."""
    from django.db import connection

    from shoal.customers.quality import reset_scores
    from shoal.tags.models import Tag, TagBulkAdd

    started = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE tags_tagging, tags_taghistory")
        else:
            cursor.execute("DELETE FROM tags_tagging")
            cursor.execute("DELETE FROM tags_taghistory")
    TagBulkAdd.objects.all().delete()
    reset_scores()
    Tag.objects.update(refreshed_at=None, needs_full=False, customer_count=0, claim="", claimed_until=None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE tags_tagging")
            cursor.execute("VACUUM ANALYZE tags_taghistory")
            cursor.execute("VACUUM ANALYZE customers_customer")
        else:  # the deletes' pages into the database now, not in the refresh's first commit
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


def mismatched_scores() -> int:
    """Customers whose stored quality score differs from the sum of their tags' scores."""
    from django.db import connection

    from shoal.customers.quality import score_mismatches_sql

    with connection.cursor() as cursor:
        cursor.execute(score_mismatches_sql())
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--reset-only", action="store_true", help="only reset (then e.g. bench.run tags)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shoal.settings")
    import django

    django.setup()
    from shoal.tags.refresh import refresh

    if args.reset_only:
        print(json.dumps({"reset_seconds": round(reset(), 1)}))
        return
    for _ in range(args.runs):
        reset_seconds = reset()
        load_before = os.getloadavg()
        result = refresh(full=True)
        out = {"reset_seconds": round(reset_seconds, 1), "load_before": [round(x, 2) for x in load_before],
               "load_after": [round(x, 2) for x in os.getloadavg()], **result}
        if not args.no_check:
            out["mismatched_scores"] = mismatched_scores()
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
