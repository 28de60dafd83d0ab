"""PostgreSQL: a first full pass of every auto tag into empty taggings writes into a table of its own, without any
index, which becomes the taggings table in one short last step.

Why: each row a COPY puts into the taggings also goes into their key (tag, customer), ~1 µs a row on the server
(measured at 1M customers, 11M taggings: 16 s of a 24 s first pass). Into a table without an index, then the key
and the other index built once by sorting, on two connections at once, it costs much less (docs/benchmarks.md).

The pass's table (``tags_tagging_p<run>``) and its quality score changes (``tags_pass_scores_p<run>``, unlogged)
are written range by range, each range in its own transaction as usual, but no one reads them: the taggings, the
quality scores, the tags' counts and the passes' ``TagBulkAdd`` rows change only in the last step, all at once.
A failure drops both tables; after a crash, the next staged pass (or the nightly expiry job) drops what a run
that holds no claim any more left behind.

The last step is one transaction, tried again when a lock does not come within ``LOCK_TIMEOUT`` (or a deadlock
is found):

1. the taggings and quality tables and the pass's own locked (ACCESS EXCLUSIVE, all at once and first: reads of
   them wait for the step, ~1.5 s at 1M), then the run's tags (FOR UPDATE, as every change of a tag's score does);
2. the rows of a tag deleted meanwhile, or no longer auto, go; if a tag's score changed meanwhile, the scores are
   summed again; customers deleted meanwhile (a range's count and sum of ids changed) lose their rows, whose adds
   go to the history (as a deletion writes them);
3. the taggings other transactions wrote meanwhile (manual tags) are copied in;
4. the quality scores are added (their secondary indexes dropped and built again around it), the tags' counts,
   the ``TagBulkAdd`` rows;
5. the old table is dropped and this one takes its name, its key and indexes theirs.

When the swap cannot have its locks after ``ATTEMPTS`` tries (a transaction keeps the taggings open), or the
taggings table changed shape meanwhile, the pass's rows are merged into the taggings table instead, with the locks
any writer takes (slower: every row goes into the indexes; nothing is lost).

Chosen only when nothing else refers to the taggings table (views, foreign keys, triggers, grants, publications:
it would lose them) and no rule of the run reads another tag of the run (a later level reads the taggings)."""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from shoal.core import db

from . import store

log = logging.getLogger(__name__)

# The swap's wait for its locks before it lets go and tries again: longer than PostgreSQL's deadlock_timeout (1 s),
# after which the server cancels an autovacuum in the way (with a shorter wait, an autovacuum of the quality table
# outlasted every try).
LOCK_TIMEOUT = "2s"
ATTEMPTS = 10  # swaps tried; then the rows are merged (as many tries again)
_INDEX = re.compile(r"CREATE (UNIQUE )?INDEX (\S+) ON (ONLY )?(\S+) (USING .*)", re.DOTALL)
_RETRIED = {"55P03", "40P01"}  # lock_not_available (lock_timeout), deadlock_detected
_LEFT = r"^(tags_tagging|tags_pass_scores)_p([0-9a-f]{8})$"  # the tables of a pass (its claim token's start)
SCORES = "tags_pass_scores"


def enabled() -> bool:
    return connection.vendor == "postgresql" and bool(getattr(settings, "SHOAL_TAG_STAGED_FIRST_PASS", True))


