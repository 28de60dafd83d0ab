"""Real browser, zh-hans: an operator registers an event type with field rows (Alpine under the CSP), reads
the event history (a refused event's reason, a row opened to its strategies and masked source data), and a
shop page on another origin sends an event through the page snippet's `window._ppmatc` queue.

With SHOAL_SCREENSHOTS=<dir> the pages are also saved as PNG."""

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shoal.accounts import services as account_services
from shoal.core.actors import SYSTEM
from shoal.events.models import Event, EventResult, EventType
from shoal.events.services import types
from shoal.events.services.ingest import Caller, ingest
from tests.conftest import browser_login, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SHOAL_SCREENSHOTS")


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _watch(page):
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def test_register_a_type_and_read_the_history(live_server, browser_page, roles):
    make_user("ops", roles["admin"], name="运营", masking_policy="mask_all")
    page = browser_page
    problems = _watch(page)
    browser_login(page, live_server.url, "ops")
    page.goto(live_server.url + "/marketing/event-types/add/")
    page.fill("input[name=name]", "银行代扣还款")
    page.fill("input[name=code]", "repay")
    page.click("#add-field")
    page.click("#add-field")
    rows = page.locator("tr.field-row")
    rows.nth(0).locator("input[name=field_key]").fill("rep_amount")
    rows.nth(0).locator("select[name=field_type]").select_option("number")
    rows.nth(0).locator("input[name=field_label]").fill("应还款金额")
    rows.nth(0).locator("select[name=field_required]").select_option("1")
    rows.nth(1).locator("input[name=field_key]").fill("loan_type")
    _shot(page, "events-type-form-zh")
    page.click("#save-event-type")
    page.wait_for_url(live_server.url + "/marketing/event-types/")
    assert page.locator("#event-type-list tr[data-code=repay]").count() == 1
    stored = EventType.objects.get(code="repay")
    assert [(f["key"], f["type"], f["required"]) for f in stored.fields] == [("rep_amount", "number", True),
                                                                            ("loan_type", "text", False)]
    _shot(page, "events-registry-zh")

    app, _key = account_services.application_create(actor=SYSTEM, name="应用01")
    ingest(caller=Caller(application=app), items=[
        {"event": "repay", "id": "r1", "customer": {"mobile": "13800138000"}, "data": {"rep_amount": 100}},
        {"event": "repay", "id": "r2", "customer": {"mobile": "13800138001"}, "data": {"loan_type": "代扣"}}])
    ok = Event.objects.get(client_id="r1")
    EventResult.objects.create(event_id=ok.pk, event_received_at=ok.received_at, strategy_id=1,
                               strategy_name="还款成功发送短信", matched=True)
    page.goto(live_server.url + "/marketing/event-history/")
    failed = page.locator("tbody.history-row[data-status=failed]")
    assert "缺少必填字段 rep_amount" in failed.inner_text()
    row = page.locator("tbody.history-row[data-status=success]")
    row.locator("button").first.click()
    row.locator("pre.source-data").wait_for(state="visible")  # shown by Alpine after the click
    source = row.locator("pre.source-data").inner_text()
    assert "138****8000" in source and "13800138000" not in source
    assert "还款成功发送短信" in row.inner_text()
    _shot(page, "events-history-zh")
    assert not problems, problems


class _Shop(BaseHTTPRequestHandler):
    html = b""

    def do_GET(self):  # noqa: N802 (the http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args):
        pass


def test_a_page_on_another_origin_sends_events_through_the_snippet(live_server, browser_page, db):
    types.event_type_create(actor=SYSTEM, data={"name": "点击", "code": "click"})
    app, _key = account_services.application_create(actor=SYSTEM, name="官网")
    key = account_services.application_publishable_key(actor=SYSTEM, app=app)
    shop = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    origin = f"http://127.0.0.1:{shop.server_address[1]}"
    account_services.application_update(actor=SYSTEM, app=app, data={"publishable_event_types": ["click"],
                                                                      "publishable_origins": [origin]})
    server = live_server.url.replace("127.0.0.1", "localhost")  # another origin than the shop's
    _Shop.html = f"""<!doctype html><html><body><p>shop</p>
<script>
  window.shoalSettings = {{ key: "{key}", ent_user_id: "visitor-7" }};
  window._ppmatc = window._ppmatc || [];
  window._ppmatc.push({{ track_event: {{ event_name: "click", event_uuid: "u-1",
                                          event_data: {{ x: 10, y: 20 }}, event_timestamp: 1764554400 }} }});
</script>
<script src="{server}/static/events/shoal-events.js" async></script>
</body></html>""".encode()
    thread = threading.Thread(target=shop.serve_forever, daemon=True)
    thread.start()
    try:
        page = browser_page
        problems = _watch(page)
        page.goto(origin + "/")
        page.evaluate("""() => window._ppmatc.push({ track_event: { event_name: "click", event_uuid: "u-2",
                                                                   event_data: { x: 1 } } })""")
        deadline = time.time() + 15
        while Event.objects.count() < 2 and time.time() < deadline:
            time.sleep(0.2)
        stored = {e.client_id: e for e in Event.objects.all()}
        assert set(stored) == {"u-1", "u-2"}
        first = stored["u-1"]
        assert (first.status, first.source, first.payload["data"]) == ("success", "snippet", {"x": 10, "y": 20})
        assert first.occurred_at.isoformat() == "2025-12-01T02:00:00+00:00"
        assert first.payload["customer"] == {"ent_user_id": "visitor-7"}
        assert not problems, problems  # the CORS answer let the page read it: no error in the console
    finally:
        shop.shutdown()
