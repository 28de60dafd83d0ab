"""Customer profiles: customers, custom field definitions, enums, ownership (groups), companies,
contacts and the timeline (成长记录)."""

from __future__ import annotations

import os
import uuid

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    UNPAID = "unpaid", _("Unpaid")
    BANNED = "banned", _("Banned")


class CustomerGender(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    LONG_TEXT = "long_text", _("Long text")
    INTEGER = "integer", _("Integer")
    DECIMAL = "decimal", _("Decimal")
    MONEY = "money", _("Money")
    DATE = "date", _("Date")
    DATETIME = "datetime", _("Date and time")
    BOOLEAN = "boolean", _("Yes / no")
    ENUM = "enum", _("Single choice (enum)")
    MULTI_ENUM = "multi_enum", _("Multiple choice (enum)")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    URL = "url", _("URL")


class EnumGroup(models.Model):
    """A list of options (枚举) that enum fields and configurable standard fields draw from."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("enum")
        verbose_name_plural = _("enums")

    def __str__(self):
        return f"{self.name} [{self.code}]"


class EnumItem(models.Model):
    group = models.ForeignKey(EnumGroup, on_delete=models.CASCADE, related_name="items", verbose_name=_("enum"))
    code = models.CharField(_("code"), max_length=64)
    label = models.CharField(_("label"), max_length=100)
    order = models.IntegerField(_("order"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["group_id", "order", "id"]
        verbose_name = _("enum item")
        verbose_name_plural = _("enum items")
        constraints = [models.UniqueConstraint(fields=["group", "code"], name="enumitem_unique_code_in_group")]

    def __str__(self):
        return f"{self.label} ({self.code})"


class CustomField(models.Model):
    """A custom field (定制字段) defined at run time; values live in ``Customer.attributes[key]``."""

    key = models.CharField(_("key"), max_length=64, unique=True)
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(_("type"), max_length=16, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(_("required"), default=False)
    default = models.JSONField(_("default"), null=True, blank=True)
    enum_group = models.ForeignKey(EnumGroup, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="fields", verbose_name=_("enum"))
    show_in_filter = models.BooleanField(_("show in filter"), default=False)
    show_in_list = models.BooleanField(_("show in list"), default=False)
    show_in_form = models.BooleanField(_("show in edit form"), default=True,
                                       help_text=_("Whether the create/edit form of a customer has this field."))
    order = models.IntegerField(_("order"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")

    def __str__(self):
        return f"{self.label} [{self.key}]"


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200, db_index=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    website = models.URLField(_("website"), max_length=500, blank=True)
    country = models.CharField(_("country"), max_length=64, blank=True)
    province = models.CharField(_("province"), max_length=64, blank=True)
    city = models.CharField(_("city"), max_length=64, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")

    def __str__(self):
        return self.name


class AttributesField(models.JSONField):
    """The custom-field values. Key lookups spell the key in the SQL on SQLite, so the
    expression indexes of filter fields (``indexes.py``) can serve them."""

    def get_transform(self, name):
        from .jsonkeys import IndexableKeyTransformFactory

        transform = super(models.JSONField, self).get_transform(name)
        return transform or IndexableKeyTransformFactory(name)


class Customer(models.Model):
    name = models.CharField(_("name"), max_length=100, blank=True)
    # mobile, email and ent_user_id are unique through the partial unique indexes in Meta.constraints (not
    # ``unique=True``): plain indexes a bulk load can drop and rebuild (SQLite cannot drop the index of a
    # column UNIQUE), without the varchar_pattern_ops twins PostgreSQL adds for unique=True, and without
    # entries for the NULLs.
    mobile = models.CharField(_("mobile"), max_length=32, null=True, blank=True,
                              help_text=_("Stored in E.164 form, e.g. +8613800138000."))
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.CharField(_("email"), max_length=254, null=True, blank=True)
    ent_user_id = models.CharField(_("external id"), max_length=128, null=True, blank=True,
                                   help_text=_("The customer's id in the business system."))
    gender = models.CharField(_("gender"), max_length=8, choices=CustomerGender.choices, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    qq = models.CharField(_("QQ"), max_length=32, blank=True)
    wechat = models.CharField(_("WeChat"), max_length=64, blank=True)
    telegram = models.CharField(_("Telegram username"), max_length=64, blank=True)
    avatar_url = models.URLField(_("avatar URL"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=64, blank=True)
    customer_type = models.CharField(_("customer type"), max_length=64, blank=True)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=CustomerStatus.choices,
                              default=CustomerStatus.ACTIVE)
    notes = models.TextField(_("notes"), blank=True)
    attributes = AttributesField(_("custom fields"), default=dict, blank=True)
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="customers", verbose_name=_("company"))
    in_recycle_bin = models.BooleanField(_("in recycle bin"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True,
                                         help_text=_("Registration time in the business system."))
    # member-get-member: the customer who invited this one (assignment gives it to the inviter's salesperson)
    invited_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="invitees",
                                   verbose_name=_("invited by"))
    # kept by every follow-up record (sales app)
    last_follow_up_at = models.DateTimeField(_("last follow-up"), null=True, blank=True)
    follow_up_count = models.PositiveIntegerField(_("follow-ups"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="customer_created_idx"),
            models.Index(fields=["name"], name="customer_name_idx"),
            models.Index(fields=["status", "-created_at"], name="customer_status_idx"),
            models.Index(fields=["source"], name="customer_source_idx"),
            models.Index(fields=["updated_at"], name="customer_updated_idx"),  # incremental tag refresh
            # telegram: case-insensitive indexes made by migration 0008 (SQLite: COLLATE NOCASE, which its
            # LIKE uses; PostgreSQL: UPPER(telegram), migration 0004), not expressible for both here
        ]
        constraints = [
            models.UniqueConstraint(fields=[name], condition=models.Q(**{f"{name}__isnull": False}),
                                    name=f"customer_{name}_uniq", violation_error_message=message)
            for name, message in (("mobile", _("A customer with this mobile already exists.")),
                                  ("email", _("A customer with this email already exists.")),
                                  ("ent_user_id", _("A customer with this external id already exists.")))
        ]

    def __str__(self):
        return self.name or f"#{self.pk}"

    # The quality score: the sum of the scores of the customer's current tags, kept by the tags app in
    # CustomerQuality (no row: 0). Querysets that show, filter or sort by it annotate it
    # (``customers.quality.with_quality``); an instance without the annotation reads it on access.
    @property
    def quality_score(self) -> int:
        value = self.__dict__.get("_quality_score")
        if value is None:
            if self.pk is None:
                return 0
            return CustomerQuality.objects.filter(customer_id=self.pk).values_list("score", flat=True).first() or 0
        return value

    @quality_score.setter
    def quality_score(self, value) -> None:
        self.__dict__["_quality_score"] = value

    def refresh_from_db(self, *args, **kwargs):
        self.__dict__.pop("_quality_score", None)
        super().refresh_from_db(*args, **kwargs)


class CustomerQuality(models.Model):
    """A customer's quality score, in a narrow table of its own rather than a column of the customers: the tags app
    writes it for every customer whose tags change (a million at a first full refresh), and on PostgreSQL an update
    of a customers row writes all of its ~19 indexes (measured ~100 µs a customer: minutes at 1M; here ~5 µs a row
    by upsert, a COPY on a first pass). No row: 0. No database foreign key (checked row by row at commit); the ORM
    deletes the row with its customer."""

    customer = models.OneToOneField(Customer, primary_key=True, on_delete=models.CASCADE, related_name="quality",
                                    db_constraint=False, verbose_name=_("customer"))
    score = models.IntegerField(_("quality score"), default=0)

    class Meta:
        verbose_name = _("quality score")
        verbose_name_plural = _("quality scores")
        # a list sorted by score walks it from either end (customers.quality.score_page_ids)
        indexes = [models.Index(fields=["score", "customer"], name="customer_quality_score_idx")]

    def __str__(self):
        return f"{self.customer_id}: {self.score}"


class CustomerGroup(models.Model):
    """A customer group (客户组): admins see all of its customers, salespeople their own."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    admins = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="administered_customer_groups",
                                    verbose_name=_("group admins"))
    salespeople = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="customer_groups",
                                         verbose_name=_("salespeople"))
    description = models.CharField(_("description"), max_length=255, blank=True)
    # private-sea capacity per salesperson (None: no limit) and customers a salesperson may claim a day
    capacity = models.PositiveIntegerField(_("private-sea capacity"), null=True, blank=True,
                                           help_text=_("Customers one salesperson may hold in this group. Empty: no limit."))
    daily_claim_limit = models.PositiveIntegerField(_("daily claim limit"), null=True, blank=True,
                                                    help_text=_("Customers one salesperson may claim a day. Empty: no limit."))
    public_sea_visible = models.BooleanField(_("salespeople see the group public sea"), default=True)
    # request-task settings (领取任务): may a salesperson with no open follow-up task ask for more
    request_tasks = models.BooleanField(_("salespeople may request customers"), default=False)
    request_times_per_day = models.PositiveIntegerField(_("requests a day"), default=1)
    request_size = models.PositiveIntegerField(_("customers per request"), default=10)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("customer group")
        verbose_name_plural = _("customer groups")

    def __str__(self):
        return self.name


