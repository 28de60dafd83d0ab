"""Logging in: the initial password and its forced change, disabled users, lock-out after failures,
the login log, batch password resets."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from shoal.accounts import services
from shoal.accounts.models import ApiToken, LoginLog
from shoal.core import parameters
from shoal.core.models import OperationLog
from tests.conftest import CsrfClient, make_user

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
    assert 'id="lockout-message"' in response.content.decode() and "已被暂时锁定" in response.content.decode()
    # even the right password is refused while locked
    assert login(client, "victim", "secret-pass-1").status_code == 429
    assert LoginLog.objects.filter(username="victim", success=False).count() >= settings.AXES_FAILURE_LIMIT


@pytest.mark.parametrize("run", [
    pytest.param("first", marks=pytest.mark.django_db), pytest.param("second", marks=pytest.mark.django_db),
    pytest.param("first, committed", marks=pytest.mark.django_db(transaction=True)),
    pytest.param("second, committed", marks=pytest.mark.django_db(transaction=True)),
])
def test_a_lockout_does_not_outlive_its_test(settings, run):
    """Each run logs in, then locks the same account from the same address. django-axes keeps its
    state in the database (AccessAttempt rows), which every test rolls back or flushes: the second
    run finds no attempt on record and logs in, so no fixture needs to reset axes."""
    assert settings.AXES_ENABLED and settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    make_user("lock_me")
    assert not AccessAttempt.objects.exists()
    assert login(CsrfClient(), "lock_me", "secret-pass-1").status_code == 302
    client = CsrfClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "lock_me", "wrong")
    assert login(client, "lock_me", "secret-pass-1").status_code == 429
    assert AccessAttempt.objects.filter(username="lock_me").exists()


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
