"""Tags on the customer pages: the list's Tags and quality-score columns, its filter by tag and its batch
actions (add / remove a tag on the selection), and the detail page's tag chips with add and remove.

``registry.py`` plugs these into ``shoal.customers.extensions`` (customers imports no tags code). Every
write goes through ``services.apply_tag`` / ``remove_tag`` (personal tags by their owner, auto tags
refused, customers in the actor's data scope); the pages check the permission ``customers.customers.tag``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from unfold.contrib.filters.admin import DropdownFilter

from shoal.core.auth import require_page, user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.views import page
from shoal.customers import quality
from shoal.customers import selectors as customer_selectors
from shoal.customers.views import detail_url

from . import services
from .models import ObjectType, Tag, Tagging, TagKind
from .selectors import customer_tags, visible_tags

TAG_PERMISSION = "customers.customers.tag"
LIST_CHIPS = 2  # chips shown in a list cell, each cut at CHIP_WIDTH; the rest as "+N" (all of them in the tooltip)
CHIP_WIDTH = "5.5rem"
KIND_CLASSES = {
    TagKind.AUTO: "bg-blue-100 text-blue-700 dark:bg-blue-500/20 dark:text-blue-400",
    TagKind.MANUAL: "bg-primary-100 text-primary-700 dark:bg-primary-500/20 dark:text-primary-400",
    TagKind.PERSONAL: "bg-orange-100 text-orange-700 dark:bg-orange-500/20 dark:text-orange-400",
}
KIND_ICONS = {TagKind.AUTO: "bolt", TagKind.MANUAL: "sell", TagKind.PERSONAL: "person"}


def choosable_tags(*, actor) -> QuerySet[Tag]:
    """The tags ``actor`` may put on customers by hand: enabled global manual tags and their own personal
    tags (auto tags follow their rules)."""
    return (visible_tags(actor=actor)
            .filter(kind__in=[TagKind.MANUAL, TagKind.PERSONAL], enabled=True,
                    category__object_type=ObjectType.CUSTOMER)
            .order_by("kind", "category__order", "category__name", "name", "pk"))


def tag_choice_label(tag: Tag) -> str:
    label = f"{tag.category.name} / {tag.name}"
    return label + " " + _("(personal)") if tag.kind == TagKind.PERSONAL else label


def _kind_labels() -> dict[str, str]:
    return {k: str(label) for k, label in TagKind.choices}


# -- the list ------------------------------------------------------------------------------------------
def prefetch_list_tags(request, customers) -> None:
    """The visible tags of the page's customers, in one query."""
    by_customer = customer_tags(actor=request.user, customer_ids=[c.pk for c in customers])
    for customer in customers:
        customer._tags = by_customer.get(customer.pk, [])


def render_list_tags(customer):
    tags = getattr(customer, "_tags", None) or []  # put there for the whole page by prefetch_list_tags
    if not tags:
        return "-"
    kinds = _kind_labels()
    chips = format_html_join(" ", '<span class="inline-block font-medium px-1.5 py-0.5 rounded-default '
                                  'text-xs truncate {}" style="max-width: {}; vertical-align: bottom" data-tag="{}" title="{} · {}">{}</span>',
                             ((KIND_CLASSES[t["kind"]], CHIP_WIDTH, t["id"], t["name"], kinds[t["kind"]], t["name"])
                              for t in tags[:LIST_CHIPS]))
    if len(tags) <= LIST_CHIPS:
        return format_html('<span class="shoal-tags">{}</span>', chips)
    return format_html('<span class="shoal-tags">{} <span class="text-xs text-base-500" title="{}">+{}</span></span>',
                       chips, "、".join(t["name"] for t in tags), len(tags) - LIST_CHIPS)


def prefetch_quality_scores(request, customers) -> None:
    """The page's quality scores, in one query."""
    quality.fill_scores(customers)


def render_quality_score(customer):
    return format_html('<span class="shoal-number">{}</span>', customer.quality_score)


