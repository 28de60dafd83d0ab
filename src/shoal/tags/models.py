"""Tags (标签): categories, tags, auto-tag rules, taggings and their history.

A customer's quality score (``Customer.quality_score``) is the sum of the scores of its current tags; every
path that writes taggings or changes a tag's score keeps it equal (``services`` and ``refresh``)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ObjectType(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    PRODUCT = "product", _("Product")
    COMPANY = "company", _("Company")


class TagKind(models.TextChoices):
    AUTO = "auto", _("Auto tag")
    MANUAL = "manual", _("Manual tag")
    PERSONAL = "personal", _("Personal tag")


class TagSource(models.TextChoices):
    RULE = "rule", _("Rule")
    USER = "user", _("User")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    AUTOMATION = "automation", _("Automation")
    EXPIRY = "expiry", _("Expiry")  # history only: a tagging removed because its validity ran out


class TagCategory(models.Model):
    """A node of the category tree (标签分类), one tree per object type."""

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("parent category"))
    object_type = models.CharField(_("object type"), max_length=16, choices=ObjectType.choices,
                                   default=ObjectType.CUSTOMER)
    order = models.IntegerField(_("display order"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["object_type", "order", "name", "id"]
        verbose_name = _("tag category")
        verbose_name_plural = _("tag categories")
        constraints = [
            models.UniqueConstraint(fields=["object_type", "parent", "name"], name="tagcategory_unique_name"),
            models.UniqueConstraint(fields=["object_type", "name"], condition=models.Q(parent__isnull=True),
                                    name="tagcategory_unique_root_name"),
        ]

    def __str__(self):
        return self.name


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=100)
    category = models.ForeignKey(TagCategory, on_delete=models.PROTECT, related_name="tags",
                                 verbose_name=_("category"))
    kind = models.CharField(_("kind"), max_length=16, choices=TagKind.choices, default=TagKind.MANUAL)
    score = models.IntegerField(_("score"), default=0,
                                help_text=_("Added to the quality score of every customer with this tag; may be negative."))
    valid_days = models.PositiveIntegerField(_("validity (days)"), null=True, blank=True,
                                             help_text=_("Natural days; the tag ends at 00:00 after them. Empty: no end."))
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="personal_tags", verbose_name=_("owner"))  # personal tags only
    refresh_on_change = models.BooleanField(_("refresh on change"), default=False,
                                            help_text=_("Re-evaluate a customer's tag as soon as the customer changes."))
    customer_count = models.PositiveIntegerField(_("customers"), default=0)  # kept by every tagging write
    # refresh state (auto tags): the watermark of the last refresh, and whether the next one must be full
    refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)
    needs_full = models.BooleanField(default=True)
    relative = models.BooleanField(default=False)  # a rule compares with today: re-evaluated in full daily
    claim = models.CharField(max_length=36, blank=True)  # the refresh holding the tag, until claimed_until
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["category__order", "category_id", "name", "id"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [
            models.UniqueConstraint(fields=["category", "name"], condition=~models.Q(kind="personal"),
                                    name="tag_unique_name_in_category"),
            models.UniqueConstraint(fields=["category", "owner", "name"], condition=models.Q(kind="personal"),
                                    name="tag_unique_personal_name"),
        ]

    def __str__(self):
        return self.name


class TagRule(models.Model):
    """One rule of an auto tag: a condition tree or custom SQL, plus include-tags (has any of) and
    exclude-tags (has none of). A customer matching any rule of the tag has the tag."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="rules", verbose_name=_("tag"))
    query = models.JSONField(_("condition tree"), null=True, blank=True)
    rows = models.JSONField(_("condition rows"), null=True, blank=True)  # as written on the page, to reload
    sql = models.TextField(_("custom SQL"), blank=True)
    include_tags = models.JSONField(_("include tags"), default=list, blank=True)
    exclude_tags = models.JSONField(_("exclude tags"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["tag_id", "id"]
        verbose_name = _("tag rule")
        verbose_name_plural = _("tag rules")

    def __str__(self):
        return f"{self.tag_id}#{self.pk}"


class Tagging(models.Model):
    """A customer has a tag. One row per (tag, customer): the key is the pair, in that order (a refresh
    reads and writes one tag's customers as a range)."""

    pk = models.CompositePrimaryKey("tag_id", "customer_id")
    # No single-column indexes: the key (tag, customer) and tagging_customer_idx (customer, tag) serve both.
    # No database foreign keys: PostgreSQL checks a deferred key row by row at commit (measured: ~7 s per
    # 550,000 taggings of a refresh range) and SQLite looks both parents up per row. Deleting a customer or a
    # tag deletes its taggings through the ORM (CASCADE below); writes insert only customers that exist; the
    # nightly tags.expire job removes any tagging whose customer went by another way.
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="taggings", db_index=False,
                            db_constraint=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="taggings",
                                 db_index=False, db_constraint=False)
    source = models.CharField(_("source"), max_length=16, choices=TagSource.choices)
    applied_at = models.DateTimeField(_("applied at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    # An add not yet written to the history (a full refresh's bulk adds): the id its history row has (reserved
    # when the tagging was written) and the rule that gave it. The history reads these taggings as its add rows
    # (``selectors.history_feed``); when the tagging goes (any removal, the customer's deletion) its add row is
    # written first (``store.log_adds``), with that id. NULL: the add is in the history table.
    history_id = models.BigIntegerField(null=True, blank=True)
    rule_id = models.IntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("tagging")
        verbose_name_plural = _("taggings")
        indexes = [
            models.Index(fields=["customer", "tag"], name="tagging_customer_idx"),
            models.Index(fields=["expires_at"], name="tagging_expiry_idx", condition=models.Q(expires_at__isnull=False)),
        ]


class TagBulkAdd(models.Model):
    """A full refresh of a tag that wrote adds carried by their taggings (``Tagging.history_id``): the tag and
    the run's time (every such tagging has ``applied_at`` = ``at``). The history finds those adds through these
    few rows (a pass, then the tag's key range) instead of an index over millions of taggings; within a pass
    the reserved ids follow the customer ids, so the key's order is the history's order. A pass whose adds have
    all been logged is removed by the tag's next full refresh."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="bulk_adds")
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tag", "at"], name="tagbulkadd_unique")]


class TagHistory(models.Model):
    """Every add and removal of a tag on a customer (标签历史): source, and the user or the rule, and when.
    No database foreign keys: a log is written in bulk and outlives what it names."""

    ADD, REMOVE = "add", "remove"
    ACTIONS = [(ADD, _("Added")), (REMOVE, _("Removed"))]

    customer = models.ForeignKey("customers.Customer", on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="+", db_index=False)  # the log outlives the customer
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, db_constraint=False, related_name="+", db_index=False)
    action = models.CharField(_("action"), max_length=8, choices=ACTIONS)
    source = models.CharField(_("source"), max_length=16, choices=TagSource.choices)
    rule_id = models.IntegerField(_("rule"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              db_constraint=False, db_index=False, related_name="+", verbose_name=_("actor"))
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("tag history")
        verbose_name_plural = _("tag history")
        # Both tag-first: a refresh appends each tag's rows in customer order, so index writes stay local
        # (a customer-first index would take random writes: 1.7× slower measured). A customer's history is
        # read as one seek per tag: WHERE tag_id IN (…) AND customer_id = ?.
        indexes = [
            models.Index(fields=["tag", "customer", "at"], name="taghistory_customer_idx"),
            models.Index(fields=["tag", "at"], name="taghistory_tag_idx"),
            # the newest first, unfiltered (history page, API): walked backwards, not a sort of millions of rows
            models.Index(fields=["-at", "-id"], name="taghistory_time_idx"),
            # the few expiry rows, which an incremental refresh looks for among millions of rule rows
            models.Index(fields=["tag", "at"], name="taghistory_expiry_idx", condition=models.Q(source="expiry")),
        ]
