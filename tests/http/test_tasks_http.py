"""The task center over real HTTP (live server, httpx): the API with a bearer token (shapes integrators rely on,
refusals in the one error shape, the scope of each persona) and the page's htmx writes with a browser session,
whose writes must carry the CSRF token."""

from datetime import datetime, timedelta

import pytest

from shoal.sales.models import Task
from tests.sales.tasks_people import make_team

pytestmark = pytest.mark.django_db(transaction=True)

TASK_KEYS = {"id", "name", "type", "customer_id", "customer", "group_id", "owner_id", "owner", "creator_id", "creator",
             "due_at", "priority", "progress", "remind_at", "details", "created_at", "updated_at", "done_at", "overdue"}



@pytest.fixture
def team(db, roles):
    return make_team(roles)

def bearer(raw_token, user, **extra):
    return {"Authorization": f"Bearer {raw_token(user)}", **extra}


def test_create_read_change_and_delete_a_task_with_a_token(http, team, raw_token):
    headers = bearer(raw_token, team["owner"])
    r = http.post("/api/v1/tasks", headers=headers, json={
        "name": "回访跟进任务", "type": "follow_up", "customer_id": team["mine"].pk, "due_at": "2030-03-04T18:00:00",
        "priority": "high", "progress": "not_started", "remind_at": None, "details": "带上报价单"})
    assert r.status_code == 201, r.text
    task = r.json()
    assert set(task) == TASK_KEYS
    assert task["priority"] == "high" and task["owner_id"] == task["creator_id"] == team["owner"].pk  # owner omitted
    assert task["customer"] == {"id": team["mine"].pk, "name": "Zhang San", "mobile": "138****8000"}
    assert task["due_at"].startswith("2030-03-04T10:00:00")  # 18:00 in Shanghai, stored in UTC
    url = f"/api/v1/tasks/{task['id']}"
    assert http.get(url, headers=headers).json()["name"] == "回访跟进任务"
    done = http.patch(url, headers=headers, json={"progress": "done"}).json()
    assert done["progress"] == "done" and done["done_at"] is not None
    reopened = http.patch(url, headers=headers, json={"progress": "in_progress", "due_at": None}).json()
    assert reopened["done_at"] is None and reopened["due_at"] is None
    assert http.delete(url, headers=headers).status_code == 204
    assert http.get(url, headers=headers).status_code == 404


def test_refusals_speak_the_one_error_shape(http, team, raw_token):
    headers = bearer(raw_token, team["owner"])
    r = http.post("/api/v1/tasks", headers=headers, json={"name": "x", "type": "follow_up"})
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "customer_id"
    r = http.post("/api/v1/tasks", headers=headers, json={"name": "x", "owner_id": team["outsider"].pk})
    assert r.status_code == 403 and r.json()["error"]["code"] == "owner_not_allowed"
    r = http.post("/api/v1/tasks", headers=headers, json={"name": "x", "customer_id": team["theirs"].pk})
    assert r.status_code == 404
    for body in ({"name": "x", "priority": 3}, {"name": "x", "progress": "finished"}, {"name": ""}, {"nam": "x"},
                 {"name": "x", "due_at": "tomorrow"}, {"name": "x", "customer_id": 10**30}):
        r = http.post("/api/v1/tasks", headers=headers, json=body)
        assert r.status_code == 400 and "error" in r.json(), (body, r.text)
    for params in ({"view": "everyone"}, {"group_by": "week"}, {"page": 0}, {"due_before": "soon"}):
        assert http.get("/api/v1/tasks", headers=headers, params=params).status_code == 400, params
    assert not Task.objects.exists()


@pytest.mark.parametrize("persona, status", [
    ("owner", 200), ("creator", 200), ("manager", 200), ("lead", 200), ("outsider", 404)])  # lead: the owner is in its group
def test_each_persona_reaches_a_task_only_in_its_scope(http, team, raw_token, persona, status):
    task = Task.objects.create(name="Given", owner=team["owner"], creator=team["colleague"])
    headers = bearer(raw_token, team["colleague" if persona == "creator" else persona])
    assert http.get(f"/api/v1/tasks/{task.pk}", headers=headers).status_code == status
    assert http.patch(f"/api/v1/tasks/{task.pk}", headers=headers, json={"priority": "urgent"}).status_code == status
    r = http.post("/api/v1/tasks/batch", headers=headers, json={"ids": [task.pk], "set": {"progress": "done"}})
    assert r.status_code == status
    task.refresh_from_db()
    assert (task.progress == "done") == (status == 200)


