"""What the export adds: its page, the customer list's batch action "Export", the operation-log word."""

from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_action_labels
from shoal.core.site import site
from shoal.customers import page_extensions

from . import export_page
from .exporting import EXPORT_PERMISSION

register_action_labels({"customer.export": _("Export customers")})
site.register_page("imports/export/", export_page.export_page, "customer_export")
page_extensions.register_list_action(page_extensions.ListAction(
    "customers_export", _("Export selected customers"), export_page.export_action, EXPORT_PERMISSION))
