"""A full refresh writes its adds without history rows: the taggings carry their history ids and rules, and
every reader of the history (API, page, timeline, a dependent tag's refresh) sees them as add rows. When such a
tagging goes (the rule stops matching, expiry, the customer's deletion, an orphan purge) its add row is written
to the history table first, with the same id, before the removal."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.customers.extensions import customer_timeline
from shoal.tags import services, store
from shoal.tags.models import Tagging, TagHistory
from shoal.tags.refresh import expire, refresh

from .conftest import assert_scores_are_sums, history, tag_sets
from .test_refresh import people

pytestmark = pytest.mark.django_db

CITY = lambda city: {"query": {"field": "city", "op": "eq", "value": city}}  # noqa: E731


def test_a_full_pass_writes_no_history_rows_and_its_adds_read_as_history(make_tag):
    cs = people()
    sz = make_tag("深圳客户", score=5, rules=[CITY("广州"), CITY("深圳")])
    rules = list(sz.rules.order_by("pk").values_list("pk", flat=True))
    result = refresh()
    assert result["added"] == 4
    assert not TagHistory.objects.exists()  # nothing written to the history table
    carried = dict(Tagging.objects.filter(tag=sz).values_list("customer_id", "rule_id"))
    assert carried == {cs[0].pk: rules[1], cs[3].pk: rules[1], cs[1].pk: rules[0], cs[4].pk: rules[0]}
    rows = history(tag_id=sz.pk)
    assert {(r["customer_id"], r["action"], r["source"], r["rule_id"]) for r in rows} == {
        (c, "add", "rule", rule) for c, rule in carried.items()}
    assert {r["at"] for r in rows} == {Tagging.objects.filter(tag=sz).first().applied_at}
    # the customer's timeline shows the add, by the rule
    entries = list(customer_timeline(viewer=SYSTEM, customer=cs[0])[0:10])
    tag_entries = [e for e in entries if e["kind"] == "tag"]
    assert len(tag_entries) == 1 and "深圳客户" in tag_entries[0]["new"]
    own = [r["id"] for r in rows if r["customer_id"] == cs[0].pk]
    assert tag_entries[0]["detail"]["rule_id"] == rules[1] and [tag_entries[0]["id"]] == own
    assert_scores_are_sums()


def test_a_removal_after_a_full_pass_logs_the_add_with_its_id_then_the_removal(make_tag, settings):
    settings.SHOAL_TAG_CHANGE_MARGIN_SECONDS = 0
    cs = people()
    sz = make_tag("深圳客户", score=5, rules=[CITY("深圳")])
    refresh()
    ids = {r["customer_id"]: r["id"] for r in history(tag_id=sz.pk)}
    added_at = Tagging.objects.get(tag=sz, customer=cs[0]).applied_at
    customer_services.customer_update(actor=SYSTEM, customer=cs[0], data={"city": "北京"})
    result = refresh()  # incremental: cs[0] no longer matches
    assert (result["added"], result["removed"]) == (0, 1)
    logged = list(TagHistory.objects.filter(tag=sz).order_by("at", "id").values_list("id", "customer_id", "action", "at"))
    assert logged[0] == (ids[cs[0].pk], cs[0].pk, "add", added_at)  # the same id and time as it was read before
    assert logged[1][1:3] == (cs[0].pk, "remove") and logged[1][3] > added_at and len(logged) == 2
    rows = history(tag_id=sz.pk)
    assert [(r["id"], r["action"]) for r in rows if r["customer_id"] == cs[0].pk] == [
        (ids[cs[0].pk], "add"), (logged[1][0], "remove")]
    assert [r["id"] for r in rows if r["customer_id"] == cs[3].pk] == [ids[cs[3].pk]]  # still carried
    # a customer tagged by an incremental refresh gets a history row at once
    customer_services.customer_update(actor=SYSTEM, customer=cs[1], data={"city": "深圳"})
    refresh()
    assert TagHistory.objects.filter(tag=sz, customer_id=cs[1].pk, action="add").count() == 1
    assert Tagging.objects.get(tag=sz, customer=cs[1]).history_id is None
    assert_scores_are_sums()


def test_new_history_rows_never_take_a_reserved_id(make_tag):
    cs = people()
    sz = make_tag("深圳客户", rules=[CITY("深圳")])
    manual = make_tag("手动", kind="manual")
    refresh()
    reserved = set(Tagging.objects.filter(history_id__isnull=False).values_list("history_id", flat=True))
    services.apply_tag(actor=SYSTEM, tag=manual, customer_ids=[c.pk for c in cs])
    services.remove_tag(actor=SYSTEM, tag=manual, customer_ids=[cs[0].pk])
    written = set(TagHistory.objects.values_list("id", flat=True))
    assert len(written) == 7 and not written & reserved
    assert len(history()) == 7 + len(reserved)
    assert sz.pk in tag_sets()


def test_deleting_a_customer_or_purging_an_orphan_keeps_the_adds_in_history(make_tag):
    cs = people()
    sz = make_tag("深圳客户", score=2, rules=[CITY("深圳")])
    refresh()
    before = {r["customer_id"]: r for r in history(tag_id=sz.pk)}
    customer_services.customers_delete(actor=SYSTEM, customer_ids=[cs[0].pk])
    kept = TagHistory.objects.get(customer_id=cs[0].pk)
    assert (kept.id, kept.action, kept.rule_id, kept.at) == (before[cs[0].pk]["id"], "add", before[cs[0].pk]["rule_id"],
                                                            before[cs[0].pk]["at"])
    # a customer gone by a path that skipped the ORM: the purge logs its adds before removing the taggings
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_customer WHERE id = %s", [cs[3].pk])
    assert store.purge_orphans() == 1
    assert TagHistory.objects.get(customer_id=cs[3].pk).id == before[cs[3].pk]["id"]
    assert [r["customer_id"] for r in history(tag_id=sz.pk)] == sorted([cs[0].pk, cs[3].pk], key=lambda c: before[c]["id"])


def test_expiry_after_a_full_pass_logs_the_add_then_the_expiry(make_tag):
    cs = people()
    sz = make_tag("深圳客户", rules=[CITY("深圳")], valid_days=1)
    refresh()
    assert expire(now=timezone.now() + timedelta(days=3))["removed"] == 2
    assert sorted(TagHistory.objects.filter(customer_id=cs[0].pk).values_list("action", "source")) == [
        ("add", "rule"), ("remove", "expiry")]
    assert not Tagging.objects.exists() and len(history(tag_id=sz.pk)) == 4


def test_deleting_the_tag_after_a_full_pass_takes_its_history(make_tag):
    people()
    sz = make_tag("深圳客户", score=3, rules=[CITY("深圳")])
    refresh()
    services.tag_delete(actor=SYSTEM, tag=sz)
    assert not TagHistory.objects.exists() and not Tagging.objects.exists() and history() == []
    assert_scores_are_sums()


def test_a_dependent_tag_sees_its_dependency_s_full_pass(make_tag, settings):
    """Tag B reads tag A. A's rule changes, so A alone gets a full pass (its adds carried by taggings); B's
    next incremental refresh must re-read the customers A changed."""
    settings.SHOAL_TAG_CHANGE_MARGIN_SECONDS = 0
    cs = people()
    a = make_tag("A", rules=[CITY("深圳")])
    b = make_tag("B", rules=[{"query": {"field": "source", "op": "eq", "value": "ads"}, "include_tags": [a.pk]}])
    refresh()
    assert tag_sets().get(b.pk, set()) == {cs[3].pk}  # 深圳 and ads
    services.rule_update(actor=SYSTEM, rule=a.rules.get(), data=CITY("广州"))
    first = refresh(tag_ids=[a.pk])  # A alone, in full
    assert first["evaluated"] == len(cs)
    assert tag_sets()[a.pk] == {cs[1].pk, cs[4].pk}
    second = refresh(tag_ids=[b.pk])  # incremental
    assert second["evaluated"] < len(cs)
    assert tag_sets()[b.pk] == {cs[1].pk}  # 广州 and ads; cs[3] lost B
    assert (refresh(full=True)["added"], refresh(full=True)["removed"]) == (0, 0)


def test_history_pages_are_newest_first_across_passes_tags_and_rules(make_tag, settings):
    """Pages of the history are slices of one order by (time, id), newest first, whatever mix of history rows and
    carried adds of several passes (a tag with two rules, a tag refreshed in full twice) they hold."""
    settings.SHOAL_TAG_CHANGE_MARGIN_SECONDS = 0
    cs = people(12)
    south = make_tag("华南", score=1, rules=[CITY("广州"), CITY("深圳")])
    ads = make_tag("广告", score=2, rules=[{"query": {"field": "source", "op": "eq", "value": "ads"}}])
    manual = make_tag("手动", kind="manual")
    refresh()
    services.apply_tag(actor=SYSTEM, tag=manual, customer_ids=[c.pk for c in cs[:5]])
    services.rule_update(actor=SYSTEM, rule=ads.rules.get(), data={"query": {"field": "city", "op": "eq",
                                                                              "value": "北京"}})
    refresh(tag_ids=[ads.pk])  # a second pass of 广告, later
    customer_services.customer_update(actor=SYSTEM, customer=cs[0], data={"city": "北京"})
    refresh()  # cs[0] leaves 华南: its carried add is logged, then the removal
    table = list(TagHistory.objects.values_list("id", "at"))
    carried = list(Tagging.objects.filter(history_id__isnull=False).values_list("history_id", "applied_at"))
    assert len({pk for pk, _at in carried}) == len(carried) and carried and table
    expected = [pk for pk, _at in sorted(table + carried, key=lambda r: (r[1], r[0]), reverse=True)]
    from shoal.tags.selectors import history_feed

    feed = history_feed(actor=SYSTEM)
    assert feed.count() == len(expected)
    assert [r["id"] for r in feed[0:len(expected)]] == expected
    for start in range(0, len(expected), 5):
        assert [r["id"] for r in feed[start:start + 5]] == expected[start:start + 5]
    by_tag = history_feed(actor=SYSTEM, tag_id=south.pk)
    assert [r["id"] for r in by_tag[0:100]] == [r["id"] for r in feed[0:100] if r["tag_id"] == south.pk]
    adds = history_feed(actor=SYSTEM).filter(action="add", source="rule")
    assert adds.count() == len([r for r in feed[0:100] if r["action"] == "add" and r["source"] == "rule"])
    assert history_feed(actor=SYSTEM).filter(source="user").count() == 5
    assert_scores_are_sums()


def test_tags_added_today_counts_a_full_pass_s_adds(make_tag, personas):
    from shoal.tags.boards import tags_added_today

    people()
    make_tag("深圳客户", rules=[CITY("深圳")])
    make_tag("广告", rules=[{"query": {"field": "source", "op": "eq", "value": "ads"}}])
    refresh()
    assert not TagHistory.objects.exists()
    assert tags_added_today(actor=personas["admin"]).value == 2 + 3


def test_sqlite_keeps_the_taggings_without_rowid():
    """Migration tags/0003: on SQLite the taggings are one b-tree in key order. A migration that makes Django
    rebuild the table loses that silently: this fails then (re-apply 0003's rebuild)."""
    if connection.vendor != "sqlite":
        pytest.skip("a SQLite table option")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tags_tagging'")
        assert cursor.fetchone()[0].upper().endswith("WITHOUT ROWID")
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tags_tagging' "
                       "AND sql IS NOT NULL ORDER BY name")
        assert [r[0] for r in cursor.fetchall()] == ["tagging_customer_idx", "tagging_expiry_idx"]