def test_lists_mine_and_created_with_total_and_filters(http, team, raw_token):
    for i in range(3):
        Task.objects.create(name=f"own {i}", owner=team["owner"], creator=team["owner"], priority=1 + i)
    Task.objects.create(name="given", owner=team["owner"], creator=team["colleague"], progress="done")
    Task.objects.create(name="for colleague", owner=team["colleague"], creator=team["owner"],
                        customer=team["mine"])
    headers = bearer(raw_token, team["owner"])
    mine = http.get("/api/v1/tasks", headers=headers, params={"view": "mine"}).json()
    assert set(mine) == {"items", "total"} and mine["total"] == 4
    created = http.get("/api/v1/tasks", headers=headers, params={"view": "created"}).json()
    assert created["total"] == 4 and {t["name"] for t in created["items"]} >= {"for colleague"}
    paged = http.get("/api/v1/tasks", headers=headers, params={"page_size": 3, "page": 2}).json()
    assert paged["total"] == 4 and len(paged["items"]) == 1
    assert http.get("/api/v1/tasks", headers=headers, params={"progress": "done"}).json()["total"] == 1
    assert http.get("/api/v1/tasks", headers=headers, params={"view": "created", "customer_id": team["mine"].pk}
                    ).json()["total"] == 1
    assert http.get("/api/v1/tasks", headers=headers, params={"priority": "high"}).json()["items"][0]["name"] == "own 2"
    soon = (datetime.now() + timedelta(days=1)).isoformat(timespec="seconds")
    assert http.get("/api/v1/tasks", headers=headers, params={"due_before": soon}).json() == {"items": [], "total": 0}


def test_grouped_by_date_progress_and_priority(http, team, raw_token):
    now = datetime.now().astimezone()
    Task.objects.create(name="late", owner=team["owner"], due_at=now - timedelta(hours=2), priority=4)
    Task.objects.create(name="open", owner=team["owner"], priority=4)
    Task.objects.create(name="closed", owner=team["owner"], progress="done")
    for i in range(4):
        Task.objects.create(name=f"later {i}", owner=team["owner"], due_at=now + timedelta(days=30))
    headers = bearer(raw_token, team["owner"], **{"Accept-Language": "zh-hans"})
    body = http.get("/api/v1/tasks", headers=headers, params={"group_by": "date", "group_limit": 2}).json()
    assert set(body) == {"groups"}
    groups = {g["key"]: g for g in body["groups"]}
    assert [g["key"] for g in body["groups"]] == ["overdue", "today", "tomorrow", "this_week", "later", "none"]
    assert groups["overdue"]["label"] == "已逾期" and groups["overdue"]["items"][0]["name"] == "late"
    assert groups["later"]["count"] == 4 and len(groups["later"]["items"]) == 2  # capped, counted in full
    assert [i["name"] for i in groups["none"]["items"]] == ["open"]  # done tasks are not to-do
    by_progress = {g["key"]: g["count"] for g in http.get("/api/v1/tasks", headers=headers,
                                                          params={"group_by": "progress"}).json()["groups"]}
    assert by_progress == {"not_started": 6, "in_progress": 0, "done": 1, "cancelled": 0}
    by_priority = http.get("/api/v1/tasks", headers=headers, params={"group_by": "priority"}).json()["groups"]
    assert [(g["key"], g["count"]) for g in by_priority] == [("urgent", 2), ("high", 0), ("medium", 4), ("low", 0)]


def test_batch_answers_how_many_changed(http, team, raw_token):
    a = Task.objects.create(name="a", owner=team["owner"], creator=team["owner"])
    b = Task.objects.create(name="b", owner=team["owner"], creator=team["owner"], priority=4)
    headers = bearer(raw_token, team["owner"])
    r = http.post("/api/v1/tasks/batch", headers=headers,
                  json={"ids": [a.pk, b.pk], "set": {"priority": "urgent", "owner_id": team["colleague"].pk,
                                                     "due_at": "2030-01-01T09:00:00+08:00"}})
    assert r.status_code == 200 and r.json() == {"changed": 2}, r.text
    assert set(Task.objects.values_list("owner_id", flat=True)) == {team["colleague"].pk}
    assert http.post("/api/v1/tasks/batch", headers=headers, json={"ids": [a.pk], "set": {"progress": "done"}}
                     ).json() == {"changed": 1}  # the creator still sees it
    r = http.post("/api/v1/tasks/batch", headers=headers, json={"ids": [a.pk], "set": {"name": "x"}})
    assert r.status_code == 400
    r = http.post("/api/v1/tasks/batch", headers=headers, json={"ids": [a.pk, 10**12], "set": {"priority": "low"}})
    assert r.status_code == 404 and r.json()["error"]["detail"]["ids"] == [10**12]


def test_session_writes_need_the_csrf_token(session_http, team):
    task = Task.objects.create(name="Drag me", owner=team["owner"], creator=team["owner"])
    client = session_http("t_owner")
    move = f"/sales/tasks/{task.pk}/move/?view=mine&mode=board&group_by=progress"
    r = client.post(move, data={"group_by": "progress", "key": "done"}, headers={"HX-Request": "true"})
    assert r.status_code == 403
    task.refresh_from_db()
    assert task.progress == "not_started"
    r = client.post(move, data={"group_by": "progress", "key": "done"},
                    headers={"HX-Request": "true", "X-CSRFToken": client.csrf})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="task-board"')
    task.refresh_from_db()
    assert task.progress == "done" and task.done_at is not None
    assert client.post("/api/v1/tasks", json={"name": "via session"}).status_code == 403
    r = client.post("/api/v1/tasks", json={"name": "via session"}, headers={"X-CSRFToken": client.csrf})
    assert r.status_code == 201 and r.json()["owner_id"] == team["owner"].pk
