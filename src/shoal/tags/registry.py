"""What the tags app plugs into: menus and operation-log words, jobs, and the customers' signals."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shoal.accounts.models import User
from shoal.core.oplog import register_action_labels
from shoal.core.permissions import CRUD, Menu, register_menu
from shoal.core.site import site
from shoal.customers.extensions import TimelineSource, register_output_extension, register_timeline_source
from shoal.customers.services import customer_merging
from shoal.customers.signals import customers_changed, customers_deleting
from shoal.schedules.registry import register_job

from . import boards, conditions, outputs, views  # noqa: F401  (conditions: tag conditions in trees and custom SQL)

register_menu(Menu("customers.tags", _("Tag management"), "customers", CRUD + ("run",), "admin:tags", "sell", order=25))
register_menu(Menu("customers.tag_history", _("Tag history"), "customers", (), "admin:tag_history", "history",
                   view_permission="customers.tags.view", order=26))

register_output_extension(outputs.customer_tag_outputs)  # "tags" in customer outputs
register_timeline_source(TimelineSource("tags", outputs.timeline_count, outputs.timeline_entries))

register_action_labels({
    "tag_category.create": _("Create tag category"),
    "tag_category.update": _("Edit tag category"),
    "tag_category.delete": _("Delete tag category"),
    "tag.create": _("Create tag"),
    "tag.update": _("Edit tag"),
    "tag.delete": _("Delete tag"),
    "tag_rule.create": _("Add tag rule"),
    "tag_rule.update": _("Edit tag rule"),
    "tag_rule.delete": _("Delete tag rule"),
    "tag.apply": _("Tag customers"),
    "tag.remove": _("Untag customers"),
    "tag.refresh": _("Refresh auto tags"),
})


@register_job("tags.refresh_all", cron="30 5 * * *",
              description=gettext_noop("Refresh all auto tags (rules that compare with today: in full)"))
def refresh_all_job(tag_ids=None, full=False):
    from shoal.schedules.execution import report_progress

    from .refresh import refresh

    return refresh(tag_ids=tag_ids, full=full, daily=tag_ids is None and not full, progress=report_progress)


@register_job("tags.expire", cron="0 0 * * *",
              description=gettext_noop("Remove tags whose validity has ended; recount the tags' customers"))
def expire_job():
    from . import store
    from .refresh import expire
    from .staging import drop_leftovers

    result = expire()
    result["orphans_removed"] = store.purge_orphans()
    result["passes_dropped"] = len(drop_leftovers())  # tables of first passes a crash cut off
    store.recount()
    return result


@receiver(customers_changed)
def _refresh_changed_customers(sender, customer_ids, **kwargs):
    from .services import customers_changed as refresh_on_change

    refresh_on_change(customer_ids)


@receiver(customers_deleting)
def _customers_deleting(sender, customer_ids, **kwargs):
    from .services import customers_deleting as settle

    settle(customer_ids)


@receiver(pre_delete, sender=User)
def _user_deleting(sender, instance, **kwargs):
    """A user's personal tags go before the user (through the service: scores follow)."""
    from .services import delete_personal_tags

    delete_personal_tags(owner=instance)


@receiver(customer_merging)
def _move_taggings(sender, keep, other, actor, **kwargs):
    """The kept customer takes the other's manual and personal tags (auto tags follow its values)."""
    from .services import move_taggings

    move_taggings(actor=actor, source_id=other.pk, target_id=keep.pk)


# -- pages (the workbench boards: boards.py) ------------------------------------------------------------------
site.register_page("tags/", views.manage_page, "tags")
site.register_page("tags/history/", views.history_page, "tag_history")
site.register_page("tags/refresh/", views.refresh, "tags_refresh")
site.register_page("tags/categories/add/", views.category_add, "tag_category_add")
site.register_page("tags/categories/<int:category_id>/", views.category_edit, "tag_category_edit")
site.register_page("tags/categories/<int:category_id>/delete/", views.category_delete, "tag_category_delete")
site.register_page("tags/add/", views.tag_add, "tag_add")
site.register_page("tags/<int:tag_id>/", views.tag_edit, "tag_edit")
site.register_page("tags/<int:tag_id>/delete/", views.tag_delete, "tag_delete")
site.register_page("tags/<int:tag_id>/refresh/", views.refresh, "tag_refresh")
site.register_page("tags/<int:tag_id>/rules/", views.rules_page, "tag_rules")
site.register_page("tags/<int:tag_id>/rules/<int:rule_id>/", views.rules_page, "tag_rule_edit")
site.register_page("tags/<int:tag_id>/rules/<int:rule_id>/delete/", views.rule_delete, "tag_rule_delete")
site.register_page("tags/<int:tag_id>/rules/preview/", views.rule_preview, "tag_rule_preview")


# -- the customer pages: tags column and filter, batch tagging, tag chips; the external tag import ----------
def _customer_pages():
    from shoal.core.site import site
    from shoal.customers import page_extensions as extensions
    from shoal.customers.quality import quality_expr

    from . import customer_pages as pages
    from . import import_page

    extensions.register_list_column(extensions.ListColumn(
        "tags", _("Tags"), pages.render_list_tags, prefetch=pages.prefetch_list_tags, default=True))
    extensions.register_list_column(extensions.ListColumn(
        "quality_score", _("Quality score"), pages.render_quality_score, prefetch=pages.prefetch_quality_scores,
        ordering=quality_expr()))  # chosen by
    # the user: the default columns with Tags fill a 1440-pixel screen
    extensions.register_list_filter(pages.TagFilter)
    extensions.register_list_action(extensions.ListAction("tags_add", _("Add tag"), pages.add_tag_action,
                                                          pages.TAG_PERMISSION))
    extensions.register_list_action(extensions.ListAction("tags_remove", _("Remove tag"), pages.remove_tag_action,
                                                          pages.TAG_PERMISSION))
    extensions.register_detail_panel(pages.detail_panel)
    site.register_page("tags/customers/<int:pk>/add/", pages.customer_tag_add, "customer_tag_add")
    site.register_page("tags/customers/<int:pk>/remove/<int:tag_id>/", pages.customer_tag_remove,
                       "customer_tag_remove")
    site.register_page("tags/import/", import_page.tag_import, "tag_import")
    site.register_page("tags/import/report/<str:token>/", import_page.tag_import_report, "tag_import_report")
    register_menu(Menu("customers.tag_import", _("Import external tags"), "customers", (), "admin:tag_import",
                       "upload_file", view_permission="customers.tags.create", order=26))
    register_action_labels({"tag.import": _("Import external tags")})


_customer_pages()


# -- automation: the tag processors (processor registry) -----------------------------------------------------
def _register_processors():
    from shoal.core.processors import register_processor

    from .processors import ADD_TAG, REMOVE_TAG

    register_processor(ADD_TAG)
    register_processor(REMOVE_TAG)


_register_processors()