def replaceable() -> bool:
    """Nothing refers to the taggings table that a new table of the same name would not have (views, functions,
    foreign keys, triggers, grants, publications, options, a sequence or an owner of its own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (c.relacl IS NULL OR c.relacl = acldefault('r', c.relowner)) AND c.relkind = 'r' AND NOT c.relhassubclass AND NOT c.relispartition "
            "AND NOT c.relrowsecurity "
            "AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = c.oid) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = c.oid "
            "AND contype NOT IN ('p', 'u', 'c', 'n')) "
            "AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal) "
            "AND NOT EXISTS (SELECT 1 FROM pg_publication_rel WHERE prrelid = c.oid) "
            "AND NOT EXISTS (SELECT 1 FROM pg_publication WHERE puballtables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass "
            "AND d.objid = r.oid WHERE d.refobjid = c.oid AND r.ev_class <> c.oid) "
            "AND c.reloptions IS NULL AND c.reltablespace = 0 "
            "AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
            "AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL) "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid "
            "AND d.classid = 'pg_proc'::regclass) "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refobjid = c.reltype AND d.refclassid = 'pg_type'::regclass "
            "AND d.deptype = 'n') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refobjid = c.oid AND d.classid = 'pg_class'::regclass "
            "AND d.deptype = 'a' AND EXISTS (SELECT 1 FROM pg_class s WHERE s.oid = d.objid AND s.relkind = 'S')) "
            "FROM pg_class c WHERE c.oid = %s::regclass", [store.TAGGING])
        row = cursor.fetchone()
    return bool(row and row[0])


def drop_leftovers() -> list[str]:
    """Drop the tables of passes that ended without their last step (a crash): those of runs that hold no claim
    any more. The tables dropped."""
    from .models import Tag

    if connection.vendor != "postgresql":
        return []
    live = {token.replace("-", "")[:8] for token in Tag.objects.filter(claimed_until__gt=timezone.now())
            .exclude(claim="").values_list("claim", flat=True)}
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname ~ %s AND relkind = 'r' "
                       "AND relnamespace = current_schema()::regnamespace", [_LEFT])
        names = [name for (name,) in cursor.fetchall() if re.match(_LEFT, name).group(2) not in live]
        for name in names:
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(name)}")
    return names


class Stage:
    """The pass's tables and what it keeps for the last step."""

    def __init__(self, token: str, tag_ids: list[int]):
        suffix = "_p" + token.replace("-", "")[:8]
        self.table = store.TAGGING + suffix
        self.scores = SCORES + suffix
        self.suffix = suffix
        self.tag_ids = sorted(tag_ids)
        self.tag_scores: dict[int, int] | None = None  # the scores the pass sums (read once, without a lock)
        self.counts: dict[int, int] = defaultdict(int)
        self.bulk: set[int] = set()  # tags with adds (a TagBulkAdd row each, written in the last step)
        self.seen: list[tuple[int, int, tuple[int, int]]] = []  # (lo, hi, customers_between) when written
        self.constraints: list[tuple[str, str, str]] = []  # (name, PRIMARY KEY | UNIQUE, its index's name here)
        self.indexes: list[tuple[str, str]] = []  # (name here, CREATE statement for this table)
        self.renamed: list[tuple[str, str]] = []  # (name here, name in the taggings table) of the other indexes

    def prepare(self) -> bool:
        """Reads the taggings table's constraints and indexes. False: one is not understood (not staged)."""
        kinds = {"p": "PRIMARY KEY", "u": "UNIQUE"}
        with connection.cursor() as cursor:
            cursor.execute("SELECT conname, contype, pg_get_indexdef(conindid) FROM pg_constraint "
                           "WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY conname", [store.TAGGING])
            backing = [(name, kinds[kind], sql) for name, kind, sql in cursor.fetchall()]
            others = db.secondary_indexes(cursor, store.TAGGING)
        for name, kind, sql in backing:
            statement = self._statement(name, sql)
            if statement is None:
                return False
            self.constraints.append((name, kind, name + self.suffix))
            self.indexes.append((name + self.suffix, statement))
        for name, sql in others:
            statement = self._statement(name, sql)
            if statement is None:
                return False
            self.indexes.append((name + self.suffix, statement))
            self.renamed.append((name + self.suffix, name))
        return True

    def _statement(self, name: str, sql: str) -> str | None:
        match = _INDEX.fullmatch(sql.strip())
        if match is None or len(name) + len(self.suffix) > 63:
            return None
        unique, _name, _only, _table, rest = match.groups()
        return f"CREATE {unique or ''}INDEX {connection.ops.quote_name(name + self.suffix)} ON {self.table} {rest}"

    def begin(self) -> None:
        drop_leftovers()
        with connection.cursor() as cursor:
            # no autovacuum on them (its lock on the pass's table made the swap's rename wait: measured 79 s instead of
            # 17 s); the swapped-in table gets the setting back
            cursor.execute(f"CREATE TABLE {self.table} (LIKE {store.TAGGING} INCLUDING ALL EXCLUDING INDEXES) "
                           f"WITH (autovacuum_enabled = false)")
            cursor.execute(f"CREATE UNLOGGED TABLE {self.scores} (customer_id bigint NOT NULL, score bigint NOT NULL) "
                           f"WITH (autovacuum_enabled = false)")

    def discard(self) -> None:
        """Drop the pass's tables (after a failure: an error here is logged, the failure's own goes on)."""
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.table}, {self.scores}")
        except DatabaseError as error:
            log.warning("tags first pass: its tables stay for the nightly job: %s", error)

    # -- range by range ---------------------------------------------------------------------------------------
    def scores_of(self, tag_ids) -> dict[int, int]:
        """The scores the pass adds (read once for every tag of the run, without a lock: the last step reads them
        again under lock); a tag deleted before is left out."""
        from .models import Tag

        if self.tag_scores is None:
            self.tag_scores = dict(Tag.objects.filter(pk__in=self.tag_ids).values_list("pk", "score"))
        return {pk: self.tag_scores[pk] for pk in tag_ids if pk in self.tag_scores}

    def add_scores(self, customer_ids: np.ndarray, deltas: np.ndarray) -> None:
        """Score changes of a range (customer ids in order, no delta 0): one COPY."""
        if not len(customer_ids):
            return
        rows = np.empty(len(customer_ids), dtype=np.dtype([("count", ">i2"), ("l_customer", ">i4"),
                                                           ("customer", ">i8"), ("l_score", ">i4"), ("score", ">i8")]))
        rows["count"], rows["l_customer"], rows["l_score"] = 2, 8, 8
        rows["customer"], rows["score"] = customer_ids, deltas
        store._copy_binary(f"{self.scores} (customer_id, score)", [rows.tobytes()])

    def add_score_pairs(self, pairs) -> None:
        self.add_scores(np.fromiter((c for c, _d in pairs), np.int64, len(pairs)),
                        np.fromiter((d for _c, d in pairs), np.int64, len(pairs)))

    def written(self, lo: int, hi: int, customers: tuple[int, int]) -> None:
        """A range's rows are in: its customers (count, sum of ids) as they were when it was checked."""
        self.seen.append((lo, hi, customers))

    # -- the last step ---------------------------------------------------------------------------------------
    def finish(self, *, at) -> dict[str, float]:
        """Builds the table's key and indexes (two connections at once), then swaps it in (see the module's
        text); when the swap cannot have its locks after ``ATTEMPTS`` tries, or the taggings table changed shape
        meanwhile, the rows are merged into the taggings table instead (the usual writers' locks; slower).
        Seconds of each part."""
        clock = time.perf_counter
        started = clock()
        db.build_indexes(self.indexes, parallel=2)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {self.table}")  # (0.2 s at 11M rows: the planner knows the table at once)
        built = clock()
        swap = True
        for attempt in range(1, 2 * ATTEMPTS + 1):
            try:
                with transaction.atomic(), connection.wrap_database_errors:
                    self._apply(at, swap=swap)
                break
            except _Unswappable as why:
                log.warning("tags first pass: merged instead of swapped (%s)", why)
                swap = False
            except OperationalError as error:
                code = getattr(error.__cause__, "sqlstate", None)
                if code not in _RETRIED or attempt == 2 * ATTEMPTS:
                    raise
                log.info("tags first pass: the last step waits for a lock (%s), attempt %s", code, attempt)
                if attempt >= ATTEMPTS:
                    swap = False  # someone holds the tables for long (an open transaction): merge
                time.sleep(0.1 * min(attempt, 5))
        if not swap:
            self.discard()
            # The merge held no lock on the taggings: a customer deleted while it ran saw none of its rows. Those
            # rows (and their score rows) go now, their adds to the history; the counts are taken again.
            store.purge_orphans()
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {store.QUALITY} q WHERE NOT EXISTS (SELECT 1 FROM {store.CUSTOMER} c "
                               f"WHERE c.id = q.customer_id)")
            store.recount(self.tag_ids)
        return {"indexes": built - started, "swap" if swap else "merge": clock() - built}

    @staticmethod
    def _shape(cursor, table: str) -> tuple[list, list, list]:
        """A table's columns (name, type, not null, default), key and unique constraints, other indexes."""
        cursor.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                       "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a LEFT JOIN pg_attrdef d "
                       "ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = %s::regclass "
                       "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attname", [table])
        columns = [tuple(row) for row in cursor.fetchall()]
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u') "
                       "ORDER BY 1", [table])
        constraints = [name for (name,) in cursor.fetchall()]
        return columns, constraints, sorted(name for name, _sql in db.secondary_indexes(cursor, table))

    def _apply(self, at, *, swap: bool) -> None:
        from .models import Tag, TagBulkAdd, TagKind

        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            if swap:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                # Every lock the swap needs, first and at once: a stronger lock asked for later would wait behind
                # a writer that waits for this transaction (a deadlock). Reads of both wait until the commit.
                cursor.execute(f"LOCK TABLE {store.TAGGING}, {store.QUALITY}, {self.table}, {self.scores} "
                               f"IN ACCESS EXCLUSIVE MODE")
                # a migration meanwhile (a column, an index): the table of the pass has the old shape
                if self._shape(cursor, store.TAGGING)[0] != self._shape(cursor, self.table)[0]:
                    raise _Unswappable("the taggings' columns changed meanwhile")
                if self._shape(cursor, store.TAGGING)[1:] != (sorted(n for n, _k, _i in self.constraints),
                                                               sorted(name for _here, name in self.renamed)):
                    raise _Unswappable("the taggings' indexes changed meanwhile")
                if not replaceable():
                    raise _Unswappable("something refers to the taggings table now")
            # the run's tags as they are now: a tag deleted, or no longer auto, keeps none of the pass's rows
            scores = dict(Tag.objects.select_for_update().filter(pk__in=self.tag_ids, kind=TagKind.AUTO)
                          .order_by("pk").values_list("pk", "score"))
            counts = dict(self.counts)
            summed = self.tag_scores or {}
            gone_tags = [pk for pk in summed if pk not in scores]
            if gone_tags:
                cursor.execute(f"DELETE FROM {self.table} WHERE tag_id = ANY(%s)", [gone_tags])
            for lo, hi, customers in self.seen:
                if store.customers_between(lo, hi) == customers:
                    continue
                # customers deleted since the range was written: their rows go, their adds to the history (as a
                # deletion writes the adds of its customers' taggings: the history outlives the customer)
                cursor.execute(f"WITH gone AS (DELETE FROM {self.table} t WHERE t.customer_id >= %s AND "
                               f"t.customer_id < %s AND NOT EXISTS (SELECT 1 FROM {store.CUSTOMER} c "
                               f"WHERE c.id = t.customer_id) RETURNING t.*) "
                               f"INSERT INTO {store.HISTORY} ({store._LOG_COLUMNS}) SELECT "
                               f"{store._LOG_SELECT.replace(store.TAGGING, 'gone')} RETURNING tag_id",
                               [lo, hi])
                for (tag_id,) in cursor.fetchall():
                    counts[tag_id] = counts.get(tag_id, 0) - 1
                cursor.execute(f"DELETE FROM {self.scores} s WHERE s.customer_id >= %s AND s.customer_id < %s AND "
                               f"NOT EXISTS (SELECT 1 FROM {store.CUSTOMER} c WHERE c.id = s.customer_id)", [lo, hi])
            if gone_tags or any(scores.get(pk, score) != score for pk, score in summed.items()):
                cursor.execute(f"TRUNCATE {self.scores}")
                cursor.execute(f"INSERT INTO {self.scores} (customer_id, score) SELECT p.customer_id, SUM(t.score) "
                               f"FROM {self.table} p JOIN {store.TAG} t ON t.id = p.tag_id GROUP BY p.customer_id "
                               f"HAVING SUM(t.score) <> 0")
            columns = "tag_id, customer_id, source, applied_at, expires_at, history_id, rule_id"
            upsert = " ON CONFLICT (customer_id) DO UPDATE SET score = q.score + excluded.score"
            if swap:
                # the taggings others wrote meanwhile (manual tags: no pair with the pass's auto tags)
                cursor.execute(f"INSERT INTO {self.table} ({columns}) SELECT {columns} FROM {store.TAGGING}")
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {store.QUALITY})")
                fresh = not cursor.fetchone()[0]  # no score row yet (a first pass after an import): plain inserts
                quality = db.secondary_indexes(cursor, store.QUALITY)
                db.drop_indexes(cursor, quality)
                cursor.execute(f"INSERT INTO {store.QUALITY} AS q (customer_id, score) SELECT customer_id, score "
                               f"FROM {self.scores}" + ("" if fresh else upsert))
                db.create_indexes(cursor, quality)
            else:
                cursor.execute(f"INSERT INTO {store.TAGGING} ({columns}) SELECT {columns} FROM {self.table}")
                cursor.execute(f"INSERT INTO {store.QUALITY} AS q (customer_id, score) SELECT s.customer_id, s.score "
                               f"FROM {self.scores} s JOIN {store.CUSTOMER} c ON c.id = s.customer_id{upsert}")
            store.add_counts({pk: n for pk, n in counts.items() if pk in scores})
            TagBulkAdd.objects.bulk_create([TagBulkAdd(tag_id=pk, at=at) for pk in sorted(self.bulk) if pk in scores])
            if not swap:
                return
            cursor.execute(f"DROP TABLE {store.TAGGING}, {self.scores}")
            cursor.execute(f"ALTER TABLE {self.table} RENAME TO {store.TAGGING}")
            cursor.execute(f"ALTER TABLE {store.TAGGING} RESET (autovacuum_enabled)")
            for name, kind, index in self.constraints:  # (the index takes the constraint's name)
                cursor.execute(f"ALTER TABLE {store.TAGGING} ADD CONSTRAINT {quote(name)} {kind} USING INDEX "
                               f"{quote(index)}")
            for here, name in self.renamed:
                cursor.execute(f"ALTER INDEX {quote(here)} RENAME TO {quote(name)}")


class _Unswappable(Exception):
    """The taggings table cannot be replaced now: the pass's rows are merged into it instead."""
