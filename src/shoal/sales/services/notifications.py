"""In-site notifications (站内通知) of one user: sent by jobs and services, read by their user."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from shoal.accounts.models import User

from ..models import Notification


# -- notifications ---------------------------------------------------------------------------------------
def notify(*, user_ids: Iterable[int], kind: str, title: str, body: str = "", link: str = "", key: str = "") -> int:
    """Send a notification to each user. With a ``key``, a user gets it once (a second call with the same
    (user, key) adds nothing): safe for jobs that run again. Returns how many notifications were added."""
    ids = sorted({int(u) for u in user_ids if u is not None})
    if not ids:
        return 0
    title, body, link, key = str(title)[:200], str(body), str(link)[:500], str(key)[:100]
    if key:
        present = set(Notification.objects.filter(user_id__in=ids, key=key).values_list("user_id", flat=True))
        ids = [u for u in ids if u not in present]
        if not ids:
            return 0
    now = timezone.now()
    rows = [Notification(user_id=u, kind=kind[:32], title=title, body=body, link=link, key=key, created_at=now)
            for u in ids]
    # ignore_conflicts: two runs at once may both pass the read above; the unique (user, key) decides
    created = Notification.objects.bulk_create(rows, ignore_conflicts=bool(key))
    if key:
        return Notification.objects.filter(user_id__in=ids, key=key, created_at=now).count()
    return len(created)


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


def notification_read(*, actor, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the actor's notifications read (None: all of them). Returns how many were marked."""
    qs = notification_list(actor=actor, unread=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=[int(i) for i in notification_ids])
    return qs.update(read_at=timezone.now())
