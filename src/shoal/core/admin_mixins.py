"""Model admins whose permissions are Shoal menu permissions (``<menu>.<action>``)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import build_q_object_from_lookup_parameters, prepare_lookup_value, unquote
from django.contrib.admin.views.main import ERROR_FLAG, IGNORED_PARAMS, ORDER_VAR, PAGE_VAR
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import JSONField
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpResponseRedirect
from django.utils.timezone import make_aware
from django.utils.translation import gettext as _
from unfold.admin import ModelAdmin

from . import admin_lists
from .auth import user_can
from .errors import ShoalError

NEVER_FROM_URL = frozenset({"regex", "iregex"})  # user-supplied regexes: wrong results and catastrophic backtracking
EXACT_LOOKUPS = frozenset({"exact", "in", "isnull"})  # the only lookups on a masked field
WHOLE_JSON_SAFE = frozenset({"exact", "isnull", "has_key", "has_keys", "has_any_keys"})
JSON_CONTAINS = frozenset({"contains", "contained_by"})
UNCONVERTIBLE = (ValueError, TypeError, OverflowError, ValidationError, DatabaseError)  # a filter value's
# conversion (to an int, a date, a UUID…) or the database refusing it (an integer past its range)


class ShoalModelAdmin(ModelAdmin):
    menu: str = ""  # e.g. "system.users"
    read_only: bool = False

    def action_checkbox(self, obj):  # unfold's, without rendering a template per row
        return admin_lists.row_checkbox(obj.pk)

    action_checkbox.short_description = ModelAdmin.action_checkbox.short_description

    def _perm(self, request, action: str) -> bool:
        return user_can(request.user, f"{self.menu}.{action}")

    def has_module_permission(self, request):
        return self._perm(request, "view")

    def has_view_permission(self, request, obj=None):
        return self._perm(request, "view")

    def has_add_permission(self, request):
        return not self.read_only and self._perm(request, "create")

    def has_change_permission(self, request, obj=None):
        return not self.read_only and self._perm(request, "edit")

    def has_delete_permission(self, request, obj=None):
        return not self.read_only and self._perm(request, "delete")

    def get_object_or_404(self, request, object_id):
        """The object of an object URL (``<path:object_id>/…``) in the user's queryset; a missing or
        malformed id (``abc``) is a 404, never a 500."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return obj

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index when an object is missing or outside the user's queryset (data
        # scope); Shoal answers 404 like the API does, after the same permission checks.
        raise Http404

    # -- filters and sorts given in the changelist's URL (?field__lookup=value, ?o=) -----------------
    def masked_lookup_paths(self, request) -> frozenset[str]:
        """Field paths (``mobile``, ``attributes__backup_phone``) whose values are masked for this user:
        the URL may filter them only by an exact value (``exact``, ``in``, ``isnull``), never sort by them."""
        return frozenset()

    def lookup_refusal(self, request, lookup: str) -> str | None:
        """Why the URL lookup ``lookup`` is refused for this user, or None when it is allowed."""
        parts = lookup.split(LOOKUP_SEP)
        if NEVER_FROM_URL.intersection(parts):
            return _("Filters by regular expression are not accepted.")
        masked = self.masked_lookup_paths(request)
        for path in masked:
            head = path.split(LOOKUP_SEP)
            if parts[:len(head)] == head:
                rest = parts[len(head):]
                if len(rest) > 1 or (rest and rest[0] not in EXACT_LOOKUPS):
                    return _("%(field)s is masked for you: it can be filtered only by an exact value.") % {
                        "field": self.lookup_label(path)}
        try:
            field = self.model._meta.get_field(parts[0])
        except FieldDoesNotExist:
            return None
        if isinstance(field, JSONField) and len(parts) > 1:
            if (field.get_lookup(parts[1]) is not None and parts[1] not in WHOLE_JSON_SAFE
                    and any(p.startswith(parts[0] + LOOKUP_SEP) for p in masked)):
                # a text search over the whole JSON object would search the masked keys too
                return _("%(field)s holds masked values: it can be filtered only by an exact value.") % {
                    "field": self.lookup_label(parts[0])}
            if parts[-1] in JSON_CONTAINS and not connection.features.supports_json_field_contains:
                return _("This filter is not supported by the database.")
        return None

    def lookup_allowed(self, lookup, value, request=None):
        if request is not None and self.lookup_refusal(request, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def _order_refusal(self, request) -> str | None:
        """A sort (``?o=``) by a masked field: refused."""
        masked = self.masked_lookup_paths(request)
        if not masked or not request.GET.get(ORDER_VAR):
            return None
        list_display = list(self.get_list_display(request))
        if self.get_actions(request):  # as get_changelist_instance: the checkbox column comes first
            list_display = ["action_checkbox", *list_display]
        for part in request.GET[ORDER_VAR].split("."):
            try:
                name = list_display[int(part.rpartition("-")[2])]
            except (IndexError, ValueError):
                continue
            attr = name if callable(name) else getattr(self, name, None)
            order = getattr(attr, "admin_order_field", None) if attr is not None else name
            if not isinstance(order, str):
                continue
            order = order.lstrip("-")
            if any(order == p or order.startswith(p + LOOKUP_SEP) for p in masked):
                return _("%(field)s is masked for you: the list cannot be sorted by it.") % {
                    "field": self.lookup_label(order)}
        return None

    def lookup_label(self, path: str) -> str:
        """What the user calls the field of a URL lookup (its verbose name), for messages."""
        try:
            field = self.model._meta.get_field(path.split(LOOKUP_SEP)[0])
        except FieldDoesNotExist:
            return path
        name = getattr(field, "verbose_name", None)  # a reverse relation has none
        return str(name) if name is not None else path

    def _bad_value(self, key: str, value: str) -> str:
        return _("The filter on %(field)s was left out: “%(value)s” is not a valid value.") % {
            "field": self.lookup_label(key), "value": value}

    def _date_hierarchy_refusal(self, request) -> dict[str, str]:
        """The date hierarchy (``?created_at__year=&__month=&__day=``) becomes a range of datetimes as in
        Django's ChangeList.get_filters: a date out of range (year 99999999999, month 13, 31 February) is
        refused, never a 500."""
        if not self.date_hierarchy:
            return {}
        keys = [f"{self.date_hierarchy}__{part}" for part in ("year", "month", "day")]
        if keys[0] not in request.GET:
            return {}
        year, month, day = (request.GET.getlist(k)[-1] if k in request.GET else None for k in keys)
        try:
            start = datetime(int(year), int(month) if month is not None else 1, int(day) if day is not None else 1)
            if day is not None:
                end = start + timedelta(days=1)
            elif month is not None:
                end = (start + timedelta(days=32)).replace(day=1)
            else:
                end = start.replace(year=start.year + 1)
            if settings.USE_TZ:
                make_aware(start), make_aware(end)
        except UNCONVERTIBLE:
            reason = self._bad_value(self.date_hierarchy, "-".join(v for v in (year, month, day) if v is not None))
            return dict.fromkeys((k for k in keys if k in request.GET), reason)
        return {}

    def _value_refusals(self, request, keys) -> dict[str, str]:
        """After the list failed on its filters: the filters among ``keys`` whose values the model cannot
        take (each tried alone), else those that are no lookup of the model, else all of them."""
        bad, unknown = {}, {}
        for key in keys:
            values = request.GET.getlist(key)
            try:
                with transaction.atomic():
                    self.model._default_manager.filter(
                        build_q_object_from_lookup_parameters({key: prepare_lookup_value(key, values)})).exists()
            except (FieldError, FieldDoesNotExist):
                unknown[key] = _("The filter %(field)s was left out: this list has no such filter.") % {
                    "field": key}
            except UNCONVERTIBLE:
                bad[key] = self._bad_value(key, ", ".join(values))
        return bad or unknown or {key: self._bad_value(key, ", ".join(request.GET.getlist(key))) for key in keys}

    def changelist_view(self, request, extra_context=None):
        """Refused filters and sorts never reach the database: the list is shown without them, with a
        message saying why. So are filters whose values cannot be converted (never a 500)."""
        skip = {*IGNORED_PARAMS, PAGE_VAR, ERROR_FLAG}
        refused = self._date_hierarchy_refusal(request)
        for key, values in request.GET.lists():
            if key in skip or key in refused:
                continue
            reason = self.lookup_refusal(request, key)
            if reason is None and not all(super(ShoalModelAdmin, self).lookup_allowed(key, v, request)
                                          for v in values):
                reason = _("Filtering by %(field)s is not allowed.") % {"field": self.lookup_label(key)}
            if reason is not None:
                refused[key] = reason
        if (reason := self._order_refusal(request)) is not None:
            refused[ORDER_VAR] = reason
        if not refused:
            filters = [key for key in request.GET if key not in skip]
            # a filter's value may fail in the database (PostgreSQL then needs the savepoint to go on); a plain
            # GET has none to fail, and its error is raised as it is: no transaction around it
            guard = transaction.atomic() if filters or request.method != "GET" else nullcontext()
            try:
                with guard:
                    response = super().changelist_view(request, extra_context)
            except UNCONVERTIBLE:
                if not filters or request.method != "GET":
                    raise
                refused = self._value_refusals(request, filters)
            else:
                # Django answers a filter it cannot apply (IncorrectLookupParameters) with a bare
                # redirect to ?e=1 that drops every filter; say which one and keep the others.
                failed = (ERROR_FLAG not in request.GET and filters and isinstance(response, HttpResponseRedirect)
                          and response.url == f"{request.path}?{ERROR_FLAG}=1")
                if not failed:
                    return response
                refused = self._value_refusals(request, filters)
        for reason in dict.fromkeys(refused.values()):
            messages.error(request, reason)
        params = request.GET.copy()
        for key in refused:
            params.pop(key, None)
        return HttpResponseRedirect(request.path + ("?" + params.urlencode() if params else ""))

    # -- a ShoalError from a service is the user's mistake: show it, never a 500 -------------------
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A ShoalError from ``save_model`` (the transaction is rolled back) renders the same form
        again, bound to what was sent, with the error on its field (``detail["field"]``) or on top."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ShoalError as exc:
            if request.method != "POST" or getattr(request, "_shoal_form_error", None) is not None:
                raise
            request._shoal_form_error = exc
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, "_shoal_form_error", None)
        if error is None:
            return form_class

        class FormWithServiceError(form_class):
            def clean(self):
                data = super().clean()
                field = error.detail.get("field")
                self.add_error(field if field in self.fields else None, error.message)
                return data

        FormWithServiceError.__name__ = form_class.__name__
        return FormWithServiceError

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ShoalError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.path.rsplit("/delete/", 1)[0] + "/change/")

    def response_action(self, request, queryset):
        """Actions (bulk delete included): a ShoalError is a message on the list, not a 500."""
        try:
            return super().response_action(request, queryset)
        except ShoalError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.get_full_path())
