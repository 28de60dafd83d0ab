"""PostgreSQL: a first full pass into empty taggings writes into a table of its own and swaps it in at the end
(``tags.staging``). What other connections see meanwhile, what they write meanwhile, and what a failure leaves.
On SQLite the same passes run the usual way: each test checks the same answers there (and that no stage ran)."""

import threading

import pytest
from django.db import connection, connections

from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.customers.models import Customer, CustomerQuality
from shoal.tags import refresh as refresh_module
from shoal.tags import services, staging, store
from shoal.tags.models import Tag, TagBulkAdd, Tagging
from shoal.tags.refresh import refresh

from .conftest import assert_scores_are_sums, history, tag_sets
from .test_refresh import people

pytestmark = pytest.mark.django_db(transaction=True)

CITY = lambda city: {"query": {"field": "city", "op": "eq", "value": city}}  # noqa: E731
ADS = {"query": {"field": "source", "op": "eq", "value": "ads"}}
STAGED = connection.vendor == "postgresql"
LEFT_BEHIND = r"SELECT COUNT(*) FROM pg_class WHERE relname ~ '^(tags_tagging|tags_pass_scores)_p[0-9a-f]{8}'"


def elsewhere(work):
    """Run ``work()`` on another connection (a thread of its own), to the end; its result."""
    out = {}

    def target():
        try:
            out["value"] = work()
        except BaseException as error:  # noqa: BLE001 — raised again in the test's thread
            out["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def held_open(inside, until) -> threading.Thread:
    """On another connection, a transaction that runs ``inside()`` and stays open until ``until()`` returns; the
    thread, once ``inside()`` is done."""
    from django.db import transaction

    holding = threading.Event()

    def work():
        with transaction.atomic():
            inside()
            holding.set()
            until()
        connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    holding.wait(10)
    return thread


@pytest.fixture
def small(monkeypatch):
    """Ranges of 4 customers, every first pass a bulk one."""
    monkeypatch.setattr(refresh_module, "RANGE", 4)
    monkeypatch.setattr(refresh_module, "INDEXES_AFTER", 0)


@pytest.fixture
def finishes(monkeypatch):
    """Counts each stage's finish and swap attempts; ``before`` (callables) run when every range is written, before
    a stage's finish (the usual pass: after its last range's commit)."""
    calls = {"finish": 0, "swap": 0, "merge": 0, "before": []}
    run, finish, apply = refresh_module.Run.run, staging.Stage.finish, staging.Stage._apply

    def spy_run(self):
        run(self)
        for work in calls["before"]:
            work(self.stage)

    def spy_finish(self, **kwargs):
        calls["finish"] += 1
        return finish(self, **kwargs)

    def spy_apply(self, at, *, swap):
        calls["swap" if swap else "merge"] += 1
        return apply(self, at, swap=swap)

    monkeypatch.setattr(refresh_module.Run, "run", spy_run)
    monkeypatch.setattr(staging.Stage, "finish", spy_finish)
    monkeypatch.setattr(staging.Stage, "_apply", spy_apply)
    return calls


def indexes_and_key():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY 1", [store.TAGGING]) \
            if connection.vendor == "postgresql" else \
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s ORDER BY 1",
                           [store.TAGGING])
        return [row[0] for row in cursor.fetchall()]


def test_a_staged_first_pass_writes_what_the_usual_pass_writes(make_tag, small, finishes, settings):
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    ads = make_tag("广告", score=-1, rules=[ADS])
    week = make_tag("七天", score=3, valid_days=7, rules=[CITY("北京")])
    before = indexes_and_key()
    progress = []
    result = refresh(progress=lambda done, total: progress.append((done, total)))
    assert finishes["finish"] == (1 if STAGED else 0)
    expected = {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")}, ads.pk: {c.pk for c in cs if c.source == "ads"},
                week.pk: {c.pk for c in cs if c.city == "北京"}}
    assert tag_sets() == expected and result["added"] == sum(map(len, expected.values()))
    assert indexes_and_key() == before  # the same indexes, by the same names
    assert {t.pk: t.customer_count for t in Tag.objects.all()} == {pk: len(ids) for pk, ids in expected.items()}
    assert set(TagBulkAdd.objects.values_list("tag_id", flat=True)) == set(expected)
    assert all(t.expires_at is not None for t in Tagging.objects.filter(tag=week))
    rows = history()
    assert len(rows) == result["added"] and {r["action"] for r in rows} == {"add"}
    assert len({r["id"] for r in rows}) == len(rows)  # each add its own history id
    assert progress and progress[-1][0] == progress[-1][1]  # the last report says done
    assert_scores_are_sums()
    if STAGED:
        with connection.cursor() as cursor:  # the pass's tables went with the swap
            cursor.execute(LEFT_BEHIND)
            assert cursor.fetchone()[0] == 0
            cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                           [store.TAGGING])
            assert cursor.fetchone()[0] == "tags_tagging_pkey"
    # the key holds (a pair written again is refused); the next refresh writes nothing
    from django.db import IntegrityError, transaction

    pair = Tagging.objects.filter(tag=south).values_list("tag_id", "customer_id").first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {store.TAGGING} (tag_id, customer_id, source, applied_at) VALUES (%s, %s, 'user', "
                       f"CURRENT_TIMESTAMP)", list(pair))
    again = refresh(full=True)
    assert (again["added"], again["removed"]) == (0, 0)
    assert_scores_are_sums()


