"""A customer's contacts (people related to the customer). Each write is logged as an edit of the
customer (the operation log names the contact, never its phone or email)."""

from __future__ import annotations

from shoal.core.oplog import log_operation
from shoal.core.services import model_update

from ..models import Contact, Customer

CONTACT_FIELDS = ("name", "relation", "phone", "email", "notes")


def _log(actor, contact: Contact, verb: str) -> None:
    log_operation(actor=actor, action="customer.update", obj=contact.customer,
                  detail={"fields": ["contacts"], "contact": verb, "contact_id": contact.pk})


def contact_create(*, actor, customer: Customer, data: dict) -> Contact:
    contact = Contact.objects.create(customer=customer, **{k: data[k] for k in CONTACT_FIELDS if k in data})
    _log(actor, contact, "create")
    return contact


def contact_update(*, actor, contact: Contact, data: dict) -> Contact:
    _, updated = model_update(instance=contact, fields=CONTACT_FIELDS, data=data)
    if updated:
        _log(actor, contact, "update")
    return contact


def contact_delete(*, actor, contact: Contact) -> None:
    _log(actor, contact, "delete")
    contact.delete()