def test_bulk_adds_skip_a_pair_that_exists_and_keep_ids_and_expiry(make_tag):
    """The bulk write (PostgreSQL: a binary COPY) meets a pair written meanwhile: that one is left as it was,
    the others are written with their reserved ids, rules, time and expiry."""
    from django.db import transaction

    cs = people()
    tag = make_tag("深圳客户", rules=[CITY("深圳")])
    rule = tag.rules.get().pk
    Tagging.objects.create(tag=tag, customer=cs[0], source="rule")
    at = timezone.now()
    ends = at + timedelta(days=2)
    for expires_at, customers in ((None, cs[:3]), (ends, cs[3:])):
        with transaction.atomic():
            first = store.reserve_history_ids(3)
            added = store.insert_unlogged_taggings(tag.pk, [c.pk for c in customers], rule, at=at,
                                                   expires_at=expires_at, first_id=first)
        wanted = [c.pk for c in customers if c.pk != cs[0].pk]
        assert added == wanted
        rows = {r[0]: r[1:] for r in Tagging.objects.filter(tag=tag, customer_id__in=wanted).values_list(
            "customer_id", "history_id", "rule_id", "applied_at", "expires_at", "source")}
        offset = 0 if expires_at else 1  # cs[0] kept its place in the first block
        assert rows == {c: (first + i + offset, rule, at, expires_at, "rule") for i, c in enumerate(wanted)}
    assert Tagging.objects.get(tag=tag, customer=cs[0]).history_id is None


