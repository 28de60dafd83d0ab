"""Notifications (the caller's own, any user) and in-site messages (``sales.messages.view|send``).

``GET /notifications?unread=true&page=2`` → ``{"items", "total", "unread"}``; ``POST /notifications/read`` with
``{"ids": [...]}`` or ``{"all": true}``; ``POST /messages`` sends a message at once (201 with its id and the
number of users it reached); the message list, one message and its read receipts."""

from datetime import datetime

from django.utils.translation import gettext
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from shoal.core.auth import calling_user
from shoal.core.errors import ShoalError
from shoal.core.pagination import MAX_PAGE, Pages
from shoal.core.schemas import DbId

from .models import MessageStatus
from .services import messages as message_services
from .services import notifications as services

router = Router(tags=["notifications"])


# -- notifications --------------------------------------------------------------------------------------------
class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    link: str
    message_id: int | None
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def resolve_body(obj):  # an in-site message: its whole text (the notification keeps an excerpt)
        return obj.message.body if obj.message_id and obj.message else obj.body


class NotificationFilters(Schema):
    unread: bool | None = Field(None, description="true: only unread; false: only read; absent: all")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(services.PAGE_SIZE, ge=1, le=200)


class NotificationPage(Schema):
    items: list[NotificationOut]
    total: int = Field(description="notifications matching the filter")
    unread: int = Field(description="all the caller's unread notifications")


class ReadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[DbId] | None = Field(None, max_length=1000, description="the notifications to mark read")
    all: bool = Field(False, description="true: mark every notification of the caller read")


class ReadOut(Schema):
    read: int
    unread: int


@router.get("/notifications", response=NotificationPage, summary="The caller's notifications, newest first")
def list_notifications(request, filters: Query[NotificationFilters]):
    out = services.notification_page(actor=calling_user(request), unread=filters.unread, page=filters.page,
                                     page_size=filters.page_size)
    return {"items": out["items"], "total": out["total"], "unread": out["unread"]}


@router.post("/notifications/read", response=ReadOut, summary="Mark the caller's notifications read")
def read_notifications(request, payload: ReadIn):
    user = calling_user(request)
    if payload.all == (payload.ids is not None):
        raise ShoalError("invalid", gettext("Send either ids (a list) or all: true"), {"field": "ids"})
    n = services.notification_read(actor=user, notification_ids=None if payload.all else payload.ids)
    return {"read": n, "unread": services.unread_count(actor=user)}


# -- in-site messages -----------------------------------------------------------------------------------------
IdList = list[DbId]


class MessageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., min_length=1, max_length=message_services.TITLE_MAX)
    body: str = Field("", max_length=message_services.BODY_MAX)
    user_ids: IdList = Field(default_factory=list, max_length=message_services.RECIPIENT_IDS_MAX)
    role_ids: IdList = Field(default_factory=list, max_length=message_services.RECIPIENT_IDS_MAX)
    department_ids: IdList = Field(default_factory=list, max_length=message_services.RECIPIENT_IDS_MAX,
                                   description="each department with the departments below it")


class MessageSent(Schema):
    id: int
    status: str
    recipients: int
    sent_at: datetime | None


class MessageOut(Schema):
    id: int
    title: str
    status: str
    sender_id: int | None
    sender: str
    created_at: datetime
    send_at: datetime | None
    sent_at: datetime | None
    recipients: int
    read: int

    @staticmethod
    def resolve_sender(obj):
        return (obj.sender.name or obj.sender.username) if obj.sender else ""

    @staticmethod
    def resolve_recipients(obj):
        return obj.recipient_count

    @staticmethod
    def resolve_read(obj):
        return getattr(obj, "read_count", 0)


class AttachmentOut(Schema):
    id: int
    name: str
    size: int


class MessageDetail(MessageOut):
    body: str
    attachments: list[AttachmentOut]
    unread: int

    @staticmethod
    def resolve_attachments(obj):
        return [{"id": a.pk, "name": a.original_name, "size": a.size} for a in obj.attachments.all()]


class ReceiptOut(Schema):
    user_id: int
    username: str
    name: str
    read_at: datetime | None

    @staticmethod
    def resolve_username(obj):
        return obj.user.username

    @staticmethod
    def resolve_name(obj):
        return obj.user.name


class MessageFilters(Schema):
    status: MessageStatus | None = None


class ReceiptFilters(Schema):
    unread: bool | None = Field(None, description="true: who has not read it; false: who has")


@router.post("/messages", response={201: MessageSent}, summary="Send an in-site message now")
def create_message(request, payload: MessageIn):
    message = message_services.message_create_and_send(actor=calling_user(request), data=payload.dict())
    return 201, {"id": message.pk, "status": message.status, "recipients": message.recipient_count,
                 "sent_at": message.sent_at}


@router.get("/messages", response=list[MessageOut], summary="In-site messages: sent, scheduled, the caller's drafts")
@paginate(Pages, page_size=50)
def list_messages(request, filters: Query[MessageFilters]):
    return message_services.message_list(actor=calling_user(request), status=filters.status)


@router.get("/messages/{message_id}", response=MessageDetail, summary="One in-site message with its read counts")
def get_message(request, message_id: DbId):
    message = message_services.message_get(actor=calling_user(request), pk=message_id)
    counts = message_services.read_counts(message)
    message.read_count, message.unread = counts["read"], counts["unread"]
    return message


@router.get("/messages/{message_id}/receipts", response=list[ReceiptOut],
            summary="Read receipts: who the message reached and when each read it")
@paginate(Pages, page_size=100)
def list_receipts(request, message_id: DbId, filters: Query[ReceiptFilters]):
    actor = calling_user(request)
    message = message_services.message_get(actor=actor, pk=message_id)
    return message_services.message_receipts(actor=actor, message=message, unread=filters.unread)