class CustomerGroupMembership(models.Model):
    """A customer in a group; with a salesperson it is in that salesperson's private sea (私海)."""

    # No declared database foreign keys (Django's on_delete still removes a deleted customer's or group's
    # memberships and clears a deleted user's): a rule run writes 100,000s of them, and the deferred checks
    # at commit were a sixth of a run on PostgreSQL. No single-column indexes: the composite ones lead with
    # each column (membership_unique, membership_group_cust_idx, membership_sales_idx).
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships",
                                 db_constraint=False, db_index=False)
    group = models.ForeignKey(CustomerGroup, on_delete=models.CASCADE, related_name="memberships",
                              db_constraint=False, db_index=False)
    salesperson = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="customer_memberships", verbose_name=_("salesperson"),
                                    db_constraint=False, db_index=False)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # follow-ups by the current salesperson since ``assigned_at`` (reset on every assignment): recycle rules
    last_follow_up_at = models.DateTimeField(_("last follow-up"), null=True, blank=True)
    last_effective_follow_up_at = models.DateTimeField(_("last effective follow-up"), null=True, blank=True)
    warned_at = models.DateTimeField(_("recycle warning sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("group membership")
        verbose_name_plural = _("group memberships")
        constraints = [models.UniqueConstraint(fields=["customer", "group"], name="membership_unique")]
        # Data scope (customers.selectors.scope_memberships): each index covers the scope's reads, so they
        # are answered from the index alone: salesperson -> customers; group (+ salesperson NULL) -> customers;
        # a customer -> its (group, salesperson) pairs (the EXISTS probe of a list walked in created order).
        indexes = [models.Index(fields=["salesperson", "customer"], name="membership_sales_idx"),
                   models.Index(fields=["group", "salesperson", "customer"], name="membership_group_cust_idx"),
                   models.Index(fields=["customer", "group", "salesperson"], name="membership_customer_idx")]

    def __str__(self):
        return f"{self.customer_id} in {self.group_id}"


class Contact(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    relation = models.CharField(_("relation"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    notes = models.CharField(_("notes"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self):
        return self.name


class TimelineKind(models.TextChoices):
    CREATED = "created", _("Created")
    CHANGED = "changed", _("Attribute changed")
    MERGED = "merged", _("Merged")
    STATUS = "status", _("Status changed")
    RECYCLE = "recycle", _("Recycle bin")
    GROUP = "group", _("Group / assignment")
    TAG = "tag", _("Tag")
    FOLLOW_UP = "follow_up", _("Follow-up")
    EVENT = "event", _("Event")
    IMPORT = "import", _("Import")
    MESSAGE = "message", _("Message")
    ATTACHMENT = "attachment", _("Attachment")


class TimelineEntry(models.Model):
    """One line of a customer's timeline (成长记录)."""

    # no declared database foreign keys (Django's on_delete still applies): the pool runs write an entry per
    # customer moved, and their deferred checks at commit were part of a run's time on PostgreSQL
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="timeline", db_constraint=False,
                                 db_index=False)  # timeline_customer_idx (customer, -created_at) serves it
    kind = models.CharField(_("kind"), max_length=16, choices=TimelineKind.choices)
    field = models.CharField(_("field"), max_length=64, blank=True)
    old = models.JSONField(_("old value"), null=True, blank=True)
    new = models.JSONField(_("new value"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("actor"), db_constraint=False,
                              db_index=False)  # timeline_actor_idx: entries with an actor only
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")
        indexes = [models.Index(fields=["customer", "-created_at"], name="timeline_customer_idx"),
                   # read only when a user is deleted (their entries' actor cleared): the entries of rule runs
                   # and imports (no actor, 100,000s a run) stay out of it
                   models.Index(fields=["actor"], name="timeline_actor_idx", condition=models.Q(actor__isnull=False))]

    def __str__(self):
        return f"{self.customer_id} {self.kind} {self.field}"


# -- detail page: configured tabs, attachments, list preferences -------------------------------------
class DetailTab(models.Model):
    """An admin-configured tab of the customer detail page (客户详情TABS) that embeds a URL.

    The URL may contain ``${id}`` and ``${ent_user_id}``; they are replaced by the customer's values,
    URL-encoded. Only http(s) URLs are accepted.
    """

    name = models.CharField(_("name"), max_length=50)
    url = models.CharField(_("URL"), max_length=1000,
                           help_text=_("An http(s) URL; ${id} and ${ent_user_id} are replaced by the customer's "
                                       "values, e.g. https://example.com/orders?user=${ent_user_id}"))
    order = models.IntegerField(_("display order"), default=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("customer detail tab")
        verbose_name_plural = _("customer detail tabs")

    def __str__(self):
        return self.name


class AttachmentStorage(FileSystemStorage):
    """Attachments live outside MEDIA_ROOT (which any signed-in user can read): only the download
    view, which checks the data scope, serves them. The folder is read from the settings on each use
    (``SHOAL_ATTACHMENTS_ROOT``, else ``<data dir>/attachments``)."""

    @property
    def base_location(self):
        return str(getattr(settings, "SHOAL_ATTACHMENTS_ROOT", None) or os.path.join(settings.DATA_DIR, "attachments"))

    @property
    def location(self):
        return os.path.abspath(self.base_location)


def attachment_storage():
    return AttachmentStorage()


def attachment_path(instance, filename):
    ext = os.path.splitext(filename)[1].lower()[:16]
    if not ext[1:].isalnum():
        ext = ""
    return f"{instance.customer_id}/{uuid.uuid4().hex}{ext}"


class Attachment(models.Model):
    """A file of a customer (附件库)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="attachments",
                                 verbose_name=_("customer"))
    file = models.FileField(_("file"), upload_to=attachment_path, storage=attachment_storage, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.BigIntegerField(_("size (bytes)"), default=0)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [models.Index(fields=["customer", "-uploaded_at"], name="attachment_customer_idx")]

    def __str__(self):
        return self.original_name


class CustomerListPreference(models.Model):
    """A user's choice and order of the customer list columns."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="customer_list_preference")
    columns = models.JSONField(_("columns"), default=list, blank=True)
    known = models.JSONField(_("columns offered"), default=list, blank=True,
                             help_text=_("The columns offered when the choice was saved; newer ones are shown."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer list preference")
        verbose_name_plural = _("customer list preferences")

    def __str__(self):
        return f"{self.user_id}: {', '.join(self.columns)}"
