"""Service messages follow the language: API error messages are English for integrators unless
Accept-Language or the user's own language asks for zh-hans; pages show them in Chinese."""

import pytest
from django.test import Client

from shoal.accounts import services
from shoal.core.errors import ShoalError
from tests.conftest import make_user


@pytest.fixture
def viewer(roles):
    return make_user("lang_viewer", roles["admin"])


def test_api_message_english_by_default_chinese_when_asked(viewer, bearer):
    auth = bearer(viewer)
    english = Client().get("/api/v1/saved-queries/999999", **auth)
    assert english.status_code == 404
    assert english.json()["error"]["message"] == "Saved query not found"

    chinese = Client().get("/api/v1/saved-queries/999999", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9", **auth)
    assert chinese.json()["error"] == {"code": "not_found", "message": "查询方案不存在", "detail": {}}


def test_api_message_follows_the_users_language(db):
    user = make_user("lang_zh", is_superuser=True, language="zh-hans")
    client = Client()
    client.force_login(user)
    assert client.get("/api/v1/saved-queries/999999").json()["error"]["message"] == "查询方案不存在"


def test_service_message_shown_in_chinese_on_a_page(db):
    """A ShoalError raised by a service is rendered in the page's language (here: deleting a
    department that still has users)."""
    admin = make_user("lang_admin", is_superuser=True, language="zh-hans")
    dept = services.department_create(actor=admin, name="Sales")
    services.user_update(actor=admin, user=admin, data={"department_ids": [dept.pk]})
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    page = client.get(f"/accounts/department/{dept.pk}/delete/")
    token = page.context["csrf_token"] if page.context and "csrf_token" in page.context else \
        client.cookies["csrftoken"].value
    resp = client.post(f"/accounts/department/{dept.pk}/delete/", {"post": "yes", "csrfmiddlewaretoken": token},
                       follow=True)
    assert "该部门下仍有用户" in resp.content.decode()


def test_messages_with_values_are_translated_whole(db):
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ShoalError) as exc:
        services.user_get(username="nobody-here")
    assert exc.value.message == "用户 nobody-here 不存在"
