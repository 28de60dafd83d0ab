"""Customer pages of issue 3: detail page (scope, masking, tabs), configured detail tabs, attachments,
list columns per user, jump to page, and the UI template flags of custom fields."""

import os
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shoal.accounts.models import Role
from shoal.core import parameters
from shoal.customers import columns, services, tabs
from shoal.customers.models import (
    Attachment,
    Contact,
    Customer,
    CustomerListPreference,
    CustomField,
    DetailTab,
    TimelineEntry,
)
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
LIST = "/customers/customer/"


def detail(pk):
    return reverse("admin:customers_customer_detail", args=[pk])


@pytest.fixture(autouse=True)
def attachments_root(settings, tmp_path):
    settings.SHOAL_ATTACHMENTS_ROOT = str(tmp_path / "attachments")
    return tmp_path / "attachments"


def stored_files(root) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


# -- detail page: scope, permission, content --------------------------------------------------------
def test_detail_page_is_404_outside_the_scope(client, world):
    client.force_login(world["salesperson"])
    response = client.get(detail(world["theirs"].pk))
    assert response.status_code == 404 and b"Theirs" not in response.content
    assert client.get(detail(world["company_pool"].pk)).status_code == 404
    assert client.get(detail(999999)).status_code == 404
    assert client.get(detail(world["mine"].pk)).status_code == 200
    client.force_login(world["manager"])  # admin of the group
    assert client.get(detail(world["theirs"].pk)).status_code == 200


def test_detail_page_needs_the_view_permission(client, world):
    client.force_login(world["norole"])
    assert client.get(detail(world["mine"].pk)).status_code == 403
    client.logout()
    assert client.get(detail(world["mine"].pk)).status_code == 302  # to the login page


def test_detail_page_shows_header_metrics_and_tabs(client, personas, new_customer, masking_off):
    group = services.enum_group_create(actor=None, code="plan", name="Plan", items=[{"code": "pro", "label": "Pro plan"}])
    services.custom_field_create(actor=None, key="plan", label="Plan", type="enum", enum_group_id=group.pk)
    services.custom_field_create(actor=None, key="points", label="Points", type="integer")
    services.custom_field_create(actor=None, key="wechat_id", label="WeChat id", type="text")
    company = services.company_create(actor=None, data={"name": "ACME Ltd", "phone": "0755-1234"})
    customer = new_customer(name="Zhang San", mobile="13800138000", attributes={"plan": "pro", "points": 42})
    other = new_customer(name="Colleague")
    Customer.objects.filter(pk__in=[customer.pk, other.pk]).update(company=company)
    Contact.objects.create(customer=customer, name="Li Si", relation="spouse", phone="+8613700137000")
    services.customer_update(actor=personas["admin"], customer=Customer.objects.get(pk=customer.pk),
                             data={"name": "Zhang San Feng"})
    client.force_login(personas["admin"])
    html = client.get(detail(customer.pk)).content.decode()
    for text in ("Zhang San Feng", "Pro plan", "WeChat id", "Li Si", "ACME Ltd", "Colleague",
                 'data-tab="timeline"', 'data-tab="attachments"', 'data-metric="order_count"'):
        assert text in html, text
    # metric "points" comes from the attribute; the others are "—"
    points = html.split('data-metric="points"')[1].split("</div>")[0]
    assert "42" in points
    assert "—" in html.split('data-metric="order_count"')[1].split("</div>")[0]
    # the timeline shows the change with its actor
    assert "Zhang San" in html.split('id="tab-timeline"')[1] and personas["admin"].username in html


def test_list_and_company_link_to_the_detail_page(client, personas, new_customer):
    customer = new_customer(name="Linked")
    client.force_login(personas["admin"])
    assert detail(customer.pk) in client.get(LIST).content.decode()


