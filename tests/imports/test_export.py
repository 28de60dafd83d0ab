"""Customer export (service): fields and their values, masking as on the customer list, the data scope, formula
cells, encodings, xlsx read back, tags and group columns, chunking, the operation log."""

import csv
import io
import random
import zipfile
from datetime import UTC, datetime

import pytest
from django.utils import timezone, translation
from python_calamine import CalamineWorkbook

from shoal.accounts.models import Role
from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.core.models import OperationLog
from shoal.customers import masking, selectors
from shoal.customers import services as customer_services
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.imports import exporting
from shoal.imports.exporting import export_customers, export_fields, neutralise
from shoal.tags import services as tag_services
from shoal.tags.models import TagCategory
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def run(actor=SYSTEM, **kwargs) -> bytes:
    out = io.BytesIO()
    export_customers(actor=actor, out=out, **kwargs)
    return out.getvalue()


def rows_of(data: bytes, encoding="utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def xlsx_rows(data: bytes) -> list[list]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    out = []
    for name in book.sheet_names:
        out += book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return out


def by_id(rows):
    return {row[0]: row for row in rows[1:]}


@pytest.fixture
def masking_on():
    parameters.set_value("MASKING_ENABLED", True)


@pytest.fixture
def masking_off():
    parameters.set_value("MASKING_ENABLED", False)


def customer(**data):
    return customer_services.customer_create(actor=SYSTEM, data=data)


@pytest.fixture
def exporter_role(roles):
    """A salesperson who may also export (own data scope)."""
    role = roles["salesperson"]
    return Role.objects.create(name="导出业务员", code="sales_export", data_scope=role.data_scope,
                               permissions=[*role.permissions, "customers.customers.export"])


@pytest.fixture
def world(personas, exporter_role):
    """A group with two salespeople (one may export); a customer each, one in the company public sea."""
    seller = make_user("seller", exporter_role, name="李小丹")
    other = make_user("other_seller", exporter_role, name="张伟")
    group = CustomerGroup.objects.create(name="华东大客户组")
    group.salespeople.add(seller, other)
    group.admins.add(personas["manager"])
    mine = customer(name="我的客户", mobile="13800138000", email="mine@example.com", city="深圳")
    theirs = customer(name="别人的客户", mobile="13900139000", email="theirs@example.com", city="深圳")
    public = customer(name="公海客户", mobile="13700137000", city="广州")
    now = timezone.now()
    CustomerGroupMembership.objects.create(customer=mine, group=group, salesperson=seller, assigned_at=now)
    CustomerGroupMembership.objects.create(customer=theirs, group=group, salesperson=other, assigned_at=now)
    return {"seller": seller, "other": other, "group": group, "mine": mine, "theirs": theirs, "public": public,
            **personas}


# -- fields ---------------------------------------------------------------------------------------------
def test_fields_list_standard_custom_tags_and_ownership(db):
    customer_services.custom_field_create(actor=SYSTEM, key="plan", label="套餐", type="text")
    customer_services.custom_field_create(actor=SYSTEM, key="quality_score", label="自定义分", type="integer")
    fields = {f.key: f for f in export_fields()}
    assert {"id", "name", "mobile", "email", "company", "created_at", "tags", "quality_score", "groups",
            "salespeople", "plan"} <= set(fields)
    assert fields["plan"].group == "custom" and fields["plan"].label == "套餐"
    assert fields["tags"].group == "tags" and fields["groups"].group == "ownership"
    assert fields["quality_score"].group == "tags"  # the standard score keeps the plain key
    assert fields["cf:quality_score"].label == "自定义分"  # a custom key that is taken: cf:<key>
    assert "company_id" not in fields


def test_unknown_fields_are_refused_naming_them(db):
    with pytest.raises(ShoalError) as exc:
        run(fields=["name", "nope", "mobil"])
    assert exc.value.code == "invalid_fields" and exc.value.status == 400
    assert exc.value.detail["unknown"] == ["nope", "mobil"]


def test_bad_format_and_encoding_are_refused(db):
    with pytest.raises(ShoalError) as exc:
        run(fields=["name"], fmt="pdf")
    assert exc.value.code == "invalid_format"
    with pytest.raises(ShoalError) as exc:
        run(fields=["name"], encoding="latin-1")
    assert exc.value.code == "invalid_encoding"


def test_default_fields_are_the_users_list_columns(world, masking_off):
    from shoal.customers import columns

    columns.save_user_columns(world["admin"], ["name", "city", "tags"])
    with translation.override("zh-hans"):  # the caller's language (another test may leave one active)
        rows = rows_of(run(world["admin"]))
        assert rows[0] == [f.label for f in exporting.resolve_fields(["name", "city", "tags"])]
    assert ["我的客户", "深圳", ""] in rows


def test_header_is_in_the_callers_language(db):
    customer(name="甲", mobile="13800138000")
    with translation.override("zh-hans"):
        zh = rows_of(run(fields=["name", "mobile", "created_at"]))[0]
    with translation.override("en"):
        en = rows_of(run(fields=["name", "mobile", "created_at"]))[0]
    assert zh == ["名称", "手机号", "创建时间"]
    assert en == ["name", "mobile", "created at"]


def test_values_read_as_on_the_pages(masking_off):
    group = customer_services.enum_group_create(actor=SYSTEM, code="plan", name="套餐",
                                                items=[{"code": "pro", "label": "专业版"},
                                                       {"code": "free", "label": "免费版"}])
    for key, label, kind in (("plan", "套餐", "enum"), ("plans", "套餐们", "multi_enum"), ("assets", "资产", "money"),
                             ("files", "文件数", "integer"), ("ratio", "比例", "decimal"), ("vip", "VIP", "boolean"),
                             ("last_login", "最近登录", "datetime"), ("first_order", "首单", "date"),
                             ("backup", "备用电话", "phone")):
        customer_services.custom_field_create(actor=SYSTEM, key=key, label=label, type=kind,
                                              enum_group_id=group.pk if "enum" in kind else None)
    c = customer(name="值客户", mobile="13800138000", gender="female", birthday="1990-02-03", status="banned",
                 attributes={"plan": "pro", "plans": ["pro", "free"], "assets": "1234.5", "files": 7, "ratio": "0.25",
                             "vip": True, "last_login": "2026-01-02T03:04:05Z", "first_order": "2025-12-31",
                             "backup": "13911112222"})
    c.created_at = datetime(2026, 1, 1, 16, 30, 0, tzinfo=UTC)
    c.save(update_fields=["created_at"])
    keys = ["id", "mobile", "gender", "birthday", "status", "created_at", "in_recycle_bin", "plan", "plans", "assets",
            "files", "ratio", "vip", "last_login", "first_order", "backup"]
    with translation.override("zh-hans"):
        row = rows_of(run(fields=keys))[1]
    assert row == [str(c.pk), "13800138000", "女", "1990-02-03", "已封禁", "2026-01-02 00:30:00", "否", "专业版",
                   "专业版, 免费版", "1234.50", "7", "0.25", "是", "2026-01-02 11:04:05", "2025-12-31", "13911112222"]


# -- masking -------------------------------------------------------------------------------------------------
def test_masked_as_on_the_list_for_every_viewer_when_masking_is_on(world, masking_on):
    customer_services.custom_field_create(actor=SYSTEM, key="backup", label="备用电话", type="phone")
    customer_services.custom_field_create(actor=SYSTEM, key="work_email", label="工作邮箱", type="email")
    customer_services.customer_update(actor=SYSTEM, customer=world["mine"], data={
        "phone": "010-12345678", "attributes": {"backup": "13911112222", "work_email": "w@corp.com"}})
    world["admin"].masking_policy = "none"  # lists mask for everyone; only the detail page reveals
    world["admin"].save(update_fields=["masking_policy"])
    fields = ["id", "mobile", "phone", "email", "backup", "work_email"]
    for viewer in (world["seller"], world["admin"]):
        row = by_id(rows_of(run(viewer, fields=fields)))[str(world["mine"].pk)]
        assert row[1:] == ["138****8000", "010****5678", "m***@example.com", "139****2222", "w***@corp.com"]
        # the same as the one masking function gives the customer list
        mine = selectors.customer_queryset(actor=viewer).get(pk=world["mine"].pk)
        shown = masking.mask_customer_rows([mine], viewer=viewer, context="list")[0]
        assert row[1] == shown["mobile"] and row[3] == shown["email"]
        assert row[4] == shown["attributes"]["backup"] and row[5] == shown["attributes"]["work_email"]


def test_nothing_is_masked_when_masking_is_off(world, masking_off):
    row = by_id(rows_of(run(world["seller"], fields=["id", "mobile", "email"])))[str(world["mine"].pk)]
    assert row[1:] == ["13800138000", "mine@example.com"]  # a domestic mobile without +86


def test_foreign_mobile_keeps_its_country_code_and_is_neutralised(masking_off):
    c = customer(name="US", mobile="+16502530000")
    row = by_id(rows_of(run(fields=["id", "mobile"])))[str(c.pk)]
    assert row[1] == "'+16502530000"


def test_domestic_phone_without_the_parser_answers_as_the_parser(db):
    rng = random.Random(7)
    samples = ["+8613800138000", "+86 138 0013 8000", "+8610123", "+860101234567", "+8612593123456", "+8617951234567",
               "+86", "+861", "+8612", "+16502530000", "+447911123456", "+85261234567", "+8", "+", "+8613800138000x",
               "+８６13800138000", "+86" + "1" * 18, "13800138000"]
    for _ in range(3000):
        prefix = rng.choice(["+86", "+852", "+1", "+44", "+8", "+9"])
        samples.append(prefix + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 16))))
    for region in ("CN", "US", "HK", "DE"):
        for text in samples:
            assert masking.domestic_phone(text, region) == masking._domestic_parsed(text, region), (region, text)


