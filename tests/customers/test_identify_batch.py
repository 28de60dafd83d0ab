"""Set-based batch identify: each item gets the answer ``customer_identify`` gives it when the items are
identified one after the other, and the batch costs a bounded number of queries."""

import random

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.core import parameters
from shoal.core.errors import ShoalError
from shoal.customers import services
from shoal.customers.models import (
    Company,
    Customer,
    CustomerGroupMembership,
    EnumGroup,
    TimelineEntry,
)

pytestmark = pytest.mark.django_db

MOBILES = ["13800138000", "138 0013 8000", "+86 139-0013-9000", "13700137000", "13600136000", "13511112222",
           "135 1111 2222", "13522223333", "+8613533334444", "8613544445555", "not a phone"]
EMAILS = ["mine@example.com", "Theirs@Example.com", " x1@example.com", "x2@example.com", "x3@example.com",
          "old@example.com", "bad@", None]
ENTS = ["ext-1", "ext-2", "ext-3", "e-new-1", "e-new-2", "e-new-3", None]


@pytest.fixture
def state(world):
    """The ``world`` customers plus a few with e-mails and external ids, custom fields of several types
    (an enum, money, a required integer with a default, text) and a company."""
    plans = services.enum_group_create(actor=None, code="plans", name="Plans",
                                       items=[{"code": "free", "label": "Free"}, {"code": "pro", "label": "Pro"}])
    services.custom_field_create(actor=None, key="plan", label="Plan", type="enum", enum_group_id=plans.pk)
    services.custom_field_create(actor=None, key="assets", label="Assets", type="money")
    services.custom_field_create(actor=None, key="level", label="Level", type="integer", required=True, default=1)
    services.custom_field_create(actor=None, key="nick", label="Nick", type="text")
    services.custom_field_create(actor=None, key="since", label="Since", type="datetime")
    company = Company.objects.create(name="ACME")
    services.customer_create(actor=None, data={"name": "Ext one", "ent_user_id": "ext-1", "email": "old@example.com",
                                               "registered_at": "2024-01-02T03:04:05+08:00"})
    services.customer_create(actor=None, data={"name": "Ext two", "ent_user_id": "ext-2", "mobile": "13522223333",
                                               "attributes": {"plan": "pro", "assets": 10}})
    services.customer_create(actor=None, data={"name": "Mail", "email": "x2@example.com", "source": "ads"})
    return {**world, "company": company}


def _pick(rng, pool):
    return pool[rng.randrange(len(pool))]


def random_item(rng, company_id):
    if rng.random() < 0.03:
        return "not an object"
    pairs = []
    for f, pool, p in (("mobile", MOBILES, 0.6), ("email", EMAILS, 0.4), ("ent_user_id", ENTS, 0.3)):
        if rng.random() < p:
            pairs.append((f, _pick(rng, pool)))
    extras = {  # field: (valid values, invalid values)
        "name": (["A", "B", "张三", ""], []),
        "city": (["Shanghai", "深圳", ""], []),
        "source": (["api", "广告投放", "ads", ""], ["bogus"]),
        "gender": (["male", "female", ""], ["robot"]),
        "registered_at": (["2024-01-02T03:04:05+08:00", "2024-01-01T19:04:05Z", "2024-05-06", None], ["garbage"]),
        "birthday": (["1990-05-06", None], ["1990-13-01"]),
        "status": (["active", "banned"], ["nope"]),
        "company_id": ([company_id, None], [999_999]),
        "shoe_size": ([], [42]),
    }
    for f, (valid, invalid) in extras.items():
        if rng.random() < (0.02 if not valid else 0.3):
            pairs.append((f, _pick(rng, valid if valid and (not invalid or rng.random() < 0.9) else invalid)))
    if rng.random() < 0.5:
        attrs = {}
        for key, (valid, invalid) in (("plan", (["free", "Pro", "pro", None], ["gold"])),
                                      ("assets", ([12.345, "1,000.5", None], ["abc"])),
                                      ("level", ([1, 2, "3"], [None, "x"])), ("nick", (["n1", "n2", ""], [])),
                                      ("since", (["2024-03-04 05:06", "2024-03-03T21:06:00Z"], ["then"])),
                                      ("unknown", ([], [1]))):
            if rng.random() < (0.02 if not valid else 0.35):
                attrs[key] = _pick(rng, valid if valid and (not invalid or rng.random() < 0.9) else invalid)
        pairs.append(("attributes", attrs))
    rng.shuffle(pairs)  # the order of the keys decides which error an item with several gets
    return dict(pairs)


