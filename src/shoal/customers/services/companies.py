"""Companies."""

from __future__ import annotations

from django.utils.translation import gettext

from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update

from .. import cleaning
from ..models import Company

COMPANY_FIELDS = ("name", "phone", "email", "website", "country", "province", "city", "address")


def _clean_company(data: dict, *, creating: bool) -> dict:
    out = {}
    for k, v in data.items():
        if k not in COMPANY_FIELDS:
            raise ShoalError("unknown_field", gettext("Unknown company field %(k)s") % {"k": k}, {"field": k})
        if v is None:
            continue
        if k == "website":
            out[k] = "" if not str(v).strip() else cleaning.to_url(v, k)
        elif k == "email":
            from ..identity import normalise_email

            out[k] = "" if not str(v).strip() else normalise_email(v, field=k)
        else:
            out[k] = cleaning.to_text(v, k, 200 if k == "name" else 255)
    if (creating or "name" in out) and not out.get("name"):
        raise ShoalError("invalid_value", gettext("Company name is required"), {"field": "name"})
    return out


def company_create(*, actor, data: dict) -> Company:
    company = Company.objects.create(**_clean_company(data, creating=True))
    log_operation(actor=actor, action="company.create", obj=company)
    return company


def company_update(*, actor, company: Company, data: dict) -> Company:
    model_update(instance=company, fields=COMPANY_FIELDS, data=_clean_company(data, creating=False))
    log_operation(actor=actor, action="company.update", obj=company, detail={"fields": sorted(data)})
    return company


def company_delete(*, actor, company: Company) -> None:
    log_operation(actor=actor, action="company.delete", obj=company)
    company.delete()

