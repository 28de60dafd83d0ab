"""External tag import: CSV files in UTF-8 and GB18030 → taggings with source "import", expiry dates, the
report (unknown customers and tags, bad rows), idempotence, the data scope, the page and the command."""

import io
import json
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shoal.accounts.models import Role
from shoal.core.actors import SYSTEM
from shoal.core.models import OperationLog
from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from shoal.tags import importing
from shoal.tags.models import TagCategory, Tagging, TagHistory
from shoal.tags.refresh import refresh
from tests.conftest import make_user

from .conftest import assert_scores_are_sums

pytestmark = pytest.mark.django_db
NEXT_YEAR = timezone.localdate().year + 1


def local_midnight(year, month, day):
    return timezone.make_aware(datetime(year, month, day), timezone.get_current_timezone())



@pytest.fixture(autouse=True)
def english(client):
    """These tests read the English words (the zh-hans pages are checked by screenshots and test_translations)."""
    from django.utils import translation

    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield

@pytest.fixture
def people(db):
    return [customer_services.customer_create(actor=SYSTEM, data={
        "name": f"客户{i}", "mobile": f"1380013{i:04d}", "email": f"c{i}@example.com", "ent_user_id": f"E{i:03d}",
        "city": "深圳" if i == 0 else "北京"}) for i in range(5)]


@pytest.fixture
def tags(make_tag):
    return {"vip": make_tag("贵宾", kind="manual", score=10), "reliable": make_tag("靠谱", kind="manual", score=3,
                                                                                    valid_days=30),
            "auto": make_tag("深圳客户", score=1, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])}


def run(text: str, encoding="utf-8", actor=SYSTEM, **kw):
    return importing.import_tags(actor=actor, file=io.BytesIO(text.encode(encoding)), **kw)


def tagged(tag):
    return dict(Tagging.objects.filter(tag=tag).values_list("customer_id", "source"))


def test_a_utf8_file_with_bom_and_header_tags_customers_by_every_identity_field(people, tags):
    text = ("\ufeff手机号,标签,有效期\n"
            "138 0013 0000,贵宾\n"
            "+86 138-0013-0001,贵宾\n"
            "C2@Example.com,贵宾\n"
            "E003,靠谱\n")
    report = run(text)
    assert report.encoding == "utf-8-sig" and report.header
    assert (report.rows, report.tagged, report.already) == (4, 4, 0)
    assert (report.unknown_customer_rows, report.unknown_tag_rows, report.bad_row_count) == (0, 0, 0)
    assert tagged(tags["vip"]) == {people[0].pk: "import", people[1].pk: "import", people[2].pk: "import"}
    assert tagged(tags["reliable"]) == {people[3].pk: "import"}
    history = TagHistory.objects.filter(tag=tags["vip"])
    assert history.count() == 3 and set(history.values_list("action", "source")) == {("add", "import")}
    tags["vip"].refresh_from_db()
    assert tags["vip"].customer_count == 3
    assert_scores_are_sums()


def test_a_gb18030_file_without_header_is_detected_and_read(people, tags):
    text = "13800130000,贵宾\n13800130001,靠谱\n"
    assert text.encode("gb18030") != text.encode("utf-8")
    report = run(text, encoding="gb18030")
    assert report.encoding == "gb18030" and not report.header
    assert (report.rows, report.tagged) == (2, 2)
    assert tagged(tags["vip"]) == {people[0].pk: "import"} and tagged(tags["reliable"]) == {people[1].pk: "import"}
    # GB18030 that begins with plain ASCII rows is still recognised (the whole file is checked)
    late = "".join(f"1380013{i:04d},unknown-{i}\n" for i in range(5000)) + "13800130002,贵宾\n"
    report = run(late, encoding="gb18030")
    assert report.encoding == "gb18030" and report.tagged == 1 and report.error == ""
    assert_scores_are_sums()


def test_tab_separated_files_and_an_explicit_encoding(people, tags):
    report = importing.import_tags(actor=SYSTEM, file=io.BytesIO("13800130000\t贵宾\n".encode("gb18030")),
                                   encoding="gb18030")
    assert report.tagged == 1 and tagged(tags["vip"]) == {people[0].pk: "import"}
    report = importing.import_tags(actor=SYSTEM, file=io.BytesIO("13800130000,靠谱\n".encode("gb18030")),
                                   encoding="utf-8")
    assert report.error and report.tagged == 0  # told UTF-8, the file is not: a clear error, nothing half-read