class TagFilter(DropdownFilter):
    """Customers that have tag X (the tags the viewer sees: global ones and their own personal tags)."""

    title = gettext_lazy("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(str(t.pk), tag_choice_label(t)) for t in
                visible_tags(actor=request.user).filter(category__object_type=ObjectType.CUSTOMER)
                .order_by("category__order", "category__name", "name", "pk")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            tag_id = int(value)
        except (TypeError, ValueError):
            return queryset.none()
        # a tag the viewer cannot see (another user's personal tag) matches nobody
        tagged = Tagging.objects.filter(tag_id=tag_id, tag__in=visible_tags(actor=request.user)).values("customer_id")
        return queryset.filter(pk__in=tagged)


# -- batch actions on the list ---------------------------------------------------------------------------
def _batch(model_admin, request, queryset, *, adding: bool):
    """The "Add tag" / "Remove tag" actions: first a page to choose the tag, then the change."""
    choices = list(choosable_tags(actor=request.user).select_related("category"))
    if "apply" in request.POST:
        tag = next((t for t in choices if str(t.pk) == request.POST.get("tag")), None)
        if tag is None:
            messages.error(request, _("Choose a manual or personal tag."))
        else:
            return _batch_apply(request, queryset, tag, adding=adding)
    selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    return page(request, "tags/batch_tag.html", {
        "title": _("Add a tag to customers") if adding else _("Remove a tag from customers"),
        "opts": model_admin.model._meta,
        "action": "tags_add" if adding else "tags_remove",
        "adding": adding,
        "selected": selected,
        "select_across": request.POST.get("select_across") == "1",
        "count": queryset.count(),
        "choices": [(t.pk, tag_choice_label(t)) for t in choices],
        "list_url": request.get_full_path(),
    })


def _batch_apply(request, queryset, tag: Tag, *, adding: bool):
    ids = list(queryset.order_by().values_list("pk", flat=True))  # the user's scoped, filtered selection
    write = services.apply_tag if adding else services.remove_tag
    changed = 0
    try:
        for start in range(0, len(ids), services.MAX_BATCH):
            changed += write(actor=request.user, tag=tag, customer_ids=ids[start:start + services.MAX_BATCH])
    except ShoalError as exc:
        messages.error(request, exc.message)
        return None
    values = {"tag": tag.name, "n": changed, "same": len(ids) - changed}
    if adding:
        messages.success(request, _("Tag %(tag)s added to %(n)d customers (%(same)d already had it).") % values)
    else:
        messages.success(request, _("Tag %(tag)s removed from %(n)d customers (%(same)d did not have it).") % values)
    return None


def add_tag_action(model_admin, request, queryset):
    return _batch(model_admin, request, queryset, adding=True)


def remove_tag_action(model_admin, request, queryset):
    return _batch(model_admin, request, queryset, adding=False)


# -- the detail page ----------------------------------------------------------------------------------------
def detail_panel(request, customer):
    """The tag chips of one customer (kind by style), its quality score, and add / remove for taggers."""
    rows = (Tagging.objects.filter(customer_id=customer.pk, tag__in=visible_tags(actor=request.user))
            .select_related("tag").order_by("tag__category__order", "tag__name", "tag_id"))
    kinds = _kind_labels()
    can_tag = user_can(request.user, TAG_PERMISSION)
    tags = [{"id": g.tag_id, "name": g.tag.name, "kind": g.tag.kind, "kind_label": kinds[g.tag.kind],
             "classes": KIND_CLASSES[g.tag.kind], "icon": KIND_ICONS[g.tag.kind], "expires_at": g.expires_at,
             "source": g.get_source_display(), "removable": can_tag and g.tag.kind != TagKind.AUTO,
             "remove_url": reverse("admin:customer_tag_remove", args=[customer.pk, g.tag_id])} for g in rows]
    have = {t["id"] for t in tags}
    choices = ([(t.pk, tag_choice_label(t)) for t in choosable_tags(actor=request.user).select_related("category")
                if t.pk not in have] if can_tag else [])
    return render_to_string("tags/customer_tags.html", {
        "customer": customer, "tags": tags, "can_tag": can_tag, "choices": choices,
        "quality_score": customer.quality_score,
        "add_url": reverse("admin:customer_tag_add", args=[customer.pk]),
    }, request=request)


def _customer(request, pk):
    try:
        return customer_selectors.customer_get(actor=request.user, pk=pk)
    except NotFound:
        raise Http404(_("Customer not found"))


def _back(customer):
    return HttpResponseRedirect(detail_url(customer.pk) + "#customer-tags")


@require_POST
def customer_tag_add(request, pk):
    require_page(request, TAG_PERMISSION)
    customer = _customer(request, pk)
    tag = choosable_tags(actor=request.user).filter(pk=_int(request.POST.get("tag"))).first()
    if tag is None:
        messages.error(request, _("Choose a manual or personal tag."))
        return _back(customer)
    try:
        added = services.apply_tag(actor=request.user, tag=tag, customer_ids=[customer.pk])
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        if added:
            messages.success(request, _("Tag %(tag)s added.") % {"tag": tag.name})
        else:
            messages.info(request, _("The customer already has the tag %(tag)s.") % {"tag": tag.name})
    return _back(customer)


@require_POST
def customer_tag_remove(request, pk, tag_id):
    require_page(request, TAG_PERMISSION)
    customer = _customer(request, pk)
    tag = visible_tags(actor=request.user).filter(pk=tag_id).first()
    if tag is None:
        raise Http404(_("Tag not found"))
    try:
        removed = services.remove_tag(actor=request.user, tag=tag, customer_ids=[customer.pk])
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        if removed:
            messages.success(request, _("Tag %(tag)s removed.") % {"tag": tag.name})
        else:
            messages.info(request, _("The customer does not have the tag %(tag)s.") % {"tag": tag.name})
    return _back(customer)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
