"""Customer imports (客户导入): one ImportRun per uploaded file, its options, progress and summary counts."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

COUNT_KEYS = ("rows", "empty", "invalid", "duplicate", "created", "updated", "unchanged")


class ImportStatus(models.TextChoices):
    DRAFT = "draft", _("Not started")  # uploaded, being previewed and mapped
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class ImportMode(models.TextChoices):
    NORMAL = "normal", _("Normal mode")
    FAST = "fast", _("Fast mode")


class ImportRun(models.Model):
    """One import of one file. Batches commit with ``rows_done`` and ``counts``, so a run whose worker died
    resumes after its last committed batch and ends with the same counts."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("user"))
    source = models.CharField(_("started from"), max_length=8, default="page")  # page | api | cli
    file_name = models.CharField(_("file"), max_length=255)  # as uploaded
    stored_name = models.CharField(max_length=255, blank=True)  # under SHOAL_DATA_DIR/imports/
    size = models.BigIntegerField(_("size (bytes)"), default=0)
    kind = models.CharField(_("format"), max_length=8, blank=True)  # csv | xlsx | xls
    encoding = models.CharField(_("encoding"), max_length=16, default="auto")  # asked for
    detected_encoding = models.CharField(_("detected encoding"), max_length=16, blank=True)
    mode = models.CharField(_("mode"), max_length=8, choices=ImportMode.choices, default=ImportMode.NORMAL)
    strict = models.BooleanField(_("strict"), default=False)
    dry_run = models.BooleanField(_("dry run"), default=False)
    group = models.ForeignKey("customers.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("target group"))
    tag_ids = models.JSONField(_("tags"), default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), null=True, blank=True)  # {"header": "field key" | ""}
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    error = models.TextField(_("error"), blank=True)
    rows_total = models.IntegerField(_("rows (estimate)"), null=True, blank=True)
    rows_done = models.IntegerField(_("rows done"), default=0)  # the file row of the last committed batch
    progress = models.JSONField(_("progress"), default=dict, blank=True)  # {"done", "total"} for the progress bar
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    errors_name = models.CharField(max_length=255, blank=True)  # the error report, under SHOAL_DATA_DIR/imports/
    errors_count = models.IntegerField(_("rows in the error report"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # a running import's worker is alive
    worker = models.CharField(max_length=64, blank=True)  # the claim of the worker running it (each batch checks it)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    # a bulk load's customer indexes still to build after its rows committed ([name, CREATE statement]…): the
    # run is done once they exist; a worker that died meanwhile leaves them to the recovery (import_execute)
    pending_indexes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("customer import")
        verbose_name_plural = _("customer imports")
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="import_status_idx")]

    def __str__(self):
        return self.file_name

    def summary(self) -> dict:
        return {key: int((self.counts or {}).get(key, 0)) for key in COUNT_KEYS}
