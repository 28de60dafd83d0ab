"""In-site messages (站内通知): recipients expanded to users at send time (roles, departments with their
sub-departments), drafts and scheduled messages, one delivery per user, read receipts, attachments, permissions
and scope; the assignment notices of the pools."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.utils import override_settings
from django.utils import timezone

from shoal.accounts.models import Department, Role
from shoal.core import parameters
from shoal.core.errors import ShoalError
from shoal.sales.models import Message, MessageAttachment, MessageStatus, Notification
from shoal.sales.services import messages as svc
from shoal.sales.services.notifications import notification_list
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(personas):
    """A department tree 销售部 → 销售一组 → 一组A, a role, and users in each."""
    top = Department.objects.create(name="销售部")
    team = Department.objects.create(name="销售一组", parent=top)
    sub = Department.objects.create(name="一组A", parent=team)
    other = Department.objects.create(name="运营部")
    role = Role.objects.create(name="客服", code="service")
    people = {
        "top": make_user("m_top", department_ids=[top.pk]),
        "team": make_user("m_team", department_ids=[team.pk]),
        "sub": make_user("m_sub", department_ids=[sub.pk, other.pk]),
        "other": make_user("m_other", department_ids=[other.pk]),
        "service": make_user("m_service", role),
        "gone": make_user("m_gone", department_ids=[sub.pk], is_active=False),
        "nobody": make_user("m_nobody"),
    }
    return {"top": top, "team": team, "sub": sub, "other": other, "role": role, "people": people, **personas}


def ids(*users):
    return sorted(u.pk for u in users)


def test_recipients_expand_to_enabled_users_of_roles_and_department_trees(org):
    p = org["people"]
    assert sorted(svc.expand_recipients(department_ids=[org["team"].pk])) == ids(p["team"], p["sub"])
    assert sorted(svc.expand_recipients(department_ids=[org["top"].pk])) == ids(p["top"], p["team"], p["sub"])
    both = svc.expand_recipients(user_ids=[p["other"].pk, p["sub"].pk], role_ids=[org["role"].pk],
                                 department_ids=[org["team"].pk, org["other"].pk])
    assert sorted(both) == ids(p["team"], p["sub"], p["other"], p["service"])  # each once, no disabled user
    assert svc.expand_recipients() == []


def test_a_draft_reaches_nobody_until_it_is_sent_and_then_once(org):
    manager, p = org["manager"], org["people"]
    draft = svc.message_save(actor=manager, data={"title": "周会通知", "body": "周五下午三点",
                                                  "department_ids": [org["team"].pk]})
    assert draft.status == MessageStatus.DRAFT and not Notification.objects.exists()
    draft = svc.message_save(actor=manager, message=draft, data={
        "title": "周会改期", "body": "改到周六", "department_ids": [org["team"].pk], "role_ids": [org["role"].pk]})
    assert Message.objects.count() == 1
    assert svc.message_send(actor=manager, message=draft) == 3
    notes = Notification.objects.filter(message=draft)
    assert sorted(notes.values_list("user_id", flat=True)) == ids(p["team"], p["sub"], p["service"])
    assert {n.title for n in notes} == {"周会改期"} and {n.kind for n in notes} == {"message"}
    draft.refresh_from_db()
    assert draft.status == MessageStatus.SENT and draft.recipient_count == 3 and draft.sent_at
    with pytest.raises(ShoalError) as sent_twice:
        svc.message_send(actor=manager, message=Message.objects.get(pk=draft.pk))
    assert sent_twice.value.status == 409
    with pytest.raises(ShoalError):
        svc.message_save(actor=manager, message=draft, data={"title": "x", "user_ids": [p["top"].pk]})
    assert notes.count() == 3  # nobody got it twice


def test_a_message_without_recipients_is_not_sent_and_stays_a_draft(org):
    draft = svc.message_save(actor=org["admin"], data={"title": "空", "user_ids": [org["people"]["gone"].pk]})
    with pytest.raises(ShoalError) as error:
        svc.message_send(actor=org["admin"], message=draft)
    assert error.value.code == "no_recipients"
    assert Message.objects.get(pk=draft.pk).status == MessageStatus.DRAFT
    with pytest.raises(ShoalError):
        svc.message_create_and_send(actor=org["admin"], data={"title": "空", "role_ids": []})
    assert Message.objects.count() == 1


def test_bad_recipient_ids_and_text_are_refused(org):
    for data in ({"title": "", "user_ids": [org["people"]["top"].pk]},
                 {"title": "x" * 201},
                 {"title": "t", "role_ids": [10**9]},
                 {"title": "t", "department_ids": "1"},
                 {"title": "t\x00"}):
        with pytest.raises(ShoalError) as error:
            svc.message_save(actor=org["admin"], data=data)
        assert error.value.status == 400
    assert not Message.objects.exists()


def test_a_scheduled_message_goes_out_once_at_its_time(org):
    p = org["people"]
    at = timezone.now() + timedelta(hours=1)
    message = svc.message_save(actor=org["admin"], data={"title": "系统升级", "user_ids": [p["top"].pk, p["other"].pk],
                                                         "send_at": at})
    assert message.status == MessageStatus.SCHEDULED
    assert svc.send_scheduled_messages(now=at - timedelta(minutes=1)) == {"sent": 0, "recipients": 0}
    assert svc.send_scheduled_messages(now=at) == {"sent": 1, "recipients": 2}
    assert svc.send_scheduled_messages(now=at + timedelta(minutes=1)) == {"sent": 0, "recipients": 0}
    assert Notification.objects.filter(message=message).count() == 2
    # one whose recipients left meanwhile goes back to the drafts
    gone = svc.message_save(actor=org["admin"], data={"title": "x", "user_ids": [p["nobody"].pk], "send_at": at})
    p["nobody"].is_active = False
    p["nobody"].save()
    assert svc.send_scheduled_messages(now=at)["sent"] == 0
    assert Message.objects.get(pk=gone.pk).status == MessageStatus.DRAFT


def test_read_receipts_show_who_read_and_when(org):
    p = org["people"]
    message = svc.message_create_and_send(actor=org["manager"], data={
        "title": "新政策", "body": "详见附件", "user_ids": [p["top"].pk, p["team"].pk, p["other"].pk]})
    assert svc.read_counts(message) == {"recipients": 3, "read": 0, "unread": 3}
    read, delivery = svc.message_for_reader(actor=p["team"], pk=message.pk)
    assert read.pk == message.pk and delivery.read_at is not None
    receipts = list(svc.message_receipts(actor=org["manager"], message=message))
    assert [r.user_id for r in receipts if r.read_at] == [p["team"].pk]
    assert svc.read_counts(message) == {"recipients": 3, "read": 1, "unread": 2}
    unread = svc.message_receipts(actor=org["manager"], message=message, unread=True)
    assert [r.user_id for r in unread] == [p["other"].pk, p["top"].pk]  # by account
    listed = svc.message_list(actor=org["manager"]).get(pk=message.pk)
    assert listed.read_count == 1


def test_a_salesperson_may_not_send_and_strangers_do_not_read(org):
    sales, p = org["salesperson"], org["people"]
    for call in (lambda: svc.message_create_and_send(actor=sales, data={"title": "x", "user_ids": [p["top"].pk]}),
                 lambda: svc.message_save(actor=sales, data={"title": "x"}),
                 lambda: svc.message_list(actor=sales)):
        with pytest.raises(ShoalError) as error:
            call()
        assert error.value.status == 403
    message = svc.message_create_and_send(actor=org["admin"], data={"title": "仅限一组", "user_ids": [p["team"].pk]})
    with pytest.raises(ShoalError) as error:
        svc.message_for_reader(actor=p["other"], pk=message.pk)
    assert error.value.status == 404
    svc.message_for_reader(actor=org["manager"], pk=message.pk)  # a manager of messages may read it
    assert not Notification.objects.filter(message=message, read_at__isnull=False).exists()  # not a receipt


def test_drafts_belong_to_their_author(org):
    draft = svc.message_save(actor=org["admin"], data={"title": "草稿", "user_ids": [org["people"]["top"].pk]})
    assert not svc.message_list(actor=org["manager"], status="draft").filter(pk=draft.pk).exists()
    assert svc.message_list(actor=org["admin"], status="draft").filter(pk=draft.pk).exists()
    with pytest.raises(ShoalError):
        svc.message_get(actor=org["manager"], pk=draft.pk)


def test_users_see_only_their_own_notifications(org):
    p = org["people"]
    svc.message_create_and_send(actor=org["admin"], data={"title": "给一组", "user_ids": [p["team"].pk]})
    assert notification_list(actor=p["team"]).count() == 1
    assert notification_list(actor=p["top"]).count() == 0
    assert notification_list(actor=None).count() == 0


def test_attachments_are_stored_outside_media_within_the_size_limit(org, tmp_path,
                                                                  django_capture_on_commit_callbacks):
    with override_settings(SHOAL_ATTACHMENTS_ROOT=str(tmp_path)):
        draft = svc.message_save(actor=org["admin"], data={"title": "附件", "user_ids": [org["people"]["top"].pk]})
        attachment = svc.attachment_add(actor=org["admin"], message=draft,
                                        upload=SimpleUploadedFile("报价单.pdf", b"%PDF-1.4 x", "application/pdf"))
        path = tmp_path / attachment.file.name
        assert path.read_bytes() == b"%PDF-1.4 x" and attachment.original_name == "报价单.pdf"
        assert attachment.file.name.startswith(f"messages/{draft.pk}/")
        parameters.set_value("ATTACHMENT_MAX_FILE_MB", 1, actor=None)
        with pytest.raises(ShoalError) as error:
            svc.attachment_add(actor=org["admin"], message=draft,
                               upload=SimpleUploadedFile("big.bin", b"0" * (1024 * 1024 + 1)))
        assert error.value.status == 413 and MessageAttachment.objects.count() == 1
        with pytest.raises(ShoalError):  # not the author's
            svc.attachment_add(actor=org["manager"], message=draft, upload=SimpleUploadedFile("a.txt", b"a"))
        with django_capture_on_commit_callbacks(execute=True):
            svc.message_delete(actor=org["admin"], message=draft)
        assert not MessageAttachment.objects.exists() and not path.exists()


def test_the_send_permission_alone_sends_at_once(org):
    sender = make_user("m_sender", Role.objects.create(name="通知员", code="notifier",
                                                       permissions=["sales.messages.send"]))
    message = svc.message_create_and_send(actor=sender, data={"title": "停电通知", "user_ids": [org["people"]["top"].pk]})
    assert message.status == MessageStatus.SENT and message.sender_id == sender.pk
    with pytest.raises(ShoalError) as error:  # but keeps no drafts
        svc.message_save(actor=sender, data={"title": "草稿"})
    assert error.value.status == 403
