"""Notifications and in-site messages over real HTTP (live server, httpx): with a Bearer token, and with a browser
session whose writes must carry the CSRF token."""

import pytest

from shoal.accounts.models import Department
from shoal.sales.models import Notification
from shoal.sales.services import notify
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(roles):
    dept = Department.objects.create(name="销售部")
    sub = Department.objects.create(name="销售一组", parent=dept)
    return {"admin": make_user("h_admin", roles["admin"]), "manager": make_user("h_manager", roles["manager"]),
            "sales": make_user("h_sales", roles["salesperson"], department_ids=[sub.pk]),
            "sales2": make_user("h_sales2", roles["salesperson"], department_ids=[dept.pk]),
            "dept": dept, "roles": roles}


def bearer(raw_token, user):
    return {"Authorization": f"Bearer {raw_token(user)}"}


def test_a_token_user_lists_filters_and_marks_their_notifications(http, people, raw_token):
    me, other = people["sales"], people["sales2"]
    for i in range(3):
        notify(user_ids=[me.pk], kind="task_reminder", title=f"任务提醒 {i}")
    notify(user_ids=[other.pk], kind="x", title="别人的")
    headers = bearer(raw_token, me)
    page = http.get("/api/v1/notifications", headers=headers).json()
    assert set(page) == {"items", "total", "unread"}
    assert (page["total"], page["unread"]) == (3, 3)
    assert [n["title"] for n in page["items"]] == ["任务提醒 2", "任务提醒 1", "任务提醒 0"]  # newest first
    first = page["items"][0]["id"]
    r = http.post("/api/v1/notifications/read", headers=headers, json={"ids": [first]})
    assert r.status_code == 200 and r.json() == {"read": 1, "unread": 2}
    unread = http.get("/api/v1/notifications", headers=headers, params={"unread": "true"}).json()
    assert unread["total"] == unread["unread"] == 2 and first not in [n["id"] for n in unread["items"]]
    paged = http.get("/api/v1/notifications", headers=headers, params={"page": 2, "page_size": 2}).json()
    assert len(paged["items"]) == 1 and paged["total"] == 3
    # someone else's id is not theirs to mark; then all of the caller's
    theirs = Notification.objects.get(user=other).pk
    assert http.post("/api/v1/notifications/read", headers=headers, json={"ids": [theirs]}).json()["read"] == 0
    assert http.post("/api/v1/notifications/read", headers=headers, json={"all": True}).json() == {"read": 2,
                                                                                                   "unread": 0}
    assert Notification.objects.get(pk=theirs).read_at is None
    # bad bodies: neither, both, a misspelt key, a page out of range
    for body in ({}, {"ids": [1], "all": True}, {"id": [1]}, {"ids": "1"}):
        r = http.post("/api/v1/notifications/read", headers=headers, json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] in ("invalid", "validation_error"), body
    assert http.get("/api/v1/notifications", headers=headers, params={"page": 0}).status_code == 400
    assert http.get("/api/v1/notifications").status_code == 401


def test_a_manager_sends_a_message_and_reads_its_receipts(http, people, raw_token):
    manager = bearer(raw_token, people["manager"])
    body = {"title": "月度例会", "body": "周五 15:00 三楼会议室。" + "请准时参加。" * 50, "user_ids": [people["admin"].pk],
            "role_ids": [], "department_ids": [people["dept"].pk]}
    r = http.post("/api/v1/messages", headers=manager, json=body)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["recipients"] == 3 and sent["status"] == "sent"  # the admin, and both salespeople of the tree
    reader = bearer(raw_token, people["sales"])
    item = http.get("/api/v1/notifications", headers=reader).json()["items"][0]
    assert item["kind"] == "message" and item["message_id"] == sent["id"] and item["title"] == "月度例会"
    assert item["body"] == body["body"]
    http.post("/api/v1/notifications/read", headers=reader, json={"ids": [item["id"]]})
    detail = http.get(f"/api/v1/messages/{sent['id']}", headers=manager).json()
    assert (detail["recipients"], detail["read"], detail["unread"]) == (3, 1, 2)
    assert detail["body"] == body["body"] and detail["attachments"] == []
    receipts = http.get(f"/api/v1/messages/{sent['id']}/receipts", headers=manager, params={"unread": "false"}).json()
    assert [(r["username"], r["read_at"] is not None) for r in receipts["items"]] == [("h_sales", True)]
    listed = http.get("/api/v1/messages", headers=manager).json()
    assert listed["items"][0]["id"] == sent["id"] and listed["items"][0]["read"] == 1


def test_a_salesperson_may_not_send_and_bad_recipients_are_400(http, people, raw_token):
    sales = bearer(raw_token, people["sales"])
    r = http.post("/api/v1/messages", headers=sales, json={"title": "x", "user_ids": [people["admin"].pk]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert http.get("/api/v1/messages", headers=sales).status_code == 403
    admin = bearer(raw_token, people["admin"])
    for body in ({"title": "x"}, {"title": "x", "user_ids": [10**12]}, {"title": "", "user_ids": [1]},
                 {"title": "x", "user_ids": [1], "cc": []}, {"title": "x" * 201, "user_ids": [1]}):
        r = http.post("/api/v1/messages", headers=admin, json=body)
        assert r.status_code == 400, (body, r.text)
        assert "error" in r.json()
    assert http.get("/api/v1/messages/999999", headers=admin).status_code == 404
    assert not Notification.objects.exists()


def test_a_session_marks_read_only_with_the_csrf_token(session_http, people):
    notify(user_ids=[people["sales"].pk], kind="x", title="会话里的通知")
    client = session_http("h_sales")
    assert client.get("/api/v1/notifications").json()["unread"] == 1
    assert client.post("/api/v1/notifications/read", json={"all": True}).status_code == 403
    assert Notification.objects.get().read_at is None
    r = client.post("/api/v1/notifications/read", json={"all": True}, headers={"X-CSRFToken": client.csrf})
    assert r.status_code == 200 and r.json()["read"] == 1
    # the bell on a page, and the notification list page
    notify(user_ids=[people["sales"].pk], kind="x", title="第二条")
    page = client.get("/sales/notifications/")
    assert page.status_code == 200 and 'id="bell-count"' in page.text and "第二条" in page.text
