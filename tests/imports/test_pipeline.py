"""The import engine: classification and counts, updates, strict / dry run, groups, tags, timeline, scope,
masking in the error report, resuming after a killed worker."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shoal.core.actors import SYSTEM
from shoal.customers.models import (
    Customer,
    CustomerGroup,
    CustomerGroupMembership,
    TimelineEntry,
    TimelineKind,
)
from shoal.customers.quality import with_quality
from shoal.customers.services.custom_fields import custom_field_create
from shoal.imports import services
from shoal.imports.models import ImportStatus

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "手机号", "邮箱", "城市"]


def write_csv(tmp_path, rows, header=HEADER, encoding="utf-8", name="customers.csv") -> Path:
    path = tmp_path / name
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_import(path, *, actor=SYSTEM, **options):
    run = services.import_local_file(actor=actor, path=path, options=options)
    services.import_start(actor=actor, run=run, enqueue=False)
    done = services.import_execute(run.pk)
    assert done is not None
    return done


def report_lines(run) -> list[list[str]]:
    path = services.import_errors_path(run)
    if path is None:
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))[1:]


def test_every_kind_of_row_is_counted_and_the_counts_add_up(tmp_path):
    Customer.objects.create(name="老客户", mobile="+8613800000009", city="杭州")
    path = write_csv(tmp_path, [
        ["张伟", "13800000001", "ZW@Example.com ", "北京"],   # created
        ["李娜", "13800000002", "", "上海"],                  # created
        ["", "", "", ""],                                      # empty
        ["  ", " ", "\t", ""],                                 # empty (whitespace only)
        ["王芳", "13800000001", "", "广州"],                   # duplicate of row 2
        ["赵六", "12345", "", "深圳"],                         # invalid mobile
        ["钱七", "", "", "深圳"],                              # invalid: no identity
        ["老客户", "138 0000 0009", "", "杭州"],               # unchanged (same values)
        ["老客户", "+86 13800000009", "", "南京"],             # duplicate (same mobile as row 9)
    ])
    run = run_import(path)
    assert run.status == ImportStatus.SUCCEEDED
    counts = run.summary()
    assert counts == {"rows": 9, "empty": 2, "invalid": 2, "duplicate": 2, "created": 2, "updated": 0, "unchanged": 1}
    assert counts["rows"] == sum(v for k, v in counts.items() if k != "rows")
    zw = Customer.objects.get(mobile="+8613800000001")
    assert (zw.name, zw.email, zw.city) == ("张伟", "zw@example.com", "北京")
    assert Customer.objects.count() == 3
    lines = report_lines(run)
    assert [line[0] for line in lines] == ["6", "7", "8", "10"]
    assert "row 2" in lines[0][3] or "2" in lines[0][3]


def test_an_update_overwrites_with_filled_cells_and_keeps_values_of_empty_ones(tmp_path):
    c = Customer.objects.create(name="旧名", mobile="+8613800000001", city="杭州", email="old@example.com")
    path = write_csv(tmp_path, [["新名", "13800000001", "", ""]])
    run = run_import(path)
    assert run.summary()["updated"] == 1
    c.refresh_from_db()
    assert (c.name, c.city, c.email) == ("新名", "杭州", "old@example.com")
    again = run_import(path)
    assert again.summary()["unchanged"] == 1


def test_identity_values_of_two_existing_customers_make_the_row_invalid(tmp_path):
    Customer.objects.create(name="A", mobile="+8613800000001")
    Customer.objects.create(name="B", email="b@example.com")
    path = write_csv(tmp_path, [["AB", "13800000001", "b@example.com", ""]])
    run = run_import(path)
    assert run.summary()["invalid"] == 1
    assert Customer.objects.get(mobile="+8613800000001").name == "A"
    assert "2" in report_lines(run)[0][3]


def test_headers_match_ignoring_case_and_spaces_and_unknown_columns_are_listed(tmp_path):
    definition = custom_field_create(actor=None, label="积分", type="integer", key="points")
    path = write_csv(tmp_path, [["x", "13800000001", " 12 ", "?"]], header=[" NAME ", "Mobile", "积分", "Favourite colour"])
    run = services.import_local_file(actor=SYSTEM, path=path)
    preview = services.import_preview(actor=SYSTEM, run=run)
    fields = [c["field"] for c in preview["columns"]]
    assert fields == ["name", "mobile", definition.key, ""]
    assert preview["unknown_columns"] == ["Favourite colour"]
    assert preview["summary"]["created"] == 1
    assert Customer.objects.count() == 0  # a preview writes nothing
    services.import_start(actor=SYSTEM, run=run, enqueue=False)
    services.import_execute(run.pk)
    assert Customer.objects.get().attributes == {"points": 12}


def test_a_wrong_type_in_a_custom_field_is_invalid_with_its_column_and_reason(tmp_path):
    custom_field_create(actor=None, label="积分", type="integer", key="points")
    path = write_csv(tmp_path, [["x", "13800000001", "many"], ["y", "13800000002", "3"]], header=["姓名", "手机号", "积分"])
    run = run_import(path)
    assert run.summary()["invalid"] == 1 and run.summary()["created"] == 1
    row, column, value, reason = report_lines(run)[0]
    assert (row, column, value) == ("2", "积分", "many")
    assert reason


def test_the_user_may_remap_and_ignore_columns(tmp_path):
    path = write_csv(tmp_path, [["13800000001", "备注文字"]], header=["号码", "说明"])
    run = run_import(path, mapping={"号码": "mobile", "说明": "notes"})
    c = Customer.objects.get()
    assert (c.mobile, c.notes) == ("+8613800000001", "备注文字")
    assert run.summary()["created"] == 1
    with pytest.raises(Exception) as exc:
        run_import(path, mapping={"号码": "mobile", "说明": "mobile"})
    assert "mobile" in str(exc.value) or "手机" in str(exc.value)


def test_a_file_without_an_identity_column_is_refused_before_anything_is_read(tmp_path):
    from shoal.core.errors import ShoalError

    path = write_csv(tmp_path, [["x", "北京"]], header=["姓名", "城市"])
    with pytest.raises(ShoalError) as exc:
        services.import_local_file(actor=SYSTEM, path=path)
    assert exc.value.code == "no_identity_column"


def test_formula_cells_are_stored_as_text_and_cjk_extension_characters_survive(tmp_path):
    path = write_csv(tmp_path, [["=1+2", "13800000001", "", "𠀀𪚥市"]], encoding="gb18030")
    run_import(path)
    c = Customer.objects.get()
    assert (c.name, c.city) == ("=1+2", "𠀀𪚥市")


def test_strict_mode_writes_nothing_when_a_row_is_invalid(tmp_path):
    path = write_csv(tmp_path, [["a", "13800000001", "", ""], ["b", "bad", "", ""]])
    run = run_import(path, strict=True)
    assert run.status == ImportStatus.FAILED
    assert run.summary()["invalid"] == 1
    assert Customer.objects.count() == 0
    assert report_lines(run)[0][0] == "3"
    ok = write_csv(tmp_path, [["a", "13800000001", "", ""]], name="ok.csv")
    assert run_import(ok, strict=True).summary()["created"] == 1


def test_a_dry_run_counts_without_writing(tmp_path):
    path = write_csv(tmp_path, [["a", "13800000001", "", ""], ["b", "13800000001", "", ""]])
    run = run_import(path, dry_run=True)
    assert run.summary()["created"] == 1 and run.summary()["duplicate"] == 1
    assert Customer.objects.count() == 0


def test_importing_into_a_group_adds_the_group_and_keeps_existing_relations(tmp_path, personas):
    sales = personas["salesperson"]
    group = CustomerGroup.objects.create(name="华东组")
    other = CustomerGroup.objects.create(name="华北组")
    old = Customer.objects.create(name="old", mobile="+8613800000001")
    CustomerGroupMembership.objects.create(customer=old, group=other, salesperson=sales)
    CustomerGroupMembership.objects.create(customer=old, group=group, salesperson=sales)
    path = write_csv(tmp_path, [["old", "13800000001", "", ""], ["new", "13800000002", "", ""]])
    run_import(path, group_id=group.pk)
    new = Customer.objects.get(mobile="+8613800000002")
    assert CustomerGroupMembership.objects.get(customer=new).group == group
    assert CustomerGroupMembership.objects.get(customer=old, group=group).salesperson == sales  # kept
    assert CustomerGroupMembership.objects.filter(customer=old).count() == 2


def test_tags_chosen_for_the_import_go_to_every_imported_customer_with_score(tmp_path):
    from shoal.tags import services as tags
    from shoal.tags.models import Tagging

    category = tags.category_create(actor=None, data={"name": "来源"})
    tag = tags.tag_create(actor=None, data={"name": "展会", "category_id": category.pk, "kind": "manual", "score": 5})
    path = write_csv(tmp_path, [["a", "13800000001", "", ""], ["b", "13800000002", "", ""]])
    run_import(path, tag_ids=[tag.pk])
    assert set(Tagging.objects.filter(tag=tag).values_list("source", flat=True)) == {"import"}
    assert sorted(with_quality(Customer.objects).values_list("quality_score", flat=True)) == [5, 5]
    tag.refresh_from_db()
    assert tag.customer_count == 2


def test_normal_mode_writes_timeline_entries_and_fast_mode_does_not(tmp_path):
    Customer.objects.create(name="old", mobile="+8613800000009", city="杭州")
    path = write_csv(tmp_path, [["a", "13800000001", "", ""], ["old", "13800000009", "", "南京"]])
    run_import(path, mode="normal")
    created = Customer.objects.get(mobile="+8613800000001")
    assert TimelineEntry.objects.filter(customer=created, kind=TimelineKind.CREATED).exists()
    change = TimelineEntry.objects.get(customer__mobile="+8613800000009", kind=TimelineKind.CHANGED)
    assert (change.field, change.old, change.new) == ("city", "杭州", "南京")
    path2 = write_csv(tmp_path, [["b", "13800000002", "", ""]], name="fast.csv")
    run_import(path2, mode="fast")
    assert not TimelineEntry.objects.filter(customer__mobile="+8613800000002").exists()


def test_a_customer_outside_the_importers_scope_is_not_updated(tmp_path, personas):
    sales = personas["manager"]  # department scope: customers of nobody in the department are out of it
    hidden = Customer.objects.create(name="hidden", mobile="+8613800000001", city="杭州")
    path = write_csv(tmp_path, [["mine now", "13800000001", "", "北京"]])
    run = run_import(path, actor=sales)
    hidden.refresh_from_db()
    assert (hidden.name, hidden.city) == ("hidden", "杭州")
    assert run.summary()["invalid"] == 1
    assert "13800000001" not in " ".join(report_lines(run)[0])


def test_the_error_report_masks_values_the_importer_may_not_see(tmp_path, personas):
    sales = personas["manager"]  # masking policy: mask all (the default)
    path = write_csv(tmp_path, [["a", "13800000001", "", ""], ["b", "13800000001", "", ""]])
    run = run_import(path, actor=sales)
    line = report_lines(run)[0]
    assert line[0] == "3"
    assert "13800000001" not in line[2]
    admin_run = run_import(write_csv(tmp_path, [["a", "13900000001", "", ""], ["b", "13900000001", "", ""]], name="a.csv"),
                           actor=personas["admin"])
    assert report_lines(admin_run)[0][2] == "139****0001"  # as on the customer list, which masks for everyone


def test_a_user_without_the_import_permission_is_refused(tmp_path, personas):
    from shoal.core.errors import ShoalError

    path = write_csv(tmp_path, [["a", "13800000001", "", ""]])
    with pytest.raises(ShoalError) as exc:
        services.import_local_file(actor=personas["norole"], path=path)
    assert exc.value.status == 403


def test_a_second_worker_finds_the_run_claimed(tmp_path):
    path = write_csv(tmp_path, [["a", "13800000001", "", ""]])
    run = services.import_local_file(actor=SYSTEM, path=path)
    services.import_start(actor=SYSTEM, run=run, enqueue=False)
    assert services.import_execute(run.pk) is not None
    assert services.import_execute(run.pk) is None  # done: nobody runs it again
    assert Customer.objects.count() == 1


KILL_SCRIPT = r"""
import json, os, signal, sys
import django
django.setup()
from django.core.management import call_command
from shoal.core.actors import SYSTEM
from shoal.imports import pipeline, services
from shoal.imports.models import ImportRun
from shoal.customers.models import Customer
pipeline.BATCH = {"fast": 1000, "normal": 1000}
pipeline.PARALLEL_FROM = 0  # read and classified in a forked process, as a large file is
step = sys.argv[1]
if step == "start":
    call_command("migrate", verbosity=0)
    run = services.import_local_file(actor=SYSTEM, path=sys.argv[2], options={"mode": "fast"})
    services.import_start(actor=SYSTEM, run=run, enqueue=False)
    print(json.dumps({"id": run.pk}))
