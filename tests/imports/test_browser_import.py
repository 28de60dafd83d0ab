"""Real browser, zh-hans: upload a GB18030 CSV on 导入客户, see the preview (rows decoded, mapping, counts), map the
unknown column to a field, start the import, let the worker run it and watch the run page turn to the counts; the
error report is offered and the import is in the history."""

import pytest

from shoal.customers.models import Customer
from shoal.imports.models import ImportRun, ImportStatus
from tests.conftest import browser_login

from .pages_support import (  # noqa: F401  (the *_fixture names: fixtures)
    EXPECTED,
    csv_bytes,
    importer_fixture,
    manual_tag_fixture,
    run_worker,
)

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_upload_preview_map_start_and_see_the_counts(live_server, browser_page, importer, manual_tag):
    page = browser_page
    browser_login(page, live_server.url, "importer")

    # the menu entry under 客户管理
    page.click("a[href='/imports/']")
    page.wait_for_selector("#import-form")
    assert "导入客户" in page.inner_text("h1")
    assert "正常模式" in page.inner_text("#import-mode") and "极速模式" in page.inner_text("#import-mode")

    page.set_input_files("#import-file", files=[{"name": "客户导入.csv", "mimeType": "text/csv",
                                                   "buffer": csv_bytes("gb18030")}])
    page.select_option("select[name=tags]", str(manual_tag.pk))
    page.click("#import-upload")

    # the preview: decoded rows, the mapping, the counts over the whole file; nothing written yet
    page.wait_for_selector("#preview-summary")
    assert "导入客户：预览" in page.inner_text("h1")
    assert "张三" in page.inner_text("#preview-rows") and "王五" in page.inner_text("#preview-rows")
    for key, value in EXPECTED.items():
        assert page.inner_text(f"#preview-summary [data-count='{key}'] dd") == str(value), key
    assert "新建" in page.inner_text("#preview-summary")
    assert "备注列" in page.inner_text("#unknown-columns")
    assert "展会" in page.inner_text("#preview-tags")
    assert page.locator("#preview-errors tbody tr").count() == 2
    assert not Customer.objects.exists()
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DRAFT

    # map the unknown column to 备注 and start
    page.select_option("tr[data-column='4'] select.column-field", "notes")
    page.click("#start-import")
    page.wait_for_selector("#import-status[data-status='queued']")
    assert "排队中" in page.inner_text("#run-status")

    # the worker runs it; the page follows (htmx) and shows the counts
    run_worker(run.pk)
    page.wait_for_selector("#import-status[data-status='succeeded']", timeout=20000)
    assert "成功" in page.inner_text("#run-status")
    for key, value in EXPECTED.items():
        assert page.inner_text(f"#run-counts [data-count='{key}'] dd") == str(value), key
    assert "耗时" in page.inner_text("#import-status")
    assert "下载错误明细" in page.inner_text("#errors-download")
    assert Customer.objects.get(mobile="+8613800138000").notes == "x"

    # the error report downloads
    with page.expect_download() as download:
        page.click("#errors-download")
    report = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert len(report) == 3

    # and the import is in the history
    page.goto(live_server.url + "/imports/history/")
    row = page.locator(f"#import-history tr[data-import='{run.pk}']")
    assert "客户导入.csv" in row.inner_text() and "成功" in row.inner_text() and "正常模式" in row.inner_text()
    assert row.locator("[data-count='created']").inner_text() == "2"
