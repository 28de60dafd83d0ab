"""Sales pools (分组/公海/私海): where a customer is, the rules that move customers, and the logs.

Where a customer is lives in ``customers.CustomerGroupMembership`` (one row per customer and group; with a
salesperson: that salesperson's private sea) and ``Customer.in_recycle_bin``:

- company public sea (公司公海): in no group, not in the recycle bin;
- group public sea (小组公海): a membership without salesperson;
- private sea (私海): a membership with a salesperson (at most one per group);
- recycle bin (回收站): ``in_recycle_bin``; left out of grouping, assignment and claims until restored.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RuleBase(models.Model):
    """What every pool rule has: a name, an order (1 runs first), enabled, and which customers it takes:
    a condition tree or custom SQL, plus include-tags (has any of) and exclude-tags (has none of)."""

    name = models.CharField(_("name"), max_length=100)
    order = models.IntegerField(_("order"), default=1, help_text=_("1 runs first."))
    enabled = models.BooleanField(_("enabled"), default=True)
    query = models.JSONField(_("condition tree"), null=True, blank=True)
    rows = models.JSONField(_("condition rows"), null=True, blank=True)  # as written on the page, to reload
    sql = models.TextField(_("custom SQL"), blank=True)
    include_tags = models.JSONField(_("include tags"), default=list, blank=True)
    exclude_tags = models.JSONField(_("exclude tags"), default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["order", "id"]

    def __str__(self):
        return self.name


class GroupRule(RuleBase):
    """分组规则: move (or add) matching customers from a source (company public sea or a group) to a target
    (a group, or the company public sea)."""

    source_group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+", verbose_name=_("source"),
                                     help_text=_("Empty: the company public sea."))
    target_group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+", verbose_name=_("target"),
                                     help_text=_("Empty: the company public sea."))
    break_relations = models.BooleanField(
        _("break existing relations"), default=False,
        help_text=_("Yes: the customer leaves the source group and its salesperson. No: the target group is added."))

    class Meta(RuleBase.Meta):
        verbose_name = _("group rule")
        verbose_name_plural = _("group rules")


class AssignmentRule(RuleBase):
    """分配规则 of a group: its matching group-public-sea customers are shared out among the chosen
    salespeople (none chosen: all the group's salespeople), evenly by quality."""

    group = models.ForeignKey("customers.CustomerGroup", on_delete=models.CASCADE, related_name="assignment_rules",
                              verbose_name=_("group"))
    salespeople = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                         verbose_name=_("salespeople"), help_text=_("None chosen: every salesperson of the group."))

    class Meta(RuleBase.Meta):
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")


class RecycleKind(models.TextChoices):
    NO_FOLLOW_UP = "no_follow_up", _("No follow-up")
    NO_EFFECTIVE_FOLLOW_UP = "no_effective_follow_up", _("No effective follow-up")


class RecycleTarget(models.TextChoices):
    GROUP_SEA = "group_sea", _("Group public sea")
    COMPANY_SEA = "company_sea", _("Company public sea")


class RecycleRule(RuleBase):
    """回收规则 of a group: a salesperson's customer with no (effective) follow-up within ``days`` of its
    assignment goes back to the group public sea (or the company public sea); a warning reaches the
    salesperson ``warn_days`` before; the previous owner cannot have it again for ``cooldown_days``."""

    group = models.ForeignKey("customers.CustomerGroup", on_delete=models.CASCADE, related_name="recycle_rules",
                              verbose_name=_("group"))
    kind = models.CharField(_("recycle when"), max_length=32, choices=RecycleKind.choices,
                            default=RecycleKind.NO_FOLLOW_UP)
    days = models.PositiveIntegerField(_("days"), default=7)
    warn_days = models.PositiveIntegerField(_("warn days before"), null=True, blank=True)
    cooldown_days = models.PositiveIntegerField(_("previous owner cooldown (days)"), null=True, blank=True)
    exempt_types = models.JSONField(_("exempt customer types"), default=list, blank=True,
                                    help_text=_("Customers of these types are never recycled, e.g. closed deals."))
    target = models.CharField(_("send to"), max_length=16, choices=RecycleTarget.choices,
                              default=RecycleTarget.GROUP_SEA)

    class Meta(RuleBase.Meta):
        verbose_name = _("recycle rule")
        verbose_name_plural = _("recycle rules")


