"""The forms of the group pages. They parse; the services check (a ``ShoalError`` becomes a form error).

The rule forms extend the tag rule editor's form (condition rows or custom SQL, include/exclude tags)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from shoal.customers.models import CustomerGroup
from shoal.tags.forms import INPUT, RuleForm

from .models import RecycleKind, RecycleTarget

MAX_INT = 2**31 - 1


def _style(form: forms.Form) -> None:
    for field in form.fields.values():
        if not isinstance(field.widget, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.HiddenInput):
            field.widget.attrs.setdefault("class", INPUT)


def user_choices() -> list[tuple[int, str]]:
    users = get_user_model().objects.filter(is_active=True).order_by("username").values_list("pk", "username", "name")
    return [(pk, f"{name} ({username})" if name else username) for pk, username, name in users]


def _optional_count(label, help_text=""):
    return forms.IntegerField(label=label, required=False, min_value=1, max_value=MAX_INT, help_text=help_text)


class GroupForm(forms.Form):
    """Step 1: the group, its admins and salespeople, capacity and claim limit."""

    name = forms.CharField(label=_("name"), max_length=100)
    admins = forms.TypedMultipleChoiceField(label=_("group admins"), required=False, coerce=int,
                                            help_text=_("They see all of the group's customers."))
    salespeople = forms.TypedMultipleChoiceField(label=_("salespeople"), required=False, coerce=int,
                                                 help_text=_("They see and follow their own customers; only they "
                                                             "take part in assignment."))
    capacity = _optional_count(_("private-sea capacity"),
                               _("Customers one salesperson may hold in this group. Empty: no limit."))
    daily_claim_limit = _optional_count(_("daily claim limit"),
                                        _("Customers one salesperson may claim a day. Empty: no limit."))
    public_sea_visible = forms.BooleanField(label=_("salespeople see the group public sea"), required=False)
    description = forms.CharField(label=_("description"), required=False, max_length=255)
    enabled = forms.BooleanField(label=_("enabled"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = user_choices()
        self.fields["admins"].choices = choices
        self.fields["salespeople"].choices = choices
        self.fields["admins"].widget.attrs["size"] = 6
        self.fields["salespeople"].widget.attrs["size"] = 8
        _style(self)

    def data_for_service(self) -> dict:
        d = self.cleaned_data
        return {"name": d["name"], "admin_ids": d["admins"], "salesperson_ids": d["salespeople"],
                "capacity": d["capacity"], "daily_claim_limit": d["daily_claim_limit"],
                "public_sea_visible": d["public_sea_visible"], "description": d["description"],
                "enabled": d["enabled"]}


class RequestSettingsForm(forms.Form):
    """Step 2: the request-task settings (领取任务)."""

    request_tasks = forms.BooleanField(label=_("salespeople may request customers"), required=False,
                                       help_text=_("A salesperson with no open follow-up task may ask for more."))
    request_times_per_day = forms.IntegerField(label=_("requests a day"), min_value=1, max_value=MAX_INT)
    request_size = forms.IntegerField(label=_("customers per request"), min_value=1, max_value=MAX_INT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)


class PoolRuleForm(RuleForm):
    """A pool rule: name, order, enabled, and the tag rule editor's parts."""

    name = forms.CharField(label=_("name"), max_length=100)
    order = forms.IntegerField(label=_("order"), initial=1, min_value=-MAX_INT - 1, max_value=MAX_INT,
                               help_text=_("1 runs first."))
    enabled = forms.BooleanField(label=_("enabled"), required=False, initial=True)

    EXTRA: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)

    def extra_fields(self):
        return [self[name] for name in ("name", "order", "enabled", *self.EXTRA)]

    def extra_data(self) -> dict:
        d = self.cleaned_data
        return {"name": d["name"], "order": d["order"], "enabled": d["enabled"]}


class AssignmentRuleForm(PoolRuleForm):
    salespeople = forms.TypedMultipleChoiceField(label=_("salespeople"), required=False, coerce=int,
                                                 help_text=_("None chosen: every salesperson of the group."))
    EXTRA = ("salespeople",)

    def __init__(self, *args, group: CustomerGroup, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["salespeople"].choices = [(u.pk, u.name or u.username) for u in group.salespeople.order_by("username")]

    def extra_data(self) -> dict:
        return {**super().extra_data(), "salesperson_ids": self.cleaned_data["salespeople"]}


class RecycleRuleForm(PoolRuleForm):
    kind = forms.ChoiceField(label=_("recycle when"), choices=RecycleKind.choices)
    days = forms.IntegerField(label=_("days"), min_value=1, max_value=MAX_INT, initial=7,
                              help_text=_("Days after the assignment."))
    warn_days = _optional_count(_("warn days before"), _("Warn the salesperson this many days before. Empty: no warning."))
    cooldown_days = _optional_count(_("previous owner cooldown (days)"),
                                    _("The previous owner cannot claim or be given the customer again for these days."))
    exempt_types = forms.CharField(label=_("exempt customer types"), required=False, max_length=2000,
                                   help_text=_("Customer types never recycled, separated by commas, e.g. closed deals."))
    target = forms.ChoiceField(label=_("send to"), choices=RecycleTarget.choices)
    EXTRA = ("kind", "days", "warn_days", "cooldown_days", "exempt_types", "target")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .services.rules import customer_type_labels

        labels = list(customer_type_labels().values())
        if labels:  # name the types there are: the rule compares them exactly
            self.fields["exempt_types"].help_text = _(
                "Customer types never recycled, separated by commas; the types: %(types)s.") % {
                "types": "、".join(labels)}

    def extra_data(self) -> dict:
        d = self.cleaned_data
        types = [t.strip() for t in d["exempt_types"].replace("，", ",").split(",") if t.strip()]
        return {**super().extra_data(), "kind": d["kind"], "days": d["days"], "warn_days": d["warn_days"],
                "cooldown_days": d["cooldown_days"], "exempt_types": types, "target": d["target"]}


class GroupRuleForm(PoolRuleForm):
    source = forms.TypedChoiceField(label=_("source"), required=False, coerce=int, empty_value=None,
                                    help_text=_("Empty: the company public sea."))
    target = forms.TypedChoiceField(label=_("target"), required=False, coerce=int, empty_value=None,
                                    help_text=_("Empty: the company public sea."))
    break_relations = forms.BooleanField(
        label=_("break existing relations"), required=False,
        help_text=_("Yes: the customer leaves the source group and its salesperson. No: the target group is added."))
    EXTRA = ("source", "target", "break_relations")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        groups = [("", _("Company public sea"))] + list(CustomerGroup.objects.order_by("name").values_list("pk", "name"))
        self.fields["source"].choices = groups
        self.fields["target"].choices = groups

    def extra_data(self) -> dict:
        d = self.cleaned_data
        return {**super().extra_data(), "source_group_id": d["source"], "target_group_id": d["target"],
                "break_relations": d["break_relations"]}
