"""``SYSTEM``, the explicit system actor: sees every customer, has no masked fields, is logged as
"system" (on the timeline without an "application" note)."""

import pytest

from shoal.core.actors import SYSTEM
from shoal.core.models import OperationLog
from shoal.customers import masking, selectors, services
from shoal.customers.models import TimelineEntry

pytestmark = pytest.mark.django_db


def test_system_sees_all_customers_unmasked_and_is_logged_as_system(world):
    everyone = set(selectors.customer_queryset(actor=SYSTEM).values_list("pk", flat=True))
    assert {world["mine"].pk, world["theirs"].pk} <= everyone
    assert world["theirs"].pk not in set(selectors.customer_queryset(actor=world["salesperson"])
                                         .values_list("pk", flat=True))
    from shoal.core import parameters

    parameters.set_value("MASKING_ENABLED", True)
    assert masking.masked_field_keys(viewer=SYSTEM) == frozenset()
    assert "mobile" in masking.masked_field_keys(viewer=world["salesperson"])
    customer = services.customer_create(actor=SYSTEM, data={"name": "By the system", "ent_user_id": "sys-1"})
    entry = TimelineEntry.objects.get(customer=customer, kind="created")
    assert (entry.actor, entry.actor_name, entry.detail) == (None, "system", {})
    log = OperationLog.objects.filter(action="customer.create", object_id=str(customer.pk)).get()
    assert (log.actor, log.actor_name) == (None, "system")