# -- masking on the detail page -------------------------------------------------------------------------
def test_detail_page_masks_per_policy(client, world, masking_on):
    services.custom_field_create(actor=None, key="backup_phone", label="Backup phone", type="phone")
    mine = world["mine"]
    services.customer_update(actor=None, customer=mine, data={"attributes": {"backup_phone": "13912345678"},
                                                             "mobile": "13800138001"})
    Contact.objects.create(customer=mine, name="Spouse", phone="+8613700137000", email="spouse@example.com")
    sales = world["salesperson"]

    def page():
        client.force_login(sales)
        return client.get(detail(mine.pk)).content.decode()

    sales.masking_policy = "mask_all"
    sales.save()
    html = page()
    assert "138****8001" in html and "13800138001" not in html
    assert "139****5678" in html and "13912345678" not in html
    assert "m***@example.com" in html and "mine@example.com" not in html
    assert "137****7000" in html and "s***@example.com" in html and "spouse@example.com" not in html
    # the timeline's old/new values of the mobile are masked too
    assert "13800138000" not in html and "138****8000" in html
    assert 'data-testid="masked"' in html

    sales.masking_policy = "except_private"  # mine is in the salesperson's private sea
    sales.save()
    html = page()
    assert "+8613800138001" in html and "mine@example.com" in html and 'data-testid="masked"' not in html

    # a group admin with "except assigned" sees the salesperson's customer masked
    manager = world["manager"]
    manager.masking_policy = "except_assigned"
    manager.save()
    client.force_login(manager)
    html = client.get(detail(mine.pk)).content.decode()
    assert "138****8001" in html and "+8613800138001" not in html


def test_masking_off_shows_everything(client, world, masking_off):
    client.force_login(world["salesperson"])
    assert "+8613800138000" in client.get(detail(world["mine"].pk)).content.decode()


# -- configured detail tabs ---------------------------------------------------------------------------
def test_tab_url_placeholders_are_filled_and_encoded(client, personas, new_customer):
    customer = new_customer(name="Tabbed", ent_user_id="a b&c/é?x=1")
    tab = DetailTab.objects.create(name="Orders", url="https://shop.example.com/orders?user=${ent_user_id}&cid=${id}",
                                   order=2)
    DetailTab.objects.create(name="Hidden tab", url="https://example.com/${id}", enabled=False)
    DetailTab.objects.create(name="First tab", url="http://example.com/first/${id}", order=1)
    expected = f"https://shop.example.com/orders?user=a%20b%26c%2F%C3%A9%3Fx%3D1&cid={customer.pk}"
    assert tabs.render_tab_url(tab.url, customer) == expected
    client.force_login(personas["admin"])
    html = client.get(detail(customer.pk)).content.decode()
    assert expected.replace("&", "&amp;") in html
    assert "Hidden tab" not in html
    assert html.index("First tab") < html.index(">Orders<")
    # a customer without external id gets an empty value, not "None"
    bare = new_customer(name="Bare", email="bare@example.com")
    assert tabs.render_tab_url(tab.url, bare).startswith("https://shop.example.com/orders?user=&cid=")


def test_tab_admin_accepts_only_http_urls(client, personas):
    client.force_login(personas["admin"])
    add = reverse("admin:customers_detailtab_add")
    for bad in ("javascript:alert(1)//${id}", "ftp://example.com/${id}", "/relative/${id}",
                "https://example.com/${name}", "data:text/html,hi"):
        response = client.post(add, {"name": "Bad", "url": bad, "order": 1, "enabled": "on"})
        assert response.status_code == 200, bad
    assert not DetailTab.objects.exists()
    response = client.post(add, {"name": "Good", "url": " https://crm.example.com/u/${ent_user_id} ", "order": 5,
                                 "enabled": "on"})
    assert response.status_code == 302
    assert DetailTab.objects.get().url == "https://crm.example.com/u/${ent_user_id}"
    # a salesperson has no access to the settings page
    client.force_login(personas["salesperson"])
    assert client.get(reverse("admin:customers_detailtab_changelist")).status_code == 403


def test_a_stored_non_http_tab_is_never_rendered(new_customer):
    customer = new_customer(name="X")
    DetailTab.objects.create(name="Sneaky", url="javascript:alert(${id})")
    assert tabs.tabs_for(customer) == []


# -- attachments ------------------------------------------------------------------------------------
def upload(client, customer, name="note.txt", content=b"hello", follow=False):
    return client.post(reverse("admin:customers_customer_attachment_upload", args=[customer.pk]),
                       {"file": SimpleUploadedFile(name, content, content_type="text/plain")}, follow=follow)