# -- scope -----------------------------------------------------------------------------------------------
def test_a_salesperson_exports_only_their_customers(world, masking_off):
    names = {row[1] for row in rows_of(run(world["seller"], fields=["id", "name"]))[1:]}
    assert names == {"我的客户"}
    # ids and queries cannot reach past the scope
    ids = [world["mine"].pk, world["theirs"].pk, world["public"].pk]
    assert {r[1] for r in rows_of(run(world["seller"], fields=["id", "name"], ids=ids))[1:]} == {"我的客户"}
    query = {"field": "city", "op": "eq", "value": "深圳"}
    assert {r[1] for r in rows_of(run(world["seller"], fields=["id", "name"], query=query))[1:]} == {"我的客户"}
    everyone = {r[1] for r in rows_of(run(world["admin"], fields=["id", "name"], query=query))[1:]}
    assert everyone == {"我的客户", "别人的客户"}


def test_without_the_export_permission_nothing_is_exported(world):
    with pytest.raises(ShoalError) as exc:
        run(world["salesperson"], fields=["name"])  # the default salesperson role has no export
    assert exc.value.status == 403 and exc.value.code == "permission_denied"
    assert not OperationLog.objects.filter(action="customer.export").exists()


def test_a_query_on_a_masked_field_is_exact_only_for_a_masked_viewer(world, masking_on):
    with pytest.raises(ShoalError) as exc:
        run(world["seller"], fields=["id"], query={"field": "mobile", "op": "starts_with", "value": "138"})
    assert exc.value.status == 400
    rows = rows_of(run(world["seller"], fields=["id"], query={"field": "mobile", "op": "eq", "value": "13800138000"}))
    assert [r[0] for r in rows[1:]] == [str(world["mine"].pk)]


