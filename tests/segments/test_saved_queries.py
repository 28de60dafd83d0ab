"""Saved queries: personal and shared, checked, unique, only the owner deletes."""

import pytest

from shoal.segments.models import SavedQuery
from tests.segments.conftest import post


@pytest.mark.django_db
def test_saved_queries_personal_and_shared(client, shop, personas, bearer):
    alice, bob = personas["manager"], personas["salesperson"]
    mine = post(client, "/api/v1/saved-queries", {"name": "深圳客户", "query": {"field": "city", "op": "eq",
                                                                                 "value": "深圳"}}, bearer(alice))
    assert mine.status_code == 201, mine.content
    shared = post(client, "/api/v1/saved-queries", {"name": "大客户", "sql": "assets > 100000", "shared": True},
                  bearer(alice)).json()
    names_for_bob = {q["name"] for q in client.get("/api/v1/saved-queries", **bearer(bob)).json()}
    assert names_for_bob == {"大客户"}
    assert client.get(f"/api/v1/saved-queries/{mine.json()['id']}", **bearer(bob)).status_code == 404
    assert client.delete(f"/api/v1/saved-queries/{shared['id']}", **bearer(bob)).status_code == 403
    bad = post(client, "/api/v1/saved-queries", {"name": "坏的", "sql": "1; DROP TABLE x"}, bearer(alice))
    assert bad.status_code == 400 and not SavedQuery.objects.filter(name="坏的").exists()
    dup = post(client, "/api/v1/saved-queries", {"name": "大客户", "sql": "assets > 1"}, bearer(alice))
    assert dup.status_code == 409
    assert client.delete(f"/api/v1/saved-queries/{shared['id']}", **bearer(alice)).status_code == 204