def test_nothing_of_a_staged_pass_is_seen_before_its_end_and_a_failure_leaves_nothing(make_tag, small, finishes,
                                                                                      monkeypatch):
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    wanted = {c.pk for c in cs if c.city in ("广州", "深圳")}
    seen_meanwhile = []

    def look(stage):
        seen_meanwhile.append(elsewhere(lambda: (Tagging.objects.count(), CustomerQuality.objects.exclude(score=0)
                                                 .count(), Tag.objects.get(pk=south.pk).customer_count)))

    finishes["before"].append(look)
    if STAGED:
        apply = staging.Stage._apply

        def fail(self, at, *, swap):
            raise RuntimeError("the swap fails")

        monkeypatch.setattr(staging.Stage, "_apply", fail)
        with pytest.raises(RuntimeError):
            refresh()
        assert seen_meanwhile == [(0, 0, 0)]  # every range was written: none of it visible
        assert not Tagging.objects.exists() and not CustomerQuality.objects.exclude(score=0).exists()
        assert not TagBulkAdd.objects.exists()
        south.refresh_from_db()
        assert south.needs_full and south.customer_count == 0 and south.claim == ""
        with connection.cursor() as cursor:
            cursor.execute(LEFT_BEHIND)
            assert cursor.fetchone()[0] == 0
        monkeypatch.setattr(staging.Stage, "_apply", apply)
        seen_meanwhile.clear()
    result = refresh()
    assert result["added"] == 8 and tag_sets() == {south.pk: wanted}
    # the usual pass commits range by range: all of it is there when its last range is written
    assert seen_meanwhile == [(0, 0, 0) if STAGED else (8, 8, 8)]
    assert_scores_are_sums()


def test_what_others_write_during_a_staged_pass_is_kept(make_tag, small, finishes):
    """Meanwhile, on other connections: a manual tag given (kept, with its score), a customer deleted after its
    range was written (no tagging, no score), a tag deleted (none of its rows), a tag's score changed (the scores
    follow the new one). (cs[0] 深圳, cs[2] 北京, cs[3] 深圳 and ads.)"""
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    ads = make_tag("广告", score=-1, rules=[ADS])
    gone_tag = make_tag("北京", score=7, rules=[CITY("北京")])
    manual = make_tag("手动", kind="manual", score=5)
    gone = cs[1]  # 广州, ads: in the first range

    def meanwhile(stage):
        def work():
            services.apply_tag(actor=SYSTEM, tag=manual, customer_ids=[cs[0].pk, cs[2].pk])
            customer_services.customer_delete(actor=SYSTEM, customer=Customer.objects.get(pk=gone.pk))
            if STAGED:  # by a path that skips the claim (the tag service refuses while a refresh holds it)
                Tag.objects.get(pk=gone_tag.pk).delete()
            services.tag_update(actor=SYSTEM, tag=Tag.objects.get(pk=ads.pk), data={"score": 4})
        elsewhere(work)

    finishes["before"].append(meanwhile)
    refresh()
    live = [c for c in cs if c.pk != gone.pk]
    expected = {south.pk: {c.pk for c in live if c.city in ("广州", "深圳")}, ads.pk: {c.pk for c in live if c.source == "ads"},
                manual.pk: {cs[0].pk, cs[2].pk}}
    if not STAGED:
        expected[gone_tag.pk] = {c.pk for c in live if c.city == "北京"}
    assert finishes["finish"] == (1 if STAGED else 0)
    assert tag_sets() == expected
    assert not Tagging.objects.filter(customer_id=gone.pk).exists()
    assert not CustomerQuality.objects.filter(customer_id=gone.pk).exists()
    # the deleted customer's adds are in the history (a deletion writes them: the history outlives the customer)
    assert {(r["tag_id"], r["action"]) for r in history(customer_id=gone.pk)} == {(south.pk, "add"), (ads.pk, "add")}
    assert {t.pk: t.customer_count for t in Tag.objects.all()} == {pk: len(ids) for pk, ids in expected.items()}
    assert_scores_are_sums()
    scores = dict(CustomerQuality.objects.values_list("customer_id", "score"))
    assert (scores[cs[0].pk], scores[cs[2].pk], scores[cs[3].pk]) == (2 + 5, 5 + (0 if STAGED else 7), 2 + 4)


