import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from shoal.accounts import services
from shoal.accounts.models import ApiToken, Application, Department, LoginLog, Role
from shoal.core import parameters
from shoal.core.errors import ShoalError
from shoal.core.models import OperationLog
from tests.conftest import make_user

User = get_user_model()
LOGIN = "/login/"


def login(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/"})


@pytest.mark.django_db
def test_new_user_gets_the_configured_initial_password_and_must_change_it(client):
    parameters.set_value("SYS_USER_DEFAULT_PASSWORD", "init-789")
    user = services.user_create(actor=None, username="newhire", name="New Hire")
    assert user.must_change_password
    assert user.check_password("init-789")
    response = login(client, "newhire", "init-789")
    assert response.status_code == 302
    # every page but the password change sends the user to change it
    response = client.get("/")
    assert response.status_code == 302 and reverse("admin:password_change") in response["Location"]
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 302
    # the API too refuses the session until the password is changed
    assert client.get("/api/v1/me").json()["error"]["code"] == "password_change_required"
    response = client.post(reverse("admin:password_change"), {
        "old_password": "init-789", "new_password1": "Better-pass-42", "new_password2": "Better-pass-42"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.must_change_password and user.check_password("Better-pass-42")
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_disabled_user_cannot_log_in(client):
    make_user("quitter", is_active=False)
    response = login(client, "quitter", "secret-pass-1")
    assert response.status_code == 200  # the login form again
    assert "_auth_user_id" not in client.session
    assert LoginLog.objects.filter(username="quitter", success=False, reason="disabled").exists()


@pytest.mark.django_db
def test_disabling_a_user_ends_their_session_and_tokens_at_once(client, superuser):
    user = make_user("leaver")
    assert login(client, "leaver", "secret-pass-1").status_code == 302
    assert client.get("/").status_code == 200
    _, raw = ApiToken.issue(user)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200

    services.user_update(actor=superuser, user=user, data={"is_active": False})

    assert client.get("/").status_code == 302  # back to the login page
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


@pytest.mark.django_db
def test_disabled_via_batch_action_also_locks_out(client, superuser):
    user = make_user("batchleaver")
    login(client, "batchleaver", "secret-pass-1")
    services.users_set_active(actor=superuser, user_ids=[user.pk], active=False)
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_repeated_failures_lock_the_account(client, settings):
    make_user("victim")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "victim", "wrong").status_code == 200
    response = login(client, "victim", "wrong")
    assert response.status_code == 429
    assert "locked" in response.content.decode().lower() or "锁定" in response.content.decode()
    # even the right password is refused while locked
    assert login(client, "victim", "secret-pass-1").status_code == 429
    assert LoginLog.objects.filter(username="victim", success=False).count() >= settings.AXES_FAILURE_LIMIT


@pytest.mark.django_db
def test_login_log_records_success_with_ip(client):
    make_user("logged")
    login(client, "logged", "secret-pass-1")
    entry = LoginLog.objects.get(username="logged", success=True)
    assert entry.ip == "127.0.0.1"


@pytest.mark.django_db
def test_batch_password_reset_forces_change_again(client, superuser):
    a, b = make_user("a1"), make_user("b1")
    assert services.users_reset_password(actor=superuser, user_ids=[a.pk, b.pk]) == 2
    for user in (a, b):
        user.refresh_from_db()
        assert user.must_change_password and user.check_password("123456")
    login(client, "a1", "123456")
    assert reverse("admin:password_change") in client.get("/")["Location"]
    assert OperationLog.objects.filter(action="user.reset_password").exists()


@pytest.mark.django_db
def test_user_permissions_are_the_union_of_roles():
    r1 = Role.objects.create(name="r1", code="r1", permissions=["system.users.view"])
    r2 = Role.objects.create(name="r2", code="r2", permissions=["system.roles.view"], data_scope="departments")
    user = make_user("multi")
    user.roles.set([r1, r2])
    user = User.objects.get(pk=user.pk)
    assert user.shoal_permissions() == {"system.users.view", "system.roles.view"}
    assert user.data_scope() == "departments"


@pytest.mark.django_db
def test_role_with_unknown_permission_is_refused():
    with pytest.raises(ShoalError) as exc:
        services.role_create(actor=None, name="bad", code="bad", permissions=["no.such.thing"])
    assert exc.value.detail == {"codes": ["no.such.thing"]}
    assert not Role.objects.filter(code="bad").exists()


@pytest.mark.django_db
def test_department_tree_and_guards():
    top = services.department_create(actor=None, name="销售部")
    child = services.department_create(actor=None, name="销售一组", parent_id=top.pk)
    grandchild = services.department_create(actor=None, name="小队", parent_id=child.pk)
    assert str(grandchild) == "销售部 / 销售一组 / 小队"
    assert top.descendant_ids() == {top.pk, child.pk, grandchild.pk}
    with pytest.raises(ShoalError):  # no cycles
        services.department_update(actor=None, dept=top, data={"parent_id": grandchild.pk})
    with pytest.raises(ShoalError):  # children first
        services.department_delete(actor=None, dept=top)
    assert Department.objects.count() == 3


@pytest.mark.django_db
def test_user_in_several_departments_and_roles(client, personas, bearer, roles):
    d1 = services.department_create(actor=None, name="D1")
    d2 = services.department_create(actor=None, name="D2")
    response = client.post("/api/v1/users", data=json.dumps({
        "username": "multi2", "name": "多部门", "department_ids": [d1.pk, d2.pk],
        "role_ids": [roles["manager"].pk, roles["salesperson"].pk], "masking_policy": "except_groups"}),
        content_type="application/json", **bearer(personas["admin"]))
    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted(body["department_ids"]) == sorted([d1.pk, d2.pk])
    assert body["must_change_password"] is True and body["masking_policy"] == "except_groups"
    # the account is unique, whatever the case
    again = client.post("/api/v1/users", data=json.dumps({"username": "MULTI2"}),
                        content_type="application/json", **bearer(personas["admin"]))
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"


@pytest.mark.django_db
def test_application_key_is_shown_once_and_stored_hashed(client, personas, bearer):
    response = client.post("/api/v1/applications", data=json.dumps({"name": "ERP"}),
                           content_type="application/json", **bearer(personas["admin"]))
    key = response.json()["key"]
    app = Application.objects.get(name="ERP")
    assert key not in (app.key_hash, app.key_prefix) and app.key_hash != key
    listed = client.get("/api/v1/applications", **bearer(personas["admin"])).content.decode()
    assert key not in listed
    assert client.get("/api/v1/application", HTTP_X_APP_KEY=key).status_code == 200
    # a disabled application's key stops working
    client.patch(f"/api/v1/applications/{app.pk}", data=json.dumps({"enabled": False}),
                 content_type="application/json", **bearer(personas["admin"]))
    assert client.get("/api/v1/application", HTTP_X_APP_KEY=key).status_code == 401


@pytest.mark.django_db
def test_menu_permission_preview_page_shows_granted_actions(client, personas, superuser):
    client.force_login(superuser)
    html = client.get(reverse("admin:user_permissions", args=[personas["manager"].pk])).content.decode()
    assert 'data-perm="system.users.view" class="text-green' in html
    assert 'data-perm="system.users.create" class="line-through' in html


@pytest.mark.django_db
def test_operation_log_records_who_did_what(superuser):
    user = services.user_create(actor=superuser, username="logged-op")
    services.user_update(actor=superuser, user=user, data={"name": "Changed"})
    actions = list(OperationLog.objects.filter(object_id=str(user.pk)).values_list("action", "actor_name"))
    assert ("user.create", "root") in actions and ("user.update", "root") in actions


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