@pytest.mark.django_db(transaction=True)
def test_a_full_pass_reads_the_next_range_ahead_on_another_connection(make_tag, settings, monkeypatch):
    """Range by range, the next range's first level is evaluated in a thread (its own connection) while this one
    is written: the same taggings, history and scores as without, the dependent level still after its tags."""
    import threading

    from shoal.tags import refresh as refresh_module
    from shoal.tags.refresh import Run

    monkeypatch.setattr(refresh_module, "RANGE", 4)  # 12 customers: 3 ranges
    threads = []
    original = Run._first_level

    def spy(self, lo, hi):
        threads.append(threading.current_thread().name)
        return original(self, lo, hi)

    monkeypatch.setattr(Run, "_first_level", spy)
    cs = people(12)
    south = make_tag("华南", score=2, rules=[CITY("广州"), CITY("深圳")])
    ads = make_tag("广告", score=1, rules=[{"query": {"field": "source", "op": "eq", "value": "ads"}}])
    both = make_tag("华南广告", score=4, rules=[{"query": {"field": "source", "op": "eq", "value": "ads"},
                                                "include_tags": [south.pk]}])
    expected = {south.pk: {c.pk for c in cs if c.city in ("广州", "深圳")},
                ads.pk: {c.pk for c in cs if c.source == "ads"}}
    expected[both.pk] = expected[south.pk] & expected[ads.pk]
    settings.SHOAL_TAG_READ_AHEAD = True
    result = refresh()
    assert result["added"] == sum(map(len, expected.values()))
    assert tag_sets() == expected
    # the first range here, the next two in the readers' threads (started before it: they run meanwhile)
    assert len(threads) == 3 and threads.count(threading.current_thread().name) == 1
    readers = [name for name in threads if name.startswith("tags-read-ahead")]
    assert len(readers) == 2 and len(set(readers)) == 2  # two readers, one range each
    assert len(history()) == result["added"]
    assert_scores_are_sums()
    # the same pass without reading ahead writes nothing new
    settings.SHOAL_TAG_READ_AHEAD = False
    again = refresh(full=True)
    assert (again["added"], again["removed"]) == (0, 0) and len(threads) == 3


