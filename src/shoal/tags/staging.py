"""PostgreSQL: a first full pass of every auto tag into empty taggings writes into a table of its own, without any
index, which becomes the taggings table in one short last step.

Why: each row a COPY puts into the taggings goes into their key (tag, customer) on the server, ~1 µs a row (measured
at 1M customers, 11M taggings: 16 s of a 24 s first pass); into a table without an index, then the key and the
indexes built once by sorting, it costs a fraction of that (docs/benchmarks.md).

The pass runs in one transaction of the refresh's connection (the read-ahead thread reads the customers on its own
connection). Nothing of it is visible before the end, and an error or a crash leaves nothing: the table is created
in that transaction. Until the last step the transaction holds no lock another writer waits for: the tags' scores
are read without a lock, and the history ids come from one block reserved beforehand (no advisory lock held); the
quality scores go to a temporary table; counts and the passes' ``TagBulkAdd`` rows are kept in memory.

The last step, in a savepoint that is tried again when a lock does not come in time (or a deadlock is found):

1. the run's tags locked (FOR UPDATE, as every change of a tag's score does) and the taggings table locked
   against writes (SHARE ROW EXCLUSIVE: reads go on);
2. the rows of a tag deleted meanwhile go; a tag's score changed meanwhile: the scores are summed again; customers
   deleted meanwhile (a range's count and sum of ids changed) lose their rows;
3. the taggings other transactions wrote meanwhile (manual tags) are copied in;
4. the quality scores are added (their secondary indexes dropped and built again around it, as an import does),
   the tags' counts, the ``TagBulkAdd`` rows;
5. the old table is dropped and this one takes its name, its indexes theirs.

Chosen only when nothing else refers to the taggings table (views, foreign keys, triggers, grants, publications:
it would lose them) and no rule of the run reads another tag of the run (a later level reads the taggings table)."""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.db import OperationalError, connection, transaction

from shoal.core import db

from . import store

log = logging.getLogger(__name__)

LOCK_TIMEOUT = "3s"  # the last step's wait for a lock before it lets go of all it took and tries again
ATTEMPTS = 6
_INDEX = re.compile(r"CREATE (UNIQUE )?INDEX (\S+) ON (ONLY )?(\S+) (USING .*)", re.DOTALL)
_RETRIED = {"55P03", "40P01"}  # lock_not_available (lock_timeout), deadlock_detected


def enabled() -> bool:
    return connection.vendor == "postgresql" and bool(getattr(settings, "SHOAL_TAG_STAGED_FIRST_PASS", True))


