"""The pages of notifications and in-site messages (站内通知): the user's own notifications (the bell's list, mark
read, mark all read), the bell's drop-down, and the message management pages (list, write / edit a draft with
attachments, send now or later, read receipts) and the recipient's view of a message.

They parse, call one service or selector, render; a service's refusal (``ShoalError``) is a message on the page."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shoal.accounts.models import Department, Role
from shoal.core.auth import page_requires, user_can
from shoal.core.errors import ShoalError
from shoal.core.views import page
from shoal.pools.forms_groups import user_choices
from shoal.tags.forms import INPUT

from .models import MessageStatus
from .services import messages as services
from .services import notifications as notes

PAGE_SIZE = 50
LIST_SIZE = 20
BELL_ITEMS = 8


def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _page_number(request) -> int:
    return min(_int(request.GET.get("page")) or 1, 100_000)


# -- the user's notifications ---------------------------------------------------------------------------------
def notification_list_page(request):
    """Every user's own notifications (消息): all or unread, newest first; mark read, mark all read."""
    unread = request.GET.get("filter") == "unread"
    qs = notes.notification_list(actor=request.user, unread=True if unread else None).select_related("message")
    paginator = Paginator(qs, PAGE_SIZE)
    page_obj = paginator.get_page(_page_number(request))
    return page(request, "sales/messages/notifications.html", {
        "title": _("My notifications"), "page_obj": page_obj, "rows": page_obj.object_list, "unread_only": unread,
        "unread_count": notes.unread_count(actor=request.user), "kind_labels": notes.kind_labels(),
        "query": "filter=unread" if unread else ""})


@require_POST
def notifications_read(request):
    """Mark the chosen notifications (``ids``) or all of them (``all``) read; back where the form was."""
    if request.POST.get("all"):
        n = notes.notification_read(actor=request.user)
    else:
        ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i is not None]
        n = notes.notification_read(actor=request.user, notification_ids=ids) if ids else 0
    flash.success(request, _("Marked %(n)d notifications read.") % {"n": n})
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("admin:notifications")
    return HttpResponseRedirect(target)


def notification_open_view(request, pk):
    """Open a notification: marked read, then its page (its link), or the list when it has none."""
    try:
        note = notes.notification_open(actor=request.user, pk=pk)
    except ShoalError:
        raise Http404(_("Notification not found"))
    link = note.link if note.link and url_has_allowed_host_and_scheme(note.link, allowed_hosts=None) else ""
    return HttpResponseRedirect(link or reverse("admin:notifications"))


def bell_menu(request):
    """The bell's drop-down (loaded when it opens): the latest unread notifications."""
    rows = list(notes.notification_list(actor=request.user, unread=True)[:BELL_ITEMS])
    return render(request, "sales/messages/_bell_menu.html", {
        "rows": rows, "unread_count": notes.unread_count(actor=request.user), "kind_labels": notes.kind_labels()})


# -- message management -----------------------------------------------------------------------------------------
STATUS_TABS = (("sent", gettext_lazy("Sent")), ("scheduled", gettext_lazy("Scheduled")),
               ("draft", gettext_lazy("Drafts")))


@page_requires(services.VIEW)
def message_list_page(request):
    status = request.GET.get("status") or "sent"
    if status not in dict(STATUS_TABS):
        status = "sent"
    qs = services.message_list(actor=request.user, status=status)
    page_obj = Paginator(qs, LIST_SIZE).get_page(_page_number(request))
    return page(request, "sales/messages/list.html", {
        "title": _("In-site messages"), "page_obj": page_obj, "rows": page_obj.object_list, "status": status,
        "tabs": STATUS_TABS, "can_create": user_can(request.user, services.CREATE), "query": f"status={status}"})


