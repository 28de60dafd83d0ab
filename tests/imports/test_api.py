"""The import API through Django's client (CSRF enforced, bearer tokens): the multipart upload and its options, the
worker task it queues, status and counts, the error report, the preview, the list, and every refusal as a 4xx in
the one error shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tasks_db.models import DBTaskResult

from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.imports.models import ImportRun
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

URL = "/api/v1/imports"


def stored_files() -> set[str]:
    folder = Path(settings.DATA_DIR) / "imports"
    return {p.name for p in folder.glob("*")} if folder.exists() else set()


def post_file(client, headers, url=URL, data: bytes | None = None, name="客户.csv", **fields):
    body = dict(fields)
    if data is not False:
        body["file"] = SimpleUploadedFile(name, csv_bytes() if data is None else data, content_type="text/csv")
    return client.post(url, body, **headers)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "detail"} <= set(body["error"]), body
    return body["error"]


# -- create, the task, status ----------------------------------------------------------------------------------
def test_an_upload_is_queued_for_the_worker_which_imports_it(client, bearer, importer, django_capture_on_commit_callbacks):
    headers = bearer(importer)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, headers)
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    assert set(response.json()) == {"id"}
    task = DBTaskResult.objects.get()
    assert task.task_path == "shoal.imports.tasks.run_import" and task.args_kwargs["args"] == [run_id]

    queued = client.get(f"{URL}/{run_id}", **headers).json()
    assert queued["status"] == "queued" and queued["file_name"] == "客户.csv" and not Customer.objects.exists()

    assert run_worker(run_id) == "succeeded"
    done = client.get(f"{URL}/{run_id}", **headers).json()
    assert done["status"] == "succeeded"
    assert done["counts"] == EXPECTED
    assert sum(done["counts"][k] for k in EXPECTED if k != "rows") == done["counts"]["rows"]
    assert done["progress"]["done"] == done["progress"]["total"]
    assert done["errors_count"] == 2 and done["seconds"] is not None and done["finished_at"]
    assert Customer.objects.count() == 2
    assert run_worker(run_id) == "skipped"  # a second delivery of the task does nothing
    assert Customer.objects.count() == 2


def test_the_options_as_form_fields(client, bearer, importer, manual_tag):
    group = CustomerGroup.objects.create(name="华东组")
    group.admins.add(importer)
    mapping = json.dumps({"备注列": "notes", "城市": ""})
    response = post_file(client, bearer(importer), encoding="utf-8", mode="fast", group_id=str(group.pk),
                         tags=[str(manual_tag.pk)], mapping=mapping)
    assert response.status_code == 201, response.content
    run = ImportRun.objects.get(pk=response.json()["id"])
    assert (run.mode, run.group_id, run.tag_ids, run.encoding) == ("fast", group.pk, [manual_tag.pk], "utf-8")
    run_worker(run.pk)
    zhang = Customer.objects.get(mobile="+8613800138000")
    assert zhang.notes == "x" and zhang.city == ""
    assert CustomerGroupMembership.objects.filter(group=group).count() == 2
    assert Tagging.objects.filter(tag=manual_tag).count() == 2


def test_tags_may_be_comma_separated(client, bearer, importer, manual_tag):
    other = manual_tag.category.tags.create(name="老客户", kind="manual")
    response = post_file(client, bearer(importer), tags=f"{manual_tag.pk}, {other.pk}")
    assert response.status_code == 201, response.content
    assert ImportRun.objects.get(pk=response.json()["id"]).tag_ids == [manual_tag.pk, other.pk]


def test_strict_writes_nothing_when_a_row_is_invalid(client, bearer, importer):
    headers = bearer(importer)
    run_id = post_file(client, headers, strict="true").json()["id"]
    run_worker(run_id)
    out = client.get(f"{URL}/{run_id}", **headers).json()
    assert out["status"] == "failed" and out["error"] and out["strict"] is True
    assert not Customer.objects.exists()


def test_a_dry_run_counts_and_writes_nothing(client, bearer, importer):
    headers = bearer(importer)
    run_id = post_file(client, headers, dry_run="true").json()["id"]
    run_worker(run_id)
    out = client.get(f"{URL}/{run_id}", **headers).json()
    assert out["status"] == "succeeded" and out["dry_run"] is True and out["counts"]["created"] == 2
    assert not Customer.objects.exists()


# -- error report ----------------------------------------------------------------------------------------------
def test_the_error_report_is_a_csv_of_the_bad_rows(client, bearer, importer):
    headers = bearer(importer)
    run_id = post_file(client, headers).json()["id"]
    run_worker(run_id)
    response = client.get(f"{URL}/{run_id}/errors", **headers)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel opens it right
    rows = raw.decode("utf-8-sig").strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["3", "6"]  # the bad mobile, the repeat of row 2


def test_no_error_report_is_a_404_that_says_so(client, bearer, importer):
    headers = bearer(importer)
    run_id = post_file(client, headers, data="姓名,手机号\n张三,13800138000\n".encode()).json()["id"]
    response = client.get(f"{URL}/{run_id}/errors", **headers)  # not run yet
    assert response.status_code == 404 and "error report" in error_of(response)["message"]
    run_worker(run_id)
    response = client.get(f"{URL}/{run_id}/errors", **headers)  # no bad row
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


# -- preview ---------------------------------------------------------------------------------------------------
def test_preview_reads_the_whole_file_writes_nothing_and_keeps_nothing(client, bearer, importer):
    before_files = stored_files()
    response = post_file(client, bearer(importer), url=f"{URL}/preview", data=csv_bytes("gb18030"))
    assert response.status_code == 200, response.content
    preview = response.json()
    assert preview["kind"] == "csv" and preview["encoding"].lower().replace("-", "") in ("gb18030", "gbk")
    assert preview["summary"] == EXPECTED
    assert [c["header"] for c in preview["columns"]] == ["姓名", "手机号", "邮箱", "城市", "备注列"]
    assert {c["header"]: c["field"] for c in preview["columns"]}["手机号"] == "mobile"
    assert preview["unknown_columns"] == ["备注列"]
    assert len(preview["rows"]) == 5 and preview["rows"][0][0] == "张三"
    assert {"key": "notes"}.items() <= next(f for f in preview["fields"] if f["key"] == "notes").items()
    assert [e["row"] for e in preview["errors"]] == [3, 6]
    assert not Customer.objects.exists() and not ImportRun.objects.exists() and stored_files() == before_files


def test_preview_follows_the_mapping(client, bearer, importer):
    headers = bearer(importer)
    without_mobile = post_file(client, headers, url=f"{URL}/preview", mapping=json.dumps({"手机号": ""}))
    assert without_mobile.status_code == 200, without_mobile.content
    assert without_mobile.json()["summary"]["created"] == 1  # only 张三 has an email left to identify him
    no_identity = post_file(client, headers, url=f"{URL}/preview", mapping=json.dumps({"手机号": "", "邮箱": ""}))
    assert no_identity.status_code == 400 and error_of(no_identity)["message"]
    assert not ImportRun.objects.exists()


# -- list ------------------------------------------------------------------------------------------------------
def test_the_list_is_paginated_newest_first_and_shows_only_the_callers_imports(client, bearer, importer, other_importer, boss):
    mine = [post_file(client, bearer(importer)).json()["id"] for _ in range(2)]
    theirs = post_file(client, bearer(other_importer)).json()["id"]
    body = client.get(URL, **bearer(importer)).json()
    assert body["count"] == 2 and [r["id"] for r in body["items"]] == mine[::-1]
    assert {"status", "progress", "counts", "seconds"} <= set(body["items"][0])
    page = client.get(f"{URL}?page=2&page_size=1", **bearer(importer)).json()
    assert [r["id"] for r in page["items"]] == [mine[0]]
    every = client.get(URL, **bearer(boss)).json()
    assert {r["id"] for r in every["items"]} == {*mine, theirs}


# -- refusals --------------------------------------------------------------------------------------------------
def test_without_the_permission_every_endpoint_is_a_403(client, bearer, importer, viewer):
    run_id = post_file(client, bearer(importer)).json()["id"]
    headers = bearer(viewer)
    for response in (post_file(client, headers), post_file(client, headers, url=f"{URL}/preview"),
                     client.get(URL, **headers), client.get(f"{URL}/{run_id}", **headers),
                     client.get(f"{URL}/{run_id}/errors", **headers)):
        assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
    assert ImportRun.objects.count() == 1


def test_without_credentials_it_is_a_401(client):
    assert client.get(URL).status_code == 401
    assert post_file(client, {}).status_code in (401, 403)


def test_another_users_import_is_a_404(client, bearer, importer, other_importer):
    run_id = post_file(client, bearer(importer)).json()["id"]
    headers = bearer(other_importer)
    assert client.get(f"{URL}/{run_id}", **headers).status_code == 404
    assert client.get(f"{URL}/{run_id}/errors", **headers).status_code == 404
    assert client.get(f"{URL}/99999999", **bearer(importer)).status_code == 404


@pytest.mark.parametrize("fields, field", [
    ({"encoding": "latin-1"}, "encoding"),
    ({"mode": "turbo"}, "mode"),
    ({"mapping": "{not json"}, "mapping"),
    ({"mapping": "[1, 2]"}, "mapping"),
    ({"mapping": json.dumps({"手机号": 5})}, "mapping"),
    ({"mapping": json.dumps({"手机号": "no_such_field"})}, None),
    ({"tags": "abc"}, "tags"),
    ({"tags": "99999"}, None),
    ({"group_id": "99999"}, None),
    ({"group_id": "x"}, "group_id"),
    ({"strict": "maybe"}, "strict"),
])
def test_bad_options_are_a_400_naming_the_problem(client, bearer, importer, fields, field):
    for url in (URL, f"{URL}/preview"):
        response = post_file(client, bearer(importer), url=url, **fields)
        assert response.status_code == 400, (fields, response.content)
        error = error_of(response)
        assert error["message"]
        if field:
            assert field in json.dumps(error["detail"]) or field in error["message"], error
    assert not ImportRun.objects.exists()


def test_a_request_without_the_file_is_a_400(client, bearer, importer):
    response = post_file(client, bearer(importer), data=False, mode="fast")
    assert response.status_code == 400 and "file" in json.dumps(error_of(response))


def test_a_file_that_is_no_table_is_a_400(client, bearer, importer):
    response = post_file(client, bearer(importer), data=b"PK\x03\x04 broken zip", name="x.xlsx")
    assert response.status_code == 400 and error_of(response)["message"]
    assert not ImportRun.objects.exists()


def test_a_file_over_the_limit_is_a_413_and_nothing_is_kept(client, bearer, importer):
    parameters.set_value("IMPORT_MAX_MB", 1, actor=SYSTEM)
    before = stored_files()
    big = csv_bytes() + b"x" * (1024 * 1024)
    for url in (URL, f"{URL}/preview"):
        response = post_file(client, bearer(importer), url=url, data=big)
        assert response.status_code == 413, response.content
        error = error_of(response)
        assert error["code"] == "file_too_large" and "1 MB" in error["message"]
    assert not ImportRun.objects.exists() and stored_files() == before


def test_a_group_the_importer_neither_administers_nor_sells_in_is_refused(client, bearer, importer, boss):
    theirs = CustomerGroup.objects.create(name="别人的组")
    for url in (URL, f"{URL}/preview"):
        response = post_file(client, bearer(importer), url=url, group_id=str(theirs.pk))
        assert response.status_code == 400 and error_of(response)["detail"] == {"field": "group_id"}
    assert not ImportRun.objects.exists()
    theirs.salespeople.add(importer)  # selling in it is enough; so is an unrestricted scope
    assert post_file(client, bearer(importer), group_id=str(theirs.pk)).status_code == 201
    assert post_file(client, bearer(boss), group_id=str(CustomerGroup.objects.create(name="任意").pk)).status_code == 201


def test_drafts_never_started_are_purged_after_a_day_with_their_files(importer, tmp_path):
    import io
    from datetime import timedelta

    from django.utils import timezone

    from shoal.imports.models import ImportStatus
    from shoal.imports.services import import_local_file, import_upload, purge_drafts

    before = stored_files()
    for _ in range(2):
        import_upload(actor=importer, upload=io.BytesIO(csv_bytes()), file_name="客户.csv")
    own = tmp_path / "mine.csv"
    own.write_bytes(csv_bytes())
    cli = import_local_file(actor=importer, path=own)
    ImportRun.objects.filter(pk=cli.pk).update(created_at=timezone.now() - timedelta(days=3))
    drafts = ImportRun.objects.filter(status=ImportStatus.DRAFT).exclude(pk=cli.pk)
    assert drafts.count() == 2
    assert len(stored_files() - before) == 2
    first = drafts.order_by("pk").first()
    ImportRun.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    last = drafts.order_by("pk").last().pk
    assert purge_drafts() == 2  # the old upload and the CLI's draft
    assert list(ImportRun.objects.values_list("pk", flat=True)) == [last]
    assert len(stored_files() - before) == 1
    assert own.exists()  # the CLI's draft pointed at the user's own file: it stays
    assert purge_drafts() == 0
