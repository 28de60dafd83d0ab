"""In-site notifications (站内通知) of one user: sent by jobs and services, read by their user; the header's bell
counts the unread ones.

Kinds: ``recycle_warning`` (pools: customers about to be recycled), ``assignment`` (pools: one notice per
operation and salesperson, see :func:`assignment_notices`), ``task_reminder`` and ``task_overdue``
(``services.reminders``), ``message`` (an in-site message, ``services.messages``). A notification with a
``key`` reaches a user once: the unique (user, key) makes a job that runs twice, or on two workers, harmless.
Optionally a notice also goes out by email (:func:`email_notices`, SMTP from the ``SHOAL_SMTP_*`` settings)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shoal.accounts.models import User
from shoal.core.batching import batched
from shoal.core.errors import NotFound

from ..models import Notification

logger = logging.getLogger("shoal.sales.notifications")

PAGE_SIZE = 50
BELL_CAP = 99  # the bell shows "99+" beyond: its count reads at most this many + 1 rows
CHUNK = 2000

KIND_MESSAGE = "message"
KIND_ASSIGNMENT = "assignment"
KIND_TASK_REMINDER = "task_reminder"
KIND_TASK_OVERDUE = "task_overdue"
KIND_RECYCLE_WARNING = "recycle_warning"


def kind_labels() -> dict[str, str]:
    return {KIND_MESSAGE: _("In-site message"), KIND_ASSIGNMENT: _("Customers assigned"),
            KIND_TASK_REMINDER: _("Task reminder"), KIND_TASK_OVERDUE: _("Overdue tasks"),
            KIND_RECYCLE_WARNING: _("Recycle warning")}


@dataclass(frozen=True)
class Notice:
    """One notification to write (:func:`notify_many`)."""

    user_id: int
    kind: str
    title: str
    body: str = ""
    link: str = ""
    key: str = ""
    message_id: int | None = None


# -- writing -------------------------------------------------------------------------------------------------
_COLUMNS = ("user_id", "kind", "title", "body", "link", "key", "message_id")
# one INSERT … SELECT per chunk, the rows as one parameter each column (PostgreSQL) or one JSON array (SQLite);
# ON CONFLICT DO NOTHING: a keyed notice whose (user, key) exists is skipped, whoever wrote it first
_INSERT = {
    True: "INSERT INTO {t} ({cols}, created_at) SELECT u, k, ti, b, l, ke, m, %s FROM unnest(%s::bigint[], "
          "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[]) AS v(u, k, ti, b, l, ke, m) "
          "ON CONFLICT DO NOTHING",
    False: "INSERT INTO {t} ({cols}, created_at) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
           "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), "
           "json_extract(value, '$[5]'), json_extract(value, '$[6]'), %s FROM json_each(%s) WHERE true "
           "ON CONFLICT DO NOTHING",
}


def _insert(rows: list[tuple], now: datetime) -> int:
    import json

    from django.db import connection

    pg = connection.vendor == "postgresql"
    qn = connection.ops.quote_name
    sql = _INSERT[pg].format(t=qn(Notification._meta.db_table), cols=", ".join(qn(c) for c in _COLUMNS))
    added = 0
    with connection.cursor() as cursor:
        for chunk in batched(rows, CHUNK):
            if pg:
                params = [now, *[[row[i] for row in chunk] for i in range(len(_COLUMNS))]]
            else:
                params = [connection.ops.adapt_datetimefield_value(now), json.dumps(chunk, ensure_ascii=False)]
            cursor.execute(sql, params)
            added += max(cursor.rowcount, 0)
    return added


def notify_many(notices: Iterable[Notice], *, now: datetime | None = None) -> int:
    """Write the notifications in bulk (one statement per :data:`CHUNK`). A keyed one whose (user, key) exists
    is skipped (by the unique (user, key): also when two writers race). Returns how many were added."""
    rows, seen = [], set()
    for n in notices:
        if n.user_id is None:
            continue
        user, key = int(n.user_id), str(n.key)[:100]
        if key:
            if (user, key) in seen:
                continue
            seen.add((user, key))
        rows.append((user, str(n.kind)[:32], str(n.title)[:200], str(n.body), str(n.link)[:500], key,
                     None if n.message_id is None else int(n.message_id)))
    return _insert(rows, now or timezone.now()) if rows else 0


def notify(*, user_ids: Iterable[int], kind: str, title: str, body: str = "", link: str = "", key: str = "") -> int:
    """Send one notification to each user. With a ``key``, a user gets it once (a second call with the same
    (user, key) adds nothing): safe for jobs that run again. Returns how many notifications were added."""
    ids = sorted({int(u) for u in user_ids if u is not None})
    return notify_many([Notice(u, kind, title, body, link, key) for u in ids])


# -- reading -------------------------------------------------------------------------------------------------
def notification_list(*, actor, unread: bool | None = None) -> QuerySet[Notification]:
    """The actor's own notifications, newest first."""
    if not isinstance(actor, User):
        return Notification.objects.none()
    qs = Notification.objects.filter(user=actor)
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs


def unread_count(*, actor, cap: int | None = None) -> int:
    """How many of the actor's notifications are unread (with ``cap``: at most cap + 1, one small query)."""
    qs = notification_list(actor=actor, unread=True).order_by()
    return qs[: cap + 1].count() if cap is not None else qs.count()


