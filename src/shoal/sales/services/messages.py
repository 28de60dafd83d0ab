"""In-site messages (站内通知管理): an admin or manager writes a notice to users, roles and departments, with
attachments; saves it as a draft (edits it, sends it later, or schedules it) or sends it at once.

Sending expands the recipients to users in a few statements (a role: its users; a department: its users and
those of every department below it; only enabled users), and writes one :class:`Notification` of kind
``message`` per user with a FK to the message — the bell, the notification list and the API read them like any
other notification, and their read times are the read receipts. The send is claimed by a conditional UPDATE of
the message's status, and each notification has the key ``message:<id>``: a message reaches a user once, even
when a person and the scheduled job send it at the same moment.

Permissions (menu ``sales.messages``): ``view`` the messages (sent ones, and one's own drafts), ``create``
drafts, ``send``. A recipient reads the message (and downloads its attachments) without any permission."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.accounts.models import Department, Role, User
from shoal.core import parameters
from shoal.core.actors import SYSTEM, is_system
from shoal.core.auth import user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.oplog import log_operation

from ..models import Message, MessageAttachment, MessageStatus, Notification
from .follow_ups import _require
from .notifications import KIND_MESSAGE, Notice, notify_many

VIEW, CREATE, SEND = "sales.messages.view", "sales.messages.create", "sales.messages.send"
TITLE_MAX, BODY_MAX, RECIPIENT_IDS_MAX, ATTACHMENTS_MAX = 200, 20_000, 10_000, 20
OPEN = (MessageStatus.DRAFT, MessageStatus.SCHEDULED)


def _actor_id(actor) -> int | None:
    return None if is_system(actor) else getattr(actor, "pk", None)


def _superuser(actor) -> bool:
    return bool(getattr(actor, "is_superuser", False))


# -- recipients ----------------------------------------------------------------------------------------------
def department_tree_ids(department_ids: Iterable[int]) -> set[int]:
    """These departments and every department below them (one query per level of the tree)."""
    ids = {int(d) for d in department_ids}
    frontier = set(ids)
    while frontier:
        frontier = set(Department.objects.filter(parent_id__in=frontier).exclude(pk__in=ids)
                       .values_list("pk", flat=True))
        ids |= frontier
    return ids


def expand_recipients(*, user_ids: Iterable[int] = (), role_ids: Iterable[int] = (),
                      department_ids: Iterable[int] = ()) -> list[int]:
    """The enabled users the message reaches: the users chosen, the users of the roles, the users of the
    departments and of their sub-departments; each once, by id."""
    users, roles = {int(u) for u in user_ids}, {int(r) for r in role_ids}
    departments = department_tree_ids(department_ids)
    q = Q(pk__in=users) if users else Q(pk__in=[])
    if roles:
        q |= Q(pk__in=User.roles.through.objects.filter(role_id__in=roles).values("user_id"))
    if departments:
        q |= Q(pk__in=User.departments.through.objects.filter(department_id__in=departments).values("user_id"))
    return list(User.objects.filter(q, is_active=True).order_by("pk").values_list("pk", flat=True))


def _clean_ids(model, values, field: str) -> list[int]:
    if values is None:
        return []
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ShoalError("invalid", _("%(field)s must be a list of ids") % {"field": field}, {"field": field})
    try:
        ids = sorted({int(v) for v in values})
    except (TypeError, ValueError):
        raise ShoalError("invalid", _("%(field)s must be a list of ids") % {"field": field}, {"field": field})
    if len(ids) > RECIPIENT_IDS_MAX:
        raise ShoalError("invalid", _("At most %(n)d ids in %(field)s") % {"n": RECIPIENT_IDS_MAX, "field": field},
                         {"field": field})
    found = set(model.objects.filter(pk__in=[i for i in ids if 0 < i < 2**63]).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ShoalError("invalid", _("Unknown ids in %(field)s") % {"field": field},
                         {"field": field, "ids": missing[:20]})
    return ids


# -- reading ---------------------------------------------------------------------------------------------------
def message_list(*, actor, status: str | None = None) -> QuerySet[Message]:
    """The messages the actor manages (``view``): every sent or scheduled message, and the actor's drafts."""
    _require(actor, VIEW)
    qs = Message.objects.select_related("sender").annotate(read_count=Count(
        "deliveries", filter=Q(deliveries__read_at__isnull=False))).order_by("-updated_at", "-id")
    if not is_system(actor):
        qs = qs.filter(~Q(status=MessageStatus.DRAFT) | Q(sender=actor))
    if status:
        qs = qs.filter(status=status)
    return qs


def message_get(*, actor, pk) -> Message:
    """A message of :func:`message_list` (404 otherwise)."""
    message = message_list(actor=actor).filter(pk=pk).first() if isinstance(pk, int) else None
    if message is None:
        raise NotFound(_("Message not found"), {"id": pk})
    return message


