"""``{% unread_notifications as n %}``: the signed-in user's unread notifications for the header's bell, in one
small query (a COUNT over at most BELL_CAP + 1 rows of the user's index); "99+" beyond."""

from django import template

from ..services.notifications import BELL_CAP, unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> str:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    n = unread_count(actor=user, cap=BELL_CAP)
    return f"{BELL_CAP}+" if n > BELL_CAP else (str(n) if n else "")


@register.filter
def notification_kind(kind: str) -> str:
    """The label of a notification kind (``{{ note.kind|notification_kind }}``)."""
    from ..services.notifications import kind_labels

    return str(kind_labels().get(kind, kind))
