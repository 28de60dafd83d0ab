"""The strategy pages' forms: groups, enabling and disabling, deleting, cancelling; bad input is a message."""

import pytest

from shoal.strategies.models import Strategy, StrategyGroup, StrategyTask, TaskStatus
from tests.conftest import make_user
from tests.strategies.conftest import approved_strategy, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, editor):
    client.force_login(editor)
    return client


def test_groups_are_added_renamed_and_deleted(logged_in, event_type):
    logged_in.post("/strategies/groups/save/", {"name": "还款"})
    group = StrategyGroup.objects.get()
    logged_in.post("/strategies/groups/save/", {"id": group.pk, "name": "还款策略组"})
    assert StrategyGroup.objects.get().name == "还款策略组"
    response = logged_in.post("/strategies/groups/save/", {"name": ""}, follow=True)
    assert response.status_code == 200 and StrategyGroup.objects.count() == 1
    logged_in.post(f"/strategies/groups/{group.pk}/delete/")
    assert not StrategyGroup.objects.exists()


def test_disable_and_enable_selected(logged_in, event_type, editor, approver):
    strategy = approved_strategy(editor, approver, actions=[{"processor": "test_count", "delay_hours": 3}])
    send({"data": {"amount": 500}})
    logged_in.post("/strategies/enable/", {"ids": [strategy.pk], "enabled": "0"})
    assert not Strategy.objects.get().enabled
    assert StrategyTask.objects.get().status == TaskStatus.CANCELLED
    logged_in.post("/strategies/enable/", {"ids": [strategy.pk, "x"], "enabled": "1"})
    assert Strategy.objects.get().enabled


def test_enabling_an_unreviewed_strategy_is_a_message_not_an_error(logged_in, event_type, editor):
    from shoal.strategies.services import strategies as services
    from tests.strategies.conftest import strategy_data

    strategy = services.strategy_create(actor=editor, data=strategy_data())
    response = logged_in.post("/strategies/enable/", {"ids": [strategy.pk], "enabled": "1"}, follow=True)
    assert response.status_code == 200 and not Strategy.objects.get().enabled
    assert "审核" in response.content.decode()


def test_delete_and_cancel_from_the_pages(logged_in, event_type, editor, approver):
    strategy = approved_strategy(editor, approver, actions=[{"processor": "test_count", "delay_hours": 3}])
    send({"data": {"amount": 500}}, {"data": {"amount": 600}})
    first, second = StrategyTask.objects.order_by("id")
    logged_in.post("/strategies/tasks/cancel/", {"ids": [first.pk], "next": "//evil.example/"})
    assert StrategyTask.objects.get(pk=first.pk).status == TaskStatus.CANCELLED
    page = logged_in.get("/strategies/tasks/?status=pending&page=abc&strategy=x")
    assert page.status_code == 200 and f'data-task="{second.pk}"' in page.content.decode()
    logged_in.post(f"/strategies/{strategy.pk}/delete/")
    assert not Strategy.objects.exists()


def test_a_salesperson_cannot_use_the_forms(client, roles, event_type, editor, approver):
    strategy = approved_strategy(editor, approver)
    client.force_login(make_user("st_seller", roles["salesperson"]))
    assert client.post("/strategies/enable/", {"ids": [strategy.pk], "enabled": "0"}).status_code == 403
    assert client.post(f"/strategies/{strategy.pk}/delete/").status_code == 403
    assert client.post("/strategies/groups/save/", {"name": "x"}).status_code == 403
    assert Strategy.objects.get().enabled