elif step == "die":
    original = pipeline._write_batch
    calls = []
    def dying(*args, **kwargs):
        original(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)   # the worker is killed mid-file, after two committed batches
    pipeline._write_batch = dying
    services.import_execute(int(sys.argv[2]))
elif step == "resume":
    from datetime import timedelta
    from django.utils import timezone
    run = ImportRun.objects.get(pk=int(sys.argv[2]))
    before = {"status": run.status, "rows_done": run.rows_done}
    ImportRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    resumed = services.resume_stalled()
    done = services.import_execute(run.pk)
    print(json.dumps({"before": before, "resumed": resumed, "counts": done.summary(), "status": done.status,
                      "customers": Customer.objects.count(),
                      "distinct": Customer.objects.values("mobile").distinct().count()}))
"""


def test_a_killed_import_resumes_after_its_last_batch_and_creates_nothing_twice(tmp_path):
    rows = [[f"客户{i}", f"138{i:08d}", "", "北京"] for i in range(4500)]
    rows[100] = ["坏", "bad", "", ""]
    rows[3000] = rows[10]  # a duplicate after the kill of a row before it
    path = write_csv(tmp_path, rows)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SHOAL_DATA_DIR"] = str(tmp_path / "data")
    env["DJANGO_SETTINGS_MODULE"] = "shoal.settings"

    def step(*args):
        return subprocess.run([sys.executable, "-c", KILL_SCRIPT, *map(str, args)], env=env, capture_output=True,
                              text=True, timeout=300)

    started = step("start", path)
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout.strip().splitlines()[-1])["id"]
    died = step("die", run_id)
    assert died.returncode == -9, died.stderr  # killed, not finished
    resumed = step("resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert out["before"] == {"status": "running", "rows_done": 2001}  # two batches of 1,000 rows (+ header)
    assert out["resumed"] == 1
    assert out["status"] == "succeeded"
    assert out["counts"] == {"rows": 4500, "empty": 0, "invalid": 1, "duplicate": 1, "created": 4498, "updated": 0,
                             "unchanged": 0}
    assert out["customers"] == out["distinct"] == 4498


def test_an_excel_file_imports_like_a_csv_with_numbers_and_dates_as_text(tmp_path):
    import datetime as dt

    import xlsxwriter

    path = tmp_path / "customers.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    for col, head in enumerate(["姓名", "手机号", "生日", "城市"]):
        sheet.write(0, col, head)
    sheet.write(1, 0, "张伟")
    sheet.write_number(1, 1, 13800000001)  # a mobile typed as a number
    sheet.write_datetime(1, 2, dt.datetime(1990, 5, 17), date_format)
    sheet.write(1, 3, "北京")
    book.close()
    run = run_import(path)
    assert run.kind == "xlsx" and run.summary()["created"] == 1
    c = Customer.objects.get()
    assert (c.mobile, str(c.birthday), c.city) == ("+8613800000001", "1990-05-17", "北京")


@pytest.mark.parametrize("encoding", ["gb18030", "big5", "utf-8-sig"])
def test_files_in_chinese_encodings_are_detected_and_imported(tmp_path, encoding):
    header = ["姓名", "手機號碼", "電子郵件", "城市"]  # Big5 has the traditional characters only
    path = write_csv(tmp_path, [["張偉", "13800000001", "", "臺北市"]], header=header, encoding=encoding)
    run = run_import(path)
    assert run.summary()["created"] == 1
    assert Customer.objects.get().city == "臺北市"


def _customer_indexes() -> set[str]:
    from django.db import connection

    from shoal.core.db import secondary_indexes

    with connection.cursor() as cursor:
        return {name for name, _ in secondary_indexes(cursor, Customer._meta.db_table)}


def test_a_large_file_into_an_empty_table_is_bulk_loaded_with_its_indexes_rebuilt(tmp_path, monkeypatch):
    from shoal.imports import pipeline

    monkeypatch.setattr(pipeline, "BULK_FROM", 0)  # every file counts as large here
    indexes = _customer_indexes()
    assert {"customer_mobile_uniq", "customer_email_uniq"} <= indexes
    rows = [[f"客户{i}", f"138{i:08d}", f"c{i}@example.com" if i % 3 == 0 else "", "北京"] for i in range(3000)]
    rows[2000] = ["重复", "13800000007", "", ""]  # same mobile as row 9: a duplicate, not a second customer
    rows[2500] = ["坏", "x", "", ""]
    run = run_import(write_csv(tmp_path, rows), mode="fast")
    assert run.summary() == {"rows": 3000, "empty": 0, "invalid": 1, "duplicate": 1, "created": 2998, "updated": 0,
                             "unchanged": 0}
    assert _customer_indexes() == indexes  # every index is back
    assert Customer.objects.count() == Customer.objects.values("mobile").distinct().count() == 2998
    first = Customer.objects.get(mobile="+8613800000003")  # Shoal's own values written as literals on SQLite
    assert (first.name, first.email, first.city, first.status, first.quality_score, first.attributes, first.phone) == (
        "客户3", "c3@example.com", "北京", "active", 0, {}, "")
    assert first.created_at == first.updated_at and first.created_at.tzinfo is not None
    again = run_import(write_csv(tmp_path, [["新名字", "13800000001", "", "上海"]], name="again.csv"))
    assert again.summary()["updated"] == 1  # a table with customers: the ordinary path, identities matched
    assert Customer.objects.get(mobile="+8613800000001").city == "上海"


def test_copy_text_a_column_at_a_time():
    """PostgreSQL's bulk load writes COPY text built per column: escapes, NULLs, constants and kinds."""
    from datetime import UTC, date, datetime

    from psycopg.types.json import Jsonb

    from shoal.customers.models import CustomerStatus
    from shoal.imports.pipeline import _copy_column

    assert _copy_column(["a\tb", "c\\d", None, "e\nf\r", "\\N"]) == ["a\\tb", "c\\\\d", "\\N", "e\\nf\\r", "\\\\N"]
    assert _copy_column(["x", "y"]) == ["x", "y"]
    assert _copy_column([None, None]) == ["\\N", "\\N"]
    assert _copy_column([True, False, None]) == ["t", "f", "\\N"]
    assert _copy_column([3, None, 0]) == ["3", "\\N", "0"]
    assert _copy_column([CustomerStatus.ACTIVE] * 2) == [str(CustomerStatus.ACTIVE.value)] * 2
    assert _copy_column([date(2024, 3, 5), None]) == ["2024-03-05", "\\N"]
    when = datetime(2024, 3, 5, 1, 2, 3, tzinfo=UTC)
    assert _copy_column([when]) == [when.isoformat()]
    assert _copy_column([datetime(2024, 3, 5)]) is None  # naive: left to psycopg
    assert _copy_column([Jsonb({"k": "制\t"})]) == ['{"k": "制\\\\t"}']
    assert _copy_column([1, "a"]) is None  # mixed kinds: left to psycopg


