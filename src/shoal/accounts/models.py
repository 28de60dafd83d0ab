from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A node of the multi-level department tree (组织管理)."""

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children", verbose_name=_("parent department"))
    enabled = models.BooleanField(_("enabled"), default=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="department_unique_name_in_parent"),
        ]

    def __str__(self):
        return self.path_name()

    def ancestors(self) -> list[Department]:
        chain, node, seen = [], self.parent, set()
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            chain.append(node)
            node = node.parent
        return list(reversed(chain))

    def path_name(self) -> str:
        return " / ".join([d.name for d in self.ancestors()] + [self.name])

    def descendant_ids(self) -> set[int]:
        """This department and every department below it (one query per level)."""
        ids, frontier = {self.pk}, [self.pk]
        while frontier:
            frontier = list(Department.objects.filter(parent_id__in=frontier).exclude(pk__in=ids)
                            .values_list("pk", flat=True))
            ids.update(frontier)
        return ids


class DataScope(models.TextChoices):
    OWN = "own", _("Own customers")
    GROUPS = "groups", _("Customers of the groups I manage")
    DEPARTMENTS = "departments", _("My departments' customers")
    ALL = "all", _("All customers")


DATA_SCOPE_RANK = {DataScope.OWN: 0, DataScope.GROUPS: 1, DataScope.DEPARTMENTS: 2, DataScope.ALL: 3}


class Role(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    permissions = models.JSONField(_("permissions"), default=list, blank=True,
                                   help_text=_("Menu and button permission codes granted by this role."))
    data_scope = models.CharField(_("data scope"), max_length=16, choices=DataScope.choices, default=DataScope.OWN)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self):
        return f"{self.name} [{self.code}]"


class Gender(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class MaskingPolicy(models.TextChoices):
    """The five levels of product §1 (脱敏设置)."""

    MASK_ALL = "mask_all", _("Mask all customers")
    EXCEPT_PRIVATE = "except_private", _("Mask, except my private customers")
    EXCEPT_ASSIGNED = "except_assigned", _("Mask, except customers assigned to me")
    EXCEPT_GROUPS = "except_groups", _("Mask, except my groups' customers")
    NONE = "none", _("No masking")


class ShoalUserManager(UserManager):
    pass


class User(AbstractUser):
    """A Shoal user. ``username`` is the unique account; ``is_active`` is enabled/disabled."""

    name = models.CharField(_("name"), max_length=100, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True, default="")
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    departments = models.ManyToManyField(Department, blank=True, related_name="users", verbose_name=_("departments"))
    roles = models.ManyToManyField(Role, blank=True, related_name="users", verbose_name=_("roles"))
    masking_policy = models.CharField(_("masking policy"), max_length=20, choices=MaskingPolicy.choices,
                                      default=MaskingPolicy.MASK_ALL)
    must_change_password = models.BooleanField(_("must change password"), default=False)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True)

    objects = ShoalUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return f"{self.name or self.username} ({self.username})"

    # -- permissions ---------------------------------------------------------------------------
    def shoal_permissions(self) -> frozenset[str]:
        """The union of the permission codes of the user's roles (cached on the instance)."""
        cached = getattr(self, "_shoal_perm_cache", None)
        if cached is not None:
            return cached
        from shoal.core.permissions import all_permission_codes

        if not self.is_active:
            perms = frozenset()
        elif self.is_superuser:
            perms = frozenset(all_permission_codes())
        else:
            perms = set()
            for codes in self.roles.values_list("permissions", flat=True):
                perms.update(codes or [])
            perms = frozenset(perms)
        self._shoal_perm_cache = perms
        return perms

    def has_shoal_perm(self, code: str) -> bool:
        return code in self.shoal_permissions()

    def data_scope(self) -> str:
        """The broadest data scope among the user's roles."""
        if self.is_superuser:
            return DataScope.ALL
        scopes = list(self.roles.values_list("data_scope", flat=True))
        if not scopes:
            return DataScope.OWN
        return max(scopes, key=lambda s: DATA_SCOPE_RANK.get(s, 0))