def test_upload_over_the_limit_is_refused_and_nothing_is_stored(client, world, attachments_root):
    parameters.set_value("ATTACHMENT_MAX_FILE_MB", 1)
    client.force_login(world["salesperson"])
    mine = world["mine"]
    response = upload(client, mine, "big.bin", b"x" * (1024 * 1024 + 1), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 MB" in html and "big.bin" not in html.split('id="tab-attachments"')[1]
    assert not Attachment.objects.exists()
    assert stored_files(attachments_root) == []
    assert not TimelineEntry.objects.filter(kind="attachment").exists()
    # exactly at the limit is fine
    upload(client, mine, "ok.bin", b"x" * (1024 * 1024))
    assert Attachment.objects.get().size == 1024 * 1024


def test_upload_download_delete_with_timeline(client, world, attachments_root,
                                              django_capture_on_commit_callbacks):
    client.force_login(world["salesperson"])
    mine = world["mine"]
    response = upload(client, mine, "合同 v1.txt", b"contract text")
    assert response.status_code == 302 and response["Location"].endswith(detail(mine.pk) + "#attachments")
    attachment = Attachment.objects.get()
    assert (attachment.original_name, attachment.size, attachment.uploaded_by) == ("合同 v1.txt", 13,
                                                                                    world["salesperson"])
    files = stored_files(attachments_root)
    assert len(files) == 1 and "合同" not in files[0]  # stored under a generated name
    entry = TimelineEntry.objects.get(customer=mine, kind="attachment")
    assert entry.new == "合同 v1.txt" and entry.actor == world["salesperson"]

    url = reverse("admin:customers_customer_attachment_download", args=[mine.pk, attachment.pk])
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"contract text"
    assert "attachment" in response["Content-Disposition"]
    assert "合同 v1.txt" in client.get(detail(mine.pk)).content.decode()

    delete = reverse("admin:customers_customer_attachment_delete", args=[mine.pk, attachment.pk])
    assert client.get(delete).status_code == 405  # POST only
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the delete is committed
        assert client.post(delete).status_code == 302
    assert not Attachment.objects.exists() and stored_files(attachments_root) == []
    assert TimelineEntry.objects.filter(customer=mine, kind="attachment", old="合同 v1.txt").exists()


def test_download_and_delete_refused_outside_the_scope(client, world, attachments_root, settings):
    client.force_login(world["admin"])
    upload(client, world["theirs"], "secret.txt", b"secret")
    attachment = Attachment.objects.get()
    args = [world["theirs"].pk, attachment.pk]
    client.force_login(world["salesperson"])
    response = client.get(reverse("admin:customers_customer_attachment_download", args=args))
    assert response.status_code == 404 and b"secret" not in response.content
    # the attachment id under a customer in scope does not help either
    response = client.get(reverse("admin:customers_customer_attachment_download",
                                  args=[world["mine"].pk, attachment.pk]))
    assert response.status_code == 404
    assert client.post(reverse("admin:customers_customer_attachment_delete", args=args)).status_code == 404
    assert upload(client, world["theirs"]).status_code == 404
    assert Attachment.objects.count() == 1
    # files are not under the public media URL
    assert not attachment.file.path.startswith(str(settings.MEDIA_ROOT))


def test_upload_and_delete_need_the_edit_permission(client, world, attachments_root):
    viewer_role = Role.objects.create(name="Viewer", code="viewer", data_scope="all",
                                      permissions=["customers.customers.view"])
    viewer = make_user("viewer", viewer_role)
    client.force_login(world["admin"])
    upload(client, world["mine"])
    attachment = Attachment.objects.get()
    client.force_login(viewer)
    assert upload(client, world["mine"]).status_code == 403
    assert client.post(reverse("admin:customers_customer_attachment_delete",
                               args=[world["mine"].pk, attachment.pk])).status_code == 403
    assert Attachment.objects.count() == 1
    html = client.get(detail(world["mine"].pk)).content.decode()
    assert 'id="attachment-upload"' not in html and "note.txt" in html
    download = reverse("admin:customers_customer_attachment_download", args=[world["mine"].pk, attachment.pk])
    assert client.get(download).status_code == 200


def test_deleting_the_customer_removes_its_files(client, world, attachments_root,
                                                 django_capture_on_commit_callbacks):
    client.force_login(world["admin"])
    upload(client, world["mine"])
    assert len(stored_files(attachments_root)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_delete(actor=None, customer=world["mine"])
    assert not Attachment.objects.exists() and stored_files(attachments_root) == []


def test_merge_moves_attachments(client, world, attachments_root):
    client.force_login(world["admin"])
    upload(client, world["theirs"])
    services.customer_merge(actor=None, keep=world["mine"], other=world["theirs"])
    assert Attachment.objects.get().customer_id == world["mine"].pk
    assert len(stored_files(attachments_root)) == 1


# -- list columns, page size, jump to page --------------------------------------------------------------
def header_columns(html: str) -> list[str]:
    head = html.split("<thead")[1].split("</thead>")[0]
    return re.findall(r"column-([\w-]+)", head)


def test_column_choice_is_persisted_per_user_and_applied(client, personas, new_customer, masking_off):
    services.custom_field_create(actor=None, key="plan_name", label="Plan column", type="text", show_in_list=True)
    services.custom_field_create(actor=None, key="hidden_col", label="Not a list column", type="text")
    new_customer(name="Alpha", mobile="13800138000", city="Shenzhen", attributes={"plan_name": "gold"})
    admin = personas["admin"]
    client.force_login(admin)
    html = client.get(LIST).content.decode()
    assert "Plan column" in html and "Not a list column" not in html  # default: custom list fields shown

    page = client.get(reverse("admin:customers_customer_columns")).content.decode()
    assert 'value="cf:plan_name"' in page and "hidden_col" not in page
    response = client.post(reverse("admin:customers_customer_columns"), {
        "position": ["city", "cf:plan_name", "name", "mobile", "id"],
        "show": ["city", "cf:plan_name", "name", "cf:hidden_col", "bogus"]})
    assert response.status_code == 302
    assert CustomerListPreference.objects.get(user=admin).columns == ["city", "cf:plan_name", "name"]

    html = client.get(LIST).content.decode()
    assert "Shenzhen" in html and "gold" in html and "Alpha" in html
    assert header_columns(html) == ["city", "cf_plan_name", "name_link"]
    assert "13800138000" not in html  # mobile was not chosen
    # the page offers the saved order first
    page = client.get(reverse("admin:customers_customer_columns")).content.decode()
    assert page.index('value="city"') < page.index('value="cf:plan_name"') < page.index('value="name"') \
        < page.index('value="id"')

    # another user keeps the defaults
    other = make_user("other_admin", personas["admin"].roles.first())
    client.force_login(other)
    assert header_columns(client.get(LIST).content.decode())[:2] == ["id_link", "name_link"]
    assert "cf:plan_name" in columns.user_columns(other)

    # a custom list field defined later is added to the saved choice; reset goes back to the defaults
    services.custom_field_create(actor=None, key="later", label="Later column", type="text", show_in_list=True)
    assert columns.user_columns(admin) == ["city", "cf:plan_name", "name", "cf:later"]
    client.force_login(admin)
    client.post(reverse("admin:customers_customer_columns"), {"reset": "1"})
    assert not CustomerListPreference.objects.filter(user=admin).exists()
    # choosing nothing is refused
    client.post(reverse("admin:customers_customer_columns"), {"position": ["id"], "show": []})
    assert not CustomerListPreference.objects.filter(user=admin).exists()


def test_masked_columns_stay_masked_when_chosen(client, world, masking_on):
    services.customer_update(actor=None, customer=world["mine"], data={"phone": "13912345678"})
    client.force_login(world["salesperson"])
    client.post(reverse("admin:customers_customer_columns"), {"position": ["name", "phone"], "show": ["name", "phone"]})
    html = client.get(LIST).content.decode()
    assert "139****5678" in html and "13912345678" not in html


def test_jump_to_page_and_page_size(client, personas, new_customer):
    for i in range(45):
        new_customer(name=f"C{i:02d}")
    client.force_login(personas["admin"])
    html = client.get(LIST, {"status__exact": "active"}).content.decode()
    assert 'id="jump-to-page"' in html and 'max="3"' in html
    assert 'name="status__exact" value="active"' in html  # the jump keeps the filters
    html = client.get(LIST, {"p": 3}).content.decode()
    assert "C04" in html and "C44" not in html
    client.get(LIST, {"per_page": 100})
    html = client.get(LIST).content.decode()
    assert "C00" in html and "C44" in html and 'id="jump-to-page"' not in html


# -- UI template: show in list / edit form / filter --------------------------------------------------------
def test_show_in_form_decides_the_edit_form(client, personas, new_customer, masking_off):
    services.custom_field_create(actor=None, key="in_form", label="Form field", type="text")
    hidden = services.custom_field_create(actor=None, key="api_only", label="API only field", type="text")
    CustomField.objects.filter(pk=hidden.pk).update(show_in_form=False)
    customer = new_customer(name="Keep", attributes={"api_only": "from the API"})
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:customers_customer_add")).content.decode()
    assert "cf_in_form" in html and "cf_api_only" not in html
    form = {"name": "Keep 2", "ent_user_id": customer.ent_user_id, "status": "active", "gender": "",
            "cf_in_form": "typed", "contacts-TOTAL_FORMS": "0", "contacts-INITIAL_FORMS": "0",
            "timeline-TOTAL_FORMS": "0", "timeline-INITIAL_FORMS": "0"}
    response = client.post(reverse("admin:customers_customer_change", args=[customer.pk]), form)
    assert response.status_code == 302 and response["Location"] == detail(customer.pk)
    customer.refresh_from_db()
    assert customer.attributes == {"api_only": "from the API", "in_form": "typed"}  # hidden value kept
    # the detail page still shows every enabled field
    assert "from the API" in client.get(detail(customer.pk)).content.decode()


def test_field_page_shows_the_three_flags_and_saves_show_in_form(client, personas):
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:customers_customfield_add")).content.decode()
    for name in ("show_in_list", "show_in_form", "show_in_filter"):
        assert f'name="{name}"' in html
    base = {"key": "score_x", "label": "Score", "type": "integer", "order": 0, "enabled": "on", "default": "null",
            "show_in_list": "on"}
    assert client.post(reverse("admin:customers_customfield_add"), base).status_code == 302
    field = CustomField.objects.get(key="score_x")
    assert field.show_in_list and not field.show_in_form and not field.show_in_filter
    listing = client.get(reverse("admin:customers_customfield_changelist")).content.decode()
    assert "column-show_in_form" in listing  # the flag is a column of the list
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*score_x(?:(?!</tr>).)*</tr>", listing, re.S).group(0)
    shown = {m.group(1): "check_small" in m.group(2)  # unfold's yes/no icons
             for m in re.finditer(r'<td class="field-(show_in_\w+)[^>]*>(.*?)</td>', row, re.S)}
    assert shown == {"show_in_list": True, "show_in_form": False, "show_in_filter": False}
    # a required field without a default cannot be left out of the form
    response = client.post(reverse("admin:customers_customfield_change", args=[field.pk]),
                           {**base, "required": "on"})
    assert response.status_code == 200
    assert not CustomField.objects.get(pk=field.pk).required


def test_fields_api_reads_and_writes_show_in_form(client, personas, bearer):
    headers = bearer(personas["admin"])
    response = client.post("/api/v1/fields", {"key": "via_api", "label": "Via API", "type": "text",
                                              "show_in_form": False}, content_type="application/json", **headers)
    assert response.status_code == 201 and response.json()["show_in_form"] is False
    field_id = response.json()["id"]
    response = client.patch(f"/api/v1/fields/{field_id}", {"show_in_form": True}, content_type="application/json",
                            **headers)
    assert response.status_code == 200 and response.json()["show_in_form"] is True
    assert CustomField.objects.get(pk=field_id).show_in_form


@pytest.mark.django_db
def test_identity_settings_page_saves_the_choice_and_needs_one(client, superuser):
    from shoal.customers.identity import identity_fields

    client.force_login(superuser)
    assert client.get("/system/identity/").status_code == 200
    response = client.post("/system/identity/", {"fields": []})
    assert response.status_code == 200 and identity_fields() == ("mobile", "email", "ent_user_id")
    response = client.post("/system/identity/", {"fields": ["mobile", "ent_user_id"]})
    assert response.status_code == 302 and identity_fields() == ("mobile", "ent_user_id")