def test_a_batch_classified_a_column_at_a_time_answers_as_row_by_row(tmp_path):
    """classify_batch gives the candidates, counts and errors of classify called row by row."""
    from shoal.imports import mapping as M
    from shoal.imports.pipeline import Classifier, Result
    from shoal.imports.reading import open_table

    rows = [["李丽", "13812345678", "a@example.com"], ["", "", ""], ["  ", " ", ""], ["王", "12345", ""],
            ["张", "13812345678", ""], ["赵", "", "a@example.com"], ["钱", "", ""], ["孙", "+86 139 1234 5678", "b@x.cn"],
            ["周", "13912345678", ""], ["吴", "13712345678"]]
    path = write_csv(tmp_path, rows, header=["姓名", "手机号", "邮箱"])
    with open_table(path) as table:
        batch = list(table.rows())
        mapping = M.build_mapping(table.header, None)
    one, many = Classifier(mapping), Classifier(mapping)
    r1, r2 = Result(), Result()
    expected = [c for c in (one.classify(n, cells, r1) for n, cells in batch) if c is not None]
    assert many.classify_batch(batch[:4], r2) + many.classify_batch(batch[4:], r2) == expected
    assert r1.counts == r2.counts and r1.errors == r2.errors
    assert r2.counts["empty"] == 2 and r2.counts["duplicate"] >= 1 and r2.counts["invalid"] >= 2