def one_by_one(actor, items):
    """The reference: ``customer_identify`` per item, in order, each in its own transaction."""
    results = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise ShoalError("invalid_value", "Each item must be an object", {})
            with transaction.atomic():
                res = services.customer_identify(actor=actor, data=item, log=False)
            results.append({"id": res.customer.pk, "created": res.created, "changed": res.changed})
        except ShoalError as exc:
            results.append(exc.as_dict())
    return results


class _Rollback(Exception):
    pass


def run_and_roll_back(fn, first_new_id):
    """``fn()``'s results and the resulting customers / timeline / memberships, then undo it all.
    Ids of customers created by ``fn`` become ``new-<rank>`` (PostgreSQL does not roll sequences back)."""
    out = {}
    try:
        with transaction.atomic():
            results = fn()
            new_ids = sorted(Customer.objects.filter(pk__gte=first_new_id).values_list("pk", flat=True))
            names = {pk: f"new-{rank}" for rank, pk in enumerate(new_ids)}

            def canon(pk):
                return names.get(pk, pk)

            for r in results:
                if "id" in r:
                    r["id"] = canon(r["id"])
                detail = r.get("error", {}).get("detail", {})
                if "customer_ids" in detail:
                    detail["customer_ids"] = [canon(pk) for pk in detail["customer_ids"]]
                    detail["fields"] = {f: canon(pk) for f, pk in detail["fields"].items()}
                if "customer_id" in detail:
                    detail["customer_id"] = canon(detail["customer_id"])
            customers = {canon(c.pop("id")): c for c in Customer.objects.values()}
            for c in customers.values():
                del c["created_at"], c["updated_at"]
            timeline: dict = {}
            for e in TimelineEntry.objects.order_by("id").values("customer_id", "kind", "field", "old", "new",
                                                                 "actor_id", "actor_name", "detail"):
                timeline.setdefault(canon(e.pop("customer_id")), []).append(e)
            memberships = sorted(((canon(m["customer_id"]), m["group_id"], m["salesperson_id"], m["assigned_at"] is None)
                                  for m in CustomerGroupMembership.objects.values()), key=repr)
            out = {"results": results, "customers": customers, "timeline": timeline, "memberships": memberships}
            raise _Rollback
    except _Rollback:
        pass
    return out


ACTORS = ["system", "application", "admin", "salesperson", "manager", "norole"]


def _actor(state, name):
    return {"system": None, "application": "ERP"}.get(name, state.get(name))


def _compare(state, actor, items):
    first_new_id = (Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    batch = run_and_roll_back(lambda: services.customer_identify_batch(actor=actor, items=items), first_new_id)
    reference = run_and_roll_back(lambda: one_by_one(actor, items), first_new_id)
    for i, (got, want) in enumerate(zip(batch["results"], reference["results"], strict=True)):
        assert got == want, f"item {i}: {items[i]!r}"
    assert batch["customers"] == reference["customers"]
    assert batch["timeline"] == reference["timeline"]
    assert batch["memberships"] == reference["memberships"]
    return batch


@pytest.mark.parametrize("identity_fields", ["mobile,email,ent_user_id", "mobile,ent_user_id"])
@pytest.mark.parametrize("actor_name", ACTORS)
def test_a_random_batch_answers_as_identifying_item_by_item(state, actor_name, identity_fields):
    # With e-mail unique but not an identity field, items also meet "duplicate_value".
    parameters.set_value("CUSTOMER_IDENTITY_FIELDS", identity_fields)
    actor = _actor(state, actor_name)

    @settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 60))
    def check(seed, size):
        rng = random.Random(seed)
        items = [random_item(rng, state["company"].pk) for _ in range(size)]
        _compare(state, actor, items)

    check()


def test_later_items_see_earlier_ones_and_conflicts_name_customers_created_in_the_batch(state):
    items = [
        {"mobile": "13511112222", "name": "New"},                          # created
        {"mobile": "135 1111 2222", "email": "new@example.com"},           # updates it (email added)
        {"email": "NEW@example.com", "ent_user_id": "ext-1"},             # conflict: it and Ext one
        {"ent_user_id": "ext-1", "email": None, "mobile": "13544445555"},  # Ext one drops its email…
        {"email": "old@example.com", "mobile": "13511112222"},             # …which the new customer takes
        {"mobile": "13800138000", "gender": "robot"},                     # invalid, the rest goes on
        "not an object",
    ]
    batch = _compare(state, None, items)
    results = batch["results"]
    assert results[0] == {"id": "new-0", "created": True, "changed": []}
    assert results[1] == {"id": "new-0", "created": False, "changed": ["email"]}
    assert results[2]["error"]["code"] == "identity_conflict"
    assert results[2]["error"]["detail"]["fields"]["email"] == "new-0"
    assert results[3]["created"] is False and results[3]["changed"] == ["email", "mobile"]
    assert results[4] == {"id": "new-0", "created": False, "changed": ["email"]}
    assert results[5]["error"]["detail"]["field"] == "gender"
    assert results[6]["error"]["code"] == "invalid_value"