@pytest.mark.skipif(not STAGED, reason="PostgreSQL: a table lock another transaction holds (SQLite has one writer)")
def test_the_swap_waits_for_a_writer_that_holds_the_taggings_and_tries_again(make_tag, small, finishes,
                                                                            monkeypatch):
    """A transaction that wrote a tagging and is still open when the swap begins: the swap's lock does not come
    in time, so it lets go of what it took and tries again; the writer's tagging is in the table afterwards."""
    import time


    monkeypatch.setattr(staging, "LOCK_TIMEOUT", "100ms")
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    manual = make_tag("手动", kind="manual", score=5)
    threads = []

    def hold(stage):
        threads.append(held_open(lambda: services.apply_tag(actor=SYSTEM, tag=manual, customer_ids=[cs[4].pk]),
                                 lambda: time.sleep(0.8)))

    finishes["before"].append(hold)
    refresh()
    threads[0].join()
    assert finishes["swap"] >= 2 and finishes["merge"] == 0  # at least one attempt gave up its locks
    assert tag_sets() == {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")}, manual.pk: {cs[4].pk}}
    assert_scores_are_sums()


def test_a_pass_whose_rules_read_its_own_tags_or_a_table_others_depend_on_is_not_staged(make_tag, small,
                                                                                       finishes):
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    both = make_tag("华南广告", score=1, rules=[{**ADS, "include_tags": [south.pk]}])
    refresh()
    assert finishes["finish"] == 0  # a second level reads the first one's taggings: the usual way
    assert tag_sets() == {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")},
                          both.pk: {c.pk for c in cs if c.city in ("广州", "深圳") and c.source == "ads"}}
    assert_scores_are_sums()
    if STAGED:
        from shoal.customers.quality import reset_scores

        both.delete()
        Tagging.objects.all().delete()
        reset_scores()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE VIEW tagging_view AS SELECT tag_id FROM {store.TAGGING}")
        try:
            assert not staging.replaceable()
            refresh(full=True)
            assert finishes["finish"] == 0
            assert tag_sets() == {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")}}
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP VIEW tagging_view")
        assert staging.replaceable()
        for create, drop in [  # other things a new table would not keep
                (f"GRANT SELECT ON {store.TAGGING} TO PUBLIC", f"REVOKE SELECT ON {store.TAGGING} FROM PUBLIC"),
                (f"ALTER TABLE {store.TAGGING} SET (fillfactor = 90)", f"ALTER TABLE {store.TAGGING} RESET (fillfactor)"),
                (f"CREATE FUNCTION tagging_rows() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT COUNT(*) FROM "
                 f"{store.TAGGING}; END", "DROP FUNCTION tagging_rows()")]:
            with connection.cursor() as cursor:
                cursor.execute(create)
            try:
                assert not staging.replaceable(), create
            finally:
                with connection.cursor() as cursor:
                    cursor.execute(drop)
            assert staging.replaceable()


def test_a_staged_pass_adds_to_score_rows_that_exist(make_tag, small, finishes):
    """A customer with a score row already (0: its tags went before): the last step adds to it (no plain insert)."""
    from shoal.customers.quality import set_scores

    cs = people(12)
    set_scores({cs[0].pk: 0, cs[5].pk: 0})
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    refresh()
    assert finishes["finish"] == (1 if STAGED else 0)
    assert tag_sets() == {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")}}
    assert CustomerQuality.objects.get(customer_id=cs[0].pk).score == 2
    assert_scores_are_sums()


def test_the_tables_a_crashed_pass_left_are_dropped_but_not_those_of_a_pass_under_way(make_tag, small, finishes):
    from datetime import timedelta

    from django.utils import timezone

    from shoal.tags.registry import expire_job

    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    if STAGED:  # a crash after the pass's tables were made (the process died: nothing dropped them)
        crashed, running = staging.Stage("0123abcd-0000", [south.pk]), staging.Stage("89abcdef-1111", [south.pk])
        other = make_tag("别的", rules=[ADS])
        Tag.objects.filter(pk=other.pk).update(claim="89abcdef-1111", claimed_until=timezone.now() + timedelta(minutes=5))
        with connection.cursor() as cursor:
            for stage in (crashed, running):
                cursor.execute(f"CREATE TABLE {stage.table} (LIKE {store.TAGGING})")
                cursor.execute(f"CREATE UNLOGGED TABLE {stage.scores} (customer_id bigint, score bigint)")
        assert sorted(staging.drop_leftovers()) == sorted([crashed.table, crashed.scores])
        with connection.cursor() as cursor:
            cursor.execute(LEFT_BEHIND)
            assert cursor.fetchone()[0] == 2  # the running pass's tables stay
        Tag.objects.filter(pk=other.pk).update(claim="", claimed_until=None)
        assert expire_job()["passes_dropped"] == 2  # its claim ended without its last step: gone too
        other.delete()
    else:
        assert staging.drop_leftovers() == [] and expire_job()["passes_dropped"] == 0
    refresh()
    assert tag_sets() == {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")}}
    with connection.cursor() as cursor:
        if STAGED:
            cursor.execute(LEFT_BEHIND)
            assert cursor.fetchone()[0] == 0
    assert_scores_are_sums()


@pytest.mark.skipif(not STAGED, reason="PostgreSQL: a transaction that keeps the taggings open (SQLite has no swap)")
def test_a_pass_that_cannot_swap_while_a_reader_keeps_the_taggings_open_merges_its_rows(make_tag, small, finishes,
                                                                                   monkeypatch):
    """An open transaction that has read the taggings (a report tool, say) holds them past every attempt: the pass's
    rows go into the taggings table the slow way, with the same answers; the reader is not disturbed."""
    import time


    monkeypatch.setattr(staging, "LOCK_TIMEOUT", "50ms")
    monkeypatch.setattr(staging, "ATTEMPTS", 2)
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    done = threading.Event()
    threads = []

    def reader(stage):  # ACCESS SHARE on the taggings until the end of the transaction
        threads.append(held_open(Tagging.objects.count, lambda: done.wait(20)))

    finishes["before"].append(reader)
    started = time.monotonic()
    result = refresh()
    done.set()
    threads[0].join()
    assert finishes["swap"] == 2 and finishes["merge"] == 1 and "merge" in result["phases"]
    assert time.monotonic() - started < 15
    assert tag_sets() == {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")}}
    with connection.cursor() as cursor:
        cursor.execute(LEFT_BEHIND)
        assert cursor.fetchone()[0] == 0
    assert len(history()) == result["added"]
    assert_scores_are_sums()


def test_a_tag_that_stops_being_auto_during_a_pass_keeps_only_what_was_given_by_hand(make_tag, small, finishes):
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    ads = make_tag("广告", score=1, rules=[ADS])

    def meanwhile(stage):
        def work():
            services.tag_update(actor=SYSTEM, tag=Tag.objects.get(pk=ads.pk), data={"kind": "manual"})
            services.apply_tag(actor=SYSTEM, tag=Tag.objects.get(pk=ads.pk), customer_ids=[cs[1].pk, cs[2].pk])
        if STAGED:  # (the usual pass has written its rows by now: the tag keeps them, the kind change is refused)
            elsewhere(work)

    finishes["before"].append(meanwhile)
    refresh()
    if STAGED:
        assert tag_sets() == {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")}, ads.pk: {cs[1].pk, cs[2].pk}}
        assert set(Tagging.objects.filter(tag=ads).values_list("source", flat=True)) == {"user"}
        assert Tag.objects.get(pk=ads.pk).customer_count == 2
    else:
        assert tag_sets()[ads.pk] == {c.pk for c in cs if c.source == "ads"}
    assert_scores_are_sums()


@pytest.mark.skipif(not STAGED, reason="PostgreSQL: the swap of the taggings table (SQLite has none)")
def test_a_column_added_to_the_taggings_during_a_pass_is_kept_the_rows_merged(make_tag, small, finishes):
    """A migration runs while the pass writes (a column added): the pass's table has the old shape, so the rows are
    merged into the taggings table, which keeps its new column."""
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])

    def migrate(stage):
        elsewhere(lambda: connection.cursor().execute(f"ALTER TABLE {store.TAGGING} ADD COLUMN note text"))

    finishes["before"].append(migrate)
    try:
        result = refresh()
        assert finishes["merge"] == 1 and "merge" in result["phases"]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(note) FROM {store.TAGGING}")  # the column is there
            assert cursor.fetchone()[0] == 0
            cursor.execute(LEFT_BEHIND)
            assert cursor.fetchone()[0] == 0
        assert tag_sets() == {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")}}
        assert Tag.objects.get(pk=south.pk).customer_count == 8
        assert_scores_are_sums()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {store.TAGGING} DROP COLUMN IF EXISTS note")
