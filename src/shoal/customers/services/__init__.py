"""Writes of customers, custom fields, enums and companies, one module per topic (the public names
are re-exported here). Each writes the timeline and/or the operation log. Reads go through
:mod:`shoal.customers.selectors`."""

from shoal.core.errors import Conflict

from .companies import COMPANY_FIELDS, company_create, company_delete, company_update
from .contacts import CONTACT_FIELDS, contact_create, contact_delete, contact_update
from .custom_fields import (
    FIELD_ATTRS,
    check_definition,
    custom_field_create,
    custom_field_delete,
    custom_field_update,
)
from .customer_write import (
    UNIQUE_FIELDS,
    check_unique,
    customer_create,
    customer_update,
    require_identity,
)
from .detail_tabs import TAB_FIELDS, detail_tab_create, detail_tab_delete, detail_tab_update
from .enums import (
    enum_group_create,
    enum_group_delete,
    enum_group_update,
    enum_item_create,
    enum_item_delete,
    enum_item_update,
)
from .identify import IdentifyResult, customer_identify
from .identify_batch import BATCH_LIMIT, BatchIdentify, customer_identify_batch
from .merge_delete import (
    MERGE_FIELDS,
    customer_delete,
    customer_merge,
    customer_merging,
    customers_delete,
    customers_set_status,
)
from .timeline import timeline_entry

_BatchIdentify = BatchIdentify  # the name tests/customers/test_identify_batch.py patches

__all__ = [
    "BATCH_LIMIT", "COMPANY_FIELDS", "CONTACT_FIELDS", "TAB_FIELDS", "contact_create", "contact_delete",
    "contact_update", "detail_tab_create", "detail_tab_delete", "detail_tab_update", "FIELD_ATTRS", "MERGE_FIELDS", "UNIQUE_FIELDS", "BatchIdentify", "Conflict",
    "IdentifyResult", "check_definition", "check_unique", "company_create", "company_delete", "company_update",
    "custom_field_create", "custom_field_delete", "custom_field_update", "customer_create", "customer_delete",
    "customer_identify", "customer_identify_batch", "customer_merge", "customer_merging", "customer_update",
    "customers_delete", "customers_set_status", "enum_group_create", "enum_group_delete", "enum_group_update",
    "enum_item_create", "enum_item_delete", "enum_item_update", "require_identity", "timeline_entry",
]
