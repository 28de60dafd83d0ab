"""Strategies: what a save refuses, the review (approval) flow, disabling and deleting."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from shoal.core import parameters
from shoal.core.errors import ShoalError
from shoal.strategies.models import Strategy, StrategyTask, TaskStatus
from shoal.strategies.services import strategies as services
from tests.conftest import make_user
from tests.strategies.conftest import approved_strategy, send, strategy_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def _refused(actor, code, **overrides):
    with pytest.raises(ShoalError) as err:
        services.strategy_create(actor=actor, data=strategy_data(**overrides))
    assert err.value.code == code, (err.value.code, err.value.message)
    return err.value


# -- what a save refuses ---------------------------------------------------------------------------------
@pytest.fixture
def sms_template(db):
    from shoal.automation.models import MessageTemplate

    return MessageTemplate.objects.create(channel="sms", name="Paid", code="paid", content="Paid ${amount}, ${who}")


def test_a_placeholder_the_event_does_not_define_is_refused(event_type, editor, sms_template):
    error = _refused(editor, "unknown_placeholders", actions=[
        {"processor": "sms", "params": {"template": "paid", "variables": {"who": "${coupon}"}}}])
    assert error.detail["placeholders"] == ["coupon"] and error.detail["index"] == 0
    assert not Strategy.objects.exists()


def test_a_template_placeholder_the_event_does_not_define_is_refused(event_type, editor, sms_template):
    sms_template.content = "Your coupon ${coupon}"
    sms_template.save()
    error = _refused(editor, "unknown_placeholders", actions=[{"processor": "sms", "params": {"template": "paid"}}])
    assert error.detail["placeholders"] == ["coupon"]


def test_placeholders_the_event_or_the_customer_define_are_accepted(event_type, editor, sms_template):
    strategy = services.strategy_create(actor=editor, data=strategy_data(actions=[
        {"processor": "sms", "params": {"template": "paid", "mobile": "${mobile}",
                                        "variables": {"who": "${customer.name} ${event.id}"}}}]))
    assert strategy.actions.get().params["mobile"] == "${mobile}"


def test_changing_the_event_type_checks_the_placeholders_again(event_type, editor, sms_template):
    from shoal.events.models import EventType

    EventType.objects.create(name="Login", code="login", fields=[{"key": "ip", "type": "text", "label": "IP"}])
    strategy = services.strategy_create(actor=editor, data=strategy_data(
        conditions=None, actions=[{"processor": "test_count", "params": {}},
                                  {"processor": "sms", "params": {"template": "paid", "variables": {"who": "x"}}}]))
    with pytest.raises(ShoalError) as err:
        services.strategy_update(actor=editor, strategy=strategy, data={"event": "login"})
    assert err.value.code == "unknown_placeholders"


@pytest.mark.parametrize("overrides, code", [
    ({"conditions": {"field": "nope", "op": "eq", "value": 1}}, "invalid_condition"),
    ({"conditions": {"field": "amount", "op": "contains", "value": "1"}}, "invalid_condition"),
    ({"customer_conditions": {"field": "nope", "op": "eq", "value": 1}}, "invalid_condition"),
    ({"event": "nope"}, "unknown_event"),
    ({"actions": []}, "invalid"),
    ({"actions": [{"processor": "nope"}]}, "unknown_processor"),
    ({"actions": [{"processor": "test_count", "delay_hours": 2, "at": "2030-01-01T00:00:00"}]}, "invalid"),
    ({"actions": [{"processor": "test_count", "delay_hours": -1}]}, "invalid"),
    ({"valid_from": "2030-01-02T00:00:00", "valid_to": "2030-01-01T00:00:00"}, "invalid"),
])
def test_bad_strategies_are_refused(event_type, editor, overrides, code):
    _refused(editor, code, **overrides)


def test_condition_rows_become_the_tree(event_type, editor):
    rows = [{"lparen": "(", "field": "amount", "op": "gt", "value": 100, "logic": "or"},
            {"field": "status", "op": "eq", "value": "vip", "rparen": ")"}]
    strategy = services.strategy_create(actor=editor, data=strategy_data(conditions=None, condition_rows=rows))
    assert strategy.conditions == {"any": [{"field": "amount", "op": "gt", "value": 100},
                                           {"field": "status", "op": "eq", "value": "vip"}]}
    assert strategy.condition_rows == rows


# -- review ----------------------------------------------------------------------------------------------
def test_a_new_strategy_is_disabled_until_another_user_approves_it(event_type, editor, approver):
    strategy = services.strategy_create(actor=editor, data=strategy_data())
    assert not strategy.enabled and not strategy.approved
    with pytest.raises(ShoalError) as err:
        services.strategy_approve(actor=editor, strategy=strategy)
    assert err.value.code == "self_approval" and err.value.status == 403
    strategy = services.strategy_approve(actor=approver, strategy=strategy)
    assert strategy.enabled and strategy.approved and strategy.approved_by == approver


def test_self_approval_is_allowed_by_the_parameter(event_type, editor):
    parameters.set_value("STRATEGY_SELF_APPROVAL", True)
    strategy = services.strategy_create(actor=editor, data=strategy_data())
    assert services.strategy_approve(actor=editor, strategy=strategy).enabled


def test_approving_needs_the_permission(event_type, editor, roles):
    manager = make_user("st_manager", roles["manager"])
    strategy = services.strategy_create(actor=editor, data=strategy_data())
    with pytest.raises(ShoalError) as err:
        services.strategy_approve(actor=manager, strategy=strategy)
    assert err.value.status == 403 and err.value.detail["permission"] == "marketing.strategies.approve"


def test_a_changed_strategy_needs_a_review_again_and_stops(event_type, editor, approver, calls):
    strategy = approved_strategy(editor, approver)
    strategy = services.strategy_update(actor=editor, strategy=strategy,
                                        data={"conditions": {"field": "amount", "op": "gt", "value": 500}})
    assert not strategy.enabled and not strategy.approved and strategy.revision == 2
    send({"data": {"amount": 900}})
    assert not StrategyTask.objects.exists()
    with pytest.raises(ShoalError) as err:
        services.strategy_update(actor=editor, strategy=strategy, data={"enabled": True})
    assert err.value.code == "review_required" and err.value.status == 409
    strategy = services.strategy_approve(actor=approver, strategy=strategy)
    assert strategy.enabled and strategy.approved_revision == 2


def test_changed_actions_need_a_review_and_keep_the_old_rows(event_type, editor, approver):
    strategy = approved_strategy(editor, approver)
    old = strategy.actions.get()
    strategy = services.strategy_update(actor=editor, strategy=strategy, data={
        "actions": [{"processor": "test_count", "params": {}, "delay_hours": 2}]})
    assert not strategy.approved
    old.refresh_from_db()
    assert not old.active and strategy.actions.filter(active=True).get().delay_hours == 2


def test_name_group_and_order_are_not_reviewed(event_type, editor, approver):
    strategy = approved_strategy(editor, approver)
    group = services.group_create(actor=editor, data={"name": "Payments"})
    strategy = services.strategy_update(actor=editor, strategy=strategy,
                                        data={"name": "Renamed", "order": 5, "group_id": group.pk,
                                              "conditions": {"field": "amount", "op": "gt", "value": 100}})
    assert strategy.enabled and strategy.approved and strategy.revision == 1


def test_the_approver_may_not_be_the_last_editor(event_type, editor, approver):
    strategy = approved_strategy(editor, approver)
    strategy = services.strategy_update(actor=approver, strategy=strategy, data={"valid_to": "2099-01-01T00:00:00"})
    with pytest.raises(ShoalError):
        services.strategy_approve(actor=approver, strategy=strategy)
    assert services.strategy_approve(actor=editor, strategy=strategy).enabled


# -- disabling, deleting -----------------------------------------------------------------------------------
def test_disabling_cancels_the_pending_tasks_and_reenabling_needs_no_review(event_type, editor, approver):
    strategy = approved_strategy(editor, approver,
                                 actions=[{"processor": "test_count", "params": {}, "delay_hours": 24}])
    send({"data": {"amount": 150}}, {"data": {"amount": 250}})
    assert StrategyTask.objects.filter(status=TaskStatus.PENDING).count() == 2
    services.strategy_update(actor=editor, strategy=strategy, data={"enabled": False})
    assert StrategyTask.objects.filter(status=TaskStatus.CANCELLED, error="strategy_disabled").count() == 2
    from shoal.events.models import EventResult

    assert set(EventResult.objects.exclude(processor="").values_list("status", flat=True)) == {"cancelled"}
    strategy = services.strategy_update(actor=editor, strategy=strategy, data={"enabled": True})
    assert strategy.enabled


def test_deleting_a_strategy_cancels_and_removes_its_tasks(event_type, editor, approver):
    strategy = approved_strategy(editor, approver,
                                 actions=[{"processor": "test_count", "params": {}, "delay_hours": 24}])
    send({"data": {"amount": 150}})
    services.strategy_delete(actor=editor, strategy=strategy)
    assert not Strategy.objects.exists() and not StrategyTask.objects.exists()


def test_the_event_registry_names_the_strategies_using_a_type(event_type, editor):
    from shoal.events.hooks import event_type_users

    services.strategy_create(actor=editor, data=strategy_data(name="Uses payment"))
    assert event_type_users(event_type) == ["Uses payment"]


def test_a_window_in_the_past_matches_nothing(event_type, editor, approver, calls):
    approved_strategy(editor, approver, valid_to=(timezone.now() - timedelta(days=1)).isoformat())
    send({"data": {"amount": 900}})
    assert not StrategyTask.objects.exists()