def test_bad_query_is_a_400_before_anything_is_written(world):
    out = io.BytesIO()
    with pytest.raises(ShoalError) as exc:
        export_customers(actor=world["admin"], fields=["id"], query={"field": "nope", "op": "eq", "value": 1}, out=out)
    assert exc.value.status == 400 and out.getvalue() == b""
    with pytest.raises(ShoalError):
        export_customers(actor=world["admin"], fields=["id"], query=["not", "a", "tree"])
    with pytest.raises(ShoalError):
        export_customers(actor=world["admin"], fields=["id"], sql="city = ")


def test_custom_sql_and_keyword_narrow_the_export(world, masking_off):
    rows = rows_of(run(world["admin"], fields=["name"], sql="city = '广州'"))
    assert rows[1:] == [["公海客户"]]
    rows = rows_of(run(world["admin"], fields=["name"], keyword="我的"))
    assert rows[1:] == [["我的客户"]]


def test_a_saved_query_selects_its_customers(world, masking_off):
    from shoal.segments.services import saved_query_create

    saved = saved_query_create(actor=world["admin"], name="广州", query={"field": "city", "op": "eq", "value": "广州"})
    assert rows_of(run(world["admin"], fields=["name"], saved_query_id=saved.pk))[1:] == [["公海客户"]]
    with pytest.raises(ShoalError) as exc:
        run(world["seller"], fields=["name"], saved_query_id=saved.pk)  # not shared: not found
    assert exc.value.status == 404


