"""Real browser, zh-hans (Playwright driving Debian's Chromium, under the CSP): a salesperson opens 任务中心 from the
sidebar, drags a card into another group (htmx swaps the board in place, no reload), ticks a task done, drops one
into 以后 (a day is asked first), switches to the list and edits a priority inline, then adds a task with the form.

With SHOAL_SCREENSHOTS=<dir> the pages are also saved as PNG to look at."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from shoal.sales.models import Task, TaskPriority
from tests.conftest import browser_login
from tests.sales.tasks_people import make_team

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_SCREENSHOTS")


@pytest.fixture
def team(db, roles):
    return make_team(roles)


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_salesperson_drags_ticks_and_edits_tasks(live_server, browser_page, team):
    owner = team["owner"]
    soon = timezone.now() + timedelta(minutes=30)
    if timezone.localtime(soon).date() != timezone.localdate():
        soon = timezone.now() + timedelta(seconds=30)
    drag = Task.objects.create(name="拖我到进行中", owner=owner, creator=owner)
    tick = Task.objects.create(name="勾选完成", owner=owner, creator=owner)
    later = Task.objects.create(name="以后再说", owner=owner, creator=owner, due_at=soon)
    page = browser_page
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    browser_login(page, live_server.url, owner.username)
    page.click("a[href='/sales/tasks/']")
    page.wait_for_selector("#task-board")
    assert "任务中心" in page.inner_text("h1") and "已逾期" in page.inner_text("#task-board")
    _shot(page, "zh-task-center-date")

    # by progress: drag a card into 进行中; the board is swapped in place (a marker on the window survives)
    page.select_option("#task-group-by", "progress")
    page.click("#task-filter button[type=submit]")
    page.wait_for_selector("#task-board[data-group-by='progress']")
    page.evaluate("window.__noReload = 1")
    page.drag_and_drop(f".task-card[data-task='{drag.pk}']", "#task-group-in_progress .task-cards")
    page.wait_for_selector(f"#task-group-in_progress .task-card[data-task='{drag.pk}']")
    assert page.evaluate("window.__noReload") == 1
    drag.refresh_from_db()
    assert drag.progress == "in_progress"

    # tick: done
    page.check(f".task-card[data-task='{tick.pk}'] input.task-done")
    page.wait_for_selector(f"#task-group-done .task-card[data-task='{tick.pk}']")
    tick.refresh_from_db()
    assert tick.progress == "done" and tick.done_at is not None
    _shot(page, "zh-task-center-progress")

    # by date: drop into 以后 asks for a day first
    page.select_option("#task-group-by", "date")
    page.click("#task-filter button[type=submit]")
    page.wait_for_selector("#task-board[data-group-by='date']")
    page.drag_and_drop(f".task-card[data-task='{later.pk}']", "#task-group-later .task-cards")
    page.wait_for_selector("#task-later-dialog[open]")
    first = page.get_attribute("#task-later-date", "min")
    page.fill("#task-later-date", first)
    page.click("#task-later-ok")
    page.wait_for_selector(f"#task-group-later .task-card[data-task='{later.pk}']")
    later.refresh_from_db()
    assert timezone.localtime(later.due_at).date().isoformat() == first

    # the list: inline priority
    page.click("#task-modes a[data-mode='list']")
    page.wait_for_selector("#task-table")
    page.select_option(f"tr[data-task='{drag.pk}'] select[name=priority]", "urgent")
    page.wait_for_function(f"document.querySelector(\"tr[data-task='{drag.pk}'] select[name=priority]\").value === 'urgent'")
    page.wait_for_timeout(300)
    drag.refresh_from_db()
    assert drag.priority == TaskPriority.URGENT
    _shot(page, "zh-task-center-list")

    # the form: a task for a colleague
    page.click("#task-add")
    page.wait_for_selector("#task-form")
    page.fill("#task-form input[name=name]", "制定营销计划")
    page.select_option("#task-form select[name=owner_id]", str(team["colleague"].pk))
    page.select_option("#task-form select[name=priority]", "high")
    _shot(page, "zh-task-form")
    page.click("#task-save")
    page.wait_for_selector("#task-board")
    made = Task.objects.get(name="制定营销计划")
    assert made.owner_id == team["colleague"].pk and made.creator_id == owner.pk
    assert not problems, problems
