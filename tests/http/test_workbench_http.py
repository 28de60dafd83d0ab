"""The workbench over real HTTP: ``GET /api/v1/workbench`` with a Bearer token (what an integrator or a mobile app
reads), and the page with its boards through a logged-in browser session (each board its own request)."""

import re

from shoal.core.models import WorkbenchLayout
from shoal.sales.models import Task
from tests.conftest import make_user


def test_workbench_api_with_a_bearer_token(http, raw_token, roles):
    from django.utils import timezone

    user = make_user("wb_http", roles["salesperson"])
    WorkbenchLayout.objects.create(user=user, boards=["sales.my_tasks", "accounts.my_info", "accounts.system"])
    Task.objects.create(owner=user, name="late", due_at=timezone.now() - timezone.timedelta(hours=2))
    response = http.get("/api/v1/workbench", headers={"Authorization": f"Bearer {raw_token(user)}",
                                                       "Accept-Language": "zh-CN"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    boards = response.json()["boards"]
    assert [b["code"] for b in boards] == ["sales.my_tasks", "accounts.my_info"]  # the system board: not theirs
    tasks = {f["key"]: f for f in boards[0]["figures"]}
    assert tasks["overdue"]["value"] == 1 and tasks["overdue"]["label"] == "已逾期" and tasks["overdue"]["href"]
    info = {f["key"]: f["value"] for f in boards[1]["figures"]}
    assert info["roles"] == "业务员"


def test_workbench_api_refuses_a_wrong_token_with_the_error_shape(http, db):
    response = http.get("/api/v1/workbench", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert http.post("/api/v1/workbench", json={}).status_code in (401, 405)


def test_page_and_each_board_through_a_session(session_http, roles):
    make_user("wb_page", roles["manager"])
    client = session_http("wb_page")
    page = client.get("/")
    assert page.status_code == 200
    urls = re.findall(r'hx-get="([^"]*/workbench/boards/[^"]*)"', page.text)
    assert len(urls) >= 5
    for url in urls:
        board = client.get(url, headers={"HX-Request": "true"})
        assert board.status_code == 200 and "<html" not in board.text, url
    # the user's choice is a CSRF-checked POST
    assert client.post("/workbench/layout/", data={"action": "hide:accounts.my_info"}).status_code == 403
    moved = client.post("/workbench/layout/", data={"action": "hide:accounts.my_info", "csrfmiddlewaretoken": client.csrf},
                        headers={"Referer": str(client.base_url) + "/", "HX-Request": "true"})
    assert moved.status_code == 200 and "accounts.my_info/" not in moved.text