# -- formulas, encodings, xlsx ---------------------------------------------------------------------------
DANGEROUS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "=HYPERLINK(\"http://evil\")"]


def test_neutralise_prefixes_formula_starts_only():
    assert [neutralise(v) for v in DANGEROUS] == ["'" + v for v in DANGEROUS]
    assert [neutralise(v) for v in ("1+1", "a=b", "", "'=x", "李=")] == ["1+1", "a=b", "", "'=x", "李="]


@pytest.fixture
def formula_customers(masking_off):
    customer_services.custom_field_create(actor=SYSTEM, key="note", label="备注", type="text")
    category = TagCategory.objects.create(name="=分类")
    tag = tag_services.tag_create(actor=SYSTEM, data={"name": "=HYPERLINK(1)", "category_id": category.pk,
                                                      "kind": "manual"})
    made = []
    for i, value in enumerate(DANGEROUS):
        c = customer(name=f"c{i}", ent_user_id=f"f{i}")
        # written as they are (the cleaning strips the tab and CR; other writers, e.g. a bulk load, may not)
        Customer.objects.filter(pk=c.pk).update(name=value, city=value, attributes={"note": value})
        made.append(c)
    tag_services.apply_tag(actor=SYSTEM, tag=tag, customer_ids=[c.pk for c in made])
    group = CustomerGroup.objects.create(name="@组")
    CustomerGroupMembership.objects.create(customer=made[0], group=group)
    return made


def test_formula_cells_are_neutralised_in_csv(formula_customers):
    rows = rows_of(run(fields=["name", "city", "note", "tags", "groups"]))[1:]
    for row, value in zip(rows, DANGEROUS, strict=True):
        assert row[:3] == ["'" + value] * 3
        assert row[3] == "'=HYPERLINK(1)"
    assert rows[0][4] == "'@组"


def test_formula_cells_are_strings_in_xlsx(formula_customers):
    data = run(fields=["name", "note", "tags"], fmt="xlsx")
    rows = xlsx_rows(data)[1:]
    for row, value in zip(rows, DANGEROUS, strict=True):
        assert row == ["'" + value, "'" + value, "'=HYPERLINK(1)"]
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and 't="str"' not in sheet  # no formula cell anywhere


def test_utf8_has_a_bom_and_gb18030_has_none_and_both_round_trip(masking_off):
    name = "𠀀张三·Ⅻ€"  # a CJK extension B character, a middle dot, a Roman numeral, the euro
    customer(name=name, mobile="13800138000")
    utf8 = run(fields=["name"])
    assert utf8.startswith(b"\xef\xbb\xbf")
    assert rows_of(utf8)[1] == [name]
    gb = run(fields=["name"], encoding="gb18030")
    assert not gb.startswith(b"\xef\xbb\xbf")
    assert rows_of(gb, "gb18030")[1] == [name]
    with pytest.raises(UnicodeDecodeError):
        gb.decode("utf-8")
    assert gb.decode("gb18030").encode("gb18030") == gb


def test_xlsx_is_readable_with_numbers_as_numbers(masking_off):
    customer_services.custom_field_create(actor=SYSTEM, key="assets", label="资产", type="money")
    c = customer(name="表格客户", mobile="13800138000", attributes={"assets": 1234.5})
    with translation.override("zh-hans"):
        rows = xlsx_rows(run(fields=["id", "name", "mobile", "assets", "quality_score"], fmt="xlsx"))
    assert rows[0] == ["ID", "名称", "手机号", "资产", "标签总分值"]
    assert rows[1] == [float(c.pk), "表格客户", "13800138000", 1234.5, 0.0]