INDEX_KILL_SCRIPT = r"""
import json, os, signal, sys
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from shoal.core.actors import SYSTEM
from shoal.core.db import secondary_indexes
from shoal.imports import pipeline, services
from shoal.imports.models import ImportRun
from shoal.customers.models import Customer
pipeline.BULK_FROM = 0  # a bulk load, as for a large file into an empty table
pipeline.PARALLEL_FROM = 0  # read and classified in a forked process, as a large file is
pipeline.BATCH = {"fast": 1000, "normal": 1000}
step = sys.argv[1]

def state(run_id):
    with connection.cursor() as cursor:
        indexes = sorted(name for name, _ in secondary_indexes(cursor, Customer._meta.db_table))
    run = ImportRun.objects.get(pk=run_id)
    return {"status": run.status, "pending": sorted(name for name, _ in run.pending_indexes), "indexes": indexes,
            "customers": Customer.objects.count(), "counts": run.summary()}

if step == "start":
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        before = sorted(name for name, _ in secondary_indexes(cursor, Customer._meta.db_table))
    run = services.import_local_file(actor=SYSTEM, path=sys.argv[2], options={"mode": "fast"})
    services.import_start(actor=SYSTEM, run=run, enqueue=False)
    print(json.dumps({"id": run.pk, "indexes": before}))
elif step == "die":
    def dying(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies after the rows committed, before the indexes
    pipeline.build_pending_indexes = dying
    services.import_execute(int(sys.argv[2]))
elif step == "state":
    print(json.dumps(state(int(sys.argv[2]))))
elif step == "resume":
    from datetime import timedelta
    from django.utils import timezone
    run_id = int(sys.argv[2])
    ImportRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    resumed = services.resume_stalled()
    done = services.import_execute(run_id)
    print(json.dumps({"resumed": resumed, "errors": services.import_errors_path(done) is not None, **state(run_id)}))
"""


