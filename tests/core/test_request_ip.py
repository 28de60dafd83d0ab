"""The client address in the login log and the operation log: REMOTE_ADDR unless Shoal is told it
sits behind proxies (SHOAL_TRUSTED_PROXIES), so a client cannot write any address it likes."""

import pytest
from django.test import RequestFactory

from shoal.accounts.models import LoginLog
from shoal.core.models import OperationLog
from shoal.core.request_context import client_ip
from tests.conftest import make_user


def test_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.SHOAL_TRUSTED_PROXIES = 0
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="10.9.9.1", REMOTE_ADDR="203.0.113.5")
    assert client_ip(request) == "203.0.113.5"


def test_forwarded_for_is_read_behind_the_given_number_of_proxies(settings):
    settings.SHOAL_TRUSTED_PROXIES = 1
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="10.9.9.1, 198.51.100.7", REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "198.51.100.7"  # what our proxy saw; the client's own claim is not believed


@pytest.mark.django_db
def test_login_log_keeps_the_real_address_not_the_claimed_one(client):
    make_user("ip_user")
    client.post("/login/", {"username": "ip_user", "password": "wrong"}, HTTP_X_FORWARDED_FOR="10.9.9.1",
                REMOTE_ADDR="203.0.113.9")
    assert LoginLog.objects.get(username="ip_user").ip == "203.0.113.9"


@pytest.mark.django_db
def test_operation_log_records_the_callers_address(client, superuser, bearer):
    resp = client.post("/api/v1/departments", {"name": "华南区"}, content_type="application/json",
                       REMOTE_ADDR="203.0.113.10", **bearer(superuser))
    assert resp.status_code == 201
    assert OperationLog.objects.get(action="department.create").ip == "203.0.113.10"