def replaceable() -> bool:
    """Nothing refers to the taggings table that a new table of the same name would not have."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relacl IS NULL AND c.relkind = 'r' AND NOT c.relhassubclass AND NOT c.relispartition "
            "AND NOT c.relrowsecurity "
            "AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = c.oid) "
            "AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal) "
            "AND NOT EXISTS (SELECT 1 FROM pg_publication_rel WHERE prrelid = c.oid) "
            "AND NOT EXISTS (SELECT 1 FROM pg_publication WHERE puballtables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass "
            "AND d.objid = r.oid WHERE d.refobjid = c.oid AND r.ev_class <> c.oid) "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refobjid = c.oid AND d.classid = 'pg_class'::regclass "
            "AND d.deptype = 'a' AND EXISTS (SELECT 1 FROM pg_class s WHERE s.oid = d.objid AND s.relkind = 'S')) "
            "FROM pg_class c WHERE c.oid = %s::regclass", [store.TAGGING])
        row = cursor.fetchone()
    return bool(row and row[0])


class Stage:
    """The pass's table and what it keeps for the last step."""

    def __init__(self, token: str, tag_ids: list[int], id_span: int):
        suffix = "_p" + token.replace("-", "")[:8]
        self.table = store.TAGGING + suffix
        self.scores = "tags_pass_scores" + suffix  # unlogged, dropped in the last step (created in the transaction)
        self.suffix = suffix
        self.tag_ids = sorted(tag_ids)
        self.id_span = id_span  # max id - min id + 1 of the customers at the start
        self.tag_scores: dict[int, int] | None = None  # the scores the pass sums (read once, without a lock)
        self.counts: dict[int, int] = defaultdict(int)
        self.bulk: set[int] = set()  # tags with adds (a TagBulkAdd row each, written in the last step)
        self.seen: list[tuple[int, int, tuple[int, int]]] = []  # (lo, hi, customers_between) when written
        self.next_id = self.last_id = 0
        self.constraints: list[tuple[str, str]] = []  # (name, definition) of the key and unique constraints
        self.indexes: list[tuple[str, str]] = []  # (name, CREATE statement for this table)

    # -- before the transaction -------------------------------------------------------------------------------
    def prepare(self) -> bool:
        """Reads the old table's constraints and indexes and reserves the pass's history ids (their own short
        transaction: nothing held afterwards). False: the indexes are not understood (not staged)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                           "AND contype IN ('p', 'u', 'x') ORDER BY conname", [store.TAGGING])
            self.constraints = list(cursor.fetchall())
            for name, sql in db.secondary_indexes(cursor, store.TAGGING):
                match = _INDEX.fullmatch(sql.strip())
                if match is None or len(name) + len(self.suffix) > 63:
                    return False
                unique, _old, _only, _table, rest = match.groups()
                self.indexes.append((name, f"CREATE {unique or ''}INDEX {connection.ops.quote_name(name + self.suffix)} "
                                           f"ON {self.table} {rest}"))
        if any(len(name) + len(self.suffix) > 63 for name, _definition in self.constraints):
            return False
        # at most one add per tag and customer id: one block, handed out in order (ids unused are only a gap)
        count = max(self.id_span, 0) * len(self.tag_ids)
        with transaction.atomic():
            self.next_id = store.reserve_history_ids(count) if count else 0
        self.last_id = self.next_id + count
        return True

    # -- in the pass's transaction ------------------------------------------------------------------------------
    def begin(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {self.table} (LIKE {store.TAGGING} INCLUDING ALL EXCLUDING INDEXES)")
            # (unlogged, not temporary: a temporary table's pages go through 8 MB of local buffers)
            cursor.execute(f"CREATE UNLOGGED TABLE {self.scores} (customer_id bigint NOT NULL, score bigint NOT NULL)")

    def scores_of(self, tag_ids) -> dict[int, int]:
        """The scores the pass adds (read once for every tag of the run, without a lock: the last step checks
        them again under lock); a tag deleted before is left out."""
        from .models import Tag

        if self.tag_scores is None:
            self.tag_scores = dict(Tag.objects.filter(pk__in=self.tag_ids).values_list("pk", "score"))
        return {pk: self.tag_scores[pk] for pk in tag_ids if pk in self.tag_scores}

    def take_ids(self, count: int) -> int:
        first = self.next_id
        self.next_id += count
        if self.next_id > self.last_id:
            raise RuntimeError("more adds than reserved history ids")
        return first

    def add_scores(self, customer_ids: np.ndarray, deltas: np.ndarray) -> None:
        """Score changes of a range (customer ids in order, no delta 0) into the temporary table (one COPY)."""
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
        """A range's rows are in: its customers (count, sum of ids) as they were checked for it."""
        self.seen.append((lo, hi, customers))

    # -- the last step ---------------------------------------------------------------------------------------
    def finish(self, *, at) -> dict[str, float]:
        """Builds the table's key and indexes, then swaps it in (see the module's text). Seconds of each part."""
        clock = time.perf_counter
        started = clock()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for name, definition in self.constraints:
                cursor.execute(f"ALTER TABLE {self.table} ADD CONSTRAINT "
                               f"{connection.ops.quote_name(name + self.suffix)} {definition}")
            for _name, sql in self.indexes:
                cursor.execute(sql)
            cursor.execute(f"ANALYZE {self.table}")  # (0.2 s at 11M rows; the planner has its numbers at once)
        built = clock()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with transaction.atomic(), connection.wrap_database_errors:
                    self._swap(at)
                break
            except OperationalError as error:
                code = getattr(error.__cause__, "sqlstate", None)
                if code not in _RETRIED or attempt == ATTEMPTS:
                    raise
                log.info("tags first pass: the last step waits for a lock (%s), attempt %s", code, attempt)
                time.sleep(0.2 * attempt)
        return {"indexes": built - started, "swap": clock() - built}

    def _quality_rows(self, cursor) -> bool:
        """Has any customer of the pass a quality score row? (Read after the rows' lock: SHARE on the table.)"""
        cursor.execute(f"LOCK TABLE {store.QUALITY} IN SHARE MODE")
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {store.QUALITY})")
        return cursor.fetchone()[0]

    def _swap(self, at) -> None:
        from .models import Tag, TagBulkAdd

        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            scores = dict(Tag.objects.select_for_update().filter(pk__in=self.tag_ids).order_by("pk")
                          .values_list("pk", "score"))
            cursor.execute(f"LOCK TABLE {store.TAGGING} IN SHARE ROW EXCLUSIVE MODE")
            counts = dict(self.counts)
            summed = self.tag_scores or {}
            gone_tags = [pk for pk in summed if pk not in scores]
            if gone_tags:
                cursor.execute(f"DELETE FROM {self.table} WHERE tag_id = ANY(%s)", [gone_tags])
            for lo, hi, customers in self.seen:
                if store.customers_between(lo, hi) != customers:  # some went since the range was written
                    cursor.execute(f"DELETE FROM {self.table} t WHERE t.customer_id >= %s AND t.customer_id < %s AND "
                                   f"NOT EXISTS (SELECT 1 FROM {store.CUSTOMER} c WHERE c.id = t.customer_id) "
                                   f"RETURNING t.tag_id", [lo, hi])
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
            cursor.execute(f"INSERT INTO {self.table} ({columns}) SELECT {columns} FROM {store.TAGGING} "
                           f"ON CONFLICT DO NOTHING")
            quality = db.secondary_indexes(cursor, store.QUALITY)
            db.drop_indexes(cursor, quality)
            # Every customer there exists (those that went are out, and a deletion that comes now waits for the lock
            # on the taggings). No score row yet (a first pass after an import): plain inserts; else upserts.
            fresh = not self._quality_rows(cursor)
            cursor.execute(f"INSERT INTO {store.QUALITY} AS q (customer_id, score) SELECT customer_id, score "
                           f"FROM {self.scores}" + ("" if fresh else " ON CONFLICT (customer_id) DO UPDATE SET "
                                                                     "score = q.score + excluded.score"))
            cursor.execute(f"DROP TABLE {self.scores}")
            db.create_indexes(cursor, quality)
            store.add_counts({pk: n for pk, n in counts.items() if pk in scores})
            TagBulkAdd.objects.bulk_create([TagBulkAdd(tag_id=pk, at=at) for pk in sorted(self.bulk) if pk in scores])
            cursor.execute(f"DROP TABLE {store.TAGGING}")
            cursor.execute(f"ALTER TABLE {self.table} RENAME TO {store.TAGGING}")
            for name, _sql in [*self.constraints, *self.indexes]:
                cursor.execute(f"ALTER INDEX {quote(name + self.suffix)} RENAME TO {quote(name)}")

