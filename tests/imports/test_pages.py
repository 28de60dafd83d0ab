"""The import pages (导入客户, preview and mapping, the run, 导入历史) through the CSRF-enforcing client: permissions,
the menu entry, the whole flow against the real import services, bad input as messages on the page, the size
limit, one user's imports hidden from another."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.imports import services
from shoal.imports.models import ImportRun, ImportStatus
from shoal.tags.models import Tagging

from .pages_support import (  # noqa: F401  (the *_fixture names: fixtures)
    EXPECTED,
    boss_fixture,
    csv_bytes,
    importer_fixture,
    manual_tag_fixture,
    other_importer_fixture,
    run_worker,
    viewer_fixture,
)

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def imports_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def stored_files() -> set[str]:
    return {p.name for p in imports_dir().glob("*")} if imports_dir().exists() else set()


def upload(client, data: bytes | None = None, name: str = "客户.csv", **fields):
    post = {"encoding": "auto", "mode": "normal", "target": "", **fields}
    if data is not None:
        post["file"] = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(reverse("admin:customer_import"), post)


def draft_of(user) -> ImportRun:
    return ImportRun.objects.filter(user=user).latest("pk")


def queued_run(user, data: bytes | None = None, **options) -> ImportRun:
    run = services.import_upload(actor=user, upload=SimpleUploadedFile("客户.csv", data or csv_bytes()),
                                 file_name="客户.csv", options=options)
    return services.import_start(actor=user, run=run)


# -- permissions and the menu ----------------------------------------------------------------------------------
def test_every_import_page_refuses_a_user_without_the_import_permission(client, importer, viewer):
    run = queued_run(importer)
    login(client, viewer)
    for name, args in [("admin:customer_import", []), ("admin:customer_import_history", []),
                       ("admin:customer_import_run", [run.pk]), ("admin:customer_import_preview", [run.pk]),
                       ("admin:customer_import_status", [run.pk]), ("admin:customer_import_errors", [run.pk])]:
        assert client.get(reverse(name, args=args)).status_code == 403, name
    assert client.get(reverse("admin:customer_import_template")).status_code == 403
    response = upload(client, csv_bytes())
    assert response.status_code == 403
    assert ImportRun.objects.count() == 1  # the viewer's upload stored nothing


def test_the_pages_send_an_anonymous_visitor_to_the_login_page(client):
    response = client.get(reverse("admin:customer_import"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_menu_has_import_customers_for_holders_of_the_permission_only(client, importer, viewer):
    link = f'href="{reverse("admin:customer_import")}"'
    assert link in login(client, importer).get(reverse("admin:index")).content.decode()
    assert link not in login(client, viewer).get(reverse("admin:index")).content.decode()


# -- the whole flow --------------------------------------------------------------------------------------------
def test_upload_preview_start_and_the_run_page_shows_the_counts(client, importer):
    login(client, importer)
    page = client.get(reverse("admin:customer_import"))
    assert page.status_code == 200
    body = page.content.decode()
    for word in ('name="file"', 'name="encoding"', 'value="normal"', 'value="fast"', 'name="target"', 'name="strict"'):
        assert word in body

    response = upload(client, csv_bytes("gb18030"))
    run = draft_of(importer)
    assert response.status_code == 302 and response["Location"] == reverse("admin:customer_import_preview", args=[run.pk])
    assert run.status == ImportStatus.DRAFT and not Customer.objects.exists()

    preview = client.get(response["Location"])
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "张三" in html and "王五" in html  # the rows, decoded from GB18030
    assert re.search(r'name="header_1" value="手机号"', html)
    assert re.search(r'<option value="mobile" selected', html)  # 手机号 matched with the mobile field
    assert "备注列" in preview.context["preview"]["unknown_columns"]
    assert dict((k, v) for k, _label, v in preview.context["summary"]) == EXPECTED
    assert "not-a-mobile" not in html or "****" in html  # the error's value is shown as the user may see it
    assert not Customer.objects.exists()  # the preview wrote nothing

    form = {k: v for k, v in _mapping_fields(preview).items()}
    started = client.post(reverse("admin:customer_import_preview", args=[run.pk]), {**form, "action": "start"})
    assert started.status_code == 302 and started["Location"] == reverse("admin:customer_import_run", args=[run.pk])
    run.refresh_from_db()
    assert run.status == ImportStatus.QUEUED

    waiting = client.get(started["Location"])
    assert waiting.status_code == 200 and 'hx-trigger="every 1s"' in waiting.content.decode()

    run_worker(run.pk)
    done = client.get(started["Location"])
    html = done.content.decode()
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling
    counts = dict((k, v) for k, _label, v in done.context["counts"])
    assert counts == EXPECTED
    assert done.context["duration"]
    assert f'href="{reverse("admin:customer_import_errors", args=[run.pk])}"' in html
    assert set(Customer.objects.values_list("mobile", flat=True)) == {"+8613800138000", "+8613800138001"}


def _mapping_fields(preview) -> dict:
    out = {}
    for column in preview.context["preview"]["columns"]:
        out[f"header_{column['index']}"] = column["header"]
        out[f"field_{column['index']}"] = column["field"]
    return out


def test_remapping_a_column_counts_again_and_the_import_uses_the_mapping(client, importer):
    login(client, importer)
    upload(client, csv_bytes())
    run = draft_of(importer)
    url = reverse("admin:customer_import_preview", args=[run.pk])
    preview = client.get(url)
    fields = _mapping_fields(preview)
    keys = {f["key"] for f in preview.context["preview"]["fields"]}
    assert "notes" in keys
    notes_column = next(i for i, c in enumerate(preview.context["preview"]["columns"]) if c["header"] == "备注列")
    fields[f"field_{notes_column}"] = "notes"
    city_column = next(i for i, c in enumerate(preview.context["preview"]["columns"]) if c["header"] == "城市")
    fields[f"field_{city_column}"] = ""  # ignore the city
    again = client.post(url, {**fields, "action": "preview"})
    assert again.status_code == 200
    columns = {c["header"]: c["field"] for c in again.context["preview"]["columns"]}
    assert columns["备注列"] == "notes" and columns["城市"] == ""
    assert "备注列" not in again.context["preview"]["unknown_columns"]
    run.refresh_from_db()
    assert run.status == ImportStatus.DRAFT  # previewing again saves nothing

    client.post(url, {**fields, "action": "start"})
    run_worker(run.pk)
    zhang = Customer.objects.get(mobile="+8613800138000")
    assert zhang.notes == "x" and zhang.city == ""


def test_import_into_a_group_with_a_tag(client, importer, manual_tag):
    group = CustomerGroup.objects.create(name="华南组")
    group.salespeople.add(importer)
    login(client, importer)
    page = client.get(reverse("admin:customer_import"))
    assert "华南组" in page.content.decode() and "展会" in page.content.decode()
    response = upload(client, csv_bytes(), target=str(group.pk), tags=[str(manual_tag.pk)], mode="fast")
    run = draft_of(importer)
    assert response.status_code == 302, messages_of(response)
    assert run.group_id == group.pk and run.tag_ids == [manual_tag.pk] and run.mode == "fast"
    preview = client.get(response["Location"])
    assert preview.context["target"] == "华南组" and any("展会" in t for t in preview.context["tags"])
    client.post(reverse("admin:customer_import_preview", args=[run.pk]), {**_mapping_fields(preview), "action": "start"})
    run_worker(run.pk)
    created = Customer.objects.filter(mobile__in=["+8613800138000", "+8613800138001"])
    assert created.count() == 2
    assert CustomerGroupMembership.objects.filter(group=group, customer__in=created).count() == 2
    assert Tagging.objects.filter(tag=manual_tag, customer__in=created).count() == 2
    page = client.get(reverse("admin:customer_import_run", args=[run.pk]))
    assert "华南组" in page.content.decode()


def test_a_group_the_user_does_not_belong_to_is_not_offered_and_is_refused(client, importer):
    foreign = CustomerGroup.objects.create(name="别人的组")
    login(client, importer)
    assert "别人的组" not in client.get(reverse("admin:customer_import")).content.decode()
    response = upload(client, csv_bytes(), target=str(foreign.pk))
    assert response.status_code == 200 and messages_of(response)  # a message on the page, not an error page
    assert not ImportRun.objects.exists()


def test_the_default_template_has_the_headers_the_import_matches(client, importer):
    login(client, importer)
    assert reverse("admin:customer_import_template") in client.get(reverse("admin:customer_import")).content.decode()
    response = client.get(reverse("admin:customer_import_template"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    data = response.content
    assert data.startswith("\ufeff".encode())
    header = data.decode("utf-8-sig").strip()
    assert header.count(",") >= 5
    # the template, filled in, imports without remapping: every column is matched
    row = ["" for _ in header.split(",")]
    labels = header.split(",")
    row[labels.index(next(h for h in labels if h in ("手机号", "mobile")))] = "13800138009"
    upload(client, (header + "\n" + ",".join(row) + "\n").encode())
    preview = client.get(reverse("admin:customer_import_preview", args=[draft_of(importer).pk]))
    assert preview.context["preview"]["unknown_columns"] == []
    assert all(c["field"] for c in preview.context["preview"]["columns"])
    assert preview.context["preview"]["summary"]["created"] == 1


# -- bad input: messages on the page ------------------------------------------------------------------------------
def test_upload_without_a_file_is_a_message_on_the_page(client, importer):
    response = upload(login(client, importer), None)
    assert response.status_code == 200
    assert messages_of(response)
    assert not ImportRun.objects.exists()


def test_a_file_that_is_no_table_is_a_message_on_the_page(client, importer):
    before = stored_files()
    response = upload(login(client, importer), b"\x00\x01\x02 not a spreadsheet", name="x.xlsx")
    assert response.status_code == 200 and messages_of(response)
    assert not ImportRun.objects.exists() and stored_files() == before


def test_a_file_over_the_size_limit_is_refused_on_the_page_and_nothing_is_kept(client, importer):
    parameters.set_value("IMPORT_MAX_MB", 1, actor=SYSTEM)
    before = stored_files()
    big = csv_bytes() + b"x" * (1024 * 1024)
    response = upload(login(client, importer), big)
    assert response.status_code == 200
    assert any("1 MB" in m for m in messages_of(response))
    assert not ImportRun.objects.exists() and stored_files() == before


def test_a_file_just_under_the_limit_is_accepted(client, importer):
    parameters.set_value("IMPORT_MAX_MB", 1, actor=SYSTEM)
    data = csv_bytes()
    data += b"\n" * (1024 * 1024 - len(data))  # exactly 1 MB: blank lines
    response = upload(login(client, importer), data)
    assert response.status_code == 302, messages_of(response)


def test_an_unknown_field_in_the_mapping_is_a_message_and_the_run_stays_a_draft(client, importer):
    login(client, importer)
    upload(client, csv_bytes())
    run = draft_of(importer)
    url = reverse("admin:customer_import_preview", args=[run.pk])
    fields = _mapping_fields(client.get(url))
    fields["field_0"] = "no_such_field"
    response = client.post(url, {**fields, "action": "start"})
    assert response.status_code == 200 and messages_of(response)
    run.refresh_from_db()
    assert run.status == ImportStatus.DRAFT


def test_one_field_chosen_for_two_columns_is_a_message_and_the_mapping_table_stays(client, importer):
    login(client, importer)
    upload(client, csv_bytes())
    run = draft_of(importer)
    url = reverse("admin:customer_import_preview", args=[run.pk])
    fields = _mapping_fields(client.get(url))
    fields["field_3"] = "name"  # 城市 as the name too
    response = client.post(url, {**fields, "action": "preview"})
    assert response.status_code == 200 and messages_of(response)
    assert response.context["preview"] is not None  # the preview as saved, to choose again
    assert {c["header"]: c["field"] for c in response.context["preview"]["columns"]}["城市"] == "city"


def test_a_wrong_encoding_at_the_upload_is_a_message(client, importer):
    response = upload(login(client, importer), csv_bytes("gb18030"), encoding="utf-8")
    assert response.status_code == 200
    assert any("UTF-8" in m for m in messages_of(response))
    assert not ImportRun.objects.exists()


def test_choosing_another_encoding_on_the_preview(client, importer):
    login(client, importer)
    url = upload(client, csv_bytes("gb18030"))["Location"]
    refused = client.post(url, {"encoding": "utf-8", "action": "preview"})
    assert refused.status_code == 200 and any("UTF-8" in m for m in messages_of(refused))
    assert refused.context["preview"]["rows"][0][0] == "张三"  # the preview as saved stays on the page
    chosen = client.post(url, {"encoding": "gb18030", "action": "preview"})
    assert chosen.context["preview"]["rows"][0][0] == "张三" and not messages_of(chosen)
    client.post(url, {"encoding": "gb18030", "action": "start"})
    run = draft_of(importer)
    assert run.status == ImportStatus.QUEUED and run.encoding == "gb18030"


def test_cancel_discards_the_draft_and_its_file(client, importer):
    login(client, importer)
    before = stored_files()
    upload(client, csv_bytes())
    run = draft_of(importer)
    assert len(stored_files() - before) == 1
    response = client.post(reverse("admin:customer_import_preview", args=[run.pk]), {"action": "cancel"})
    assert response.status_code == 302 and response["Location"] == reverse("admin:customer_import")
    assert not ImportRun.objects.filter(pk=run.pk).exists()
    assert stored_files() == before


def test_starting_a_run_twice_goes_to_its_run_page(client, importer):
    run = queued_run(importer)
    response = login(client, importer).post(reverse("admin:customer_import_preview", args=[run.pk]), {"action": "start"})
    assert response.status_code == 302 and response["Location"] == reverse("admin:customer_import_run", args=[run.pk])


def test_an_unknown_import_is_a_404(client, importer):
    login(client, importer)
    for name in ("admin:customer_import_run", "admin:customer_import_preview", "admin:customer_import_status",
                 "admin:customer_import_errors"):
        assert client.get(reverse(name, args=[999999])).status_code == 404


# -- run page, status partial, error report ----------------------------------------------------------------------
def test_the_status_partial_polls_while_queued_and_stops_with_the_counts(client, importer):
    run = queued_run(importer)
    login(client, importer)
    url = reverse("admin:customer_import_status", args=[run.pk])
    queued = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in queued and f'hx-get="{url}"' in queued and 'data-status="queued"' in queued
    run_worker(run.pk)
    done = client.get(url).content.decode()
    assert "hx-trigger" not in done and 'data-status="succeeded"' in done
    assert re.search(r'data-count="created".*?>2</dd>', done, re.S)
    assert "<html" not in done  # the partial alone


def test_the_error_report_downloads_with_every_bad_row(client, importer):
    run = queued_run(importer)
    run_worker(run.pk)
    response = login(client, importer).get(reverse("admin:customer_import_errors", args=[run.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert len(lines) == 1 + 2  # the header, the invalid row and the duplicate
    assert lines[1].startswith("3,") and lines[2].startswith("6,")


def test_without_an_error_report_the_download_is_a_message(client, importer):
    good = "姓名,手机号\n张三,13800138000\n".encode()
    run = queued_run(importer, good)
    run_worker(run.pk)
    response = login(client, importer).get(reverse("admin:customer_import_errors", args=[run.pk]), follow=True)
    assert response.status_code == 200 and messages_of(response)
    assert "errors-download" not in client.get(reverse("admin:customer_import_run", args=[run.pk])).content.decode()


def test_a_failed_strict_import_shows_its_reason(client, importer):
    run = queued_run(importer, strict=True)
    run_worker(run.pk)
    page = login(client, importer).get(reverse("admin:customer_import_run", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED and not Customer.objects.exists()
    assert 'id="run-error"' in page.content.decode() and run.error in page.content.decode()


# -- history and visibility --------------------------------------------------------------------------------------
def test_history_lists_file_user_mode_target_counts_duration_status(client, importer):
    run = queued_run(importer, mode="fast")
    run_worker(run.pk)
    page = login(client, importer).get(reverse("admin:customer_import_history"))
    html = page.content.decode()
    row = re.search(rf'<tr[^>]*data-import="{run.pk}".*?</tr>', html, re.S).group(0)
    assert "客户.csv" in row and "importer" in row
    assert re.search(r'data-count="created">2<', row) and re.search(r'data-count="invalid">1<', row)
    assert page.context["rows"][0]["duration"]
    run.refresh_from_db()
    from django.utils import timezone

    assert timezone.localtime(run.created_at).strftime("%Y-%m-%d %H:%M") in row  # local time


def test_a_user_sees_only_their_own_imports_unless_their_scope_is_unrestricted(client, importer, other_importer, boss):
    run = queued_run(importer)
    login(client, other_importer)
    assert client.get(reverse("admin:customer_import_run", args=[run.pk])).status_code == 404
    assert client.get(reverse("admin:customer_import_errors", args=[run.pk])).status_code == 404
    assert f'data-import="{run.pk}"' not in client.get(reverse("admin:customer_import_history")).content.decode()
    login(client, boss)
    assert f'data-import="{run.pk}"' in client.get(reverse("admin:customer_import_history")).content.decode()
    assert client.get(reverse("admin:customer_import_run", args=[run.pk])).status_code == 200


def test_a_superuser_may_import(client, superuser):
    login(client, superuser)
    response = upload(client, csv_bytes())
    assert response.status_code == 302


def test_the_pages_render_in_chinese(client, importer):
    importer.language = "zh-hans"
    importer.save()
    page = login(client, importer).get(reverse("admin:customer_import"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "导入客户" in page.content.decode()

