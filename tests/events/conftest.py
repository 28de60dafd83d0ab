import pytest
from django.utils import translation

from shoal.accounts import services as accounts
from shoal.core.actors import SYSTEM
from shoal.events.services import types
from shoal.events.services.ingest import Caller, ingest

FIELDS = [
    {"key": "amount", "type": "number", "required": True, "label": "金额"},
    {"key": "sku", "type": "text"},
    {"key": "paid", "type": "boolean"},
    {"key": "day", "type": "date"},
    {"key": "paid_at", "type": "datetime"},
    {"key": "meta", "type": "object"},
    {"key": "items", "type": "list"},
]


@pytest.fixture(autouse=True)
def chinese():
    """The site's default language for every test here, whatever an earlier API call activated."""
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def app(db):
    app, key = accounts.application_create(actor=SYSTEM, name="ERP")
    app.raw_key = key
    return app


@pytest.fixture
def purchase(db):
    return types.event_type_create(actor=SYSTEM, data={"name": "购买", "code": "purchase", "fields": FIELDS})


@pytest.fixture
def login(db):
    return types.event_type_create(actor=SYSTEM, data={"name": "登录", "code": "login"})


def event(i=1, *, code="purchase", customer=None, data=None, **extra):
    body = {"event": code, "id": f"e{i}", "customer": customer or {"ent_user_id": f"u{i}"},
            "data": {"amount": i} if data is None else data}
    body.update(extra)
    return body


def send(app, *items, **caller):
    return ingest(caller=Caller(application=app, **caller), items=list(items))
