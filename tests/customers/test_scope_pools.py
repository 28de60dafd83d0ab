"""Issue 12 data scope: a salesperson sees their private sea and the public sea of each group of theirs that
shows it; a group admin the whole group; a department manager their departments' salespeople's customers and
the groups they administer; ALL everything. Counts, sorts, search and deep pages never leak."""

import pytest
from django.utils import timezone

from shoal.accounts.models import Department, Role
from shoal.customers import selectors
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _in(customer, group, salesperson=None):
    CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=salesperson,
                                           assigned_at=timezone.now() if salesperson else None)


@pytest.fixture
def pools(personas, new_customer, roles):
    """Two groups: A (public sea visible to its salespeople) and H (public sea hidden).

    A: s1 and s2 salespeople, admin "lead"; H: s1 salesperson, admin "lead_h".
    Customers: a1 (A, s1), a2 (A, s2), a_sea (A public sea), h1 (H, s1), h_sea (H public sea),
    both (A s2 and H public sea), company (no group), binned (A s1, in the recycle bin)."""
    lead_role = Role.objects.create(name="Group lead", code="lead", data_scope="groups",
                                    permissions=["customers.customers.view"])
    s1 = personas["salesperson"]
    s2 = make_user("pool_s2", roles["salesperson"])
    outsider = make_user("pool_out", roles["salesperson"])
    lead = make_user("pool_lead", lead_role)
    lead_h = make_user("pool_lead_h", lead_role)
    a = CustomerGroup.objects.create(name="A", public_sea_visible=True)
    h = CustomerGroup.objects.create(name="H", public_sea_visible=False)
    a.salespeople.add(s1, s2)
    h.salespeople.add(s1)
    a.admins.add(lead)
    h.admins.add(lead_h)
    c = {name: new_customer(name=name) for name in ("a1", "a2", "a_sea", "h1", "h_sea", "both", "company", "binned")}
    _in(c["a1"], a, s1)
    _in(c["a2"], a, s2)
    _in(c["a_sea"], a)
    _in(c["h1"], h, s1)
    _in(c["h_sea"], h)
    _in(c["both"], a, s2)
    _in(c["both"], h)
    _in(c["binned"], a, s1)
    c["binned"].in_recycle_bin = True
    c["binned"].save(update_fields=["in_recycle_bin"])
    return {"s1": s1, "s2": s2, "outsider": outsider, "lead": lead, "lead_h": lead_h, "a": a, "h": h, "c": c,
            **{k: personas[k] for k in ("admin", "manager", "norole")}}


def names(user):
    return set(selectors.customer_queryset(actor=user).values_list("name", flat=True))


def test_salesperson_sees_private_sea_and_visible_public_sea_only(pools):
    assert names(pools["s1"]) == {"a1", "a_sea", "h1", "binned"}  # not h_sea (hidden), not a2 / both (s2's)
    assert names(pools["s2"]) == {"a2", "a_sea", "both"}


def test_hiding_the_public_sea_takes_it_out_of_scope(pools):
    pools["a"].public_sea_visible = False
    pools["a"].save(update_fields=["public_sea_visible"])
    assert names(pools["s1"]) == {"a1", "h1", "binned"}


def test_leaving_the_group_loses_its_public_sea_but_not_own_customers(pools):
    pools["a"].salespeople.remove(pools["s1"])
    assert names(pools["s1"]) == {"a1", "h1", "binned"}


def test_outsider_and_no_role_see_nothing(pools):
    assert names(pools["outsider"]) == set()
    assert names(pools["norole"]) == set()


def test_inactive_user_sees_nothing(pools):
    pools["s1"].is_active = False
    pools["s1"].save(update_fields=["is_active"])
    assert names(pools["s1"]) == set()


def test_group_admin_sees_the_whole_group_even_a_hidden_public_sea(pools):
    assert names(pools["lead"]) == {"a1", "a2", "a_sea", "both", "binned"}
    assert names(pools["lead_h"]) == {"h1", "h_sea", "both"}


def test_department_manager_sees_departments_salespeople_and_administered_groups(pools):
    top = Department.objects.create(name="Sales")
    sub = Department.objects.create(name="Sales 1", parent=top)
    manager = pools["manager"]
    manager.departments.add(top)
    pools["s2"].departments.add(sub)
    assert names(manager) == {"a2", "both"}
    pools["h"].admins.add(manager)
    assert names(manager) == {"a2", "both", "h1", "h_sea"}


def test_a_department_managers_people_are_read_in_one_query_at_any_depth(roles, django_assert_num_queries):
    """The users of the actor's departments and every department below them, whatever the depth of the tree, in
    one query (a department manager's pages and boards ask several times a request)."""
    top, other = Department.objects.create(name="华东"), Department.objects.create(name="华南")
    mid = Department.objects.create(name="上海", parent=top)
    low = Department.objects.create(name="浦东", parent=mid)
    aside = Department.objects.create(name="杭州", parent=top)
    manager = make_user("dept_manager", roles["manager"])
    manager.departments.add(top)
    people = {d.name: make_user(f"dept_{i}", roles["salesperson"]) for i, d in enumerate((top, mid, low, aside, other))}
    for d in (top, mid, low, aside, other):
        people[d.name].departments.add(d)
    with django_assert_num_queries(1):
        ids = selectors.department_user_ids(manager)
    assert ids == sorted([manager.pk] + [people[n].pk for n in ("华东", "上海", "浦东", "杭州")])
    low_manager = make_user("low_manager", roles["manager"])
    low_manager.departments.add(low, other)
    assert selectors.department_user_ids(low_manager) == sorted([low_manager.pk, people["浦东"].pk, people["华南"].pk])
    assert selectors.department_user_ids(make_user("no_department", roles["manager"])) == []