# -- logs ---------------------------------------------------------------------------------------------------
class GroupLog(models.Model):
    """分组日志: a customer entered or left a group (``to_group`` None: back to the company public sea)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="+", verbose_name=_("customer"), db_index=False)
    from_group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL,
                                   db_constraint=False, related_name="+", verbose_name=_("from group"), db_index=False)
    to_group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL,
                                 db_constraint=False, related_name="+", verbose_name=_("to group"), db_index=False)
    auto = models.BooleanField(_("automatic"), default=False)
    rule = models.ForeignKey(GroupRule, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False,
                             related_name="+", verbose_name=_("rule"), db_index=False)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("operator"), db_index=False)
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("group log entry")
        verbose_name_plural = _("group log")
        indexes = [models.Index(fields=["-at", "-id"], name="grouplog_at_idx"),
                   models.Index(fields=["customer", "-at"], name="grouplog_customer_idx")]


class AssignmentKind(models.TextChoices):
    ASSIGN = "assign", _("Assigned")
    CLAIM = "claim", _("Claimed")
    REQUEST = "request", _("Requested")  # 领取任务: the group gave the salesperson a batch on request
    TRANSFER = "transfer", _("Transferred")
    RECYCLE = "recycle", _("Recycled")
    RETURN_GROUP_SEA = "return_group_sea", _("Returned to the group public sea")
    RETURN_COMPANY_SEA = "return_company_sea", _("Returned to the company public sea")
    RECYCLE_BIN = "recycle_bin", _("Put in the recycle bin")
    RESTORE = "restore", _("Restored from the recycle bin")


class AssignmentLog(models.Model):
    """分配日志: a customer's salesperson in a group changed (or the customer left the seas)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="+", verbose_name=_("customer"), db_index=False)
    group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL,
                              db_constraint=False, related_name="+", verbose_name=_("group"), db_index=False)
    salesperson = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    db_constraint=False, related_name="+", verbose_name=_("salesperson"), db_index=False)
    previous_salesperson = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                             on_delete=models.SET_NULL, db_constraint=False, related_name="+",
                                             verbose_name=_("previous salesperson"), db_index=False)
    kind = models.CharField(_("kind"), max_length=24, choices=AssignmentKind.choices)
    auto = models.BooleanField(_("automatic"), default=False)
    rule_id = models.IntegerField(_("rule"), null=True, blank=True)  # an assignment or recycle rule, by kind
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("operator"), db_index=False,
                                 db_constraint=False)
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("assignment log entry")
        verbose_name_plural = _("assignment log")
        indexes = [models.Index(fields=["-at", "-id"], name="assignlog_at_idx"),
                   models.Index(fields=["customer", "-at"], name="assignlog_customer_idx"),
                   # the daily claim and request limits (salesperson = …): entries without a salesperson (recycling,
                   # returns) stay out of it
                   models.Index(fields=["salesperson", "kind", "at"], name="assignlog_claims_idx",
                                condition=models.Q(salesperson__isnull=False))]


class RecycleRecord(models.Model):
    """回收历史: a customer taken back from a salesperson by a recycle rule."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="+", verbose_name=_("customer"), db_index=False)
    group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL,
                              db_constraint=False, related_name="+", verbose_name=_("group"), db_index=False)
    salesperson = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    db_constraint=False, related_name="+", verbose_name=_("salesperson"), db_index=False)
    rule = models.ForeignKey(RecycleRule, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False,
                             related_name="+", verbose_name=_("rule"), db_index=False)
    target = models.CharField(_("sent to"), max_length=16, choices=RecycleTarget.choices,
                              default=RecycleTarget.GROUP_SEA)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    last_follow_up_at = models.DateTimeField(_("last follow-up"), null=True, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("recycle record")
        verbose_name_plural = _("recycle history")
        indexes = [models.Index(fields=["-at", "-id"], name="recycle_at_idx"),
                   models.Index(fields=["customer", "-at"], name="recycle_customer_idx")]


class Transfer(models.Model):
    """转移记录: customers moved from one salesperson to another (e.g. someone leaving), with a reason."""

    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("from salesperson"))
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("to salesperson"))
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    customer_count = models.PositiveIntegerField(_("customers"), default=0)
    all_customers = models.BooleanField(_("all customers"), default=False)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("operator"))
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("transfer record")
        verbose_name_plural = _("transfer records")


class Cooldown(models.Model):
    """The previous owner of a recycled customer may not claim or be given it in this group until ``until``.

    Written only by recycle runs, 100,000s at a time: no declared foreign keys (each row cost three deferred
    checks at commit; Django still deletes the cooldowns of a deleted customer, group or user), and no
    single-column customer and group indexes (the unique constraint and cooldown_group_idx lead with them)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+",
                                 db_constraint=False, db_index=False)
    group = models.ForeignKey("customers.CustomerGroup", on_delete=models.CASCADE, related_name="+",
                              db_constraint=False, db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    until = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "group", "user"], name="cooldown_unique")]
        indexes = [models.Index(fields=["group", "until"], name="cooldown_group_idx")]
