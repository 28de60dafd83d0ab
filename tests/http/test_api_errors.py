"""Over real HTTP (issue 8 §3/§4): body size limit (413), chunked bodies, 405 keeps Allow, bodies of the
wrong JSON type, integers beyond the databases' range and page overflow are 4xx with the error shape."""

import json
import socket
from urllib.parse import urlsplit

import pytest

from shoal.core import parameters
from tests.conftest import make_user


@pytest.fixture
def admin_auth(roles, raw_token):
    admin = make_user("h_admin", roles["admin"])
    return {"Authorization": f"Bearer {raw_token(admin)}"}


def error_of(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    body = resp.json()
    assert set(body["error"]) == {"code", "message", "detail"}
    return body["error"]


def test_a_body_over_the_limit_is_a_413_before_it_is_read(http, admin_auth):
    big = json.dumps({"query": {"field": "name", "op": "eq", "value": "x" * (2 * 1024 * 1024)}})
    resp = http.post("/api/v1/segments/preview", content=big, headers={**admin_auth, "Content-Type": "application/json"})
    error = error_of(resp, 413)
    assert error["code"] == "too_large" and error["detail"]["limit"] == 2 * 1024 * 1024
    small = json.dumps({"query": {"field": "name", "op": "eq", "value": "x" * 100_000}})
    resp = http.post("/api/v1/segments/preview", content=small, headers={**admin_auth, "Content-Type": "application/json"})
    assert resp.status_code == 200


def test_the_limit_is_a_parameter(http, admin_auth):
    parameters.set_value("API_MAX_BODY_BYTES", 64 * 1024)
    body = json.dumps({"query": {"field": "name", "op": "eq", "value": "x" * 100_000}})
    resp = http.post("/api/v1/segments/preview", content=body, headers={**admin_auth, "Content-Type": "application/json"})
    assert error_of(resp, 413)["detail"]["limit"] == 64 * 1024


def test_a_chunked_body_is_refused_not_read(live_server, admin_auth):
    """Without Content-Length the server cannot know the size: 411, and nothing is read."""
    url = urlsplit(live_server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        head = (f"POST /api/v1/segments/preview HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: {admin_auth['Authorization']}\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        sock.sendall(head.encode() + b"5\r\n{\"a\":\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 411 " in status_line, answer[:300]
    assert b'"length_required"' in rest


def test_a_form_over_djangos_limit_is_a_413_page(http):
    http.get("/login/")  # the CSRF cookie: the CSRF check then reads the form, which is too large
    resp = http.post("/login/", content=b"a=" + b"x" * 3_000_000,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 413 and "<html" in resp.text


def test_405_keeps_its_allow_header(http, admin_auth):
    resp = http.delete("/api/v1/segments/preview", headers=admin_auth)
    error = error_of(resp, 405)
    assert resp.headers["Allow"] == "POST" and error["detail"]["allowed"] == ["POST"]
    resp = http.put("/api/v1/customers", headers=admin_auth, json={})
    error_of(resp, 405)
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_an_unknown_api_path_is_a_404_for_writes_too(http, admin_auth):
    resp = http.post("/api/v1/no-such-thing", json={}, headers={**admin_auth, "Cookie": "sessionid=x; csrftoken=y"})
    assert error_of(resp, 404)["code"] == "not_found"


@pytest.mark.parametrize("method, path, body", [
    ("PATCH", "/api/v1/saved-queries/1", '"hello"'),
    ("POST", "/api/v1/customers/search", "null"),
    ("POST", "/api/v1/segments/validate", "[]"),
    ("POST", "/api/v1/customers/search", "[{\"page\": 2}]"),
    ("POST", "/api/v1/departments", "42"),
])
def test_bodies_of_the_wrong_json_type_are_a_400(http, admin_auth, method, path, body):
    resp = http.request(method, path, content=body, headers={**admin_auth, "Content-Type": "application/json"})
    assert error_of(resp, 400)["code"] == "bad_request"


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/api/v1/departments", '{"name": "d", "order": 1e20}'),
    ("POST", "/api/v1/departments", '{"name": "d", "order": 4294967296}'),
    ("POST", "/api/v1/departments", '{"name": "d", "parent_id": 9223372036854775808}'),
    ("POST", "/api/v1/customers/status", '{"ids": [1e20], "status": "banned"}'),
    ("POST", "/api/v1/customers/status", '{"ids": [9223372036854775808], "status": "banned"}'),
    ("POST", "/api/v1/customers", '{"name": "x", "ent_user_id": "e1", "company_id": 9223372036854775808}'),
    ("POST", "/api/v1/fields", '{"label": "x", "type": "text", "order": 99999999999}'),
    ("GET", "/api/v1/customers/9223372036854775808", None),
    ("GET", "/api/v1/saved-queries/99999999999999999999", None),
    ("GET", "/api/v1/users?department_id=9223372036854775808", None),
])
def test_integers_beyond_the_database_range_are_a_400(http, admin_auth, method, path, body):
    resp = http.request(method, path, content=body, headers={**admin_auth, "Content-Type": "application/json"})
    assert error_of(resp, 400)["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/operation-log", "/api/v1/users",
                                  "/api/v1/companies", "/api/v1/customers/1/timeline"])
@pytest.mark.parametrize("page", ["9223372036854775807", "100001", "0", "-1", "99999999999999999999999"])
def test_page_numbers_out_of_range_are_a_400(http, admin_auth, path, page):
    resp = http.get(path, params={"page": page}, headers=admin_auth)
    assert resp.status_code in (400, 404), resp.text[:300]
    error_of(resp, resp.status_code)


def test_the_last_allowed_page_is_empty_not_an_error(http, admin_auth):
    resp = http.get("/api/v1/operation-log", params={"page": 100000}, headers=admin_auth)
    assert resp.status_code == 200 and resp.json()["items"] == []
    resp = http.post("/api/v1/customers/search", json={"page": 100000}, headers=admin_auth)
    assert resp.status_code == 200 and resp.json()["items"] == []


def test_a_misspelt_key_in_a_body_is_a_400_naming_it(http, admin_auth):
    created = http.post("/api/v1/departments", json={"name": "Sales"}, headers=admin_auth)
    assert created.status_code in (200, 201), created.text
    dept = created.json()
    error = error_of(http.patch(f"/api/v1/departments/{dept['id']}", json={"nme": "x"}, headers=admin_auth), 400)
    assert error["code"] == "validation_error"
    assert [(e["field"], e["type"]) for e in error["detail"]["errors"]] == [("nme", "extra_forbidden")]
    assert http.get(f"/api/v1/departments/{dept['id']}", headers=admin_auth).json() == dept  # nothing changed
    error = error_of(http.post("/api/v1/segments/preview", json={"sqll": "name = 'x'"}, headers=admin_auth), 400)
    assert [e["field"] for e in error["detail"]["errors"]] == ["sqll"]


def test_every_request_body_forbids_unknown_keys():
    from shoal.api import api

    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    bodies = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content:  # {"$ref"}, {"allOf": [{"$ref"}]} for an optional body, or written out (events ingestion)
                schema = content["schema"]
                ref = schema.get("$ref") or (schema.get("allOf") or [{}])[0].get("$ref")
                bodies[f"{method.upper()} {path}"] = components[ref.rsplit("/", 1)[1]] if ref else schema
    assert len(bodies) > 25
    open_bodies = [name for name, body in bodies.items() if body.get("additionalProperties") is not False]
    assert not open_bodies, open_bodies
