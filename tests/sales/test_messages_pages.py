"""The pages: the header's bell on every page (one small query), the notification list (mark read, mark all
read, only one's own), writing a message with an attachment (draft, then send), reading it, read receipts."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from shoal.sales.models import Message, MessageStatus, Notification
from shoal.sales.services import notify
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def bell(html: str) -> str | None:
    match = re.search(r'id="bell-count"[^>]*>([^<]*)<', html)
    return match.group(1) if match else None


@pytest.mark.parametrize("url", ["admin:index", "admin:notifications", "admin:my_permissions"])
def test_the_bell_counts_unread_notifications_on_every_page_in_one_query(client, personas, url):
    user = personas["salesperson"]
    notify(user_ids=[user.pk], kind="x", title="a")
    notify(user_ids=[user.pk, personas["admin"].pk], kind="x", title="b")
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse(url)).content.decode()
    assert bell(html) == "2"
    table = Notification._meta.db_table
    reads = [q["sql"] for q in queries.captured_queries if table in q["sql"]]
    bell_reads = [sql for sql in reads if "COUNT" in sql.upper() and "LIMIT 100" in sql.upper()]
    assert len(bell_reads) == 1  # the bell: a count of at most 100 rows
    if url != "admin:notifications":
        assert reads == bell_reads  # and nothing else about notifications on an ordinary page
    Notification.objects.filter(user=user).update(read_at="2024-01-01T00:00:00Z")
    assert bell(client.get(reverse(url)).content.decode()) is None


def test_the_bell_caps_its_count(client, personas):
    user = personas["norole"]
    for i in range(101):
        notify(user_ids=[user.pk], kind="x", title=str(i))
    client.force_login(user)
    assert bell(client.get("/").content.decode()) == "99+"


def test_the_list_marks_read_one_and_all_and_shows_only_ones_own(client, personas):
    me, other = personas["salesperson"], personas["manager"]
    notify(user_ids=[me.pk], kind="recycle_warning", title="2 个客户即将被回收")
    notify(user_ids=[me.pk], kind="task_reminder", title="任务提醒：回访")
    notify(user_ids=[other.pk], kind="x", title="别人的通知")
    client.force_login(me)
    html = client.get(reverse("admin:notifications")).content.decode()
    assert "2 个客户即将被回收" in html and "任务提醒：回访" in html and "别人的通知" not in html
    mine = Notification.objects.filter(user=me).order_by("pk")
    theirs = Notification.objects.get(user=other)
    response = client.post(reverse("admin:notifications_read"), {"ids": [mine[0].pk, theirs.pk]})
    assert response.status_code == 302
    assert list(Notification.objects.filter(user=me, read_at__isnull=True)) == [mine[1]]
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    unread = client.get(reverse("admin:notifications") + "?filter=unread").content.decode()
    assert "任务提醒：回访" in unread and "2 个客户即将被回收" not in unread
    client.post(reverse("admin:notifications_read"), {"all": "1"})
    assert not Notification.objects.filter(user=me, read_at__isnull=True).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, personas):
    me = personas["salesperson"]
    notify(user_ids=[me.pk], kind="x", title="t", link="/pools/my-customers/")
    notify(user_ids=[personas["admin"].pk], kind="x", title="t", link="/pools/my-customers/")
    mine, theirs = Notification.objects.get(user=me), Notification.objects.get(user=personas["admin"])
    client.force_login(me)
    response = client.get(reverse("admin:notification_open", args=[mine.pk]))
    assert response.status_code == 302 and response["Location"] == "/pools/my-customers/"
    assert Notification.objects.get(pk=mine.pk).read_at is not None
    assert client.get(reverse("admin:notification_open", args=[theirs.pk])).status_code == 404
    menu = client.get(reverse("admin:notifications_bell")).content.decode()
    assert "No unread notifications" in menu or "没有未读通知" in menu


def test_a_manager_writes_a_draft_with_an_attachment_then_sends_it(client, personas, tmp_path):
    manager, reader, stranger = personas["manager"], personas["salesperson"], personas["norole"]
    client.force_login(manager)
    with override_settings(SHOAL_ATTACHMENTS_ROOT=str(tmp_path)):
        response = client.post(reverse("admin:message_add"), {
            "title": "五一值班安排", "body": "请查看附件", "user_ids": [reader.pk], "save": "1",
            "files": [SimpleUploadedFile("值班表.xlsx", b"PK\x03\x04 data")]})
        assert response.status_code == 302, response.content.decode()[:2000]
        message = Message.objects.get()
        assert message.status == MessageStatus.DRAFT and message.attachments.count() == 1
        assert not Notification.objects.exists()
        form = client.get(reverse("admin:message_edit", args=[message.pk])).content.decode()
        assert "值班表.xlsx" in form and "五一值班安排" in form
        response = client.post(reverse("admin:message_edit", args=[message.pk]), {
            "title": "五一值班安排（更新）", "body": "请查看附件", "user_ids": [reader.pk], "send": "1"})
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:message_receipts", args=[message.pk])
        note = Notification.objects.get(user=reader)
        assert note.message_id == message.pk and note.title == "五一值班安排（更新）"
        attachment = message.attachments.get()
        download = reverse("admin:message_attachment", args=[message.pk, attachment.pk])
        # the recipient reads it (a read receipt) and downloads the file; a stranger gets 404
        client.force_login(reader)
        page = client.get(reverse("admin:message_read", args=[message.pk])).content.decode()
        assert "请查看附件" in page and "值班表.xlsx" in page
        assert Notification.objects.get(user=reader).read_at is not None
        assert b"".join(client.get(download).streaming_content) == b"PK\x03\x04 data"
        client.force_login(stranger)
        assert client.get(reverse("admin:message_read", args=[message.pk])).status_code == 404
        assert client.get(download).status_code == 404
        client.force_login(manager)
        receipts = client.get(reverse("admin:message_receipts", args=[message.pk])).content.decode()
        assert reader.username in receipts and 'data-count="read">1<' in receipts
        listed = client.get(reverse("admin:messages")).content.decode()
        assert "五一值班安排（更新）" in listed


def test_a_bad_form_keeps_what_was_typed_and_sends_nothing(client, personas):
    client.force_login(personas["admin"])
    response = client.post(reverse("admin:message_add"), {"title": "没人收", "body": "x", "send": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "没人收" in html and not Notification.objects.exists() and not Message.objects.exists()


def test_a_salesperson_has_no_message_pages_but_reads_notifications(client, personas):
    client.force_login(personas["salesperson"])
    for name in ("admin:messages", "admin:message_add"):
        assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse("admin:message_add"), {"title": "x", "user_ids": [personas["admin"].pk],
                                                      "send": "1"}).status_code == 403
    assert not Message.objects.exists()
    assert client.get(reverse("admin:notifications")).status_code == 200


def test_a_manager_without_send_saves_drafts_only(client, personas, roles):
    from shoal.accounts.models import Role

    writer = Role.objects.create(name="写手", code="writer", permissions=["sales.messages.view", "sales.messages.create"])
    user = make_user("m_writer", writer)
    client.force_login(user)
    page = client.get(reverse("admin:message_add")).content.decode()
    assert 'name="save"' in page and 'name="send"' not in page
    response = client.post(reverse("admin:message_add"), {"title": "试发", "user_ids": [personas["admin"].pk],
                                                          "send": "1"})
    assert response.status_code == 200 and not Notification.objects.exists()