class MessageForm(forms.Form):
    user_ids = forms.TypedMultipleChoiceField(label=gettext_lazy("Recipient users"), required=False, coerce=int)
    role_ids = forms.TypedMultipleChoiceField(label=gettext_lazy("Recipient roles"), required=False, coerce=int,
                                              help_text=gettext_lazy("Every user of the role."))
    department_ids = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Recipient departments"), required=False, coerce=int,
        help_text=gettext_lazy("Every user of the department and of the departments below it."))
    title = forms.CharField(label=gettext_lazy("Subject"), max_length=services.TITLE_MAX)
    body = forms.CharField(label=gettext_lazy("Content"), required=False, max_length=services.BODY_MAX,
                           widget=forms.Textarea(attrs={"rows": 8}))
    send_at = forms.DateTimeField(label=gettext_lazy("Send later at"), required=False,
                                  input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                  help_text=gettext_lazy("Empty: a draft, sent when you choose. A time: sent then."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user_ids"].choices = user_choices()
        self.fields["role_ids"].choices = list(Role.objects.order_by("name").values_list("pk", "name"))
        self.fields["department_ids"].choices = [(d.pk, d.path_name()) for d in
                                                 Department.objects.select_related("parent").order_by("pk")]
        for name, size in (("user_ids", 8), ("role_ids", 5), ("department_ids", 6)):
            self.fields[name].widget.attrs["size"] = size
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", INPUT)

    def clean_send_at(self):
        value: datetime | None = self.cleaned_data.get("send_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future"))
        return value


def _initial(message) -> dict:
    if message is None:
        return {}
    return {"title": message.title, "body": message.body,
            "send_at": timezone.localtime(message.send_at) if message.send_at else None,
            "user_ids": list(message.users.values_list("pk", flat=True)),
            "role_ids": list(message.roles.values_list("pk", flat=True)),
            "department_ids": list(message.departments.values_list("pk", flat=True))}


def _message(request, pk):
    try:
        return services.message_get(actor=request.user, pk=pk)
    except ShoalError:
        raise Http404(_("Message not found"))


FIELD_OF = {"user_ids": "user_ids", "role_ids": "role_ids", "department_ids": "department_ids", "title": "title",
            "body": "body", "send_at": "send_at"}


@page_requires(services.CREATE)
def message_form_page(request, pk=None):
    """新增站内消息 / edit a draft: recipients, subject, content, attachments; 保存 (a draft, or scheduled with a
    time) or 保存并立即发送."""
    message = _message(request, pk) if pk is not None else None
    if message is not None and message.status == MessageStatus.SENT:
        return HttpResponseRedirect(reverse("admin:message_receipts", args=[message.pk]))
    can_send = user_can(request.user, services.SEND)
    form = MessageForm(request.POST or None, initial=_initial(message))
    if request.method == "POST" and form.is_valid():
        send = "send" in request.POST
        data = {**form.cleaned_data, "send_at": None if send else form.cleaned_data.get("send_at")}
        try:
            with transaction.atomic():
                message = services.message_save(actor=request.user, data=data, message=message)
                for upload in request.FILES.getlist("files"):
                    services.attachment_add(actor=request.user, message=message, upload=upload)
                if send:
                    n = services.message_send(actor=request.user, message=message)
        except ShoalError as error:
            field = FIELD_OF.get((error.detail or {}).get("field"))
            form.add_error(field, error.message)
        else:
            if send:
                flash.success(request, _("Sent to %(n)d users.") % {"n": n})
                return HttpResponseRedirect(reverse("admin:message_receipts", args=[message.pk]))
            flash.success(request, _("Scheduled for %(time)s.") % {"time": timezone.localtime(message.send_at)
                                                                   .strftime("%Y-%m-%d %H:%M")}
                          if message.send_at else _("Saved as a draft."))
            return HttpResponseRedirect(reverse("admin:message_edit", args=[message.pk]))
    return page(request, "sales/messages/form.html", {
        "title": _("Edit in-site message") if message else _("New in-site message"), "form": form,
        "message": message, "can_send": can_send, "max_mb": services.max_mb(),
        "attachments": list(message.attachments.all()) if message else []})


@require_POST
@page_requires(services.CREATE)
def message_delete_view(request, pk):
    message = _message(request, pk)
    try:
        services.message_delete(actor=request.user, message=message)
    except ShoalError as error:
        flash.error(request, error.message)
    else:
        flash.success(request, _("Deleted the draft %(title)s.") % {"title": message.title})
    return HttpResponseRedirect(reverse("admin:messages") + "?status=draft")


@require_POST
@page_requires(services.CREATE)
def attachment_delete_view(request, pk, attachment_id):
    message = _message(request, pk)
    try:
        services.attachment_remove(actor=request.user, message=message, attachment_id=attachment_id)
    except ShoalError as error:
        flash.error(request, error.message)
    return HttpResponseRedirect(reverse("admin:message_edit", args=[message.pk]))


@page_requires(services.VIEW)
def message_receipts_page(request, pk):
    """A message as sent, and who read it when (read receipts)."""
    message = _message(request, pk)
    which = request.GET.get("filter")
    unread = {"read": False, "unread": True}.get(which)
    qs = services.message_receipts(actor=request.user, message=message, unread=unread)
    page_obj = Paginator(qs, PAGE_SIZE).get_page(_page_number(request))
    return page(request, "sales/messages/receipts.html", {
        "title": message.title, "message": message, "counts": services.read_counts(message), "page_obj": page_obj,
        "rows": page_obj.object_list, "filter": which if unread is not None else "",
        "attachments": list(message.attachments.all()),
        "query": f"filter={which}" if unread is not None else ""})


# -- reading a message (its recipients) ---------------------------------------------------------------------------
def message_read_page(request, pk):
    """A recipient reads the message (marked read); its sender and the message managers may read it too."""
    try:
        message, delivery = services.message_for_reader(actor=request.user, pk=pk)
    except ShoalError:
        raise Http404(_("Message not found"))
    return page(request, "sales/messages/read.html", {
        "title": message.title, "message": message, "attachments": list(message.attachments.all()),
        "can_manage": user_can(request.user, services.VIEW)})


def attachment_download(request, pk, attachment_id):
    try:
        message, _delivery = services.message_for_reader(actor=request.user, pk=pk)
    except ShoalError:
        raise Http404(_("Attachment not found"))
    attachment = message.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404(_("Attachment not found"))
    if not attachment.file.storage.exists(attachment.file.name):
        raise Http404(_("Attachment not found"))
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})
