"""Signals other apps listen to (customers imports none of them)."""

from django.db import transaction
from django.dispatch import Signal

# kwargs: customer_ids (a list). Sent after commit by every service that writes customers' values, so that
# listeners (e.g. auto tags marked "refresh on change") can react at once.
customers_changed = Signal()


def send_changed(customer_ids) -> None:
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if ids:
        transaction.on_commit(lambda: customers_changed.send(sender=None, customer_ids=ids))

# kwargs: customer_ids (a list). Sent inside the deleting transaction, before customers are deleted (by
# customers_delete, and for the other customer of a merge), so that listeners can settle what they keep
# about them (e.g. the tags' customer counts).
customers_deleting = Signal()
