"""Users change their own password from the account menu; an administrator resets one user's
password (initial or chosen), which ends that user's sessions and revokes their API tokens.
Session writes go through a client that enforces CSRF."""

import re

import pytest
from django.test import Client

from shoal.accounts.models import ApiToken, User
from shoal.core import parameters
from shoal.core.models import OperationLog
from tests.conftest import make_user


def _csrf(client, path):
    resp = client.get(path)
    assert resp.status_code == 200, resp.status_code
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', resp.content.decode()).group(1)


def _logged_in(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def admin_user(roles):
    return make_user("pw_admin", roles["admin"])


def test_account_menu_links_to_the_password_change(db):
    user = make_user("pw_menu", language="zh-hans")
    html = _logged_in(user).get("/").content.decode()
    assert 'href="/password_change/"' in html and "修改密码" in html


def test_user_changes_own_password_with_validators_and_csrf(db):
    user = make_user("pw_self")
    client = _logged_in(user)
    # without the CSRF token the change is refused
    assert client.post("/password_change/", {"old_password": "secret-pass-1", "new_password1": "New-pass-77",
                                             "new_password2": "New-pass-77"}).status_code == 403
    token = _csrf(client, "/password_change/")
    resp = client.post("/password_change/", {"csrfmiddlewaretoken": token, "old_password": "secret-pass-1",
                                             "new_password1": "abc", "new_password2": "abc"})
    assert resp.status_code == 200  # refused by the project's validators (minimum length)
    user.refresh_from_db()
    assert user.check_password("secret-pass-1")
    resp = client.post("/password_change/", {"csrfmiddlewaretoken": token, "old_password": "secret-pass-1",
                                             "new_password1": "New-pass-77", "new_password2": "New-pass-77"})
    assert resp.status_code == 302
    user.refresh_from_db()
    assert user.check_password("New-pass-77")


def test_admin_resets_one_users_password_to_the_initial_one(admin_user):
    parameters.set_value("SYS_USER_DEFAULT_PASSWORD", "init-4242")
    target, other = make_user("pw_target"), make_user("pw_other")
    ApiToken.issue(target)
    ApiToken.issue(other)
    target_session = Client()
    target_session.force_login(target)
    assert target_session.get("/").status_code == 200

    client = _logged_in(admin_user)
    change = client.get(f"/accounts/user/{target.pk}/change/").content.decode()
    assert f"/accounts/user/{target.pk}/reset-password/" in change  # the action on the user's page
    path = f"/accounts/user/{target.pk}/reset-password/"
    assert client.post(path, {"mode": "initial"}).status_code == 403  # CSRF enforced
    token = _csrf(client, path)
    resp = client.post(path, {"csrfmiddlewaretoken": token, "mode": "initial"})
    assert resp.status_code == 302 and resp["Location"] == f"/accounts/user/{target.pk}/change/"

    target.refresh_from_db()
    assert target.must_change_password and target.check_password("init-4242")
    assert not ApiToken.objects.filter(user=target).exists()
    assert ApiToken.objects.filter(user=other).exists()  # only that user
    assert target_session.get("/").status_code == 302  # their session ended
    entry = OperationLog.objects.get(action="user.reset_password", object_id=str(target.pk))
    assert entry.actor == admin_user and entry.detail["tokens_revoked"] == 1
    other.refresh_from_db()
    assert not other.must_change_password


def test_admin_resets_to_a_chosen_password_checked_by_the_validators(admin_user):
    target = make_user("pw_chosen")
    client = _logged_in(admin_user)
    path = f"/accounts/user/{target.pk}/reset-password/"
    token = _csrf(client, path)
    resp = client.post(path, {"csrfmiddlewaretoken": token, "mode": "chosen", "password1": "abc",
                              "password2": "abc"})
    assert resp.status_code == 200 and 'id="reset-password"' in resp.content.decode()  # form again, with the error
    target.refresh_from_db()
    assert target.check_password("secret-pass-1") and not target.must_change_password
    resp = client.post(path, {"csrfmiddlewaretoken": token, "mode": "chosen", "password1": "Chosen-99",
                              "password2": "Chosen-99"})
    assert resp.status_code == 302
    target.refresh_from_db()
    assert target.check_password("Chosen-99") and target.must_change_password


def test_reset_needs_the_reset_password_permission(roles):
    target = make_user("pw_t2")
    sales = make_user("pw_sales", roles["salesperson"])
    client = _logged_in(sales)
    assert client.get(f"/accounts/user/{target.pk}/reset-password/").status_code == 403
    assert User.objects.get(pk=target.pk).check_password("secret-pass-1")


@pytest.mark.django_db
@pytest.mark.parametrize("new_password", ["123456", "12345678", "password123", "secret-pass-1"])
def test_forced_change_refuses_the_initial_weak_or_unchanged_password(new_password):
    user = make_user("pw_new", must_change_password=True,
                     password="secret-pass-1" if new_password == "secret-pass-1" else "123456")
    old = "secret-pass-1" if new_password == "secret-pass-1" else "123456"
    client = _logged_in(user)
    token = _csrf(client, "/password_change/?forced=1")
    resp = client.post("/password_change/", {"csrfmiddlewaretoken": token, "old_password": old,
                                             "new_password1": new_password, "new_password2": new_password})
    assert resp.status_code == 200  # the form again, with the reason
    assert "errornote" in resp.content.decode() or "errorlist" in resp.content.decode()
    user.refresh_from_db()
    assert user.must_change_password and user.check_password(old)
