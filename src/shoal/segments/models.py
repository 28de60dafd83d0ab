from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SavedQuery(models.Model):
    """A saved query scheme (查询方案): a condition tree or custom SQL, personal or shared."""

    name = models.CharField(_("name"), max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queries",
                              verbose_name=_("owner"))
    query = models.JSONField(_("condition tree"), null=True, blank=True)
    rows = models.JSONField(_("condition rows"), null=True, blank=True)  # as written on the page, to reload
    sql = models.TextField(_("custom SQL"), blank=True)
    sort = models.JSONField(_("sort"), default=list, blank=True)
    shared = models.BooleanField(_("shared"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("saved query")
        verbose_name_plural = _("saved queries")
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedquery_unique_name_per_owner")]

    def __str__(self):
        return self.name