def message_for_reader(*, actor, pk) -> tuple[Message, Notification | None]:
    """A message the actor may read: as its recipient (its delivery is marked read), its sender, or a manager
    of messages (``view``; not others' drafts). 404 otherwise."""
    message = Message.objects.select_related("sender").filter(pk=pk).first() if isinstance(pk, int) else None
    delivery = None
    if message is not None and isinstance(actor, User):
        delivery = Notification.objects.filter(message=message, user=actor).first()
    allowed = message is not None and (
        delivery is not None or (isinstance(actor, User) and message.sender_id == actor.pk)
        or (message.status != MessageStatus.DRAFT and user_can(actor, VIEW)))
    if not allowed:
        raise NotFound(_("Message not found"), {"id": pk})
    if delivery is not None and delivery.read_at is None:
        delivery.read_at = timezone.now()
        Notification.objects.filter(pk=delivery.pk, read_at__isnull=True).update(read_at=delivery.read_at)
    return message, delivery


def message_receipts(*, actor, message: Message, unread: bool | None = None) -> QuerySet[Notification]:
    """Who the message reached and when each read it (``read_at``; None: not read yet), by name."""
    _require(actor, VIEW)
    qs = Notification.objects.filter(message=message).select_related("user").order_by("read_at", "user__username")
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs


def read_counts(message: Message) -> dict:
    counts = Notification.objects.filter(message=message).aggregate(
        total=Count("pk"), read=Count("pk", filter=Q(read_at__isnull=False)))
    return {"recipients": counts["total"], "read": counts["read"], "unread": counts["total"] - counts["read"]}


# -- writing ---------------------------------------------------------------------------------------------------
def _clean(data: dict) -> dict:
    title = str(data.get("title") or "").strip()
    if not title:
        raise ShoalError("invalid", _("Enter a subject"), {"field": "title"})
    if len(title) > TITLE_MAX:
        raise ShoalError("invalid", _("The subject has at most %(n)d characters") % {"n": TITLE_MAX}, {"field": "title"})
    body = str(data.get("body") or "")
    if len(body) > BODY_MAX:
        raise ShoalError("invalid", _("The content has at most %(n)d characters") % {"n": BODY_MAX}, {"field": "body"})
    if "\x00" in title or "\x00" in body:
        raise ShoalError("invalid", _("The text may not contain NUL characters"), {"field": "body"})
    send_at = data.get("send_at")
    if send_at is not None and not isinstance(send_at, datetime):
        raise ShoalError("invalid", _("Enter a valid sending time"), {"field": "send_at"})
    if send_at is not None and timezone.is_naive(send_at):
        send_at = timezone.make_aware(send_at)
    return {"title": title, "body": body, "send_at": send_at,
            "users": _clean_ids(User, data.get("user_ids"), "user_ids"),
            "roles": _clean_ids(Role, data.get("role_ids"), "role_ids"),
            "departments": _clean_ids(Department, data.get("department_ids"), "department_ids")}


def message_save(*, actor, data: dict, message: Message | None = None) -> Message:
    """Create a draft, or edit one of the actor's drafts (or scheduled messages). With ``send_at`` it is
    scheduled: the job sends it then."""
    _require(actor, CREATE)
    return _save(actor, data, message)


def _save(actor, data: dict, message: Message | None) -> Message:
    clean = _clean(data)
    if message is not None:
        _check_open(actor, message)
    now = timezone.now()
    with transaction.atomic():
        if message is None:
            message = Message(sender_id=_actor_id(actor), created_at=now)
        message.title, message.body, message.send_at = clean["title"], clean["body"], clean["send_at"]
        message.status = MessageStatus.SCHEDULED if clean["send_at"] else MessageStatus.DRAFT
        message.updated_at = now
        created = message.pk is None
        message.save()
        message.users.set(clean["users"])
        message.roles.set(clean["roles"])
        message.departments.set(clean["departments"])
        log_operation(actor=actor, action="message.create" if created else "message.update", obj=message,
                      detail={"status": message.status})
    return message


def _check_open(actor, message: Message) -> None:
    if message.status not in OPEN:
        raise ShoalError("already_sent", _("This message was sent already"), {"id": message.pk}, status=409)
    if not (is_system(actor) or _superuser(actor) or message.sender_id == _actor_id(actor)):
        raise ShoalError("permission_denied", _("Only its author edits a draft"), {"id": message.pk}, status=403)


def message_send(*, actor, message: Message, now: datetime | None = None) -> int:
    """Send a draft or scheduled message now: claim it (one sender wins), expand its recipients, notify each
    once. Returns how many users it reached."""
    _require(actor, SEND)
    _check_open(actor, message)
    now = now or timezone.now()
    with transaction.atomic():
        sent = _deliver(message, now)
        if sent is None:
            raise ShoalError("already_sent", _("This message was sent already"), {"id": message.pk}, status=409)
        log_operation(actor=actor, action="message.send", obj=message, detail={"recipients": sent})
    return sent