def test_unknown_customers_unknown_tags_and_bad_rows_are_reported(people, tags, category):
    other = TagCategory.objects.create(name="来源")
    from shoal.tags import services

    services.tag_create(actor=SYSTEM, data={"name": "贵宾", "category_id": other.pk, "kind": "manual"})
    services.tag_create(actor=SYSTEM, data={"name": "停用", "category_id": category.pk, "kind": "manual",
                                            "enabled": False})
    text = ("13800130000,行为/贵宾\n"  # the ambiguous name written category/name: fine
            "13800130001,贵宾\n"  # ambiguous
            "13900000000,行为/贵宾\n"  # nobody has this mobile
            "13800130002,不存在\n"
            "13800130002,不存在\n"
            "13800130003,深圳客户\n"  # an auto tag
            "13800130003,停用\n"  # disabled
            "13800130004,行为/贵宾,2020-01-01\n"  # passed
            "13800130004,行为/贵宾,明天\n"  # not a date
            "13800130004\n"
            "13800130004,行为/贵宾,,extra\n"
            "nobody@example.com,靠谱\n")
    report = run(text)
    assert report.rows == 12 and report.tagged == 1
    assert report.unknown_customers == {"13900000000": 3, "nobody@example.com": 12}
    assert report.unknown_customer_rows == 2
    assert report.unknown_tags == {"不存在": 2} and report.unknown_tag_rows == 2
    reasons = {line: reason for line, reason, _raw in report.bad_rows}
    assert sorted(reasons) == [2, 6, 7, 8, 9, 10, 11] and report.bad_row_count == 7
    assert reasons[2] == "2 categories have a tag named 贵宾: write it as category/name"
    assert reasons[6] == "深圳客户 is an auto tag: its rules decide who has it"
    assert reasons[7] == "停用 is disabled"
    assert reasons[8] == "The expiry date 2020-01-01 has passed"
    assert reasons[9] == "明天 is not a date (YYYY-MM-DD)"
    assert report.rows == (report.tagged + report.already + report.unknown_customer_rows
                           + report.unknown_tag_rows + report.bad_row_count)
    summary = report.summary()
    assert summary["unknown_customers"] == 2 and summary["unknown_tag_names"] == ["不存在"]
    csv_text = report.csv_text()
    assert csv_text.startswith("\ufeff") and "13900000000" in csv_text and "不存在" in csv_text
    assert "明天 is not a date (YYYY-MM-DD)" in csv_text
    assert_scores_are_sums()


def test_expiry_dates_end_at_local_midnight_else_the_tags_validity(people, tags):
    before = timezone.now()
    report = run(f"13800130000,贵宾,{NEXT_YEAR}-03-15\n"
                 f"13800130001,贵宾,{NEXT_YEAR}/3/16\n"
                 "13800130002,贵宾\n"
                 "13800130003,靠谱\n"
                 f"13800130004,靠谱,{NEXT_YEAR}.01.02\n")
    assert report.tagged == 5
    expiry = dict(Tagging.objects.values_list("customer_id", "expires_at"))
    assert expiry[people[0].pk] == local_midnight(NEXT_YEAR, 3, 15)
    assert expiry[people[1].pk] == local_midnight(NEXT_YEAR, 3, 16)
    assert expiry[people[2].pk] is None  # 贵宾 has no validity
    day = timezone.localtime(before).date() + timedelta(days=30)
    assert expiry[people[3].pk] == local_midnight(day.year, day.month, day.day)  # 靠谱: 30 days
    assert expiry[people[4].pk] == local_midnight(NEXT_YEAR, 1, 2)


def test_importing_the_same_file_again_changes_nothing(people, tags):
    text = "".join(f"1380013{i:04d},贵宾\n1380013{i:04d},靠谱\n" for i in range(5)) + "13800130000,贵宾\n"
    first = run(text)
    assert (first.rows, first.tagged, first.already) == (11, 10, 1)  # the repeated row: already had it
    history, scores = TagHistory.objects.count(), [c.quality_score for c in people]
    second = run(text)
    assert (second.rows, second.tagged, second.already) == (11, 0, 11)
    assert TagHistory.objects.count() == history
    for customer in people:
        customer.refresh_from_db()
    assert [c.quality_score for c in people] == scores == [13] * 5
    assert_scores_are_sums()


def test_scores_stay_sums_with_auto_tags_and_later_changes(people, tags):
    refresh()
    run("13800130000,贵宾\n13800130000,靠谱\n13800130001,靠谱\n")
    people[0].refresh_from_db()
    assert people[0].quality_score == 10 + 3 + 1
    from shoal.tags import services

    services.tag_update(actor=SYSTEM, tag=tags["reliable"], data={"score": 7})
    services.remove_tag(actor=SYSTEM, tag=tags["vip"], customer_ids=[people[0].pk])
    assert_scores_are_sums()


def test_a_user_imports_only_into_their_data_scope(people, tags, personas):
    sales = personas["salesperson"]
    group = CustomerGroup.objects.create(name="G")
    CustomerGroupMembership.objects.create(customer=people[0], group=group, salesperson=sales)
    report = run("13800130000,贵宾\n13800130001,贵宾\n", actor=sales)
    assert report.tagged == 1 and report.unknown_customers == {"13800130001": 2}
    assert tagged(tags["vip"]) == {people[0].pk: "import"}
    assert TagHistory.objects.get(tag=tags["vip"]).actor == sales


