"""Pages: customer list and detail, custom fields, enums, companies, detail tabs (on the unfold admin
shell), one module per topic; the forms are in :mod:`.forms`.

Customer rows come from the scoped selector; every shown value passes through the masking function.
"""

from .companies_tabs import CompanyAdmin, DetailTabAdmin
from .customers import CustomerAdmin, CustomerChangeList, SourceFilter
from .fields_enums import CustomFieldAdmin, EnumGroupAdmin, EnumItemInline
from .forms import (
    CustomerForm,
    CustomFieldForm,
    DetailTabForm,
    EnumItemFormSet,
    custom_form_field,
    form_field_keys,
)
from .inlines import ContactInline, TimelineInline

__all__ = [
    "CompanyAdmin", "ContactInline", "CustomFieldAdmin", "CustomFieldForm", "CustomerAdmin", "CustomerChangeList",
    "CustomerForm", "DetailTabAdmin", "DetailTabForm", "EnumGroupAdmin", "EnumItemFormSet", "EnumItemInline",
    "SourceFilter", "TimelineInline", "custom_form_field", "form_field_keys",
]