def _deliver(message: Message, now: datetime) -> int | None:
    """Inside a transaction: claim the message (status → sent) and write its notifications; None when another
    sender claimed it first."""
    if Message.objects.filter(pk=message.pk, status__in=OPEN).update(status=MessageStatus.SENT, sent_at=now,
                                                                      updated_at=now) != 1:
        return None
    recipients = expand_recipients(user_ids=message.users.values_list("pk", flat=True),
                                   role_ids=message.roles.values_list("pk", flat=True),
                                   department_ids=message.departments.values_list("pk", flat=True))
    if not recipients:
        raise ShoalError("no_recipients", _("Choose at least one recipient (a user, role or department with users)"),
                         {"field": "user_ids"})
    from django.urls import reverse

    link = reverse("admin:message_read", args=[message.pk])
    notify_many([Notice(u, KIND_MESSAGE, message.title, message.body[:200], link, f"message:{message.pk}", message.pk)
                 for u in recipients], now=now)
    Message.objects.filter(pk=message.pk).update(recipient_count=len(recipients))
    message.status, message.sent_at, message.recipient_count = MessageStatus.SENT, now, len(recipients)
    return len(recipients)


def message_create_and_send(*, actor, data: dict) -> Message:
    """Write a message and send it at once (the API's POST /messages); nothing is kept when it reaches no one."""
    _require(actor, SEND)  # sending at once needs no draft permission
    with transaction.atomic():
        message = _save(actor, {**data, "send_at": None}, None)
        message_send(actor=actor, message=message)
    return message


def message_delete(*, actor, message: Message) -> None:
    """Delete a draft (or a scheduled message) of the actor, with its attachments."""
    _require(actor, CREATE)
    _check_open(actor, message)
    log_operation(actor=actor, action="message.delete", obj=message)
    message.delete()


def send_scheduled_messages(*, now: datetime | None = None) -> dict:
    """The job: send the scheduled messages whose time has come. ``{"sent": messages, "recipients": users}``."""
    now = now or timezone.now()
    sent = reached = 0
    for message in Message.objects.filter(status=MessageStatus.SCHEDULED, send_at__lte=now).order_by("send_at", "pk"):
        try:
            with transaction.atomic():
                n = _deliver(message, now)
                if n is None:
                    continue
                log_operation(actor=SYSTEM, action="message.send", obj=message, detail={"recipients": n})
        except ShoalError:  # its recipients left meanwhile: it goes back to the drafts, the others go on
            Message.objects.filter(pk=message.pk, status=MessageStatus.SCHEDULED).update(
                status=MessageStatus.DRAFT, send_at=None)
            continue
        sent += 1
        reached += n
    return {"sent": sent, "recipients": reached}


# -- attachments -----------------------------------------------------------------------------------------------
def max_mb() -> int:
    return int(parameters.get("ATTACHMENT_MAX_FILE_MB"))


def attachment_add(*, actor, message: Message, upload) -> MessageAttachment:
    """Store ``upload`` (a Django UploadedFile) on a draft; refused (nothing stored) beyond the size limit
    (the parameter ATTACHMENT_MAX_FILE_MB, as the customer attachments) or the number of files."""
    _require(actor, CREATE)
    _check_open(actor, message)
    limit_mb = max_mb()
    if upload is None:
        raise ShoalError("invalid_value", _("Choose a file to upload"), {"field": "file"})
    if upload.size > limit_mb * 1024 * 1024:
        raise ShoalError("file_too_large", _("The file is larger than the limit of %(limit)s MB") % {"limit": limit_mb},
                         {"field": "file", "max_mb": limit_mb, "size": upload.size}, status=413)
    if message.attachments.count() >= ATTACHMENTS_MAX:
        raise ShoalError("too_many_files", _("A message has at most %(n)d attachments") % {"n": ATTACHMENTS_MAX},
                         {"field": "file", "max": ATTACHMENTS_MAX})
    name = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:255] or "file"
    attachment = MessageAttachment(message=message, original_name=name, size=upload.size,
                                   content_type=(getattr(upload, "content_type", "") or "")[:100])
    attachment.file.save(name, upload, save=False)
    try:
        attachment.save()
    except Exception:
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


def attachment_remove(*, actor, message: Message, attachment_id: int) -> None:
    _require(actor, CREATE)
    _check_open(actor, message)
    attachment = message.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound(_("Attachment not found"), {"id": attachment_id})
    attachment.delete()


def _remove_file(sender, instance: MessageAttachment, **kwargs):
    """The stored file goes with its row (also when its message is deleted), once committed."""
    storage, name = instance.file.storage, instance.file.name
    if name:
        transaction.on_commit(lambda: storage.delete(name))


def connect_signals() -> None:
    from django.db.models.signals import post_delete

    post_delete.connect(_remove_file, sender=MessageAttachment, dispatch_uid="sales.message_attachment_file")