def _hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Application(models.Model):
    """A business system that pushes data in (应用管理). Its key is shown once, stored hashed."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    key_prefix = models.CharField(_("key prefix"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    # Where the application may call from: CIDRs (one per line or comma separated); empty = anywhere.
    ip_allow_list = models.TextField(_("IP allow list"), blank=True, default="",
                                     help_text=_("Networks the application may call from, in CIDR notation "
                                                 "(e.g. 10.0.0.0/8, 203.0.113.7), one per line; empty = any address."))
    # A publishable, write-only key for the page-side snippet: it may only send the chosen event types,
    # from the chosen origins (CORS). It is public by design (it sits in a web page), so it is stored as is.
    publishable_key = models.CharField(_("publishable key"), max_length=64, unique=True, null=True, blank=True,
                                       editable=False)
    publishable_event_types = models.JSONField(_("event types the publishable key may send"), default=list,
                                               blank=True)
    publishable_origins = models.JSONField(_("origins the publishable key may send from"), default=list,
                                           blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def __str__(self):
        return self.name

    def set_new_key(self) -> str:
        raw = "sha_" + secrets.token_urlsafe(32)
        self.key_prefix = raw[:12]
        self.key_hash = _hash_key(raw)
        return raw

    @classmethod
    def from_key(cls, raw: str) -> Application | None:
        if not raw:
            return None
        return cls.objects.filter(key_hash=_hash_key(raw.strip()), enabled=True).first()

    @classmethod
    def for_key(cls, raw: str) -> Application | None:
        """The application of a secret key, enabled or not (the event endpoints record a disabled
        application's refused events)."""
        if not raw:
            return None
        return cls.objects.filter(key_hash=_hash_key(raw.strip())).first()

    @classmethod
    def for_publishable_key(cls, raw: str) -> Application | None:
        if not raw or not isinstance(raw, str) or not raw.startswith(PUBLISHABLE_PREFIX):
            return None
        return cls.objects.filter(publishable_key=raw.strip()).first()

    def set_new_publishable_key(self) -> str:
        self.publishable_key = PUBLISHABLE_PREFIX + secrets.token_urlsafe(24)
        return self.publishable_key

    def ip_networks(self) -> list:
        return parse_networks(self.ip_allow_list)

    def allows_ip(self, ip: str | None) -> bool:
        """True when the allow list is empty or ``ip`` lies in one of its networks."""
        networks = self.ip_networks()
        if not networks:
            return True
        if not ip:
            return False
        import ipaddress

        try:
            address = ipaddress.ip_address(ip.split("%")[0])
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == net.version and address in net for net in networks)

    def allows_origin(self, origin: str | None) -> bool:
        return bool(origin) and normalise_origin(origin) in {normalise_origin(o) for o in self.publishable_origins or []}


PUBLISHABLE_PREFIX = "shp_"


def split_networks(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace(",", "\n").replace(";", "\n").splitlines() if part.strip()]


def parse_networks(text: str) -> list:
    """The CIDRs of an allow list (invalid entries are refused when saved; here they are skipped)."""
    import ipaddress

    networks = []
    for part in split_networks(text):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            continue
    return networks


def normalise_origin(origin: str) -> str:
    """``https://Shop.Example.com/`` → ``https://shop.example.com`` (scheme://host[:port], lower case)."""
    return (origin or "").strip().rstrip("/").lower()


class ApiToken(models.Model):
    """A personal API token (``Authorization: Bearer …``), stored hashed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    key_prefix = models.CharField(_("key prefix"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.key_prefix}… ({self.user})"

    @classmethod
    def issue(cls, user, name: str = "") -> tuple[ApiToken, str]:
        raw = "sht_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_prefix=raw[:12], key_hash=_hash_key(raw))
        return token, raw

    @classmethod
    def user_for(cls, raw: str):
        if not raw:
            return None
        from django.utils import timezone

        token = cls.objects.select_related("user").filter(key_hash=_hash_key(raw.strip())).first()
        if token is None or not token.user.is_active:
            return None
        cls.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user


# Why a login failed: stored as a code, shown in words.
LOGIN_FAILURE_REASONS = {
    "bad password": _("wrong password"),
    "unknown account": _("unknown account"),
    "disabled": _("account disabled"),
    "locked out": _("locked after repeated failures"),
}


class LoginLog(models.Model):
    username = models.CharField(_("account"), max_length=150, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("user"))
    success = models.BooleanField(_("success"))
    reason = models.CharField(_("reason"), max_length=100, blank=True)

    @property
    def reason_label(self) -> str:
        return str(LOGIN_FAILURE_REASONS.get(self.reason, self.reason))
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("login log")
        verbose_name_plural = _("login log")

    def __str__(self):
        return f"{self.username} {'ok' if self.success else 'failed'}"
