from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from shoal.core.request_context import client_ip

from .models import LoginLog, User


def _agent(request) -> str:
    return (request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:255]


@receiver(user_logged_in)
def record_login(sender, request, user, **kwargs):
    LoginLog.objects.create(username=user.get_username(), user=user, success=True, ip=client_ip(request),
                            user_agent=_agent(request))
    if request is not None and user.language:
        request.session["_language"] = user.language


@receiver(user_login_failed)
def record_login_failure(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    user = User.objects.filter(username=username).first()
    if user is not None and not user.is_active:
        reason = "disabled"
    elif user is None:
        reason = "unknown account"
    elif getattr(request, "axes_locked_out", False):
        reason = "locked out"
    else:
        reason = "bad password"
    LoginLog.objects.create(username=username, user=user, success=False, reason=reason, ip=client_ip(request),
                            user_agent=_agent(request))
