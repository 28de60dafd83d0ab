"""Real browser, zh-hans: export from the customer list (select the page, the action "Export", choose fields and
format, download the file) and from the advanced query page (its current condition)."""

import csv
import io
import os
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.core.models import OperationLog
from shoal.customers import services as customer_services
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_DATA_DIR", "/tmp")


@pytest.fixture
def customers(db):
    parameters.set_value("MASKING_ENABLED", True)
    for i, (name, city) in enumerate([("深圳客户甲", "深圳"), ("广州客户乙", "广州"), ("深圳客户丙", "深圳")]):
        customer_services.customer_create(actor=SYSTEM, data={"name": name, "city": city,
                                                              "mobile": f"1380013800{i}"})


@pytest.mark.django_db(transaction=True)
def test_export_the_list_selection_and_the_query_in_zh_hans(live_server, browser_page, roles, customers):
    make_user("exporter", roles["admin"], language="zh-hans")
    page = browser_page
    browser_login(page, live_server.url, "exporter")

    # the list: select the page, the action "Export", then the form
    page.goto(live_server.url + "/customers/customer/")
    page.check("#result_list thead input[type=checkbox]", force=True)
    page.select_option("select[name=action]", "customers_export")
    page.click("button[name=index]")
    page.wait_for_selector("#export-form")
    assert "3" in page.inner_text("#export-count")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.eval_on_selector_all("#export-form input[name=fields]", "boxes => boxes.forEach(b => b.checked = false)")
    for key in ("id", "name", "mobile", "city"):
        page.check(f"#export-form input[name=fields][value={key}]")
    page.check("#export-format-csv")
    page.screenshot(path=os.path.join(SHOTS, "customer-export-form.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#export-download")
    download = info.value
    assert download.suggested_filename.startswith("customers-") and download.suggested_filename.endswith(".csv")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["ID", "名称", "手机号", "城市"]
    assert sorted(r[1] for r in rows[1:]) == ["广州客户乙", "深圳客户丙", "深圳客户甲"]
    assert {r[2] for r in rows[1:]} == {"138****8000", "138****8001", "138****8002"}  # masked as in the list

    # the advanced query: its condition, then the form, then an xlsx
    page.goto(live_server.url + "/query/")
    first = "#condition-rows tbody tr >> nth=0"
    page.wait_for_selector(first)
    page.select_option(f"{first} >> select.row-field", "city")
    page.select_option(f"{first} >> select.row-op", "eq")
    page.fill(f"{first} >> input.row-value", "深圳")
    page.wait_for_function("document.querySelector('#preview-count strong').textContent === '2'")
    page.click("#export-query")
    page.wait_for_selector("#export-form")
    assert "2" in page.inner_text("#export-count")
    page.check("#export-format-xlsx")
    with page.expect_download() as info:
        page.click("#export-download")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    book = CalamineWorkbook.from_path(download.path())
    sheet = book.get_sheet_by_name(book.sheet_names[0]).to_python()
    names = {row[1] for row in sheet[1:]}
    assert names == {"深圳客户甲", "深圳客户丙"}
    assert OperationLog.objects.filter(action="customer.export").count() == 2
