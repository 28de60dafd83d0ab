"""The customer list page and the API list: the queries of a request do not grow with the rows, and the
per-request reads (the data scope, the columns, the sensitive fields, the masking parameter) happen once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shoal.core import request_memo
from shoal.customers.models import CustomField, FieldType
from tests.customers.conftest import assign

ONCE = ('"accounts_role"."data_scope"', '"customers_customfield"."type" IN', "'MASKING_ENABLED'",
        '"customers_customerlistpreference"', '"customers_customfield"."show_in_list"')


def _queries(client, url, **params) -> list[str]:
    client.get(url, params)  # warm (sessions, first-use caches)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def listed(world, masking_on, new_customer):
    CustomField.objects.create(key="wx_phone", label="WX phone", type=FieldType.PHONE, show_in_list=True)
    CustomField.objects.create(key="level", label="Level", type=FieldType.TEXT, show_in_list=True)

    made = []

    def add(n):
        for _ in range(n):
            made.append(1)
            c = new_customer(name=f"c{len(made)}", mobile=f"1370013{len(made):04d}", attributes={"wx_phone": "13900001111",
                                                                             "level": "A"})
            assign(c, world["group"], world["salesperson"])
    return add


@pytest.mark.parametrize("api", [False, True])
def test_queries_do_not_grow_with_rows(client, world, listed, api):
    """A page of 20 rows and a page of 50 rows make the same queries."""
    listed(60)
    client.force_login(world["salesperson"])
    if api:
        from shoal.accounts.models import ApiToken

        _, raw = ApiToken.issue(world["salesperson"])
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
        few = _queries(client, "/api/v1/customers", page=1, page_size=20)
        full = _queries(client, "/api/v1/customers", page=1, page_size=50)
    else:
        few = _queries(client, "/customers/customer/", p=1)
        client.get("/customers/customer/", {"per_page": 50})
        full = _queries(client, "/customers/customer/", p=1)
    # (PostgreSQL's deep-page walk wraps its query in a savepoint with SET LOCAL: a choice of path, not rows)
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "SET LOCAL")
    reads = [[q for q in qs if not q.startswith(control)] for qs in (few, full)]
    assert len(reads[1]) == len(reads[0]), "\n".join(full)
    for marker in ONCE:
        assert sum(marker in q for q in full) <= 1, (marker, [q for q in full if marker in q])
    if not api and connection.vendor == "sqlite":  # (PostgreSQL's deep-page walk opens its own, SET LOCAL)
        assert not any("SAVEPOINT" in q for q in full)


def test_list_page_shows_only_the_scope_masked(client, world, listed):
    listed(3)
    client.force_login(world["salesperson"])
    html = client.get("/customers/customer/", {"p": 1}).content.decode()
    assert "Mine" in html and "Theirs" not in html and "13800138000" not in html and "138****8000" in html
    assert "13900001111" not in html and "139****1111" in html
    client.force_login(world["manager"])  # the next request: the manager's own scope, nothing memoised across
    html = client.get("/customers/customer/", {"p": 1}).content.decode()
    assert "Theirs" in html and "Mine" in html


def test_memo_lives_only_inside_its_block():
    calls = []
    assert request_memo.memo("k", lambda: calls.append(1) or 1) == 1
    with request_memo.active():
        assert request_memo.is_active()
        request_memo.memo("k", lambda: calls.append(2) or 2)
        assert request_memo.memo("k", lambda: calls.append(3) or 3) == 2
    assert not request_memo.is_active()
    assert request_memo.memo("k", lambda: calls.append(4) or 4) == 4
    assert calls == [1, 2, 4]