def test_the_identity_field_can_be_chosen(people, tags):
    report = run("E001,贵宾\n13800130002,贵宾\n", field_name="ent_user_id")
    assert report.tagged == 1 and report.unknown_customers == {"13800130002": 2}
    with pytest.raises(Exception) as info:
        run("E001,贵宾\n", field_name="city")
    assert info.value.code == "invalid"


def test_the_work_is_set_based_queries_do_not_grow_with_rows(people, tags, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_ROWS", 1000)

    def queries(text):
        with CaptureQueriesContext(connection) as captured:
            run(text)
        return len(captured.captured_queries)

    small = queries("13800130000,贵宾\n13800130001,贵宾\n")
    rows = "".join(f"1390013{i:04d},靠谱\n" for i in range(300)) + "13800130002,靠谱\n13800130003,靠谱\n"
    assert queries(rows) <= small + 2  # one more tag and its count; nothing per row
    assert Tagging.objects.filter(tag=tags["reliable"]).count() == 2


def test_batches_give_the_same_result_as_one(people, tags, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_ROWS", 2)
    report = run("手机,标签\n" + "".join(f"1380013{i:04d},贵宾\n" for i in range(5)) + "13800130000,贵宾\nx,贵宾\n")
    assert report.header and (report.rows, report.tagged, report.already, report.unknown_customer_rows) == (7, 5, 1, 1)
    assert_scores_are_sums()


# -- the page and the command ------------------------------------------------------------------------------------
def test_the_import_page_shows_the_report_and_offers_it_as_csv(client, personas, people, tags):
    client.force_login(personas["manager"])  # holds customers.tags.create; scope: their departments
    CustomerGroupMembership.objects.create(customer=people[0], group=CustomerGroup.objects.create(name="G"),
                                           salesperson=personas["manager"])
    url = reverse("admin:tag_import")
    assert client.get(url).status_code == 200
    upload = SimpleUploadedFile("tags.csv", "13800130000,贵宾\n13800130001,贵宾\n13800130000,无此标签\n"
                                .encode("gb18030"), content_type="text/csv")
    response = client.post(url, {"file": upload, "encoding": "auto", "field": ""})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="import-report"' in html
    assert 'data-count="tagged"><dt class="text-base-500">Tagged</dt><dd class="font-semibold text-lg text-important">1' in html
    assert "无此标签" in html and "13800130001" in html
    report_url = html.split('id="report-download" href="')[1].split('"')[0]
    csv_response = client.get(report_url)
    body = b"".join(csv_response.streaming_content).decode("utf-8-sig")
    assert csv_response.status_code == 200 and "无此标签" in body and "13800130001" in body
    # another user cannot fetch it
    client.force_login(personas["admin"])
    assert client.get(report_url).status_code == 404
    assert client.post(url, {"encoding": "auto"}).status_code == 200  # no file: a message
    assert tagged(tags["vip"]) == {people[0].pk: "import"}


def test_the_import_page_needs_a_tag_or_import_permission(client, personas, people, tags):
    url = reverse("admin:tag_import")
    client.force_login(personas["salesperson"])
    assert client.get(url).status_code == 403
    upload = SimpleUploadedFile("tags.csv", b"13800130000,x\n")
    assert client.post(url, {"file": upload}).status_code == 403
    importer = make_user("importer", Role.objects.create(name="Importer", code="importer", data_scope="all",
                                                        permissions=["customers.customers.import"]))
    client.force_login(importer)
    assert client.get(url).status_code == 200
    assert not OperationLog.objects.filter(action="tag.import").exists()


def test_the_command_prints_progress_and_a_json_summary(people, tags, tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_ROWS", 2)
    path = tmp_path / "tags.csv"
    path.write_bytes("13800130000,贵宾\n13800130001,贵宾\n13900000000,贵宾\n".encode("gb18030"))
    out, err = io.StringIO(), io.StringIO()
    report_path = tmp_path / "report.csv"
    call_command("tags", "import", str(path), "--report", str(report_path), stdout=out, stderr=err)
    progress = [line.strip() for line in err.getvalue().splitlines() if line.strip()]
    assert progress[0].startswith("tags import: rows 2 · tagged 2") and progress[1].startswith("tags import: rows 3")
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["rows"] == 3 and summary["tagged"] == 2 and summary["unknown_customers"] == 1
    assert summary["encoding"] == "gb18030"
    assert "13900000000" in report_path.read_text(encoding="utf-8-sig")
    assert OperationLog.objects.filter(action="tag.import").count() == 1


def test_a_large_upload_read_from_its_temporary_file(client, personas, people, tags, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # any upload over 10 bytes goes to a temporary file on disk
    client.force_login(personas["admin"])
    text = "手机号,标签\n" + "".join(f"1380013{i:04d},靠谱\n" for i in range(5))
    upload = SimpleUploadedFile("big.csv", text.encode("gb18030"), content_type="text/csv")
    html = client.post(reverse("admin:tag_import"), {"file": upload, "encoding": "auto"}).content.decode()
    assert "Encoding gb18030" in html
    assert set(tagged(tags["reliable"])) == {c.pk for c in people}
