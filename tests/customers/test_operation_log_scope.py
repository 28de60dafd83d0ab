"""The operation log shows entries about a customer only when the customer is in the reader's data
scope (or the reader's role has scope "all"); entries about other objects are shown as before.
The filter is set-based: the number of queries does not grow with the number of entries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shoal.accounts import services as account_services
from shoal.core.models import OperationLog
from shoal.core.oplog import operation_log_queryset
from shoal.customers import services

pytestmark = pytest.mark.django_db
LOG = "/api/v1/operation-log"
PAGE = "/core/operationlog/"


@pytest.fixture
def logged(world):
    """Entries about a customer in the manager's groups (Mine), one outside them (Company pool) and a user."""
    for customer in (world["mine"], world["company_pool"]):
        services.customer_update(actor=world["admin"], customer=customer, data={"city": "深圳"})
    account_services.user_update(actor=world["admin"], user=world["salesperson"], data={"name": "Sally"})
    return world


def _reprs(client, headers):
    response = client.get(LOG, **headers)
    assert response.status_code == 200
    return [(e["action"], e["object_repr"]) for e in response.json()["items"]]


def test_api_shows_customer_entries_only_within_the_readers_scope(client, logged, bearer):
    manager_sees = _reprs(client, bearer(logged["manager"]))
    assert ("customer.update", str(logged["mine"])) in manager_sees
    assert all("Company pool" not in r for _, r in manager_sees)
    assert any(action == "user.update" for action, _ in manager_sees)  # not about a customer: shown
    admin_sees = _reprs(client, bearer(logged["admin"]))
    assert ("customer.update", str(logged["company_pool"])) in admin_sees
    assert ("customer.update", str(logged["mine"])) in admin_sees


def test_admin_page_shows_customer_entries_only_within_the_readers_scope(client, logged):
    client.force_login(logged["manager"])
    html = client.get(PAGE).content.decode()
    assert "Mine" in html and "Company pool" not in html
    client.force_login(logged["admin"])
    html = client.get(PAGE).content.decode()
    assert "Mine" in html and "Company pool" in html


def test_scope_is_one_subquery_not_a_check_per_entry(logged):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            rows = list(operation_log_queryset(actor=logged["manager"]))
        return len(captured), rows

    count, rows = queries()
    for _ in range(30):
        services.customer_update(actor=logged["admin"], customer=logged["company_pool"],
                                 data={"city": f"c{_}"})
        services.customer_update(actor=logged["admin"], customer=logged["mine"], data={"city": f"c{_}"})
    again, more = queries()
    assert again == count and len(more) == len(rows) + 30
    assert OperationLog.objects.filter(object_type="customer", object_id=str(logged["company_pool"].pk),
                                       action="customer.update").count() == 31