def test_zero_rows_give_the_header_only(world):
    query = {"field": "city", "op": "eq", "value": "拉萨"}
    with translation.override("zh-hans"):
        assert rows_of(run(world["admin"], fields=["id", "name"], query=query)) == [["ID", "名称"]]
    assert len(xlsx_rows(run(world["admin"], fields=["id", "name"], query=query, fmt="xlsx"))) == 1
    assert rows_of(run(world["admin"], fields=["id"], ids=[]))[1:] == []


def test_an_xlsx_with_more_rows_than_a_sheet_holds_goes_on(masking_off, monkeypatch):
    monkeypatch.setattr(exporting, "XLSX_MAX_ROWS", 3)
    for i in range(5):
        customer(name=f"c{i}", ent_user_id=f"e{i}")
    book = CalamineWorkbook.from_filelike(io.BytesIO(run(fields=["name"], fmt="xlsx")))
    sheets = [book.get_sheet_by_name(n).to_python() for n in book.sheet_names]
    assert [len(s) for s in sheets] == [3, 3, 2]  # the header on each sheet, 2 + 2 + 1 customers
    assert [row[0] for s in sheets for row in s[1:]] == [f"c{i}" for i in range(5)]


# -- tags, groups, salespeople -----------------------------------------------------------------------------
def test_tags_groups_and_salespeople_columns(world, masking_off):
    category = TagCategory.objects.create(name="行为")
    vip = tag_services.tag_create(actor=SYSTEM, data={"name": "VIP", "category_id": category.pk, "kind": "manual",
                                                      "score": 5})
    loyal = tag_services.tag_create(actor=SYSTEM, data={"name": "老客户", "category_id": category.pk,
                                                        "kind": "manual", "score": 2})
    mine_only = tag_services.tag_create(actor=world["admin"], data={"name": "我的私人标签",
                                                                     "category_id": category.pk, "kind": "personal"})
    theirs = tag_services.tag_create(actor=world["manager"], data={"name": "经理的私人标签",
                                                                    "category_id": category.pk, "kind": "personal"})
    target = world["mine"]
    tag_services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=[target.pk])
    tag_services.apply_tag(actor=SYSTEM, tag=loyal, customer_ids=[target.pk, world["public"].pk])
    tag_services.apply_tag(actor=world["admin"], tag=mine_only, customer_ids=[target.pk])
    tag_services.apply_tag(actor=world["manager"], tag=theirs, customer_ids=[target.pk])
    second = CustomerGroup.objects.create(name="华南销售组")
    CustomerGroupMembership.objects.create(customer=target, group=second)  # the group's public sea
    rows = by_id(rows_of(run(world["admin"], fields=["id", "tags", "quality_score", "groups", "salespeople"])))
    assert rows[str(target.pk)][1:] == ["VIP, 我的私人标签, 老客户", "7", "华东大客户组, 华南销售组", "李小丹"]
    assert rows[str(world["public"].pk)][1:] == ["老客户", "2", "", ""]
    assert rows[str(world["theirs"].pk)][1:] == ["", "0", "华东大客户组", "张伟"]


