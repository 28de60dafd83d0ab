from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ParameterValue(models.Model):
    """A stored value of a registered parameter (see ``shoal.core.parameters``)."""

    code = models.CharField(_("code"), max_length=100, unique=True)
    value = models.JSONField(_("value"), null=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("parameter")
        verbose_name_plural = _("parameters")

    def __str__(self):
        return self.code


class OperationLog(models.Model):
    """Who did what to which object. Written by services through ``log_operation``."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("actor"))
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("operation log")
        verbose_name_plural = _("operation log")

    def __str__(self):
        return f"{self.actor_name} {self.action} {self.object_type}:{self.object_id}"


class WorkbenchLayout(models.Model):
    """The boards of the workbench (工作台) and their order: a user's own choice, or the default of a role that
    the admin set (工作台模块管理). Board codes are those registered in ``shoal.core.workbench``; a code no longer
    registered, or a board the user may not see, is skipped when the workbench is shown."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+", verbose_name=_("user"))
    role = models.OneToOneField("accounts.Role", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+", verbose_name=_("role"))
    boards = models.JSONField(_("boards"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("workbench layout")
        verbose_name_plural = _("workbench layouts")
        constraints = [models.CheckConstraint(
            condition=(models.Q(user__isnull=False, role__isnull=True) | models.Q(user__isnull=True, role__isnull=False)),
            name="workbench_layout_one_owner")]

    def __str__(self):
        return f"{'user' if self.user_id else 'role'} {self.user_id or self.role_id}: {', '.join(self.boards)}"