def test_all_scope_sees_everyone(pools):
    assert names(pools["admin"]) == set(pools["c"])


def test_a_customer_in_two_matching_groups_is_listed_and_counted_once(pools):
    user = pools["lead"]
    pools["h"].admins.add(user)
    qs = selectors.customer_list(actor=user)
    assert selectors.customer_count(actor=user, plain=True) == qs.count() == 7
    rows = selectors.customer_page_rows(actor=user, qs=qs, offset=0, limit=20, total=7, plain=True)
    assert sorted(r.name for r in rows) == sorted({"a1", "a2", "a_sea", "both", "binned", "h1", "h_sea"})


@pytest.mark.parametrize("who", ["s1", "s2", "lead", "lead_h", "outsider", "admin"])
def test_every_page_in_both_directions_is_the_scope_in_order(pools, who):
    user = pools[who]
    qs = selectors.customer_list(actor=user)
    expected = list(qs.values_list("pk", flat=True))
    total = selectors.customer_count(actor=user, plain=True)
    assert total == len(expected)
    for per_page in (1, 2, 3):
        seen = []
        for offset in range(0, total + per_page, per_page):
            seen += [c.pk for c in selectors.customer_page_rows(actor=user, qs=qs, offset=offset, limit=per_page,
                                                                total=total, plain=True)]
        assert seen == expected, (who, per_page)


def _api_names(client, bearer, user, **params):
    response = client.get("/api/v1/customers", params, **bearer(user))
    assert response.status_code == 200, response.content
    data = response.json()
    return data["count"], [i["name"] for i in data["items"]]


def test_api_list_counts_sorts_and_searches_inside_the_scope(pools, client, bearer):
    s1 = pools["s1"]
    count, items = _api_names(client, bearer, s1)
    assert count == 4 and set(items) == {"a1", "a_sea", "h1", "binned"}
    count, items = _api_names(client, bearer, s1, page_size=1, page=4)
    assert count == 4 and len(items) == 1
    assert _api_names(client, bearer, s1, page=2) == (4, [])
    assert _api_names(client, bearer, s1, q="h_sea") == (0, [])  # hidden public sea: not found by search
    assert _api_names(client, bearer, s1, q="a2") == (0, [])  # another salesperson's
    assert _api_names(client, bearer, s1, q="a_sea") == (1, ["a_sea"])
    assert _api_names(client, bearer, s1, q=str(pools["c"]["company"].pk)) == (0, [])  # by id


def test_api_pages_walk_the_scope_without_gaps(pools, client, bearer):
    lead = pools["lead"]
    everything = _api_names(client, bearer, lead)[1]
    paged = []
    for page in range(1, 7):
        count, items = _api_names(client, bearer, lead, page=page, page_size=1)
        assert count == 5
        paged += items
    assert paged == everything and len(everything) == 5


def test_list_page_shows_only_the_scope_with_its_count(pools, client):
    client.force_login(pools["s1"])
    html = client.get("/customers/customer/").content.decode()
    for name in ("a1", "a_sea", "h1"):
        assert f">{name}<" in html
    for name in ("a2", "h_sea", "both", "company"):
        assert f">{name}<" not in html
    assert "4 " in html  # the total
    client.force_login(pools["s2"])
    response = client.get("/customers/customer/", {"o": "2"})  # sorted by a column: the generic path
    assert response.status_code == 200
    html = response.content.decode()
    assert ">a2<" in html and ">a1<" not in html and ">h_sea<" not in html


def test_list_page_deep_pages_and_sorts_stay_in_scope(pools, client, new_customer):
    group = pools["a"]
    s2 = pools["s2"]
    extra = [new_customer(name=f"extra{i:02d}") for i in range(45)]
    for customer in extra:
        _in(customer, group, s2)
    client.force_login(s2)
    shown = []
    for p in (1, 2, 3):
        html = client.get("/customers/customer/", {"p": p}).content.decode()
        shown += [n for n in [f"extra{i:02d}" for i in range(45)] + ["a2", "a_sea", "both"] if f">{n}<" in html]
        assert ">a1<" not in html and ">h_sea<" not in html
    assert len(shown) == 48 and len(set(shown)) == 48
    html = client.get("/customers/customer/", {"o": "-2"}).content.decode()  # sorted by name, descending
    assert ">a1<" not in html and ">extra44<" in html


@pytest.mark.parametrize("who", ["s1", "s2", "lead", "lead_h", "outsider", "admin", "manager", "norole"])
def test_customers_by_ids_answers_as_the_scope_does(pools, who):
    user = pools[who]
    everyone = [c.pk for c in pools["c"].values()]
    expected = set(selectors.customer_queryset(actor=user).filter(pk__in=everyone).values_list("pk", flat=True))
    assert set(selectors.customers_by_ids(actor=user, ids=everyone).values_list("pk", flat=True)) == expected
    some = everyone[::2]
    assert set(selectors.customers_by_ids(actor=user, ids=some).values_list("pk", flat=True)) == expected & set(some)
    user.is_active = False
    assert not selectors.customers_by_ids(actor=user, ids=everyone).exists()
