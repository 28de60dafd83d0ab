"""The workbench (工作台): the board registry, each board loaded on its own, the user's choice of boards and order,
the admin's default per role, a failing board, and the API."""

import pytest
from django.urls import reverse

from shoal.core import workbench as wb
from shoal.core.models import WorkbenchLayout
from shoal.core.oplog import ACTION_LABELS
from tests.conftest import make_user

HTMX = {"HTTP_HX_REQUEST": "true"}


def board_urls(html: str) -> list[str]:
    import re

    return re.findall(r'hx-get="([^"]*/workbench/boards/[^"]*)"', html)


def codes_on_page(client) -> list[str]:
    return [url.rstrip("/").rsplit("/", 1)[1] for url in board_urls(client.get("/").content.decode())]


@pytest.fixture
def broken_board():
    def explode(*, actor, params):
        raise RuntimeError("board exploded")

    board = wb.Board("test.broken", "Broken board", explode, order=1)
    wb.BOARDS[board.code] = board
    yield board
    wb.BOARDS.pop(board.code, None)


# -- the page: a placeholder per board, each board its own request --------------------------------------------------
def test_page_has_a_placeholder_per_board_and_each_board_loads_alone(client, personas):
    client.force_login(personas["admin"])
    html = client.get("/").content.decode()
    urls = board_urls(html)
    assert len(urls) == len(wb.builtin_default()) and 'hx-trigger="load"' in html
    assert "board exploded" not in html and "workbench.js" in html
    for url in urls:
        response = client.get(url, **HTMX)
        assert response.status_code == 200, url
        assert "workbench-figure" in response.content.decode() or "workbench-empty" in response.content.decode(), url


def test_each_persona_sees_only_the_boards_it_may(client, personas):
    seen = {}
    for name, user in personas.items():
        client.force_login(user)
        seen[name] = codes_on_page(client)
    assert "accounts.my_info" in seen["norole"] and "sales.my_tasks" in seen["norole"]
    assert "customers.activity" not in seen["norole"] and "tags.top10" not in seen["norole"]
    assert "accounts.system" in seen["admin"] and "accounts.system" in seen["manager"]
    assert "accounts.system" not in seen["salesperson"]
    assert "sales.my_customers" in seen["salesperson"] and "sales.follow_up_ranking" in seen["salesperson"]
    assert "pools.assignment_status" in seen["admin"] and "pools.assignment_status" not in seen["salesperson"]
    # the manager administers no group: no assignment status board
    assert "pools.assignment_status" not in seen["manager"]


def test_a_board_the_user_may_not_see_answers_403_and_an_unknown_one_404(client, personas):
    client.force_login(personas["salesperson"])
    assert client.get(reverse("admin:workbench_board", args=["accounts.system"])).status_code == 403
    assert client.get(reverse("admin:workbench_board", args=["no.such"])).status_code == 404


