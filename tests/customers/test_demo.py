"""Demo customers (`shoal demo --customers N`): deterministic, valid, unique, appendable."""

import json
from datetime import UTC, datetime

import phonenumbers
import pytest
from django.core.management import call_command

from shoal.customers import demo
from shoal.customers.identity import normalise_mobile
from shoal.customers.models import Customer, CustomerGroupMembership, CustomerQuality, CustomField
from shoal.customers.services import customer_create

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def _rows(seed, start=0, n=300):
    gen = demo.Generator(seed=seed, start=start, now=NOW, fields=demo.DEMO_FIELDS, sources=["ads", "api"],
                         customer_types=["deal"], vendor="sqlite")
    return [next(gen) for _ in range(n)]


def test_generated_rows_are_the_same_for_the_same_seed_and_differ_for_another():
    assert _rows(1) == _rows(1)
    other = _rows(2)
    assert other != _rows(1)
    assert not {r[demo.MOBILE_POS] for r in other} & {r[demo.MOBILE_POS] for r in _rows(1)}


def test_every_prefix_gives_valid_mobile_numbers():
    for prefix in demo.MOBILE_PREFIXES:
        for tail in ("00000000", "12345678", "99999999"):
            number = phonenumbers.parse(f"+86{prefix}{tail}")
            assert phonenumbers.is_valid_number(number), prefix


@pytest.mark.django_db
def test_loaded_customers_have_valid_normalised_unique_identities():
    result = demo.load_customers(count=400, seed=7, now=NOW)
    assert result["customers"] == 400
    rows = list(Customer.objects.values_list("mobile", "email", "name", "created_at", "attributes"))
    assert len(rows) == 400
    mobiles = [r[0] for r in rows]
    assert all(m == normalise_mobile(m) and m.startswith("+861") for m in mobiles)
    assert len(set(mobiles)) == 400
    emails = [r[1] for r in rows if r[1]]
    assert len(set(emails)) == len(emails) > 200
    assert all(e == e.strip().lower() and "@" in e for e in emails)
    assert all(r[2] and not r[2].isascii() for r in rows)  # Chinese names
    assert all(r[3] <= NOW for r in rows)
    assert min(r[3] for r in rows).year < NOW.year  # spread over two years
    plans = {r[4].get("plan") for r in rows}
    assert plans <= {"free", "basic", "pro", "enterprise"} and len(plans) > 1
    last_logins = [r[4]["last_login"] for r in rows if "last_login" in r[4]]
    assert all(len(v) == 20 and v.endswith("Z") and v[10] == "T" for v in last_logins)


@pytest.mark.django_db
def test_demo_custom_fields_are_created_with_their_types():
    demo.load_customers(count=10, seed=1, now=NOW)
    fields = {f.key: f for f in CustomField.objects.all()}
    for key, (_, kind, in_filter, in_list) in demo.DEMO_FIELDS.items():
        assert fields[key].type == kind
        assert fields[key].show_in_filter is in_filter
        assert fields[key].show_in_list is in_list
    assert fields["plan"].enum_group.code == "plan"