def notification_page(*, actor, unread: bool | None = None, page: int = 1, page_size: int = PAGE_SIZE) -> dict:
    """One page of the actor's notifications: ``{"items", "total", "unread", "page", "page_size"}`` (``total``:
    of the filter, ``unread``: all the actor's unread ones)."""
    qs = notification_list(actor=actor, unread=unread)
    total = qs.count()
    start = (max(1, page) - 1) * page_size
    items = list(qs.select_related("message")[start:start + page_size]) if start < total else []
    unread_n = total if unread is True else unread_count(actor=actor)
    return {"items": items, "total": total, "unread": unread_n, "page": page, "page_size": page_size}


def notification_read(*, actor, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the actor's notifications read (None: all of them). Returns how many were marked."""
    qs = notification_list(actor=actor, unread=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=[int(i) for i in notification_ids])
    return qs.update(read_at=timezone.now())


def notification_open(*, actor, pk: int) -> Notification:
    """The actor's notification ``pk``, marked read (404 for anyone else's)."""
    note = notification_list(actor=actor).filter(pk=pk).first()
    if note is None:
        raise NotFound(_("Notification not found"), {"id": pk})
    if note.read_at is None:
        note.read_at = timezone.now()
        Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=note.read_at)
    return note


# -- assignment notices (pools) ------------------------------------------------------------------------------
@dataclass
class _Assignments:
    counts: Counter = field(default_factory=Counter)
    at: datetime | None = None


_assignments: ContextVar[_Assignments | None] = ContextVar("shoal_assignment_notices", default=None)


@contextmanager
def assignment_notices() -> Iterator[None]:
    """Around one operation that assigns customers (a rule run, a batch operation, a transfer): each
    salesperson who got customers inside the block gets ONE notification with the count, when the block ends
    without an error. Blocks nest (the outermost sends); assignments outside any block notify nobody."""
    if _assignments.get() is not None:
        yield
        return
    collected = _Assignments()
    token = _assignments.set(collected)
    try:
        yield
    finally:
        _assignments.reset(token)
    _send_assignment_notices(collected)


def record_assignments(pairs: Iterable[tuple[int, int]], *, operator_id: int | None, auto: bool, at: datetime) -> None:
    """``pools.moves`` reports the (customer, salesperson) pairs it assigned; counted in the open
    :func:`assignment_notices` block. A salesperson who assigns to themself (a claim, a request) is not told."""
    collected = _assignments.get()
    if collected is None:
        return
    for _customer, user in pairs:
        if user is not None and (auto or user != operator_id):
            collected.counts[user] += 1
    collected.at = collected.at or at


def _send_assignment_notices(collected: _Assignments) -> None:
    if not collected.counts:
        return
    from django.urls import reverse
    from django.utils import translation
    from django.utils.translation import ngettext

    languages = dict(User.objects.filter(pk__in=list(collected.counts)).values_list("pk", "language"))
    key = f"pools.assigned:{collected.at:%Y%m%d%H%M%S%f}"
    link = reverse("admin:pools_my_customers")
    notices = []
    for user, n in sorted(collected.counts.items()):
        with translation.override(languages.get(user) or settings.LANGUAGE_CODE):
            title = ngettext("%(n)d customer was assigned to you", "%(n)d customers were assigned to you", n) % {"n": n}
            body = str(_("Follow them up on My customers."))
        notices.append(Notice(user, KIND_ASSIGNMENT, title, body, link, key))
    notify_many(notices)


# -- email ---------------------------------------------------------------------------------------------------
def email_enabled() -> bool:
    return bool(getattr(settings, "SHOAL_SMTP_HOST", ""))


def smtp_connection():
    """A connection to the SMTP server of the ``SHOAL_SMTP_*`` settings (whatever EMAIL_BACKEND says)."""
    from django.core.mail import get_connection

    return get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False,
                          host=settings.SHOAL_SMTP_HOST, port=settings.SHOAL_SMTP_PORT,
                          username=settings.SHOAL_SMTP_USER or None, password=settings.SHOAL_SMTP_PASSWORD or None,
                          use_tls=settings.SHOAL_SMTP_STARTTLS, use_ssl=settings.SHOAL_SMTP_SSL,
                          timeout=settings.SHOAL_SMTP_TIMEOUT)


def email_notices(notices: Sequence[Notice]) -> int:
    """Send each notice by email to its user (those with an address), over one SMTP connection. A failure is
    logged, never raised: the in-site notification stands. Returns how many emails were sent."""
    if not notices or not email_enabled():
        return 0
    from django.core.mail import EmailMessage

    addresses = dict(User.objects.filter(pk__in={n.user_id for n in notices}, is_active=True)
                     .exclude(email="").values_list("pk", "email"))
    base = getattr(settings, "SHOAL_BASE_URL", "").rstrip("/")
    mails = [EmailMessage(subject=n.title, body="\n\n".join(p for p in (n.body, base + n.link if base and n.link else "")
                                                          if p),
                          from_email=settings.SHOAL_SMTP_FROM, to=[addresses[n.user_id]])
             for n in notices if n.user_id in addresses]
    if not mails:
        return 0
    try:
        with smtp_connection() as connection:
            return connection.send_messages(mails) or 0
    except Exception:  # the mail server is down or refuses: the notifications are there all the same
        logger.exception("could not send %d reminder emails", len(mails))
        return 0
