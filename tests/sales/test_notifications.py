import pytest

from shoal.sales.services import notification_list, notification_read, notify
from tests.conftest import make_user


@pytest.mark.django_db(transaction=False)
def test_notify_idempotent():
    u, v = make_user("n1"), make_user("n2")
    assert notify(user_ids=[u.pk, v.pk], kind="recycle_warning", title="t", key="k1") == 2
    assert notify(user_ids=[u.pk, v.pk], kind="recycle_warning", title="t", key="k1") == 0
    assert notify(user_ids=[u.pk], kind="x", title="t") == 1
    assert notify(user_ids=[u.pk], kind="x", title="t") == 1
    assert notification_list(actor=u).count() == 3
    assert notification_read(actor=u) == 3
    assert notification_list(actor=u, unread=True).count() == 0