@pytest.mark.django_db
def test_loading_twice_with_the_same_seed_appends_without_conflicts():
    demo.load_customers(count=300, seed=3, now=NOW)
    demo.load_customers(count=300, seed=3, now=NOW)
    assert Customer.objects.count() == 600
    assert Customer.objects.values("mobile").distinct().count() == 600
    # ids continue after the demo rows: a normal create still works
    customer = customer_create(actor=None, data={"mobile": "13800138000"})
    assert customer.pk > max(Customer.objects.exclude(pk=customer.pk).values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_demo_mobile_already_taken_by_a_customer_is_skipped():
    first = customer_create(actor=None, data={"mobile": "13800138000", "email": "x@example.com"})
    # the first candidate of the next load (start = 1 existing customer) is taken by a second customer
    taken = _rows(5, start=1, n=1)[0][demo.MOBILE_POS]
    second = customer_create(actor=None, data={"mobile": taken})
    demo.load_customers(count=50, seed=5, now=NOW)
    assert Customer.objects.count() == 52
    assert Customer.objects.filter(mobile=taken).get() == second
    assert Customer.objects.filter(pk=first.pk).exists()


@pytest.mark.django_db
def test_some_demo_customers_are_in_groups_with_salespeople():
    call_command("demo", customers=300, seed=2, verbosity=0)
    memberships = CustomerGroupMembership.objects.all()
    assert 30 < memberships.count() < 200
    assert memberships.filter(salesperson__isnull=False).exists()
    assert memberships.filter(salesperson__isnull=True).exists()
    assert set(memberships.values_list("salesperson__username", flat=True)) - {None} <= {"sales01", "sales02",
                                                                                        "sales03"}


@pytest.mark.django_db
def test_bootstrap_loads_demo_customers_on_an_empty_database(monkeypatch):
    monkeypatch.setenv("SHOAL_ADMIN_PASSWORD", "boot-pass-1")
    monkeypatch.setattr("shoal.setup.management.commands.bootstrap.DEMO_CUSTOMERS", 120)
    call_command("bootstrap", verbosity=0)
    assert Customer.objects.count() == 120


def test_generated_attributes_are_valid_json_in_the_stored_formats():
    pos = demo.GENERATED.index("attributes")
    seen = {"first_order_date": 0, "assets": 0}
    for row in _rows(4, n=2000):
        attrs = json.loads(row[pos])
        assert isinstance(attrs["vip"], bool)
        assert "first_order_date" not in attrs or len(attrs["first_order_date"]) == 10
        assert "assets" not in attrs or isinstance(attrs["assets"], int | float)
        seen.update({key: seen[key] + 1 for key in seen if key in attrs})
    assert all(seen.values()), seen  # the optional keys were checked at least once


def _index_names():
    from django.db import connection

    tables = [Customer._meta.db_table, CustomerGroupMembership._meta.db_table]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN (%s, %s)", tables)
        else:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename IN (%s, %s)", tables)
        return {row[0] for row in cursor.fetchall()}


def _journal_mode():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        return cursor.fetchone()[0].lower()


@pytest.mark.django_db(transaction=True)
def test_a_large_load_takes_the_bulk_path_and_leaves_the_database_as_it_was(monkeypatch):
    """The bulk path of big loads (indexes dropped and rebuilt; rows made in a second process when this one
    has no other threads; on SQLite a rollback journal for the load) gives the same kind of database:
    every index back, WAL again."""
    from django.db import connection

    from shoal.core.errors import ShoalError

    monkeypatch.setattr(demo, "DROP_INDEXES_FROM", 500)
    monkeypatch.setattr(demo, "PARALLEL_FROM", 500)
    demo.ensure_demo_fields()
    before = _index_names()
    assert any(name.startswith("cust_attr_") for name in before)
    sqlite = connection.vendor == "sqlite"
    modes = []
    result = demo.load_customers(count=1_500, seed=9, now=NOW, batch=400,
                                 progress=lambda *a: modes.append(_journal_mode()) if sqlite else None)
    assert result["customers"] == Customer.objects.count() == 1_500
    assert "indexes" in result["phases"]
    assert _index_names() == before
    if sqlite:  # WAL throughout unless the caller says the database is its own (exclusive, see below)
        assert set(modes) == {"wal"}
        assert _journal_mode() == "wal"
    taken = Customer.objects.values_list("mobile", flat=True).first()
    with pytest.raises(ShoalError):  # the unique identity index still holds
        customer_create(actor=None, data={"mobile": taken})
    assert customer_create(actor=None, data={"mobile": "13800138000"}).pk > 1_500


SCRIPT = """
import json, os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "shoal.settings"
django.setup()
from django.core.management import call_command
from django.db import connection
from shoal.customers import demo
call_command("migrate", verbosity=0)
demo.DROP_INDEXES_FROM = demo.PARALLEL_FROM = 500
def mode():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        return f"{journal}/{cursor.fetchone()[0]}"
modes = []
forked = []
_forked_init = demo._Forked.__init__
def counting_init(self, *args, **kwargs):
    forked.append(1)
    _forked_init(self, *args, **kwargs)
demo._Forked.__init__ = counting_init
result = demo.load_customers(count=1200, seed=4, batch=300, exclusive=True, progress=lambda *a: modes.append(mode()))
with connection.cursor() as cursor:
    cursor.execute("PRAGMA integrity_check")
    check = cursor.fetchone()[0]
print(json.dumps({"modes": sorted(set(modes)), "after": mode(), "count": result["customers"], "check": check,
                  "forked": forked}))
"""


def test_an_exclusive_sqlite_load_writes_through_a_rollback_journal_and_returns_to_wal(tmp_path):
    """``shoal demo --exclusive`` on a database nobody else has open: the load switches SQLite from WAL to a
    rollback journal (synchronous FULL), so the pages are written once, and back to WAL after."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SHOAL_DATA_DIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    # rows made in a forked process (a single-threaded process), a rollback journal during the load, WAL after
    # (journal mode/synchronous: 2 = FULL during the load, 1 = NORMAL as configured)
    assert report == {"modes": ["delete/2"], "after": "wal/1", "count": 1200, "check": "ok", "forked": [1]}


def test_the_row_generator_process_stops_even_when_this_process_ignores_sigterm():
    """A task worker in the same process installs a SIGTERM handler; the forked generator must not inherit
    it, or terminate() would not stop it (close() then waited for ever)."""
    import signal
    import time

    previous = signal.signal(signal.SIGTERM, lambda *args: None)
    try:
        gen = demo.Generator(seed=3, start=0, now=NOW, fields=demo.DEMO_FIELDS, sources=["ads", "api"],
                             customer_types=["deal"], vendor="sqlite")
        forked = demo._Forked(gen, 200)
        rows = forked.take(450)
        started = time.monotonic()
        forked.close()
        assert time.monotonic() - started < 5
        assert not forked.proc.is_alive()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert rows == _rows(3, n=450)  # the same rows as made in-process


@pytest.mark.django_db
def test_the_demo_has_tags_with_quality_scores_and_the_built_in_event_types():
    from django.db.models import Sum

    from shoal.events.models import EventType
    from shoal.tags.models import Tag, Tagging

    call_command("demo", customers=300, seed=2, verbosity=0)
    tags = {t.name: t for t in Tag.objects.all()}
    assert {"高净值", "付费客户", "企业版", "一线城市", "重点跟进"} == set(tags)
    # the auto tags were refreshed: customers have them, and each customer's quality is the sum of its tags' scores
    assert Tagging.objects.filter(tag=tags["付费客户"]).count() == tags["付费客户"].customer_count > 0
    expected = sum(t.score for t in Tag.objects.all() for _ in range(Tagging.objects.filter(tag=t).count()))
    assert CustomerQuality.objects.aggregate(total=Sum("score"))["total"] == expected > 0
    assert EventType.objects.filter(enabled=True).count() >= 6
    # a second load adds customers, not tags
    call_command("demo", customers=10, seed=3, verbosity=0)
    assert Tag.objects.count() == 5
