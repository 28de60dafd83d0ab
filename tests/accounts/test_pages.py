"""Accounts pages: the user form, the permission preview, the language switch, personal tokens."""

import pytest
from django.urls import reverse

from shoal.accounts.models import ApiToken, User


@pytest.mark.django_db
def test_menu_permission_preview_page_shows_granted_actions(client, personas, superuser):
    client.force_login(superuser)
    html = client.get(reverse("admin:user_permissions", args=[personas["manager"].pk])).content.decode()
    assert 'data-perm="system.users.view" class="text-green' in html
    assert 'data-perm="system.users.create" class="line-through' in html


@pytest.mark.django_db
def test_user_admin_creates_user_with_initial_password(client, superuser, roles):
    client.force_login(superuser)
    response = client.post(reverse("admin:accounts_user_add"), {
        "username": "viaform", "name": "表单用户", "gender": "female", "mobile": "13800138000",
        "email": "f@example.com", "is_active": "on", "roles": [roles["salesperson"].pk],
        "masking_policy": "mask_all", "language": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="viaform")
    assert user.must_change_password and user.check_password("123456")
    assert list(user.roles.all()) == [roles["salesperson"]]


@pytest.mark.django_db
def test_language_switch_is_kept_on_the_user(client, personas):
    user = personas["admin"]
    client.force_login(user)
    client.post("/language/", {"language": "en", "next": "/"})
    user.refresh_from_db()
    assert user.language == "en"
    assert 'lang="en"' in client.get("/").content.decode()
    client.post("/language/", {"language": "zh-hans", "next": "/"})
    html = client.get("/").content.decode()
    assert 'lang="zh-hans"' in html and "工作台" in html


@pytest.mark.django_db
def test_user_creates_uses_and_revokes_a_personal_token(client, personas):
    user = personas["salesperson"]
    client.force_login(user)
    response = client.post(reverse("admin:my_tokens"), {"name": "script"}, follow=True)
    html = response.content.decode()
    token = ApiToken.objects.get(user=user)
    import re

    raw = re.search(r"sht_[A-Za-z0-9_-]{20,}", html).group(0)
    assert token.key_hash != raw
    from django.test import Client

    api = Client()  # no session: the token alone
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").json()["username"] == user.username
    client.post(reverse("admin:my_tokens"), {"revoke": token.pk})
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_login_log_shows_failure_reasons_in_words(client, superuser):
    from shoal.accounts.models import LoginLog

    LoginLog.objects.create(username="someone", success=False, reason="bad password", ip="203.0.113.1")
    client.force_login(superuser)
    html = client.get("/accounts/loginlog/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "密码错误" in html and "bad password" not in html
