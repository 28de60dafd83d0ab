"""Found by the qa helper over real HTTP: salesperson_ids null means every salesperson; a recycle rule's
condition is optional (the issue's "optional condition")."""

import pytest

from shoal.pools.services import groups as group_services
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_null_salespeople_and_recycle_rule_without_condition(http, roles, raw_token):
    admin = make_user("qh_admin", roles["admin"])
    group = group_services.group_create(actor=None, data={"name": "华东组",
                                                         "salesperson_ids": [make_user("qh_s1").pk]})
    headers = {"Authorization": f"Bearer {raw_token(admin)}"}
    response = http.post(f"/api/v1/groups/{group.pk}/assignment-rules", headers=headers, json={
        "name": "all", "order": 1, "sql": "city is not null", "include_tags": [], "exclude_tags": [],
        "salesperson_ids": None, "enabled": True})
    assert response.status_code == 201, response.text
    assert response.json()["salesperson_ids"] == []
    response = http.post(f"/api/v1/groups/{group.pk}/recycle-rules", headers=headers, json={
        "name": "7天", "order": 1, "kind": "no_follow_up", "days": 7, "enabled": True})
    assert response.status_code == 201, response.text
    assert (response.json()["query"], response.json()["sql"]) == (None, "")