@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_killed_after_its_commit_gets_its_indexes_from_the_recovery(tmp_path):
    """The rows of a bulk load commit with the unique indexes; the other indexes are built after the commit. A
    worker killed in between leaves the run running with its pending indexes; the recovery builds them."""
    from django.db import connection

    rows = [[f"客户{i}", f"138{i:08d}", f"c{i}@example.com" if i % 3 == 0 else "", "北京"] for i in range(2500)]
    rows[100] = ["坏", "bad", "", ""]
    path = write_csv(tmp_path, rows)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SHOAL_DATA_DIR"] = str(tmp_path / "data")
    env["DJANGO_SETTINGS_MODULE"] = "shoal.settings"
    if connection.vendor == "postgresql":  # the workers use this test's database (committed: transaction=True)
        s = connection.settings_dict
        env["DATABASE_URL"] = f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"

    def step(*args):
        done = subprocess.run([sys.executable, "-c", INDEX_KILL_SCRIPT, *map(str, args)], env=env,
                              capture_output=True, text=True, timeout=300)
        return done, (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None)

    started, info = step("start", path)
    assert started.returncode == 0, started.stderr
    run_id, indexes = info["id"], info["indexes"]
    assert {"customer_mobile_uniq", "customer_name_idx", "customer_created_idx"} <= set(indexes)
    died, _ = step("die", run_id)
    assert died.returncode == -9, died.stderr  # killed, not finished
    _, killed = step("state", run_id)
    assert killed["status"] == "running" and killed["customers"] == 2499  # the rows committed
    assert {"customer_mobile_uniq", "customer_email_uniq"} <= set(killed["indexes"])  # identities stay unique
    assert "customer_name_idx" not in killed["indexes"]
    assert killed["pending"] == sorted(set(indexes) - set(killed["indexes"]))
    resumed, out = step("resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert out["resumed"] == 1
    assert out["status"] == "succeeded"
    assert out["indexes"] == indexes and out["pending"] == []  # every index is back
    assert out["counts"] == {"rows": 2500, "empty": 0, "invalid": 1, "duplicate": 0, "created": 2499, "updated": 0,
                             "unchanged": 0}
    assert out["customers"] == 2499
    assert out["errors"]  # the error report written before the kill is kept
