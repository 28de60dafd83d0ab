"""Follow-ups and the request for new follow-up tasks over real HTTP (live server, httpx), as integrators and the
browser call them: a Bearer token, and a logged-in session whose writes carry the CSRF token.

POST /api/v1/follow-ups completes the caller's open follow-up task of the customer (and opens the next one for a
next time); maturity and invitation type are enum item codes (unknown: 400 naming the field); a customer outside
the caller's scope is 404. POST /api/v1/follow-up-tasks/request gives the new tasks (201), or 429 once the day's
requests are made."""

import pytest

from shoal.sales.models import OPEN_PROGRESS, Task, TaskProgress
from tests.sales.workspace_world import build

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def w(live_server):
    return build()


def bearer(raw_token, user) -> dict:
    return {"Authorization": f"Bearer {raw_token(user)}"}


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}, body
    return body["error"]


def test_token_records_a_follow_up_that_completes_the_task_and_opens_the_next(http, w, raw_token):
    headers = bearer(raw_token, w["sales"])
    zhang, task = w["mine"][0], w["tasks"]["张三"]
    r = http.post("/api/v1/follow-ups", headers=headers, json={
        "customer_id": zhang.pk, "method": "phone", "status": "interested", "effective": True,
        "summary": "约了周五", "next_follow_up_at": "2030-05-01T10:00:00+08:00", "call_seconds": 95,
        "maturity": "interested", "invitation_type": "friend_referral"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["maturity"], body["invitation_type"], body["call_seconds"]) == ("interested", "friend_referral", 95)
    assert body["next_follow_up_at"] == "2030-05-01T02:00:00Z" and body["salesperson"] == "李小丹"
    assert Task.objects.get(pk=task.pk).progress == TaskProgress.DONE
    tasks = http.get("/api/v1/follow-up-tasks", headers=headers).json()["items"]
    nxt = [t for t in tasks if t["customer_id"] == zhang.pk]
    assert len(nxt) == 1 and nxt[0]["due_at"] == "2030-05-01T02:00:00Z" and nxt[0]["group_id"] == w["group"].pk
    listed = http.get("/api/v1/follow-ups", headers=headers, params={"customer_id": zhang.pk}).json()["items"]
    assert listed == [body]


def test_the_exact_minimal_body_records_and_nulls_are_accepted(http, w, raw_token):
    r = http.post("/api/v1/follow-ups", headers=bearer(raw_token, w["sales"]), json={
        "customer_id": w["mine"][1].pk, "method": "wechat", "status": "reached", "effective": False,
        "summary": "", "next_follow_up_at": None, "call_seconds": None})
    assert r.status_code == 201, r.text
    assert (r.json()["maturity"], r.json()["call_seconds"]) == ("", None)
    assert not Task.objects.filter(customer=w["mine"][1], progress__in=OPEN_PROGRESS).exists()


@pytest.mark.parametrize("extra, field", [({"maturity": "ripe"}, "maturity"),
                                          ({"invitation_type": "pigeon"}, "invitation_type")])
def test_unknown_enum_codes_are_400_naming_the_field(http, w, raw_token, extra, field):
    r = http.post("/api/v1/follow-ups", headers=bearer(raw_token, w["sales"]),
                  json={"customer_id": w["mine"][0].pk, **extra})
    assert r.status_code == 400
    error = error_of(r)
    assert error["code"] == "invalid" and error["detail"] == {"field": field}
    assert Task.objects.get(pk=w["tasks"]["张三"].pk).progress == TaskProgress.NOT_STARTED


@pytest.mark.parametrize("body", [{"call_seconds": -1}, {"call_seconds": 86401}, {"call_seconds": "long"},
                                  {"maturity": "x" * 65}, {"mood": "happy"}])
def test_bad_values_are_400_in_the_one_error_shape(http, w, raw_token, body):
    r = http.post("/api/v1/follow-ups", headers=bearer(raw_token, w["sales"]),
                  json={"customer_id": w["mine"][0].pk, **body})
    assert r.status_code == 400
    assert error_of(r)["code"] == "validation_error"


def test_a_customer_outside_the_scope_is_404(http, w, raw_token):
    r = http.post("/api/v1/follow-ups", headers=bearer(raw_token, w["sales"]),
                  json={"customer_id": w["outside"].pk, "summary": "偷看"})
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"


def test_a_session_records_with_the_csrf_token_and_not_without(http, session_http, w):
    client = session_http("xiaodan")
    url = "/api/v1/follow-ups"
    r = client.post(url, json={"customer_id": w["mine"][2].pk, "summary": "无令牌"})
    assert r.status_code == 403
    r = client.post(url, json={"customer_id": w["mine"][2].pk, "summary": "有令牌", "maturity": "potential"},
                    headers={"X-CSRFToken": client.csrf})
    assert r.status_code == 201, r.text
    assert Task.objects.get(pk=w["tasks"]["王五"].pk).progress == TaskProgress.DONE


def finish(w):
    Task.objects.filter(owner=w["sales"]).update(progress=TaskProgress.DONE)


def test_request_new_tasks_until_the_days_limit_then_429(http, w, raw_token):
    headers = bearer(raw_token, w["sales"])
    url = "/api/v1/follow-up-tasks/request"
    r = http.post(url, headers=headers, json={})
    assert r.status_code == 409 and error_of(r)["code"] == "open_tasks"  # finish the open ones first
    finish(w)
    r = http.post(url, headers=headers, json={})  # one group with requests on: no group_id needed
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["requests_left"] == 1 and body["group_id"] == w["group"].pk and body["assigned"] == 2
    assert [i["customer_id"] for i in body["items"]] == [w["sea"][0].pk, w["sea"][1].pk]
    assert all(i["progress"] == "not_started" and i["priority"] == "medium" for i in body["items"])
    finish(w)
    r = http.post(url, headers=headers, json={"group_id": w["group"].pk})
    assert r.status_code == 201 and r.json()["requests_left"] == 0
    finish(w)
    r = http.post(url, headers=headers, json={"group_id": w["group"].pk})
    assert r.status_code == 429
    error = error_of(r)
    assert error["code"] == "request_limit" and "2" in error["message"] and error["detail"]["requests_left"] == 0


def test_request_with_an_unknown_group_or_none_to_choose(http, w, raw_token):
    headers = bearer(raw_token, w["sales"])
    finish(w)
    url = "/api/v1/follow-up-tasks/request"
    assert http.post(url, headers=headers, json={"group_id": 10**9}).status_code == 404
    assert http.post(url, headers=headers, json={"group": 1}).status_code == 400
    type(w["group"]).objects.update(request_tasks=False)
    r = http.post(url, headers=headers, json={})
    assert r.status_code == 403 and error_of(r)["code"] == "requests_off"


def test_a_session_requests_tasks_with_the_csrf_token(http, session_http, w):
    finish(w)
    client = session_http("xiaodan")
    assert client.post("/api/v1/follow-up-tasks/request", json={}).status_code == 403
    r = client.post("/api/v1/follow-up-tasks/request", json={}, headers={"X-CSRFToken": client.csrf})
    assert r.status_code == 201 and len(r.json()["items"]) == 2
