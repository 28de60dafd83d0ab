from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_action_labels
from shoal.core.permissions import Menu, register_menu
from shoal.core.site import site

from . import views

# The advanced query page is part of the customer profiles: it needs customers.customers.view.
register_menu(Menu("customers.query", _("Advanced query"), "customers", (), "admin:segment_query",
                   "manage_search", view_permission="customers.customers.view", order=30))
site.register_page("query/", views.query_page, "segment_query")

register_action_labels({
    "saved_query.create": _("Save query"),
    "saved_query.update": _("Edit saved query"),
    "saved_query.delete": _("Delete saved query"),
})
