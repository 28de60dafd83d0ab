"""Shared by the import page, API and browser tests: users with and without the import permission, a small CSV
with one row of each kind, and helpers. The test modules import the fixtures (``*_fixture``; pytest knows them by
their names: ``importer``, ``viewer``…)."""

from __future__ import annotations

import pytest

from shoal.accounts.models import DataScope, Role
from shoal.tags.models import TagCategory, TagKind
from tests.conftest import make_user

IMPORT = "customers.customers.import"

# header; a new customer; a bad mobile (invalid); an empty row; a second new customer; a repeat of row 2
# (duplicate); an unknown column that is ignored
CSV_TEXT = ("姓名,手机号,邮箱,城市,备注列\n"
            "张三,13800138000,zhang@example.com,深圳,x\n"
            "李四,not-a-mobile,,广州,y\n"
            ",,,,\n"
            "王五,13800138001,,北京,z\n"
            "张三又来,13800138000,,深圳,dup\n")
EXPECTED = {"rows": 5, "empty": 1, "invalid": 1, "duplicate": 1, "created": 2, "updated": 0, "unchanged": 0}


def csv_bytes(encoding: str = "utf-8") -> bytes:
    return CSV_TEXT.encode(encoding)


@pytest.fixture(name="importer")
def importer_fixture(db):
    """May import and see customers, own data scope (sees only their own imports)."""
    role = Role.objects.create(name="导入员", code="importer", data_scope=DataScope.OWN,
                               permissions=["customers.customers.view", IMPORT])
    return make_user("importer", role)


@pytest.fixture(name="other_importer")
def other_importer_fixture(db):
    role = Role.objects.create(name="导入员2", code="importer2", data_scope=DataScope.OWN,
                               permissions=["customers.customers.view", IMPORT])
    return make_user("importer2", role)


@pytest.fixture(name="viewer")
def viewer_fixture(db):
    """Sees customers but may not import."""
    role = Role.objects.create(name="查看", code="viewer", data_scope=DataScope.ALL,
                               permissions=["customers.customers.view", "customers.customers.create"])
    return make_user("viewer", role)


@pytest.fixture(name="boss")
def boss_fixture(db):
    """May import, unrestricted data scope (sees everyone's imports)."""
    role = Role.objects.create(name="导入主管", code="import-boss", data_scope=DataScope.ALL,
                               permissions=["customers.customers.view", IMPORT])
    return make_user("boss", role)


@pytest.fixture(name="manual_tag")
def manual_tag_fixture(db):
    from shoal.core.actors import SYSTEM
    from shoal.tags import services

    category = TagCategory.objects.create(name="来源")
    return services.tag_create(actor=SYSTEM, data={"name": "展会", "category_id": category.pk, "kind": TagKind.MANUAL})


def run_worker(run_id: int):
    """What the worker does with a queued import (the task, run in this process)."""
    from shoal.imports.tasks import run_import

    return run_import.call(run_id)


# -- real HTTP against the live server (as tests/http/conftest.py, for this directory) ----------------------
@pytest.fixture(name="http")
def http_fixture(live_server, transactional_db):
    """An httpx client bound to the live server."""
    import httpx

    with httpx.Client(base_url=live_server.url, timeout=60, follow_redirects=False) as client:
        yield client


@pytest.fixture(name="session_http")
def session_http_fixture(live_server, transactional_db):
    """Log a user in through the real login form: an httpx client with the session cookie and ``csrf``."""
    import httpx

    clients = []

    def login(username, password="secret-pass-1"):
        client = httpx.Client(base_url=live_server.url, timeout=60, follow_redirects=False)
        clients.append(client)
        client.get("/login/")
        token = client.cookies.get("csrftoken")
        response = client.post("/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                               headers={"Referer": live_server.url + "/login/"})
        assert response.status_code == 302, response.text[:300]
        client.csrf = client.cookies.get("csrftoken")
        return client

    yield login
    for client in clients:
        client.close()


@pytest.fixture(name="raw_token")
def raw_token_fixture(db):
    from shoal.accounts.models import ApiToken

    return lambda user: ApiToken.issue(user)[1]
