"""Customer pages outside the unfold changelist/changeform: the detail page (header, metrics, tabs),
attachments (upload, scoped download, delete) and the list column chooser.

Every customer is read through ``selectors.customer_get`` (outside the data scope → 404) and every
shown value passes through ``masking.mask_customer`` with ``context="detail"``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shoal.core.auth import require_page, user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.views import page

from . import (
    attachments,
    cleaning,
    columns,
    display,
    extensions,
    masking,
    page_extensions,
    selectors,
    standard,
    tabs,
)
from .models import (
    Attachment,
    Customer,
    CustomField,
    TimelineKind,
)

TIMELINE_LIMIT = 200
COMPANY_CUSTOMERS_LIMIT = 50

# Key metrics of the header: attribute keys tried in order (the first present wins), else "—".
METRICS = (
    ("points", gettext_lazy("Points"), ("points", "score", "credit_points")),
    ("order_count", gettext_lazy("Orders"), ("order_count", "orders_count", "orders", "trade_times")),
    ("order_amount", gettext_lazy("Order amount"), ("order_amount", "orders_amount", "purchase_amount",
                                                    "total_spent")),
    ("first_purchase", gettext_lazy("First purchase"), ("first_purchase_at", "first_order_at", "first_purchase")),
    ("last_purchase", gettext_lazy("Last purchase"), ("last_purchase_at", "last_order_at", "last_purchase")),
)
BASIC_FIELDS = standard.placed("basic")


def _customer(request, pk) -> Customer:
    try:
        return selectors.customer_get(actor=request.user, pk=pk)
    except NotFound:
        raise Http404(_("Customer not found"))


def detail_url(pk) -> str:
    return reverse("admin:customers_customer_detail", args=[pk])


# -- display helpers ---------------------------------------------------------------------------------
_enum_labels = display.custom_enum_labels
display_value = display.custom_value  # a stored custom value as shown on a page


def _field_label(name: str, definitions: dict[str, CustomField]) -> str:
    if name in definitions:
        return definitions[name].label
    if name == "attachment":
        return _("attachment")
    try:
        return str(Customer._meta.get_field(name).verbose_name)
    except Exception:
        return name


def _metrics(attributes: dict, definitions: dict[str, CustomField], enum_labels) -> list[dict]:
    out = []
    for code, label, keys in METRICS:
        value = None
        for key in keys:
            if attributes.get(key) not in (None, "", []):
                value = display_value(definitions.get(key), attributes[key], enum_labels)
                break
        out.append({"code": code, "label": label, "value": value})
    return out


def operator_names(entries) -> dict[int, str]:
    """The operators of timeline entries as shown: {user id: display name, else username} (the entry keeps
    the username it was written with)."""
    from shoal.accounts.models import User

    ids = {e["actor_id"] if isinstance(e, dict) else e.actor_id for e in entries}
    ids.discard(None)
    return {pk: name or username for pk, name, username in
            User.objects.filter(pk__in=ids).values_list("pk", "name", "username")}


def operator_shown(actor_id, actor_name, names: dict[int, str]) -> str:
    if actor_id is not None and names.get(actor_id):
        return names[actor_id]
    if actor_id is None and actor_name == "system":
        return _("System")
    return actor_name or ""


def timeline_value(name, value, definitions, enum_labels, standard_labels):
    """An old/new value of a timeline entry as shown (the entry keeps what was stored)."""
    if name in definitions:
        return display.custom_value(definitions[name], value, enum_labels)
    if name in cleaning.STANDARD_FIELDS:
        return display.standard_value(name, value, standard_labels)
    return display_value(None, value)


# -- the detail page ---------------------------------------------------------------------------------
def customer_detail(request, pk):
    require_page(request, "customers.customers.view")
    customer = _customer(request, pk)
    viewer = request.user
    mask = masking.should_mask(viewer=viewer, customer=customer, context="detail")
    sensitive = masking.sensitive_custom_fields() if mask else {}
    shown = masking.mask_customer(selectors.customer_detail_dict(customer), viewer=viewer, customer=customer,
                                  context="detail", sensitive=sensitive, decided=mask)
    all_definitions = {d.key: d for d in CustomField.objects.all()}
    enabled = [d for d in all_definitions.values() if d.enabled]
    enum_labels = _enum_labels(enabled)
    attrs = shown.get("attributes") or {}

    standard_labels = display.standard_enum_labels()
    basic = [{"name": n, "label": _field_label(n, {}), "value": display.standard_value(n, shown.get(n), standard_labels)}
             for n in BASIC_FIELDS]
    other = [{"key": d.key, "label": d.label, "type": d.type,
              "value": display_value(d, attrs.get(d.key), enum_labels)}
             for d in sorted(enabled, key=lambda d: (d.order, d.id))]

    kinds = dict(TimelineKind.choices)
    entries = extensions.customer_timeline(viewer=viewer, customer=customer)[:TIMELINE_LIMIT + 1]
    more_timeline = len(entries) > TIMELINE_LIMIT
    timeline = []
    operators = operator_names(entries[:TIMELINE_LIMIT])
    for e in masking.mask_timeline(entries[:TIMELINE_LIMIT], mask=mask, sensitive=sensitive):
        action = (e.get("detail") or {}).get("action") if isinstance(e.get("detail"), dict) else None
        timeline.append({**e, "kind_label": kinds.get(e["kind"], e["kind"]),
                         "actor_name": operator_shown(e.get("actor_id"), e.get("actor_name"), operators),
                         "action_label": page_extensions.TIMELINE_ACTION_LABELS.get(action, "") if action else "",
                         "field_label": _field_label(e["field"], all_definitions) if e["field"] else "",
                         "old": timeline_value(e["field"], e["old"], all_definitions, enum_labels, standard_labels),
                         "new": timeline_value(e["field"], e["new"], all_definitions, enum_labels, standard_labels)})

    company = customer.company
    company_customers = []
    if company is not None:
        company_customers = list(selectors.customer_queryset(actor=viewer).filter(company=company)
                                 .exclude(pk=customer.pk).order_by("-created_at")
                                 .values("id", "name")[:COMPANY_CUSTOMERS_LIMIT])

    can_edit = viewer.has_shoal_perm("customers.customers.edit")
    context = {
        "title": shown.get("name") or f"#{customer.pk}",
        "customer": customer,
        "shown": shown,
        "masked": bool(shown.get("masked")),
        "status_label": display.standard_value("status", customer.status, standard_labels),
        "basic": basic,
        "metrics": _metrics(attrs, all_definitions, enum_labels),
        "other": other,
        "timeline": timeline,
        "more_timeline": more_timeline,
        "contacts": shown.get("contacts") or [],
        "groups": shown.get("groups") or [],
        "company": company,
        "company_customers": company_customers,
        "attachments": list(customer.attachments.select_related("uploaded_by")),
        "attachment_max_mb": attachments.max_mb(),
        "configured_tabs": tabs.tabs_for(customer),
        "panels": [panel(request, customer) for panel in page_extensions.DETAIL_PANELS],
        "extension_tabs": page_extensions.detail_tabs(request, customer),
        "can_edit": can_edit,
        "can_view_companies": viewer.has_shoal_perm("customers.companies.view"),
        "edit_url": reverse("admin:customers_customer_change", args=[customer.pk]),
        "list_url": reverse("admin:customers_customer_changelist"),
    }
    return page(request, "customers/detail.html", context)


# -- attachments ---------------------------------------------------------------------------------------
@require_POST
def attachment_upload(request, pk):
    require_page(request, "customers.customers.edit")
    customer = _customer(request, pk)
    try:
        attachment = attachments.attachment_upload(actor=request.user, customer=customer, upload=request.FILES.get("file"))
    except ShoalError as exc:
        if exc.code == "file_too_large":
            messages.error(request, _("The file is larger than the limit of %(mb)d MB; nothing was stored.")
                           % {"mb": exc.detail["max_mb"]})
        else:
            messages.error(request, _("Choose a file to upload."))
    else:
        messages.success(request, _("Uploaded %(name)s.") % {"name": attachment.original_name})
    return HttpResponseRedirect(detail_url(customer.pk) + "#attachments")


def _attachment(request, pk, attachment_id) -> Attachment:
    customer = _customer(request, pk)  # the scope check: outside it the file does not exist
    attachment = Attachment.objects.filter(customer=customer, pk=attachment_id).select_related("customer").first()
    if attachment is None:
        raise Http404(_("Attachment not found"))
    return attachment


def attachment_download(request, pk, attachment_id):
    require_page(request, "customers.customers.view")
    attachment = _attachment(request, pk, attachment_id)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("Attachment not found"))
    response = FileResponse(handle, as_attachment=True, filename=attachment.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def attachment_delete(request, pk, attachment_id):
    require_page(request, "customers.customers.edit")
    attachment = _attachment(request, pk, attachment_id)
    name = attachment.original_name
    attachments.attachment_delete(actor=request.user, attachment=attachment)
    messages.success(request, _("Deleted %(name)s.") % {"name": name})
    return HttpResponseRedirect(detail_url(pk) + "#attachments")


# -- list columns ------------------------------------------------------------------------------------
def list_columns(request):
    require_page(request, "customers.customers.view")
    list_url = reverse("admin:customers_customer_changelist")
    if request.method == "POST":
        if "reset" in request.POST:
            columns.reset_user_columns(request.user)
            messages.success(request, _("The customer list shows the default columns again."))
            return redirect(list_url)
        shown = set(request.POST.getlist("show"))
        chosen = [c for c in request.POST.getlist("position") if c in shown]
        if not chosen:
            messages.error(request, _("Choose at least one column."))
            return redirect(reverse("admin:customers_customer_columns"))
        columns.save_user_columns(request.user, chosen)
        messages.success(request, _("Columns saved."))
        return redirect(list_url)
    options = columns.available()
    current = columns.user_columns(request.user)
    by_code = {c["code"]: c for c in options}
    rows = [{**by_code[c], "shown": True} for c in current]
    rows += [{**c, "shown": False} for c in options if c["code"] not in current]
    return page(request, "customers/columns.html", {"title": _("Customer list columns"), "rows": rows,
                                                    "list_url": list_url})



def identity_settings(request):
    """主键标识: which fields identify a customer (at least one of mobile, email, ent_user_id)."""
    from shoal.core import parameters

    from .identity import IDENTITY_CANDIDATES, identity_fields

    require_page(request, "system.identity.view")
    can_edit = user_can(request.user, "system.identity.edit")
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        chosen = [f for f in IDENTITY_CANDIDATES if f in request.POST.getlist("fields")]
        if not chosen:
            messages.error(request, _("Choose at least one identity field."))
        else:
            parameters.set_value("CUSTOMER_IDENTITY_FIELDS", ",".join(chosen), actor=request.user)
            messages.success(request, _("Identity fields saved."))
            return redirect("admin:customer_identity")
    labels = {f: Customer._meta.get_field(f).verbose_name for f in IDENTITY_CANDIDATES}
    current = set(identity_fields())
    rows = [{"key": f, "label": labels[f], "checked": f in current} for f in IDENTITY_CANDIDATES]
    return page(request, "customers/identity.html", {"title": _("Identity fields"), "rows": rows,
                                                     "can_edit": can_edit})