def test_chunks_keep_every_customer_and_its_tags(masking_off, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK", 3)
    category = TagCategory.objects.create(name="行为")
    tag = tag_services.tag_create(actor=SYSTEM, data={"name": "偶数", "category_id": category.pk, "kind": "manual"})
    made = [customer(name=f"客户{i}", ent_user_id=f"k{i}", city="深圳" if i % 4 else "北京") for i in range(20)]
    tag_services.apply_tag(actor=SYSTEM, tag=tag, customer_ids=[c.pk for c in made[::2]])
    rows = rows_of(run(fields=["id", "name", "tags"]))[1:]
    assert [int(r[0]) for r in rows] == sorted(c.pk for c in made)
    assert [r[2] for r in rows] == ["偶数" if i % 2 == 0 else "" for i in range(20)]
    # a sparse selection (the tags read by ids, not by a range of ids)
    sparse = rows_of(run(fields=["id", "tags"], query={"field": "city", "op": "eq", "value": "北京"}))[1:]
    assert sparse == [[str(made[i].pk), "偶数"] for i in range(0, 20, 4)]
    chosen = [made[i].pk for i in (19, 3, 0, 7, 3)]
    assert [int(r[0]) for r in rows_of(run(fields=["id"], ids=chosen))[1:]] == sorted(set(chosen))


# -- the operation log and the streamed form ----------------------------------------------------------------
def test_the_export_is_recorded_in_the_operation_log(world, masking_off):
    run(world["seller"], fields=["id", "name", "mobile"], fmt="xlsx")
    entry = OperationLog.objects.get(action="customer.export")
    assert entry.actor == world["seller"]
    assert entry.detail["rows"] == 1 and entry.detail["fields"] == ["id", "name", "mobile"]
    assert entry.detail["format"] == "xlsx" and entry.detail["complete"] is True
    from shoal.core.oplog import action_label

    with translation.override("en"):
        assert action_label("customer.export") == "Export customers"


def test_streamed_csv_is_produced_chunk_by_chunk_and_logged_at_the_end(masking_off, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK", 2)
    for i in range(5):
        customer(name=f"s{i}", ent_user_id=f"s{i}")
    export = export_customers(actor=SYSTEM, fields=["name"])
    assert export.total == 5 and export.filename.startswith("customers-") and export.filename.endswith(".csv")
    assert export.filename[10:23] == timezone.localtime().strftime("%Y%m%d-%H%M")
    pieces = export.stream()
    assert next(pieces).startswith(b"\xef\xbb\xbf")  # the header first
    assert not OperationLog.objects.filter(action="customer.export").exists()
    rest = list(pieces)
    assert len(rest) == 3  # 2 + 2 + 1 customers
    assert OperationLog.objects.get(action="customer.export").detail["rows"] == 5


def test_an_abandoned_stream_is_logged_as_incomplete(masking_off, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK", 2)
    for i in range(5):
        customer(name=f"s{i}", ent_user_id=f"s{i}")
    pieces = export_customers(actor=SYSTEM, fields=["name"]).stream()
    next(pieces)
    next(pieces)
    pieces.close()
    entry = OperationLog.objects.get(action="customer.export")
    assert entry.detail["rows"] == 2 and entry.detail["complete"] is False


@pytest.mark.django_db(transaction=True)
def test_chunks_read_ahead_by_a_second_thread_arrive_whole_and_in_order(monkeypatch):
    """Outside a transaction a second thread reads the next chunks (its own connection) while this one writes."""
    import threading

    parameters.set_value("MASKING_ENABLED", False)
    monkeypatch.setattr(exporting, "CHUNK", 3)
    category = TagCategory.objects.create(name="行为")
    tag = tag_services.tag_create(actor=SYSTEM, data={"name": "奇数", "category_id": category.pk, "kind": "manual"})
    made = [customer(name=f"客户{i}", ent_user_id=f"r{i}") for i in range(14)]
    tag_services.apply_tag(actor=SYSTEM, tag=tag, customer_ids=[c.pk for c in made[1::2]])
    readers = []
    real = exporting.CustomerExport._chunks

    def spy(self, *args):
        readers.append(threading.current_thread().name)
        yield from real(self, *args)

    monkeypatch.setattr(exporting.CustomerExport, "_chunks", spy)
    rows = rows_of(run(fields=["id", "name", "tags"]))[1:]
    assert readers == ["export-read-ahead"]
    assert rows == [[str(c.pk), f"客户{i}", "奇数" if i % 2 else ""] for i, c in enumerate(made)]
    # stopping early stops the reader too, and the export is logged as incomplete
    pieces = export_customers(actor=SYSTEM, fields=["name"]).stream()
    next(pieces)
    next(pieces)
    pieces.close()
    assert not any(t.name == "export-read-ahead" for t in threading.enumerate())
    assert OperationLog.objects.filter(action="customer.export").latest("id").detail["complete"] is False


@pytest.mark.django_db(transaction=True)
def test_an_error_while_reading_ahead_reaches_the_writer(monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK", 2)
    for i in range(5):
        customer(name=f"e{i}", ent_user_id=f"e{i}")

    def broken(self, *args):
        yield from ()
        raise ShoalError("query_timeout", "stopped")

    monkeypatch.setattr(exporting.CustomerExport, "_chunks", broken)
    with pytest.raises(ShoalError) as exc:
        run(fields=["name"])
    assert exc.value.code == "query_timeout"
