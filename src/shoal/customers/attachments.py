"""Customer attachments (附件库): upload within the size limit, delete; each writes the timeline."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.translation import gettext

from shoal.core import parameters
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation

from .models import Attachment, Customer, TimelineEntry, TimelineKind
from .services import customer_merging, timeline_entry


def max_mb() -> int:
    return int(parameters.get("ATTACHMENT_MAX_FILE_MB"))


def attachment_upload(*, actor, customer: Customer, upload) -> Attachment:
    """Store ``upload`` (a Django UploadedFile) for ``customer``; refused (nothing stored) when it is
    larger than ATTACHMENT_MAX_FILE_MB."""
    limit_mb = max_mb()
    if upload is None:
        raise ShoalError("invalid_value", gettext("Choose a file to upload"), {"field": "file"})
    if upload.size > limit_mb * 1024 * 1024:
        raise ShoalError("file_too_large", gettext("The file is larger than the limit of %(limit)s MB") % {"limit": limit_mb},
                         {"field": "file", "max_mb": limit_mb, "size": upload.size}, status=413)
    name = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:255] or "file"
    attachment = Attachment(customer=customer, original_name=name, size=upload.size,
                            content_type=(getattr(upload, "content_type", "") or "")[:100],
                            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None)
    attachment.file.save(name, upload, save=False)
    try:
        with transaction.atomic():
            attachment.save()
            timeline_entry(customer, TimelineKind.ATTACHMENT, actor=actor, field_name="attachment", new=name,
                           detail={"action": "upload", "size": upload.size, "attachment_id": attachment.pk}).save()
    except Exception:
        attachment.file.storage.delete(attachment.file.name)
        raise
    log_operation(actor=actor, action="customer.attachment.upload", obj=customer,
                  detail={"attachment_id": attachment.pk, "name": name, "size": upload.size})
    return attachment


def attachment_delete(*, actor, attachment: Attachment) -> None:
    customer = attachment.customer
    name = attachment.original_name
    with transaction.atomic():
        TimelineEntry.objects.bulk_create([timeline_entry(customer, TimelineKind.ATTACHMENT, actor=actor,
                                                          field_name="attachment", old=name,
                                                          detail={"action": "delete", "attachment_id": attachment.pk})])
        attachment.delete()
    log_operation(actor=actor, action="customer.attachment.delete", obj=customer, detail={"name": name})


@receiver(post_delete, sender=Attachment)
def _remove_file(sender, instance: Attachment, **kwargs):
    """The stored file goes with its row (also when the customer is deleted), once committed."""
    storage, name = instance.file.storage, instance.file.name
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@receiver(customer_merging)
def _move_attachments(sender=None, *, keep, other, actor=None, **kwargs):
    Attachment.objects.filter(customer=other).update(customer=keep)