@pytest.mark.django_db(transaction=True)
def test_a_customer_deleted_after_its_range_was_read_ahead_gets_no_tagging(make_tag, settings, monkeypatch):
    """The range read ahead in the thread loses a customer before it is written: the write finds the range changed
    since it was read (count and sum of ids) and tags only the customers still there; the others as usual."""
    from shoal.customers.models import Customer
    from shoal.tags import refresh as refresh_module
    from shoal.tags.refresh import Run

    monkeypatch.setattr(refresh_module, "RANGE", 4)  # 12 customers: 3 ranges, the last two read ahead
    cs = people(12)
    gone = cs[9]  # in the third range
    original = Run._first_level

    def then_delete(self, lo, hi):
        answer = original(self, lo, hi)
        if lo <= gone.pk < hi:  # read (and answered) with it; deleted before the range is written
            Customer.objects.filter(pk=gone.pk).delete()
        return answer

    monkeypatch.setattr(Run, "_first_level", then_delete)
    everyone = make_tag("全部", score=3, rules=[{"query": {"field": "name", "op": "is_not_empty"}}])
    settings.SHOAL_TAG_READ_AHEAD = True
    result = refresh()
    assert result["added"] == 11
    assert tag_sets() == {everyone.pk: {c.pk for c in cs if c.pk != gone.pk}}
    assert not Tagging.objects.filter(customer_id=gone.pk).exists()
    assert len(history()) == 11
    assert_scores_are_sums()
    from shoal.customers.models import CustomerQuality

    assert not CustomerQuality.objects.filter(customer_id=gone.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_reading_a_range_ahead_takes_no_write_lock(make_tag, monkeypatch):
    """The read-ahead's fetch runs outside any transaction: on SQLite ``atomic()`` would begin a write transaction
    (IMMEDIATE) and hold the lock the refresh's writer waits for. While it reads, another connection writes."""
    import threading

    from django.db import connections

    from shoal.customers.models import Customer
    from shoal.tags import columnar

    cs = people(6)
    make_tag("华南", score=1, rules=[CITY("广州"), CITY("深圳")])
    seen = []
    original = columnar.fetch

    def fetch_while_another_writes(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        written = []

        def write():
            try:
                with connections["default"].cursor() as cursor:
                    if connection.vendor == "sqlite":
                        cursor.execute("PRAGMA busy_timeout = 0")  # busy: fail at once, not wait
                from django.db import transaction

                with transaction.atomic():
                    Customer.objects.filter(pk=cs[0].pk).update(name="写")
                written.append(True)
            except Exception as error:  # noqa: BLE001 — the test reports it
                written.append(error)
            finally:
                connections.close_all()

        other = threading.Thread(target=write)
        other.start()
        other.join()
        assert written == [True]
        return original(*args, **kwargs)

    monkeypatch.setattr(columnar, "fetch", fetch_while_another_writes)
    result = refresh()
    assert seen == [False] and result["added"] == 4
    assert Customer.objects.get(pk=cs[0].pk).name == "写"


def test_a_first_pass_counts_each_tag_from_zero_whatever_count_was_kept(make_tag):
    """No taggings yet: a stale kept count (a table emptied behind the ORM) is not carried into the pass's count."""
    from shoal.tags.models import Tag

    people(6)
    south = make_tag("华南", score=1, rules=[CITY("广州"), CITY("深圳")])
    Tag.objects.filter(pk=south.pk).update(customer_count=99)
    assert refresh()["added"] == 4
    assert Tag.objects.get(pk=south.pk).customer_count == 4 == Tagging.objects.filter(tag=south).count()
    assert refresh(full=True)["added"] == 0  # a full pass over taggings there: recounted, the same
    assert Tag.objects.get(pk=south.pk).customer_count == 4