def test_a_user_without_a_group_cannot_update_what_they_created_earlier_in_the_batch(state):
    # The customer lands in the company public sea, outside an "own customers" scope.
    items = [{"mobile": "13511112222", "name": "Mine"}, {"mobile": "13511112222", "name": "Again"}]
    batch = _compare(state, state["norole"], items)
    assert batch["results"][0]["created"] is True
    assert batch["results"][1]["error"]["code"] == "identity_out_of_scope"


def test_a_salesperson_batch_places_new_customers_in_their_private_sea(state):
    items = [{"mobile": "13511112222"}, {"mobile": "13800138000", "name": "Mine 2"}, {"mobile": "13900139000"}]
    batch = _compare(state, state["salesperson"], items)
    assert [r.get("created") for r in batch["results"][:2]] == [True, False]
    assert batch["results"][2]["error"]["code"] == "identity_out_of_scope"
    assert ("new-0", state["group"].pk, state["salesperson"].pk, False) in batch["memberships"]


def _items(n: int, start: int) -> list[dict]:
    """Half new customers, half updates of customers made by ``_existing``."""
    items = []
    for i in range(start, start + n):
        if i % 2:
            items.append({"mobile": f"+86147{i:08d}", "name": "Batch", "source": "API", "city": "深圳",
                          "attributes": {"plan": "Pro", "assets": 12345.67, "nick": f"n{i}"}})
        else:
            items.append({"ent_user_id": f"pre-{i}", "city": "杭州", "attributes": {"plan": "free"}})
    return items


@pytest.mark.parametrize("actor_name", ["system", "salesperson"])
def test_batch_queries_do_not_grow_with_the_batch(state, actor_name, django_assert_max_num_queries):
    actor = _actor(state, actor_name)
    services.customer_identify_batch(actor=None, items=[{"ent_user_id": f"pre-{i}"} for i in range(0, 1000, 2)])
    if actor is not None:  # the updated customers must be within the salesperson's scope
        for c in Customer.objects.filter(ent_user_id__startswith="pre-"):
            CustomerGroupMembership.objects.create(customer=c, group=state["group"], salesperson=actor)
    EnumGroup.objects.get(code="customer_source")
    with CaptureQueriesContext(connection) as small:
        results = services.customer_identify_batch(actor=actor, items=_items(10, 0))
    assert all("error" not in r for r in results)
    # Django 5.2 splits a bulk INSERT on SQLite into statements of at most 999 variables (~41 customers,
    # ~110 timeline entries): that is what grows with the batch there; on PostgreSQL nothing does.
    extra = 10 if connection.vendor == "sqlite" else 2
    with django_assert_max_num_queries(len(small) + extra):
        results = services.customer_identify_batch(actor=actor, items=_items(200, 100))
    assert all("error" not in r for r in results)
    assert sum(r["created"] for r in results) == 100 and sum(bool(r["changed"]) for r in results) == 100
    with django_assert_max_num_queries(len(small) + extra):
        results = services.customer_identify_batch(actor=actor, items=_items(200, 100))  # all existing now
    assert not any(r["created"] for r in results)


def test_a_value_taken_between_the_read_and_the_write_makes_the_batch_read_again(state, monkeypatch):
    """Another writer commits a customer with one of the batch's mobiles after the batch read the holders:
    the write meets the unique index (on PostgreSQL inside COPY), the batch rolls back and reads again, and
    the item updates that customer instead of failing."""
    existing = services.customer_create(actor=None, data={"mobile": "13912345678"})
    original = services._BatchIdentify._preload
    calls = []

    def stale_preload(self):
        original(self)
        calls.append(1)
        if len(calls) == 1:  # the first read did not see the customer yet
            self.holders["mobile"]["+8613912345678"] = None
            self.by_pk.pop(existing.pk, None)

    monkeypatch.setattr(services._BatchIdentify, "_preload", stale_preload)
    results = services.customer_identify_batch(
        actor=None, items=[{"mobile": "139 1234 5678", "name": "Taken"}, {"mobile": "13911112222"}])
    assert len(calls) == 2
    assert results[0] == {"id": existing.pk, "created": False, "changed": ["name"]}
    assert results[1]["created"] is True
    assert Customer.objects.filter(mobile="+8613912345678").get().name == "Taken"
