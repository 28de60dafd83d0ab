"""Shared fixtures of the strategy tests: an event type, an editor and an approver, a built-in processor
that counts its runs, and helpers to send events through ingestion and the events worker."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest

from shoal.core import processors as registry
from shoal.core.processors import SUCCEEDED, ProcessorSpec, result
from tests.conftest import make_user

FIELDS = [
    {"key": "amount", "type": "number", "label": "Amount", "required": False},
    {"key": "status", "type": "text", "label": "Status", "required": False},
    {"key": "mobile", "type": "text", "label": "Mobile", "required": False},
    {"key": "paid_at", "type": "datetime", "label": "Paid at", "required": False},
]


class Calls:
    """What the test processor ``test_count`` was asked to do (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = Counter()

    def add(self, key):
        with self.lock:
            self.keys[key] += 1


CALLS = Calls()


def _count(*, customer, event_data, params, context):
    CALLS.add(context.delivery_id)
    return result(SUCCEEDED, "")


TEST_PROCESSOR = ProcessorSpec(code="test_count", label="Count (test)", run=_count, order=999)


@pytest.fixture(autouse=True)
def _test_processor():
    """``test_count`` is registered for these tests only (the registry is the process's: other tests list it)."""
    registry.register_processor(TEST_PROCESSOR)
    yield
    if registry.PROCESSORS.get(TEST_PROCESSOR.code) is TEST_PROCESSOR:
        del registry.PROCESSORS[TEST_PROCESSOR.code]


@pytest.fixture
def calls():
    CALLS.keys.clear()
    return CALLS


@pytest.fixture
def event_type(db):
    from shoal.events.models import EventType

    return EventType.objects.create(name="Payment", code="payment", fields=FIELDS)


@pytest.fixture
def editor(roles):
    return make_user("st_editor", roles["admin"])


@pytest.fixture
def approver(roles):
    return make_user("st_approver", roles["admin"])


def strategy_data(**overrides) -> dict:
    data = {"name": "Big payments", "group_id": None, "event": "payment", "valid_from": None, "valid_to": None,
            "conditions": {"field": "amount", "op": "gt", "value": 100}, "customer_conditions": None,
            "actions": [{"processor": "test_count", "params": {}, "delay_hours": None, "at": None}], "order": 1}
    data.update(overrides)
    return data


def approved_strategy(editor, approver, **overrides):
    from shoal.strategies.services import strategies as services

    strategy = services.strategy_create(actor=editor, data=strategy_data(**overrides))
    return services.strategy_approve(actor=approver, strategy=strategy)


def send(*events, code: str = "payment") -> list[dict]:
    """Ingest events (``{"data": …, "mobile": …}``) as the command line would, then run the events worker."""
    from shoal.events.services.ingest import Caller, ingest
    from shoal.events.services.processing import process_pending

    items = [{"event": code, "id": e.get("id") or uuid.uuid4().hex, "customer": {"mobile": e.get("mobile", "13800000001")},
              "data": e.get("data", {})} for e in events]
    results = ingest(caller=Caller(source="cli", rate_limited=False), items=items)
    assert all(r["status"] == "accepted" for r in results), results
    process_pending()
    return results
