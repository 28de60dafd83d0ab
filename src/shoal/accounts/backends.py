from django.contrib.auth.backends import ModelBackend


class ShoalBackend(ModelBackend):
    """Username/password login; a disabled user neither logs in nor keeps a session (checked per request)."""

    def has_perm(self, user_obj, perm, obj=None):
        # Django admin model permissions map onto Shoal's menu permissions (see core.admin_mixins).
        return user_obj.is_active and user_obj.is_superuser