def test_a_failing_board_shows_a_message_in_its_own_box_and_the_page_still_works(client, personas, broken_board,
                                                                                 caplog):
    client.force_login(personas["salesperson"])
    urls = board_urls(client.get("/").content.decode())
    assert urls[0].endswith("/test.broken/")  # order 1: first
    response = client.get(urls[0], **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "workbench-error" in html and "此板块无法加载" in html and "board exploded" not in html
    assert "board exploded" in caplog.text
    assert client.get(urls[1], **HTMX).status_code == 200  # the others load as before
    boards = client.get("/api/v1/workbench").json()["boards"]
    broken = next(b for b in boards if b["code"] == "test.broken")
    assert broken["error"] and broken["figures"] == [] and all(b["error"] is None for b in boards if b is not broken)


# -- the user's choice -----------------------------------------------------------------------------------------------
def test_user_removes_moves_and_adds_boards_and_keeps_them(client, personas):
    user = personas["salesperson"]
    client.force_login(user)
    before = codes_on_page(client)
    url = reverse("admin:workbench_layout")
    response = client.post(url, {"action": f"hide:{before[0]}"}, **HTMX)
    assert response.status_code == 200 and 'id="workbench-body"' in response.content.decode()
    assert "<details" in response.content.decode() and " open>" in response.content.decode()  # the panel stays open
    assert codes_on_page(client) == before[1:]
    client.post(url, {"action": f"up:{before[2]}"})
    assert codes_on_page(client) == [before[2], before[1], *before[3:]]
    client.post(url, {"action": f"down:{before[2]}"})
    client.post(url, {"action": f"show:{before[0]}"})
    assert codes_on_page(client) == [*before[1:], before[0]]
    assert WorkbenchLayout.objects.get(user=user).boards == [*before[1:], before[0]]
    # a board the user may not see is never added
    client.post(url, {"action": "show:accounts.system"})
    assert "accounts.system" not in codes_on_page(client)
    # back to the default
    response = client.post(url, {"action": "reset"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert codes_on_page(client) == before and not WorkbenchLayout.objects.filter(user=user).exists()


def test_one_users_choice_does_not_change_anothers(client, personas, roles):
    client.force_login(personas["salesperson"])
    client.post(reverse("admin:workbench_layout"), {"action": "hide:accounts.my_info"})
    other = make_user("other_sales", roles["salesperson"])
    assert "accounts.my_info" in wb.user_codes(other)
    assert "accounts.my_info" not in wb.user_codes(personas["salesperson"])


def test_layout_change_needs_a_post_with_csrf(personas):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["salesperson"])
    assert client.post(reverse("admin:workbench_layout"), {"action": "hide:accounts.my_info"}).status_code == 403
    assert client.get(reverse("admin:workbench_layout")).status_code == 405
    assert "accounts.my_info" in wb.user_codes(personas["salesperson"])


def test_bad_layout_input_changes_nothing(client, personas):
    client.force_login(personas["salesperson"])
    before = wb.user_codes(personas["salesperson"])
    for action in ("", "explode:accounts.my_info", "up:no.such", "show:no.such", "x" * 500):
        assert client.post(reverse("admin:workbench_layout"), {"action": action}).status_code == 302
    assert wb.user_codes(personas["salesperson"]) == before


# -- the admin's default per role ------------------------------------------------------------------------------------
def test_admin_sets_a_roles_default_which_its_users_see_until_they_choose(client, personas, roles):
    sales = personas["salesperson"]
    client.force_login(personas["admin"])
    page = client.get(reverse("admin:workbench_defaults"), {"role": roles["salesperson"].pk})
    assert page.status_code == 200 and 'data-board="sales.my_tasks"' in page.content.decode()
    url = reverse("admin:workbench_defaults")
    role = roles["salesperson"].pk
    client.post(url, {"role": role, "action": "hide:accounts.my_info"})
    response = client.post(url, {"role": role, "action": "up:sales.my_customers"}, **HTMX)
    assert response.status_code == 200 and 'id="role-panel"' in response.content.decode()
    default = WorkbenchLayout.objects.get(role=roles["salesperson"]).boards
    assert "accounts.my_info" not in default and default.index("sales.my_customers") < default.index("sales.my_tasks")
    assert wb.user_codes(sales) == [c for c in default if wb.BOARDS[c].allowed(sales)]
    client.force_login(sales)
    assert codes_on_page(client) == wb.user_codes(sales)
    # the user's own choice wins over the role's default, and "back to the default" returns to the role's
    client.post(reverse("admin:workbench_layout"), {"action": "show:accounts.my_info"})
    assert codes_on_page(client)[-1] == "accounts.my_info"
    client.post(reverse("admin:workbench_layout"), {"action": "reset"})
    assert "accounts.my_info" not in codes_on_page(client)
    # the admin's reset: the built-in default again; the change is in the operation log, in words
    client.force_login(personas["admin"])
    client.post(url, {"role": role, "action": "reset"})
    assert wb.user_codes(sales) == [c for c in wb.builtin_default() if wb.BOARDS[c].allowed(sales)]
    from shoal.core.models import OperationLog

    assert OperationLog.objects.filter(action="workbench.role_default").count() == 3
    assert "workbench.role_default" in ACTION_LABELS


def test_a_user_with_two_roles_sees_both_defaults_merged(roles):
    WorkbenchLayout.objects.create(role=roles["salesperson"], boards=["sales.my_tasks", "accounts.my_info"])
    WorkbenchLayout.objects.create(role=roles["manager"], boards=["accounts.system", "sales.my_tasks"])
    both = make_user("two_roles", roles["salesperson"])
    both.roles.add(roles["manager"])
    assert roles["manager"].pk < roles["salesperson"].pk  # merged in role order
    assert wb.user_codes(both) == ["accounts.system", "sales.my_tasks", "accounts.my_info"]


def test_only_who_may_edit_changes_a_roles_default(client, personas, roles):
    viewer = make_user("wb_viewer")
    from shoal.accounts.models import Role

    viewer.roles.add(Role.objects.create(name="WB viewer", code="wb_viewer", permissions=["system.workbench.view"]))
    client.force_login(viewer)
    page = client.get(reverse("admin:workbench_defaults")).content.decode()
    assert "hide:" not in page  # no buttons
    assert client.post(reverse("admin:workbench_defaults"),
                       {"role": roles["salesperson"].pk, "action": "hide:accounts.my_info"}).status_code == 403
    client.force_login(personas["manager"])
    assert client.get(reverse("admin:workbench_defaults")).status_code == 403
    assert not WorkbenchLayout.objects.filter(role__isnull=False).exists()


def test_the_defaults_page_is_in_the_system_menu_and_in_chinese(client, personas):
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:workbench_defaults"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "工作台模块管理" in html and "我的信息" in html and "客户标签 Top 10" in html
    assert reverse("admin:workbench_defaults") in client.get("/").content.decode()


# -- the page in Chinese, times local --------------------------------------------------------------------------------
def test_workbench_speaks_chinese_and_shows_local_times(client, personas):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    user = personas["salesperson"]
    user.last_login = datetime(2026, 3, 1, 1, 30, tzinfo=ZoneInfo("UTC"))  # 09:30 in Shanghai
    user.save(update_fields=["last_login"])
    client.force_login(user)  # sets a new last_login; read the board the user sees
    type(user).objects.filter(pk=user.pk).update(last_login=datetime(2026, 3, 1, 1, 30, tzinfo=ZoneInfo("UTC")))
    html = client.get("/").content.decode()
    assert "选择板块" in html and "我的信息" in html and "今日客户动向" in html
    board = client.get(reverse("admin:workbench_board", args=["accounts.my_info"])).content.decode()
    assert "2026-03-01 09:30" in board and "我的角色" in board and "业务员" in board


def test_my_info_shows_the_login_before_this_one(personas):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from shoal.accounts.models import LoginLog

    user = personas["salesperson"]
    for hour in (2, 5):  # 10:00 and 13:00 in Shanghai; the newest is the login of this session
        row = LoginLog.objects.create(username=user.username, user=user, success=True)
        LoginLog.objects.filter(pk=row.pk).update(created_at=datetime(2026, 3, 2, hour, tzinfo=ZoneInfo("UTC")))
    LoginLog.objects.create(username=user.username, user=user, success=False)
    content = wb.board_content(wb.BOARDS["accounts.my_info"], actor=user, params={})
    assert {f.key: f.value for f in content.figures}["last_login"] == "2026-03-02 10:00"


# -- the API -----------------------------------------------------------------------------------------------------------
def test_api_gives_the_callers_boards_in_order_with_figures(client, personas, bearer):
    user = personas["salesperson"]
    WorkbenchLayout.objects.create(user=user, boards=["sales.my_tasks", "accounts.my_info", "accounts.system"])
    body = client.get("/api/v1/workbench", **bearer(user)).json()
    assert [b["code"] for b in body["boards"]] == ["sales.my_tasks", "accounts.my_info"]  # system: not theirs
    tasks = body["boards"][0]
    assert tasks["title"] == "My tasks" and tasks["error"] is None and tasks["chart"] is None
    assert {f["key"] for f in tasks["figures"]} == {"overdue", "today", "open"}
    assert all(set(f) == {"key", "label", "value", "href"} for f in tasks["figures"])
    chinese = client.get("/api/v1/workbench", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9", **bearer(user)).json()
    assert chinese["boards"][0]["title"] == "我的任务"  # English for integrators unless asked
    assert [f["label"] for f in chinese["boards"][0]["figures"]] == ["已逾期", "今日到期", "未完成任务"]


def test_api_needs_a_user(client, db):
    assert client.get("/api/v1/workbench").status_code == 401
